// Global flags shared by every command, parsed once into a typed context. The etcd flags and
// their environment variables are twilld's, so one set of settings serves both programs.
import type { Argv } from 'yargs';
import { DEFAULT_ANNOTATION_PREFIX, DEFAULT_NET_CONF_PATH } from '../lib/kube/defaults.js';
import { DEFAULT_ETCD_PREFIX } from '../lib/schema/lease.js';
import { UsageError } from './errors.js';

export type OutputFormat = 'table' | 'json' | 'yaml';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'yaml'];

/** Flag name -> environment variable read for its default (same names twilld reads). */
export const ETCD_ENV = {
  'etcd-endpoints': 'TWILLD_ETCD_ENDPOINTS',
  'etcd-prefix': 'TWILLD_ETCD_PREFIX',
  'etcd-cafile': 'TWILLD_ETCD_CAFILE',
  'etcd-certfile': 'TWILLD_ETCD_CERTFILE',
  'etcd-keyfile': 'TWILLD_ETCD_KEYFILE',
} as const;

/** twilld's kube-mode flags and their environment variables (twilld reads every flag as TWILLD_<FLAG>). */
export const KUBE_ENV = {
  'kube-subnet-mgr': 'TWILLD_KUBE_SUBNET_MGR',
  'kubeconfig-file': 'TWILLD_KUBECONFIG_FILE',
  'kube-api-url': 'TWILLD_KUBE_API_URL',
  'kube-annotation-prefix': 'TWILLD_KUBE_ANNOTATION_PREFIX',
  'net-config-path': 'TWILLD_NET_CONFIG_PATH',
} as const;

export const DEFAULT_ETCD_ENDPOINT = 'http://127.0.0.1:2379';
/** Below the 5 s the issue allows for reporting an unreachable etcd, with room for start-up. */
export const DEFAULT_ETCD_TIMEOUT_MS = 3000;

export interface GlobalArgs {
  'etcd-endpoints': string;
  'etcd-prefix': string;
  'etcd-cafile'?: string;
  'etcd-certfile'?: string;
  'etcd-keyfile'?: string;
  'etcd-timeout': number;
  'kube-subnet-mgr': boolean;
  'kubeconfig-file'?: string;
  'kube-api-url'?: string;
  'kube-annotation-prefix': string;
  'net-config-path': string;
  output: OutputFormat;
}

export interface EtcdSettings {
  endpoints: string[];
  prefix: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  timeoutMs: number;
}

/** Where subnets come from with --kube-subnet-mgr: Node objects and a net-conf.json file. */
export interface KubeSettings {
  kubeconfigFile?: string;
  apiUrl?: string;
  annotationPrefix: string;
  netConfPath: string;
  /** bounds each API call, like --etcd-timeout does for etcd */
  timeoutMs: number;
}

export interface Ctx {
  etcd: EtcdSettings;
  /** set with --kube-subnet-mgr: read Nodes, not etcd */
  kube?: KubeSettings;
  output: OutputFormat;
}

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** yargs' reading of a boolean environment value, as twilld's .env('TWILLD') gives it. */
function envBool(name: string): boolean {
  const v = env(name);
  return v !== undefined && !/^(false|0|no)$/i.test(v);
}

