// twillctl --kube-subnet-mgr against the test API server (real REST + watch protocol, real
// @kubernetes/client-node inside the built binary): leases list/get (exact JSON and table),
// usage, config get from a net-conf.json file, refused write commands, and a watch that sees
// a Node added and one deleted (and stays quiet for a kubelet-style status update).
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import path from 'node:path';
import { isPermitted } from '../helpers/kube-permissions.js';
import { TWILLCTL_BIN } from '../../harness/cni.js';
import { FakeKubeApiServer, KubeNode, kubeconfigYaml } from '../../harness/kube-apiserver.js';
import { DEFAULT_PATH } from '../../harness/spawn.js';
import { runCtl } from '../helpers/twillctl.js';
import { stopProcess, waitFor, World } from '../../harness/world.js';

const P = 'flannel.alpha.coreos.com';
const NET_CONF = { Network: '10.244.0.0/16', SubnetLen: 24, SubnetMin: '10.244.1.0', SubnetMax: '10.244.10.0', Backend: { Type: 'vxlan' } };

interface TestNode { name: string; podCIDR: string; publicIP?: string; overwrite?: string; backend?: string; vtepMAC?: string; managed?: boolean }

function kubeNode(n: TestNode): KubeNode {
  const ann: Record<string, string> = {};
  if (n.managed !== false) {
    ann[`${P}/kube-subnet-manager`] = 'true';
    if (n.publicIP) ann[`${P}/public-ip`] = n.publicIP;
    if (n.overwrite) ann[`${P}/public-ip-overwrite`] = n.overwrite;
    ann[`${P}/backend-type`] = n.backend ?? 'vxlan';
    ann[`${P}/backend-data`] = n.vtepMAC ? JSON.stringify({ VNI: 1, VtepMAC: n.vtepMAC }) : 'null';
  }
  return {
    metadata: { name: n.name, annotations: ann },
    spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] },
    status: { addresses: [{ type: 'InternalIP', address: n.publicIP ?? '198.18.0.99' }] },
  } as KubeNode;
}

const A: TestNode = { name: 'node-a', podCIDR: '10.244.3.0/24', publicIP: '198.18.0.11', vtepMAC: '0a:58:0a:f4:03:00' };
// an operator's public-ip-overwrite wins, as twilld and flannel read it
const B: TestNode = { name: 'node-b', podCIDR: '10.244.10.0/24', publicIP: '198.18.0.12', overwrite: '203.0.113.5', vtepMAC: '0a:58:0a:f4:0a:00' };
const C: TestNode = { name: 'node-c', podCIDR: '10.244.2.0/24', publicIP: '198.18.0.13', backend: 'host-gw' };
// a Node with a podCIDR that no twill (or flannel) daemon has announced yet: not routable, not listed
const U: TestNode = { name: 'node-u', podCIDR: '10.244.4.0/24', managed: false };

/** A loopback port nothing listens on (one the kernel just handed out and we gave back). */
function closedPort(): Promise<number> {
  const srv = createServer();
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => {
    const { port } = srv.address() as AddressInfo;
    srv.close(() => resolve(port));
  }));
}

function expectedView(n: TestNode) {
  return {
    subnet: n.podCIDR,
    subnet6: null,
    publicIP: n.overwrite ?? n.publicIP,
    publicIPv6: null,
    backendType: n.backend ?? 'vxlan',
    vtepMAC: n.vtepMAC ?? null,
    vni: n.vtepMAC ? 1 : null,
    reserved: false,
    expiresInSeconds: null,
    leaseId: null,
    node: n.name,
  };
}

