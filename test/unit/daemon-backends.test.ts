import assert from 'node:assert/strict';
import { Cidr, Ip } from '../../lib/ip/cidr.js';
import type { Lease } from '../../lib/schema/lease.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { createHostGwBackend } from '../../daemon/backend/host-gw.js';
import { vtepMac } from '../../daemon/backend/mac.js';
import { backends, createBackend } from '../../daemon/backend/registry.js';
import { createVxlanBackend } from '../../daemon/backend/vxlan.js';
import type { ExternalInterface } from '../../daemon/iface.js';
import { createLogger } from '../../daemon/log.js';
import { leaseAttrs, plain } from '../helpers/lease-attrs.js';

const iface: ExternalInterface = {
  name: 'eth0', ifindex: 2, mtu: 1500, address: Ip.parse('198.18.0.11'), network: Cidr.parse('198.18.0.0/24'), publicIp: Ip.parse('198.18.0.11'),
};
const log = createLogger('error', () => {});
const peer = (subnet: string, ip: string, type = 'vxlan', data: unknown = { VNI: 1, VtepMAC: '02:AA:BB:CC:DD:EE' }): Lease => ({
  key: `/p/subnets/${subnet.replace('/', '-')}`, subnet: Cidr.parse(subnet), attrs: leaseAttrs({ PublicIP: ip, BackendType: type, BackendData: data as null }),
});

