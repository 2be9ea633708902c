// `reserve SUBNET --public-ip IP` and `unreserve SUBNET`. A reservation is a lease key with
// no etcd lease attached (flannel's convention): it never expires and no other node takes it;
// the node with that public IP picks it up. Unreserving attaches a TTL again, so a node that
// uses the subnet keeps it by renewing and an unused one frees itself.
import type { Argv } from 'yargs';
import type { EtcdRegistry } from '../../lib/etcd/registry.js';
import type { Ip } from '../../lib/ip/cidr.js';
import { Lease, LeaseAttrs, LeaseSubnets, NO_IPV4, parsePublicIp, sameNode } from '../../lib/schema/lease.js';
import { leaseInRange, subnetPools } from '../../lib/schema/subnet-pool.js';
import { BackendType, parseNetworkConfig } from '../../lib/schema/network-config.js';
import { parseSubnetArg } from '../args.js';
import { CommandResult, emit } from '../command.js';
import { CtlError, UsageError } from '../errors.js';
import { withRegistry } from '../etcd.js';
import { leaseColumns, leaseView } from '../lease-view.js';
import { contextFrom, Ctx, GlobalArgs, refuseInKubeMode } from '../options.js';
import { renderTable } from '../output.js';

export const DEFAULT_UNRESERVE_TTL = 86400; // flannel's lease TTL

export function reserveCommands(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command('reserve <subnet>', 'pin SUBNET to the node with --public-ip (never expires)', (r) =>
      r.positional('subnet', { type: 'string', describe: 'e.g. 10.244.7.0/24 (an IPv6 subnet in an IPv6-only network)', demandOption: true })
        .option('public-ip', { type: 'string', describe: "the node's public IPv4 address (not in an IPv6-only network)" })
        .option('subnet6', { type: 'string', describe: 'dual stack: the IPv6 subnet reserved with SUBNET, e.g. fd00:10:244:7::/64' })
        .option('public-ipv6', { type: 'string', describe: "the node's public IPv6 address (dual stack and IPv6 only)" })
        .example('$0 reserve 10.244.7.0/24 --public-ip 192.0.2.17', 'node 192.0.2.17 always gets 10.244.7.0/24')
        .example('$0 reserve 10.244.7.0/24 --subnet6 fd00:10:244:7::/64 --public-ip 192.0.2.17 --public-ipv6 2001:db8::17', 'dual stack'),
    async (a) => {
      const ctx = contextFrom(a);
      emit(ctx, await reserve(ctx, String(a.subnet), a['public-ip'] as string | undefined, a['public-ipv6'] as string | undefined, a.subnet6 as string | undefined));
    })
    .command('unreserve <subnet>', 'turn a reservation back into an expiring lease', (u) =>
      u.positional('subnet', { type: 'string', describe: 'e.g. 10.244.7.0/24', demandOption: true })
        .option('ttl', { type: 'number', default: DEFAULT_UNRESERVE_TTL, describe: 'seconds until it expires unless its node renews it' })
        .example('$0 unreserve 10.244.7.0/24', 'the node keeps it while it renews; otherwise it frees up after a day'),
    async (a) => {
      const ctx = contextFrom(a);
      emit(ctx, await unreserve(ctx, String(a.subnet), a.ttl as number));
    });
}

