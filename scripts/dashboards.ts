/**
 * Writes the Kibana saved objects of dashboards/ (NDJSON), offline: `npx tsx scripts/dashboards.ts`.
 * Aggregation-based visualizations (visState), not Lens: their state is small, stable across Kibana 8.x and
 * 9.x, and every field it uses is one `params.field`, which test/sinks/dashboards.test.ts checks against the
 * templates. Versions are those of the oldest supported Kibana (KIBANA_VERSION): newer Kibanas migrate them
 * on import; an older one would refuse them. Files are imported in name order (an object's references come
 * from its own file or an earlier one).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const KIBANA_VERSION = '8.14.0';
const CORE = '8.8.0';
const TYPE_VERSION: Record<string, string> = { 'index-pattern': '8.0.0', visualization: '8.5.0', search: '8.0.0', dashboard: '8.7.0' };
const OUT = join(import.meta.dirname, '..', 'dashboards');

type SavedObject = { id: string; type: string; attributes: Record<string, unknown>; references: { name: string; type: string; id: string }[] };

function so(id: string, type: string, attributes: Record<string, unknown>, references: SavedObject['references'] = []): SavedObject & Record<string, unknown> {
  return { id, type, managed: false, coreMigrationVersion: CORE, typeMigrationVersion: TYPE_VERSION[type], attributes, references };
}

const INDEX_REF = 'kibanaSavedObjectMeta.searchSourceJSON.index';

function dataView(id: string, title: string, name: string) {
  return so(id, 'index-pattern', {
    title,
    name,
    timeFieldName: '@timestamp',
    allowNoIndex: true,
    fieldFormatMap: '{}',
    runtimeFieldMap: '{}',
    fieldAttrs: '{}',
    sourceFilters: '[]',
    typeMeta: '{}',
  });
}

function searchSource(query = '') {
  return { searchSourceJSON: JSON.stringify({ query: { query, language: 'kuery' }, filter: [], indexRefName: INDEX_REF }) };
}

const count = { id: '1', enabled: true, type: 'count', params: {}, schema: 'metric' };
const dateHistogram = {
  id: '2',
  enabled: true,
  type: 'date_histogram',
  params: { field: '@timestamp', useNormalizedEsInterval: true, interval: 'auto', drop_partials: false, min_doc_count: 1, extended_bounds: {} },
  schema: 'segment',
};
function terms(id: string, field: string, schema: string, size = 10) {
  return {
    id,
    enabled: true,
    type: 'terms',
    params: { field, orderBy: '1', order: 'desc', size, otherBucket: true, otherBucketLabel: 'Other', missingBucket: false, missingBucketLabel: 'Missing' },
    schema,
  };
}

function histogramParams() {
  return {
    type: 'histogram',
    grid: { categoryLines: false },
    categoryAxes: [
      { id: 'CategoryAxis-1', type: 'category', position: 'bottom', show: true, style: {}, scale: { type: 'linear' }, labels: { show: true, filter: true, truncate: 100 }, title: {} },
    ],
    valueAxes: [
      {
        id: 'ValueAxis-1',
        name: 'LeftAxis-1',
        type: 'value',
        position: 'left',
        show: true,
        style: {},
        scale: { type: 'linear', mode: 'normal' },
        labels: { show: true, rotate: 0, filter: false, truncate: 100 },
        title: { text: 'Count' },
      },
    ],
    seriesParams: [
      { show: true, type: 'histogram', mode: 'stacked', data: { label: 'Count', id: '1' }, valueAxis: 'ValueAxis-1', drawLinesBetweenPoints: true, lineWidth: 2, showCircles: true },
    ],
    addTooltip: true,
    addLegend: true,
    legendPosition: 'right',
    times: [],
    addTimeMarker: false,
    labels: { show: false },
    thresholdLine: { show: false, value: 10, width: 1, style: 'full', color: '#E7664C' },
    detailedTooltip: true,
    palette: { type: 'palette', name: 'default' },
    isVislibVis: true,
  };
}

function vis(id: string, title: string, dataViewId: string, visState: { type: string; params: unknown; aggs: unknown[] }, query = '', description = '') {
  return so(
    id,
    'visualization',
    {
      title,
      description,
      uiStateJSON: '{}',
      version: 1,
      visState: JSON.stringify({ title, ...visState }),
      kibanaSavedObjectMeta: searchSource(query),
    },
    [{ name: INDEX_REF, type: 'index-pattern', id: dataViewId }],
  );
}

/** Changes (or alerts) over time, stacked by one field. */
function overTime(id: string, title: string, dv: string, field: string, query = '') {
  return vis(id, title, dv, { type: 'histogram', params: histogramParams(), aggs: [count, dateHistogram, terms('3', field, 'group')] }, query);
}

