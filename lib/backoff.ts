// Waiting that an abort signal cuts short, and the exponential backoff every retry loop in
// the daemon uses (etcd down, network full, failed renewal): retries stay cheap for etcd.
// Stopping is one convention everywhere: an AbortSignal; a loop that must reject on abort
// calls signal.throwIfAborted() (the platform's AbortError), and sleep() never rejects.
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class Backoff {
  private current: number;
  constructor(private readonly initialMs = 500, private readonly maxMs = 10000) {
    this.current = initialMs;
  }

  /** The next delay, with ±20 % jitter so many nodes do not retry in lockstep. */
  next(): number {
    const d = this.current;
    this.current = Math.min(this.maxMs, this.current * 2);
    return Math.round(d * (0.8 + Math.random() * 0.4));
  }

  reset(): void {
    this.current = this.initialMs;
  }
}
