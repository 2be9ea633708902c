// STATUS (1.1.0): could an ADD succeed right now? It can't without a subnet file, or when
// every pod address of the subnet is taken; both answer code 50 with the reason.
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
  const used = BigInt(new IpamStore(conf.dataDir).count());
  const usable = usableCount({ subnet: node.subnet, gateway: node.gateway });
  if (used >= usable) {
    throw new CniError(ErrorCode.PluginNotAvailable, `not ready: all ${usable} pod addresses of ${node.subnet} are allocated`, `dataDir ${conf.dataDir}`);
  }
  return undefined;
}