function table(id: string, title: string, dv: string, fields: string[], query = '') {
  return vis(
    id,
    title,
    dv,
    {
      type: 'table',
      params: { perPage: 10, showPartialRows: false, showMetricsAtAllLevels: false, showTotal: false, totalFunc: 'sum', percentageCol: '' },
      aggs: [count, ...fields.map((f, i) => terms(String(i + 2), f, 'bucket', 20))],
    },
    query,
  );
}

function pie(id: string, title: string, dv: string, fields: string[], query = '') {
  return vis(
    id,
    title,
    dv,
    {
      type: 'pie',
      params: {
        type: 'pie',
        addTooltip: true,
        legendDisplay: 'show',
        legendPosition: 'right',
        isDonut: true,
        nestedLegend: false,
        distinctColors: true,
        palette: { type: 'palette', name: 'default' },
        labels: { show: true, values: true, last_level: true, truncate: 100 },
      },
      aggs: [count, ...fields.map((f, i) => terms(String(i + 2), f, 'segment', 10))],
    },
    query,
  );
}

function markdown(id: string, title: string, text: string) {
  return so(id, 'visualization', {
    title,
    description: '',
    uiStateJSON: '{}',
    version: 1,
    visState: JSON.stringify({ title, type: 'markdown', params: { markdown: text, fontSize: 12, openLinksInNewTab: false }, aggs: [] }),
    kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }) },
  });
}

function savedSearch(id: string, title: string, dv: string, columns: string[], query = '') {
  return so(
    id,
    'search',
    { title, description: '', columns, sort: [['@timestamp', 'desc']], grid: {}, hideChart: false, kibanaSavedObjectMeta: searchSource(query) },
    [{ name: INDEX_REF, type: 'index-pattern', id: dv }],
  );
}

/** A dashboard of panels laid out two per row (w 24 of 48), in order. */
function dashboard(id: string, title: string, description: string, panels: { obj: SavedObject; w?: number; h?: number }[]) {
  let x = 0;
  let y = 0;
  let rowH = 0;
  const panelsJSON = panels.map((p, n) => {
    const w = p.w ?? 24;
    const h = p.h ?? 14;
    if (x + w > 48) {
      x = 0;
      y += rowH;
      rowH = 0;
    }
    const i = String(n + 1);
    const panel = { version: KIBANA_VERSION, type: p.obj.type, gridData: { x, y, w, h, i }, panelIndex: i, embeddableConfig: {}, panelRefName: `panel_${i}` };
    x += w;
    rowH = Math.max(rowH, h);
    return panel;
  });
  return so(
    id,
    'dashboard',
    {
      title,
      description,
      hits: 0,
      timeRestore: true,
      timeFrom: 'now-24h',
      timeTo: 'now',
      refreshInterval: { pause: false, value: 10_000 },
      optionsJSON: JSON.stringify({ useMargins: true, syncColors: false, syncCursor: true, syncTooltips: false, hidePanelTitles: false }),
      panelsJSON: JSON.stringify(panelsJSON),
      version: 1,
      kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }) },
    },
    panels.map((p, n) => ({ name: `${n + 1}:panel_${n + 1}`, type: p.obj.type, id: p.obj.id })),
  );
}

const C = 'rowtrail-changes';
const A = 'rowtrail-alerts';

