// The built plugin, run as a runtime runs it, through ADD/CHECK/DEL/GC/STATUS/VERSION for
// every supported spec version, against the real kernel in namespaces made for the test.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../lib/exec.js';
import { netnsId } from '../../lib/kernel/ns.js';
import { getLink, ipBatch, listAddrs, listLinks, listNeighbours, listRoutes } from '../../lib/kernel/ip.js';
import { netnsPath, waitFor, World } from '../../harness/world.js';
import { expectOk, PluginNode } from '../helpers/plugin-node.js';
import { runCni } from '../../harness/cni.js';

const VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

function ipFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
}

async function hostVeths(node: PluginNode): Promise<string[]> {
  return (await listLinks(netnsPath(node.ns))).map((l) => l.ifname).filter((n) => n.startsWith('twv'));
}

describe('plugin lifecycle (built binary, real namespaces)', function () {
  const world = new World('p');
  let node: PluginNode;

  before(async () => {
    node = await PluginNode.create(world, 'lc');
  });
  after(() => world.cleanup());

  it('answers VERSION with every supported version, without needing a config', async () => {
    const o = expectOk(await node.call('VERSION', ''), 'VERSION');
    assert.deepEqual(o.json.supportedVersions, VERSIONS);
    assert.equal(o.json.cniVersion, '1.1.0');
  });

  it('answers VERSION with an empty PATH: the binary needs no Node installed', async () => {
    const o = await runCni({ command: 'VERSION', config: '', extraEnv: { PATH: '' } });
    assert.equal(o.code, 0, o.stdout + o.stderr);
    assert.deepEqual(o.json.supportedVersions, VERSIONS);
  });

  for (const version of VERSIONS) {
    describe(`cniVersion ${version}`, () => {
      it('VERSION with this cniVersion on stdin lists it', async () => {
        const o = expectOk(await node.call('VERSION', { cniVersion: version }), 'VERSION');
        assert.ok(o.json.supportedVersions.includes(version));
      });

      it('ADD plumbs the pod, CHECK/GC/STATUS follow the version rules, DEL removes everything', async () => {
        const pod = await node.addPod();
        const conf = node.conf(version, { dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] } });
        const add = expectOk(await node.call('ADD', conf, pod), 'ADD');
        const r = add.json;
        assert.equal(r.cniVersion, version);
        assert.deepEqual(r.interfaces.map((i: { name: string }) => i.name).filter((n: string) => !n.startsWith('twv')), ['cni0', 'eth0']);
        assert.equal(r.interfaces[2].sandbox, pod.path);
        assert.equal(r.interfaces[1].sandbox, undefined);
        assert.equal(r.ips.length, 1);
        assert.equal(r.ips[0].interface, 2);
        assert.equal(r.ips[0].gateway, '10.244.3.1');
        assert.match(r.ips[0].address, /^10\.244\.3\.\d+\/24$/);
        assert.equal('version' in r.ips[0], version < '1.0.0', 'ips[].version exists exactly before 1.0.0');
        assert.equal('mtu' in r.interfaces[2], version === '1.1.0', 'interfaces[].mtu exists exactly in 1.1.0');
        assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0', gw: '10.244.3.1' }]);
        assert.deepEqual(r.dns, { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] });

        // the kernel agrees with the result
        const [podAddr] = await listAddrs(pod.path, 'eth0');
        assert.equal(`${podAddr.addr_info.find((a) => a.family === 'inet')!.local}/24`, r.ips[0].address);
        const podLink = (await getLink(pod.path, 'eth0'))!;
        assert.equal(podLink.mtu, 1450);
        assert.equal(podLink.address, r.interfaces[2].mac);
        const routes = await listRoutes(pod.path);
        assert.ok(routes.some((x) => x.dst === 'default' && x.gateway === '10.244.3.1'), JSON.stringify(routes));
        const veth = (await getLink(netnsPath(node.ns), r.interfaces[1].name))!;
        assert.equal(veth.master, 'cni0');
        assert.equal(veth.linkinfo?.info_slave_data?.hairpin, true);
        const bridge = (await getLink(netnsPath(node.ns), 'cni0'))!;
        assert.equal(bridge.mtu, 1450);
        assert.ok(bridge.flags.includes('UP'));
        const [brAddr] = await listAddrs(netnsPath(node.ns), 'cni0');
        assert.ok(brAddr.addr_info.some((a) => a.local === '10.244.3.1' && a.prefixlen === 24));
        assert.equal((await world.exec(node.ns, 'cat', ['/proc/sys/net/ipv4/ip_forward'])).trim(), '1');
        const ip = r.ips[0].address.split('/')[0];
        assert.ok(ipFiles(node.dataDir).includes(ip));

        const withPrev = { ...conf, prevResult: r };
        const check = await node.call('CHECK', withPrev, pod);
        if (version >= '0.4.0') assert.equal(check.code, 0, check.stdout);
        else assert.equal(check.json.code, 1, check.stdout);

        for (const verb of ['GC', 'STATUS']) {
          const o = await node.call(verb, { ...conf, 'cni.dev/valid-attachments': [{ containerID: pod.id, ifname: 'eth0' }] });
          if (version === '1.1.0') assert.equal(o.code, 0, `${verb}: ${o.stdout}`);
          else assert.equal(o.json.code, 1, `${verb} under ${version}: ${o.stdout}`);
        }
        // GC listing the pod as valid kept it
        assert.ok(ipFiles(node.dataDir).includes(ip));

        expectOk(await node.call('DEL', withPrev, pod), 'DEL');
        assert.equal(await getLink(netnsPath(node.ns), r.interfaces[1].name), undefined);
        assert.equal(await getLink(pod.path, 'eth0'), undefined);
        assert.ok(!ipFiles(node.dataDir).includes(ip));
        expectOk(await node.call('DEL', withPrev, pod), 'repeated DEL');
      });
    });
  }

  it('works with a /proc/PID/ns/net namespace path (not a named netns)', async () => {
    const holder = await node.addPod();
    const sleeper = world.spawnIn(holder.ns, 'sleep', ['300']);
    await new Promise((r) => sleeper.once('spawn', r));
    // nsenter execs sleep: wait until the pid is in the pod namespace
    const procPath = `/proc/${sleeper.pid}/ns/net`;
    await waitFor('sleep inside the pod namespace', () => netnsId(procPath) === netnsId(holder.path));
    const pod = { ...holder, path: procPath };
    const conf = node.conf('1.1.0');
    const r = expectOk(await node.call('ADD', conf, pod), 'ADD').json;
    assert.equal(r.interfaces[2].sandbox, procPath);
    assert.ok(await getLink(holder.path, 'eth0'), 'eth0 is in the namespace behind the /proc path');
    expectOk(await node.call('CHECK', { ...conf, prevResult: r }, pod), 'CHECK');
    expectOk(await node.call('DEL', conf, pod), 'DEL');
    assert.equal(await getLink(holder.path, 'eth0'), undefined);
  });

  it('CHECK names what is missing', async () => {
    const pod = await node.addPod();
    const conf = node.conf('1.0.0');
    const r = expectOk(await node.call('ADD', conf, pod), 'ADD').json;
    await world.exec(pod.ns, 'ip', ['route', 'del', 'default']);
    await world.exec(pod.ns, 'ip', ['addr', 'flush', 'dev', 'eth0']);
    const check = await node.call('CHECK', { ...conf, prevResult: r }, pod);
    assert.equal(check.code, 1);
    assert.match(check.json.msg, /lacks address 10\.244\.3\.\d+\/24/);
    assert.match(check.json.msg, /route 0\.0\.0\.0\/0 via 10\.244\.3\.1 is missing/);
    await world.exec(node.ns, 'ip', ['link', 'set', r.interfaces[1].name, 'nomaster']);
    const check2 = await node.call('CHECK', { ...conf, prevResult: r }, pod);
    assert.match(check2.json.msg, /is not attached to cni0/);
    expectOk(await node.call('DEL', conf, pod), 'DEL');
  });

  it('DEL succeeds when the namespace is gone and when the pod was never added', async () => {
    const pod = await node.addPod();
    const conf = node.conf('1.1.0');
    const r = expectOk(await node.call('ADD', conf, pod), 'ADD').json;
    await run('ip', ['netns', 'del', pod.ns]);
    const gone = await node.call('DEL', conf, pod);
    assert.equal(gone.code, 0, gone.stdout);
    assert.equal(await getLink(netnsPath(node.ns), r.interfaces[1].name), undefined);
    assert.ok(!ipFiles(node.dataDir).includes(r.ips[0].address.split('/')[0]));
    const never = await node.call('DEL', conf, { id: 'never-added-1', path: '' });
    assert.equal(never.code, 0, never.stdout);
  });

  it('GC releases addresses and veths of attachments not listed, and keeps the listed ones', async () => {
    const conf = node.conf('1.1.0');
    const pods = [await node.addPod(), await node.addPod(), await node.addPod()];
    const results = [];
    for (const p of pods) results.push(expectOk(await node.call('ADD', conf, p), 'ADD').json);
    const gc = await node.call('GC', { ...conf, 'cni.dev/valid-attachments': [{ containerID: pods[0].id, ifname: 'eth0' }] });
    assert.equal(gc.code, 0, gc.stdout);
    const files = ipFiles(node.dataDir);
    const veths = await hostVeths(node);
    assert.ok(files.includes(results[0].ips[0].address.split('/')[0]));
    assert.ok(veths.includes(results[0].interfaces[1].name));
    for (const r of results.slice(1)) {
      assert.ok(!files.includes(r.ips[0].address.split('/')[0]), 'stale address released');
      assert.ok(!veths.includes(r.interfaces[1].name), 'stale veth removed');
    }
    expectOk(await node.call('DEL', conf, pods[0]), 'DEL');
  });

  it('two pods reach each other and the gateway over the bridge', async () => {
    const conf = node.conf('1.0.0');
    const a = await node.addPod();
    const b = await node.addPod();
    const ra = expectOk(await node.call('ADD', conf, a), 'ADD a').json;
    const rb = expectOk(await node.call('ADD', conf, b), 'ADD b').json;
    const ipB = rb.ips[0].address.split('/')[0];
    const ipA = ra.ips[0].address.split('/')[0];
    await world.exec(a.ns, 'ping', ['-c', '1', '-W', '5', ipB]);
    await world.exec(b.ns, 'ping', ['-c', '1', '-W', '5', ipA]);
    await world.exec(a.ns, 'ping', ['-c', '1', '-W', '5', '10.244.3.1']);
    expectOk(await node.call('DEL', conf, a), 'DEL a');
    expectOk(await node.call('DEL', conf, b), 'DEL b');
  });

  it('an ADD leaves the node\'s ARP entries on the bridge alone and reports the bridge\'s real MAC', async () => {
    const conf = node.conf('1.1.0');
    const a = await node.addPod();
    const ra = expectOk(await node.call('ADD', conf, a), 'ADD a').json;
    const ipA = ra.ips[0].address.split('/')[0];
    // what the node would have learnt by talking to pod a
    await ipBatch(netnsPath(node.ns), [`neigh replace ${ipA} lladdr ${ra.interfaces[2].mac} dev cni0 nud reachable`]);
    const b = await node.addPod();
    const rb = expectOk(await node.call('ADD', conf, b), 'ADD b').json;
    const neigh = await listNeighbours(netnsPath(node.ns), 'cni0');
    assert.ok(neigh.some((n) => n.dst === ipA && n.lladdr === ra.interfaces[2].mac), `pod a's entry survived: ${JSON.stringify(neigh)}`);
    const bridge = (await getLink(netnsPath(node.ns), 'cni0'))!;
    assert.equal(rb.interfaces[0].mac, bridge.address);
    expectOk(await node.call('DEL', conf, a), 'DEL a');
    expectOk(await node.call('DEL', conf, b), 'DEL b');
  });

  it('honours isDefaultGateway=false, hairpinMode=false and the mtu override', async () => {
    const pod = await node.addPod();
    const conf = node.conf('1.1.0', { isDefaultGateway: false, hairpinMode: false, mtu: 1400 });
    const r = expectOk(await node.call('ADD', conf, pod), 'ADD').json;
    assert.deepEqual(r.routes, [{ dst: '10.244.0.0/16', gw: '10.244.3.1' }]);
    const routes = await listRoutes(pod.path);
    assert.ok(!routes.some((x) => x.dst === 'default'));
    assert.ok(routes.some((x) => x.dst === '10.244.0.0/16' && x.gateway === '10.244.3.1'));
    assert.equal((await getLink(pod.path, 'eth0'))!.mtu, 1400);
    assert.equal(r.interfaces[2].mtu, 1400);
    assert.equal((await getLink(netnsPath(node.ns), r.interfaces[1].name))!.linkinfo?.info_slave_data?.hairpin, false);
    expectOk(await node.call('DEL', conf, pod), 'DEL');
  });

  it('honours a requested IP from args.cni.ips, runtimeConfig.ips and CNI_ARGS, and refuses a taken one', async () => {
    const conf = node.conf('1.1.0');
    const cases: [Record<string, unknown>, string | undefined, string][] = [
      [{ args: { cni: { ips: ['10.244.3.200'] } } }, undefined, '10.244.3.200'],
      [{ runtimeConfig: { ips: ['10.244.3.201/24'] } }, undefined, '10.244.3.201'],
      [{}, 'IgnoreUnknown=1;IP=10.244.3.202', '10.244.3.202'],
    ];
    const pods = [];
    for (const [extra, args, want] of cases) {
      const pod = await node.addPod();
      pods.push(pod);
      const r = expectOk(await node.call('ADD', { ...conf, ...extra }, pod, { args }), `ADD ${want}`).json;
      assert.equal(r.ips[0].address, `${want}/24`);
    }
    const clash = await node.addPod();
    const o = await node.call('ADD', { ...conf, args: { cni: { ips: ['10.244.3.200'] } } }, clash);
    assert.equal(o.code, 1);
    assert.equal(o.json.code, 100);
    assert.match(o.json.msg, /10\.244\.3\.200 is already allocated to container .*pod/);
    assert.equal(await getLink(clash.path, 'eth0'), undefined);
    for (const p of pods) expectOk(await node.call('DEL', conf, p), 'DEL');
  });

  it('STATUS is 50 without a subnet file or with a full subnet; ADD then says why', async () => {
    const small = await PluginNode.create(world, 'st', { noSubnetFile: true });
    const conf = small.conf('1.1.0');
    const s1 = await small.call('STATUS', conf);
    assert.equal(s1.json.code, 50);
    assert.match(s1.json.msg, /subnet file .* does not exist/);
    const pod = await small.addPod();
    const a1 = await small.call('ADD', conf, pod);
    assert.equal(a1.json.code, 11);
    small.writeSubnetFile({ subnet: '10.244.9.1/30' }); // one usable address: .2
    assert.equal((await small.call('STATUS', conf)).code, 0);
    expectOk(await small.call('ADD', conf, pod), 'ADD');
    const s2 = await small.call('STATUS', conf);
    assert.equal(s2.json.code, 50);
    assert.match(s2.json.msg, /all 1 pod addresses of 10\.244\.9\.0\/30 are allocated/);
    const pod2 = await small.addPod();
    const full = await small.call('ADD', conf, pod2);
    assert.equal(full.json.code, 101);
    assert.match(full.json.msg, /no free address in 10\.244\.9\.0\/30/);
    assert.equal(await getLink(pod2.path, 'eth0'), undefined);
    expectOk(await small.call('DEL', conf, pod), 'DEL');
    assert.equal(ipFiles(small.dataDir).length, 0);
    assert.deepEqual(await hostVeths(small), []);
    assert.ok(existsSync(path.join(small.dataDir, 'lock')));
  });
});
