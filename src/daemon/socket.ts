// Puts the control server on its Unix socket with the right owner and mode. The socket
// is created under a restrictive umask so it is never reachable by others, not even for
// the instant between bind and chmod. fleetd removes only the socket file it bound itself
// (issue 9 item 2): never one another process listens on, nor one it merely found.
import { randomBytes } from 'node:crypto';
import { chmod, chown, link, lstat, mkdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Server } from 'node:http';
import { FleetError } from '../errors.js';
import { describePath } from '../util/path-kind.js';
import { connectUnixSocket, listenUnixSocket } from '../util/unix-socket.js';

/** Looks a group name (or numeric gid) up in /etc/group. */
export async function resolveGroupId(group: string): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined) return Number(gid);
  }
  throw new FleetError('MANIFEST_INVALID', `socketGroup: group ${JSON.stringify(group)} does not exist on this machine; create it (groupadd ${group}) or remove socketGroup`);
}

/** The socket file this fleetd bound (device + inode): it removes that file and no other. */
export interface BoundSocket {
  path: string;
  dev: number;
  ino: number;
}

/** What a connect() to a socket file says about it. */
type ProbeAnswer = { kind: 'listening' } | { kind: 'refused' } | { kind: 'gone' } | { kind: 'unknown'; code: string };

/** Connects once to `path`: someone listens, nobody does (ECONNREFUSED), or it cannot be told. */
function probeListener(path: string): Promise<ProbeAnswer> {
  return new Promise((resolve) => {
    const probe = connectUnixSocket(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve({ kind: 'listening' });
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') resolve({ kind: 'refused' });
      else if (err.code === 'ENOENT') resolve({ kind: 'gone' });
      // EAGAIN: a listener whose backlog is full (e.g. a stopped fleetd) is alive; EACCES: not ours to judge
      else resolve({ kind: 'unknown', code: err.code ?? err.message });
    });
  });
}

// Only a socket that provably nobody listens on (ECONNREFUSED) is removed, and only that
// very file: it is moved aside first and removed only if it is still the inode probed. A
// socket with a listener (another fleetd, even a stopped one), a busy one, or anything
// that is not a socket is left alone and the start refused.
/** Removes a socket file left by a dead fleetd; refuses anything else. */
async function removeStaleSocket(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return;
  if (!info.isSocket()) {
    throw new FleetError('CONFLICT', `${path} exists and is ${describePath(path) ?? 'not a socket'}, not a socket; move it away or choose another socket path`);
  }
  const answer = await probeListener(path);
  if (answer.kind === 'gone') return;
  if (answer.kind === 'listening') {
    throw new FleetError('ALREADY_RUNNING', `another process listens on ${path} (a fleetd with another state dir?); it was left alone: choose another socket path`);
  }
  if (answer.kind === 'unknown') {
    throw new FleetError('ALREADY_RUNNING', `cannot tell whether a process listens on ${path} (${answer.code}); it was left alone: choose another socket path, or remove it if no fleetd uses it`);
  }
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new FleetError('INTERNAL', `cannot remove the stale socket ${path}: ${(err as Error).message}`, { cause: err });
  }
  const moved = await lstat(aside).catch(() => undefined);
  if (moved && moved.dev === info.dev && moved.ino === info.ino) {
    await unlink(aside).catch(() => undefined);
    return;
  }
  // Someone put another socket there between the probe and the move: give it back, untouched.
  await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
  throw new FleetError('ALREADY_RUNNING', `${path} was replaced by another process while fleetd checked it; it was left alone: choose another socket path`);
}

/** Binds the server to `path`: 0600, or 0660 owned by `group`. The caller must hold the state lock. */
export async function listenOnSocket(server: Server, path: string, group?: string): Promise<BoundSocket> {
  const gid = group === undefined ? undefined : await resolveGroupId(group);
  const dir = dirname(path);
  const dirInfo = await stat(dir).catch(() => undefined);
  if (!dirInfo) await mkdir(dir, { recursive: true, mode: 0o700 });
  else if (!dirInfo.isDirectory()) throw new FleetError('CONFLICT', `${dir} (the folder of the socket ${path}) is ${describePath(dir) ?? 'not a folder'}, not a folder; choose another socket path`);
  await removeStaleSocket(path);
  await listenUnixSocket(server, path);
  const info = await lstat(path);
  const bound: BoundSocket = { path, dev: info.dev, ino: info.ino };
  if (gid !== undefined) {
    await chown(path, process.getuid?.() ?? 0, gid);
    await chmod(path, 0o660);
  }
  return bound;
}

/** Closes the server and removes its socket file, only if `bound` (what listenOnSocket returned) is still that file. */
export async function closeSocket(server: Server, bound: BoundSocket | undefined): Promise<void> {
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!bound) return; // never bound: whatever is at the path belongs to someone else
  const info = await lstat(bound.path).catch(() => undefined);
  if (info && info.dev === bound.dev && info.ino === bound.ino) await unlink(bound.path).catch(() => {});
}
