// The main job: a local twill cluster on this one machine. An underlay bridge in its own
// namespace carries etcd; three node namespaces each run twilld; pods are attached through
// the twill plugin binary; then the lease table, a cross-node ping matrix and pod-to-pod
// throughput are printed. Everything is removed on exit or Ctrl-C unless --keep is given.
import { run } from '../lib/exec.js';
import { TWILLCTL_BIN } from '../harness/cni.js';
import { Cluster, IpFamily, Pod } from '../harness/cluster.js';
import { World } from '../harness/world.js';

interface DemoOptions {
  nodes: number;
  podsPerNode: number;
  /** userspace-vxlan: the vxlan backend with every node's dataplane in userspace (twilld --vxlan-userspace) */
  backend: 'vxlan' | 'host-gw' | 'userspace-vxlan';
  ipFamily: IpFamily;
  keep: boolean;
}

function parseArgs(argv: string[]): DemoOptions {
  const o: DemoOptions = { nodes: 3, podsPerNode: 2, backend: 'vxlan', ipFamily: 'ipv4', keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--keep') o.keep = true;
    else if (a === '--nodes') o.nodes = Number(next());
    else if (a === '--pods-per-node') o.podsPerNode = Number(next());
    else if (a === '--backend') o.backend = next() as DemoOptions['backend'];
    else if (a === '--ip-family') o.ipFamily = next() as IpFamily;
    else if (a === '--help' || a === '-h') {
      console.log('usage: demo [--nodes N (3)] [--pods-per-node N (2)] [--backend vxlan|host-gw|userspace-vxlan] [--ip-family ipv4|dual|ipv6] [--keep]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(o.nodes) || o.nodes < 2 || o.nodes > 20) throw new Error('--nodes must be 2..20');
  if (!Number.isInteger(o.podsPerNode) || o.podsPerNode < 1 || o.podsPerNode > 10) throw new Error('--pods-per-node must be 1..10');
  if (!['vxlan', 'host-gw', 'userspace-vxlan'].includes(o.backend)) throw new Error('--backend must be vxlan, host-gw or userspace-vxlan');
  if (!['ipv4', 'dual', 'ipv6'].includes(o.ipFamily)) throw new Error('--ip-family must be ipv4, dual or ipv6');
  if (o.backend === 'userspace-vxlan' && o.ipFamily !== 'ipv4') throw new Error('--backend userspace-vxlan is IPv4 only');
  return o;
}

function step(msg: string): void {
  console.log(`\n== ${msg}`);
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const world = new World('demo');
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    console.log('\n== removing the demo cluster (namespaces, processes, files)');
    await world.cleanup();
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)));

  try {
    const userspace = opts.backend === 'userspace-vxlan';
    const cluster = new Cluster(world, {
      nodes: opts.nodes, backend: userspace ? 'vxlan' : (opts.backend as 'vxlan' | 'host-gw'), ipMasq: true, ipFamily: opts.ipFamily,
      daemonFlags: userspace ? ['--vxlan-userspace'] : [],
    });
    step(`underlay bridge, etcd and ${opts.nodes} node namespaces (prefix ${world.prefix})`);
    await cluster.create();
    console.log(`etcd at ${cluster.etcdEndpoint} in namespace ${cluster.ul.ns}; network config:`);
    console.log('  ' + JSON.stringify(cluster.netConfig()));

    step('starting twilld on every node');
    let t = Date.now();
    await cluster.startDaemons();
    console.log(`all ${opts.nodes} nodes leased a subnet and wrote subnet.env in ${Date.now() - t} ms`);

    step('lease table (twillctl leases list)');
    console.log(await leaseTable(cluster));

    step(`starting ${opts.podsPerNode} pods per node through the twill CNI plugin`);
    t = Date.now();
    for (const node of cluster.nodes) {
      for (let p = 1; p <= opts.podsPerNode; p++) await cluster.addPod(node, `n${node.index}p${p}`);
    }
    const podRows = [['pod', 'node', 'node subnet', 'pod IP']];
    for (const p of cluster.pods) podRows.push([p.name, p.node.ns, cluster.nodeSubnet(p.node), [p.ip, p.ip6].filter((x, i, a) => x && a.indexOf(x) === i).join(' ')]);
    console.log(table(podRows));
    console.log(`${cluster.pods.length} pods attached in ${Date.now() - t} ms`);

    const pods = cluster.pods;
    // the address of a pod in each family the cluster has
    const families: { label: string; addr: (p: Pod) => string }[] = [
      ...(opts.ipFamily !== 'ipv6' ? [{ label: 'IPv4', addr: (p: Pod) => p.ip }] : []),
      ...(opts.ipFamily !== 'ipv4' ? [{ label: 'IPv6', addr: (p: Pod) => p.ip6! }] : []),
    ];
    let failures = 0;
    for (const fam of families) {
      step(`${fam.label} ping matrix (average RTT in ms over 3 pings; "--" = unreachable)`);
      const rows = [['from \\ to', ...pods.map((p) => p.name)]];
      for (const from of pods) {
        const row = [from.name];
        for (const to of pods) {
          if (from === to) {
            row.push('.');
            continue;
          }
          const rtt = await cluster.ping(from, fam.addr(to));
          if (rtt === undefined) failures++;
          row.push(rtt === undefined ? '--' : rtt.toFixed(3));
        }
        rows.push(row);
      }
      console.log(table(rows));
    }

    const first = (n: number): Pod => pods.find((p) => p.node.index === n)!;
    for (const fam of families) {
      step(`pod-to-pod TCP throughput across nodes over ${fam.label} (iperf3, 3 s)`);
      for (let n = 2; n <= opts.nodes; n++) {
        const gbps = await cluster.iperf(first(1).ns, first(n).ns, fam.addr(first(n)));
        console.log(`${first(1).name} (node 1) -> ${first(n).name} (node ${n}): ${gbps.toFixed(2)} Gbit/s`);
      }
    }

    if (failures) throw new Error(`${failures} pod pairs could not reach each other`);
    console.log(`\nall ${pods.length * (pods.length - 1)} pod pairs reach each other across ${opts.nodes} nodes over ${opts.backend} (${families.map((f) => f.label).join(' and ')})`);

    if (opts.keep) {
      console.log(`\n--keep: the cluster stays up. Namespaces: ip netns list | grep ${world.prefix}`);
      console.log(`Run a command in a pod:  ip netns exec ${pods[0].ns} ping ${pods[pods.length - 1].ip}`);
      console.log('Press Ctrl-C to remove everything.');
      await new Promise(() => {});
    }
  } finally {
    if (!opts.keep) await cleanup();
  }
}

async function leaseTable(cluster: Cluster): Promise<string> {
  // twillctl runs where etcd is reachable: the underlay namespace.
  try {
    return await run('nsenter', [`--net=/var/run/netns/${cluster.ul.ns}`, '--', TWILLCTL_BIN, 'leases', 'list',
      '--etcd-endpoints', cluster.etcdEndpoint]);
  } catch (e) {
    // Fall back to the raw keys when the CLI is not there.
    return (await cluster.etcd.ctl(['get', '--prefix', '/coreos.com/network/subnets/'])) + `\n(twillctl: ${(e as Error).message.split('\n')[0]})`;
  }
}

main().catch((e) => {
  console.error(`demo failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