describe('backends', () => {
  it('the VTEP MAC is stable, unicast, locally administered, and differs per node and VNI', () => {
    const m = vtepMac(1, Ip.parse('198.18.0.11'));
    assert.ok(m.equals(vtepMac(1, Ip.parse('198.18.0.11'))));
    assert.match(m.toString(), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const first = m.bytes[0];
    assert.equal(first & 1, 0, 'unicast');
    assert.equal(first & 2, 2, 'locally administered');
    assert.ok(!vtepMac(1, Ip.parse('198.18.0.12')).equals(m));
    assert.ok(!vtepMac(2, Ip.parse('198.18.0.11')).equals(m));
  });

  it('vxlan publishes flannel\'s lease value and MTU = iface - 50 (or Backend.MTU)', () => {
    const b = createVxlanBackend({ config: parseNetworkConfig({ Network: '10.244.0.0/16' }), iface, log });
    assert.deepEqual(plain(b.leaseAttrs()), { PublicIP: '198.18.0.11', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: vtepMac(1, Ip.parse('198.18.0.11')).toString() } });
    assert.equal(b.mtu(), 1450);
    assert.equal(b.device, 'twill.1');
    const c = createVxlanBackend({ config: parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { VNI: 42, MTU: 1400 } }), iface, log });
    assert.equal(c.mtu(), 1400);
    assert.equal(c.device, 'twill.42');
  });

  it('vxlan: route, neighbour and FDB entry per peer; nothing for peers it cannot use', () => {
    const b = createVxlanBackend({ config: parseNetworkConfig({ Network: '10.244.0.0/16' }), iface, log });
    assert.deepEqual(plain(b.peerEntries(peer('10.244.7.0/24', '10.0.0.7'))), {
      routes: [{ dst: '10.244.7.0/24', via: '10.244.7.0', dev: 'twill.1', onlink: true }],
      neighs: [{ dst: '10.244.7.0', lladdr: '02:aa:bb:cc:dd:ee', dev: 'twill.1' }],
      fdb: [{ mac: '02:aa:bb:cc:dd:ee', dst: '10.0.0.7', dev: 'twill.1' }],
      nexthops: [],
    });
    assert.equal(b.peerEntries(peer('10.244.7.0/24', '10.0.0.7', 'host-gw', null)), undefined);
    assert.equal(b.peerEntries(peer('10.244.7.0/24', '10.0.0.7', 'vxlan', { VNI: 2, VtepMAC: '02:00:00:00:00:01' })), undefined, 'other VNI');
    assert.equal(b.peerEntries(peer('10.244.7.0/24', '10.0.0.7', 'vxlan', null)), undefined, 'an untaken reservation: no VtepMAC');
  });

  it('vxlan on a kernel with nexthop objects: the IPv4 tunnel route names one, id = its gateway as a number; direct routes stay plain', () => {
    const config = parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { DirectRouting: true } });
    const b = createVxlanBackend({ config, iface, log, nexthops: true });
    const id = (10 << 24 | 244 << 16 | 7 << 8) >>> 0;
    assert.deepEqual(plain(b.peerEntries(peer('10.244.7.0/24', '10.0.0.7'))), {
      routes: [{ dst: '10.244.7.0/24', via: '10.244.7.0', dev: 'twill.1', onlink: true, nhid: id }],
      neighs: [{ dst: '10.244.7.0', lladdr: '02:aa:bb:cc:dd:ee', dev: 'twill.1' }],
      fdb: [{ mac: '02:aa:bb:cc:dd:ee', dst: '10.0.0.7', dev: 'twill.1' }],
      nexthops: [{ id, via: '10.244.7.0', dev: 'twill.1', onlink: true }],
    });
    assert.deepEqual(plain(b.peerEntries(peer('10.244.8.0/24', '198.18.0.12'))), {
      routes: [{ dst: '10.244.8.0/24', via: '198.18.0.12', dev: 'eth0', onlink: false }], neighs: [], fdb: [], nexthops: [],
    }, 'a peer on our L2 network');
  });

  it('vxlan DirectRouting: a plain route for peers on our L2 network only', () => {
    const b = createVxlanBackend({ config: parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { DirectRouting: true } }), iface, log });
    assert.deepEqual(plain(b.peerEntries(peer('10.244.7.0/24', '198.18.0.12'))), {
      routes: [{ dst: '10.244.7.0/24', via: '198.18.0.12', dev: 'eth0', onlink: false }], neighs: [], fdb: [], nexthops: [],
    });
    assert.equal(b.peerEntries(peer('10.244.8.0/24', '10.1.0.8'))!.routes[0].dev, 'twill.1');
  });

  it('host-gw: a route via the peer\'s public IP, only on our L2 network; MTU = iface MTU', () => {
    const b = createHostGwBackend({ config: parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: 'host-gw' } }), iface, log });
    assert.equal(b.mtu(), 1500);
    assert.equal(b.device, undefined);
    assert.deepEqual(plain(b.leaseAttrs()), { PublicIP: '198.18.0.11', BackendType: 'host-gw', BackendData: null });
    assert.deepEqual(plain(b.peerEntries(peer('10.244.7.0/24', '198.18.0.12', 'host-gw', null))!.routes), [{ dst: '10.244.7.0/24', via: '198.18.0.12', dev: 'eth0', onlink: false }]);
    assert.equal(b.peerEntries(peer('10.244.7.0/24', '10.9.9.9', 'host-gw', null)), undefined);
    assert.equal(b.peerEntries(peer('10.244.7.0/24', '198.18.0.12')), undefined, 'a vxlan peer');
  });

  it('vxlan with the userspace dataplane: vxlan\'s lease and MTU, its routes and neighbours, no FDB (the engine has the table)', () => {
    const config = parseNetworkConfig({ Network: '10.244.0.0/16' });
    const kernel = createVxlanBackend({ config, iface, log });
    const u = createBackend({ config, iface, log, userspaceVxlan: { queues: 1, offloads: true, steering: 'cpu' } });
    assert.deepEqual(u.leaseAttrs(), kernel.leaseAttrs());
    assert.equal(u.mtu(), kernel.mtu());
    assert.equal(u.device, 'twill.1');
    const p = peer('10.244.7.0/24', '198.18.0.12');
    const k = kernel.peerEntries(p)!;
    assert.deepEqual(u.peerEntries(p), { routes: k.routes, neighs: k.neighs, fdb: [], nexthops: [] });
    assert.equal(u.peerEntries(peer('10.244.8.0/24', '198.18.0.13', 'host-gw', null)), undefined);
    assert.equal(typeof u.syncPeers, 'function');
    u.syncPeers!([p]);
    assert.match(u.health!()!, /not running/, 'unhealthy until ensureLocal started the engine');
    const m = u.metrics!();
    assert.ok(m.includes('twill_userspace_vxlan_up 0'));
    assert.ok(m.includes('twill_userspace_vxlan_peers 1'));
  });

  it('the registry picks the backend from Backend.Type', () => {
    assert.deepEqual(Object.keys(backends).sort(), ['host-gw', 'vxlan']);
    assert.equal(createBackend({ config: parseNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: 'host-gw' } }), iface, log }).type, 'host-gw');
  });
});
