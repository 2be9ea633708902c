// twill's TUN/TAP module against the real kernel: devices opened by name inside a test
// namespace, frames exchanged with a UDP socket living there, close and reopen, persistence,
// multi-queue, offload probing, and each error class from the errno the kernel gives.
import assert from 'node:assert/strict';
import { readFileSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { getLink, ipBatch } from '../../lib/kernel/ip.js';
import { openTun, TUN_F, TunDevice } from '../../lib/kernel/tun/device.js';
import { TunDeviceExistsError, TunPermissionError, TunUnavailableError } from '../../lib/kernel/tun/errors.js';
import { netnsPath, waitFor, World } from '../../harness/world.js';

const REPO_ROOT = path.resolve(__dirname, '../../..');

function ipv4Checksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += b.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** An IPv4/UDP packet (UDP checksum 0: "none", allowed for IPv4). */
function udpPacket(src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(28 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(ip, 12);
  Buffer.from(dst.split('.').map(Number)).copy(ip, 16);
  ip.writeUInt16BE(ipv4Checksum(ip), 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([ip, udp, payload]);
}

/** Reads packets from a non-blocking fd until `match` accepts one (polling; EAGAIN = nothing yet). */
async function readUntil(fd: number, match: (p: Buffer) => boolean, timeoutMs = 5000): Promise<Buffer> {
  const buf = Buffer.alloc(65536);
  const found = await waitFor('a matching packet from the device', () => {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return undefined;
        throw e;
      }
      const p = Buffer.from(buf.subarray(0, n));
      if (match(p)) return p;
    }
  }, timeoutMs, 20);
  return found!;
}

describe('tun/tap module against the kernel', function () {
  this.timeout(60000);
  const world = new World('tun');
  let ns: string;
  const open: TunDevice[] = [];
  const track = (d: TunDevice) => (open.push(d), d);

  before(async () => {
    ns = await world.addNetns('a');
  });
  afterEach(() => {
    for (const d of open.splice(0)) d.close();
  });
  after(() => world.cleanup());

  it('opens a TUN device in a namespace and exchanges packets with a UDP socket there', async () => {
    const dev = track(openTun({ name: 'tw0', netns: netnsPath(ns), mode: 'tun', nonBlocking: true }));
    assert.equal(dev.name, 'tw0');
    assert.equal(dev.queues, 1);
    await ipBatch(netnsPath(ns), ['addr add 10.99.0.1/24 dev tw0', 'link set tw0 up']);
    const echo = world.spawnIn(ns, process.execPath, ['-e', `
      const s = require('node:dgram').createSocket('udp4');
      s.on('message', (m, r) => s.send(Buffer.concat([Buffer.from('pong:'), m]), r.port, r.address));
      s.bind(7777, '10.99.0.1', () => console.log('bound'));`]);
    await new Promise<void>((resolve) => echo.stdout!.once('data', () => resolve()));
    writeSync(dev.fds[0], udpPacket('10.99.0.2', '10.99.0.1', 5555, 7777, Buffer.from('ping')));
    const reply = await readUntil(dev.fds[0], (p) => p[0] >> 4 === 4 && p[9] === 17 && p.readUInt16BE(22) === 5555);
    assert.equal(reply.subarray(28).toString(), 'pong:ping');
    assert.equal(reply.subarray(12, 16).join('.'), '10.99.0.1');
  });

  it('opens a multi-queue TAP with a virtio header, probes offloads, and removes it on close', async () => {
    const dev = openTun({ name: 'tw1', netns: netnsPath(ns), mode: 'tap', vnetHdr: true, queues: 3, offloads: [TUN_F.CSUM | TUN_F.TSO4, TUN_F.CSUM] });
    assert.equal(dev.queues, 3);
    assert.equal(new Set(dev.fds).size, 3);
    assert.equal(dev.offloads, TUN_F.CSUM | TUN_F.TSO4, 'this kernel takes checksum + TSO4 offload');
    const link = await getLink(netnsPath(ns), 'tw1');
    const info = link?.linkinfo?.info_data as Record<string, unknown>;
    assert.equal(info.type, 'tap');
    assert.equal(info.vnet_hdr, true);
    assert.equal(info.multi_queue, true);
    assert.equal(info.pi, false);
    assert.equal(info.persist, false);
    dev.close();
    dev.close(); // idempotent
    await waitFor('tw1 gone', async () => !(await getLink(netnsPath(ns), 'tw1')));
    const again = track(openTun({ name: 'tw1', netns: netnsPath(ns), mode: 'tap', queues: 2 }));
    assert.equal(again.queues, 2);
  });

  it('keeps a persistent device after close and attaches to it again', async () => {
    const dev = openTun({ name: 'tw2', netns: netnsPath(ns), mode: 'tap', persist: true });
    dev.close();
    assert.ok(await getLink(netnsPath(ns), 'tw2'), 'persistent device stays');
    const again = openTun({ name: 'tw2', netns: netnsPath(ns), mode: 'tap' });
    again.setPersist(false);
    again.close();
    await waitFor('tw2 gone', async () => !(await getLink(netnsPath(ns), 'tw2')));
  });

  it('says "device exists" for a name held by another kind of device, and with exclusive', async () => {
    await ipBatch(netnsPath(ns), ['link add tw3 type veth peer name tw3p']);
    assert.throws(() => openTun({ name: 'tw3', netns: netnsPath(ns), mode: 'tap' }), (e: unknown) => {
      assert.ok(e instanceof TunDeviceExistsError, String(e));
      assert.equal(e.code, 'EINVAL');
      assert.equal(e.ctx.netns, netnsPath(ns));
      return true;
    });
    track(openTun({ name: 'tw4', netns: netnsPath(ns), mode: 'tap', multiQueue: true }));
    assert.throws(() => openTun({ name: 'tw4', netns: netnsPath(ns), mode: 'tap', multiQueue: true, exclusive: true }),
      (e: unknown) => e instanceof TunDeviceExistsError && e.code === 'EBUSY');
    // a single-queue device already attached is busy too
    track(openTun({ name: 'tw5', netns: netnsPath(ns), mode: 'tun' }));
    assert.throws(() => openTun({ name: 'tw5', netns: netnsPath(ns), mode: 'tun' }), (e: unknown) => e instanceof TunDeviceExistsError && e.code === 'EBUSY');
  });

  it('says "no TUN/TAP support" when the clone device is missing', () => {
    assert.throws(() => openTun({ name: 'tw6', netns: netnsPath(ns), mode: 'tap', devicePath: path.join(world.tmp, 'no-such-tun') }),
      (e: unknown) => e instanceof TunUnavailableError && e.code === 'ENOENT' && e.syscall === 'open');
  });

  it('is carried by twilld only: the CNI plugin\'s bundle never loads it', () => {
    const bundle = (name: string) => readFileSync(path.join(REPO_ROOT, 'dist/bundle', `${name}.cjs`), 'utf8');
    assert.ok(bundle('twilld-twillctl').includes('twill_tuntap'));
    assert.ok(!bundle('twill').includes('twill_tuntap'), 'plugin start-up stays free of the addon');
  });

  it('says "permission denied" without CAP_NET_ADMIN', async () => {
    const script = `
      const { openTun } = require(${JSON.stringify(path.join(REPO_ROOT, 'build/lib/kernel/tun/device.js'))});
      try { openTun({ name: 'tw7', mode: 'tap' }); console.log('opened'); }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code })); }`;
    const out = await world.exec(ns, 'setpriv', ['--bounding-set=-all', '--inh-caps=-all', '--', process.execPath, '-e', script]);
    assert.deepEqual(JSON.parse(out.trim()), { name: 'TunPermissionError', code: 'EPERM' });
    assert.equal(new TunPermissionError('x', 'EPERM', 1, 'TUNSETIFF', { op: 'open', device: 'tw7' }).name, 'TunPermissionError');
  });
});
