// twillctl doctor is a dry-run reconcile: with twilld stopped on a node, each kind of drift
// is planted in its kernel (a missing route, a neighbour with the wrong MAC, a missing FDB
// entry, a stale route/neighbour/FDB entry of a node that is gone, a wrong device MTU; then a
// device that is down), doctor reports it, and the restarted twilld's first pass must change
// exactly what doctor's fixes say, after which doctor finds nothing. The same in a dual-stack
// world, with IPv6 drift on twill6.1 beside the IPv4 entries: both families are one plan.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Cidr } from '../../lib/ip/cidr.js';
import { bridgeBatch, ipBatch, listFdb } from '../../lib/kernel/ip.js';
import { putConfig } from '../helpers/ctl-seed.js';
import { TWILLD_BIN } from '../../harness/cni.js';
import { EtcdServer } from '../../harness/etcd.js';
import { CtlOutcome, runCtl } from '../helpers/twillctl.js';
import { dualUnderlay } from '../../harness/underlay6.js';
import { buildUnderlay, netnsPath, stopProcess, tmpPath, Underlay, waitFor, World } from '../../harness/world.js';

const PREFIX = '/twill-c/dryrun';
const DEV = 'twill.1';
const DEV6 = 'twill6.1';
const NET6 = 'fd00:10:246::/56';
const PLAN_CHECKS = new Set(['route', 'neighbour', 'fdb', 'nexthop', 'stale-route', 'stale-neighbour', 'stale-fdb', 'stale-nexthop']);

interface Finding { check: string; subject: string; problem: string; fix: string; severity: string }

type Family = 'ipv4' | 'dual';

function dryRunWorld(family: Family) {
  const world = new World(family === 'ipv4' ? 'dr' : 'd6');
  let ul: Underlay;
  let etcd: EtcdServer;
  const daemons = new Map<string, ReturnType<World['spawnIn']>>();
  const logs = new Map<string, string>();
  const envFile = (ns: string) => tmpPath(world, `${ns}.env`);
  const doctor = (ns: string) => runCtl(['doctor', '--subnet-file', envFile(ns), '-o', 'json', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX], { netns: ns });

  function start(ns: string, iface: string): void {
    const child = world.spawnIn(ns, TWILLD_BIN, ['--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX, '--iface', iface,
      '--subnet-file', envFile(ns), '--reconcile-interval', '1h']);
    logs.set(ns, '');
    const keep = (b: Buffer) => logs.set(ns, logs.get(ns)! + b);
    child.stderr!.on('data', keep);
    child.stdout!.on('data', keep);
    daemons.set(ns, child);
  }

  async function clean(ns: string, peers: number): Promise<CtlOutcome> {
    let last: CtlOutcome | undefined;
    try {
      return await waitFor<CtlOutcome | undefined>(`doctor clean on ${ns}`, async () => {
        if (!existsSync(envFile(ns))) return undefined;
        last = await doctor(ns);
        const errors = (last.json?.findings ?? []).filter((f: Finding) => f.severity === 'error');
        return last.json && errors.length === 0 && last.json.peers === peers ? last : undefined;
      }, 60000, 300) as CtlOutcome;
    } catch (e) {
      throw new Error(`${(e as Error).message}\nlast doctor: ${JSON.stringify(last)}\ntwilld log: ${logs.get(ns)?.slice(-3000)}`);
    }
  }

  /** The operations of the restarted daemon's first pass, from its log. */
  async function firstPassOps(ns: string): Promise<string[]> {
    const line = await waitFor(`twilld on ${ns} to program its first pass`, () =>
      logs.get(ns)!.split('\n').find((l) => l.includes('"dataplane programmed"')), 30000, 50);
    const entry = JSON.parse(line!) as { ops: string[]; more?: number };
    assert.equal(entry.more, undefined, 'every operation was logged');
    return entry.ops;
  }

  before(async function () {
    ul = family === 'ipv4' ? await buildUnderlay(world, 3) : await dualUnderlay(world, 3);
    etcd = new EtcdServer({ netns: ul.ns, host: ul.hostIp });
    world.onCleanup(() => etcd.destroy());
    await etcd.start();
    await putConfig(etcd, PREFIX, { Network: '10.246.0.0/16', ...(family === 'dual' ? { EnableIPv6: true, IPv6Network: NET6 } : {}), Backend: { Type: 'vxlan' } });
    for (const n of ul.nodes) start(n.ns, n.iface);
    for (const n of ul.nodes) await clean(n.ns, 2);
  });
  after(() => world.cleanup());

  /** Stops twilld on node 1, plants drift, runs doctor, restarts twilld; doctor's fixes against its first pass. */
  async function plantAndCompare(plant: (ns: string) => Promise<void>): Promise<{ findings: Finding[]; ops: string[] }> {
    const n1 = ul.nodes[0];
    await stopProcess(daemons.get(n1.ns)!);
    await plant(netnsPath(n1.ns));
    const r = await doctor(n1.ns);
    assert.equal(r.code, 1, `doctor must see the drift: ${r.stdout}${r.stderr}`);
    const findings = r.json.findings as Finding[];
    start(n1.ns, n1.iface);
    const ops = await firstPassOps(n1.ns);
    assert.deepEqual([...ops].sort(), findings.filter((f) => PLAN_CHECKS.has(f.check)).map((f) => f.fix).sort(),
      `doctor ${JSON.stringify(findings, null, 1)}\ntwilld ${JSON.stringify(ops, null, 1)}`);
    const after = await clean(n1.ns, 2);
    assert.deepEqual(after.json.findings.filter((f: Finding) => f.severity === 'error'), []);
    return { findings, ops };
  }

  const lease = async (i: number) => (await runCtl(['leases', 'get', ul.nodes[i].ip, '-o', 'json', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX], { netns: ul.ns })).json.lease;
  return { ul: () => ul, plantAndCompare, lease };
}

