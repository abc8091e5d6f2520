// Capability probes read the exact runtime's answers (fake CLI runner with answers
// recorded from OpenClaw 2026.9.6), cache them per runtime folder and marker, and never
// cache a probe that said nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withTempDir } from '../util/temp-dir.js';
import { CAPABILITIES_FILE, createCapabilityProbe, isUnknownCommand, readHandoffProbe, readHelpProbe } from './capabilities.js';
import { handoffOutcome, consumeAnswerSchema, consumeRestartHandoff } from './handoff.js';
import { parseCliJson, type CliCall, type CliResult, type CliRunner } from './openclaw-cli.js';

const ok = (stdout: string): CliResult => ({ exitCode: 0, stdout, stderr: '', timedOut: false });
const CAPS = JSON.stringify({ ok: true, protocol: 'openclaw.gateway.restart-handoff', protocolVersion: 1, operations: ['consume'] }, null, 2);
const NO_COMMAND: CliResult = {
  exitCode: 1,
  stdout: JSON.stringify({ ok: false, error: { type: 'cli_error', message: 'OpenClaw gateway has no command "restart-handoff".\nTry: openclaw gateway --help' } }, null, 2),
  stderr: 'OpenClaw gateway has no command "restart-handoff".\n',
  timedOut: false,
};
const HELP = (cmd: string) => ok(`\nOpenClaw 2026.9.6 (eb377ac)\n\nUsage: openclaw database ${cmd} [options] <path>\n`);

describe('reading probe answers', () => {
  test('restart handoff: offered, not offered, other protocol, nonsense', () => {
    assert.deepEqual(readHandoffProbe(ok(CAPS)), { offered: true, protocolVersion: 1, operations: ['consume'] });
    assert.equal(readHandoffProbe(NO_COMMAND).offered, false);
    const v2 = readHandoffProbe(ok(JSON.stringify({ ok: true, protocol: 'openclaw.gateway.restart-handoff', protocolVersion: 2, operations: ['consume'] })));
    assert.equal(v2.offered, false);
    assert.match(v2.reason ?? '', /v2 .*fleetd speaks .* v1 consume/);
    assert.throws(() => readHandoffProbe({ exitCode: null, stdout: '', stderr: '', timedOut: true }), /timed out/);
    assert.throws(() => readHandoffProbe(ok('Segmentation fault')), /without a usable answer: Segmentation fault/);
  });

  test('help probes: offered only with exit 0 and the command\'s usage; unknown command is "not offered"', () => {
    assert.deepEqual(readHelpProbe(HELP('preflight'), 'preflight'), { offered: true });
    assert.equal(readHelpProbe({ exitCode: 1, stdout: '', stderr: 'OpenClaw database has no command "preflight".', timedOut: false }, 'preflight').offered, false);
    assert.equal(readHelpProbe({ exitCode: 1, stdout: '', stderr: 'OpenClaw does not know the command "database".', timedOut: false }, 'preflight').offered, false);
    assert.throws(() => readHelpProbe({ exitCode: 1, stdout: '', stderr: 'EACCES', timedOut: false }, 'preflight'), /exited 1: EACCES/);
    assert.equal(isUnknownCommand(ok('has no command')), false, 'exit 0 is never "unknown"');
  });

  test('parseCliJson takes the document after a banner', () => {
    assert.deepEqual(parseCliJson('OpenClaw 2026.9.6\n{\n  "a": 1\n}\n'), { a: 1 });
    assert.equal(parseCliJson('no json here'), undefined);
    assert.equal(parseCliJson(''), undefined);
  });
});

/** A runtime folder with a marker, and a CLI runner that answers like 2026.9.6 and counts calls. */
async function fakeRuntime(dir: string, answers: (args: string[]) => CliResult) {
  const rt = join(dir, 'openclaw-2026.9.6');
  await mkdir(rt, { recursive: true });
  await writeFile(join(rt, 'fleetd-runtime.json'), '{}');
  const calls: CliCall[] = [];
  const cli: CliRunner = async (call) => {
    calls.push(call);
    return answers(call.args);
  };
  return { runtime: { dir: rt, node: '/rt/node', entry: '/rt/openclaw.mjs' }, calls, cli };
}

const REAL_ANSWERS = (args: string[]): CliResult => (args[0] === 'gateway' ? ok(CAPS) : HELP(args[1]!));

