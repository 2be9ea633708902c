// The storage half of the test API server: Node objects under one global resourceVersion
// counter, with the event history a watch replays from. Semantics as the real API server's:
// every change bumps the version and records an ADDED/MODIFIED/DELETED event; a write that
// changes nothing keeps the version and records nothing; the main resource cannot change
// status and /status cannot change spec; compaction forgets history (older watches get 410).
import { randomUUID } from 'node:crypto';
import { PatchError } from './kube-patch.js';

export interface KubeNode {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; resourceVersion?: string; uid?: string; creationTimestamp?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: { podCIDR?: string; podCIDRs?: string[]; taints?: unknown[] };
  status?: { addresses?: { type: string; address: string }[]; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface StoredEvent { rv: number; type: EventType; object: KubeNode }

const clone = <T>(v: T): T => structuredClone(v);

export class NodeStore {
  private nodes = new Map<string, KubeNode>();
  private rv = 100;
  private history: StoredEvent[] = [];
  /** the oldest version a watch may start from */
  private historyStart = 100;
  private listeners = new Set<(e: StoredEvent) => void>();

  get resourceVersion(): number {
    return this.rv;
  }

  get(name: string): KubeNode | undefined {
    const n = this.nodes.get(name);
    return n && clone(n);
  }

  list(): KubeNode[] {
    return [...this.nodes.values()].map(clone);
  }

  /** Events after `rv`, or undefined when that version was compacted away. */
  eventsAfter(rv: number): StoredEvent[] | undefined {
    if (!Number.isInteger(rv) || rv < this.historyStart) return undefined;
    return this.history.filter((e) => e.rv > rv).map(clone);
  }

  get oldestVersion(): number {
    return this.historyStart;
  }

  onEvent(fn: (e: StoredEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  create(node: KubeNode): KubeNode {
    const name = node.metadata?.name;
    if (!name) throw new PatchError(422, 'metadata.name is required');
    if (this.nodes.has(name)) throw new PatchError(409, `nodes "${name}" already exists`);
    const n: KubeNode = { ...clone(node), apiVersion: 'v1', kind: 'Node' };
    n.metadata = { ...n.metadata, uid: randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
    return this.commit('ADDED', n);
  }

  delete(name: string): KubeNode {
    const n = this.nodes.get(name);
    if (!n) throw new PatchError(404, `nodes "${name}" not found`);
    this.nodes.delete(name);
    this.rv++;
    const gone = { ...clone(n), metadata: { ...n.metadata, resourceVersion: String(this.rv) } };
    this.record('DELETED', gone);
    return clone(gone);
  }

  /** Applies a change as the main resource or the /status subresource would. */
  update(name: string, fn: (n: KubeNode) => KubeNode, subresource?: 'status', expectRv?: string): KubeNode {
    const old = this.nodes.get(name);
    if (!old) throw new PatchError(404, `nodes "${name}" not found`);
    if (expectRv && expectRv !== old.metadata.resourceVersion) {
      throw new PatchError(409, `Operation cannot be fulfilled on nodes "${name}": the object has been modified`);
    }
    const next = fn(clone(old));
    // identity is immutable, and each endpoint owns only its part
    next.metadata = { ...next.metadata, name, uid: old.metadata.uid, creationTimestamp: old.metadata.creationTimestamp, resourceVersion: old.metadata.resourceVersion };
    next.apiVersion = 'v1';
    next.kind = 'Node';
    if (subresource === 'status') next.spec = clone(old.spec);
    else next.status = clone(old.status);
    if (JSON.stringify(next) === JSON.stringify(old)) return clone(old);
    return this.commit('MODIFIED', next);
  }

  compact(): void {
    this.history = [];
    this.historyStart = this.rv;
  }

  private commit(type: EventType, n: KubeNode): KubeNode {
    this.rv++;
    n.metadata.resourceVersion = String(this.rv);
    this.nodes.set(n.metadata.name, n);
    this.record(type, n);
    return clone(n);
  }

  private record(type: EventType, object: KubeNode): void {
    const ev = { rv: this.rv, type, object: clone(object) };
    this.history.push(ev);
    for (const fn of this.listeners) fn(ev);
  }
}
