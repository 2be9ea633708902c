// A real Kubernetes cluster on this machine, in the style of harness/world.ts: the
// control plane in the underlay namespace, N nodes (netns + mount namespace each, own
// containerd and kubelet, kube-proxy), upstream binaries from harness/build.sh and images
// from harness/images.sh. twill is not on the nodes until installTwill() applies manifests/
// as the README says, with the image name set. stop() removes everything, also after a
// failed start, and restores the host sysctls the kubelet sets.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../../harness/cni.js';
import { dualUnderlay } from '../../../harness/underlay6.js';
import { buildUnderlay, waitFor, World } from '../../../harness/world.js';
import { clusterCidrs, ClusterIpFamily, CLUSTER_CIDR6, ControlPlane } from './control-plane.js';
import { cgroupHierarchies, K8sNode } from './node.js';
import { Pki } from './pki.js';
import { Procs } from './proc.js';
import { HostSysctls } from './sysctls.js';

export const PLACEHOLDER_IMAGE = 'registry.example.com/twill:0.1.0';
const HARNESS = path.join(REPO_ROOT, 'test/k8s/harness');

export interface Artifacts {
  bin: string;
  twillImage: string;
  archives: string[];
}

/** Builds (or finds cached) the upstream binaries and the images; progress goes to stderr. */
export function prepareArtifacts(): Artifacts {
  const last = (s: string) => s.trim().split('\n').pop()!;
  const opts = { stdio: ['ignore', 'pipe', 'inherit'] as ('ignore' | 'pipe' | 'inherit')[], encoding: 'utf8' as const, maxBuffer: 1 << 24 };
  // TWILL_K8S_BIN: a directory with the components already built (skips build.sh)
  const bin = process.env.TWILL_K8S_BIN ?? last(execFileSync('bash', [path.join(HARNESS, 'build.sh')], opts));
  const twillImage = last(execFileSync('bash', [path.join(HARNESS, 'images.sh'), bin], opts));
  const cache = path.join(path.dirname(bin), 'images');
  const twillArchive = `twill-${twillImage.split(':').pop()}.tar`;
  return { bin, twillImage, archives: ['pause.tar', 'agnhost.tar', 'coredns.tar', twillArchive].map((f) => path.join(cache, f)) };
}

export class K8sCluster {
  readonly world = new World('k8');
  readonly nodes: K8sNode[] = [];
  readonly procs: Procs;
  readonly logDir: string;
  cp!: ControlPlane;
  private sysctls = new HostSysctls();

  constructor(readonly artifacts: Artifacts, private readonly nodeCount = 2, private readonly withKubeProxy = true,
    readonly ipFamily: ClusterIpFamily = 'ipv4') {
    this.logDir = path.join(this.world.tmp, 'logs');
    mkdirSync(this.logDir, { recursive: true });
    this.procs = new Procs(this.logDir);
  }

  get prefix(): string {
    return this.world.prefix;
  }

