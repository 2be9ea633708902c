// An attacker with write access to etcd puts leases whose values try to reach the kernel or a
// shell: a VtepMAC, PublicIP or BackendType with a newline and an `ip -batch` command after it
// (`netns exec … touch FILE` would run as root), malformed MACs, out-of-range VNIs, a "lease"
// for 0.0.0.0/0. Two real twilld nodes on a real etcd must program none of it, create no file,
// stay alive and ready, keep the valid peer reachable, count the refusals in /metrics, and drop
// a valid peer's entries when its value turns hostile (never half-applied).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { listFdb, listNeighbours, listRoutes } from '../../lib/kernel/ip.js';
import { parseSubnetEnv } from '../../lib/schema/subnet-env.js';
import { EtcdServer } from '../../harness/etcd.js';
import { Pod, ping } from '../../harness/pods.js';
import { FIXED_KEYS_ABOVE_NODES, netConfig, startEtcdWorld, startTwoNodes, Twilld } from '../../harness/twilld.js';
import { ctlAt } from '../helpers/twillctl.js';
import { netnsPath, tmpPath, Underlay, waitFor, World } from '../../harness/world.js';

const SUBNETS = '/coreos.com/network/subnets/';

describe('security: hostile lease values in etcd', function () {
  this.timeout(120000);
  const world = new World('sec');
  let ul: Underlay;
  let etcd: EtcdServer;
  let d1: Twilld;
  let d2: Twilld;
  let p1: Pod;
  let p2: Pod;
  const n1 = () => netnsPath(ul.nodes[0].ns);
  const markers: string[] = [];

  /** `netns exec <ns> touch <file>`: what a hostile value appends after its newline. */
  const payload = (i: number) => {
    const file = tmpPath(world, `pwned-${i}`);
    markers.push(file);
    return `netns exec ${ul.ns} touch ${file}`;
  };
  const value = (o: Record<string, unknown>) => JSON.stringify({ PublicIP: '198.18.0.77', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '02:00:00:00:07:07' }, ...o });
  const metric = async (name: string) => {
    const { body } = await d1.http('/metrics');
    const line = body.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };

  before(async () => {
    // the hostile keys are 10.244.201.0/24 and up: no node may hold one
    ({ ul, etcd } = await startEtcdWorld(world, 2, netConfig(FIXED_KEYS_ABOVE_NODES)));
    ({ d1, d2, p1, p2 } = await startTwoNodes(world, ul, etcd));
  });

  after(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- n1 ---\n${d1?.logs.slice(-4000)}\n`);
    await world.cleanup();
  });

  it('programs none of a set of hostile leases, runs nothing, and stays alive', async () => {
    const hostile: [string, string][] = [
      ['10.244.201.0-24', value({ BackendData: { VNI: 1, VtepMAC: `02:00:00:00:00:99\n${payload(1)}` } })],
      ['10.244.202.0-24', value({ BackendData: { VNI: 1, VtepMAC: '02:00:00:00:00:zz' } })],
      ['10.244.203.0-24', value({ BackendData: { VNI: 1, VtepMAC: '01:00:5e:00:00:01' } })],
      ['10.244.204.0-24', value({ PublicIP: `198.18.0.99\n${payload(2)}` })],
      ['10.244.205.0-24', value({ PublicIP: ' 198.18.0.98' })],
      ['10.244.206.0-24', value({ BackendData: { VNI: '1 dev lo', VtepMAC: '02:00:00:00:00:06' } })],
      ['10.244.207.0-24', value({ BackendData: { VNI: 16777216, VtepMAC: '02:00:00:00:00:07' } })],
      ['10.244.208.0-24', value({ BackendType: `vxlan\n${payload(3)}` })],
      ['10.244.209.0-24', `{"PublicIP":"198.18.0.97","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:09 dev lo"}}`],
      // a well-formed value on keys that are no node subnet: the default route, the whole network
      ['0.0.0.0-0', value({ BackendData: { VNI: 1, VtepMAC: '02:00:00:00:00:10' } })],
      ['10.244.0.0-16', value({ BackendData: { VNI: 1, VtepMAC: '02:00:00:00:00:11' } })],
    ];
    for (const [k, v] of hostile) await etcd.ctl(['put', SUBNETS + k, v]);
    await waitFor('every hostile lease counted as invalid', async () => (await metric('twill_invalid_leases')) === hostile.length);

    const routes = await listRoutes(n1(), 4);
    assert.equal(routes.filter((r) => /^10\.244\.20\d\.0\/24$/.test(r.dst)).length, 0, 'no route for a hostile lease');
    assert.ok(!routes.some((r) => r.dst === '10.244.0.0/16'), 'no route for the whole network');
    const dflt = routes.filter((r) => r.dst === 'default');
    assert.equal(dflt.length, 1);
    assert.notEqual(dflt[0].dev, 'twill.1', 'the default route was not taken');
    const vtep2 = parseSubnetEnv(readFileSync(d2.subnetFile, 'utf8')).subnet!.first.toString();
    const neighs = await listNeighbours(n1(), 'twill.1');
    assert.deepEqual(neighs.map((n) => n.dst).sort(), [vtep2], 'only the valid peer has a neighbour entry');
    const fdb = (await listFdb(n1(), 'twill.1')).filter((f) => f.dst);
    assert.deepEqual(fdb.map((f) => f.dst), [ul.nodes[1].ip], 'only the valid peer has an FDB entry');
    for (const m of markers) assert.ok(!existsSync(m), `${m} was created: a lease value ran a command`);

    assert.equal((await d1.http('/healthz')).status, 200);
    assert.equal((await d1.http('/readyz')).status, 200);
    assert.ok(d1.logs.includes('ignoring an invalid lease'), 'the refusal is logged');
    const vtepLog = d1.logs.split('\n').find((l) => l.includes('10.244.201.0-24'));
    assert.match(vtepLog ?? '', /"field":"BackendData\.VtepMAC"/, 'the log names the key and the field');
    assert.ok(await ping(world, p1, p2.ip), 'the valid peer is still reachable');
    assert.ok(await ping(world, p2, p1.ip));
  });

  it('logs each refusal once, not on every later change', async () => {
    const count = () => d1.logs.split('\n').filter((l) => l.includes('ignoring an invalid lease') && l.includes('10.244.202.0-24')).length;
    assert.equal(count(), 1);
    await etcd.ctl(['put', `${SUBNETS}10.244.230.0-24`, value({ PublicIP: '198.18.0.230', BackendData: { VNI: 1, VtepMAC: '02:00:00:00:02:30' } })]);
    await waitFor('the new valid lease is routed', async () => (await listRoutes(n1(), 4)).some((r) => r.dst === '10.244.230.0/24'));
    assert.equal(count(), 1);
  });

  it('removes a valid peer\'s entries when its value turns hostile', async () => {
    const key = `${SUBNETS}10.244.230.0-24`;
    await etcd.ctl(['put', key, value({ PublicIP: '198.18.0.230', BackendData: { VNI: 1, VtepMAC: `02:00:00:00:02:30\n${payload(4)}` } })]);
    await waitFor('route of the now-invalid lease removed', async () => !(await listRoutes(n1(), 4)).some((r) => r.dst === '10.244.230.0/24'));
    await waitFor('its neighbour and FDB entry removed', async () => {
      const neighs = await listNeighbours(n1(), 'twill.1');
      const fdb = await listFdb(n1(), 'twill.1');
      return !neighs.some((n) => n.dst === '10.244.230.0') && !fdb.some((f) => f.mac === '02:00:00:00:02:30');
    });
    for (const m of markers) assert.ok(!existsSync(m), `${m} was created`);
    assert.ok(await ping(world, p1, p2.ip), 'the valid peer is still reachable');
    const { body } = await d1.http('/metrics');
    assert.match(body, /twill_invalid_leases_total\{field="BackendData\.VtepMAC"\} [2-9]/);
    assert.equal(d1.child?.exitCode, null, 'twilld is still running');
  });

  it('twillctl lists refused leases as invalid, with terminal controls escaped, and doctor reports them', async () => {
    await etcd.ctl(['put', `${SUBNETS}10.244.240.0-24`, value({ BackendData: { VNI: 1, VtepMAC: '02:00:00:00:00:01\x1b]0;owned\x07' } })]);
    const ctl = ctlAt(etcd.endpoint);
    const json = await ctl(['leases', 'list', '-o', 'json'], { netns: ul.ns });
    assert.equal(json.code, 0, json.stderr);
    const bad = json.json.invalid.find((l: { key: string }) => l.key.endsWith('10.244.240.0-24'));
    assert.equal(bad.field, 'BackendData.VtepMAC');
    assert.ok(json.json.invalid.some((l: { key: string; field: string }) => l.key.endsWith('0.0.0.0-0') && l.field === 'subnet'), 'a misfit subnet is listed too');
    assert.ok(!json.json.leases.some((l: { subnet: string }) => l.subnet === '10.244.240.0/24'));
    const table = await ctl(['leases', 'list'], { netns: ul.ns });
    assert.match(table.stdout, /invalid \(ignored by twilld\)/);
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(table.stdout + json.stdout), 'no control character reaches the terminal');
    const doctor = await ctl(['doctor', '--public-ip', ul.nodes[0].ip, '--subnet-file', d1.subnetFile, '-o', 'json'], { netns: ul.nodes[0].ns });
    const findings = doctor.json.findings.filter((f: { check: string }) => f.check === 'invalid-lease');
    assert.ok(findings.some((f: { subject: string }) => f.subject.endsWith('10.244.240.0-24')), doctor.stdout);
  });
});
