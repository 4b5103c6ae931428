/**
 * Config rules → actor kind (`actors:` in rowtrail.yaml; first match wins). A rule field matches exactly,
 * or as a glob where it contains `*`; `clientAddr` also takes an IPv4 CIDR (`10.0.0.0/8`). All fields of a
 * rule must match. A field the actor does not have (null) never matches.
 */
import type { ActorKind } from '../model/index.js';

export interface ActorRule {
  match: { user?: string; application?: string; clientAddr?: string; agent?: string };
  kind: ActorKind;
}

export interface RuleSubject {
  user?: string | null;
  application?: string | null;
  clientAddr?: string | null;
  agent?: string | null;
}

/** `pattern` matches `value` exactly, or as a glob where it contains `*` (the rules' matching, for others too). */
export function glob(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 's');
  return re.test(value);
}

function ipv4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return null;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

function addrMatch(pattern: string, value: string): boolean {
  const v = value.replace(/\/32$/, '').replace(/^::ffff:/, '');
  const slash = pattern.indexOf('/');
  if (slash > 0) {
    const base = ipv4(pattern.slice(0, slash));
    const bits = Number(pattern.slice(slash + 1));
    const addr = ipv4(v);
    if (base === null || addr === null || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return (base & mask) === (addr & mask);
  }
  return glob(pattern, v);
}

/** The agent and application name rowtrail's own undo (`rowtrail undo --apply`) runs under. */
export const ROWTRAIL_UNDO = 'rowtrail-undo';

/**
 * The kind of an actor no rule matched: an agent is an AI agent, except rowtrail's own undo, which is a
 * service (where the session's application is known, it must be rowtrail's undo too: a statement comment
 * alone does not make another program rowtrail). Like any agent context, the claim is only as strong as
 * the context (sign it with identity.signingKey where that matters).
 */
export function defaultKind(s: RuleSubject): ActorKind {
  if (!s.agent) return 'unknown';
  if (s.agent === ROWTRAIL_UNDO && (s.application == null || s.application === ROWTRAIL_UNDO)) return 'service';
  return 'ai-agent';
}

export function matchKind(rules: readonly ActorRule[], s: RuleSubject): ActorKind | null {
  for (const r of rules) {
    const m = r.match;
    if (m.user !== undefined && (s.user == null || !glob(m.user, s.user))) continue;
    if (m.application !== undefined && (s.application == null || !glob(m.application, s.application))) continue;
    if (m.clientAddr !== undefined && (s.clientAddr == null || !addrMatch(m.clientAddr, s.clientAddr))) continue;
    if (m.agent !== undefined && (s.agent == null || !glob(m.agent, s.agent))) continue;
    return r.kind;
  }
  return null;
}
