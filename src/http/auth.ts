/**
 * Who may read the API: a request with `Authorization: Bearer <token>`, or a browser holding the session
 * cookie that `POST /api/v1/session` (the login form, or the one-time link's fragment) sets.
 *
 * The cookie never holds the token: it holds HMAC-SHA256(token, a fixed label), so a cookie read from a
 * browser profile does not give the token away, survives a daemon restart, and dies with a token change.
 * HttpOnly (page scripts cannot read it), SameSite=Strict (no other site can make the browser send it).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'rowtrail_session';

/** The session cookie's value for a token. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('rowtrail web session v1').digest('base64url');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether a presented token is the token (constant time). */
export function tokenMatches(presented: unknown, token: string): boolean {
  return typeof presented === 'string' && same(presented, token);
}

/** The value of one cookie in a Cookie header, or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** Whether a request's headers carry the token (bearer) or the session cookie. */
export function authorized(headers: { authorization?: string; cookie?: string }, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(headers.authorization ?? '');
  if (m) return same(m[1], token);
  const c = cookieValue(headers.cookie, SESSION_COOKIE);
  return c !== null && same(c, sessionValue(token));
}

/** Set-Cookie for a login (`token`) or a logout (null). */
export function sessionCookie(token: string | null): string {
  const base = `${SESSION_COOKIE}=${token ? sessionValue(token) : ''}; Path=/; HttpOnly; SameSite=Strict`;
  return token ? base : `${base}; Max-Age=0`;
}
