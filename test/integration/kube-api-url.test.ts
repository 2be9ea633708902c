// The built twilld with flannel's `--kube-api-url http://...` and no kubeconfig at all (no
// file, no $KUBECONFIG, no ~/.kube/config, not in a cluster): an API server on a trusted
// address that needs no credentials. It must take its subnet from the Node and publish its
// annotations through that URL (client-node refuses plain http unless told there is no TLS
// to verify; lib/kube/client.ts).
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { annotationNames } from '../../lib/kube/annotations.js';
import { readSubnetEnv } from '../../lib/schema/subnet-env.js';
import { FakeKubeApiServer, KubeNode, serveApiInUnderlay, UNDERLAY_API } from '../../harness/kube-apiserver.js';
import { Twilld } from '../../harness/twilld.js';
import { buildUnderlay, Underlay, waitFor, World } from '../../harness/world.js';

const F = annotationNames();

describe('twilld --kube-subnet-mgr --kube-api-url http://... without a kubeconfig', function () {
  this.timeout(120000);
  const world = new World('kau');
  const api = new FakeKubeApiServer(); // no token: anonymous requests are served
  let ul: Underlay;
  let d: Twilld;

  before(async () => {
    ul = await buildUnderlay(world, 1);
    await serveApiInUnderlay(world, ul.ns, api, 'unused'); // the relay; its kubeconfig is not used
    const netConf = path.join(world.tmp, 'net-conf.json');
    writeFileSync(netConf, JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } }));
    const n = ul.nodes[0];
    api.createNode({ metadata: { name: 'n1' }, spec: { podCIDR: '10.244.7.0/24', podCIDRs: ['10.244.7.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: n.ip }] } } as KubeNode);
    d = new Twilld(world, n, {
      etcd: 'http://127.0.0.1:2379', // unused in kube mode
      args: ['--kube-subnet-mgr', '--kube-api-url', `http://${UNDERLAY_API}`, '--net-config-path', netConf, '--node-name', 'n1'],
      // nothing else to find: an empty HOME, no $KUBECONFIG, not in a cluster
      env: { HOME: world.tmp, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' },
    }).start();
    await d.waitReady(60000);
  });

  after(async function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`--- twilld ---\n${d?.logs.slice(-3000)}\n`);
    await d?.stop();
    await world.cleanup();
  });

  it('takes its subnet from the Node read through that URL', () => {
    assert.equal(String(readSubnetEnv(d.subnetFile).subnet), '10.244.7.0/24');
  });

  it('publishes its annotations through it (a PATCH of nodes/status)', async () => {
    await waitFor('public-ip annotation', () => api.getNode('n1')?.metadata.annotations?.[F.publicIP] === ul.nodes[0].ip, 15000);
    assert.ok(api.requests.some((r) => r.method === 'PATCH' && r.url.startsWith('/api/v1/nodes/n1/status') && r.status < 300));
  });
});
