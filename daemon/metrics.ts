// The daemon's Prometheus metrics, rendered by hand in the text exposition format (version
// 0.0.4): a handful of gauges, counters and one histogram do not justify a client library.
type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

interface Metric {
  render(): string[];
}

class Series implements Metric {
  private values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly type: 'gauge' | 'counter') {}

  set(value: number, labels: Labels = {}): void {
    this.values.set(labelText(labels), value);
  }

  inc(labels: Labels = {}, by = 1): void {
    const k = labelText(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels)) ?? 0;
  }

  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [k, v] of this.values) out.push(`${this.name}${k} ${v}`);
    return out;
  }
}

export class Histogram implements Metric {
  private counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }

  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    out.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return out;
  }
}

export class DaemonMetrics {
  readonly leaseExpiry = new Series('twill_lease_expiry_timestamp_seconds', 'When this node\'s subnet lease expires (0: a reservation, never)', 'gauge');
  readonly renewals = new Series('twill_lease_renewals_total', 'Lease renewals by result (ok, failed)', 'counter');
  readonly leaseAcquisitions = new Series('twill_lease_acquisitions_total', 'Leases acquired (start-up and re-acquisition after loss)', 'counter');
  readonly peers = new Series('twill_peers', 'Remote nodes currently programmed into the dataplane', 'gauge');
  readonly repairs = new Series('twill_reconcile_repairs_total', 'Kernel state put back by reconcile, by kind (route, neigh, fdb, device, masquerade)', 'counter');
  readonly reconciles = new Series('twill_reconcile_runs_total', 'Reconcile passes by result (ok, failed)', 'counter');
  readonly watchResyncs = new Series('twill_watch_resyncs_total', 'Times the lease watch was restarted from a fresh list (compaction, disconnect)', 'counter');
  readonly networkFull = new Series('twill_network_full_total', 'Lease attempts that found every subnet of the range taken (alert on it: a node is waiting for a subnet)', 'counter');
  readonly invalidLeases = new Series('twill_invalid_leases', 'Lease keys currently ignored because their key or value is refused', 'gauge');
  readonly invalidLeasesSeen = new Series('twill_invalid_leases_total', 'Invalid lease keys or values seen, by the field that failed', 'counter');
  readonly ready = new Series('twill_ready', '1 once subnet.env is written and the dataplane programmed', 'gauge');
  readonly programSeconds = new Histogram('twill_peer_program_seconds',
    'Time from seeing a new or changed lease to its dataplane entries being in the kernel',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

  // the process's own memory (the names Prometheus' Node.js clients use), read at each scrape:
  // a daemon with a memory limit should show how close it is
  readonly residentMemory = new Series('process_resident_memory_bytes', 'Resident memory size in bytes', 'gauge');
  readonly heapTotal = new Series('nodejs_heap_size_total_bytes', 'V8 heap size in bytes (committed)', 'gauge');
  readonly heapUsed = new Series('nodejs_heap_size_used_bytes', 'V8 heap in use in bytes', 'gauge');
  readonly externalMemory = new Series('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects (buffers included) in bytes', 'gauge');

  private sampleProcess(): void {
    const m = process.memoryUsage();
    this.residentMemory.set(m.rss);
    this.heapTotal.set(m.heapTotal);
    this.heapUsed.set(m.heapUsed);
    this.externalMemory.set(m.external);
  }

  /** more lines from parts that keep their own counters (the userspace VXLAN engine) */
  readonly extra: (() => string[])[] = [];

  render(): string {
    this.sampleProcess();
    const all: Metric[] = [this.leaseExpiry, this.renewals, this.leaseAcquisitions, this.peers, this.repairs,
      this.reconciles, this.watchResyncs, this.networkFull, this.invalidLeases, this.invalidLeasesSeen, this.ready, this.programSeconds,
      this.residentMemory, this.heapTotal, this.heapUsed, this.externalMemory];
    return [...all.flatMap((m) => m.render()), ...this.extra.flatMap((f) => f())].join('\n') + '\n';
  }
}
