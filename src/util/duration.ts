// The one duration formatter. Two renderings of the same rule: `prose` for reasons and log
// lines ("450 ms", "3.2 s", "4.5 min", "2 h"), `compact` for table columns ("850ms",
// "42s", "3m12s", "2h05m", "3d04h"). Pure.

/** Human duration for sentences: `450 ms`, `3.2 s`, `8 s`, `4.5 min`, `2 h` (one decimal at most). */
export function formatDuration(ms: number): string {
  const value = Math.max(0, ms);
  if (Math.round(value) < 1000) return `${Math.round(value)} ms`;
  const seconds = Math.round(value / 100) / 10;
  if (seconds < 60) return `${trim(seconds)} s`;
  const minutes = Math.round(value / 6000) / 10;
  if (minutes < 60) return `${trim(minutes)} min`;
  return `${trim(Math.round(value / 360_000) / 10)} h`;
}

/** Compact duration for tables: 850ms, 42s, 3m12s, 2h05m, 3d04h; `-` for none or invalid. */
export function formatDurationCompact(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad2(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad2(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad2(h % 24)}h`;
}

/** One decimal, without a trailing `.0`. */
function trim(n: number): string {
  const s = n.toFixed(1);
  return s.endsWith('.0') ? s.slice(0, -2) : s;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
