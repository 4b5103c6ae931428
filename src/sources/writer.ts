/**
 * How every source gets its store writer: one per source, on the store's write worker, with a log line for
 * half-written transactions a previous run left (the store removes them; the source replays them).
 */
import type { SystemKind } from '../model/index.js';
import type { SourceWriter } from '../store/index.js';
import type { SourceContext } from './source.js';

export function openWriter(ctx: SourceContext, system: SystemKind, database: string): SourceWriter {
  const name = ctx.config.name;
  const writer = ctx.store.writer(name, system, database, { worker: true });
  if (writer.removedOnOpen) {
    const removed = writer.removedOnOpen;
    ctx.log.info({ source: name, removed }, 'removed half-written transactions left by a previous run; they will be replayed');
  }
  return writer;
}
