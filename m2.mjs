const t0 = performance.now();
const m = process.argv[2];
if (m !== 'none') await import(m);
const t1 = performance.now();
const fs = await import('node:fs');
globalThis.gc?.();
const s = fs.readFileSync('/proc/self/status','utf8');
const sm = fs.readFileSync('/proc/self/smaps_rollup','utf8');
console.log(m, (t1-t0).toFixed(1)+'ms', s.match(/VmRSS:.*/)[0], sm.match(/Pss:.*/)[0], sm.match(/Private_Dirty:.*/)[0], 'heapUsed', (process.memoryUsage().heapUsed/1e6).toFixed(1));
