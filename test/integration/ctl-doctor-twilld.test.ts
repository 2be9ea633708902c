// doctor against the real daemon: two node namespaces run the built twilld, and doctor on
// each must find nothing wrong (the contract between what twilld programs and what doctor
// expects). Releasing a stopped node's lease with twillctl must make the other node drop it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { putConfig } from '../helpers/ctl-seed.js';
import { TWILLD_BIN } from '../../harness/cni.js';
import { EtcdServer } from '../../harness/etcd.js';
import { CtlOutcome, runCtl } from '../helpers/twillctl.js';
import { buildUnderlay, stopProcess, tmpPath, Underlay, waitFor, World } from '../../harness/world.js';

const PREFIX = '/twill-c/twilld';

describe('twillctl doctor with the real twilld', function () {
  const world = new World('cw');
  let ul: Underlay;
  let etcd: EtcdServer;
  const daemons = new Map<string, ReturnType<World['spawnIn']>>();
  const logs = new Map<string, string>();
  const envFile = (ns: string) => tmpPath(world, `${ns}.env`);

  const doctor = (ns: string) => runCtl(['doctor', '--subnet-file', envFile(ns), '-o', 'json', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX], { netns: ns });
  const ctl = (args: string[]) => runCtl([...args, '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX], { netns: ul.ns });

  before(async function () {
    ul = await buildUnderlay(world, 2);
    etcd = new EtcdServer({ netns: ul.ns, host: ul.hostIp });
    world.onCleanup(() => etcd.destroy());
    await etcd.start();
    await putConfig(etcd, PREFIX, { Network: '10.246.0.0/16', Backend: { Type: 'vxlan' } });
    for (const n of ul.nodes) {
      const child = world.spawnIn(n.ns, TWILLD_BIN, ['--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX, '--iface', n.iface,
        '--ip-masq', '--subnet-file', envFile(n.ns), '--reconcile-interval', '2s']);
      logs.set(n.ns, '');
      child.stderr!.on('data', (b) => logs.set(n.ns, (logs.get(n.ns)! + b).slice(-4000)));
      child.stdout!.on('data', (b) => logs.set(n.ns, (logs.get(n.ns)! + b).slice(-4000)));
      daemons.set(n.ns, child);
    }
  });
  after(async () => {
    await world.cleanup();
  });

  /** doctor output once the daemon has caught up (no errors), or the last output on timeout. */
  async function settled(ns: string, peers: number): Promise<CtlOutcome> {
    let last: CtlOutcome | undefined;
    try {
      return await waitFor<CtlOutcome | undefined>(`doctor clean on ${ns}`, async () => {
        if (!existsSync(envFile(ns))) return undefined;
        last = await doctor(ns);
        return last.json && last.json.errors === 0 && last.json.peers === peers ? last : undefined;
      }, 60000, 500) as CtlOutcome;
    } catch (e) {
      throw new Error(`${(e as Error).message}\nlast doctor: ${JSON.stringify(last)}\ntwilld log: ${logs.get(ns)}`);
    }
  }

  it('finds no errors on either node once twilld has programmed its peers', async () => {
    for (const n of ul.nodes) {
      const r = await settled(n.ns, 1);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.node.publicIP, n.ip);
      assert.equal(r.json.node.device, 'twill.1');
      // warnings may remain (checksum offload depends on the daemon's choice); errors may not
      assert.deepEqual(r.json.findings.filter((f: { check: string }) => f.check !== 'offload'), []);
    }
  });

  it('after a node stops and its lease is released, the other node drops it and stays clean', async () => {
    const [n1, n2] = ul.nodes;
    await stopProcess(daemons.get(n2.ns)!);
    const lease = await ctl(['leases', 'get', n2.ip, '-o', 'json']);
    assert.equal(lease.code, 0, lease.stderr);
    const rel = await ctl(['leases', 'release', lease.json.lease.subnet, '--yes']);
    assert.equal(rel.code, 0, rel.stderr);
    const r = await settled(n1.ns, 0);
    assert.deepEqual(r.json.findings.filter((f: { check: string }) => f.check !== 'offload'), []);
  });
});
