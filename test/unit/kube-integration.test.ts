// The daemon's Kubernetes side jobs (daemon/kube/integration.ts): off without a node name or
// an API configuration in etcd mode, an error in kube mode, and once ready: annotations plus
// NetworkUnavailable=False, retried until the API server answers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { annotationNames } from '../../lib/kube/annotations.js';
import { KubeIntegrationOptions, startKubeIntegration } from '../../daemon/kube/integration.js';
import { isPermitted } from '../helpers/kube-permissions.js';
import { createLogger } from '../../daemon/log.js';
import { Cidr } from '../../lib/ip/cidr.js';
import { FakeKubeApiServer, kubeconfigYaml } from '../../harness/kube-apiserver.js';
import { waitFor } from '../../harness/world.js';
import { leaseAttrs } from '../helpers/lease-attrs.js';
import { leaseAnnotations } from '../../lib/kube/annotations.js';
import { FakeClock } from '../fakes/clock.js';
import { FakeSubnetStore } from '../fakes/subnet-store.js';

const F = annotationNames();
const base: KubeIntegrationOptions = { kubeSubnetMgr: true };
const lease = { key: 'kube/nodes/n1', subnet: Cidr.parse('10.244.1.0/24'), attrs: leaseAttrs({ PublicIP: '198.18.0.11', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0a:00:00:00:00:01' } }) };

describe('kube integration hooks', () => {
  let dir: string;
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('debug', (l) => lines.push(JSON.parse(l)));
  const saved = { HOME: process.env.HOME, KUBECONFIG: process.env.KUBECONFIG, K: process.env.KUBERNETES_SERVICE_HOST };
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'twk-kint-'));
    lines.length = 0;
    delete process.env.KUBECONFIG;
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.HOME = dir;
  });
  afterEach(() => {
    process.env.HOME = saved.HOME;
    if (saved.KUBECONFIG !== undefined) process.env.KUBECONFIG = saved.KUBECONFIG;
    if (saved.K !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.K;
    rmSync(dir, { recursive: true, force: true });
  });

  it('stays off without a node name', () => {
    assert.equal(startKubeIntegration({ ...base, kubeSubnetMgr: false }, log, new AbortController().signal), undefined);
  });

  it('stays off with a warning in etcd mode when no API server is configured', () => {
    assert.equal(startKubeIntegration({ ...base, kubeSubnetMgr: false, nodeName: 'n1' }, log, new AbortController().signal), undefined);
    assert.ok(lines.some((l) => l.level === 'warn' && String(l.error).includes('no --kubeconfig-file')));
  });

  it('fails in kube mode when no API server is configured', () => {
    assert.throws(() => startKubeIntegration({ ...base, nodeName: 'n1' }, log, new AbortController().signal), /no --kubeconfig-file/);
  });

  it('publishes annotations and NetworkUnavailable=False once ready, retrying while the Node is missing', async () => {
    const api = new FakeKubeApiServer({ token: 't' });
    const url = await api.listen();
    const ac = new AbortController();
    try {
      writeFileSync(path.join(dir, 'kc'), kubeconfigYaml(url, 't'));
      const k = startKubeIntegration({ ...base, nodeName: 'n1', kubeconfigFile: path.join(dir, 'kc') }, log, ac.signal)!;
      assert.ok(k);
      k.ready(lease);
      await waitFor('a failed attempt', () => lines.some((l) => l.msg === 'publishing to the Node failed; retrying'));
      api.createNode({ metadata: { name: 'n1' }, status: { conditions: [{ type: 'NetworkUnavailable', status: 'True' }] } });
      await waitFor('published', () => api.getNode('n1')?.status?.conditions?.[0]?.status === 'False', 20000);
      const ann = api.getNode('n1')!.metadata.annotations!;
      assert.equal(ann[F.publicIP], '198.18.0.11');
      assert.equal(ann[F.kubeSubnetManager], 'true');
      await k.stop();
      assert.deepEqual(api.requests.filter((r) => !isPermitted(r.method, r.url)), []);
    } finally {
      ac.abort();
      await api.close();
    }
  });

  it('in etcd mode releases a deleted Node\'s lease through the store it is given (no etcd client of its own)', async () => {
    const api = new FakeKubeApiServer({ token: 't' });
    const url = await api.listen();
    const ac = new AbortController();
    const store = new FakeSubnetStore(new FakeClock());
    try {
      writeFileSync(path.join(dir, 'kc'), kubeconfigYaml(url, 't'));
      const peer = leaseAttrs({ PublicIP: '198.18.0.12', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0a:00:00:00:00:02' } });
      const held = store.put({ subnet: Cidr.parse('10.244.2.0/24') }, peer, 3600);
      api.createNode({ metadata: { name: 'n2', annotations: leaseAnnotations(F, peer, false) } });
      const k = startKubeIntegration({ kubeSubnetMgr: false, nodeName: 'n1', kubeconfigFile: path.join(dir, 'kc') }, log, ac.signal, store)!;
      await waitFor('watching Nodes', () => api.openWatches > 0);
      api.deleteNode('n2');
      await waitFor('released', () => !store.stored(held.key));
      assert.ok(lines.some((l) => l.msg === 'released the lease of a deleted Node' && l.node === 'n2' && l.subnet === '10.244.2.0/24'));
      await k.stop();
      assert.equal(store.closed, false, 'the store belongs to the subnet manager: stop() leaves it open');
    } finally {
      ac.abort();
      await api.close();
    }
  });
});