describe('createCapabilityProbe', () => {
  test('probes once per runtime folder, in a scratch home, and caches in memory and on disk', () =>
    withTempDir(async (dir) => {
      const { runtime, calls, cli } = await fakeRuntime(dir, REAL_ANSWERS);
      const probe = createCapabilityProbe({ cli, now: () => Date.UTC(2026, 11, 1) });
      const first = await probe.get(runtime);
      assert.deepEqual([first.restartHandoff.offered, first.databasePreflight.offered, first.agentPreflight.offered], [true, true, true]);
      assert.equal(calls.length, 3);
      for (const call of calls) {
        assert.notEqual(call.env.HOME, process.env.HOME, 'never the caller\'s home');
        assert.equal(call.env.OPENCLAW_STATE_DIR, join(call.env.HOME!, '.openclaw'));
        assert.equal(call.env.OPENCLAW_SUPERVISOR_MODE, 'external');
        assert.equal(call.env.PATH!.split(':')[0], '/rt', 'the runtime\'s node first on PATH');
      }
      assert.deepEqual(await probe.get(runtime), first);
      assert.equal(calls.length, 3, 'memory cache');
      const onDisk = JSON.parse(await readFile(join(runtime.dir, CAPABILITIES_FILE), 'utf8'));
      assert.deepEqual(onDisk.capabilities, first);
      const again = createCapabilityProbe({ cli });
      assert.deepEqual(await again.get(runtime), first);
      assert.equal(calls.length, 3, 'a new fleetd reads the file instead of probing');
      // a reinstall (new marker) is probed again
      await utimes(join(runtime.dir, 'fleetd-runtime.json'), new Date(2030, 0, 1), new Date(2030, 0, 1));
      await again.get(runtime);
      assert.equal(calls.length, 6);
    }));

  test('"not offered" is an answer (cached); a probe that said nothing is not cached', () =>
    withTempDir(async (dir) => {
      let broken = true;
      const { runtime, calls, cli } = await fakeRuntime(dir, (args) => (args[0] === 'gateway' ? (broken ? { exitCode: null, stdout: '', stderr: '', timedOut: true } : NO_COMMAND) : HELP(args[1]!)));
      const probe = createCapabilityProbe({ cli });
      await assert.rejects(probe.get(runtime), /timed out/);
      broken = false;
      const caps = await probe.get(runtime);
      assert.equal(caps.restartHandoff.offered, false);
      assert.match(caps.restartHandoff.reason ?? '', /no `gateway restart-handoff` command/);
      const before = calls.length;
      await probe.get(runtime);
      assert.equal(calls.length, before);
    }));
});

describe('restart handoff consume', () => {
  const base = { ok: true, protocol: 'openclaw.gateway.restart-handoff' as const, protocolVersion: 1 };
  test('only an accepted handoff for this pid restarts', () => {
    const accepted = consumeAnswerSchema.parse({ ...base, status: 'accepted', handoff: { pid: 42, reason: 'gateway.restart', source: 'operator-restart', restartKind: 'full-process' } });
    assert.deepEqual(handoffOutcome(accepted, 42), { restart: true, reason: 'restart requested by OpenClaw (gateway.restart, operator-restart)' });
    assert.equal(handoffOutcome(accepted, 43).restart, false);
    assert.deepEqual(handoffOutcome(consumeAnswerSchema.parse({ ...base, status: 'none', reason: 'missing' }), 42), { restart: false, reason: 'no restart handoff (none: missing)' });
    assert.equal(handoffOutcome(consumeAnswerSchema.parse({ ...base, status: 'rejected', reason: 'expired', handoffPid: 42 }), 42).restart, false);
  });

  test('runs consume with the agent\'s environment and the pid; refuses a bad pid; a garbage answer is an error', async () => {
    const calls: CliCall[] = [];
    const cli: CliRunner = async (call) => {
      calls.push(call);
      return ok(JSON.stringify({ ...base, status: 'accepted', handoff: { pid: 7 } }));
    };
    const env = { HOME: '/h', OPENCLAW_STATE_DIR: '/h/.openclaw' };
    const outcome = await consumeRestartHandoff({ runtime: { node: '/n', entry: '/e' }, env, cwd: '/h', expectedPid: 7, cli });
    assert.equal(outcome.restart, true);
    assert.deepEqual(calls[0]!.args, ['gateway', 'restart-handoff', 'consume', '--expected-pid', '7', '--json']);
    assert.equal(calls[0]!.env, env);
    await assert.rejects(consumeRestartHandoff({ runtime: { node: '/n', entry: '/e' }, env, cwd: '/h', expectedPid: 0, cli }), /expected a gateway pid/);
    await assert.rejects(consumeRestartHandoff({ runtime: { node: '/n', entry: '/e' }, env, cwd: '/h', expectedPid: 7, cli: async () => ok('') }), /without a usable answer/);
  });
});
