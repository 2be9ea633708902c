// etcd over TLS with client certificates: --etcd-cafile/--etcd-certfile/--etcd-keyfile as
// flags, and the same settings as TWILLD_* environment variables.
import assert from 'node:assert/strict';
import { EtcdServer } from '../../harness/etcd.js';
import { makeTestPki, TestPki } from '../helpers/tls.js';
import { TWILLD_BIN } from '../../harness/cni.js';
import { CONFIG_KEY, netConfig, Twilld } from '../../harness/twilld.js';
import { buildUnderlay, stopProcess, Underlay, waitFor, World } from '../../harness/world.js';

describe('twilld with etcd over TLS', function () {
  this.timeout(90000);
  const world = new World('dtl');
  let ul: Underlay;
  let etcd: EtcdServer;
  let pki: TestPki;

  before(async () => {
    ul = await buildUnderlay(world, 2);
    pki = await makeTestPki(world.tmp, [ul.hostIp]);
    etcd = new EtcdServer({ netns: ul.ns, host: ul.hostIp, tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caFile } });
    world.onCleanup(() => etcd.destroy());
    await etcd.start();
    await etcd.ctl(['put', CONFIG_KEY, netConfig()]);
  });
  after(() => world.cleanup());

  it('leases a subnet with the TLS flags', async () => {
    assert.match(etcd.endpoint, /^https:/);
    const d = new Twilld(world, ul.nodes[0], {
      etcd: etcd.endpoint, args: ['--etcd-cafile', pki.caFile, '--etcd-certfile', pki.clientCert, '--etcd-keyfile', pki.clientKey],
    }).start();
    await d.waitReady();
    assert.match(await etcd.ctl(['get', '--prefix', '/coreos.com/network/subnets/', '--print-value-only']), new RegExp(`"PublicIP":"${ul.nodes[0].ip}"`));
    await d.stop();
  });

  it('takes the same settings from TWILLD_* environment variables', async () => {
    const child = world.spawnIn(ul.nodes[1].ns, TWILLD_BIN, ['--iface', 'eth0', '--subnet-file', `${world.tmp}/env.subnet.env`], {
      TWILLD_ETCD_ENDPOINTS: etcd.endpoint,
      TWILLD_ETCD_CAFILE: pki.caFile,
      TWILLD_ETCD_CERTFILE: pki.clientCert,
      TWILLD_ETCD_KEYFILE: pki.clientKey,
      TWILLD_RECONCILE_INTERVAL: '1s',
    });
    let log = '';
    child.stderr!.on('data', (b) => (log += b));
    try {
      await waitFor('ready via env config', () => log.includes('"msg":"ready"'), 30000).catch((e) => {
        throw new Error(`${(e as Error).message}\n${log.slice(-2000)}`);
      });
      assert.match(await etcd.ctl(['get', '--prefix', '/coreos.com/network/subnets/', '--print-value-only']), new RegExp(`"PublicIP":"${ul.nodes[1].ip}"`));
    } finally {
      await stopProcess(child);
    }
  });

  it('without a client certificate it keeps retrying and stays unready', async () => {
    const d = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint, args: ['--etcd-cafile', pki.caFile], subnetFile: `${world.tmp}/nocert.env` }).start();
    try {
      await waitFor('error logged', () => d.logLines().some((l) => l.level === 'error' && /network config/.test(String(l.msg))), 30000);
      assert.equal(d.child?.exitCode, null, 'still running');
      assert.equal((await d.http('/readyz')).status, 503);
    } finally {
      await d.stop();
    }
  });
});
