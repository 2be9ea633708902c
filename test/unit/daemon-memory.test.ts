// When twilld hands V8's free heap back (daemon/memory.ts): after a quiet spell, at a bounded
// delay under steady churn, and never more often than every 8 s. The release itself (a
// last-resort collection) is measured in bench:scale and bench:soak.
import assert from 'node:assert/strict';
import { heapReleaseAt } from '../../daemon/memory.js';

describe('daemon: V8 heap release timing', () => {
  const never = -Infinity;

  it('comes 2 s after the last pass of a burst', () => {
    // first pass at 0 (due 8 s later), the last at 700 ms
    assert.equal(heapReleaseAt(0, 8000, never), 2000);
    assert.equal(heapReleaseAt(700, 8000, never), 2700);
  });

  it('comes at the due time under steady churn, however often passes re-arm it', () => {
    assert.equal(heapReleaseAt(7000, 8000, never), 8000);
    assert.equal(heapReleaseAt(7999, 8000, never), 8000);
  });

  it('never comes sooner than 8 s after the last release', () => {
    // released at 10 s; a burst ending at 12 s waits until 18 s
    assert.equal(heapReleaseAt(12000, 20000, 10000), 18000);
    // long after the last release, the 2 s rule applies again
    assert.equal(heapReleaseAt(100000, 108000, 10000), 102000);
  });
});
