// `leases list | get | watch | release`: who holds which subnet, who owns an address, a live
// stream of changes, and removing a lease an operator knows is dead.
import type { Argv } from 'yargs';
import type { EtcdRegistry } from '../../lib/etcd/registry.js';
import type { Lease } from '../../lib/schema/lease.js';
import { screenLeases } from '../../lib/schema/subnet-pool.js';
import { NetworkConfig, parseNetworkConfig } from '../../lib/schema/network-config.js';
import { parseSubnetArg, parseSubnetOrIp } from '../args.js';
import { CommandResult, emit } from '../command.js';
import { confirm } from '../confirm.js';
import { CtlError } from '../errors.js';
import { withRegistry } from '../etcd.js';
import { listKubeLeases } from '../kube.js';
import { compareLeases, leaseColumns, leaseView } from '../lease-view.js';
import { contextFrom, Ctx, GlobalArgs, refuseInKubeMode } from '../options.js';
import { renderTable } from '../output.js';
import { watchLeaseStream } from './leases-watch.js';

export function leasesCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command('leases', 'list, look up, watch and release node subnet leases', (c) =>
    c
      .command(['list', 'ls'], 'every lease and reservation', (l) =>
        l.example('$0 leases list', 'subnet, node public IP, backend, VtepMAC, expiry, reserved')
          .example('$0 leases list -o json | jq -r ".leases[].publicIP"', 'the public IP of every node'),
      async (a) => emit(contextFrom(a), await leasesList(contextFrom(a))))
      .command('get <query>', 'the lease holding SUBNET, or the one whose subnet contains IP (or whose node has that public IP)', (g) =>
        g.positional('query', { type: 'string', describe: 'SUBNET (10.244.3.0/24) or IP (10.244.3.17)', demandOption: true })
          .example('$0 leases get 10.244.3.17', 'which node owns this pod address')
          .example('$0 leases get 10.244.3.0/24 -o json', 'one lease as JSON'),
      async (a) => emit(contextFrom(a), await leasesGet(contextFrom(a), String(a.query))))
      .command('watch', 'stream lease changes until interrupted', (w) =>
        w.option('count', { type: 'number', describe: 'exit after this many events' })
          .option('from-revision', { type: 'string', describe: 'replay changes after this etcd revision' })
          .example('$0 leases watch -o json', 'one JSON object per line per change')
          .example('$0 leases watch --count 1', 'wait for the next change and exit'),
      async (a) => watchLeaseStream(contextFrom(a), { count: a.count as number | undefined, fromRevision: a['from-revision'] as string | undefined }))
      .command('release <subnet>', 'delete a lease or reservation (asks first unless --yes)', (r) =>
        r.positional('subnet', { type: 'string', describe: 'the lease subnet, e.g. 10.244.3.0/24', demandOption: true })
          .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'do not ask' })
          .example('$0 leases release 10.244.3.0/24 --yes', 'free the subnet of a node that is gone for good'),
      async (a) => emit(contextFrom(a), await leasesRelease(contextFrom(a), String(a.subnet), a.yes as boolean)))
      .demandCommand(1, 'leases needs a subcommand: list, get, watch or release')
      .example('$0 leases list', 'which node holds which subnet'),
  );
}

export async function leasesList(ctx: Ctx): Promise<CommandResult> {
  const { leases, invalid } = ctx.kube ? await listKubeLeases(ctx.kube) : await withRegistry(ctx.etcd, async (r) => {
    const [set, config] = await Promise.all([r.listLeases({ withExpiry: true }), storedConfig(r)]);
    // the daemon's screen, when there is a config to screen against: what it ignores is listed as invalid
    return config ? screenLeases(set.leases, set.invalid, config) : set;
  });
  const views = [...leases].sort(compareLeases).map((l) => leaseView(l));
  const bad = invalid.map((l) => ({ key: l.key, field: l.field, reason: l.reason }));
  return {
    data: { leases: views, invalid: bad },
    table: () => {
      const good = views.length ? renderTable(views, leaseColumns(views)) : 'no leases\n';
      if (!bad.length) return good;
      return `${good}\n${bad.length} invalid (ignored by twilld):\n${renderTable(bad, [
        { header: 'KEY', value: (x) => x.key },
        { header: 'FIELD', value: (x) => x.field },
        { header: 'PROBLEM', value: (x) => x.reason },
      ])}`;
    },
  };
}

async function storedConfig(r: EtcdRegistry): Promise<NetworkConfig | undefined> {
  const stored = await r.getConfig();
  try {
    return stored ? parseNetworkConfig(stored.raw) : undefined;
  } catch {
    return undefined; // `config validate` reports that; the list still shows what is there
  }
}

/** The lease for a subnet or address: pod address first, then a node's public IP. */
export function findLease(leases: readonly Lease[], query: ReturnType<typeof parseSubnetOrIp>): Lease | undefined {
  if ('subnet' in query) return leases.find((l) => l.subnet.equals(query.subnet) || (l.subnet6?.equals(query.subnet) ?? false));
  const ip = query.ip;
  return leases.find((l) => l.subnet.contains(ip) || (l.subnet6?.contains(ip) ?? false))
    ?? leases.find((l) => l.attrs.PublicIP.equals(ip) || (l.attrs.PublicIPv6?.equals(ip) ?? false));
}

export async function leasesGet(ctx: Ctx, text: string): Promise<CommandResult> {
  const query = parseSubnetOrIp(text);
  const lease = ctx.kube ? findLease((await listKubeLeases(ctx.kube)).leases, query) : await withRegistry(ctx.etcd, async (r) => {
    if ('subnet' in query) return r.findLease(query.subnet, { withExpiry: true });
    const { leases } = await r.listLeases();
    const found = findLease(leases, query);
    return found ? r.getLease(found, { withExpiry: true }) : undefined;
  });
  if (!lease) throw new CtlError(`no lease holds ${text}`);
  const view = leaseView(lease);
  return {
    data: { query: text, lease: view },
    table: () => renderTable([view], leaseColumns([view])),
  };
}

export async function leasesRelease(ctx: Ctx, text: string, yes: boolean): Promise<CommandResult> {
  refuseInKubeMode(ctx, 'leases release');
  const subnet = parseSubnetArg(text);
  return withRegistry(ctx.etcd, async (r: EtcdRegistry) => {
    const lease = await r.findLease(subnet);
    if (!lease) throw new CtlError(`no lease or reservation for ${subnet}`);
    const kind = lease.leaseId ? 'lease' : 'reservation';
    if (!yes) await confirm(`release ${kind} ${subnet} of node ${lease.attrs.PublicIP}?`);
    // Guarded by the revision shown in the question: a node that renewed meanwhile keeps it.
    const ok = await r.deleteLease(lease, lease.modRevision);
    if (!ok) throw new CtlError(`${subnet} changed while asking (renewed or replaced); nothing released — run again`);
    return {
      data: { released: subnet.toString(), publicIP: lease.attrs.PublicIP, wasReserved: !lease.leaseId },
      table: () => `released ${kind} ${subnet} (node ${lease.attrs.PublicIP})\n`,
    };
  }, { bounded: yes });
}
