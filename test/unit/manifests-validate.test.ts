// manifests/: every object parsed from the YAML, validated against the Kubernetes schemas
// (kubernetes-models) and for unknown fields (client-node's models), then the rules the
// install depends on: least-privilege RBAC equal to what the code calls, the DaemonSet's
// placement, privileges, probes, host paths, init containers, and a config both the daemon
// and the plugin accept.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { KUBE_API_USES } from '../../daemon/kube/permissions.js';
import { parseNetConf } from '../../cni-plugin/config.js';
import { parseNetworkConfig } from '../../lib/schema/network-config.js';
import { REPO_ROOT } from '../../harness/cni.js';
import { modelTypeOf, unknownFields } from '../helpers/kube-strict.js';

type Obj = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const MANIFESTS = path.join(REPO_ROOT, 'manifests');
const files = readdirSync(MANIFESTS).filter((f) => /\.ya?ml$/.test(f)).sort();
const objects: { file: string; obj: Obj }[] = files.flatMap((file) =>
  (loadAll(readFileSync(path.join(MANIFESTS, file), 'utf8')) as Obj[]).filter(Boolean).map((obj) => ({ file, obj })));

const find = (kind: string) => {
  const hits = objects.filter((o) => o.obj.kind === kind);
  assert.equal(hits.length, 1, `exactly one ${kind}`);
  return hits[0].obj;
};

// kubernetes-models is ESM-only (import condition): load each model class on demand
const MODEL_PATHS: Record<string, string> = {
  'v1/Namespace': 'kubernetes-models/v1/Namespace',
  'v1/ServiceAccount': 'kubernetes-models/v1/ServiceAccount',
  'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding',
  'apps/v1/DaemonSet': 'kubernetes-models/apps/v1/DaemonSet',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding',
};

