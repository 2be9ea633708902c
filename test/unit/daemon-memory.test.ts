// When twilld hands V8's free heap back (daemon/memory.ts): after a quiet spell, at a bounded
// delay under steady churn, and never more often than every 30 s. The release itself (a
// last-resort collection) is measured in bench:scale and bench:soak.
import assert from 'node:assert/strict';
import { heapReleaseAt } from '../../daemon/memory.js';

describe('daemon: V8 heap release timing', () => {
  const never = -Infinity;

  it('comes 2 s after the last pass of a burst', () => {
    // first pass at 0 (due 30 s later), the last at 700 ms
    assert.equal(heapReleaseAt(0, 30000, never), 2000);
    assert.equal(heapReleaseAt(700, 30000, never), 2700);
  });

  it('comes at the due time under steady churn, however often passes re-arm it', () => {
    assert.equal(heapReleaseAt(29000, 30000, never), 30000);
    assert.equal(heapReleaseAt(29999, 30000, never), 30000);
  });

  it('never comes sooner than 30 s after the last release', () => {
    // released at 10 s; a burst ending at 12 s waits until 40 s
    assert.equal(heapReleaseAt(12000, 42000, 10000), 40000);
    // long after the last release, the 2 s rule applies again
    assert.equal(heapReleaseAt(100000, 130000, 10000), 102000);
  });
});
