// etcd's int64 fields (revisions, versions, lease ids) reach etcd3 as long.js values, and its
// decoder (@grpc/proto-loader's `longs: String`) prints every one with Long#toString, which
// divides in 64-bit steps even for a revision of a few digits: in twilld's start at 5000
// peers, 20 000 of them took ~45 ms (a CPU profile of bench:scale; 58 against 14 ms for the
// same values in a fresh process). Decimal printing gets a fast path here: exact doubles below
// 2^53 (every revision and version), BigInt above (random lease ids). Other radixes keep the
// library's own code. Installed once, by the etcd store that every program's etcd use goes
// through; the library is the one copy protobufjs and proto-loader share (package-lock).
import Long from 'long';

const TWO_32 = 4294967296;
const SAFE_HIGH = 0x200000; // high words below 2^21: the value is below 2^53

/** Long#toString(10) without the division loop; `high` is read as signed unless unsigned. */
export function longToDecimal(high: number, low: number, unsigned: boolean): string {
  const hi = unsigned ? high >>> 0 : high | 0;
  if (hi >= 0 && hi < SAFE_HIGH) return String(hi * TWO_32 + (low >>> 0));
  // a negative high word sign-extends through the BigInt OR: two's complement, exactly
  return ((BigInt(hi) << 32n) | BigInt(low >>> 0)).toString();
}

/** The library's own, kept for other radixes (and for the tests to compare against). */
export const libraryLongToString = Long.prototype.toString;
let installed = false;

export function installLongDecimalFastPath(): void {
  if (installed) return;
  installed = true;
  Long.prototype.toString = function toString(this: Long, radix?: number): string {
    return radix === undefined || radix === 10 ? longToDecimal(this.high, this.low, this.unsigned) : libraryLongToString.call(this, radix);
  };
}
