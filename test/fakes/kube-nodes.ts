// An in-memory KubeNodes (daemon/kube/nodes.ts): Node objects in a map, a status patch that
// merges annotations by key (null deletes) as a strategic-merge patch does, and watches that
// get the whole set after every change and each deleted Node. Every call yields to the event
// loop first, as a request would. Test controls: set/update/remove (the API server's other
// clients), failNext (an API error), and the patches the code sent.
import type { NodeLike } from '../../lib/kube/annotations.js';
import type { NodeWatchHandlers, NodeWatchOptions } from '../../lib/kube/node-watch.js';
import type { KubeNodes } from '../../daemon/kube/nodes.js';

type Op = 'read' | 'patchStatus';

export class FakeKubeNodes implements KubeNodes {
  readonly server = 'https://fake-apiserver.invalid';
  /** every status patch sent, in order */
  readonly patches: { name: string; body: object }[] = [];
  private readonly nodes = new Map<string, NodeLike>();
  private readonly watchers = new Set<NodeWatchHandlers>();
  private readonly failures: { op: Op; error: Error }[] = [];

  set(node: NodeLike): void {
    this.nodes.set(node.metadata!.name!, structuredClone(node));
    this.notify();
  }

  update(name: string, fn: (n: NodeLike) => NodeLike): void {
    this.set(fn(structuredClone(this.nodes.get(name)!)));
  }

  remove(name: string): void {
    const gone = this.nodes.get(name);
    if (!gone) return;
    this.nodes.delete(name);
    for (const w of this.watchers) w.onDeleted?.(structuredClone(gone));
    this.notify();
  }

  get(name: string): NodeLike | undefined {
    return this.nodes.get(name);
  }

  failNext(op: Op, times = 1, error = new Error('HTTP 503: the server is currently unable to handle the request')): void {
    for (let i = 0; i < times; i++) this.failures.push({ op, error });
  }

  async read(name: string): Promise<NodeLike> {
    await this.enter('read');
    const n = this.nodes.get(name);
    if (!n) throw new Error(`HTTP 404: nodes "${name}" not found`);
    return structuredClone(n);
  }

  async patchStatus(name: string, body: object): Promise<NodeLike> {
    await this.enter('patchStatus');
    const n = this.nodes.get(name);
    if (!n) throw new Error(`HTTP 404: nodes "${name}" not found`);
    this.patches.push({ name, body: structuredClone(body) });
    const ann = (body as NodeLike).metadata?.annotations as Record<string, string | null> | undefined;
    if (ann) {
      const merged: Record<string, string> = { ...n.metadata?.annotations };
      for (const [k, v] of Object.entries(ann)) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      n.metadata = { ...n.metadata, annotations: merged };
    }
    this.notify();
    return structuredClone(n);
  }

  async watch(h: NodeWatchHandlers, signal: AbortSignal, _o: NodeWatchOptions): Promise<void> {
    if (signal.aborted) return;
    this.watchers.add(h);
    h.onSync?.(this.snapshot());
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    this.watchers.delete(h);
  }

  private snapshot(): ReadonlyMap<string, NodeLike> {
    return new Map([...this.nodes].map(([k, v]) => [k, structuredClone(v)]));
  }

  private notify(): void {
    for (const w of this.watchers) w.onSync?.(this.snapshot());
  }

  private async enter(op: Op): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const i = this.failures.findIndex((f) => f.op === op);
    if (i >= 0) throw this.failures.splice(i, 1)[0].error;
  }
}
