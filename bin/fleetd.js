#!/usr/bin/env -S node --max-semi-space-size=1
// --max-semi-space-size=1: a 1 MB young generation (V8's default is 16 MB) cut fleetd's idle
// CPU at 200 agents from ~2.2 % to ~1.7-2.0 % (its probes allocate per connection; scavenging
// a small young generation often is cheaper); RSS after idle is the same either way
// (bench/overhead-results.md). `npm start` passes the same flag; a restart of fleetd by
// itself keeps it (the successor gets process.execArgv).
import '../dist/daemon/main.js';
