// Binding a server to a Unix socket file safely: a socket left by a dead owner is removed
// (only when nobody answers on it), anything that is not a socket is never deleted, and
// the file is created under a restrictive umask so it is never reachable by others, not
// even for the instant between bind and chmod. Shared by fleetd's control socket and the
// per-agent shim's socket (so it imports nothing of the daemon).
import { closeSync, openSync } from 'node:fs';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { connect, type Server, type Socket } from 'node:net';
import { FleetError } from '../errors.js';

/** Longest socket path the kernel takes (sun_path holds 108 bytes with the final NUL); a longer one is silently cut by bind. */
export const MAX_SOCKET_PATH_BYTES = 107;

// bind() and connect() with a longer path would act on a truncated path, somewhere else
// entirely. Linux reaches the same file through an open descriptor of its folder.
/** A path that reaches the socket file `path` whatever its length (itself, or /proc/self/fd/N/<name>); release() closes the folder's descriptor. */
export function reachableSocketPath(path: string): { path: string; release(): void } {
  if (Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES) return { path, release: () => undefined };
  const fd = openSync(dirname(path), 'r');
  let open = true;
  return {
    path: `/proc/self/fd/${fd}/${basename(path)}`,
    release: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** connect() to the Unix socket `path`, of any length. */
export function connectUnixSocket(path: string): Socket {
  const reach = reachableSocketPath(path);
  const socket = connect(reach.path);
  socket.once('connect', reach.release);
  socket.once('close', reach.release);
  return socket;
}

/** What clearStaleSocket found: nothing, a dead socket it removed, or a socket someone listens on (left alone). */
export type SocketPathState = 'absent' | 'removed' | 'live';

/** True when something accepts connections on the socket at `path`. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connectUnixSocket(path);
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

/** Binds `server` to `path` (which must not exist; any length) with file mode `mode` (default 0600); FleetError ALREADY_RUNNING when the path is taken, INTERNAL when the bind fails otherwise. */
export async function listenUnixSocket(server: Server, path: string, mode = 0o600): Promise<void> {
  const previous = process.umask(0o177);
  // A long path is bound through its folder's descriptor, kept open while the server lives (close() unlinks through it).
  const reach = reachableSocketPath(path);
  server.once('close', reach.release);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(reach.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    reach.release();
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw new FleetError(inUse ? 'ALREADY_RUNNING' : 'INTERNAL', `cannot listen on ${path}: ${(err as Error).message}${inUse ? ' (another process bound it just now; it was left alone)' : ''}`, { cause: err });
  } finally {
    process.umask(previous);
  }
  await chmod(path, mode);
}
