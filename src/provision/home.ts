// The folders of one agent and their permissions. Every folder fleetd makes is 0700 and
// chmod'ed explicitly (the umask must not matter, and a home made by an older build gets
// fixed). The home (`<stateDir>/fleets/<fleet>/<agent>`) is the gateway's: OpenClaw's
// config and state, the workspace, OpenClaw's own log. fleetd's own files for the agent
// (captured output, bookkeeping) live apart, in `<stateDir>/agents/<fleet>/<agent>`, so
// fleetd never has to write through a home someone may have swapped for a symlink (or
// that belongs to a tenant user). Neither may be a symlink; both sit inside the state dir.
import { chmodSync, lstatSync, mkdir, readlinkSync, type Stats } from 'node:fs';
import { join, relative, resolve, sep, isAbsolute } from 'node:path';
import { FleetError } from '../errors.js';
import { isValidId, toAddress } from '../manifest/ids.js';

/** Every path of one agent's home. */
export interface AgentPaths {
  /** `<stateDir>/fleets/<fleet>/<agent>`: the gateway's HOME and OPENCLAW_HOME. */
  home: string;
  /** `<home>/.openclaw`: OPENCLAW_STATE_DIR. */
  openclawDir: string;
  /** `<home>/.openclaw/openclaw.json`: OPENCLAW_CONFIG_PATH. */
  configPath: string;
  workspace: string;
  logsDir: string;
  /** `<stateDir>/agents/<fleet>/<agent>`: fleetd's own files for this agent (never inside the home). */
  supervisorDir: string;
  /** `<supervisorDir>/gateway.log`: the gateway's captured stdout/stderr (redacted, rotated). */
  logFile: string;
  /** `<supervisorDir>/config.applied.json`: the openclaw.json fleetd applied last (the base of the three-way merge). */
  appliedConfig: string;
  /** `<home>/logs/openclaw.log`: OpenClaw's own log (logging.file). */
  openclawLog: string;
  /** `<home>/.cache`: XDG_CACHE_HOME. */
  cacheDir: string;
  /** `<home>/tmp`: TMPDIR (Node's compile cache and other temp files). */
  tmpDir: string;
}

// Paths computed before, by state dir and address. A status answer rebuilds the view of each
// agent that changed (its home), every launch and log read asks for them: at N = 200 the
// ~12 path.resolve/join calls per ask were ~115 ms of fleetd's thread in a start of all
// (CPU profile: most of it path.normalize). Pure and frozen, so one copy serves every caller;
// cleared at PATHS_KEPT entries (agents removed by reloads, tests' many state dirs).
const known = new Map<string, Readonly<AgentPaths>>();
const PATHS_KEPT = 4096;

/** Computes an agent's paths (pure; the same frozen object for the same arguments); refuses ids that could escape `<stateDir>/fleets/` (PROVISION_FAILED). */
export function agentPaths(stateDir: string, fleet: string, agent: string): Readonly<AgentPaths> {
  const key = `${stateDir}\0${fleet}\0${agent}`;
  const kept = known.get(key);
  if (kept) return kept;
  const paths = Object.freeze(computePaths(stateDir, fleet, agent));
  if (known.size >= PATHS_KEPT) known.clear();
  known.set(key, paths);
  return paths;
}

function computePaths(stateDir: string, fleet: string, agent: string): AgentPaths {
  if (!isValidId(fleet) || !isValidId(agent)) {
    throw new FleetError('PROVISION_FAILED', `${JSON.stringify(toAddress(fleet, agent))}: not a valid agent address; ids are lowercase letters, digits and "-"`);
  }
  const fleetsDir = resolve(stateDir, 'fleets');
  const home = resolve(fleetsDir, fleet, agent);
  const rel = relative(fleetsDir, home);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).length !== 2) {
    throw new FleetError('PROVISION_FAILED', `home of ${toAddress(fleet, agent)} (${home}) is not inside ${fleetsDir}; refusing to provision it`);
  }
  const openclawDir = join(home, '.openclaw');
  const logsDir = join(home, 'logs');
  const supervisorDir = resolve(stateDir, 'agents', fleet, agent);
  return {
    home,
    openclawDir,
    configPath: join(openclawDir, 'openclaw.json'),
    workspace: join(home, 'workspace'),
    logsDir,
    supervisorDir,
    logFile: join(supervisorDir, 'gateway.log'),
    appliedConfig: join(supervisorDir, 'config.applied.json'),
    openclawLog: join(logsDir, 'openclaw.log'),
    cacheDir: join(home, '.cache'),
    tmpDir: join(home, 'tmp'),
  };
}

/** Folders of the tree from the state dir down, in creation order. */
export function homeTreeDirs(stateDir: string, fleet: string, paths: AgentPaths): string[] {
  const fleetsDir = resolve(stateDir, 'fleets');
  return [resolve(stateDir), fleetsDir, join(fleetsDir, fleet), paths.home, paths.openclawDir, paths.workspace, paths.logsDir, paths.cacheDir, paths.tmpDir];
}

