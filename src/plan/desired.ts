// What should exist: every agent the manifest declares (enabled or not) plus the agents
// added with `fleetctl add agent`, which live only in the registry. Config and env layers
// are flattened here; managed keys and isolation env are added later, at provisioning.
import { ownEntry, toAddress, type AgentAddress } from '../manifest/ids.js';
import { DEFAULT_GATEWAY_COMMAND } from '../manifest/rules.js';
import type { AgentSpec, GatewayLaunch, Manifest } from '../manifest/schema.js';
import { desiredFederation, federationGraph } from './federation.js';
import { isSecretRef, type EnvValue } from '../secrets/refs.js';
import { mergeEnv } from './gateway-env.js';
import { deepMerge } from './merge.js';
import type { DesiredAgent, DesiredIsolation, RegistryFile } from './types.js';
import { agentIsolationSpec } from '../isolation/agent-spec.js';

/** Resolves how one agent's gateway is launched (injectable; see launchOf for the rule). */
export type ResolveLaunch = (manifest: Manifest, fleet: string, agent: string) => GatewayLaunch;

// Same rule as manifest/rules.ts resolveLaunch, which throws for an agent the manifest does not
// declare; CLI agents need the rule too (fleet pin and top-level settings still apply to them).
/** Launch rule: fleetd's launchOverrides (rollouts) > agent pin > fleet pin > top gateway.openclaw > gateway.command > default argv; `node` is resolved the same way, separately. */
export function launchOf(manifest: Manifest, fleet: string, agent: string): GatewayLaunch {
  const override = manifest.launchOverrides?.[toAddress(fleet, agent)];
  if (override) return override.kind === 'command' ? { kind: 'command', command: [...override.command] } : { ...override };
  const fleetSpec = ownEntry(manifest.fleets, fleet);
  const agentSpec: AgentSpec | undefined = ownEntry(fleetSpec?.agents, agent);
  const version = agentSpec?.gateway?.openclaw ?? fleetSpec?.gateway?.openclaw ?? manifest.gateway.openclaw;
  const node = agentSpec?.gateway?.node ?? fleetSpec?.gateway?.node ?? manifest.gateway.node;
  if (version !== undefined) return node === undefined ? { kind: 'openclaw', version } : { kind: 'openclaw', version, node };
  return { kind: 'command', command: [...(manifest.gateway.command ?? DEFAULT_GATEWAY_COMMAND)] };
}

/** Lists the desired agents, sorted by address; a manifest declaration wins over a CLI entry of the same address. */
export function desiredAgents(manifest: Manifest, registry: RegistryFile, resolveLaunch: ResolveLaunch = launchOf): DesiredAgent[] {
  const out = new Map<AgentAddress, DesiredAgent>();
  const graph = federationGraph(manifest);
  for (const [fleetId, fleet] of Object.entries(manifest.fleets)) {
    for (const [agentId, agent] of Object.entries(fleet.agents)) {
      const address = toAddress(fleetId, agentId);
      const federation = desiredFederation(graph, address, registry.agents[address]?.hooksToken);
      out.set(address, {
        address,
        fleet: fleetId,
        agent: agentId,
        source: 'manifest',
        enabled: agent.enabled,
        config: deepMerge(manifest.defaults.config, fleet.defaults.config, agent.config),
        env: mergeEnv(manifest.gateway.env, manifest.defaults.env, fleet.defaults.env, agent.env),
        envOrigin: secretOrigins(manifest.manifestPath, [
          [['gateway', 'env'], manifest.gateway.env],
          [['defaults', 'env'], manifest.defaults.env],
          [['fleets', fleetId, 'defaults', 'env'], fleet.defaults.env],
          [['fleets', fleetId, 'agents', agentId, 'env'], agent.env],
        ]),
        launch: resolveLaunch(manifest, fleetId, agentId),
        ...isolationKeyOf(manifest, fleetId, agentId),
        ...(federation ? { federation } : {}),
      });
    }
  }
  for (const entry of Object.values(registry.agents)) {
    if (entry.source !== 'cli') continue;
    const address = toAddress(entry.fleet, entry.agent);
    if (out.has(address)) continue;
    const fleet = ownEntry(manifest.fleets, entry.fleet);
    out.set(address, {
      address,
      fleet: entry.fleet,
      agent: entry.agent,
      source: 'cli',
      enabled: true,
      config: deepMerge(manifest.defaults.config, fleet?.defaults.config, entry.spec?.config),
      env: mergeEnv(manifest.gateway.env, manifest.defaults.env, fleet?.defaults.env, entry.spec?.env),
      envOrigin: {
        ...secretOrigins(manifest.manifestPath, [
          [['gateway', 'env'], manifest.gateway.env],
          [['defaults', 'env'], manifest.defaults.env],
          [['fleets', entry.fleet, 'defaults', 'env'], fleet?.defaults.env],
        ]),
        ...Object.fromEntries(Object.entries(entry.spec?.env ?? {}).filter(([, v]) => isSecretRef(v)).map(([name]) => [name, `fleetctl add agent ${address} (kept in the registry)`])),
      },
      launch: resolveLaunch(manifest, entry.fleet, entry.agent),
      ...isolationKeyOf(manifest, entry.fleet, entry.agent),
    });
  }
  return [...out.values()].sort((a, b) => compareAddress(a.address, b.address));
}

/** Where each secret reference of the merged env was declared (later layers win, like the values). */
function secretOrigins(manifestPath: string, layers: Array<[string[], Readonly<Record<string, EnvValue>> | undefined]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, env] of layers) {
    for (const [name, value] of Object.entries(env ?? {})) {
      if (isSecretRef(value)) out[name] = `${manifestPath}: ${[...path, name].join('.')}`;
      else delete out[name];
    }
  }
  return out;
}

/** Byte-order comparison of addresses: the one order used by every plan and listing. */
export function compareAddress(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// The isolation settings that change how a gateway is launched (its argv, its user, its
// files' owner) are part of what it was started with, so a change of them restarts it at
// reload. CPU and pids limits are applied to the running cgroup instead. Absent when none
// is set, so the hash of an agent without them is what it always was.
/** `{ isolation }` for an agent whose memory limit, user or memory.merge is set; `{}` otherwise. */
function isolationKeyOf(manifest: Manifest, fleet: string, agent: string): { isolation?: DesiredIsolation } {
  const spec = agentIsolationSpec(manifest, fleet, agent);
  const key: DesiredIsolation = {
    ...(spec.limits.memoryText ? { memory: spec.limits.memoryText } : {}),
    ...(spec.user ? { user: spec.user.name } : {}),
    ...(spec.merge ? { merge: true } : {}),
  };
  return Object.keys(key).length > 0 ? { isolation: key } : {};
}
