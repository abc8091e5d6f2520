import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentSecrets, isSensitivePath, redactConfig, redactText, REDACTED } from './redact.js';

const token = 'f'.repeat(64);

test('the redaction set: token, hooks token, secret values and the lines of multi-line ones', () => {
  const set = agentSecrets({ token, hooksToken: 'h'.repeat(64), values: ['-----BEGIN KEY-----\nAAAAbbbbCCCCdddd\nshort\n-----END KEY-----'] });
  assert.ok(set.includes(token));
  assert.ok(set.includes('h'.repeat(64)));
  assert.ok(set.includes('AAAAbbbbCCCCdddd'));
  assert.equal(set.includes('short'), false, 'pieces under 8 characters are too common to redact alone');
});

test('redactText replaces every occurrence', () => {
  assert.equal(redactText(`a ${token} b ${token}`, [token]), `a ${REDACTED} b ${REDACTED}`);
  assert.equal(redactText('nothing here', [token]), 'nothing here');
  assert.equal(redactText('x', []), 'x');
});

test('sensitive paths follow OpenClaw\'s own rule', () => {
  for (const path of ['gateway.auth.token', 'channels.telegram.botToken', 'hooks.token', 'models.providers.x.apiKey', 'gateway.auth.password', 'secrets.providers.vault.path', 'x.localService.env.FOO']) {
    assert.equal(isSensitivePath(path.split('.')), true, path);
  }
  for (const path of ['gateway.auth.mode', 'agents.defaults.maxTokens', 'models.x.contextTokens', 'gateway.auth.passwordFile', 'logging.file']) {
    assert.equal(isSensitivePath(path.split('.')), false, path);
  }
});

test('redactConfig: sensitive leaves and secret values inside other strings are hidden; the rest is as it was', () => {
  const config = {
    gateway: { port: 20000, auth: { mode: 'token', token } },
    channels: { telegram: { botToken: '123:abc', enabled: true, allowFrom: ['+1555'] } },
    agents: { defaults: { maxTokens: 4096, note: `uses sk-secret-0123456789 for x` } },
  };
  const out = redactConfig(config, ['sk-secret-0123456789']);
  assert.deepEqual(out, {
    gateway: { port: 20000, auth: { mode: 'token', token: REDACTED } },
    channels: { telegram: { botToken: REDACTED, enabled: true, allowFrom: ['+1555'] } },
    agents: { defaults: { maxTokens: 4096, note: `uses ${REDACTED} for x` } },
  });
  assert.equal(config.gateway.auth.token, token, 'input untouched');
});
