// The etcd TLS flags (--etcd-cafile/--etcd-certfile/--etcd-keyfile, and their TWILLD_ env
// twins) against a real etcd that requires client certificates. Certificates are made with
// openssl for this run only; etcd listens on loopback.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../lib/exec.js';
import { freePort } from '../../harness/etcd.js';
import { runCtl } from '../helpers/twillctl.js';
import { RUN_PREFIX, stopProcess, waitFor } from '../../harness/world.js';

async function makeCerts(dir: string): Promise<void> {
  const f = (n: string) => path.join(dir, n);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=twill-test-ca', '-keyout', f('ca.key'), '-out', f('ca.crt')]);
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']]) {
    await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=twill-${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`)]);
    writeFileSync(f(`${name}.ext`), ext + '\n');
    await run('openssl', ['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f(`${name}.ext`), '-out', f(`${name}.crt`)]);
  }
}

describe('twillctl with etcd over TLS (client certificates)', function () {
  let dir: string;
  let etcd: ChildProcess | undefined;
  let endpoint: string;
  const file = (n: string) => path.join(dir, n);
  const etcdctl = (args: string[], input?: string) => run('etcdctl', ['--endpoints', endpoint, '--cacert', file('ca.crt'), '--cert', file('client.crt'), '--key', file('client.key'), '--dial-timeout', '2s', ...args], { input, env: { ETCDCTL_API: '3' } });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), `${RUN_PREFIX}c-tls-`));
    await makeCerts(dir);
    const [port, peer] = [await freePort(), await freePort()];
    endpoint = `https://127.0.0.1:${port}`;
    etcd = spawn('etcd', [
      '--name', 'twill-c-tls', '--data-dir', file('data'),
      '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `twill-c-tls=http://127.0.0.1:${peer}`,
      '--cert-file', file('server.crt'), '--key-file', file('server.key'), '--trusted-ca-file', file('ca.crt'), '--client-cert-auth',
      '--log-level', 'error', '--logger', 'zap',
    ], { stdio: 'ignore' });
    await waitFor('etcd over TLS', async () => (await etcdctl(['endpoint', 'health']), true), 20000, 200);
    await etcdctl(['put', '/twill-c/tls/config', '{"Network":"10.77.0.0/16"}']);
  });
  after(async () => {
    if (etcd) await stopProcess(etcd);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads the config with CA, client certificate and key from flags', async () => {
    const r = await runCtl(['config', 'get', '-o', 'json', '--etcd-endpoints', endpoint, '--etcd-prefix', '/twill-c/tls',
      '--etcd-cafile', file('ca.crt'), '--etcd-certfile', file('client.crt'), '--etcd-keyfile', file('client.key')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.effective.Network, '10.77.0.0/16');
  });

  it('reads them from TWILLD_ETCD_CAFILE / _CERTFILE / _KEYFILE', async () => {
    const r = await runCtl(['config', 'get', '-o', 'json', '--etcd-prefix', '/twill-c/tls'], { env: {
      TWILLD_ETCD_ENDPOINTS: endpoint, TWILLD_ETCD_CAFILE: file('ca.crt'), TWILLD_ETCD_CERTFILE: file('client.crt'), TWILLD_ETCD_KEYFILE: file('client.key'),
    } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.key, '/twill-c/tls/config');
  });

  it('fails with exit 1 naming the endpoint when the client certificate is missing', async () => {
    const r = await runCtl(['config', 'get', '--etcd-endpoints', endpoint, '--etcd-prefix', '/twill-c/tls', '--etcd-cafile', file('ca.crt'), '--etcd-timeout', '2000']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`etcd at ${endpoint.replace(/\./g, '\\.')}`));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('fails with exit 1 naming the file when a TLS file is unreadable', async () => {
    const r = await runCtl(['config', 'get', '--etcd-endpoints', endpoint, '--etcd-cafile', file('nope.crt')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope\.crt/);
  });
});
