// STATUS (1.1.0): could an ADD succeed right now? It can't without a subnet file, or when
// every pod address of one of the node's subnets is taken (a dual-stack ADD needs one of
// each family); both answer code 50 with the reason.
import { CniEnv } from '../../lib/cni/env.js';
import { CniError, ErrorCode } from '../../lib/cni/errors.js';
import { NetConf } from '../config.js';
import { usableCount } from '../ipam/allocator.js';
import { IpamStore } from '../ipam/store.js';
import { loadNodeSubnet, NodeSubnet } from '../subnet.js';

export async function cmdStatus(conf: NetConf, _env: CniEnv): Promise<undefined> {
  let node: NodeSubnet;
  try {
    node = loadNodeSubnet(conf.subnetFile);
  } catch (e) {
    throw new CniError(ErrorCode.PluginNotAvailable, `not ready: ${(e as Error).message}`, (e as CniError).details ?? '');
  }
  const store = new IpamStore(conf.dataDir);
  for (const f of node.families) {
    const used = BigInt(store.countIn(f.subnet));
    const usable = usableCount({ subnet: f.subnet, gateway: f.gateway });
    if (used >= usable) {
      throw new CniError(ErrorCode.PluginNotAvailable, `not ready: all ${usable} pod addresses of ${f.subnet} are allocated`, `dataDir ${conf.dataDir}`);
    }
  }
  return undefined;
}
