// Reconcile: desired state from the lease set, actual state from the kernel, one diff, one
// `ip -batch` plus one `bridge -batch` for all of it (thousands of peers cost two processes).
// Runs periodically and on every lease or kernel change; whatever drifted (a deleted route,
// neighbour, FDB entry, the device itself) is put back and gone peers are pruned. Only our
// entries are read as "actual": routes on our device or for subnets of the cluster Network
// (never the node's own pod subnet on the bridge or kernel routes), and neighbours and FDB
// entries of our device.
import { Cidr, Ip } from '../lib/ip/cidr.js';
import { Mac } from '../lib/ip/mac.js';
import { batchKeepGoing, listFdb, listNeighbours, listRoutes } from '../lib/kernel/ip.js';
import { Lease, sameNode } from '../lib/schema/lease.js';
import type { NetworkConfig } from '../lib/schema/network-config.js';
import type { Backend } from './backend/backend.js';
import {
  ActualEntries, ActualFdb, ActualNeigh, ActualRoute, Change, DataplaneEntries, fdbKey, neighKey, planDataplane, routeKey,
} from './dataplane-diff.js';
import type { Logger } from './log.js';
import type { DaemonMetrics } from './metrics.js';

/** IPv6 link-local routes and neighbours belong to the kernel's own neighbour discovery. */
const LINK_LOCAL6 = Cidr.parse('fe80::/10');

export interface ReconcileResult {
  peers: number;
  changes: Change[];
  repairs: number;
  deviceRecreated: boolean;
  failures?: string;
}

interface PeerState {
  /** serialised entries, to tell a changed peer from an unchanged one */
  sig: string;
}

export class Reconciler {
  /** What the last pass programmed: a later difference for these keys is drift (a repair). */
  private lastApplied?: Map<string, string>;
  private lastDesired?: DataplaneEntries;
  /** the own subnet and outcome of the last pass: a quick pass needs both unchanged and clean */
  private lastOwn?: string;
  private lastFailed = false;
  private peers = new Map<string, PeerState>();

  constructor(
    private readonly backend: Backend,
    private readonly config: NetworkConfig,
    private readonly log: Logger,
    private readonly metrics: DaemonMetrics,
  ) {}

  /**
   * `full`: diff against the kernel (periodic, kernel events, start-up): repairs drift.
   * `leases`: only the lease set changed; diff against what the last pass programmed, which
   * skips reading thousands of kernel entries, so a new peer is in within milliseconds. Falls
   * back to a full pass when there is no clean previous pass to diff against.
   */
  async run(own: Lease, leases: readonly Lease[], leasesSeenAt?: number, mode: 'full' | 'leases' = 'full'): Promise<ReconcileResult> {
    const first = this.lastApplied === undefined;
    const quick = mode === 'leases' && !first && !this.lastFailed && this.lastOwn === own.key;
    let deviceRecreated = false;
    if (!quick) {
      deviceRecreated = await this.backend.ensureLocal(own);
      if (deviceRecreated && !first) {
        this.metrics.repairs.inc({ kind: 'device' });
        this.log.warn('tunnel device was missing or wrong (or its engine failed); re-created it', { devices: this.backend.devices });
      }
    }

    const desired: DataplaneEntries = { routes: [], neighs: [], fdb: [] };
    const peers = new Map<string, PeerState>();
    for (const l of leases) {
      if (l.key === own.key || l.subnet.equals(own.subnet) || sameNode(l.attrs, own.attrs)) continue;
      if (own.subnet6 && l.subnet6?.equals(own.subnet6)) continue;
      const e = this.backend.peerEntries(l);
      if (!e) continue;
      desired.routes.push(...e.routes);
      desired.neighs.push(...e.neighs);
      desired.fdb.push(...e.fdb);
      peers.set(l.key, { sig: JSON.stringify(e) });
    }

    this.backend.syncPeers?.(leases.filter((l) => peers.has(l.key)));

    const actual = quick ? asProgrammed(this.lastDesired!) : await this.readKernel(own);
    const plan = planDataplane(desired, actual);
    const [ipErr, brErr] = await Promise.all([
      batchKeepGoing(undefined, 'ip', plan.ipLines),
      batchKeepGoing(undefined, 'bridge', plan.bridgeLines),
    ]);
    const failures = [ipErr, brErr].filter(Boolean).join('; ') || undefined;

    const applied = new Map<string, string>();
    for (const r of desired.routes) applied.set(`route|${routeKey(r)}`, JSON.stringify(r));
    for (const n of desired.neighs) applied.set(`neigh|${neighKey(n)}`, JSON.stringify(n));
    for (const f of desired.fdb) applied.set(`fdb|${fdbKey(f)}`, JSON.stringify(f));
    let repairs = 0;
    if (!first && !quick) {
      for (const c of plan.changes) {
        const k = `${c.kind}|${c.key}`;
        // drift = the kernel lost or changed what we had programmed and still want, or holds
        // an entry of ours that we did not just drop on purpose
        const drift = c.op === 'set' ? this.lastApplied!.get(k) === applied.get(k) : !this.lastApplied!.has(k);
        if (drift) {
          repairs++;
          this.metrics.repairs.inc({ kind: c.kind });
        }
      }
      if (repairs) this.log.warn('reconcile repaired kernel state', { repairs, changes: plan.changes.length });
    }
    if (leasesSeenAt !== undefined && !failures) {
      const secs = (Date.now() - leasesSeenAt) / 1000;
      for (const [k, p] of peers) if (this.peers.get(k)?.sig !== p.sig) this.metrics.programSeconds.observe(secs);
    }
    this.lastApplied = applied;
    this.lastDesired = desired;
    this.lastOwn = own.key;
    this.lastFailed = !!failures;
    this.peers = peers;
    this.metrics.peers.set(peers.size);
    if (failures) this.log.warn('some dataplane changes failed; the next reconcile retries them', { failures });
    else if (plan.changes.length) this.log.info('dataplane programmed', { peers: peers.size, changes: plan.changes.length, quick });
    return { peers: peers.size, changes: plan.changes, repairs, deviceRecreated, failures };
  }

