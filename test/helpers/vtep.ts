// Hand-built VXLAN tunnel endpoints for engine-level tests: a node namespace gets either a
// TAP device driven by the userspace engine or a kernel VXLAN device, with the same layout
// twilld programs (the VTEP address as a /32, per peer an onlink route via the peer's VTEP
// address and a permanent neighbour entry for it), so the two kinds can face each other.
import { bridgeBatch, ipBatch } from '../../lib/kernel/ip.js';
import { openTun, TUN_F, TunDevice } from '../../lib/kernel/tun/device.js';
import { EngineOptions, VxlanEngine } from '../../lib/kernel/tun/engine.js';
import { netnsPath, World } from '../../harness/world.js';

export interface Vtep {
  ns: string;
  /** underlay address */
  ip: string;
  mac: string;
  /** the VTEP address (x.y.z.0 of its "subnet") */
  addr: string;
  dev: string;
  engine?: VxlanEngine;
  tap?: TunDevice;
}

export interface UserspaceVtepOptions extends Partial<EngineOptions> {
  queues?: number;
  /** false: no virtio header, no offloads (the per-packet reference) */
  vnetHdr?: boolean;
}

export async function userspaceVtep(world: World, ns: string, ip: string, mac: string, addr: string, o: UserspaceVtepOptions = {}): Promise<Vtep> {
  const dev = 'twu0';
  const vnet = o.vnetHdr ?? true;
  const tap = openTun({ name: dev, netns: netnsPath(ns), mode: 'tap', vnetHdr: vnet, queues: o.queues ?? 1, multiQueue: true,
    offloads: vnet ? [TUN_F.CSUM | TUN_F.TSO4, TUN_F.CSUM] : [] });
  world.onCleanup(() => tap.close());
  await ipBatch(netnsPath(ns), [`link set ${dev} address ${mac} mtu 1450 up`, `addr add ${addr}/32 dev ${dev}`]);
  const engine = VxlanEngine.start(tap, { vni: o.vni ?? 1, port: o.port ?? 8472, batch: o.batch, udpGso: o.udpGso, udpGro: o.udpGro, coalesce: o.coalesce, nice: o.nice, sliceUs: o.sliceUs, cpuSteering: o.cpuSteering });
  world.onCleanup(() => engine.stop());
  return { ns, ip, mac, addr, dev, engine, tap };
}

export async function kernelVtep(ns: string, iface: string, ip: string, mac: string, addr: string, vni = 1): Promise<Vtep> {
  const dev = 'twk0';
  await ipBatch(netnsPath(ns), [
    `link add ${dev} address ${mac} mtu 1450 type vxlan id ${vni} dev ${iface} local ${ip} dstport 8472 nolearning`,
    `addr add ${addr}/32 dev ${dev}`,
    `link set ${dev} up`,
  ]);
  return { ns, ip, mac, addr, dev };
}

/** Makes `a` reach `b`'s VTEP address (and its /24) the way twilld would. */
export async function peerWith(a: Vtep, peers: Vtep[]): Promise<void> {
  const lines: string[] = [];
  const fdb: string[] = [];
  for (const b of peers) {
    const net = b.addr.replace(/\.0$/, '.0/24');
    lines.push(`neigh replace ${b.addr} lladdr ${b.mac} dev ${a.dev} nud permanent`, `route replace ${net} via ${b.addr} dev ${a.dev} onlink`);
    fdb.push(`fdb append ${b.mac} dev ${a.dev} dst ${b.ip} self permanent`);
  }
  await ipBatch(netnsPath(a.ns), lines);
  if (a.engine) a.engine.setPeers(peers.map((b) => ({ mac: b.mac, ip: b.ip })));
  else await bridgeBatch(netnsPath(a.ns), fdb);
}

/**
 * Sends `bytes` of random data over TCP from `from` to a server at `to`:9000 in `toNs` and
 * returns the SHA-256 both ends computed, so corruption anywhere on the path shows.
 */
export async function tcpIntegrity(world: World, fromNs: string, toNs: string, to: string, bytes: number): Promise<{ sent: string; received: string }> {
  const server = world.spawnIn(toNs, process.execPath, ['-e', `
    const h = require('node:crypto').createHash('sha256');
    const srv = require('node:net').createServer((c) => {
      c.on('data', (d) => h.update(d));
      c.on('end', () => { c.end(h.digest('hex')); srv.close(); });
    });
    srv.listen(9000, ${JSON.stringify(to)}, () => console.log('listening'));`]);
  let serverErr = '';
  server.stderr!.on('data', (d) => (serverErr += d));
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout!.once('data', () => resolve());
      server.once('exit', (c) => reject(new Error(`integrity server exited ${c}: ${serverErr}`)));
    });
    return await send(world, fromNs, to, bytes);
  } finally {
    server.kill('SIGKILL');
  }
}

async function send(world: World, fromNs: string, to: string, bytes: number): Promise<{ sent: string; received: string }> {
  const out = await world.exec(fromNs, process.execPath, ['-e', `
    const crypto = require('node:crypto');
    const h = crypto.createHash('sha256');
    const c = require('node:net').connect(9000, ${JSON.stringify(to)});
    let left = ${bytes}, reply = '';
    const pump = () => {
      while (left > 0) {
        const chunk = crypto.randomBytes(Math.min(left, 256 * 1024));
        left -= chunk.length;
        h.update(chunk);
        if (!c.write(chunk)) return c.once('drain', pump);
      }
      c.end();
    };
    c.on('connect', pump);
    c.on('data', (d) => (reply += d));
    c.on('end', () => console.log(JSON.stringify({ sent: h.digest('hex'), received: reply })));
    c.setTimeout(30000, () => { console.error('timeout'); process.exit(3); });`]);
  return JSON.parse(out.trim()) as { sent: string; received: string };
}