/** What a lease would carry: the same rules twilld applies when it reads the reservation back. */
function publicIpArg(text: string, flag: string, family: 4 | 6): Ip {
  try {
    return parsePublicIp(text, flag, family);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function requireFit(r: EtcdRegistry, subnets: LeaseSubnets): Promise<BackendType> {
  const stored = await r.getConfig();
  if (!stored) throw new CtlError(`no network config at ${r.prefix}/config: set one before reserving`);
  let config;
  try {
    config = parseNetworkConfig(stored.raw);
  } catch (e) {
    throw new CtlError(`stored config is invalid: ${(e as Error).message}`);
  }
  if (!leaseInRange(config, subnets)) {
    const ranges = subnetPools(config).map((p) => `${p.network}, /${p.len}, ${p.min.first}..${p.max.first}`).join('; ');
    const what = [subnets.subnet, subnets.subnet6].filter(Boolean).join(' + ');
    throw new CtlError(`${what} is not a node subnet of this network (${ranges})${config.EnableIPv4 && config.EnableIPv6 && !subnets.subnet6 ? ': a dual-stack network needs --subnet6 too' : ''}`);
  }
  return config.Backend.Type;
}


function result(lease: Lease, changed: boolean, verb: string): CommandResult {
  const view = leaseView(lease);
  return {
    data: { changed, lease: view },
    table: () => `${changed ? verb : `already ${verb}`}: ${lease.subnet}\n${renderTable([view], leaseColumns([view]))}`,
  };
}

export async function reserve(ctx: Ctx, subnetText: string, publicIp?: string, publicIpv6?: string, subnet6Text?: string): Promise<CommandResult> {
  refuseInKubeMode(ctx, 'reserve');
  const subnet = parseSubnetArg(subnetText);
  const subnet6 = subnet6Text !== undefined ? parseSubnetArg(subnet6Text, '--subnet6') : undefined;
  if (subnet6 && (subnet.family !== 4 || subnet6.family !== 6)) throw new UsageError('--subnet6: SUBNET must be the IPv4 subnet and --subnet6 the IPv6 one');
  const ip6 = publicIpv6 !== undefined ? publicIpArg(publicIpv6, '--public-ipv6', 6) : undefined;
  if (publicIp === undefined && !(subnet.family === 6 && ip6)) throw new UsageError('--public-ip is required (only an IPv6-only reservation has --public-ipv6 alone)');
  const ip = publicIp !== undefined ? publicIpArg(publicIp, '--public-ip', 4) : NO_IPV4;
  const subnets: LeaseSubnets = subnet6 ? { subnet, subnet6 } : { subnet };
  return withRegistry(ctx.etcd, async (r) => {
    const backendType = await requireFit(r, subnets);
    const existing = await r.findLease(subnet);
    const attrs: LeaseAttrs = { PublicIP: ip, ...(ip6 ? { PublicIPv6: ip6 } : {}), BackendType: backendType, BackendData: null };
    if (!existing) {
      if (!(await r.reserve(subnets, attrs))) throw new CtlError(`${subnet} was taken while reserving; run again to see by whom`);
      return result((await r.getLease(subnets))!, true, 'reserved');
    }
    if (!sameNode(existing.attrs, attrs)) {
      throw new CtlError(`${subnet} is held by node ${existing.attrs.PublicIP}${existing.leaseId ? '' : ' (reserved)'}; release it first`);
    }
    if (!existing.leaseId) return result(existing, false, 'reserved');
    // The node already holds it: keep its attributes (VtepMAC), drop the expiry.
    // the same write twilld does for a reservation it uses: the value stays, the etcd lease goes
    if (!(await r.updateReservation(existing, existing.attrs))) throw new CtlError(`${subnet} changed while reserving; run again`);
    return result((await r.getLease(existing))!, true, 'reserved');
  });
}

export async function unreserve(ctx: Ctx, subnetText: string, ttl: number): Promise<CommandResult> {
  refuseInKubeMode(ctx, 'unreserve');
  const subnet = parseSubnetArg(subnetText);
  if (!Number.isInteger(ttl) || ttl < 5 || ttl > 31536000) throw new UsageError(`--ttl: ${ttl} is outside 5..31536000 seconds`);
  return withRegistry(ctx.etcd, async (r) => {
    const existing = await r.findLease(subnet);
    if (!existing) throw new CtlError(`no reservation for ${subnet}`);
    if (existing.leaseId) throw new CtlError(`${subnet} is not reserved (it is a lease of node ${existing.attrs.PublicIP})`);
    if (!(await r.attachTtl(existing, ttl))) throw new CtlError(`${subnet} changed while unreserving; run again`);
    return result((await r.getLease(existing, { withExpiry: true }))!, true, 'unreserved');
  });
}
