// Build-time warm-up for the plugin's V8 code cache (scripts/build.mjs). A code cache only
// holds functions V8 has compiled, and V8 compiles a function when it first runs; a cache
// made right after compiling the bundle misses nearly everything an ADD runs. So the build
// runs this once, on the same code paths an ADD/CHECK/DEL takes minus the kernel (config,
// subnet file, IPAM in a scratch directory, netlink requests and reply decoding, results
// in every version, errors), for an IPv4, a dual-stack and an IPv6-only subnet file (the
// IPv6 text and byte conversions are code of their own), then saves the cache. It never
// runs in a real plugin call.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseCniEnv } from '../lib/cni/env.js';
import { CniError, ErrorCode, toCniError } from '../lib/cni/errors.js';
import { CniResult, formatResult, mergeResults, parseResult } from '../lib/cni/result.js';
import { SUPPORTED_VERSIONS } from '../lib/cni/versions.js';
import { RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE } from '../lib/kernel/netlink/constants.js';
import { decodeAddr, decodeLink, decodeRoute, nameMasters } from '../lib/kernel/netlink/decode.js';
import { NetlinkError } from '../lib/kernel/netlink/errors.js';
import { delLink } from '../lib/kernel/netlink/requests.js';
import { extAckMessage } from '../lib/kernel/netlink/socket.js';
import { message, parseMessages } from '../lib/kernel/netlink/wire.js';
import { podRoutes } from './commands/add.js';
import { decodeStdin, parseNetConf } from './config.js';
import { usableCount } from './ipam/allocator.js';
import { requestFor, reserveAll } from './ipam/reserve.js';
import { IpamStore } from './ipam/store.js';
import { hostVethName, macFromIp, randomMac } from './net/names.js';
import { createBridgeRequest, hostRequests, PodLink, podRequests, vethRequestIndex } from './net/plan.js';
import { loadNodeSubnet } from './subnet.js';

const SUBNET_FILES: Record<string, string> = {
  v4: 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
  dual: 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
  v6: 'FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
};

export function warmUp(scratch: string): void {
  mkdirSync(scratch, { recursive: true });
  for (const [stack, text] of Object.entries(SUBNET_FILES)) {
    const subnetFile = path.join(scratch, `subnet-${stack}.env`);
    writeFileSync(subnetFile, text);
    warmUpStack(subnetFile, path.join(scratch, `ipam-${stack}`));
  }
  const errors = [new NetlinkError('link add name x type veth', 17, 'reason', 2, '/var/run/netns/twill-warm-up'), new CniError(ErrorCode.Internal, 'x'), new Error('y')];
  for (const e of errors) JSON.stringify(toCniError(e, ErrorCode.Internal, 'warm-up').toJSON('1.1.0'));
}

function warmUpStack(subnetFile: string, dataDir: string): void {
  const netns = '/var/run/netns/twill-warm-up';
  let prev: CniResult | undefined;
  for (const version of SUPPORTED_VERSIONS) {
    for (const command of ['ADD', 'CHECK', 'DEL', 'STATUS'] as const) {
      const env = parseCniEnv({ CNI_COMMAND: command, CNI_CONTAINERID: `warm-${version}`, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' });
      const raw = { cniVersion: version, name: 'warm', type: 'twill', subnetFile, dataDir, ...(command === 'CHECK' && prev ? { prevResult: prev } : {}) };
      const conf = parseNetConf(decodeStdin(JSON.stringify(raw)), env);
      const owner = { containerId: env.containerId!, ifname: env.ifname! };
      const store = new IpamStore(conf.dataDir);
      if (command === 'DEL') {
        store.releaseByOwner(owner);
        continue;
      }
      const node = loadNodeSubnet(conf.subnetFile);
      if (command === 'STATUS') {
        for (const f of node.families) usableCount({ subnet: f.subnet, gateway: f.gateway }) > BigInt(store.countIn(f.subnet));
        continue;
      }
      if (command === 'CHECK') {
        for (const ip of prev?.ips ?? []) store.owner(ip.address.split('/')[0]);
        continue;
      }
      const reserved = reserveAll(conf.dataDir, node, owner, requestFor(node, conf.requestedIps, conf.subnetFile));
      const link: PodLink = {
        bridge: conf.bridge,
        addrs: reserved.map((r) => ({ ip: r.ip, subnet: r.family.subnet, gateway: r.family.gateway })),
        mtu: conf.mtu ?? node.mtu,
        hairpin: conf.hairpinMode,
        hostVeth: hostVethName(owner.containerId, owner.ifname),
        hostMac: randomMac(),
        netns,
        ifname: owner.ifname,
        podMac: macFromIp(reserved[0].ip),
        routes: podRoutes(conf, node),
      };
      const requests = [createBridgeRequest(link), ...hostRequests(link, 4, -1), ...podRequests(link, 2), delLink(link.hostVeth)];
      vethRequestIndex(requests);
      decodeEcho(requests.map((r, i) => message(r.type, r.flags, i, r.header, r.attrs)));
      const ours: CniResult = {
        interfaces: [
          { name: link.bridge, mac: '0a:58:0a:f4:03:01', mtu: link.mtu },
          { name: link.hostVeth, mac: link.hostMac, mtu: link.mtu },
          { name: link.ifname, mac: link.podMac, mtu: link.mtu, sandbox: netns },
        ],
        ips: link.addrs.map((a) => ({ address: `${a.ip}/${a.subnet.prefix}`, gateway: a.gateway.toString(), interface: 2 })),
        routes: link.routes,
        dns: conf.dns,
      };
      const out = formatResult(mergeResults(conf.prevResult, ours), conf.cniVersion);
      prev = parseResult(JSON.parse(JSON.stringify(out)));
    }
  }
}

/** Runs the reply decoders over the requests themselves: same layouts (header + attributes). */
function decodeEcho(wire: Buffer[]): void {
  for (const m of parseMessages(Buffer.concat(wire))) {
    if (m.type === RTM_NEWLINK) nameMasters([decodeLink(m)]);
    else if (m.type === RTM_NEWADDR) decodeAddr(m);
    else if (m.type === RTM_NEWROUTE) decodeRoute(m);
    extAckMessage({ ...m, flags: 0x300 });
  }
}
