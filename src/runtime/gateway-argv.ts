// How the supervisor launches a gateway from a Runtime. The node binary is named by
// absolute path (never looked up), and its folder goes first on the gateway's PATH so any
// `node` the gateway spawns itself (plugins, workers) is the same, supported one.
import { dirname } from 'node:path';
import type { Runtime } from './types.js';

/** `[node, <dir>/node_modules/openclaw/openclaw.mjs, 'gateway', 'run', '--port', port]`. */
export function gatewayArgv(runtime: Runtime, port: number): string[] {
  return [runtime.node, runtime.entry, 'gateway', 'run', '--port', String(port)];
}

/** The folder to put first on the gateway's PATH: the one holding the runtime's node. */
export function runtimePathDir(runtime: Runtime): string {
  return dirname(runtime.node);
}
