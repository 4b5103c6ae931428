/** The `elasticsearch:` config: one clear line per mistake, and the client built from it. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { authHeader, createEsClient, esNodes } from '../../src/sinks/elasticsearch/index.js';
import { esConfig } from './helpers.js';

const base = { sources: [{ name: 'app', kind: 'postgres', url: 'postgres://u@h/db' }] };
const parse = (es: unknown, env: NodeJS.ProcessEnv = {}) => () => parseConfig({ ...base, elasticsearch: es }, env);

describe('elasticsearch config', () => {
  it('refuses what cannot work, naming the key', () => {
    expect(parse({})).toThrow('config: elasticsearch: needs node (or nodes): the Elasticsearch URL');
    expect(parse({ node: 'http://es:9200', apiKey: 'k', username: 'u' })).toThrow('use either apiKey or username/password, not both');
    expect(parse({ node: 'http://es:9200', namespace: 'prod-eu' })).toThrow(/elasticsearch\.namespace: must be lower case letters, digits, _ or \./);
    expect(parse({ node: 'http://es:9200', retention: '3 months' })).toThrow('elasticsearch.retention: must be like 90d, 12h');
    expect(parse({ node: 'es:9200' })).toThrow('elasticsearch.node: must be an http:// or https:// URL');
  });

  it('takes secrets from the environment and never needs them in the file', () => {
    const cfg = parseConfig({ ...base, elasticsearch: { node: 'http://es:9200', username: 'rowtrail' } }, { ROWTRAIL_ELASTICSEARCH_PASSWORD: 's3cret' });
    expect(cfg.elasticsearch).toMatchObject({ username: 'rowtrail', password: 's3cret', namespace: 'default', lifecycle: 'data-stream', batchSize: 1000 });
    expect(authHeader(cfg.elasticsearch!)).toBe(`Basic ${Buffer.from('rowtrail:s3cret').toString('base64')}`);
  });

  it('lists node and nodes once each, and says which CA file it cannot read', () => {
    expect(esNodes(esConfig({ nodes: ['http://localhost:9200', 'http://b:9200'] }))).toEqual(['http://localhost:9200', 'http://b:9200']);
    expect(() => createEsClient(esConfig({ caFile: '/nonexistent/ca.pem' }))).toThrow('elasticsearch.caFile: cannot read /nonexistent/ca.pem: ENOENT');
  });
});
