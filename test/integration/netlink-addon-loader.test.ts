// How the single executable gets its netlink addon onto disk (lib/kernel/netlink/addon.ts):
// written once per build under a content-derived name in a private directory, never half
// written even when many plugins start at once, and refused from a directory others can
// write to. Also: the built plugin really runs ADD, CHECK and DEL with no child process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { materialize } from '../../lib/kernel/netlink/addon.js';
import { REPO_ROOT, TWILL_BIN } from '../../harness/cni.js';
import { PluginNode } from '../helpers/plugin-node.js';
import { netnsPath, World } from '../../harness/world.js';

const ADDON = path.join(REPO_ROOT, 'build/native/twill_netlink.node');

function runNode(script: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('netlink addon loader', function () {
  const world = new World('nla');
  after(() => world.cleanup());

  it('writes the addon once, then reuses the same file', () => {
    const dir = path.join(world.tmp, 'once');
    const bytes = readFileSync(ADDON);
    const a = materialize(dir, 'twill_netlink-test.node', bytes);
    const first = statSync(a);
    const b = materialize(dir, 'twill_netlink-test.node', bytes);
    assert.equal(a, b);
    assert.equal(statSync(b).ino, first.ino, 'not rewritten');
    assert.deepEqual(readFileSync(a), bytes);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });

  it('refuses a directory that others can write to', () => {
    const dir = path.join(world.tmp, 'open');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    assert.throws(() => materialize(dir, 'x.node', new Uint8Array(4)), /not a private directory \(owner \d+, mode 777\)/);
    assert.equal(existsSync(path.join(dir, 'x.node')), false);
  });

  it('16 processes materializing and loading at once all get a whole, working addon', async () => {
    const dir = path.join(world.tmp, 'race');
    const loader = path.join(REPO_ROOT, 'build/lib/kernel/netlink/addon.js');
    const script = `
      const { materialize } = require(process.argv[1]);
      const bytes = require('fs').readFileSync(process.argv[2]);
      const file = materialize(process.argv[3], 'twill_netlink-race.node', bytes);
      const m = { exports: {} };
      process.dlopen(m, file);
      const fd = m.exports.socketIn(null);
      m.exports.close(fd);
      console.log('ok', file);`;
    const results = await Promise.all(Array.from({ length: 16 }, () => runNode(script, [loader, ADDON, dir])));
    for (const r of results) assert.equal(r.code, 0, r.out);
    assert.deepEqual(readdirSync(dir), ['twill_netlink-race.node'], 'no temporary files left behind');
    assert.deepEqual(readFileSync(path.join(dir, 'twill_netlink-race.node')), readFileSync(ADDON));
  });

  it('the built plugin runs ADD, CHECK and DEL without starting any process (empty PATH)', async () => {
    const node = await PluginNode.create(world, 'np');
    const pod = await node.addPod();
    const emptyBin = path.join(world.tmp, 'empty-bin');
    mkdirSync(emptyBin);
    const call = (command: string, config: object) =>
      new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
        // nsenter by absolute path puts the plugin in the node namespace; the plugin then
        // sees a PATH where no `ip`, `nsenter` or anything else can be found.
        const child = spawn('/usr/bin/nsenter', [`--net=${netnsPath(node.ns)}`, '--', TWILL_BIN], {
          env: { PATH: emptyBin, CNI_COMMAND: command, CNI_CONTAINERID: pod.id, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_PATH: emptyBin },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        child.stdout.on('data', (b) => (stdout += b));
        child.stderr.on('data', (b) => (stdout += b));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout }));
        child.stdin.end(JSON.stringify(config));
      });
    const conf = node.conf('1.1.0');
    const add = await call('ADD', conf);
    assert.equal(add.code, 0, add.stdout);
    const result = JSON.parse(add.stdout);
    assert.equal(result.ips[0].address, '10.244.3.2/24');
    const check = await call('CHECK', { ...conf, prevResult: result });
    assert.equal(check.code, 0, check.stdout);
    const del = await call('DEL', conf);
    assert.equal(del.code, 0, del.stdout);
    const gone = await call('CHECK', { ...conf, prevResult: result });
    assert.match(gone.stdout, /pod interface eth0 is missing/);
  });
});
