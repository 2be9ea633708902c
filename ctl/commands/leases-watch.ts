// `leases watch`: one line (JSON), document (YAML) or table row per lease change, from the
// current revision on. When etcd compacts past us the watch re-lists and says so with a
// "resync" event carrying the full set, so a consumer never silently misses a change.
import type { EtcdRegistry, LeaseEvent, LeaseWatch } from '../../lib/etcd/registry.js';
import { UsageError } from '../errors.js';
import { etcdFailure, withRegistry } from '../etcd.js';
import { compareLeases, leaseView, LeaseView } from '../lease-view.js';
import type { Ctx } from '../options.js';
import { renderStreamItem, terminalSafe } from '../output.js';

export type WatchEventView =
  | { type: 'put'; revision: string; subnet: string; lease: LeaseView }
  | { type: 'delete'; revision: string; subnet: string; lease: null }
  /** a key whose key or value twilld refuses (and so ignores): what it held before is gone */
  | { type: 'invalid'; revision: string; key: string; field: string; reason: string }
  | { type: 'resync'; revision: string; reason: string; leases: LeaseView[] };

export function eventView(e: LeaseEvent): WatchEventView {
  if (e.type === 'put') return { type: 'put', revision: e.revision, subnet: e.lease.subnet.toString(), lease: leaseView(e.lease) };
  if (e.type === 'invalid') return { type: 'invalid', revision: e.revision, key: e.invalid.key, field: e.invalid.field, reason: e.invalid.reason };
  return { type: 'delete', revision: e.revision, subnet: e.subnets.subnet.toString(), lease: null };
}

export function tableLine(v: WatchEventView): string {
  const t = new Date().toISOString();
  if (v.type === 'put') {
    const l = v.lease;
    return [t, 'PUT', l.subnet, l.publicIP, l.backendType, l.vtepMAC ?? '-', l.node ? `node ${l.node}` : l.reserved ? 'reserved' : `ttl ${l.expiresInSeconds ?? '-'}s`].join('  ');
  }
  if (v.type === 'delete') return [t, 'DELETE', v.subnet].join('  ');
  if (v.type === 'invalid') return terminalSafe([t, 'INVALID', v.key, `${v.field}: ${v.reason}`].join('  '));
  return [t, 'RESYNC', `${v.leases.length} leases`, v.reason].join('  ');
}

export interface WatchOptions {
  count?: number;
  fromRevision?: string;
}

export async function watchLeaseStream(ctx: Ctx, o: WatchOptions): Promise<void> {
  if (o.count !== undefined && (!Number.isInteger(o.count) || o.count < 1)) throw new UsageError(`--count: ${o.count} is not a positive integer`);
  if (o.fromRevision !== undefined && !/^\d+$/.test(o.fromRevision)) throw new UsageError(`--from-revision: "${o.fromRevision}" is not a revision`);
  if (ctx.kube) {
    if (o.fromRevision !== undefined) throw new UsageError('--from-revision: etcd revisions only; not available with --kube-subnet-mgr');
    const { watchNodeLeases } = await import('./leases-watch-kube.js');
    return watchNodeLeases(ctx, ctx.kube, o.count);
  }
  await withRegistry(ctx.etcd, (r) => streamUntilDone(ctx, r, o), { bounded: false });
}

function streamUntilDone(ctx: Ctx, r: EtcdRegistry, o: WatchOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let seen = 0;
    let watch: LeaseWatch | undefined;
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const stop = watch ? watch.stop() : Promise.resolve();
      stop.finally(() => (err ? reject(err) : resolve()));
    };
    const onSignal = () => finish();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    const print = (v: WatchEventView) => {
      if (done) return;
      process.stdout.write(renderStreamItem(ctx.output, v, () => tableLine(v)));
      if (v.type !== 'resync' && o.count !== undefined && ++seen >= o.count) finish();
    };
    // Events are printed in order; a put waits for its expiry lookup before the next prints.
    let queue = Promise.resolve();
    const onEvent = (e: LeaseEvent) => {
      queue = queue.then(async () => {
        if (e.type === 'put' && e.lease.leaseId) {
          const ttl = await r.leaseTtl(e.lease.leaseId);
          if (ttl !== undefined) e.lease.expiresAt = Date.now() + ttl * 1000;
        }
        print(eventView(e));
      });
    };
    const start = async (fromRevision: string) => {
      watch = await r.watchLeases(fromRevision, onEvent, resync);
      // Progress goes to stderr so stdout stays a clean event stream.
      if (!done && ctx.output === 'table') process.stderr.write(`watching ${r.prefix} after revision ${fromRevision}\n`);
    };
    const resync = (why: string) => {
      queue = queue.then(() => relist(why));
    };
    const relist = async (why: string) => {
      try {
        const { leases, revision } = await r.listLeases({ withExpiry: true });
        print({ type: 'resync', revision, reason: why, leases: [...leases].sort(compareLeases).map((l) => leaseView(l)) });
        if (!done) await start(revision);
      } catch (e) {
        finish(etcdFailure(ctx.etcd, e));
      }
    };
    const begin = async () => {
      try {
        const rev = o.fromRevision ?? (await r.listLeases()).revision;
        await start(rev);
      } catch (e) {
        finish(etcdFailure(ctx.etcd, e));
      }
    };
    void begin();
  });
}