describe('manifests', () => {
  const ds = () => find('DaemonSet');
  const pod = () => ds().spec.template.spec;
  const daemon = () => {
    const c = pod().containers;
    assert.equal(c.length, 1);
    return c[0];
  };

  it('parse into the expected objects, in an order kubectl apply -f can create them', () => {
    assert.deepEqual(objects.map((o) => o.obj.kind), ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet',
      'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
  });

  it('validate against the Kubernetes schemas (kubernetes-models)', async () => {
    for (const { file, obj } of objects) {
      const key = `${obj.apiVersion}/${obj.kind}`;
      const modPath = MODEL_PATHS[key];
      assert.ok(modPath, `${file}: no schema known for ${key}`);
      const mod = (await import(modPath)) as Record<string, new (o: Obj) => { validate(): void }>;
      const Model = mod[obj.kind];
      assert.doesNotThrow(() => new Model(obj).validate(), `${file}: ${key} ${obj.metadata?.name}`);
    }
  });

  it('the schema check itself catches a broken object (not a no-op)', async () => {
    const { DaemonSet } = (await import('kubernetes-models/apps/v1/DaemonSet')) as Obj;
    const broken = structuredClone(ds());
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    assert.throws(() => new DaemonSet(broken).validate());
  });

  it('have no unknown (misspelt) fields', () => {
    for (const { file, obj } of objects) assert.deepEqual(unknownFields(obj, modelTypeOf(obj)), [], file);
    const typo = structuredClone(ds());
    typo.spec.template.spec.hostNetwrok = true;
    assert.deepEqual(unknownFields(typo, 'V1DaemonSet'), ['.spec.template.spec.hostNetwrok']);
  });

  it('put everything namespaced into one namespace with the privileged pod security level', () => {
    const ns = find('Namespace');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
    for (const { obj } of objects) {
      if (['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(obj.kind)) continue;
      assert.equal(obj.metadata.namespace, ns.metadata.name, `${obj.kind} ${obj.metadata.name}`);
    }
  });

  it('grant exactly the API calls twilld makes (least privilege)', () => {
    const role = find('ClusterRole');
    const granted = role.rules.flatMap((r: Obj) => {
      assert.deepEqual(r.apiGroups, [''], 'core API group only');
      assert.ok(!r.resourceNames, 'no resourceNames: every node reads every Node');
      return r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${res}:${v}`));
    }).sort();
    const used = KUBE_API_USES.flatMap((u) => u.verbs.map((v) => `${u.resource}:${v}`)).sort();
    assert.deepEqual(granted, used);
    assert.ok(!granted.some((g: string) => g.includes('*')), 'no wildcards');
    const binding = find('ClusterRoleBinding');
    const sa = find('ServiceAccount');
    assert.equal(binding.roleRef.name, role.metadata.name);
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    assert.equal(pod().serviceAccountName, sa.metadata.name);
  });

  it('ships a net-conf.json the daemon parses: 10.244.0.0/16 with vxlan', () => {
    const cfg = parseNetworkConfig(find('ConfigMap').data['net-conf.json']);
    assert.equal(String(cfg.Network), '10.244.0.0/16');
    assert.equal(cfg.Backend.Type, 'vxlan');
  });

  it('ships a conflist of twill then portmap that the plugin accepts', () => {
    const list = JSON.parse(find('ConfigMap').data['cni-conf.json']);
    assert.deepEqual(list.plugins.map((p: Obj) => p.type), ['twill', 'portmap']);
    assert.deepEqual(list.plugins[1].capabilities, { portMappings: true });
    // a runtime hands each plugin its entry plus the list's name and cniVersion
    const conf = parseNetConf({ ...list.plugins[0], name: list.name, cniVersion: list.cniVersion },
      { command: 'ADD', containerId: 'c1', netns: '/var/run/netns/x', ifname: 'eth0', args: new Map(), path: [] });
    assert.equal(conf.subnetFile, '/run/flannel/subnet.env');
    assert.equal(conf.bridge, 'cni0');
  });

  it('runs the DaemonSet on every Linux node, host network, node-critical, through every taint', () => {
    const p = pod();
    assert.equal(p.hostNetwork, true);
    assert.equal(p.priorityClassName, 'system-node-critical');
    assert.deepEqual(p.nodeSelector, { 'kubernetes.io/os': 'linux' });
    assert.ok(p.tolerations.some((t: Obj) => t.operator === 'Exists' && !t.key && !t.effect), 'a toleration matching every taint');
    assert.deepEqual(ds().spec.selector.matchLabels, ds().spec.template.metadata.labels);
  });

  it('gives the daemon NET_ADMIN and NET_RAW instead of full privilege', () => {
    const sc = daemon().securityContext;
    assert.notEqual(sc.privileged, true);
    assert.deepEqual([...sc.capabilities.add].sort(), ['NET_ADMIN', 'NET_RAW']);
    // only the sysctl writer needs privilege (a runtime mounts /proc/sys read-only otherwise)
    for (const c of pod().initContainers) {
      if (c.name === 'enable-ip-forward') continue;
      assert.ok(!c.securityContext?.privileged && !c.securityContext?.capabilities?.add, c.name);
    }
  });

  it('turns on ip_forward in a privileged init container that runs first', () => {
    const [first] = pod().initContainers as Obj[];
    assert.equal(first.name, 'enable-ip-forward');
    assert.deepEqual(first.command, ['/opt/twill/enable-ip-forward.sh']);
    assert.equal(first.securityContext.privileged, true);
    assert.equal(pod().hostNetwork, true, "the host's network namespace is the one whose sysctl is set");
  });

  it('probes /healthz and /readyz on the port the daemon serves, and requests resources', () => {
    const c = daemon();
    const port = Number(/--healthz-port=(\d+)/.exec(c.args.join(' '))?.[1]);
    assert.ok(port > 0, '--healthz-port set (the daemon serves nothing on port 0)');
    assert.deepEqual([c.livenessProbe.httpGet.path, c.livenessProbe.httpGet.port], ['/healthz', port]);
    assert.deepEqual([c.readinessProbe.httpGet.path, c.readinessProbe.httpGet.port], ['/readyz', port]);
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory);
  });

  it('requests the memory twilld was measured to use, with a limit above the measured peak (bench:memory)', () => {
    const mi = (q: string) => {
      const m = /^(\d+)(Mi|Gi)$/.exec(q);
      assert.ok(m, `memory quantity ${q} in Mi or Gi`);
      return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
    };
    const { requests, limits } = daemon().resources;
    const text = readFileSync(path.join(MANIFESTS, '03-daemonset.yaml'), 'utf8');
    assert.match(text, /bench:memory/, 'the manifest says where the numbers come from');
    // bench:memory measured 1 peer and 300 peers (kube mode); the request covers the 300-peer
    // steady state, the limit leaves room above the 300-peer peak
    assert.ok(mi(requests.memory) >= 128, `request ${requests.memory}`);
    assert.ok(mi(limits.memory) > mi(requests.memory), 'limit above the request');
    assert.equal(limits.cpu, undefined, 'no CPU limit: throttling the daemon only delays repairs');
  });

  it('passes NODE_NAME from the downward API', () => {
    const env = daemon().env.find((e: Obj) => e.name === 'NODE_NAME');
    assert.equal(env.valueFrom.fieldRef.fieldPath, 'spec.nodeName');
  });

  it('mounts the host paths the daemon and the installers need', () => {
    const volumes = new Map(pod().volumes.map((v: Obj) => [v.name, v]));
    const hostPathOf = (c: Obj, mountPath: string) => {
      const m = c.volumeMounts.find((x: Obj) => x.mountPath === mountPath);
      assert.ok(m, `${c.name} mounts ${mountPath}`);
      return (volumes.get(m.name) as Obj)?.hostPath?.path;
    };
    assert.equal(hostPathOf(daemon(), '/run/flannel'), '/run/flannel');
    assert.equal(hostPathOf(daemon(), '/run/xtables.lock'), '/run/xtables.lock');
    assert.equal((volumes.get('xtables-lock') as Obj).hostPath.type, 'FileOrCreate');
    const init = new Map(pod().initContainers.map((c: Obj) => [c.name, c]));
    assert.equal(hostPathOf(init.get('install-cni-plugin'), '/host/opt/cni/bin'), '/opt/cni/bin');
    assert.equal(hostPathOf(init.get('install-cni'), '/host/etc/cni/net.d'), '/etc/cni/net.d');
    const tls = volumes.get('etcd-tls') as Obj;
    assert.equal(tls.secret.optional, true, 'the etcd TLS Secret is optional (kube mode needs none)');
  });

  it('installs the plugins before the conflist, through the atomic install script', () => {
    const init = (pod().initContainers as Obj[]).filter((c) => c.name !== 'enable-ip-forward');
    assert.deepEqual(init.map((c) => c.name), ['install-cni-plugin', 'install-portmap', 'install-loopback', 'install-cni']);
    for (const c of init) assert.equal(c.command[0], '/opt/twill/install-cni.sh', c.name);
    const last = init[init.length - 1].command;
    assert.equal(last[last.length - 1], '/host/etc/cni/net.d/10-twill.conflist');
    assert.equal(last[last.length - 2], '/etc/kube-twill/cni-conf.json');
    assert.ok(init[1].command.includes('--if-missing'), "the host's own portmap is kept");
    assert.ok(init[2].command.includes('--if-missing'), "the host's own loopback is kept");
  });

  it('uses one image for all containers, and the daemon reads the mounted net-conf.json', () => {
    const images = new Set([...pod().initContainers, ...pod().containers].map((c: Obj) => c.image));
    assert.equal(images.size, 1);
    const c = daemon();
    // as TWILLD_* variables, which twillctl in the same container reads too
    const env = (name: string) => c.env.find((e: Obj) => e.name === name)?.value;
    assert.equal(env('TWILLD_NET_CONFIG_PATH'), '/etc/kube-twill/net-conf.json');
    assert.ok(c.volumeMounts.some((m: Obj) => m.mountPath === '/etc/kube-twill' && m.name === 'twill-cfg'));
    assert.equal(env('TWILLD_KUBE_SUBNET_MGR'), 'true');
  });
});
