// Time as the daemon's timing logic sees it: the current time and a sleep that an abort
// signal cuts short. The lease keeper and the etcd subnet manager take one, so their renew
// timing and retry backoff are unit-tested on a fake clock (test/fakes/clock.ts) instead of
// waiting on the wall clock; the daemon runs on systemClock.
import { sleep } from '../lib/backoff.js';

export interface Clock {
  /** milliseconds since the epoch, as Date.now() */
  now(): number;
  /** resolves after `ms`, or at once when `signal` aborts (never rejects) */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now(), sleep };
