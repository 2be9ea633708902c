// Node-wide checks: subnet.env agrees with the lease and the overlay MTU, the kernel forwards
// packets, and masquerading is in place when subnet.env says it should be.
import { MASQ_CHAINS } from '../../lib/dataplane/masquerade.js';
import { jumpsTo } from '../../lib/kernel/iptables-list.js';
import { DoctorInput, expectedOverlayMtu } from './context.js';
import { Findings } from './findings.js';

const RESTART = 'restart twilld on this node (it rewrites this state) and check its log';

export function checkSubnetEnv(i: DoctorInput, f: Findings): void {
  const file = i.subnetFile;
  if (i.subnetEnvError !== undefined || !i.subnetEnv) {
    f.error('subnet-env', file, i.subnetEnvError ?? 'missing', `${RESTART}; the CNI plugin cannot add pods without it`);
    return;
  }
  const env = i.subnetEnv;
  const wantGw = `${i.own.subnet.nth(1)}/${i.own.subnet.prefix}`;
  if (i.subnetEnvGateway !== wantGw) {
    f.error('subnet-env', file, `FLANNEL_SUBNET=${i.subnetEnvGateway ?? ''} but this node's lease is ${i.own.subnet} (expected ${wantGw})`,
      `${RESTART}; pods started since then have addresses another node owns — recreate them`);
  }
  if (env.network && !env.network.equals(i.config.Network)) {
    f.error('subnet-env', file, `FLANNEL_NETWORK=${env.network} but the network config says ${i.config.Network}`, RESTART);
  }
  const mtu = expectedOverlayMtu(i);
  if (mtu !== undefined && env.mtu !== mtu) {
    f.error('mtu', file, `FLANNEL_MTU=${env.mtu} but the overlay carries ${mtu} (${i.config.Backend.Type}${i.iface ? ` over ${i.iface.ifname} mtu ${i.iface.mtu}` : ''}); large packets will be dropped`,
      `${RESTART}, then recreate pods so their interfaces get the new MTU`);
  }
}

export function checkIpForward(i: DoctorInput, f: Findings): void {
  if (i.state.ipForward !== '1') {
    f.error('ip-forward', 'net.ipv4.ip_forward', `is ${i.state.ipForward ?? 'unreadable'}: this node drops traffic between pods and the overlay`,
      'sysctl -w net.ipv4.ip_forward=1 (and persist it in /etc/sysctl.d/)');
  }
}

export function checkMasquerade(i: DoctorInput, f: Findings): void {
  if (!i.subnetEnv?.ipMasq) return;
  const ipt = i.state.iptables;
  if (!ipt) return;
  if ('error' in ipt) {
    f.warning('masquerade', 'iptables', `cannot read rules: ${ipt.error}`, 'run doctor as root with iptables installed');
    return;
  }
  for (const table of ['nat', 'filter'] as const) {
    const { chain, from } = MASQ_CHAINS[table];
    const rules = ipt[table];
    if (!rules.chains.has(chain)) {
      f.error('masquerade', `${table}/${chain}`, `chain ${chain} is missing from table ${table} (FLANNEL_IPMASQ=true)`,
        `${RESTART}; until then ${table === 'nat' ? 'pod traffic to outside the network is not masqueraded' : 'forwarded pod traffic may be dropped'}`);
    } else if (!jumpsTo(rules, from, chain)) {
      f.error('masquerade', `${table}/${from}`, `${from} does not jump to ${chain}`, `iptables -t ${table} -A ${from} -j ${chain} (or ${RESTART})`);
    }
  }
}
