// ADD: an address from each of the node's subnets (IPv4, IPv6 or both), veth pair between
// the bridge and the pod, routes. Every step that changes something registers its undo
// first, so a failure anywhere leaves neither a reservation (of either family) nor a veth
// behind.
import { CniEnv } from '../../lib/cni/env.js';
import { CniError, ErrorCode, toCniError } from '../../lib/cni/errors.js';
import { CniResult, CniRoute, formatResult, mergeResults } from '../../lib/cni/result.js';
import { nlGetLink } from '../../lib/kernel/netlink/query.js';
import { writeOwnSysctl } from '../../lib/kernel/sysctl.js';
import { NetConf } from '../config.js';
import { releaseAll, requestFor, Reserved, reserveAll } from '../ipam/reserve.js';
import { Owner } from '../ipam/store.js';
import { hostVethName, macFromIp, randomMac } from '../net/names.js';
import { HostSetupError, PodLink, removeHostVeths, setupHostSide, setupPodSide } from '../net/setup.js';
import { requirePodNetns } from '../netns.js';
import { loadNodeSubnet, NodeSubnet } from '../subnet.js';

export async function cmdAdd(conf: NetConf, env: CniEnv): Promise<object> {
  const netns = requirePodNetns(env.netns);
  const containerId = env.containerId!;
  const ifname = env.ifname!;
  const node = loadNodeSubnet(conf.subnetFile);
  const mtu = conf.mtu ?? node.mtu;
  // below 1280 the kernel turns IPv6 off on the link (RFC 8200's minimum link MTU)
  if (mtu < 1280 && node.families.some((f) => f.family === 6)) {
    const from = conf.mtu !== undefined ? 'mtu' : `FLANNEL_MTU in ${conf.subnetFile}`;
    throw new CniError(ErrorCode.InvalidConfig, `invalid network config: ${from} is ${mtu}, below IPv6's minimum link MTU of 1280, and this node gives pods IPv6 addresses`);
  }
  const routes = podRoutes(conf, node);

  const owner = { containerId, ifname };
  const requested = requestFor(node, conf.requestedIps, conf.subnetFile);
  let reserved: Reserved[];
  try {
    reserved = reserveAll(conf.dataDir, node, owner, requested);
  } catch (e) {
    throw toCniError(e, ErrorCode.IoFailure, `reserving an address in ${conf.dataDir}`);
  }

  const link: PodLink = {
    bridge: conf.bridge,
    addrs: reserved.map((r) => ({ ip: r.ip, subnet: r.family.subnet, gateway: r.family.gateway })),
    mtu,
    hairpin: conf.hairpinMode,
    hostVeth: hostVethName(containerId, ifname),
    hostMac: randomMac(),
    netns,
    ifname,
    // from the IPv4 address when there is one (kubenet's convention), else from the IPv6 one
    podMac: macFromIp(reserved[0].ip),
    routes,
  };
  let host: { bridgeMac?: string };
  try {
    host = setupHostSide(link);
  } catch (e) {
    const created = e instanceof HostSetupError && e.vethCreated;
    rollback(conf.dataDir, reserved, owner, created ? link.hostVeth : undefined);
    if (e instanceof HostSetupError && e.nameTaken) throw await nameTakenError(link, containerId);
    throw toCniError(e instanceof HostSetupError ? e.reason : e, ErrorCode.Internal, `setting up host veth ${link.hostVeth} on ${conf.bridge}`);
  }
  try {
    // before the pod's end is up, so not even one router advertisement gets through; the
    // bridge is where the node's IPv6 stack would take them (its ports pass frames to it)
    refuseRouterAdvertisements(conf.bridge);
    refuseRouterAdvertisements(link.hostVeth);
    setupPodSide(link);
    enableForwarding(node);
  } catch (e) {
    rollback(conf.dataDir, reserved, owner, link.hostVeth);
    throw toCniError(e, ErrorCode.Internal, `setting up ${ifname} in ${netns}`);
  }

  const ours: CniResult = {
    interfaces: [
      { name: link.bridge, ...(host.bridgeMac ? { mac: host.bridgeMac } : {}), mtu },
      { name: link.hostVeth, mac: link.hostMac, mtu },
      { name: ifname, mac: link.podMac, mtu, sandbox: netns },
    ],
    ips: link.addrs.map((a) => ({ address: `${a.ip}/${a.subnet.prefix}`, gateway: a.gateway.toString(), interface: 2 })),
    routes: link.routes,
    dns: conf.dns,
  };
  return formatResult(mergeResults(conf.prevResult, ours), conf.cniVersion);
}

/**
 * `link add` said "File exists": either this (container, ifname) already has its host veth
 * (a second ADD without DEL, which the spec forbids; refused so the first attachment keeps
 * working) or the pod already has an interface called CNI_IFNAME. Only the failure path pays
 * for the look-up.
 */
async function nameTakenError(link: PodLink, containerId: string): Promise<CniError> {
  let hostVeth;
  try {
    hostVeth = nlGetLink(undefined, link.hostVeth);
  } catch {
    hostVeth = undefined;
  }
  if (hostVeth) {
    return new CniError(
      ErrorCode.AlreadyAttached,
      `container ${containerId} is already attached as ${link.ifname} (host veth ${link.hostVeth} exists); DEL it first`,
    );
  }
  return new CniError(ErrorCode.InvalidEnv, `CNI_IFNAME=${link.ifname} already exists in CNI_NETNS=${link.netns}`);
}

/**
 * Per family: a default route via its gateway, or (isDefaultGateway false) only the
 * family's cluster network via it.
 */
export function podRoutes(conf: NetConf, node: NodeSubnet): CniRoute[] {
  return node.families.map((f) => {
    const gw = f.gateway.toString();
    if (conf.isDefaultGateway) return { dst: f.family === 4 ? '0.0.0.0/0' : '::/0', gw };
    if (!f.network) {
      throw new CniError(ErrorCode.InvalidConfig, `isDefaultGateway is false but ${conf.subnetFile} has no ${f.networkKey} to route`);
    }
    return { dst: f.network.toString(), gw };
  });
}

function rollback(dataDir: string, reserved: Reserved[], owner: Owner, veth?: string): void {
  if (veth) removeHostVeths([veth]);
  releaseAll(dataDir, reserved, owner);
}

/**
 * The node routes its pods' traffic, in each family they have. For IPv6 that is
 * `all.forwarding`, as the reference bridge plugin's isGateway sets it.
 */
function enableForwarding(node: NodeSubnet): void {
  for (const f of node.families) writeOwnSysctl(f.family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding', '1');
}

/**
 * A pod must not be able to plant routes or addresses on the node through IPv6 router
 * advertisements (the class of CVE-2020-10749): neither the bridge nor the host end of its
 * veth takes any. A node with IPv6 disabled has no such sysctl, and nothing to protect.
 */
function refuseRouterAdvertisements(dev: string): void {
  try {
    writeOwnSysctl(`net.ipv6.conf.${dev}.accept_ra`, '0');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
