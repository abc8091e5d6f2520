// Is a gateway port free? A gateway with `bind: "loopback"` listens on 127.0.0.1 AND ::1.
// get-port answers with the port itself only when it can bind it on every local address
// (the wildcard ones included, which conflict with any listener on that port), skipping
// addresses the host does not have (no IPv6). It then marks the port "locked" for 15-30 s
// in this process so it is not handed out twice; fleetd records the block in its registry
// instead, so the lock is cleared at once: a block freed and given again, or a second
// check, must see the port as it really is.
import getPort, { clearLockedPorts } from 'get-port';

/** Answers whether `port` can be bound by a gateway right now (injectable for tests). */
export type PortProbe = (port: number) => Promise<boolean>;

/** True when nothing listens on `port` on any local address (127.0.0.1 and ::1 included). */
export async function isPortFree(port: number): Promise<boolean> {
  try {
    return (await getPort({ port })) === port;
  } finally {
    clearLockedPorts();
  }
}
