// The built plugin on dual-stack and IPv6-only nodes, run as a runtime runs it, through
// ADD/CHECK/DEL/GC/STATUS for every spec version against the real kernel in namespaces made
// for the test: one address per family, both reserved in the one dataDir, both gateways on
// the bridge, routes per family, no tentative IPv6 address, pods that ping and ping6 each
// other right after ADD, and rollback that covers both families.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ip } from '../../lib/ip/cidr.js';
import { getLink, ipBatch, ipJson, listLinks, listRoutes } from '../../lib/kernel/ip.js';
import { expectOk, PluginNode, PluginNodeOptions } from '../helpers/plugin-node.js';
import { netnsPath, World } from '../../harness/world.js';

const VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];
const V4_NET = '10.244.0.0/16';
const V6_NET = 'fd00:10:244::/56';
const DUAL: PluginNodeOptions = { ipv6Network: V6_NET, ipv6Subnet: 'fd00:10:244:3::1/64' };
const V6_ONLY: PluginNodeOptions = { noIpv4: true, ipv6Network: V6_NET, ipv6Subnet: 'fd00:10:244:3::1/64' };

/** Reservation files (named by an address of either family) in dataDir. */
function ipFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => Ip.tryParse(f)).sort() : [];
}

const addrOf = (cidr: string): string => cidr.split('/')[0];

async function hostVeths(node: PluginNode): Promise<string[]> {
  return (await listLinks(netnsPath(node.ns))).map((l) => l.ifname).filter((n) => n.startsWith('twv'));
}

interface RawAddr {
  family: string;
  local: string;
  prefixlen: number;
  scope?: string;
  tentative?: boolean;
  dadfailed?: boolean;
  nodad?: boolean;
}

/** `ip -json addr` with the flags the typed helper leaves out. */
async function rawAddrs(netns: string, dev: string): Promise<RawAddr[]> {
  return (await ipJson<{ addr_info: RawAddr[] }>(netns, ['addr', 'show', 'dev', dev])).flatMap((l) => l.addr_info);
}

async function ping(world: World, ns: string, to: string): Promise<void> {
  await world.exec(ns, 'ping', [to.includes(':') ? '-6' : '-4', '-c', '1', '-W', '5', to]);
}

