// The real dependencies of fleetctl; tests run the built CLI as a process instead of
// replacing these.
import { existsSync } from 'node:fs';
import type { CliDeps } from './context.js';

/** The real world: process streams, environment, filesystem, clock and SIGINT. */
export function defaultDeps(): CliDeps {
  return {
    io: { out: (text) => void process.stdout.write(text), err: (text) => void process.stderr.write(text) },
    env: process.env,
    cwd: process.cwd(),
    exists: existsSync,
    now: Date.now,
    onInterrupt: (handler) => {
      process.once('SIGINT', handler);
      return () => void process.off('SIGINT', handler);
    },
  };
}
