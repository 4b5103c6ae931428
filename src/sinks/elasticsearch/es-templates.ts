/**
 * The Elasticsearch templates rowtrail installs (`rowtrail setup elastic`), typed against the client's request
 * types: component templates with the mappings of changes and alerts (shared by every namespace), one with a
 * namespace's retention, and composable index templates that make `rowtrail-changes-<namespace>` and
 * `rowtrail-alerts-<namespace>` data streams (outside `logs-*-*`, so Elastic's built-in logs templates never
 * apply). `dynamic: false`: fields not listed here are kept in `_source` but never mapped, so arbitrary tables
 * cannot grow the mapping; row images are `flattened` (one field each, whatever the columns).
 */
import type { estypes } from '@elastic/elasticsearch';
import { streamNames } from './es-documents.js';

/** Bumped when the templates change; stored in each template's `version` (and `_meta`). */
export const TEMPLATE_VERSION = 1;

/** Longest keyword indexed: 8191 characters stay under Lucene's 32766-byte term limit whatever the UTF-8. */
const IGNORE_ABOVE = 8191;

const keyword: estypes.MappingKeywordProperty = { type: 'keyword', ignore_above: IGNORE_ABOVE };
const text: estypes.MappingMatchOnlyTextProperty = { type: 'match_only_text' };
const long: estypes.MappingLongNumberProperty = { type: 'long' };
const date: estypes.MappingDateProperty = { type: 'date' };
const ip: estypes.MappingIpProperty = { type: 'ip' };
const bool: estypes.MappingBooleanProperty = { type: 'boolean' };
/**
 * `flattened` with ignore_above (Elasticsearch supports it; the client's type does not list it): one long
 * value must not reject the whole document with an immense-term error.
 */
const flattened: estypes.MappingFlattenedProperty & { ignore_above: number } = { type: 'flattened', ignore_above: IGNORE_ABOVE };

type Props = Record<string, estypes.MappingProperty>;
const obj = (properties: Props): estypes.MappingObjectProperty => ({ properties });

/** Fields both kinds of documents share. */
const common: Props = {
  '@timestamp': date,
  message: text,
  event: obj({
    kind: keyword,
    category: keyword,
    type: keyword,
    action: keyword,
    id: keyword,
    sequence: long,
    severity: long,
    dataset: keyword,
    module: keyword,
  }),
  service: obj({ name: keyword }),
  user: obj({ name: keyword, effective: obj({ name: keyword }) }),
  client: obj({ ip, address: keyword }),
  related: obj({ user: keyword, ip }),
  db: obj({
    system: obj({ name: keyword }),
    namespace: keyword,
    collection: obj({ name: keyword }),
    operation: obj({ name: keyword }),
  }),
};

const actor: estypes.MappingObjectProperty = obj({
  name: keyword,
  kind: keyword,
  agent: keyword,
  confidence: keyword,
  method: keyword,
  application: keyword,
  session_id: keyword,
  context: flattened,
});

export const CHANGES_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: {
    ...common,
    rowtrail: obj({
      change_id: keyword,
      source: keyword,
      schema: keyword,
      table: keyword,
      op: keyword,
      key: flattened,
      before: flattened,
      after: flattened,
      changed: keyword,
      incomplete: keyword,
      missing: flattened,
      truncate: flattened,
      ddl: text,
      revertable: bool,
      tx: obj({ id: keyword, position: keyword, commit_time: keyword, index: long, size: long, seq: long }),
      actor,
    }),
  },
};

export const ALERTS_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: {
    ...common,
    rule: obj({ id: keyword, name: keyword, description: keyword }),
    rowtrail: obj({
      source: keyword,
      table: keyword,
      actor,
      alert: obj({
        id: keyword,
        detector: keyword,
        severity: keyword,
        state: keyword,
        title: keyword,
        summary: text,
        window: obj({ from: date, to: date }),
        evidence: flattened,
        tx_ids: keyword,
        undo: keyword,
      }),
    }),
  },
};

export interface TemplateOptions {
  namespace: string;
  /** e.g. `90d`; undefined: keep forever. */
  retention?: string;
  lifecycle: 'data-stream' | 'ilm';
}

export interface TemplateSet {
  ilmPolicy: estypes.IlmPutLifecycleRequest | null;
  components: estypes.ClusterPutComponentTemplateRequest[];
  indexTemplates: estypes.IndicesPutIndexTemplateRequest[];
}

const meta = { managed_by: 'rowtrail', template_version: TEMPLATE_VERSION };

/** Everything `setup elastic` puts, in order (policy, component templates, index templates). */
export function templateSet(o: TemplateOptions): TemplateSet {
  const names = streamNames(o.namespace);
  const settingsName = `rowtrail-${o.namespace}-settings`;
  const policyName = `rowtrail-${o.namespace}`;
  const ilmPolicy: estypes.IlmPutLifecycleRequest | null =
    o.lifecycle === 'ilm'
      ? {
          name: policyName,
          policy: {
            _meta: meta,
            phases: {
              hot: { actions: { rollover: { max_age: '1d', max_primary_shard_size: '50gb' } } },
              ...(o.retention ? { delete: { min_age: o.retention, actions: { delete: {} } } } : {}),
            },
          },
        }
      : null;
  const settingsTemplate: estypes.IndicesPutIndexTemplateIndexTemplateMapping =
    o.lifecycle === 'ilm'
      ? { settings: { index: { lifecycle: { name: policyName } } } }
      : { lifecycle: o.retention ? { enabled: true, data_retention: o.retention } : { enabled: true } };
  const components: estypes.ClusterPutComponentTemplateRequest[] = [
    { name: 'rowtrail-changes-mappings', version: TEMPLATE_VERSION, _meta: meta, template: { mappings: CHANGES_MAPPINGS } },
    { name: 'rowtrail-alerts-mappings', version: TEMPLATE_VERSION, _meta: meta, template: { mappings: ALERTS_MAPPINGS } },
    { name: settingsName, version: TEMPLATE_VERSION, _meta: meta, template: settingsTemplate },
  ];
  const indexTemplate = (stream: string, mappings: string): estypes.IndicesPutIndexTemplateRequest => ({
    name: stream,
    index_patterns: [stream],
    data_stream: {},
    // Above Elastic's built-in templates (priority 100..200 for logs-*-*, metrics-*-*): ours always win for our names.
    priority: 500,
    composed_of: [mappings, settingsName],
    version: TEMPLATE_VERSION,
    _meta: meta,
  });
  return {
    ilmPolicy,
    components,
    indexTemplates: [indexTemplate(names.changes, 'rowtrail-changes-mappings'), indexTemplate(names.alerts, 'rowtrail-alerts-mappings')],
  };
}

/** Every mapped leaf field of a mapping, dotted, with its type (`rowtrail.before` → `flattened`). */
export function mappedFields(m: estypes.MappingTypeMapping): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (props: Record<string, estypes.MappingProperty> | undefined, prefix: string) => {
    for (const [k, p] of Object.entries(props ?? {})) {
      const name = prefix + k;
      if ('properties' in p && p.properties) walk(p.properties, `${name}.`);
      else out.set(name, (p as { type?: string }).type ?? 'object');
    }
  };
  walk(m.properties, '');
  return out;
}