/**
 * A subnet no node holds, for the entries of "a node that is gone": subnets are random, so a
 * fixed one is sometimes a live peer's (its planted route is then right and its neighbour only
 * a wrong MAC).
 */
function goneSubnet(taken: (string | undefined)[], make: (i: number) => string): string {
  for (let i = 250; i > 0; i--) if (!taken.includes(make(i))) return make(i);
  throw new Error('no free subnet');
}

describe('twillctl doctor reports exactly what twilld then repairs', function () {
  const w = dryRunWorld('ipv4');
  it('a missing route, a wrong neighbour MAC, a missing FDB entry, stale entries of a gone node and a wrong MTU', async () => {
    const ul = w.ul();
    const p2 = await w.lease(1);
    const p3 = await w.lease(2);
    const gw = (subnet: string) => subnet.replace(/\.0\/\d+$/, '.0');
    const gone = goneSubnet([(await w.lease(0)).subnet, p2.subnet, p3.subnet], (i) => `10.246.${i}.0/24`);
    const { findings } = await w.plantAndCompare(async (ns) => {
      await ipBatch(ns, [
        `route del ${p2.subnet}`, // it names a nexthop object: a delete naming the device would match nothing
        `neigh replace ${gw(p3.subnet)} lladdr 0e:00:00:00:99:99 dev ${DEV} nud permanent`,
        `route replace ${gone} via ${gw(gone)} dev ${DEV} onlink`,
        `neigh replace ${gw(gone)} lladdr 0e:00:00:00:fa:00 dev ${DEV} nud permanent`,
        `link set dev ${DEV} mtu 1400`,
      ]);
      await bridgeBatch(ns, [
        `fdb del ${p2.vtepMAC} dev ${DEV} dst ${ul.nodes[1].ip} self`,
        `fdb append 0e:00:00:00:fa:00 dev ${DEV} dst 198.18.0.250 self permanent`,
      ]);
    });
    const kinds = findings.map((f) => f.check).sort();
    assert.deepEqual(kinds.filter((k) => k !== 'offload'), ['fdb', 'mtu', 'neighbour', 'route', 'stale-fdb', 'stale-neighbour', 'stale-route']);
  });

  it('a device that is down (the kernel drops its routes and neighbours with it)', async () => {
    const { findings, ops } = await w.plantAndCompare((ns) => ipBatch(ns, [`link set dev ${DEV} down`]));
    assert.ok(findings.some((f) => f.check === 'vxlan-device' && f.problem === 'device is down'));
    assert.equal(ops.filter((o) => o.startsWith('ip route replace')).length, 2, 'both peers\' routes come back');
  });
});

