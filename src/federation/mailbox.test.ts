// Mailboxes: the Maildir flow (post, read, mark processed), forged messages refused, the
// modes without users, and, as root, the modes with users proven by real processes
// running as the sender, the receiver and a third agent (setpriv, numeric ids).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { withTempDir } from '../util/temp-dir.js';
import { backlogOf, ensureMailbox, markProcessed, pendingIds, postMessage, readMessage, type MailboxIdentity } from './mailbox.js';

const FROM = 'acme/korax';
const TO = 'acme/goreos';
const NAME = 'acme.korax-to-acme.goreos';

test('post, read, mark processed; without users every folder is 0700 and every message 0600', () =>
  withTempDir(async (state) => {
    const paths = await ensureMailbox(state, NAME);
    for (const dir of [join(state, 'federation'), join(state, 'federation', 'comms'), paths.dir, paths.tmp, paths.new, paths.processed]) {
      assert.equal((await stat(dir)).mode & 0o7777, 0o700, dir);
    }
    assert.equal(await backlogOf(paths), 0);
    const sent = await postMessage(paths, FROM, TO, { type: 'ask', payload: { q: 'plans?' }, depth: 1 }, Date.UTC(2026, 0, 2));
    await postMessage(paths, FROM, TO, { type: 'note', payload: 'fyi' }, Date.UTC(2026, 0, 3));
    assert.equal(await backlogOf(paths), 2);
    assert.deepEqual(await readdir(paths.tmp), [], 'drafts are renamed away');
    assert.equal((await stat(join(paths.new, `${sent.id}.json`))).mode & 0o777, 0o600);
    const [first] = await pendingIds(paths);
    assert.equal(first, sent.id, 'oldest first');
    const read = await readMessage(paths, first!, FROM, TO);
    assert.deepEqual(read, { id: sent.id, from: FROM, to: TO, timestamp: '2026-01-02T00:00:00.000Z', type: 'ask', payload: { q: 'plans?' }, status: 'new', depth: 1 });
    const done = await markProcessed(paths, read, Date.UTC(2026, 0, 4));
    assert.equal(done.status, 'processed');
    assert.equal(await backlogOf(paths), 1);
    assert.deepEqual(JSON.parse(await readFile(join(paths.processed, `${sent.id}.json`), 'utf8')), { ...read, status: 'processed', processedAt: '2026-01-04T00:00:00.000Z' });
    // a repaired mailbox keeps its mail
    await chmod(paths.new, 0o755);
    await ensureMailbox(state, NAME);
    assert.equal((await stat(paths.new)).mode & 0o777, 0o700);
    assert.equal(await backlogOf(paths), 1);
  }));

test('a message claiming another sender, or not in the message format, is refused', () =>
  withTempDir(async (state) => {
    const paths = await ensureMailbox(state, NAME);
    const forged = await postMessage(paths, 'acme/medico', TO, { type: 'ask', payload: 1 });
    await assert.rejects(readMessage(paths, forged.id, FROM, TO), /claims acme\/medico -> acme\/goreos .* in the mailbox of acme\/korax -> acme\/goreos; not trusted/);
    const id = '1767312000000-0123456789ab';
    await writeFile(join(paths.new, `${id}.json`), JSON.stringify({ id, from: FROM, to: TO, timestamp: 'yesterday', type: 'ask', payload: 1, status: 'new' }));
    await assert.rejects(readMessage(paths, id, FROM, TO), /does not follow the message format: timestamp/);
    await writeFile(join(paths.new, 'notes.txt'), 'not a message');
    assert.equal(await backlogOf(paths), 2, 'only message files count');
  }));

const isRoot = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');

/** Runs a node one-liner as uid/gid with supplementary groups; returns its exit code and stderr. */
function runAs(ids: { uid: number; gid: number; groups: number[] }, script: string, ...args: string[]): { code: number | null; err: string } {
  const r = spawnSync(
    '/usr/bin/setpriv',
    ['--reuid', String(ids.uid), '--regid', String(ids.gid), ids.groups.length ? `--groups=${ids.groups.join(',')}` : '--clear-groups', '--', process.execPath, '-e', script, ...args],
    { encoding: 'utf8', timeout: 20_000 },
  );
  return { code: r.status, err: r.stderr };
}

