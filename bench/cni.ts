// CNI plugin latency: twill (dist/bin/twill) against Debian's reference plugins (bridge +
// host-local, /usr/lib/cni) with an equivalent config, ADD and DEL, alternating run by run
// in the same process so both see the same machine load. Also the peak RSS of one ADD.
//
// The timed loop runs *inside* the node namespace (this program re-executes itself there),
// so each plugin is spawned directly, as a runtime spawns it, with no nsenter in between.
//
// Last, the cost of loading the netlink addon as the single executable does (find the
// materialized file, dlopen it), measured inside fresh Node processes: it must stay < 1 ms.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, TWILL_BIN } from '../harness/cni.js';
import { netnsPath, World } from '../harness/world.js';
import { fmt, percentile, printTable } from './stats.js';

// BENCH_BASELINE_BIN=<an older build of dist/bin/twill>: that build takes the reference's
// place (own bridge, subnet and IPAM directory), so two builds alternate run by run and the
// ratio compares them directly under the same load.
const BASELINE = process.env.BENCH_BASELINE_BIN;
const PLUGIN = TWILL_BIN;
const RUNS = Math.max(30, Number(process.env.BENCH_RUNS ?? 40));
const WARMUP = 3;
const REF_DIR = '/usr/lib/cni';

interface Plan {
  /** the reference plugin's binary and name in the report */
  refBin: string;
  refLabel: string;
  twill: { conf: object };
  ref: { conf: object };
  pods: { twill: string[]; ref: string[] };
}

interface Outcome {
  ms: number;
  stdout: string;
  stderr: string;
  code: number | null;
}

function spawnPlugin(bin: string, command: string, conf: object, netns: string, id: string, wrap: string[] = []): Promise<Outcome> {
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: netns,
    CNI_IFNAME: 'eth0',
    CNI_PATH: REF_DIR,
  };
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const [cmd, ...args] = [...wrap, bin];
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout, stderr, code }));
    child.stdin.end(JSON.stringify(conf));
  });
}

async function timed(bin: string, command: string, conf: object, netns: string, id: string): Promise<number> {
  const o = await spawnPlugin(bin, command, conf, netns, id);
  if (o.code !== 0) throw new Error(`${path.basename(bin)} ${command} ${id} failed: ${o.stdout}${o.stderr}`);
  return o.ms;
}

/** Peak RSS (KiB) of one ADD, measured on the child by GNU time (wait4 rusage). */
async function peakRss(bin: string, conf: object, netns: string, id: string): Promise<number> {
  const o = await spawnPlugin(bin, 'ADD', conf, netns, id, ['/usr/bin/time', '-f', 'TWILL_BENCH_RSS=%M']);
  const m = /TWILL_BENCH_RSS=(\d+)/.exec(o.stderr);
  if (o.code !== 0 || !m) throw new Error(`measuring RSS of ${bin}: ${o.stdout}${o.stderr}`);
  await spawnPlugin(bin, 'DEL', conf, netns, id);
  return Number(m[1]);
}

/** Runs inside the node namespace. */
async function inner(plan: Plan): Promise<void> {
  const refBin = plan.refBin;
  const add = { twill: [] as number[], ref: [] as number[] };
  const del = { twill: [] as number[], ref: [] as number[] };
  const total = WARMUP + RUNS;
  for (let i = 0; i < total; i++) {
    // alternate which goes first, so neither always runs on a warmer cache
    const order = i % 2 === 0 ? (['twill', 'ref'] as const) : (['ref', 'twill'] as const);
    for (const who of order) {
      const bin = who === 'twill' ? PLUGIN : refBin;
      const ms = await timed(bin, 'ADD', plan[who].conf, plan.pods[who][i], `bench-${who}-${i}`);
      if (i >= WARMUP) add[who].push(ms);
    }
  }
  for (let i = 0; i < total; i++) {
    const order = i % 2 === 0 ? (['twill', 'ref'] as const) : (['ref', 'twill'] as const);
    for (const who of order) {
      const bin = who === 'twill' ? PLUGIN : refBin;
      const ms = await timed(bin, 'DEL', plan[who].conf, plan.pods[who][i], `bench-${who}-${i}`);
      if (i >= WARMUP) del[who].push(ms);
    }
  }
  const rssTwill = await peakRss(PLUGIN, plan.twill.conf, plan.pods.twill[total], 'bench-rss-twill');
  const rssRef = await peakRss(refBin, plan.ref.conf, plan.pods.ref[total], 'bench-rss-ref');
  process.stdout.write(JSON.stringify({ add, del, rssTwill, rssRef, refLabel: plan.refLabel }));
}

