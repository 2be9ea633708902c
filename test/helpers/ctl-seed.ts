// Seeds a real etcd the way flannel nodes leave it, through etcdctl rather than twill's own
// registry, so the CLI is checked against the wire layout and not against itself.
import type { EtcdServer } from '../../harness/etcd.js';

export const PREFIX = '/coreos.com/network';

export interface SeedLease {
  subnet: string; // 10.244.3.0/24
  publicIP: string;
  backendType?: string;
  vtepMAC?: string;
  vni?: number;
  /** seconds; undefined = reservation (no etcd lease) */
  ttl?: number;
}

export function leaseKey(prefix: string, subnet: string): string {
  return `${prefix}/subnets/${subnet.replace('/', '-')}`;
}

export function leaseValue(l: SeedLease): string {
  const type = l.backendType ?? 'vxlan';
  return JSON.stringify({
    PublicIP: l.publicIP,
    BackendType: type,
    BackendData: l.vtepMAC ? { VNI: l.vni ?? 1, VtepMAC: l.vtepMAC } : null,
  });
}

/** Puts the lease; returns the etcd lease id in hex as etcdctl prints it (null: reservation). */
export async function seedLease(etcd: EtcdServer, prefix: string, l: SeedLease): Promise<string | null> {
  let id: string | null = null;
  if (l.ttl !== undefined) {
    const out = await etcd.ctl(['lease', 'grant', String(l.ttl)]);
    const m = /lease ([0-9a-f]+) granted/.exec(out);
    if (!m) throw new Error(`unexpected etcdctl output: ${out}`);
    id = m[1];
  }
  await etcd.ctl(['put', leaseKey(prefix, l.subnet), leaseValue(l), ...(id ? [`--lease=${id}`] : [])]);
  return id;
}

export async function putConfig(etcd: EtcdServer, prefix: string, config: object | string): Promise<void> {
  await etcd.ctl(['put', `${prefix}/config`, typeof config === 'string' ? config : JSON.stringify(config)]);
}

/** The stored key as etcdctl sees it: value, lease id (hex, null if none), mod revision. */
export async function getKey(etcd: EtcdServer, key: string): Promise<{ value: string; lease: string | null; modRevision: string } | undefined> {
  const text = await etcd.ctl(['get', key, '-w', 'json']);
  const out = JSON.parse(text) as { kvs?: { value: string; mod_revision: number }[] };
  const kv = out.kvs?.[0];
  if (!kv) return undefined;
  // lease ids are int64: JSON.parse would round them, so read the digits from the text
  const lease = /"lease":(\d+)/.exec(text)?.[1];
  return {
    value: Buffer.from(kv.value, 'base64').toString(),
    lease: lease && lease !== '0' ? BigInt(lease).toString(16).padStart(16, '0') : null, // etcdctl's %016x
    modRevision: String(kv.mod_revision),
  };
}

export async function currentRevision(etcd: EtcdServer): Promise<string> {
  const out = JSON.parse(await etcd.ctl(['get', '/', '-w', 'json'])) as { header: { revision: number } };
  return String(out.header.revision);
}
