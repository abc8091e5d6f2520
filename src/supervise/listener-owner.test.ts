import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, createServer } from 'node:net';
import { once } from 'node:events';
import getPort from 'get-port';
import { withTempDir } from '../util/temp-dir.js';
import { waitFor } from '../util/wait-for.js';
import { describeListener } from '../plan/start-verdict.js';
import { createListenerCheck, createListenTable, createSharedListenerCheck, decodeProcAddress, holderOf, listenersOnPort, parseListenTable, parseListeners, readListenRows, readListenTable } from './listener-owner.js';
import { isAlive } from './proc.js';
import { FAKE_GATEWAY, makeFakeAgent, PidTracker, processesWithEnv, spawnDetachedFake } from '../../test/support/testkit.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:4E20 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0000000000000000 100 0 0 10 0
   1: 00000000:4E20 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 112 1 0000000000000000 100 0 0 10 0
   2: 0100007F:4E20 0100007F:D248 01 00000000:00000000 00:00000000 00000000  1000        0 113 1 0000000000000000 100 0 0 10 0
   3: 0100007F:4E21 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 114 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:4E20 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 121 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:4E20 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 122 1 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000000000000:4E20 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123 1 0000000000000000 100 0 0 10 0
`;

/** Starts a stranger (a foreign program answering 200 everywhere) on `port`; resolves once it listens. */
async function stranger(port: number, tracker: PidTracker): Promise<number> {
  const child = spawn(process.execPath, [FAKE_GATEWAY, '--port', String(port)], { env: { FAKE_MODE: 'stranger', PATH: process.env.PATH }, stdio: 'ignore', detached: true });
  child.unref();
  tracker.add(child.pid);
  await waitFor(() => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok), { timeoutMs: 5000, what: 'the stranger to listen' });
  return child.pid!;
}

describe('parsing /proc/net/tcp{,6}', () => {
  test('LISTEN rows on the port only, with address, uid and inode', () => {
    assert.deepEqual(parseListeners(TCP, 20000), [
      { inode: 111, address: '127.0.0.1', port: 20000, uid: 1000 },
      { inode: 112, address: '0.0.0.0', port: 20000, uid: 1001 },
    ]);
    assert.deepEqual(
      parseListeners(TCP6, 20000).map((s) => s.address),
      ['::1', '::ffff:127.0.0.1', '::'],
    );
    assert.deepEqual(parseListeners('header only\n', 20000), []);
  });

  test('the whole table by port in one pass; connections are not listeners', () => {
    const table = parseListenTable(TCP);
    assert.deepEqual([...table.keys()].sort(), [20000, 20001]);
    assert.deepEqual(table.get(20000)!.map((s) => s.inode), [111, 112]);
    assert.deepEqual(parseListenTable(TCP6, table).get(20000)!.map((s) => s.inode), [111, 112, 121, 122, 123]);
  });

  test('one read of the tables answers every port within its window; the next read after it sees changes', () =>
    withTempDir(async (dir) => {
      await mkdir(join(dir, 'net'), { recursive: true });
      await writeFile(join(dir, 'net', 'tcp'), TCP);
      let t = 0;
      const listeners = createListenTable({ procRoot: dir, maxAgeMs: 50, now: () => t });
      assert.deepEqual(listeners(20000).map((s) => s.inode), [111, 112]);
      // the listener on 20001 closes and the one on 20000 moves: a read within the window does not see it
      await writeFile(join(dir, 'net', 'tcp'), TCP.replace(/\n.*:4E21 .*\n/, '\n').replace(' 111 ', ' 211 '));
      t = 49;
      assert.deepEqual(listeners(20001).map((s) => s.inode), [114], 'the shared read was reused (no second read)');
      assert.deepEqual(listeners(20000).map((s) => s.inode), [111, 112]);
      t = 50;
      assert.deepEqual(listeners(20000).map((s) => s.inode), [211, 112], 'read again once the window is over');
      assert.deepEqual(listeners(20001), []);
      // a check on the shared table answers as one reading the files itself
      await mkdir(join(dir, '4242', 'fd'), { recursive: true });
      await symlink('socket:[211]', join(dir, '4242', 'fd', '4'));
      await symlink('socket:[112]', join(dir, '4242', 'fd', '5'));
      assert.equal(createListenerCheck({ procRoot: dir, listeners })(20000, [4242]).owner, 'agent');
    }));

  test('a check told that something answered on the port never judges "none" from a read made before the bind', () =>
    withTempDir(async (dir) => {
      await mkdir(join(dir, 'net'), { recursive: true });
      // port 20001 (4E21) not bound yet when the shared table is read
      await writeFile(join(dir, 'net', 'tcp'), TCP.replace(/\n.*:4E21 .*\n/, '\n'));
      let t = 0;
      let reads = 0;
      const counted = createListenTable({ procRoot: dir, maxAgeMs: 50, now: () => t });
      const listeners = (port: number, fresh?: boolean) => (reads++, counted(port, fresh));
      const check = createListenerCheck({ procRoot: dir, listeners });
      assert.equal(check(20001, [4242]).owner, 'none');
      await writeFile(join(dir, 'net', 'tcp'), TCP); // the gateway binds; its probe gets an answer
      await mkdir(join(dir, '4242', 'fd'), { recursive: true });
      await symlink('socket:[114]', join(dir, '4242', 'fd', '4'));
      t = 10;
      assert.equal(check(20001, [4242]).owner, 'none', 'without knowing of an answer: the shared read (still within its window)');
      assert.equal(check(20001, [4242], { answered: true }).owner, 'agent', 'an answer on the port: read again, the listener is seen');
      reads = 0;
      assert.equal(check(20001, [4242], { answered: true }).owner, 'agent');
      assert.equal(reads, 1, 'a read that shows the listener is reused, answer or not');
    }));

  test('checks told of an answer at once share one fresh read; a check arriving while it is under way waits for the next', () =>
    withTempDir(async (dir) => {
      await mkdir(join(dir, 'net'), { recursive: true });
      // ports 20000 and 20001 not bound yet when the shared table is read
      await writeFile(join(dir, 'net', 'tcp'), TCP.split('\n')[0] + '\n');
      let reads = 0;
      let during: (() => void) | undefined;
      const table = createListenTable({ procRoot: dir, maxAgeMs: 60_000, onRead: () => (reads++, during?.()) });
      const check = createSharedListenerCheck(table, { procRoot: dir });
      assert.equal((await check(20000, [4242])).owner, 'none');
      assert.equal(reads, 1);
      // three gateways bind; their probes get answers in one turn of the event loop
      await writeFile(join(dir, 'net', 'tcp'), TCP);
      await mkdir(join(dir, '4242', 'fd'), { recursive: true });
      await symlink('socket:[111]', join(dir, '4242', 'fd', '4'));
      await symlink('socket:[112]', join(dir, '4242', 'fd', '5'));
      await symlink('socket:[114]', join(dir, '4242', 'fd', '6'));
      const owners = await Promise.all([check(20000, [4242], { answered: true }), check(20001, [4242], { answered: true }), check(20000, [4242], { answered: true })]);
      assert.deepEqual(owners.map((o) => o.owner), ['agent', 'agent', 'agent']);
      assert.equal(reads, 2, 'one fresh read for the three');
      assert.equal((await check(20001, [4242])).owner, 'agent', 'the fresh read became the shared table');
      assert.equal(reads, 2);
      // an answer handled while a read is under way: that read may have begun before the answer
      let late: Promise<unknown> | undefined;
      during = () => {
        during = undefined;
        late = table.refresh();
      };
      await table.refresh();
      assert.equal(reads, 3);
      await late;
      assert.equal(reads, 4, 'the late caller got a read of its own, begun after it asked');
    }));

  test('a table is read up to its last listener (the kernel lists them first); in another order, to its end', () =>
    withTempDir(async (dir) => {
      const [header, listen1, listen2, connection, listen3] = TCP.split('\n');
      const file = join(dir, 'tcp');
      // thousands of connections after the listeners, as on a busy host: never read
      await writeFile(file, [header, listen1, listen2, listen3, ...Array(5000).fill(connection), ''].join('\n'));
      assert.equal(readListenRows(file), [header, listen1, listen2, listen3, ''].join('\n'));
      // a listener after a connection: this kernel does not list them first; all is read
      const shuffled = [header, listen1, connection, listen2, listen3, ...Array(5000).fill(connection), ''].join('\n');
      await writeFile(file, shuffled);
      assert.equal(readListenRows(file), shuffled);
      assert.deepEqual(parseListenTable(readListenRows(file)).get(20001)!.map((s) => s.inode), [114]);
      // listeners only, or nothing but the header
      await writeFile(file, [header, listen1, ''].join('\n'));
      assert.equal(readListenRows(file), [header, listen1, ''].join('\n'));
      await writeFile(file, header + '\n');
      assert.equal(readListenRows(file), header + '\n');
    }));

  test('tcp6 is not read while sockstat6 counts no IPv6 TCP socket; read when it counts one or cannot be read', () =>
    withTempDir(async (dir) => {
      await mkdir(join(dir, 'net'), { recursive: true });
      await writeFile(join(dir, 'net', 'tcp'), TCP);
      await writeFile(join(dir, 'net', 'tcp6'), TCP6);
      const v6 = () => readListenTable({ procRoot: dir }).get(20000)!.filter((s) => s.address.includes(':')).length;
      assert.equal(v6(), 3, 'no sockstat6: read');
      await writeFile(join(dir, 'net', 'sockstat6'), 'TCP6: inuse 0\nUDP6: inuse 2\n');
      assert.equal(v6(), 0, 'none in use: not read (the file here is stale on purpose)');
      await writeFile(join(dir, 'net', 'sockstat6'), 'TCP6: inuse 3\nUDP6: inuse 0\n');
      assert.equal(v6(), 3);
    }));

  test('on this kernel the LISTEN rows come first: a read up to them finds a new listener, and no connection', async () => {
    const server = createServer((socket) => socket.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const client = connect(port, '127.0.0.1');
    try {
      await once(client, 'connect'); // an ESTABLISHED row (two) in the table
      const rows = readListenRows('/proc/net/tcp').split('\n').slice(1).filter((line) => line.trim() !== '');
      assert.ok(rows.every((line) => line.trim().split(/\s+/)[3] === '0A'), 'only LISTEN rows were read');
      assert.equal(readListenTable().get(port)?.length, 1);
    } finally {
      client.destroy();
      server.close();
    }
  });

  test('addresses decode as people write them', () => {
    assert.equal(decodeProcAddress('0100007F'), '127.0.0.1');
    assert.equal(decodeProcAddress('00000000000000000000000001000000'), '::1');
    assert.equal(decodeProcAddress('B80D0120000000000000000001000000'), '2001:db8::1');
  });
});

describe('who owns the listener (real processes)', () => {
  test('the agent\'s own gateway: owner agent, both loopback listeners; no wide scan', async () => {
    const agent = await makeFakeAgent();
    const tracker = new PidTracker();
    try {
      const pids = await spawnDetachedFake(agent, tracker);
      let wide = 0;
      const check = createListenerCheck({ nameHolder: () => (wide++, undefined) });
      const result = check(agent.port, [pids.pid, pids.helperPid, pids.workerPid]);
      assert.equal(result.owner, 'agent');
      assert.equal(result.owner === 'agent' && result.pid, pids.pid);
      assert.deepEqual(result.owner === 'agent' && result.sockets.map((s) => s.address).sort(), ['127.0.0.1', '::1']);
      assert.equal(wide, 0, 'the agent\'s own pids were enough');
      assert.equal(describeListener(result, agent.port), undefined);
    } finally {
      tracker.killAll();
      await agent.cleanup();
    }
  });

  test('a stranger on the port while the agent\'s gateway waits on it: named by pid and command, once', async () => {
    const agent = await makeFakeAgent({ mode: 'taken-wait:30000' });
    const tracker = new PidTracker();
    try {
      const squatter = await stranger(agent.port, tracker);
      const gateway = spawn(process.execPath, [FAKE_GATEWAY, '--port', String(agent.port)], { cwd: agent.home, env: agent.spec.env, stdio: 'ignore', detached: true });
      gateway.unref();
      tracker.add(gateway.pid);
      let wide = 0;
      const check = createListenerCheck({ nameHolder: (inode) => (wide++, holderOf(inode)) });
      for (let i = 0; i < 5; i++) {
        const result = check(agent.port, [gateway.pid!]);
        assert.equal(result.owner, 'stranger');
        if (result.owner !== 'stranger') return;
        assert.equal(result.pid, squatter);
        assert.equal(result.command, 'node');
        assert.equal(describeListener(result, agent.port), `port ${agent.port} is held by pid ${squatter} (node), not by this agent's gateway`);
      }
      assert.equal(wide, 1, 'the holder is looked for once, not per probe');
      assert.ok(isAlive(gateway.pid!), 'the gateway is still waiting for the port (the window the issue describes)');
    } finally {
      // the waiting gateway's helpers outlive a SIGKILL of it (by design): stop them by the agent's marker too
      tracker.add(...processesWithEnv('OPENCLAW_CONFIG_PATH', agent.configPath));
      tracker.killAll();
      await waitFor(() => tracker.alive().length === 0, { timeoutMs: 5000, what: 'the test processes to exit' });
      await agent.cleanup();
    }
  });

  test('nothing listening: none; the inode of a foreign listener nobody visible holds: unknown, with its uid', () =>
    withTempDir(async (dir) => {
      const port = await getPort({ host: '127.0.0.1' });
      assert.deepEqual(createListenerCheck()(port, [process.pid]), { owner: 'none' });
      assert.deepEqual(listenersOnPort(port), []);
      // A /proc where the listener's holder cannot be seen (another user's process, another pid namespace).
      await mkdir(join(dir, 'net'), { recursive: true });
      await writeFile(join(dir, 'net', 'tcp'), TCP);
      await mkdir(join(dir, '4242', 'fd'), { recursive: true });
      await symlink('socket:[999]', join(dir, '4242', 'fd', '3'));
      const result = createListenerCheck({ procRoot: dir })(20000, [4242]);
      assert.equal(result.owner, 'unknown');
      assert.match(describeListener(result, 20000)!, /port 20000 is held \(listening on 127\.0\.0\.1\) by a process fleetd cannot see, of uid 1000/);
      // the same /proc, where pid 4242 does hold both listeners: the agent
      await symlink('socket:[111]', join(dir, '4242', 'fd', '4'));
      await symlink('socket:[112]', join(dir, '4242', 'fd', '5'));
      assert.equal(createListenerCheck({ procRoot: dir })(20000, [4242]).owner, 'agent');
    }));
});
