// What one installed runtime offers to an external supervisor, asked of that EXACT runtime
// (OpenClaw's contract, docs/cli/gateway/restart-and-supervision.md: "probe capabilities
// on the exact runtime ... rather than infer support from an OpenClaw version string"):
//   - restart handoff: `openclaw gateway restart-handoff capabilities --json`
//     -> {"ok":true,"protocol":"openclaw.gateway.restart-handoff","protocolVersion":1,"operations":["consume"]}
//   - database preflight: `openclaw database preflight --help` / `preflight-agent --help`
// A runtime without the command answers exit 1 with "has no command" / "does not know the
// command" (checked on 2026.9.6): that is "not offered", and is cached like an offer. A
// probe that times out or prints nonsense says nothing: it throws and is not cached.
// Answers are cached per runtime folder, in memory and in `<runtime>/fleetd-capabilities.json`
// (keyed by the marker's mtime, so a reinstall is probed again).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FleetError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { MARKER_FILE } from './layout.js';
import { lastOutputLine, parseCliJson, runOpenclaw, withScratchHome, type CliResult, type CliRunner } from './openclaw-cli.js';
import type { Runtime } from './types.js';

/** The restart-handoff protocol this fleetd speaks. */
export const HANDOFF_PROTOCOL = 'openclaw.gateway.restart-handoff';
/** Its version. */
export const HANDOFF_PROTOCOL_VERSION = 1;
/** File the answers are cached in, inside the runtime folder. */
export const CAPABILITIES_FILE = 'fleetd-capabilities.json';

const offerSchema = z.object({ offered: z.boolean(), reason: z.string().optional() });

/** What a runtime offers; `reason` says why something is not offered. */
export const capabilitiesSchema = z.object({
  restartHandoff: offerSchema.extend({ protocolVersion: z.number().optional(), operations: z.array(z.string()).optional() }),
  databasePreflight: offerSchema,
  agentPreflight: offerSchema,
  /** ISO time of the probe. */
  probedAt: z.string(),
});
/** What a runtime offers. */
export type RuntimeCapabilities = z.infer<typeof capabilitiesSchema>;

const cacheFileSchema = z.object({ schema: z.literal(1), markerMtimeMs: z.number(), capabilities: capabilitiesSchema });

const capabilitiesAnswer = z.object({ ok: z.literal(true), protocol: z.string(), protocolVersion: z.number(), operations: z.array(z.string()) });

/** True when the CLI said it has no such command (the runtime predates it). */
export function isUnknownCommand(result: CliResult): boolean {
  return result.exitCode !== 0 && /has no command|does not know the command|unknown command/i.test(`${result.stdout}\n${result.stderr}`);
}

/** Reads the answer of `gateway restart-handoff capabilities --json`; throws RUNTIME_FAILED when it says nothing usable. */
export function readHandoffProbe(result: CliResult): RuntimeCapabilities['restartHandoff'] {
  if (isUnknownCommand(result)) return { offered: false, reason: 'this runtime has no `gateway restart-handoff` command' };
  const parsed = capabilitiesAnswer.safeParse(parseCliJson(result.stdout));
  if (result.exitCode !== 0 || !parsed.success) {
    throw new FleetError('RUNTIME_FAILED', `restart-handoff capability probe ${result.timedOut ? 'timed out' : `exited ${String(result.exitCode)}`} without a usable answer: ${lastOutputLine(result) || '(no output)'}`);
  }
  const { protocol, protocolVersion, operations } = parsed.data;
  if (protocol !== HANDOFF_PROTOCOL || protocolVersion !== HANDOFF_PROTOCOL_VERSION || !operations.includes('consume')) {
    return { offered: false, protocolVersion, operations, reason: `offers ${protocol} v${protocolVersion} (${operations.join(', ') || 'no operations'}); fleetd speaks ${HANDOFF_PROTOCOL} v${HANDOFF_PROTOCOL_VERSION} consume` };
  }
  return { offered: true, protocolVersion, operations };
}

