// Checks on a network config beyond what the shared parser refuses: mistakes that parse but
// surprise (host bits in Network, backend options the backend ignores), and the effect a new
// config would have on the leases nodes already hold.
import { Cidr, Ip } from '../lib/ip/cidr.js';
import type { Lease } from '../lib/schema/lease.js';
import { inRange, poolSize, subnetPools } from '../lib/schema/subnet-pool.js';
import { ConfigError, NetworkConfig, parseNetworkConfig } from '../lib/schema/network-config.js';

export interface CheckedConfig {
  config: NetworkConfig;
  warnings: string[];
}

/** Parses and validates; throws ConfigError (naming the field) when the config must be refused. */
export function checkConfigText(text: string): CheckedConfig {
  const config = parseNetworkConfig(text);
  const raw = JSON.parse(text) as Record<string, unknown>;
  const warnings: string[] = [];
  refuseHostBits(raw, 'Network');
  refuseHostBits(raw, 'IPv6Network');
  const backend = (raw.Backend ?? {}) as Record<string, unknown>;
  if (config.Backend.Type === 'host-gw') {
    for (const f of ['VNI', 'Port', 'DirectRouting', 'GBP', 'Learning', 'MacPrefix']) {
      if (backend[f] !== undefined) warnings.push(`Backend.${f} is ignored by the host-gw backend`);
    }
  }
  for (const f of ['GBP', 'Learning', 'MacPrefix']) {
    if (config.Backend.Type === 'vxlan' && backend[f] !== undefined) warnings.push(`Backend.${f} is accepted for flannel compatibility but twill ignores it`);
  }
  if (config.Backend.Type === 'vxlan' && config.Backend.VNI === 0) {
    warnings.push('Backend.VNI 0: flannel nodes use VNI 1 by default; mixed clusters must agree on the VNI');
  }
  const total = subnetTotal(config);
  if (total < 4n) warnings.push(`only ${total} node subnet(s) between SubnetMin and SubnetMax`);
  return { config, warnings };
}

function refuseHostBits(raw: Record<string, unknown>, field: string): void {
  const v = raw[field];
  if (typeof v !== 'string') return;
  const c = Cidr.tryParse(v);
  const addr = Ip.tryParse(v.split('/')[0]);
  if (c && addr && addr.value !== c.network) throw new ConfigError(field, `"${v}" has host bits set (did you mean ${c}?)`);
}

/** How many node subnets the config can hand out (SubnetMin..SubnetMax inclusive) in its first family. */
export function subnetTotal(c: NetworkConfig): bigint {
  const pool = subnetPools(c)[0];
  return pool ? poolSize(pool) : 0n;
}

/** Warnings for leases the new config would strand, and for nodes still on another backend. */
export function leaseWarnings(c: NetworkConfig, leases: readonly Lease[]): string[] {
  const out: string[] = [];
  for (const l of leases) {
    const who = `lease ${l.subnet} (node ${l.attrs.PublicIP}${l.leaseId ? '' : ', reserved'})`;
    if (!c.Network.contains(l.subnet)) out.push(`${who} would be outside Network ${c.Network}`);
    else if (l.subnet.prefix !== c.SubnetLen) out.push(`${who} does not match SubnetLen /${c.SubnetLen}`);
    else if (!inRange(c, l.subnet)) out.push(`${who} would be outside SubnetMin..SubnetMax ${c.SubnetMin.first}..${c.SubnetMax.first}`);
    if (l.attrs.BackendType !== c.Backend.Type) {
      out.push(`${who} uses backend ${l.attrs.BackendType}; the node switches to ${c.Backend.Type} when twilld restarts`);
    }
  }
  return out;
}
