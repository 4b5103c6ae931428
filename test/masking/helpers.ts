import { expect } from 'vitest';
import fc from 'fast-check';
import { RowtrailError } from '../../src/errors.js';

/** Runs `f`, expects a fatal KEY error with a one-line message, and returns the message. */
export function keyError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RowtrailError);
    expect((e as RowtrailError).code).toBe('KEY');
    expect((e as RowtrailError).fatal).toBe(true);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a KEY error');
}

/** Any UTF-16 string, lone surrogates included (what a bad decoder could hand over). */
export const anyText = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength });
