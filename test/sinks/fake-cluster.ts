/**
 * Elasticsearch semantics on top of Elastic's own mock (@elastic/elasticsearch-mock), for the parts the sink
 * and `setup elastic` use: templates (component, index, ILM), `HEAD/GET _index_template`, and `_bulk` as a
 * data stream answers it: `create` only, 409 `version_conflict_engine_exception` on an id the stream holds,
 * `require_data_stream` refusing a target no data-stream template matches, and each document checked against
 * the mapping the matching template composes (a value of the wrong type is a 400 `document_parsing_exception`;
 * `dynamic: false` leaves unmapped fields alone). Faults can be queued: whole-request errors (503, 401, a
 * connection error), per-item 429/400, and slow responses. Every request is recorded with its headers.
 */
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import type { MockPattern } from '@elastic/elasticsearch-mock';
import { Client, errors } from '@elastic/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';

export interface Recorded {
  method: string;
  path: string;
  querystring: string;
  headers: Record<string, string>;
}

// The package is CommonJS (`module.exports = Mocker`) with an `export default` typing: load it as it is.
interface ClientMock {
  add(pattern: MockPattern, resolver: (params: any) => unknown): ClientMock;
  getConnection(): unknown;
}
const Mock = createRequire(import.meta.url)('@elastic/elasticsearch-mock') as new () => ClientMock;

type Props = Record<string, estypes.MappingProperty>;

export class FakeCluster {
  readonly mock = new Mock();
  readonly requests: Recorded[] = [];
  readonly components = new Map<string, estypes.ClusterPutComponentTemplateRequest>();
  readonly indexTemplates = new Map<string, estypes.IndicesPutIndexTemplateRequest>();
  readonly ilm = new Map<string, unknown>();
  /** data stream → id → document source. Insertion order is arrival order. */
  readonly streams = new Map<string, Map<string, Record<string, unknown>>>();
  /** Each bulk request's document count. */
  readonly bulkSizes: number[] = [];
  /** Queued whole-request failures for the next bulk requests. */
  readonly failRequests: ({ status: number; type: string } | 'connection')[] = [];
  /** Per document id, queued item failures (consumed one per attempt). */
  readonly failItems = new Map<string, { status: number; type: string }[]>();
  /** Called with the number of each bulk request (1, 2, …) as it arrives. */
  onBulk: ((n: number) => void) | null = null;
  private bulkCount = 0;
  /** Delay of every response, ms. */
  delayMs = 0;

  constructor() {
    const m = this.mock;
    m.add({ method: 'HEAD', path: '/_index_template/:name' }, (p: any) => {
      const name = p.path.split('/').pop();
      return this.indexTemplates.has(name) ? '' : new errors.ResponseError({ body: '', statusCode: 404, headers: {}, warnings: null, meta: {} as any });
    });
    m.add({ method: 'GET', path: '/_index_template/:name' }, (p: any) => {
      const pat = new RegExp(`^${p.path.split('/').pop().replace(/\*/g, '.*')}$`);
      const list = [...this.indexTemplates.values()].filter((t) => pat.test(t.name));
      if (!list.length) return error(404, 'resource_not_found_exception', 'index template matching [rowtrail-*] not found');
      return { index_templates: list.map(({ name, ...rest }) => ({ name, index_template: rest })) };
    });
    m.add({ method: 'PUT', path: '/_component_template/:name' }, (p: any) => {
      this.components.set(p.path.split('/').pop(), { name: p.path.split('/').pop(), ...p.body });
      return { acknowledged: true };
    });
    m.add({ method: 'PUT', path: '/_index_template/:name' }, (p: any) => {
      const name = p.path.split('/').pop();
      for (const c of p.body.composed_of ?? []) {
        if (!this.components.has(c)) return error(400, 'invalid_index_template_exception', `component template [${c}] does not exist`);
      }
      this.indexTemplates.set(name, { name, ...p.body });
      return { acknowledged: true };
    });
    m.add({ method: 'PUT', path: '/_ilm/policy/:name' }, (p: any) => {
      this.ilm.set(p.path.split('/').pop(), p.body);
      return { acknowledged: true };
    });
    m.add({ method: 'HEAD', path: '/:index' }, (p: any) =>
      this.streams.has(p.path.slice(1)) ? '' : new errors.ResponseError({ body: '', statusCode: 404, headers: {}, warnings: null, meta: {} as any }),
    );
    m.add({ method: 'POST', path: '/:index/_rollover' }, () => ({ acknowledged: true, rolled_over: true }));
    m.add({ method: 'POST', path: '/_bulk' }, (p: any) => this.bulk(p));
  }

  /** A client wired to this cluster (the mock's Connection, recording headers and delaying responses). */
  client(opts: { auth?: { apiKey: string } } = {}): Client {
    const Base = this.mock.getConnection() as any;
    const cluster = this;
    class Recording extends Base {
      async request(params: any, options: any) {
        // The HTTP connections send a Buffer body as is; the mock parses strings only.
        if (Buffer.isBuffer(params.body)) params = { ...params, body: params.body.toString('utf8') };
        cluster.requests.push({ method: params.method, path: params.path, querystring: String(params.querystring ?? ''), headers: { ...params.headers } });
        if (cluster.delayMs) await new Promise((r) => setTimeout(r, cluster.delayMs));
        if (params.path === '/_bulk' && cluster.failRequests[0] === 'connection') {
          cluster.failRequests.shift();
          throw new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9200');
        }
        return super.request(params, options);
      }
    }
    return new Client({ node: 'http://localhost:9200', Connection: Recording as any, maxRetries: 0, ...opts });
  }

