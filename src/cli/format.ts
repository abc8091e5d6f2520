// Small human formatters for fleetctl's tables: durations (util/duration.ts, compact), byte
// sizes, aligned columns.
// Pure; --json output never goes through here.

/** Binary byte size with one decimal under 100: 512B, 1.5KiB, 87.3MiB, 1.0GiB. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${bytes}B`;
  return `${value < 100 ? value.toFixed(1) : Math.round(value)}${units[unit]}`;
}

/** Aligns rows under a header, two spaces between columns, no trailing blanks. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((row) => (row[col] ?? '').length)));
  const lines = all.map((row) =>
    header
      .map((_, col) => (col === header.length - 1 ? (row[col] ?? '') : (row[col] ?? '').padEnd(widths[col]!)))
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}
