// CNI results. Internally twill holds one shape (the 1.x one); it is converted to the shape of
// the version the runtime asked for only when printed. 0.3.x and 0.4.0 results carry an
// explicit "version" ("4"/"6") on each IP; 1.0.0 dropped it; 1.1.0 added interface `mtu`.
import { CniError, ErrorCode } from './errors.js';
import { atLeast } from './versions.js';

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
}

export interface CniIpConfig {
  address: string; // CIDR with host bits: "10.244.3.5/24"
  gateway?: string;
  interface?: number; // index into interfaces
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniResult {
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: CniRoute[];
  dns: CniDns;
}

/** The JSON object a plugin prints for `version`. */
export function formatResult(r: CniResult, version: string): Record<string, unknown> {
  const withMtu = atLeast(version, '1.1.0');
  const withIpVersion = !atLeast(version, '1.0.0');
  return {
    cniVersion: version,
    interfaces: r.interfaces.map((i) => ({
      name: i.name,
      ...(i.mac !== undefined ? { mac: i.mac } : {}),
      ...(withMtu && i.mtu !== undefined ? { mtu: i.mtu } : {}),
      ...(i.sandbox !== undefined ? { sandbox: i.sandbox } : {}),
    })),
    ips: r.ips.map((ip) => ({
      ...(withIpVersion ? { version: ip.address.includes(':') ? '6' : '4' } : {}),
      address: ip.address,
      ...(ip.gateway !== undefined ? { gateway: ip.gateway } : {}),
      ...(ip.interface !== undefined ? { interface: ip.interface } : {}),
    })),
    routes: r.routes.map((rt) => ({ dst: rt.dst, ...(rt.gw !== undefined ? { gw: rt.gw } : {}) })),
    dns: r.dns,
  };
}

/** Reads a prevResult of any supported version (0.3.0+) into the internal shape. */
export function parseResult(raw: unknown, field = 'prevResult'): CniResult {
  const bad = (what: string): never => {
    throw new CniError(ErrorCode.DecodeFailure, `${field}: ${what}`);
  };
  if (!isObject(raw)) bad('must be an object');
  const o = raw as Record<string, unknown>;
  if ('ip4' in o || 'ip6' in o) bad('0.2.0-style results (ip4/ip6) are not supported');
  const arr = (k: string): unknown[] => {
    const v = o[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) bad(`${k} must be an array`);
    return v as unknown[];
  };
  const interfaces = arr('interfaces').map((x, i) => {
    if (!isObject(x) || typeof x.name !== 'string') bad(`interfaces[${i}].name must be a string`);
    const v = x as Record<string, unknown>;
    return {
      name: v.name as string,
      ...(typeof v.mac === 'string' ? { mac: v.mac } : {}),
      ...(typeof v.mtu === 'number' ? { mtu: v.mtu } : {}),
      ...(typeof v.sandbox === 'string' ? { sandbox: v.sandbox } : {}),
    };
  });
  const ips = arr('ips').map((x, i) => {
    if (!isObject(x) || typeof x.address !== 'string') bad(`ips[${i}].address must be a string`);
    const v = x as Record<string, unknown>;
    return {
      address: v.address as string,
      ...(typeof v.gateway === 'string' ? { gateway: v.gateway } : {}),
      ...(typeof v.interface === 'number' ? { interface: v.interface } : {}),
    };
  });
  const routes = arr('routes').map((x, i) => {
    if (!isObject(x) || typeof x.dst !== 'string') bad(`routes[${i}].dst must be a string`);
    const v = x as Record<string, unknown>;
    return { dst: v.dst as string, ...(typeof v.gw === 'string' ? { gw: v.gw } : {}) };
  });
  const dns = isObject(o.dns) ? (o.dns as CniDns) : {};
  return { interfaces, ips, routes, dns };
}

/** Appends `ours` after an earlier plugin's result, shifting our interface indexes. */
export function mergeResults(prev: CniResult | undefined, ours: CniResult): CniResult {
  if (!prev) return ours;
  const shift = prev.interfaces.length;
  return {
    interfaces: [...prev.interfaces, ...ours.interfaces],
    ips: [...prev.ips, ...ours.ips.map((ip) => (ip.interface === undefined ? ip : { ...ip, interface: ip.interface + shift }))],
    routes: [...prev.routes, ...ours.routes],
    dns: Object.keys(ours.dns).length ? ours.dns : prev.dns,
  };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
