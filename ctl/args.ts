// Positional arguments as operators type them, parsed once into typed values. A malformed
// argument is a usage error (exit 2), not an operation failure.
import { readFileSync } from 'node:fs';
import { Cidr, Ip } from '../lib/ip/cidr.js';
import { parseSubnetKeyName } from '../lib/schema/lease.js';
import { UsageError } from './errors.js';

/** "10.244.3.0/24", or the etcd key form "10.244.3.0-24". Host bits must be clear. */
export function parseSubnetArg(text: string, what = 'SUBNET'): Cidr {
  const s = String(text).trim();
  if (/^[\d.]+-\d+$/.test(s)) {
    const k = parseSubnetKeyName(s);
    if (!k) throw new UsageError(`${what}: "${text}" is not an IPv4 subnet`);
    return k.subnet;
  }
  const c = Cidr.tryParse(s);
  if (!c || c.family !== 4) throw new UsageError(`${what}: "${text}" is not an IPv4 subnet like 10.244.3.0/24`);
  if (c.network !== Ip.parse(s.split('/')[0]).value) throw new UsageError(`${what}: "${text}" has host bits set (did you mean ${c}?)`);
  return c;
}

export function parseIpArg(text: string, what: string): Ip {
  const ip = Ip.tryParse(String(text));
  if (!ip) throw new UsageError(`${what}: "${text}" is not an IP address`);
  return ip;
}

/** A SUBNET or an IP, for `leases get`. */
export function parseSubnetOrIp(text: string): { subnet: Cidr } | { ip: Ip } {
  const s = String(text).trim();
  if (s.includes('/') || /^[\d.]+-\d+$/.test(s)) return { subnet: parseSubnetArg(s, 'SUBNET|IP') };
  const ip = Ip.tryParse(s);
  if (!ip) throw new UsageError(`SUBNET|IP: "${text}" is neither a subnet nor an IP address`);
  return { ip };
}

/** What main() turns a lone "-" argument into before yargs sees it. */
export const STDIN_PATH = '/dev/stdin';

/** Contents of FILE, or of stdin for "-". */
export function readInput(file: string): string {
  const stdin = file === '-' || file === STDIN_PATH;
  try {
    return readFileSync(stdin ? 0 : file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`cannot read ${stdin ? 'stdin' : file}: ${err.code ?? err.message}`);
  }
}