export function withGlobalOptions<T>(y: Argv<T>): Argv<T & GlobalArgs> {
  return y
    .option('etcd-endpoints', {
      type: 'string',
      default: env(ETCD_ENV['etcd-endpoints']) ?? DEFAULT_ETCD_ENDPOINT,
      describe: `comma-separated etcd URLs [env: ${ETCD_ENV['etcd-endpoints']}]`,
      global: true,
    })
    .option('etcd-prefix', {
      type: 'string',
      default: env(ETCD_ENV['etcd-prefix']) ?? DEFAULT_ETCD_PREFIX,
      describe: `etcd key prefix of the network [env: ${ETCD_ENV['etcd-prefix']}]`,
      global: true,
    })
    .option('etcd-cafile', { type: 'string', default: env(ETCD_ENV['etcd-cafile']), describe: `CA bundle for etcd TLS [env: ${ETCD_ENV['etcd-cafile']}]`, global: true, defaultDescription: 'none' })
    .option('etcd-certfile', { type: 'string', default: env(ETCD_ENV['etcd-certfile']), describe: `client certificate [env: ${ETCD_ENV['etcd-certfile']}]`, global: true, defaultDescription: 'none' })
    .option('etcd-keyfile', { type: 'string', default: env(ETCD_ENV['etcd-keyfile']), describe: `client key [env: ${ETCD_ENV['etcd-keyfile']}]`, global: true, defaultDescription: 'none' })
    .option('etcd-timeout', {
      type: 'number',
      default: DEFAULT_ETCD_TIMEOUT_MS,
      describe: 'milliseconds before an etcd call is given up',
      global: true,
    })
    .option('kube-subnet-mgr', {
      type: 'boolean',
      default: envBool(KUBE_ENV['kube-subnet-mgr']),
      describe: `read subnets from Kubernetes Nodes (spec.podCIDR + annotations) instead of etcd [env: ${KUBE_ENV['kube-subnet-mgr']}]`,
      global: true,
    })
    .option('kubeconfig-file', { type: 'string', default: env(KUBE_ENV['kubeconfig-file']), describe: `kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config) [env: ${KUBE_ENV['kubeconfig-file']}]`, global: true, defaultDescription: 'none' })
    .option('kube-api-url', { type: 'string', default: env(KUBE_ENV['kube-api-url']), describe: `Kubernetes API server URL [env: ${KUBE_ENV['kube-api-url']}]`, global: true, defaultDescription: 'none' })
    .option('kube-annotation-prefix', {
      type: 'string',
      default: env(KUBE_ENV['kube-annotation-prefix']) ?? DEFAULT_ANNOTATION_PREFIX,
      describe: `prefix of the Node annotations [env: ${KUBE_ENV['kube-annotation-prefix']}]`,
      global: true,
    })
    .option('net-config-path', {
      type: 'string',
      default: env(KUBE_ENV['net-config-path']) ?? DEFAULT_NET_CONF_PATH,
      describe: `network config file in kube mode [env: ${KUBE_ENV['net-config-path']}]`,
      global: true,
    })
    .option('output', {
      alias: 'o',
      choices: OUTPUT_FORMATS as OutputFormat[],
      default: 'table' as OutputFormat,
      describe: 'output format (json and yaml are a stable contract)',
      global: true,
    }) as unknown as Argv<T & GlobalArgs>;
}

export function contextFrom(a: GlobalArgs): Ctx {
  const endpoints = String(a['etcd-endpoints']).split(',').map((s) => s.trim()).filter(Boolean);
  if (endpoints.length === 0) throw new UsageError('--etcd-endpoints: at least one endpoint is needed');
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(e)) throw new UsageError(`--etcd-endpoints: "${e}" is not an http(s)://host:port URL`);
  }
  const timeoutMs = Number(a['etcd-timeout']);
  if (!Number.isFinite(timeoutMs) || timeoutMs < 100 || timeoutMs > 600000) {
    throw new UsageError(`--etcd-timeout: ${a['etcd-timeout']} is outside 100..600000 ms`);
  }
  const prefix = String(a['etcd-prefix']);
  if (!prefix.startsWith('/')) throw new UsageError(`--etcd-prefix: "${prefix}" must start with /`);
  return {
    etcd: {
      endpoints,
      prefix,
      caFile: a['etcd-cafile'],
      certFile: a['etcd-certfile'],
      keyFile: a['etcd-keyfile'],
      timeoutMs,
    },
    kube: a['kube-subnet-mgr']
      ? {
        kubeconfigFile: a['kubeconfig-file'],
        apiUrl: a['kube-api-url'],
        annotationPrefix: String(a['kube-annotation-prefix']),
        netConfPath: String(a['net-config-path']),
        timeoutMs,
      }
      : undefined,
    output: a.output,
  };
}

/** The message of every write command with --kube-subnet-mgr: Kubernetes owns the subnets. */
export function refuseInKubeMode(ctx: Ctx, command: string): void {
  if (ctx.kube) throw new UsageError(`${command}: not available with --kube-subnet-mgr: subnets come from Node spec.podCIDR; use kubectl`);
}
