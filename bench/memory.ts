// twilld's memory as the DaemonSet runs it (kube mode: --kube-subnet-mgr, Node watch through
// @kubernetes/client-node, vxlan): RSS and peak RSS (VmHWM) of the built executable with one
// peer and with a few hundred, each a fresh daemon against the test API server holding that
// many annotated Nodes. The DaemonSet's memory request and limit come from these figures
// (manifests/03-daemonset.yaml). Reference in the same run: the same executable idle as
// `twillctl --version` (Node's own floor for this binary).
//   BENCH_MEMORY_PEERS=1,300 (default)   BENCH_MEMORY_SETTLE_MS=10000 (default)
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ipJson, Route } from '../lib/kernel/ip.js';
import { TWILLCTL_BIN } from '../harness/cni.js';
import { FakeKubeApiServer, KubeNode, serveApiInUnderlay } from '../harness/kube-apiserver.js';
import { Twilld } from '../harness/twilld.js';
import { buildUnderlay, netnsPath, waitFor, World } from '../harness/world.js';
import { fmt, printTable } from './stats.js';

const PEERS = (process.env.BENCH_MEMORY_PEERS ?? '1,300').split(',').map(Number);
const SETTLE_MS = Number(process.env.BENCH_MEMORY_SETTLE_MS ?? 10000);
const P = 'flannel.alpha.coreos.com';

function status(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

function peerNode(i: number): KubeNode {
  const sub = `10.${100 + (i >> 8)}.${i & 255}`;
  const mac = `0e:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  return {
    metadata: {
      name: `peer-${i}`,
      annotations: {
        [`${P}/kube-subnet-manager`]: 'true',
        [`${P}/public-ip`]: `198.19.${(i >> 8) & 255}.${i & 255}`,
        [`${P}/backend-type`]: 'vxlan',
        [`${P}/backend-data`]: JSON.stringify({ VNI: 1, VtepMAC: mac }),
      },
    },
    spec: { podCIDR: `${sub}.0/24`, podCIDRs: [`${sub}.0/24`] },
    status: { addresses: [{ type: 'InternalIP', address: `198.19.${(i >> 8) & 255}.${i & 255}` }] },
  } as KubeNode;
}

async function measure(peers: number): Promise<{ rss: number; hwm: number }> {
  const world = new World('bm');
  const api = new FakeKubeApiServer({ token: 'bm' });
  try {
    const ul = await buildUnderlay(world, 1);
    const node = ul.nodes[0];
    const kubeconfig = await serveApiInUnderlay(world, ul.ns, api, 'bm');
    const netConf = path.join(world.tmp, 'net-conf.json');
    writeFileSync(netConf, JSON.stringify({ Network: '10.0.0.0/8', SubnetLen: 24, Backend: { Type: 'vxlan' } }));
    api.createNode({ metadata: { name: 'self' }, spec: { podCIDR: '10.99.0.0/24', podCIDRs: ['10.99.0.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: node.ip }] } } as KubeNode);
    for (let i = 0; i < peers; i++) api.createNode(peerNode(i));
    const d = new Twilld(world, node, {
      etcd: 'http://127.0.0.1:2379',
      args: ['--kube-subnet-mgr', '--kubeconfig-file', kubeconfig, '--net-config-path', netConf, '--node-name', 'self', '--ip-masq', '--log-level', 'info'],
    }).start();
    await d.waitReady(120000);
    await waitFor(`${peers} routes`, async () => {
      const routes = await ipJson<Route>(netnsPath(node.ns), ['route', 'show', 'dev', 'twill.1']).catch(() => [] as Route[]);
      return routes.filter((r) => r.dst.startsWith('10.1')).length >= peers;
    }, 120000, 100);
    // steady state: several reconcile passes (--reconcile-interval 1s in the helper)
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const m = status(d.child!.pid!);
    await d.stop();
    return m;
  } finally {
    await api.close().catch(() => {});
    await world.cleanup();
  }
}

function idleReference(): number {
  const r = spawnSync('/usr/bin/time', ['-f', 'RSS=%M', TWILLCTL_BIN, '--version'], { encoding: 'utf8' });
  return Number(/RSS=(\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  const ref = idleReference();
  for (const n of PEERS) {
    const { rss, hwm } = await measure(n);
    rows.push([String(n), fmt(rss, 1), fmt(hwm, 1), `${fmt(hwm / ref, 1)}x`]);
  }
  console.log(`twilld memory, kube mode (--kube-subnet-mgr --ip-masq, vxlan), after ${SETTLE_MS / 1000} s of 1 s reconcile passes`);
  printTable([['peers', 'RSS MiB', 'peak RSS MiB', 'peak / idle executable'], ...rows]);
  console.log(`\nreference, same run: the executable idle (twillctl --version) peaks at ${fmt(ref, 1)} MiB`);
}

main().catch((e) => {
  console.error(`bench:memory failed: ${(e as Error).stack}`);
  process.exitCode = 1;
});