// What an agent's skill does: write a draft in tmp/, rename it into new/ (mode 0640: the group reads it).
const POST = `const fs=require('fs'),p=require('path');const [d,id,body]=process.argv.slice(1);fs.writeFileSync(p.join(d,'tmp',id+'.json'),body,{mode:0o640});fs.renameSync(p.join(d,'tmp',id+'.json'),p.join(d,'new',id+'.json'));`;
const READ = `const fs=require('fs'),p=require('path');const [d,id]=process.argv.slice(1);JSON.parse(fs.readFileSync(p.join(d,'new',id+'.json'),'utf8'));`;
const PROCESS = `const fs=require('fs'),p=require('path');const [d,id]=process.argv.slice(1);const m=JSON.parse(fs.readFileSync(p.join(d,'new',id+'.json'),'utf8'));fs.writeFileSync(p.join(d,'processed',id+'.json'),JSON.stringify({...m,status:'processed'}),{mode:0o640});fs.unlinkSync(p.join(d,'new',id+'.json'));`;
const LIST = `require('fs').readdirSync(process.argv[1]);`;
const WRITE = `require('fs').writeFileSync(process.argv[1],'x');`;

test('with users: the sender may post, the receiver may read and mark processed, a third agent may do nothing', { skip: !isRoot && 'needs root and setpriv' }, () =>
  withTempDir(async (state) => {
    await chmod(state, 0o711); // with per-tenant users the state dir must be traversable (as for their homes)
    const G = 61010;
    const sender = { uid: 61001, gid: 61001, groups: [G] };
    const receiver = { uid: 61002, gid: 61002, groups: [G] };
    const third = { uid: 61003, gid: 61003, groups: [] };
    const identity: MailboxIdentity = { sender, receiver, gid: G };
    const paths = await ensureMailbox(state, NAME, identity);
    const owner = async (dir: string) => {
      const s = await stat(dir);
      return [s.uid, s.gid, (s.mode & 0o7777).toString(8)];
    };
    assert.deepEqual(await owner(join(state, 'federation', 'comms')), [0, 0, '711']);
    assert.deepEqual(await owner(paths.dir), [0, G, '2750']);
    assert.deepEqual(await owner(paths.tmp), [sender.uid, G, '2700']);
    assert.deepEqual(await owner(paths.new), [receiver.uid, G, '3770']);
    assert.deepEqual(await owner(paths.processed), [receiver.uid, G, '2750']);

    const id = '1767312000000-00000000000a';
    const body = JSON.stringify({ id, from: FROM, to: TO, timestamp: '2026-01-02T00:00:00.000Z', type: 'ask', payload: 'hi', status: 'new' });
    assert.equal(runAs(sender, POST, paths.dir, id, body).code, 0, 'the sender posts');
    assert.equal((await stat(join(paths.new, `${id}.json`))).gid, G, 'setgid: the message belongs to the mailbox group');
    assert.notEqual(runAs(third, LIST, paths.new).code, 0, 'a third agent cannot list the mailbox');
    assert.notEqual(runAs(third, POST, paths.dir, id.replace(/a$/, 'b'), body).code, 0, 'nor post into it');
    assert.notEqual(runAs(receiver, WRITE, join(paths.tmp, 'x')).code, 0, 'the receiver cannot touch the sender\'s drafts');
    assert.notEqual(runAs(sender, WRITE, join(paths.processed, 'x.json')).code, 0, 'the sender cannot mark anything processed');
    assert.notEqual(runAs(sender, WRITE, join(paths.dir, 'x')).code, 0, 'nor add files beside the folders');
    assert.equal(runAs(receiver, READ, paths.dir, id).code, 0, 'the receiver reads');
    assert.equal(runAs(receiver, PROCESS, paths.dir, id).code, 0, 'and marks it processed');
    assert.equal(await backlogOf(paths), 0);
    assert.equal(JSON.parse(await readFile(join(paths.processed, `${id}.json`), 'utf8')).status, 'processed');
  }));
