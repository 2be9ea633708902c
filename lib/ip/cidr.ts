// Address and prefix math for IPv4 and IPv6. Parsing and validation come from ip-address;
// the arithmetic (contains, nth address, subnet enumeration) is BigInt over the parsed value.
import { Address4, Address6 } from 'ip-address';

export type Family = 4 | 6;

export class IpParseError extends Error {
  constructor(input: string, what: string) {
    super(`invalid ${what} "${input}"`);
    this.name = 'IpParseError';
  }
}

function bits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** A single address. */
export class Ip {
  private constructor(readonly family: Family, readonly value: bigint) {}

  static parse(text: string): Ip {
    const s = String(text).trim();
    if (s.includes('/')) throw new IpParseError(text, 'IP address');
    if (Address4.isValid(s) && /^\d+\.\d+\.\d+\.\d+$/.test(s)) return new Ip(4, new Address4(s).bigInt());
    if (s.includes(':') && Address6.isValid(s)) return new Ip(6, new Address6(s).bigInt());
    throw new IpParseError(text, 'IP address');
  }

  static tryParse(text: string): Ip | undefined {
    try {
      return Ip.parse(text);
    } catch {
      return undefined;
    }
  }

  static of(family: Family, value: bigint): Ip {
    return new Ip(family, value);
  }

  add(n: bigint | number): Ip {
    return new Ip(this.family, this.value + BigInt(n));
  }

  equals(other: Ip): boolean {
    return this.family === other.family && this.value === other.value;
  }

  toString(): string {
    return this.family === 4 ? Address4.fromBigInt(this.value).address : Address6.fromBigInt(this.value).correctForm();
  }
}

/** A prefix such as 10.244.3.0/24. The network address is normalised (host bits cleared). */
export class Cidr {
  private constructor(readonly family: Family, readonly network: bigint, readonly prefix: number) {}

  /** Parses "a.b.c.d/n"; `strict` refuses host bits set (10.244.3.1/24). */
  static parse(text: string, { strict = false } = {}): Cidr {
    const s = String(text).trim();
    const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
    if (!m) throw new IpParseError(text, 'CIDR');
    const ip = Ip.tryParse(m[1]);
    const prefix = Number(m[2]);
    if (!ip || prefix > bits(ip.family)) throw new IpParseError(text, 'CIDR');
    const c = Cidr.of(ip.family, ip.value, prefix);
    if (strict && c.network !== ip.value) throw new IpParseError(text, 'CIDR (host bits set)');
    return c;
  }

  static tryParse(text: string): Cidr | undefined {
    try {
      return Cidr.parse(text);
    } catch {
      return undefined;
    }
  }

  static of(family: Family, value: bigint, prefix: number): Cidr {
    const hostBits = BigInt(bits(family) - prefix);
    return new Cidr(family, (value >> hostBits) << hostBits, prefix);
  }

  get size(): bigint {
    return 1n << BigInt(bits(this.family) - this.prefix);
  }

  get first(): Ip {
    return Ip.of(this.family, this.network);
  }

  get last(): Ip {
    return Ip.of(this.family, this.network + this.size - 1n);
  }

  /** The n-th address of the prefix (0 = network address). */
  nth(n: bigint | number): Ip {
    const i = BigInt(n);
    if (i < 0n || i >= this.size) throw new RangeError(`address #${i} is outside ${this}`);
    return Ip.of(this.family, this.network + i);
  }

  contains(x: Ip | Cidr): boolean {
    if (x.family !== this.family) return false;
    if (x instanceof Ip) return x.value >= this.network && x.value < this.network + this.size;
    return x.prefix >= this.prefix && this.contains(x.first);
  }

  overlaps(other: Cidr): boolean {
    return this.contains(other) || other.contains(this);
  }

  /** The index-th subnet of length `len` inside this prefix. */
  subnet(len: number, index: bigint | number): Cidr {
    if (len < this.prefix || len > bits(this.family)) throw new RangeError(`/${len} does not fit in ${this}`);
    const step = 1n << BigInt(bits(this.family) - len);
    return Cidr.of(this.family, this.network + BigInt(index) * step, len);
  }

  /** How many subnets of length `len` this prefix holds. */
  subnetCount(len: number): bigint {
    return 1n << BigInt(len - this.prefix);
  }

  /** Index of `sub` among this prefix's subnets of its length. */
  subnetIndex(sub: Cidr): bigint {
    return (sub.network - this.network) >> BigInt(bits(this.family) - sub.prefix);
  }

  equals(other: Cidr): boolean {
    return this.family === other.family && this.network === other.network && this.prefix === other.prefix;
  }

  toString(): string {
    return `${this.first}/${this.prefix}`;
  }
}
