#!/usr/bin/env -S node --max-semi-space-size=1 --jitless --no-expose-wasm --optimize-for-size --bytecode-old-age=2
// --max-semi-space-size=1: a 1 MB young generation (V8's default is 16 MB) cut fleetd's idle
// CPU at 200 agents from ~2.2 % to ~1.7-2.0 % (its probes allocate per connection; scavenging
// a small young generation often is cheaper); RSS after idle is the same either way
// (bench/overhead-results.md). `npm start` runs this file, so its flags apply; a restart of
// fleetd by itself keeps them (the successor gets process.execArgv).
// --no-opt: no TurboFan (Ignition and Sparkplug ran fleetd's code then). At 200 agents an
// idle fleetd's RSS fell from 78 to 70 MiB (and 118-125 to 100-105 MiB with all just
// started): TurboFan's own machine code in the node binary is never paged in (-4 MiB of the
// binary's mapping), nor its compile zones and optimized code (-4 MiB anonymous). Its idle
// CPU was 0.05 % against 0.10 %, start all 3.5-3.9 s against 3.3-4.2 s (two trials each):
// fleetd's hot paths are syscalls and the kernel's, not JS worth optimizing.
// --no-sparkplug: no baseline compiler either (Ignition alone). At 200 agents (by hand, one
// trial each, 30 s idle) RSS after idle 69.6 -> 66.5 MiB, all just started 100 -> 89 MiB:
// Sparkplug's machine code for every warm function (the code space, ~2 MiB at 200 agents)
// and its metadata are never made; start all 3.56 -> 3.28 s, idle CPU no higher (0.73 / 0.46 %
// in that window). At 5 agents 60.3 -> 58.4 MiB.
// --jitless (since the ninth session; it implies --no-opt and --no-sparkplug, which the two
// notes above measured): no machine code is made at run time at all, regular expressions are
// interpreted, and WebAssembly is off (--no-expose-wasm says so, else V8 warns on stderr at
// every start; fleetd uses none, and Node's ES module loader falls back
// to its JS lexer). At 200 agents (by hand, 60 s idle, 2026-12-02) RSS after idle 58.6-59.1
// MiB over 6 trials (two with --lite-mode, which is --jitless and flags set here) against
// 59.6-59.9 over 3 with --no-opt --no-sparkplug; start all 1.30-1.39 s against 1.27-1.38 s,
// fleetd's CPU through start and idle 1.17-1.24 against 1.14-1.25 s: the same within the
// noise. Its cost: kill -9 to running again 36.3 ms against 34.9 ms (medians of 27 kills,
// three alternating trials each; not profiled: --jitless also interprets regular expressions).
// --optimize-for-size: V8 favours memory over speed (its heap grows less between collections,
// and less of its own malloc'd memory stays). At 200 agents (by hand, 45 s idle, two trials
// each, 2026-12-02) RSS after idle 61.1-61.4 -> 59.7-59.9 MiB (the malloc heap 7.1-7.3 ->
// 5.4-5.7 MiB), all just started 84-85 -> 69-70 MiB; start all 2.15 -> 2.2 s, start all again
// 1.29-1.37 -> 1.29-1.38 s (fleetd's CPU 0.81-1.06 -> 0.78-0.87 s): the same within the noise.
// MALLOC_ARENA_MAX=1 or 2, MALLOC_TRIM_THRESHOLD_=0, --single-threaded-gc and
// --v8-pool-size=1 changed nothing (62-63 MiB each).
// --bytecode-old-age=2: the bytecode of a function not run since two full collections is
// dropped (V8's default: five), so the start-up and start-all code of an idle fleetd goes
// sooner (it is compiled again if run again). At 200 agents (by hand, 45 s idle, 2026-12-02)
// RSS after idle 59.1-60.0 MiB over 5 trials against 59.9-61.4 over 7 without it (anonymous
// memory 15.5-16.1 against 16.2-17.6 MiB); start all the same within the noise. A forced
// gc() once idle changed nothing (61.0 / 61.0 MiB).
// dist/fleetd/main.js: dist/daemon/main.js and what it imports, bundled (scripts/build.mjs).
import '../dist/fleetd/main.js';
