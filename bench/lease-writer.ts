// Runs inside the namespace that can reach etcd (started by bench/scale.ts through nsenter)
// and writes fake peer leases on command, one command per stdin line:
//   bulk START COUNT   -> "bulk COUNT MS"       (COUNT leases, 128 puts in flight at a time)
//   one INDEX          -> "sent SUBNET EPOCHMS" (a single lease, with the time just before the put)
import { createInterface } from 'node:readline';
import { connectEtcd, EtcdRegistry } from '../lib/etcd/registry.js';
import { encodeLeaseAttrs, LeaseAttrs, subnetKey } from '../lib/schema/lease.js';
import { Cidr, Ip } from '../lib/ip/cidr.js';
import { Mac } from '../lib/ip/mac.js';

const [endpoint, prefix] = process.argv.slice(2);
const client = connectEtcd({ endpoints: [endpoint], callTimeoutMs: 30000 });
const registry = new EtcdRegistry(client, prefix);

/** Peer i: subnet 10.<i/256>.<i%256>.0/24, public IP in 198.19/16 (never contacted), unique MAC. */
export function peer(i: number) {
  const subnet = Cidr.parse(`10.${(i >> 8) & 255}.${i & 255}.0/24`);
  const attrs: LeaseAttrs = {
    PublicIP: Ip.parse(`198.19.${(i >> 8) & 255}.${i & 255}`),
    BackendType: 'vxlan',
    BackendData: { VNI: 1, VtepMAC: Mac.parse(`0e:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`) },
  };
  return { subnet, attrs };
}

async function main(): Promise<void> {
  const lease = await client.leaseClient.leaseGrant({ TTL: 3600, ID: 0 });
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [cmd, a, b] = line.trim().split(/\s+/);
    if (cmd === 'bulk') {
      const start = Number(a);
      const count = Number(b);
      const t0 = Date.now();
      for (let i = start; i < start + count; i += 128) {
        const puts = [];
        for (let j = i; j < Math.min(start + count, i + 128); j++) {
          const p = peer(j);
          puts.push(client.put(subnetKey(prefix, { subnet: p.subnet })).value(encodeLeaseAttrs(p.attrs)).lease(lease.ID).exec());
        }
        await Promise.all(puts);
      }
      console.log(`bulk ${count} ${Date.now() - t0}`);
    } else if (cmd === 'one') {
      const p = peer(Number(a));
      const t0 = Date.now();
      await registry.createLease({ subnet: p.subnet }, p.attrs, 3600);
      console.log(`sent ${p.subnet} ${t0}`);
    } else if (cmd === 'quit') break;
  }
  client.close();
}

main().catch((e) => {
  console.error(`lease-writer: ${(e as Error).message}`);
  process.exit(1);
});
