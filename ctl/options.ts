// Global flags shared by every command, parsed once into a typed context. The etcd flags and
// their environment variables are twilld's, so one set of settings serves both programs.
import type { Argv } from 'yargs';
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

export interface Ctx {
  etcd: EtcdSettings;
  output: OutputFormat;
}

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
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
    output: a.output,
  };
}