/** Folders of fleetd's own tree for the agent, from the state dir down, in creation order. */
export function supervisorTreeDirs(stateDir: string, fleet: string, paths: AgentPaths): string[] {
  const agentsDir = resolve(stateDir, 'agents');
  return [resolve(stateDir), agentsDir, join(agentsDir, fleet), paths.supervisorDir];
}

/** Creates (or repairs) an agent's home tree, every folder mode 0700; PROVISION_FAILED (permanent) for a symlink or non-folder in the way. */
export async function ensureHome(stateDir: string, fleet: string, paths: AgentPaths): Promise<void> {
  await ensurePrivateTree(homeTreeDirs(stateDir, fleet, paths));
}

/** Creates (or repairs) fleetd's own folder for the agent (captured log, bookkeeping), 0700. */
export async function ensureSupervisorDir(stateDir: string, fleet: string, paths: AgentPaths): Promise<void> {
  await ensurePrivateTree(supervisorTreeDirs(stateDir, fleet, paths));
}

// Every launch checks the trees again (restarts included): 13 folders, one awaited lstat
// each, made a restart after a kill -9 wait 17-58 ms for its provisioning at N = 200 (each
// await a trip through libuv's thread pool and a turn of a busy event loop), for a tree that
// is nearly always in place. So a folder in place is looked at, repaired or refused
// synchronously, in this turn (lstat is microseconds on fleetd's own local state dir).
// Making a folder is not: on ext4 a mkdir costs ~0.1-0.2 ms of kernel time (it allocates an
// inode and a block; 2600 mkdirs took 430-460 ms of system time on the issue 14 host), and a
// first start makes 7 per agent. Made synchronously, that was ~400 ms of fleetd's main
// thread at N = 200 (CPU profile: `mkdir` the first self-time entry), while the host's other
// core sat a quarter idle. So a missing folder is made on libuv's thread pool, one await per
// folder made: the main thread prepares and probes other agents meanwhile.
/** Makes each folder in turn; the first (the state dir) may be a symlink the operator chose, nothing below it may be. */
async function ensurePrivateTree(dirs: readonly string[]): Promise<void> {
  for (const [index, dir] of dirs.entries()) {
    const making = ensurePrivateDir(dir, index > 0);
    if (making) await making;
  }
}

// lstat before mkdir: mkdir -p would happily walk through a symlinked folder. The check and
// the use are not atomic (Node has no openat); the window is a swap between two syscalls by
// someone who can write the parent folder, which inside the 0700 state dir is fleetd's user.
/**
 * mkdir + chmod 0700; with `noSymlink`, refuses a symlink in place of the folder, naming where it points.
 * A folder in place is checked synchronously (returns undefined); a missing one is made on the thread pool
 * (returns the promise of it made and checked). Throws (or rejects with) the syscall's error or PROVISION_FAILED.
 */
function ensurePrivateDir(dir: string, noSymlink: boolean): Promise<void> | undefined {
  const stat = lstatOrNone(dir);
  if (stat) {
    checkPrivateDir(dir, stat, noSymlink);
    return undefined;
  }
  return new Promise<void>((resolve, reject) => {
    mkdir(dir, { mode: 0o700 }, (err) => {
      if (err && err.code !== 'EEXIST') return reject(err);
      try {
        checkPrivateDir(dir, lstatSync(dir), noSymlink);
        resolve();
      } catch (checkErr) {
        reject(checkErr);
      }
    });
  });
}

/** Refuses a symlink (with `noSymlink`) or a non-folder at `dir`; chmods a folder of another mode to 0700. Throws PROVISION_FAILED or chmod's error. */
function checkPrivateDir(dir: string, stat: Stats, noSymlink: boolean): void {
  if (noSymlink && stat.isSymbolicLink()) {
    let target = '?';
    try {
      target = readlinkSync(dir);
    } catch {
      // gone or unreadable meanwhile: the message still names the folder
    }
    throw new FleetError('PROVISION_FAILED', `${dir} is a symbolic link (to ${target}); fleetd only uses real folders it made and writes nothing through it. Move the link away (the agent's files are wherever it points), then \`fleetctl restart agent\``);
  }
  if (!stat.isSymbolicLink() && !stat.isDirectory()) {
    throw new FleetError('PROVISION_FAILED', `${dir} exists and is not a folder; move it away, then \`fleetctl restart agent\``);
  }
  // 0700, or 0711 on the folders tenants traverse to reach their homes (isolation/tenant-home.ts):
  // never readable or writable by others.
  const mode = stat.mode & 0o777;
  if (!stat.isSymbolicLink() && mode !== 0o700 && mode !== 0o711) chmodSync(dir, 0o700);
}

/** lstat of `path`, undefined when it does not exist (other errors thrown). */
function lstatOrNone(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
