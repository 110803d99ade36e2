// Text output for people: compact durations, relative times and aligned columns.

const UNITS: Array<[string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** `3d4h`, `5m`, `12s`: the two largest units, as kubectl prints ages. */
export function shortDuration(ms: number): string {
  let rest = Math.max(0, Math.round(ms / 1000) * 1000);
  if (rest === 0) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    } else if (parts.length) break;
  }
  return parts.join('');
}

/** `in 3d4h` or `5m ago`. */
export function relative(at: Date, now: Date): string {
  const ms = at.getTime() - now.getTime();
  return ms >= 0 ? `in ${shortDuration(ms)}` : `${shortDuration(-ms)} ago`;
}

/** RFC 3339 to the second, as Kubernetes writes timestamps. */
export function rfc3339(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 with the relative time: `2030-01-02T03:04:05Z (in 3d)`. */
export function when(at: Date, now: Date): string {
  return `${rfc3339(at)} (${relative(at, now)})`;
}

/** Rows as columns padded to their widest cell; the last column is never padded. */
export function table(rows: string[][], indent = ''): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  return rows
    .map(
      (row) =>
        indent +
        row
          .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}

/** `Label:` lines with the values aligned. */
export function fields(entries: Array<[string, string]>, indent = ''): string {
  return table(
    entries.map(([k, v]) => [`${k}:`, v]),
    indent,
  );
}
