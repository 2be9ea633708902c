// --ip-masq on a node whose own rules live in one iptables backend: twilld finds that backend
// (lib/kernel/iptables-backend.ts) and writes its rules there, so the node's FORWARD DROP
// policy (Docker's default) lets the cluster network through. Each backend gets a world of
// its own: two node namespaces whose rules are set up, before twilld starts, with that
// backend's own binary. The legacy world also shows the failure this fixes: with its rules
// forced into the other backend (--iptables-backend nft), pod traffic across nodes is dropped.
import assert from 'node:assert/strict';
import { IptablesBackend, iptablesCommand } from '../../lib/kernel/iptables-backend.js';
import { EtcdServer } from '../../harness/etcd.js';
import { addPod, Pod } from '../../harness/pods.js';
import { netConfig, startEtcdWorld, Twilld } from '../../harness/twilld.js';
import { runCtl } from '../helpers/twillctl.js';
import { Underlay, waitFor, World } from '../../harness/world.js';

const other = (b: IptablesBackend): IptablesBackend => (b === 'legacy' ? 'nft' : 'legacy');

for (const backend of ['legacy', 'nft'] as const) {
  describe(`twilld --ip-masq on a node whose rules are in iptables-${backend} (FORWARD DROP)`, function () {
    this.timeout(120000);
    const world = new World(backend === 'legacy' ? 'ibl' : 'ibn');
    let ul: Underlay;
    let etcd: EtcdServer;
    let daemons: Twilld[];
    let p1: Pod;
    let p2: Pod;
    const ipt = (ns: string, b: IptablesBackend, args: string[]) => world.exec(ns, iptablesCommand(b, 'iptables'), args);
    const save = (ns: string, b: IptablesBackend) => world.exec(ns, iptablesCommand(b, 'iptables-save'), []);
    const pings = (from: Pod, to: Pod) => world.exec(from.ns, 'ping', ['-c', '1', '-W', '1', to.ip]).then(() => true, () => false);

    before(async () => {
      ({ ul, etcd } = await startEtcdWorld(world, 2, netConfig()));
      for (const n of ul.nodes) {
        // what Docker leaves on a host: its chains, a jump from FORWARD, and a DROP policy
        await ipt(n.ns, backend, ['-N', 'DOCKER-USER']);
        await ipt(n.ns, backend, ['-A', 'DOCKER-USER', '-j', 'RETURN']);
        await ipt(n.ns, backend, ['-A', 'FORWARD', '-j', 'DOCKER-USER']);
        await ipt(n.ns, backend, ['-P', 'FORWARD', 'DROP']);
      }
      daemons = ul.nodes.slice(0, 2).map((n) => new Twilld(world, n, { etcd: etcd.endpoint, args: ['--ip-masq'] }).start());
      await Promise.all(daemons.map((d) => d.waitReady()));
      p1 = await addPod(world, ul.nodes[0].ns, daemons[0].subnetFile, 1);
      p2 = await addPod(world, ul.nodes[1].ns, daemons[1].subnetFile, 1);
    });

    after(async function () {
      if (this.currentTest?.state === 'failed') for (const d of daemons ?? []) process.stderr.write(`--- ${d.node.ns} ---\n${d.logs.slice(-3000)}\n`);
      await world.cleanup();
    });

    it(`logs that it chose ${backend}, and why`, () => {
      for (const d of daemons) {
        const line = d.logLines().find((l) => l.msg === 'iptables backend');
        assert.ok(line, `${d.node.ns}: no "iptables backend" log line`);
        assert.equal(line.backend, backend);
        assert.match(String(line.reason), new RegExp(`more rules in ${backend}`));
      }
    });

    it(`writes its chains into ${backend} and leaves ${other(backend)} alone`, async () => {
      for (const n of ul.nodes.slice(0, 2)) {
        const mine = await save(n.ns, backend);
        assert.match(mine, /-A FORWARD .*-j TWILL-FWD/);
        assert.match(mine, /-A POSTROUTING .*-j TWILL-POSTRTG/);
        assert.doesNotMatch(await save(n.ns, other(backend)), /TWILL-/);
      }
    });

    it('pods on different nodes reach each other through the DROP policy', async () => {
      await waitFor('p1 -> p2 ping', () => pings(p1, p2), 15000, 200);
      assert.ok(await pings(p2, p1), 'p2 -> p1');
    });

    it(`twillctl doctor reads the same backend and finds the masquerade rules`, async () => {
      const n = ul.nodes[0];
      const r = await runCtl(['doctor', '--subnet-file', daemons[0].subnetFile, '-o', 'json', '--etcd-endpoints', etcd.endpoint], { netns: n.ns });
      const masq = (r.json as { findings: { check: string }[] }).findings.filter((f) => f.check === 'masquerade');
      assert.deepEqual(masq, [], r.stdout);
    });

    if (backend === 'legacy') {
      it('with its rules forced into nft (--iptables-backend nft), the legacy DROP policy drops pod traffic', async () => {
        const n1 = ul.nodes[0].ns;
        await daemons[0].stop();
        // take twill's rules out of legacy again (as if they had never been written there)
        await ipt(n1, 'legacy', ['-D', 'FORWARD', '-m', 'comment', '--comment', 'twill: forward', '-j', 'TWILL-FWD']);
        await ipt(n1, 'legacy', ['-F', 'TWILL-FWD']);
        await ipt(n1, 'legacy', ['-X', 'TWILL-FWD']);
        daemons[0] = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint, args: ['--ip-masq', '--iptables-backend', 'nft'] }).start();
        await daemons[0].waitReady();
        const line = daemons[0].logLines().find((l) => l.msg === 'iptables backend');
        assert.deepEqual([line?.backend, line?.reason], ['nft', 'set explicitly (--iptables-backend)']);
        assert.match(await save(n1, 'nft'), /-A FORWARD .*-j TWILL-FWD/);
        assert.equal(await pings(p1, p2), false, 'the nft ACCEPT does not undo the legacy DROP');
        assert.equal(await pings(p2, p1), false);
      });
    }
  });
}
