#!/usr/bin/env -S node --max-semi-space-size=1 --no-opt
// --max-semi-space-size=1: a 1 MB young generation (V8's default is 16 MB) cut fleetd's idle
// CPU at 200 agents from ~2.2 % to ~1.7-2.0 % (its probes allocate per connection; scavenging
// a small young generation often is cheaper); RSS after idle is the same either way
// (bench/overhead-results.md). `npm start` passes the same flag; a restart of fleetd by
// itself keeps it (the successor gets process.execArgv).
// --no-opt: no TurboFan (Ignition and Sparkplug still run fleetd's code). At 200 agents an
// idle fleetd's RSS fell from 78 to 70 MiB (and 118-125 to 100-105 MiB with all just
// started): TurboFan's own machine code in the node binary is never paged in (-4 MiB of the
// binary's mapping), nor its compile zones and optimized code (-4 MiB anonymous). Its idle
// CPU was 0.05 % against 0.10 %, start all 3.5-3.9 s against 3.3-4.2 s (two trials each):
// fleetd's hot paths are syscalls and the kernel's, not JS worth optimizing.
import '../dist/daemon/main.js';
