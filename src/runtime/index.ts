// The runtime module's public surface: install/reuse OpenClaw versions, list and delete
// them, and build a gateway's argv from one.
export { ensureRuntime, type EnsureRuntimeOptions } from './install.js';
export { listRuntimes, removeRuntime, pruneRuntimes } from './manage.js';
export { gatewayArgv, runtimePathDir } from './gateway-argv.js';
export { defaultRuntimeCacheDir } from './cache-dir.js';
export { createNpmRunner } from './npm.js';
export { runtimeDir } from './layout.js';
export type { Runtime, RuntimeInfo, ProgressEvent, ProgressPhase, NpmRunner, NpmCall, SystemNode } from './types.js';
