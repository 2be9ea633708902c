// The desired masquerade rules (--ip-masq, FLANNEL_IPMASQ), pure: twilld's chains and their
// rules per family in iptables-save's spelling, the jumps from the built-in chains, and the
// restore script that makes a table right. daemon/masquerade.ts applies them; twillctl doctor
// checks the same chains and jumps, so the two cannot disagree on names.
// Pod traffic leaving the cluster Network is masqueraded to the node's address; traffic
// between pods (any node) is not. Forwarding of the cluster Network is accepted, for hosts
// whose FORWARD policy is DROP. Same chains and rules as flannel, under twill's names. The
// chains are declared (so flushed and refilled) in one atomic commit, and the jumps from the
// built-in chains are only added when missing, so repeated runs change nothing.
import type { Cidr } from '../ip/cidr.js';

export const NAT_CHAIN = 'TWILL-POSTRTG';
export const FILTER_CHAIN = 'TWILL-FWD';
const COMMENT = 'twill';

export interface MasqueradeSpec {
  network: Cidr;
  podSubnet: Cidr;
}

/** The rules of our two chains, in iptables-save's spelling (so they compare as text). */
export function masqueradeRules({ network, podSubnet }: MasqueradeSpec): { nat: string[]; filter: string[] } {
  const n = String(network);
  const s = String(podSubnet);
  return {
    nat: [
      // kube-proxy marks traffic it has already masqueraded
      `-A ${NAT_CHAIN} -m mark --mark 0x4000/0x4000 -m comment --comment "${COMMENT}: kube-proxy masqueraded" -j RETURN`,
      `-A ${NAT_CHAIN} -s ${s} -d ${n} -m comment --comment "${COMMENT}: pod to pod" -j RETURN`,
      `-A ${NAT_CHAIN} -s ${n} -d ${s} -m comment --comment "${COMMENT}: pod on another node to local pod" -j RETURN`,
      `-A ${NAT_CHAIN} ! -s ${n} -d ${s} -m comment --comment "${COMMENT}: outside to local pod" -j RETURN`,
      `-A ${NAT_CHAIN} -s ${n} ! -d ${network.family === 4 ? '224.0.0.0/4' : 'ff00::/8'} -m comment --comment "${COMMENT}: pod to outside" -j MASQUERADE --random-fully`,
      `-A ${NAT_CHAIN} ! -s ${n} -d ${n} -m comment --comment "${COMMENT}: host to pods" -j MASQUERADE --random-fully`,
    ],
    filter: [
      `-A ${FILTER_CHAIN} -s ${n} -m comment --comment "${COMMENT}: cluster network" -j ACCEPT`,
      `-A ${FILTER_CHAIN} -d ${n} -m comment --comment "${COMMENT}: cluster network" -j ACCEPT`,
    ],
  };
}

/** Each table's chain and the built-in chain that jumps to it. */
export const MASQ_CHAINS = { nat: { chain: NAT_CHAIN, from: 'POSTROUTING' }, filter: { chain: FILTER_CHAIN, from: 'FORWARD' } } as const;

const NAT_JUMP = `-A POSTROUTING -m comment --comment "${COMMENT}: masquerade" -j ${NAT_CHAIN}`;
const FILTER_JUMP = `-A FORWARD -m comment --comment "${COMMENT}: forward" -j ${FILTER_CHAIN}`;

/** Lines of one table in `iptables-save` output. */
function tableLines(save: string, table: string): string[] {
  const out: string[] = [];
  let inTable = false;
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) inTable = line === `*${table}`;
    else if (inTable && line.startsWith('-A ')) out.push(line.trim());
  }
  return out;
}

/** The restore script that makes the tables right, or undefined when they already are. */
export function planMasquerade(save: string, spec: MasqueradeSpec): string | undefined {
  const want = masqueradeRules(spec);
  const script: string[] = [];
  for (const [table, chain, jump, builtin, rules] of [
    ['nat', NAT_CHAIN, NAT_JUMP, 'POSTROUTING', want.nat],
    ['filter', FILTER_CHAIN, FILTER_JUMP, 'FORWARD', want.filter],
  ] as const) {
    const have = tableLines(save, table);
    const chainHave = have.filter((l) => l.startsWith(`-A ${chain} `));
    const jumpOk = have.includes(jump);
    const chainOk = chainHave.length === rules.length && chainHave.every((l, i) => l === rules[i]);
    if (jumpOk && chainOk) continue;
    script.push(`*${table}`, `:${chain} - [0:0]`, ...rules);
    // the jump goes first in the built-in chain, so a later REJECT/DROP rule cannot hide it
    if (!jumpOk) script.push(jump.replace(`-A ${builtin}`, `-I ${builtin} 1`));
    script.push('COMMIT');
  }
  return script.length ? script.join('\n') + '\n' : undefined;
}
