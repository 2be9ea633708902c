// ADD: address from the node subnet, veth pair between the bridge and the pod, routes.
// Every step that changes something registers its undo first, so a failure anywhere leaves
// neither a reservation nor a veth behind.
import { CniEnv } from '../../lib/cni/env.js';
import { CniError, ErrorCode, toCniError } from '../../lib/cni/errors.js';
import { CniResult, CniRoute, formatResult, mergeResults } from '../../lib/cni/result.js';
import { nlGetLink } from '../../lib/kernel/netlink/query.js';
import { writeOwnSysctl } from '../../lib/kernel/sysctl.js';
import { NetConf } from '../config.js';
import { allocate } from '../ipam/allocator.js';
import { IpamStore } from '../ipam/store.js';
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
  const routes = podRoutes(conf, node);

  const store = new IpamStore(conf.dataDir);
  const owner = { containerId, ifname };
  let podIp;
  try {
    store.ensure();
    podIp = allocate(store, { subnet: node.subnet, gateway: node.gateway }, owner, conf.requestedIps[0]);
  } catch (e) {
    throw toCniError(e, ErrorCode.IoFailure, `reserving an address in ${conf.dataDir}`);
  }

  const link: PodLink = {
    bridge: conf.bridge,
    gateway: node.gateway,
    subnet: node.subnet,
    mtu,
    hairpin: conf.hairpinMode,
    hostVeth: hostVethName(containerId, ifname),
    hostMac: randomMac(),
    netns,
    ifname,
    podIp,
    podMac: macFromIp(podIp),
    routes,
  };
  let host: { bridgeMac?: string };
  try {
    host = setupHostSide(link);
  } catch (e) {
    const created = e instanceof HostSetupError && e.vethCreated;
    rollback(store, podIp.toString(), owner, created ? link.hostVeth : undefined);
    if (e instanceof HostSetupError && e.nameTaken) throw await nameTakenError(link, containerId);
    throw toCniError(e instanceof HostSetupError ? e.reason : e, ErrorCode.Internal, `setting up host veth ${link.hostVeth} on ${conf.bridge}`);
  }
  try {
    // before the pod's end is up, so not even one router advertisement gets through; the
    // bridge is where the node's IPv6 stack would take them (its ports pass frames to it)
    refuseRouterAdvertisements(conf.bridge);
    refuseRouterAdvertisements(link.hostVeth);
    setupPodSide(link);
    writeOwnSysctl('net.ipv4.ip_forward', '1');
  } catch (e) {
    rollback(store, podIp.toString(), owner, link.hostVeth);
    throw toCniError(e, ErrorCode.Internal, `setting up ${ifname} in ${netns}`);
  }

  const ours: CniResult = {
    interfaces: [
      { name: link.bridge, ...(host.bridgeMac ? { mac: host.bridgeMac } : {}), mtu },
      { name: link.hostVeth, mac: link.hostMac, mtu },
      { name: ifname, mac: link.podMac, mtu, sandbox: netns },
    ],
    ips: [{ address: `${podIp}/${node.subnet.prefix}`, gateway: node.gateway.toString(), interface: 2 }],
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

/** Default route via the gateway, or (isDefaultGateway false) only the cluster network. */
export function podRoutes(conf: NetConf, node: NodeSubnet): CniRoute[] {
  const gw = node.gateway.toString();
  if (conf.isDefaultGateway) return [{ dst: '0.0.0.0/0', gw }];
  if (!node.network) {
    throw new CniError(ErrorCode.InvalidConfig, `isDefaultGateway is false but ${conf.subnetFile} has no FLANNEL_NETWORK to route`);
  }
  return [{ dst: node.network.toString(), gw }];
}

function rollback(store: IpamStore, ip: string, owner: { containerId: string; ifname: string }, veth?: string): void {
  if (veth) removeHostVeths([veth]);
  try {
    store.release(ip, owner);
  } catch {
    /* the original error is the one to report */
  }
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
