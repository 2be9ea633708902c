// twillctl leases / reserve / unreserve / usage against a real etcd seeded with flannel's
// layout through etcdctl. JSON output is compared exactly; the expiry (the only volatile
// field) is checked against the TTL range and then normalised.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { load } from 'js-yaml';
import { EtcdServer } from '../../harness/etcd.js';
import { currentRevision, getKey, leaseKey, putConfig, seedLease, SeedLease } from '../helpers/ctl-seed.js';
import { TWILLCTL_BIN } from '../../harness/cni.js';
import { ctlAt } from '../helpers/twillctl.js';

const PREFIX = '/twill-c/leases';
const TTL = 86400;
const CONFIG = { Network: '10.244.0.0/16', SubnetLen: 24, SubnetMin: '10.244.1.0', SubnetMax: '10.244.10.0', Backend: { Type: 'vxlan' } };
const A: SeedLease = { subnet: '10.244.3.0/24', publicIP: '198.18.0.11', vtepMAC: '0a:58:0a:f4:03:00', ttl: TTL };
const B: SeedLease = { subnet: '10.244.10.0/24', publicIP: '198.18.0.12', vtepMAC: '0a:58:0a:f4:0a:00', ttl: TTL };
const R: SeedLease = { subnet: '10.244.2.0/24', publicIP: '198.18.0.13' }; // reservation