export function savedObjects(): Record<string, SavedObject[]> {
  const views = [dataView(C, 'rowtrail-changes-*', 'rowtrail changes'), dataView(A, 'rowtrail-alerts-*', 'rowtrail alerts')];
  const intro = markdown(
    'rowtrail-intro',
    'rowtrail',
    '**rowtrail** records every row change with who made it. Filter with the query bar (e.g. `rowtrail.actor.agent : "deploy-bot"`); ' +
      'open *rowtrail — actor drill-down* for one actor; `rowtrail undo` reverts what you find.',
  );
  const byOp = overTime('rowtrail-changes-by-op', 'Changes over time by operation', C, 'event.action');
  const byKind = overTime('rowtrail-changes-by-actor-kind', 'Changes over time by actor kind', C, 'rowtrail.actor.kind');
  const byTable = overTime('rowtrail-changes-by-table', 'Changes over time by table', C, 'rowtrail.table');
  const topActors = table('rowtrail-top-actors', 'Top actors', C, ['rowtrail.actor.name', 'rowtrail.actor.kind']);
  const topTables = table('rowtrail-top-tables', 'Top tables', C, ['rowtrail.table', 'event.action']);
  const confidence = pie('rowtrail-actors-kind-confidence', 'Actors by kind and attribution confidence', C, ['rowtrail.actor.kind', 'rowtrail.actor.confidence']);
  const agents = overTime('rowtrail-ai-agent-activity', 'AI-agent activity by agent', C, 'rowtrail.actor.agent', 'rowtrail.actor.kind : "ai-agent"');
  const alertsTable = table('rowtrail-alerts-by-detector', 'Alerts by detector and severity', A, ['rule.name', 'rowtrail.alert.severity', 'rowtrail.alert.state']);
  const alertsTime = overTime('rowtrail-alerts-over-time', 'Alerts opened and resolved', A, 'event.action');
  const revertable = pie('rowtrail-revertability', 'Revertability (full images and a key: undo can revert)', C, ['rowtrail.revertable', 'rowtrail.incomplete']);
  const health = overTime('rowtrail-capture-by-source', 'Capture health: changes per source', C, 'service.name');
  const overview = dashboard(
    'rowtrail-overview',
    'rowtrail — overview',
    'Who changes what: changes by operation, actor kind and table; top actors and tables; AI agents; alerts; revertability; capture.',
    [
      { obj: intro, w: 48, h: 4 },
      { obj: byOp },
      { obj: byKind },
      { obj: byTable },
      { obj: topTables },
      { obj: topActors },
      { obj: confidence },
      { obj: agents },
      { obj: alertsTime },
      { obj: alertsTable },
      { obj: revertable },
      { obj: health, w: 48 },
    ],
  );
  const changes = savedSearch('rowtrail-changes-search', 'rowtrail — changes', C, [
    'message',
    'rowtrail.actor.name',
    'rowtrail.actor.kind',
    'user.name',
    'rowtrail.table',
    'event.action',
    'rowtrail.tx.id',
  ]);
  const actorTables = table('rowtrail-actor-tables', 'What the actor changed (table, operation)', C, ['rowtrail.table', 'event.action']);
  const actorSessions = table('rowtrail-actor-sessions', 'Sessions and clients', C, ['user.name', 'rowtrail.actor.application', 'client.ip']);
  const actorRuns = table('rowtrail-actor-runs', 'Transactions', C, ['rowtrail.tx.id']);
  const drill = dashboard(
    'rowtrail-actor',
    'rowtrail — actor drill-down',
    'One actor: filter the query bar on rowtrail.actor.name (agent or database user), then read its tables, sessions, transactions and changes.',
    [{ obj: byTable }, { obj: actorTables }, { obj: actorSessions }, { obj: actorRuns }, { obj: changes, w: 48, h: 20 }],
  );
  return {
    '00-data-views.ndjson': views,
    '10-rowtrail-overview.ndjson': [intro, byOp, byKind, byTable, topTables, topActors, confidence, agents, alertsTime, alertsTable, revertable, health, overview],
    '20-rowtrail-actor.ndjson': [changes, actorTables, actorSessions, actorRuns, drill],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [file, objs] of Object.entries(savedObjects())) {
    writeFileSync(join(OUT, file), objs.map((o) => JSON.stringify(o)).join('\n') + '\n');
    console.log(`${file}: ${objs.length} objects`);
  }
}
