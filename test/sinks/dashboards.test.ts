/**
 * The Kibana saved objects of dashboards/ checked offline, the way Kibana's import would read them, and
 * against the templates and the documents the sink writes: every line JSON, ids unique, every reference and
 * panelRefName resolves (in its file or an earlier one: files are imported in name order), the embedded JSON
 * strings parse, no version newer than the oldest supported Kibana, and every field a visualization, saved
 * search or query uses exists in the template of its data view with a type its aggregation can use.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALERTS_MAPPINGS, CHANGES_MAPPINGS, alertDocument, changeDocument, dashboardFiles, mappedFields } from '../../src/sinks/elasticsearch/index.js';
import type { Alert, ChangeEvent } from '../../src/model/index.js';
import { agent } from './helpers.js';
import { KIBANA_VERSION } from '../../scripts/dashboards.js';

type SO = { id: string; type: string; attributes: Record<string, any>; references: { name: string; type: string; id: string }[]; [k: string]: unknown };

const files = dashboardFiles();
const byFile = files.map((f) => ({
  file: f.split('/').pop()!,
  lines: readFileSync(f, 'utf8').split('\n').filter((l) => l.trim() !== ''),
}));
const objects: (SO & { file: string; order: number })[] = [];
byFile.forEach(({ file, lines }, order) => {
  for (const l of lines) objects.push({ ...(JSON.parse(l) as SO), file, order });
});
const key = (type: string, id: string) => `${type}/${id}`;
const index = new Map(objects.map((o) => [key(o.type, o.id), o]));

/** The template fields behind each data view (by its title pattern). */
const FIELDS: Record<string, Map<string, string>> = {
  'rowtrail-changes-*': mappedFields(CHANGES_MAPPINGS),
  'rowtrail-alerts-*': mappedFields(ALERTS_MAPPINGS),
};
const AGG_TYPES: Record<string, string[]> = {
  terms: ['keyword', 'ip', 'long', 'boolean'],
  date_histogram: ['date'],
  cardinality: ['keyword', 'ip', 'long'],
};

