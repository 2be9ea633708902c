// A route netlink socket in one network namespace. Requests go to the kernel in a single call
// into the addon, one after the other (run, runAll) or many per send (batch); each one's
// answer is matched by sequence number.
import { NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSGERR_ATTR_MSG } from './constants.js';
import { netlinkAddon } from './addon.js';
import { NetlinkError } from './errors.js';
import { Attr, message, parseAttrs, parseMessages, RawMessage, readString } from './wire.js';

export interface Request {
  /** The operation in `ip` words, for errors: "link add name twv0 type veth ..." */
  op: string;
  type: number;
  /** NLM_F_* beyond REQUEST (ACK is added to everything that is not a dump) */
  flags: number;
  header: Buffer;
  attrs?: Attr[];
}

/** The outcome of one request: its data messages (a GET's or dump's answer), or its error. */
export interface Outcome {
  messages: RawMessage[];
  error?: NetlinkError;
}

let nextSeq = (Date.now() & 0xffff) << 12;

export class NetlinkSocket {
  private closed = false;

  private constructor(
    private readonly fd: number,
    readonly netns: string | undefined,
  ) {}

  /** A socket working in the namespace at `netns` (undefined: this process's own). */
  static open(netns?: string): NetlinkSocket {
    return new NetlinkSocket(netlinkAddon().socketIn(netns ?? null), netns);
  }

  /** Runs requests in order and stops at the first failure, which it throws (with its index). */
  run(requests: Request[]): RawMessage[][] {
    const outcomes = this.exchange(requests, true);
    const failed = outcomes.find((o) => o.error);
    if (failed) throw failed.error;
    return outcomes.map((o) => o.messages);
  }

  /** Runs every request even when some fail (best-effort cleanup); reports each outcome. */
  runAll(requests: Request[]): Outcome[] {
    return this.exchange(requests, false);
  }

  /**
   * Many independent requests in as few sends as fit (the daemon's thousands of entries):
   * the kernel runs all of them, and answers only failures plus one ack per send. Every
   * request's outcome comes back, with its errno when it failed.
   */
  batch(requests: Request[]): Outcome[] {
    return this.batchEncoded(requests.length, (first) => encodeAll(requests, first), (i) => requests[i].op);
  }

  /**
   * batch() for messages the caller encodes itself: `encode(firstSeq)` returns `count`
   * request messages numbered firstSeq, firstSeq + 1, ...; `opOf(i)` names the i-th in errors.
   */
  batchEncoded(count: number, encode: (firstSeq: number) => Buffer, opOf: (i: number) => string): Outcome[] {
    if (this.closed) throw new Error('netlink socket already closed');
    if (count === 0) return [];
    const first = this.takeSeqs(count);
    return this.outcomes(count, opOf, first, netlinkAddon().transactBatch(this.fd, encode(first)));
  }

  /** One dump request; returns its messages. */
  dump(request: Request): RawMessage[] {
    return this.run([{ ...request, flags: request.flags | NLM_F_DUMP }])[0];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    netlinkAddon().close(this.fd);
  }

  private exchange(requests: Request[], stopOnError: boolean): Outcome[] {
    if (this.closed) throw new Error('netlink socket already closed');
    if (requests.length === 0) return [];
    const first = this.takeSeqs(requests.length);
    const wire = requests.map((r, i) => {
      const isDump = (r.flags & NLM_F_DUMP) === NLM_F_DUMP;
      return message(r.type, NLM_F_REQUEST | r.flags | (isDump ? 0 : NLM_F_ACK), (first + i) >>> 0, r.header, r.attrs);
    });
    // With stopOnError the addon sent nothing after the failure: those requests did not run.
    return this.outcomes(requests.length, (i) => requests[i].op, first, netlinkAddon().transact(this.fd, Buffer.concat(wire), stopOnError));
  }

  private takeSeqs(n: number): number {
    const first = nextSeq;
    nextSeq = (nextSeq + n) >>> 0;
    return first;
  }

  private outcomes(count: number, opOf: (i: number) => string, first: number, raw: Buffer): Outcome[] {
    const replies = parseMessages(raw);
    const outcomes: Outcome[] = Array.from({ length: count }, () => ({ messages: [] }));
    for (const m of replies) {
      const i = (m.seq - first) >>> 0;
      if (i >= count) continue; // not ours (cannot happen on a private socket)
      if (m.type === NLMSG_ERROR || m.type === NLMSG_DONE) {
        const errno = m.payload.length >= 4 ? -m.payload.readInt32LE(0) : 0;
        if (errno > 0) outcomes[i].error = new NetlinkError(opOf(i), errno, m.type === NLMSG_ERROR ? extAckMessage(m) : undefined, i, this.netns);
      } else {
        outcomes[i].messages.push(m);
      }
    }
    return outcomes;
  }
}

/** Every request as one nlmsghdr-framed message, written into one buffer (a batch can be large). */
export function encodeAll(requests: readonly Request[], firstSeq: number): Buffer {
  let total = 0;
  for (const r of requests) {
    let len = 16 + r.header.length;
    for (const a of r.attrs ?? []) len += a.length;
    total += (len + 3) & ~3;
  }
  // zero-filled: the padding and each header's port id stay 0. set() rather than copy():
  // tens of thousands of small copies are a V8 builtin each, not a call into C++.
  const out = Buffer.alloc(total);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let off = 0;
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i];
    const start = off;
    off += 16;
    out.set(r.header, off);
    off += r.header.length;
    for (const a of r.attrs ?? []) {
      out.set(a, off);
      off += a.length;
    }
    view.setUint32(start, off - start, true);
    view.setUint16(start + 4, r.type, true);
    view.setUint16(start + 6, NLM_F_REQUEST | r.flags, true);
    view.setUint32(start + 8, (firstSeq + i) >>> 0, true);
    off = (off + 3) & ~3;
  }
  return out;
}

/** NLMSGERR_ATTR_MSG from an error carrying extended-ack attributes. */
export function extAckMessage(m: RawMessage): string | undefined {
  if (!(m.flags & NLM_F_ACK_TLVS) || m.payload.length < 20) return undefined;
  const origLen = m.payload.readUInt32LE(4);
  const skip = m.flags & NLM_F_CAPPED ? 16 : (origLen + 3) & ~3;
  return readString(parseAttrs(m.payload.subarray(4 + skip)).get(NLMSGERR_ATTR_MSG));
}

/** Opens a socket, hands it to `fn`, and closes it whatever happens. */
export function withSocket<T>(netns: string | undefined, fn: (s: NetlinkSocket) => T): T {
  const s = NetlinkSocket.open(netns);
  try {
    return fn(s);
  } finally {
    s.close();
  }
}
