// An in-process Kubernetes API server for Nodes, speaking the real REST and watch protocol so
// the real @kubernetes/client-node (and twilld) talk to it unchanged:
//   GET    /api/v1/nodes                       NodeList with metadata.resourceVersion
//   GET    /api/v1/nodes?watch=true&resourceVersion=N   chunked JSON lines ADDED/MODIFIED/DELETED
//          (events after N; no/"0" version: synthetic ADDED for every Node first; a version
//          older than the retained history: an ERROR event with a 410 Expired Status, as a real
//          server does after etcd compaction); BOOKMARKs when allowWatchBookmarks=true
//   POST   /api/v1/nodes   GET/PUT/PATCH/DELETE /api/v1/nodes/NAME   PATCH /api/v1/nodes/NAME/status
// Versions, history and subresource rules live in kube-node-store.ts; patches in kube-patch.ts.
// It listens on TCP loopback or on a Unix socket (for daemons in other network namespaces,
// reached through a relay: kube-relay.ts). Every request is recorded for permission checks.
import { writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import path from 'node:path';
import { startRelay } from './kube-relay.js';
import type { World } from './world.js';
import { KubeNode, NodeStore } from './kube-node-store.js';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from './kube-patch.js';
import type { Json, Obj } from './kube-patch.js';

export type { KubeNode } from './kube-node-store.js';

export interface RecordedRequest {
  method: string;
  url: string;
  contentType?: string;
  status: number;
}

interface Watcher { res: ServerResponse; filter: (n: KubeNode) => boolean; timer?: NodeJS.Timeout }

export interface FakeKubeOptions {
  /** require `Authorization: Bearer <token>` */
  token?: string;
  bookmarkIntervalMs?: number;
}

export class FakeKubeApiServer {
  readonly store = new NodeStore();
  private watchers = new Set<Watcher>();
  private server?: Server;
  readonly requests: RecordedRequest[] = [];

  constructor(private readonly opts: FakeKubeOptions = {}) {
    this.store.onEvent((ev) => {
      for (const w of this.watchers) if (w.filter(ev.object)) this.send(w, ev.type, ev.object);
    });
  }

  /** Listens on a Unix socket path or on 127.0.0.1:port (0 = free); resolves to the URL/path. */
  listen(target: { path: string } | { port?: number } = {}): Promise<string> {
    const server = createServer((req, res) => this.handle(req, res).catch((e) => this.fail(res, 500, 'InternalError', String(e))));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const done = () => {
        const a = server.address();
        resolve(typeof a === 'string' ? a : `http://127.0.0.1:${a!.port}`);
      };
      if ('path' in target) server.listen(target.path, done);
      else server.listen(target.port ?? 0, '127.0.0.1', done);
    });
  }

  async close(): Promise<void> {
    for (const w of this.watchers) this.endWatch(w);
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  /** Direct store access for tests (as kubectl would do through the API). */
  getNode(name: string): KubeNode | undefined {
    return this.store.get(name);
  }

  listNodes(): KubeNode[] {
    return this.store.list();
  }

  createNode(node: KubeNode): KubeNode {
    return this.store.create(node);
  }

  deleteNode(name: string): KubeNode {
    return this.store.delete(name);
  }

  updateNode(name: string, fn: (n: KubeNode) => KubeNode, subresource?: 'status', expectRv?: string): KubeNode {
    return this.store.update(name, fn, subresource, expectRv);
  }

  /** Ends every open watch stream, as an API server restart or a load balancer timeout would. */
  dropWatches(): void {
    for (const w of this.watchers) this.endWatch(w);
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  /** Forgets the event history (as etcd compaction does): older watches get 410. */
  compact(): void {
    this.store.compact();
  }

  private send(w: Watcher, type: string, object: unknown): void {
    w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const entry: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], status: 0 };
    this.requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
    if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) {
      return this.fail(res, 401, 'Unauthorized', 'Unauthorized');
    }
    const m = /^\/api\/v1\/nodes(?:\/([^/]+)(\/status)?)?$/.exec(url.pathname);
    if (!m) return this.fail(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    const [, name, status] = m;
    const body = req.method === 'GET' || req.method === 'DELETE' ? undefined : await readBody(req);
    try {
      if (!name) {
        if (req.method === 'GET' && url.searchParams.get('watch') === 'true') return this.watch(url, res);
        if (req.method === 'GET') return this.reply(res, 200, this.list(url));
        if (req.method === 'POST') return this.reply(res, 201, this.createNode(parse(body) as unknown as KubeNode));
      } else {
        const decoded = decodeURIComponent(name);
        if (req.method === 'GET') {
          const n = this.getNode(decoded);
          return n ? this.reply(res, 200, n) : this.fail(res, 404, 'NotFound', `nodes "${decoded}" not found`);
        }
        if (req.method === 'DELETE' && !status) return this.reply(res, 200, this.deleteNode(decoded));
        if (req.method === 'PUT') {
          const obj = parse(body) as unknown as KubeNode;
          return this.reply(res, 200, this.updateNode(decoded, () => obj, status ? 'status' : undefined, obj.metadata?.resourceVersion));
        }
        if (req.method === 'PATCH') {
          const patched = this.patch(decoded, req.headers['content-type'] ?? '', parse(body), status ? 'status' : undefined);
          return this.reply(res, 200, patched);
        }
      }
      return this.fail(res, 405, 'MethodNotAllowed', `${req.method} is not supported here`);
    } catch (e) {
      if (e instanceof PatchError) return this.fail(res, e.code, reasonFor(e.code), e.message);
      throw e;
    }
  }

  private patch(name: string, contentType: string, body: Json, subresource?: 'status'): KubeNode {
    const type = contentType.split(';')[0].trim();
    const apply: Record<string, (t: Json, p: Json) => Json> = {
      'application/merge-patch+json': mergePatch,
      'application/strategic-merge-patch+json': (t, p) => strategicMergePatch(t, p),
      'application/json-patch+json': jsonPatch,
    };
    const fn = apply[type];
    if (!fn) throw new PatchError(415, `the body of the request was in an unknown format - accepted media types include: ${Object.keys(apply).join(', ')}`);
    const expectRv = type !== 'application/json-patch+json' ? ((body as Obj)?.metadata as Obj | undefined)?.resourceVersion : undefined;
    return this.updateNode(name, (n) => fn(n as unknown as Json, body) as unknown as KubeNode, subresource, typeof expectRv === 'string' ? expectRv : undefined);
  }

  private list(url: URL): object {
    const filter = fieldFilter(url.searchParams.get('fieldSelector'));
    return {
      kind: 'NodeList',
      apiVersion: 'v1',
      metadata: { resourceVersion: this.resourceVersion },
      items: this.store.list().filter(filter),
    };
  }

  private watch(url: URL, res: ServerResponse): void {
    const filter = fieldFilter(url.searchParams.get('fieldSelector'));
    const from = url.searchParams.get('resourceVersion') ?? '';
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const w: Watcher = { res, filter };
    if (from === '' || from === '0') {
      for (const n of this.store.list()) if (filter(n)) this.send(w, 'ADDED', n);
    } else {
      const events = this.store.eventsAfter(Number(from));
      if (!events) {
        this.send(w, 'ERROR', {
          kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', code: 410,
          message: `too old resource version: ${from} (${this.store.oldestVersion})`,
        });
        res.end();
        return;
      }
      for (const ev of events) if (filter(ev.object)) this.send(w, ev.type, ev.object);
    }
    this.watchers.add(w);
    res.on('close', () => this.endWatch(w));
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    if (timeout > 0) setTimeout(() => this.endWatch(w), timeout * 1000).unref();
    if (url.searchParams.get('allowWatchBookmarks') === 'true') {
      w.timer = setInterval(() => {
        this.send(w, 'BOOKMARK', { kind: 'Node', apiVersion: 'v1', metadata: { resourceVersion: this.resourceVersion } });
      }, this.opts.bookmarkIntervalMs ?? 5000);
      w.timer.unref();
    }
  }

  private endWatch(w: Watcher): void {
    if (w.timer) clearInterval(w.timer);
    this.watchers.delete(w);
    if (!w.res.writableEnded) w.res.end();
  }

  private reply(res: ServerResponse, code: number, obj: object): void {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(obj));
  }

  private fail(res: ServerResponse, code: number, reason: string, message: string): void {
    if (res.headersSent) return void res.end();
    this.reply(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  }

  /** Requests recorded since `from` (an index into `requests`). */
  requestsSince(from: number): RecordedRequest[] {
    return this.requests.slice(from);
  }
}

