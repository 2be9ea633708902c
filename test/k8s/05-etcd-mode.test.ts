// etcd mode on the same cluster, set up as README.md "4. etcd mode" says: an etcd with TLS
// (client certificates required) in the underlay, the network config stored in it, the
// Secret twill-etcd-tls the DaemonSet mounts, TWILLD_KUBE_SUBNET_MGR=false and the etcd
// flags. Every node then holds an etcd lease and pods still talk across nodes. Finally a
// node goes away for good and `kubectl delete node` makes the remaining twilld give its
// lease back. Destructive (a node is gone afterwards): this file runs last.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dump, loadAll } from 'js-yaml';
import { run } from '../../lib/exec.js';
import { REPO_ROOT } from '../../harness/cni.js';
import { EtcdServer } from '../../harness/etcd.js';
import { makeTestPki } from '../helpers/tls.js';
import { netnsPath, waitFor } from '../../harness/world.js';
import { theCluster } from './setup.js';
import { PLACEHOLDER_IMAGE } from './lib/cluster.js';
import { createPods, deletePods, dial, ensureNamespace, netexecPod, waitPodsReady } from './lib/pods.js';
import { TWILL_NS, waitTwillReady } from './lib/twill.js';

const ETCD_PORT = 2479;

describe('k8s: etcd mode', function () {
  this.timeout(900000);
  const c = () => theCluster();
  let etcd: EtcdServer;
  let pki: Awaited<ReturnType<typeof makeTestPki>>;

  /** twillctl (the built one, in the underlay namespace) against the TLS etcd */
  async function leases(): Promise<{ subnet: string; publicIP: string }[]> {
    const out = await run('nsenter', [`--net=${netnsPath(c().world.prefix + '-ul')}`, '--', path.join(REPO_ROOT, 'dist/bin/twillctl'),
      'leases', 'list', '-o', 'json', '--etcd-endpoints', etcd.endpoint,
      '--etcd-cafile', pki.caFile, '--etcd-certfile', pki.clientCert, '--etcd-keyfile', pki.clientKey]);
    return JSON.parse(out).leases;
  }

  before(async () => {
    await waitTwillReady(c());
    await ensureNamespace(c());
    const ul = c().world.prefix + '-ul';
    const hostIp = '198.18.0.1';
    pki = await makeTestPki(c().world.tmp, [hostIp]);
    etcd = new EtcdServer({ netns: ul, host: hostIp, port: ETCD_PORT, tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caFile } });
    c().world.onCleanup(() => etcd.stop());
    await etcd.start();
    await run('nsenter', [`--net=${netnsPath(ul)}`, '--', path.join(REPO_ROOT, 'dist/bin/twillctl'), 'config', 'set', '-',
      '--etcd-endpoints', etcd.endpoint, '--etcd-cafile', pki.caFile, '--etcd-certfile', pki.clientCert, '--etcd-keyfile', pki.clientKey],
    { input: JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } }) });
  });

  it('switches to etcd leases (Secret twill-etcd-tls, TWILLD_KUBE_SUBNET_MGR=false) and pods still talk across nodes', async () => {
    await c().kubectl(['-n', TWILL_NS, 'create', 'secret', 'generic', 'twill-etcd-tls',
      `--from-file=ca.crt=${pki.caFile}`, `--from-file=tls.crt=${pki.clientCert}`, `--from-file=tls.key=${pki.clientKey}`]);
    // manifests/03-daemonset.yaml edited as the README says
    const ds = loadAll(readFileSync(path.join(REPO_ROOT, 'manifests/03-daemonset.yaml'), 'utf8'))[0] as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const daemon = ds.spec.template.spec.containers.find((x: { name: string }) => x.name === 'kube-twill');
    daemon.env.find((e: { name: string }) => e.name === 'TWILLD_KUBE_SUBNET_MGR').value = 'false';
    daemon.args.push(`--etcd-endpoints=${etcd.endpoint}`, '--etcd-cafile=/etc/twill/etcd-tls/ca.crt',
      '--etcd-certfile=/etc/twill/etcd-tls/tls.crt', '--etcd-keyfile=/etc/twill/etcd-tls/tls.key');
    await c().kubectl(['apply', '-f', '-'], dump(ds).split(PLACEHOLDER_IMAGE).join(c().artifacts.twillImage));
    await c().kubectl(['-n', TWILL_NS, 'rollout', 'status', 'ds/kube-twill-ds', '--timeout=600s']);
    await waitTwillReady(c());
    const ls = await waitFor('an etcd lease per node', async () => {
      const l = await leases();
      return c().nodes.every((n) => l.some((x) => x.publicIP === n.ip)) ? l : undefined;
    }, 120000, 500);
    assert.equal(ls!.length, c().nodes.length, JSON.stringify(ls));

    const [n1, n2] = c().nodes;
    await createPods(c(), [netexecPod('etcd-a', n1.name), netexecPod('etcd-b', n2.name)]);
    const [a, b] = await waitPodsReady(c(), ['etcd-a', 'etcd-b']);
    const subnetOf = (ip: string) => ls!.find((l) => l.publicIP === ip)!.subnet;
    assert.equal(a.ip.split('.').slice(0, 3).join('.'), subnetOf(n1.ip).split('.').slice(0, 3).join('.'), `etcd-a ${a.ip} in ${subnetOf(n1.ip)}`);
    assert.deepEqual(await dial(c(), a.name, 'http', b.ip, 8080), [b.name]);
    assert.deepEqual(await dial(c(), b.name, 'udp', a.ip, 8081), [a.name]);
    await deletePods(c(), ['etcd-a', 'etcd-b']);
  });

  it('gives a deleted Node\'s lease back (kubectl delete node)', async () => {
    const gone = c().nodes[c().nodes.length - 1];
    const stays = c().nodes[0];
    await gone.stop(); // the machine is gone: kubelet, containerd and its pods, twilld included
    await c().kubectl(['delete', 'node', gone.name, '--wait=true']);
    const after = await waitFor(`${gone.name}'s lease released`, async () => {
      const l = await leases();
      return l.some((x) => x.publicIP === gone.ip) ? undefined : l;
    }, 120000, 500);
    assert.ok(after!.some((x) => x.publicIP === stays.ip), `${stays.name} keeps its lease: ${JSON.stringify(after)}`);
  });
});
