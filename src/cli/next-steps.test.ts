// Every message fleetd and fleetctl can print names next steps ("run fleetctl X --y"); a
// step naming a command or option that does not exist sends the operator nowhere. This
// reads every string in src/ (the TypeScript parser: string and template literals, not
// comments) and checks each `fleetctl ...` in it against the real fleetctl program, and
// each `fleetd start|validate --x` against fleetd's own --help.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import ts from 'typescript';
import { FLEETD_BIN, REPO } from '../../test/support/paths.js';
import { execa } from 'execa';
import { buildProgram } from './program.js';
import type { CliRun } from './context.js';

/** Every non-test .ts file under src/. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The text of every string and template literal of a file (substitutions as `X`), with its line. */
function literals(file: string): Array<{ text: string; line: number }> {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: Array<{ text: string; line: number }> = [];
  const visit = (node: ts.Node): void => {
    const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) out.push({ text: node.text, line });
    else if (ts.isTemplateExpression(node)) {
      out.push({ text: node.head.text + node.templateSpans.map((s) => `X${s.literal.text}`).join(''), line });
      for (const span of node.templateSpans) visit(span.expression);
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** A token as written, and as it reads without the punctuation around it; `ends` when a phrase stops after it. */
function tokens(rest: string): Array<{ word: string; ends: boolean }> {
  return rest.split(/\s+/).filter(Boolean).map((raw) => ({ word: raw.replace(/^[`'"(]+/, '').replace(/[`'"),;:.]+$/, ''), ends: /[`'"),;:]$/.test(raw) || /\.$/.test(raw) }));
}

/** Long and short flags of a command, its ancestors' (global options) and commander's own help flag. */
function flagsOf(cmd: Command): Set<string> {
  const flags = new Set(['--help', '-h']);
  for (let c: Command | null = cmd; c; c = c.parent) for (const o of c.options) for (const f of [o.long, o.short]) if (f) flags.add(f);
  return flags;
}

/** Problems of one `fleetctl ...` phrase: an unknown command or an option its command lacks. */
function checkFleetctl(program: Command, rest: string): string | undefined {
  let cmd = program;
  const list = tokens(rest);
  let i = 0;
  for (; i < list.length; i++) {
    const sub = cmd.commands.find((c) => c.name() === list[i]!.word || c.aliases().includes(list[i]!.word));
    if (!sub) break;
    cmd = sub;
    if (list[i]!.ends) return undefined;
  }
  if (cmd === program) {
    if (/^\(/.test(rest.trim())) return undefined; // "fleetctl (uid 0)": prose about fleetctl
    const first = list[0]?.word ?? '';
    // "fleetctl exec/openclaw": each one named
    if (first.includes('/')) return first.split('/').map((w) => w.replace(/\W+$/, '')).filter((w) => !program.commands.some((c) => c.name() === w)).map((w) => `fleetctl has no command ${w}`)[0];
    return first.startsWith('-') && !flagsOf(program).has(first.split('=')[0]!) ? `fleetctl has no option ${first}` : first.startsWith('-') || !/^[a-z]/.test(first) ? undefined : `fleetctl has no command ${first}`;
  }
  // what follows the address of exec/openclaw is the agent's own command line
  if (cmd.name() === 'exec' || cmd.name() === 'openclaw') return undefined;
  const flags = flagsOf(cmd);
  for (; i < list.length; i++) {
    const word = list[i]!.word.split('=')[0]!;
    if (/^--?[a-z]/.test(word) && !flags.has(word)) return `fleetctl ${cmd.name()} has no option ${word}`;
    if (list[i]!.ends) break;
  }
  return undefined;
}

/** Words of prose that follow "fleetctl" in a sentence about it, not a command to run. */
const PROSE = /^(?:never|and|as|is|adds|can|cannot|does|exits|finds|ignores|installed|looks|must|needs|on|once|output|passes|reads|spawns|to|waits|writes|command|program|run|version|moves|asks|at|itself|X)$/;

test('every `fleetctl ...` and `fleetd ...` named in a message exists, with its options', async () => {
  const program = buildProgram({ deps: {} as CliRun['deps'], exitCode: 0 });
  const fleetdFlags = new Map<string, Set<string>>();
  for (const sub of ['start', 'validate']) {
    const help = await execa(process.execPath, [FLEETD_BIN, sub, '--help'], { reject: false });
    fleetdFlags.set(sub, new Set([...String(help.stdout).matchAll(/(?<![\w-])(--?[a-z][a-z-]*)/g)].map((m) => m[1]!)));
  }
  const problems: string[] = [];
  let checked = 0;
  for (const file of sources(join(REPO, 'src'))) {
    for (const { text, line } of literals(file)) {
      const where = `${relative(REPO, file)}:${line}`;
      for (const m of text.matchAll(/\bfleetctl\s+([^\n]*)/g)) {
        const first = tokens(m[1]!)[0]?.word ?? '';
        if (PROSE.test(first)) continue;
        checked++;
        const problem = checkFleetctl(program, m[1]!);
        if (problem) problems.push(`${where}: ${problem} (in "fleetctl ${m[1]!.slice(0, 80)}")`);
      }
      for (const m of text.matchAll(/\bfleetd\s+(start|validate)((?:\s+\S+)*)/g)) {
        checked++;
        for (const { word, ends } of tokens(m[2]!)) {
          const flag = word.split('=')[0]!;
          if (/^--?[a-z]/.test(flag) && !fleetdFlags.get(m[1]!)!.has(flag)) problems.push(`${where}: fleetd ${m[1]} has no option ${flag}`);
          if (ends) break;
        }
      }
    }
  }
  assert.ok(checked > 100, `only ${checked} next steps found: the scan is broken`);
  assert.deepEqual(problems, []);
});
