// The shim and its client together, with real processes: a fake gateway under a shim
// launched by a "fleetd" that is then SIGKILLed, re-attached, ended while nobody listens,
// taken over, lost. Every test ends with no process of it alive.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { waitFor } from '../util/wait-for.js';
import { isAlive, isSameProcess, readStat } from './proc.js';
import { attachShim, launchShim, type ShimHandle } from './shim-client.js';
import { postFake, readFakePids } from '../../test/support/testkit.js';
import { launchFromAnotherProcess, SHIM_IMPLS, shimSpecFor, withShimAgent, type ShimImpl } from '../../test/support/shim.js';
import type { ShimSpecInput } from '../shim/protocol.js';

/** Everything in the gateway.log files of `runDir`. */
async function allLogs(runDir: string): Promise<{ names: string[]; text: string }> {
  const names = (await readdir(runDir)).filter((n) => n.startsWith('gateway.log')).sort();
  let text = '';
  for (const n of names) text += await readFile(join(runDir, n), 'utf8');
  return { names, text };
}

/** Collects the output events of a handle. */
function collect(handle: ShimHandle): { text: () => string } {
  const parts: string[] = [];
  handle.on('output', (_stream, text) => parts.push(text));
  return { text: () => parts.join('') };
}

/** Waits until the gateway answers /healthz. */
function healthy(port: number): Promise<boolean> {
  return waitFor(() => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok), { timeoutMs: 10_000, what: 'gateway /healthz' });
}

// Every suite runs against each shim implementation: the client and the protocol are one.
for (const impl of SHIM_IMPLS) suite(impl);

