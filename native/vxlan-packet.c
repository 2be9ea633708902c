// Packet surgery for the userspace VXLAN engine, the part the kernel does for a VXLAN device:
//  - checksums that the TAP leaves to us (virtio NEEDS_CSUM = CHECKSUM_PARTIAL),
//  - segmentation of TSO super-frames (up to 64 KB) into MSS-sized TCP segments, which then
//    leave as one UDP GSO send,
//  - the reverse on receive: in-order TCP segments of one flow merged back into one
//    super-frame, so the stack behind the TAP sees one packet per ~64 KB (what GRO does).
// Only plain TCP/IPv4 (no IP options, no fragments) is segmented or merged; everything else
// passes through frame by frame.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <string.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>
#include "vxlan-engine.h"

#define ETH_HLEN 14
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_CWR 0x80
/** Largest IPv4 total length a merged frame may reach (the coalescer's buffer holds 64 KB + headers). */
#define MAX_MERGED_IP 64000

// One's-complement sum, the part of the engine that touches every payload byte it sends
// (TCP segments need their own checksums). 32-bit words are added into a 64-bit sum without
// carry handling (a 64 KB frame is 16 K words, far from overflowing), which the compiler
// turns into vector adds (the addon is built with -O3 for this loop); folding the result
// gives the 16-bit sum, since 2^32 = 1 modulo 0xffff. The sum is independent of byte order as
// long as it is stored the way it was read.
uint64_t csum_partial(const uint8_t *p, size_t len, uint64_t acc) {
  uint64_t sum = 0;
  size_t words = len / 4;
  for (size_t i = 0; i < words; i++) {
    uint32_t w;
    memcpy(&w, p + 4 * i, 4);
    sum += w;
  }
  p += 4 * words;
  len -= 4 * words;
  if (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    sum += w;
    p += 2;
    len -= 2;
  }
  if (len) {
    uint16_t w = 0;
    memcpy(&w, p, 1);
    sum += w;
  }
  acc += sum;
  acc += acc < sum;
  return acc;
}

uint16_t csum_fold(uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  return (uint16_t)acc;
}

static void store16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

static uint64_t pseudo_sum(const uint8_t *ip, uint8_t proto, uint16_t l4len) {
  uint64_t acc = csum_partial(ip + 12, 8, 0); // saddr, daddr
  uint16_t w = htons(proto);
  acc += w;
  w = htons(l4len);
  acc += w;
  return acc;
}

static void ip_header_csum(uint8_t *ip, size_t ihl) {
  store16(ip + 10, 0);
  store16(ip + 10, (uint16_t)~csum_fold(csum_partial(ip, ihl, 0)));
}

bool complete_csum(uint8_t *frame, size_t len, uint16_t start, uint16_t offset) {
  if ((size_t)start + offset + 2 > len) return false;
  store16(frame + start + offset, (uint16_t)~csum_fold(csum_partial(frame + start, len - start, 0)));
  return true;
}

/** Header lengths of a plain TCP/IPv4 frame; false for anything else. */
static bool tcp4_headers(const uint8_t *f, size_t len, size_t *ihl, size_t *thl) {
  if (len < ETH_HLEN + 20 + 20 || f[12] != 0x08 || f[13] != 0x00) return false;
  const uint8_t *ip = f + ETH_HLEN;
  if ((ip[0] >> 4) != 4 || ip[9] != 6) return false;
  *ihl = (size_t)(ip[0] & 15) * 4;
  if (*ihl < 20 || ETH_HLEN + *ihl + 20 > len) return false;
  *thl = (size_t)(ip[*ihl + 12] >> 4) * 4;
  return *thl >= 20 && ETH_HLEN + *ihl + *thl <= len;
}

