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

/** An http(s) URL (zod's url() also takes `es:9200`, a URL of scheme `es:`). */
const httpUrl = z.string().regex(/^https?:\/\/[^/\s]/, 'must be an http:// or https:// URL');

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

/** Routing keys shared by every alert channel: a channel gets an alert when every given filter matches. */
const routing = {
  /** The channel's name (for `rowtrail alerts test --channel NAME` and the logs). Default: the kind, then kind-2, … */
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be letters, digits, . _ or - (at most 64)').optional(),
  /** Lowest severity delivered (`info` < `warning` < `critical`). Default: slack `warning`, pagerduty `critical`, webhook `info`. */
  minSeverity: severity.optional(),
  /** Only alerts of these detectors (e.g. `bulk-transaction`). Default: all. */
  detectors: z.array(z.string().min(1)).optional(),
  /** Only alerts of these sources. Default: all. */
  sources: z.array(z.string().min(1)).optional(),
  /** Only alerts about these tables (`schema.table`, `*` globs). Default: all. */
  tables: z.array(z.string().min(1)).optional(),
};

/** Slack: an incoming webhook, or a bot token and channel (chat.postMessage; updates and resolves thread under the first message). */
export const slackChannelSchema = z
  .strictObject({
    ...routing,
    /** Incoming webhook URL (a secret: `${ENV}` or webhookUrlFile). */
    webhookUrl: z.string().min(1).optional(),
    /** File holding the incoming webhook URL. */
    webhookUrlFile: z.string().min(1).optional(),
    /** Bot token (xoxb-…) for chat.postMessage / chat.update; needs `channel`. */
    botToken: z.string().min(1).optional(),
    /** File holding the bot token. */
    botTokenFile: z.string().min(1).optional(),
    /** Channel id or name for the bot token. */
    channel: z.string().min(1).optional(),
    /** Slack Web API base URL (proxies, tests). Default `https://slack.com/api`. */
    apiUrl: z.string().min(1).optional(),
  })
  .refine((c) => c.webhookUrl || c.webhookUrlFile || ((c.botToken || c.botTokenFile) && c.channel), {
    message: 'slack needs webhookUrl (or webhookUrlFile), or botToken (or botTokenFile) with channel',
  });

/** PagerDuty Events API v2. */
export const pagerdutyChannelSchema = z
  .strictObject({
    ...routing,
    /** Integration (routing) key of an Events API v2 integration (a secret: `${ENV}` or routingKeyFile). */
    routingKey: z.string().min(1).optional(),
    /** File holding the routing key. */
    routingKeyFile: z.string().min(1).optional(),
    /** Events API endpoint. Default `https://events.pagerduty.com/v2/enqueue`. */
    url: z.string().min(1).optional(),
  })
  .refine((c) => c.routingKey || c.routingKeyFile, { message: 'pagerduty needs routingKey (or routingKeyFile)' });

/** A signed JSON webhook: the body is the Alert contract; X-Rowtrail-Signature = HMAC-SHA256 of `timestamp.body`. */
export const webhookChannelSchema = z
  .strictObject({
    ...routing,
    /** Receiver URL (http or https). */
    url: z.string().min(1),
    /** Shared HMAC key (a secret: `${ENV}` or secretFile); at least 16 characters. */
    secret: z.string().min(1).optional(),
    /** File holding the shared key. */
    secretFile: z.string().min(1).optional(),
  })
  .refine((c) => c.secret || c.secretFile, { message: 'webhook needs secret (or secretFile): receivers must be able to verify the signature' });

function oneOrMany<T extends z.ZodType>(item: T) {
  return z.union([item, z.array(item).min(1)]);
}

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
  /**
   * Where alerts are delivered: each kind takes one channel or a list of them (e.g. two Slack channels by
   * severity). Secrets may be written as `${ENV_VAR}` or read from a file (the `…File` keys). See README.
   */
  alerts: z
    .strictObject({
      /** Slack: an incoming webhook, or a bot token and channel (updates edit the message, resolves reply in its thread). */
      slack: oneOrMany(slackChannelSchema).optional(),
      /** PagerDuty Events API v2: trigger, and resolve with the same dedup_key. */
      pagerduty: oneOrMany(pagerdutyChannelSchema).optional(),
      /** A JSON POST of the Alert contract, signed (X-Rowtrail-Signature: HMAC-SHA256 of `timestamp.body`). */
      webhook: oneOrMany(webhookChannelSchema).optional(),
      /** Seconds a delivery request may take before it counts as failed and is retried. Default 10. */
      timeoutSeconds: z.number().min(0.1).max(300).default(10),
      /** A notification still undelivered after this long (e.g. `24h`) is marked failed. Default `24h`. */
      giveUpAfter: z.string().regex(/^\d+[smhdw]$/, 'must be like 24h, 30m').default('24h'),
    })
    .default({ timeoutSeconds: 10, giveUpAfter: '24h' }),
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
  /** The Elasticsearch sink (src/sinks/elasticsearch): changes and alerts as data streams, Kibana dashboards. */
  elasticsearch: z
    .strictObject({
      /** Elasticsearch URL (8.x or 9.x). Or ROWTRAIL_ELASTICSEARCH_NODE. */
      node: httpUrl.optional(),
      /** Several nodes of one cluster (requests are spread over them); with or instead of `node`. */
      nodes: z.array(httpUrl).min(1).optional(),
      /** API key (the base64 `id:key` form Elasticsearch returns as `encoded`). Or ROWTRAIL_ELASTICSEARCH_API_KEY. */
      apiKey: z.string().min(1).optional(),
      /** Basic auth user (with `password`). Or ROWTRAIL_ELASTICSEARCH_USERNAME. */
      username: z.string().min(1).optional(),
      /** Basic auth password; better from ROWTRAIL_ELASTICSEARCH_PASSWORD than in the file. */
      password: z.string().optional(),
      /** PEM file of the CA that signed the cluster's certificate (self-managed TLS). */
      caFile: z.string().min(1).optional(),
      /** Data stream namespace: `rowtrail-changes-<namespace>`, `rowtrail-alerts-<namespace>`. Default `default`. */
      namespace: z
        .string()
        .regex(/^[a-z0-9][a-z0-9_.]{0,99}$/, 'must be lower case letters, digits, _ or . (no - : it separates the data stream name)')
        .default('default'),
      /** Delete documents older than this (e.g. `90d`); default keep forever. */
      retention: z.string().regex(/^\d+[smhd]$/, 'must be like 90d, 12h').optional(),
      /**
       * How retention is enforced: `data-stream` (data stream lifecycle, Elasticsearch 8.14+) or `ilm` (an ILM
       * policy `rowtrail-<namespace>` that rolls over daily or at 50 GB and deletes after `retention`). Default `data-stream`.
       */
      lifecycle: z.enum(['data-stream', 'ilm']).default('data-stream'),
      /** Kibana URL, for `rowtrail setup elastic` (dashboards). Or ROWTRAIL_KIBANA_URL. Same credentials as Elasticsearch. */
      kibanaUrl: httpUrl.optional(),
      /** Documents per bulk request (also the most the sink holds in memory). Default 1000. */
      batchSize: z.number().int().min(1).max(50_000).default(1000),
      /** The sink warns (log, /metrics) when its oldest unsent change committed longer ago than this. Default 300. */
      maxLagSeconds: z.number().int().min(1).default(300),
    })
    .refine((e) => e.node || e.nodes, 'needs node (or nodes): the Elasticsearch URL')
    .refine((e) => !(e.apiKey && e.username), 'use either apiKey or username/password, not both')
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
