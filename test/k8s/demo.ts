// `bash scripts/demo.sh --kubernetes`: the k8s suite's cluster for a person to look at. Builds
// or reuses the upstream components and images, starts the cluster, applies manifests/,
// prints `kubectl get nodes,pods -A -o wide`, the lease table and a cross-node ping, then
// waits for Ctrl-C (or exits at once with --no-wait) and removes everything. --ip-family dual:
// a dual-stack cluster (pods get both addresses; the ping goes over each).
import { K8sCluster, prepareArtifacts } from './lib/cluster.js';
import { createPods, ensureNamespace, netexecPod, TEST_NS, waitPodsReady } from './lib/pods.js';
import { TWILL_NS, waitTwillReady } from './lib/twill.js';

const say = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  const noWait = process.argv.includes('--no-wait');
  const nodes = Number(process.argv[process.argv.indexOf('--nodes') + 1]) || 2;
  const familyAt = process.argv.indexOf('--ip-family');
  const family = familyAt > 0 ? process.argv[familyAt + 1] : 'ipv4';
  if (family !== 'ipv4' && family !== 'dual') throw new Error(`--ip-family ${family}: the Kubernetes demo runs ipv4 or dual`);
  const cluster = new K8sCluster(prepareArtifacts(), nodes, true, family);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('removing the cluster ...');
    await cluster.stop();
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(0)));
  process.once('SIGTERM', () => void stop().finally(() => process.exit(0)));
  try {
    await cluster.start((s) => say(`starting ${s}`));
    say('kubectl apply -f manifests/');
    await cluster.installTwill();
    await waitTwillReady(cluster);
    await ensureNamespace(cluster);
    const [n1, n2] = cluster.nodes;
    await createPods(cluster, [netexecPod('demo-a', n1.name), netexecPod('demo-b', n2.name)]);
    const [, b] = await waitPodsReady(cluster, ['demo-a', 'demo-b']);
    say('\n$ kubectl get nodes,pods -A -o wide');
    say(await cluster.kubectl(['get', 'nodes,pods', '-A', '-o', 'wide']));
    say('$ kubectl -n kube-twill exec ds/kube-twill-ds -- twillctl leases list');
    say(await cluster.kubectl(['-n', TWILL_NS, 'exec', 'ds/kube-twill-ds', '-c', 'kube-twill', '--', 'twillctl', 'leases', 'list']));
    for (const ip of b.ips) {
      say(`$ kubectl -n ${TEST_NS} exec demo-a -- ping -c 3 ${ip}     # demo-a on ${n1.name} -> demo-b on ${n2.name}`);
      say(await cluster.kubectl(['-n', TEST_NS, 'exec', 'demo-a', '--', 'ping', '-c', '3', ip]));
    }
    say(`kubeconfig: ${cluster.cp.adminKubeconfig} (run kubectl inside: nsenter --net=/var/run/netns/${cluster.prefix}-ul)`);
    say(`logs: ${cluster.logDir}`);
    if (!noWait) {
      say('Ctrl-C removes the cluster.');
      await new Promise(() => {});
    }
  } finally {
    await stop();
  }
}

main().catch((e) => {
  process.stderr.write(`demo: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
