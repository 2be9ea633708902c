// IPv4 forwarding off on the node, and a container that may not change it: twilld stays up
// and not ready, says exactly what to do, and carries on by itself once forwarding is on. The
// unprivileged container is simulated the way a runtime makes it: /proc/sys read-only, here
// through a read-only bind mount in the daemon's own mount namespace. Also the privileged init
// container's script (scripts/enable-ip-forward.sh), run in a node namespace.
import assert from 'node:assert/strict';
import path from 'node:path';
import { readSysctl, writeSysctl } from '../../lib/kernel/sysctl.js';
import { REPO_ROOT } from '../../harness/cni.js';
import { EtcdServer } from '../../harness/etcd.js';
import { readOnlyProcSys } from '../helpers/read-only-proc-sys.js';
import { netConfig, startEtcdWorld, Twilld } from '../../harness/twilld.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { netnsPath, Underlay, waitFor, World } from '../../harness/world.js';

const FORWARD = 'net.ipv4.ip_forward';
const SCRIPT = path.join(REPO_ROOT, 'scripts/enable-ip-forward.sh');

describe('twilld and net.ipv4.ip_forward', function () {
  this.timeout(120000);
  const world = new World('ipf');
  let ul: Underlay;
  let etcd: EtcdServer;
  let d: Twilld | undefined;
  let node: string;
  const forwarding = () => readSysctl(netnsPath(node), FORWARD);

  before(async () => {
    ({ ul, etcd } = await startEtcdWorld(world, 1, netConfig()));
    node = ul.nodes[0].ns;
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && d) process.stderr.write(`--- twilld ---\n${d.logs.slice(-3000)}\n`);
    await d?.stop();
    d = undefined;
  });
  after(() => world.cleanup());

  it('off and read-only: stays alive and not ready, logs what to do, and gets ready once it is on', async () => {
    await writeSysctl(netnsPath(node), FORWARD, '0');
    d = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint, wrap: readOnlyProcSys() }).start();
    const error = (await waitFor('the ip_forward error', async () => d!.logLines().find((l) => l.level === 'error' && String(l.msg).includes(FORWARD)), 15000, 100))!;
    assert.match(String(error.error), /^EROFS: cannot write \/proc\/sys\/net\/ipv4\/ip_forward/);
    assert.match(String(error.fix), /enable-ip-forward/);
    assert.match(String(error.fix), /sysctl -w net\.ipv4\.ip_forward=1/);
    const ready = await d.http('/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body, /not ready: net\.ipv4\.ip_forward is 0 and this container cannot set it/);
    assert.equal((await d.http('/healthz')).status, 200, 'alive: the liveness probe must not restart it');
    await sleep(1500);
    assert.equal(d.child?.exitCode, null, 'still running');
    assert.equal(await forwarding(), '0');

    // what the init container (or an operator) does on the host; the daemon retries by itself
    await writeSysctl(netnsPath(node), FORWARD, '1');
    await d.waitReady(30000);
    assert.ok(d.logLines().some((l) => l.msg === 'ip_forward is on now'));
  });

  it('already on: no write is attempted (a read-only /proc/sys is no obstacle)', async () => {
    assert.equal(await forwarding(), '1');
    d = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint, wrap: readOnlyProcSys() }).start();
    await d.waitReady(30000);
    assert.ok(!d.logLines().some((l) => String(l.msg).includes('ip_forward')), 'nothing to say about ip_forward');
  });

  it('off and writable (a privileged daemon): turns it on and says so', async () => {
    await writeSysctl(netnsPath(node), FORWARD, '0');
    d = new Twilld(world, ul.nodes[0], { etcd: etcd.endpoint }).start();
    await d.waitReady(30000);
    assert.equal(await forwarding(), '1');
    assert.ok(d.logLines().some((l) => l.msg === 'ip_forward turned on'));
  });

  it('the init container\'s enable-ip-forward.sh turns it on, and only writes when it is off', async () => {
    await writeSysctl(netnsPath(node), FORWARD, '0');
    assert.match(await world.exec(node, SCRIPT, []), /set to 1/);
    assert.equal(await forwarding(), '1');
    assert.match(await world.exec(node, SCRIPT, []), /already 1/);
    // with /proc/sys read-only it can only succeed when there is nothing to write
    const [cmd, ...args] = readOnlyProcSys();
    assert.match(await world.exec(node, cmd, [...args, SCRIPT]), /already 1/);
    await writeSysctl(netnsPath(node), FORWARD, '0');
    await assert.rejects(world.exec(node, cmd, [...args, SCRIPT]), /is this container privileged/);
  });
});