/** The suites, with shims of `impl`. */
function suite(impl: ShimImpl): void {
  const launch = (spec: ShimSpecInput) => launchShim(spec, impl.deps);

  describe(`${impl.name} shim: shim with nobody attached`, { skip: impl.skip }, () => {
    test('the launching fleetd is SIGKILLed: the gateway keeps serving and writing, the log grows, rotates and stays redacted; re-attach gets the same gateway', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const spec = shimSpecFor(agent, { log: { file: join(runDir, 'gateway.log'), maxBytes: 200, maxFiles: 3 } });
        const launcher = await launchFromAnotherProcess(spec, impl.deps);
        const { record } = launcher;
        tracker.add(launcher.child.pid, record.shimPid, record.gatewayPid);
        await healthy(agent.port);
        assert.notEqual(record.shimPid, launcher.child.pid);
        assert.equal(readStat(record.shimPid)?.sid, record.shimPid, 'the shim runs in its own session');
        assert.equal(readStat(record.gatewayPid!)?.sid, record.gatewayPid, 'the gateway runs in its own session');
        assert.equal(readStat(record.gatewayPid!)?.ppid, record.shimPid, 'the shim is the gateway\'s parent');

        launcher.child.kill('SIGKILL');
        await waitFor(() => !isAlive(launcher.child.pid!), { timeoutMs: 5000, what: 'launcher gone' });

        // Each call prints the token whole, then split across two writes 50 ms apart (one call at a
        // time: the second half must follow the first). Until it comes, the log ends in "split token: ".
        const current = () => readFile(join(runDir, 'gateway.log'), 'utf8');
        for (let i = 0; i < 12; i++) {
          const before = await current();
          await postFake(agent.port, '/__fake/print-token');
          await waitFor(async () => {
            const now = await current();
            return now !== before && now.endsWith(' end\n');
          }, { timeoutMs: 5000, what: 'the split token in the log' });
        }
        const { names, text } = await allLogs(runDir);
        assert.deepEqual(names, ['gateway.log', 'gateway.log.1', 'gateway.log.2'], 'rotated, at most maxFiles files');
        assert.ok(!text.includes(agent.token.slice(0, 16)) && !text.includes(agent.token.slice(-16)), `no piece of the token on disk: ${text}`);
        assert.match(text, /split token: <redacted> end\n/, 'a token split across writes is redacted whole');
        assert.ok(isSameProcess({ pid: record.gatewayPid!, startTime: record.gatewayStartTime! }), 'the gateway lives on (no EPIPE)');
        await healthy(agent.port);

        const attached = await attachShim(runDir, { expect: { gatewayPid: record.gatewayPid!, gatewayStartTime: record.gatewayStartTime!, specHash: 'test-hash-1' } });
        assert.ok(attached.ok, `attach failed: ${!attached.ok && attached.message}`);
        const handle = attached.handle;
        assert.equal(handle.gateway?.pid, record.gatewayPid);
        assert.equal(handle.gateway?.startTime, record.gatewayStartTime);
        assert.match(handle.tail.stdout, /split token: <redacted> end\n$/, 'hello carries the recent output');
        const live = collect(handle);
        await postFake(agent.port, '/__fake/print-token');
        await waitFor(() => live.text().includes(' end\n'), { timeoutMs: 5000, what: 'live output' });
        assert.equal(live.text(), 'token is <redacted>\nsplit token: <redacted> end\n');
        const stats = await handle.status();
        assert.ok(stats.readBytes.stdout > 1000 && stats.log.droppedBytes === 0 && stats.skippedBytes === 0);

        await postFake(agent.port, '/__fake/crash?code=3');
        const outcome = await handle.exited;
        assert.equal(outcome.kind, 'exited');
        assert.deepEqual([outcome.kind === 'exited' && outcome.code, outcome.kind === 'exited' && outcome.from], [3, 'socket']);
        const exitFile = JSON.parse(await readFile(join(runDir, 'exit.json'), 'utf8')) as { code: number };
        assert.equal(exitFile.code, 3, 'exit.json written before the client was told');
        await handle.close();
        assert.ok(!isAlive(record.shimPid), 'the shim is gone after its gateway');
        assert.deepEqual((await readdir(runDir)).filter((n) => !n.startsWith('gateway.log')).sort(), ['shim.err'], 'close() removed the run files');
      }));

    test('a gateway killed while nobody is attached leaves exit.json; attach reports the signal and the last output', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const handle = await launch(shimSpecFor(agent));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        await healthy(agent.port);
        await handle.detach();
        assert.deepEqual(await handle.exited.then((o) => o.kind), 'detached');
        process.kill(handle.gateway!.pid, 'SIGKILL');
        await waitFor(() => !isAlive(handle.shim.pid), { timeoutMs: 5000, what: 'the shim to exit after its gateway' });
        const attached = await attachShim(runDir);
        assert.equal(attached.ok, false);
        assert.ok(!attached.ok && attached.reason === 'exited');
        assert.equal(attached.exit.signal, 'SIGKILL');
        assert.equal(attached.exit.code, null);
        assert.match(attached.exit.tail.stdout, new RegExp(`fake gateway listening on ${agent.port}`));
        assert.match(attached.message, /was killed by SIGKILL/);
        const outcome = await attached.handle.exited;
        assert.ok(outcome.kind === 'exited' && outcome.from === 'exit-file' && outcome.signal === 'SIGKILL');
        await assert.rejects(attached.handle.status(), (err: FleetError) => err.code === 'CONFLICT');
        await attached.handle.close();
        assert.equal((await attachShim(runDir)).ok === false && ((await attachShim(runDir)) as { reason: string }).reason, 'no-shim');
      }));
  });

  describe(`${impl.name} shim: attach rules`, { skip: impl.skip }, () => {
    test('a second attach is refused as busy; with takeover it replaces the first client', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const first = await launch(shimSpecFor(agent));
        tracker.add(first.shim.pid, first.gateway?.pid);
        await healthy(agent.port); // its SIGTERM handler is in place
        const second = await attachShim(runDir);
        assert.ok(!second.ok && second.reason === 'busy', `busy while attached: ${JSON.stringify(second)}`);
        const third = await attachShim(runDir, { takeover: true });
        assert.ok(third.ok);
        assert.equal((await first.exited).kind, 'replaced');
        await assert.rejects(first.note('x'), (err: FleetError) => err.code === 'CONFLICT');
        await third.handle.note('stopping for the test');
        process.kill(third.handle.gateway!.pid, 'SIGTERM');
        const outcome = await third.handle.exited;
        assert.ok(outcome.kind === 'exited' && outcome.code === 0 && outcome.from === 'socket', JSON.stringify(outcome));
        await third.handle.close();
        assert.match(await readFile(join(runDir, 'gateway.log'), 'utf8'), /\[fleetd [^\]]+\] stopping for the test\n/);
      }));

    test('a shim killed while attached is reported lost, with the gateway still alive', () =>
      withShimAgent({}, async ({ agent, tracker }) => {
        const handle = await launch(shimSpecFor(agent));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        process.kill(handle.shim.pid, 'SIGKILL');
        const outcome = await handle.exited;
        assert.equal(outcome.kind, 'lost');
        assert.ok(outcome.kind === 'lost' && outcome.gatewayAlive);
        assert.match(outcome.kind === 'lost' ? outcome.reason : '', /died without recording an exit; gateway pid \d+ is still alive/);
        process.kill(handle.gateway!.pid, 'SIGTERM');
        await handle.close();
      }));

    test('attach classifies every way there is no shim to attach to', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        await mkdir(runDir, { recursive: true, mode: 0o700 });
        assert.equal(((await attachShim(runDir)) as { reason: string }).reason, 'no-shim');
        await writeFile(join(runDir, 'shim.json'), '{"shimPid":');
        const invalid = await attachShim(runDir);
        assert.ok(!invalid.ok && invalid.reason === 'invalid' && /not JSON/.test(invalid.message));

        // A dead pid: a process that already exited.
        const dead = spawn(process.execPath, ['-e', '']);
        const deadPid = dead.pid!;
        await new Promise((r) => dead.once('exit', r));
        const self = readStat(process.pid)!;
        const record = { protocol: 1, name: 'test/agent', shimPid: deadPid, shimStartTime: '1', gatewayPid: process.pid, gatewayStartTime: self.startTime, spawnedAt: 1, specHash: 'h', socket: join(runDir, 'shim.sock'), logFile: join(runDir, 'gateway.log') };
        await writeFile(join(runDir, 'shim.json'), JSON.stringify(record));
        const dead1 = await attachShim(runDir);
        assert.ok(!dead1.ok && dead1.reason === 'shim-dead' && dead1.gatewayAlive, 'shim dead, its gateway (here: this process) alive');

        // A live process that is not a shim: nothing listens on the socket.
        await writeFile(join(runDir, 'shim.json'), JSON.stringify({ ...record, shimPid: process.pid, shimStartTime: self.startTime }));
        const refused = await attachShim(runDir);
        assert.ok(!refused.ok && refused.reason === 'refused' && /socket file is missing/.test(refused.message));
        const mismatch = await attachShim(runDir, { expect: { specHash: 'other' } });
        assert.ok(!mismatch.ok && mismatch.reason === 'mismatch' && /expected other/.test(mismatch.message));

        // A live shim holds the folder: a second launch is refused before anything starts.
        await rm(join(runDir, 'shim.json'));
        const handle = await launch(shimSpecFor(agent));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        await assert.rejects(launch(shimSpecFor(agent)), (err: FleetError) => err.code === 'CONFLICT' && err.message.includes(`shim pid ${handle.shim.pid}`));
        process.kill(handle.gateway!.pid, 'SIGTERM');
        await handle.exited;
        await handle.close();
      }));
  });

  describe(`${impl.name} shim: output before the first listener`, { skip: impl.skip }, () => {
    test('output that arrives before anyone subscribes is held for the first output listener: hello tail + events = the whole output, once', () =>
      withShimAgent({}, async ({ agent, tracker }) => {
        // prints at once and exits: what fleetd sees of it is the exit reason's only clue (exit 78 of a bad config)
        const words = Array.from({ length: 5 }, (_, i) => `line ${i}: gateway.mode is required`).join('\n');
        const go = join(agent.dir, 'go');
        const handle = await launch(shimSpecFor(agent, { argv: ['/bin/sh', '-c', `while [ ! -e '${go}' ]; do sleep 0.01; done; printf '%s\\n' "${words}" >&2; sleep 30`] }));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        await writeFile(go, ''); // it prints now: after hello, before anyone listens
        // a status answer comes after every output message the shim sent before it
        await waitFor(async () => ((await handle.status()).readBytes.stderr >= words.length + 1 ? true : undefined), { timeoutMs: 5000, what: 'the shim read it' });
        let seen = '';
        handle.on('output', (stream, text) => {
          if (stream === 'stderr') seen += text;
        });
        assert.equal(handle.tail.stderr + seen, `${words}\n`);
        process.kill(handle.gateway!.pid, 'SIGKILL');
        await handle.exited;
        await handle.close();
      }));
  });

  describe(`${impl.name} shim: launch failures`, { skip: impl.skip }, () => {
    test('a command that cannot start comes back as an exit with the reason, and the shim leaves', () =>
      withShimAgent({}, async ({ agent, tracker }) => {
        const handle = await launch(shimSpecFor(agent, { argv: ['definitely-not-a-command'] }));
        tracker.add(handle.shim.pid);
        assert.equal(handle.gateway, null);
        const outcome = await handle.exited;
        assert.ok(outcome.kind === 'exited');
        assert.match(outcome.error ?? '', /command not found or not executable: "definitely-not-a-command"/);
        await handle.close();
      }));

    test('a run dir that is a symlink or shared with others is refused', () =>
      withShimAgent({}, async ({ agent, runDir }) => {
        await mkdir(join(agent.dir, 'elsewhere'), { mode: 0o700 });
        await mkdir(join(runDir, '..'), { recursive: true });
        await symlink(join(agent.dir, 'elsewhere'), runDir);
        await assert.rejects(launch(shimSpecFor(agent)), (err: FleetError) => err.code === 'PROVISION_FAILED' && /is a symlink/.test(err.message));
        assert.ok(!existsSync(join(agent.dir, 'elsewhere', 'shim.err')), 'nothing written through the symlink');
      }));

    test('a run dir whose socket path is longer than the kernel takes still works', () =>
      withShimAgent({}, async ({ agent, tracker }) => {
        const runDir = join(agent.dir, 'agents', 'f'.repeat(40), 'a'.repeat(40));
        const handle = await launch(shimSpecFor(agent, { runDir, log: { file: join(runDir, 'gateway.log'), maxBytes: 65536, maxFiles: 2 } }));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        assert.ok(Buffer.byteLength(handle.record.socket) > 107, handle.record.socket);
        await handle.detach();
        const again = await attachShim(runDir);
        assert.ok(again.ok, !again.ok ? again.message : '');
        assert.ok((await again.handle.status()).rssBytes > 0);
        process.kill(again.handle.gateway!.pid, 'SIGKILL');
        assert.equal((await again.handle.exited).kind, 'exited');
        await again.handle.close();
      }));
  });
}
