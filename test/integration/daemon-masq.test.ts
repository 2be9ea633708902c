// --ip-masq: a pod reaches an "outside" host (the underlay namespace, which has no route to
// pod subnets) and is seen there with its node's address; pod-to-pod traffic across nodes
// keeps the pod's own address, also with a FORWARD policy of DROP; the rules are idempotent
// and come back when removed.
import assert from 'node:assert/strict';
import { readSysctl } from '../../lib/kernel/sysctl.js';
import { EtcdServer } from '../../harness/etcd.js';
import { Pod } from '../../harness/pods.js';
import { netConfig, Twilld, startEtcdWorld, startTwoNodes } from '../../harness/twilld.js';
import { netnsPath, Underlay, waitFor, World } from '../../harness/world.js';

// Tells every TCP client the address it came from, then closes.
const SERVER = (host: string, port: number) =>
  `require('net').createServer(s => s.end(s.remoteAddress)).listen(${port}, '${host}', () => console.log('listening'))`;
const CLIENT = (host: string, port: number) =>
  `const s = require('net').connect(${port}, '${host}'); let b = ''; s.on('data', d => b += d); s.on('end', () => process.stdout.write(b));`
  + ' s.on(\'error\', e => { console.error(e.message); process.exit(2) }); setTimeout(() => process.exit(3), 5000).unref()';

describe('twilld --ip-masq', function () {
  this.timeout(120000);
  const world = new World('dmq');
  let ul: Underlay;
  let etcd: EtcdServer;
  let d1: Twilld;
  let p1: Pod;
  let p2: Pod;

  async function serve(ns: string, host: string, port: number) {
    const child = world.spawnIn(ns, process.execPath, ['-e', SERVER(host, port)]);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`server exited ${c}`)));
    });
  }
  const seenAs = (from: Pod, host: string, port: number) => world.exec(from.ns, process.execPath, ['-e', CLIENT(host, port)]);
  const save = (ns: string) => world.exec(ns, 'iptables-save', []);

  before(async () => {
    ({ ul, etcd } = await startEtcdWorld(world, 2, netConfig()));
    ({ d1, p1, p2 } = await startTwoNodes(world, ul, etcd, ['--ip-masq'], async () => {
      // a node whose FORWARD policy drops: only TWILL-FWD lets the cluster network through
      for (const n of ul.nodes) await world.exec(n.ns, 'iptables', ['-P', 'FORWARD', 'DROP']);
    }));
    await serve(ul.ns, ul.hostIp, 8080);
    await serve(p2.ns, p2.ip, 8081);
  });

  after(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- n1 ---\n${d1?.logs.slice(-3000)}\n`);
    await world.cleanup();
  });

  it('turns on ip_forward and says so in subnet.env', async () => {
    assert.equal(await readSysctl(netnsPath(ul.nodes[0].ns), 'net.ipv4.ip_forward'), '1');
    assert.match((await import('node:fs')).readFileSync(d1.subnetFile, 'utf8'), /FLANNEL_IPMASQ=true/);
  });

  it('a pod reaches the outside and is seen with its node\'s address', async () => {
    assert.equal(await seenAs(p1, ul.hostIp, 8080), ul.nodes[0].ip);
    assert.equal(await seenAs(p2, ul.hostIp, 8080), ul.nodes[1].ip);
  });

  it('pod-to-pod traffic across nodes is not masqueraded', async () => {
    assert.equal(await waitFor('p1 -> p2 tcp', () => seenAs(p1, p2.ip, 8081), 15000), p1.ip);
    await serve(p1.ns, p1.ip, 8082);
    assert.equal(await seenAs(p2, p1.ip, 8082), p2.ip);
  });

  it('writes the rules once: later passes change nothing', async () => {
    const first = await save(ul.nodes[0].ns);
    assert.match(first, /-A POSTROUTING .*-j TWILL-POSTRTG/);
    assert.match(first, /-A FORWARD .*-j TWILL-FWD/);
    assert.equal(first.split('\n').filter((l) => l.startsWith('-A TWILL-POSTRTG')).length, 6);
    const passes = (await d1.metric('twill_reconcile_runs_total', 'result="ok"'))!;
    await waitFor('two more reconcile passes', async () => (await d1.metric('twill_reconcile_runs_total', 'result="ok"'))! >= passes + 2, 15000, 200);
    const rules = (t: string) => t.split('\n').filter((l) => l.startsWith('-') || l.startsWith(':TWILL'));
    assert.deepEqual(rules(await save(ul.nodes[0].ns)), rules(first));
    assert.equal(await d1.metric('twill_reconcile_repairs_total', 'kind="masquerade"'), undefined);
  });

  it('restores removed rules', async () => {
    const jump = (await save(ul.nodes[0].ns)).split('\n').find((l) => l.startsWith('-A POSTROUTING') && l.includes('TWILL-POSTRTG'))!;
    const repairsBefore = (await d1.metric('twill_reconcile_repairs_total', 'kind="masquerade"')) ?? 0;
    // (the deletes succeeding is the check that they happened: twilld may restore the rules
    // before a read-back here, so the removed state is not asserted)
    await world.exec(ul.nodes[0].ns, 'iptables', ['-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'twill: masquerade', '-j', 'TWILL-POSTRTG']);
    await world.exec(ul.nodes[0].ns, 'iptables', ['-t', 'filter', '-F', 'TWILL-FWD']);
    await waitFor('rules restored', async () => {
      const s = await save(ul.nodes[0].ns);
      return s.includes(jump) && s.split('\n').filter((l) => l.startsWith('-A TWILL-FWD')).length === 2;
    }, 15000, 200);
    await waitFor('the repair counted', async () => ((await d1.metric('twill_reconcile_repairs_total', 'kind="masquerade"')) ?? 0) > repairsBefore, 15000, 200);
    assert.equal(await seenAs(p1, ul.hostIp, 8080), ul.nodes[0].ip);
  });
});
