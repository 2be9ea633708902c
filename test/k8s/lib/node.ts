// One Kubernetes node: a network namespace on the underlay (from buildUnderlay) plus its own
// mount namespace, in which the node's host directories (/opt/cni/bin, /etc/cni/net.d,
// /run/flannel, /var/lib/cni, /run/containerd, /var/run/netns) are per-node directories,
// empty at the start but for the runtime's loopback plugin on nodes that have one. containerd and the kubelet run
// inside both namespaces; the kubelet's cgroups live under /<prefix>-<node> in every cgroup
// hierarchy.
//
// The mount namespace is held by a `sleep` started with `unshare --mount`; everything else
// enters it with `nsenter --net=… --mount=/proc/<holder>/ns/mnt` (not `ip netns exec`, which
// remounts /sys and hides the cgroup hierarchy). stop() kills every process left in the
// node's cgroups and mount namespace, then removes the cgroups: the namespaces (and with them
// the pods' netns, veths, mounts and iptables rules) go when their last process does.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../../lib/exec.js';
import { netnsPath, UnderlayNode, waitFor } from '../../../harness/world.js';
import { Pki } from './pki.js';
import { Proc, Procs } from './proc.js';

/** Service kube-dns (harness/coredns.yaml) */
export const CLUSTER_DNS = '10.96.0.10';

/** Host directories each node gets its own, empty copy of (bound inside its mount namespace). */
export const NODE_DIRS = ['/opt/cni/bin', '/etc/cni/net.d', '/run/flannel', '/var/lib/cni', '/run/containerd', '/var/run/netns'];

/** Debian's containernetworking-plugins */
export const RUNTIME_LOOPBACK = '/usr/lib/cni/loopback';

export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10.1';

export interface NodeSettings {
  name: string;
  underlay: UnderlayNode;
  /** the node's IPv6 address on the underlay, in a dual-stack cluster */
  ip6?: string;
  /** the cluster's pod network (kube-proxy's --cluster-cidr), one CIDR per family */
  clusterCidrs: string[];
  dir: string;
  bin: string;
  cgroupRoot: string;
  apiServer: string;
  pki: Pki;
  images: string[];
  /** started with the node (kube-proxy) unless false */
  kubeProxy: boolean;
  /** the OS ships the `loopback` CNI plugin (as kubeadm's kubernetes-cni does); else twill installs its own */
  runtimeLoopback: boolean;
}

export class K8sNode {
  readonly name: string;
  readonly ip: string;
  readonly ip6?: string;
  readonly netns: string;
  readonly socket: string;
  private holder?: Proc;
  private containerd?: Proc;
  private kubelet?: Proc;
  private kubeProxy?: Proc;
  private createdMountPoints: string[] = [];

  constructor(private readonly s: NodeSettings, private readonly procs: Procs) {
    this.name = s.name;
    this.ip = s.underlay.ip;
    this.ip6 = s.ip6;
    this.netns = s.underlay.ns;
    this.socket = path.join(s.dir, 'containerd.sock');
  }

