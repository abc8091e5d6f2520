// The complete environment of one gateway, built from nothing. Inheriting the supervisor's
// environment leaks systemd's INVOCATION_ID/JOURNAL_STREAM (the gateway then thinks systemd
// owns it), NODE_COMPILE_CACHE (the launcher re-spawns itself) and stray OPENCLAW_* that
// point it at someone else's state. Only PATH, LANG and TZ are taken from the parent.
import { join } from 'node:path';

/** PATH given to a gateway when the parent has none. */
export const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Parent variables a gateway inherits (when set and non-empty). */
export const INHERITED_ENV = ['LANG', 'TZ'] as const;

/** Inputs of buildGatewayEnv. */
export interface GatewayEnvInput {
  /** The supervisor's environment, passed in (plan/ never reads process.env). */
  parentEnv: Readonly<Record<string, string | undefined>>;
  home: string;
  fleet: string;
  agent: string;
  port: number;
  /** Manifest layers in precedence order (gateway.env, defaults.env, fleet env, agent env): later wins. */
  layers: ReadonlyArray<Readonly<Record<string, string>>>;
}

/** The isolation variables: they tie the gateway to its own home and port, and always win. */
export function isolationEnv(input: Pick<GatewayEnvInput, 'home' | 'fleet' | 'agent' | 'port'>): Record<string, string> {
  const stateDir = join(input.home, '.openclaw');
  return {
    HOME: input.home,
    // OpenClaw resolves its defaults (state dir = $OPENCLAW_HOME/.openclaw) from this, ahead of HOME.
    OPENCLAW_HOME: input.home,
    OPENCLAW_STATE_DIR: stateDir,
    OPENCLAW_CONFIG_PATH: join(stateDir, 'openclaw.json'),
    OPENCLAW_PROFILE: `${input.fleet}-${input.agent}`,
    XDG_CACHE_HOME: join(input.home, '.cache'),
    // Node's compile cache and every other temp file of the gateway (os.tmpdir()) stay in
    // its home instead of a /tmp shared by every agent.
    TMPDIR: join(input.home, 'tmp'),
    OPENCLAW_GATEWAY_PORT: String(input.port),
    OPENCLAW_SUPERVISOR_MODE: 'external',
    OPENCLAW_NO_RESPAWN: '1',
  };
}

/** Names that no manifest layer can override (the keys of isolationEnv). */
export const RESERVED_GATEWAY_ENV: readonly string[] = Object.keys(isolationEnv({ home: '/', fleet: 'f', agent: 'a', port: 1 }));

/** Builds a gateway's whole environment (pure): base, then manifest layers, then isolation last. */
export function buildGatewayEnv(input: GatewayEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  const parentPath = input.parentEnv['PATH'];
  env['PATH'] = parentPath ? parentPath : DEFAULT_PATH;
  for (const name of INHERITED_ENV) {
    const value = input.parentEnv[name];
    if (value) env[name] = value;
  }
  env['NODE_ENV'] = 'production';
  for (const layer of input.layers) Object.assign(env, layer);
  // Applied last on purpose: the manifest loader already rejects these names; this is the second lock.
  Object.assign(env, isolationEnv(input));
  return env;
}

// `npm start` puts `<checkout>/node_modules/.bin` and npm's node-gyp-bin first on PATH;
// npx adds its cache. A gateway must not find fleetd's own dependencies (or a stale npx
// package) before the system's tools, so those entries are dropped, as are relative ones
// (they would resolve against the gateway's home).
/** The PATH a gateway inherits: `path` without entries inside `supervisorRoot`, npm/npx temporary bins, or relative ones; DEFAULT_PATH when nothing is left. */
export function cleanGatewayPath(path: string | undefined, supervisorRoot: string): string {
  const root = supervisorRoot.replace(/\/+$/, '');
  const kept: string[] = [];
  for (const entry of (path ?? '').split(':')) {
    if (!entry.startsWith('/')) continue;
    const dir = entry.replace(/\/+$/, '') || '/';
    if (dir === root || dir.startsWith(`${root}/`)) continue;
    if (/\/node_modules\/\.bin$/.test(dir) || /\/node-gyp-bin$/.test(dir) || /\/_npx\//.test(`${dir}/`)) continue;
    if (!kept.includes(dir)) kept.push(dir);
  }
  return kept.length > 0 ? kept.join(':') : DEFAULT_PATH;
}

/** Merges env maps, later wins (used to flatten the manifest layers into DesiredAgent.env). */
export function mergeEnv<V>(...layers: Array<Readonly<Record<string, V>> | undefined>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const layer of layers) if (layer) Object.assign(out, layer);
  return out;
}
