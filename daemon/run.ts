// The daemon's life: interface → subnet manager → network config → backend → lease, then
// three things side by side until the signal: the lease watch, the lease keeper (renewals,
// re-acquisition) and the dataplane loop (reconcile, masquerade, subnet.env).
// Stopping (the signal) leaves the dataplane and the lease in place: pods keep talking while
// the daemon restarts, and the restarted daemon finds its lease by public IP.
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { Cidr } from '../lib/ip/cidr.js';
import {
  RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK, RTNLGRP_NEIGH, RTNLGRP_NEXTHOP,
} from '../lib/kernel/netlink/constants.js';
import { kernelHasNexthops } from '../lib/kernel/dataplane.js';
import { dropOwnWritesFilter, subscribeKernel, Subscription } from '../lib/kernel/netlink/events.js';
import { withSocket } from '../lib/kernel/netlink/socket.js';
import type { NetworkConfig } from '../lib/schema/network-config.js';
import { detectIptablesBackend } from '../lib/kernel/iptables-backend.js';
import { Lease, LeaseSubnets, subnetOf } from '../lib/schema/lease.js';
import { LeaseScreen } from '../lib/schema/subnet-pool.js';
import { readSubnetEnv } from '../lib/schema/subnet-env.js';
import { createBackend } from './backend/registry.js';
import { DataplaneLoop } from './dataplane-loop.js';
import { startHttpServer } from './http.js';
import { findExternalInterface } from './iface.js';
import { InvalidLeaseReporter } from './invalid-leases.js';
import { IPV6_FORWARDING, waitForIpForward } from './ip-forward.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { Logger } from './log.js';
import { Masquerade } from './masquerade.js';
import { DaemonMetrics } from './metrics.js';
import type { DaemonOptions } from './options.js';
import { Reconciler } from './reconcile.js';
import { createSubnetManager } from './subnet/registry.js';
import { isDriftEvent } from './kernel-events.js';
import { boundHeapGrowth, releaseStartupPages, releaseMemoryAfterPass } from './memory.js';

export async function runDaemon(opts: DaemonOptions, log: Logger, signal: AbortSignal, metrics = new DaemonMetrics()): Promise<void> {
  let loop: DataplaneLoop | undefined;
  let backendHealth: (() => string | undefined) | undefined;
  const stallMs = Math.max(3 * opts.reconcileIntervalMs, 60_000);
  let http: Server | undefined;
  let blocked: string | undefined;
  if (opts.healthzPort) {
    http = await startHttpServer(opts.healthzIp, opts.healthzPort, {
      ready: () => loop?.ready ?? false,
      notReadyReason: () => blocked,
      unhealthy: () => {
        const idle = loop?.ready ? Date.now() - loop.lastPassAt : 0;
        if (idle > stallMs) return `no successful reconcile pass for ${Math.round(idle / 1000)}s`;
        return loop?.ready ? backendHealth?.() : undefined;
      },
    }, metrics);
    log.info('serving /healthz /readyz /metrics', { address: `${opts.healthzIp}:${opts.healthzPort}`, sinceStartMs: Math.round(process.uptime() * 1000) });
  }
  // Routing between cni0 and the tunnel is forwarding; without it nothing crosses nodes.
  // Until it is on the daemon stays up and not ready (a crash loop would say less).
  let iptables;
  try {
    await waitForIpForward(log, signal, (why) => (blocked = why));
    signal.throwIfAborted();
    // Detected once: the host's rules do not move between backends while a node runs.
    iptables = opts.ipMasq ? await detectIptablesBackend(opts.iptablesBackend) : undefined;
    if (iptables) log.info('iptables backend', { backend: iptables.backend, reason: iptables.reason });
  } catch (e) {
    http?.close();
    http?.closeAllConnections();
    throw e;
  }
  const sm = await createSubnetManager(opts.kubeSubnetMgr ? 'kube' : 'etcd', {
    options: opts,
    log: log.with({ component: 'subnet' }),
    onWatchResync: () => metrics.watchResyncs.inc(),
    onNetworkFull: () => metrics.networkFull.inc(),
  });
  // [kube] with NODE_NAME: Node annotations + NetworkUnavailable=False once ready; etcd mode: release deleted Nodes' leases
  // (loaded on use: the Kubernetes client is big and plain etcd hosts never need it)
  const kube = opts.nodeName
    ? (await import('./kube/integration.js')).startKubeIntegration(opts, log.with({ component: 'kube' }), signal, sm.leaseStore)
    : undefined;
  try {
    const iface = await findExternalInterface(opts);
    log.info('using interface', { iface: iface.name, address: iface.address, publicIp: iface.publicIp, mtu: iface.mtu });

    const config = await sm.getNetworkConfig(signal);
    // IPv6 pod traffic is routed too (kubeadm's preflight asks for the same sysctl): the same
    // wait as for IPv4, not ready with the fix named while it cannot be turned on
    if (config.EnableIPv6) await waitForIpForward(log, signal, (why) => (blocked = why), 5000, undefined, IPV6_FORWARDING);
    log.info('network config', { network: String(config.Network), subnetLen: config.SubnetLen, backend: config.Backend.Type });
    const nexthops = opts.nexthopObjects && withSocket(undefined, kernelHasNexthops);
    const backend = createBackend({ config, iface, log: log.with({ component: 'backend' }), nexthops, userspaceVxlan: opts.userspaceVxlan });
    backendHealth = backend.health?.bind(backend);
    if (backend.metrics) metrics.extra.push(backend.metrics.bind(backend));
    const keeper = new LeaseKeeper({
      sm,
      config,
      req: { attrs: backend.leaseAttrs(), previous: previousSubnet(opts.subnetFile, log), ttlSeconds: opts.leaseTtlSeconds },
      renewMarginMs: opts.renewMarginMs,
      log: log.with({ component: 'lease' }),
      metrics,
      onReacquired: (lease, old) => loop?.leaseReacquired(lease, old),
    });
    const lease = await keeper.acquire(signal);
    log.info('subnet lease acquired', { subnet: String(lease.subnet), expiresAt: lease.expiresAt, key: lease.key });

    const reconciler = new Reconciler(backend, config, log.with({ component: 'reconcile' }), metrics);
    const dataplane = new DataplaneLoop({
      config, backend, keeper, metrics, reconciler,
      masquerade: iptables ? new Masquerade(() => {
        const subnet = config.EnableIPv4 ? subnetOf(keeper.lease, 4) : undefined;
        const subnet6 = config.EnableIPv6 ? subnetOf(keeper.lease, 6) : undefined;
        return [
          ...(subnet ? [{ network: config.Network, podSubnet: subnet }] : []),
          ...(subnet6 && config.IPv6Network ? [{ network: config.IPv6Network, podSubnet: subnet6 }] : []),
        ];
      }, iptables.backend) : undefined,
      subnetFile: opts.subnetFile,
      ipMasq: opts.ipMasq,
      log: log.with({ component: 'reconcile' }),
      afterPass: releaseMemoryAfterPass,
      onReady: () => {
        releaseStartupPages(log);
        boundHeapGrowth();
        kube?.ready(keeper.lease); // [kube]
      },
    });
    loop = dataplane;
    const invalidLeases = new InvalidLeaseReporter(log.with({ component: 'subnet' }), metrics);
    // one screen for everything downstream: a refused lease is not half-applied anywhere
    const screen = new LeaseScreen(config);
    const watching = sm.watchLeases(({ leases, invalid, changed }) => {
      screen.update(leases, invalid, changed);
      invalidLeases.report(screen.invalid.values());
      keeper.observe(screen.leases);
      dataplane.onLeases(screen.leases, changed);
    }, signal);
    const renewing = keeper.run(signal);
    const events = watchKernel(backend.devices, nexthops, reconciler, config, () => keeper.lease, () => dataplane.kickFull(), log);
    const timer = setInterval(() => dataplane.kickFull(), opts.reconcileIntervalMs);
    try {
      await dataplane.run(signal);
    } finally {
      clearInterval(timer);
      events?.stop();
      reconciler.close();
      backend.stop?.();
      await Promise.allSettled([watching, renewing]);
    }
  } finally {
    await kube?.stop().catch(() => {}); // [kube]
    await sm.close().catch(() => {});
    http?.close();
    http?.closeAllConnections();
    log.info('stopped; dataplane and lease left in place');
  }
}

