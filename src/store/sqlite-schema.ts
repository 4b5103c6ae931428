/** The embedded store's schema (SQLite). Bump SCHEMA_VERSION and add a migration step for any change. */
export const SCHEMA_VERSION = 3;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);

-- Last durable position per source: where capture resumes. Written in the same SQLite transaction as the
-- changes it covers.
CREATE TABLE IF NOT EXISTS positions (
  source     TEXT PRIMARY KEY,
  position   TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- Table shapes (column names and types) as seen by a source; changes point at the shape they were decoded with.
CREATE TABLE IF NOT EXISTS shapes (
  shape_pk INTEGER PRIMARY KEY,
  source   TEXT NOT NULL,
  schema   TEXT NOT NULL,
  tbl      TEXT NOT NULL,
  types    TEXT NOT NULL,
  UNIQUE (source, schema, tbl, types)
);

-- One row per source transaction. state 'open' rows are being written (large or streamed transactions);
-- only 'committed' rows are visible to readers. Open rows left by a crash are removed on restart, and the
-- source replays them from its durable position.
CREATE TABLE IF NOT EXISTS transactions (
  tx_pk       INTEGER PRIMARY KEY,
  source      TEXT NOT NULL,
  system      TEXT NOT NULL,
  database    TEXT NOT NULL,
  xid         TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('open', 'committed')),
  position    TEXT,
  commit_seq  INTEGER,
  commit_time TEXT,
  commit_us   INTEGER,
  size        INTEGER NOT NULL DEFAULT 0,
  actor       TEXT,
  actor_user  TEXT,
  actor_agent TEXT,
  actor_kind  TEXT,
  agent_run   TEXT,
  masked      INTEGER NOT NULL DEFAULT 0  -- schema 3: 1 = its changes were masked and sealed; 0 = in the clear
);
CREATE UNIQUE INDEX IF NOT EXISTS transactions_position ON transactions (source, position) WHERE state = 'committed';
CREATE INDEX IF NOT EXISTS transactions_open ON transactions (source) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS transactions_seq ON transactions (commit_seq);
CREATE INDEX IF NOT EXISTS transactions_time ON transactions (commit_us);
CREATE INDEX IF NOT EXISTS transactions_xid ON transactions (xid);
CREATE INDEX IF NOT EXISTS transactions_actor_user ON transactions (actor_user);
CREATE INDEX IF NOT EXISTS transactions_actor_agent ON transactions (actor_agent);
CREATE INDEX IF NOT EXISTS transactions_agent_run ON transactions (agent_run);