function reasonFor(code: number): string {
  return { 400: 'BadRequest', 404: 'NotFound', 409: 'Conflict', 415: 'UnsupportedMediaType', 422: 'Invalid' }[code] ?? 'InternalError';
}

function parse(body: string | undefined): Json {
  try {
    return JSON.parse(body ?? '') as Json;
  } catch {
    throw new PatchError(400, 'request body is not valid JSON');
  }
}

/** Supports the one selector twilld uses: metadata.name=NAME. */
function fieldFilter(sel: string | null): (n: KubeNode) => boolean {
  if (!sel) return () => true;
  const m = /^metadata\.name(==?)(.+)$/.exec(sel);
  if (!m) throw new PatchError(400, `field selector "${sel}" is not supported`);
  return (n) => n.metadata.name === m[2];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

/** A kubeconfig file's contents pointing at `server`, with a bearer token. */
export function kubeconfigYaml(server: string, token = 'twill-test-token'): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    // client-node refuses plain http unless TLS verification is off; the test server is http
    clusters: [{ name: 'test', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'twilld', user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'twilld' } }],
    'current-context': 'test',
  });
}

/** Where the daemons of a test world reach the fake API server: the underlay bridge's address. */
export const UNDERLAY_API = '198.18.0.1:6443';

/**
 * Serves `api` to daemons in a world's node namespaces: a Unix socket in the world's temp dir,
 * relayed to TCP UNDERLAY_API inside the underlay namespace. Returns a kubeconfig file for it.
 */
export async function serveApiInUnderlay(world: World, underlayNs: string, api: FakeKubeApiServer, token: string): Promise<string> {
  const sock = path.join(world.tmp, 'kube-api.sock');
  await api.listen({ path: sock });
  world.onCleanup(() => api.close());
  await startRelay(world, underlayNs, UNDERLAY_API, sock);
  const kubeconfig = path.join(world.tmp, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(`http://${UNDERLAY_API}`, token));
  return kubeconfig;
}
