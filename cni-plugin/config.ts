// The network configuration from stdin, parsed once into a typed, defaulted NetConf. Each
// error names the field and carries the spec's code: 6 for JSON that does not decode, 1 for
// a cniVersion twill does not speak, 2 for fields twill refuses on purpose, 7 for bad values.
// Fields twill does not know are ignored, as the spec asks (runtimes and chains add their own).
import path from 'node:path';
import { CniError, ErrorCode } from '../lib/cni/errors.js';
import { CniEnv, validateContainerId, validateIfname } from '../lib/cni/env.js';
import { describeInput, printable } from '../lib/cni/text.js';
import { CniDns, CniResult, isObject, parseResult } from '../lib/cni/result.js';
import { CniVersion, isSupportedVersion, SUPPORTED_VERSIONS } from '../lib/cni/versions.js';
import { Ip } from '../lib/ip/cidr.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export const DEFAULT_BRIDGE = 'cni0';
export const DEFAULT_DATA_ROOT = '/var/lib/cni/networks';

export interface Attachment {
  containerId: string;
  ifname: string;
}

export interface RequestedIp {
  ip: Ip;
  /** where it came from, for error messages */
  source: string;
}

export interface NetConf {
  cniVersion: CniVersion;
  name: string;
  subnetFile: string;
  bridge: string;
  dataDir: string;
  isDefaultGateway: boolean;
  hairpinMode: boolean;
  /** overrides FLANNEL_MTU when set */
  mtu?: number;
  dns: CniDns;
  prevResult?: CniResult;
  /** at most one per family */
  requestedIps: RequestedIp[];
  /** GC only: attachments the runtime still uses */
  validAttachments?: Attachment[];
}

// Network names become the default IPAM directory, so they get the container-ID rule too.
const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

// Fields a migrating flannel user may bring along that twill would otherwise silently ignore.
const UNSUPPORTED: Record<string, string> = {
  ipam: 'twill allocates addresses from the node subnet itself; remove the "ipam" section',
  delegate: 'this is flannel\'s CNI field; twill sets up the bridge itself (use bridge, isDefaultGateway, hairpinMode, mtu)',
};

function bad(field: string, msg: string): never {
  throw new CniError(ErrorCode.InvalidConfig, `invalid network config: ${field} ${msg}`);
}

/** JSON.parse with the spec's decode error. */
export function decodeStdin(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(ErrorCode.DecodeFailure, `invalid JSON on stdin: ${(e as Error).message}`);
  }
  if (!isObject(v)) throw new CniError(ErrorCode.DecodeFailure, 'network config on stdin must be a JSON object');
  return v;
}

