// Read-only listing of iptables rules (`iptables -S`), for diagnosis. Programs that change
// rules have their own module; this one never writes.
import { IptablesBackend, iptablesCommand } from './iptables-backend.js';
import { NetnsPath, runIn } from './ns.js';

export interface ChainRules {
  /** chains that exist in the table (built-in and user-defined) */
  chains: Set<string>;
  /** "-A CHAIN ..." lines, without the "-A " */
  rules: string[];
}

/** `backend` names the iptables backend to read (see iptables-backend.ts); default: the `iptables` on PATH. */
export async function listIptables(netns: NetnsPath, table: 'nat' | 'filter' | 'mangle', family: 4 | 6 = 4, backend?: IptablesBackend): Promise<ChainRules> {
  const tool = family === 4 ? 'iptables' : 'ip6tables';
  const out = await runIn(netns, backend ? iptablesCommand(backend, tool) : tool, ['-w', '5', '-t', table, '-S']);
  const chains = new Set<string>();
  const rules: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^-(P|N|A) (\S+)(.*)$/.exec(line.trim());
    if (!m) continue;
    chains.add(m[2]);
    if (m[1] === 'A') rules.push(`${m[2]}${m[3]}`);
  }
  return { chains, rules };
}

/** Whether `chain` has a rule jumping to `target`. */
export function jumpsTo(t: ChainRules, chain: string, target: string): boolean {
  return t.rules.some((r) => r.startsWith(`${chain} `) && new RegExp(`(^| )-j ${target}( |$)`).test(r));
}
