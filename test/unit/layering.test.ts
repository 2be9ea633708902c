// The dependency rule the tree is laid out by: lib/ imports none of the programs, and each
// program (cni-plugin/, daemon/, ctl/) imports only lib/ and itself, never another program
// nor harness/, test/, bench/ or scripts/. harness/ (the namespace world that tests, benchmarks
// and the demo build on) sits beside them: it drives the built programs, imports only lib/,
// and is imported by test/, bench/ and scripts/ alone. Checked on the sources, static and
// dynamic imports alike.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/cni.js';

const PROGRAMS = ['cni-plugin', 'daemon', 'ctl'];
const FORBIDDEN_FOR_ALL = ['harness', 'test', 'bench', 'scripts'];

function sources(dir: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(REPO_ROOT, path.join(e.parentPath, e.name)));
}

/** Top-level folders a file's relative imports reach. */
function importedFolders(file: string): Set<string> {
  const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:from\s+|import\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = path.normalize(path.join(path.dirname(file), m[1]));
    out.add(target.split(path.sep)[0]);
  }
  return out;
}

describe('layering', () => {
  it('lib/ imports nothing of the programs, the harness, tests, benchmarks or scripts', () => {
    const bad = sources('lib').flatMap((f) => [...importedFolders(f)].filter((d) => d !== 'lib').map((d) => `${f} -> ${d}/`));
    assert.deepEqual(bad, []);
  });

  for (const program of PROGRAMS) {
    it(`${program}/ imports only lib/ and itself`, () => {
      const files = sources(program);
      assert.ok(files.length > 5, `found the sources of ${program}`);
      const bad = files.flatMap((f) => [...importedFolders(f)]
        .filter((d) => d !== program && d !== 'lib' && (PROGRAMS.includes(d) || FORBIDDEN_FOR_ALL.includes(d)))
        .map((d) => `${f} -> ${d}/`));
      assert.deepEqual(bad, []);
    });
  }

  it('harness/ imports only lib/ and itself: never test/, bench/, scripts/ or a program', () => {
    const files = sources('harness');
    assert.ok(files.length > 5, 'found the sources of harness');
    const bad = files.flatMap((f) => [...importedFolders(f)].filter((d) => d !== 'harness' && d !== 'lib').map((d) => `${f} -> ${d}/`));
    assert.deepEqual(bad, []);
  });

  it('bench/ and scripts/ reach the harness in harness/, not inside test/', () => {
    const bad = [...sources('bench'), ...sources('scripts')].flatMap((f) => [...importedFolders(f)].filter((d) => d === 'test').map(() => `${f} -> test/`));
    assert.deepEqual(bad, []);
  });
});
