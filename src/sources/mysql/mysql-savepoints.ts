/**
 * Savepoints inside a binlog transaction (pure).
 *
 * MariaDB and MySQL truncate their binlog transaction cache on `ROLLBACK TO SAVEPOINT` — unless the
 * transaction has already changed a non-transactional table (MyISAM, MEMORY, Aria, …). Then the cache is
 * kept, and the rolled-back row events stay in the committed transaction, followed by a `ROLLBACK TO x`
 * query event; the `SAVEPOINT x` query event marks where they start. (In ROW format the non-transactional
 * rows themselves are not in this group: they are logged at once as their own group ending in `COMMIT`.)
 * So the rows between the newest `SAVEPOINT x` and `ROLLBACK TO x` did not happen and must be cut.
 *
 * A `ROLLBACK TO` whose savepoint is not in the group cannot be placed: the caller stops with the reason
 * rather than guess which rows to keep. (The server never writes one: a savepoint set before the
 * transaction's first logged change is rolled back by a full `ROLLBACK` of the group.)
 */

export type TxControl =
  | { kind: 'savepoint'; name: string }
  | { kind: 'rollback-to'; name: string }
  | { kind: 'release'; name: string }
  | { kind: 'rollback' };

/** Leading comments and whitespace (`/* … *\/`, `-- …`, `# …`). */
const LEAD = String.raw`^(?:\s+|/\*[\s\S]*?\*/|(?:--\s|#)[^\n]*(?:\n|$))*`;
const IDENT = String.raw`(\x60(?:[^\x60]|\x60\x60)+\x60|"(?:[^"]|"")+"|[A-Za-z0-9_$\u0080-\uffff]+)`;
const TAIL = String.raw`(?:\s+|;|/\*[\s\S]*?\*/|(?:--\s|#)[^\n]*)*$`;
const SAVEPOINT = new RegExp(`${LEAD}SAVEPOINT\\s+${IDENT}${TAIL}`, 'i');
const RELEASE = new RegExp(`${LEAD}RELEASE\\s+SAVEPOINT\\s+${IDENT}${TAIL}`, 'i');
const ROLLBACK_TO = new RegExp(`${LEAD}ROLLBACK(?:\\s+WORK)?\\s+TO\\s+(?:SAVEPOINT\\s+)?${IDENT}${TAIL}`, 'i');
const ROLLBACK = new RegExp(`${LEAD}ROLLBACK(?:\\s+WORK)?(?:\\s+AND\\s+(?:NO\\s+)?CHAIN)?(?:\\s+(?:NO\\s+)?RELEASE)?${TAIL}`, 'i');
const HEAD = new RegExp(`${LEAD}(SAVEPOINT|RELEASE|ROLLBACK)\\b`, 'i');

/**
 * Classifies a query event that controls a transaction: `SAVEPOINT x`, `ROLLBACK [WORK] TO [SAVEPOINT] x`,
 * `RELEASE SAVEPOINT x`, a full `ROLLBACK`; null for anything else. A statement that starts like one of
 * these but does not parse throws (a rollback misread is a dropped or an invented change).
 */
export function txControl(sql: string): TxControl | null {
  if (!HEAD.test(sql)) return null;
  let m = ROLLBACK_TO.exec(sql);
  if (m) return { kind: 'rollback-to', name: savepointName(m[1]) };
  if (ROLLBACK.test(sql)) return { kind: 'rollback' };
  m = SAVEPOINT.exec(sql);
  if (m) return { kind: 'savepoint', name: savepointName(m[1]) };
  m = RELEASE.exec(sql);
  if (m) return { kind: 'release', name: savepointName(m[1]) };
  throw new Error(`unrecognized transaction control statement ${JSON.stringify(sql.slice(0, 100))}`);
}

/**
 * A savepoint name as the server compares it: unquoted, then folded like utf8mb3_general_ci (the server's
 * `system_charset_info`): case and accents do not count (`Foo` = `FOO`, `é` = `e`); trailing spaces do.
 */
export function savepointName(ident: string): string {
  let s = ident;
  if (s.startsWith('`')) s = s.slice(1, -1).replace(/``/g, '`');
  else if (s.startsWith('"')) s = s.slice(1, -1).replace(/""/g, '"');
  return s.normalize('NFD').replace(/\p{M}/gu, '').toUpperCase();
}

/** The savepoints of one open transaction: each name with the number of changes the transaction had then. */
export class Savepoints {
  private list: { name: string; size: number }[] = [];

  /** `SAVEPOINT x` at `size` changes: a savepoint of the same name is replaced. */
  set(name: string, size: number): void {
    this.list = this.list.filter((s) => s.name !== name);
    this.list.push({ name, size });
  }

  /**
   * `ROLLBACK TO x`: the number of changes to cut the transaction back to, or null when no savepoint `x`
   * is in this group. Savepoints set after `x` are gone; `x` itself stays.
   */
  rollbackTo(name: string): number | null {
    const i = this.list.findIndex((s) => s.name === name);
    if (i < 0) return null;
    this.list.length = i + 1;
    return this.list[i].size;
  }

  /** `RELEASE SAVEPOINT x`: `x` and every savepoint set after it are gone. */
  release(name: string): void {
    const i = this.list.findIndex((s) => s.name === name);
    if (i >= 0) this.list.length = i;
  }
}
