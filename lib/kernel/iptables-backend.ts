// Which iptables backend the host uses: the legacy x_tables or nf_tables through iptables-nft.
// A container image ships both (Debian's iptables package has iptables-legacy and iptables-nft);
// whichever the image's `iptables` alternative points to is not necessarily the host's. Both
// backends hook the same packets, so an ACCEPT written into one does not undo a FORWARD DROP
// policy set in the other: rules must go where the host's own rules (kubelet, Docker, the
// distribution's firewall) already are.
//
// The decision follows what kube-proxy's and flannel's images do (kubernetes-sigs/
// iptables-wrappers): the kubelet (1.17+) creates the KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY
// chains in the mangle table of the backend it uses, so those chains decide first; without
// them, the backend holding more rules wins. We also count a built-in chain whose policy is not
// ACCEPT as a rule: a bare `FORWARD DROP` is exactly what breaks pod traffic, and it carries
// no `-A` line. A tie (typically a host with no rules at all) picks nft, the default of every
// current distribution.
import { run } from '../exec.js';

export type IptablesBackend = 'legacy' | 'nft';
export const IPTABLES_BACKENDS: readonly IptablesBackend[] = ['legacy', 'nft'];

/** Chains the kubelet creates to tell containers which backend it uses. */
const KUBELET_HINT_CHAINS = ['KUBE-IPTABLES-HINT', 'KUBE-KUBELET-CANARY'];

export interface BackendEvidence {
  /** `-A` lines plus non-ACCEPT built-in policies, IPv4 and IPv6 together */
  rules: number;
  /** the kubelet's hint chains found (names) */
  kubeletChains: string[];
}

export interface BackendChoice {
  backend: IptablesBackend;
  /** one sentence for the log */
  reason: string;
  evidence?: Record<IptablesBackend, BackendEvidence>;
}

/** What one backend's `*-save` output (v4 and v6 concatenated) says. */
export function readEvidence(save: string): BackendEvidence {
  let rules = 0;
  const kubeletChains = new Set<string>();
  let table = '';
  for (const raw of save.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith('-A ')) rules++;
    else if (line.startsWith(':')) {
      // ":CHAIN POLICY [packets:bytes]"; user chains have "-" as policy
      const [name, policy] = line.slice(1).split(/\s+/);
      if (policy && policy !== '-' && policy !== 'ACCEPT') rules++;
      if (table === 'mangle' && KUBELET_HINT_CHAINS.includes(name)) kubeletChains.add(name);
    }
  }
  return { rules, kubeletChains: [...kubeletChains].sort() };
}

/** The decision, from both backends' evidence (pure: unit-tested without a kernel). */
export function chooseBackend(evidence: Record<IptablesBackend, BackendEvidence>): BackendChoice {
  const { legacy, nft } = evidence;
  const counts = `legacy ${legacy.rules} rules, nft ${nft.rules} rules`;
  if (nft.kubeletChains.length && !legacy.kubeletChains.length) {
    return { backend: 'nft', reason: `the kubelet's ${nft.kubeletChains.join(', ')} chain is in nft (${counts})`, evidence };
  }
  if (legacy.kubeletChains.length && !nft.kubeletChains.length) {
    return { backend: 'legacy', reason: `the kubelet's ${legacy.kubeletChains.join(', ')} chain is in legacy (${counts})`, evidence };
  }
  if (legacy.rules > nft.rules) return { backend: 'legacy', reason: `more rules in legacy (${counts})`, evidence };
  if (nft.rules > legacy.rules) return { backend: 'nft', reason: `more rules in nft (${counts})`, evidence };
  return { backend: 'nft', reason: `no backend holds more rules, nft is the default (${counts})`, evidence };
}

/** The backend's own binary for one iptables tool, e.g. `iptables-legacy-save`. */
export function iptablesCommand(backend: IptablesBackend, tool: 'iptables' | 'iptables-save' | 'iptables-restore' | 'ip6tables' | 'ip6tables-save' | 'ip6tables-restore'): string {
  const [base, rest] = tool.split('-');
  return rest ? `${base}-${backend}-${rest}` : `${base}-${backend}`;
}

export type SaveRunner = (command: string) => Promise<string>;

/** A missing ip6tables, or a backend the kernel lacks, counts as no rules rather than an error. */
const runSave: SaveRunner = (command) => run(command, [], { timeoutMs: 5000 }).catch(() => '');

/**
 * Looks at the host (the caller's network namespace) and picks the backend. `override` (an
 * explicit flag) skips the look.
 */
export async function detectIptablesBackend(override?: IptablesBackend, save: SaveRunner = runSave): Promise<BackendChoice> {
  if (override) return { backend: override, reason: 'set explicitly (--iptables-backend)' };
  const evidence = {} as Record<IptablesBackend, BackendEvidence>;
  for (const b of IPTABLES_BACKENDS) {
    const texts = await Promise.all([save(iptablesCommand(b, 'iptables-save')), save(iptablesCommand(b, 'ip6tables-save'))]);
    evidence[b] = readEvidence(texts.join('\n'));
  }
  return chooseBackend(evidence);
}
