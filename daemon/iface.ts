// Which interface carries the overlay and which address other nodes reach us at, chosen as
// flannel does: --iface (name or address, first match), --iface-regex, else the interface
// holding --public-ip, else the interface of the default route. Everything is read through
// netlink (one socket, three dumps, no process): the daemon may run in a namespace where
// /sys/class/net shows another one.
import { Cidr, Ip } from '../lib/ip/cidr.js';
import {
  AF_INET, AF_INET6, AF_UNSPEC, IFA_F_DADFAILED, IFA_F_DEPRECATED, IFA_F_TEMPORARY, IFA_F_TENTATIVE, RT_SCOPE_HOST, RT_SCOPE_UNIVERSE,
} from '../lib/kernel/netlink/constants.js';
import { dumpAddrsOn, dumpLinksOn, dumpRoutesOn } from '../lib/kernel/netlink/query.js';
import { withSocket } from '../lib/kernel/netlink/socket.js';
import { NO_IPV4 } from '../lib/schema/lease.js';

export interface ExternalInterface {
  name: string;
  ifindex: number;
  mtu: number;
  /** the interface's own IPv4 address: the VXLAN source (none on an IPv6-only underlay) */
  address?: Ip;
  /** its prefix on the interface (DirectRouting needs to know who shares our L2 network) */
  network?: Cidr;
  /** what we publish in the lease (--public-ip, or `address`; 0.0.0.0 when there is none) */
  publicIp: Ip;
  /**
   * The interface's global IPv6 address (the v6 VXLAN source), never link-local, temporary,
   * deprecated or still tentative (flannel #2045); undefined when it has none.
   */
  address6?: Ip;
  network6?: Cidr;
  /** what we publish as PublicIPv6 (--public-ipv6, or `address6`) */
  publicIp6?: Ip;
}

export interface IfaceSelection {
  ifaces: string[];
  ifaceRegexes: RegExp[];
  publicIp?: Ip;
  publicIpv6?: Ip;
}

interface Candidate {
  name: string;
  ifindex: number;
  mtu: number;
  addrs: { local: string; prefixlen: number }[];
  addrs6: { local: string; prefixlen: number }[];
}

export async function findExternalInterface(sel: IfaceSelection): Promise<ExternalInterface> {
  const { links, addrs, defaults } = withSocket(undefined, (s) => ({
    links: dumpLinksOn(s),
    addrs: dumpAddrsOn(s, AF_UNSPEC),
    // the default route's device, IPv4's first
    defaults: [...dumpRoutesOn(s, AF_INET), ...dumpRoutesOn(s, AF_INET6)].filter((r) => r.dst === 'default' && r.oif !== undefined).map((r) => r.oif!),
  }));
  const unusable6 = IFA_F_TEMPORARY | IFA_F_DEPRECATED | IFA_F_TENTATIVE | IFA_F_DADFAILED;
  const cands: Candidate[] = links.map((l) => ({
    name: l.ifname,
    ifindex: l.ifindex,
    mtu: l.mtu,
    addrs: addrs.filter((a) => a.ifindex === l.ifindex && a.family === 'inet' && a.scope !== RT_SCOPE_HOST)
      .map((i) => ({ local: i.local, prefixlen: i.prefixlen })),
    addrs6: addrs.filter((a) => a.ifindex === l.ifindex && a.family === 'inet6' && a.scope === RT_SCOPE_UNIVERSE && !(a.flags & unusable6))
      .map((i) => ({ local: i.local, prefixlen: i.prefixlen })),
  }));
  const pick = (c: Candidate, addr?: string): ExternalInterface => {
    const a = (addr ? c.addrs.find((x) => x.local === addr) : undefined) ?? c.addrs[0];
    const want6 = sel.publicIpv6?.toString();
    const a6 = (want6 ? c.addrs6.find((x) => Ip.parse(x.local).toString() === want6) : undefined) ?? c.addrs6[0];
    if (!a && !a6) throw new Error(`interface ${c.name} has no IPv4 and no global IPv6 address`);
    return {
      name: c.name,
      ifindex: c.ifindex,
      mtu: c.mtu,
      ...(a ? { address: Ip.parse(a.local), network: Cidr.parse(`${a.local}/${a.prefixlen}`) } : {}),
      publicIp: sel.publicIp ?? (a ? Ip.parse(a.local) : NO_IPV4),
      ...(a6 ? { address6: Ip.parse(a6.local), network6: Cidr.parse(`${a6.local}/${a6.prefixlen}`) } : {}),
      ...(sel.publicIpv6 || a6 ? { publicIp6: sel.publicIpv6 ?? Ip.parse(a6!.local) } : {}),
    };
  };

  if (sel.ifaces.length) {
    for (const want of sel.ifaces) {
      const byAddr = Ip.tryParse(want);
      // an IPv6 address names the interface too (flannel's --iface is IPv4 only, #2081)
      const has6 = (x: Candidate) => x.addrs6.some((a) => Ip.parse(a.local).equals(byAddr!));
      const c = byAddr ? cands.find((x) => x.addrs.some((a) => a.local === want) || has6(x)) : cands.find((x) => x.name === want);
      if (c) return pick(c, byAddr?.family === 4 ? want : undefined);
    }
    throw new Error(`none of --iface ${sel.ifaces.join(', ')} exists (interfaces: ${cands.map((c) => c.name).join(', ')})`);
  }
  if (sel.ifaceRegexes.length) {
    for (const re of sel.ifaceRegexes) {
      for (const c of cands) {
        if (c.name === 'lo' || (c.addrs.length === 0 && c.addrs6.length === 0)) continue; // e.g. the far end of a veth
        const addr = c.addrs.find((a) => re.test(a.local));
        if (re.test(c.name) || addr || c.addrs6.some((a) => re.test(a.local))) return pick(c, addr?.local);
      }
    }
    throw new Error(`no interface name or address matches --iface-regex ${sel.ifaceRegexes.map(String).join(', ')}`);
  }
  if (sel.publicIp) {
    const want = sel.publicIp.toString();
    const c = cands.find((x) => x.addrs.some((a) => a.local === want));
    if (c) return pick(c, want);
  }
  const def = defaults[0];
  if (def === undefined) throw new Error('no default route to choose an interface from: pass --iface or --iface-regex');
  const c = cands.find((x) => x.ifindex === def);
  if (!c) throw new Error(`default route device (ifindex ${def}) not found`);
  return pick(c);
}
