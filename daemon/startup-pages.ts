// Once the first pass is done, the executable's pages that start-up touched (Node's and V8's
// initialisation, compiling the bundle, the etcd and netlink set-up) are handed back to the
// kernel. They are clean pages of the file, so this writes nothing: they leave twilld's
// resident set and stay in the page cache, and those the daemon keeps using fault straight
// back in. In bench:scale at 5000 peers the executable's share of RSS goes from ~70 MiB to
// ~27 MiB. A kernel without MADV_PAGEOUT (before 5.4) refuses it; the daemon only logs that.
import { netlinkAddon } from '../lib/kernel/netlink/addon.js';
import type { Logger } from './log.js';

export function releaseStartupPages(log: Logger): void {
  try {
    const bytes = netlinkAddon().pageOutExecutable();
    log.debug('start-up pages of the executable handed back to the kernel', { mib: Math.round(bytes / 1048576) });
  } catch (e) {
    log.debug('could not hand start-up pages back to the kernel', { error: e });
  }
}
