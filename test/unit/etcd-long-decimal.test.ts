// lib/etcd/long-decimal.ts: the decimal fast path prints every int64 exactly as long.js's own
// division loop does (signed and unsigned, around 2^53 and at the extremes), and through
// Long#toString once installed, which is how etcd3's decoder reaches it.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import Long from 'long';
import { installLongDecimalFastPath, libraryLongToString, longToDecimal } from '../../lib/etcd/long-decimal.js';

// the library's division loop (importing the etcd store installs the fast path over it)
const reference = (l: Long, radix?: number) => libraryLongToString.call(l, radix);

const edges = [0n, 1n, -1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n), 2n ** 32n - 1n, 2n ** 32n,
  2n ** 63n - 1n, -(2n ** 63n), 7587867440431556881n];

describe('etcd: int64 in decimal', () => {
  it('matches long.js for signed values, edges and random', () => {
    for (const v of edges) {
      const l = Long.fromString(v.toString());
      assert.equal(longToDecimal(l.high, l.low, false), reference(l), `value ${v}`);
      assert.equal(longToDecimal(l.high, l.low, false), v.toString());
    }
    fc.assert(fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
      const l = Long.fromString(v.toString());
      assert.equal(longToDecimal(l.high, l.low, false), reference(l));
    }), { numRuns: 2000 });
  });

  it('matches long.js for unsigned values', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => {
      const l = Long.fromString(v.toString(), true);
      assert.equal(longToDecimal(l.high, l.low, true), reference(l));
      assert.equal(longToDecimal(l.high, l.low, true), v.toString());
    }), { numRuns: 2000 });
  });

  it('is what Long#toString does once installed; other radixes are the library\'s', () => {
    installLongDecimalFastPath();
    installLongDecimalFastPath(); // idempotent: a second call must not wrap the wrapper
    assert.notEqual(Long.prototype.toString, libraryLongToString);
    for (const v of edges) {
      const l = Long.fromString(v.toString());
      assert.equal(l.toString(), v.toString());
      assert.equal(l.toString(10), v.toString());
      assert.equal(l.toString(16), reference(l, 16));
      assert.equal(String(l), v.toString());
    }
  });
});
