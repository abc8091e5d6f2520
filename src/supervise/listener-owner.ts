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

/** Dependencies of createListenerCheck: /proc, the LISTEN sockets of a port, and the wide scan that names a foreign holder (holderOf). */
export interface ListenerCheckDeps extends ListenerDeps {
  nameHolder: (inode: number) => { pid: number; command: string } | undefined;
  /** The LISTEN sockets on a port (default: both tables read per call; fleetd shares one read: createListenTable). `fresh`: not from a read made before this call. */
  listeners: (port: number, fresh?: boolean) => ListenSocket[];
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
  return parseListenTable(text).get(port) ?? [];
}

/** Every LISTEN socket in the text of /proc/net/tcp or tcp6, by port (one pass over the table). */
export function parseListenTable(text: string, into: Map<number, ListenSocket[]> = new Map()): Map<number, ListenSocket[]> {
  for (const line of text.split('\n').slice(1)) {
    // most rows are connections (TIME_WAIT after each probe): " 0A " is the state column alone
    // (every other column is decimal or carries a colon), so they are passed over unsplit
    if (!line.includes(` ${TCP_LISTEN} `)) continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
    const [addressHex, portHex] = f[1]!.split(':');
    if (!addressHex || !portHex) continue;
    const port = parseInt(portHex, 16);
    const inode = Number(f[9]);
    if (!Number.isInteger(inode) || inode <= 0) continue;
    const socket = { inode, address: decodeProcAddress(addressHex), port, uid: Number(f[7]) };
    const list = into.get(port);
    if (list) list.push(socket);
    else into.set(port, [socket]);
  }
  return into;
}

/** Every LISTEN socket on `port`, IPv4 and IPv6 (reads both tables now). */
export function listenersOnPort(port: number, deps: ListenerDeps = DEFAULTS): ListenSocket[] {
  return readListenTable(deps).get(port) ?? [];
}

/** Both tables (/proc/net/tcp and tcp6), parsed into LISTEN sockets by port. */
export function readListenTable(deps: ListenerDeps = DEFAULTS): Map<number, ListenSocket[]> {
  const table = new Map<number, ListenSocket[]>();
  for (const file of ['tcp', 'tcp6']) {
    try {
      parseListenTable(readFileSync(join(deps.procRoot, 'net', file), 'utf8'), table);
    } catch {
      // no IPv6 on this host, or no /proc: nothing listed there
    }
  }
  return table;
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
export type ListenerCheck = (port: number, agentPids: Iterable<number>, options?: ListenerCheckOptions) => ListenerOwner;

/** What the caller already knows of the port. */
export interface ListenerCheckOptions {
  /** Something answered on the port just now (a probe got an HTTP answer): a shared table read from before that cannot say "none"; it is read again. */
  answered?: boolean;
}

/** A listener check that names a foreign holder once per socket and remembers it while that socket lives. */
export function createListenerCheck(options: Partial<ListenerCheckDeps> = {}): ListenerCheck {
  const deps: ListenerDeps = { procRoot: options.procRoot ?? DEFAULTS.procRoot };
  const nameHolder = options.nameHolder ?? ((inode: number) => holderOf(inode, deps));
  const listeners = options.listeners ?? ((port: number) => listenersOnPort(port, deps));
  const named = new Map<number, { pid: number; command: string } | null>();
  return (port, agentPids, options = {}) => {
    let sockets = listeners(port);
    if (sockets.length === 0 && options.answered) sockets = listeners(port, true);
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

/** Options of createListenTable. */
export interface ListenTableOptions extends Partial<ListenerDeps> {
  /** How old a read may be answered from (ms; default LISTEN_TABLE_MAX_AGE_MS). */
  maxAgeMs?: number;
  /** Monotonic clock, ms. */
  now?: () => number;
}

/** How long one read of /proc/net/tcp{,6} answers every listener check (ms). */
export const LISTEN_TABLE_MAX_AGE_MS = 50;

// With hundreds of agents the tables hold thousands of rows (each probe leaves TIME_WAIT
// sockets), and the kernel renders them anew on every read: one read (and one parse, indexed
// by port) serves every check of the next 50 ms, which a port's listener outlives anyway
// (a start is judged over several probes). A check that knows something just answered on the
// port asks for a fresh read instead of a table that may predate the bind.
/** The LISTEN sockets of a port from one read of both tables shared for `maxAgeMs` (createListenerCheck's `listeners`). */
export function createListenTable(options: ListenTableOptions = {}): ListenerCheckDeps['listeners'] {
  const deps: ListenerDeps = { procRoot: options.procRoot ?? DEFAULTS.procRoot };
  const maxAgeMs = options.maxAgeMs ?? LISTEN_TABLE_MAX_AGE_MS;
  const now = options.now ?? (() => performance.now());
  let table: Map<number, ListenSocket[]> | undefined;
  let readAt = 0;
  return (port, fresh = false) => {
    const t = now();
    if (fresh || table === undefined || t - readAt >= maxAgeMs || t < readAt) {
      table = readListenTable(deps);
      readAt = t;
    }
    return [...(table.get(port) ?? [])];
  };
}
