// Cross-field rules the schema cannot express. They read the raw JSON5 value, not the zod
// output, so a manifest with type errors still gets every rule's problems in the same
// report; a rule skips whatever has the wrong shape (zod already reports that).
// One concern (cross-field validation) in one list, so every rule is seen together.
import { FleetError } from '../errors.js';
import { checkFederation } from './federation-rules.js';
import { ID_PATTERN, ID_RULE, ownEntry } from './ids.js';
import { parseListen } from '../metrics/listen.js';
import { checkIsolationRules } from './isolation-rules.js';
import type { PathSegment, Problem } from './render-issues.js';
import { manifestSchema, type GatewayLaunch, type ManifestInput } from './schema.js';
import { nameList } from '../util/name-list.js';

/** Env names fleetd sets for each agent itself; a manifest may not set them. */
export const RESERVED_ENV = [
  'HOME',
  'OPENCLAW_HOME',
  'OPENCLAW_STATE_DIR',
  'OPENCLAW_CONFIG_PATH',
  'OPENCLAW_PROFILE',
  'XDG_CACHE_HOME',
  'TMPDIR',
  'OPENCLAW_GATEWAY_PORT',
  'OPENCLAW_SUPERVISOR_MODE',
  'OPENCLAW_NO_RESPAWN',
] as const;

/** Env names that make a gateway misbehave (OPENCLAW_NOTES): never set, never inherited. */
export const FORBIDDEN_ENV = ['INVOCATION_ID', 'JOURNAL_STREAM', 'SYSTEMD_EXEC_PID', 'NODE_COMPILE_CACHE'] as const;

const SYSTEMD_REASON =
  'makes the gateway believe systemd manages it (it then loops for 90 s on a port conflict)';

/** Why each FORBIDDEN_ENV name is refused, for messages and logs. */
export const FORBIDDEN_ENV_REASON: Record<(typeof FORBIDDEN_ENV)[number], string> = {
  INVOCATION_ID: SYSTEMD_REASON,
  JOURNAL_STREAM: SYSTEMD_REASON,
  SYSTEMD_EXEC_PID: SYSTEMD_REASON,
  NODE_COMPILE_CACHE: 'makes the openclaw launcher re-spawn itself (two processes per gateway, slow stops)',
};

const RESERVED_ENV_REASON: Record<(typeof RESERVED_ENV)[number], string> = {
  HOME: "the agent's isolated home",
  OPENCLAW_HOME: "the agent's isolated home",
  OPENCLAW_STATE_DIR: "the agent's state dir",
  OPENCLAW_CONFIG_PATH: "the agent's openclaw.json",
  OPENCLAW_PROFILE: "names the agent's log file",
  XDG_CACHE_HOME: "the agent's cache dir",
  TMPDIR: "the agent's own temp dir",
  OPENCLAW_GATEWAY_PORT: "the agent's port block",
  OPENCLAW_SUPERVISOR_MODE: 'fleetd owns the process lifecycle',
  OPENCLAW_NO_RESPAWN: 'fleetd owns the process lifecycle',
};

/** openclaw.json keys fleetd writes per agent; a manifest `config` may not set them (or anything under them). */
export const MANAGED_CONFIG_KEYS = [
  'gateway.mode',
  'gateway.port',
  'gateway.bind',
  'gateway.auth',
  'logging.file',
  'agents.defaults.workspace',
] as const;

/** The browser reaches base+110 (control base+2, relay base+3..10, CDP base+11..110): blocks need 120 ports. */
export const BROWSER_MIN_BLOCK_SIZE = 120;

/**
 * What runs when neither gateway.command nor a gateway.openclaw pin applies to an agent:
 * whatever `openclaw` fleetd's PATH finds. Valid, but nobody chose that version:
 * unpinnedGatewayWarnings says so at `fleetd validate` and `fleetd start`.
 */
export const DEFAULT_GATEWAY_COMMAND: readonly string[] = ['openclaw', 'gateway', 'run'];

