// Memory twilld hands back to the kernel instead of keeping it resident.
//  - Once the first pass is done, the executable's pages that start-up touched (Node's and
//    V8's initialisation, compiling the bundle, the etcd and netlink set-up) are paged out.
//    They are clean pages of the file, so this writes nothing: they leave twilld's resident
//    set and stay in the page cache, and those the daemon keeps using fault straight back in.
//    In bench:scale at 5000 peers the executable's share of RSS goes from ~70 to ~29 MiB.
//  - At start, glibc is told to keep at most two C heaps (arenas) instead of one per thread
//    that ever contended (V8's compiler and GC threads, libuv's, the netlink event thread):
//    freed memory waits in the arena that freed it. ~9 MiB of settled RSS at 5000 peers.
//  - After every full pass, and 2 s after the last of a burst of quick (lease event) passes,
//    the C heap's free memory (a dump's or a batch's buffers, V8's compiler threads' zones,
//    grpc's) is trimmed: glibc keeps it in per-thread arenas. After full passes only, a
//    burst of lease events left it untrimmed until the next periodic reconcile (bench:scale
//    at 5000: settled RSS 82.5-88.8 -> 73.6-75.7 MiB); after quiet spells only, steady churn
//    never trimmed (bench:soak: 5.8% growth, 1.5% with a trim per full pass). One trim per
//    burst, not per quick pass: a trim walks the heap, ~1 ms.
//  - Once the first pass is done, V8's old generation may grow only 30% beyond what its last
//    full collection found live before it collects again. Its own factor (1.1-4x, chosen by
//    how fast it collects) let lease churn grow the committed heap from 23 to 55 MiB at 1000
//    peers in two minutes of bench:soak (RSS ~104 MiB; ~70 with the bound). Set only after
//    the start-up: during it the heap grows from nothing to its working size, and a collection
//    at every 30% step made the start at 5000 peers ~200 ms slower (bench:scale A/B).
//  - V8's own free memory goes back too: at most every 8 s, once 2 s passed without a pass
//    (or 8 s into steady churn), a last-resort collection (compacting, new space shrunk,
//    the page pool emptied), then the C heap trim. A plain major collection shrinks V8's
//    committed size but keeps the freed pages pooled and resident. Never inline after a pass:
//    its tens of milliseconds would land on the start-up or on a lease event. Every 8 s, so
//    that each periodic full pass (10 s), which at 5000 peers grows V8's committed heap by
//    ~7 MiB and RSS by 10-15, is followed by one: at 30 s, RSS swung 67-83 MiB at rest.
// A kernel without MADV_PAGEOUT (before 5.4) refuses the first; the daemon only logs that.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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

export function limitCArenas(): void {
  netlinkAddon().limitMallocArenas(2);
}

const TRIM_AFTER_IDLE_MS = 2000;
const HEAP_RELEASE_EVERY_MS = 8000;
let trimTimer: NodeJS.Timeout | undefined;
let releaseTimer: NodeJS.Timeout | undefined;
let releaseDue = 0;
let lastRelease = -Infinity;

/**
 * After a full pass: trims now. After a quick one: (re)arms the trim for when no pass has run for TRIM_AFTER_IDLE_MS.
 * After either: (re)arms V8's heap release (see the file's header).
 */
export function releaseMemoryAfterPass(full: boolean): void {
  if (full) {
    clearTimeout(trimTimer);
    trimTimer = undefined;
    netlinkAddon().trimMalloc();
  } else if (trimTimer) {
    trimTimer.refresh();
  } else {
    trimTimer = setTimeout(() => {
      trimTimer = undefined;
      netlinkAddon().trimMalloc();
    }, TRIM_AFTER_IDLE_MS).unref();
  }
  armHeapRelease();
}

/**
 * When V8's heap goes back, for a pass at `now`: TRIM_AFTER_IDLE_MS after the last pass, but
 * not later than `due` (HEAP_RELEASE_EVERY_MS after the first pass that asked), and never
 * sooner than HEAP_RELEASE_EVERY_MS after the last release.
 */
export function heapReleaseAt(now: number, due: number, lastRelease: number): number {
  return Math.max(lastRelease + HEAP_RELEASE_EVERY_MS, Math.min(due, now + TRIM_AFTER_IDLE_MS));
}

function armHeapRelease(): void {
  const now = performance.now();
  if (!releaseTimer) releaseDue = now + HEAP_RELEASE_EVERY_MS; // steady churn: not later than this
  clearTimeout(releaseTimer);
  const at = heapReleaseAt(now, releaseDue, lastRelease);
  releaseTimer = setTimeout(() => {
    releaseTimer = undefined;
    lastRelease = performance.now();
    collectAllGarbage()?.();
    netlinkAddon().trimMalloc();
  }, at - now).unref();
}

let gcFn: (() => void) | undefined | null = null;

/** V8's last-resort collection through `gc`, exposed on first use (contexts made after --expose-gc get it); undefined if V8 refuses. */
function collectAllGarbage(): (() => void) | undefined {
  if (gcFn !== null) return gcFn;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (o: object) => void;
    gcFn = () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  } catch {
    gcFn = undefined;
  }
  return gcFn;
}

export function boundHeapGrowth(): void {
  setFlagsFromString('--heap-growing-percent=30');
}