describe('twillctl leases (real etcd)', function () {
  let etcd: EtcdServer;
  let ctl: ReturnType<typeof ctlAt>;
  const ids = new Map<string, string | null>();

  before(async () => {
    etcd = await new EtcdServer().start();
    ctl = ctlAt(etcd.endpoint, PREFIX);
    await putConfig(etcd, PREFIX, CONFIG);
    for (const l of [A, B, R]) ids.set(l.subnet, await seedLease(etcd, PREFIX, l));
  });
  after(async () => {
    await etcd?.destroy();
  });

  function expectedView(l: SeedLease) {
    return {
      subnet: l.subnet,
      subnet6: null,
      publicIP: l.publicIP,
      publicIPv6: null,
      backendType: 'vxlan',
      vtepMAC: l.vtepMAC ?? null,
      vni: l.vtepMAC ? 1 : null,
      reserved: l.ttl === undefined,
      expiresInSeconds: l.ttl === undefined ? null : 'normalised',
      leaseId: ids.get(l.subnet),
      node: null, // etcd leases do not name their Node
    };
  }

  /** Checks each expiry is within the TTL and replaces it, so the rest compares exactly. */
  function normaliseExpiry(v: { expiresInSeconds: number | null; reserved: boolean }) {
    if (v.reserved) {
      assert.equal(v.expiresInSeconds, null);
      return v;
    }
    assert.ok(typeof v.expiresInSeconds === 'number' && v.expiresInSeconds > TTL - 120 && v.expiresInSeconds <= TTL, `expiry ${v.expiresInSeconds}`);
    return { ...v, expiresInSeconds: 'normalised' };
  }

  it('lists every lease as documented JSON, in subnet order', async () => {
    const r = await ctl(['leases', 'list', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(r.json), ['leases', 'invalid']);
    assert.deepEqual(r.json.invalid, []);
    assert.deepEqual(r.json.leases.map(normaliseExpiry), [R, A, B].map(expectedView));
  });

  it('prints the same object as YAML', async () => {
    const [j, y] = await Promise.all([ctl(['leases', 'list', '-o', 'json']), ctl(['leases', 'list', '-o', 'yaml'])]);
    assert.equal(y.code, 0, y.stderr);
    const fromYaml = load(y.stdout) as typeof j.json;
    assert.deepEqual(fromYaml.leases.map(normaliseExpiry), j.json.leases.map(normaliseExpiry));
  });

  it('prints a table with a header and one row per lease', async () => {
    const r = await ctl(['leases', 'list']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n').map((l) => l.replace(/\s+/g, ' ').replace(/ 23h5\dm /, ' EXP ').replace(/ 1d0h /, ' EXP '));
    assert.deepEqual(lines, [
      'SUBNET PUBLIC-IP BACKEND VTEP-MAC EXPIRES-IN RESERVED',
      '10.244.2.0/24 198.18.0.13 vxlan - never yes',
      '10.244.3.0/24 198.18.0.11 vxlan 0a:58:0a:f4:03:00 EXP no',
      '10.244.10.0/24 198.18.0.12 vxlan 0a:58:0a:f4:0a:00 EXP no',
    ]);
  });

  it('finds the lease for a subnet, a pod address and a node public IP', async () => {
    for (const [query, lease] of [['10.244.3.0/24', A], ['10.244.3.0-24', A], ['10.244.10.77', B], ['198.18.0.13', R]] as const) {
      const r = await ctl(['leases', 'get', query, '-o', 'json']);
      assert.equal(r.code, 0, `${query}: ${r.stderr}`);
      assert.deepEqual({ ...r.json, lease: normaliseExpiry(r.json.lease) }, { query, lease: expectedView(lease) });
    }
  });

  it('exits 1 naming the query when no lease holds it, 2 for a malformed one', async () => {
    const miss = await ctl(['leases', 'get', '10.244.7.9']);
    assert.equal(miss.code, 1);
    assert.match(miss.stderr, /no lease holds 10\.244\.7\.9/);
    assert.equal(miss.stdout, '');
    const bad = await ctl(['leases', 'get', '10.244.7.9/24']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /host bits set/);
  });

  it('streams puts and deletes as JSON lines', async () => {
    const from = await currentRevision(etcd);
    const child = spawn(TWILLCTL_BIN, ['leases', 'watch', '--count', '2', '--from-revision', from, '-o', 'json', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX]);
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    const done = new Promise<number | null>((res) => child.on('close', res));
    const C: SeedLease = { subnet: '10.244.5.0/24', publicIP: '198.18.0.14', vtepMAC: '0a:58:0a:f4:05:00', ttl: TTL };
    ids.set(C.subnet, await seedLease(etcd, PREFIX, C));
    await etcd.ctl(['del', leaseKey(PREFIX, C.subnet)]);
    assert.equal(await done, 0, err);
    const events = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(events.length, 2);
    const [put, del] = events;
    assert.ok(BigInt(put.revision) > BigInt(from) && BigInt(del.revision) > BigInt(put.revision));
    assert.deepEqual({ ...put, revision: 'r', lease: normaliseExpiry(put.lease) }, { type: 'put', revision: 'r', subnet: C.subnet, lease: expectedView(C) });
    assert.deepEqual({ ...del, revision: 'r' }, { type: 'delete', revision: 'r', subnet: C.subnet, lease: null });
  });

  it('re-lists with a "resync" event when its start revision was compacted, then streams on', async () => {
    const E: SeedLease = { subnet: '10.244.4.0/24', publicIP: '198.18.0.16', vtepMAC: '0a:58:0a:f4:04:00', ttl: TTL };
    await etcd.ctl(['compact', await currentRevision(etcd)]);
    const child = spawn(TWILLCTL_BIN, ['leases', 'watch', '--count', '1', '--from-revision', '1', '-o', 'json', '--etcd-endpoints', etcd.endpoint, '--etcd-prefix', PREFIX]);
    let out = '';
    let err = '';
    let firstLine: () => void = () => {};
    const gotFirst = new Promise<void>((r) => (firstLine = r));
    child.stdout.on('data', (b) => {
      out += b;
      if (out.includes('\n')) firstLine();
    });
    child.stderr.on('data', (b) => (err += b));
    const done = new Promise<number | null>((res) => child.on('close', res));
    await Promise.race([gotFirst, done]);
    const listed = ((await ctl(["leases", "list", "-o", "json"])).json.leases as { expiresInSeconds: number | null; reserved: boolean }[]).map(normaliseExpiry);
    ids.set(E.subnet, await seedLease(etcd, PREFIX, E));
    assert.equal(await done, 0, err);
    const [resync, put, ...rest] = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rest, []);
    assert.equal(resync.type, 'resync');
    assert.match(resync.reason, /watch/);
    assert.deepEqual(resync.leases.map(normaliseExpiry), listed);
    assert.deepEqual({ ...put, revision: 'r', lease: normaliseExpiry(put.lease) }, { type: 'put', revision: 'r', subnet: E.subnet, lease: expectedView(E) });
    await etcd.ctl(['del', leaseKey(PREFIX, E.subnet)]);
  });

  it('streams table rows in table mode', async () => {
    const from = await currentRevision(etcd);
    const F: SeedLease = { subnet: '10.244.7.0/24', publicIP: '198.18.0.17', vtepMAC: '0a:58:0a:f4:07:00', ttl: TTL };
    await seedLease(etcd, PREFIX, F);
    await etcd.ctl(['del', leaseKey(PREFIX, F.subnet)]);
    const r = await ctl(['leases', 'watch', '--count', '2', '--from-revision', from]);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').map((l) => l.split('  '));
    assert.equal(rows.length, 2);
    assert.ok(rows.every((row) => !Number.isNaN(Date.parse(row[0]))));
    assert.deepEqual(rows[0].slice(1, 6), ['PUT', F.subnet, F.publicIP, 'vxlan', F.vtepMAC]);
    assert.match(rows[0][6], /^ttl \d+s$/);
    assert.deepEqual(rows[1].slice(1), ['DELETE', F.subnet]);
  });

  it('refuses to release without --yes when nobody can be asked, releases with it', async () => {
    const D: SeedLease = { subnet: '10.244.6.0/24', publicIP: '198.18.0.15', vtepMAC: '0a:58:0a:f4:06:00', ttl: TTL };
    await seedLease(etcd, PREFIX, D);
    const refused = await ctl(['leases', 'release', D.subnet]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--yes/);
    assert.ok(await getKey(etcd, leaseKey(PREFIX, D.subnet)), 'still there after the refusal');
    const ok = await ctl(['leases', 'release', D.subnet, '--yes', '-o', 'json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(ok.json, { released: D.subnet, publicIP: D.publicIP, wasReserved: false });
    assert.equal(await getKey(etcd, leaseKey(PREFIX, D.subnet)), undefined);
    const again = await ctl(['leases', 'release', D.subnet, '--yes']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no lease or reservation for 10\.244\.6\.0\/24/);
  });

  describe('reserve / unreserve', () => {
    it('reserves a free subnet as a key with no etcd lease', async () => {
      const r = await ctl(['reserve', '10.244.8.0/24', '--public-ip', '198.18.0.20', '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json, {
        changed: true,
        lease: { subnet: '10.244.8.0/24', subnet6: null, publicIP: '198.18.0.20', publicIPv6: null, backendType: 'vxlan', vtepMAC: null, vni: null, reserved: true, expiresInSeconds: null, leaseId: null, node: null },
      });
      const kv = await getKey(etcd, leaseKey(PREFIX, '10.244.8.0/24'));
      assert.equal(kv?.lease, null);
      assert.deepEqual(JSON.parse(kv!.value), { PublicIP: '198.18.0.20', BackendType: 'vxlan', BackendData: null });
      const again = await ctl(['reserve', '10.244.8.0/24', '--public-ip', '198.18.0.20', '-o', 'json']);
      assert.equal(again.code, 0);
      assert.equal(again.json.changed, false);
    });

    it('refuses a subnet another node holds, and one outside the network', async () => {
      const held = await ctl(['reserve', A.subnet, '--public-ip', '198.18.0.99']);
      assert.equal(held.code, 1);
      assert.match(held.stderr, /held by node 198\.18\.0\.11/);
      const outside = await ctl(['reserve', '10.245.1.0/24', '--public-ip', '198.18.0.99']);
      assert.equal(outside.code, 1);
      assert.match(outside.stderr, /not a node subnet of this network/);
      const badIp = await ctl(['reserve', '10.244.9.0/24', '--public-ip', 'nope']);
      assert.equal(badIp.code, 2);
      const noIp = await ctl(['reserve', '10.244.9.0/24']);
      assert.equal(noIp.code, 2);
      assert.match(noIp.stderr, /public-ip/);
    });

    it("pins a node's live lease (keeping its VtepMAC) and gives it a TTL back on unreserve", async () => {
      const r = await ctl(['reserve', B.subnet, '--public-ip', B.publicIP, '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json, { changed: true, lease: { ...expectedView(B), reserved: true, expiresInSeconds: null, leaseId: null } });
      assert.equal((await getKey(etcd, leaseKey(PREFIX, B.subnet)))?.lease, null);

      const u = await ctl(['unreserve', B.subnet, '--ttl', '600', '-o', 'json']);
      assert.equal(u.code, 0, u.stderr);
      const kv = await getKey(etcd, leaseKey(PREFIX, B.subnet));
      assert.ok(kv?.lease, 'has an etcd lease again');
      assert.equal(u.json.lease.leaseId, kv!.lease);
      assert.ok(u.json.lease.expiresInSeconds > 500 && u.json.lease.expiresInSeconds <= 600, String(u.json.lease.expiresInSeconds));
      assert.deepEqual({ ...u.json, lease: { ...u.json.lease, expiresInSeconds: 0, leaseId: 'x' } },
        { changed: true, lease: { ...expectedView(B), expiresInSeconds: 0, leaseId: 'x' } });
      const notReserved = await ctl(['unreserve', B.subnet]);
      assert.equal(notReserved.code, 1);
      assert.match(notReserved.stderr, /is not reserved/);
    });
  });

  describe('usage', () => {
    it('counts total / used / reserved / free against the configured range', async () => {
      const { leases } = (await ctl(['leases', 'list', '-o', 'json'])).json as { leases: { reserved: boolean }[] };
      const reserved = leases.filter((l) => l.reserved).length;
      const used = leases.length - reserved;
      const r = await ctl(['usage', '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const total = 10; // 10.244.1.0 .. 10.244.10.0
      assert.deepEqual(r.json, {
        family: 4, network: '10.244.0.0/16', subnetLen: 24, subnetMin: '10.244.1.0/24', subnetMax: '10.244.10.0/24',
        total, used, reserved, free: total - used - reserved,
        usedPercent: Math.round(((used + reserved) / total) * 1000) / 10, outside: 0, ipv6: null,
      });
      assert.ok(used > 0 && reserved > 0);
    });

    it('counts leases outside the range separately and fails above a threshold', async () => {
      await seedLease(etcd, PREFIX, { subnet: '10.244.200.0/24', publicIP: '198.18.0.30', ttl: TTL });
      const r = await ctl(['usage', '-o', 'json', '--fail-above', '1']);
      assert.equal(r.code, 1);
      assert.equal(r.json.outside, 1);
      assert.match(r.stderr, /outside 10\.244\.0\.0\/16/);
      assert.match(r.stderr, /% of node subnets are taken \(limit 1%\)/);
      const table = await ctl(['usage']);
      assert.equal(table.code, 0);
      assert.match(table.stdout, /^Network: +10\.244\.0\.0\/16 /m);
      assert.match(table.stdout, new RegExp(`^Free: +${r.json.free}$`, 'm'));
      await etcd.ctl(['del', leaseKey(PREFIX, '10.244.200.0/24')]);
    });
  });
});
