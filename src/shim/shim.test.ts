// The shim process on its own terms, with real processes: what reaches its socket from a
// careless or hostile client, signals, the environment it gives the gateway, a gateway
// flooding output with nobody (or a client that does not read) on the other end, a disk
// that refuses every write, and a spec it must refuse without showing its values.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../util/wait-for.js';
import { isAlive, rssBytes } from '../supervise/proc.js';
import { attachShim, launchShim } from '../supervise/shim-client.js';
import { readFakePids } from '../../test/support/testkit.js';
import { FLOOD, rawClient, SHIM_IMPLS, shimSpecFor, withShimAgent, type ShimImpl } from '../../test/support/shim.js';
import type { ShimSpecInput } from './protocol.js';
import { IGNORED_SIGNALS } from './signals.js';

const MiB = 1024 * 1024;

/** Runs the shim `impl` by hand with `stdin` and returns its stdout and exit code. */
function runMain(impl: ShimImpl, stdin: string | Buffer): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(impl.command[0], impl.command[1], { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
    child.stdin.on('error', () => undefined);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(stdin);
  });
}

/** Max RSS of `pid` seen while waiting for `done` (sampled every 10 ms). */
async function peakRssUntil(pid: number, done: () => boolean, timeoutMs: number): Promise<number> {
  let peak = 0;
  await waitFor(
    () => {
      peak = Math.max(peak, rssBytes(pid));
      return done();
    },
    { timeoutMs, intervalMs: 10, what: 'the flood to end' },
  );
  return peak;
}

/** The flood's progress file says it wrote everything. */
function floodDone(progress: string): boolean {
  try {
    return (JSON.parse(readFileSync(progress, 'utf8')) as { done: boolean }).done;
  } catch {
    return false;
  }
}

// Every suite but the module graph runs against each shim implementation (same protocol, same behaviour).
for (const impl of SHIM_IMPLS) suite(impl);

