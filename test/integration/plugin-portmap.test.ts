// twill as the first plugin of a conflist followed by Debian's portmap, with this test playing
// the runtime: ADD in order (each plugin gets the previous result as prevResult), DEL in
// reverse. Traffic to the node's host port must reach the pod.
import assert from 'node:assert/strict';
import { ipBatch, getLink } from '../../lib/kernel/ip.js';
import { runCni } from '../../harness/cni.js';
import { expectOk, PluginNode } from '../helpers/plugin-node.js';
import { netnsPath, waitFor, World } from '../../harness/world.js';

const NODE_BIN = process.execPath; // Node 24 from node_modules (mocha runs on it)

describe('plugin in a conflist with portmap (built binary + /usr/lib/cni/portmap)', function () {
  const world = new World('p');
  after(() => world.cleanup());

  it('ADD twill then portmap with prevResult; the host port reaches the pod; DEL in reverse', async () => {
    const node = await PluginNode.create(world, 'pm');
    const pod = await node.addPod();
    const client = await world.addNetns('pmcl');
    // a client outside the node, on a plain routed link: 192.0.2.1 (node) <-> 192.0.2.2 (client)
    await ipBatch(netnsPath(node.ns), [
      `link add up0 type veth peer name up0 netns ${netnsPath(client)}`,
      'addr add 192.0.2.1/24 dev up0',
      'link set up0 up',
    ]);
    await ipBatch(netnsPath(client), ['addr add 192.0.2.2/24 dev up0', 'link set up0 up']);

    const conflist = {
      cniVersion: '1.0.0',
      name: 'pm-net',
      plugins: [
        { type: 'twill', subnetFile: node.subnetFile, dataDir: node.dataDir },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      ],
    };
    const runtimeConfig = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] };
    const pluginConf = (i: number, prevResult?: object): Record<string, unknown> => {
      const p = conflist.plugins[i] as Record<string, unknown>;
      return {
        ...p,
        cniVersion: conflist.cniVersion,
        name: conflist.name,
        ...(p.capabilities ? { runtimeConfig } : {}),
        ...(prevResult ? { prevResult } : {}),
      };
    };
    const call = (command: string, i: number, prevResult?: object) =>
      runCni({
        command,
        config: pluginConf(i, prevResult),
        runIn: node.ns,
        containerId: pod.id,
        netns: pod.path,
        ifname: 'eth0',
        binary: i === 0 ? undefined : '/usr/lib/cni/portmap',
      });

    const r1 = expectOk(await call('ADD', 0), 'twill ADD').json;
    const r2 = expectOk(await call('ADD', 1, r1), 'portmap ADD').json;
    // portmap passes the result through: the chain's final result is twill's
    assert.deepEqual(r2.ips, r1.ips);
    assert.deepEqual(r2.interfaces, r1.interfaces);
    const podIp = r1.ips[0].address.split('/')[0];

    const nat = await world.exec(node.ns, 'iptables', ['-t', 'nat', '-S']);
    assert.match(nat, new RegExp(`--dport 8080 .*--to-destination ${podIp.replace(/\./g, '\\.')}:80`));

    world.spawnIn(pod.ns, NODE_BIN, ['-e', "require('net').createServer((s) => s.end('hello from the pod')).listen(80)"]);
    const fetch = `const s = require('net').connect(8080, '192.0.2.1'); let d = ''; s.on('data', (b) => (d += b)); s.on('end', () => console.log(d)); s.on('error', (e) => { console.error(e.message); process.exit(1); });`;
    const reply = await waitFor('the pod answering on the node port', async () => (await world.exec(client, NODE_BIN, ['-e', fetch])).trim());
    assert.equal(reply, 'hello from the pod');

    // CHECK through the chain, then DEL in reverse order
    expectOk(await call('CHECK', 0, r2), 'twill CHECK');
    expectOk(await call('DEL', 1, r2), 'portmap DEL');
    expectOk(await call('DEL', 0, r2), 'twill DEL');
    const natAfter = await world.exec(node.ns, 'iptables', ['-t', 'nat', '-S']);
    assert.doesNotMatch(natAfter, /--dport 8080/);
    assert.equal(await getLink(netnsPath(node.ns), r1.interfaces[1].name), undefined);
    assert.equal(await getLink(pod.path, 'eth0'), undefined);
  });

  it('passes an earlier plugin\'s prevResult through, appending its own interfaces', async () => {
    const node = await PluginNode.create(world, 'pv');
    const pod = await node.addPod();
    const prev = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'other0', sandbox: pod.path }],
      ips: [{ address: '192.0.2.50/24', interface: 0 }],
      routes: [{ dst: '198.51.100.0/24' }],
      dns: { nameservers: ['192.0.2.53'] },
    };
    const r = expectOk(await node.call('ADD', node.conf('1.0.0', { prevResult: prev }), pod), 'ADD').json;
    assert.deepEqual(r.interfaces.map((i: { name: string }) => i.name).slice(0, 2), ['other0', 'cni0']);
    assert.equal(r.ips.length, 2);
    assert.equal(r.ips[1].interface, 3, 'our IP points at our pod interface after the shift');
    assert.equal(r.interfaces[3].name, 'eth0');
    assert.deepEqual(r.routes[0], { dst: '198.51.100.0/24' });
    assert.deepEqual(r.dns, { nameservers: ['192.0.2.53'] });
    expectOk(await node.call('DEL', node.conf('1.0.0'), pod), 'DEL');
  });
});