  /** Every document of a stream, in arrival order. */
  docs(stream: string): Record<string, unknown>[] {
    return [...(this.streams.get(stream)?.values() ?? [])];
  }

  ids(stream: string): string[] {
    return [...(this.streams.get(stream)?.keys() ?? [])];
  }

  /** The mapping the index templates give a name (null: no data-stream template matches). */
  mappingFor(index: string): estypes.MappingTypeMapping | null {
    const matching = [...this.indexTemplates.values()]
      .filter((t) => [t.index_patterns ?? []].flat().some((pat) => new RegExp(`^${String(pat).replace(/\*/g, '.*')}$`).test(index)))
      .sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0));
    const t = matching[0];
    if (!t?.data_stream) return null;
    const props: Props = {};
    let dynamic: estypes.MappingTypeMapping['dynamic'] = true;
    for (const c of t.composed_of ?? []) {
      const m = this.components.get(c)?.template.mappings;
      if (m?.properties) Object.assign(props, m.properties);
      if (m?.dynamic !== undefined) dynamic = m.dynamic;
    }
    return { dynamic, properties: props };
  }

  private bulk(p: any) {
    this.onBulk?.(++this.bulkCount);
    const fail = this.failRequests[0];
    if (fail && fail !== 'connection') {
      this.failRequests.shift();
      return error(fail.status, fail.type, 'injected');
    }
    const lines = p.body as Record<string, any>[];
    const requireDs = /require_data_stream=true/.test(new URLSearchParams(p.querystring).toString());
    const items: object[] = [];
    this.bulkSizes.push(lines.length / 2);
    for (let i = 0; i < lines.length; i += 2) {
      const [op, meta] = Object.entries(lines[i])[0] as [string, { _index: string; _id: string }];
      const doc = lines[i + 1];
      const item = (status: number, err?: { type: string; reason: string }) => ({
        [op]: { _index: meta._index, _id: meta._id, status, ...(err ? { error: err } : { result: 'created', _version: 1 }) },
      });
      const queued = this.failItems.get(meta._id)?.shift();
      if (queued) {
        items.push(item(queued.status, { type: queued.type, reason: 'injected' }));
        continue;
      }
      const mapping = this.mappingFor(meta._index);
      if (!mapping) {
        items.push(
          requireDs
            ? item(404, { type: 'index_not_found_exception', reason: `no such index [${meta._index}] and [require_data_stream] request flag is [true]` })
            : item(201),
        );
        continue;
      }
      if (op !== 'create') {
        items.push(item(400, { type: 'illegal_argument_exception', reason: `only write ops with an op_type of create are allowed in data streams` }));
        continue;
      }
      const bad = checkDoc(doc, mapping.properties ?? {}, '');
      if (bad) {
        items.push(item(400, { type: 'document_parsing_exception', reason: bad }));
        continue;
      }
      let s = this.streams.get(meta._index);
      if (!s) this.streams.set(meta._index, (s = new Map()));
      if (s.has(meta._id)) {
        items.push(item(409, { type: 'version_conflict_engine_exception', reason: `[${meta._id}]: version conflict, document already exists` }));
        continue;
      }
      s.set(meta._id, doc);
      items.push(item(201));
    }
    return { errors: items.some((it) => (Object.values(it as object)[0] as { status: number }).status >= 300), took: 1, items };
  }
}

function error(status: number, type: string, reason: string) {
  return new errors.ResponseError({
    body: { error: { type, reason }, status },
    statusCode: status,
    headers: {},
    warnings: null,
    meta: {} as any,
  });
}

/** The first value that does not fit its mapped type, as Elasticsearch would reject it; null when all fit. */
function checkDoc(doc: unknown, props: Props, prefix: string): string | null {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return `[${prefix || 'root'}] expected an object`;
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const p = props[k];
    if (!p || v === null) continue; // dynamic: false — kept in _source, not mapped
    const name = prefix + k;
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one === null) continue;
      const bad = checkValue(one, p, name);
      if (bad) return bad;
    }
  }
  return null;
}

function checkValue(v: unknown, p: estypes.MappingProperty, name: string): string | null {
  const type = (p as { type?: string }).type ?? ('properties' in p ? 'object' : 'object');
  const fail = (why: string) => `failed to parse field [${name}] of type [${type}]: ${why}`;
  switch (type) {
    case 'object':
      return typeof v === 'object' ? checkDoc(v, (p as estypes.MappingObjectProperty).properties ?? {}, `${name}.`) : fail(`tried to parse field [${name}] as object, but found a concrete value`);
    case 'flattened':
      return typeof v === 'object' ? null : null; // a flattened field takes a leaf value or an object
    case 'keyword':
    case 'match_only_text':
    case 'text':
      return typeof v === 'object' ? fail(`Can't get text on a START_OBJECT`) : null;
    case 'long':
      return Number.isInteger(typeof v === 'string' ? Number(v) : v) ? null : fail(`For input string: "${String(v)}"`);
    case 'boolean':
      return typeof v === 'boolean' || v === 'true' || v === 'false' ? null : fail(`Failed to parse value [${String(v)}] as only [true] or [false] are allowed.`);
    case 'ip':
      return typeof v === 'string' && isIP(v) ? null : fail(`'${String(v)}' is not an IP string literal.`);
    case 'date':
      return (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) && !Number.isNaN(Date.parse(v))) || typeof v === 'number'
        ? null
        : fail(`failed to parse date field [${String(v)}] with format [strict_date_optional_time||epoch_millis]`);
    default:
      return null;
  }
}
