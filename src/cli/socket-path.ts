// Where fleetctl looks for fleetd's control socket, in order: --socket, $FLEETD_SOCKET,
// the system socket when it exists, else the one `fleetd start` makes in the cwd.
import { resolve } from 'node:path';

/** Socket of a system-wide fleetd (systemd unit). */
export const SYSTEM_SOCKET = '/run/fleetd/fleetd.sock';

/** Socket of a fleetd started by hand in the current directory (relative to the cwd). */
export const LOCAL_SOCKET = 'fleetd-state/fleetd.sock';

/** Environment variable naming the socket. */
export const SOCKET_ENV = 'FLEETD_SOCKET';

/** Inputs of resolveSocket. */
export interface SocketSources {
  flag?: string | undefined;
  env: Record<string, string | undefined>;
  cwd: string;
  exists(path: string): boolean;
}

/** Picks the control socket path from the flag, the environment and the filesystem. */
export function resolveSocket(sources: SocketSources): string {
  if (sources.flag) return sources.flag;
  const fromEnv = sources.env[SOCKET_ENV];
  if (fromEnv) return fromEnv;
  if (sources.exists(SYSTEM_SOCKET)) return SYSTEM_SOCKET;
  return resolve(sources.cwd, LOCAL_SOCKET);
}
