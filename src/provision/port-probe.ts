// Is a gateway port free? A gateway with `bind: "loopback"` listens on 127.0.0.1 AND ::1,
// so both must be bindable. get-port is not used for this yes/no question: it marks every
// port it returns as "locked" for 15-30 s process-wide, so the second probe of the same
// port (the other host, or a re-allocation soon after a free) reports a free port as busy.
import { createServer } from 'node:net';

/** Answers whether `port` can be bound by a gateway right now (injectable for tests). */
export type PortProbe = (port: number) => Promise<boolean>;

/** Loopback addresses a gateway binds. */
export const LOOPBACK_HOSTS = ['127.0.0.1', '::1'] as const;

/** Error codes meaning "this host has no such address" (e.g. IPv6 disabled): nothing can listen there. */
const ABSENT_HOST = new Set(['EADDRNOTAVAIL', 'EAFNOSUPPORT']);

/** True when `port` is free on 127.0.0.1 and on ::1 (a host without IPv6 counts as free there). */
export async function isPortFree(port: number): Promise<boolean> {
  for (const host of LOOPBACK_HOSTS) {
    if (!(await canListen(port, host))) return false;
  }
  return true;
}

/** Binds and closes a server on host:port; false on EADDRINUSE/EACCES. */
export function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else if (err.code !== undefined && ABSENT_HOST.has(err.code)) resolve(true);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
