/**
 * Sources by kind: one place maps `kind` to the source's stream, doctor and setup, so the CLI and the daemon
 * never branch on the database themselves.
 */
import type { SourceConfig } from '../config/index.js';
import { RowtrailError } from '../errors.js';
import type { Check, DoctorOptions } from './checks.js';
import type { Source, SourceContext } from './source.js';
import type { SetupOptions, SetupResult } from './setup.js';
import { PostgresSource, postgresDoctor, postgresSetup } from './postgres/index.js';
import { MysqlSource, mysqlDoctor, mysqlGrantStatements, mysqlSetup } from './mysql/index.js';

export interface SourceKind {
  create(ctx: SourceContext): Source;
  doctor(url: string, cfg: SourceConfig, opts?: DoctorOptions): Promise<Check[]>;
  setup(url: string, cfg: SourceConfig, opts: SetupOptions): Promise<SetupResult>;
  /** Where doctor's settings block goes, e.g. `my.cnf ([mysqld] section)`. */
  settingsFile: string;
  /** The checks' grants as statements to run (see Check.grants). */
  grantStatements(grants: string[]): string[];
}

const KINDS: Record<SourceConfig['kind'], SourceKind> = {
  postgres: {
    create: (ctx) => new PostgresSource(ctx),
    doctor: postgresDoctor,
    setup: postgresSetup,
    settingsFile: 'postgresql.conf',
    grantStatements: (g) => g,
  },
  mysql: {
    create: (ctx) => new MysqlSource(ctx),
    doctor: mysqlDoctor,
    setup: mysqlSetup,
    settingsFile: 'my.cnf, [mysqld] section',
    grantStatements: mysqlGrantStatements,
  },
};

export function sourceKind(cfg: SourceConfig): SourceKind {
  const k = KINDS[cfg.kind];
  if (!k) throw new RowtrailError('CONFIG', `source '${cfg.name}': unknown kind ${String(cfg.kind)}`);
  return k;
}

export type { Source, SourceContext, SourceStats } from './source.js';
export type { Check, DoctorOptions, FixSummary } from './checks.js';
export { fixSummary } from './checks.js';
export type { SetupOptions, SetupResult };