describe('twillctl doctor reports exactly what twilld then repairs, dual stack', function () {
  const w = dryRunWorld('dual');
  const gw6 = (subnet6: string) => Cidr.parse(subnet6).first.toString();

  it('IPv6 drift beside IPv4 drift: a missing route, a wrong neighbour MAC, a missing FDB entry, stale entries of a gone node and a wrong MTU', async () => {
    const ul = w.ul();
    const p2 = await w.lease(1);
    const p3 = await w.lease(2);
    assert.ok(p2.subnet6 && p3.subnet6, 'the leases are dual stack');
    const n1 = netnsPath(ul.nodes[0].ns);
    const fdb6 = (await listFdb(n1, DEV6)).find((e) => e.dst === p2.publicIPv6);
    assert.ok(fdb6, `an IPv6 FDB entry to ${p2.publicIPv6}`);
    const gone6 = goneSubnet([(await w.lease(0)).subnet6, p2.subnet6, p3.subnet6], (i) => `fd00:10:246:${i.toString(16)}::/64`);
    const { findings } = await w.plantAndCompare(async (ns) => {
      await ipBatch(ns, [
        `route del ${p2.subnet6} dev ${DEV6}`,
        `neigh replace ${gw6(p3.subnet6)} lladdr 0e:00:00:00:99:98 dev ${DEV6} nud permanent`,
        `route replace ${gone6} via ${gw6(gone6)} dev ${DEV6} onlink`,
        `neigh replace ${gw6(gone6)} lladdr 0e:00:00:00:fb:00 dev ${DEV6} nud permanent`,
        `link set dev ${DEV6} mtu 1400`,
        // and one IPv4 drift: the two families are one plan
        `route del ${p3.subnet}`,
      ]);
      await bridgeBatch(ns, [
        `fdb del ${fdb6!.mac} dev ${DEV6} dst ${p2.publicIPv6} self`,
        `fdb append 0e:00:00:00:fb:00 dev ${DEV6} dst fd18::fa self permanent`,
      ]);
    });
    const six = findings.filter((f) => f.subject.includes(':') || f.subject === DEV6 || f.fix.includes(DEV6));
    assert.deepEqual(six.map((f) => f.check).filter((k) => k !== 'offload').sort(), ['fdb', 'mtu', 'neighbour', 'route', 'stale-fdb', 'stale-neighbour', 'stale-route']);
    assert.ok(findings.some((f) => f.check === 'route' && f.fix.startsWith(`ip route replace ${p3.subnet} nhid `)), 'the IPv4 route is in the same plan');
  });

  it('an IPv6 device that is down (the kernel drops its routes and neighbours with it)', async () => {
    const { findings, ops } = await w.plantAndCompare((ns) => ipBatch(ns, [`link set dev ${DEV6} down`]));
    assert.ok(findings.some((f) => f.check === 'vxlan-device' && f.subject === DEV6 && f.problem === 'device is down'));
    assert.equal(ops.filter((o) => o.startsWith('ip route replace') && o.includes(DEV6)).length, 2, 'both peers\' IPv6 routes come back');
    assert.equal(ops.filter((o) => o.includes(` ${DEV} `)).length, 0, 'the IPv4 entries were left alone');
  });
});