function cmpVersion(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

function dataViewOf(o: SO): SO {
  const ss = JSON.parse(o.attributes.kibanaSavedObjectMeta.searchSourceJSON);
  const ref = o.references.find((r) => r.name === ss.indexRefName)!;
  return index.get(key('index-pattern', ref.id))!;
}

/** Field names a KQL query names (`a.b : "x"`). */
function kqlFields(q: string): string[] {
  return [...q.matchAll(/([@\w][\w.]*)\s*:/g)].map((m) => m[1]);
}

describe('dashboards/ (Kibana saved objects)', () => {
  it('has the data views and the two dashboards, in files whose every line is a JSON object', () => {
    expect(byFile.map((f) => f.file)).toEqual(['00-data-views.ndjson', '10-rowtrail-overview.ndjson', '20-rowtrail-actor.ndjson']);
    for (const { lines } of byFile) for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect(objects.filter((o) => o.type === 'dashboard').map((o) => o.attributes.title)).toEqual(['rowtrail — overview', 'rowtrail — actor drill-down']);
    expect(objects.filter((o) => o.type === 'index-pattern').map((o) => o.attributes.title)).toEqual(['rowtrail-changes-*', 'rowtrail-alerts-*']);
  });

  it('ids are unique, and every reference resolves to an object of its file or an earlier one', () => {
    expect(index.size).toBe(objects.length);
    for (const o of objects) {
      for (const r of o.references) {
        const target = index.get(key(r.type, r.id));
        expect(target, `${o.id} → ${r.type}/${r.id}`).toBeDefined();
        expect(target!.order, `${o.id} → ${r.id} comes from a later file`).toBeLessThanOrEqual(o.order);
      }
    }
  });

  it('no version is newer than the oldest supported Kibana', () => {
    for (const o of objects) {
      for (const v of [o.coreMigrationVersion, o.typeMigrationVersion]) {
        expect(typeof v, o.id).toBe('string');
        expect(cmpVersion(v as string, KIBANA_VERSION), `${o.id} ${v}`).toBeLessThanOrEqual(0);
      }
      if (o.type === 'dashboard') for (const p of JSON.parse(o.attributes.panelsJSON)) expect(cmpVersion(p.version, KIBANA_VERSION)).toBeLessThanOrEqual(0);
    }
  });

  it('embedded JSON parses, and every panelRefName and indexRefName has its reference', () => {
    for (const o of objects) {
      const a = o.attributes;
      if (a.kibanaSavedObjectMeta) {
        const ss = JSON.parse(a.kibanaSavedObjectMeta.searchSourceJSON);
        if (ss.indexRefName) expect(o.references.map((r) => r.name), o.id).toContain(ss.indexRefName);
      }
      if (o.type === 'visualization') {
        expect(() => JSON.parse(a.visState)).not.toThrow();
        expect(() => JSON.parse(a.uiStateJSON)).not.toThrow();
      }
      if (o.type === 'dashboard') {
        JSON.parse(a.optionsJSON);
        const panels = JSON.parse(a.panelsJSON) as { panelIndex: string; panelRefName: string; type: string }[];
        expect(new Set(panels.map((p) => p.panelIndex)).size).toBe(panels.length);
        for (const p of panels) {
          const ref = o.references.find((r) => r.name === `${p.panelIndex}:${p.panelRefName}`);
          expect(ref, `${o.id} panel ${p.panelIndex}`).toBeDefined();
          expect(ref!.type).toBe(p.type);
        }
      }
    }
  });

  it('every field used exists in the template of its data view, with a type its aggregation takes', () => {
    let checked = 0;
    for (const dv of objects.filter((o) => o.type === 'index-pattern')) {
      expect(FIELDS[dv.attributes.title]!.get(dv.attributes.timeFieldName)).toBe('date');
    }
    for (const o of objects) {
      if (o.type !== 'visualization' && o.type !== 'search') continue;
      const ss = JSON.parse(o.attributes.kibanaSavedObjectMeta.searchSourceJSON);
      if (!ss.indexRefName) continue; // markdown
      const fields = FIELDS[dataViewOf(o).attributes.title]!;
      for (const f of kqlFields(ss.query.query)) expect(fields.has(f), `${o.id}: query field ${f}`).toBe(true);
      if (o.type === 'search') {
        for (const c of o.attributes.columns) expect(fields.has(c), `${o.id}: column ${c}`).toBe(true);
        for (const [f] of o.attributes.sort) expect(fields.get(f), `${o.id}: sort ${f}`).toBe('date');
        checked++;
        continue;
      }
      for (const agg of JSON.parse(o.attributes.visState).aggs as { type: string; params: { field?: string } }[]) {
        if (!agg.params.field) continue;
        const t = fields.get(agg.params.field);
        expect(t, `${o.id}: ${agg.type} on ${agg.params.field}`).toBeDefined();
        expect(AGG_TYPES[agg.type], `${o.id}: aggregation ${agg.type}`).toBeDefined();
        expect(AGG_TYPES[agg.type]).toContain(t);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('the documents the sink writes carry the fields the dashboards use, and every field they index is mapped', () => {
    const ev: ChangeEvent = {
      id: 'app:0/16B6C50:3',
      source: 'app',
      system: 'postgresql',
      database: 'app',
      schema: 'public',
      table: 'users',
      op: 'update',
      key: { id: '42' },
      before: { id: '42', role: 'user' },
      after: { id: '42', role: 'admin' },
      changed: ['role'],
      incomplete: ['before'],
      missing: { before: ['bio'] },
      tx: { id: '771', position: '0/16B6C50', commitTime: '2026-11-26T10:00:00.123456Z', index: 3, size: 5 },
      actor: { ...agent, currentUser: 'admin_role' },
    };
    const alert: Alert = {
      id: 'a1',
      detector: 'volume-spike',
      severity: 'critical',
      title: 't',
      summary: 's',
      source: 'app',
      table: 'public.users',
      actor: agent,
      window: { from: '2026-11-26T10:00:00.000Z', to: '2026-11-26T10:05:00.000Z' },
      evidence: { observed: 3, nested: { a: [1, 2] } },
      txIds: ['771'],
      state: 'open',
      undo: 'rowtrail undo --tx 771',
    };
    const leaves = (doc: unknown, fields: Map<string, string>) => {
      const out = new Map<string, unknown>();
      const walk = (v: unknown, path: string) => {
        if (fields.get(path) === 'flattened' || v === null || typeof v !== 'object' || Array.isArray(v)) {
          out.set(path, v);
          return;
        }
        for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
      };
      walk(doc, '');
      return out;
    };
    for (const [doc, title] of [
      [changeDocument(ev, 7), 'rowtrail-changes-*'],
      [alertDocument(alert, 'open'), 'rowtrail-alerts-*'],
    ] as const) {
      const fields = FIELDS[title]!;
      const got = leaves(doc, fields);
      for (const path of got.keys()) expect(fields.has(path), `${title}: ${path} is written but not mapped`).toBe(true);
      const used = new Set<string>();
      for (const o of objects) {
        if (o.type !== 'visualization' || !o.references.length || dataViewOf(o).attributes.title !== title) continue;
        for (const agg of JSON.parse(o.attributes.visState).aggs) if (agg.params.field) used.add(agg.params.field);
      }
      for (const f of used) expect(got.has(f), `${title}: dashboards use ${f}, the sink never writes it`).toBe(true);
    }
  });
});

describe('scripts/dashboards.ts', () => {
  it('the committed NDJSON is what the generator writes (run `npx tsx scripts/dashboards.ts` after changing it)', async () => {
    const { savedObjects } = await import('../../scripts/dashboards.js');
    for (const [file, objs] of Object.entries(savedObjects())) {
      const committed = byFile.find((f) => f.file === file);
      expect(committed?.lines, file).toEqual(objs.map((o) => JSON.stringify(o)));
    }
  });
});
