// The file mailbox of one call edge, the fault-tolerant fallback of a hooks call:
// `<stateDir>/federation/comms/<from>-to-<to>/` in the Maildir manner. The sender writes a
// message into tmp/ and renames it into new/ (a reader never sees half a message); the
// receiver reads new/ and marks a message processed by writing it, status "processed",
// into processed/ and removing it from new/. Backlog = files in new/.
//
// Modes. Without per-tenant users every gateway runs as fleetd's user: folders 0700,
// files 0600, nothing is enforced between agents (any agent could read any mailbox).
// With users (MailboxIdentity given; fleetd runs as root to chown), for a group G that
// holds exactly the sender and the receiver:
//   <edge>/       root:G 2750   both traverse; neither can add or remove folders
//   tmp/          sender:G 2700 the sender's drafts
//   new/          receiver:G 3770 setgid+sticky: the sender may add messages and remove only
//                 its own, the receiver (owner) may remove any; messages 0640 sender:G
//   processed/    receiver:G 2750 only the receiver writes; the sender can see what was done
import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { MESSAGE_FILE, messageSchema, type Message } from './message.js';

/** uid and gid of a process identity. */
export interface Ids {
  uid: number;
  gid: number;
}

/** Who owns an edge's mailbox when agents run as their own users. */
export interface MailboxIdentity {
  sender: Ids;
  receiver: Ids;
  /** A group holding exactly the sender and the receiver. */
  gid: number;
}

/** The folders of one mailbox. */
export interface MailboxPaths {
  dir: string;
  tmp: string;
  new: string;
  processed: string;
}

/** `<stateDir>/federation/comms`: every mailbox lives here. */
export function commsDir(stateDir: string): string {
  return join(stateDir, 'federation', 'comms');
}

/** The folders of the mailbox named `name` (FederationEdge.mailbox). */
export function mailboxPaths(stateDir: string, name: string): MailboxPaths {
  const dir = join(commsDir(stateDir), name);
  return { dir, tmp: join(dir, 'tmp'), new: join(dir, 'new'), processed: join(dir, 'processed') };
}

/** mkdir, refuse a symlink or non-folder in its place, then set owner and mode exactly. */
async function ensureDir(dir: string, mode: number, owner?: { uid: number; gid: number }): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await lstat(dir);
  if (!stat.isDirectory()) {
    throw new FleetError('PROVISION_FAILED', `${dir} exists and is not a folder (or is a symlink); move it away and reload`);
  }
  if (owner && (stat.uid !== owner.uid || stat.gid !== owner.gid)) await chown(dir, owner.uid, owner.gid);
  // chown clears setgid on some filesystems: set the mode after it, always.
  if ((stat.mode & 0o7777) !== mode || owner) await chmod(dir, mode);
}

/** Creates (or repairs) the federation folders and one edge's mailbox with the modes above. */
export async function ensureMailbox(stateDir: string, name: string, identity?: MailboxIdentity): Promise<MailboxPaths> {
  const paths = mailboxPaths(stateDir, name);
  const root = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  // With users, agents must traverse federation/ and comms/ (not list them): 0711.
  const shared = identity ? 0o711 : 0o700;
  await ensureDir(join(stateDir, 'federation'), shared);
  await ensureDir(commsDir(stateDir), shared);
  if (!identity) {
    for (const dir of [paths.dir, paths.tmp, paths.new, paths.processed]) await ensureDir(dir, 0o700);
    return paths;
  }
  const { sender, receiver, gid } = identity;
  await ensureDir(paths.dir, 0o2750, { uid: root.uid, gid });
  await ensureDir(paths.tmp, 0o2700, { uid: sender.uid, gid });
  await ensureDir(paths.new, 0o3770, { uid: receiver.uid, gid });
  await ensureDir(paths.processed, 0o2750, { uid: receiver.uid, gid });
  return paths;
}

/** A new message id: time-sortable, unique. */
export function newMessageId(now: number): string {
  return `${String(Math.floor(now)).padStart(13, '0')}-${randomBytes(6).toString('hex')}`;
}

/** What a sender provides; the rest of the message is filled in. */
export interface Outgoing {
  type: string;
  payload: unknown;
  depth?: number;
}

/** Posts a message (sender side): tmp/ then rename into new/. Mode 0640 (0600 without users). */
export async function postMessage(paths: MailboxPaths, from: string, to: string, outgoing: Outgoing, now: number = Date.now(), fileMode = 0o600): Promise<Message> {
  const id = newMessageId(now);
  const message = messageSchema.parse({
    id,
    from,
    to,
    timestamp: new Date(now).toISOString(),
    type: outgoing.type,
    payload: outgoing.payload ?? null,
    status: 'new',
    ...(outgoing.depth !== undefined ? { depth: outgoing.depth } : {}),
  });
  const draft = join(paths.tmp, `${id}.json`);
  const handle = await open(draft, 'wx', fileMode);
  try {
    await handle.writeFile(`${JSON.stringify(message, null, 2)}\n`);
    await handle.chmod(fileMode);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(draft, join(paths.new, `${id}.json`));
  return message;
}

/** Names of the messages waiting in new/, oldest first (files that are not messages are ignored). */
export async function pendingIds(paths: MailboxPaths): Promise<string[]> {
  const names = await readdir(paths.new).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return names.filter((n) => MESSAGE_FILE.test(n)).sort().map((n) => n.slice(0, -'.json'.length));
}

/** Number of messages waiting in new/ (the backlog `fleetctl federation` shows); null when it cannot be read. */
export async function backlogOf(paths: MailboxPaths): Promise<number | null> {
  try {
    return (await pendingIds(paths)).length;
  } catch {
    return null;
  }
}

/** Reads one waiting message; refuses one whose from/to are not this mailbox's (a forged message). */
export async function readMessage(paths: MailboxPaths, id: string, from: string, to: string): Promise<Message> {
  const file = join(paths.new, `${id}.json`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new FleetError('BAD_REQUEST', `message ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const result = messageSchema.safeParse(parsed);
  if (!result.success) throw new FleetError('BAD_REQUEST', `message ${file} does not follow the message format: ${result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  if (result.data.from !== from || result.data.to !== to || result.data.id !== id) {
    throw new FleetError('BAD_REQUEST', `message ${file} claims ${result.data.from} -> ${result.data.to} (id ${result.data.id}) in the mailbox of ${from} -> ${to}; not trusted`);
  }
  return result.data;
}

/** Marks a message processed (receiver side): its copy with status "processed" lands in processed/, then it leaves new/. */
export async function markProcessed(paths: MailboxPaths, message: Message, now: number = Date.now(), fileMode = 0o600): Promise<Message> {
  const done = messageSchema.parse({ ...message, status: 'processed', processedAt: new Date(now).toISOString() });
  await writeFileAtomic(join(paths.processed, `${message.id}.json`), `${JSON.stringify(done, null, 2)}\n`, { mode: fileMode });
  await unlink(join(paths.new, `${message.id}.json`)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  return done;
}