export function parseVersion(raw: Record<string, unknown>): CniVersion {
  const v = raw.cniVersion;
  if (v === undefined) throw new CniError(ErrorCode.IncompatibleVersion, 'cniVersion is missing (twill needs 0.3.0 or later)');
  if (!isSupportedVersion(v)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `cniVersion ${JSON.stringify(v)} is not supported`,
      `supported versions: ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  return v;
}

export function parseNetConf(raw: Record<string, unknown>, env: CniEnv): NetConf {
  const cniVersion = parseVersion(raw);
  for (const [field, why] of Object.entries(UNSUPPORTED)) {
    if (raw[field] !== undefined) throw new CniError(ErrorCode.UnsupportedField, `unsupported field "${field}": ${why}`);
  }
  const name = raw.name;
  if (typeof name !== 'string' || !NETWORK_NAME.test(name)) bad('name', `must be a string matching [A-Za-z0-9][A-Za-z0-9_.-]*, got ${show(name)}`);
  if (raw.type !== 'twill') bad('type', `must be "twill", got ${show(raw.type)}`);

  const subnetFile = optString(raw, 'subnetFile') ?? DEFAULT_SUBNET_FILE;
  if (!path.isAbsolute(subnetFile)) bad('subnetFile', `must be an absolute path, got ${show(subnetFile)}`);
  const dataDir = optString(raw, 'dataDir') ?? path.join(DEFAULT_DATA_ROOT, name);
  if (!path.isAbsolute(dataDir)) bad('dataDir', `must be an absolute path, got ${show(dataDir)}`);
  const bridge = optString(raw, 'bridge') ?? DEFAULT_BRIDGE;
  try {
    validateIfname(bridge, 'bridge');
  } catch (e) {
    bad('bridge', `is not a valid interface name: ${(e as Error).message}`);
  }
  const mtu = raw.mtu;
  if (mtu !== undefined && (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) {
    bad('mtu', `must be an integer from 68 to 65535, got ${show(mtu)}`);
  }
  const conf: NetConf = {
    cniVersion,
    name: name as string,
    subnetFile,
    bridge,
    dataDir,
    isDefaultGateway: optBool(raw, 'isDefaultGateway') ?? true,
    hairpinMode: optBool(raw, 'hairpinMode') ?? true,
    ...(mtu !== undefined ? { mtu: mtu as number } : {}),
    dns: parseDns(raw.dns),
    requestedIps: requestedIps(raw, env),
  };
  if (raw.prevResult !== undefined) conf.prevResult = parseResult(raw.prevResult);
  if (env.command === 'GC') conf.validAttachments = parseAttachments(raw);
  return conf;
}

function optString(raw: Record<string, unknown>, field: string): string | undefined {
  const v = raw[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') bad(field, `must be a non-empty string, got ${show(v)}`);
  return v;
}

function optBool(raw: Record<string, unknown>, field: string): boolean | undefined {
  const v = raw[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') bad(field, `must be true or false, got ${show(v)}`);
  return v;
}

function parseDns(v: unknown): CniDns {
  if (v === undefined) return {};
  if (!isObject(v)) bad('dns', `must be an object, got ${show(v)}`);
  const o = v as Record<string, unknown>;
  const dns: CniDns = {};
  const list = (k: 'nameservers' | 'search' | 'options'): void => {
    const x = o[k];
    if (x === undefined) return;
    if (!Array.isArray(x) || !x.every((s) => typeof s === 'string')) bad(`dns.${k}`, `must be a list of strings, got ${show(x)}`);
    dns[k] = x as string[];
  };
  list('nameservers');
  list('search');
  list('options');
  for (const [i, ns] of (dns.nameservers ?? []).entries()) {
    if (!Ip.tryParse(ns)) bad(`dns.nameservers[${i}]`, `is not an IP address: ${show(ns)}`);
  }
  if (o.domain !== undefined) {
    if (typeof o.domain !== 'string') bad('dns.domain', `must be a string, got ${show(o.domain)}`);
    dns.domain = o.domain;
  }
  return dns;
}

/** "10.244.3.7" or "10.244.3.7/24" (runtimeConfig.ips carries the prefix) → the address. */
function parseRequested(text: unknown, source: string, code: number): RequestedIp {
  const s = typeof text === 'string' ? text.replace(/\/\d{1,3}$/, '') : undefined;
  const ip = s === undefined ? undefined : Ip.tryParse(s);
  if (!ip) throw new CniError(code, `${source}: ${show(text)} is not an IP address`);
  return { ip, source };
}

// The conventions allow three ways to ask for an address; all are honoured. A twill pod has
// one address per family, so a request may name one IPv4 and one IPv6 address (a dual-stack
// pod), and asking for two different addresses of one family is refused.
function requestedIps(raw: Record<string, unknown>, env: CniEnv): RequestedIp[] {
  const out: RequestedIp[] = [];
  const fromList = (v: unknown, field: string): void => {
    if (v === undefined) return;
    if (!Array.isArray(v)) bad(field, `must be a list of IP addresses, got ${show(v)}`);
    (v as unknown[]).forEach((x, i) => out.push(parseRequested(x, `${field}[${i}]`, ErrorCode.InvalidConfig)));
  };
  const args = raw.args;
  if (args !== undefined && !isObject(args)) bad('args', `must be an object, got ${show(args)}`);
  const cniArgs = isObject(args) ? args.cni : undefined;
  if (cniArgs !== undefined && !isObject(cniArgs)) bad('args.cni', `must be an object, got ${show(cniArgs)}`);
  if (isObject(cniArgs)) fromList(cniArgs.ips, 'args.cni.ips');
  const rc = raw.runtimeConfig;
  if (rc !== undefined && !isObject(rc)) bad('runtimeConfig', `must be an object, got ${show(rc)}`);
  if (isObject(rc)) fromList(rc.ips, 'runtimeConfig.ips');
  const ipArg = env.args.get('IP');
  if (ipArg !== undefined) {
    for (const part of ipArg.split(',')) out.push(parseRequested(part, 'CNI_ARGS IP', ErrorCode.InvalidEnv));
  }
  const distinct = new Map(out.map((r) => [r.ip.toString(), r]));
  for (const family of [4, 6]) {
    const same = [...distinct.keys()].filter((k) => distinct.get(k)!.ip.family === family);
    if (same.length > 1) {
      throw new CniError(ErrorCode.InvalidConfig, `requested IPs ${same.join(', ')}: a twill pod gets exactly one IPv${family} address`);
    }
  }
  return [...distinct.values()];
}

function parseAttachments(raw: Record<string, unknown>): Attachment[] {
  // libcni also sends "cni.dev/attachments" (the name an earlier draft used).
  const key = raw['cni.dev/valid-attachments'] !== undefined ? 'cni.dev/valid-attachments' : 'cni.dev/attachments';
  const v = raw[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) bad(key, `must be a list, got ${show(v)}`);
  return (v as unknown[]).map((a, i) => {
    if (!isObject(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') {
      bad(`${key}[${i}]`, `must be {"containerID": string, "ifname": string}, got ${show(a)}`);
    }
    const o = a as Record<string, string>;
    try {
      return { containerId: validateContainerId(o.containerID, `${key}[${i}].containerID`), ifname: validateIfname(o.ifname, `${key}[${i}].ifname`) };
    } catch (e) {
      throw new CniError(ErrorCode.InvalidConfig, (e as Error).message);
    }
  });
}

function show(v: unknown): string {
  return printable(describeInput(v));
}
