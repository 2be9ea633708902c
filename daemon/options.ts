// Command-line flags (flannel's names) and TWILLD_<FLAG> environment variables, parsed once
// into a typed DaemonOptions. Nothing past this file reads argv or the environment.
import yargs from 'yargs';
import { Ip } from '../lib/ip/cidr.js';
import { VERSION } from '../lib/version.js';
import { IPTABLES_BACKENDS, IptablesBackend } from '../lib/kernel/iptables-backend.js';
import { DEFAULT_ETCD_PREFIX, parsePublicIp } from '../lib/schema/lease.js';
import { parseDuration } from './duration.js';
import { LOG_LEVELS, LogLevel } from './log.js';
import { QUEUE_STEERINGS, QueueSteering, type UserspaceVxlanOptions } from './backend/userspace-vxlan.js';
import { DEFAULT_ANNOTATION_PREFIX, DEFAULT_NET_CONF_PATH } from '../lib/kube/defaults.js'; // [kube]

export interface DaemonOptions {
  etcdEndpoints: string[];
  etcdPrefix: string;
  etcdCaFile?: string;
  etcdCertFile?: string;
  etcdKeyFile?: string;
  /** names or addresses, in order of preference */
  ifaces: string[];
  ifaceRegexes: RegExp[];
  publicIp?: Ip;
  /** --public-ipv6: the IPv6 address published to other nodes (dual stack) */
  publicIpv6?: Ip;
  ipMasq: boolean;
  /** undefined: detect the host's backend at start */
  iptablesBackend?: IptablesBackend;
  subnetFile: string;
  healthzIp: string;
  /** 0 = no HTTP server (flannel's default) */
  healthzPort: number;
  renewMarginMs: number;
  leaseTtlSeconds: number;
  reconcileIntervalMs: number;
  logLevel: LogLevel;
  kubeSubnetMgr: boolean;
  kubeApiUrl?: string;
  kubeconfigFile?: string;
  nodeName?: string;
  // [kube] net-conf.json for --kube-subnet-mgr, and the Node annotation prefix
  netConfigPath: string;
  kubeAnnotationPrefix: string;
  /** vxlan: IPv4 tunnel routes name nexthop objects where the kernel has them (--no-nexthop-objects: plain routes) */
  nexthopObjects: boolean;
  /** --vxlan-userspace: this node's vxlan dataplane in userspace (TAP + twill's engine) */
  userspaceVxlan?: UserspaceVxlanOptions;
}

export class OptionsError extends Error {}
/** --help or --version was given: yargs printed it, the caller exits 0. */
export class HelpShown extends Error {}