int segment_tcp4(const uint8_t *frame, size_t len, uint16_t mss, const uint8_t vxh[8],
                 uint8_t *hdrs, size_t hdr_cap, struct iovec *iov, int iov_cap, size_t *seg_len, size_t *total) {
  size_t ihl, thl;
  if (!mss || !tcp4_headers(frame, len, &ihl, &thl)) return 0;
  size_t hdr = ETH_HLEN + ihl + thl;
  size_t plen = len - hdr;
  if (!plen) return 0;
  int nseg = (int)((plen + mss - 1) / mss);
  if ((size_t)nseg * (VXLAN_HLEN + hdr) > hdr_cap || 2 * nseg > iov_cap) return 0;
  const uint8_t *ip0 = frame + ETH_HLEN;
  uint16_t id0;
  uint32_t seq0;
  memcpy(&id0, ip0 + 4, 2);
  memcpy(&seq0, ip0 + ihl + 4, 4);
  id0 = ntohs(id0);
  seq0 = ntohl(seq0);
  uint8_t flags0 = ip0[ihl + 13];
  uint8_t *o = hdrs;
  for (int i = 0; i < nseg; i++) {
    size_t off = (size_t)i * mss;
    size_t pl = plen - off < mss ? plen - off : mss;
    const uint8_t *payload = frame + hdr + off;
    memcpy(o, vxh, VXLAN_HLEN);
    uint8_t *f = o + VXLAN_HLEN;
    memcpy(f, frame, hdr);
    uint8_t *ip = f + ETH_HLEN;
    uint8_t *tcp = ip + ihl;
    store16(ip + 2, htons((uint16_t)(ihl + thl + pl)));
    store16(ip + 4, htons((uint16_t)(id0 + i)));
    ip_header_csum(ip, ihl);
    uint32_t seq = htonl(seq0 + (uint32_t)off);
    memcpy(tcp + 4, &seq, 4);
    uint8_t fl = flags0;
    if (i != nseg - 1) fl &= (uint8_t)~(TCP_FIN | TCP_PSH);
    if (i != 0) fl &= (uint8_t)~TCP_CWR;
    tcp[13] = fl;
    store16(tcp + 16, 0);
    // thl is a multiple of 4, so the payload's sum continues the header's at an even offset
    uint64_t acc = pseudo_sum(ip, 6, (uint16_t)(thl + pl));
    acc = csum_partial(tcp, thl, acc);
    acc = csum_partial(payload, pl, acc);
    store16(tcp + 16, (uint16_t)~csum_fold(acc));
    iov[2 * i] = (struct iovec){o, VXLAN_HLEN + hdr};
    iov[2 * i + 1] = (struct iovec){(void *)payload, pl};
    o += VXLAN_HLEN + hdr;
  }
  *seg_len = VXLAN_HLEN + hdr + mss;
  *total = (size_t)nseg * (VXLAN_HLEN + hdr) + plen;
  return nseg;
}

// A segment may start or join a super-frame when it is plain TCP/IPv4 carrying data with
// only ACK (and PSH) set: SYN, FIN, RST, URG and options-less oddities go through as they are.
bool coalesce_candidate(const uint8_t *f, size_t len) {
  size_t ihl, thl;
  if (!tcp4_headers(f, len, &ihl, &thl) || ihl != 20) return false;
  const uint8_t *ip = f + ETH_HLEN;
  uint16_t tot, frag;
  memcpy(&tot, ip + 2, 2);
  memcpy(&frag, ip + 6, 2);
  if (ntohs(tot) != len - ETH_HLEN || (ntohs(frag) & 0x3fff)) return false;
  uint8_t fl = ip[ihl + 13];
  if ((fl & (uint8_t)~(TCP_ACK | TCP_PSH)) || !(fl & TCP_ACK)) return false;
  return len > ETH_HLEN + ihl + thl;
}

static size_t payload_len(const uint8_t *f, size_t len) {
  const uint8_t *ip = f + ETH_HLEN;
  return len - ETH_HLEN - 20 - (size_t)(ip[20 + 12] >> 4) * 4;
}

void coalesce_begin(struct coalescer *c, const uint8_t *frame, size_t len) {
  size_t thl = (size_t)(frame[ETH_HLEN + 20 + 12] >> 4) * 4;
  size_t hdr = ETH_HLEN + 20 + thl;
  memcpy(c->hdr + sizeof(struct virtio_net_hdr), frame, hdr);
  c->iov[0] = (struct iovec){c->hdr, sizeof(struct virtio_net_hdr) + hdr};
  c->iov[1] = (struct iovec){(void *)(frame + hdr), len - hdr};
  c->niov = 2;
  c->len = len;
  c->segs = 1;
  size_t pl = len - hdr;
  c->mss = (uint16_t)pl;
  uint32_t seq;
  memcpy(&seq, frame + ETH_HLEN + 20 + 4, 4);
  c->next_seq = ntohl(seq) + (uint32_t)pl;
  c->closed = (frame[ETH_HLEN + 20 + 13] & TCP_PSH) != 0;
  // A kernel VXLAN peer sends GRO'd super-frames whole (a UDP-tunnel GSO packet reaches a
  // socket as one datagram): it is already merged; the kernel re-segments it at the MTU.
  if (len - ETH_HLEN > (size_t)c->mtu) {
    c->mss = (uint16_t)(c->mtu - 20 - (int)thl);
    c->segs = 2; // finish as a GSO frame
    c->closed = true;
  }
}

bool coalesce_add(struct coalescer *c, const uint8_t *f, size_t len) {
  if (c->closed || c->niov == COALESCE_IOV || !coalesce_candidate(f, len)) return false;
  const uint8_t *a = c->hdr + sizeof(struct virtio_net_hdr);
  const uint8_t *ipa = a + ETH_HLEN, *ipb = f + ETH_HLEN;
  const uint8_t *ta = ipa + 20, *tb = ipb + 20;
  size_t thl = (size_t)(ta[12] >> 4) * 4;
  if ((size_t)(tb[12] >> 4) * 4 != thl) return false;
  // same MACs, same TOS/TTL/protocol/addresses, same ports/ack/window, identical options
  if (memcmp(a, f, ETH_HLEN) || ipa[1] != ipb[1] || ipa[8] != ipb[8] || memcmp(ipa + 12, ipb + 12, 8)) return false;
  if (memcmp(ta, tb, 4) || memcmp(ta + 8, tb + 8, 4) || memcmp(ta + 14, tb + 14, 2) || memcmp(ta + 20, tb + 20, thl - 20)) return false;
  uint32_t seq;
  memcpy(&seq, tb + 4, 4);
  size_t pl = payload_len(f, len);
  if (ntohl(seq) != c->next_seq || pl > c->mss) return false;
  if (c->len - ETH_HLEN + pl > MAX_MERGED_IP || c->len - ETH_HLEN + pl > 65535) return false;
  c->iov[c->niov++] = (struct iovec){(void *)(f + len - pl), pl};
  c->len += pl;
  c->segs++;
  c->next_seq += (uint32_t)pl;
  uint8_t *tam = c->hdr + sizeof(struct virtio_net_hdr) + ETH_HLEN + 20;
  if (tb[13] & TCP_PSH) tam[13] |= TCP_PSH;
  // a short segment or PSH ends the run: the sender had no more data at that point
  if (pl < c->mss || (tb[13] & TCP_PSH)) c->closed = true;
  return true;
}