  /** This node's copy of a host directory, as the harness sees it from outside. */
  hostDir(dir: string): string {
    return path.join(this.s.dir, 'host', dir.replace(/\//g, '_'));
  }

  private get mntns(): string {
    return `/proc/${this.holder!.child.pid}/ns/mnt`;
  }

  /** argv prefix that runs a command inside this node */
  enter(): string[] {
    return [`--net=${netnsPath(this.netns)}`, `--mount=${this.mntns}`, '--'];
  }

  exec(command: string, args: readonly string[], input?: string): Promise<string> {
    return run('nsenter', [...this.enter(), command, ...args], { input });
  }

  private startIn(name: string, command: string, args: readonly string[]): Proc {
    return this.procs.start(`${this.name}-${name}`, 'nsenter', [...this.enter(), command, ...args]);
  }

  async start(): Promise<void> {
    const { dir } = this.s;
    mkdirSync(dir, { recursive: true });
    // what kubeadm's preflight demands and the README's step 2 sets (a fresh netns has
    // forwarding off): ip_forward, and bridged traffic through iptables (br_netfilter)
    // (and for dual stack IPv6 forwarding and bridged IPv6 through ip6tables)
    const v6 = this.ip6 ? ['net.ipv6.conf.all.forwarding=1', 'net.bridge.bridge-nf-call-ip6tables=1'] : [];
    await run('nsenter', [`--net=${netnsPath(this.netns)}`, '--', 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1', ...v6]);
    this.holder = this.procs.start(`${this.name}-mntns`, 'nsenter', [`--net=${netnsPath(this.netns)}`, '--',
      'unshare', '--mount', '--propagation', 'private', '--', 'sleep', 'infinity']);
    await waitFor(`${this.name} mount namespace`, () => readlinkSync(this.mntns) !== readlinkSync('/proc/self/ns/mnt'), 10000, 20);
    for (const d of NODE_DIRS) {
      mkdirSync(this.hostDir(d), { recursive: true });
      if (!existsSync(d)) {
        // a mount point the host lacks (e.g. /opt/cni/bin): made here, removed by stop()
        let top = d;
        while (!existsSync(path.dirname(top))) top = path.dirname(top);
        mkdirSync(d, { recursive: true });
        for (let x = d; ; x = path.dirname(x)) {
          this.createdMountPoints.push(x);
          if (x === top) break;
        }
      }
      await this.exec('mount', ['--bind', this.hostDir(d), d]);
    }
    // containerd's CRI sets up each pod's lo with the `loopback` plugin: kubeadm nodes get it
    // from kubernetes-cni, other nodes have none and get twill's. Nothing else is there:
    // twill's DaemonSet installs twill and portmap.
    if (this.s.runtimeLoopback) copyFileSync(RUNTIME_LOOPBACK, path.join(this.hostDir('/opt/cni/bin'), 'loopback'));
    for (const h of cgroupHierarchies()) mkdirSync(path.join(h, this.s.cgroupRoot), { recursive: true });
    await this.startContainerd();
    for (const image of this.s.images) {
      await run('ctr', ['--address', this.socket, '-n', 'k8s.io', 'images', 'import', image]);
    }
    await this.startKubelet();
    if (this.s.kubeProxy) await this.startKubeProxy();
  }

  private async startContainerd(): Promise<void> {
    const { dir } = this.s;
    const config = path.join(dir, 'containerd.toml');
    writeFileSync(config, [
      'version = 2',
      `root = "${dir}/containerd/root"`,
      `state = "${dir}/containerd/state"`,
      'disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]',
      '[grpc]', `  address = "${this.socket}"`,
      '[ttrpc]', `  address = "${this.socket}.ttrpc"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      '  stream_server_address = "127.0.0.1"',
      '  disable_apparmor = true',
      // this machine withholds CAP_SYS_RESOURCE: no process may lower its oom_score_adj, so
      // the kubelet's -998 for sandboxes would make runc fail ("can't get final child's PID")
      '  restrict_oom_score_adj = true',
      '  [plugins."io.containerd.grpc.v1.cri".containerd]',
      '    snapshotter = "overlayfs"',
      '    default_runtime_name = "runc"',
      '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
      '      runtime_type = "io.containerd.runc.v2"',
      '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
      '        SystemdCgroup = false',
      '  [plugins."io.containerd.grpc.v1.cri".cni]',
      '    bin_dir = "/opt/cni/bin"',
      '    conf_dir = "/etc/cni/net.d"',
      '',
    ].join('\n'));
    this.containerd = this.startIn('containerd', 'containerd', ['--config', config]);
    await waitFor(`${this.name} containerd`, async () => {
      this.procs.assertRunning(this.containerd!);
      await run('ctr', ['--address', this.socket, 'version']);
      return true;
    }, 60000, 200);
  }

  private async startKubelet(): Promise<void> {
    const { dir, pki, name } = this.s;
    const client = await pki.issue(`kubelet-${name}`, `system:node:${name}`, ['system:nodes']);
    const serving = await pki.issue(`kubelet-${name}-serving`, `system:node:${name}`, ['system:nodes'], [`IP:${this.ip}`, `DNS:${name}`]);
    const kubeconfig = pki.kubeconfig(path.join(dir, 'kubelet.kubeconfig'), this.s.apiServer, client);
    const config = path.join(dir, 'kubelet.yaml');
    writeFileSync(config, JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      cgroupDriver: 'cgroupfs',
      cgroupRoot: this.s.cgroupRoot,
      cgroupsPerQOS: true,
      failCgroupV1: false,
      failSwapOn: false,
      address: this.ip,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: 10248,
      tlsCertFile: serving.cert,
      tlsPrivateKeyFile: serving.key,
      authentication: { x509: { clientCAFile: pki.ca }, webhook: { enabled: false }, anonymous: { enabled: false } },
      authorization: { mode: 'AlwaysAllow' },
      containerRuntimeEndpoint: `unix://${this.socket}`,
      podLogsDir: path.join(dir, 'pod-logs'),
      staticPodPath: '',
      clusterDomain: 'cluster.local',
      clusterDNS: [CLUSTER_DNS],
      resolvConf: '/etc/resolv.conf',
      // the machine is shared: never evict or garbage-collect because of the host's disk
      evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '0%', 'imagefs.available': '0%', 'nodefs.inodesFree': '0%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
      maxPods: 110,
      enforceNodeAllocatable: ['pods'],
      localStorageCapacityIsolation: false,
    }, null, 2));
    this.kubelet = this.startIn('kubelet', path.join(this.s.bin, 'kubelet'), [
      '--config', config,
      '--kubeconfig', kubeconfig,
      '--hostname-override', name,
      '--node-ip', this.ip6 ? `${this.ip},${this.ip6}` : this.ip,
      '--root-dir', path.join(dir, 'kubelet'),
      '--cert-dir', path.join(dir, 'kubelet-pki'),
      '--pod-infra-container-image', PAUSE_IMAGE,
      '--v', '2',
    ]);
  }

  private async startKubeProxy(): Promise<void> {
    const { dir, pki, name } = this.s;
    const pair = await pki.issue(`kube-proxy-${name}`, 'system:kube-proxy', ['system:node-proxier']);
    const kubeconfig = pki.kubeconfig(path.join(dir, 'kube-proxy.kubeconfig'), this.s.apiServer, pair);
    this.kubeProxy = this.startIn('kube-proxy', path.join(this.s.bin, 'kube-proxy'), [
      '--kubeconfig', kubeconfig,
      '--hostname-override', name,
      '--proxy-mode', 'iptables',
      '--cluster-cidr', this.s.clusterCidrs.join(','),
      // conntrack limits are the host's, not this namespace's: leave them alone
      '--conntrack-max-per-core', '0',
      '--conntrack-tcp-timeout-established', '0',
      '--conntrack-tcp-timeout-close-wait', '0',
      '--metrics-bind-address', '127.0.0.1:10249',
      '--healthz-bind-address', '127.0.0.1:10256',
    ]);
  }

  assertRunning(): void {
    for (const p of [this.holder, this.containerd, this.kubelet, this.kubeProxy]) if (p) this.procs.assertRunning(p);
  }

  /** Stops the kubelet only (the node's pods keep running): for "node goes away" tests. */
  async stopKubelet(): Promise<void> {
    if (this.kubelet) await this.procs.stop(this.kubelet);
    this.kubelet = undefined;
  }

  async stop(): Promise<void> {
    for (const p of [this.kubeProxy, this.kubelet, this.containerd]) if (p) await this.procs.stop(p);
    // containers and shims outlive containerd: kill whatever is left in the node's cgroups
    // and in its mount namespace (the holder last)
    const mnt = this.holder ? safeReadlink(this.mntns) : undefined;
    // containerd's shims have a mount namespace of their own but live in the node's netns
    const net = existsSync(netnsPath(this.netns)) ? `net:[${statSync(netnsPath(this.netns)).ino}]` : undefined;
    for (let round = 0; round < 50; round++) {
      const pids = new Set<number>();
      for (const h of cgroupHierarchies()) for (const pid of cgroupProcs(path.join(h, this.s.cgroupRoot))) pids.add(pid);
      for (const pid of processesIn('mnt', mnt)) pids.add(pid);
      for (const pid of processesIn('net', net)) pids.add(pid);
      if (pids.size === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (this.holder) await this.procs.stop(this.holder);
    for (const h of cgroupHierarchies()) removeCgroupTree(path.join(h, this.s.cgroupRoot));
    for (const d of this.createdMountPoints.splice(0)) { // deepest first
      try {
        rmdirSync(d);
      } catch {
        /* in use by someone else: leave it */
      }
    }
  }
}

/** Every cgroup hierarchy: the v1 ones (a directory per controller set, the named ones) and cgroup2. */
export function cgroupHierarchies(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post || !/^cgroup2? /.test(post)) continue;
    out.push(pre.split(' ')[4]);
  }
  return out;
}

function cgroupProcs(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const pids: number[] = [];
  const walk = (d: string) => {
    try {
      for (const p of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.push(Number(p));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    } catch {
      /* removed meanwhile */
    }
  };
  walk(dir);
  return pids;
}

function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(path.join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    /* a process is still dying in it; reported by the leak check */
  }
}

/** Processes whose `kind` namespace is `ns` (as readlink /proc/PID/ns/KIND shows it). */
function processesIn(kind: 'mnt' | 'net', ns: string | undefined): number[] {
  const pids: number[] = [];
  if (!ns) return pids;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    if (safeReadlink(`/proc/${e}/ns/${kind}`) === ns) pids.push(Number(e));
  }
  return pids;
}

function safeReadlink(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}
