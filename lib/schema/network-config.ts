// flannel's network config (etcd <prefix>/config, kube net-conf.json), parsed once into a
// typed, defaulted value. Every refusal names the field, so an operator can fix it.
import { Cidr, Ip } from '../ip/cidr.js';

export type BackendType = 'vxlan' | 'host-gw';
export const BACKEND_TYPES: readonly BackendType[] = ['vxlan', 'host-gw'];

export interface BackendConfig {
  Type: BackendType;
  /** vxlan only */
  VNI: number;
  Port: number;
  DirectRouting: boolean;
  /** Overlay MTU; undefined = derived from the interface MTU. */
  MTU?: number;
}

export interface NetworkConfig {
  Network: Cidr;
  SubnetLen: number;
  SubnetMin: Cidr;
  SubnetMax: Cidr;
  EnableIPv4: boolean;
  EnableIPv6: boolean;
  IPv6Network?: Cidr;
  IPv6SubnetLen?: number;
  IPv6SubnetMin?: Cidr;
  IPv6SubnetMax?: Cidr;
  Backend: BackendConfig;
}

export class ConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`network config: ${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

const KNOWN_TOP = new Set(['Network', 'SubnetLen', 'SubnetMin', 'SubnetMax', 'EnableIPv4', 'EnableIPv6',
  'IPv6Network', 'IPv6SubnetLen', 'IPv6SubnetMin', 'IPv6SubnetMax', 'Backend', 'EnableNFTables']);
const KNOWN_BACKEND = new Set(['Type', 'VNI', 'Port', 'DirectRouting', 'MTU', 'GBP', 'Learning', 'MacPrefix']);

const ADDRESS_CHARS = /^[0-9A-Fa-f.:/]{2,49}$/;

function cidrField(obj: Record<string, unknown>, field: string): Cidr | undefined {
  const v = obj[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ConfigError(field, `must be a CIDR string, got ${JSON.stringify(v)}`);
  // strictly spelled: what parses here is printed into iptables rules and subnet.env
  const c = ADDRESS_CHARS.test(v) ? Cidr.tryParse(v) : undefined;
  if (!c) throw new ConfigError(field, `${JSON.stringify(v)} is not a valid CIDR`);
  return c;
}

function intField(obj: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(field, `must be an integer, got ${JSON.stringify(v)}`);
  if (v < min || v > max) throw new ConfigError(field, `${v} is outside ${min}..${max}`);
  return v;
}

function boolField(obj: Record<string, unknown>, field: string): boolean | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ConfigError(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Subnet range inside `network`, aligned to `len`, defaulting as flannel does. */
function subnetRange(obj: Record<string, unknown>, network: Cidr, len: number, minField: string, maxField: string) {
  const count = network.subnetCount(len);
  // flannel leaves the network's first subnet out by default (it holds the network address).
  const defMin = network.subnet(len, count > 1n ? 1n : 0n);
  const defMax = network.subnet(len, count - 1n);
  const pick = (field: string, def: Cidr): Cidr => {
    const raw = obj[field];
    if (raw === undefined || raw === null || raw === '') return def;
    if (typeof raw !== 'string') throw new ConfigError(field, `must be an address string, got ${JSON.stringify(raw)}`);
    const c = ADDRESS_CHARS.test(raw) ? Cidr.tryParse(raw.includes('/') ? raw : `${raw}/${len}`) : undefined;
    if (!c || c.family !== network.family) throw new ConfigError(field, `${JSON.stringify(raw)} is not a valid address`);
    // Cidr.parse clears host bits: check alignment against the address as written
    const written = Ip.parse(raw.split('/')[0]);
    const sub = Cidr.of(c.family, written.value, len);
    if (!network.contains(sub)) throw new ConfigError(field, `${raw} is outside Network ${network}`);
    if (sub.network !== written.value) throw new ConfigError(field, `${raw} is not aligned to SubnetLen /${len}`);
    return sub;
  };
  const min = pick(minField, defMin);
  const max = pick(maxField, defMax);
  if (min.network > max.network) throw new ConfigError(minField, `${min.first} is above ${maxField} ${max.first}`);
  return { min, max };
}

export function parseNetworkConfig(input: string | unknown): NetworkConfig {
  let obj: unknown = input;
  if (typeof input === 'string') {
    try {
      obj = JSON.parse(input);
    } catch (e) {
      throw new ConfigError('(json)', `not valid JSON: ${(e as Error).message}`);
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new ConfigError('(json)', 'must be a JSON object');
  const o = obj as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN_TOP.has(k)) throw new ConfigError(k, 'unknown field');

  const enable4 = boolField(o, 'EnableIPv4') ?? true;
  const enable6 = boolField(o, 'EnableIPv6') ?? false;
  if (!enable4 && !enable6) throw new ConfigError('EnableIPv4', 'at least one of EnableIPv4 and EnableIPv6 must be true');

  const network = cidrField(o, 'Network');
  if (enable4 && !network) throw new ConfigError('Network', 'is required');
  if (network && network.family !== 4) throw new ConfigError('Network', `${network} is not an IPv4 network`);
  const net4 = network ?? Cidr.parse('0.0.0.0/0');
  if (network && network.prefix > 28) throw new ConfigError('Network', `/${network.prefix} is too small for per-node subnets`);
  const subnetLen = intField(o, 'SubnetLen', 1, 30) ?? (net4.prefix < 24 ? 24 : net4.prefix + 1);
  if (network && subnetLen <= net4.prefix) throw new ConfigError('SubnetLen', `/${subnetLen} must be longer than Network /${net4.prefix}`);
  const r4 = network ? subnetRange(o, net4, subnetLen, 'SubnetMin', 'SubnetMax') : { min: net4, max: net4 };

  let v6: Pick<NetworkConfig, 'IPv6Network' | 'IPv6SubnetLen' | 'IPv6SubnetMin' | 'IPv6SubnetMax'> = {};
  if (enable6) {
    const net6 = cidrField(o, 'IPv6Network');
    if (!net6) throw new ConfigError('IPv6Network', 'is required when EnableIPv6 is true');
    if (net6.family !== 6) throw new ConfigError('IPv6Network', `${net6} is not an IPv6 network`);
    const len6 = intField(o, 'IPv6SubnetLen', 1, 126) ?? 64;
    if (len6 <= net6.prefix) throw new ConfigError('IPv6SubnetLen', `/${len6} must be longer than IPv6Network /${net6.prefix}`);
    const r6 = subnetRange(o, net6, len6, 'IPv6SubnetMin', 'IPv6SubnetMax');
    v6 = { IPv6Network: net6, IPv6SubnetLen: len6, IPv6SubnetMin: r6.min, IPv6SubnetMax: r6.max };
  }

  return {
    Network: net4,
    SubnetLen: subnetLen,
    SubnetMin: r4.min,
    SubnetMax: r4.max,
    EnableIPv4: enable4,
    EnableIPv6: enable6,
    ...v6,
    Backend: parseBackend(o.Backend),
  };
}

function parseBackend(raw: unknown): BackendConfig {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('Backend', 'must be a JSON object');
  const b = raw as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!KNOWN_BACKEND.has(k)) throw new ConfigError(`Backend.${k}`, 'unknown field');
  const type = b.Type ?? 'vxlan';
  if (typeof type !== 'string' || !BACKEND_TYPES.includes(type as BackendType)) {
    throw new ConfigError('Backend.Type', `${JSON.stringify(type)} is not supported (use ${BACKEND_TYPES.join(' or ')})`);
  }
  const at = (f: string) => `Backend.${f}`;
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(at(e.field), e.message.replace(/^network config: [^:]+: /, ''));
      throw e;
    }
  };
  return {
    Type: type as BackendType,
    VNI: wrap(() => intField(b, 'VNI', 0, 16777215)) ?? 1,
    Port: wrap(() => intField(b, 'Port', 1, 65535)) ?? 8472,
    DirectRouting: wrap(() => boolField(b, 'DirectRouting')) ?? false,
    MTU: wrap(() => intField(b, 'MTU', 576, 65535)),
  };
}

/** The JSON an operator would write for this config (defaults made explicit). */
export function networkConfigToJSON(c: NetworkConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Network: c.Network.toString(),
    SubnetLen: c.SubnetLen,
    SubnetMin: c.SubnetMin.first.toString(),
    SubnetMax: c.SubnetMax.first.toString(),
  };
  if (!c.EnableIPv4) out.EnableIPv4 = false;
  if (c.EnableIPv6) {
    Object.assign(out, {
      EnableIPv6: true,
      IPv6Network: c.IPv6Network!.toString(),
      IPv6SubnetLen: c.IPv6SubnetLen,
      IPv6SubnetMin: c.IPv6SubnetMin!.first.toString(),
      IPv6SubnetMax: c.IPv6SubnetMax!.first.toString(),
    });
  }
  const b: Record<string, unknown> = { Type: c.Backend.Type };
  if (c.Backend.Type === 'vxlan') Object.assign(b, { VNI: c.Backend.VNI, Port: c.Backend.Port, DirectRouting: c.Backend.DirectRouting });
  if (c.Backend.MTU !== undefined) b.MTU = c.Backend.MTU;
  out.Backend = b;
  return out;
}
