/**
 * The arms bench/identity-overhead compares, shared by run.ts (pgbench TPS) and instructions.ts (callgrind
 * instruction counts). Each arm first removes whatever another arm installed, then installs itself on the
 * pgbench tables and `ev` (the single-row insert table).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { installPrecise, uninstallPrecise, type SqlClient } from '../../src/identity/postgres-precise.js';
import { startPostgres, type PgServer } from '../../test/harness/postgres.js';

/**
 * A throwaway server (autovacuum off: its workers' CPU would land on whichever arm runs; the native trigger
 * built and loadable) with a database holding pgbench's tables at `scale` and `ev`. Removed on SIGINT/SIGTERM.
 */
export async function benchServer(scale: number): Promise<{ server: PgServer; db: string; pgbenchConn: string[] }> {
  const server = await startPostgres({ conf: { autovacuum: 'off' }, native: true });
  if (server.nativeMissing) console.error(`native trigger not built (${server.nativeMissing}): its arms will fail`);
  process.once('SIGINT', () => void server.destroy().finally(() => process.exit(130)));
  process.once('SIGTERM', () => void server.destroy().finally(() => process.exit(143)));
  const db = await server.freshDatabase('bench');
  const pgbenchConn = ['-h', '127.0.0.1', '-p', String(server.port), '-U', 'postgres'];
  await promisify(execFile)(join(server.bin, 'pgbench'), [...pgbenchConn, '-i', '-s', String(scale), '-q', db]);
  await server.psql('CREATE TABLE ev (id bigserial PRIMARY KEY, v int, t text)', db);
  return { server, db, pgbenchConn };
}

const TABLES = ['ev', 'pgbench_accounts', 'pgbench_tellers', 'pgbench_branches', 'pgbench_history'];

/**
 * The reference to beat (RECIPES.md): a PL/pgSQL statement trigger on every table emitting the session facts
 * and current_query() on every statement.
 */
export const NAIVE = `CREATE OR REPLACE FUNCTION public.naive_identity() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  PERFORM pg_logical_emit_message(true, 'rowtrail', json_build_array(1, pg_backend_pid(), session_user, current_user,
    current_setting('application_name'), inet_client_addr(), current_setting('rowtrail.actor', true), current_query())::text);
  RETURN NULL; END $$;
${TABLES.map((t) => `CREATE TRIGGER naive_identity AFTER INSERT OR UPDATE OR DELETE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION public.naive_identity();`).join('\n')}`;

/** Precise mode v2 (one-expression trigger body), frozen as a comparison arm. */
const V2 = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'precise-v2.sql'), 'utf8');

export type Arm = (client: SqlClient) => Promise<void>;

const off: Arm = async (client) => {
  await uninstallPrecise(client);
  await client.query('DROP FUNCTION IF EXISTS public.naive_identity() CASCADE; DROP SCHEMA IF EXISTS rowtrail CASCADE');
};

export const ARMS: Record<string, Arm> = {
  off,
  /** precise mode on every table */
  precise: async (client) => {
    await off(client);
    await installPrecise(client, null);
  },
  /**
   * precise mode on the one sensitive table (pgbench_accounts; plus ev for the insert workload): every
   * tpcb-like transaction writes it first, so its message still attributes the whole transaction.
   */
  'precise-accounts': async (client) => {
    await off(client);
    await installPrecise(client, ['public.pgbench_accounts', 'public.ev']);
  },
  /** the native (C) statement trigger (native/postgres) on every table; the bench server loads it */
  'precise-native': async (client) => {
    await off(client);
    await installPrecise(client, null, { native: true });
  },
  'precise-native-accounts': async (client) => {
    await off(client);
    await installPrecise(client, ['public.pgbench_accounts', 'public.ev'], { native: true });
  },
  v2: async (client) => {
    await off(client);
    await client.query(V2);
  },
  naive: async (client) => {
    await off(client);
    await client.query(NAIVE);
  },
};

/** An arm by name; `file:PATH` installs that SQL (exploration) after removing everything else. */
export function arm(name: string): Arm {
  if (name.startsWith('file:')) {
    return async (client) => {
      await off(client);
      await client.query(readFileSync(name.slice(5), 'utf8'));
    };
  }
  const a = ARMS[name];
  if (!a) throw new Error(`unknown arm ${name} (known: ${Object.keys(ARMS).join(', ')}, file:PATH)`);
  return a;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export const pct = (x: number, base: number): string => `${x >= base ? '+' : ''}${((100 * (x - base)) / base).toFixed(1)}%`;
