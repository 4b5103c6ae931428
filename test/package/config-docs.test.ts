/**
 * docs/configuration.md is what `npm run docs:config` prints from the schema today, and the environment
 * overrides it lists are the ones loading applies.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { configReference, REFERENCE_FILE } from '../../scripts/config-reference.js';
import { ENV_OVERRIDES, parseConfig } from '../../src/config/index.js';

describe('configuration reference', () => {
  it('the committed docs/configuration.md is up to date (run `npm run docs:config` after changing the schema)', () => {
    expect(readFileSync(REFERENCE_FILE, 'utf8')).toBe(configReference());
  });

  it('lists every key of the schema, with the keys a user writes most', () => {
    const text = configReference();
    for (const key of ['sources[].name', 'sources[].url', 'sources[].preciseTables', 'store.path', 'store.retention', 'actors[].match.agent', 'identity.sampleIntervalMs', 'http.port', 'masking.columns.<key>']) {
      expect(text).toContain(`| \`${key}\` |`);
    }
    expect(text).toMatch(/\| `identity\.maxContextBytes` \| integer \(64–65536\) \| `2048` \|/);
  });

  it('each environment variable it lists overrides the key it names', () => {
    const base = { sources: [{ name: 'app', kind: 'postgres', url: 'postgres://u@h/db' }], elasticsearch: { node: 'http://es:9200' } };
    for (const o of ENV_OVERRIDES) {
      const value = o.number ? '8123' : ['ROWTRAIL_ELASTICSEARCH_NODE', 'ROWTRAIL_KIBANA_URL'].includes(o.env) ? 'http://other:9200/' : 'a-value-of-sixteen-plus';
      const cfg = parseConfig(base, { [o.env]: value }) as unknown as Record<string, Record<string, unknown>>;
      expect(cfg[o.key[0]]![o.key[1]], o.env).toBe(o.number ? 8123 : value);
      expect(configReference()).toContain(`| \`${o.key.join('.')}\` |`);
    }
  });
});
