#!/usr/bin/env node
// Runs the compiled test files with node's own test runner.
//   unit: every dist/**/*.test.js except *.real.test.js (fake gateway, real processes)
//   e2e:  dist/**/*.real.test.js (real OpenClaw gateways; installs the runtime once, cached)
//   all:  both, unit first
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const mode = process.argv[2] ?? 'all';
const extra = process.argv.slice(3);

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out.sort();
}

const all = find('dist');
const real = all.filter((f) => f.endsWith('.real.test.js'));
const unit = all.filter((f) => !f.endsWith('.real.test.js'));
const groups = mode === 'unit' ? [unit] : mode === 'e2e' ? [real] : [unit, real];

for (const files of groups) {
  if (files.length === 0) continue;
  const concurrency = files === real ? '1' : '2';
  const run = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...extra, ...files], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
