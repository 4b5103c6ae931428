/**
 * `rowtrail doctor` for PostgreSQL: is the server set up so that capture works? One Check per line,
 * with the fix. Read-only. Server settings and role grants carry their config lines and statements, so that
 * doctor ends with one postgresql.conf block and one block of GRANT / ALTER ROLE statements.
 */
import pg from 'pg';
import type { SourceConfig } from '../../config/index.js';
import { cannot, fail, ok, warn, type Check, type DoctorOptions } from '../checks.js';
import { classifyPgError, publicationName, slotName } from './postgres-errors.js';
import { publicationTables, quoteIdent as quote, watchedTables } from './postgres-catalog.js';
import { compareLsn } from './postgres-position.js';

export async function postgresDoctor(url: string, cfg: SourceConfig, opts: DoctorOptions = {}): Promise<Check[]> {
  const storedPosition = opts.position ?? null;
  const checks: Check[] = [];
  const client = new pg.Client({ connectionString: url, application_name: 'rowtrail-doctor', connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    checks.push(fail('connect', classifyPgError(e, cfg).message));
    return checks;
  }
  try {
    const s = (
      await client.query(
        `SELECT current_setting('server_version_num')::int AS version, current_setting('server_version') AS version_text,
                current_setting('wal_level') AS wal_level,
                current_setting('max_replication_slots')::int AS max_slots,
                (SELECT count(*) FROM pg_replication_slots)::int AS used_slots,
                current_setting('max_wal_senders')::int AS max_senders,
                (SELECT count(*) FROM pg_stat_replication)::int AS used_senders,
                current_setting('server_encoding') AS encoding,
                r.rolreplication OR r.rolsuper AS can_replicate, r.rolsuper AS superuser, current_user AS me,
                has_database_privilege(current_database(), 'CREATE') AS can_create, current_database() AS db
           FROM pg_roles r WHERE r.rolname = current_user`,
      )
    ).rows[0];
    checks.push(ok('connect', `connected to PostgreSQL ${s.version_text} as ${s.me}`));
    if (s.version < 140000) {
      checks.push(
        warn(
          'version',
          `PostgreSQL ${s.version_text}: before 14 there is no streaming of large transactions nor logical messages in pgoutput`,
          'upgrade to PostgreSQL 14 or newer',
        ),
      );
    }
    if (s.wal_level !== 'logical') {
      checks.push(
        fail(
          'wal_level',
          `wal_level is '${s.wal_level}'; logical decoding needs 'logical'`,
          `ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL`,
          {
            settings: ['wal_level = logical'],
            restart: true,
          },
        ),
      );
    } else checks.push(ok('wal_level', `wal_level is logical`));
    const slot = slotName(cfg);
    const pub = publicationName(cfg);
    const slotRow = (
      await client.query(
        `SELECT plugin, wal_status, active, confirmed_flush_lsn::text AS confirmed,
                pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) AS retained
           FROM pg_replication_slots WHERE slot_name = $1`,
        [slot],
      )
    ).rows[0];
    const freeSlots = s.max_slots - s.used_slots;
    // Slots and WAL senders: a server setting each, taken at start.
    const capacity = (id: string, what: string, used: number, max: number, full: boolean): Check =>
      full
        ? fail(id, `all ${max} ${what} are in use`, `ALTER SYSTEM SET ${id} = ${max + 4}; then restart PostgreSQL`, {
            settings: [`${id} = ${max + 4}`],
            restart: true,
          })
        : ok(id, `${used} of ${max} ${what} used`);
    checks.push(capacity('max_replication_slots', 'replication slots', s.used_slots, s.max_slots, !slotRow && freeSlots < 1));
    checks.push(capacity('max_wal_senders', 'WAL senders', s.used_senders, s.max_senders, s.max_senders - s.used_senders < 1));
    if (!s.can_replicate) {
      checks.push(
        fail('replication_role', `role ${s.me} lacks the REPLICATION attribute`, `ALTER ROLE ${quote(s.me)} REPLICATION;`, {
          grants: [`ALTER ROLE ${quote(s.me)} REPLICATION;`],
        }),
      );
    } else checks.push(ok('replication_role', `role ${s.me} may replicate`));
    if (s.encoding !== 'UTF8' && s.encoding !== 'SQL_ASCII') {
      checks.push(warn('encoding', `server_encoding is ${s.encoding}; rowtrail decodes text as UTF-8`, 'use a UTF8 database'));
    }

    // Who can create what is missing: this role, or a DBA running the SQL of setup --dry-run.
    const dba = `rowtrail setup --source ${cfg.name} (or a DBA runs the SQL of: rowtrail setup --dry-run --source ${cfg.name})`;
    if (!slotRow) checks.push(fail('slot', `replication slot '${slot}' does not exist`, s.can_replicate ? 'rowtrail setup' : dba));
    else if (slotRow.plugin !== 'pgoutput')
      checks.push(
        fail(
          'slot',
          `replication slot '${slot}' uses plugin ${slotRow.plugin}, not pgoutput`,
          `SELECT pg_drop_replication_slot('${slot}'); then rowtrail setup`,
        ),
      );
    else if (slotRow.wal_status === 'lost')
      checks.push(
        fail(
          'slot',
          `replication slot '${slot}' was invalidated: changes after ${slotRow.confirmed} are lost`,
          `SELECT pg_drop_replication_slot('${slot}'); then rowtrail setup (and raise max_slot_wal_keep_size)`,
        ),
      );
    else {
      checks.push(
        ok('slot', `slot '${slot}' at ${slotRow.confirmed}, ${slotRow.retained} of WAL retained${slotRow.active ? ', in use' : ''}`),
      );
      if (storedPosition && slotRow.confirmed && compareLsn(storedPosition, slotRow.confirmed) < 0) {
        checks.push(
          fail(
            'position',
            `the store is at ${storedPosition} but the slot already confirmed ${slotRow.confirmed}: ` +
              'changes in between are not in the store (slot used by something else?)',
            'give rowtrail its own slot (sources[].slot)',
          ),
        );
      }
    }

    const pubRow = (
      await client.query(
        `SELECT puballtables, pubinsert AND pubupdate AND pubdelete AND pubtruncate AS all_ops FROM pg_publication WHERE pubname = $1`,
        [pub],
      )
    ).rows[0];
    const needs = cfg.tables ? `needs CREATE on database ${s.db} and ownership of the tables` : 'FOR ALL TABLES needs a superuser';
    const canPublish = s.superuser || (s.can_create && !!cfg.tables);
    if (!pubRow)
      checks.push(
        fail(
          'publication',
          `publication '${pub}' does not exist` + (canPublish ? '' : ` and role ${s.me} cannot create it (${needs})`),
          canPublish ? 'rowtrail setup' : dba,
        ),
      );
    else if (!pubRow.all_ops)
      checks.push(
        warn(
          'publication',
          `publication '${pub}' does not publish every operation (insert, update, delete, truncate)`,
          `ALTER PUBLICATION ${quote(pub)} SET (publish = 'insert, update, delete, truncate');`,
        ),
      );
    else checks.push(ok('publication', `publication '${pub}' ${pubRow.puballtables ? 'covers all tables' : 'exists'}`));

    const { found, missing } = await watchedTables(client, cfg.tables);
    for (const m of missing)
      checks.push(fail('table', `watched table ${m} does not exist`, `create it, or remove it from sources[].tables`));
    if (pubRow && !pubRow.puballtables && cfg.tables) {
      const inPub = await publicationTables(client, pub);
      const absent = cfg.tables.filter((t) => !inPub.has(t) && !missing.includes(t));
      if (absent.length) checks.push(fail('publication_tables', `publication '${pub}' lacks ${absent.join(', ')}`, 'rowtrail setup'));
    }
    const defaults = found.filter((t) => t.replicaIdentity === 'd' && t.hasPrimaryKey);
    const keyless = found.filter((t) => (t.replicaIdentity === 'd' || t.replicaIdentity === 'n') && !t.hasPrimaryKey);
    const nothing = found.filter((t) => t.replicaIdentity === 'n' && t.hasPrimaryKey);
    if (defaults.length) {
      checks.push(
        warn(
          'replica_identity',
          `${defaults.length} table(s) log no full before image (REPLICA IDENTITY DEFAULT): ${names(defaults)}; ` +
            'their updates/deletes are captured without old values and cannot be undone',
          'rowtrail setup --replica-identity full',
        ),
      );
    }
    if (keyless.length) {
      checks.push(
        fail(
          'primary_key',
          `${keyless.length} table(s) have no primary key and no replica identity: ${names(keyless)}; once published, UPDATE and DELETE on them fail`,
          'add a primary key, or rowtrail setup --replica-identity full',
        ),
      );
    }
    if (nothing.length)
      checks.push(
        warn(
          'replica_identity',
          `REPLICA IDENTITY NOTHING on ${names(nothing)}: no old values are logged`,
          'rowtrail setup --replica-identity full',
        ),
      );
    if (!defaults.length && !keyless.length && !nothing.length && found.length)
      checks.push(ok('replica_identity', `all ${found.length} watched table(s) log full before images`));
    const notOwned = found.filter((t) => !t.canAlter);
    // Only while setup still has to alter them (precise-mode triggers missing are the identity lines' business).
    if (notOwned.length && !s.superuser && (defaults.length || nothing.length || keyless.length)) {
      checks.push(
        warn(
          'ownership',
          `role ${s.me} does not own ${names(notOwned)}: setup cannot alter them or install triggers`,
          `run setup as the owner, or have a DBA run the SQL of: rowtrail setup --dry-run --source ${cfg.name}`,
        ),
      );
    }
    if (!cfg.tables && !s.superuser) {
      checks.push(
        warn(
          'publication_all_tables',
          `a publication FOR ALL TABLES needs a superuser; role ${s.me} is not`,
          'list the tables in sources[].tables, or run setup as a superuser',
        ),
      );
    }
  } catch (e) {
    checks.push(cannot('query', 'the remaining items', classifyPgError(e, cfg).message));
  } finally {
    await client.end().catch(() => undefined);
  }
  return checks;
}

function names(ts: { schema: string; table: string }[]): string {
  const shown = ts
    .slice(0, 8)
    .map((t) => `${t.schema}.${t.table}`)
    .join(', ');
  return ts.length > 8 ? `${shown} and ${ts.length - 8} more` : shown;
}