  async start(log: (s: string) => void = () => {}): Promise<void> {
    this.sysctls.save();
    const dual = this.ipFamily === 'dual' ? await dualUnderlay(this.world, this.nodeCount) : undefined;
    const ul = dual ?? await buildUnderlay(this.world, this.nodeCount);
    const ip6 = dual?.ip6;
    const pki = await Pki.create(mkdirDir(this.world.tmp, 'pki'));
    this.cp = new ControlPlane({ netns: ul.ns, address: ul.hostIp, dir: mkdirDir(this.world.tmp, 'cp'), bin: this.artifacts.bin, pki, ipFamily: this.ipFamily }, this.procs);
    for (const [i, u] of ul.nodes.entries()) {
      const name = `node${i + 1}`;
      this.nodes.push(new K8sNode({
        name, underlay: u, ip6: ip6?.[i], clusterCidrs: clusterCidrs(this.ipFamily), dir: mkdirDir(this.world.tmp, name), bin: this.artifacts.bin,
        cgroupRoot: `/${this.prefix}-${name}`, apiServer: this.cp.server, pki,
        images: this.artifacts.archives, kubeProxy: this.withKubeProxy,
        // node1 as kubeadm makes it; the others without the runtime's loopback plugin
        runtimeLoopback: i === 0,
      }, this.procs));
    }
    // all at once: most of a node's start is containerd importing the images, and a kubelet
    // (or kube-proxy) started before the API server is up retries until it is, as on a real
    // machine that boots before its control plane
    log(`control plane and ${this.nodes.map((n) => n.name).join(', ')}`);
    // (allSettled: a failure is thrown only once every start has ended, so that stop() finds
    // every process any of them started)
    const started = await Promise.allSettled([this.cp.start(), ...this.nodes.map((n) => n.start())]);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    log('nodes registering');
    await waitFor('every Node registered with a podCIDR', async () => {
      for (const n of this.nodes) n.assertRunning();
      const nodes = JSON.parse(await this.kubectl(['get', 'nodes', '-o', 'json'])).items;
      return nodes.length === this.nodeCount && nodes.every((n: { spec: { podCIDR?: string } }) => n.spec.podCIDR);
    }, 180000, 500);
    // the DNS add-on, as kubeadm applies it before any network is installed (it stays
    // Pending until twill is)
    log('cluster DNS add-on (CoreDNS)');
    await this.kubectl(['apply', '-f', path.join(HARNESS, 'coredns.yaml')]);
  }

  /** Waits until CoreDNS answers (its Deployment available). */
  async waitDns(): Promise<void> {
    await waitFor('CoreDNS available', async () => {
      const d = await this.kubectlJson(['-n', 'kube-system', 'get', 'deployment', 'coredns']);
      return (d.status.availableReplicas ?? 0) >= 1;
    }, 300000, 1000);
  }

  kubectl(args: readonly string[], input?: string): Promise<string> {
    return this.cp.kubectl(args, input);
  }

  async kubectlJson<T = any>(args: readonly string[]): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return JSON.parse(await this.kubectl([...args, '-o', 'json']));
  }

  /**
   * The manifests as the README has the user apply them: every file, the image name set, and
   * in a dual-stack cluster the README's dual-stack net-conf.json (EnableIPv6, IPv6Network).
   */
  manifests(image = this.artifacts.twillImage): string {
    const dir = path.join(REPO_ROOT, 'manifests');
    const network = '"Network": "10.244.0.0/16",';
    return readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()
      .map((f) => {
        let text = readFileSync(path.join(dir, f), 'utf8').split(PLACEHOLDER_IMAGE).join(image);
        if (this.ipFamily === 'dual' && text.includes(network)) {
          text = text.replace(network, `${network} "EnableIPv6": true, "IPv6Network": "${CLUSTER_CIDR6}",`);
        }
        return text;
      })
      .join('\n---\n');
  }

  async installTwill(manifests = this.manifests()): Promise<void> {
    await this.kubectl(['apply', '-f', '-'], manifests);
  }

  async stop(): Promise<void> {
    await this.procs.stopAll().catch(() => {});
    for (const n of [...this.nodes].reverse()) await n.stop().catch(() => {});
    await this.world.cleanup();
    this.sysctls.restore();
  }

  /** What stop() should have removed and did not: namespaces, cgroups, mounts, processes. */
  leftovers(): string[] {
    const out: string[] = [];
    const mine = (s: string) => s.includes(this.prefix) || s.includes(this.world.tmp);
    for (const ns of existsSync('/var/run/netns') ? readdirSync('/var/run/netns') : []) if (mine(ns)) out.push(`netns ${ns}`);
    for (const h of cgroupHierarchies()) for (const d of readdirSync(h)) if (mine(d)) out.push(`cgroup ${h}/${d}`);
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (mine(line)) out.push(`mount ${line.split(' ')[4]}`);
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
        if (mine(cmd)) out.push(`process ${e} ${cmd.slice(0, 120)}`);
      } catch {
        /* gone */
      }
    }
    return out;
  }
}

function mkdirDir(...parts: string[]): string {
  const d = path.join(...parts);
  mkdirSync(d, { recursive: true });
  return d;
}
