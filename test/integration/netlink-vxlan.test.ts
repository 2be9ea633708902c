// The VXLAN device over netlink against the real kernel, in a namespace this test creates:
// created with addVxlan (IPv4 and IPv6 sources), read back with `ip -d -json link show` (an
// independent reader) and with our own decoder; its host address added and deleted with
// addAddr/delAddr and read back with `ip -json addr show`.
import assert from 'node:assert/strict';
import { getLink, ipBatch, listAddrs } from '../../lib/kernel/ip.js';
import { addAddr, addVxlan, delAddr, EEXIST, getLinkOn, NetlinkError, setLink, withSocket } from '../../lib/kernel/netlink/index.js';
import { netnsPath, World } from '../../harness/world.js';

describe('the VXLAN device over netlink (real kernel, a namespace)', function () {
  const world = new World('nx');
  let ns: string;
  let uplink: number;
  after(() => world.cleanup());

  before(async () => {
    ns = netnsPath(await world.addNetns('node'));
    // no dummy driver here: a veth pair is the spare underlay link
    await ipBatch(ns, ['link add nxu0 type veth peer name nxu1', 'addr add 10.9.0.1/24 dev nxu0', 'addr add fd19::1/64 dev nxu0 nodad', 'link set nxu0 up', 'link set nxu1 up']);
    uplink = withSocket(ns, (s) => getLinkOn(s, 'nxu0')!.ifindex);
  });

  for (const v of [{ name: 'twill.7', local: '10.9.0.1', key: 'local' }, { name: 'twill6.7', local: 'fd19::1', key: 'local6' }] as const) {
    it(`creates ${v.name} (local ${v.local}) as ip -d reads it back: VNI, underlay, local, port, learning off, MAC, MTU, up`, async () => {
      withSocket(ns, (s) => s.run([
        addVxlan({ name: v.name, vni: 7, local: v.local, link: uplink, linkName: 'nxu0', port: 8472, mac: '0e:00:00:00:07:01', mtu: 1430 }),
        setLink(v.name, { up: true }),
      ]));
      const l = await getLink(ns, v.name);
      assert.ok(l, `${v.name} exists`);
      assert.equal(l.address, '0e:00:00:00:07:01');
      assert.equal(l.mtu, 1430);
      assert.ok(l.flags.includes('UP'));
      assert.equal(l.linkinfo?.info_kind, 'vxlan');
      const d = l.linkinfo?.info_data ?? {};
      assert.equal(d.id, 7);
      assert.equal(d.link, 'nxu0');
      assert.equal(d[v.key], v.local);
      assert.equal(d.port, 8472);
      assert.equal(d.learning, false);
      // our decoder agrees with ip on every field twilld compares
      const mine = withSocket(ns, (s) => getLinkOn(s, v.name)!);
      assert.deepEqual(mine.linkinfo?.info_data, { id: 7, linkIndex: uplink, [v.key]: v.local, port: 8472, learning: false });
      assert.equal(mine.address, l.address);
      assert.equal(mine.mtu, l.mtu);
    });
  }

  it('a second create of the same name is EEXIST (exclusive), naming the operation', () => {
    assert.throws(() => withSocket(ns, (s) => s.run([addVxlan({ name: 'twill.7', vni: 7, local: '10.9.0.1', link: uplink, linkName: 'nxu0', port: 8472 })])),
      (e: unknown) => e instanceof NetlinkError && e.errno === EEXIST && /link add twill\.7/.test(e.message));
  });

  it('adds and deletes the host addresses of both devices, as ip reads them', async () => {
    const idx = withSocket(ns, (s) => ({ v4: getLinkOn(s, 'twill.7')!.ifindex, v6: getLinkOn(s, 'twill6.7')!.ifindex }));
    withSocket(ns, (s) => s.run([
      addAddr({ index: idx.v4, dev: 'twill.7', ip: '10.244.3.0', prefix: 32, replace: true }),
      addAddr({ index: idx.v6, dev: 'twill6.7', ip: 'fd00:10:244:3::', prefix: 128, replace: true, nodad: true }),
    ]));
    const addrs = async (dev: string) => (await listAddrs(ns, dev)).flatMap((a) => a.addr_info).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`);
    assert.deepEqual(await addrs('twill.7'), ['10.244.3.0/32']);
    assert.deepEqual(await addrs('twill6.7'), ['fd00:10:244:3::/128']);
    withSocket(ns, (s) => s.run([
      delAddr({ index: idx.v4, dev: 'twill.7', ip: '10.244.3.0', prefix: 32 }),
      delAddr({ index: idx.v6, dev: 'twill6.7', ip: 'fd00:10:244:3::', prefix: 128 }),
    ]));
    assert.deepEqual(await addrs('twill.7'), []);
    assert.deepEqual(await addrs('twill6.7'), []);
  });
});
