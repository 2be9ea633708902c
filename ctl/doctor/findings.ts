// A doctor finding: what is wrong, with what, and the command that fixes it. "error" is state
// that differs from what the leases call for (exit 1); "warning" is a risk that depends on the
// environment, such as checksum offload behind NAT (exit 1 only with --strict).
export type Severity = 'error' | 'warning';

export interface Finding {
  severity: Severity;
  /** check that produced it: lease, subnet-env, ip-forward, vxlan-device, mtu, offload, neighbour, fdb, route, stale-route, stale-neighbour, stale-fdb, masquerade, config */
  check: string;
  /** the object concerned: a device, subnet, MAC, file or sysctl */
  subject: string;
  problem: string;
  fix: string;
}

export class Findings {
  readonly list: Finding[] = [];

  error(check: string, subject: string, problem: string, fix: string): void {
    this.list.push({ severity: 'error', check, subject, problem, fix });
  }

  warning(check: string, subject: string, problem: string, fix: string): void {
    this.list.push({ severity: 'warning', check, subject, problem, fix });
  }

  count(s: Severity): number {
    return this.list.filter((f) => f.severity === s).length;
  }
}
