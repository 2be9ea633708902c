// Address and prefix math for IPv4 and IPv6: parsing, printing (RFC 5952 for IPv6) and BigInt
// arithmetic (contains, nth address, subnet enumeration). Parsed here rather than with
// ip-address: that library's set-up and parse cost ~7 ms per process, a tenth of the CNI
// plugin's whole ADD. test/unit/cidr.test.ts cross-checks both parsers on random input.

// One octet: 0-255 in decimal, no leading zeros (which some parsers would read as octal).
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4(s: string): bigint | undefined {
  if (!IPV4.test(s)) return undefined;
  // the octets as one 32-bit number, then one BigInt (a BigInt step per octet cost 4x more)
  const [a, b, c, d] = s.split('.');
  return BigInt((((Number(a) << 24) | (Number(b) << 16) | (Number(c) << 8) | Number(d)) >>> 0));
}

function formatIpv4(v: bigint): string {
  // in one 32-bit number: a BigInt shift per octet cost 2.5x more, and a start at 5000 peers
  // prints ~20 000 addresses (entry keys, the FDB's destinations)
  const n = Number(v);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * 8 hextets, at most one "::", optionally ending in dotted IPv4 (::ffff:1.2.3.4). A zone
 * ("fe80::1%eth0") is accepted and dropped, as ip-address did.
 */
function parseIpv6(text: string): bigint | undefined {
  const zone = text.indexOf('%');
  const s = zone >= 0 ? text.slice(0, zone) : text;
  if (zone >= 0 && !/^[0-9A-Za-z_.-]+$/.test(text.slice(zone + 1))) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string, last: boolean): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (const [i, g] of items.entries()) {
      if (last && i === items.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (HEXTET.test(g)) {
        out.push(parseInt(g, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1], true) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const all = [...head, ...Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** RFC 5952: lowercase, no leading zeros, the longest run (>= 2) of zero hextets as "::". */
function formatIpv6(v: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

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
    const v4 = parseIpv4(s);
    if (v4 !== undefined) return new Ip(4, v4);
    const v6 = s.includes(':') ? parseIpv6(s) : undefined;
    if (v6 !== undefined) return new Ip(6, v6);
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
    return this.family === 4 ? formatIpv4(this.value) : formatIpv6(this.value);
  }

  /** Canonical text in JSON, so a typed value serialises as flannel's string field. */
  toJSON(): string {
    return this.toString();
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
    return (x instanceof Ip || x.prefix >= this.prefix) && this.holds(x instanceof Ip ? x.value : x.network);
  }

  /**
   * Whether the address with that value (of this family) is inside. IPv4 in plain numbers:
   * every lease event screens every lease, and the BigInt sums this would otherwise allocate
   * were a good part of that at 10 000 leases.
   */
  private holds(value: bigint): boolean {
    if (this.family === 4) {
      const from = Number(this.network);
      const v = Number(value);
      return v >= from && v < from + 2 ** (32 - this.prefix);
    }
    return value >= this.network && value < this.network + this.size;
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

  toJSON(): string {
    return this.toString();
  }
}
