// `usage`: how full the network is — node subnets total / used / reserved / free — so that
// exhaustion is seen before a new node waits forever for a lease. `--fail-above` turns it
// into a check for cron jobs and alerts.
import type { Argv } from 'yargs';
import type { Lease } from '../../lib/schema/lease.js';
import { NetworkConfig, parseNetworkConfig } from '../../lib/schema/network-config.js';
import { CommandResult, emit } from '../command.js';
import { leaseFits, subnetTotal } from '../config-checks.js';
import { CtlError, UsageError } from '../errors.js';
import { withRegistry } from '../etcd.js';
import { listKubeLeases, readNetConf } from '../kube.js';
import { isReservation } from '../lease-view.js';
import { contextFrom, Ctx, GlobalArgs } from '../options.js';
import { renderPairs } from '../output.js';

export interface UsageView {
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

export function computeUsage(config: NetworkConfig, leases: readonly Lease[]): UsageView {
  const inRange = leases.filter((l) => leaseFits(config, l.subnet));
  const total = Number(subnetTotal(config));
  const reserved = inRange.filter(isReservation).length;
  const used = inRange.length - reserved;
  const taken = used + reserved;
  return {
    network: config.Network.toString(),
    subnetLen: config.SubnetLen,
    subnetMin: config.SubnetMin.toString(),
    subnetMax: config.SubnetMax.toString(),
    total,
    used,
    reserved,
    free: Math.max(0, total - taken),
    usedPercent: total ? Math.round((taken / total) * 1000) / 10 : 100,
    outside: leases.length - inRange.length,
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
  const over = failAbove !== undefined && v.usedPercent >= failAbove;
  return {
    data: v,
    table: () => renderPairs([
      ['Network', `${v.network} (/${v.subnetLen} per node, ${v.subnetMin} .. ${v.subnetMax})`],
      ['Total', v.total],
      ['Used', v.used],
      ['Reserved', v.reserved],
      ['Free', v.free],
      ['Used%', `${v.usedPercent}%`],
      ...(v.outside ? [['Outside', `${v.outside} lease(s) outside the configured range`] as [string, string]] : []),
    ]),
    problems: over ? [`${v.usedPercent}% of node subnets are taken (limit ${failAbove}%)`] : [],
    warnings: v.outside ? [`${v.outside} lease(s) lie outside ${v.network} ${v.subnetMin}..${v.subnetMax}`] : [],
    exitCode: over ? 1 : 0,
  };
}
