// Runs ONE real OpenClaw gateway from an installed runtime, outside fleetd, in a temp home
// shaped like an agent's (for tests of the tools fleetd uses around a gateway: probes,
// preflight, snapshots, restart handoff). The environment is the one fleetd builds.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import getPort from 'get-port';
import type { Runtime } from '../../src/runtime/types.js';
import { waitFor } from '../../src/util/wait-for.js';
import { httpRequest } from '../e2e/real-harness.js';

/** A home with config for a real gateway. */
export interface RealHome {
  home: string;
  openclawDir: string;
  port: number;
  env: Record<string, string>;
}

/** Creates `<dir>/home` with a minimal openclaw.json (loopback, token, browser off) and the gateway's env. */
export async function makeRealHome(dir: string, runtime: Runtime, options: { noRespawn?: boolean } = {}): Promise<RealHome> {
  const home = join(dir, 'home');
  const openclawDir = join(home, '.openclaw');
  for (const d of [openclawDir, join(home, 'logs'), join(home, 'workspace'), join(home, 'tmp'), join(home, '.cache')]) await mkdir(d, { recursive: true, mode: 0o700 });
  const port = await getPort({ host: '127.0.0.1', port: Array.from({ length: 200 }, (_, i) => 29_500 + i * 3) });
  const config = {
    gateway: { mode: 'local', port, bind: 'loopback', auth: { mode: 'token', token: 'f'.repeat(64) } },
    logging: { file: join(home, 'logs', 'openclaw.log') },
    agents: { defaults: { workspace: join(home, 'workspace') } },
    browser: { enabled: false },
  };
  await writeFile(join(openclawDir, 'openclaw.json'), JSON.stringify(config, null, 2), { mode: 0o600 });
  const env: Record<string, string> = {
    PATH: `${dirname(runtime.node)}:/usr/bin:/bin`,
    HOME: home,
    OPENCLAW_HOME: home,
    OPENCLAW_STATE_DIR: openclawDir,
    OPENCLAW_CONFIG_PATH: join(openclawDir, 'openclaw.json'),
    OPENCLAW_PROFILE: 'test-gateway',
    XDG_CACHE_HOME: join(home, '.cache'),
    TMPDIR: join(home, 'tmp'),
    OPENCLAW_GATEWAY_PORT: String(port),
    OPENCLAW_SUPERVISOR_MODE: 'external',
    NODE_ENV: 'production',
  };
  if (options.noRespawn !== false) env.OPENCLAW_NO_RESPAWN = '1';
  return { home, openclawDir, port, env };
}

/** A running (or ended) gateway. */
export interface RealGateway {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  output(): string;
  /** SIGTERM to its process group (and the spawn broker's own group via the tree), then waits. */
  stop(): Promise<number | string>;
}

/** Spawns `openclaw gateway run --port P` of `runtime` in its own process group. */
export function startRealGateway(runtime: Runtime, h: RealHome): RealGateway {
  const child = spawn(runtime.node, [runtime.entry, 'gateway', 'run', '--port', String(h.port)], { cwd: h.home, env: h.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const pid = child.pid!;
  return {
    child,
    pid,
    exited,
    output: () => out,
    async stop() {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        // already gone
      }
      return exited;
    },
  };
}

/** Waits for `/startupz` "started", or for the gateway to exit (then rejects with its output). */
export async function waitStarted(g: RealGateway, port: number, timeoutMs = 180_000): Promise<void> {
  let code: number | string | undefined;
  void g.exited.then((c) => (code = c));
  await waitFor(
    async () => {
      if (code !== undefined) return true;
      const r = await httpRequest(`http://127.0.0.1:${port}/startupz`, { timeoutMs: 2000 }).catch(() => undefined);
      return r?.status === 200 && r.body.includes('"started"');
    },
    { timeoutMs, intervalMs: 250, what: `gateway on ${port} to start` },
  );
  if (code !== undefined) throw new Error(`gateway exited ${code} before starting:\n${g.output().slice(-2000)}`);
}