/** Reads the answer of `database <command> --help`. */
export function readHelpProbe(result: CliResult, command: string): { offered: boolean; reason?: string } {
  if (isUnknownCommand(result)) return { offered: false, reason: `this runtime has no \`database ${command}\` command` };
  if (result.exitCode === 0 && result.stdout.includes(`database ${command}`)) return { offered: true };
  throw new FleetError('RUNTIME_FAILED', `\`database ${command} --help\` ${result.timedOut ? 'timed out' : `exited ${String(result.exitCode)}`}: ${lastOutputLine(result) || '(no output)'}`);
}

/** Dependencies of the probe (real defaults). */
export interface CapabilityProbeDeps {
  cli?: CliRunner;
  now?: () => number;
}

/** A per-runtime-folder cache of probe answers; `get` probes at most once per folder at a time. */
export function createCapabilityProbe(deps: CapabilityProbeDeps = {}) {
  const cli = deps.cli ?? runOpenclaw;
  const now = deps.now ?? Date.now;
  const memory = new Map<string, { markerMtimeMs: number; answer: Promise<RuntimeCapabilities> }>();

  /** Runs the three probes (in parallel) in a scratch home. */
  async function probe(runtime: Pick<Runtime, 'node' | 'entry'>): Promise<RuntimeCapabilities> {
    return withScratchHome(runtime, async (env, cwd) => {
      const run = (args: string[]) => cli({ runtime, args, env, cwd });
      const [handoff, preflight, agentPreflight] = await Promise.all([
        run(['gateway', 'restart-handoff', 'capabilities', '--json']),
        run(['database', 'preflight', '--help']),
        run(['database', 'preflight-agent', '--help']),
      ]);
      return {
        restartHandoff: readHandoffProbe(handoff),
        databasePreflight: readHelpProbe(preflight, 'preflight'),
        agentPreflight: readHelpProbe(agentPreflight, 'preflight-agent'),
        probedAt: new Date(now()).toISOString(),
      };
    });
  }

  return {
    /** The capabilities of `runtime` (cached per folder; RUNTIME_FAILED when a probe said nothing usable). */
    async get(runtime: Pick<Runtime, 'node' | 'entry' | 'dir'>): Promise<RuntimeCapabilities> {
      const markerMtimeMs = (await stat(join(runtime.dir, MARKER_FILE))).mtimeMs;
      const known = memory.get(runtime.dir);
      if (known && known.markerMtimeMs === markerMtimeMs) return known.answer;
      const answer = (async () => {
        const cached = await readCache(runtime.dir, markerMtimeMs);
        if (cached) return cached;
        const fresh = await probe(runtime);
        // best effort: a read-only or vanishing runtime folder only costs a probe next time
        await writeFileAtomic(join(runtime.dir, CAPABILITIES_FILE), `${JSON.stringify({ schema: 1, markerMtimeMs, capabilities: fresh }, null, 2)}\n`, { mode: 0o644 }).catch(() => {});
        return fresh;
      })();
      memory.set(runtime.dir, { markerMtimeMs, answer });
      answer.catch(() => memory.delete(runtime.dir)); // a failed probe is asked again next time
      return answer;
    },
  };
}

/** The probe object createCapabilityProbe returns. */
export type CapabilityProbe = ReturnType<typeof createCapabilityProbe>;

/** The cached answer for this marker, or undefined (missing, damaged, other install). */
async function readCache(dir: string, markerMtimeMs: number): Promise<RuntimeCapabilities | undefined> {
  try {
    const parsed = cacheFileSchema.safeParse(JSON.parse(await readFile(join(dir, CAPABILITIES_FILE), 'utf8')));
    return parsed.success && parsed.data.markerMtimeMs === markerMtimeMs ? parsed.data.capabilities : undefined;
  } catch {
    return undefined;
  }
}
