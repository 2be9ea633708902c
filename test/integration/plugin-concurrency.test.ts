// Many ADDs at once (they race to create cni0 and for addresses) and ADDs that fail half-way:
// distinct addresses, and nothing left behind afterwards.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { getLink, ipBatch, listLinks } from '../../lib/kernel/ip.js';
import { expectOk, PluginNode } from '../helpers/plugin-node.js';
import { netnsPath, World } from '../../harness/world.js';

const N = 30;

function ipFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
}

async function hostVeths(node: PluginNode): Promise<string[]> {
  return (await listLinks(netnsPath(node.ns))).map((l) => l.ifname).filter((n) => n.startsWith('twv'));
}

describe('plugin under concurrency and failure (built binary, real namespaces)', function () {
  const world = new World('p');
  after(() => world.cleanup());

  it(`${N} concurrent ADDs on a node without a bridge get distinct addresses; DEL leaves nothing`, async () => {
    const node = await PluginNode.create(world, 'cc');
    const conf = node.conf('1.1.0');
    const pods = await Promise.all(Array.from({ length: N }, () => node.addPod()));
    const outcomes = await Promise.all(pods.map((p) => node.call('ADD', conf, p)));
    outcomes.forEach((o, i) => expectOk(o, `ADD #${i}`));
    const ips = outcomes.map((o) => o.json.ips[0].address as string);
    assert.equal(new Set(ips).size, N, `addresses not distinct: ${ips.join(' ')}`);
    assert.equal(ipFiles(node.dataDir).length, N);
    assert.equal((await hostVeths(node)).length, N);
    // every pod really got its address, and all share one bridge
    const bridges = new Set((await listLinks(netnsPath(node.ns))).filter((l) => l.ifname.startsWith('twv')).map((l) => l.master));
    assert.deepEqual([...bridges], ['cni0']);
    await world.exec(pods[0].ns, 'ping', ['-c', '1', '-W', '5', ips[N - 1].split('/')[0]]);

    const dels = await Promise.all(pods.map((p) => node.call('DEL', conf, p)));
    dels.forEach((o, i) => expectOk(o, `DEL #${i}`));
    assert.deepEqual(ipFiles(node.dataDir), []);
    assert.deepEqual(await hostVeths(node), []);
    for (const p of pods) assert.equal(await getLink(p.path, 'eth0'), undefined);
  });

  it('rolls back veth and address when the pod side fails (pod already has a default route)', async () => {
    const node = await PluginNode.create(world, 'rb');
    const conf = node.conf('1.0.0');
    const pod = await node.addPod();
    // The injected failure: a spare link with a default route, so `route add default` fails
    // after the veth pair exists and the address is reserved.
    await ipBatch(pod.path, [
      'link add spare0 type veth peer name spare1',
      'addr add 192.0.2.2/24 dev spare0',
      'link set spare0 up',
      'link set spare1 up',
      'route add default via 192.0.2.1 dev spare0',
    ]);
    const o = await node.call('ADD', conf, pod);
    assert.equal(o.code, 1);
    assert.match(o.json.msg, /setting up eth0 in .*File exists/);
    assert.deepEqual(ipFiles(node.dataDir), [], 'address released');
    assert.deepEqual(await hostVeths(node), [], 'host veth removed');
    assert.equal(await getLink(pod.path, 'eth0'), undefined, 'pod end gone with its peer');
    assert.ok(await getLink(pod.path, 'spare0'), 'the pod\'s own links untouched');
  });

  it('rolls back the address when the interface name is taken in the pod, touching nothing else', async () => {
    const node = await PluginNode.create(world, 'rn');
    const conf = node.conf('1.1.0');
    const pod = await node.addPod();
    await ipBatch(pod.path, ['link add eth0 type veth peer name eth0p']);
    const o = await node.call('ADD', conf, pod);
    assert.equal(o.code, 1);
    assert.equal(o.json.code, 4, o.stdout);
    assert.match(o.json.msg, /CNI_IFNAME=eth0 already exists in CNI_NETNS=/);
    assert.deepEqual(ipFiles(node.dataDir), []);
    assert.deepEqual(await hostVeths(node), []);
    assert.ok(await getLink(pod.path, 'eth0'), 'the pod\'s existing eth0 is not deleted');
  });

  it('a repeated ADD is refused without breaking the first attachment', async () => {
    const node = await PluginNode.create(world, 'rd');
    const conf = node.conf('1.1.0');
    const pod = await node.addPod();
    const first = expectOk(await node.call('ADD', conf, pod), 'ADD').json;
    const again = await node.call('ADD', conf, pod);
    assert.equal(again.code, 1);
    assert.equal(again.json.code, 102, again.stdout);
    assert.match(again.json.msg, /already attached as eth0 .*DEL it first/);
    assert.deepEqual(ipFiles(node.dataDir), [first.ips[0].address.split('/')[0]]);
    assert.deepEqual(await hostVeths(node), [first.interfaces[1].name]);
    await world.exec(pod.ns, 'ping', ['-c', '1', '-W', '5', '10.244.3.1']);
    expectOk(await node.call('DEL', conf, pod), 'DEL');
  });
});