-- Row changes. key is the canonical JSON of the key columns (sorted), so a row's history is one index lookup.
CREATE TABLE IF NOT EXISTS changes (
  tx_pk    INTEGER NOT NULL,
  idx      INTEGER NOT NULL,
  schema   TEXT NOT NULL,
  tbl      TEXT NOT NULL,
  op       TEXT NOT NULL,
  key      TEXT,
  before   TEXT,
  after    TEXT,
  changed  TEXT,            -- NULL: every column of the image (inserts, deletes)
  extra    TEXT,
  shape_pk INTEGER,
  sealed   BLOB,            -- schema 3: the raw values of masked cells, AES-256-GCM (src/masking/seal.ts): this change's,
                            -- or a slice blob with those of every change of the transaction that points here
  sealed_at INTEGER,        -- schema 3: idx of the change (same tx) whose blob holds this one's cells; NULL: none
  PRIMARY KEY (tx_pk, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS changes_row ON changes (schema, tbl, key);

-- Alerts (schema 2): one row per alert id, rewritten as the alert is updated and resolved. body is the Alert
-- contract as JSON; the columns beside it are for filtering.
CREATE TABLE IF NOT EXISTS alerts (
  id         TEXT PRIMARY KEY,
  detector   TEXT NOT NULL,
  severity   TEXT NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
  source     TEXT NOT NULL,
  tbl        TEXT,
  actor      TEXT,
  opened_us  INTEGER NOT NULL,
  updated_us INTEGER NOT NULL,
  body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_opened ON alerts (opened_us);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (state, opened_us);

-- The detectors' state (baselines) and the commit_seq of the last transaction they saw, written in the same
-- SQLite transaction as the alerts that state produced: a crash replays transactions after seq, never twice.
CREATE TABLE IF NOT EXISTS detector_state (
  name       TEXT PRIMARY KEY,
  seq        INTEGER NOT NULL,
  state      TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- Masking (schema 3): sticky classifications, written in the same SQLite transaction as the batch whose
-- changes made them (a replay classifies the same). place: schema.table.column[.$.path]; body: Classification.
-- The keyring (data keys wrapped by the master key) is meta 'keyring'.
CREATE TABLE IF NOT EXISTS masking_columns (
  place TEXT PRIMARY KEY,
  body  TEXT NOT NULL
);

-- Alert delivery (schema 3): the outbox. One row per notification (an alert opened, updated or resolved)
-- per channel, written in the same SQLite transaction as the alert, so a crash never loses one; the delivery
-- worker sends them in id order per channel and marks a row sent only after the receiver's 2xx.
-- delivery_id is stable across retries and restarts (receivers dedupe on it); ref is what the receiver gave
-- back for threading (Slack's message ts).
CREATE TABLE IF NOT EXISTS alert_outbox (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id TEXT NOT NULL UNIQUE,
  alert_id    TEXT NOT NULL,
  channel     TEXT NOT NULL,
  event       TEXT NOT NULL CHECK (event IN ('opened', 'updated', 'resolved')),
  body        TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed', 'skipped')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_ms     INTEGER NOT NULL,
  created_ms  INTEGER NOT NULL,
  done_ms     INTEGER,
  status      INTEGER,
  error       TEXT,
  ref         TEXT
);
CREATE INDEX IF NOT EXISTS alert_outbox_queue ON alert_outbox (channel, state, id);
CREATE INDEX IF NOT EXISTS alert_outbox_alert ON alert_outbox (alert_id, channel);

-- Sinks (schema 3; the Elasticsearch sink, src/sinks/elasticsearch): each sink's cursor. (seq, idx): the last change
-- delivered is change idx of the transaction with commit_seq seq; idx -1: that whole transaction (a transaction
-- larger than one bulk request is delivered in parts). Advanced only after a bulk request's items all
-- succeeded, were already stored, or were dead-lettered (in the same SQLite transaction).
CREATE TABLE IF NOT EXISTS sink_cursors (
  sink       TEXT PRIMARY KEY,
  seq        INTEGER NOT NULL,
  idx        INTEGER NOT NULL DEFAULT -1,
  updated_at TEXT NOT NULL
);

-- Documents a sink could not deliver because the receiver rejected them for good (e.g. a mapping error):
-- kept with the reason, reported, never silently dropped. doc is the document as sent (masked values only).
CREATE TABLE IF NOT EXISTS sink_dead_letters (
  sink    TEXT NOT NULL,
  doc_id  TEXT NOT NULL,
  target  TEXT NOT NULL,
  status  INTEGER NOT NULL,
  reason  TEXT NOT NULL,
  doc     TEXT NOT NULL,
  at      TEXT NOT NULL,
  PRIMARY KEY (sink, doc_id)
);

-- The alert states a sink delivered (one document per state an alert enters: open, resolved).
CREATE TABLE IF NOT EXISTS sink_alert_states (
  sink     TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  state    TEXT NOT NULL,
  PRIMARY KEY (sink, alert_id, state)
);
`;

/** Schema 3 columns added to tables of older stores (ALTER TABLE … ADD COLUMN where missing). */
export const ADDED_COLUMNS: [table: string, column: string, decl: string][] = [
  ['transactions', 'masked', 'INTEGER NOT NULL DEFAULT 0'],
  ['changes', 'sealed', 'BLOB'],
  ['changes', 'sealed_at', 'INTEGER'],
  // The tables a committed transaction wrote (`schema.table`, sorted, joined by char(31)), so "who wrote what"
  // over a window reads transactions only. NULL for transactions stored before it (their changes are read).
  ['transactions', 'tables', 'TEXT'],
];

/** Index created after ADDED_COLUMNS (it names one of them). */
export const AFTER_MIGRATION_SQL = `CREATE INDEX IF NOT EXISTS transactions_clear ON transactions (tx_pk) WHERE masked = 0;`;
