// A validated Ethernet unicast address. A VTEP MAC arrives from etcd or a Node annotation,
// written by whoever holds those rights; it reaches the kernel (neighbour and FDB entries)
// only as this type, so nothing but six hex octets can ever be printed where it goes.

const MAC_TEXT = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;

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
    const octets = Uint8Array.from(text.split(':').map((o) => parseInt(o, 16)));
    if (unicastOnly && octets[0] & 1) throw new MacParseError(text, 'is a multicast address');
    if (unicastOnly && octets.every((o) => o === 0)) throw new MacParseError(text, 'is all zero');
    return new Mac(octets);
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
