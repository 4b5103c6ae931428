/**
 * `rowtrail setup` for PostgreSQL: the publication (all tables, or the configured list), the pgoutput slot,
 * and optionally REPLICA IDENTITY FULL on tables that lack a full before image. Idempotent; `dryRun`
 * returns the SQL instead of running it.
 */
import pg from 'pg';
import type { SourceConfig } from '../../config/index.js';
import { RowtrailError } from '../../errors.js';
import { classifyPgError, publicationName, slotName } from './postgres-errors.js';
import { publicationTables, qualified, quoteIdent, watchedTables } from './postgres-catalog.js';
import { installPrecise, preciseInstallStatements, preciseStatus, preciseUninstallSql, uninstallPrecise } from '../../identity/index.js';
import { preciseTablesOf } from '../../identity/doctor.js';

export interface SetupOptions {
  dryRun?: boolean;
  /** `full`: set REPLICA IDENTITY FULL on watched tables that have DEFAULT/NOTHING (or no key). */
  replicaIdentity?: 'full';
  /** Remove what setup created (slot, publication). */
  uninstall?: boolean;
}

export interface SetupResult {
  /** Statements run (or, with dryRun, to run), in order. */
  statements: string[];
  /** Human lines: what was done or already in place. */
  notes: string[];
}

export async function postgresSetup(url: string, cfg: SourceConfig, opts: SetupOptions = {}): Promise<SetupResult> {
  const client = new pg.Client({ connectionString: url, application_name: 'rowtrail-setup', connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    throw classifyPgError(e, cfg);
  }
  const res: SetupResult = { statements: [], notes: [] };
  // Each statement runs on its own (autocommit): a slot cannot be created in a transaction that has written.
  const exec = async (sql: string, note: string) => {
    res.statements.push(sql);
    if (!opts.dryRun) {
      try {
        await client.query(sql);
      } catch (e) {
        throw classifyPgError(e, cfg);
      }
    }
    res.notes.push((opts.dryRun ? 'would ' : '') + note);
  };
  try {
    const slot = slotName(cfg);
    const pub = publicationName(cfg);
    const slotRow = (await client.query(`SELECT plugin FROM pg_replication_slots WHERE slot_name = $1`, [slot])).rows[0];
    const pubRow = (await client.query(`SELECT oid, puballtables FROM pg_publication WHERE pubname = $1`, [pub])).rows[0];

    if (opts.uninstall) {
      const precise = await preciseStatus(client);
      if ((precise.version !== null)) {
        res.statements.push(preciseUninstallSql());
        if (!opts.dryRun) await uninstallPrecise(client);
        res.notes.push(`${opts.dryRun ? 'would ' : ''}remove precise identity (triggers, functions, schema rowtrail)`);
      }
      if (slotRow) await exec(`SELECT pg_drop_replication_slot(${literal(slot)})`, `drop slot ${slot}`);
      if (pubRow) await exec(`DROP PUBLICATION ${quoteIdent(pub)}`, `drop publication ${pub}`);
      if (!slotRow && !pubRow && !(precise.version !== null)) res.notes.push('nothing to remove');
      return res;
    }

    const walLevel = (await client.query(`SELECT current_setting('wal_level') AS v`)).rows[0].v;
    if (walLevel !== 'logical') {
      throw new RowtrailError('SERVER_SETTING', `wal_level is '${walLevel}'; run ALTER SYSTEM SET wal_level = logical; and restart PostgreSQL, then setup again`);
    }
    const { found, missing } = await watchedTables(client, cfg.tables);
    if (missing.length) throw new RowtrailError('CONFIG', `watched table(s) not found: ${missing.join(', ')}; create them or fix sources[].tables`);

    const needFull = found.filter((t) => t.replicaIdentity === 'n' || (t.replicaIdentity === 'd' && (!t.hasPrimaryKey || opts.replicaIdentity === 'full')));
    const keyless = needFull.filter((t) => !t.hasPrimaryKey);
    if (keyless.length && opts.replicaIdentity !== 'full') {
      // Publishing a table without any replica identity makes its UPDATE/DELETE fail on the primary.
      throw new RowtrailError(
        'SERVER_SETTING',
        `table(s) without a primary key: ${keyless.map((t) => `${t.schema}.${t.table}`).join(', ')}; once published their UPDATE/DELETE would fail. Add a primary key, or run setup --replica-identity full`,
      );
    }
    if (opts.replicaIdentity === 'full') {
      for (const t of needFull) await exec(`ALTER TABLE ${qualified(t)} REPLICA IDENTITY FULL`, `set REPLICA IDENTITY FULL on ${t.schema}.${t.table}`);
    }

    const tableList = found.map(qualified).join(', ');
    if (!pubRow) {
      if (cfg.tables) await exec(`CREATE PUBLICATION ${quoteIdent(pub)} FOR TABLE ${tableList}`, `create publication ${pub} for ${found.length} table(s)`);
      else await exec(`CREATE PUBLICATION ${quoteIdent(pub)} FOR ALL TABLES`, `create publication ${pub} for all tables`);
    } else if (cfg.tables) {
      if (pubRow.puballtables) {
        throw new RowtrailError('CONFIG', `publication '${pub}' is FOR ALL TABLES but sources[].tables lists tables; drop it (rowtrail setup --uninstall) and run setup again`);
      }
      const inPub = await publicationTables(client, pub);
      const want = found.map((t) => `${t.schema}.${t.table}`);
      if (want.length !== inPub.size || want.some((t) => !inPub.has(t))) {
        await exec(`ALTER PUBLICATION ${quoteIdent(pub)} SET TABLE ${tableList}`, `set the tables of publication ${pub} to ${want.join(', ')}`);
      } else res.notes.push(`publication ${pub} already lists the watched tables`);
    } else if (!pubRow.puballtables) {
      throw new RowtrailError('CONFIG', `publication '${pub}' lists tables but no sources[].tables is configured (all tables); drop it (rowtrail setup --uninstall) and run setup again`);
    } else res.notes.push(`publication ${pub} already covers all tables`);

    if (cfg.identity === 'precise') {
      // Triggers first: the slot then sees every watched transaction with its session message.
      const tables = preciseTablesOf(cfg);
      if (opts.dryRun) {
        res.statements.push(...preciseInstallStatements(tables, { native: cfg.preciseNative }));
        res.notes.push(`would install precise identity on ${tables ? tables.join(', ') : 'all tables'}`);
      } else {
        try {
          const r = await installPrecise(client, tables, { native: cfg.preciseNative });
          res.statements.push(`-- precise identity v${r.version}`);
          res.notes.push(`precise identity v${r.version}${cfg.preciseNative ? ' (native trigger)' : ''} ${r.previous === r.version ? 'already installed' : 'installed'} on ${r.tables.length} table(s)`);
          for (const w of r.warnings) res.notes.push(`warning: ${w}`);
        } catch (e) {
          throw classifyPgError(e, cfg);
        }
      }
    }

    if (!slotRow) await exec(`SELECT pg_create_logical_replication_slot(${literal(slot)}, 'pgoutput')`, `create replication slot ${slot}`);
    else if (slotRow.plugin !== 'pgoutput') throw new RowtrailError('SLOT_INVALID', `slot '${slot}' exists with plugin ${slotRow.plugin}; drop it or choose another sources[].slot`);
    else res.notes.push(`replication slot ${slot} already exists`);
    return res;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
