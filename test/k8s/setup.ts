// Mocha global fixture of the k8s suite (npm run test:k8s): builds or finds the upstream
// components and images, starts one cluster for every test file (dual stack with
// TWILL_K8S_IP_FAMILY=dual, as npm run test:k8s:dual sets it), applies manifests/, and
// tears the cluster down at the end, also when set-up fails or the run is interrupted.
import { K8sCluster, prepareArtifacts } from './lib/cluster.js';
import type { ClusterIpFamily } from './lib/control-plane.js';

let cluster: K8sCluster | undefined;

export function theCluster(): K8sCluster {
  if (!cluster) throw new Error('the k8s cluster is not running (mochaGlobalSetup failed?)');
  return cluster;
}

/** The family of this run's cluster (TWILL_K8S_IP_FAMILY), known before the cluster starts. */
export function theFamily(): ClusterIpFamily {
  const family = process.env.TWILL_K8S_IP_FAMILY ?? 'ipv4';
  if (family !== 'ipv4' && family !== 'dual') throw new Error(`TWILL_K8S_IP_FAMILY=${family}: ipv4 or dual`);
  return family;
}

const say = (s: string) => process.stderr.write(`[k8s] ${s}\n`);

export async function mochaGlobalSetup(): Promise<void> {
  const started = Date.now();
  const artifacts = prepareArtifacts();
  say(`artifacts ready (${Math.round((Date.now() - started) / 1000)} s): ${artifacts.twillImage}`);
  cluster = new K8sCluster(artifacts, Number(process.env.TWILL_K8S_NODES ?? 2), true, theFamily());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      say(`${sig}: removing the cluster`);
      void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  try {
    await cluster.start((s) => say(`starting ${s} (${Math.round((Date.now() - started) / 1000)} s)`));
    await cluster.installTwill();
    say(`cluster ${cluster.prefix} up, twill applied (${Math.round((Date.now() - started) / 1000)} s); logs in ${cluster.logDir}`);
  } catch (e) {
    say(`set-up failed; logs were in ${cluster.logDir}`);
    if (process.env.TWILL_K8S_KEEP_LOGS) await copyLogs(cluster);
    await cluster.stop();
    cluster = undefined;
    throw e;
  }
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (!cluster) return;
  if (process.env.TWILL_K8S_KEEP_LOGS) await copyLogs(cluster);
  const c = cluster;
  await c.stop();
  cluster = undefined;
  const left = c.leftovers();
  if (left.length) throw new Error(`the cluster left things behind:\n  ${left.join('\n  ')}`);
  say('cluster removed, nothing left behind');
}

async function copyLogs(c: K8sCluster): Promise<void> {
  const { cpSync } = await import('node:fs');
  const to = `${process.env.TWILL_K8S_KEEP_LOGS}/${c.prefix}`;
  cpSync(c.logDir, to, { recursive: true });
  say(`logs copied to ${to}`);
}
