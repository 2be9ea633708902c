// The userspace VXLAN engine on real TAP devices and a real underlay: engine <-> engine
// (one of them multi-queue), engine <-> kernel VXLAN device, engine <-> the same engine in
// per-packet mode, and a CPU-steered one; TCP payloads arrive intact (hashes at both ends, which also checks the
// segmentation and coalescing), every kind of bad packet is dropped and counted, and peer
// tables swapped under load leave the traffic flowing.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ipBatch } from '../../lib/kernel/ip.js';
import { ping } from '../../harness/pods.js';
import { kernelVtep, peerWith, tcpIntegrity, userspaceVtep, Vtep } from '../helpers/vtep.js';
import { buildUnderlay, netnsPath, Underlay, waitFor, World } from '../../harness/world.js';

/** Sends one UDP datagram (hex payload) from a namespace, optionally from a given source address. */
async function sendUdp(world: World, ns: string, to: string, port: number, hex: string, from?: string): Promise<void> {
  await world.exec(ns, process.execPath, ['-e', `
    const s = require('node:dgram').createSocket('udp4');
    s.bind(0, ${JSON.stringify(from ?? '0.0.0.0')}, () => s.send(Buffer.from(${JSON.stringify(hex)}, 'hex'), ${port}, ${JSON.stringify(to)}, () => s.close()));`]);
}

