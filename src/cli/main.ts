// fleetctl's entry point (bin/fleetctl.js): real dependencies in, exit code out. The only
// place in the CLI that calls process.exit.
import { defaultDeps } from './deps.js';
import { runCli } from './run.js';

/** Waits until a stream has handed everything over, so process.exit cannot cut output short. */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return stream.writableNeedDrain ? new Promise((resolve) => stream.once('drain', resolve)) : Promise.resolve();
}

// `fleetctl logs -f | head`: a closed stdout ends the run quietly instead of crashing on EPIPE
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// no top-level await: dist/fleetctl.cjs, the bundle bin/fleetctl.js runs, is CommonJS (cli/code-cache.ts says why)
void (async () => {
  const code = await runCli(process.argv.slice(2), defaultDeps());
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
})();