/** p50 over fresh processes of: materialize (file already there, as on every call but the first) + dlopen. */
function addonLoadMs(dir: string): number {
  const addon = path.join(REPO_ROOT, 'build/native/twill_netlink.node');
  const loader = path.join(REPO_ROOT, 'build/lib/kernel/netlink/addon.js');
  const script = `
    const { materialize } = require(process.argv[1]);
    const bytes = new Uint8Array(require('fs').readFileSync(process.argv[2]));
    materialize(process.argv[3], 'twill_netlink-bench.node', bytes);
    const t0 = process.hrtime.bigint();
    const file = materialize(process.argv[3], 'twill_netlink-bench.node', bytes);
    const m = { exports: {} };
    process.dlopen(m, file);
    m.exports.close(m.exports.socketIn(null));
    console.log(Number(process.hrtime.bigint() - t0) / 1e6);`;
  readFileSync(addon); // fail early with a clear error when the addon is not built
  const xs: number[] = [];
  for (let i = 0; i < 15; i++) {
    const r = spawnSync(process.execPath, ['-e', script, loader, addon, path.join(dir, 'addon')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`measuring the addon loader: ${r.stderr}`);
    xs.push(Number(r.stdout.trim()));
  }
  return percentile(xs, 50);
}

async function outer(): Promise<void> {
  const world = new World('pb');
  try {
    const node = await world.addNetns('node');
    const count = WARMUP + RUNS + 1;
    const pods = { twill: [] as string[], ref: [] as string[] };
    for (let i = 0; i < count; i++) {
      pods.twill.push(netnsPath(await world.addNetns(`t${i}`)));
      pods.ref.push(netnsPath(await world.addNetns(`r${i}`)));
    }
    const subnetFile = path.join(world.tmp, 'subnet.env');
    writeFileSync(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    const baselineSubnetFile = path.join(world.tmp, 'subnet-base.env');
    writeFileSync(baselineSubnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.4.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    // Equivalent configs: bridge with the gateway, default route, hairpin, MTU, IPAM on disk.
    const plan: Plan = {
      refBin: BASELINE ?? path.join(REF_DIR, 'bridge'),
      refLabel: BASELINE ? `baseline ${BASELINE}` : 'reference (bridge + host-local)',
      twill: { conf: { cniVersion: '1.0.0', name: 'bench-twill', type: 'twill', subnetFile, dataDir: path.join(world.tmp, 'ipam-twill') } },
      ref: BASELINE
        ? { conf: { cniVersion: '1.0.0', name: 'bench-base', type: 'twill', bridge: 'cnibase0', subnetFile: baselineSubnetFile, dataDir: path.join(world.tmp, 'ipam-base') } }
        : {
          conf: {
            cniVersion: '1.0.0',
            name: 'bench-ref',
            type: 'bridge',
            bridge: 'cniref0',
            isGateway: true,
            isDefaultGateway: true,
            hairpinMode: true,
            mtu: 1450,
            ipam: { type: 'host-local', subnet: '10.245.3.0/24', dataDir: path.join(world.tmp, 'ipam-ref') },
          },
        },
      pods,
    };
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('nsenter', [`--net=${netnsPath(node)}`, '--', process.execPath, __filename, '--inner', JSON.stringify(plan)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let s = '';
      child.stdout.on('data', (b) => (s += b));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`inner benchmark failed with exit code ${code}`))));
    });
    report(JSON.parse(out));
    console.log(`netlink addon load (materialized file found + dlopen + one socket), p50 of 15 fresh processes: ${fmt(addonLoadMs(world.tmp), 2)} ms (target < 1 ms)`);
  } finally {
    await world.cleanup();
  }
}

function report(r: { add: Record<'twill' | 'ref', number[]>; del: Record<'twill' | 'ref', number[]>; rssTwill: number; rssRef: number; refLabel: string }): void {
  const row = (label: string, xs: number[]) => [label, fmt(percentile(xs, 50)), fmt(percentile(xs, 90)), String(xs.length)];
  console.log(`CNI latency, ${RUNS} runs each, alternating twill / ${r.refLabel} in one process`);
  printTable([
    ['operation', 'p50 ms', 'p90 ms', 'runs'],
    row('ADD twill', r.add.twill),
    row('ADD reference', r.add.ref),
    row('DEL twill', r.del.twill),
    row('DEL reference', r.del.ref),
  ]);
  const addRatio = percentile(r.add.twill, 50) / percentile(r.add.ref, 50);
  const delRatio = percentile(r.del.twill, 50) / percentile(r.del.ref, 50);
  console.log('');
  console.log(`ADD p50 ratio twill/reference: ${fmt(addRatio)}x${BASELINE ? '' : `  (target <= 3x: ${addRatio <= 3 ? 'met' : 'MISSED'})`}`);
  console.log(`ADD p90 ratio twill/reference: ${fmt(percentile(r.add.twill, 90) / percentile(r.add.ref, 90))}x`);
  console.log(`DEL p50 ratio twill/reference: ${fmt(delRatio)}x`);
  console.log(`peak RSS of one ADD: twill ${fmt(r.rssTwill / 1024, 1)} MiB, ${BASELINE ? `baseline ${fmt(r.rssRef / 1024, 1)} MiB` : `reference bridge ${fmt(r.rssRef / 1024, 1)} MiB (host-local runs as its own child)`}`);
}

if (process.argv[2] === '--inner') {
  inner(JSON.parse(process.argv[3]) as Plan).catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
} else {
  outer().catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