/**
 * One warning per fleet whose agents run DEFAULT_GATEWAY_COMMAND from PATH (no
 * gateway.command, no gateway.openclaw at top level, on the fleet or on the agent), naming
 * them and the keys that choose a gateway on purpose; [] when every agent has one.
 */
export function unpinnedGatewayWarnings(manifest: LaunchInput): string[] {
  if (manifest.gateway.command !== undefined || manifest.gateway.openclaw !== undefined) return [];
  const out: string[] = [];
  for (const [fleetId, fleet] of Object.entries(manifest.fleets)) {
    if (fleet.gateway?.openclaw !== undefined) continue;
    const bare = Object.entries(fleet.agents).filter(([, agent]) => agent.gateway?.openclaw === undefined).map(([id]) => id);
    if (bare.length === 0) continue;
    const list = nameList(bare);
    out.push(
      `fleets.${fleetId}: ${bare.length > 1 ? `agents ${list} name` : `agent ${list} names`} no gateway (neither gateway.command nor a gateway.openclaw pin applies), so fleetd runs \`${DEFAULT_GATEWAY_COMMAND.join(' ')}\` from its PATH, whatever OpenClaw version that is (or none); pin gateway.openclaw (top level, fleets.${fleetId}.gateway or the agent's) or set gateway.command`,
    );
  }
  return out;
}

/** First port of Linux's default ephemeral range (net.ipv4.ip_local_port_range 32768-60999). */
export const EPHEMERAL_PORT_FIRST = 32768;

/**
 * A warning when the port blocks of the manifest's agents reach Linux's default ephemeral
 * range, where any program's outgoing connection may take an agent's port while its gateway
 * is down (the README says to stay below it); [] otherwise. Counts the declared agents.
 */
export function portRangeWarnings(manifest: Pick<ManifestInput, 'ports' | 'fleets'>): string[] {
  const agents = Object.values(manifest.fleets).reduce((n, fleet) => n + Object.keys(fleet.agents).length, 0);
  const top = manifest.ports.base + agents * manifest.ports.blockSize - 1;
  if (agents === 0 || top < EPHEMERAL_PORT_FIRST) return [];
  return [
    `ports: the blocks of ${agents} agent${agents === 1 ? '' : 's'} (ports.base ${manifest.ports.base}, blockSize ${manifest.ports.blockSize}) reach port ${top}, inside Linux's default ephemeral range (${EPHEMERAL_PORT_FIRST}-60999, net.ipv4.ip_local_port_range): an outgoing connection of any program may take an agent's port while its gateway is down; lower ports.base or ports.blockSize, or move the ephemeral range`,
  ];
}

/** Placeholder for the agent's gateway port in a `gateway.command` argument (daemon/launch.ts commandArgv). */
export const PORT_PLACEHOLDER = '{port}';

/**
 * Warnings about `gateway.command` arguments that look like the {port} placeholder but are not
 * it ({PORT}, { port }, {{port}}: left as written, and fleetd appends `--port P` unless another
 * argument holds {port}), and about {port} in the program itself (argv[0]); [] otherwise.
 */
export function portPlaceholderWarnings(manifest: Pick<ManifestInput, 'gateway'>): string[] {
  const command = manifest.gateway.command ?? [];
  const exact = command.some((arg) => arg.includes(PORT_PLACEHOLDER));
  const out: string[] = [];
  command.forEach((arg, index) => {
    if (index === 0 && arg.includes(PORT_PLACEHOLDER)) {
      out.push(`gateway.command[0] holds ${PORT_PLACEHOLDER}: it is the program fleetd runs, and would become the port number; put ${PORT_PLACEHOLDER} in an argument after it`);
    }
    const near = [...arg.matchAll(/\{+\s*port\s*\}+/gi)].map((m) => m[0]).find((m) => m !== PORT_PLACEHOLDER);
    if (near !== undefined) {
      out.push(
        `gateway.command[${index}] holds ${JSON.stringify(near)}, which is not the placeholder ${PORT_PLACEHOLDER} (lowercase, no spaces, single braces): ${near.includes(PORT_PLACEHOLDER) ? `fleetd replaces the ${PORT_PLACEHOLDER} inside it and keeps the other braces` : `it is passed as written${exact ? '' : ', and fleetd appends --port P to the command'}`}`,
      );
    }
  });
  return out;
}

