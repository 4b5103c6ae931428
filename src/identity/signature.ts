/**
 * HMAC signing of agent context, so that an agent on a shared account cannot pass itself off as another.
 *
 * Canonical form (what is signed): every pair except `sig`, keys sorted by UTF-16 code unit order, each as
 * `key=value` with the **decoded** key and value, joined by `\n`, encoded as UTF-8. The signature is
 * HMAC-SHA256 of that with the shared key, lowercase hex, carried as `sig='…'`. Example:
 * `agent=deploy-bot\non_behalf_of=alice\nrun=r-17`.
 *
 * Keys and values are decoded first so that URL-encoding choices (`%2D` vs `-`) do not change the signature;
 * `\n` and `=` inside keys cannot occur (keys are `[A-Za-z_][A-Za-z0-9_.-]*`), and a value is the rest of its
 * line, so two different contexts never share a canonical form unless a value contains `\n`+key — which is
 * why values containing `\n` are rejected by `verifyContext`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ContextPairs } from './comment.js';

export function canonicalContext(pairs: ContextPairs): string {
  return Object.keys(pairs)
    .filter((k) => k !== 'sig')
    .sort()
    .map((k) => `${k}=${pairs[k]}`)
    .join('\n');
}

export function signContext(pairs: ContextPairs, key: string): string {
  return createHmac('sha256', key).update(canonicalContext(pairs), 'utf8').digest('hex');
}

/** Pairs plus a valid `sig` for them. */
export function withSignature(pairs: ContextPairs, key: string): ContextPairs {
  const { sig: _drop, ...rest } = pairs;
  return { ...rest, sig: signContext(rest, key) };
}

/** True only when `sig` is present and is the HMAC of the other pairs under `key`. Never throws. */
export function verifyContext(pairs: ContextPairs, key: string): boolean {
  const sig = pairs.sig;
  if (typeof sig !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sig)) return false;
  for (const k of Object.keys(pairs)) if (k !== 'sig' && pairs[k]!.includes('\n')) return false;
  const want = Buffer.from(signContext(pairs, key), 'hex');
  const got = Buffer.from(sig.toLowerCase(), 'hex');
  return want.length === got.length && timingSafeEqual(want, got);
}
