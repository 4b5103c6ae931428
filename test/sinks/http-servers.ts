/**
 * Real local HTTP servers that speak the few endpoints rowtrail uses: an Elasticsearch (templates, `_bulk`
 * into data streams with create-only, 409 on a stored id; the `x-elastic-product` header the client checks)
 * and a Kibana (status, saved objects import as multipart). They record what they receive.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  url: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (`port` 0: any free port; a given port: the same one again after an outage). */
function listen(server: Server, at = 0): Promise<Listening> {
  return new Promise((resolve) => {
    server.listen(at, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

export class EsHttp {
  readonly templates = new Map<string, unknown>();
  readonly components = new Map<string, unknown>();
  readonly streams = new Map<string, Map<string, string>>();
  readonly headers: Record<string, string | string[] | undefined>[] = [];
  docsReceived = 0;
  /** When set, every request gets this status (an outage or a refusal). */
  failWith: number | null = null;
  /** Skip storing documents (the benchmark: rowtrail's own cost, not this server's). */
  countOnly = false;
  server: Listening | null = null;

  async start(port = 0): Promise<string> {
    this.server = await listen(createServer((req, res) => void this.handle(req, res)), port);
    return this.server.url;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = null;
  }

  ids(stream: string): string[] {
    return [...(this.streams.get(stream)?.keys() ?? [])];
  }

  docs(stream: string): Record<string, any>[] {
    return [...(this.streams.get(stream)?.values() ?? [])].map((d) => JSON.parse(d));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await body(req);
    this.headers.push(req.headers);
    const send = (status: number, obj: unknown) => {
      const text = obj === '' ? '' : JSON.stringify(obj);
      res.writeHead(status, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' }).end(text);
    };
    if (this.failWith) return send(this.failWith, { error: { type: 'injected', reason: 'injected' }, status: this.failWith });
    const url = new URL(req.url ?? '/', 'http://x');
    const [, a, b] = url.pathname.split('/');
    if (a === '_index_template' && req.method === 'HEAD') return send(this.templates.has(b) ? 200 : 404, '');
    if (a === '_index_template' && req.method === 'GET') {
      const list = [...this.templates.entries()].map(([name, t]) => ({ name, index_template: t }));
      return send(list.length ? 200 : 404, list.length ? { index_templates: list } : { error: { type: 'resource_not_found_exception' }, status: 404 });
    }
    if ((a === '_index_template' || a === '_component_template') && req.method === 'PUT') {
      (a === '_index_template' ? this.templates : this.components).set(b, JSON.parse(raw.toString()));
      return send(200, { acknowledged: true });
    }
    if (a === '_bulk' && req.method === 'POST') {
      const lines = raw.toString().split('\n');
      const items: unknown[] = [];
      let errors = false;
      for (let i = 0; i + 1 < lines.length; i += 2) {
        if (!lines[i]) break;
        this.docsReceived++;
        if (this.countOnly) {
          items.push({ create: { status: 201 } });
          continue;
        }
        const meta = JSON.parse(lines[i]).create as { _index: string; _id: string };
        let s = this.streams.get(meta._index);
        if (!s) this.streams.set(meta._index, (s = new Map()));
        if (s.has(meta._id)) {
          errors = true;
          items.push({ create: { _index: meta._index, _id: meta._id, status: 409, error: { type: 'version_conflict_engine_exception', reason: 'exists' } } });
        } else {
          s.set(meta._id, lines[i + 1]);
          items.push({ create: { _index: meta._index, _id: meta._id, status: 201, result: 'created' } });
        }
      }
      return send(200, { took: 1, errors, items });
    }
    send(404, { error: { type: 'not_handled', reason: `${req.method} ${url.pathname}` }, status: 404 });
  }
}

export class KibanaHttp {
  /** Saved objects imported, by file name, as parsed lines. */
  readonly imports: { file: string; overwrite: string | null; objects: { id: string; type: string }[]; auth?: string }[] = [];
  readonly objects = new Map<string, unknown>();
  /** Answers 503 to the first status requests (Kibana starting). */
  notReadyFor = 0;
  server: Listening | null = null;

  async start(): Promise<string> {
    this.server = await listen(createServer((req, res) => void this.handle(req, res)));
    return this.server.url;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await body(req);
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, obj: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(obj));
    };
    if (url.pathname === '/api/status') {
      if (this.notReadyFor > 0) {
        this.notReadyFor--;
        return json(503, { status: { overall: { level: 'unavailable' } } });
      }
      return json(200, { status: { overall: { level: 'available' } } });
    }
    if (url.pathname === '/api/saved_objects/_import' && req.method === 'POST') {
      if (!req.headers['kbn-xsrf']) return json(400, { statusCode: 400, error: 'Bad Request', message: 'Request must contain a kbn-xsrf header.' });
      const boundary = /boundary=(.+)$/.exec(req.headers['content-type'] ?? '')?.[1];
      if (!boundary) return json(415, { message: 'expected multipart/form-data' });
      const part = raw
        .toString()
        .split(`--${boundary}`)
        .find((p) => /name="file"/.test(p));
      if (!part) return json(400, { message: '[request body.file]: expected value of type [Stream] but got [undefined]' });
      const file = /filename="([^"]+)"/.exec(part)?.[1] ?? '';
      if (!file.endsWith('.ndjson')) return json(415, { message: `Unsupported file extension ${file}` });
      const content = part.slice(part.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, '');
      const objs = content
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { id: string; type: string; references: { type: string; id: string }[] });
      const overwrite = url.searchParams.get('overwrite');
      const errors: unknown[] = [];
      for (const o of objs) {
        const k = `${o.type}/${o.id}`;
        if (this.objects.has(k) && overwrite !== 'true') errors.push({ id: o.id, type: o.type, error: { type: 'conflict' } });
        for (const r of o.references) {
          if (!this.objects.has(`${r.type}/${r.id}`) && !objs.some((x) => x.type === r.type && x.id === r.id)) {
            errors.push({ id: o.id, type: o.type, error: { type: 'missing_references', references: [r] } });
          }
        }
      }
      this.imports.push({ file, overwrite, objects: objs.map((o) => ({ id: o.id, type: o.type })), auth: req.headers.authorization });
      if (errors.length) return json(200, { success: false, successCount: 0, errors });
      for (const o of objs) this.objects.set(`${o.type}/${o.id}`, o);
      return json(200, { success: true, successCount: objs.length });
    }
    json(404, { statusCode: 404, error: 'Not Found' });
  }
}
