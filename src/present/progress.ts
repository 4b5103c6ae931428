/**
 * Progress of a long operation (setup on many tables, a baseline rebuild, an undo apply, a masking migration)
 * as one line redrawn in place on a terminal: `label: 1,200 / 5,000 (24%) · detail`. Silent where stderr is
 * not a terminal (pipes, CI, logs), so scripts see only the command's result. At most ten redraws a second,
 * plus the last one; `end()` clears the line so the result prints on a clean one.
 */
export interface Progress {
  /** `done` of `total` (null: the total is not known); `detail` says what is being done now. */
  update(done: number, total?: number | null, detail?: string): void;
  end(): void;
}

export interface ProgressOptions {
  /** Where it draws; default process.stderr. It draws only when this is a terminal. */
  stream?: NodeJS.WriteStream;
  /** ms clock (tests). */
  now?: () => number;
}

const EVERY_MS = 100;
const SILENT: Progress = { update: () => undefined, end: () => undefined };

export function progress(label: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (!stream.isTTY) return SILENT;
  const now = opts.now ?? Date.now;
  let last = -Infinity;
  let drawn = false;
  return {
    update(done, total = null, detail) {
      const t = now();
      if (t - last < EVERY_MS && done !== total) return;
      last = t;
      drawn = true;
      stream.write(`\r\x1b[K${fitWidth(progressLine(label, done, total, detail), stream.columns)}`);
    },
    end() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}

/** The line drawn (pure). */
export function progressLine(label: string, done: number, total: number | null, detail?: string): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const of = total === null ? n(done) : `${n(done)} / ${n(total)} (${total > 0 ? Math.floor((done / total) * 100) : 100}%)`;
  return `${label}: ${of}${detail ? ` · ${detail}` : ''}`;
}

/** Cut to the terminal's width: a wrapped line would not be redrawn in place. */
function fitWidth(line: string, columns: number | undefined): string {
  const w = columns && columns > 10 ? columns - 1 : 0;
  return w && line.length > w ? `${line.slice(0, w - 1)}…` : line;
}
