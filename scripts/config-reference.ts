/**
 * Writes docs/configuration.md from the config schema: every key with its type, default, environment
 * override and the JSDoc written beside it in src/config/schema.ts. `npm run docs:config`; a test fails
 * when the committed file differs from what this prints.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { z } from 'zod';
import { configSchema } from '../src/config/schema.js';
import { ENV_OVERRIDES } from '../src/config/load.js';

const ROOT = join(import.meta.dirname, '..');
const SCHEMA_FILE = join(ROOT, 'src', 'config', 'schema.ts');
export const REFERENCE_FILE = join(ROOT, 'docs', 'configuration.md');

/** The schema variables that are used as the items of a list key (`sources: z.array(sourceSchema)`). */
const NAMED_ITEMS: Record<string, string> = {
  sourceSchema: 'sources[]',
  guardSchema: 'guards[]',
  configSchema: '',
  slackChannelSchema: 'alerts.slack',
  pagerdutyChannelSchema: 'alerts.pagerduty',
  webhookChannelSchema: 'alerts.webhook',
  // keys shared by every alert channel; looked up as `alerts.*.<key>`
  routing: 'alerts.*',
};

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
}

interface Row {
  key: string;
  type: string;
  def: string;
  env: string;
  doc: string;
}

/** JSDoc of every key in schema.ts, by key path (`sources[].tables`, `store.path`). */
export function schemaDocs(file = SCHEMA_FILE): Map<string, string> {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const docs = new Map<string, string>();
  const visit = (n: ts.Node): void => {
    if (ts.isPropertyAssignment(n)) {
      const text = ts
        .getJSDocCommentsAndTags(n)
        .map((d) => (ts.isJSDoc(d) ? ts.getTextOfJSDocComment(d.comment) ?? '' : ''))
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim();
      if (text) docs.set(pathOf(n), text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return docs;
}

/** A property's key path: the names of the enclosing properties, `[]` where a list sits between them. */
function pathOf(prop: ts.PropertyAssignment): string {
  const parts: string[] = [];
  let inList = false;
  for (let n: ts.Node = prop; n; n = n.parent) {
    if (ts.isPropertyAssignment(n)) {
      parts.unshift(n.name.getText() + (inList && n !== prop ? '[]' : ''));
      inList = false;
    } else if (ts.isCallExpression(n) && /\.array$/.test(n.expression.getText())) {
      inList = true;
    } else if (ts.isVariableDeclaration(n)) {
      const prefix = NAMED_ITEMS[n.name.getText()];
      if (prefix) parts.unshift(prefix);
      break;
    }
  }
  // the `[]` is attached to the list's own name when the next part is reached; fix the form `a.[]` → `a[]`
  return parts.join('.').replace(/\.\[\]/g, '[]');
}

function typeText(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' | ');
  if (s.anyOf) return s.anyOf.map(typeText).join(' | ');
  const t = Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any');
  const limits: string[] = [];
  if (s.pattern) limits.push(`pattern \`${s.pattern}\``);
  if (s.minLength !== undefined && s.minLength > 1) limits.push(`at least ${s.minLength} characters`);
  if (s.maxLength !== undefined) limits.push(`at most ${s.maxLength} characters`);
  if (s.minimum !== undefined && s.maximum !== undefined) limits.push(`${s.minimum}–${s.maximum}`);
  if (s.minItems) limits.push(`at least ${s.minItems}`);
  if (t === 'array' && s.items) return `list of ${typeText(s.items)}${limits.length ? ` (${limits.join(', ')})` : ''}`;
  return limits.length ? `${t} (${limits.join(', ')})` : t;
}

/** A default as YAML would spell it: strings bare, lists and maps left to the meaning column. */
function defaultText(v: unknown): string {
  if (v === undefined || (typeof v === 'object' && v !== null)) return '';
  return `\`${String(v)}\``;
}

/**
 * One row per key, depth first. `required` is said against the enclosing section: a required key of an
 * optional section (`alerts.slack.webhookUrl`) is required only when that section is given.
 */
function rows(s: JsonSchema, path: string, required: boolean, out: Row[], docs: Map<string, string>, section = ''): void {
  const env = [
    ...ENV_OVERRIDES.filter((o) => o.key.join('.') === path).map((o) => `\`${o.env}\``),
    ...(path === 'sources[].url' ? ['password: `ROWTRAIL_<NAME>_PASSWORD`'] : []),
  ].join(', ');
  const where = section.endsWith('[]') ? ' in each entry' : section ? ` if \`${section}\` is given` : '';
  const def = required ? `required${where}` : defaultText(s.default);
  const doc = docs.get(path) ?? docs.get(path.replace(/^alerts\.[a-z]+\./, 'alerts.*.')) ?? '';
  // one entry or a list of them (`alerts.slack`): the entry's keys, said once
  const one = s.anyOf?.find((x) => x.type === 'object' && x.properties);
  if (one && s.anyOf?.some((x) => x.type === 'array')) {
    out.push({ key: path, type: 'section, or a list of them', def: '', env, doc });
    for (const [k, v] of Object.entries(one.properties!)) rows(v, `${path}.${k}`, !!one.required?.includes(k), out, docs, path);
    return;
  }
  if (s.type === 'object' && s.properties) {
    if (path && (doc || required)) out.push({ key: path, type: 'section', def: required ? def : '', env, doc });
    // a section with a default is always there; one without is given or not as a whole
    const inner = s.default !== undefined || !path ? section : path;
    for (const [k, v] of Object.entries(s.properties)) rows(v, path ? `${path}.${k}` : k, !!s.required?.includes(k), out, docs, inner);
    return;
  }
  if (s.type === 'object' && typeof s.additionalProperties === 'object') {
    out.push({ key: `${path}.<key>`, type: typeText(s.additionalProperties), def, env, doc });
    return;
  }
  if (s.type === 'array' && s.items?.type === 'object' && s.items.properties) {
    out.push({ key: `${path}[]`, type: 'list', def: required ? 'required' : '', env, doc });
    rows(s.items, `${path}[]`, false, out, docs, `${path}[]`);
    return;
  }
  out.push({ key: path, type: typeText(s), def, env, doc });
}

/** The whole of docs/configuration.md. */
export function configReference(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: Row[] = [];
  rows(schema, '', false, out, schemaDocs());
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '# Configuration reference',
    '',
    '<!-- Generated by `npm run docs:config` from src/config/schema.ts; edit the schema, not this file. -->',
    '',
    '`rowtrail.yaml` (or the file given with `--config`), checked at start: an unknown key, a wrong type or a',
    'value out of range stops every command with one line naming the key. Every key is optional except',
    '`sources`. `[]` marks a list of entries; `<key>` a map with keys of your choice. Relative `store.path` is',
    'resolved against the config file\'s folder. Environment variables override the file where listed.',
    '',
    '| key | type | default | environment | meaning |',
    '|---|---|---|---|---|',
    ...out.map((r) => `| \`${r.key}\` | ${cell(r.type)} | ${r.def} | ${r.env} | ${cell(r.doc)} |`),
    '',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  writeFileSync(REFERENCE_FILE, configReference());
  process.stdout.write(`wrote ${REFERENCE_FILE}\n`);
}
