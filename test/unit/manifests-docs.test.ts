// The README's Kubernetes section against the files it describes: the daemon accepts the DaemonSet's flags
// and the documented etcd-mode flags, and every name the deploy steps use (files, image,
// namespace, DaemonSet, Secret, mount paths) exists in manifests/.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { parseOptions } from '../../daemon/options.js';
import { REPO_ROOT } from '../../harness/cni.js';
import { readmeSection } from '../helpers/readme.js';

type Obj = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const docs = readmeSection('Running twill on Kubernetes');
const files = readdirSync(path.join(REPO_ROOT, 'manifests')).sort();
const objects = files.flatMap((f) => loadAll(readFileSync(path.join(REPO_ROOT, 'manifests', f), 'utf8')) as Obj[]).filter(Boolean);
const ds = objects.find((o) => o.kind === 'DaemonSet');
const daemon = ds.spec.template.spec.containers[0];
/** Parses twilld's options as the container would: TWILLD_* are read from process.env (yargs). */
function parseInContainer(args: string[], env: Record<string, string>) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return parseOptions(args, env);
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/** The container's literal environment, plus what the downward API would give NODE_NAME. */
const daemonEnv: Record<string, string> = {
  ...Object.fromEntries((daemon.env as Obj[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value])),
  NODE_NAME: 'node-1',
};

describe("the README's Kubernetes section and the manifests", () => {
  it("the daemon accepts the DaemonSet's arguments", () => {
    const o = parseInContainer(daemon.args, daemonEnv);
    assert.equal(o.kubeSubnetMgr, true);
    assert.equal(o.ipMasq, true);
    assert.equal(o.healthzPort, daemon.readinessProbe.httpGet.port);
    assert.equal((o as unknown as { netConfigPath: string }).netConfigPath, '/etc/kube-twill/net-conf.json');
  });

  it('the daemon accepts the documented etcd-mode arguments, with files where the Secret is mounted', () => {
    const etcdArgs = [...docs.matchAll(/^\s+- (--etcd-[a-z]+=\S+)$/gm)].map((m) => m[1]);
    assert.ok(etcdArgs.length >= 4, 'etcd flags documented');
    // as the steps say: TWILLD_KUBE_SUBNET_MGR set to "false", the etcd flags added
    assert.match(docs, /set the daemon's `TWILLD_KUBE_SUBNET_MGR` to `"false"`/);
    const o = parseInContainer([...daemon.args, ...etcdArgs], { ...daemonEnv, TWILLD_KUBE_SUBNET_MGR: 'false' });
    assert.equal(o.kubeSubnetMgr, false);
    const mount = daemon.volumeMounts.find((m: Obj) => m.name === 'etcd-tls').mountPath;
    for (const f of [o.etcdCaFile, o.etcdCertFile, o.etcdKeyFile]) assert.ok(f?.startsWith(`${mount}/`), `${f} under ${mount}`);
    const secret = ds.spec.template.spec.volumes.find((v: Obj) => v.name === 'etcd-tls').secret.secretName;
    assert.match(docs, new RegExp(`create secret generic ${secret}`));
  });

  it('names every manifest file, the placeholder image and the objects the steps use', () => {
    for (const f of files) assert.ok(docs.includes(f), f);
    assert.ok(docs.includes(daemon.image), `image ${daemon.image}`);
    assert.ok(docs.includes(`ds/${ds.metadata.name}`));
    assert.ok(docs.includes(`-n ${ds.metadata.namespace}`));
    const cm = objects.find((o) => o.kind === 'ConfigMap');
    assert.ok(docs.includes(cm.metadata.name));
    assert.ok(docs.includes(JSON.parse(cm.data['net-conf.json']).Network), 'the pod network CIDR for kubeadm init');
    assert.match(docs, /kubectl apply -f manifests\//);
  });
});
