// The Dockerfile, read statically (the real-cluster suite, test/k8s, builds and runs the image;
// these checks are fast and say which rule broke): a build stage that produces the single executables, and a final stage with
// no Node and no build tools that holds every file the manifests run.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { REPO_ROOT } from '../../harness/cni.js';

type Obj = any; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Stage { from: string; name?: string; lines: string[] }

function stages(text: string): Stage[] {
  // join continuation lines, drop comments
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const out: Stage[] = [];
  for (const l of logical) {
    const m = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(l);
    if (m) out.push({ from: m[1], name: m[2], lines: [] });
    else out[out.length - 1].lines.push(l);
  }
  return out;
}

/** Destination paths of COPY instructions in a stage (files named by their final path). */
function copiedFiles(s: Stage): Map<string, string> {
  const files = new Map<string, string>(); // destination -> source
  for (const l of s.lines) {
    const parts = l.split(/\s+/);
    if (parts[0].toUpperCase() !== 'COPY') continue;
    const args = parts.slice(1).filter((p) => !p.startsWith('--'));
    const from = parts.slice(1).find((p) => p.startsWith('--from='));
    const dest = args.pop()!;
    for (const src of args) {
      const target = dest.endsWith('/') ? dest + path.basename(src) : dest;
      files.set(target, from ? `${from.slice(7)}:${src}` : src);
    }
  }
  return files;
}

/** Symlinks a stage's RUN lines make (`ln -s TARGET LINK`): link -> target. */
function symlinks(s: Stage): Map<string, string> {
  const links = new Map<string, string>();
  for (const l of s.lines.filter((x) => /^RUN\s/i.test(x))) {
    for (const m of l.matchAll(/\bln -s (\S+) (\S+)/g)) links.set(m[2], m[1]);
  }
  return links;
}

describe('Dockerfile', () => {
  const all = stages(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const final = all[all.length - 1];
  const build = all.find((s) => s.lines.some((l) => l.includes('npm run build')));

  it('builds the binaries in a Node 24 stage with npm ci and npm run build', () => {
    assert.ok(build, 'a stage running npm run build');
    assert.match(build.from, /^node:24/);
    assert.ok(build.lines.some((l) => /RUN .*npm ci/.test(l)));
  });

  it('has a final stage of one layer: a Debian slim root with iproute2 and iptables, no Node, npm or apt', () => {
    assert.equal(final.from, 'scratch');
    const rootCopy = final.lines.find((l) => /^COPY --from=\S+ \/ \/$/.test(l));
    assert.ok(rootCopy, 'the final stage starts from a whole root file system');
    const root = all.find((s) => s.name === /--from=(\S+)/.exec(rootCopy)![1])!;
    assert.match(root.from, /^debian:[a-z]+-slim$/);
    const run = root.lines.filter((l) => /^RUN\s/i.test(l)).join(' ');
    const installs = run.match(/apt-get install[^&]*/)![0];
    for (const p of ['iproute2', 'iptables']) assert.match(installs, new RegExp(`\\b${p}\\b`));
    for (const p of ['nodejs', 'npm', 'build-essential', 'gcc', 'make']) assert.doesNotMatch(installs, new RegExp(`\\b${p}\\b`));
    // the package manager goes, and the build proves the programs left still load
    for (const gone of ['/usr/bin/apt*', '/usr/bin/dpkg*', '/usr/bin/perl*']) assert.ok(run.includes(gone), `${gone} removed`);
    assert.match(run, /ldd /);
    assert.ok(!final.lines.some((l) => /node_modules|\bnpm\b|\bnode\b/.test(l)), 'nothing from Node in the final stage');
    for (const src of copiedFiles(final).values()) assert.ok(!/node_modules|\/bin\/node$/.test(src), src);
  });

  it('ships the one executable scripts/build.mjs produces, and every program name as a symlink to it', () => {
    const script = readFileSync(path.join(REPO_ROOT, 'scripts/build.mjs'), 'utf8');
    const programs = /const programs = \{([^}]+)\}/.exec(script)![1];
    const names = [...programs.matchAll(/^\s*([a-z]+):/gm)].map((m) => m[1]).sort();
    assert.deepEqual(names, ['twill', 'twillctl', 'twilld']);
    const executable = /const EXECUTABLE = '([a-z]+)'/.exec(script)![1];
    assert.equal(executable, 'twill', 'the file is named as the plugin: the init container copies it to /opt/cni/bin/twill');
    const copied = copiedFiles(final);
    const links = symlinks(final);
    assert.equal(copied.get(`/opt/twill/bin/${executable}`), `${build!.name}:/src/dist/bin/${executable}`);
    for (const n of names.filter((x) => x !== executable)) {
      assert.equal(links.get(`/opt/twill/bin/${n}`), executable, `/opt/twill/bin/${n} -> ${executable}`);
      assert.ok(!copied.has(`/opt/twill/bin/${n}`), `no second copy of Node for ${n}`);
    }
  });

  it('contains every file the manifests execute', () => {
    const copied = copiedFiles(final);
    const docs = readdirSync(path.join(REPO_ROOT, 'manifests')).flatMap((f) => loadAll(readFileSync(path.join(REPO_ROOT, 'manifests', f), 'utf8')) as Obj[]);
    const ds = docs.find((d) => d?.kind === 'DaemonSet');
    const pod = ds.spec.template.spec;
    const used = new Set<string>();
    for (const c of [...pod.initContainers, ...pod.containers]) {
      used.add(c.command[0]);
      for (const a of c.command.slice(1)) if (a.startsWith('/opt/twill/')) used.add(a);
    }
    assert.ok(used.size >= 4);
    const links = symlinks(final);
    for (const f of used) assert.ok(copied.has(f) || copied.has(path.join(path.dirname(f), links.get(f) ?? '-')), `${f} is not in the image`);
    assert.equal(copied.get('/opt/twill/install-cni.sh'), 'scripts/install-cni.sh');
    assert.equal(copied.get('/opt/twill/enable-ip-forward.sh'), 'scripts/enable-ip-forward.sh');
  });

  it('keeps local outputs out of the build context', () => {
    const ignored = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'build', 'dist']) assert.ok(ignored.includes(p), p);
  });
});