describe('plugin in dual stack and IPv6 only (built binary, real namespaces)', function () {
  const world = new World('p');
  let dual: PluginNode;
  let v6only: PluginNode;

  before(async () => {
    dual = await PluginNode.create(world, 'ds', DUAL);
    v6only = await PluginNode.create(world, 'six', V6_ONLY);
  });
  after(() => world.cleanup());

  it('IPv6 works in a fresh namespace on this machine (else the rest cannot mean anything)', async () => {
    assert.equal((await world.exec(dual.ns, 'sysctl', ['-n', 'net.ipv6.conf.all.disable_ipv6'])).trim(), '0');
  });

  for (const version of VERSIONS) {
    describe(`cniVersion ${version}`, () => {
      it('dual stack: ADD gives one address per family, CHECK/GC/STATUS follow the version rules, DEL removes both', async () => {
        const node = dual;
        const pod = await node.addPod();
        const conf = node.conf(version);
        const r = expectOk(await node.call('ADD', conf, pod), 'ADD').json;
        assert.equal(r.cniVersion, version);
        assert.equal(r.ips.length, 2, JSON.stringify(r.ips));
        const [v4, v6] = r.ips;
        assert.match(v4.address, /^10\.244\.3\.\d+\/24$/);
        assert.equal(v4.gateway, '10.244.3.1');
        assert.match(v6.address, /^fd00:10:244:3::[0-9a-f]+\/64$/);
        assert.equal(v6.gateway, 'fd00:10:244:3::1');
        for (const ip of r.ips) assert.equal(ip.interface, 2);
        if (version < '1.0.0') assert.deepEqual([v4.version, v6.version], ['4', '6'], 'ips[].version before 1.0.0');
        else assert.ok(!('version' in v4) && !('version' in v6), 'no ips[].version from 1.0.0 on');
        assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0', gw: '10.244.3.1' }, { dst: '::/0', gw: 'fd00:10:244:3::1' }]);

        // the kernel agrees with the result
        const podAddrs = await rawAddrs(pod.path, 'eth0');
        assert.ok(podAddrs.some((a) => a.family === 'inet' && `${a.local}/${a.prefixlen}` === v4.address), JSON.stringify(podAddrs));
        assert.ok(podAddrs.some((a) => a.family === 'inet6' && `${a.local}/${a.prefixlen}` === v6.address), JSON.stringify(podAddrs));
        assert.deepEqual(podAddrs.filter((a) => a.tentative || a.dadfailed), [], 'no tentative address in the pod');
        assert.ok((await listRoutes(pod.path, 6)).some((x) => x.dst === 'default' && x.gateway === 'fd00:10:244:3::1'));
        assert.ok((await listRoutes(pod.path, 4)).some((x) => x.dst === 'default' && x.gateway === '10.244.3.1'));
        const brAddrs = await rawAddrs(netnsPath(node.ns), 'cni0');
        assert.ok(brAddrs.some((a) => a.local === '10.244.3.1' && a.prefixlen === 24), JSON.stringify(brAddrs));
        assert.ok(brAddrs.some((a) => a.local === 'fd00:10:244:3::1' && a.prefixlen === 64 && !a.tentative), JSON.stringify(brAddrs));
        assert.equal((await world.exec(node.ns, 'cat', ['/proc/sys/net/ipv4/ip_forward'])).trim(), '1');
        assert.equal((await world.exec(node.ns, 'cat', ['/proc/sys/net/ipv6/conf/all/forwarding'])).trim(), '1');
        for (const dev of ['cni0', r.interfaces[1].name]) {
          assert.equal((await world.exec(node.ns, 'cat', [`/proc/sys/net/ipv6/conf/${dev}/accept_ra`])).trim(), '0', `${dev} takes no RAs`);
        }
        assert.equal((await world.exec(pod.ns, 'cat', ['/proc/sys/net/ipv6/conf/eth0/accept_ra'])).trim(), '0', 'the pod takes no RAs from its bridge neighbours');

        // both reservations in the one dataDir, in host-local's layout
        assert.deepEqual(ipFiles(node.dataDir), [addrOf(v4.address), addrOf(v6.address)].sort());
        for (const ip of r.ips) assert.equal(readFileSync(path.join(node.dataDir, addrOf(ip.address)), 'utf8'), `${pod.id}\r\neth0`);
        assert.equal(readFileSync(path.join(node.dataDir, 'last_reserved_ip.0'), 'utf8'), addrOf(v4.address));
        assert.equal(readFileSync(path.join(node.dataDir, 'last_reserved_ip.1'), 'utf8'), addrOf(v6.address));

        const withPrev = { ...conf, prevResult: r };
        const check = await node.call('CHECK', withPrev, pod);
        if (version >= '0.4.0') assert.equal(check.code, 0, check.stdout);
        else assert.equal(check.json.code, 1, check.stdout);
        for (const verb of ['GC', 'STATUS']) {
          const o = await node.call(verb, { ...conf, 'cni.dev/valid-attachments': [{ containerID: pod.id, ifname: 'eth0' }] });
          if (version === '1.1.0') assert.equal(o.code, 0, `${verb}: ${o.stdout}`);
          else assert.equal(o.json.code, 1, `${verb} under ${version}: ${o.stdout}`);
        }
        assert.equal(ipFiles(node.dataDir).length, 2, 'GC listing the pod as valid kept both');

        expectOk(await node.call('DEL', withPrev, pod), 'DEL');
        assert.deepEqual(ipFiles(node.dataDir), [], 'both addresses released');
        assert.equal(await getLink(netnsPath(node.ns), r.interfaces[1].name), undefined);
        assert.equal(await getLink(pod.path, 'eth0'), undefined);
        expectOk(await node.call('DEL', withPrev, pod), 'repeated DEL');
      });

      it('IPv6 only: ADD gives one IPv6 address and route, CHECK/GC/STATUS follow the version rules, DEL removes it', async () => {
        const node = v6only;
        const pod = await node.addPod();
        const conf = node.conf(version);
        const r = expectOk(await node.call('ADD', conf, pod), 'ADD').json;
        assert.equal(r.ips.length, 1, JSON.stringify(r.ips));
        const [v6] = r.ips;
        assert.match(v6.address, /^fd00:10:244:3::[0-9a-f]+\/64$/);
        assert.equal(v6.gateway, 'fd00:10:244:3::1');
        assert.equal(v6.interface, 2);
        assert.equal('version' in v6, version < '1.0.0');
        if (version < '1.0.0') assert.equal(v6.version, '6');
        assert.deepEqual(r.routes, [{ dst: '::/0', gw: 'fd00:10:244:3::1' }]);
        assert.match(r.interfaces[2].mac, /^0a:58:/, 'a MAC of the 0a:58 convention, from the IPv6 address');

        const podAddrs = await rawAddrs(pod.path, 'eth0');
        assert.deepEqual(podAddrs.filter((a) => a.family === 'inet'), [], 'no IPv4 address');
        assert.ok(podAddrs.some((a) => `${a.local}/${a.prefixlen}` === v6.address));
        assert.ok(podAddrs.some((a) => a.scope === 'link' && a.local.startsWith('fe80::')), 'the pod still has a link-local address');
        assert.deepEqual(podAddrs.filter((a) => a.tentative || a.dadfailed), []);
        assert.equal((await world.exec(pod.ns, 'cat', ['/proc/sys/net/ipv6/conf/eth0/accept_ra'])).trim(), '0');
        assert.deepEqual(await listRoutes(pod.path, 4), [], 'no IPv4 route');
        const brAddrs = await rawAddrs(netnsPath(node.ns), 'cni0');
        assert.deepEqual(brAddrs.filter((a) => a.family === 'inet'), [], 'the bridge has no IPv4 gateway');
        assert.ok(brAddrs.some((a) => a.local === 'fd00:10:244:3::1'));
        assert.deepEqual(ipFiles(node.dataDir), [addrOf(v6.address)]);
        assert.equal(readFileSync(path.join(node.dataDir, 'last_reserved_ip.0'), 'utf8'), addrOf(v6.address), 'the only range is range 0');
        assert.ok(!existsSync(path.join(node.dataDir, 'last_reserved_ip.1')));

        const withPrev = { ...conf, prevResult: r };
        const check = await node.call('CHECK', withPrev, pod);
        if (version >= '0.4.0') assert.equal(check.code, 0, check.stdout);
        else assert.equal(check.json.code, 1, check.stdout);
        for (const verb of ['GC', 'STATUS']) {
          const o = await node.call(verb, { ...conf, 'cni.dev/valid-attachments': [{ containerID: pod.id, ifname: 'eth0' }] });
          if (version === '1.1.0') assert.equal(o.code, 0, `${verb}: ${o.stdout}`);
          else assert.equal(o.json.code, 1, `${verb} under ${version}: ${o.stdout}`);
        }
        assert.equal(ipFiles(node.dataDir).length, 1);
        expectOk(await node.call('DEL', withPrev, pod), 'DEL');
        assert.deepEqual(ipFiles(node.dataDir), []);
        assert.equal(await getLink(pod.path, 'eth0'), undefined);
      });
    });
  }

  it('dual stack: two pods ping and ping6 each other and both gateways right after ADD', async () => {
    const conf = dual.conf('1.1.0');
    const a = await dual.addPod();
    const b = await dual.addPod();
    const ra = expectOk(await dual.call('ADD', conf, a), 'ADD a').json;
    const rb = expectOk(await dual.call('ADD', conf, b), 'ADD b').json;
    // no sleep, no retry: an address still in DAD would fail the first ping6
    await ping(world, a.ns, addrOf(rb.ips[1].address));
    await ping(world, b.ns, addrOf(ra.ips[1].address));
    await ping(world, a.ns, 'fd00:10:244:3::1');
    await ping(world, a.ns, addrOf(rb.ips[0].address));
    await ping(world, b.ns, '10.244.3.1');
    const text = await world.exec(a.ns, 'ip', ['-6', 'addr', 'show', 'dev', 'eth0']);
    assert.doesNotMatch(text, /tentative/, text);
    expectOk(await dual.call('DEL', conf, a), 'DEL a');
    expectOk(await dual.call('DEL', conf, b), 'DEL b');
  });

  it('IPv6 only: two pods ping6 each other and the gateway right after ADD', async () => {
    const conf = v6only.conf('1.0.0');
    const a = await v6only.addPod();
    const b = await v6only.addPod();
    const ra = expectOk(await v6only.call('ADD', conf, a), 'ADD a').json;
    const rb = expectOk(await v6only.call('ADD', conf, b), 'ADD b').json;
    await ping(world, a.ns, addrOf(rb.ips[0].address));
    await ping(world, b.ns, addrOf(ra.ips[0].address));
    await ping(world, b.ns, 'fd00:10:244:3::1');
    assert.notEqual(ra.interfaces[2].mac, rb.interfaces[2].mac);
    expectOk(await v6only.call('DEL', conf, a), 'DEL a');
    expectOk(await v6only.call('DEL', conf, b), 'DEL b');
  });

  it('isDefaultGateway=false routes each family\'s cluster network via its gateway', async () => {
    const pod = await dual.addPod();
    const conf = dual.conf('1.1.0', { isDefaultGateway: false });
    const r = expectOk(await dual.call('ADD', conf, pod), 'ADD').json;
    assert.deepEqual(r.routes, [{ dst: V4_NET, gw: '10.244.3.1' }, { dst: V6_NET, gw: 'fd00:10:244:3::1' }]);
    const routes6 = await listRoutes(pod.path, 6);
    assert.ok(!routes6.some((x) => x.dst === 'default'));
    assert.ok(routes6.some((x) => x.dst === V6_NET && x.gateway === 'fd00:10:244:3::1'), JSON.stringify(routes6));
    expectOk(await dual.call('CHECK', { ...conf, prevResult: r }, pod), 'CHECK');
    expectOk(await dual.call('DEL', conf, pod), 'DEL');
  });

  it('honours one requested address per family from args.cni.ips, runtimeConfig.ips and CNI_ARGS', async () => {
    const conf = dual.conf('1.1.0');
    const cases: [Record<string, unknown>, string | undefined, string[]][] = [
      [{ args: { cni: { ips: ['10.244.3.210', 'fd00:10:244:3::d2'] } } }, undefined, ['10.244.3.210/24', 'fd00:10:244:3::d2/64']],
      [{ runtimeConfig: { ips: ['fd00:10:244:3::d3/64'] } }, undefined, [/^10\.244\.3\./.source, 'fd00:10:244:3::d3/64']],
      [{}, 'IgnoreUnknown=1;IP=10.244.3.212,fd00:10:244:3::d4', ['10.244.3.212/24', 'fd00:10:244:3::d4/64']],
    ];
    const pods = [];
    for (const [extra, args, want] of cases) {
      const pod = await dual.addPod();
      pods.push(pod);
      const r = expectOk(await dual.call('ADD', { ...conf, ...extra }, pod, { args }), `ADD ${want}`).json;
      assert.equal(r.ips.length, 2);
      want.forEach((w, i) => (w.startsWith('^') ? assert.match(r.ips[i].address, new RegExp(w)) : assert.equal(r.ips[i].address, w)));
    }
    const two = await dual.addPod();
    const o = await dual.call('ADD', { ...conf, args: { cni: { ips: ['fd00:10:244:3::d5', 'fd00:10:244:3::d6'] } } }, two);
    assert.equal(o.json.code, 7, o.stdout);
    assert.match(o.json.msg, /exactly one IPv6 address/);
    const v4OnV6 = await v6only.addPod();
    const o2 = await v6only.call('ADD', { ...v6only.conf('1.1.0'), args: { cni: { ips: ['10.244.3.9'] } } }, v4OnV6);
    assert.equal(o2.json.code, 7, o2.stdout);
    assert.match(o2.json.msg, /requested IP 10\.244\.3\.9 is IPv4, but .* has no FLANNEL_SUBNET/);
    const anycast = await dual.addPod();
    const o3 = await dual.call('ADD', { ...conf, args: { cni: { ips: ['fd00:10:244:3::'] } } }, anycast);
    assert.equal(o3.json.code, 7, o3.stdout);
    assert.match(o3.json.msg, /subnet-router anycast/);
    for (const p of pods) expectOk(await dual.call('DEL', conf, p), 'DEL');
    assert.deepEqual(ipFiles(dual.dataDir), [], 'the refused ADDs reserved nothing in either family');
  });

  it('rolls back the IPv4 reservation when the IPv6 one fails (requested IPv6 address taken)', async () => {
    const conf = dual.conf('1.1.0');
    const holder = await dual.addPod();
    expectOk(await dual.call('ADD', { ...conf, args: { cni: { ips: ['fd00:10:244:3::77'] } } }, holder), 'ADD holder');
    const before = ipFiles(dual.dataDir);
    const pod = await dual.addPod();
    const o = await dual.call('ADD', { ...conf, args: { cni: { ips: ['10.244.3.77', 'fd00:10:244:3::77'] } } }, pod);
    assert.equal(o.json.code, 100, o.stdout);
    assert.match(o.json.msg, /fd00:10:244:3::77 is already allocated to container .*pod/);
    assert.deepEqual(ipFiles(dual.dataDir), before, 'the IPv4 address reserved first was released again');
    assert.equal(await getLink(pod.path, 'eth0'), undefined);
    expectOk(await dual.call('DEL', conf, holder), 'DEL holder');
    assert.deepEqual(ipFiles(dual.dataDir), []);
  });

  it('rolls back veth and both reservations when the pod refuses IPv6 (disable_ipv6 in the pod)', async () => {
    const node = await PluginNode.create(world, 'dr', DUAL);
    const conf = node.conf('1.0.0');
    const pod = await node.addPod();
    // a new link inherits `default`: the pod's eth0 will refuse IPv6 addresses
    await world.exec(pod.ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1']);
    const o = await node.call('ADD', conf, pod);
    assert.equal(o.code, 1);
    assert.equal(o.json.code, 999, o.stdout);
    // the first IPv6 step in the pod that needs IPv6 enabled fails, after the IPv4 reservation
    assert.match(o.json.msg, /setting up eth0 in .*: addr add [0-9a-f:]+\/64 dev eth0 nodad/);
    assert.deepEqual(ipFiles(node.dataDir), [], 'both addresses released');
    assert.deepEqual(await hostVeths(node), [], 'host veth removed');
    assert.equal(await getLink(pod.path, 'eth0'), undefined, 'pod end gone with its peer');
    // the same pod works once IPv6 is allowed again
    await world.exec(pod.ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.default.disable_ipv6=0']);
    const r = expectOk(await node.call('ADD', conf, pod), 'ADD after fix').json;
    assert.equal(r.ips.length, 2);
    expectOk(await node.call('DEL', conf, pod), 'DEL');
  });

  it('rolls back both families when a route fails after the addresses are in (pod already has an IPv6 default route)', async () => {
    const node = await PluginNode.create(world, 'dq', DUAL);
    const conf = node.conf('1.1.0');
    const pod = await node.addPod();
    await ipBatch(pod.path, [
      'link add spare0 type veth peer name spare1',
      'link set spare0 up',
      'link set spare1 up',
      'addr add 2001:db8::2/64 dev spare0 nodad',
      'route add default via 2001:db8::1 dev spare0',
    ]);
    const o = await node.call('ADD', conf, pod);
    assert.equal(o.code, 1);
    assert.match(o.json.msg, /route add default via fd00:10:244:3::1 dev eth0 .*File exists/);
    assert.deepEqual(ipFiles(node.dataDir), []);
    assert.deepEqual(await hostVeths(node), []);
    assert.ok(await getLink(pod.path, 'spare0'), 'the pod\'s own links untouched');
  });

  it('20 concurrent dual-stack ADDs get distinct addresses in both families; DEL leaves nothing', async () => {
    const N = 20;
    const node = await PluginNode.create(world, 'dc', DUAL);
    const conf = node.conf('1.1.0');
    const pods = await Promise.all(Array.from({ length: N }, () => node.addPod()));
    const outcomes = await Promise.all(pods.map((p) => node.call('ADD', conf, p)));
    outcomes.forEach((o, i) => expectOk(o, `ADD #${i}`));
    for (const family of [0, 1]) {
      const ips = outcomes.map((o) => o.json.ips[family].address as string);
      assert.equal(new Set(ips).size, N, `family #${family}: addresses not distinct: ${ips.join(' ')}`);
    }
    assert.equal(ipFiles(node.dataDir).length, 2 * N);
    assert.equal((await hostVeths(node)).length, N);
    await ping(world, pods[0].ns, addrOf(outcomes[N - 1].json.ips[1].address));
    const dels = await Promise.all(pods.map((p) => node.call('DEL', conf, p)));
    dels.forEach((o, i) => expectOk(o, `DEL #${i}`));
    assert.deepEqual(ipFiles(node.dataDir), []);
    assert.deepEqual(await hostVeths(node), []);
  });

  it('CHECK names a missing IPv6 address and route, and a tentative one', async () => {
    const conf = dual.conf('1.1.0');
    const pod = await dual.addPod();
    const r = expectOk(await dual.call('ADD', conf, pod), 'ADD').json;
    await world.exec(pod.ns, 'ip', ['-6', 'route', 'del', 'default']);
    await world.exec(pod.ns, 'ip', ['-6', 'addr', 'del', r.ips[1].address, 'dev', 'eth0']);
    const check = await dual.call('CHECK', { ...conf, prevResult: r }, pod);
    assert.equal(check.code, 1);
    assert.match(check.json.msg, /lacks address fd00:10:244:3::[0-9a-f]+\/64/);
    assert.match(check.json.msg, /route ::\/0 via fd00:10:244:3::1 is missing/);
    assert.doesNotMatch(check.json.msg, /10\.244\.3\./, 'the IPv4 side is intact and not reported');
    // put it back the way the kernel does by default: with DAD, i.e. tentative for a while
    // (30 probes a second apart, so it is still tentative when CHECK looks)
    await world.exec(pod.ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.eth0.dad_transmits=30']);
    await world.exec(pod.ns, 'ip', ['-6', 'addr', 'add', r.ips[1].address, 'dev', 'eth0']);
    await world.exec(pod.ns, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fd00:10:244:3::1', 'dev', 'eth0']);
    const again = await dual.call('CHECK', { ...conf, prevResult: r }, pod);
    assert.equal(again.code, 1, again.stdout);
    assert.match(again.json.msg, /pod address fd00:10:244:3::[0-9a-f]+\/64 is tentative/);
    expectOk(await dual.call('DEL', conf, pod), 'DEL');
  });

  it('GC releases both addresses of stale attachments and keeps both of the listed one', async () => {
    const conf = dual.conf('1.1.0');
    const pods = [await dual.addPod(), await dual.addPod()];
    const results = [];
    for (const p of pods) results.push(expectOk(await dual.call('ADD', conf, p), 'ADD').json);
    expectOk(await dual.call('GC', { ...conf, 'cni.dev/valid-attachments': [{ containerID: pods[0].id, ifname: 'eth0' }] }), 'GC');
    assert.deepEqual(ipFiles(dual.dataDir), results[0].ips.map((ip: { address: string }) => addrOf(ip.address)).sort());
    assert.deepEqual(await hostVeths(dual), [results[0].interfaces[1].name]);
    expectOk(await dual.call('DEL', conf, pods[0]), 'DEL');
  });

  it('STATUS is 50 when the IPv6 subnet is full; ADD then fails with 101 and keeps no IPv4 address', async () => {
    // a /126 keeps two pod addresses: ::2 and ::3 (no broadcast in IPv6)
    const node = await PluginNode.create(world, 'df', { ipv6Network: V6_NET, ipv6Subnet: 'fd00:10:244:3::1/126' });
    const conf = node.conf('1.1.0');
    const got = [];
    for (let i = 0; i < 2; i++) {
      const pod = await node.addPod();
      got.push(addrOf(expectOk(await node.call('ADD', conf, pod), `ADD ${i}`).json.ips[1].address));
      if (i === 0) assert.equal((await node.call('STATUS', conf)).code, 0);
    }
    assert.deepEqual(got.sort(), ['fd00:10:244:3::2', 'fd00:10:244:3::3'], 'the last address of the subnet is a pod address');
    const status = await node.call('STATUS', conf);
    assert.equal(status.json.code, 50, status.stdout);
    assert.match(status.json.msg, /all 2 pod addresses of fd00:10:244:3::\/126 are allocated/);
    const pod = await node.addPod();
    const full = await node.call('ADD', conf, pod);
    assert.equal(full.json.code, 101, full.stdout);
    assert.match(full.json.msg, /no free address in fd00:10:244:3::\/126/);
    assert.equal(ipFiles(node.dataDir).filter((f) => !f.includes(':')).length, 2, 'the third pod\'s IPv4 address was released');
  });

  it('a dual-stack subnet file with an IPv4 subnet in the IPv6 key is code 7 naming the key', async () => {
    const node = await PluginNode.create(world, 'dk', { ipv6Subnet: '10.250.0.1/24' });
    const pod = await node.addPod();
    const o = await node.call('ADD', node.conf('1.1.0'), pod);
    assert.equal(o.json.code, 7, o.stdout);
    assert.match(o.json.msg, /FLANNEL_IPV6_SUBNET=10\.250\.0\.0\/24 must be an IPv6 subnet/);
    assert.deepEqual(ipFiles(node.dataDir), []);
  });

  it('an MTU below IPv6\'s minimum of 1280 is code 7 on an IPv6 node, before anything is reserved', async () => {
    const pod = await v6only.addPod();
    const o = await v6only.call('ADD', v6only.conf('1.1.0', { mtu: 1200 }), pod);
    assert.equal(o.json.code, 7, o.stdout);
    assert.match(o.json.msg, /mtu is 1200, below IPv6's minimum link MTU of 1280/);
    assert.deepEqual(ipFiles(v6only.dataDir), []);
    assert.equal(await getLink(pod.path, 'eth0'), undefined);
  });

  it('keeps both families apart from earlier IPv4-only pods on a node that turns dual stack', async () => {
    const node = await PluginNode.create(world, 'du');
    const conf = node.conf('1.1.0');
    const old = await node.addPod();
    const r0 = expectOk(await node.call('ADD', conf, old), 'ADD v4-only').json;
    node.writeSubnetFile(DUAL);
    const pod = await node.addPod();
    const r1 = expectOk(await node.call('ADD', conf, pod), 'ADD dual').json;
    assert.notEqual(r1.ips[0].address, r0.ips[0].address);
    assert.equal(r1.ips.length, 2);
    await ping(world, pod.ns, addrOf(r0.ips[0].address));
    expectOk(await node.call('DEL', conf, old), 'DEL');
    expectOk(await node.call('DEL', conf, pod), 'DEL');
    assert.deepEqual(ipFiles(node.dataDir), []);
  });
});
