// A validated Ethernet unicast address. A VTEP MAC arrives from etcd or a Node annotation,
// written by whoever holds those rights; it reaches the kernel (neighbour and FDB entries)
// only as this type, so nothing but six hex octets can ever be printed where it goes.

const MAC_TEXT = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;
const UPPER_HEX = /[A-F]/;

/** The value of a hex digit's character code (the caller has checked it is one). */
const hexDigit = (c: number): number => (c <= 57 ? c - 48 : (c | 32) - 87);

export class MacParseError extends Error {
  constructor(readonly input: string, readonly reason: string) {
    super(`invalid MAC address ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '…' : input)}: ${reason}`);
    this.name = 'MacParseError';
  }
}

export class Mac {
  /** printed once: every full pass keys a peer's FDB entry by it (#: invisible to deepEqual) */
  #text?: string;

  private constructor(private readonly octets: Uint8Array) {}

  /**
   * "aa:bb:cc:dd:ee:ff" in either case, nothing else: no other separators, no padding or
   * whitespace. Multicast and all-zero addresses are refused: neither names one VTEP.
   */
  static parse(text: string, { unicastOnly = true } = {}): Mac {
    if (typeof text !== 'string') throw new MacParseError(String(text), 'must be a string');
    if (!MAC_TEXT.test(text)) throw new MacParseError(text, 'must be six hex octets separated by ":"');
    // the pattern held: octet i is the two hex digits at 3i (a split and six parseInts cost
    // several times more, and a start-up at 5000 peers parses 5000)
    const octets = new Uint8Array(6);
    for (let i = 0; i < 6; i++) octets[i] = (hexDigit(text.charCodeAt(3 * i)) << 4) | hexDigit(text.charCodeAt(3 * i + 1));
    if (unicastOnly && octets[0] & 1) throw new MacParseError(text, 'is a multicast address');
    if (unicastOnly && octets.every((o) => o === 0)) throw new MacParseError(text, 'is all zero');
    const mac = new Mac(octets);
    // text already in canonical spelling (flannel writes lower case) is kept as the printed form
    if (!UPPER_HEX.test(text)) mac.#text = text;
    return mac;
  }

  /** `unicastOnly: false` for what the kernel reports (its default FDB entry is all zero). */
  static tryParse(text: string, opts: { unicastOnly?: boolean } = {}): Mac | undefined {
    try {
      return Mac.parse(text, opts);
    } catch {
      return undefined;
    }
  }

  /** A copy of the six octets (netlink attributes, the userspace engine's tables). */
  get bytes(): Uint8Array {
    return Uint8Array.from(this.octets);
  }

  /** Writes the six octets into `target` at `offset` (netlink attributes, without a copy of its own). */
  copyTo(target: Uint8Array, offset: number): void {
    target.set(this.octets, offset);
  }

  equals(other: Mac): boolean {
    return this.octets.every((o, i) => o === other.octets[i]);
  }

  /** Lower case, colon separated: the spelling `ip -json` and flannel use. */
  toString(): string {
    return (this.#text ??= [...this.octets].map((o) => o.toString(16).padStart(2, '0')).join(':'));
  }

  toJSON(): string {
    return this.toString();
  }
}