/** The subnet of an old subnet.env, asked for first when no lease carries our public IP. */
function previousSubnet(file: string, log: Logger): LeaseSubnets | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const env = readSubnetEnv(file);
    if (env.subnet) return { subnet: env.subnet, ...(env.ipv6Subnet ? { subnet6: env.ipv6Subnet } : {}) };
    return env.ipv6Subnet ? { subnet: env.ipv6Subnet } : undefined; // an IPv6-only node's
  } catch (e) {
    log.warn('ignoring unreadable previous subnet.env', { file, error: e });
    return undefined;
  }
}

/** Kernel events make repairs immediate; the periodic pass covers anything they miss. */
function watchKernel(
  devices: readonly string[], nexthops: boolean, reconciler: Reconciler, config: NetworkConfig, own: () => Lease, kick: () => void, log: Logger,
): Subscription | undefined {
  const v6 = config.EnableIPv6 ? config.IPv6Network : undefined;
  const podRoute = (dst: Cidr) => {
    const l = own();
    const mine = [l.subnet, ...(l.subnet6 ? [l.subnet6] : [])];
    return !!(dst.family === 4 ? config.Network : v6)?.contains(dst) && !mine.some((s) => s.contains(dst));
  };
  // nexthop objects: deleting one takes its routes along without a route event
  const groups = [RTNLGRP_LINK, RTNLGRP_NEIGH, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, ...(v6 ? [RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE] : []),
    ...(nexthops ? [RTNLGRP_NEXTHOP] : [])];
  try {
    return subscribeKernel(undefined, groups, (evs) => {
      const view = { devices, seen: reconciler.devicesSeen, podRoute, recentlyDeleted: reconciler.recentlyDeleted };
      if (evs.some((e) => isDriftEvent(e, view))) kick();
    }, (errno) => {
      // the kernel dropped events (ENOBUFS): anything may have happened meanwhile
      log.warn('kernel events were lost; reconciling against the kernel', { errno });
      kick();
    }, dropOwnWritesFilter());
  } catch (e) {
    log.warn('cannot subscribe to kernel events; relying on periodic reconcile', { error: e });
    return undefined;
  }
}