/** The suites, with shims of `impl`. */
function suite(impl: ShimImpl): void {
  const launch = (spec: ShimSpecInput) => launchShim(spec, impl.deps);

  describe(`${impl.name} shim: shim socket`, { skip: impl.skip }, () => {
    test('malformed, premature, overlong and unknown messages get an error and the shim serves on; a second attach is busy', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const handle = await launch(shimSpecFor(agent));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        await handle.detach();
        const sock = join(runDir, 'shim.sock');

        const a = await rawClient(sock);
        a.send('this is not json\n');
        assert.deepEqual(await a.next((m) => m.type === 'error'), { type: 'error', id: null, code: 'bad-message', message: 'not a JSON line' });
        a.send({ type: 'tail', id: 1 });
        assert.equal((await a.next((m) => m.id === 1)).code, 'not-attached');
        a.send({ type: 'attach', id: 2, protocol: 99 });
        assert.equal((await a.next((m) => m.id === 2)).code, 'protocol');
        await a.closed;

        const b = await rawClient(sock);
        b.send({ type: 'attach', id: 1, protocol: 1 });
        const hello = await b.next((m) => m.type === 'hello');
        assert.equal((hello.record as { gatewayPid: number }).gatewayPid, handle.gateway?.pid);
        b.send({ type: 'reboot', id: 3 });
        const unknown = await b.next((m) => m.id === 3);
        assert.equal(unknown.code, 'bad-message');
        const from = b.messages.length;
        b.send(`{"type":"note","id":4,"text":"${'y'.repeat(2 * MiB)}"}\n`);
        assert.match(String((await b.next((m) => m.code === 'too-long', from)).message), /longer than 1048576/);
        b.send({ type: 'note', id: 5, text: 'z'.repeat(5000) });
        assert.match(String((await b.next((m) => m.id === 5)).message), /^text: /, 'a note over 4096 characters is refused by path');
        b.send('{"type":"status",');
        b.send('"id":6}\n'); // a message cut across two writes
        const status = await b.next((m) => m.id === 6);
        assert.equal(status.type, 'status');
        // the watch is the native shim's feature, named in hello; the Node shim refuses it by name
        assert.deepEqual(hello.features, impl.name === 'native' ? ['watch'] : []);
        b.send({ type: 'watch', id: 7, port: agent.port, path: '/readyz', intervalMs: 60_000, timeoutMs: 1000 });
        b.send({ type: 'unwatch', id: 8 });
        const [watched, unwatched] = [await b.next((m) => m.id === 7), await b.next((m) => m.id === 8)];
        if (impl.name === 'native') assert.deepEqual([watched.type, unwatched.type], ['ok', 'ok']);
        else for (const refused of [watched, unwatched]) assert.deepEqual([refused.code, refused.message], ['bad-message', `this shim cannot ${refused.id === 7 ? 'watch' : 'unwatch'}: its hello names no features (fleetd probes the gateway itself)`]);

        const c = await rawClient(sock);
        c.send({ type: 'attach', id: 1, protocol: 1 });
        assert.equal((await c.next((m) => m.id === 1)).code, 'busy');
        await c.closed;

        assert.ok(isAlive(handle.shim.pid) && handle.isGatewayAlive(), 'shim and gateway unharmed');
        b.socket.destroy();
        process.kill(handle.gateway!.pid, 'SIGKILL');
        await waitFor(() => !isAlive(handle.shim.pid), { timeoutMs: 5000, what: 'shim exit' });
        const ended = await attachShim(runDir);
        assert.ok(!ended.ok && ended.reason === 'exited');
        await ended.handle.close();
      }));

    test('the shim ignores termination and user signals, and opens no inspector', () =>
      withShimAgent({}, async ({ agent, tracker }) => {
        const handle = await launch(shimSpecFor(agent));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        for (const signal of IGNORED_SIGNALS) process.kill(handle.shim.pid, signal);
        const stats = await handle.status(); // answered after every signal was delivered
        assert.ok(stats.rssBytes > 0);
        assert.ok(isAlive(handle.shim.pid));
        await assert.rejects(fetch('http://127.0.0.1:9229/json/list'), 'no inspector listening after SIGUSR1');
        process.kill(handle.gateway!.pid, 'SIGKILL');
        assert.equal((await handle.exited).kind, 'exited');
        await handle.close();
      }));

    test('the shim carries no environment; the gateway gets exactly the spec\'s, stdin /dev/null, its home, and no fd of the shim', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const handle = await launch(shimSpecFor(agent));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        const pids = await waitFor(() => readFakePids(agent.home), { timeoutMs: 5000, what: 'fake-pids.json' });
        assert.equal(readFileSync(`/proc/${handle.shim.pid}/environ`, 'utf8'), '', 'nothing of fleetd\'s environment in the shim');
        assert.match(readFileSync(`/proc/${handle.shim.pid}/cmdline`, 'utf8'), /fleetd-shim test\/agent/, 'process title names the agent');
        assert.deepEqual(pids.envKeys, Object.keys(agent.spec.env).sort());
        assert.equal(pids.stdin, '/dev/null');
        assert.equal(pids.cwd, agent.home);
        // an fd the gateway closes between the listing and its readlink is gone (ENOENT): not open, so not a leak
        const fds = readdirSync(`/proc/${pids.pid}/fd`).flatMap((fd) => {
          try {
            return [readlinkSync(`/proc/${pids.pid}/fd/${fd}`)];
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
            throw err;
          }
        });
        assert.ok(!fds.some((target) => target.startsWith(runDir)), `no file of the run dir is open in the gateway: ${fds.join(', ')}`);
        assert.match(readlinkSync(`/proc/${pids.pid}/fd/1`), /^(pipe|socket):/, 'stdout is the shim\'s pipe (a socketpair from Node)');
        process.kill(pids.pid, 'SIGTERM');
        assert.equal((await handle.exited).kind, 'exited');
        await handle.close();
      }));
  });

  describe(`${impl.name} shim: output pressure`, { skip: impl.skip }, () => {
    test('a gateway flooding output with nobody attached is drained to the log; the shim\'s memory stays bounded and the log within rotation', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const progress = join(agent.dir, 'progress.json');
        const total = 96 * MiB;
        const go = join(agent.dir, 'go');
        const spec = shimSpecFor(agent, { argv: [process.execPath, FLOOD, String(total), progress, '--stderr', '--wait', go], log: { file: join(runDir, 'gateway.log'), maxBytes: MiB, maxFiles: 2 } });
        const handle = await launch(spec);
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        await handle.detach();
        const before = rssBytes(handle.shim.pid);
        await writeFile(go, '');
        const peak = await peakRssUntil(handle.shim.pid, () => floodDone(progress), 120_000);
        // Measured ~+5 MB; buffering the flood would add ~96 MB.
        assert.ok(peak - before < 40 * MiB, `shim RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB while 96 MiB went through it`);
        const attached = await attachShim(runDir);
        assert.ok(attached.ok);
        // the writer is done once its last write is in the pipe; the shim may still be reading it (a loaded host)
        const stats = await waitFor(
          async () => {
            const now = await attached.handle.status();
            return now.readBytes.stdout + now.readBytes.stderr >= total ? now : undefined;
          },
          { timeoutMs: 60_000, what: 'every byte read from the pipes' },
        );
        assert.equal(stats.log.droppedBytes, 0);
        const names = readdirSync(runDir).filter((n) => n.startsWith('gateway.log')).sort();
        assert.deepEqual(names, ['gateway.log', 'gateway.log.1']);
        for (const n of names) assert.ok(readFileSync(join(runDir, n)).length <= MiB);
        process.kill(handle.gateway!.pid, 'SIGTERM');
        const outcome = await attached.handle.exited;
        assert.ok(outcome.kind === 'exited' && outcome.code === 0);
        await attached.handle.close();
      }));

    test('a client that attaches and never reads does not slow the gateway: its output is skipped, counted and announced', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const progress = join(agent.dir, 'progress.json');
        const go = join(agent.dir, 'go');
        const total = 48 * MiB;
        const spec = shimSpecFor(agent, { argv: [process.execPath, FLOOD, String(total), progress, '--wait', go] });
        const handle = await launch(spec);
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        await handle.detach();
        const lazy = await rawClient(join(runDir, 'shim.sock'), { paused: true });
        lazy.send({ type: 'attach', id: 1, protocol: 1 });
        const before = rssBytes(handle.shim.pid);
        await writeFile(go, '');
        const peak = await peakRssUntil(handle.shim.pid, () => floodDone(progress), 120_000);
        assert.ok(peak - before < 40 * MiB, `shim RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB`);
        lazy.socket.resume();
        const skipped = await lazy.next((m) => m.type === 'skipped', 0, 10_000);
        assert.ok(Number(skipped.bytes) > total / 2, 'most of the flood was skipped for the slow client');
        assert.ok(lazy.messages.some((m) => m.type === 'output'), 'what fit was sent');
        lazy.send({ type: 'status', id: 2 });
        const status = await lazy.next((m) => m.id === 2, 0, 10_000);
        assert.ok(Number((status.stats as { skippedBytes: number }).skippedBytes) >= Number(skipped.bytes));
        process.kill(handle.gateway!.pid, 'SIGTERM');
        await lazy.next((m) => m.type === 'exit', 0, 10_000);
        await waitFor(() => !isAlive(handle.shim.pid), { timeoutMs: 5000, what: 'shim exit' });
        const ended = await attachShim(runDir);
        assert.ok(!ended.ok && ended.reason === 'exited');
        await ended.handle.close();
      }));

    test('a log the disk refuses (ENOSPC): output is dropped and counted, the pipes keep draining, shim.err says why', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        await mkdir(runDir, { recursive: true, mode: 0o700 });
        await symlink('/dev/full', join(runDir, 'full.log'));
        const progress = join(agent.dir, 'progress.json');
        const total = 8 * MiB;
        const spec = shimSpecFor(agent, { argv: [process.execPath, FLOOD, String(total), progress], log: { file: join(runDir, 'full.log'), maxBytes: MiB, maxFiles: 2 } });
        const handle = await launch(spec);
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        await waitFor(() => floodDone(progress), { timeoutMs: 60_000, what: 'the flood to end' });
        const stats = await handle.status();
        assert.ok(stats.readBytes.stdout >= total);
        assert.equal(stats.log.writtenBytes, 0);
        assert.ok(stats.log.droppedBytes >= total && stats.log.failures > 0);
        assert.match(await readFile(join(runDir, 'shim.err'), 'utf8'), /cannot write .*full\.log \(ENOSPC\); gateway output is dropped and counted/);
        process.kill(handle.gateway!.pid, 'SIGTERM');
        const outcome = await handle.exited;
        assert.ok(outcome.kind === 'exited' && outcome.code === 0);
        const exit = JSON.parse(await readFile(join(runDir, 'exit.json'), 'utf8')) as { log: { droppedBytes: number } };
        assert.ok(exit.log.droppedBytes >= total, 'exit.json counts what was lost');
        await handle.close();
      }));
  });

  describe(`${impl.name} shim: shim start-up`, { skip: impl.skip }, () => {
    test('a bad spec is refused on the ready line by path, never showing a value', async () => {
      const secret = 'sk-live-0123456789abcdef';
      const bad = await runMain(impl, JSON.stringify({ protocol: 1, name: 'a/b', argv: 'node', cwd: 'relative', env: { API_KEY: 12345678 }, runDir: '/tmp', log: { file: '/tmp/x', maxBytes: 1, maxFiles: 1 }, secrets: [secret], specHash: secret }));
      assert.equal(bad.code, 1);
      const line = JSON.parse(bad.stdout) as { type: string; code: string; message: string };
      assert.equal(line.type, 'failed');
      assert.equal(line.code, 'spec');
      assert.match(line.message, /argv: .*; cwd: must be an absolute path; env\.API_KEY: /);
      assert.ok(!bad.stdout.includes(secret) && !bad.stdout.includes('12345678') && !bad.stderr.includes(secret));
      const garbage = await runMain(impl, '{"protocol":');
      assert.deepEqual(JSON.parse(garbage.stdout), { type: 'failed', code: 'spec', message: 'launch spec on stdin is not JSON (12 bytes)' });
      const empty = await runMain(impl, '');
      assert.equal((JSON.parse(empty.stdout) as { message: string }).message, 'no launch spec on stdin (expected one JSON document)');
      assert.ok(!existsSync('/tmp/x'));
    });

    test('a run dir open to others is refused by the shim itself', () =>
      withShimAgent({}, async ({ agent, runDir }) => {
        await mkdir(runDir, { recursive: true, mode: 0o755 });
        await chmod(runDir, 0o755);
        const out = await runMain(impl, JSON.stringify(shimSpecFor(agent)));
        assert.equal(out.code, 1);
        assert.deepEqual(JSON.parse(out.stdout), { type: 'failed', code: 'run-dir', message: `${runDir} has mode 755; it must be 700` });
        assert.ok(!existsSync(join(runDir, 'shim.sock')) && !existsSync(agent.home + '/fake-pids.json'), 'nothing started');
      }));
  });
}

describe('shim module graph', () => {
  test('the shim loads nothing of the daemon, the CLI or the runtime installer, and no package but zod', () => {
    const root = fileURLToPath(new URL('..', import.meta.url)); // the compiled src/
    const seen = new Set<string>();
    const packages = new Set<string>();
    const queue = ['shim/main.js'];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const m of readFileSync(join(root, file), 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        const spec = m[1]!;
        if (spec.startsWith('.')) queue.push(join(file, '..', spec));
        else if (!spec.startsWith('node:')) packages.add(spec);
      }
    }
    assert.ok(seen.has('supervise/log-sink.js') && seen.has('supervise/spawn-gateway.js'), 'the walk follows imports');
    assert.deepEqual([...seen].filter((f) => /^(daemon|cli|runtime|provision|plan)\//.test(f)), []);
    assert.deepEqual([...packages], ['zod']);
  });
});
