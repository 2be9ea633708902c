// GC (1.1.0): everything twill holds for an attachment the runtime no longer lists goes:
// its IPAM reservation and its host veth. Host veths are found two ways: from the store's
// owners, and by name on the bridge (twv + hash), which also catches veths whose
// reservation is already gone. Best effort throughout, as the spec asks.
import { CniEnv } from '../../lib/cni/env.js';
import { ErrorCode, toCniError } from '../../lib/cni/errors.js';
import { nlListLinks } from '../../lib/kernel/netlink/query.js';
import { NetConf } from '../config.js';
import { IpamStore } from '../ipam/store.js';
import { hostVethName, isHostVethName } from '../net/names.js';
import { removeHostVeths } from '../net/setup.js';

export async function cmdGc(conf: NetConf, _env: CniEnv): Promise<undefined> {
  const valid = conf.validAttachments ?? [];
  const keepVeths = new Set(valid.map((a) => hostVethName(a.containerId, a.ifname)));
  const stale = new Set<string>();
  const store = new IpamStore(conf.dataDir);
  try {
    for (const r of store.list()) {
      const veth = hostVethName(r.containerId, r.ifname);
      if (keepVeths.has(veth)) continue;
      store.release(r.ip, r);
      stale.add(veth);
    }
  } catch (e) {
    throw toCniError(e, ErrorCode.IoFailure, `collecting stale reservations in ${conf.dataDir}`);
  }
  let links: ReturnType<typeof nlListLinks> = [];
  try {
    links = nlListLinks(undefined);
  } catch {
    /* best effort: the store's owners were handled above */
  }
  const present = new Set(links.map((l) => l.ifname));
  for (const l of links) {
    if (l.master === conf.bridge && isHostVethName(l.ifname) && !keepVeths.has(l.ifname)) stale.add(l.ifname);
  }
  removeHostVeths([...stale].filter((v) => present.has(v)));
  return undefined;
}
