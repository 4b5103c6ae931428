/** Progress of long operations: drawn in place on a terminal, throttled, cleared at the end; silent elsewhere. */
import { describe, expect, it } from 'vitest';
import { progress, progressLine } from '../../src/present/index.js';

function terminal(isTTY: boolean, columns = 200) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream };
}

describe('progress', () => {
  it('draws at most ten times a second, always the last step, and clears its line at the end', () => {
    const t = terminal(true);
    let now = 0;
    const bar = progress('applying the undo', { stream: t.stream, now: () => now });
    for (let i = 1; i <= 1000; i++) {
      now += 1; // 1 ms per statement: 1 s in all
      bar.update(i, 1000, 'statements');
    }
    bar.end();
    expect(t.writes.length).toBeGreaterThanOrEqual(10);
    expect(t.writes.length).toBeLessThanOrEqual(12);
    expect(t.writes.at(-2)).toBe('\r\x1b[Kapplying the undo: 1,000 / 1,000 (100%) · statements');
    expect(t.writes.at(-1)).toBe('\r\x1b[K');
  });

  it('writes nothing where stderr is not a terminal (pipes, CI)', () => {
    const t = terminal(false);
    const bar = progress('setup app', { stream: t.stream });
    bar.update(1, 3, 'create replication slot');
    bar.end();
    expect(t.writes).toEqual([]);
  });

  it('fits the terminal width, so the line redraws in place instead of wrapping', () => {
    const t = terminal(true, 30);
    progress('setup app', { stream: t.stream }).update(2, 200, 'set REPLICA IDENTITY FULL on public.a_table_with_a_long_name');
    expect(t.writes[0]).toBe('\r\x1b[Ksetup app: 2 / 200 (1%) · se…');
  });

  it('reads well with and without a total', () => {
    expect(progressLine('rebuilding baselines', 1500, null, '1,500 transactions')).toBe('rebuilding baselines: 1,500 · 1,500 transactions');
    expect(progressLine('masking the store', 0, 0)).toBe('masking the store: 0 / 0 (100%)');
  });
});
