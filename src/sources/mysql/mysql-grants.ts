/**
 * The account's privileges as doctor needs them: who the server says we are (`CURRENT_USER()`, the
 * account a GRANT names), what is granted on `*.*` and on a schema, and the GRANT statements that grant
 * what the checks asked for.
 */
import { query, type Conn } from './mysql-client.js';

/** `'user'@'host'` of the account the server matched (may differ from the url's user@host: `'app'@'%'`). */
export async function accountOf(conn: Conn, fallbackUser: string): Promise<string> {
  try {
    const r = await query<{ u: string }>(conn, 'SELECT CURRENT_USER() AS u');
    const u = String(r[0]?.u ?? '');
    const at = u.lastIndexOf('@');
    if (at > 0) return `'${u.slice(0, at)}'@'${u.slice(at + 1)}'`;
  } catch {
    /* fall through */
  }
  return `'${fallbackUser}'@'%'`;
}

export interface GrantSet {
  /** ALL PRIVILEGES on *.* */
  all: boolean;
  /** Whether a global grant line (ON *.*) matches. */
  has(re: RegExp): boolean;
  /** Whether a grant on `schema`.* (or *.*) includes `priv`. */
  onSchema(schema: string, priv: string): boolean;
}

/**
 * The current account's grants (SHOW GRANTS FOR CURRENT_USER() needs no privilege). Why text: the server
 * has no other view of one's own grants that includes all levels; the statement format is stable.
 */
export async function globalGrants(conn: Conn): Promise<GrantSet> {
  const lines = (await query<Record<string, string>>(conn, 'SHOW GRANTS FOR CURRENT_USER()')).map((r) =>
    String(Object.values(r)[0]).toUpperCase(),
  );
  const global = lines.filter((g) => /\bON\s+\*\.\*\s+TO\b/.test(g)).join(' ');
  const all = /GRANT ALL PRIVILEGES ON \*\.\*/.test(global);
  return {
    all,
    has: (re) => re.test(global),
    onSchema(schema, priv) {
      const p = new RegExp(`(GRANT|,)\\s*(${priv}|ALL PRIVILEGES)\\b`);
      const on = new RegExp('\\bON\\s+(\\*|`' + schema.toUpperCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '`)\\.\\*\\s+TO\\b');
      return lines.some((g) => on.test(g) && p.test(g.split(/\bON\b/)[0]));
    },
  };
}

/** One privilege for the summary: `PROCESS ON *.* TO 'u'@'%'`. */
export function grantOn(priv: string, object: string, account: string): string {
  return `${priv} ON ${object} TO ${account}`;
}

/** Privileges from `grantOn` → one GRANT per object and account (privileges on *.* cannot share a statement with schema ones). */
export function mysqlGrantStatements(grants: string[]): string[] {
  const by = new Map<string, string[]>();
  for (const g of grants) {
    const m = /^(.+?) ON (\S+) TO (.+)$/.exec(g);
    if (!m) continue;
    const key = `${m[2]} TO ${m[3]}`;
    const list = by.get(key) ?? [];
    if (!list.includes(m[1])) list.push(m[1]);
    by.set(key, list);
  }
  return [...by].map(([key, privs]) => `GRANT ${privs.join(', ')} ON ${key};`);
}
