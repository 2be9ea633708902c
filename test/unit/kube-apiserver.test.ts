// The test API server against the real @kubernetes/client-node: list, watch with
// resourceVersion, the three patch types, subresource rules, auth and conflicts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import { connectKube, KubeClient, apiStatus } from '../../lib/kube/client.js';
import { FakeKubeApiServer, kubeconfigYaml } from '../../harness/kube-apiserver.js';

const node = (name: string, podCIDR?: string) => ({ metadata: { name }, spec: podCIDR ? { podCIDR } : {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } });

interface Ev { type: string; name?: string; rv?: string; obj: any } // eslint-disable-line @typescript-eslint/no-explicit-any

/** Opens a watch and collects its events until stopped. */
async function collect(kube: KubeClient, query: Record<string, string | boolean>) {
  const events: Ev[] = [];
  let ended: unknown = 'open';
  const ctl = await new Watch(kube.config).watch('/api/v1/nodes', query, (type, obj) => {
    events.push({ type, name: obj?.metadata?.name, rv: obj?.metadata?.resourceVersion, obj });
  }, (err) => (ended = err ?? null));
  return { events, ended: () => ended, stop: () => ctl.abort() };
}

async function until<T>(fn: () => T | undefined | false): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not reached');
}

describe('kube test API server (real client-node)', () => {
  let server: FakeKubeApiServer;
  let kube: KubeClient;
  let dir: string;

  beforeEach(async () => {
    server = new FakeKubeApiServer({ token: 'sekret' });
    const url = await server.listen();
    dir = mkdtempSync(path.join(tmpdir(), 'twk-kapi-'));
    writeFileSync(path.join(dir, 'kubeconfig'), kubeconfigYaml(url, 'sekret'));
    kube = connectKube({ kubeconfigFile: path.join(dir, 'kubeconfig') });
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, reads and lists Nodes with resourceVersions', async () => {
    const a = await kube.core.createNode({ body: node('a', '10.244.1.0/24') });
    const b = await kube.core.createNode({ body: node('b') });
    assert.ok(Number(b.metadata!.resourceVersion) > Number(a.metadata!.resourceVersion));
    assert.ok(a.metadata!.uid);
    const list = await kube.core.listNode();
    assert.deepEqual(list.items.map((n) => n.metadata!.name).sort(), ['a', 'b']);
    assert.equal(list.metadata!.resourceVersion, b.metadata!.resourceVersion);
    assert.equal((await kube.core.readNode({ name: 'a' })).spec!.podCIDR, '10.244.1.0/24');
    await assert.rejects(kube.core.readNode({ name: 'zz' }), (e) => apiStatus(e) === 404);
    await assert.rejects(kube.core.createNode({ body: node('a') }), (e) => apiStatus(e) === 409);
  });

  it('refuses requests without the bearer token', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'twk-kapi-'));
    try {
      writeFileSync(path.join(other, 'kc'), kubeconfigYaml(kube.server, 'wrong'));
      const bad = connectKube({ kubeconfigFile: path.join(other, 'kc') });
      await assert.rejects(bad.core.listNode(), (e) => apiStatus(e) === 401);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('watches from a resourceVersion: later events only, in order, then live ones', async () => {
    await kube.core.createNode({ body: node('a') });
    const { metadata } = await kube.core.listNode();
    const rv = metadata!.resourceVersion!;
    await kube.core.createNode({ body: node('b') }); // after rv: must be replayed
    const w = await collect(kube, { resourceVersion: rv });
    await until(() => w.events.length === 1);
    await kube.core.patchNode({ name: 'a', body: { metadata: { labels: { x: 'y' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await kube.core.deleteNode({ name: 'b' });
    await until(() => w.events.length === 3);
    w.stop();
    assert.deepEqual(w.events.map((e) => `${e.type} ${e.name}`), ['ADDED b', 'MODIFIED a', 'DELETED b']);
    const rvs = w.events.map((e) => Number(e.rv));
    assert.ok(rvs.every((v, i) => i === 0 || v > rvs[i - 1]), `increasing versions: ${rvs}`);
    assert.ok(rvs[0] > Number(rv));
    assert.equal(w.events[1].obj.metadata.labels.x, 'y');
  });

  it('watch without a version starts with synthetic ADDED events for every Node', async () => {
    await kube.core.createNode({ body: node('a') });
    await kube.core.createNode({ body: node('b') });
    const w = await collect(kube, {});
    await until(() => w.events.length === 2);
    w.stop();
    assert.deepEqual(w.events.map((e) => `${e.type} ${e.name}`).sort(), ['ADDED a', 'ADDED b']);
  });

  it('answers a watch from a compacted version with a 410 Expired ERROR event and ends it', async () => {
    await kube.core.createNode({ body: node('a') });
    const old = (await kube.core.listNode()).metadata!.resourceVersion!;
    await kube.core.createNode({ body: node('b') });
    server.compact();
    const w = await collect(kube, { resourceVersion: old });
    await until(() => w.ended() !== 'open');
    assert.equal(w.events.length, 1);
    assert.equal(w.events[0].type, 'ERROR');
    assert.equal(w.events[0].obj.code, 410);
    assert.equal(w.events[0].obj.reason, 'Expired');
  });

  it('strategic merge patch on /status merges conditions by type and leaves spec alone', async () => {
    await kube.core.createNode({ body: node('a', '10.244.1.0/24') });
    const body = {
      metadata: { annotations: { 'x.io/k': 'v' } },
      spec: { podCIDR: '10.99.0.0/24' },
      status: { conditions: [{ type: 'NetworkUnavailable', status: 'False' }] },
    };
    const out = await kube.core.patchNodeStatus({ name: 'a', body }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    assert.deepEqual(out.status!.conditions!.map((c) => `${c.type}=${c.status}`), ['Ready=True', 'NetworkUnavailable=False']);
    assert.equal(out.spec!.podCIDR, '10.244.1.0/24', 'status subresource must not change spec');
    assert.equal(out.metadata!.annotations!['x.io/k'], 'v');
    // a second patch of the same condition type replaces it instead of appending
    const again = await kube.core.patchNodeStatus({ name: 'a', body: { status: { conditions: [{ type: 'NetworkUnavailable', status: 'True' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    assert.deepEqual(again.status!.conditions!.map((c) => `${c.type}=${c.status}`), ['Ready=True', 'NetworkUnavailable=True']);
  });

  it('merge patch on the main resource replaces lists and ignores status', async () => {
    await kube.core.createNode({ body: node('a') });
    const out = await kube.core.patchNode({ name: 'a', body: { spec: { podCIDR: '10.244.7.0/24' }, status: { conditions: [] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    assert.equal(out.spec!.podCIDR, '10.244.7.0/24');
    assert.equal(out.status!.conditions!.length, 1, 'main resource must not change status');
  });

  it('applies JSON patches (default content type of client-node) and rejects failing tests', async () => {
    await kube.core.createNode({ body: node('a') });
    const out = await kube.core.patchNode({ name: 'a', body: [{ op: 'add', path: '/metadata/labels', value: { 'k/v': '1' } }] });
    assert.equal(out.metadata!.labels!['k/v'], '1');
    await assert.rejects(
      kube.core.patchNode({ name: 'a', body: [{ op: 'test', path: '/spec/podCIDR', value: 'nope' }] }),
      (e) => apiStatus(e) === 422,
    );
  });

  it('keeps the resourceVersion on a no-op patch and refuses a stale one with 409', async () => {
    const a = await kube.core.createNode({ body: node('a') });
    const same = await kube.core.patchNode({ name: 'a', body: { spec: {} } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    assert.equal(same.metadata!.resourceVersion, a.metadata!.resourceVersion);
    await kube.core.patchNode({ name: 'a', body: { metadata: { labels: { a: 'b' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await assert.rejects(
      kube.core.patchNode({ name: 'a', body: { metadata: { resourceVersion: a.metadata!.resourceVersion, labels: { a: 'c' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
      (e) => apiStatus(e) === 409,
    );
  });

  it('filters list and watch by metadata.name', async () => {
    await kube.core.createNode({ body: node('a') });
    await kube.core.createNode({ body: node('b') });
    const list = await kube.core.listNode({ fieldSelector: 'metadata.name=b' });
    assert.deepEqual(list.items.map((n) => n.metadata!.name), ['b']);
  });
});
