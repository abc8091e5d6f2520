import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FleetError } from '../errors.js';
import { isPermanentRuntimeError } from './failure.js';

test('unknown versions and platforms are permanent; network and lock trouble is not', () => {
  const cases: Array<[unknown, boolean]> = [
    [new FleetError('RUNTIME_FAILED', 'npm error code ETARGET\nnpm error notarget No matching version found for openclaw@0.0.1.'), true],
    [new FleetError('RUNTIME_FAILED', 'npm error code E404\nnpm error 404 Not Found - GET https://registry/openclaw-x'), true],
    [new FleetError('RUNTIME_FAILED', 'openclaw@0.0.1-x is not on the npm registry; list the published versions with `npm view openclaw versions`'), true],
    [new FleetError('UNSUPPORTED_PLATFORM', 'no Node package for sunos-x64'), true],
    [new FleetError('USAGE', 'not an exact version: latest'), true],
    [new FleetError('RUNTIME_FAILED', 'npm error code ECONNRESET\nnpm error network socket hang up'), false],
    [new FleetError('RUNTIME_FAILED', 'npm error code EAI_AGAIN getaddrinfo EAI_AGAIN registry'), false],
    [new FleetError('TIMEOUT', 'another install of openclaw 2026.9.6 held the lock for 15 min'), false],
    [new Error('ENOSPC: no space left on device'), false],
  ];
  for (const [err, permanent] of cases) assert.equal(isPermanentRuntimeError(err), permanent, String((err as Error).message));
});