  /**
   * Our entries as the kernel holds them, parsed into the same types as the desired ones;
   * an entry whose fields do not parse is not one we wrote, so it is left alone.
   */
  private async readKernel(own: Lease): Promise<ActualEntries> {
    const devs = this.backend.devices;
    const v6 = this.config.EnableIPv6 && this.config.IPv6Network ? this.config.IPv6Network : undefined;
    const [routes4, routes6, neighs, fdb] = await Promise.all([
      listRoutes(undefined, 4),
      v6 ? listRoutes(undefined, 6) : Promise.resolve([]),
      Promise.all(devs.map((d) => listNeighbours(undefined, d).then((ns) => ns.map((n) => ({ ...n, dev: n.dev ?? d }))))).then((x) => x.flat()),
      Promise.all(devs.map((d) => listFdb(undefined, d).then((fs) => fs.map((f) => ({ ...f, ifname: f.ifname ?? d }))))).then((x) => x.flat()),
    ]);
    // a route is ours when it uses one of our devices, or goes to another node's pod subnet
    const ownSubnets = [own.subnet, ...(own.subnet6 ? [own.subnet6] : [])];
    const podNetwork = (c: Cidr) => (c.family === 4 ? this.config.Network : v6)?.contains(c) && !ownSubnets.some((s) => s.equals(c) || s.contains(c));
    const ours: ActualRoute[] = [];
    for (const r of [...routes4, ...routes6]) {
      if (r.protocol === 'kernel' || r.dst === 'default' || !r.dev) continue;
      const c = Cidr.tryParse(r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`);
      if (!c) continue;
      if (!devs.includes(r.dev) && !podNetwork(c)) continue;
      if (LINK_LOCAL6.contains(c)) continue; // the kernel's link-local routes
      ours.push({ dst: c, via: r.gateway ? Ip.tryParse(r.gateway) : undefined, dev: r.dev, onlink: r.flags.includes('onlink') });
    }
    const actualNeighs: ActualNeigh[] = [];
    for (const n of neighs) {
      const ip = n.dst ? Ip.tryParse(n.dst) : undefined;
      // IPv6 link-local neighbours are the kernel's own (router discovery), not ours
      if (!ip || LINK_LOCAL6.contains(ip)) continue;
      const lladdr = n.lladdr ? Mac.tryParse(n.lladdr, { unicastOnly: false }) : undefined;
      actualNeighs.push({ dst: ip, dev: n.dev, lladdr, permanent: (n.state ?? []).includes('PERMANENT') });
    }
    const actualFdb: ActualFdb[] = [];
    for (const f of fdb) {
      const ip = f.dst ? Ip.tryParse(f.dst) : undefined;
      // the all-zero MAC is how the kernel spells a default (flooding) entry: ours to prune too
      const mac = Mac.tryParse(f.mac, { unicastOnly: false });
      if (!ip || !mac) continue;
      actualFdb.push({ mac, dst: ip, dev: f.ifname, permanent: f.state === 'permanent' });
    }
    return { routes: ours, neighs: actualNeighs, fdb: actualFdb };
  }
}

/** The entries a clean pass programmed, as the kernel held them right after it. */
function asProgrammed(d: DataplaneEntries): ActualEntries {
  return {
    routes: d.routes,
    neighs: d.neighs.map((n) => ({ ...n, permanent: true })),
    fdb: d.fdb.map((f) => ({ ...f, permanent: true })),
  };
}
