// Config write with compare-and-swap that also reports the new revision (the shared
// registry's putConfig answers only yes/no, and `config set` prints the revision it wrote).
import type { EtcdRegistry } from '../daemon/subnet/etcd-registry.js';
import { configKey } from '../lib/schema/lease.js';

export type CasOutcome = { ok: true; modRevision: string } | { ok: false; currentModRevision: string | null };

/** Writes `raw` only if the config is still at `expectModRevision` ('0': must not exist yet). */
export async function putConfigIfUnchanged(r: EtcdRegistry, raw: string, expectModRevision: string): Promise<CasOutcome> {
  const key = configKey(r.prefix);
  const res = await r.client
    .if(key, 'Mod', '==', expectModRevision === '0' ? 0 : expectModRevision)
    .then(r.client.put(key).value(raw))
    .else(r.client.get(key))
    .commit();
  if (res.succeeded) return { ok: true, modRevision: res.header.revision };
  const kv = res.responses[0]?.response_range?.kvs[0];
  return { ok: false, currentModRevision: kv ? kv.mod_revision : null };
}
