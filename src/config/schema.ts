/**
 * The one schema of `rowtrail.yaml`. Every key is optional except `sources`; unknown keys are errors
 * (a typo must not silently disable a feature).
 */
import { z } from 'zod';
import { parsePlace } from './masking-paths.js';

const severity = z.enum(['info', 'warning', 'critical']);

/** A source name becomes part of slot, publication and env variable names: keep it simple. */
const sourceName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,40}$/, 'must be lower case letters, digits, - or _, starting with a letter (at most 41 characters)');

export const sourceSchema = z.strictObject({
  /** The source's name: part of the default slot and publication names, of change ids and of the password variable. */
  name: sourceName,
  /** The database kind; MySQL covers MariaDB. */
  kind: z.enum(['postgres', 'mysql']),
  /** Connection URL; the password may come from ROWTRAIL_<NAME>_PASSWORD instead. */
  url: z.string().min(1),
  /** Tables to watch as `schema.table` (PostgreSQL) or `db.table` (MySQL). Default: all tables. */
  tables: z.array(z.string().regex(/^[^.]+\.[^.]+$/, 'must be schema.table')).optional(),
  /** PostgreSQL: `precise` (trigger + logical message) or `sampling` (pg_stat_activity). Default sampling. */
  identity: z.enum(['precise', 'sampling']).optional(),
  /**
   * PostgreSQL precise mode per table: the tables (schema.table) that get the identity trigger; the other
   * watched tables stay in sampling mode (e.g. hot tables). Default: every watched table.
   */
  preciseTables: z.array(z.string().regex(/^[^.]+\.[^.]+$/, 'must be schema.table')).optional(),
  /**
   * PostgreSQL precise mode with the C statement trigger (native/postgres, built and installed on the
   * database host) instead of the PL/pgSQL one: the same messages at a fraction of the cost. Default false.
   */
  preciseNative: z.boolean().optional(),
  /** PostgreSQL replication slot name. Default `rowtrail_<name>`. */
  slot: z.string().regex(/^[a-z0-9_]{1,63}$/, 'must be lower case letters, digits or _').optional(),
  /** PostgreSQL publication name. Default `rowtrail_<name>`. */
  publication: z.string().min(1).max(63).optional(),
  /** MySQL: server id the daemon uses as a replica; must be unique among the server's replicas. */
  serverId: z.number().int().min(1).max(4294967295).optional(),
  /**
   * PostgreSQL: `logical_decoding_work_mem` for rowtrail's own replication connection (e.g. `256kB`, `1MB`): a
   * transaction is streamed to rowtrail before it commits once its decoded changes pass this size, so guards see
   * it early. Default: `256kB` when `guards:` are configured, else the server's setting (64MB by default).
   */
  decodingWorkMem: z
    .string()
    .regex(/^\d+(kB|MB|GB)$/, 'must be a size like 256kB, 1MB or 64MB')
    .optional(),
});

const ops = z.enum(['insert', 'update', 'delete']);

/** A guard: a line an in-flight transaction must not cross (PostgreSQL), and what rowtrail does when it does. */
export const guardSchema = z.strictObject({
  /** The guard's name, shown in alerts and `rowtrail guards`. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be letters, digits, . _ or - (at most 63 characters)'),
  /** Sources it applies to (default: every PostgreSQL source). */
  sources: z.array(z.string()).optional(),
  /** Which actors it applies to; every field given must match (exact, or a glob with `*`). Empty: every actor. */
  match: z
    .strictObject({
      user: z.string().optional(),
      agent: z.string().optional(),
      application: z.string().optional(),
      kind: z.enum(['human', 'service', 'ai-agent', 'unknown']).optional(),
    })
    .default({}),
  /** The line: rows of these operations (on these tables) in one transaction, counted before it commits. */
  when: z
    .strictObject({
      /** One operation (or `ops` for several). Default: insert, update and delete. */
      op: ops.optional(),
      ops: z.array(ops).min(1).optional(),
      /** More than this many rows of the operations, over the matching tables, in one transaction. */
      rowsOver: z.number().int().min(0).optional(),
      /** More than this fraction of one table's rows (catalog estimate), e.g. 0.1. */
      tableFractionOver: z.number().gt(0).max(1).optional(),
      /** Tables (`schema.table`, `*` globs) it counts; default every table. */
      tables: z.array(z.string().regex(/^[^.]+\.[^.]+$/, 'must be schema.table')).min(1).optional(),
    })
    .refine((w) => w.rowsOver !== undefined || w.tableFractionOver !== undefined, 'when needs rowsOver or tableFractionOver')
    .refine((w) => !(w.op && w.ops), 'give op or ops, not both'),
  /** `alert` (dry run: says what it would have done), `cancel` (pg_cancel_backend) or `terminate` (pg_terminate_backend). */
  action: z.enum(['alert', 'cancel', 'terminate']),
});

