// Who holds the listener on a port, from /proc: /proc/net/tcp and tcp6 list LISTEN sockets
// with their inode; /proc/<pid>/fd/* of the process holding one reads `socket:[<inode>]`.
//
// STOPGAP: the hardening branch (issue 9) brings src/supervise/listener-owner.ts with the
// same question answered for the runner (createListenerCheck, the same ListenerOwner shape).
// Once it is on main, doctor/port-check.ts should take that check and this file goes.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** One LISTEN socket. */
export interface ListenSocket {
  inode: number;
  address: string;
  port: number;
  /** Owner uid of the socket. */
  uid: number;
}

/** Who listens on a port: the agent's tree, another process, someone fleetd cannot see, or nobody. */
export type ListenerOwner =
  | { owner: 'agent'; pid: number; sockets: ListenSocket[] }
  | { owner: 'stranger'; pid: number; command: string; socket: ListenSocket }
  | { owner: 'unknown'; socket: ListenSocket }
  | { owner: 'none' };

/** Answers who holds `port`, given the pids of the agent's gateway tree. */
export type ListenerCheck = (port: number, agentPids: Iterable<number>) => ListenerOwner;

/** The LISTEN sockets on `port` in the text of /proc/net/tcp or tcp6 (addresses as hex, not decoded: only shown). */
export function parseProcNetListeners(text: string, port: number): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue; // 0A = LISTEN
    const [address, portHex] = (f[1] ?? '').split(':');
    if (!address || !portHex || parseInt(portHex, 16) !== port) continue;
    const inode = Number(f[9]);
    if (Number.isInteger(inode) && inode > 0) out.push({ inode, address: address.length === 8 ? 'IPv4' : 'IPv6', port, uid: Number(f[7]) });
  }
  return out;
}

/** Socket inodes held by `pid` (empty when it is gone or not readable). */
function socketInodes(procRoot: string, pid: number): Set<number> {
  const out = new Set<number>();
  const dir = join(procRoot, String(pid), 'fd');
  let fds: string[];
  try {
    fds = readdirSync(dir);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(join(dir, fd)));
      if (m) out.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** The /proc-based ListenerCheck (`procRoot` for tests of the parser only; real tests use /proc). */
export function createProcListenerCheck(procRoot = '/proc'): ListenerCheck {
  return (port, agentPids) => {
    const sockets: ListenSocket[] = [];
    for (const table of ['tcp', 'tcp6']) {
      try {
        sockets.push(...parseProcNetListeners(readFileSync(join(procRoot, 'net', table), 'utf8'), port));
      } catch {
        // no IPv6 on this host
      }
    }
    if (sockets.length === 0) return { owner: 'none' };
    const ours = new Map<number, number>();
    for (const pid of agentPids) for (const inode of socketInodes(procRoot, pid)) if (!ours.has(inode)) ours.set(inode, pid);
    const foreign = sockets.find((s) => !ours.has(s.inode));
    if (!foreign) return { owner: 'agent', pid: ours.get(sockets[0]!.inode)!, sockets };
    for (const entry of readdirSync(procRoot)) {
      if (!/^\d+$/.test(entry)) continue;
      if (!socketInodes(procRoot, Number(entry)).has(foreign.inode)) continue;
      let command = '?';
      try {
        command = readFileSync(join(procRoot, entry, 'comm'), 'utf8').trim() || '?';
      } catch {
        // gone meanwhile
      }
      return { owner: 'stranger', pid: Number(entry), command, socket: foreign };
    }
    return { owner: 'unknown', socket: foreign };
  };
}
