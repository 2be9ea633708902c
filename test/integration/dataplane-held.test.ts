// A full pass skips decoding the entries the kernel already holds exactly ("held", compared
// on the dump's raw bytes: lib/kernel/dataplane.ts). That shortcut must never change what is
// planned: on a real kernel with every kind of drift planted, IPv4 and IPv6, the plan with
// the shortcut is the plan of the full decode, operation for operation, and once it is
// written every desired entry is held and nothing is left to do.
import assert from 'node:assert/strict';
import type { DataplaneEntries } from '../../lib/dataplane/entries.js';
import { planDataplane } from '../../lib/dataplane/plan.js';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import { Mac } from '../../lib/ip/mac.js';
import { bridgeBatch, ipBatch } from '../../lib/kernel/ip.js';
import { applyDataplaneOps, ourEntries, readKernelDataplane } from '../../lib/kernel/dataplane.js';
import { getLinkOn } from '../../lib/kernel/netlink/query.js';
import { NetlinkSocket } from '../../lib/kernel/netlink/socket.js';
import type { Lease } from '../../lib/schema/lease.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { heldPlans } from '../helpers/held-plans.js';
import { netnsPath, World } from '../../harness/world.js';

const PEERS = 200;
const hex2 = (n: number) => n.toString(16).padStart(2, '0');

function desiredFor(peers: number): DataplaneEntries {
  const d: DataplaneEntries = { routes: [], neighs: [], fdb: [], nexthops: [] };
  for (let i = 0; i < peers; i++) {
    const s4 = Cidr.parse(`10.${100 + (i >> 8)}.${i & 255}.0/24`);
    const s6 = Cidr.parse(`fd00:10:${(i + 1).toString(16)}::/64`);
    const mac4 = Mac.parse(`0e:00:00:04:${hex2(i >> 8)}:${hex2(i & 255)}`);
    const mac6 = Mac.parse(`0e:00:00:06:${hex2(i >> 8)}:${hex2(i & 255)}`);
    d.routes.push({ dst: s4, via: s4.first, dev: 'vx4', onlink: true }, { dst: s6, via: s6.first, dev: 'vx6', onlink: true });
    d.neighs.push({ dst: s4.first, lladdr: mac4, dev: 'vx4' }, { dst: s6.first, lladdr: mac6, dev: 'vx6' });
    d.fdb.push({ mac: mac4, dst: Ip.parse(`198.19.${i >> 8}.${i & 255}`), dev: 'vx4' }, { mac: mac6, dst: Ip.parse(`fd00:198:19::${(i + 1).toString(16)}`), dev: 'vx6' });
  }
  return d;
}

describe('full-pass shortcut: entries held in the kernel plan exactly like fully decoded ones', function () {
  const world = new World('dh');
  let ns: string;
  let s: NetlinkSocket;
  const config = parseNetworkConfig({ Network: '10.0.0.0/8', EnableIPv6: true, IPv6Network: 'fd00:10::/48', IPv6SubnetLen: 64 });
  const own = { key: 'own', subnet: Cidr.parse('10.99.1.0/24'), subnet6: Cidr.parse('fd00:10:ffff::/64'), attrs: {} } as unknown as Lease;
  const devices = ['vx4', 'vx6'];
  const desired = desiredFor(PEERS);
  const index = (dev: string) => getLinkOn(s, dev)?.ifindex;

  const plans = () => heldPlans(s, devices, true, desired, config, own);

  before(async () => {
    ns = netnsPath(await world.addNetns('node'));
    await ipBatch(ns, [
      'link add ul0 type veth peer name ul1', 'addr add 198.18.0.1/24 dev ul0', 'addr add fd00:198:18::1/64 dev ul0 nodad',
      'link set ul0 up', 'link set ul1 up',
      'link add vx4 type vxlan id 1 dev ul0 local 198.18.0.1 dstport 8472 nolearning', 'link set vx4 up',
      'link add vx6 type vxlan id 1 dev ul0 local fd00:198:18::1 dstport 8472 nolearning', 'link set vx6 up',
    ]);
    s = NetlinkSocket.open(ns);
  });
  after(async () => {
    s?.close();
    await world.cleanup();
  });

  it('holds every entry of a clean write', () => {
    const failed = applyDataplaneOps(s, planDataplane(desired, { routes: [], neighs: [], fdb: [], nexthops: [] }).ops, index);
    assert.deepEqual(failed, []);
    const p = plans();
    assert.equal(p.held, PEERS * 6, 'route, neighbour and FDB entry per family per peer');
    assert.deepEqual(p.quick, []);
    assert.deepEqual(p.full, []);
  });

  it('plans the same operations as the full decode for every kind of drift, and none once they are written', async () => {
    await ipBatch(ns, [
      'route replace 10.100.1.0/24 via 10.100.9.0 dev vx4 onlink', // wrong next hop
      'route del 10.100.2.0/24', // lost route
      'route replace 10.100.3.0/24 via 10.100.3.0 dev ul0 onlink', // on the wrong device
      'route add 10.100.5.0/24 via 10.100.5.0 dev vx4 onlink table 99', // another table: not ours, and the main entry stays
      'route add 10.120.0.0/24 via 10.120.0.0 dev vx4 onlink', // a gone peer's route
      'route replace fd00:10:7::/64 via fd00:10:99:: dev vx6 onlink', // v6 wrong next hop
      'neigh replace 10.100.6.0 lladdr 0e:00:00:00:ee:ee dev vx4 nud permanent', // wrong MAC
      'neigh replace 10.100.8.0 lladdr 0e:00:00:04:00:08 dev vx4 nud reachable', // right MAC, not permanent
      'neigh del 10.100.9.0 dev vx4', // lost neighbour
      'neigh replace fd00:10:b:: lladdr 0e:00:00:00:ee:ef dev vx6 nud permanent', // v6 wrong MAC
      'neigh add 10.120.0.0 lladdr 0e:00:00:00:12:00 dev vx4 nud permanent', // a gone peer's neighbour
    ]);
    await bridgeBatch(ns, [
      'fdb del 0e:00:00:04:00:0c dev vx4 dst 198.19.0.12 self', // lost FDB entry
      'fdb append 0e:00:00:04:09:99 dev vx4 dst 198.19.9.9 self permanent', // a gone peer's entry
      'fdb append 0e:00:00:06:09:99 dev vx6 dst fd00:198:19::999 self permanent', // a gone peer's v6 entry
      'fdb replace 0e:00:00:04:00:0e dev vx4 dst 198.19.0.14 self dynamic', // right destination, not permanent
    ]);
    const p = plans();
    // 14 operations: 4 routes put back, 4 neighbours, 2 FDB entries, and the gone peer's
    // route, neighbour and two FDB entries deleted
    assert.equal(p.full.length, 14, `the drift shows in the plan: ${p.full.join('; ')}`);
    assert.deepEqual(p.quick, p.full, 'the same operations in the same order');
    assert.equal(p.held, PEERS * 6 - 10, 'all but the 10 drifted desired entries are held');
    const k = readKernelDataplane(s, devices, true, desired);
    const failed = applyDataplaneOps(s, planDataplane(desired, ourEntries(k, devices, config, own), k.held).ops, index);
    assert.deepEqual(failed.map((f) => f.message), []);
    const after = plans();
    assert.deepEqual(after.quick, []);
    assert.deepEqual(after.full, []);
    assert.equal(after.held, PEERS * 6, 'everything held again');
  });
});