export const configSchema = z.strictObject({
  sources: z.array(sourceSchema).min(1, 'at least one source is needed'),
  store: z
    .strictObject({
      /** Directory of the embedded store. Default `./rowtrail-data`. */
      path: z.string().default('./rowtrail-data'),
      /** Keep events this long (e.g. `30d`); default forever. */
      retention: z.string().regex(/^\d+[smhdw]$/, 'must be like 30d, 12h').optional(),
    })
    .default({ path: './rowtrail-data' }),
  /** Rules that name the kind of an actor; the first whose every field matches wins. */
  actors: z
    .array(
      z.strictObject({
        /** What to match: session user, application_name, client address (or an IPv4 CIDR), agent; exact, or a glob with `*`. */
        match: z
          .strictObject({
            user: z.string().optional(),
            application: z.string().optional(),
            clientAddr: z.string().optional(),
            agent: z.string().optional(),
          })
          .refine((m) => Object.keys(m).length > 0, 'match needs at least one of user, application, clientAddr, agent'),
        /** The kind of a matching actor. Without a rule: `ai-agent` where an agent is named (`service` for rowtrail's own undo), else `unknown`. */
        kind: z.enum(['human', 'service', 'ai-agent', 'unknown']),
      }),
    )
    .default([]),
  identity: z
    .strictObject({
      /** Shared HMAC key for signed agent context (or ROWTRAIL_IDENTITY_SIGNING_KEY). */
      signingKey: z.string().min(16).optional(),
      /** Largest agent context accepted, in bytes. */
      maxContextBytes: z.number().int().min(64).max(65536).default(2048),
      /** How often the identity sampler reads pg_stat_activity / the processlist, in ms. Default 20. */
      sampleIntervalMs: z.number().int().min(5).max(60000).default(20),
    })
    .default({ maxContextBytes: 2048, sampleIntervalMs: 20 }),
  alerts: z
    .strictObject({
      slack: z.strictObject({ webhookUrl: z.string().url(), minSeverity: severity.default('warning') }).optional(),
      pagerduty: z
        .strictObject({ routingKey: z.string().min(1), minSeverity: severity.default('critical'), url: z.string().url().optional() })
        .optional(),
      webhook: z.strictObject({ url: z.string().url(), secret: z.string().optional(), minSeverity: severity.default('info') }).optional(),
    })
    .default({}),
  masking: z
    .strictObject({
      /** Mask outputs and seal raw images (on by default). `false`: values stay in the clear everywhere. */
      enabled: z.boolean().default(true),
      /**
       * `schema.table.column` (or `schema.table.column.$.key.key` inside JSON values; `*` any key) → how to show
       * it: `none` (clear), `hash` (keyed pseudonym `h:…`), `partial` (`••••1111`), `redact`. Overrides the
       * built-in rules. See src/config/masking-paths.ts for quoting.
       */
      columns: z
        .record(
          z.string().superRefine((k, ctx) => {
            const p = parsePlace(k);
            if (typeof p === 'string') ctx.addIssue({ code: 'custom', message: p });
          }),
          z.enum(['none', 'hash', 'partial', 'redact']),
        )
        .default({}),
      /** Master key file (64 hex characters, mode 0600). Default: ROWTRAIL_MASTER_KEY, else <store>/master.key. */
      keyFile: z.string().optional(),
      /** Run value detectors on values that flow by (name rules and config always apply). Default true. */
      detectValues: z.boolean().default(true),
      /** Longer values are not scanned and are masked unless their column is classified. Default 262144. */
      maxValueChars: z.number().int().min(1024).default(262_144),
    })
    .default({ enabled: true, columns: {}, detectValues: true, maxValueChars: 262_144 }),
  detectors: z.record(z.string(), z.unknown()).default({}),
  /**
   * PostgreSQL guards: act on an in-flight transaction before it commits (docs/decisions.md, "Guards"). A guard
   * ends a session only when the actor is exact (precise identity); otherwise it alerts.
   */
  guards: z
    .array(guardSchema)
    .default([])
    .superRefine((gs, ctx) => {
      const seen = new Set<string>();
      for (const [i, g] of gs.entries()) {
        if (seen.has(g.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `two guards are named '${g.name}'` });
        seen.add(g.name);
      }
    }),
  elasticsearch: z
    .strictObject({
      node: z.string().url(),
      username: z.string().optional(),
      password: z.string().optional(),
      apiKey: z.string().optional(),
    })
    .optional(),
  http: z
    .strictObject({
      /** Address the HTTP API, /healthz and /metrics listen on. */
      host: z.string().default('127.0.0.1'),
      /** Port of the HTTP API; 0 picks a free one. */
      port: z.number().int().min(0).max(65535).default(7077),
      /** Bearer token for the API; or ROWTRAIL_HTTP_TOKEN. Generated into the data dir when absent. */
      token: z.string().min(16).optional(),
    })
    .default({ host: '127.0.0.1', port: 7077 }),
});

export type Config = z.infer<typeof configSchema>;
export type SourceConfig = z.infer<typeof sourceSchema>;
export type GuardConfig = z.infer<typeof guardSchema>;
