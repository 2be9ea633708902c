// Where the Kubernetes client gets its configuration: an explicit kubeconfig file, $KUBECONFIG,
// an --kube-api-url override, and errors that name the source.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { apiStatus, connectKube, describeApiError, loadKubeConfig } from '../../lib/kube/client.js';
import { FakeKubeApiServer, kubeconfigYaml } from '../../harness/kube-apiserver.js';

describe('kube client configuration', () => {
  let dir: string;
  const saved = process.env.KUBECONFIG;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'twk-kcfg-'));
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads an explicit kubeconfig file', () => {
    const f = path.join(dir, 'kc');
    writeFileSync(f, kubeconfigYaml('http://10.0.0.1:6443'));
    assert.equal(loadKubeConfig({ kubeconfigFile: f }).getCurrentCluster()!.server, 'http://10.0.0.1:6443');
  });

  it('falls back to $KUBECONFIG', () => {
    const f = path.join(dir, 'kc-env');
    writeFileSync(f, kubeconfigYaml('http://10.0.0.2:6443'));
    process.env.KUBECONFIG = f;
    assert.equal(connectKube().server, 'http://10.0.0.2:6443');
  });

  it('lets --kube-api-url override the server and keeps the credentials', async () => {
    const api = new FakeKubeApiServer({ token: 'tok' });
    const url = await api.listen();
    try {
      const f = path.join(dir, 'kc');
      writeFileSync(f, kubeconfigYaml('http://192.0.2.1:1', 'tok')); // unroutable on purpose
      const kube = connectKube({ kubeconfigFile: f, apiUrl: url });
      assert.equal(kube.server, url);
      api.createNode({ metadata: { name: 'x' } });
      assert.equal((await kube.core.listNode()).items.length, 1);
    } finally {
      await api.close();
    }
  });

  it('refuses to guess when nothing is configured, and accepts --kube-api-url alone', async () => {
    const saved = { HOME: process.env.HOME, K: process.env.KUBERNETES_SERVICE_HOST };
    delete process.env.KUBECONFIG;
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.HOME = dir; // no ~/.kube/config there
    try {
      assert.throws(() => loadKubeConfig(), /no --kubeconfig-file/);
      const kube = connectKube({ apiUrl: 'https://10.0.0.3:6443' });
      assert.equal(kube.server, 'https://10.0.0.3:6443');
      assert.equal(kube.config.getCurrentUser()?.token, undefined, 'no credentials invented');
    } finally {
      process.env.HOME = saved.HOME;
      if (saved.K !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.K;
    }
  });

  it('talks to an http:// --kube-api-url with no kubeconfig (a real request, no credentials)', async () => {
    const saved = { HOME: process.env.HOME, K: process.env.KUBERNETES_SERVICE_HOST };
    delete process.env.KUBECONFIG;
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.HOME = dir;
    const api = new FakeKubeApiServer(); // serves anonymous requests
    const url = await api.listen();
    try {
      assert.match(url, /^http:\/\//);
      api.createNode({ metadata: { name: 'plain' } });
      const kube = connectKube({ apiUrl: url });
      assert.deepEqual((await kube.core.listNode()).items.map((n) => n.metadata?.name), ['plain']);
      assert.equal(api.requests.at(-1)?.status, 200);
    } finally {
      await api.close();
      process.env.HOME = saved.HOME;
      if (saved.K !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.K;
    }
  });

  it('keeps TLS verification for an https:// --kube-api-url alone', () => {
    const saved = { HOME: process.env.HOME, K: process.env.KUBERNETES_SERVICE_HOST };
    delete process.env.KUBECONFIG;
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.HOME = dir;
    try {
      assert.equal(loadKubeConfig({ apiUrl: 'https://10.0.0.4:6443' }).getCurrentCluster()!.skipTLSVerify, false);
    } finally {
      process.env.HOME = saved.HOME;
      if (saved.K !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.K;
    }
  });

  it('names the file when it is missing or broken', () => {
    assert.throws(() => loadKubeConfig({ kubeconfigFile: path.join(dir, 'absent') }), /kubeconfig \(.*absent\): file not found/);
    writeFileSync(path.join(dir, 'bad'), 'clusters: [');
    assert.throws(() => loadKubeConfig({ kubeconfigFile: path.join(dir, 'bad') }), /^Error: kubeconfig \(.*bad\): /);
  });

  it('describes API errors in one line with the status', async () => {
    const api = new FakeKubeApiServer({ token: 'right' });
    const url = await api.listen();
    try {
      const f = path.join(dir, 'kc');
      writeFileSync(f, kubeconfigYaml(url, 'wrong'));
      const err = await connectKube({ kubeconfigFile: f }).core.readNode({ name: 'n' }).catch((e) => e);
      assert.equal(apiStatus(err), 401);
      assert.equal(describeApiError(err), 'HTTP 401: Unauthorized');
      writeFileSync(f, kubeconfigYaml(url, 'right'));
      const missing = await connectKube({ kubeconfigFile: f }).core.readNode({ name: 'nope' }).catch((e) => e);
      assert.equal(describeApiError(missing), 'HTTP 404: nodes "nope" not found', 'the Status message from the body');
    } finally {
      await api.close();
    }
  });
});
