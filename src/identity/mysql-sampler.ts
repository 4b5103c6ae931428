/**
 * MySQL / MariaDB sampling: remembers, per thread id, who the session is (processlist: user, host; connect
 * attributes: program_name) and which statements each thread ran (performance_schema statement history,
 * plus the processlist's current statement).
 *
 * - MySQL writes a BEGIN query event carrying the thread id: the source passes it as `sessionId`, and a
 *   thread seen in the processlist is `exact` (thread ids are not reused while the server runs).
 * - MariaDB 10.x writes no thread id for DML transactions (a GTID event, not a BEGIN query event): the
 *   source passes the ANNOTATE_ROWS statement text instead, matched here against what each thread ran. A
 *   text found on exactly one thread is `inferred` (another thread might have run the same text unseen).
 *   The statement history needs `performance_schema=ON` and the consumers `events_statements_current`
 *   and `events_statements_history_long` (or `events_statements_history`) enabled; without it only the current
 *   statement is sampled and short statements are rarely caught (bench/identity-rate measures both).
 * - "Exactly one thread" must mean every run of the text, not every run read so far: the sampler tells the
 *   index which commits it can vouch for (`coverStatements`), and only with a complete history_long (every
 *   statement instrument timed, no overflow between two reads). Runs by threads that ended before they were
 *   read are kept as an unidentified session, so their text stays ambiguous instead of pointing at the rest.
 */
import mysql from 'mysql2/promise';
import type { Logger } from '../log/index.js';
import { coverageClock } from '../model/index.js';
import type { SessionFacts } from './resolver.js';
import { SamplerLoop } from './sampler-loop.js';
import { BoundedMap, OWN_READ_ONLY_APPLICATIONS } from './session-index.js';

export interface MysqlSamplerStats {
  samples: number;
  errors: number;
  /** Which statement history is read: `history_long`, `history`, or null (none available). */
  history: 'history_long' | 'history' | null;
  /** One-line reason when attribution is limited (no PROCESS privilege, no performance_schema). */
  limited: string | null;
}

export interface HistoryAvailability {
  performanceSchema: boolean;
  history: 'history_long' | 'history' | null;
}

export async function historyAvailability(c: mysql.Connection): Promise<HistoryAvailability> {
  const [ps] = (await c.query('SELECT @@performance_schema AS ps')) as any;
  if (!Number(ps[0]?.ps)) return { performanceSchema: false, history: null };
  const [rows] = (await c.query(
    'SELECT NAME, ENABLED FROM performance_schema.setup_consumers ' +
      "WHERE NAME IN ('events_statements_history_long', 'events_statements_history', 'events_statements_current')",
  )) as any;
  const on = new Set((rows as any[]).filter((r) => r.ENABLED === 'YES').map((r) => r.NAME));
  // The history consumers record nothing while events_statements_current is off (consumer hierarchy;
  // measured on MariaDB 10.11, where it is off by default).
  if (!on.has('events_statements_current')) return { performanceSchema: true, history: null };
  const history = on.has('events_statements_history_long') ? 'history_long' : on.has('events_statements_history') ? 'history' : null;
  return { performanceSchema: true, history };
}

function hostOnly(h: unknown): string | null {
  if (typeof h !== 'string' || !h) return null;
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  const i = h.lastIndexOf(':');
  return i > 0 && h.indexOf(':') === i ? h.slice(0, i) : h;
}

/** History events of prepared statement runs, whose binlog text (parameters filled in) no history row holds. */
const PREPARED_RUNS = ['statement/com/Execute', 'statement/sql/execute_sql'];
const PREPARED_WARNING =
  'identity: prepared statements ran (binary protocol or EXECUTE); the binlog logs them with their parameters filled in, a ' +
  'text the statement history does not hold, so statement-text attribution is paused while they run';

