// lib/kernel/netlink against the real kernel, in namespaces this test creates: every change
// made over netlink is read back with `ip -json` (an independent reader), and every netlink
// dump is compared with what `ip` reports. Errors, stop-at-first-failure, and the guarantee
// that entering a namespace for a socket leaves the caller where it was.
import assert from 'node:assert/strict';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { getLink, ipBatch, ipJson, listAddrs, listLinks, listRoutes } from '../../lib/kernel/ip.js';
import {
  addAddr, addBridge, addRoute, addVeth, AF_INET6, AF_UNSPEC, delLink, EEXIST, ENODEV, IFA_F_NODAD, IFA_F_TENTATIVE, NetlinkError,
  NetlinkSocket, nlGetLink, nlListAddrs, nlListLinks, nlListRoutes, setAddrGenModeNone, setHairpin, setLink, withSocket,
} from '../../lib/kernel/netlink/index.js';
import { readSysctlIn, writeSysctlIn } from '../../lib/kernel/sysctl.js';
import { netnsPath, World } from '../../harness/world.js';

describe('netlink against the kernel (namespaces)', function () {
  const world = new World('nl');
  let hostNs: string;
  let podNs: string;
  after(() => world.cleanup());

  before(async () => {
    hostNs = netnsPath(await world.addNetns('host'));
    podNs = netnsPath(await world.addNetns('pod'));
  });

  it('creates a bridge with MAC and MTU, as ip reads it back', () => {
    withSocket(hostNs, (s) => s.run([addBridge({ name: 'br-nl', mac: '0a:58:0a:f4:03:01', mtu: 1450 })]));
    return getLink(hostNs, 'br-nl').then((l) => {
      assert.ok(l, 'bridge exists');
      assert.equal(l.address, '0a:58:0a:f4:03:01');
      assert.equal(l.mtu, 1450);
      assert.equal(l.linkinfo?.info_kind, 'bridge');
    });
  });

  it('creates a veth pair whose peer is born in the pod namespace, enslaves and hairpins the host end', async () => {
    const fd = openSync(podNs, 'r');
    try {
      withSocket(hostNs, (s) => {
        const br = s.run([{ ...setLink('br-nl', { up: true }) }]);
        assert.equal(br.length, 1);
        const bridge = nlGetLink(hostNs, 'br-nl')!;
        s.run([
          addVeth({ name: 'nlv0', mtu: 1450, mac: '02:00:00:00:00:01' }, { name: 'eth0', mtu: 1450, mac: '0a:58:0a:f4:03:02', netnsFd: fd }),
          setLink('nlv0', { master: bridge.ifindex, up: true }),
          setHairpin('nlv0', true),
        ]);
      });
    } finally {
      closeSync(fd);
    }
    const host = await getLink(hostNs, 'nlv0');
    assert.equal(host?.master, 'br-nl');
    assert.ok(host?.flags.includes('UP'));
    assert.equal(host?.linkinfo?.info_slave_data?.hairpin, true);
    assert.equal(await getLink(hostNs, 'eth0'), undefined, 'the peer never lived in the host namespace');
    const pod = await getLink(podNs, 'eth0');
    assert.equal(pod?.address, '0a:58:0a:f4:03:02');
    assert.equal(pod?.mtu, 1450);
  });

  it('adds addresses and routes in the pod namespace; dumps agree with ip', async () => {
    withSocket(podNs, (s) => {
      const eth0 = nlGetLink(podNs, 'eth0')!;
      s.run([
        addAddr({ index: eth0.ifindex, dev: 'eth0', ip: '10.244.3.2', prefix: 24 }),
        setLink({ index: eth0.ifindex, name: 'eth0' }, { up: true }),
        addRoute({ dst: '0.0.0.0/0', gw: '10.244.3.1', oif: eth0.ifindex, dev: 'eth0' }),
        addRoute({ dst: '192.0.2.0/24', gw: '10.244.3.9', oif: eth0.ifindex, dev: 'eth0' }),
        addRoute({ dst: '198.51.100.7', oif: eth0.ifindex, dev: 'eth0' }),
      ]);
    });
    const ipRoutes = await listRoutes(podNs, 4);
    const nlRoutes = nlListRoutes(podNs);
    const key = (r: { dst: string; gateway?: string }) => `${r.dst} via ${r.gateway ?? '-'}`;
    assert.deepEqual(nlRoutes.map(key).sort(), ipRoutes.map(key).sort());
    assert.ok(ipRoutes.some((r) => r.dst === 'default' && r.gateway === '10.244.3.1'));
    assert.ok(ipRoutes.some((r) => r.dst === '198.51.100.7' && r.scope === 'link'));

    const ipAddrs = (await listAddrs(podNs)).flatMap((l) => l.addr_info.filter((a) => a.family === 'inet').map((a) => `${l.ifindex} ${a.local}/${a.prefixlen}`));
    assert.deepEqual(nlListAddrs(podNs).map((a) => `${a.ifindex} ${a.local}/${a.prefixlen}`).sort(), ipAddrs.sort());

    const ipLinks = await listLinks(hostNs);
    const nlLinks = nlListLinks(hostNs);
    const summary = (l: { ifindex: number; ifname: string; mtu: number; address?: string; master?: string; flags: string[] }) =>
      `${l.ifindex} ${l.ifname} ${l.mtu} ${l.address ?? ''} ${l.master ?? ''} ${l.flags.includes('UP')}`;
    assert.deepEqual(nlLinks.map(summary).sort(), ipLinks.map(summary).sort());
  });

  it('IPv6: nodad addresses are usable at once, addrgenmode none leaves the link-local to the caller; dumps agree with ip', async () => {
    withSocket(podNs, (s) => {
      s.run([addVeth({ name: 'v6a', mac: '0a:58:00:00:00:02' }, { name: 'v6b' })]);
      const a = nlGetLink(podNs, 'v6a')!;
      const dev = { index: a.ifindex, name: 'v6a' };
      s.run([
        setAddrGenModeNone(dev),
        addAddr({ index: a.ifindex, dev: 'v6a', ip: 'fe80::858:ff:fe00:2', prefix: 64, nodad: true }),
        addAddr({ index: a.ifindex, dev: 'v6a', ip: 'fd00:10:244:3::2', prefix: 64, nodad: true }),
        addAddr({ index: a.ifindex, dev: 'v6a', ip: 'fd00:10:244:4::2', prefix: 64 }),
        setLink(dev, { up: true }),
        setLink('v6b', { up: true }),
        addRoute({ dst: '::/0', gw: 'fd00:10:244:3::1', oif: a.ifindex, dev: 'v6a' }),
        addRoute({ dst: 'fd00:10:244::/56', gw: 'fd00:10:244:3::9', oif: a.ifindex, dev: 'v6a' }),
      ]);
    });
    const ipAddrs = (await ipJson<{ ifname: string; addr_info: { local: string; prefixlen: number; tentative?: boolean }[] }>(podNs, ['-6', 'addr', 'show', 'dev', 'v6a']))[0].addr_info;
    const byAddr = new Map(ipAddrs.map((x) => [x.local, x]));
    assert.deepEqual([...byAddr.keys()].sort(), ['fd00:10:244:3::2', 'fd00:10:244:4::2', 'fe80::858:ff:fe00:2'], 'no kernel-made link-local');
    assert.equal(byAddr.get('fd00:10:244:3::2')!.tentative, undefined, 'nodad: not tentative');
    assert.equal(byAddr.get('fe80::858:ff:fe00:2')!.tentative, undefined);
    assert.equal(byAddr.get('fd00:10:244:4::2')!.tentative, true, 'without nodad: tentative during DAD');
    const nl = nlListAddrs(podNs, AF_UNSPEC).filter((x) => x.family === 'inet6' && x.local.startsWith('fd00'));
    assert.equal(nl.find((x) => x.local === 'fd00:10:244:3::2')!.flags & (IFA_F_NODAD | IFA_F_TENTATIVE), IFA_F_NODAD);
    assert.ok(nl.find((x) => x.local === 'fd00:10:244:4::2')!.flags & IFA_F_TENTATIVE, 'the dump reports tentative');
    const key = (r: { dst: string; gateway?: string }) => `${r.dst} via ${r.gateway ?? '-'}`;
    const ipRoutes = await listRoutes(podNs, 6);
    assert.deepEqual(nlListRoutes(podNs, AF_INET6).map(key).sort(), ipRoutes.map(key).sort());
    assert.ok(ipRoutes.some((r) => r.dst === 'default' && r.gateway === 'fd00:10:244:3::1'));
    assert.ok(ipRoutes.some((r) => r.dst === 'fd00:10:244::/56' && r.gateway === 'fd00:10:244:3::9'));
  });

  it('writes a network sysctl of another namespace through a file opened there, and only there', async () => {
    const own = (await world.exec(hostNs.slice(hostNs.lastIndexOf('/') + 1), 'cat', ['/proc/sys/net/ipv6/conf/default/accept_ra'])).trim();
    writeSysctlIn(podNs, ['net', 'ipv6', 'conf', 'default', 'accept_ra'], '0');
    const podName = podNs.slice(podNs.lastIndexOf('/') + 1);
    assert.equal((await world.exec(podName, 'cat', ['/proc/sys/net/ipv6/conf/default/accept_ra'])).trim(), '0');
    assert.equal((await world.exec(hostNs.slice(hostNs.lastIndexOf('/') + 1), 'cat', ['/proc/sys/net/ipv6/conf/default/accept_ra'])).trim(), own, 'another namespace keeps its value');
    assert.equal(readlinkSync('/proc/thread-self/ns/net'), readlinkSync('/proc/self/ns/net'), 'back in our own namespace');
    assert.throws(() => writeSysctlIn(podNs, ['net', 'ipv6', 'conf', 'nl-missing', 'accept_ra'], '0'), (e: unknown) => (e as { code?: string }).code === 'ENOENT' && /openIn: open \/proc\/sys\/net\/ipv6\/conf\/nl-missing\/accept_ra in .*No such file/.test((e as Error).message));
    assert.throws(() => writeSysctlIn(podNs, ['kernel', 'hostname'], 'x'), /is not a network sysctl/);
    assert.throws(() => writeSysctlIn(podNs, ['net', '..', 'kernel', 'hostname'], 'x'), /is not a network sysctl/);
  });

  it('reads a network sysctl of another namespace the same way, by dotted key or segments', async () => {
    writeSysctlIn(podNs, 'net.ipv4.ip_forward', '1');
    writeSysctlIn(hostNs, 'net.ipv4.ip_forward', '0');
    assert.equal(readSysctlIn(podNs, 'net.ipv4.ip_forward'), '1');
    assert.equal(readSysctlIn(hostNs, ['net', 'ipv4', 'ip_forward']), '0');
    const podName = podNs.slice(podNs.lastIndexOf('/') + 1);
    assert.equal((await world.exec(podName, 'cat', ['/proc/sys/net/ipv4/ip_forward'])).trim(), '1', 'as cat reads it there');
    assert.throws(() => readSysctlIn(podNs, 'net.ipv4.nl-missing'), (e: unknown) => (e as { code?: string }).code === 'ENOENT');
    assert.throws(() => readSysctlIn(podNs, 'kernel.hostname'), /is not a network sysctl/);
  });

  it('names the operation and errno when the kernel refuses', () => {
    const s = NetlinkSocket.open(hostNs);
    try {
      assert.throws(() => s.run([addBridge({ name: 'br-nl' })]), (e: unknown) => e instanceof NetlinkError && e.errno === EEXIST
        && /^link add name br-nl type bridge \(netns .*-host\): File exists \(EEXIST\)/.test(e.message));
      assert.throws(() => s.run([setLink('nl-missing', { up: true })]), (e: unknown) => e instanceof NetlinkError && e.errno === ENODEV
        && /link set dev nl-missing up .*No such device \(ENODEV\)/.test(e.message));
      assert.equal(nlGetLink(hostNs, 'nl-missing'), undefined);
    } finally {
      s.close();
    }
  });

  it('stops at the first failure (later requests never run); runAll keeps going', async () => {
    withSocket(hostNs, (s) => {
      assert.throws(() => s.run([addBridge({ name: 'br-nl2' }), setLink('nl-missing', { up: true }), addBridge({ name: 'br-nl3' })]),
        (e: unknown) => e instanceof NetlinkError && e.index === 1);
      const outcomes = s.runAll([delLink('nl-missing'), addBridge({ name: 'br-nl4' })]);
      assert.equal(outcomes[0].error?.code, 'ENODEV');
      assert.equal(outcomes[1].error, undefined);
    });
    assert.ok(await getLink(hostNs, 'br-nl2'), 'requests before the failure ran');
    assert.equal(await getLink(hostNs, 'br-nl3'), undefined, 'the request after the failure did not');
    assert.ok(await getLink(hostNs, 'br-nl4'), 'runAll went past the failure');
  });

  it('deleting the host end removes the pod end too', async () => {
    await ipBatch(hostNs, [`link add nlv1 type veth peer name eth1 netns ${podNs}`]);
    assert.ok(await getLink(podNs, 'eth1'));
    withSocket(hostNs, (s) => s.run([delLink('nlv1')]));
    assert.equal(await getLink(podNs, 'eth1'), undefined);
    assert.equal(await getLink(hostNs, 'nlv1'), undefined);
  });

  it('a socket opened in a namespace works there and leaves the caller in its own', () => {
    const before = readlinkSync('/proc/thread-self/ns/net');
    const s = NetlinkSocket.open(podNs);
    try {
      assert.equal(readlinkSync('/proc/thread-self/ns/net'), before, 'back in the original namespace');
      const names = withSocket(podNs, (p) => nlListLinks(podNs).map((l) => l.ifname) && p.netns);
      assert.equal(names, podNs);
      assert.ok(nlListLinks(podNs).some((l) => l.ifname === 'eth0'));
      assert.ok(!nlListLinks(undefined).some((l) => l.ifname === 'nlv0'), 'the host namespace of the test is not the test\'s "host" namespace');
    } finally {
      s.close();
    }
    assert.throws(() => s.run([]), /already closed/);
  });

  it('refuses a path that is not a namespace, naming it', () => {
    assert.throws(() => NetlinkSocket.open('/var/run/netns/twill-nl-no-such-ns'), /socketIn: open \/var\/run\/netns\/twill-nl-no-such-ns: No such file or directory/);
    assert.throws(() => NetlinkSocket.open('/etc/hostname'), /socketIn: setns \/etc\/hostname: Invalid argument/);
    assert.ok(readlinkSync('/proc/thread-self/ns/net'));
  });
});
