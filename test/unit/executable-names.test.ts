// The one executable (scripts/build.mjs, loader in scripts/warm-code-cache.mjs) acts by the
// name it is started under: a symlink's name (argv0), else the file's own name (a copy), and
// refuses any other name. The built file itself, run from a temp dir.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TWILL_BIN, TWILLCTL_BIN, TWILLD_BIN } from '../../harness/cni.js';
import { RUN_PREFIX } from '../../harness/world.js';

const run = (file: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(file, args, { encoding: 'utf8', input: '', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env } });

describe('the one executable and its names', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), `${RUN_PREFIX}-names-`));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('dist/bin/twilld and dist/bin/twillctl are symlinks to dist/bin/twill', () => {
    for (const l of [TWILLD_BIN, TWILLCTL_BIN]) {
      assert.ok(lstatSync(l).isSymbolicLink(), l);
      assert.equal(readlinkSync(l), path.basename(TWILL_BIN));
    }
    assert.ok(lstatSync(TWILL_BIN).isFile());
  });

  it('a copy named twillctl is twillctl, one named twill is the CNI plugin', () => {
    const ctl = path.join(dir, 'twillctl');
    copyFileSync(TWILL_BIN, ctl);
    const v = run(ctl, ['--version']);
    assert.deepEqual([v.status, v.stdout], [0, '0.1.0\n']);
    const plugin = path.join(dir, 'twill');
    copyFileSync(TWILL_BIN, plugin);
    const p = run(plugin, [], { CNI_COMMAND: 'VERSION' });
    assert.equal(p.status, 0, p.stderr);
    assert.equal(JSON.parse(p.stdout).cniVersion, '1.1.0');
  });

  it('a symlink\'s name wins over the file it points to', () => {
    const link = path.join(dir, 'twilld');
    symlinkSync(path.join(dir, 'twill'), link);
    const v = run(link, ['--help']);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /twill node daemon/);
  });

  it('every program\'s code cache is accepted under the executable\'s own V8 flags', () => {
    // V8 drops a cache made under flags it hashes differently, and says so on stderr: the
    // program then compiles its bundle at every start (scripts/warm-code-cache.mjs)
    for (const [file, args, env] of [[TWILLD_BIN, ['--version'], {}], [TWILLCTL_BIN, ['--version'], {}],
      [TWILL_BIN, [], { CNI_COMMAND: 'VERSION' }]] as const) {
      const r = run(file, [...args], env);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /code cache/i, `${path.basename(file)}: ${r.stderr}`);
    }
  });

  it('under any other name it says which names it has and exits 2', () => {
    const other = path.join(dir, 'netd');
    copyFileSync(TWILL_BIN, other);
    const r = run(other, ['--version']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /started as "netd"; this executable runs as twill, twilld, twillctl/);
  });
});