/**
 * `env` supplies NODE_NAME only; the TWILLD_<FLAG> variables are read by yargs, which knows
 * no other source than process.env.
 */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): DaemonOptions {
  const parser = yargs(argv)
    .scriptName('twilld')
    .usage('$0 [flags]\n\ntwill node daemon: subnet lease from etcd, VXLAN / host-gw dataplane, subnet.env.\nEvery flag can also be set as TWILLD_<FLAG> (e.g. TWILLD_ETCD_ENDPOINTS).')
    .env('TWILLD')
    .option('etcd-endpoints', { type: 'string', default: 'http://127.0.0.1:2379', describe: 'comma-separated etcd endpoints' })
    .option('etcd-prefix', { type: 'string', default: DEFAULT_ETCD_PREFIX, describe: 'etcd prefix of the network config and leases' })
    .option('etcd-cafile', { type: 'string', describe: 'CA bundle for etcd TLS' })
    .option('etcd-certfile', { type: 'string', describe: 'client certificate for etcd TLS' })
    .option('etcd-keyfile', { type: 'string', describe: 'client key for etcd TLS' })
    .option('iface', { type: 'string', array: true, default: [] as string[], describe: 'interface name or address to use (repeatable; first match wins)' })
    .option('iface-regex', { type: 'string', array: true, default: [] as string[], describe: 'regex on interface names or addresses (repeatable)' })
    .option('public-ip', { type: 'string', describe: 'IP published to other nodes (default: the interface address)' })
    .option('public-ipv6', { type: 'string', describe: 'IPv6 address published to other nodes when the network is dual stack (default: the interface\'s global IPv6 address)' })
    .option('ip-masq', { type: 'boolean', default: false, describe: 'masquerade pod traffic leaving the cluster network' })
    .option('iptables-backend', { type: 'string', choices: ['auto', ...IPTABLES_BACKENDS], default: 'auto', describe: 'iptables backend for --ip-masq rules (auto: the one holding the host\'s rules)' })
    .option('subnet-file', { type: 'string', default: '/run/flannel/subnet.env', describe: 'where to write subnet.env' })
    .option('healthz-ip', { type: 'string', default: '0.0.0.0', describe: 'address of the /healthz /readyz /metrics server' })
    .option('healthz-port', { type: 'number', default: 0, describe: 'port of the /healthz /readyz /metrics server (0: off)' })
    .option('subnet-lease-renew-margin', { type: 'string', default: '60', describe: 'renew this long before expiry (bare number: minutes; or 30s, 15m)' })
    .option('subnet-lease-ttl', { type: 'string', default: '24h', describe: 'etcd lease TTL (bare number: seconds; or 90s, 24h)' })
    .option('reconcile-interval', { type: 'string', default: '10s', describe: 'period of the full kernel-vs-leases reconcile (bare number: seconds)' })
    .option('log-level', { type: 'string', choices: LOG_LEVELS as string[], default: 'info' })
    .option('kube-subnet-mgr', { type: 'boolean', default: false, describe: 'take the subnet from the Kubernetes Node object instead of etcd' })
    .option('kube-api-url', { type: 'string', describe: 'Kubernetes API server URL (kube mode)' })
    .option('kubeconfig-file', { type: 'string', describe: 'kubeconfig file (kube mode)' })
    // [kube]
    .option('net-config-path', { type: 'string', default: DEFAULT_NET_CONF_PATH, describe: 'network config file (kube mode)' })
    .option('kube-annotation-prefix', { type: 'string', default: DEFAULT_ANNOTATION_PREFIX, describe: 'prefix of the Node annotations (flannel\'s by default)' })
    .option('nexthop-objects', { type: 'boolean', default: true, describe: 'vxlan: IPv4 tunnel routes name nexthop objects where the kernel has them (cheaper to insert by the thousand); --no-nexthop-objects writes plain onlink routes, as flannel does' })
    .option('vxlan-userspace', { type: 'boolean', default: false, describe: 'vxlan backend: run this node\'s dataplane in userspace (TAP device + twill\'s engine) instead of the kernel VXLAN driver; wire- and lease-compatible' })
    .option('vxlan-userspace-queues', { type: 'number', default: 0, describe: 'userspace vxlan: TAP queues / engine thread pairs (0: one per CPU, at most 4)' })
    .option('vxlan-userspace-steering', { choices: QUEUE_STEERINGS, default: 'cpu', describe: 'userspace vxlan: a packet goes to the queue of the CPU handling it, whose threads are pinned there (cpu: lower RTT), or by flow hash (hash)' })
    .option('vxlan-userspace-offloads', { type: 'boolean', default: true, describe: 'userspace vxlan: batching, TSO/GSO/GRO; false = one packet per system call (a reference for benchmarks)' })
    .option('node-name', { type: 'string', describe: 'this node\'s name (kube mode; default env NODE_NAME, then the hostname)' })
    .strict()
    .help()
    .version(VERSION)
    .exitProcess(false)
    .fail((msg, err) => {
      throw new OptionsError(msg || err?.message || 'invalid flags');
    });
  const a = parser.parseSync();
  // yargs printed the usage or the version; the caller exits 0
  if (a.help || a.version) throw new HelpShown(a.help ? 'help' : 'version');
  return toOptions(a as unknown as Record<string, unknown>, env);
}

