/**
 * What counts as sensitive for the detectors: columns that carry authority, money or credentials, and tables
 * that hold people, money or access. Name rules match whole words of snake_case or camelCase names
 * (`is_admin`, `accountBalance`), never substrings (`promotion` is not `role`… nor `motion`).
 */
import type { TxSummary } from './types.js';

const COLUMN_WORDS = new Set([
  'role', 'roles', 'permission', 'permissions', 'privilege', 'privileges', 'admin', 'superuser', 'grant', 'grants', 'scope', 'scopes',
  'balance', 'price', 'amount', 'salary', 'credit', 'limit', 'discount', 'iban', 'card',
  'password', 'passwd', 'hash', 'email', 'token', 'secret', 'apikey', 'mfa', 'otp', 'owner', 'verified', 'active', 'locked', 'banned',
]);

const TABLE_WORDS = new Set([
  'user', 'users', 'account', 'accounts', 'customer', 'customers', 'payment', 'payments', 'card', 'cards', 'credential', 'credentials',
  'secret', 'secrets', 'permission', 'permissions', 'role', 'roles', 'grant', 'grants', 'salary', 'salaries', 'payroll', 'billing',
  'invoice', 'invoices', 'token', 'tokens', 'apikey', 'apikeys', 'member', 'members', 'employee', 'employees', 'wallet', 'wallets', 'ledger',
]);

/** Words of an identifier: `accountBalance` → account, balance; `api_key` → api, key, apikey. */
export function words(name: string): string[] {
  const parts = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  const joined = parts.slice(1).map((p, i) => parts[i] + p);
  return [...parts, ...joined];
}

const columnCache = new Map<string, boolean>();

export function isSensitiveColumn(column: string, extra: string[] = []): boolean {
  if (extra.includes(column)) return true;
  let v = columnCache.get(column);
  if (v === undefined) {
    v = words(column).some((w) => COLUMN_WORDS.has(w));
    // Column names are few; the cache is bounded anyway.
    if (columnCache.size < 100_000) columnCache.set(column, v);
  }
  return v;
}

/** A table is sensitive by its name, by config, or when this transaction wrote a sensitive column of it. */
export function isSensitiveTable(table: string, extra: string[], tx?: TxSummary): boolean {
  if (extra.includes(table)) return true;
  const name = table.slice(table.lastIndexOf('.') + 1);
  if (words(name).some((w) => TABLE_WORDS.has(w))) return true;
  const t = tx?.tables.find((x) => x.table === table);
  return !!t && Object.keys(t.columns).some((c) => isSensitiveColumn(c));
}
