// Who owns the listener on an agent's port (issue 9 item 3): "running" must mean OUR gateway
// answers, not some program that took the port while the agent was down (a gateway on a
// taken port waits ~19 s, then exits 1; meanwhile the squatter answers 200 everywhere).
//
// A TCP socket is a kernel object with an inode. /proc/net/tcp and /proc/net/tcp6 list the
// LISTEN sockets with their port, address, uid and inode; /proc/<pid>/fd/* of a process that
// holds one reads `socket:[<inode>]`. So: the listeners on the port, then the socket inodes of
// the agent's own pids only (cheap: a few hundred readlinks per probe of ONE agent). Only a
// listener that is not the agent's is looked for in every process's fds, once, to name it
// (createListenerCheck remembers the answer for as long as that socket lives).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** One LISTEN socket from /proc/net/tcp{,6}. */
export interface ListenSocket {
  /** Socket inode (what /proc/<pid>/fd links name). */
  inode: number;
  /** Local address as text: 127.0.0.1, ::1, 0.0.0.0, ::, ... */
  address: string;
  port: number;
  /** Owner uid of the socket (the table says it even when the holder is not visible). */
  uid: number;
}

/** Who listens on a port. */
export type ListenerOwner =
  /** Every listener on the port is held by one of the agent's pids (`pid`: the first found). */
  | { owner: 'agent'; pid: number; sockets: ListenSocket[] }
  /** A process outside the agent holds a listener on the port. */
  | { owner: 'stranger'; pid: number; command: string; socket: ListenSocket }
  /** A listener whose holder fleetd cannot see (another user's process without privileges, another pid namespace). */
  | { owner: 'unknown'; socket: ListenSocket }
  /** Nothing listens on the port. */
  | { owner: 'none' };

/** Where /proc is (tests point it at a prepared folder for the parsers; real tests use /proc). */
export interface ListenerDeps {
  procRoot: string;
}

const DEFAULTS: ListenerDeps = { procRoot: '/proc' };

/** Dependencies of createListenerCheck: /proc, and the wide scan that names a foreign holder (holderOf). */
export interface ListenerCheckDeps extends ListenerDeps {
  nameHolder: (inode: number) => { pid: number; command: string } | undefined;
}

/** TCP state LISTEN in /proc/net/tcp. */
const TCP_LISTEN = '0A';

/** Decodes the hex address of /proc/net/tcp (IPv4: one little-endian word) or tcp6 (four). */
export function decodeProcAddress(hex: string): string {
  if (hex.length === 8) {
    const n = parseInt(hex, 16);
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
  }
  if (hex.length !== 32) return hex;
  // Four 32-bit words, each in host (little-endian) order.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const v4mapped = groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff';
  if (v4mapped) return `::ffff:${bytes.slice(12).join('.')}`;
  // Shorten the longest run of zero groups, as people write IPv6.
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.len < 2) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** The LISTEN sockets on `port` in the text of /proc/net/tcp or tcp6. */
export function parseListeners(text: string, port: number): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
    const [addressHex, portHex] = f[1]!.split(':');
    if (!addressHex || !portHex || parseInt(portHex, 16) !== port) continue;
    const inode = Number(f[9]);
    if (!Number.isInteger(inode) || inode <= 0) continue;
    out.push({ inode, address: decodeProcAddress(addressHex), port, uid: Number(f[7]) });
  }
  return out;
}

/** Every LISTEN socket on `port`, IPv4 and IPv6. */
export function listenersOnPort(port: number, deps: ListenerDeps = DEFAULTS): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const table of ['tcp', 'tcp6']) {
    try {
      out.push(...parseListeners(readFileSync(join(deps.procRoot, 'net', table), 'utf8'), port));
    } catch {
      // no IPv6 on this host, or no /proc: nothing listed there
    }
  }
  return out;
}

/** Socket inodes a process holds open (empty when it is gone or not ours to read). */
export function socketInodesOf(pid: number, deps: ListenerDeps = DEFAULTS): Set<number> {
  const out = new Set<number>();
  const dir = join(deps.procRoot, String(pid), 'fd');
  let fds: string[];
  try {
    fds = readdirSync(dir);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(join(dir, fd)));
      if (match) out.add(Number(match[1]));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** The short command name of a pid (/proc/<pid>/comm), '?' when unreadable. */
function commandOf(pid: number, deps: ListenerDeps): string {
  try {
    return readFileSync(join(deps.procRoot, String(pid), 'comm'), 'utf8').trim() || '?';
  } catch {
    return '?';
  }
}

// The wide scan: every readable process's fds. Done only for a socket that is not the agent's.
/** The process holding socket `inode` and its command, or undefined when no visible process does. */
export function holderOf(inode: number, deps: ListenerDeps = DEFAULTS): { pid: number; command: string } | undefined {
  let entries: string[];
  try {
    entries = readdirSync(deps.procRoot);
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (socketInodesOf(pid, deps).has(inode)) return { pid, command: commandOf(pid, deps) };
  }
  return undefined;
}

/** One check of the listener on `port` against the agent's pids (see the file comment). */
export type ListenerCheck = (port: number, agentPids: Iterable<number>) => ListenerOwner;

/** A listener check that names a foreign holder once per socket and remembers it while that socket lives. */
export function createListenerCheck(options: Partial<ListenerCheckDeps> = {}): ListenerCheck {
  const deps: ListenerDeps = { procRoot: options.procRoot ?? DEFAULTS.procRoot };
  const nameHolder = options.nameHolder ?? ((inode: number) => holderOf(inode, deps));
  const named = new Map<number, { pid: number; command: string } | null>();
  return (port, agentPids) => {
    const sockets = listenersOnPort(port, deps);
    if (sockets.length === 0) return { owner: 'none' };
    for (const inode of named.keys()) if (!sockets.some((s) => s.inode === inode)) named.delete(inode);
    const ours = new Map<number, number>(); // inode -> agent pid
    for (const pid of agentPids) {
      for (const inode of socketInodesOf(pid, deps)) if (!ours.has(inode)) ours.set(inode, pid);
      if (sockets.every((s) => ours.has(s.inode))) break;
    }
    const foreign = sockets.filter((s) => !ours.has(s.inode));
    if (foreign.length === 0) return { owner: 'agent', pid: ours.get(sockets[0]!.inode)!, sockets };
    // Name the first foreign listener (127.0.0.1 first: the address the probes use).
    const socket = [...foreign].sort((a, b) => Number(b.address === '127.0.0.1') - Number(a.address === '127.0.0.1'))[0]!;
    if (!named.has(socket.inode)) named.set(socket.inode, nameHolder(socket.inode) ?? null);
    const holder = named.get(socket.inode);
    return holder ? { owner: 'stranger', pid: holder.pid, command: holder.command, socket } : { owner: 'unknown', socket };
  };
}
