// The home tree of one agent and its permissions. Every folder fleetd makes is 0700 and
// chmod'ed explicitly (the umask must not matter, and a home made by an older build gets
// fixed). The home must sit inside <stateDir>/fleets/ and must not be a symlink.
import { chmod, lstat, mkdir } from 'node:fs/promises';
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
  /** `<home>/logs/gateway.log`: the gateway's captured stdout/stderr. */
  logFile: string;
  /** `<home>/logs/openclaw.log`: OpenClaw's own log (logging.file). */
  openclawLog: string;
  /** `<home>/.cache`: XDG_CACHE_HOME. */
  cacheDir: string;
  /** `<home>/tmp`: TMPDIR (Node's compile cache and other temp files). */
  tmpDir: string;
}

/** Computes an agent's paths (pure); refuses ids that could escape `<stateDir>/fleets/`. */
export function agentPaths(stateDir: string, fleet: string, agent: string): AgentPaths {
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
  return {
    home,
    openclawDir,
    configPath: join(openclawDir, 'openclaw.json'),
    workspace: join(home, 'workspace'),
    logsDir,
    logFile: join(logsDir, 'gateway.log'),
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

/** Creates (or repairs) an agent's home tree, every folder mode 0700. */
export async function ensureHome(stateDir: string, fleet: string, paths: AgentPaths): Promise<void> {
  const dirs = homeTreeDirs(stateDir, fleet, paths);
  for (const [index, dir] of dirs.entries()) {
    // The state dir itself may be a symlink the operator chose; nothing below it may be.
    await ensurePrivateDir(dir, index > 0);
  }
}

/** mkdir + chmod 0700; with `noSymlink`, refuses a symlink in place of the folder. */
async function ensurePrivateDir(dir: string, noSymlink: boolean): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await lstat(dir);
  if (noSymlink && stat.isSymbolicLink()) {
    throw new FleetError('PROVISION_FAILED', `${dir} is a symlink; fleetd only provisions real folders. Move it away and run the command again`);
  }
  if (!stat.isSymbolicLink() && !stat.isDirectory()) {
    throw new FleetError('PROVISION_FAILED', `${dir} exists and is not a folder; move it away and run the command again`);
  }
  if ((stat.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}
