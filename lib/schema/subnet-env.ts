// /run/flannel/subnet.env: the hand-off from the daemon to the CNI plugin, in flannel's keys.
// fs.promises is read only when a file is written: loading node:fs/promises up front costs
// the CNI plugin, which only reads this file, ~1 ms of start-up.
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { Cidr, Ip } from '../ip/cidr.js';

export interface SubnetEnv {
  network?: Cidr;
  subnet?: Cidr; // the node's subnet with the gateway address, e.g. 10.244.3.1/24
  ipv6Network?: Cidr;
  ipv6Subnet?: Cidr;
  mtu: number;
  ipMasq: boolean;
}

export class SubnetEnvError extends Error {}

/**
 * Keys and raw values, as written. Strict, because the plugin acts on what it reads: every
 * line is KEY=value with a shell-variable name and a printable value, and a key given twice
 * is refused (a value with a newline in it would otherwise have added, or overridden, a key).
 */
export function parseEnvText(text: string, source = 'subnet.env'): Map<string, string> {
  const out = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    if (!line || line.startsWith('#')) return;
    const m = /^([A-Z_][A-Z0-9_]*)=("?)([\x21-\x7e]*)\2$/.exec(line);
    if (!m) throw new SubnetEnvError(`${source}: line ${i + 1} is not KEY=value: ${JSON.stringify(line.slice(0, 80))}`);
    if (out.has(m[1])) throw new SubnetEnvError(`${source}: ${m[1]} is set twice (line ${i + 1})`);
    out.set(m[1], m[3]);
  });
  return out;
}

export function parseSubnetEnv(text: string, source = 'subnet.env'): SubnetEnv {
  const kv = parseEnvText(text, source);
  // FLANNEL_SUBNET keeps its host bits (the gateway address), so parse without normalising twice.
  const cidr = (key: string): Cidr | undefined => {
    const v = kv.get(key);
    if (v === undefined || v === '') return undefined;
    const c = Cidr.tryParse(v);
    if (!c) throw new SubnetEnvError(`${source}: ${key}="${v}" is not a CIDR`);
    return c;
  };
  const network = cidr('FLANNEL_NETWORK');
  const subnet = cidr('FLANNEL_SUBNET');
  const ipv6Network = cidr('FLANNEL_IPV6_NETWORK');
  const ipv6Subnet = cidr('FLANNEL_IPV6_SUBNET');
  if (!subnet && !ipv6Subnet) throw new SubnetEnvError(`${source}: FLANNEL_SUBNET is missing (and so is FLANNEL_IPV6_SUBNET)`);
  const mtuText = kv.get('FLANNEL_MTU');
  const mtu = Number(mtuText);
  if (!mtuText || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new SubnetEnvError(`${source}: FLANNEL_MTU="${mtuText ?? ''}" is not a valid MTU`);
  }
  const masq = kv.get('FLANNEL_IPMASQ') ?? 'false';
  if (masq !== 'true' && masq !== 'false') throw new SubnetEnvError(`${source}: FLANNEL_IPMASQ="${masq}" must be true or false`);
  return { network, subnet, ipv6Network, ipv6Subnet, mtu, ipMasq: masq === 'true' };
}

/** The gateway address string (with host bits) from FLANNEL_SUBNET, e.g. "10.244.3.1/24". */
export function subnetEnvGateway(text: string, key = 'FLANNEL_SUBNET'): string | undefined {
  return parseEnvText(text).get(key);
}

export function readSubnetEnv(file: string): SubnetEnv {
  return parseSubnetEnv(readFileSync(file, 'utf8'), file);
}

export interface SubnetEnvValues {
  network?: string; // "10.244.0.0/16"
  subnet?: string; // "10.244.3.1/24" (gateway address / subnet length)
  ipv6Network?: string;
  ipv6Subnet?: string;
  mtu: number;
  ipMasq: boolean;
}

// A value is written only if it reads back as the same typed value: no text from a lease
// can end up as a line of its own.
function checkedCidr(key: string, v: string): string {
  const c = /^[0-9A-Fa-f.:]{2,45}\/\d{1,3}$/.test(v) ? Cidr.tryParse(v) : undefined;
  const ip = c ? Ip.tryParse(v.slice(0, v.indexOf('/'))) : undefined;
  if (!c || !ip || `${ip}/${c.prefix}` !== v) throw new SubnetEnvError(`refusing to write ${key}=${JSON.stringify(v)}: not a canonical CIDR`);
  return v;
}

export function formatSubnetEnv(v: SubnetEnvValues): string {
  if (!Number.isInteger(v.mtu) || v.mtu < 68 || v.mtu > 65535) throw new SubnetEnvError(`refusing to write FLANNEL_MTU=${v.mtu}`);
  if (typeof v.ipMasq !== 'boolean') throw new SubnetEnvError(`refusing to write FLANNEL_IPMASQ=${String(v.ipMasq)}`);
  for (const [key, val] of [['FLANNEL_NETWORK', v.network], ['FLANNEL_SUBNET', v.subnet], ['FLANNEL_IPV6_NETWORK', v.ipv6Network], ['FLANNEL_IPV6_SUBNET', v.ipv6Subnet]] as const) {
    if (val !== undefined) checkedCidr(key, val);
  }
  const lines: string[] = [];
  if (v.network) lines.push(`FLANNEL_NETWORK=${v.network}`);
  if (v.subnet) lines.push(`FLANNEL_SUBNET=${v.subnet}`);
  if (v.ipv6Network) lines.push(`FLANNEL_IPV6_NETWORK=${v.ipv6Network}`);
  if (v.ipv6Subnet) lines.push(`FLANNEL_IPV6_SUBNET=${v.ipv6Subnet}`);
  lines.push(`FLANNEL_MTU=${v.mtu}`);
  lines.push(`FLANNEL_IPMASQ=${v.ipMasq}`);
  return lines.join('\n') + '\n';
}

/** Written to a temp file and renamed, so a reader never sees half a file. */
export async function writeSubnetEnv(file: string, v: SubnetEnvValues): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, formatSubnetEnv(v), { mode: 0o644 });
  await fsp.rename(tmp, file);
}
