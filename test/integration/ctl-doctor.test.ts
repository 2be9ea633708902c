// twillctl doctor on a node namespace: the state twilld would program is built by hand
// (through lib/kernel), leases live in a real etcd inside the underlay namespace, and doctor
// runs as an operator would — `nsenter --net=<node> twillctl doctor`. A clean node reports
// nothing; each injected drift yields exactly its finding, and the node is repaired after.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { nexthopIdFor } from '../../lib/dataplane/entries.js';
import { Ip } from '../../lib/ip/cidr.js';
import { bridgeBatch, ipBatch, ipBatchForce } from '../../lib/kernel/ip.js';
import { writeSysctl } from '../../lib/kernel/sysctl.js';
import { runIn } from '../../lib/kernel/ns.js';
import { formatSubnetEnv } from '../../lib/schema/subnet-env.js';
import { leaseKey, leaseValue, putConfig, seedLease, SeedLease } from '../helpers/ctl-seed.js';
import { EtcdServer } from '../../harness/etcd.js';
import { runCtl } from '../helpers/twillctl.js';
import { buildUnderlay, netnsPath, tmpPath, Underlay, World } from '../../harness/world.js';

const PREFIX = '/twill-c/doctor';
const HG_PREFIX = '/twill-c/doctor-hostgw';
const DEV = 'twill.1';
const OWN_MAC = '0a:58:0a:f4:01:00';
const OWN: SeedLease = { subnet: '10.244.1.0/24', publicIP: '198.18.0.11', vtepMAC: OWN_MAC, ttl: 3600 };
const P2: SeedLease = { subnet: '10.244.2.0/24', publicIP: '198.18.0.12', vtepMAC: '0a:58:0a:f4:02:00', ttl: 3600 };
const P3: SeedLease = { subnet: '10.244.3.0/24', publicIP: '198.18.0.13', vtepMAC: '0a:58:0a:f4:03:00', ttl: 3600 };
const RESERVED: SeedLease = { subnet: '10.244.9.0/24', publicIP: '198.18.0.19' }; // nobody took it: no entries expected
const PEERS = [P2, P3];
/** The nexthop object twilld names in a peer's route: its gateway (the subnet's .0) as a number. */
const nhid = (p: SeedLease) => nexthopIdFor(Ip.parse(p.subnet.replace('/24', '')));

