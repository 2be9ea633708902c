// A coalescing wake-up: any number of kick()s while the loop is busy or asleep become one
// pass. The short settle delay gathers a burst (a flurry of kernel events, a timer tick);
// a kick without it (a lease set, which the watch already delivers once per burst) goes at
// once, unless a settling kick is pending too.
export class Trigger {
  private pending = false;
  private settle = false;
  private waiter?: () => void;

  constructor(private readonly settleMs = 20) {}

  kick(settle = true): void {
    this.pending = true;
    this.settle ||= settle;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Resolves after the next kick (at once if one is pending) or when the signal aborts. */
  async wait(signal: AbortSignal): Promise<void> {
    if (!this.pending) {
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const onAbort = () => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiter = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
      });
    }
    if (this.settle && this.settleMs > 0 && !signal.aborted) await new Promise((r) => setTimeout(r, this.settleMs));
    this.pending = false;
    this.settle = false;
  }
}
