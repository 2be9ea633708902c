// Leases the daemon refuses (a value that does not parse, a subnet that is not one of the
// network's): skipped whole, logged once per key and problem (a watch re-delivers the full
// set on every change, and the log must not repeat them each time), and counted in /metrics.
import type { InvalidLease } from '../lib/schema/lease.js';
import type { Logger } from './log.js';
import type { DaemonMetrics } from './metrics.js';

export class InvalidLeaseReporter {
  /** key -> "field|reason" of what was last logged for it */
  private seen = new Map<string, string>();

  constructor(private readonly log: Logger, private readonly metrics: DaemonMetrics) {}

  report(invalid: Iterable<InvalidLease>): void {
    const now = new Map<string, string>();
    for (const l of invalid) {
      const sig = `${l.field}|${l.reason}`;
      now.set(l.key, sig);
      if (this.seen.get(l.key) === sig) continue;
      this.metrics.invalidLeasesSeen.inc({ field: l.field });
      // JSON logs escape control characters, so a hostile key cannot forge log lines
      this.log.warn('ignoring an invalid lease', { key: l.key, field: l.field, reason: l.reason });
    }
    this.seen = now;
    this.metrics.invalidLeases.set(now.size);
  }
}
