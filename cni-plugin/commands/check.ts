// CHECK: compare prevResult with the kernel and the IPAM store and name everything missing.
// Routes that a later plugin of the chain added are fine; only what twill reported must be
// there. Reads are netlink dumps in-process (one socket per namespace), no `ip` process.
import { CniEnv } from '../../lib/cni/env.js';
import { CniError, ErrorCode } from '../../lib/cni/errors.js';
import { CniResult } from '../../lib/cni/result.js';
import { dumpAddrsOn, dumpLinksOn, dumpRoutesOn, nlListLinks } from '../../lib/kernel/netlink/query.js';
import { withSocket } from '../../lib/kernel/netlink/socket.js';
import { readOwnSysctl } from '../../lib/kernel/sysctl.js';
import { Cidr } from '../../lib/ip/cidr.js';
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
  const [podLinks, podAddrs, podRoutes] = withSocket(netns, (s) => [dumpLinksOn(s), dumpAddrsOn(s), dumpRoutesOn(s)] as const);
  const hostLinks = nlListLinks(undefined);
  const podLink = podLinks.find((l) => l.ifname === ifname);
  const ips = ourIps(prev, podIndex);
  if (!podLink) {
    problems.push(`pod interface ${ifname} is missing from ${netns}`);
  } else {
    if (!podLink.flags.includes('UP')) problems.push(`pod interface ${ifname} is down`);
    const expectedMac = prev.interfaces[podIndex].mac;
    if (expectedMac && podLink.address?.toLowerCase() !== expectedMac.toLowerCase()) {
      problems.push(`pod interface ${ifname} has MAC ${podLink.address}, expected ${expectedMac}`);
    }
    const have = new Set(podAddrs.filter((a) => a.ifindex === podLink.ifindex).map((a) => `${a.local}/${a.prefixlen}`));
    for (const ip of ips) if (!have.has(ip.address)) problems.push(`pod interface ${ifname} lacks address ${ip.address}`);
  }
  for (const r of prev.routes) {
    const dst = r.dst === '0.0.0.0/0' ? 'default' : Cidr.tryParse(r.dst)?.toString() ?? r.dst;
    const found = podRoutes.some((k) => (k.dst === dst || (dst !== 'default' && k.dst === r.dst)) && (!r.gw || k.gateway === r.gw));
    if (!found) problems.push(`pod route ${r.dst}${r.gw ? ` via ${r.gw}` : ''} is missing`);
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
  if (readForwarding() !== '1') problems.push('net.ipv4.ip_forward is off');

  const store = new IpamStore(conf.dataDir);
  for (const ip of ips) {
    const addr = ip.address.split('/')[0];
    const owner = store.owner(addr);
    if (!owner) problems.push(`no IPAM reservation for ${addr} in ${conf.dataDir}`);
    else if (owner.containerId !== containerId || owner.ifname !== ifname) {
      problems.push(`IPAM reservation for ${addr} belongs to ${owner.containerId} (${owner.ifname})`);
    }
  }
  if (problems.length) throw new CniError(ErrorCode.Internal, `CHECK failed: ${problems.join('; ')}`);
  return undefined;
}

function readForwarding(): string {
  try {
    return readOwnSysctl('net.ipv4.ip_forward');
  } catch {
    return '';
  }
}

function ourIps(prev: CniResult, podIndex: number) {
  return prev.ips.filter((ip) => ip.interface === podIndex);
}
