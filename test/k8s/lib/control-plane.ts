// The control plane, in the underlay namespace (the nodes reach it at the bridge address):
// etcd on loopback, kube-apiserver (Node and RBAC authorizers, NodeRestriction, a
// service-account issuer), kube-controller-manager allocating node CIDRs from 10.244.0.0/16
// (and fd00:10:244::/56 in a dual-stack cluster, as `kubeadm init
// --pod-network-cidr=10.244.0.0/16,fd00:10:244::/56` sets it), kube-scheduler. Each component has its own client certificate, so RBAC sees who is calling.
import path from 'node:path';
import { run } from '../../../lib/exec.js';
import { netnsPath, waitFor } from '../../../harness/world.js';
import { Pki } from './pki.js';
import { Procs } from './proc.js';

export const CLUSTER_CIDR = '10.244.0.0/16';
export const CLUSTER_CIDR6 = 'fd00:10:244::/56';
export const SERVICE_CIDR = '10.96.0.0/16';
export const SERVICE_CIDR6 = 'fd00:10:96::/112';

export type ClusterIpFamily = 'ipv4' | 'dual';

/** The pod network of a cluster of this family, kube-controller-manager's --cluster-cidr. */
export const clusterCidrs = (f: ClusterIpFamily): string[] => (f === 'dual' ? [CLUSTER_CIDR, CLUSTER_CIDR6] : [CLUSTER_CIDR]);
const serviceCidrs = (f: ClusterIpFamily): string[] => (f === 'dual' ? [SERVICE_CIDR, SERVICE_CIDR6] : [SERVICE_CIDR]);
export const API_PORT = 6443;

export interface ControlPlaneSettings {
  netns: string;
  address: string;
  dir: string;
  bin: string;
  pki: Pki;
  ipFamily: ClusterIpFamily;
}

export class ControlPlane {
  readonly server: string;
  adminKubeconfig = '';

  constructor(private readonly s: ControlPlaneSettings, private readonly procs: Procs) {
    this.server = `https://${s.address}:${API_PORT}`;
  }

  private startIn(name: string, command: string, args: readonly string[]) {
    return this.procs.start(name, 'nsenter', [`--net=${netnsPath(this.s.netns)}`, '--', command, ...args]);
  }

