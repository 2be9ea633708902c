// twillctl's kube mode without an API server: flags and environment into the typed context,
// Node leases in the documented view and in usage, the write-command refusal, and that the
// Kubernetes client stays unloaded until a kube-mode command needs it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import yargs from 'yargs';
import { annotationNames, nodeNameOfLease, nodeToLease, nodesToLeases, NodeLike } from '../../lib/kube/annotations.js';
import { computeUsage } from '../../ctl/commands/usage.js';
import { UsageError } from '../../ctl/errors.js';
import { leaseColumns, leaseView } from '../../ctl/lease-view.js';
import { contextFrom, GlobalArgs, refuseInKubeMode, withGlobalOptions } from '../../ctl/options.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { REPO_ROOT } from '../../harness/cni.js';
import { readmeSection } from '../helpers/readme.js';

const F = annotationNames();

function node(name: string, podCIDR: string, publicIP: string, managed = true): NodeLike {
  return {
    metadata: { name, annotations: managed ? { [F.kubeSubnetManager]: 'true', [F.publicIP]: publicIP, [F.backendType]: 'vxlan', [F.backendData]: '{"VNI":1,"VtepMAC":"0a:00:00:00:00:01"}' } : {} },
    spec: { podCIDR },
  };
}

function parse(argv: string[], env: Record<string, string> = {}): ReturnType<typeof contextFrom> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return contextFrom(withGlobalOptions(yargs(argv)).parseSync() as unknown as GlobalArgs);
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
  }
}

describe('twillctl kube mode (unit)', () => {
  it('has no kube settings without --kube-subnet-mgr, and twilld\'s defaults with it', () => {
    assert.equal(parse([]).kube, undefined);
    assert.deepEqual(parse(['--kube-subnet-mgr']).kube, {
      kubeconfigFile: undefined, apiUrl: undefined, annotationPrefix: 'flannel.alpha.coreos.com', netConfPath: '/etc/kube-flannel/net-conf.json', timeoutMs: 3000,
    });
  });

  it('reads the TWILLD_* environment as twilld does; flags win', () => {
    const ctx = parse(['--net-config-path', '/x.json'], { TWILLD_KUBE_SUBNET_MGR: 'true', TWILLD_KUBECONFIG_FILE: '/kc', TWILLD_KUBE_API_URL: 'https://api:6443', TWILLD_NET_CONFIG_PATH: '/env.json' });
    assert.deepEqual(ctx.kube, { kubeconfigFile: '/kc', apiUrl: 'https://api:6443', annotationPrefix: 'flannel.alpha.coreos.com', netConfPath: '/x.json', timeoutMs: 3000 });
    assert.equal(parse([], { TWILLD_KUBE_SUBNET_MGR: 'false' }).kube, undefined);
  });

  it('refuses write commands in kube mode only', () => {
    assert.throws(() => refuseInKubeMode(parse(['--kube-subnet-mgr']), 'reserve'),
      (e: unknown) => e instanceof UsageError && e.message === 'reserve: not available with --kube-subnet-mgr: subnets come from Node spec.podCIDR; use kubectl');
    assert.doesNotThrow(() => refuseInKubeMode(parse([]), 'reserve'));
  });

  it('a Node lease names its Node, is never reserved and never expires', () => {
    const l = nodeToLease(F, node('worker-1', '10.244.7.0/24', '192.0.2.7'))!;
    assert.equal(nodeNameOfLease(l.key), 'worker-1');
    assert.equal(nodeNameOfLease('/coreos.com/network/subnets/10.244.7.0-24'), undefined);
    const v = leaseView(l);
    assert.deepEqual(v, {
      subnet: '10.244.7.0/24', subnet6: null, publicIP: '192.0.2.7', publicIPv6: null, backendType: 'vxlan', vtepMAC: '0a:00:00:00:00:01', vni: 1,
      reserved: false, expiresInSeconds: null, leaseId: null, node: 'worker-1',
    });
    assert.deepEqual(leaseColumns([v]).map((c) => c.header), ['SUBNET', 'NODE', 'PUBLIC-IP', 'BACKEND', 'VTEP-MAC']);
  });

  it('usage counts Node leases as used, none as reserved', () => {
    const config = parseNetworkConfig(JSON.stringify({ Network: '10.244.0.0/16', SubnetMin: '10.244.1.0', SubnetMax: '10.244.4.0' }));
    const leases = nodesToLeases(F, [node('b', '10.244.2.0/24', '192.0.2.2'), node('a', '10.244.1.0/24', '192.0.2.1'), node('u', '10.244.3.0/24', '', false)]);
    assert.deepEqual(leases.map((l) => nodeNameOfLease(l.key)), ['a', 'b'], 'unannounced Nodes are not leases; key order');
    const u = computeUsage(config, leases);
    assert.deepEqual([u.total, u.used, u.reserved, u.free, u.usedPercent], [4, 2, 0, 2, 50]);
  });

  it('loads no Kubernetes client for the command modules themselves (it is imported on first use)', () => {
    const build = path.resolve(__dirname, '../../ctl');
    const script = `for (const m of ['commands/leases', 'commands/usage', 'commands/config', 'commands/doctor', 'commands/reserve', 'commands/leases-watch', 'kube', 'options'])
      require(${JSON.stringify(build)} + '/' + m + '.js');
      const loaded = Object.keys(require.cache);
      console.log(JSON.stringify({ kube: loaded.filter((k) => k.includes('@kubernetes/client-node')).length, ctl: loaded.filter((k) => k.includes('/ctl/')).length }));`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const r = JSON.parse(out.stdout);
    assert.ok(r.ctl >= 8, 'the modules did load');
    assert.equal(r.kube, 0);
  });

  it("the README's Kubernetes twillctl lines, run in the DaemonSet's container, read Nodes and its net-conf path", () => {
    const docs = readmeSection('Running twill on Kubernetes');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const objects = loadAll(readFileSync(path.join(REPO_ROOT, 'manifests/03-daemonset.yaml'), 'utf8')) as any[];
    const container = objects.find((o) => o?.kind === 'DaemonSet').spec.template.spec.containers[0];
    const env: Record<string, string> = Object.fromEntries(
      (container.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
    const lines = [...docs.matchAll(/exec \S+ -- twillctl ([^\n`]*?)\s*$/gm)].map((m) => m[1].trim().split(/\s+/));
    assert.ok(lines.length >= 4, `twillctl lines documented: ${lines.length}`);
    for (const argv of lines) {
      const ctx = parse(argv, env);
      assert.equal(ctx.kube?.netConfPath, env.TWILLD_NET_CONFIG_PATH, argv.join(' '));
    }
  });
});