describe('twillctl --kube-subnet-mgr (test API server)', function () {
  const world = new World('ck');
  const api = new FakeKubeApiServer({ token: 'ck-token' });
  let kube: string[];
  let netConf: string;
  const ctl = (args: string[], env?: Record<string, string>) => runCtl([...args, ...kube], { env });

  before(async () => {
    const url = await api.listen({});
    world.onCleanup(() => api.close());
    const kubeconfig = path.join(world.tmp, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(url, 'ck-token'));
    netConf = path.join(world.tmp, 'net-conf.json');
    writeFileSync(netConf, JSON.stringify(NET_CONF));
    for (const n of [A, B, C, U]) api.createNode(kubeNode(n));
    kube = ['--kube-subnet-mgr', '--kubeconfig-file', kubeconfig, '--net-config-path', netConf];
  });
  after(() => world.cleanup());

  it('leases list: one lease per announced Node, as documented JSON in subnet order', async () => {
    const r = await ctl(['leases', 'list', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, { leases: [C, A, B].map(expectedView), invalid: [] });
  });

  it('leases list with --kube-api-url http://... alone: no kubeconfig, an API server that needs no credentials', async () => {
    const open = new FakeKubeApiServer(); // no token: anonymous requests are served
    const url = await open.listen({});
    try {
      open.createNode(kubeNode(A));
      // HOME without ~/.kube/config, no KUBECONFIG, not in a cluster: the URL is the only source
      const r = await runCtl(['leases', 'list', '-o', 'json', '--kube-subnet-mgr', '--kube-api-url', url, '--net-config-path', netConf], { env: { HOME: world.tmp } });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { leases: [expectedView(A)], invalid: [] });
      assert.ok(open.requests.some((q) => q.method === 'GET' && q.url.startsWith('/api/v1/nodes') && q.status === 200), 'the list reached the server');
    } finally {
      await open.close();
    }
  });

  it('leases list: the table names the Node instead of expiry and reservation', async () => {
    const r = await ctl(['leases', 'list']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n').map((l) => l.trim().split(/\s+/));
    assert.deepEqual(lines, [
      ['SUBNET', 'NODE', 'PUBLIC-IP', 'BACKEND', 'VTEP-MAC'],
      ['10.244.2.0/24', 'node-c', '198.18.0.13', 'host-gw', '-'],
      ['10.244.3.0/24', 'node-a', '198.18.0.11', 'vxlan', '0a:58:0a:f4:03:00'],
      ['10.244.10.0/24', 'node-b', '203.0.113.5', 'vxlan', '0a:58:0a:f4:0a:00'],
    ]);
  });

  it('leases get: by subnet, by pod IP and by public IP', async () => {
    for (const [q, n] of [['10.244.3.0/24', A], ['10.244.10.77', B], ['198.18.0.13', C]] as const) {
      const r = await ctl(['leases', 'get', q, '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json, { query: q, lease: expectedView(n) });
    }
    const none = await ctl(['leases', 'get', '10.244.4.9']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no lease holds 10\.244\.4\.9/);
  });

  it('the environment variables twilld reads select kube mode too', async () => {
    const r = await runCtl(['leases', 'list', '-o', 'json'], {
      env: { TWILLD_KUBE_SUBNET_MGR: 'true', TWILLD_KUBECONFIG_FILE: kube[2], TWILLD_NET_CONFIG_PATH: netConf },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json.leases.map((l: { node: string }) => l.node), ['node-c', 'node-a', 'node-b']);
  });

  it('usage: total from net-conf.json, used = Nodes, nothing reserved', async () => {
    const r = await ctl(['usage', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, {
      family: 4, network: '10.244.0.0/16', subnetLen: 24, subnetMin: '10.244.1.0/24', subnetMax: '10.244.10.0/24',
      total: 10, used: 3, reserved: 0, free: 7, usedPercent: 30, outside: 0, ipv6: null,
    });
    const full = await ctl(['usage', '--fail-above', '25']);
    assert.equal(full.code, 1);
    assert.match(full.stderr, /30% of node subnets are taken \(limit 25%\)/);
  });

  it('config get: the net-conf.json file, with its effective values', async () => {
    const r = await ctl(['config', 'get', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.key, netConf);
    assert.equal(r.json.modRevision, null);
    assert.deepEqual(r.json.config, NET_CONF);
    assert.equal(r.json.error, null);
    assert.equal(r.json.effective.Network, '10.244.0.0/16');
    assert.deepEqual([r.json.effective.Backend.Type, r.json.effective.Backend.VNI, r.json.effective.Backend.Port], ['vxlan', 1, 8472]);
    const t = await ctl(['config', 'get']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^Network:\s+10\.244\.0\.0\/16$/m);
    assert.match(t.stdout, new RegExp(`^File:\\s+${netConf.replace(/[.]/g, '\\.')}$`, 'm'));
  });

  it('config get: a missing file is an error naming it', async () => {
    const r = await runCtl(['config', 'get', ...kube, '--net-config-path', path.join(world.tmp, 'absent.json')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read the network config .*absent\.json \(--net-config-path\): ENOENT/);
  });

  it('refuses every write command with exit 2, and sends nothing but reads to the API', async () => {
    const before = api.requests.length;
    for (const args of [
      ['reserve', '10.244.7.0/24', '--public-ip', '198.18.0.20'],
      ['unreserve', '10.244.7.0/24'],
      ['leases', 'release', '10.244.3.0/24', '--yes'],
      ['config', 'set', path.join(world.tmp, 'new.json')],
    ]) {
      const r = await ctl(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /not available with --kube-subnet-mgr: subnets come from Node spec\.podCIDR; use kubectl/);
    }
    assert.deepEqual(api.requests.slice(before).filter((q) => q.method !== 'GET'), []);
    assert.deepEqual((await ctl(['leases', 'list', '-o', 'json'])).json.leases.map((l: { subnet: string }) => l.subnet), ['10.244.2.0/24', '10.244.3.0/24', '10.244.10.0/24']);
  });

  it('an unreachable API server is an error naming it, not a hang', async () => {
    const dead = path.join(world.tmp, 'dead-kubeconfig');
    const port = await closedPort();
    writeFileSync(dead, kubeconfigYaml(`http://127.0.0.1:${port}`, 'x'));
    const r = await runCtl(['leases', 'list', '--kube-subnet-mgr', '--kubeconfig-file', dead, '--net-config-path', netConf]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^twillctl: Kubernetes API at http://127\\.0\\.0\\.1:${port}: list nodes: .*ECONNREFUSED`));
  });

  describe('leases watch', () => {
    let child: ChildProcess | undefined;
    after(async () => {
      if (child && child.exitCode === null) await stopProcess(child);
    });

    it('prints a put for an added Node and a delete for a deleted one, nothing for status updates', async () => {
      const before = api.requests.length;
      child = spawn(TWILLCTL_BIN, ['leases', 'watch', '-o', 'json', '--count', '2', ...kube], { env: { PATH: DEFAULT_PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout!.on('data', (b) => (out += b));
      child.stderr!.on('data', (b) => (err += b));
      const exited = new Promise<number | null>((r) => child!.once('close', (code) => r(code)));
      await waitFor('twillctl watching Nodes', () => api.requests.slice(before).some((q) => q.url.includes('watch=true')), 30000);

      const E: TestNode = { name: 'node-e', podCIDR: '10.244.5.0/24', publicIP: '198.18.0.15', vtepMAC: '0a:58:0a:f4:05:00' };
      api.createNode(kubeNode(E));
      // kubelet heartbeats change Node status all the time; no lease changes, so no event
      api.updateNode('node-a', (n) => ({ ...n, status: { ...n.status, addresses: [{ type: 'InternalIP', address: '198.18.0.111' }] } }), 'status');
      api.deleteNode('node-b');

      assert.equal(await exited, 0, err);
      const events = out.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(events, [
        { type: 'put', revision: api.getNode('node-e')!.metadata.resourceVersion, subnet: '10.244.5.0/24', lease: expectedView(E) },
        { type: 'delete', revision: events[1].revision, subnet: '10.244.10.0/24', lease: null },
      ]);
      assert.match(events[1].revision, /^\d+$/);
      assert.ok(Number(events[1].revision) > Number(events[0].revision), 'the deletion is newer than the addition');
    });

    it('refuses --from-revision (an etcd revision) with exit 2', async () => {
      const r = await ctl(['leases', 'watch', '--from-revision', '5']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--from-revision: etcd revisions only; not available with --kube-subnet-mgr/);
    });
  });

  it('made only API calls the ClusterRole grants (list and watch nodes)', () => {
    assert.ok(api.requests.length > 0);
    assert.deepEqual(api.requests.filter((r) => !isPermitted(r.method, r.url)).map((r) => `${r.method} ${r.url}`), []);
  });
});
