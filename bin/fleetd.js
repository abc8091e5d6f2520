#!/usr/bin/env -S node --max-semi-space-size=1
// --max-semi-space-size=1: fleetd's young generation at 1 MB per semi-space instead of V8's
// 16 MB default keeps the daemon ~30 MB smaller at 200 agents for ~the same CPU
// (bench/overhead-results.md). `npm start` passes the same flag; a restart of fleetd by
// itself keeps it (the successor gets process.execArgv).
import '../dist/daemon/main.js';
