// DEL: release the address and remove the veth pair. Idempotent by construction: both steps
// look things up by (container ID, ifname) and treat "already gone" as done, so DEL works
// after the namespace is gone, for a pod that was never added, and when repeated. It needs
// neither the subnet file nor the pod namespace.
import { CniEnv } from '../../lib/cni/env.js';
import { ErrorCode, toCniError } from '../../lib/cni/errors.js';
import { NetConf } from '../config.js';
import { IpamStore } from '../ipam/store.js';
import { hostVethName } from '../net/names.js';
import { removeHostVeths } from '../net/setup.js';
import { checkDelNetns } from '../netns.js';

export async function cmdDel(conf: NetConf, env: CniEnv): Promise<undefined> {
  checkDelNetns(env.netns);
  const owner = { containerId: env.containerId!, ifname: env.ifname! };
  // Veth first: once the address is free another pod may get it, and it should not meet a
  // half-torn-down interface still answering for it.
  removeHostVeths([hostVethName(owner.containerId, owner.ifname)]);
  try {
    new IpamStore(conf.dataDir).releaseByOwner(owner);
  } catch (e) {
    throw toCniError(e, ErrorCode.IoFailure, `releasing the address of ${owner.containerId} in ${conf.dataDir}`);
  }
  return undefined;
}