  async start(): Promise<void> {
    const { dir, bin, pki, address } = this.s;
    const etcd = this.startIn('etcd', 'etcd', [
      '--name', 'cp', '--data-dir', path.join(dir, 'etcd'),
      '--listen-client-urls', 'http://127.0.0.1:2379', '--advertise-client-urls', 'http://127.0.0.1:2379',
      '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
      '--initial-cluster', 'cp=http://127.0.0.1:2380', '--log-level', 'warn',
    ]);
    const serving = await pki.issue('kube-apiserver', 'kube-apiserver', [], [
      `IP:${address}`, 'IP:10.96.0.1', 'IP:127.0.0.1', 'DNS:kubernetes', 'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local']);
    const kubeletClient = await pki.issue('apiserver-kubelet-client', 'kube-apiserver-kubelet-client', ['system:masters']);
    const sa = await pki.serviceAccountKeys();
    const admin = await pki.issue('admin', 'kubernetes-admin', ['system:masters']);
    this.adminKubeconfig = pki.kubeconfig(path.join(dir, 'admin.kubeconfig'), this.server, admin);
    await waitFor('etcd', async () => {
      this.procs.assertRunning(etcd);
      await run('nsenter', [`--net=${netnsPath(this.s.netns)}`, '--', 'etcdctl', '--endpoints', 'http://127.0.0.1:2379', 'endpoint', 'health'], { env: { ETCDCTL_API: '3' } });
      return true;
    }, 60000, 200);

    const apiserver = this.startIn('kube-apiserver', path.join(bin, 'kube-apiserver'), [
      '--etcd-servers', 'http://127.0.0.1:2379',
      '--bind-address', address, '--advertise-address', address, '--secure-port', String(API_PORT),
      '--tls-cert-file', serving.cert, '--tls-private-key-file', serving.key,
      '--client-ca-file', pki.ca,
      '--authorization-mode', 'Node,RBAC',
      '--enable-admission-plugins', 'NodeRestriction',
      '--service-cluster-ip-range', serviceCidrs(this.s.ipFamily).join(','),
      '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
      '--service-account-key-file', sa.pub,
      '--service-account-signing-key-file', sa.key,
      '--kubelet-client-certificate', kubeletClient.cert, '--kubelet-client-key', kubeletClient.key,
      '--kubelet-preferred-address-types', 'InternalIP',
      '--allow-privileged=true',
      '--profiling=false',
      '--cert-dir', path.join(dir, 'apiserver-certs'),
    ]);
    await waitFor('kube-apiserver /readyz', async () => {
      this.procs.assertRunning(apiserver);
      return (await this.kubectl(['get', '--raw', '/readyz'])).trim() === 'ok';
    }, 180000, 500);

    const kcm = await pki.issue('kube-controller-manager', 'system:kube-controller-manager');
    const kcmKubeconfig = pki.kubeconfig(path.join(dir, 'kcm.kubeconfig'), this.server, kcm);
    this.startIn('kube-controller-manager', path.join(bin, 'kube-controller-manager'), [
      '--kubeconfig', kcmKubeconfig,
      '--authentication-kubeconfig', kcmKubeconfig, '--authorization-kubeconfig', kcmKubeconfig,
      '--bind-address', '127.0.0.1',
      '--leader-elect=false',
      '--use-service-account-credentials=true',
      '--service-account-private-key-file', sa.key,
      '--root-ca-file', pki.ca,
      '--allocate-node-cidrs', '--cluster-cidr', clusterCidrs(this.s.ipFamily).join(','),
      // one flag per family in dual stack (the single one is refused there, the family ones without it)
      ...(this.s.ipFamily === 'dual' ? ['--node-cidr-mask-size-ipv4', '24', '--node-cidr-mask-size-ipv6', '64'] : ['--node-cidr-mask-size', '24']),
      '--service-cluster-ip-range', serviceCidrs(this.s.ipFamily).join(','),
      '--controllers', '*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
    ]);
    const sched = await pki.issue('kube-scheduler', 'system:kube-scheduler');
    const schedKubeconfig = pki.kubeconfig(path.join(dir, 'scheduler.kubeconfig'), this.server, sched);
    this.startIn('kube-scheduler', path.join(bin, 'kube-scheduler'), [
      '--kubeconfig', schedKubeconfig,
      '--authentication-kubeconfig', schedKubeconfig, '--authorization-kubeconfig', schedKubeconfig,
      '--bind-address', '127.0.0.1', '--leader-elect=false',
    ]);
  }

  /**
   * One API request authenticated only by a bearer token (a pod's service-account token), so
   * the API server judges it as it judges that pod: RBAC and admission policies alike. Sent
   * with Node from the underlay namespace (kubectl would first GET what it patches, which the
   * token may not be allowed to do). Resolves with the status code and body.
   */
  async requestWithToken(token: string, method: string, urlPath: string, body: object, contentType: string): Promise<{ status: number; body: string }> {
    const script = `const r = require('https').request(${JSON.stringify(this.server + urlPath)}, { method: ${JSON.stringify(method)}, rejectUnauthorized: false,
      headers: { authorization: 'Bearer ' + process.env.TOKEN, 'content-type': ${JSON.stringify(contentType)} } }, (res) => {
      let b = ''; res.on('data', (d) => b += d); res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: b }))); });
      r.on('error', (e) => { console.error(e.message); process.exit(2); }); r.end(${JSON.stringify(JSON.stringify(body))});`;
    const out = await run('nsenter', [`--net=${netnsPath(this.s.netns)}`, '--', process.execPath, '-e', script], { env: { ...process.env, TOKEN: token } });
    return JSON.parse(out);
  }

  /** kubectl as cluster admin, run in the underlay namespace; resolves to stdout. */
  kubectl(args: readonly string[], input?: string): Promise<string> {
    return run('nsenter', [`--net=${netnsPath(this.s.netns)}`, '--', path.join(this.s.bin, 'kubectl'),
      '--kubeconfig', this.adminKubeconfig, ...args], { input });
  }
}
