// Lines as a real OpenClaw 2026.9.6 gateway printed them (captured stdout/stderr while its
// openclaw.json was edited: a no-action key, a hot key, an unknown key, a restart key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReloadLine } from './reload-lines.js';

test('parseReloadLine reads what OpenClaw prints about a reload', () => {
  const table: Array<[string, unknown]> = [
    ['2026-12-01T04:00:08.255+00:00 [reload] config change detected; evaluating reload (logging.level)', { kind: 'detected', paths: ['logging.level'] }],
    [
      '2026-12-01T04:00:16.289+00:00 [reload] config change detected; evaluating reload (agents.defaults.model, plugins.entries.anthropic)',
      { kind: 'detected', paths: ['agents.defaults.model', 'plugins.entries.anthropic'] },
    ],
    [
      '2026-12-01T04:00:16.604+00:00 [reload] config hot reload applied (agents.defaults.model, plugins.entries.anthropic)',
      { kind: 'applied', paths: ['agents.defaults.model', 'plugins.entries.anthropic'] },
    ],
    ['2026-12-01T04:00:24.354+00:00 [reload] config reload skipped (invalid config): : Unrecognized key: "fakeUnknownKey"', { kind: 'rejected', detail: 'Unrecognized key: "fakeUnknownKey"' }],
    [
      '2026-12-01T04:00:35.472+00:00 [reload] config change requires gateway restart (gateway.controlUi.basePath) — preparing',
      { kind: 'restart-required', paths: ['gateway.controlUi.basePath'], deferred: false },
    ],
    [
      '2026-12-01T04:00:35.472+00:00 [reload] config change requires gateway restart (gateway.controlUi.basePath) — deferring until 1 active run(s) complete',
      { kind: 'restart-required', paths: ['gateway.controlUi.basePath'], deferred: true },
    ],
    ['2026-12-01T04:00:36.059+00:00 [gateway] received SIGUSR2; restarting', { kind: 'restarting' }],
    ['2026-12-01T04:00:36.332+00:00 [gateway] restart mode: in-process restart (OPENCLAW_NO_RESPAWN)', { kind: 'restarting' }],
    ['2026-12-01T04:00:39.027+00:00 [gateway] ready', { kind: 'ready' }],
    ['2026-12-01T04:00:39.027+00:00 [reload] config reload disabled (gateway.reload.mode=off)', { kind: 'disabled' }],
    ['2026-12-01T04:00:39.027+00:00 [reload] gateway restart recovery unavailable; restart-required reload rejected', { kind: 'restart-refused', detail: 'restart-required reload rejected' }],
    ['2026-12-01T04:00:39.027+00:00 [reload] config reload failed: Error: boom', { kind: 'failed', detail: 'config reload failed: Error: boom' }],
    ['2026-12-01T04:00:39.027+00:00 [reload] config reload skipped (config file not found)', { kind: 'failed', detail: 'the gateway found no config file' }],
    ['\u001b[36m2026-12-01T04:00:16.604+00:00 [reload]\u001b[39m config hot reload applied (tools)', { kind: 'applied', paths: ['tools'] }],
  ];
  for (const [line, want] of table) assert.deepEqual(parseReloadLine(line), want, line);
});

test('parseReloadLine ignores every other line', () => {
  for (const line of [
    '2026-12-01T03:59:57.700+00:00 [gateway] starting...',
    '2026-12-01T04:00:36.060+00:00 [reload] all operations and replies completed; restarting gateway now',
    '2026-12-01T04:00:24.354+00:00 [reload] config reload superseded: Error: newer source',
    '2026-12-01T04:00:24.354+00:00 [reload] config reload retry (1/5): config file not found',
    '[fleetd 2026-12-01T04:00:00.000Z] spawned pid 1 on port 2: node gw',
    'user said: the gateway is ready',
    '',
  ]) {
    assert.equal(parseReloadLine(line), undefined, line);
  }
});
