import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config, type SourceConfig } from './schema.js';
import { RowtrailError } from '../errors.js';

/** Name of the env variable that carries a source's password: `ROWTRAIL_<NAME>_PASSWORD`. */
export function passwordEnvName(sourceName: string): string {
  return `ROWTRAIL_${sourceName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD`;
}

/**
 * Environment variables that override one config key each, applied on top of the file. One table, so that
 * docs/configuration.md (generated) lists exactly what is applied. Passwords come per source from
 * ROWTRAIL_<NAME>_PASSWORD (see `sourceUrl`).
 */
export const ENV_OVERRIDES: readonly { env: string; key: readonly [string, string]; number?: boolean }[] = [
  { env: 'ROWTRAIL_STORE_PATH', key: ['store', 'path'] },
  { env: 'ROWTRAIL_HTTP_HOST', key: ['http', 'host'] },
  { env: 'ROWTRAIL_HTTP_PORT', key: ['http', 'port'], number: true },
  { env: 'ROWTRAIL_HTTP_TOKEN', key: ['http', 'token'] },
  { env: 'ROWTRAIL_IDENTITY_SIGNING_KEY', key: ['identity', 'signingKey'] },
  { env: 'ROWTRAIL_ELASTICSEARCH_NODE', key: ['elasticsearch', 'node'] },
  { env: 'ROWTRAIL_ELASTICSEARCH_API_KEY', key: ['elasticsearch', 'apiKey'] },
  { env: 'ROWTRAIL_ELASTICSEARCH_USERNAME', key: ['elasticsearch', 'username'] },
  { env: 'ROWTRAIL_ELASTICSEARCH_PASSWORD', key: ['elasticsearch', 'password'] },
  { env: 'ROWTRAIL_KIBANA_URL', key: ['elasticsearch', 'kibanaUrl'] },
];

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, any> = { ...raw };
  for (const o of ENV_OVERRIDES) {
    const v = env[o.env];
    if (!v) continue;
    const [section, key] = o.key;
    out[section] = { ...(out[section] ?? {}), [key]: o.number ? Number(v) : v };
  }
  return out;
}

/** One line per problem: `sources[0].kind: Invalid option: expected one of "postgres"|"mysql"`. */
export function formatZodError(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      const path = i.path
        .map((p, n) => (typeof p === 'number' ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`))
        .join('');
      return `${path || '(top level)'}: ${i.message}`;
    })
    .join('; ');
}

/** Validates an already parsed config object (env overrides applied). Throws RowtrailError(CONFIG). */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, origin = 'config'): Config {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RowtrailError('CONFIG', `${origin}: expected a mapping with a 'sources' list`);
  }
  const result = configSchema.safeParse(applyEnv(raw as Record<string, unknown>, env));
  if (!result.success) throw new RowtrailError('CONFIG', `${origin}: ${formatZodError(result.error)}`);
  const names = new Set<string>();
  for (const s of result.data.sources) {
    if (names.has(s.name)) throw new RowtrailError('CONFIG', `${origin}: two sources are named '${s.name}'; names must be unique`);
    names.add(s.name);
    checkUrl(s, origin);
  }
  for (const g of result.data.guards) checkGuardSources(result.data, g, origin);
  return result.data;
}

/** A guard names only PostgreSQL sources that exist: the binlog is written at commit, so there is nothing to stop. */
function checkGuardSources(cfg: Config, g: Config['guards'][number], origin: string): void {
  for (const name of g.sources ?? []) {
    const s = cfg.sources.find((x) => x.name === name);
    if (!s) throw new RowtrailError('CONFIG', `${origin}: guards '${g.name}': no source is named '${name}'`);
    if (s.kind !== 'postgres') {
      throw new RowtrailError(
        'CONFIG',
        `${origin}: guards '${g.name}': source '${name}' is MySQL/MariaDB, whose binlog is written at commit: there is nothing in flight to stop ` +
          '(use statement timeouts or a proxy there)',
      );
    }
  }
}

function checkUrl(s: SourceConfig, origin: string): void {
  let u: URL;
  try {
    u = new URL(s.url);
  } catch {
    throw new RowtrailError('CONFIG', `${origin}: sources '${s.name}': url is not a URL (expected ${s.kind}://user@host:port/database)`);
  }
  const want = s.kind === 'postgres' ? ['postgres:', 'postgresql:'] : ['mysql:', 'mariadb:'];
  if (!want.includes(u.protocol)) {
    throw new RowtrailError('CONFIG', `${origin}: sources '${s.name}': url scheme '${u.protocol}' does not match kind ${s.kind} (use ${want[0]}//…)`);
  }
}

/** Reads, parses and validates a YAML config file; the store path is resolved against the file's folder. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config & { file: string } {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e: any) {
    const why = e?.code === 'ENOENT' ? 'file not found (create one with `rowtrail init`, or pass --config FILE)' : e?.message;
    throw new RowtrailError('CONFIG', `${file}: ${why}`, e);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e: any) {
    throw new RowtrailError('CONFIG', `${file}: not valid YAML: ${String(e?.message ?? e).split('\n')[0]}`, e);
  }
  const cfg = parseConfig(raw, env, file);
  cfg.store.path = resolve(dirname(path), cfg.store.path);
  return { ...cfg, file: path };
}

/** The source's connection URL with the password from env applied (never logged). */
export function sourceUrl(s: SourceConfig, env: NodeJS.ProcessEnv = process.env): string {
  const pw = env[passwordEnvName(s.name)];
  if (!pw) return s.url;
  const u = new URL(s.url);
  u.password = pw;
  return u.toString();
}

/** The guards that watch a source (PostgreSQL only; a guard without `sources` watches every PostgreSQL source). */
export function guardsFor(cfg: Config, source: SourceConfig): Config['guards'] {
  if (source.kind !== 'postgres') return [];
  return (cfg.guards ?? []).filter((g) => !g.sources || g.sources.includes(source.name));
}

/** Default `logical_decoding_work_mem` of rowtrail's replication connection where guards watch the source. */
export const GUARD_WORK_MEM = '256kB';

/** The `logical_decoding_work_mem` rowtrail sets on a source's replication connection; undefined: the server's. */
export function decodingWorkMem(cfg: Config, source: SourceConfig): string | undefined {
  return source.decodingWorkMem ?? (guardsFor(cfg, source).length ? GUARD_WORK_MEM : undefined);
}