export class MysqlSampler extends SamplerLoop {
  private conn: mysql.Connection | null = null;
  private history: MysqlSamplerStats['history'] = null;
  private limited: string | null = null;
  /** performance_schema TIMER_END of the newest history row read (picoseconds). */
  private lastEnd = 0n;
  /** How far before lastEnd the next read starts (ps): the last sample's duration (see sample()). */
  private slack = 0n;
  /** Rows history_long holds; a read returning as many may have missed some (overflow). */
  private ring = 0;
  /** Every statement instrument enabled and timed (else runs can be missing from the history). */
  private complete = false;
  /** The next sample starts a new span of coverage (first one, after a reconnect, after an overflow). */
  private newSpan = true;
  private programs = new Map<string, string>();
  private warnedPrepared = false;
  /** Bytes of a statement's text the history keeps (performance_schema_max_sql_text_length). */
  private maxText = 1024;
  /** performance_schema THREAD_ID → session, for history rows whose thread has ended. */
  private threads = new BoundedMap<string, SessionFacts>(100_000);

  constructor(
    private readonly url: string,
    opts: { intervalMs: number; log?: Logger },
  ) {
    super(opts.intervalMs, opts.log, 'the processlist');
  }

  stats(): MysqlSamplerStats {
    return { samples: this.samples, errors: this.errors, history: this.history, limited: this.limited };
  }

  protected async connect(): Promise<void> {
    const c = await mysql.createConnection({ uri: this.url, connectAttributes: { program_name: 'rowtrail-sampler' } } as any);
    c.on('error', () => undefined);
    this.conn = c;
    this.lastEnd = 0n; // performance_schema timers restart with the server
    this.slack = 0n;
    this.newSpan = true; // what ran while disconnected may be gone from the history
    const h = await historyAvailability(c).catch(() => ({ performanceSchema: false, history: null }) as HistoryAvailability);
    this.history = h.history;
    this.complete = false;
    if (h.history === 'history_long') {
      // Runs missing from the history: an instrument off or untimed, an account left out (setup_actors), no per-thread
      // instrumentation. A thread switched off at run time is checked at each sample (HIDDEN).
      const [r] = (await c
        .query(
          `SELECT @@performance_schema_events_statements_history_long_size AS ring, @@performance_schema_max_sql_text_length AS maxText,
             (SELECT COUNT(*) FROM performance_schema.setup_instruments WHERE NAME LIKE 'statement/%' AND (ENABLED <> 'YES' OR TIMED <> 'YES'))
             + (SELECT COUNT(*) FROM performance_schema.setup_actors WHERE ENABLED <> 'YES' OR HISTORY <> 'YES')
             + (1 - (SELECT COUNT(*) FROM performance_schema.setup_actors WHERE HOST = '%' AND USER = '%' AND ROLE = '%'))
             + (SELECT COUNT(*) FROM performance_schema.setup_consumers
                WHERE NAME IN ('global_instrumentation', 'thread_instrumentation') AND ENABLED <> 'YES') AS off`,
        )
        .catch(() => [[{}]])) as any; // an older performance_schema (no setup_actors.HISTORY): not vouched for
      this.ring = Number(r[0]?.ring ?? 0);
      this.maxText = Number(r[0]?.maxText ?? 1024);
      this.complete = this.ring > 0 && Number(r[0]?.off ?? 1) === 0;
    }
    // PROCESS granted to this account (USER_PRIVILEGES lists the caller's own grants), or other users'
    // sessions visible right now (a role may grant it; no other user connected proves nothing).
    const [priv] = (await c
      .query(
        `SELECT (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'PROCESS'
           AND GRANTEE = CONCAT("'", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), "'@'", SUBSTRING_INDEX(CURRENT_USER(), '@', -1), "'"))
         + (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER <> SUBSTRING_INDEX(CURRENT_USER(), '@', 1)) AS n`,
      )
      .catch(() => [[{ n: 0 }]])) as any;
    const reasons: string[] = [];
    if (!h.history) {
      reasons.push(
        h.performanceSchema
          ? "statement history is off: UPDATE performance_schema.setup_consumers SET ENABLED='YES' " +
            "WHERE NAME IN ('events_statements_current', 'events_statements_history_long')"
          : 'performance_schema is off (start the server with --performance-schema=ON ' +
            '--performance-schema-consumer-events-statements-current=ON --performance-schema-consumer-events-statements-history-long=ON)',
      );
    }
    if (h.history === 'history') {
      reasons.push(
        'no statement-text attribution without the complete history: ' +
          "UPDATE performance_schema.setup_consumers SET ENABLED='YES' WHERE NAME = 'events_statements_history_long'",
      );
    } else if (h.history && !this.complete) {
      reasons.push(
        'no statement-text attribution: some statements are not recorded (a statement/% instrument disabled or untimed in ' +
          'performance_schema.setup_instruments, setup_actors not recording every account, or instrumentation consumers off)',
      );
    }
    if (Number(priv[0]?.n) === 0) reasons.push('only own sessions visible unless the user has the PROCESS privilege (GRANT PROCESS ON *.* TO …)');
    // Without other sessions in view, neither their current statement nor the check above can be made.
    if (Number(priv[0]?.n) === 0) this.complete = false;
    const limited = reasons.length ? `identity sampling limited: ${reasons.join('; ')}` : null;
    if (limited && limited !== this.limited) this.log?.warn(limited);
    this.limited = limited;
  }

