// Three nodes on one underlay: twilld with the userspace dataplane, twilld with kernel VXLAN,
// and a node set up the way flannel sets itself up (flannel.1, its lease JSON). Pods on every
// pair reach each other both ways, and a capture on the underlay (the userspace node's bridge port) shows plain VXLAN:
// UDP to port 8472, the I flag, the network's VNI, the pods' packets inside.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bridgeBatch, ipBatch } from '../../lib/kernel/ip.js';
import { writeSysctl } from '../../lib/kernel/sysctl.js';
import { writeSubnetEnv } from '../../lib/schema/subnet-env.js';
import { EtcdServer } from '../../harness/etcd.js';
import { addPod, ping, Pod } from '../../harness/pods.js';
import { tcpIntegrity } from '../helpers/vtep.js';
import { netConfig, Twilld, startEtcdWorld } from '../../harness/twilld.js';
import { netnsPath, stopProcess, tmpPath, Underlay, waitFor, World } from '../../harness/world.js';

interface VxlanPacket {
  src: string;
  dst: string;
  dport: number;
  flags: number;
  vni: number;
  innerSrc: string;
  innerDst: string;
  innerProto: number;
}

/** IPv4/UDP/VXLAN packets of a pcap file (Ethernet link type), parsed by hand. */
function readVxlanCapture(file: string): VxlanPacket[] {
  const b = readFileSync(file);
  const out: VxlanPacket[] = [];
  const ip = (o: number) => [...b.subarray(o, o + 4)].join('.');
  for (let off = 24; off + 16 <= b.length;) {
    const caplen = b.readUInt32LE(off + 8);
    const p = off + 16;
    off = p + caplen;
    if (caplen < 14 + 20 + 8 + 8 + 14 + 20 || b.readUInt16BE(p + 12) !== 0x0800) continue;
    const ihl = (b[p + 14] & 15) * 4;
    if (b[p + 14 + 9] !== 17) continue;
    const udp = p + 14 + ihl;
    const vx = udp + 8;
    const inner = vx + 8 + 14;
    out.push({
      src: ip(p + 14 + 12), dst: ip(p + 14 + 16), dport: b.readUInt16BE(udp + 2),
      flags: b[vx], vni: b.readUIntBE(vx + 4, 3),
      innerSrc: ip(inner + 12), innerDst: ip(inner + 16), innerProto: b[inner + 9],
    });
  }
  return out;
}

