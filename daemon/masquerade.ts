// --ip-masq: twilld's masquerade rules (lib/dataplane/masquerade.ts) put in place. Rules go
// in with one `iptables-restore -w --noflush` per check that found a difference.
// Dual stack: the same chains and rules for the IPv6 network go in through ip6tables.
// Every call goes to the backend the host uses (lib/kernel/iptables-backend.ts), never to
// whatever `iptables` the image's alternatives point to.
import { MasqueradeSpec, planMasquerade } from '../lib/dataplane/masquerade.js';
import { run } from '../lib/exec.js';
import { IptablesBackend, iptablesCommand } from '../lib/kernel/iptables-backend.js';

export class Masquerade {
  /** One spec per family the network has (the IPv6 one goes to ip6tables of the same backend). */
  constructor(private readonly specs: () => MasqueradeSpec[], private readonly backend: IptablesBackend) {}

  /** Checks the rules and restores what is missing; true when something had to be written. */
  async ensure(): Promise<boolean> {
    let wrote = false;
    for (const spec of this.specs()) {
      const v6 = spec.network.family === 6;
      const save = await run(iptablesCommand(this.backend, v6 ? 'ip6tables-save' : 'iptables-save'), []);
      const script = planMasquerade(save, spec);
      if (!script) continue;
      await run(iptablesCommand(this.backend, v6 ? 'ip6tables-restore' : 'iptables-restore'), ['-w', '5', '--noflush'], { input: script });
      wrote = true;
    }
    return wrote;
  }
}
