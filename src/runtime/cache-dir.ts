// Where the slow real-network tests (and a developer's fleetctl) keep installed runtimes,
// so the ~840 MB OpenClaw install happens once per machine, not once per test.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$FLEETD_RUNTIME_CACHE`, else `~/.cache/openclaw-fleetd/runtimes`. */
export function defaultRuntimeCacheDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  return env.FLEETD_RUNTIME_CACHE || join(home, '.cache', 'openclaw-fleetd', 'runtimes');
}
