// `usage`: how full the network is — node subnets total / used / reserved / free — so that
// exhaustion is seen before a new node waits forever for a lease. `--fail-above` turns it
// into a check for cron jobs and alerts.
import type { Argv } from 'yargs';
import { Lease, subnetOf } from '../../lib/schema/lease.js';
import { inPool, poolSize, SubnetPool, subnetPools } from '../../lib/schema/subnet-pool.js';
import { NetworkConfig, parseNetworkConfig } from '../../lib/schema/network-config.js';
import { CommandResult, emit } from '../command.js';
import { CtlError, UsageError } from '../errors.js';
import { withRegistry } from '../etcd.js';
import { listKubeLeases, readNetConf } from '../kube.js';
import { isReservation } from '../lease-view.js';
import { contextFrom, Ctx, GlobalArgs } from '../options.js';
import { renderPairs } from '../output.js';

/** The usage of one family's pool. */
export interface UsageView {
  /** 4, or 6 for an IPv6-only network */
  family: 4 | 6;
  network: string;
  subnetLen: number;
  subnetMin: string;
  subnetMax: string;
  total: number;
  used: number;
  reserved: number;
  free: number;
  /** (used + reserved) / total, in percent, one decimal */
  usedPercent: number;
  /** leases that this config could not have handed out (left over from an older config) */
  outside: number;
  /** dual stack: the same figures for the IPv6 pool; null otherwise */
  ipv6?: UsageView | null;
}

export function usageCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command('usage', 'node subnets total / used / reserved / free', (u) =>
    u.option('fail-above', { type: 'number', describe: 'exit 1 when usedPercent is at or above this' })
      .example('$0 usage', 'how many node subnets are left')
      .example('$0 usage --fail-above 90 -o json', 'for monitoring: exit 1 at 90% full'),
  async (a) => {
    const ctx = contextFrom(a);
    emit(ctx, await usage(ctx, a['fail-above'] as number | undefined));
  });
}

/** Usage of the first family's pool (IPv4, or IPv6 in an IPv6-only network), and of IPv6 in dual stack. */
export function computeUsage(config: NetworkConfig, leases: readonly Lease[]): UsageView {
  const [first, second] = subnetPools(config);
  return { ...poolUsage(first, leases), ipv6: second ? poolUsage(second, leases) : null };
}

function poolUsage(pool: SubnetPool, leases: readonly Lease[]): UsageView {
  const fits = leases.filter((l) => {
    const s = subnetOf(l, pool.family);
    return s && inPool(pool, s);
  });
  const total = Number(poolSize(pool));
  const reserved = fits.filter(isReservation).length;
  const used = fits.length - reserved;
  const taken = used + reserved;
  return {
    family: pool.family,
    network: pool.network.toString(),
    subnetLen: pool.len,
    subnetMin: pool.min.toString(),
    subnetMax: pool.max.toString(),
    total,
    used,
    reserved,
    free: Math.max(0, total - taken),
    usedPercent: total ? Math.round((taken / total) * 1000) / 10 : 100,
    outside: leases.length - fits.length,
  };
}

async function etcdInput(ctx: Ctx): Promise<{ config: NetworkConfig; leases: Lease[] }> {
  const { stored, leases } = await withRegistry(ctx.etcd, async (r) => ({ stored: await r.getConfig(), leases: (await r.listLeases()).leases }));
  if (!stored) throw new CtlError(`no network config at ${ctx.etcd.prefix}/config`);
  try {
    return { config: parseNetworkConfig(stored.raw), leases };
  } catch (e) {
    throw new CtlError(`stored config is invalid: ${(e as Error).message}`);
  }
}

/** Kube mode: net-conf.json and the Nodes' pod CIDRs (the controller-manager allocates them; nothing is reserved). */
async function kubeInput(ctx: Ctx): Promise<{ config: NetworkConfig; leases: Lease[] }> {
  const config = await readNetConf(ctx.kube!);
  return { config, leases: (await listKubeLeases(ctx.kube!, config)).leases };
}

export async function usage(ctx: Ctx, failAbove?: number): Promise<CommandResult> {
  if (failAbove !== undefined && (!Number.isFinite(failAbove) || failAbove < 0 || failAbove > 100)) {
    throw new UsageError(`--fail-above: ${failAbove} is outside 0..100`);
  }
  const { config, leases } = ctx.kube ? await kubeInput(ctx) : await etcdInput(ctx);
  const v = computeUsage(config, leases);
  const all = v.ipv6 ? [v, v.ipv6] : [v];
  const over = all.filter((u) => failAbove !== undefined && u.usedPercent >= failAbove);
  const rows = (u: UsageView, label: string): [string, string | number][] => [
    [label, `${u.network} (/${u.subnetLen} per node, ${u.subnetMin} .. ${u.subnetMax})`],
    ['Total', u.total],
    ['Used', u.used],
    ['Reserved', u.reserved],
    ['Free', u.free],
    ['Used%', `${u.usedPercent}%`],
    ...(u.outside ? [['Outside', `${u.outside} lease(s) outside the configured range`] as [string, string]] : []),
  ];
  return {
    data: v,
    table: () => all.map((u) => renderPairs(rows(u, u.family === 4 ? 'Network' : 'IPv6Network'))).join('\n'),
    problems: over.map((u) => `${u.usedPercent}% of ${u.family === 6 ? 'IPv6 ' : ''}node subnets are taken (limit ${failAbove}%)`),
    warnings: all.filter((u) => u.outside).map((u) => `${u.outside} lease(s) lie outside ${u.network} ${u.subnetMin}..${u.subnetMax}`),
    exitCode: over.length ? 1 : 0,
  };
}