function toOptions(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): DaemonOptions {
  // A scalar flag given twice (a manifest default plus an override) counts once: the last wins.
  const LISTS = new Set(['etcd-endpoints', 'iface', 'iface-regex']);
  const a = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Array.isArray(v) && !LISTS.has(k) ? v[v.length - 1] : v]));
  const str = (k: string) => (a[k] === undefined || a[k] === '' ? undefined : String(a[k]));
  const list = (k: string) => ([] as unknown[]).concat(a[k] ?? []).flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean);
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new OptionsError((e as Error).message);
    }
  };
  const endpoints = list('etcd-endpoints');
  if (endpoints.length === 0) throw new OptionsError('--etcd-endpoints: at least one endpoint is needed');
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/]+\/?$/.test(e)) throw new OptionsError(`--etcd-endpoints: "${e}" is not an http(s)://host:port URL`);
  }
  const publicIpText = str('public-ip');
  const publicIp = publicIpText ? wrap(() => parsePublicIp(publicIpText, '--public-ip', 4)) : undefined;
  const publicIpv6Text = str('public-ipv6');
  const publicIpv6 = publicIpv6Text ? wrap(() => parsePublicIp(publicIpv6Text, '--public-ipv6', 6)) : undefined;
  const port = Number(a['healthz-port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new OptionsError(`--healthz-port: ${a['healthz-port']} is not a port`);
  const ifaceRegexes = list('iface-regex').map((r) => wrap(() => new RegExp(r)));
  const renewMarginMs = wrap(() => parseDuration(String(a['subnet-lease-renew-margin']), 'm', 'subnet-lease-renew-margin'));
  const ttlMs = wrap(() => parseDuration(String(a['subnet-lease-ttl']), 's', 'subnet-lease-ttl'));
  if (ttlMs < 5000) throw new OptionsError('--subnet-lease-ttl: must be at least 5s');
  if (renewMarginMs >= ttlMs) throw new OptionsError('--subnet-lease-renew-margin: must be shorter than --subnet-lease-ttl');
  const reconcileIntervalMs = wrap(() => parseDuration(String(a['reconcile-interval']), 's', 'reconcile-interval'));
  if (reconcileIntervalMs < 100) throw new OptionsError('--reconcile-interval: must be at least 100ms');
  const queues = Number(a['vxlan-userspace-queues']);
  if (!Number.isInteger(queues) || queues < 0 || queues > 16) throw new OptionsError(`--vxlan-userspace-queues: ${a['vxlan-userspace-queues']} is not 0..16`);
  return {
    etcdEndpoints: endpoints,
    etcdPrefix: String(a['etcd-prefix']),
    etcdCaFile: str('etcd-cafile'),
    etcdCertFile: str('etcd-certfile'),
    etcdKeyFile: str('etcd-keyfile'),
    ifaces: list('iface'),
    ifaceRegexes,
    publicIp,
    publicIpv6,
    ipMasq: Boolean(a['ip-masq']),
    iptablesBackend: a['iptables-backend'] === 'auto' ? undefined : (String(a['iptables-backend']) as IptablesBackend),
    subnetFile: String(a['subnet-file']),
    healthzIp: String(a['healthz-ip']),
    healthzPort: port,
    renewMarginMs,
    leaseTtlSeconds: Math.ceil(ttlMs / 1000),
    reconcileIntervalMs,
    logLevel: String(a['log-level']) as LogLevel,
    kubeSubnetMgr: Boolean(a['kube-subnet-mgr']),
    kubeApiUrl: str('kube-api-url'),
    kubeconfigFile: str('kubeconfig-file'),
    nodeName: str('node-name') ?? env.NODE_NAME,
    netConfigPath: String(a['net-config-path']), // [kube]
    kubeAnnotationPrefix: String(a['kube-annotation-prefix']), // [kube]
    nexthopObjects: a['nexthop-objects'] !== false,
    ...(a['vxlan-userspace'] ? { userspaceVxlan: { queues, offloads: a['vxlan-userspace-offloads'] !== false, steering: a['vxlan-userspace-steering'] as QueueSteering } } : {}),
  };
}
