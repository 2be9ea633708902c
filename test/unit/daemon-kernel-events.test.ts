// What counts as drift among the kernel's multicast events, as typed messages (no `ip
// monitor` text): only changes to our devices and entries, never the pods' on the bridge.
import assert from 'node:assert/strict';
import { isDriftEvent, DriftView } from '../../daemon/kernel-events.js';
import { Cidr } from '../../lib/ip/cidr.js';
import * as C from '../../lib/kernel/netlink/constants.js';
import type { KernelEvent } from '../../lib/kernel/netlink/events.js';

const TWILL = 7;
const CNI0 = 3;
const ETH0 = 2;
const MAC = '0e:11:22:33:44:55';
const view = (recentlyDeleted: string[] = [], devices = ['twill.1']): DriftView => ({
  devices,
  seen: new Map(devices.includes('twill.1') ? [['twill.1', { ifindex: TWILL, mtu: 1450, address: MAC, up: true }]] : []),
  podRoute: (dst) => Cidr.parse('10.244.0.0/16').contains(dst) && !Cidr.parse('10.244.3.0/24').contains(dst),
  recentlyDeleted: new Set(recentlyDeleted),
});
const route = (deleted: boolean, dst: string, oif: number, protocol = 'boot'): KernelEvent =>
  ({ kind: 'route', deleted, route: { dst, oif, table: 254, flags: [], protocol, scope: 'global', type: 'unicast' } });
const neigh = (deleted: boolean, ifindex: number, dst: string, state = C.NUD_PERMANENT): KernelEvent =>
  ({ kind: 'neigh', deleted, neigh: { family: dst.includes(':') ? C.AF_INET6 : C.AF_INET, ifindex, state, flags: 0, dst, lladdr: '02:aa:bb:cc:dd:ee' } });
const fdb = (deleted: boolean, ifindex: number, state = C.NUD_PERMANENT): KernelEvent =>
  ({ kind: 'neigh', deleted, neigh: { family: C.AF_BRIDGE, ifindex, state, flags: C.NTF_SELF, dst: '198.18.0.12', lladdr: '02:aa:bb:cc:dd:ee' } });
const nexthop = (deleted: boolean, id: number, oif: number): KernelEvent =>
  ({ kind: 'nexthop', deleted, nexthop: { id, family: C.AF_INET, oif, gateway: '10.244.2.0', flags: 4, protocol: 3 } });
const link = (deleted: boolean, ifname: string, flags: string[] = ['UP'], change: { ifindex?: number; mtu?: number; address?: string } = {}): KernelEvent =>
  ({ kind: 'link', deleted, link: { ifindex: ifname === 'twill.1' ? TWILL : 9, ifname, flags, mtu: 1450, operstate: 'UNKNOWN', address: MAC, ...change } });

describe('kernel events that may be drift', () => {
  const yes: [string, KernelEvent][] = [
    ['a route of ours deleted from our device', route(true, '10.244.2.0/24', TWILL)],
    ['a route to another node\'s pod subnet deleted from the uplink (host-gw)', route(true, '10.244.2.0/24', ETH0)],
    ['a permanent neighbour of our device deleted', neigh(true, TWILL, '10.244.2.0')],
    ['a neighbour of our device no longer permanent', neigh(false, TWILL, '10.244.2.0', C.NUD_REACHABLE)],
    ['an FDB entry of our device deleted', fdb(true, TWILL)],
    ['our device deleted', link(true, 'twill.1')],
    ['our device changed (down)', link(false, 'twill.1', [])],
    ['our device\'s MTU changed', link(false, 'twill.1', ['UP'], { mtu: 1500 })],
    ['our device\'s MAC changed', link(false, 'twill.1', ['UP'], { address: '0e:11:22:33:44:66' })],
    ['our device re-created by someone else (another ifindex)', link(false, 'twill.1', ['UP'], { ifindex: 42 })],
    ['a nexthop object of our device deleted (its routes went with it, unannounced)', nexthop(true, 183763456, TWILL)],
    ['an address of our device deleted', { kind: 'addr', deleted: true, addr: { ifindex: TWILL, family: 'inet', local: '10.244.3.0', prefixlen: 32, flags: 0, scope: 0 } }],
  ];
  const no: [string, KernelEvent][] = [
    ['our own route added', route(false, '10.244.2.0/24', TWILL)],
    ['our own permanent neighbour added', neigh(false, TWILL, '10.244.2.0')],
    ['our own permanent FDB entry added', fdb(false, TWILL)],
    ['a pod\'s neighbour on the bridge deleted', neigh(true, CNI0, '10.244.3.12', C.NUD_STALE)],
    ['the uplink\'s neighbour deleted', neigh(true, ETH0, '198.18.0.1', C.NUD_STALE)],
    ['a pod\'s FDB entry on the bridge deleted', fdb(true, CNI0)],
    ['our own pod subnet\'s route on the bridge deleted', route(true, '10.244.3.0/24', CNI0, 'kernel')],
    ['a route outside the pod network deleted', route(true, '192.168.5.0/24', ETH0)],
    ['a route the last pass deleted itself', route(true, '10.244.9.0/24', TWILL)],
    ['a neighbour the last pass deleted itself', neigh(true, TWILL, '10.244.9.0')],
    ['another device', link(false, 'twill.10')],
    ['our own nexthop object added', nexthop(false, 183763456, TWILL)],
    ['a nexthop the last pass deleted itself', nexthop(true, 183765760, TWILL)],
    ['someone else\'s nexthop on the uplink deleted', nexthop(true, 5, ETH0)],
    ['our device as the last pass left it (its own creation and raising)', link(false, 'twill.1')],
    ['an IPv6 link-local neighbour of our device', neigh(true, TWILL, 'fe80::1', C.NUD_STALE)],
  ];
  const deleted = ['route|10.244.9.0/24', 'neigh|twill.1|10.244.9.0', 'nexthop|183765760'];
  for (const [what, ev] of yes) it(`yes: ${what}`, () => assert.equal(isDriftEvent(ev, view(deleted)), true));
  for (const [what, ev] of no) it(`no: ${what}`, () => assert.equal(isDriftEvent(ev, view(deleted)), false));
  it('host-gw (no device): route deletions to pod subnets only', () => {
    assert.equal(isDriftEvent(route(true, '10.244.2.0/24', ETH0), view([], [])), true);
    assert.equal(isDriftEvent(neigh(true, ETH0, '198.18.0.1', C.NUD_STALE), view([], [])), false);
  });
});
