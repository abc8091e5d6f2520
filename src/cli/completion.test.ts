// The generated bash completion, run by a real bash: commands, subcommands, options,
// and agent addresses fetched from a fixture server through `fleetctl status --json`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { statusBody } from '../../test/support/cli/canned.js';
import { startFixtureServer, type FixtureServer } from '../../test/support/cli/fixture-server.js';
import { cleanEnv, FLEETCTL_BIN, runFleetctl } from '../../test/support/cli/run-bin.js';

describe('bash completion', () => {
  let dir: string;
  let script: string;
  let server: FixtureServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleetd-'));
    server = await startFixtureServer(dir, { 'GET /v1/agents': { json: statusBody() } });
    const r = await runFleetctl(['completion', 'bash']);
    assert.equal(r.exitCode, 0, r.stderr);
    script = join(dir, 'completion.bash');
    await writeFile(script, r.stdout);
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Completes the last word of `words` (words[0] is the fleetctl to run) and returns the candidates. */
  async function complete(...words: string[]): Promise<string[]> {
    const program = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _fleetctl; printf "%s\\n" "${COMPREPLY[@]}"';
    const env = cleanEnv({ FLEETD_SOCKET: server.socket, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` });
    const r = await execa('bash', ['-c', program, 'bash', script, FLEETCTL_BIN, ...words], { env, extendEnv: false, reject: false });
    assert.equal(r.exitCode, 0, String(r.stderr));
    return String(r.stdout).split('\n').filter(Boolean).sort();
  }

  test('top-level commands', async () => {
    assert.deepEqual(await complete('re'), ['reload', 'remove', 'restart', 'restore']);
  });
  test('subcommands and options', async () => {
    assert.deepEqual(await complete('restart', ''), ['agent', 'fleet']);
    assert.deepEqual(await complete('--json', 'runtime', 'i'), ['install']);
    assert.deepEqual(await complete('stop', 'agent', '--t'), ['--timeout']);
    assert.deepEqual(await complete('completion', ''), ['bash']);
  });
  test('agent addresses and fleets come from fleetctl status --json', async () => {
    assert.deepEqual(await complete('logs', '-n', '5', 'acme/'), ['acme/alpha', 'acme/korax']);
    assert.deepEqual(await complete('restart', 'fleet', ''), ['acme', 'beta']);
    assert.deepEqual(await complete('status', 'b'), ['beta', 'beta/zed']);
    assert.deepEqual(await complete('token', 'acme/korax', ''), []);
  });
});
