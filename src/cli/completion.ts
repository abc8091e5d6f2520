// Generates fleetctl's bash completion script from the commander program itself, so
// new commands and options complete without editing a hand-written script. Agent
// addresses and fleet ids are completed live from `fleetctl status --json`.
import type { Command } from 'commander';

/** What a positional argument completes to. */
type ArgKind = 'address' | 'fleet' | 'filter' | 'none' | `choices:${string}`;

/** One command node of the tree, keyed by its path (`restart agent`). */
interface Node {
  path: string;
  subcommands: string[];
  options: string[];
  args: ArgKind[];
}

/** Maps an argument name from the help (`FLEET/AGENT`) to what completes it. */
function argKind(name: string, choices: readonly string[] | undefined): ArgKind {
  if (choices?.length) return `choices:${choices.join(' ')}`;
  if (name === 'FLEET/AGENT') return 'address';
  if (name === 'FLEET') return 'fleet';
  if (name === 'FLEET[/AGENT]') return 'filter';
  return 'none';
}

// A verb group's own options (`stop --timeout`) apply to its subcommands too, except
// `--all`, which replaces the subcommand (`stop --all`).
/** Walks the program: every command path with its subcommands, options (its own and its group's) and argument kinds. */
function collectNodes(cmd: Command, path: string, globals: string[], out: Node[], inherited: string[] = []): void {
  const options = cmd.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => Boolean(f));
  out.push({
    path,
    subcommands: cmd.commands.map((c) => c.name()),
    options: [...new Set([...options, ...inherited, ...globals, '--help'])],
    args: cmd.registeredArguments.map((a) => argKind(a.name(), a.argChoices)),
  });
  const passOn = path ? [...inherited, ...options.filter((o) => o !== '--all')] : [];
  for (const sub of cmd.commands) collectNodes(sub, path ? `${path} ${sub.name()}` : sub.name(), globals, out, passOn);
}

/** Every option flag that takes a value (its next word is not a command or argument). */
function valueOptions(cmd: Command, out = new Set<string>()): Set<string> {
  for (const o of cmd.options) if (o.required || o.optional) for (const f of [o.long, o.short]) if (f) out.add(f);
  for (const sub of cmd.commands) valueOptions(sub, out);
  return out;
}

/** The bash completion script for `program` (load it with `source <(fleetctl completion bash)`). */
export function bashCompletion(program: Command): string {
  const globals = program.options.map((o) => o.long).filter((f): f is string => Boolean(f) && f !== '--version');
  const nodes: Node[] = [];
  collectNodes(program, '', globals, nodes);
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const paths = nodes.filter((n) => n.path).map((n) => `"${n.path}"`).join('|');
  const cases = nodes
    .map((n) => `    "${n.path}") subs="${n.subcommands.join(' ')}"; opts="${n.options.join(' ')}"; args=(${n.args.map((a) => `"${a}"`).join(' ')}) ;;`)
    .join('\n');
  return `# bash completion for ${name}; load it with:  source <(${name} completion bash)
${fn}_addresses() {
  "$@" status --json 2>/dev/null | sed -n 's/^ *"address": *"\\([^"]*\\)".*/\\1/p'
}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local node="" word i nargs=0 subs="" opts="" kind="" words=""
  local -a args=() cmd=("\${COMP_WORDS[0]}")
  case "$prev" in
    --socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    ${[...valueOptions(program)].join('|')}) COMPREPLY=(); return ;;
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      --socket) cmd+=(--socket "\${COMP_WORDS[i+1]}"); i=$((i + 1)); continue ;;
      ${[...valueOptions(program)].filter((f) => f !== '--socket').join('|')}) i=$((i + 1)); continue ;;
      -*) continue ;;
    esac
    case "\${node:+$node }$word" in
      ${paths}) node="\${node:+$node }$word" ;;
      *) nargs=$((nargs + 1)) ;;
    esac
  done
  case "$node" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return
  fi
  kind="\${args[nargs]:-}"
  case "$kind" in
    address) words="$(${fn}_addresses "\${cmd[@]}")" ;;
    fleet) words="$(${fn}_addresses "\${cmd[@]}" | cut -d/ -f1 | sort -u)" ;;
    filter) words="$(${fn}_addresses "\${cmd[@]}")"; words="$words $(printf '%s\\n' $words | cut -d/ -f1 | sort -u)" ;;
    choices:*) words="\${kind#choices:}" ;;
    none) words="" ;;
    *) [[ $nargs -eq 0 ]] && words="$subs" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F ${fn} ${name}
`;
}
