// The kubelet sets a few kernel-wide sysctls at start (kubelet's setupKernelTunables:
// vm.overcommit_memory, kernel.panic, kernel.panic_on_oops, kernel.keys.root_max*). They are
// not per network namespace, so the harness saves them before the cluster starts and puts
// them back afterwards.
import { readFileSync, writeFileSync } from 'node:fs';

const KEYS = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'];

export class HostSysctls {
  private saved = new Map<string, string>();

  save(): void {
    for (const k of KEYS) {
      try {
        this.saved.set(k, readFileSync(`/proc/sys/${k}`, 'utf8').trim());
      } catch {
        /* not on this kernel */
      }
    }
  }

  restore(): void {
    for (const [k, v] of this.saved) {
      try {
        if (readFileSync(`/proc/sys/${k}`, 'utf8').trim() !== v) writeFileSync(`/proc/sys/${k}`, v);
      } catch {
        /* leave it */
      }
    }
  }
}