describe('userspace VXLAN next to kernel VXLAN and a flannel-style node', function () {
  this.timeout(120000);
  const world = new World('dui');
  let ul: Underlay;
  let etcd: EtcdServer;
  let du: Twilld;
  let dk: Twilld;
  const pods: Record<'user' | 'kernel' | 'flannel', Pod | undefined> = { user: undefined, kernel: undefined, flannel: undefined };
  const FLANNEL_MAC = '02:fa:00:00:00:03';

  before(async () => {
    ({ ul, etcd } = await startEtcdWorld(world, 3, netConfig()));
    const fl = ul.nodes[2];
    const flNs = netnsPath(fl.ns);
    await writeSysctl(flNs, 'net.ipv4.ip_forward', '1');
    await ipBatch(flNs, [
      `link add flannel.1 address ${FLANNEL_MAC} mtu 1450 type vxlan id 1 dev eth0 local ${fl.ip} dstport 8472 nolearning`,
      'addr add 10.244.60.0/32 dev flannel.1',
      'link set flannel.1 up',
    ]);
    const grant = await etcd.ctl(['lease', 'grant', '300']);
    const leaseId = /lease ([0-9a-f]+) granted/.exec(grant)![1];
    await etcd.ctl(['put', '--lease', leaseId, '/coreos.com/network/subnets/10.244.60.0-24',
      JSON.stringify({ PublicIP: fl.ip, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: FLANNEL_MAC } })]);
    const flEnv = tmpPath(world, 'flannel.subnet.env');
    await writeSubnetEnv(flEnv, { network: '10.244.0.0/16', subnet: '10.244.60.1/24', mtu: 1450, ipMasq: false });
    pods.flannel = await addPod(world, fl.ns, flEnv, 1);

    du = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint, args: ['--vxlan-userspace'] }).start();
    dk = new Twilld(world, ul.nodes[1], { etcd: etcd.endpoint }).start();
    await Promise.all([du.waitReady(), dk.waitReady()]);
    pods.user = await addPod(world, ul.nodes[0].ns, du.subnetFile, 1);
    pods.kernel = await addPod(world, ul.nodes[1].ns, dk.subnetFile, 1);

    // what flanneld on the third node would program for both twill leases
    const lines: string[] = [];
    const fdb: string[] = [];
    for (const d of [du, dk]) {
      const s = /FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/24/.exec(readFileSync(d.subnetFile, 'utf8'))![1];
      const lease = JSON.parse(await etcd.ctl(['get', `/coreos.com/network/subnets/${s}.0-24`, '--print-value-only']));
      lines.push(`neigh replace ${s}.0 lladdr ${lease.BackendData.VtepMAC} dev flannel.1 nud permanent`, `route replace ${s}.0/24 via ${s}.0 dev flannel.1 onlink`);
      fdb.push(`fdb append ${lease.BackendData.VtepMAC} dev flannel.1 dst ${lease.PublicIP} self permanent`);
    }
    await ipBatch(flNs, lines);
    await bridgeBatch(flNs, fdb);
  });
  after(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- userspace ---\n${du?.logs.slice(-3000)}\n--- kernel ---\n${dk?.logs.slice(-3000)}\n`);
    await world.cleanup();
  });

  for (const [a, b] of [['user', 'kernel'], ['user', 'flannel'], ['kernel', 'flannel']] as const) {
    it(`pods on the ${a} and ${b} nodes reach each other both ways`, async () => {
      assert.ok(await waitFor(`${a} -> ${b}`, () => ping(world, pods[a]!, pods[b]!.ip), 15000));
      assert.ok(await ping(world, pods[b]!, pods[a]!.ip), `${b} -> ${a}`);
    });
  }

  for (const [a, b] of [['kernel', 'user'], ['user', 'kernel'], ['flannel', 'user'], ['user', 'flannel']] as const) {
    it(`carries 8 MB of TCP from the ${a} node's pod to the ${b} node's pod intact`, async () => {
      const res = await tcpIntegrity(world, pods[a]!.ns, pods[b]!.ns, pods[b]!.ip, 8 << 20);
      assert.equal(res.received, res.sent);
    });
  }

  it('puts plain VXLAN on the underlay: UDP port 8472, flags I, VNI 1, the pods\' packets inside', async () => {
    const file = tmpPath(world, 'underlay.pcap');
    // on the userspace node's bridge port: br0 itself sees forwarded unicast only while flooding
    const cap = world.spawnIn(ul.ns, 'tcpdump', ['-i', 'ul1', '-nn', '--immediate-mode', '-U', '-w', file, 'udp and dst port 8472']);
    let err = '';
    cap.stderr!.on('data', (d) => (err += d));
    await waitFor('tcpdump listening', () => err.includes('listening on'), 10000, 50);
    for (const [a, b] of [['user', 'kernel'], ['user', 'flannel']] as const) {
      assert.ok(await ping(world, pods[a]!, pods[b]!.ip, 3));
      assert.ok(await ping(world, pods[b]!, pods[a]!.ip, 3));
    }
    // every packet must be in the file before tcpdump stops (immediate mode + -U write them at once)
    await waitFor('the capture to hold the pings', () => readVxlanCapture(file).filter((p) => p.innerProto === 1).length >= 24, 10000, 100);
    await stopProcess(cap);
    const pkts = readVxlanCapture(file).filter((p) => p.innerProto === 1);
    const u = ul.nodes[0].ip;
    for (const peer of [ul.nodes[1].ip, ul.nodes[2].ip]) {
      for (const [src, dst] of [[u, peer], [peer, u]]) {
        const seen = pkts.filter((p) => p.src === src && p.dst === dst);
        assert.ok(seen.length >= 3, `ICMP in VXLAN from ${src} to ${dst}: ${seen.length} packets (${pkts.length} captured)`);
        for (const p of seen) {
          assert.equal(p.dport, 8472);
          assert.equal(p.flags, 0x08, 'only the I flag');
          assert.equal(p.vni, 1);
        }
      }
    }
    const podIps = Object.values(pods).map((p) => p!.ip);
    assert.ok(pkts.every((p) => podIps.includes(p.innerSrc) && podIps.includes(p.innerDst)), 'inner packets are pod to pod');
  });

  it('counts no drops on the userspace node for this traffic', async () => {
    for (const reason of ['malformed', 'wrong_vni', 'unknown_source']) {
      assert.equal(await du.metric('twill_userspace_vxlan_dropped_total', `reason="${reason}"`), 0, reason);
    }
    assert.equal(await du.metric('twill_userspace_vxlan_peers'), 2);
  });
});
