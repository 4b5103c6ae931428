/**
 * Sources by kind: one place maps `kind` to the source's stream, doctor and setup, so the CLI and the daemon
 * never branch on the database themselves.
 */
import type { SourceConfig } from '../config/index.js';
import { RowtrailError } from '../errors.js';
import type { Check } from './checks.js';
import type { Source, SourceContext } from './source.js';
import { PostgresSource, postgresDoctor, postgresSetup, type SetupOptions, type SetupResult } from './postgres/index.js';
import { MysqlSource, mysqlDoctor } from './mysql/index.js';

export interface SourceKind {
  create(ctx: SourceContext): Source;
  doctor(url: string, cfg: SourceConfig, storedPosition: string | null): Promise<Check[]>;
  setup(url: string, cfg: SourceConfig, opts: SetupOptions): Promise<SetupResult>;
}

const KINDS: Record<SourceConfig['kind'], SourceKind> = {
  postgres: {
    create: (ctx) => new PostgresSource(ctx),
    doctor: postgresDoctor,
    setup: postgresSetup,
  },
  mysql: {
    create: (ctx) => new MysqlSource(ctx),
    doctor: (url, cfg, position) => mysqlDoctor(url, cfg, { position }),
    // The binlog needs no objects on the server: setup only says so; doctor lists the settings to fix.
    setup: async () => ({ statements: [], notes: ['nothing to create on MySQL/MariaDB; run `rowtrail doctor` to check the binlog settings'] }),
  },
};

export function sourceKind(cfg: SourceConfig): SourceKind {
  const k = KINDS[cfg.kind];
  if (!k) throw new RowtrailError('CONFIG', `source '${cfg.name}': unknown kind ${String(cfg.kind)}`);
  return k;
}

export type { Source, SourceContext, SourceStats } from './source.js';
export type { Check } from './checks.js';
export type { SetupOptions, SetupResult };