  protected async close(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    await c?.end();
  }

  protected async sample(): Promise<void> {
    const c = this.conn!;
    const began = coverageClock();
    const hidden = this.complete
      ? `, (SELECT COUNT(*) FROM performance_schema.threads WHERE PROCESSLIST_ID IS NOT NULL AND (INSTRUMENTED <> 'YES' OR HISTORY <> 'YES')) AS HIDDEN`
      : '';
    const [pl] = (await c.query(`SELECT ID, USER, HOST, COMMAND, INFO${hidden} FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()`)) as any;
    if (this.history !== null || this.programs.size === 0) {
      const [attrs] = (await c
        .query("SELECT PROCESSLIST_ID AS ID, ATTR_VALUE AS V FROM performance_schema.session_connect_attrs WHERE ATTR_NAME = 'program_name'")
        .catch(() => [[]])) as any;
      for (const a of attrs as any[]) this.programs.set(String(a.ID), String(a.V));
    }
    const byId = new Map<string, SessionFacts>();
    for (const r of pl as any[]) {
      // A connection still in its handshake has no user yet: remembering it would name the wrong user later.
      if (r.USER == null || r.USER === 'unauthenticated user') continue;
      // A binlog dump (rowtrail's own stream or another replica's) and rowtrail's read-only connections never write.
      if (String(r.COMMAND ?? '').startsWith('Binlog Dump')) continue;
      const id = String(r.ID);
      if (OWN_READ_ONLY_APPLICATIONS.includes(this.programs.get(id) ?? '')) continue;
      const f: SessionFacts = {
        sessionId: id,
        user: r.USER ?? null,
        application: this.programs.get(id) ?? null,
        clientAddr: hostOnly(r.HOST),
        sessionStart: null,
        query: r.INFO == null ? null : String(r.INFO),
      };
      byId.set(id, f);
      this.index.observeSession(f);
      if (f.query) this.index.observeStatement(f.query, f);
    }
    if (!this.history) return this.index.uncoverStatements();
    const table = this.history === 'history_long' ? 'events_statements_history_long' : 'events_statements_history';
    // A row enters the history when its statement ends, after its TIMER_END is taken: reading from TIMER_START (as
    // before) skipped a statement that started before one already read and ended after that read. Re-reading the
    // last sample's duration before the newest TIMER_END covers a statement that ended between this sampler's
    // processlist and history reads (it was in neither); observing a row twice is harmless.
    const since = this.lastEnd > this.slack ? this.lastEnd - this.slack : 0n;
    const [hist] = (await c.query(
      `SELECT h.THREAD_ID AS TID, t.PROCESSLIST_ID AS ID, t.PROCESSLIST_USER AS U, t.PROCESSLIST_HOST AS H, h.SQL_TEXT AS T,
         CAST(h.TIMER_END AS CHAR) AS TE, h.EVENT_NAME AS E
       FROM performance_schema.${table} h
       LEFT JOIN performance_schema.threads t ON t.THREAD_ID = h.THREAD_ID
       WHERE h.TIMER_END > ${since.toString()} AND (h.SQL_TEXT IS NOT NULL OR h.EVENT_NAME = 'statement/com/Execute')`,
    )) as any;
    let prepared = false;
    for (const h of hist as any[]) {
      const te = BigInt(h.TE ?? '0');
      if (te > this.lastEnd) this.lastEnd = te;
      // A prepared statement's run (binary protocol: no text; SQL EXECUTE: `EXECUTE s …`) is logged by the binlog
      // with its parameters filled in: a text that matches no history row, so another session's run may be the only one.
      if (PREPARED_RUNS.includes(h.E)) prepared = true;
      if (h.T == null) continue;
      const text = String(h.T);
      const tid = String(h.TID);
      if (h.ID == null) {
        // The thread has ended (or is a background thread): who ran this is known only if it was read before.
        const f = this.threads.get(tid);
        if (f) this.index.observeStatement(text, { ...f, query: text });
        else this.index.observeUnidentified(text);
        continue;
      }
      const id = String(h.ID);
      // A thread that came and went between two processlist reads is still known here, from threads;
      // threads' user is the authority (a remembered entry may predate authentication or a COM_CHANGE_USER).
      const known = byId.get(id) ?? this.index.bySession(id);
      const f =
        known && known.user === (h.U ?? null)
          ? known
          : { sessionId: id, user: h.U ?? null, application: this.programs.get(id) ?? null, clientAddr: hostOnly(h.H), sessionStart: null };
      this.threads.set(tid, f);
      this.index.observeStatement(text, { ...f, query: text });
    }
    this.slack = BigInt(Math.ceil(coverageClock() - began) + 1) * 1_000_000_000n;
    // Coverage: only a complete history_long vouches for every run; as many rows as it holds may mean some were
    // overwritten unread, so coverage starts again from now (server clock, whole seconds as binlog timestamps).
    if (this.history !== 'history_long' || !this.complete) return this.index.uncoverStatements();
    // A session whose statements are not recorded: what it ran is unknown, and it may still run now.
    if ((pl as any[]).some((r) => Number(r.HIDDEN) > 0)) {
      this.newSpan = true;
      return this.index.uncoverStatements();
    }
    if ((hist as any[]).length >= this.ring) this.newSpan = true;
    if (prepared) {
      // Its transaction may commit later: only commits from the next whole second after the last such run are vouched for.
      if (!this.warnedPrepared) this.log?.warn(PREPARED_WARNING);
      this.warnedPrepared = true;
      this.newSpan = true;
      return this.index.uncoverStatements();
    }
    // A statement clears its processlist text before it is written to the history (MariaDB's dispatch_command:
    // reset_query, then MYSQL_END_STATEMENT); a thread in between (command Query, no text) ran something this sample
    // read in neither place, so it vouches for nothing new. (Its row is read by the next sample: TIMER_END is later.)
    if ((pl as any[]).some((r) => r.COMMAND === 'Query' && r.INFO == null)) return;
    let from: number | null = null;
    if (this.newSpan) {
      const [now] = (await c.query('SELECT UNIX_TIMESTAMP(NOW(6)) AS t')) as any;
      from = Math.ceil(Number(now[0].t)) * 1000;
      this.newSpan = false;
    }
    this.index.coverStatements(from, began, this.maxText);
  }
}
