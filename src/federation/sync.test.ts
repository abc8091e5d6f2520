// syncFederation on a real state dir: books for every agent that calls or is called (homes
// made when provisioning has not run yet), mailboxes per edge, stale books removed, and
// one agent's planted symlink failing that agent only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { manifestSchema, type Manifest } from '../manifest/schema.js';
import type { RegistryFile } from '../plan/types.js';
import { withTempDir } from '../util/temp-dir.js';
import { syncFederation } from './sync.js';

function manifest(stateDir: string, agents: Record<string, unknown>): Manifest {
  const parsed = manifestSchema.parse({ version: 1, fleets: { acme: { agents } } });
  return { ...parsed, manifestPath: join(stateDir, 'm.json5'), stateDir, socket: join(stateDir, 's'), runtimesDir: join(stateDir, 'r') };
}

function registry(agents: string[], called: string[]): RegistryFile {
  const reg: RegistryFile = { version: 1, agents: {} };
  agents.forEach((agent, i) => {
    reg.agents[`acme/${agent}`] = {
      fleet: 'acme', agent, source: 'manifest', block: i, port: 20000 + 100 * i, token: String(i).repeat(64), desired: 'running', createdAt: 'x',
      ...(called.includes(agent) ? { hooksToken: `${'c'.repeat(63)}${i}` } : {}),
    };
  });
  return reg;
}

const book = (state: string, agent: string) => join(state, 'fleets', 'acme', agent, 'workspace', '.fleetd', 'federation', 'address-book.json');

test('books and mailboxes are written for the calls of the manifest, even before any home exists; stale books go', () =>
  withTempDir(async (state) => {
    const reg = registry(['a', 'b', 'c'], ['b']);
    const first = await syncFederation(manifest(state, { a: { calls: ['acme/b'] }, b: {}, c: {} }), reg);
    assert.deepEqual(first.errors, []);
    assert.deepEqual(first.written.map((w) => w.address), ['acme/a', 'acme/b']);
    assert.deepEqual(first.mailboxes, [join(state, 'federation', 'comms', 'acme.a-to-acme.b')]);
    assert.equal((await stat(join(state, 'fleets', 'acme', 'a'))).mode & 0o777, 0o700, 'home made 0700 as provisioning does');
    assert.deepEqual(JSON.parse(await readFile(book(state, 'a'), 'utf8')).agents.map((x: { address: string }) => x.address), ['acme/b']);
    assert.equal(existsSync(book(state, 'c')), false);
    // nothing changed: nothing written
    assert.deepEqual((await syncFederation(manifest(state, { a: { calls: ['acme/b'] }, b: {}, c: {} }), reg)).written, []);
    // a stops calling b: both leave the calls and their books go; the mailbox stays (its mail too)
    const last = await syncFederation(manifest(state, { a: {}, b: {}, c: {} }), registry(['a', 'b', 'c'], []));
    assert.deepEqual(last.removed.map((r) => r.address), ['acme/a', 'acme/b']);
    assert.equal(existsSync(book(state, 'a')), false);
    assert.ok(existsSync(join(state, 'federation', 'comms', 'acme.a-to-acme.b', 'new')));
  }));

test('a symlink planted in one agent\'s workspace fails that agent only', () =>
  withTempDir(async (state) => {
    const outside = join(state, 'outside');
    await mkdir(outside);
    await mkdir(join(state, 'fleets', 'acme', 'a', 'workspace'), { recursive: true });
    await symlink(outside, join(state, 'fleets', 'acme', 'a', 'workspace', '.fleetd'));
    const result = await syncFederation(manifest(state, { a: { calls: ['acme/b'] }, b: { calls: ['acme/a'] } }), registry(['a', 'b'], ['a', 'b']));
    assert.deepEqual(result.errors.map((e) => e.subject), ['acme/a']);
    assert.match(result.errors[0]!.message, /\.fleetd is a symlink or not a folder/);
    assert.deepEqual(result.written.map((w) => w.address), ['acme/b']);
    assert.equal(existsSync(join(outside, 'federation')), false);
  }));
