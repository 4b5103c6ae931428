/** Plain-text building blocks shared by the CLI and the demo: aligned tables, clipped cells, times. */

/** Renders rows as an aligned text table: a header, a rule, then one line per row (trailing spaces trimmed). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [fmt(headers), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n');
}

/** Shortens a string to at most `n` characters, marking the cut with `…`. */
export function clip(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

/** An ISO-8601 UTC time as `2026-11-26 10:00:00.123456` (the precision the source gave is kept). */
export function timeText(iso: string): string {
  return iso.replace('T', ' ').replace(/Z$/, '');
}

/** An ISO-8601 UTC time to the second: `2026-11-26 10:00:00`. */
export function secondsText(iso: string): string {
  return timeText(iso).slice(0, 19);
}
