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
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
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
  /** The LISTEN sockets on a port (default: both tables read per call; fleetd shares one read: createListenTable, and its fresh reads: createSharedListenerCheck). `fresh`: not from a read made before this call. */
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

/** Both tables (/proc/net/tcp and tcp6), parsed into LISTEN sockets by port (each read up to its last LISTEN row: readListenRows; tcp6 not at all while the host has no IPv6 TCP socket). */
export function readListenTable(deps: ListenerDeps = DEFAULTS): Map<number, ListenSocket[]> {
  const table = new Map<number, ListenSocket[]>();
  for (const file of ['tcp', 'tcp6']) {
    if (file === 'tcp6' && noTcp6Sockets(deps)) continue;
    try {
      parseListenTable(readListenRows(join(deps.procRoot, 'net', file)), table);
    } catch {
      // no IPv6 on this host, or no /proc: nothing listed there
    }
  }
  return table;
}

// A tcp6 table without a connection row cannot stop early: the kernel walks every socket of
// the host (IPv4 ones included, filtered out) before the end of the file, ~6 ms with 4,000
// TIME_WAIT sockets. /proc/net/sockstat6 counts the IPv6 TCP sockets in use (listeners
// included, dual-stack ones on :: too; TIME_WAIT apart): at 0 no IPv6 listener exists.
/** True when /proc/net/sockstat6 says no IPv6 TCP socket is in use (false when it cannot tell). */
function noTcp6Sockets(deps: ListenerDeps): boolean {
  try {
    return /^TCP6: inuse 0$/m.test(readFileSync(join(deps.procRoot, 'net', 'sockstat6'), 'utf8'));
  } catch {
    return false;
  }
}

/** True for a row of /proc/net/tcp{,6} in state LISTEN. */
function isListenRow(line: string): boolean {
  return line.trim().split(/\s+/, 4)[3] === TCP_LISTEN;
}

// The kernel renders /proc/net/tcp{,6} anew on every read, one page per read(2) call, and a
// host's table is mostly connections (thousands of TIME_WAIT rows from probes, its own and
// other programs'): ~640 KB, 158 reads and ~20 ms for a whole table on the benchmark host.
// The kernel lists the listening hash first and every other state after it (tcp_seq_start
// in net/ipv4/tcp_ipv4.c: TCP_SEQ_STATE_LISTENING, then TCP_SEQ_STATE_ESTABLISHED, which
// holds all the rest, IPv6 alike), so the LISTEN rows end at the first row that is not one:
// the read stops there and the kernel never renders the connections. Should a LISTEN row
// ever follow another state in what was read (another kernel's order), the file is read to
// its end, as before.
/** The header and the LISTEN rows of one table file (complete lines; whole file when its order is not listeners-first). Throws when unreadable. */
export function readListenRows(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(65536);
    let text = '';
    let scanned = 0; // text[0, scanned) is complete lines already looked at
    let header = true;
    let cut = -1; // where the first row that is not LISTEN starts
    let whole = false; // a LISTEN row came after another state: read to the end
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) return text;
      text += buffer.toString('latin1', 0, n);
      if (whole) continue;
      for (let end = text.indexOf('\n', scanned); end >= 0 && !whole; end = text.indexOf('\n', scanned)) {
        const line = text.slice(scanned, end);
        if (header) header = false;
        else if (cut < 0 && line.trim() !== '' && !isListenRow(line)) cut = scanned;
        else if (cut >= 0 && isListenRow(line)) whole = true;
        scanned = end + 1;
      }
      if (cut >= 0 && !whole) return text.slice(0, cut);
    }
  } finally {
    closeSync(fd);
  }
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
  const listeners = options.listeners ?? ((port: number) => listenersOnPort(port, deps));
  const judge = createJudge(deps, options.nameHolder);
  return (port, agentPids, options = {}) => {
    let sockets = listeners(port);
    if (sockets.length === 0 && options.answered) sockets = listeners(port, true);
    return judge(sockets, agentPids);
  };
}

/** A listener check over a shared table whose fresh reads are coalesced (createSharedListenerCheck). */
export type SharedListenerCheck = (port: number, agentPids: Iterable<number>, options?: ListenerCheckOptions) => Promise<ListenerOwner>;

/**
 * createListenerCheck over one ListenTable shared by every agent: a check answers from the
 * shared read while it is recent; when it is not, or when the check is told that something
 * answered on the port and the shared read shows no listener, it waits for table.refresh()
 * (a read that begins after the call, at the end of the event loop's turn, shared with
 * every check waiting when it begins) instead of reading both tables itself. Resolves with the owner; never
 * rejects (unreadable tables list nothing).
 */
