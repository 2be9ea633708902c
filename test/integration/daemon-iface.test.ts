// Interface choice as flannel makes it, seen through the built binary: the default route's
// interface, --iface by name or address, --iface-regex, --public-ip; a missing interface is a
// clear fatal error; SIGINT stops cleanly.
import assert from 'node:assert/strict';
import { ipBatch } from '../../lib/kernel/ip.js';
import { TWILLD_BIN } from '../../harness/cni.js';
import { EtcdServer } from '../../harness/etcd.js';
import { CONFIG_KEY, netConfig, Twilld } from '../../harness/twilld.js';
import { buildUnderlay, netnsPath, stopProcess, Underlay, waitFor, World } from '../../harness/world.js';

describe('twilld interface choice', function () {
  this.timeout(60000);
  const world = new World('dif');
  let ul: Underlay;
  let etcd: EtcdServer;

  before(async () => {
    ul = await buildUnderlay(world, 1);
    // a second interface in the node: a veth pair (no dummy driver here)
    await ipBatch(netnsPath(ul.nodes[0].ns), [
      'link add ext0 type veth peer name ext1', 'addr add 192.0.2.5/24 dev ext0', 'link set ext0 up', 'link set ext1 up',
    ]);
    etcd = new EtcdServer({ netns: ul.ns, host: ul.hostIp });
    world.onCleanup(() => etcd.destroy());
    await etcd.start();
    await etcd.ctl(['put', CONFIG_KEY, netConfig({}, { Type: 'host-gw' })]);
  });
  after(() => world.cleanup());

  it('default route interface, --iface by name or address, --iface-regex, --public-ip', async () => {
    // the daemon logs its choice before it needs etcd; a bad choice is its fatal error
    const run = async (args: string[]) => {
      const child = world.spawnIn(ul.nodes[0].ns, TWILLD_BIN, [
        '--etcd-endpoints', etcd.endpoint, '--subnet-file', `${world.tmp}/if.env`, '--reconcile-interval', '1s', ...args,
      ]);
      let out = '';
      child.stderr!.on('data', (b) => (out += b));
      try {
        const line = await waitFor('choice logged', () => out.split('\n').find((l) => l.includes('"using interface"') || l.includes('"fatal"')), 15000);
        return JSON.parse(line!) as Record<string, unknown>;
      } finally {
        await stopProcess(child);
      }
    };
    assert.equal((await run([])).iface, 'eth0', 'default route interface');
    const byAddr = await run(['--iface', '192.0.2.5']);
    assert.equal(byAddr.iface, 'ext0');
    assert.equal(byAddr.address, '192.0.2.5');
    assert.equal((await run(['--iface', 'nope0', '--iface', 'ext0'])).iface, 'ext0', 'first existing one');
    assert.equal((await run(['--iface-regex', '^192\\.0\\.2\\.'])).iface, 'ext0', 'regex on addresses');
    assert.equal((await run(['--iface-regex', '^ext'])).iface, 'ext0', 'regex on names');
    const pub = await run(['--public-ip', '203.0.113.9']);
    assert.equal(pub.iface, 'eth0');
    assert.equal(pub.publicIp, '203.0.113.9');
    assert.equal((await run(['--public-ip', '192.0.2.5'])).iface, 'ext0', 'the interface holding --public-ip');
    const bad = await run(['--iface', 'nope0']);
    assert.equal(bad.level, 'error');
    assert.match(String(bad.error), /none of --iface nope0 exists/);
  });

  it('stops cleanly on SIGINT', async () => {
    const d = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint }).start();
    await d.waitReady();
    const child = d.child!;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // nsenter execs twilld, so the child's pid is the daemon's
    process.kill(child.pid!, 'SIGINT');
    assert.equal(await exited, 0);
    assert.ok(d.logLines().some((l) => l.msg === 'stopping' && l.signal === 'SIGINT'));
    assert.ok(d.logLines().some((l) => /dataplane and lease left in place/.test(String(l.msg))));
  });
});
