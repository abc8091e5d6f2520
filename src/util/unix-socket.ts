// Binding a server to a Unix socket file safely: a socket left by a dead owner is removed
// (only when nobody answers on it), anything that is not a socket is never deleted, and
// the file is created under a restrictive umask so it is never reachable by others, not
// even for the instant between bind and chmod. Shared by fleetd's control socket and the
// per-agent shim's socket (so it imports nothing of the daemon).
import { chmod, lstat, unlink } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { FleetError } from '../errors.js';

/** What clearStaleSocket found: nothing, a dead socket it removed, or a socket someone listens on (left alone). */
export type SocketPathState = 'absent' | 'removed' | 'live';

/** True when something accepts connections on the socket at `path`. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Removes a socket file nobody listens on; FleetError CONFLICT when `path` exists and is not a socket. */
export async function clearStaleSocket(path: string): Promise<SocketPathState> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 'absent';
  if (!info.isSocket()) throw new FleetError('CONFLICT', `${path} exists and is not a socket; move it away or choose another socket path`);
  if (await socketAnswers(path)) return 'live';
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  return 'removed';
}

/** Binds `server` to `path` (which must not exist) with file mode `mode` (default 0600); FleetError INTERNAL when the bind fails. */
export async function listenUnixSocket(server: Server, path: string, mode = 0o600): Promise<void> {
  const previous = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw new FleetError('INTERNAL', `cannot listen on ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    process.umask(previous);
  }
  await chmod(path, mode);
}
