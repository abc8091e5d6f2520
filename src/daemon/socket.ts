// Puts the control server on its Unix socket with the right owner and mode. The socket
// is created under a restrictive umask so it is never reachable by others, not even for
// the instant between bind and chmod.
import { chmod, chown, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Server } from 'node:http';
import { FleetError } from '../errors.js';
import { clearStaleSocket, listenUnixSocket } from '../util/unix-socket.js';

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

/** Removes a socket file left by a dead fleetd; refuses to delete anything that is not a socket. */
async function removeStaleSocket(path: string): Promise<void> {
  // Only a socket nobody listens on is stale (another fleetd, on another state dir, may own it).
  if ((await clearStaleSocket(path)) === 'live') {
    throw new FleetError('ALREADY_RUNNING', `another process listens on ${path} (a fleetd with another state dir?); choose another socket path`);
  }
}

/** Binds the server to `path`: 0600, or 0660 owned by `group`. The caller must hold the state lock. */
export async function listenOnSocket(server: Server, path: string, group?: string): Promise<void> {
  const gid = group === undefined ? undefined : await resolveGroupId(group);
  const dir = dirname(path);
  const dirExisted = await lstat(dir).then(() => true, () => false);
  if (!dirExisted) await mkdir(dir, { recursive: true, mode: 0o700 });
  await removeStaleSocket(path);
  await listenUnixSocket(server, path);
  if (gid !== undefined) {
    await chown(path, process.getuid?.() ?? 0, gid);
    await chmod(path, 0o660);
  }
}

/** Closes the server and removes its socket file. */
export async function closeSocket(server: Server, path: string): Promise<void> {
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await unlink(path).catch(() => {});
}