describe('twillctl doctor (node namespaces, real etcd)', function () {
  const world = new World('c');
  let ul: Underlay;
  let etcd: EtcdServer;
  let node: string;
  let ns: string;
  let envFile: string;
  let endpoint: string;

  const ip = (lines: string[]) => ipBatch(ns, lines);
  const ipt = (args: string[]) => runIn(ns, 'iptables', ['-w', '5', ...args]);
  const ethtool = (on: boolean) => runIn(ns, 'ethtool', ['-K', DEV, 'tx-checksum-ip-generic', on ? 'on' : 'off']);
  const writeEnv = (mtu = 1450) => writeFileSync(envFile, formatSubnetEnv({ network: '10.244.0.0/16', subnet: '10.244.1.1/24', mtu, ipMasq: true }));

  /** What twilld programs for the vxlan backend, built by hand. */
  async function buildNodeState(): Promise<void> {
    await ipBatchForce(ns, [`link del ${DEV}`]);
    await ip([
      `link add ${DEV} type vxlan id 1 dstport 8472 nolearning local ${OWN.publicIP} dev eth0`,
      `link set ${DEV} address ${OWN_MAC} mtu 1450 up`,
      `addr add 10.244.1.0/32 dev ${DEV}`,
      ...PEERS.flatMap((p) => {
        const gw = p.subnet.replace('.0/24', '.0');
        return [`neigh replace ${gw} lladdr ${p.vtepMAC} dev ${DEV} nud permanent`, `nexthop replace id ${nhid(p)} via ${gw} dev ${DEV} onlink`,
          `route replace ${p.subnet} nhid ${nhid(p)}`];
      }),
    ]);
    await bridgeBatch(ns, PEERS.map((p) => `fdb replace ${p.vtepMAC} dev ${DEV} dst ${p.publicIP} self permanent`));
    await ethtool(false);
  }

  async function buildMasquerade(): Promise<void> {
    for (const t of ['nat', 'filter']) {
      await ipt(['-t', t, '-F']).catch(() => {});
      await ipt(['-t', t, '-X']).catch(() => {});
    }
    await ipt(['-t', 'nat', '-N', 'TWILL-POSTRTG']);
    await ipt(['-t', 'nat', '-A', 'TWILL-POSTRTG', '-s', '10.244.0.0/16', '!', '-d', '10.244.0.0/16', '-j', 'MASQUERADE']);
    await ipt(['-t', 'nat', '-A', 'POSTROUTING', '-j', 'TWILL-POSTRTG']);
    await ipt(['-t', 'filter', '-N', 'TWILL-FWD']);
    await ipt(['-t', 'filter', '-A', 'TWILL-FWD', '-s', '10.244.0.0/16', '-j', 'ACCEPT']);
    await ipt(['-t', 'filter', '-A', 'FORWARD', '-j', 'TWILL-FWD']);
  }

  async function restore(): Promise<void> {
    await buildNodeState();
    await buildMasquerade();
    await writeSysctl(ns, 'net.ipv4.ip_forward', '1');
    writeEnv();
  }

  function doctor(extra: string[] = [], prefix = PREFIX) {
    return runCtl(['doctor', '--subnet-file', envFile, '-o', 'json', '--etcd-endpoints', endpoint, '--etcd-prefix', prefix, ...extra], { netns: node });
  }

  const NODE = { publicIP: OWN.publicIP, subnet: OWN.subnet, backendType: 'vxlan', device: DEV, interface: 'eth0' };
  const clean = { node: NODE, peers: 2, findings: [], errors: 0, warnings: 0, ok: true };

  async function expectFindings(findings: object[], extra: string[] = []): Promise<void> {
    const r = await doctor(extra);
    assert.equal(r.code, 1, `expected exit 1: ${r.stdout}${r.stderr}`);
    const errors = findings.filter((f) => (f as { severity: string }).severity === 'error').length;
    assert.deepEqual(r.json, { node: NODE, peers: 2, findings, errors, warnings: findings.length - errors, ok: false });
  }

  before(async function () {
    ul = await buildUnderlay(world, 1);
    node = ul.nodes[0].ns;
    ns = netnsPath(node);
    etcd = new EtcdServer({ netns: ul.ns, host: ul.hostIp });
    world.onCleanup(() => etcd.destroy());
    await etcd.start();
    endpoint = etcd.endpoint;
    envFile = tmpPath(world, 'subnet.env');
    await putConfig(etcd, PREFIX, { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } });
    for (const l of [OWN, P2, P3, RESERVED]) await seedLease(etcd, PREFIX, l);
    await restore();
  });
  after(async () => {
    await world.cleanup();
  });
  afterEach(restore);

  it('reports a clean node (exit 0), found by --public-ip or by subnet.env', async () => {
    const byIp = await doctor(['--public-ip', OWN.publicIP]);
    assert.equal(byIp.code, 0, byIp.stdout + byIp.stderr);
    assert.deepEqual(byIp.json, clean);
    const byEnv = await doctor();
    assert.equal(byEnv.code, 0, byEnv.stdout + byEnv.stderr);
    assert.deepEqual(byEnv.json, clean);
    const table = await runCtl(['doctor', '--subnet-file', envFile, '--etcd-endpoints', endpoint, '--etcd-prefix', PREFIX], { netns: node });
    assert.equal(table.code, 0);
    assert.equal(table.stdout, `node 198.18.0.11  subnet 10.244.1.0/24  backend vxlan  device ${DEV}  peers 2\nOK: no problems found\n`);
  });

  it('--no-nexthop-objects (as the node\'s twilld): plain tunnel routes are clean, routes naming nexthops are to be rewritten', async () => {
    await ip([`route replace ${P2.subnet} via ${P2.subnet.replace('/24', '')} dev ${DEV} onlink`]);
    const r = await doctor(['--no-nexthop-objects']);
    assert.equal(r.code, 1, r.stdout);
    assert.deepEqual(r.json.findings.map((f: { check: string; fix: string }) => [f.check, f.fix]), [
      ['route', `ip route replace ${P3.subnet} via ${P3.subnet.replace('/24', '')} dev ${DEV} onlink`],
      ['stale-nexthop', `ip nexthop del id ${nhid(P2)}`],
      ['stale-nexthop', `ip nexthop del id ${nhid(P3)}`],
    ]);
  });

  it('a deleted route', async () => {
    await ip([`route del ${P2.subnet}`]);
    await expectFindings([{ severity: 'error', check: 'route', subject: '10.244.2.0/24 (node 198.18.0.12)',
      problem: 'no route to 10.244.2.0/24: pods on node 198.18.0.12 are unreachable', fix: `ip route replace 10.244.2.0/24 nhid ${nhid(P2)}` }]);
  });

  it('a deleted nexthop object (the kernel took its route along): the route says what is unreachable', async () => {
    await ip([`nexthop del id ${nhid(P2)}`]);
    await expectFindings([
      { severity: 'error', check: 'nexthop', subject: '10.244.2.0/24 (node 198.18.0.12)',
        problem: `no nexthop object ${nhid(P2)} for the route to 10.244.2.0/24`, fix: `ip nexthop add id ${nhid(P2)} via 10.244.2.0 dev ${DEV} onlink` },
      { severity: 'error', check: 'route', subject: '10.244.2.0/24 (node 198.18.0.12)',
        problem: 'no route to 10.244.2.0/24: pods on node 198.18.0.12 are unreachable', fix: `ip route replace 10.244.2.0/24 nhid ${nhid(P2)}` },
    ]);
  });

  it('a route through the wrong gateway', async () => {
    await ip([`route replace ${P3.subnet} via 198.18.0.1 dev eth0`]);
    await expectFindings([{ severity: 'error', check: 'route', subject: '10.244.3.0/24 (node 198.18.0.13)',
      problem: `route is "10.244.3.0/24 via 198.18.0.1 dev eth0", expected "10.244.3.0/24 nhid ${nhid(P3)} via 10.244.3.0 dev ${DEV} onlink"`,
      fix: `ip route replace 10.244.3.0/24 nhid ${nhid(P3)}` }]);
  });

  it('a deleted FDB entry', async () => {
    await bridgeBatch(ns, [`fdb del ${P3.vtepMAC} dev ${DEV} dst ${P3.publicIP} self`]);
    await expectFindings([{ severity: 'error', check: 'fdb', subject: '10.244.3.0/24 (node 198.18.0.13)',
      problem: `no FDB entry for ${P3.vtepMAC} on ${DEV}`, fix: `bridge fdb append ${P3.vtepMAC} dev ${DEV} dst 198.18.0.13 self permanent` }]);
  });

  it('a deleted neighbour entry', async () => {
    await ip([`neigh del 10.244.2.0 dev ${DEV}`]);
    await expectFindings([{ severity: 'error', check: 'neighbour', subject: '10.244.2.0/24 (node 198.18.0.12)',
      problem: `no neighbour entry for 10.244.2.0 on ${DEV}`, fix: `ip neigh replace 10.244.2.0 lladdr ${P2.vtepMAC} dev ${DEV} nud permanent` }]);
  });

  it('a peer that re-registered with a new VtepMAC (stale neighbour and FDB)', async () => {
    const moved = { ...P2, vtepMAC: '0a:58:0a:f4:02:99' };
    await etcd.ctl(['put', leaseKey(PREFIX, P2.subnet), leaseValue(moved)]); // keeps no lease: fine for doctor
    try {
      // the planner's order: deletions first (a stale entry must not block its replacement)
      await expectFindings([
        { severity: 'error', check: 'stale-fdb', subject: P2.vtepMAC,
          problem: `FDB entry ${P2.vtepMAC} -> 198.18.0.12 on ${DEV} belongs to no lease`, fix: `bridge fdb del ${P2.vtepMAC} dev ${DEV} dst 198.18.0.12 self` },
        { severity: 'error', check: 'neighbour', subject: '10.244.2.0/24 (node 198.18.0.12)',
          problem: `neighbour 10.244.2.0 resolves to ${P2.vtepMAC}, the lease says ${moved.vtepMAC}`, fix: `ip neigh replace 10.244.2.0 lladdr ${moved.vtepMAC} dev ${DEV} nud permanent` },
        { severity: 'error', check: 'fdb', subject: '10.244.2.0/24 (node 198.18.0.12)',
          problem: `no FDB entry for ${moved.vtepMAC} on ${DEV}`, fix: `bridge fdb append ${moved.vtepMAC} dev ${DEV} dst 198.18.0.12 self permanent` },
      ]);
    } finally {
      await seedLease(etcd, PREFIX, P2);
    }
  });

  it('a stale route, neighbour and FDB entry of a node that is gone', async () => {
    await ip([`neigh replace 10.244.7.0 lladdr 0a:58:0a:f4:07:00 dev ${DEV} nud permanent`, `route replace 10.244.7.0/24 via 10.244.7.0 dev ${DEV} onlink`]);
    await bridgeBatch(ns, [`fdb replace 0a:58:0a:f4:07:00 dev ${DEV} dst 198.18.0.17 self permanent`]);
    await expectFindings([
      { severity: 'error', check: 'stale-route', subject: '10.244.7.0/24', problem: `route "10.244.7.0/24 via 10.244.7.0 dev ${DEV} onlink" leads to a subnet no node holds`, fix: `ip route del 10.244.7.0/24 via 10.244.7.0 dev ${DEV}` },
      { severity: 'error', check: 'stale-neighbour', subject: '10.244.7.0', problem: `neighbour 10.244.7.0 (0a:58:0a:f4:07:00) on ${DEV} belongs to no lease`, fix: `ip neigh del 10.244.7.0 dev ${DEV}` },
      { severity: 'error', check: 'stale-fdb', subject: '0a:58:0a:f4:07:00', problem: `FDB entry 0a:58:0a:f4:07:00 -> 198.18.0.17 on ${DEV} belongs to no lease`, fix: `bridge fdb del 0a:58:0a:f4:07:00 dev ${DEV} dst 198.18.0.17 self` },
    ]);
  });

  it('a wrong MTU on the VXLAN device, and in subnet.env', async () => {
    await ip([`link set ${DEV} mtu 1400`]);
    await expectFindings([{ severity: 'error', check: 'mtu', subject: DEV,
      problem: 'MTU is 1400, expected 1450 (eth0 mtu 1500 minus 50 bytes of VXLAN header)', fix: `ip link set ${DEV} mtu 1450` }]);
    await ip([`link set ${DEV} mtu 1450`]);
    writeEnv(1500);
    const r = await doctor();
    assert.equal(r.code, 1);
    assert.deepEqual(r.json.findings.map((f: { check: string; subject: string }) => [f.check, f.subject]), [['mtu', envFile]]);
    assert.match(r.json.findings[0].problem, /^FLANNEL_MTU=1500 but the overlay carries 1450 \(vxlan over eth0 mtu 1500\)/);
  });

  it('a missing masquerade chain, and a missing jump', async () => {
    await ipt(['-t', 'nat', '-D', 'POSTROUTING', '-j', 'TWILL-POSTRTG']);
    await ipt(['-t', 'nat', '-F', 'TWILL-POSTRTG']);
    await ipt(['-t', 'nat', '-X', 'TWILL-POSTRTG']);
    await ipt(['-t', 'filter', '-D', 'FORWARD', '-j', 'TWILL-FWD']);
    const r = await doctor();
    assert.equal(r.code, 1);
    assert.deepEqual(r.json.findings.map((f: { check: string; subject: string; problem: string }) => [f.check, f.subject, f.problem]), [
      ['masquerade', 'nat/TWILL-POSTRTG', 'chain TWILL-POSTRTG is missing from table nat (FLANNEL_IPMASQ=true)'],
      ['masquerade', 'filter/FORWARD', 'FORWARD does not jump to TWILL-FWD'],
    ]);
    assert.equal(r.json.findings[1].fix, 'iptables -t filter -A FORWARD -j TWILL-FWD (or restart twilld on this node (it rewrites this state) and check its log)');
  });

  it('ip_forward turned off', async () => {
    await writeSysctl(ns, 'net.ipv4.ip_forward', '0');
    await expectFindings([{ severity: 'error', check: 'ip-forward', subject: 'net.ipv4.ip_forward',
      problem: 'is 0: this node drops traffic between pods and the overlay', fix: 'sysctl -w net.ipv4.ip_forward=1 (and persist it in /etc/sysctl.d/)' }]);
  });

  it('checksum offload left on: a warning (exit 0; exit 1 with --strict)', async () => {
    await ethtool(true);
    const finding = { severity: 'warning', check: 'offload', subject: DEV,
      problem: 'tx-checksum-ip-generic is on: when node addresses are NATed, some kernels send VXLAN packets with corrupt checksums that receivers drop',
      fix: `ethtool -K ${DEV} tx-checksum-ip-generic off` };
    const r = await doctor();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, { node: NODE, peers: 2, findings: [finding], errors: 0, warnings: 1, ok: false });
    await expectFindings([finding], ['--strict']);
  });

  it('a device whose MAC differs from the published VtepMAC (the kernel also flushes its neighbours)', async () => {
    await ip([`link set ${DEV} address 0a:58:0a:f4:01:77`]);
    await expectFindings([
      { severity: 'error', check: 'lease', subject: OWN.subnet, problem: `the lease publishes VtepMAC ${OWN_MAC} but ${DEV} has 0a:58:0a:f4:01:77: other nodes send to the wrong MAC`,
        fix: 'restart twilld on this node so it re-publishes its lease' },
      ...PEERS.map((p) => ({ severity: 'error', check: 'neighbour', subject: `${p.subnet} (node ${p.publicIP})`,
        problem: `no neighbour entry for ${p.subnet.replace('/24', '')} on ${DEV}`, fix: `ip neigh replace ${p.subnet.replace('/24', '')} lladdr ${p.vtepMAC} dev ${DEV} nud permanent` })),
    ]);
  });

  it('a missing /32 address (the kernel also drops the neighbours of the device; routes over nexthop objects stay)', async () => {
    await ip([`addr del 10.244.1.0/32 dev ${DEV}`]);
    await expectFindings([
      { severity: 'error', check: 'vxlan-device', subject: DEV, problem: 'address 10.244.1.0/32 is missing: replies from this node to other subnets get the wrong source',
        fix: `ip addr add 10.244.1.0/32 dev ${DEV}` },
      ...PEERS.map((p) => ({ severity: 'error', check: 'neighbour', subject: `${p.subnet} (node ${p.publicIP})`,
        problem: `no neighbour entry for ${p.subnet.replace('/24', '')} on ${DEV}`, fix: `ip neigh replace ${p.subnet.replace('/24', '')} lladdr ${p.vtepMAC} dev ${DEV} nud permanent` })),
    ]);
  });

  it('a missing VXLAN device is one finding, not one per peer', async () => {
    await ip([`link del ${DEV}`]);
    await expectFindings([{ severity: 'error', check: 'vxlan-device', subject: DEV,
      problem: 'VXLAN device is missing: no traffic reaches other nodes', fix: 'restart twilld on this node (it creates the device) and check its log' }]);
  });

  it('a table with each finding and how to fix it', async () => {
    await ip([`route del ${P2.subnet}`]);
    await writeSysctl(ns, 'net.ipv4.ip_forward', '0');
    const r = await runCtl(['doctor', '--subnet-file', envFile, '--etcd-endpoints', endpoint, '--etcd-prefix', PREFIX], { netns: node });
    assert.equal(r.code, 1);
    const lines = r.stdout.split('\n');
    assert.match(lines[1], /^SEVERITY +CHECK +SUBJECT +PROBLEM$/);
    assert.match(r.stdout, /^error +ip-forward +net\.ipv4\.ip_forward +is 0: /m);
    assert.match(r.stdout, /^error +route +10\.244\.2\.0\/24 \(node 198\.18\.0\.12\) +no route to 10\.244\.2\.0\/24/m);
    assert.match(r.stdout, /^How to fix:$/m);
    assert.match(r.stdout, new RegExp(`^ {2}\\d\\. 10\\.244\\.2\\.0/24 \\(node 198\\.18\\.0\\.12\\): ip route replace 10\\.244\\.2\\.0/24 nhid ${nhid(P2)}$`, 'm'));
    assert.match(r.stdout, /^2 error\(s\), 0 warning\(s\)$/m);
  });

  it('exits 1 when no lease matches this node', async () => {
    const r = await doctor(['--public-ip', '198.18.0.99']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no lease has public IP 198\.18\.0\.99/);
  });

  describe('host-gw', () => {
    const HG_OWN: SeedLease = { subnet: '10.245.1.0/24', publicIP: '198.18.0.11', backendType: 'host-gw', ttl: 3600 };
    const HG_PEER: SeedLease = { subnet: '10.245.2.0/24', publicIP: '198.18.0.12', backendType: 'host-gw', ttl: 3600 };
    let hgEnv: string;
    before(async () => {
      await putConfig(etcd, HG_PREFIX, { Network: '10.245.0.0/16', Backend: { Type: 'host-gw' } });
      for (const l of [HG_OWN, HG_PEER]) await seedLease(etcd, HG_PREFIX, l);
      hgEnv = tmpPath(world, 'hostgw.env');
      writeFileSync(hgEnv, formatSubnetEnv({ network: '10.245.0.0/16', subnet: '10.245.1.1/24', mtu: 1500, ipMasq: false }));
    });

    it('checks the route via the peer public IP', async () => {
      const run = () => runCtl(['doctor', '--subnet-file', hgEnv, '-o', 'json', '--etcd-endpoints', endpoint, '--etcd-prefix', HG_PREFIX], { netns: node });
      await ip([`route replace ${HG_PEER.subnet} via ${HG_PEER.publicIP}`]);
      const ok = await run();
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.deepEqual(ok.json, { node: { publicIP: HG_OWN.publicIP, subnet: HG_OWN.subnet, backendType: 'host-gw', device: null, interface: 'eth0' }, peers: 1, findings: [], errors: 0, warnings: 0, ok: true });
      await ip([`route del ${HG_PEER.subnet}`]);
      const bad = await run();
      assert.equal(bad.code, 1);
      assert.deepEqual(bad.json.findings, [{ severity: 'error', check: 'route', subject: '10.245.2.0/24 (node 198.18.0.12)',
        problem: 'no route to 10.245.2.0/24: pods on node 198.18.0.12 are unreachable', fix: 'ip route replace 10.245.2.0/24 via 198.18.0.12 dev eth0' }]);
    });
  });
});
