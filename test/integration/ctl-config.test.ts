// twillctl config get / set / validate against a real etcd: exact JSON, refusal of invalid
// configs (nothing written), warnings for stranded leases, and compare-and-swap conflicts.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { EtcdServer } from '../../harness/etcd.js';
import { getKey, putConfig, seedLease } from '../helpers/ctl-seed.js';
import { ctlAt, runCtl } from '../helpers/twillctl.js';
import { RUN_PREFIX } from '../../harness/world.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const PREFIX = '/twill-c/config';
const KEY = `${PREFIX}/config`;

describe('twillctl config (real etcd)', function () {
  let etcd: EtcdServer;
  let ctl: ReturnType<typeof ctlAt>;
  let dir: string;
  const file = (name: string, content: object | string) => {
    const p = path.join(dir, name);
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
    return p;
  };

  before(async () => {
    etcd = await new EtcdServer().start();
    ctl = ctlAt(etcd.endpoint, PREFIX);
    dir = mkdtempSync(path.join(tmpdir(), `${RUN_PREFIX}c-cfg-`));
  });
  after(async () => {
    await etcd?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('config get exits 1 with a hint when there is no config', async () => {
    const r = await ctl(['config', 'get', '-o', 'json']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no network config at \/twill-c\/config\/config/);
  });

  it('config set stores a valid config (creating it) and config get shows it exactly', async () => {
    const cfg = { Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: 4 } };
    const set = await ctl(['config', 'set', file('a.json', cfg), '-o', 'json']);
    assert.equal(set.code, 0, set.stderr);
    const kv = await getKey(etcd, KEY);
    assert.deepEqual(JSON.parse(kv!.value), cfg);
    assert.deepEqual(set.json, { written: true, key: KEY, modRevision: kv!.modRevision, previousModRevision: null, warnings: [] });

    const get = await ctl(['config', 'get', '-o', 'json']);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(get.json, {
      key: KEY,
      modRevision: kv!.modRevision,
      config: cfg,
      effective: {
        Network: '10.244.0.0/16', SubnetLen: 24, SubnetMin: '10.244.1.0', SubnetMax: '10.244.255.0',
        Backend: { Type: 'vxlan', VNI: 4, Port: 8472, DirectRouting: false },
      },
      error: null,
    });
    const table = await ctl(['config', 'get']);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /^Network: +10\.244\.0\.0\/16$/m);
    assert.match(table.stdout, /^Subnets: +255$/m);
    assert.match(table.stdout, /^VNI: +4$/m);
    assert.match(table.stdout, new RegExp(`^Revision: +${kv!.modRevision}$`, 'm'));
  });

  it('config validate accepts a good config from stdin and names the field of a bad one', async () => {
    const ok = await runCtl(['config', 'validate', '-', '-o', 'json'], { input: JSON.stringify({ Network: '10.10.0.0/16', SubnetLen: 26, Backend: { Type: 'host-gw' } }) });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(ok.json, {
      valid: true,
      effective: { Network: '10.10.0.0/16', SubnetLen: 26, SubnetMin: '10.10.0.64', SubnetMax: '10.10.255.192', Backend: { Type: 'host-gw' } },
      error: null,
      warnings: [],
    });
    const cases: [object | string, string, RegExp][] = [
      [{ Network: '10.10.0.0/16', SubnetLen: 31 }, 'SubnetLen', /31 is outside 1\.\.30/],
      [{ Network: '10.10.0.0/16', SubnetLen: 12 }, 'SubnetLen', /must be longer than Network/],
      [{ Network: '10.10.0.0/16', SubnetMin: '10.10.1.5' }, 'SubnetMin', /not aligned/],
      [{ Network: '10.10.0.0/16', SubnetMax: '10.11.0.0' }, 'SubnetMax', /outside Network/],
      [{ Network: '10.10.1.0/16' }, 'Network', /host bits set \(did you mean 10\.10\.0\.0\/16\?\)/],
      [{ Network: 'ten' }, 'Network', /not a valid CIDR/],
      [{ Network: '10.10.0.0/16', Backend: { Type: 'udp' } }, 'Backend.Type', /not supported/],
      [{ Network: '10.10.0.0/16', Backend: { Type: 'vxlan', Port: 70000 } }, 'Backend.Port', /outside 1\.\.65535/],
      [{ Network: '10.10.0.0/16', Backend: { Type: 'vxlan', Color: 'red' } }, 'Backend.Color', /unknown field/],
      ['{"Network": ', '(json)', /not valid JSON/],
    ];
    for (const [cfg, field, msg] of cases) {
      const r = await runCtl(['config', 'validate', '-', '-o', 'json'], { input: typeof cfg === 'string' ? cfg : JSON.stringify(cfg) });
      assert.equal(r.code, 1, `${JSON.stringify(cfg)}: ${r.stderr}`);
      assert.equal(r.json.valid, false);
      assert.equal(r.json.error.field, field, JSON.stringify(cfg));
      assert.match(r.json.error.message, msg);
      assert.match(r.stderr, msg);
    }
  });

  it('config set refuses an invalid config and writes nothing', async () => {
    const before = await getKey(etcd, KEY);
    const r = await ctl(['config', 'set', file('bad.json', { Network: '10.244.0.0/16', SubnetLen: 8 })]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused: network config: SubnetLen/);
    assert.deepEqual(await getKey(etcd, KEY), before);
  });

  it('config set warns about leases the new config would strand, and still writes it', async () => {
    await seedLease(etcd, PREFIX, { subnet: '10.244.3.0/24', publicIP: '198.18.0.11', vtepMAC: '0a:58:0a:f4:03:00', ttl: 600 });
    await seedLease(etcd, PREFIX, { subnet: '10.244.200.0/24', publicIP: '198.18.0.12' });
    const cfg = { Network: '10.244.0.0/16', SubnetMax: '10.244.100.0', Backend: { Type: 'vxlan', VNI: 4 } };
    const r = await ctl(['config', 'set', file('narrow.json', cfg), '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const want = ['lease 10.244.200.0/24 (node 198.18.0.12, reserved) would be outside SubnetMin..SubnetMax 10.244.1.0..10.244.100.0'];
    assert.deepEqual(r.json.warnings, want);
    assert.equal(r.stderr, want.map((w) => `warning: ${w}\n`).join(''));
    assert.deepEqual(JSON.parse((await getKey(etcd, KEY))!.value), cfg);

    const moved = await ctl(['config', 'set', file('moved.json', { Network: '10.50.0.0/16', Backend: { Type: 'host-gw' } }), '-o', 'json']);
    assert.equal(moved.code, 0, moved.stderr);
    assert.deepEqual(moved.json.warnings, [
      'lease 10.244.3.0/24 (node 198.18.0.11) would be outside Network 10.50.0.0/16',
      'lease 10.244.3.0/24 (node 198.18.0.11) uses backend vxlan; the node switches to host-gw when twilld restarts',
      'lease 10.244.200.0/24 (node 198.18.0.12, reserved) would be outside Network 10.50.0.0/16',
      'lease 10.244.200.0/24 (node 198.18.0.12, reserved) uses backend vxlan; the node switches to host-gw when twilld restarts',
    ]);
  });

  it('config set with --expect-revision loses to a writer that came in between (CAS), and wins when current', async () => {
    const read = await ctl(['config', 'get', '-o', 'json']);
    const seen = read.json.modRevision as string;
    // another operator writes after our read
    const theirs = { Network: '10.60.0.0/16' };
    await putConfig(etcd, PREFIX, theirs);
    const mine = { Network: '10.70.0.0/16' };
    const lost = await ctl(['config', 'set', file('mine.json', mine), '--expect-revision', seen, '-o', 'json']);
    assert.equal(lost.code, 1);
    assert.equal(lost.stdout, '');
    const now = (await getKey(etcd, KEY))!;
    assert.match(lost.stderr, new RegExp(`conflict: the config at ${KEY} changed \\(revision ${now.modRevision}, expected ${seen}\\); nothing written`));
    assert.deepEqual(JSON.parse(now.value), theirs);

    const won = await ctl(['config', 'set', file('mine.json', mine), '--expect-revision', now.modRevision, '-o', 'json']);
    assert.equal(won.code, 0, won.stderr);
    assert.equal(won.json.previousModRevision, now.modRevision);
    assert.deepEqual(JSON.parse((await getKey(etcd, KEY))!.value), mine);

    const mustNotExist = await ctl(['config', 'set', file('mine.json', mine), '--expect-revision', '0']);
    assert.equal(mustNotExist.code, 1);
    assert.match(mustNotExist.stderr, /conflict/);
    const badRev = await ctl(['config', 'set', file('mine.json', mine), '--expect-revision', 'abc']);
    assert.equal(badRev.code, 2);
  });

  it('two concurrent writers with the same expected revision: exactly one wins', async () => {
    const rev = (await getKey(etcd, KEY))!.modRevision;
    const cfgs = [{ Network: '10.80.0.0/16' }, { Network: '10.90.0.0/16' }];
    const results = await Promise.all(cfgs.map((c, i) => ctl(['config', 'set', file(`race${i}.json`, c), '--expect-revision', rev])));
    assert.deepEqual(results.map((r) => r.code).sort(), [0, 1], results.map((r) => r.stderr).join('\n'));
    const winner = results.findIndex((r) => r.code === 0);
    assert.deepEqual(JSON.parse((await getKey(etcd, KEY))!.value), cfgs[winner]);
  });

  it('config get reports a stored config that is invalid (exit 1) but still shows it', async () => {
    await putConfig(etcd, PREFIX, '{"Network":"10.244.0.0/16","SubnetLen":40}');
    const r = await ctl(['config', 'get', '-o', 'json']);
    assert.equal(r.code, 1);
    assert.deepEqual(r.json.config, { Network: '10.244.0.0/16', SubnetLen: 40 });
    assert.equal(r.json.effective, null);
    assert.equal(r.json.error.field, 'SubnetLen');
    assert.match(r.stderr, /stored config is invalid/);
  });
});
