/**
 * `rowtrail setup` for PostgreSQL: the publication (all tables, or the configured list), the pgoutput slot,
 * optionally REPLICA IDENTITY FULL on tables that lack a full before image, and precise mode. Idempotent.
 *
 * Setup plans first, then checks that the role may run every planned statement, then runs them: a role that
 * lacks something gets one message naming everything it lacks (never "must be owner of table x" after half
 * the work), with the way out for a non-superuser: a DBA runs the SQL of `setup --dry-run`. `dryRun` always
 * returns that SQL, with the problems that would block it listed first.
 */
import pg from 'pg';
import type { SourceConfig } from '../../config/index.js';
import { RowtrailError } from '../../errors.js';
import type { SetupOptions, SetupResult } from '../setup.js';
import { classifyPgError, publicationName, slotName } from './postgres-errors.js';
import { publicationTables, qualified, quoteIdent, watchedTables, type WatchedTable } from './postgres-catalog.js';
import {
  installPrecise,
  preciseInstallStatements,
  preciseRegisterStatements,
  preciseTablesFor,
  preciseTablesOf,
  preciseUninstallFor,
  runInTransaction,
} from '../../identity/index.js';

export type { SetupOptions, SetupResult };

/** What a planned statement needs from the role. */
type Need = { kind: 'replication' } | { kind: 'create' } | { kind: 'superuser'; why: string } | { kind: 'owner'; tables: WatchedTable[] };

interface Step {
  sql: string[];
  note: string;
  needs: Need[];
  /** Runs the step (default: each statement on its own, autocommit). */
  run?: () => Promise<string[]>;
}

interface Role {
  me: string;
  db: string;
  superuser: boolean;
  replication: boolean;
  create: boolean;
  superusers: string[];
}

