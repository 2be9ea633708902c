// scripts/install-cni.sh, the init containers' install step, run for real on temp dirs:
// atomic replacement (readers see the old or the new file, never a mix), replacing a plugin
// that is executing, --if-missing, and failures that leave the target and directory clean.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CommandError, run } from '../../lib/exec.js';
import { REPO_ROOT } from '../../harness/cni.js';
import { RUN_PREFIX } from '../../harness/world.js';

const SCRIPT = path.join(REPO_ROOT, 'scripts/install-cni.sh');
const install = (...args: string[]) => run('sh', [SCRIPT, ...args]);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('install-cni.sh', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), `${RUN_PREFIX}k-inst-`));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const leftovers = (d: string) => readdirSync(d).filter((f) => f.startsWith('.'));

  it('installs into a new directory with the given mode and leaves no temp file', async () => {
    const src = path.join(dir, 'src.conflist');
    writeFileSync(src, '{"name":"twill"}');
    const dest = path.join(dir, 'etc/cni/net.d/10-twill.conflist');
    await install('--mode', '0644', src, dest);
    assert.equal(readFileSync(dest, 'utf8'), '{"name":"twill"}');
    assert.equal(statSync(dest).mode & 0o777, 0o644);
    assert.deepEqual(leftovers(path.dirname(dest)), []);
  });

  it('replaces a file atomically: a concurrent reader sees the old or the new content, never a mix', async () => {
    const a = randomBytes(4 << 20);
    const b = randomBytes(4 << 20);
    const [srcA, srcB, dest] = ['a', 'b', 'plugin'].map((n) => path.join(dir, n));
    writeFileSync(srcA, a);
    writeFileSync(srcB, b);
    await install(srcA, dest);
    const valid = new Set([sha(a), sha(b)]);
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const got = readFileSync(dest);
        assert.ok(valid.has(sha(got)), `read ${got.length} bytes that are neither version`);
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 0; i < 6; i++) await install(i % 2 ? srcB : srcA, dest); // ends with b
    stop = true;
    await reader;
    assert.ok(reads > 0);
    assert.equal(sha(readFileSync(dest)), sha(b));
    assert.deepEqual(leftovers(dir), []);
  });

  it('replaces a plugin binary while it is running (an in-place copy fails with ETXTBSY)', async () => {
    const dest = path.join(dir, 'twill');
    copyFileSync('/bin/sleep', dest);
    const running = spawn(dest, ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => running.once('spawn', r));
      await assert.rejects(run('cp', ['/bin/true', dest]), (e) => e instanceof CommandError && /busy/i.test(e.stderr));
      await install('/bin/true', dest);
      assert.equal(sha(readFileSync(dest)), sha(readFileSync('/bin/true')));
      assert.equal(running.exitCode, null, 'the old binary keeps running');
      assert.equal(statSync(dest).mode & 0o777, 0o755);
    } finally {
      running.kill('SIGKILL');
    }
  });

  it('installs the file a symlink points to, never the link (the image\'s program names are symlinks)', async () => {
    const file = path.join(dir, 'twill');
    writeFileSync(file, 'one executable');
    symlinkSync('twill', path.join(dir, 'twilld'));
    const dest = path.join(dir, 'host/opt/cni/bin/twill');
    await install('--mode', '0755', path.join(dir, 'twilld'), dest);
    assert.ok(lstatSync(dest).isFile(), 'a regular file on the host, not a link into the container');
    assert.equal(readFileSync(dest, 'utf8'), 'one executable');
  });

  it('--if-missing keeps an existing file and installs a missing one', async () => {
    const dest = path.join(dir, 'portmap');
    writeFileSync(dest, 'host portmap');
    await install('--if-missing', '/bin/true', dest);
    assert.equal(readFileSync(dest, 'utf8'), 'host portmap');
    rmSync(dest);
    await install('--if-missing', '/bin/true', dest);
    assert.equal(sha(readFileSync(dest)), sha(readFileSync('/bin/true')));
  });

  it('fails on a missing or empty source without touching the target', async () => {
    const dest = path.join(dir, 'twill');
    writeFileSync(dest, 'old');
    await assert.rejects(install(path.join(dir, 'nope'), dest), (e) => e instanceof CommandError && e.exitCode === 1 && /does not exist/.test(e.stderr));
    writeFileSync(path.join(dir, 'empty'), '');
    await assert.rejects(install(path.join(dir, 'empty'), dest), /is empty/);
    assert.equal(readFileSync(dest, 'utf8'), 'old');
    assert.deepEqual(leftovers(dir), []);
  });

  it('removes its temp file when a step after the copy fails', async () => {
    // an invalid mode makes chmod fail after the temp file was written
    const dest = path.join(dir, 'twill');
    writeFileSync(dest, 'old');
    await assert.rejects(install('--mode', 'bogus', '/bin/true', dest), (e) => e instanceof CommandError && /chmod/.test(e.stderr));
    assert.equal(readFileSync(dest, 'utf8'), 'old');
    assert.deepEqual(leftovers(dir), []);
  });

  it('refuses bad usage', async () => {
    await assert.rejects(install('--mode'), (e) => e instanceof CommandError && e.exitCode === 2);
    await assert.rejects(install('only-one-arg'), (e) => e instanceof CommandError && e.exitCode === 2);
    await assert.rejects(install('--bogus', 'a', 'b'), (e) => e instanceof CommandError && e.exitCode === 2);
  });
});
