// A clock that moves only when a test says so (the port is daemon/clock.ts). Code under test
// sleeps; the test waits until it does (waitForSleeps), reads what it asked for (sleeps) and
// moves time on (advance), which wakes every sleeper that is due, one after another, letting
// each run to its next await before the next wakes. No assertion depends on real time.
import type { Clock } from '../../daemon/clock.js';

interface Timer {
  at: number;
  fire(): void;
}

/** Lets promise chains and setImmediate callbacks (watch bursts) run to their next wait. */
export async function settle(rounds = 50): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export class FakeClock implements Clock {
  private t: number;
  private timers: Timer[] = [];
  /** every sleep asked for, in ms, in the order asked */
  readonly sleeps: number[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer: Timer = {
        at: this.t + Math.max(0, ms),
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.timers = this.timers.filter((x) => x !== timer);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
    });
  }

  /** sleepers not yet woken */
  get pending(): number {
    return this.timers.length;
  }

  /** Waits (in event-loop turns, not time) until `count` sleeps have been asked for in all. */
  async waitForSleeps(count: number): Promise<void> {
    for (let turn = 0; this.sleeps.length < count; turn++) {
      if (turn > 2000) throw new Error(`expected ${count} sleeps, saw ${this.sleeps.length}: [${this.sleeps.join(', ')}]`);
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Moves time on by `ms`, waking the due sleepers in order of their wake-up times. */
  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((x) => x.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = Math.max(this.t, due.at);
      due.fire();
    }
    this.t = until;
    await settle();
  }
}