describe('userspace VXLAN engine', function () {
  this.timeout(120000);
  const world = new World('ven');
  let ul: Underlay;
  let a: Vtep; // batched, offloads
  let b: Vtep; // batched, 2 queues
  let k: Vtep; // kernel VXLAN
  let r: Vtep; // per-packet reference
  let s: Vtep; // batched, 2 queues, CPU steering

  before(async () => {
    ul = await buildUnderlay(world, 5);
    const [n1, n2, n3, n4, n5] = ul.nodes;
    a = await userspaceVtep(world, n1.ns, n1.ip, '02:77:00:00:00:01', '10.97.1.0');
    b = await userspaceVtep(world, n2.ns, n2.ip, '02:77:00:00:00:02', '10.97.2.0', { queues: 2, nice: -5 });
    k = await kernelVtep(n3.ns, n3.iface, n3.ip, '02:77:00:00:00:03', '10.97.3.0');
    // asked to steer, as twilld asks every engine by default: with one queue it stays off
    r = await userspaceVtep(world, n4.ns, n4.ip, '02:77:00:00:00:04', '10.97.4.0', { vnetHdr: false, batch: false, cpuSteering: true });
    s = await userspaceVtep(world, n5.ns, n5.ip, '02:77:00:00:00:05', '10.97.5.0', { queues: 2, cpuSteering: true });
    const all = [a, b, k, r, s];
    for (const v of all) await peerWith(v, all.filter((x) => x !== v));
  });
  after(() => world.cleanup());

  it('reports which offloads it got', () => {
    const s = a.engine!.stats();
    assert.equal(s.udpGso, true);
    assert.equal(s.udpGro, true);
    assert.equal(s.threads, 2);
    assert.equal(b.engine!.stats().threads, 4, 'two queues, a sender and a receiver each');
    assert.equal(b.engine!.stats().nice, -5);
    // this process's threads at nice -5: b's four engine threads, nobody else
    const niced = readdirSync('/proc/self/task').filter((t) => {
      const st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      return st.slice(st.lastIndexOf(')') + 2).split(' ')[16] === '-5';
    });
    assert.equal(niced.length, 4);
    const ref = r.engine!.stats();
    assert.equal(ref.udpGso, false, 'the per-packet reference uses no offloads');
    assert.equal(ref.udpGro, false);
    assert.equal(a.engine!.stats().cpuSteering, false, 'not asked for');
    assert.equal(a.engine!.stats().cpuSteeringRefused, null);
    assert.equal(ref.cpuSteering, false, 'one queue: nothing to steer');
    assert.equal(ref.cpuSteeringRefused, null, 'and no refusal to report');
  });

  it('steers by CPU when asked: queue q\'s threads pinned to CPU q', function () {
    const st = s.engine!.stats();
    if (availableParallelism() < 2) {
      // a one-CPU machine has no CPU 1 for queue 1: the engine says so and runs on hashes
      assert.equal(st.cpuSteering, false);
      assert.match(st.cpuSteeringRefused ?? '', /CPU 1/);
      return;
    }
    assert.equal(st.cpuSteering, true, `refused: ${st.cpuSteeringRefused}`);
    assert.equal(st.cpuSteeringRefused, null);
    const pinned = new Map<string, string>();
    for (const t of readdirSync('/proc/self/task')) {
      const status = readFileSync(`/proc/self/task/${t}/status`, 'utf8');
      const name = /^Name:\s+(\S+)/m.exec(status)![1];
      if (/^twill-(tx|rx)\d$/.test(name)) pinned.set(`${name}@${t}`, /^Cpus_allowed_list:\s+(\S+)/m.exec(status)![1]);
    }
    // this process runs several engines; the steered one's threads are the only pinned ones
    const steered = [...pinned].filter(([, cpus]) => /^\d+$/.test(cpus)).map(([k, cpus]) => `${k.split('@')[0]}:${cpus}`).sort();
    assert.deepEqual(steered, ['twill-rx0:0', 'twill-rx1:1', 'twill-tx0:0', 'twill-tx1:1']);
  });

  for (const [x, y] of [['a', 'b'], ['a', 'k'], ['b', 'k'], ['a', 'r'], ['k', 'r'], ['s', 'a'], ['s', 'k']] as const) {
    it(`${x} and ${y} ping each other both ways`, async () => {
      const v = { a: () => a, b: () => b, k: () => k, r: () => r, s: () => s };
      const from = v[x](), to = v[y]();
      assert.ok(await waitFor(`${x} -> ${y}`, () => ping(world, from.ns, to.addr), 10000));
      assert.ok(await ping(world, to.ns, from.addr), `${y} -> ${x}`);
    });
  }

  for (const [x, y] of [['a', 'b'], ['b', 'a'], ['a', 'k'], ['k', 'a'], ['k', 'b'], ['b', 'k'], ['r', 'a'], ['a', 'r'], ['k', 'r'], ['s', 'k'], ['k', 's'], ['s', 'a'], ['a', 's']] as const) {
    it(`carries 8 MB of TCP from ${x} to ${y} intact`, async () => {
      const v = { a: () => a, b: () => b, k: () => k, r: () => r, s: () => s };
      const res = await tcpIntegrity(world, v[x]().ns, v[y]().ns, v[y]().addr, 8 << 20);
      assert.equal(res.received, res.sent);
    });
  }

  it('sent TSO super-frames as UDP GSO trains and merged received segments', () => {
    const s = a.engine!.stats();
    assert.ok(s.txGsoFrames > 0, 'super-frames from the TAP');
    assert.ok(s.txPackets > s.txSends, 'more VXLAN packets than send calls');
    assert.ok(s.rxCoalesced > 0, 'segments merged on receive');
    assert.ok(s.rxFrames > s.rxWrites, 'fewer TAP writes than frames');
  });

  it('carries TCP intact when a small MSS cuts every super-frame into hundreds of segments', async () => {
    // b advertises MSS 88 towards a: a's 64 KB super-frames become ~700 segments, each a
    // header and a payload slice in one UDP GSO send (more iovecs than a normal MSS needs)
    const route = (extra: string[]) => ipBatch(netnsPath(b.ns), [[`route replace 10.97.1.0/24 via ${a.addr} dev ${b.dev} onlink`, ...extra].join(' ')]);
    await route(['advmss', '88']);
    try {
      const before = a.engine!.stats();
      const res = await tcpIntegrity(world, a.ns, b.ns, b.addr, 4 << 20);
      assert.equal(res.received, res.sent);
      const after = a.engine!.stats();
      assert.ok(after.txGsoFrames > before.txGsoFrames, 'super-frames were segmented');
      assert.ok((after.txPackets - before.txPackets) / (after.txGsoFrames - before.txGsoFrames) > 40, 'many segments per super-frame');
      assert.equal(after.txDropBadFrame, before.txDropBadFrame, 'no super-frame was refused for want of room');
    } finally {
      await route([]);
    }
  });

  it('sends what its TAP writes produced (replies, ACKs) from the receiving thread', async () => {
    // a ping's reply is generated while the request is written to the TAP; the receiving
    // thread takes it straight from the TAP instead of waiting for the sending thread to wake.
    // Which thread gets a given reply is a race (the sending thread may be awake on the other
    // core first, more often on a loaded machine), so the pings go on until each engine has
    // sent at least one reply from its receiving thread; a path that never does times out.
    const before = b.engine!.stats().txByReceiver;
    const beforeRef = r.engine!.stats().txByReceiver;
    const rose = () => ({ batched: b.engine!.stats().txByReceiver > before, reference: r.engine!.stats().txByReceiver > beforeRef });
    await waitFor('replies sent by the receiving thread of both engines', async () => {
      assert.ok(await ping(world, a.ns, b.addr, 5));
      assert.ok(await ping(world, a.ns, r.addr, 5));
      const now = rose();
      return now.batched && now.reference;
    }, 60000, 0);
    const now = rose();
    assert.ok(now.batched, 'the batched engine');
    assert.ok(now.reference, 'the per-packet reference (as flannel\'s udp loop does)');
  });

  it('drops and counts malformed packets, wrong VNIs, unknown senders and unknown MACs', async () => {
    const before = a.engine!.stats();
    const inner = '02770000000102770000000208004500001c000000004011000001020304050607080000000000080000';
    // from a peer's address: no I flag, then reserved bits set, then too short
    await sendUdp(world, k.ns, a.ip, 8472, '00000000000001000' + '0' + inner);
    await sendUdp(world, k.ns, a.ip, 8472, '0800000100000100' + inner);
    await sendUdp(world, k.ns, a.ip, 8472, '0800000000000100');
    // VNI 2 instead of 1
    await sendUdp(world, k.ns, a.ip, 8472, '0800000000000200' + inner);
    // well-formed, but from the underlay's own address, which holds no lease
    await sendUdp(world, ul.ns, a.ip, 8472, '0800000000000100' + inner);
    await waitFor('drop counters', () => {
      const s = a.engine!.stats();
      return s.rxDropMalformed - before.rxDropMalformed >= 3 && s.rxDropWrongVni > before.rxDropWrongVni && s.rxDropUnknownSource > before.rxDropUnknownSource;
    }, 5000);
    const s = a.engine!.stats();
    assert.equal(s.rxDropMalformed - before.rxDropMalformed, 3);
    assert.equal(s.rxDropWrongVni - before.rxDropWrongVni, 1);
    assert.equal(s.rxDropUnknownSource - before.rxDropUnknownSource, 1);
    assert.equal(s.rxWrites, before.rxWrites, 'none of them reached the TAP');

    // a next hop whose MAC no peer announces
    await ipBatch(netnsPath(a.ns), ['neigh replace 10.97.9.0 lladdr 02:77:00:00:00:99 dev twu0 nud permanent', 'route replace 10.97.9.0/24 via 10.97.9.0 dev twu0 onlink']);
    assert.equal(await ping(world, a.ns, '10.97.9.1'), false);
    assert.ok(a.engine!.stats().txDropUnknownMac > before.txDropUnknownMac);
  });

  it('keeps traffic flowing while the peer table is swapped again and again under load', async () => {
    const peers = [b, k, r].map((v) => ({ mac: v.mac, ip: v.ip }));
    const filler = Array.from({ length: 2000 }, (_, i) => ({ mac: `02:66:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, ip: `198.19.${i >> 8}.${i & 255}` }));
    const swapsBefore = a.engine!.stats().peerSwaps;
    let swapping = true;
    let swaps = 0;
    const swapper = (async () => {
      while (swapping) {
        a.engine!.setPeers(swaps % 2 ? peers : [...filler, ...peers]);
        swaps++;
        await new Promise((res) => setImmediate(res));
      }
    })();
    try {
      const res = await tcpIntegrity(world, b.ns, a.ns, a.addr, 32 << 20);
      assert.equal(res.received, res.sent);
    } finally {
      swapping = false;
      await swapper;
    }
    assert.ok(swaps > 10, `swapped ${swaps} times`);
    assert.equal(a.engine!.stats().peerSwaps - swapsBefore, swaps);
    assert.equal(a.engine!.stats().failure, undefined);
  });

  it('reports the TAP device going away as a failure instead of spinning', async () => {
    await ipBatch(netnsPath(r.ns), ['link del twu0']);
    await waitFor('failure reported', () => r.engine!.stats().failure, 5000);
    assert.match(r.engine!.stats().failure!, /TAP device/);
    r.engine!.stop();
    assert.equal(r.engine!.running, false);
  });
});