export function createSharedListenerCheck(table: ListenTable, options: Partial<Omit<ListenerCheckDeps, 'listeners'>> = {}): SharedListenerCheck {
  const deps: ListenerDeps = { procRoot: options.procRoot ?? DEFAULTS.procRoot };
  const judge = createJudge(deps, options.nameHolder);
  return async (port, agentPids, options = {}) => {
    let sockets = table.recent(port);
    if (sockets === undefined || (sockets.length === 0 && options.answered)) sockets = [...((await table.refresh()).get(port) ?? [])];
    return judge(sockets, agentPids);
  };
}

/** Judges the LISTEN sockets of a port against the agent's pids; names a foreign holder once per socket while it lives. */
function createJudge(deps: ListenerDeps, nameHolderOption?: ListenerCheckDeps['nameHolder']): (sockets: ListenSocket[], agentPids: Iterable<number>) => ListenerOwner {
  const nameHolder = nameHolderOption ?? ((inode: number) => holderOf(inode, deps));
  const named = new Map<number, { pid: number; command: string } | null>();
  return (sockets, agentPids) => {
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
  /** Told as each read of the tables begins (counts for tests and measurements). */
  onRead?: () => void;
}

/** How long one read of /proc/net/tcp{,6} answers every listener check (ms). */
export const LISTEN_TABLE_MAX_AGE_MS = 50;

/** The LISTEN sockets of every port from one shared read of /proc/net/tcp{,6} (createListenTable). */
export interface ListenTable {
  /** The sockets on `port` from the shared read while it is under maxAgeMs old, else from a read made now; `fresh`: read now. A copy. */
  (port: number, fresh?: boolean): ListenSocket[];
  /** The sockets on `port` from the shared read while it is under maxAgeMs old (a copy); undefined when there is none that recent. */
  recent(port: number): ListenSocket[] | undefined;
  /**
   * Resolves with the whole table (by port) from a read that BEGAN after this call; every
   * caller waiting when a read begins shares it (one read for all, however many wait). The
   * shared table becomes that read. Never rejects.
   */
  refresh(): Promise<ReadonlyMap<number, readonly ListenSocket[]>>;
}

// With hundreds of agents the tables hold thousands of rows (each probe leaves TIME_WAIT
// sockets), and the kernel renders them anew on every read (readListenRows reads up to the
// last listener): one read (and one parse, indexed by port) serves every check of the next
// 50 ms, which a port's listener outlives anyway (a start is judged over several probes).
// fleetd's runners read it through refresh() alone (createSharedListenerCheck): one read
// for every check waiting at that moment.
//
// A check that knows something just answered on the port must not judge from a table that
// may predate the bind: it waits for refresh(). Why one read may serve every waiter: a
// waiter calls refresh() after its probe got an HTTP answer, so the gateway listened before
// the call; the read it gets begins after the call (reads are synchronous, so none is ever
// under way when it calls), so it lists every listener bound before the call that still
// is. Waiters of one turn of the event loop (agents booting together) share one read
// instead of one each.
/** The LISTEN sockets of a port from one read of both tables shared for `maxAgeMs`, with coalesced fresh reads (see above). */
export function createListenTable(options: ListenTableOptions = {}): ListenTable {
  const deps: ListenerDeps = { procRoot: options.procRoot ?? DEFAULTS.procRoot };
  const maxAgeMs = options.maxAgeMs ?? LISTEN_TABLE_MAX_AGE_MS;
  const now = options.now ?? (() => performance.now());
  let table: Map<number, ListenSocket[]> | undefined;
  let readAt = 0;
  /** Keeps the newest read (by when it began) as the shared table. */
  const keep = (read: Map<number, ListenSocket[]>, at: number) => {
    if (table === undefined || at >= readAt) {
      table = read;
      readAt = at;
    }
  };
  const isRecent = (t: number) => table !== undefined && t - readAt < maxAgeMs && t >= readAt;
  const recent = (port: number): ListenSocket[] | undefined => (isRecent(now()) ? [...(table!.get(port) ?? [])] : undefined);
  /** The next read, not begun yet: refresh() callers join it. */
  let next: Promise<Map<number, ListenSocket[]>> | null = null;
  const listeners = (port: number, fresh = false): ListenSocket[] => {
    const t = now();
    if (fresh || !isRecent(t)) {
      options.onRead?.();
      keep(readListenTable(deps), t);
    }
    return [...(table!.get(port) ?? [])];
  };
  // the read waits for the end of the current turn of the event loop (setImmediate): every
  // probe answer handled in this turn joins it
  const refresh = (): Promise<Map<number, ListenSocket[]>> =>
    (next ??= new Promise((resolve) =>
      setImmediate(() => {
        next = null; // from here on, callers wait for the read after this one
        const t = now();
        options.onRead?.();
        const read = readListenTable(deps);
        keep(read, t);
        resolve(read);
      }),
    ));
  return Object.assign(listeners, { recent, refresh });
}