export async function postgresSetup(url: string, cfg: SourceConfig, opts: SetupOptions = {}): Promise<SetupResult> {
  const client = new pg.Client({ connectionString: url, application_name: 'rowtrail-setup', connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    throw classifyPgError(e, cfg);
  }
  try {
    const role = (
      await client.query(
        `SELECT current_user AS me, current_database() AS db, r.rolsuper AS superuser, r.rolreplication OR r.rolsuper AS replication,
                has_database_privilege(current_database(), 'CREATE') AS "create",
                ARRAY(SELECT rolname::text FROM pg_roles WHERE rolsuper) AS superusers
           FROM pg_roles r WHERE r.rolname = current_user`,
      )
    ).rows[0] as Role;
    const problems: string[] = [];
    const steps = opts.uninstall ? await uninstallPlan(client, cfg) : await installPlan(client, cfg, opts, problems);
    const res: SetupResult = { statements: steps.flatMap((s) => s.sql), notes: [], problems };
    if (opts.dryRun) {
      res.notes = steps.map((s) => `would ${s.note}`);
      if (!steps.length) res.notes.push(opts.uninstall ? 'nothing to remove' : 'nothing to do: everything is in place');
      return res;
    }
    // One message with everything: what blocks setup, then what this role lacks for the planned statements.
    const lacking = missingPrivileges(role, steps);
    if (problems.length || lacking.length) {
      const parts = problems.length && lacking.length ? [...problems, `and role ${role.me} lacks: ${lacking.join('; ')}`] : [...problems, ...lacking];
      throw new RowtrailError(
        problems.length ? 'SERVER_SETTING' : 'PERMISSION',
        `${lacking.length ? `role ${role.me} cannot run setup of ${cfg.name}` : `${cfg.name}: setup cannot run`}: ${parts.join('; ')}` +
          (lacking.length
            ? `. Grant that, or have a DBA (a superuser or the tables' owner) run the SQL printed by: rowtrail setup --dry-run --source ${cfg.name}`
            : ''),
      );
    }
    for (const [i, s] of steps.entries()) {
      opts.onStep?.(i, steps.length, s.note);
      try {
        if (s.run) res.notes.push(...(await s.run()));
        else for (const sql of s.sql) await client.query(sql);
      } catch (e) {
        throw classifyPgError(e, cfg);
      }
      res.notes.push(s.note);
    }
    if (!steps.length) res.notes.push(opts.uninstall ? 'nothing to remove' : 'everything is already in place');
    return res;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Everything the role lacks for the planned steps, one phrase per privilege, each with its grant. */
function missingPrivileges(role: Role, steps: Step[]): string[] {
  if (role.superuser) return [];
  const needs = steps.flatMap((s) => s.needs);
  const out: string[] = [];
  if (needs.some((n) => n.kind === 'replication') && !role.replication) {
    out.push(`the replication slot needs the REPLICATION attribute (ALTER ROLE ${quoteIdent(role.me)} REPLICATION)`);
  }
  if (needs.some((n) => n.kind === 'create') && !role.create) {
    out.push(
      `the publication and schema rowtrail need CREATE on database ${role.db} (GRANT CREATE ON DATABASE ${quoteIdent(role.db)} TO ${quoteIdent(role.me)})`,
    );
  }
  const su = [...new Set(needs.flatMap((n) => (n.kind === 'superuser' ? [n.why] : [])))];
  if (su.length) out.push(`${su.join(' and ')} need(s) a superuser`);
  const notOwned = new Map<string, WatchedTable>();
  for (const n of needs) if (n.kind === 'owner') for (const t of n.tables) if (!t.canAlter) notOwned.set(`${t.schema}.${t.table}`, t);
  if (notOwned.size) {
    const owners = [...new Set([...notOwned.values()].map((t) => t.owner))];
    // Membership in a superuser role would not do (and must not be advised): those tables need a superuser.
    const plain = owners.filter((o) => !role.superusers.includes(o));
    const way = plain.length
      ? `run setup as the owner, or GRANT ${plain.map(quoteIdent).join(', ')} TO ${quoteIdent(role.me)}`
      : 'run setup as a superuser';
    out.push(
      `REPLICA IDENTITY, the publication's tables and the precise-mode triggers need the table owner or a superuser: ` +
        `${[...notOwned.keys()].join(', ')} (owned by ${owners.join(', ')}: ${way})`,
    );
  }
  return out;
}

async function installPlan(client: pg.Client, cfg: SourceConfig, opts: SetupOptions, problems: string[]): Promise<Step[]> {
  const steps: Step[] = [];
  const slot = slotName(cfg);
  const pub = publicationName(cfg);
  const slotRow = (await client.query(`SELECT plugin FROM pg_replication_slots WHERE slot_name = $1`, [slot])).rows[0];
  const pubRow = (await client.query(`SELECT oid, puballtables FROM pg_publication WHERE pubname = $1`, [pub])).rows[0];
  const walLevel = (await client.query(`SELECT current_setting('wal_level') AS v`)).rows[0].v;
  if (walLevel !== 'logical') {
    problems.push(
      `wal_level is '${walLevel}', the slot cannot be created: ` +
        'set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL',
    );
  }
  const { found, missing } = await watchedTables(client, cfg.tables);
  if (missing.length) problems.push(`watched table(s) not found: ${missing.join(', ')}; create them or fix sources[].tables`);

  const needFull = found.filter(
    (t) => t.replicaIdentity === 'n' || (t.replicaIdentity === 'd' && (!t.hasPrimaryKey || opts.replicaIdentity === 'full')),
  );
  const keyless = needFull.filter((t) => !t.hasPrimaryKey);
  if (keyless.length && opts.replicaIdentity !== 'full') {
    // Publishing a table without any replica identity makes its UPDATE/DELETE fail on the primary.
    problems.push(
      `table(s) without a primary key: ${keyless.map((t) => `${t.schema}.${t.table}`).join(', ')}; ` +
        'once published their UPDATE/DELETE would fail. Add a primary key, or run setup --replica-identity full',
    );
  }
  if (opts.replicaIdentity === 'full') {
    for (const t of needFull)
      steps.push({
        sql: [`ALTER TABLE ${qualified(t)} REPLICA IDENTITY FULL`],
        note: `set REPLICA IDENTITY FULL on ${t.schema}.${t.table}`,
        needs: [{ kind: 'owner', tables: [t] }],
      });
  }

  const tableList = found.map(qualified).join(', ');
  if (!pubRow) {
    if (cfg.tables) {
      steps.push({
        sql: [`CREATE PUBLICATION ${quoteIdent(pub)} FOR TABLE ${tableList}`],
        note: `create publication ${pub} for ${found.length} table(s)`,
        needs: [{ kind: 'create' }, { kind: 'owner', tables: found }],
      });
    } else {
      steps.push({
        sql: [`CREATE PUBLICATION ${quoteIdent(pub)} FOR ALL TABLES`],
        note: `create publication ${pub} for all tables`,
        needs: [{ kind: 'superuser', why: 'a publication FOR ALL TABLES (list the tables in sources[].tables to avoid it)' }],
      });
    }
  } else if (cfg.tables) {
    if (pubRow.puballtables) {
      problems.push(
        `publication '${pub}' is FOR ALL TABLES but sources[].tables lists tables; drop it (rowtrail setup --uninstall) and run setup again`,
      );
    } else {
      const inPub = await publicationTables(client, pub);
      const want = found.map((t) => `${t.schema}.${t.table}`);
      if (want.length !== inPub.size || want.some((t) => !inPub.has(t))) {
        steps.push({
          sql: [`ALTER PUBLICATION ${quoteIdent(pub)} SET TABLE ${tableList}`],
          note: `set the tables of publication ${pub} to ${want.join(', ')}`,
          needs: [{ kind: 'owner', tables: found }],
        });
      }
    }
  } else if (!pubRow.puballtables) {
    problems.push(
      `publication '${pub}' lists tables but no sources[].tables is configured (all tables); drop it (rowtrail setup --uninstall) and run setup again`,
    );
  }

  if (cfg.identity === 'precise') {
    // Triggers first: the slot then sees every watched transaction with its session message. The install
    // covers the tables of every source registered in this database (precise-scope.ts).
    const own = preciseTablesOf(cfg);
    const tables = await preciseTablesFor(client, cfg.name, own);
    const covered = tables === null ? found : found.filter((t) => tables.includes(`${t.schema}.${t.table}`));
    const hasSchema = (await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rowtrail'`)).rows.length > 0;
    steps.push({
      // BEGIN/COMMIT: the registry's statements are one transaction (its first one quiets the DDL triggers).
      sql: [
        ...preciseInstallStatements(tables, { native: cfg.preciseNative }),
        'BEGIN',
        ...preciseRegisterStatements(cfg.name, own),
        'COMMIT',
      ],
      note: `install precise identity on ${tables ? tables.join(', ') : 'all tables'}`,
      needs: [...(hasSchema ? [] : [{ kind: 'create' } as Need]), { kind: 'owner', tables: covered }],
      run: async () => {
        const r = await installPrecise(client, tables, { native: cfg.preciseNative });
        await runInTransaction(client, preciseRegisterStatements(cfg.name, own));
        return [
          `precise identity v${r.version}${cfg.preciseNative ? ' (native trigger)' : ''} ` +
            `${r.previous === r.version ? 'already installed' : 'installed'} on ${r.tables.length} table(s)`,
          ...r.warnings.map((w) => `warning: ${w}`),
        ];
      },
    });
  }

  if (!slotRow) {
    steps.push({
      sql: [`SELECT pg_create_logical_replication_slot(${literal(slot)}, 'pgoutput')`],
      note: `create replication slot ${slot}`,
      needs: [{ kind: 'replication' }],
    });
  } else if (slotRow.plugin !== 'pgoutput') {
    problems.push(`slot '${slot}' exists with plugin ${slotRow.plugin}; drop it or choose another sources[].slot`);
  }
  return steps;
}

async function uninstallPlan(client: pg.Client, cfg: SourceConfig): Promise<Step[]> {
  const steps: Step[] = [];
  const slot = slotName(cfg);
  const pub = publicationName(cfg);
  const scoped = await preciseUninstallFor(client, cfg.name, preciseTablesOf(cfg));
  if (scoped && (scoped.full || scoped.statements.length)) {
    steps.push({
      sql: ['BEGIN', ...scoped.statements, 'COMMIT'],
      note: scoped.full
        ? 'remove precise identity (triggers, functions, schema rowtrail)'
        : `remove this source's precise-mode triggers (${scoped.dropped.length ? scoped.dropped.join(', ') : 'none only its own'}); ` +
          `kept for ${scoped.kept.join(', ') || 'the other tables'}`,
      needs: [],
      run: async () => {
        await runInTransaction(client, scoped.statements);
        return [];
      },
    });
  }
  const slotRow = (await client.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [slot])).rows[0];
  const pubRow = (await client.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [pub])).rows[0];
  if (slotRow)
    steps.push({ sql: [`SELECT pg_drop_replication_slot(${literal(slot)})`], note: `drop slot ${slot}`, needs: [{ kind: 'replication' }] });
  if (pubRow) steps.push({ sql: [`DROP PUBLICATION ${quoteIdent(pub)}`], note: `drop publication ${pub}`, needs: [] });
  return steps;
}

function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
