// What a shim written in C could get wrong that the Node one gets for free, run against
// both implementations (the Node shim is the reference): invalid UTF-8 in the gateway's
// output, a secret cut at every position between two reads while the other stream
// interleaves, a launch spec that is truncated, mutated or random bytes, and adoption
// across the two implementations (the same protocol, so one's shim is the other's).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../util/wait-for.js';
import { isAlive } from '../supervise/proc.js';
import { attachShim, launchShim } from '../supervise/shim-client.js';
import { launchFromAnotherProcess, rawClient, SHIM_IMPLS, shimSpecFor, withShimAgent, type ShimImpl } from '../../test/support/shim.js';
import { clientRequestSchema, describeIssues, readyLineSchema, type ShimSpecInput } from './protocol.js';
import { prng } from '../../test/support/prng.js';
import { cgroupSkipReason, makeTestCgroups } from '../../test/support/cgroup-testkit.js';
import { agentCgroup } from '../isolation/cgroup-agent.js';

const SECRET = 'sk-live-0123456789abcdefXYZ';

/** Every run of 8 characters of `secret` (what redaction must keep out). */
function pieces(secret: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 8 <= secret.length; i++) out.push(secret.slice(i, i + 8));
  return out;
}

/** The first piece of `secret` found in `text`, or undefined. */
function leak(text: string, secret = SECRET): string | undefined {
  return pieces(secret).find((p) => text.includes(p));
}

/** A gateway (node -e) that writes `chunks` to stdout/stderr one write each, `pauseMs` apart, then exits 0. */
function writerArgv(chunks: Array<{ fd: 1 | 2; hex: string }>, pauseMs: number): string[] {
  const script = `
    const fs = require('node:fs');
    const chunks = JSON.parse(process.argv[1]);
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (const c of chunks) { fs.writeSync(c.fd, Buffer.from(c.hex, 'hex')); Atomics.wait(pause, 0, 0, ${pauseMs}); }
  `;
  return [process.execPath, '-e', script, JSON.stringify(chunks)];
}

const hex = (b: Buffer | string) => (typeof b === 'string' ? Buffer.from(b, 'utf8') : b).toString('hex');

/** Runs the shim `impl` by hand with `stdin`: its stdout, stderr, exit code and signal. */
function runByHand(impl: ShimImpl, stdin: Buffer): Promise<{ stdout: string; stderr: string; code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    const child = spawn(impl.command[0], impl.command[1], { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.on('error', () => undefined);
    child.on('close', (code, signal) => resolve({ stdout, stderr, code, signal }));
    child.stdin.end(stdin);
  });
}

/** Launch specs that must all be refused: truncations, mutations of one field, random bytes. */
function fuzzSpecs(seed: number): Buffer[] {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const valid = {
    protocol: 1,
    name: 'fuzz/agent',
    argv: ['/bin/true', SECRET],
    cwd: '/tmp',
    env: { PATH: '/usr/bin:/bin', API_KEY: SECRET },
    runDir: '/nonexistent-fleetd-fuzz/run',
    log: { file: '/nonexistent-fleetd-fuzz/run/gateway.log', maxBytes: 1024, maxFiles: 2 },
    secrets: [SECRET],
    specHash: SECRET,
    tail: { lines: 5, chars: 100 },
    cgroupProcs: ['/nonexistent-fleetd-fuzz/cg/cgroup.procs'],
  };
  const text = JSON.stringify(valid);
  const out: Buffer[] = [];
  for (let i = 0; i < 25; i++) out.push(Buffer.from(text.slice(0, Math.floor(random() * text.length))));
  const values = [null, 1.5, -1, 0, '', 'relative', [], {}, true, 'x'.repeat(300), 1e300, [SECRET, 7], { [SECRET]: 1 }, `/${SECRET}\u0000`, 2 ** 53];
  const paths = ['protocol', 'name', 'argv', 'argv.0', 'cwd', 'env', 'env.API_KEY', 'runDir', 'log', 'log.file', 'log.maxBytes', 'log.maxFiles', 'secrets', 'secrets.0', 'specHash', 'tail', 'tail.lines', 'tail.chars', 'cgroupProcs', 'cgroupProcs.0'];
  for (let i = 0; i < 30; i++) {
    const spec = JSON.parse(text) as Record<string, unknown>;
    const path = pick(paths).split('.');
    let target = spec as Record<string, unknown>;
    for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
    const last = path[path.length - 1]!;
    const action = random();
    if (action < 0.15) delete target[last];
    else if (action < 0.25) target[`unknown-${SECRET.slice(0, 3)}`] = SECRET;
    else target[last] = pick(values);
    out.push(Buffer.from(JSON.stringify(spec)));
  }
  for (let i = 0; i < 10; i++) {
    const bytes = Buffer.alloc(1 + Math.floor(random() * 200));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
    if (i % 2 === 0) bytes[0] = 0x7b; // '{'
    out.push(bytes);
  }
  out.push(Buffer.from(`${'['.repeat(100_000)}`), Buffer.from(`{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`), Buffer.from(`"${SECRET}"`), Buffer.from(` \n${text}\n `.replace('"protocol":1', '"protocol":1.0')));
  return out;
}

