// List-then-watch of Node objects, the way client-go's reflector does it: list (which gives
// a resourceVersion), watch from that version, follow each event's resourceVersion, and
// re-list when the server says the version is too old (410 Gone) or the stream breaks.
// A re-list is diffed against what we knew, so a Node deleted while we were not watching
// is still reported as deleted.
import { Watch } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';
import { apiStatus, describeApiError } from './client.js';
import type { NodeLike } from './annotations.js';
import { sleep } from '../backoff.js';
import type { Logger } from '../log.js';

export interface NodeWatchHandlers {
  /** The complete current set of Nodes: after every list and every event. */
  onSync?(nodes: ReadonlyMap<string, NodeLike>): void;
  /** A Node went away (watch DELETED event, or missing from a re-list); last known state. */
  onDeleted?(node: NodeLike): void;
}

export interface NodeWatchOptions {
  /** e.g. "metadata.name=node-1" to follow a single Node */
  fieldSelector?: string;
  /** wait before re-listing after an error */
  retryMs?: number;
  /** an ended watch and a failed list are warnings (both are retried) */
  log: Logger;
}

type WatchOutcome = { relist: boolean; error?: string };

const nodeName = (n: NodeLike) => n.metadata?.name ?? '';

/** Runs until `signal` aborts. Never rejects for API errors: it logs and retries. */
export async function watchNodes(kube: KubeClient, h: NodeWatchHandlers, signal: AbortSignal, o: NodeWatchOptions): Promise<void> {
  const { log } = o;
  const known = new Map<string, NodeLike>();
  let rv: string | undefined;
  let needList = true;
  while (!signal.aborted) {
    try {
      if (needList) {
        rv = await listInto(kube, known, h, o.fieldSelector);
        needList = false;
      }
      if (signal.aborted) break; // a handler may have stopped us
      const out = await watchOnce(kube, rv!, known, h, signal, o.fieldSelector, (v) => (rv = v));
      if (out.error) log.warn(out.relist ? 'node watch ended; re-listing' : 'node watch ended; watching again', { error: out.error, api: kube.server });
      needList = out.relist;
      if (out.relist && out.error) await sleep(o.retryMs ?? 1000, signal);
    } catch (e) {
      if (signal.aborted) break;
      log.warn('listing nodes failed; retrying', { error: describeApiError(e), api: kube.server });
      needList = true;
      await sleep(o.retryMs ?? 1000, signal);
    }
  }
}

async function listInto(kube: KubeClient, known: Map<string, NodeLike>, h: NodeWatchHandlers, fieldSelector?: string): Promise<string> {
  const list = await kube.core.listNode(fieldSelector ? { fieldSelector } : {});
  const fresh = new Map<string, NodeLike>();
  for (const n of list.items) fresh.set(nodeName(n), n as NodeLike);
  for (const [name, old] of known) if (!fresh.has(name)) h.onDeleted?.(old);
  known.clear();
  for (const [k, v] of fresh) known.set(k, v);
  h.onSync?.(known);
  return list.metadata?.resourceVersion ?? '0';
}

/** One watch request; resolves when it ends, saying whether a re-list is needed. */
function watchOnce(
  kube: KubeClient, fromRv: string, known: Map<string, NodeLike>, h: NodeWatchHandlers, signal: AbortSignal,
  fieldSelector: string | undefined, setRv: (rv: string) => void,
): Promise<WatchOutcome> {
  return new Promise((resolve) => {
    let outcome: WatchOutcome = { relist: false };
    let controller: AbortController | undefined;
    let finished = false;
    // client-node notices an aborted stream only when the next chunk arrives: settle now
    const onAbort = () => {
      controller?.abort();
      finish(null);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      // client-node ends an idle watch after 30 s of silence: just watch again from where we were
      const idle = (err as { name?: string } | null)?.name === 'TimeoutError';
      if (err && !signal.aborted && !outcome.error && !idle) {
        const status = apiStatus(err);
        // 410: our version is gone from the server's window; anything else: start over too
        outcome = { relist: true, error: status ? `HTTP ${status}` : (err as Error).message ?? String(err) };
      }
      resolve(outcome);
    };
    const query: Record<string, string | boolean> = { resourceVersion: fromRv, allowWatchBookmarks: true };
    if (fieldSelector) query.fieldSelector = fieldSelector;
    new Watch(kube.config)
      .watch('/api/v1/nodes', query, (type: string, obj: NodeLike & { code?: number; message?: string }) => {
        if (finished) return;
        if (type === 'ERROR') {
          outcome = { relist: true, error: `server error event ${obj.code ?? ''} ${obj.message ?? ''}`.trim() };
          controller?.abort();
          finish(null);
          return;
        }
        const v = obj.metadata?.resourceVersion;
        if (v) setRv(v);
        if (type === 'BOOKMARK') return;
        const name = nodeName(obj);
        if (type === 'DELETED') {
          // the event carries the object's final state, newer than what we may hold
          known.delete(name);
          h.onDeleted?.(obj);
        } else {
          known.set(name, obj);
        }
        h.onSync?.(known);
      }, finish)
      .then((c) => {
        controller = c;
        if (signal.aborted) c.abort();
      }, finish);
  });
}
