// Runs inside the namespace that can reach etcd (started by bench/scale.ts and bench/soak.ts through nsenter)
// and writes fake peer leases on command, one command per stdin line:
//   bulk START COUNT   -> "bulk COUNT MS"       (COUNT leases, 128 puts in flight at a time)
//   one INDEX          -> "sent SUBNET EPOCHMS EPOCHMS" (a single lease, with the times just before
//                         the put and when etcd answered it: committed, and visible to watchers)
//   put INDEX GEN      -> "put INDEX"           (peer INDEX's lease with VtepMAC generation GEN, under the bulk lease)
//   del INDEX          -> "del INDEX"           (peer INDEX leaves: its lease key is deleted)
import { createInterface } from 'node:readline';
import { connectEtcd, EtcdRegistry } from '../lib/etcd/registry.js';
import { encodeLeaseAttrs, subnetKey } from '../lib/schema/lease.js';
import { peer } from './fake-peer.js';

const [endpoint, prefix] = process.argv.slice(2);
const client = connectEtcd({ endpoints: [endpoint], callTimeoutMs: 30000 });
const registry = new EtcdRegistry(client, prefix);

async function main(): Promise<void> {
  const lease = await client.leaseClient.leaseGrant({ TTL: 7200, ID: 0 });
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
      console.log(`sent ${p.subnet} ${t0} ${Date.now()}`);
    } else if (cmd === 'put') {
      const p = peer(Number(a), Number(b));
      await client.put(subnetKey(prefix, { subnet: p.subnet })).value(encodeLeaseAttrs(p.attrs)).lease(lease.ID).exec();
      console.log(`put ${a}`);
    } else if (cmd === 'del') {
      await client.delete().key(subnetKey(prefix, { subnet: peer(Number(a)).subnet })).exec();
      console.log(`del ${a}`);
    } else if (cmd === 'quit') break;
  }
  client.close();
}

main().catch((e) => {
  console.error(`lease-writer: ${(e as Error).message}`);
  process.exit(1);
});