/** Every warning about a valid manifest (fleetd validate prints them, fleetd start logs them). */
export function manifestWarnings(manifest: Pick<ManifestInput, 'gateway' | 'fleets' | 'ports'>): string[] {
  return [...unpinnedGatewayWarnings(manifest), ...portRangeWarnings(manifest), ...portPlaceholderWarnings(manifest)];
}

// Schema defaults, used when a rule's input was left out of the manifest.
const DEFAULTS = manifestSchema.parse({ version: 1 });

type Obj = Record<string, unknown>;
interface Level {
  path: PathSegment[];
  value: Obj;
}

function asObj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;
}

function num(value: unknown, fallback: number): number | undefined {
  if (value === undefined) return fallback;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function entries(value: unknown): [string, Obj | undefined][] {
  return Object.entries(asObj(value) ?? {}).map(([key, v]) => [key, asObj(v)]);
}

// Every `config` (or `env`) block: top defaults, fleet defaults, agents (and gateway.env).
function levels(raw: Obj, kind: 'config' | 'env'): Level[] {
  const out: Level[] = [];
  const add = (path: PathSegment[], value: unknown) => {
    const obj = asObj(value);
    if (obj) out.push({ path, value: obj });
  };
  if (kind === 'env') add(['gateway', 'env'], asObj(raw.gateway)?.env);
  add(['defaults', kind], asObj(raw.defaults)?.[kind]);
  for (const [fleetId, fleet] of entries(raw.fleets)) {
    add(['fleets', fleetId, 'defaults', kind], asObj(fleet?.defaults)?.[kind]);
    for (const [agentId, agent] of entries(fleet?.agents)) add(['fleets', fleetId, 'agents', agentId, kind], agent?.[kind]);
  }
  return out;
}

// A valid id close to a bad one ("Korax" -> "korax"), when there is an obvious one.
function suggestId(id: string): string | undefined {
  const fixed = id
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return fixed !== id && ID_PATTERN.test(fixed) ? fixed : undefined;
}

/** Fleet and agent ids (record keys) must match ID_PATTERN. */
export function checkIds(raw: Obj): Problem[] {
  const problems: Problem[] = [];
  const check = (path: PathSegment[], id: string) => {
    if (ID_PATTERN.test(id)) return;
    const hint = suggestId(id);
    problems.push({ path, message: `id must match ${ID_PATTERN.source} (${ID_RULE}), found ${JSON.stringify(id)}${hint ? ` (try "${hint}")` : ''}` });
  };
  for (const [fleetId, fleet] of entries(raw.fleets)) {
    check(['fleets', fleetId], fleetId);
    for (const [agentId] of entries(fleet?.agents)) check(['fleets', fleetId, 'agents', agentId], agentId);
  }
  return problems;
}

/** No config level may set a key fleetd manages (MANAGED_CONFIG_KEYS). */
export function checkManagedConfig(raw: Obj): Problem[] {
  const problems: Problem[] = [];
  for (const level of levels(raw, 'config')) {
    for (const dotted of MANAGED_CONFIG_KEYS) {
      const segs = dotted.split('.');
      const parent = segs.slice(0, -1).reduce<Obj | undefined>((o, s) => asObj(o?.[s]), level.value);
      if (parent && Object.hasOwn(parent, segs[segs.length - 1]!)) {
        problems.push({ path: [...level.path, ...segs], message: 'managed by fleetd, remove it' });
      }
    }
  }
  return problems;
}

/** With blocks under BROWSER_MIN_BLOCK_SIZE, no config level may turn the browser on. */
export function checkBrowserPorts(raw: Obj): Problem[] {
  const blockSize = num(asObj(raw.ports)?.blockSize, DEFAULTS.ports.blockSize);
  if (blockSize === undefined || blockSize >= BROWSER_MIN_BLOCK_SIZE) return [];
  // The effective (merged) value can only be true where some level sets it true, so
  // reporting every such level also covers every agent whose merged value is true.
  return levels(raw, 'config')
    .filter((level) => asObj(level.value.browser)?.enabled === true)
    .map((level) => ({
      path: [...level.path, 'browser', 'enabled'],
      message:
        `the browser uses ports base+2..base+110, which overlap the next block with ports.blockSize ${blockSize}; ` +
        `set ports.blockSize: ${BROWSER_MIN_BLOCK_SIZE} or more, or browser.enabled: false, found true`,
    }));
}

/** No env level may set RESERVED_ENV or FORBIDDEN_ENV names, nor a value with a NUL byte. */
export function checkEnv(raw: Obj): Problem[] {
  const problems: Problem[] = [];
  for (const level of levels(raw, 'env')) {
    for (const [name, value] of Object.entries(level.value)) {
      const path = [...level.path, name];
      if ((RESERVED_ENV as readonly string[]).includes(name)) {
        const why = RESERVED_ENV_REASON[name as (typeof RESERVED_ENV)[number]];
        problems.push({ path, message: `set by fleetd for each agent (${why}), remove it` });
      } else if ((FORBIDDEN_ENV as readonly string[]).includes(name)) {
        const why = FORBIDDEN_ENV_REASON[name as (typeof FORBIDDEN_ENV)[number]];
        problems.push({ path, message: `refused: it ${why}, remove it` });
      } else if (typeof value === 'string' && value.includes('\0')) {
        problems.push({ path, message: 'environment values cannot contain a NUL character, found one' });
      }
    }
  }
  return problems;
}

/** gateway.command and gateway.openclaw are two ways to say what runs: only one may be set; a Node pin needs an OpenClaw pin. */
export function checkLaunch(raw: Obj): Problem[] {
  const gateway = asObj(raw.gateway);
  const problems: Problem[] = [];
  if (gateway && gateway.command !== undefined && gateway.openclaw !== undefined) {
    problems.push({
      path: ['gateway'],
      message: 'set gateway.command (a fixed command) or gateway.openclaw (a fleetd-managed OpenClaw version), not both, found both',
    });
  }
  // gateway.node only chooses the Node of a managed runtime: every agent it reaches must get an OpenClaw pin
  const topOpenclaw = gateway?.openclaw !== undefined;
  const pin = (value: unknown) => asObj(asObj(value)?.gateway);
  const orphan = (path: PathSegment[]) => ({ path, message: 'pins the Node of a managed OpenClaw runtime, but no gateway.openclaw applies here (top level, fleet or agent); add one or remove gateway.node' });
  const fleets = entries(raw.fleets);
  if (gateway?.node !== undefined && !topOpenclaw) {
    const covered = fleets.every(([, fleet]) => pin(fleet)?.openclaw !== undefined || entries(fleet?.agents).every(([, agent]) => pin(agent)?.openclaw !== undefined));
    if (!covered) problems.push(orphan(['gateway', 'node']));
  }
  for (const [fleetId, fleet] of fleets) {
    const fleetOpenclaw = topOpenclaw || pin(fleet)?.openclaw !== undefined;
    if (pin(fleet)?.node !== undefined && !fleetOpenclaw && !entries(fleet?.agents).every(([, agent]) => pin(agent)?.openclaw !== undefined)) {
      problems.push(orphan(['fleets', fleetId, 'gateway', 'node']));
    }
    for (const [agentId, agent] of entries(fleet?.agents)) {
      if (pin(agent)?.node !== undefined && !fleetOpenclaw && pin(agent)?.openclaw === undefined) problems.push(orphan(['fleets', fleetId, 'agents', agentId, 'gateway', 'node']));
    }
  }
  return problems;
}

function countEnabledAgents(raw: Obj): number {
  let n = 0;
  for (const [, fleet] of entries(raw.fleets)) for (const [, agent] of entries(fleet?.agents)) if (agent?.enabled !== false) n++;
  return n;
}

/** Port range: at least one block, and room for a block per enabled agent. */
export function checkPorts(raw: Obj): Problem[] {
  const ports = asObj(raw.ports) ?? {};
  const base = num(ports.base, DEFAULTS.ports.base);
  const size = num(ports.blockSize, DEFAULTS.ports.blockSize);
  const max = num(ports.max, DEFAULTS.ports.max);
  if (base === undefined || size === undefined || max === undefined || size < 1) return [];
  if (base + size > max) {
    return [
      {
        path: ['ports'],
        message: `ports.base + ports.blockSize must be at most ports.max so that one block fits, found ${base} + ${size} = ${base + size} > ${max}`,
      },
    ];
  }
  // Block k is base+k*size .. base+(k+1)*size-1, and its last port must be <= max.
  const capacity = Math.floor((max - base + 1) / size);
  const agents = countEnabledAgents(raw);
  if (agents <= capacity) return [];
  return [
    {
      path: ['ports'],
      message: `${base}..${max} holds ${capacity} blocks of ${size} ports, one per enabled agent, found ${agents} enabled agents; raise ports.max or lower ports.base`,
    },
  ];
}

/** Restart and health timings that contradict each other. */
export function checkTimings(raw: Obj): Problem[] {
  const problems: Problem[] = [];
  const restart = asObj(raw.restart) ?? {};
  const initial = num(restart.initialDelayMs, DEFAULTS.restart.initialDelayMs);
  const maxDelay = num(restart.maxDelayMs, DEFAULTS.restart.maxDelayMs);
  if (initial !== undefined && maxDelay !== undefined && maxDelay < initial) {
    problems.push({ path: ['restart', 'maxDelayMs'], message: `must be at least restart.initialDelayMs (${initial}), found ${maxDelay}` });
  }
  // A probe that may outlast the interval would overlap the next one (or skew the
  // cadence); and a startup window shorter than one probe can never see an answer.
  const health = asObj(raw.health) ?? {};
  const interval = num(health.intervalMs, DEFAULTS.health.intervalMs);
  const timeout = num(health.timeoutMs, DEFAULTS.health.timeoutMs);
  const startup = num(health.startupTimeoutMs, DEFAULTS.health.startupTimeoutMs);
  if (interval !== undefined && timeout !== undefined && timeout >= interval) {
    problems.push({ path: ['health', 'timeoutMs'], message: `must be less than health.intervalMs (${interval}) so a probe ends before the next is due, found ${timeout}` });
  }
  if (startup !== undefined && timeout !== undefined && startup <= timeout) {
    problems.push({ path: ['health', 'startupTimeoutMs'], message: `must be more than health.timeoutMs (${timeout}), found ${startup}` });
  }
  return problems;
}

/** metrics.listen is HOST:PORT, and loopback unless metrics.allowNonLoopback says otherwise. */
export function checkMetrics(raw: Obj): Problem[] {
  const metrics = asObj(raw.metrics);
  if (!metrics || typeof metrics.listen !== 'string') return [];
  const parsed = parseListen(metrics.listen);
  if (typeof parsed === 'string') return [{ path: ['metrics', 'listen'], message: parsed }];
  if (!parsed.loopback && metrics.allowNonLoopback !== true) {
    return [{ path: ['metrics', 'listen'], message: `metrics name every agent and have no authentication: serve them on loopback (127.0.0.1 or [::1]) behind your scraper's proxy, or set metrics.allowNonLoopback: true, found ${JSON.stringify(metrics.listen)}` }];
  }
  return [];
}

/** Paths are taken literally: "~" is not expanded, so refuse it rather than create a folder named "~". */
export function checkPaths(raw: Obj): Problem[] {
  return (['stateDir', 'socket', 'runtimesDir'] as const)
    .filter((key) => typeof raw[key] === 'string' && (raw[key] as string).startsWith('~'))
    .map((key) => ({
      path: [key],
      message: `fleetd does not expand "~": write an absolute path or one relative to the manifest folder, found ${JSON.stringify(raw[key])}`,
    }));
}

/** No key anywhere may be `__proto__`: it means something else to JavaScript than to OpenClaw. */
export function checkProtoKeys(raw: Obj): Problem[] {
  const problems: Problem[] = [];
  // Iterative (an explicit stack), like every walk over user data: depth never costs stack.
  const stack: Array<{ value: unknown; path: PathSegment[] }> = [{ value: raw, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (Array.isArray(value)) value.forEach((item, i) => stack.push({ value: item, path: [...path, i] }));
    else if (asObj(value)) {
      for (const [key, child] of Object.entries(value as Obj)) {
        if (key === '__proto__') problems.push({ path: [...path, key], message: 'the key "__proto__" is not allowed, remove it' });
        else stack.push({ value: child, path: [...path, key] });
      }
    }
  }
  return problems.sort((a, b) => (formatKey(a.path) < formatKey(b.path) ? -1 : 1));
}

/** Sort key of a path (problems are reported in a stable order). */
function formatKey(path: PathSegment[]): string {
  return path.map(String).join('\u0000');
}

/** Every cross-field rule over the JSON5-parsed manifest; [] when it is not even an object. */
export function checkRules(raw: unknown): Problem[] {
  const obj = asObj(raw);
  if (!obj) return [];
  return [checkProtoKeys, checkIds, checkPaths, checkPorts, checkTimings, checkLaunch, checkManagedConfig, checkBrowserPorts, checkEnv, checkFederation, checkMetrics, checkIsolationRules].flatMap((rule) => rule(obj));
}

type LaunchInput = Pick<ManifestInput, 'gateway' | 'fleets'>;

/** What runs for one agent: agent pin > fleet pin > gateway.openclaw > gateway.command > `openclaw gateway run`. */
export function resolveLaunch(manifest: LaunchInput, fleetId: string, agentId: string): GatewayLaunch {
  const fleet = ownEntry(manifest.fleets, fleetId);
  const agent = ownEntry(fleet?.agents, agentId);
  if (!fleet || !agent) {
    throw new FleetError('NOT_FOUND', `no agent "${fleetId}/${agentId}" in the manifest; \`fleetctl status\` lists the agents`);
  }
  const version = agent.gateway?.openclaw ?? fleet.gateway?.openclaw ?? manifest.gateway.openclaw;
  const node = agent.gateway?.node ?? fleet.gateway?.node ?? manifest.gateway.node;
  if (version !== undefined) return node === undefined ? { kind: 'openclaw', version } : { kind: 'openclaw', version, node };
  return { kind: 'command', command: [...(manifest.gateway.command ?? DEFAULT_GATEWAY_COMMAND)] };
}

/** Merged `browser.enabled` for one agent (agent > fleet defaults > top defaults); undefined means OpenClaw's default, which is ON. */
export function effectiveBrowserEnabled(manifest: Pick<ManifestInput, 'defaults' | 'fleets'>, fleetId: string, agentId: string): boolean | undefined {
  const fleet = ownEntry(manifest.fleets, fleetId);
  const pick = (config: Record<string, unknown> | undefined) => {
    const value = asObj(config?.browser)?.enabled;
    return typeof value === 'boolean' ? value : undefined;
  };
  return pick(ownEntry(fleet?.agents, agentId)?.config) ?? pick(fleet?.defaults.config) ?? pick(manifest.defaults.config);
}
