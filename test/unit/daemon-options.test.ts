import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, TWILLCTL_BIN, TWILLD_BIN } from '../../harness/cni.js';
import { VERSION } from '../../lib/version.js';
import { HelpShown, OptionsError, parseOptions } from '../../daemon/options.js';
import { parseDuration } from '../../daemon/duration.js';

describe('twilld flags', () => {
  const noEnv = {};

  it('has flannel\'s defaults', () => {
    const o = parseOptions([], noEnv);
    assert.deepEqual(o.etcdEndpoints, ['http://127.0.0.1:2379']);
    assert.equal(o.etcdPrefix, '/coreos.com/network');
    assert.equal(o.subnetFile, '/run/flannel/subnet.env');
    assert.equal(o.ipMasq, false);
    assert.equal(o.healthzPort, 0);
    assert.equal(o.renewMarginMs, 60 * 60_000, 'a bare renew margin is minutes, as in flannel');
    assert.equal(o.leaseTtlSeconds, 24 * 3600);
    assert.equal(o.reconcileIntervalMs, 10_000);
    assert.equal(o.logLevel, 'info');
    assert.equal(o.kubeSubnetMgr, false);
  });

  it('parses every flag of the issue', () => {
    const o = parseOptions([
      '--etcd-endpoints', 'http://10.0.0.1:2379,https://10.0.0.2:2379', '--etcd-prefix', '/x/network',
      '--etcd-cafile', '/ca', '--etcd-certfile', '/cert', '--etcd-keyfile', '/key',
      '--iface', 'eth1', '--iface', '192.0.2.7', '--iface-regex', '^ens', '--public-ip', '203.0.113.5',
      '--ip-masq', '--subnet-file', '/tmp/s.env', '--healthz-ip', '127.0.0.1', '--healthz-port', '9100',
      '--subnet-lease-renew-margin', '30s', '--subnet-lease-ttl', '2m', '--reconcile-interval', '500ms', '--log-level', 'debug',
    ], noEnv);
    assert.deepEqual(o.etcdEndpoints, ['http://10.0.0.1:2379', 'https://10.0.0.2:2379']);
    assert.equal(o.etcdPrefix, '/x/network');
    assert.deepEqual([o.etcdCaFile, o.etcdCertFile, o.etcdKeyFile], ['/ca', '/cert', '/key']);
    assert.deepEqual(o.ifaces, ['eth1', '192.0.2.7']);
    assert.equal(String(o.ifaceRegexes[0]), '/^ens/');
    assert.equal(String(o.publicIp), '203.0.113.5');
    assert.equal(o.ipMasq, true);
    assert.equal(o.subnetFile, '/tmp/s.env');
    assert.equal(o.healthzIp, '127.0.0.1');
    assert.equal(o.healthzPort, 9100);
    assert.equal(o.renewMarginMs, 30_000);
    assert.equal(o.leaseTtlSeconds, 120);
    assert.equal(o.reconcileIntervalMs, 500);
    assert.equal(o.logLevel, 'debug');
  });

  it('reads TWILLD_<FLAG> from the environment; a flag wins over it', () => {
    const env = { TWILLD_ETCD_ENDPOINTS: 'http://192.0.2.1:2379', TWILLD_IP_MASQ: 'true', TWILLD_SUBNET_FILE: '/e.env' };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const o = parseOptions(['--subnet-file', '/flag.env'], env);
      assert.deepEqual(o.etcdEndpoints, ['http://192.0.2.1:2379']);
      assert.equal(o.ipMasq, true);
      assert.equal(o.subnetFile, '/flag.env');
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('--nexthop-objects by default; --no-nexthop-objects turns them off', () => {
    assert.equal(parseOptions([], noEnv).nexthopObjects, true);
    assert.equal(parseOptions(['--no-nexthop-objects'], noEnv).nexthopObjects, false);
  });

  it('--vxlan-userspace turns on the userspace dataplane, with queues and offloads', () => {
    assert.equal(parseOptions([], noEnv).userspaceVxlan, undefined);
    assert.deepEqual(parseOptions(['--vxlan-userspace'], noEnv).userspaceVxlan, { queues: 0, offloads: true, steering: 'cpu' });
    assert.deepEqual(parseOptions(['--vxlan-userspace', '--vxlan-userspace-queues', '3', '--no-vxlan-userspace-offloads'], noEnv).userspaceVxlan,
      { queues: 3, offloads: false, steering: 'cpu' });
    assert.equal(parseOptions(['--vxlan-userspace', '--vxlan-userspace-steering', 'hash'], noEnv).userspaceVxlan?.steering, 'hash');
    assert.throws(() => parseOptions(['--vxlan-userspace-queues', '17'], noEnv), /--vxlan-userspace-queues/);
    assert.throws(() => parseOptions(['--vxlan-userspace', '--vxlan-userspace-steering', 'rss'], noEnv), /vxlan-userspace-steering/);
  });

  it('a repeated scalar flag: the last one wins', () => {
    assert.equal(parseOptions(['--reconcile-interval', '1s', '--reconcile-interval', '3s'], noEnv).reconcileIntervalMs, 3000);
  });

  it('refuses bad flags with the flag\'s name', () => {
    const bad: [string[], RegExp][] = [
      [['--bogus'], /bogus/],
      [['--etcd-endpoints', '127.0.0.1:2379'], /--etcd-endpoints/],
      [['--public-ip', 'nope'], /--public-ip/],
      [['--healthz-port', '70000'], /--healthz-port/],
      [['--subnet-lease-ttl', 'soon'], /--subnet-lease-ttl/],
      [['--subnet-lease-ttl', '1m', '--subnet-lease-renew-margin', '2m'], /--subnet-lease-renew-margin/],
      [['--iface-regex', '('], /Invalid regular expression/],
      [['--log-level', 'loud'], /log-level/],
    ];
    for (const [args, re] of bad) assert.throws(() => parseOptions(args, noEnv), (e: Error) => e instanceof OptionsError && re.test(e.message), args.join(' '));
  });

  it('--help is not an error', () => {
    const write = process.stdout.write;
    const log = console.log;
    console.log = () => {};
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      assert.throws(() => parseOptions(['--help'], noEnv), HelpShown);
    } finally {
      process.stdout.write = write;
      console.log = log;
    }
  });

  it('--iptables-backend: auto (detect) by default, or legacy / nft explicitly', () => {
    assert.equal(parseOptions([], noEnv).iptablesBackend, undefined);
    assert.equal(parseOptions(['--iptables-backend', 'auto'], noEnv).iptablesBackend, undefined);
    assert.equal(parseOptions(['--iptables-backend', 'legacy'], noEnv).iptablesBackend, 'legacy');
    assert.equal(parseOptions(['--iptables-backend=nft'], noEnv).iptablesBackend, 'nft');
    assert.throws(() => parseOptions(['--iptables-backend', 'ebtables'], noEnv), OptionsError);
  });

  it('--version: twilld prints the same line as twillctl, the package version, and exits 0', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
    for (const bin of [TWILLD_BIN, TWILLCTL_BIN]) {
      const r = spawnSync(bin, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
      assert.equal(r.status, 0, `${path.basename(bin)}: ${r.stderr}`);
      assert.equal(r.stdout, `${pkg.version}\n`, path.basename(bin));
    }
  });

  it('durations', () => {
    assert.equal(parseDuration('90s', 'm', 'x'), 90_000);
    assert.equal(parseDuration('15', 'm', 'x'), 15 * 60_000);
    assert.equal(parseDuration('1.5h', 's', 'x'), 5_400_000);
    assert.equal(parseDuration('250ms', 's', 'x'), 250);
    assert.throws(() => parseDuration('-1s', 's', 'flag-name'), /--flag-name/);
  });
});