for (const impl of SHIM_IMPLS) suite(impl);

/** The suites, with shims of `impl`. */
function suite(impl: ShimImpl): void {
  const launch = (spec: ShimSpecInput) => launchShim(spec, impl.deps);

  describe(`${impl.name} shim: output bytes`, { skip: impl.skip }, () => {
    test('invalid UTF-8, and characters cut between reads, reach the log, the tail and the client as Node decodes them (U+FFFD)', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const parts = [
          Buffer.from('A'),
          Buffer.from([0xff]),
          Buffer.from('B'),
          Buffer.from([0xe2, 0x82]),
          Buffer.from([0xac, 0x20]), // a euro sign cut in two reads
          Buffer.from([0xf0, 0x9f]),
          Buffer.from([0x98]),
          Buffer.from([0x80, 0x20]), // an emoji cut in three
          Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0x20]), // overlong, surrogate
          Buffer.from([0xe2, 0x82]),
          Buffer.from('x'), // a sequence cut short by the next read
          Buffer.from([0xf4, 0x90, 0x80, 0x80, 0x09, 0x01, 0x1b, 0x0a]), // above U+10FFFF; control characters
          Buffer.from([0xe2]), // cut short by the end of the stream
        ];
        const expected = Buffer.concat(parts).toString('utf8');
        const handle = await launch(shimSpecFor(agent, { argv: writerArgv(parts.map((p) => ({ fd: 1, hex: hex(p) })), 20) }));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        let seen = handle.tail.stdout;
        handle.on('output', (stream, text) => {
          if (stream === 'stdout') seen += text;
        });
        const outcome = await handle.exited;
        assert.ok(outcome.kind === 'exited' && outcome.code === 0, JSON.stringify(outcome));
        const log = await readFile(join(runDir, 'gateway.log'), 'utf8');
        assert.ok(log.includes(`\n${expected}\n[fleetd `), `the log holds the output as Node decodes it: ${JSON.stringify(log)}`);
        assert.equal(seen, expected, 'the client got the same text');
        const exit = JSON.parse(await readFile(join(runDir, 'exit.json'), 'utf8')) as { tail: { stdout: string } };
        assert.equal(exit.tail.stdout, expected, 'exit.json keeps the same tail');
        await handle.close();
      }));

    test('a secret cut at every position between two reads, with the other stream in between, never reaches the log, the tail or the client', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const chunks: Array<{ fd: 1 | 2; hex: string }> = [{ fd: 1, hex: hex(`whole ${SECRET} end\n`) }];
        for (let k = 1; k < SECRET.length; k++) {
          chunks.push({ fd: 1, hex: hex(`line${k} ${SECRET.slice(0, k)}`) });
          chunks.push({ fd: 2, hex: hex(`noise ${k} ${SECRET.slice(k)}\n`) });
          chunks.push({ fd: 1, hex: hex(`${SECRET.slice(k)} end\n`) });
        }
        const spec = shimSpecFor(agent, { argv: writerArgv(chunks, 2), secrets: [agent.token, SECRET] });
        const handle = await launch(spec);
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        const seen = { stdout: handle.tail.stdout, stderr: handle.tail.stderr };
        handle.on('output', (stream, text) => (seen[stream] += text));
        const outcome = await handle.exited;
        assert.ok(outcome.kind === 'exited' && outcome.code === 0);
        const log = await readFile(join(runDir, 'gateway.log'), 'utf8');
        const exitJson = await readFile(join(runDir, 'exit.json'), 'utf8');
        for (const [where, text] of Object.entries({ log, exitJson, stdout: seen.stdout, stderr: seen.stderr })) assert.equal(leak(text), undefined, `no piece of the secret in ${where}`);
        // the whole stdout, redacted, from exit.json (the client may attach after the first lines: it sees no leak either way)
        const stdout = (JSON.parse(exitJson) as { tail: { stdout: string } }).tail.stdout;
        assert.ok(stdout.startsWith('whole <redacted> end\n'), stdout.slice(0, 80));
        for (let k = 1; k < SECRET.length; k++) assert.ok(stdout.includes(`line${k} <redacted> end\n`), `cut at ${k}: ${JSON.stringify(stdout.split('\n')[k])}`);
        assert.ok(seen.stdout.endsWith(`line${SECRET.length - 1} <redacted> end\n`), seen.stdout.slice(-80));
        await handle.close();
      }));
  });

  describe(`${impl.name} shim: the gateway's process`, { skip: impl.skip }, () => {
    test('the gateway starts with default signal dispositions and nothing blocked, whatever the shim ignores', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const handle = await launch(shimSpecFor(agent, { argv: ['/bin/cat', '/proc/self/status'], env: { PATH: '/usr/bin:/bin' } }));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        const outcome = await handle.exited;
        assert.ok(outcome.kind === 'exited' && outcome.code === 0, JSON.stringify(outcome));
        const exit = JSON.parse(await readFile(join(runDir, 'exit.json'), 'utf8')) as { tail: { stdout: string } };
        assert.match(exit.tail.stdout, /^SigIgn:\s+0+$/m, 'no signal ignored (a shell gateway would otherwise ignore SIGTERM)');
        assert.match(exit.tail.stdout, /^SigBlk:\s+0+$/m, 'no signal blocked');
        await handle.close();
      }));

    test('a client told of the exit finds exit.json written, even one attaching while the shim records it', async () => {
      // A gateway that exits at once: launchShim's attach races the shim's recording of the
      // exit. The Node shim used to answer such an attach with hello + exit before its
      // exit.json was written (38 of 51 launches here).
      for (let i = 0; i < 20; i++) {
        await withShimAgent({}, async ({ agent, runDir, tracker }) => {
          const handle = await launch(shimSpecFor(agent, { argv: ['/bin/true'], env: { PATH: '/usr/bin:/bin' } }));
          tracker.add(handle.shim.pid, handle.gateway?.pid);
          const outcome = await handle.exited;
          assert.ok(outcome.kind === 'exited' && outcome.code === 0, JSON.stringify(outcome));
          assert.ok(existsSync(join(runDir, 'exit.json')), `launch ${i}: told of the exit (from the ${outcome.from}) before exit.json was written`);
          await handle.close();
        });
      }
    });

    test('a shim started with SIGCHLD ignored still sees its gateway end (the kernel would reap it unseen)', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        await mkdir(runDir, { recursive: true, mode: 0o700 });
        const spec = shimSpecFor(agent, { argv: ['/bin/sh', '-c', 'exit 5'], env: { PATH: '/usr/bin:/bin' } });
        // perl sets SIGCHLD to SIG_IGN and execs the shim, which inherits that (dash's trap would not)
        const child = spawn('perl', ['-e', '$SIG{CHLD} = "IGNORE"; exec @ARGV or exit 127', impl.command[0], ...impl.command[1]], { stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: '/usr/bin:/bin' } });
        tracker.add(child.pid);
        child.stdin.end(JSON.stringify(spec));
        const exit = await waitFor(() => readFile(join(runDir, 'exit.json'), 'utf8').then((t) => JSON.parse(t) as { code: number }, () => undefined), { timeoutMs: 10_000, what: 'exit.json' });
        assert.equal(exit.code, 5);
        await waitFor(() => !isAlive(child.pid!), { timeoutMs: 5000, what: 'the shim to leave' });
      }));

    test('the exit is recorded and the shim leaves while a child of the gateway still holds its pipes', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        // the gateway leaves a child (own session, our stdout and stderr) that outlives it by a minute
        const argv = ['/bin/sh', '-c', 'setsid sleep 60 & echo child $!; exit 7'];
        const handle = await launch(shimSpecFor(agent, { argv, env: { PATH: '/usr/bin:/bin' } }));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        let out = handle.tail.stdout;
        handle.on('output', (stream, text) => {
          if (stream === 'stdout') out += text;
        });
        const child = Number(await waitFor(() => /child (\d+)/.exec(out)?.[1], { timeoutMs: 5000, what: 'the child pid' }));
        tracker.add(child);
        const outcome = await handle.exited;
        assert.ok(outcome.kind === 'exited' && outcome.code === 7, JSON.stringify(outcome));
        await waitFor(() => !isAlive(handle.shim.pid), { timeoutMs: 10_000, what: 'the shim to leave' });
        assert.ok(isAlive(child), 'the child still holds the pipes: the shim did not wait for it');
        assert.equal((JSON.parse(await readFile(join(runDir, 'exit.json'), 'utf8')) as { code: number }).code, 7);
        process.kill(child, 'SIGKILL');
        await handle.close();
      }));
  });

  // The launch chain's first step (src/isolation/launch-chain.ts): the native shim's child
  // writes its own pid to each cgroup.procs before its execve; the Node shim runs the
  // `/bin/sh` join step in front of the argv. Either way the gateway's first instruction runs
  // inside, and a cgroup that cannot be joined ends it with 126 before it executes anything.
  const cgroupMode = cgroupSkipReason('v2') === undefined ? 'v2' : 'v1';
  describe(`${impl.name} shim: the cgroup join`, { skip: impl.skip }, () => {
    test('the gateway is in every cgroup of the spec from its first instruction, its argv and env untouched', { skip: cgroupSkipReason(cgroupMode) }, async () => {
      const cgroups = makeTestCgroups(cgroupMode);
      try {
        const cgroup = agentCgroup(cgroups.host, 'test', 'agent')!;
        cgroup.create();
        await withShimAgent({}, async ({ agent, runDir, tracker }) => {
          // /proc/self/cgroup of the gateway's own (first) process, then its argv and environment
          const argv = ['/bin/sh', '-c', 'cat /proc/$$/cgroup; echo "argv: $0 $1"; env; sed "s/^/shim /" /proc/$PPID/cgroup >&2', 'zero', 'one'];
          const handle = await launch(shimSpecFor(agent, { argv, env: { PATH: '/usr/bin:/bin', ONLY: 'this' }, cgroupProcs: [...cgroup.procsFiles] }));
          tracker.add(handle.shim.pid, handle.gateway?.pid);
          const outcome = await handle.exited;
          assert.ok(outcome.kind === 'exited' && outcome.code === 0, JSON.stringify(outcome));
          const { tail } = JSON.parse(await readFile(join(runDir, 'exit.json'), 'utf8')) as { tail: { stdout: string; stderr: string } };
          const dirs = cgroups.host.kind === 'v2' ? [cgroups.host.rootPath] : cgroups.host.kind === 'v1' ? cgroups.host.hierarchies.map((h) => h.rootPath) : [];
          assert.ok(dirs.length > 0);
          for (const root of dirs) assert.match(tail.stdout, new RegExp(`:${root}/agents/test@agent\\n`), `in ${root}/agents/test@agent: ${tail.stdout}`);
          assert.match(tail.stdout, /^argv: zero one$/m);
          const env = tail.stdout.split('\n').filter((l) => /^[A-Z_]+=/.test(l) && !l.startsWith('PWD=') && !l.startsWith('SHLVL=') && !l.startsWith('_='));
          assert.deepEqual(env.sort(), ['ONLY=this', 'PATH=/usr/bin:/bin'], 'nothing added to the environment');
          const shimLines = tail.stderr.split('\n').filter((l) => l.startsWith('shim '));
          assert.ok(shimLines.length > 0, tail.stderr);
          assert.deepEqual(shimLines.filter((l) => l.includes('agents/test@agent')), [], 'the shim itself stays where it was');
          await handle.close();
        });
      } finally {
        await cgroups.cleanup();
      }
    });

    test('a cgroup that cannot be joined ends the gateway with 126 before it executes anything, the reason in its log', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const missing = '/nonexistent-fleetd-join/agents/test@agent/cgroup.procs';
        const handle = await launch(shimSpecFor(agent, { argv: ['/bin/sh', '-c', 'echo executed'], env: { PATH: '/usr/bin:/bin' }, cgroupProcs: [missing] }));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        const outcome = await handle.exited;
        assert.ok(outcome.kind === 'exited' && outcome.code === 126, JSON.stringify(outcome));
        const { tail } = JSON.parse(await readFile(join(runDir, 'exit.json'), 'utf8')) as { tail: { stdout: string; stderr: string } };
        assert.equal(tail.stdout, '', 'the gateway never ran');
        // the native shim says "cannot write <file>: <strerror>"; the Node shim's `/bin/sh` step the same
        // line after dash's own ("fleetd-join-cgroup: 1: cannot create <file>: <reason>")
        assert.match(tail.stderr, /^fleetd-join-cgroup: cannot write \/nonexistent-fleetd-join\/agents\/test@agent\/cgroup\.procs(: \w|$)/m);
        assert.match(readFileSync(join(runDir, 'gateway.log'), 'utf8'), /fleetd-join-cgroup: .*nonexistent-fleetd-join/);
        await handle.close();
      }));
  });

  describe(`${impl.name} shim: requests checked as zod checks them`, { skip: impl.skip }, () => {
    test('a string is measured in code points (a surrogate pair is one), and a number beyond a double is Infinity', () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const handle = await launch(shimSpecFor(agent));
        tracker.add(handle.shim.pid, handle.gateway?.pid);
        await handle.detach();
        const client = await rawClient(join(runDir, 'shim.sock'));
        client.send({ type: 'attach', id: 1, protocol: 1 });
        await client.next((m) => m.type === 'hello');
        const lines = [
          JSON.stringify({ type: 'note', id: 2, text: '\u{1F600}'.repeat(4096) }), // 8192 UTF-16 units, 4096 code points: accepted
          JSON.stringify({ type: 'note', id: 3, text: '\u{1F600}'.repeat(4097) }),
          JSON.stringify({ type: 'note', id: 4, text: 'é'.repeat(4097) }),
          '{"type":"tail","id":5,"chars":1e400}',
          '{"type":"status","id":-1e400}',
        ];
        for (const line of lines) {
          const json = JSON.parse(line) as { id: number };
          const parsed = clientRequestSchema.safeParse(json);
          const id = Number.isInteger(json.id) && json.id >= 0 ? json.id : null;
          const expected = parsed.success ? { type: 'ok', id } : { type: 'error', id, code: 'bad-message', message: describeIssues(parsed.error) };
          const from = client.messages.length;
          client.send(`${line}\n`);
          const answer = await client.next((m) => m.type === 'ok' || m.type === 'error', from);
          assert.deepEqual(answer, expected, line.slice(0, 60));
        }
        client.socket.destroy();
        process.kill(handle.gateway!.pid, 'SIGKILL');
        await waitFor(() => !isAlive(handle.shim.pid), { timeoutMs: 5000, what: 'the shim to leave' });
      }));
  });

  describe(`${impl.name} shim: launch spec fuzz`, { skip: impl.skip }, () => {
    test('truncated, mutated and random specs are refused on the ready line (never a crash, never a value shown)', async () => {
      const inputs = fuzzSpecs(14);
      const reference = SHIM_IMPLS.find((i) => i.name === 'node')!;
      for (const [n, input] of inputs.entries()) {
        const out = await runByHand(impl, input);
        const what = `input ${n} (${input.length} bytes)`;
        assert.equal(out.signal, null, `${what}: no crash`);
        assert.equal(out.code, 1, `${what}: exit 1 (${out.stdout}${out.stderr})`);
        const lines = out.stdout.split('\n');
        assert.equal(lines.length, 2, `${what}: one line on stdout`);
        const ready = readyLineSchema.parse(JSON.parse(lines[0]!));
        assert.equal(ready.type, 'failed');
        assert.equal(leak(out.stdout + out.stderr), undefined, `${what}: no value shown: ${out.stdout}`);
        // the Node shim is the reference: the native one refuses with the same words
        if (impl.name === 'native' && n % 3 === 0) assert.equal(out.stdout, (await runByHand(reference, input)).stdout, `${what}: as the Node shim says it`);
      }
    });
  });

  const other = SHIM_IMPLS.find((i) => i.name !== impl.name)!;
  describe(`${impl.name} shim: adoption across implementations`, { skip: impl.skip ?? other.skip }, () => {
    test(`a ${impl.name} shim left by its fleetd is adopted by a client that launches ${other.name} shims, and ${other.name} takes the run dir over after the exit`, () =>
      withShimAgent({}, async ({ agent, runDir, tracker }) => {
        const launcher = await launchFromAnotherProcess(shimSpecFor(agent), impl.deps);
        tracker.add(launcher.child.pid, launcher.record.shimPid, launcher.record.gatewayPid);
        launcher.child.kill('SIGKILL');
        await waitFor(() => !isAlive(launcher.child.pid!), { timeoutMs: 5000, what: 'launcher gone' });
        const adopted = await attachShim(runDir, { takeover: true, expect: { gatewayPid: launcher.record.gatewayPid!, specHash: 'test-hash-1' } }, other.deps);
        assert.ok(adopted.ok, adopted.ok ? '' : adopted.message);
        assert.equal(adopted.handle.shim.pid, launcher.record.shimPid);
        await adopted.handle.note('adopted across implementations');
        process.kill(launcher.record.gatewayPid!, 'SIGKILL');
        const ended = await adopted.handle.exited;
        assert.ok(ended.kind === 'exited' && ended.signal === 'SIGKILL');
        await adopted.handle.close();

        const next = await launchShim(shimSpecFor(agent), other.deps);
        tracker.add(next.shim.pid, next.gateway?.pid);
        assert.notEqual(next.shim.pid, launcher.record.shimPid);
        assert.match(readFileSync(`/proc/${next.shim.pid}/cmdline`, 'utf8'), /^fleetd-shim test\/agent/);
        const log = await readFile(join(runDir, 'gateway.log'), 'utf8');
        assert.match(log, /adopted across implementations/);
        process.kill(next.gateway!.pid, 'SIGTERM');
        assert.equal((await next.exited).kind, 'exited');
        await next.close();
      }));
  });
}
