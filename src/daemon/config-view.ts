// `fleetctl config show` and `config diff`: an agent's openclaw.json as it is (redacted),
// and what OpenClaw added beyond the manifest plus what the next apply will change: the
// three-way merge of provisioning (plan/config-merge.ts), run dry.
import { FleetError } from '../errors.js';
import { mergeConfig, type ConfigChange } from '../plan/config-merge.js';
import type { ResponseBody } from '../protocol/schemas.js';
import { readAppliedConfig, readConfigFile } from '../provision/config-file.js';
import { redactConfig, redactJson } from '../secrets/redact.js';
import type { AgentFacts } from './agent-facts.js';

/** openclaw.json of an agent, redacted; NOT_FOUND before its first provisioning. */
export async function showConfig(facts: AgentFacts, secrets: readonly string[]): Promise<ResponseBody<'configShow'>> {
  const file = facts.effective.paths.configPath;
  const snapshot = await readConfigFile(file);
  if (!snapshot) throw new FleetError('NOT_FOUND', `${facts.address} has no openclaw.json yet (${file}); it is written when the agent is first provisioned: \`fleetctl start agent ${facts.address}\``);
  return { address: facts.address, file, config: redactConfig(snapshot.config, secrets) };
}

/** What OpenClaw wrote beyond the manifest, and what the next apply changes (values redacted). */
export async function diffConfig(facts: AgentFacts, secrets: readonly string[]): Promise<ResponseBody<'configDiff'>> {
  const file = facts.effective.paths.configPath;
  const snapshot = await readConfigFile(file);
  const applied = await readAppliedConfig(facts.appliedPath);
  const merged = mergeConfig({ current: snapshot?.config, lastApplied: applied.config, desired: facts.effective.config });
  const redact = (value: unknown, path: string[]) => (value === undefined ? undefined : redactJson(value, path, secrets));
  return {
    address: facts.address,
    file,
    openclaw: merged.openclaw.map((k) => ({ path: k.path, value: redact(k.value, k.path) })),
    changes: merged.changes.map((c) => toWire(c, redact)),
    firstApply: applied.config === undefined,
  };
}

/** A merge change in the wire's current/next form. */
function toWire(change: ConfigChange, redact: (value: unknown, path: string[]) => unknown): ResponseBody<'configDiff'>['changes'][number] {
  const { path } = change;
  const pair = (current: unknown, next: unknown) => ({
    ...(current === undefined ? {} : { current: redact(current, path) }),
    ...(next === undefined ? {} : { next: redact(next, path) }),
  });
  switch (change.kind) {
    case 'override':
      return { kind: 'override', path, ...pair(change.openclaw, change.desired) };
    case 'update':
      return { kind: 'update', path, ...pair(change.from, change.to) };
    case 'remove':
      return { kind: 'remove', path, ...pair(change.value, undefined) };
    case 'keep':
      return { kind: 'keep', path, ...pair(change.value, change.value) };
  }
}
