/**
 * Identity: who made each transaction, and how sure rowtrail is (DESIGN.md, "Identity").
 *
 * - `createIdentity(...)`: the resolver a source calls at each commit, plus the sampler that feeds it.
 * - `installPrecise` / `uninstallPrecise` / `preciseInstallStatements`: PostgreSQL precise mode for `rowtrail setup`.
 * - `identityDoctor(...)`: doctor lines (precise objects, visibility, attribution rate).
 */
import type { Config, SourceConfig } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { createResolver, type IdentityResolver, type ResolverStats } from './resolver.js';
import { PostgresSampler } from './postgres-sampler.js';
import { MysqlSampler } from './mysql-sampler.js';

export * from './resolver.js';
export { parseStatementContext, parseActorSetting, parseCommentBody, formatComment, type ContextPairs } from './comment.js';
export { canonicalContext, signContext, verifyContext, withSignature } from './signature.js';
export { matchKind, defaultKind, glob, ROWTRAIL_UNDO, type ActorRule } from './rules.js';
export { parseSessionMessage, parseDdlMessage, SESSION_PREFIX, DDL_PREFIX, type SessionMessage, type DdlMessage } from './message.js';
export {
  installPrecise,
  uninstallPrecise,
  preciseInstallSql,
  preciseInstallStatements,
  preciseUninstallSql,
  preciseStatus,
  PRECISE_VERSION,
  type PreciseOptions,
  type PreciseStatus,
  type InstallResult,
  type SqlClient,
} from './postgres-precise.js';
export { PostgresSampler, activityVisibility } from './postgres-sampler.js';
export { MysqlSampler, historyAvailability } from './mysql-sampler.js';
export { identityDoctor, preciseTablesOf } from './doctor.js';
export {
  preciseSources,
  preciseTablesFor,
  preciseRegisterStatements,
  preciseUninstallFor,
  runInTransaction,
  type ScopedUninstall,
} from './precise-scope.js';

export interface Identity {
  resolver: IdentityResolver;
  /** Starts the sampler (connects, takes a first sample) and resolves; sampling goes on until stop() or abort. */
  start(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  stats(): ResolverStats;
}

/** The signing key: config, else ROWTRAIL_IDENTITY_SIGNING_KEY. */
export function signingKey(root: Config): string | null {
  return root.identity?.signingKey ?? process.env.ROWTRAIL_IDENTITY_SIGNING_KEY ?? null;
}

/**
 * The identity of one source. The sampler runs in both PostgreSQL modes: in precise mode it only fills in
 * what a message lacks (session start after a restart) and covers tables left in sampling mode.
 */
export function createIdentity(root: Config, source: SourceConfig, deps: { url: string; log: Logger; kind: 'postgres' | 'mysql' }): Identity {
  const intervalMs = root.identity?.sampleIntervalMs ?? 20;
  const sampler =
    deps.kind === 'postgres'
      ? new PostgresSampler(deps.url, { intervalMs, log: deps.log })
      : new MysqlSampler(deps.url, { intervalMs, log: deps.log });
  const warned = new Map<string, number>();
  const resolver = createResolver({
    rules: root.actors ?? [],
    signingKey: signingKey(root),
    maxContextBytes: root.identity?.maxContextBytes ?? 2048,
    index: sampler.index,
    onWarning: (reason) => {
      // Once a minute per reason: a flood of forged contexts must not flood the log.
      const now = Date.now();
      if ((warned.get(reason) ?? 0) > now - 60_000) return;
      warned.set(reason, now);
      deps.log.warn({ source: source.name }, `identity: ${reason}`);
    },
  });
  return {
    resolver,
    async start(signal) {
      try {
        await sampler.start(signal);
      } catch (e) {
        // Attribution degrades (precise messages still work); the capture itself must not stop for this.
        deps.log.warn({ err: e, source: source.name }, 'identity sampler could not start; transactions without a precise message stay unknown');
      }
    },
    stop: () => sampler.stop(),
    stats: () => resolver.stats(),
  };
}
