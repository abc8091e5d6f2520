import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, formatPretty, LOG_LEVELS, resolveLogLevel } from './logger.js';

/** Collects everything written to it. */
function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

test('token-like keys are redacted from log lines, at any depth fleetd uses', () => {
  const out = sink();
  const log = createLogger({ destination: out.stream, pretty: false });
  const secret = 'f'.repeat(64);
  log.info({ token: secret, entry: { token: secret }, config: { gateway: { auth: { token: secret } } }, env: { SECRET: secret } }, 'x');
  log.child({ agent: 'acme/a' }).warn({ token: secret }, 'child');
  assert.ok(!out.text().includes(secret), out.text());
  assert.match(out.text(), /<redacted>/);
  assert.match(out.text(), /"agent":"acme\/a"/);
});

test('pretty lines are short and human', () => {
  const line = formatPretty(JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12, 34, 56), pid: 1, agent: 'acme/a', msg: 'gateway exited', code: 1 }));
  assert.equal(line, '12:34:56 WARN  [acme/a] gateway exited code=1\n');
  assert.equal(formatPretty('not json'), 'not json');
});

test('the log level: --log-level, else FLEETD_LOG_LEVEL, else info; one that is not a level names where it came from', () => {
  assert.equal(resolveLogLevel('debug', { FLEETD_LOG_LEVEL: 'warn' }), 'debug');
  assert.equal(resolveLogLevel(undefined, { FLEETD_LOG_LEVEL: 'warn' }), 'warn');
  assert.equal(resolveLogLevel(undefined, {}), 'info');
  assert.equal(resolveLogLevel(undefined, { FLEETD_LOG_LEVEL: '' }), 'info', 'set but empty: the default');
  for (const level of LOG_LEVELS) assert.equal(resolveLogLevel(level, {}), level);
  assert.throws(() => resolveLogLevel('bogus', {}), { name: 'FleetError', code: 'USAGE', message: '--log-level must be one of trace, debug, info, warn, error, fatal, silent, not "bogus"' });
  assert.throws(() => resolveLogLevel(undefined, { FLEETD_LOG_LEVEL: 'DEBUG' }), { code: 'USAGE', message: 'FLEETD_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, not "DEBUG"' });
});