// Inner checksums from a kernel VXLAN peer are often never filled in: its pod's packet was
// CHECKSUM_PARTIAL, and over veth (or with a NIC that offloads only the outer header) nobody
// completes it; a kernel VXLAN receiver passes that state on and the stack trusts it. The TAP
// cannot be told "trust this" (tun ignores DATA_VALID), so TCP and UDP frames are handed
// over as CHECKSUM_PARTIAL (NEEDS_CSUM, the pseudo-header sum in the field): the local stack
// accepts them, and a NIC on the way out would fill in the sum. Without a virtio header (the
// per-packet reference) the sum is computed here instead.
static bool l4_offsets(const uint8_t *f, size_t len, size_t *ihl, uint8_t *proto, size_t *csum_off) {
  if (len < ETH_HLEN + 20 || f[12] != 0x08 || f[13] != 0x00 || (f[ETH_HLEN] >> 4) != 4) return false;
  const uint8_t *ip = f + ETH_HLEN;
  uint16_t frag, tot;
  memcpy(&frag, ip + 6, 2);
  memcpy(&tot, ip + 2, 2);
  *ihl = (size_t)(ip[0] & 15) * 4;
  *proto = ip[9];
  if (*ihl < 20 || (ntohs(frag) & 0x3fff) || ntohs(tot) < *ihl || ETH_HLEN + (size_t)ntohs(tot) > len) return false;
  size_t l4len = ntohs(tot) - *ihl;
  if (*proto == 6 && l4len >= 20) *csum_off = 16;
  else if (*proto == 17 && l4len >= 8) *csum_off = 6;
  else return false;
  // UDP over IPv4 may carry no checksum (0): keep it that way
  if (*proto == 17 && !ip[*ihl + 6] && !ip[*ihl + 7]) return false;
  return true;
}

bool rx_checksum(uint8_t *f, size_t len, struct virtio_net_hdr *vh) {
  size_t ihl, off;
  uint8_t proto;
  if (!l4_offsets(f, len, &ihl, &proto, &off)) return false;
  uint8_t *ip = f + ETH_HLEN;
  uint16_t tot;
  memcpy(&tot, ip + 2, 2);
  uint16_t l4len = (uint16_t)(ntohs(tot) - ihl);
  uint16_t pseudo = csum_fold(pseudo_sum(ip, proto, l4len));
  if (vh) {
    store16(ip + ihl + off, pseudo);
    vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh->csum_start = (uint16_t)(ETH_HLEN + ihl);
    vh->csum_offset = (uint16_t)off;
    return true;
  }
  store16(ip + ihl + off, 0);
  uint16_t sum = (uint16_t)~csum_fold(csum_partial(ip + ihl, l4len, pseudo));
  if (proto == 17 && !sum) sum = 0xffff;
  store16(ip + ihl + off, sum);
  return true;
}

int coalesce_finish(struct coalescer *c) {
  struct virtio_net_hdr *vh = (struct virtio_net_hdr *)c->hdr;
  uint8_t *f = c->hdr + sizeof *vh;
  memset(vh, 0, sizeof *vh);
  if (c->segs == 1) {
    rx_checksum(f, c->len, vh); // reads and writes headers only (in c->hdr) when given vh
    return c->niov;
  }
  uint8_t *ip = f + ETH_HLEN;
  uint8_t *tcp = ip + 20;
  size_t thl = (size_t)(tcp[12] >> 4) * 4;
  store16(ip + 2, htons((uint16_t)(c->len - ETH_HLEN)));
  ip_header_csum(ip, 20);
  // CHECKSUM_PARTIAL: the field holds the pseudo-header sum over the whole TCP length, which
  // the kernel adjusts per segment if it has to segment again.
  store16(tcp + 16, csum_fold(pseudo_sum(ip, 6, (uint16_t)(c->len - ETH_HLEN - 20))));
  vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
  vh->hdr_len = (uint16_t)(ETH_HLEN + 20 + thl);
  vh->gso_size = c->mss;
  vh->csum_start = ETH_HLEN + 20;
  vh->csum_offset = 16;
  return c->niov;
}
