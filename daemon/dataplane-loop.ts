// The one loop that keeps this node's dataplane right: every pass reconciles the kernel
// against the lease set, checks the masquerade rules, and writes subnet.env once (again when
// the lease moved to another subnet). Passes run on lease changes (quick: diff against what
// was programmed), and on the timer, kernel events and lease loss (full: diff against the
// kernel). Passes never overlap; kicks during a pass coalesce into the next one.
import type { NetworkConfig } from '../lib/schema/network-config.js';
import { Lease, subnetOf } from '../lib/schema/lease.js';
import { writeSubnetEnv } from '../lib/schema/subnet-env.js';
import type { Backend } from './backend/backend.js';
import type { LeaseKeeper } from './lease-keeper.js';
import type { Logger } from './log.js';
import type { Masquerade } from './masquerade.js';
import type { DaemonMetrics } from './metrics.js';
import type { Reconciler } from './reconcile.js';
import { Trigger } from './trigger.js';

export interface DataplaneLoopDeps {
  config: NetworkConfig;
  backend: Backend;
  keeper: LeaseKeeper;
  reconciler: Reconciler;
  masquerade?: Masquerade;
  subnetFile: string;
  ipMasq: boolean;
  log: Logger;
  metrics: DaemonMetrics;
  /** called after each pass (the memory it used can go back) */
  afterPass?: (full: boolean) => void;
  /** called once, after the first successful pass */
  onReady?: () => void;
}

export class DataplaneLoop {
  ready = false;
  lastPassAt = Date.now();
  private readonly trigger = new Trigger();
  /** the screened lease set by key (the listener's own, kept current by it) */
  private leases?: ReadonlyMap<string, Lease>;
  /** keys changed since the last pass began; undefined: anything may have changed */
  private changed?: Set<string>;
  private seenAt?: number;
  private fullNeeded = true;
  private envWritten = false;

  constructor(private readonly d: DataplaneLoopDeps) {}

  /**
   * A new lease set from the watch, with the keys that changed (undefined: a new listing).
   * Kicks coalesce, and so do their keys: the next pass looks at all of them.
   */
  onLeases(leases: ReadonlyMap<string, Lease>, changed?: ReadonlySet<string>): void {
    if (!changed || leases !== this.leases) this.changed = undefined;
    else if (this.changed) for (const k of changed) this.changed.add(k);
    this.leases = leases;
    this.seenAt ??= Date.now();
    this.trigger.kick(false);
  }

  /** Something may have drifted (timer, kernel event): diff against the kernel. */
  kickFull(): void {
    this.fullNeeded = true;
    this.trigger.kick();
  }

  /** Our lease was re-acquired; a different subnet means a new subnet.env. */
  leaseReacquired(lease: Lease, old: Lease): void {
    if (`${lease.subnet}|${lease.subnet6 ?? ''}` !== `${old.subnet}|${old.subnet6 ?? ''}`) this.envWritten = false;
    this.kickFull();
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.trigger.wait(signal);
      if (signal.aborted || !this.leases) continue;
      const since = this.seenAt;
      const full = this.fullNeeded || !this.ready;
      const changed = this.changed;
      this.seenAt = undefined;
      this.fullNeeded = false;
      this.changed = new Set();
      try {
        await this.pass(this.leases, changed, since, full);
      } catch (e) {
        // the keys this pass took are not programmed: whatever runs next compares everything
        this.fullNeeded = true;
        this.d.metrics.reconciles.inc({ result: 'failed' });
        this.d.log.error('reconcile failed; retrying at the next pass', { error: e });
        setTimeout(() => this.kickFull(), 1000).unref();
      }
    }
  }

  private async pass(leases: ReadonlyMap<string, Lease>, changed: ReadonlySet<string> | undefined, since: number | undefined, full: boolean): Promise<void> {
    const { keeper, backend, masquerade, metrics, log } = this.d;
    const res = await this.d.reconciler.run(keeper.lease, leases, { mode: full ? 'full' : 'leases', changed, leasesSeenAt: since });
    if (masquerade && full && (await masquerade.ensure())) {
      if (this.ready) metrics.repairs.inc({ kind: 'masquerade' });
      log.info('masquerade rules written', { network: String(this.d.config.Network) });
    }
    metrics.reconciles.inc({ result: res.failures ? 'failed' : 'ok' });
    this.d.afterPass?.(full);
    if (!this.envWritten) {
      const { config } = this.d;
      const subnet = config.EnableIPv4 ? subnetOf(keeper.lease, 4) : undefined;
      const subnet6 = config.EnableIPv6 ? subnetOf(keeper.lease, 6) : undefined;
      // both families in the same form: the gateway address (the subnet's first host) and the length
      await writeSubnetEnv(this.d.subnetFile, {
        ...(subnet ? { network: String(config.Network), subnet: `${subnet.nth(1)}/${subnet.prefix}` } : {}),
        ...(subnet6 ? { ipv6Network: String(config.IPv6Network), ipv6Subnet: `${subnet6.nth(1)}/${subnet6.prefix}` } : {}),
        mtu: backend.mtu(),
        ipMasq: this.d.ipMasq,
      });
      this.envWritten = true;
      log.info('subnet.env written', { file: this.d.subnetFile, subnet: String(subnet), mtu: backend.mtu() });
    }
    if (!this.ready) log.info('ready', { peers: res.peers, sinceStartMs: Math.round(process.uptime() * 1000) });
    if (!this.ready) this.d.onReady?.();
    this.ready = true;
    metrics.ready.set(1);
    this.lastPassAt = Date.now();
  }
}
