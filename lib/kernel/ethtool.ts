// Read-only access to a device's offload features (ethtool -k). twillctl doctor uses it to
// spot tx checksum offload on the VXLAN device: with some kernels and NAT paths it produces
// bad checksums on encapsulated packets, which is why flannel turns it off.
import { NetnsPath, runIn } from './ns.js';

export interface Feature {
  active: boolean;
  /** true when the driver does not allow changing it */
  fixed: boolean;
}

/** Feature name -> state, e.g. "tx-checksum-ip-generic" -> {active: true, fixed: false}. */
export async function readFeatures(netns: NetnsPath, dev: string): Promise<Map<string, Feature>> {
  try {
    const out = await runIn(netns, 'ethtool', ['--json', '-k', dev]);
    return fromJson(out);
  } catch (e) {
    // Old ethtool builds have no --json; their text form carries the same facts.
    if (!/json|unrecognized|invalid option/i.test((e as Error).message)) throw e;
    return fromText(await runIn(netns, 'ethtool', ['-k', dev]));
  }
}

function fromJson(text: string): Map<string, Feature> {
  const [dev] = JSON.parse(text) as Record<string, unknown>[];
  const out = new Map<string, Feature>();
  for (const [k, v] of Object.entries(dev ?? {})) {
    if (typeof v !== 'object' || v === null || !('active' in v)) continue;
    const f = v as { active: unknown; fixed: unknown };
    out.set(k, { active: f.active === true, fixed: f.fixed === true });
  }
  return out;
}

/** "tx-checksum-ip-generic: on [fixed]" lines. */
export function fromText(text: string): Map<string, Feature> {
  const out = new Map<string, Feature>();
  for (const line of text.split('\n')) {
    const m = /^\s*([\w-]+):\s+(on|off)(\s+\[fixed\])?/.exec(line);
    if (m) out.set(m[1], { active: m[2] === 'on', fixed: !!m[3] });
  }
  return out;
}
