// Subnet managers by name. main.ts picks one (`--kube-subnet-mgr` selects `kube`); a manager
// is added by putting a factory in this map, never by an import side effect.
import type { Logger } from '../log.js';
import type { DaemonOptions } from '../options.js';
import { EtcdSubnetManager } from './etcd-manager.js';
import { connectEtcd, EtcdRegistry } from '../../lib/etcd/registry.js';
import type { SubnetManager } from './manager.js';

export interface SubnetManagerContext {
  options: DaemonOptions;
  log: Logger;
  onWatchResync?: (why: string) => void;
  onNetworkFull?: () => void;
}

export type SubnetManagerFactory = (ctx: SubnetManagerContext) => SubnetManager | Promise<SubnetManager>;

export const subnetManagers: Partial<Record<'etcd' | 'kube', SubnetManagerFactory>> = {
  etcd: ({ options, log, onWatchResync, onNetworkFull }) => {
    const client = connectEtcd({
      endpoints: options.etcdEndpoints,
      caFile: options.etcdCaFile,
      certFile: options.etcdCertFile,
      keyFile: options.etcdKeyFile,
    });
    return new EtcdSubnetManager(new EtcdRegistry(client, options.etcdPrefix), { log, onWatchResync, onNetworkFull });
  },
  // [kube] --kube-subnet-mgr: subnets from Node objects (daemon/subnet/kube-manager.ts)
  // (loaded on use: the Kubernetes client is big and etcd-only nodes never need it)
  kube: async ({ options, log }) => (await import('./kube-manager.js')).createKubeSubnetManager(options, log),
};

export async function createSubnetManager(kind: 'etcd' | 'kube', ctx: SubnetManagerContext): Promise<SubnetManager> {
  const factory = subnetManagers[kind];
  if (!factory) {
    throw new Error(`subnet manager "${kind}" is not available in this build `
      + `(known: ${Object.keys(subnetManagers).join(', ')})`);
  }
  return factory(ctx);
}
