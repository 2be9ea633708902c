// CHECK: compare prevResult with the kernel and the IPAM store and name everything missing.
// Routes that a later plugin of the chain added are fine; only what twill reported must be
// there. Reads are netlink dumps in-process (one socket per namespace), no `ip` process.
// Both families are checked, each against its own dumps: an IPv6 address must also be
// usable (not tentative, not failed DAD), and forwarding must be on in each family the pod has.
import { CniEnv } from '../../lib/cni/env.js';
import { CniError, ErrorCode } from '../../lib/cni/errors.js';
import { CniResult } from '../../lib/cni/result.js';
import { AF_INET, AF_INET6, AF_UNSPEC, IFA_F_DADFAILED, IFA_F_TENTATIVE } from '../../lib/kernel/netlink/constants.js';
import { NlRoute } from '../../lib/kernel/netlink/decode.js';
import { dumpAddrsOn, dumpLinksOn, dumpRoutesOn, nlListLinks } from '../../lib/kernel/netlink/query.js';
import { withSocket } from '../../lib/kernel/netlink/socket.js';
import { tryReadOwnSysctl } from '../../lib/kernel/sysctl.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { NetConf } from '../config.js';
import { IpamStore } from '../ipam/store.js';
import { hostVethName } from '../net/names.js';
import { requirePodNetns } from '../netns.js';

export async function cmdCheck(conf: NetConf, env: CniEnv): Promise<undefined> {
  const netns = requirePodNetns(env.netns);
  const ifname = env.ifname!;
  const containerId = env.containerId!;
  const prev = conf.prevResult;
  if (!prev) throw new CniError(ErrorCode.InvalidConfig, 'invalid network config: prevResult is required for CHECK');
  const podIndex = prev.interfaces.findIndex((i) => i.name === ifname && i.sandbox === netns);
  if (podIndex < 0) throw new CniError(ErrorCode.InvalidConfig, `prevResult lists no interface ${ifname} with sandbox ${netns}`);

  const problems: string[] = [];
  const ips = ourIps(prev, podIndex);
  const families = new Set(ips.map((ip) => (ip.address.includes(':') ? 6 : 4)));
  const [podLinks, podAddrs, routes4, routes6] = withSocket(netns, (s) => [
    dumpLinksOn(s),
    dumpAddrsOn(s, AF_UNSPEC),
    dumpRoutesOn(s, AF_INET),
    // a pod without IPv6 (or with it disabled) has nothing to dump
    families.has(6) || prev.routes.some((r) => r.dst.includes(':')) ? dumpRoutesOn(s, AF_INET6) : [],
  ] as const);
  const hostLinks = nlListLinks(undefined);
  const podLink = podLinks.find((l) => l.ifname === ifname);
  if (!podLink) {
    problems.push(`pod interface ${ifname} is missing from ${netns}`);
  } else {
    if (!podLink.flags.includes('UP')) problems.push(`pod interface ${ifname} is down`);
    const expectedMac = prev.interfaces[podIndex].mac;
    if (expectedMac && podLink.address?.toLowerCase() !== expectedMac.toLowerCase()) {
      problems.push(`pod interface ${ifname} has MAC ${podLink.address}, expected ${expectedMac}`);
    }
    const have = new Map(podAddrs.filter((a) => a.ifindex === podLink.ifindex).map((a) => [canonical(`${a.local}/${a.prefixlen}`), a]));
    for (const ip of ips) {
      const found = have.get(canonical(ip.address));
      if (!found) problems.push(`pod interface ${ifname} lacks address ${ip.address}`);
      else if (found.flags & IFA_F_DADFAILED) problems.push(`pod address ${ip.address} failed duplicate-address detection`);
      else if (found.flags & IFA_F_TENTATIVE) problems.push(`pod address ${ip.address} is tentative (duplicate-address detection has not finished)`);
    }
  }
  for (const r of prev.routes) {
    const v6 = r.dst.includes(':');
    if (!routePresent(v6 ? routes6 : routes4, r.dst, r.gw)) problems.push(`pod route ${r.dst}${r.gw ? ` via ${r.gw}` : ''} is missing`);
  }

  const veth = hostVethName(containerId, ifname);
  const hostVeth = hostLinks.find((l) => l.ifname === veth);
  const bridge = hostLinks.find((l) => l.ifname === conf.bridge);
  if (!bridge) problems.push(`bridge ${conf.bridge} is missing`);
  else if (!bridge.flags.includes('UP')) problems.push(`bridge ${conf.bridge} is down`);
  if (!hostVeth) problems.push(`host veth ${veth} is missing`);
  else {
    if (hostVeth.master !== conf.bridge) problems.push(`host veth ${veth} is not attached to ${conf.bridge}`);
    if (!hostVeth.flags.includes('UP')) problems.push(`host veth ${veth} is down`);
    const hairpin = hostVeth.linkinfo?.info_slave_data?.hairpin;
    if (conf.hairpinMode && hairpin === false) problems.push(`host veth ${veth} has hairpin mode off`);
  }
  for (const key of forwardingKeys(families)) if (tryReadOwnSysctl(key) !== '1') problems.push(`${key} is off`);

  const store = new IpamStore(conf.dataDir);
  for (const ip of ips) {
    const addr = ip.address.split('/')[0];
    const owner = Ip.tryParse(addr) ? store.owner(addr) : undefined;
    if (!owner) problems.push(`no IPAM reservation for ${addr} in ${conf.dataDir}`);
    else if (owner.containerId !== containerId || owner.ifname !== ifname) {
      problems.push(`IPAM reservation for ${addr} belongs to ${owner.containerId} (${owner.ifname})`);
    }
  }
  if (problems.length) throw new CniError(ErrorCode.Internal, `CHECK failed: ${problems.join('; ')}`);
  return undefined;
}

function forwardingKeys(families: Set<number>): string[] {
  return [...(families.has(4) ? ['net.ipv4.ip_forward'] : []), ...(families.has(6) ? ['net.ipv6.conf.all.forwarding'] : [])];
}


/** "fd00:0:0::2/64" and "fd00::2/64" are the same address: compare parsed text. */
function canonical(cidrText: string): string {
  const slash = cidrText.indexOf('/');
  const ip = Ip.tryParse(slash < 0 ? cidrText : cidrText.slice(0, slash));
  return ip ? `${ip}${slash < 0 ? '' : cidrText.slice(slash)}` : cidrText;
}

/** The kernel prints a default route as "default" and a host route without its /32 or /128. */
function routePresent(routes: readonly NlRoute[], dst: string, gw: string | undefined): boolean {
  const c = Cidr.tryParse(dst);
  const hostLen = c?.family === 6 ? 128 : 32;
  const want = !c ? dst : c.prefix === 0 ? 'default' : c.prefix === hostLen ? c.first.toString() : c.toString();
  const wantGw = gw === undefined ? undefined : canonical(gw);
  return routes.some((k) => (k.dst === want || k.dst === dst) && (wantGw === undefined || (k.gateway !== undefined && canonical(k.gateway) === wantGw)));
}

function ourIps(prev: CniResult, podIndex: number) {
  return prev.ips.filter((ip) => ip.interface === podIndex);
}
