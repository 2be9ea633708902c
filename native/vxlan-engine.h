// The userspace VXLAN engine: TAP frames <-> VXLAN-in-UDP, on threads of its own.
// See vxlan-engine.c for the loop and vxlan-packet.c for segmentation and coalescing.
#ifndef TWILL_VXLAN_ENGINE_H
#define TWILL_VXLAN_ENGINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define ENGINE_MAX_QUEUES 16
#define VXLAN_HLEN 8
/** One peer-table entry as JavaScript hands it over: MAC, 2 bytes padding, IPv4 (network order). */
#define PEER_ENTRY_SIZE 12

struct engine_config {
  int queues;
  int tap_fds[ENGINE_MAX_QUEUES];
  uint16_t port;
  uint32_t vni;
  /** the TAP fds carry a virtio_net_hdr (IFF_VNET_HDR) before every frame */
  bool vnet_hdr;
  /** recvmmsg/sendmmsg batches; false = one packet per system call (the reference design) */
  bool batch;
  bool want_udp_gso;
  bool want_udp_gro;
  /** merge received TCP segments into one super-packet per TAP write (needs vnet_hdr) */
  bool coalesce;
  /** the TAP's MTU: received frames above it go to the TAP as GSO frames */
  int mtu;
  /** nice value of the engine threads (0: inherit) */
  int nice;
  /** scheduler time slice of the engine threads in microseconds (0: the kernel's default) */
  int slice_us;
  /** queue q's threads on CPU q, packets to the queue of the CPU handling them (with one queue: off) */
  bool steer_by_cpu;
};

/** Counters, summed over threads. Every drop has its reason. */
struct engine_stats {
  uint64_t tx_frames, tx_packets, tx_bytes, tx_sends, tx_gso_frames;
  /** of tx_frames, those the receiving thread read from the TAP right after its writes */
  uint64_t tx_by_receiver;
  uint64_t tx_drop_unknown_mac, tx_drop_bad_frame, tx_drop_send_error;
  uint64_t rx_packets, rx_bytes, rx_frames, rx_writes, rx_coalesced;
  uint64_t rx_drop_malformed, rx_drop_wrong_vni, rx_drop_unknown_source, rx_drop_write_error;
  uint64_t peer_swaps;
};

struct engine_info {
  bool udp_gso, udp_gro;
  int threads;
  /** the nice value the threads got (0 when setting it was refused) */
  int nice;
  /** the slice they got (0 when refused: a kernel before 6.12 ignores or refuses it) */
  int slice_us;
  bool cpu_steering;
  /** why CPU steering, asked for, is off ("" when on or not asked for) */
  char steering_refused[160];
};

struct engine;

/** Starts the threads; on failure returns -1 with a message in err. */
int engine_start(const struct engine_config *cfg, struct engine **out, char *err, size_t errlen);
/** Replaces the peer table (entries of PEER_ENTRY_SIZE bytes); returns when no thread uses the old one. */
int engine_set_peers(struct engine *e, const uint8_t *entries, size_t count);
void engine_read_stats(struct engine *e, struct engine_stats *out);
void engine_read_info(struct engine *e, struct engine_info *out);
/** The first fatal error of any thread (the TAP device went away, ...), or NULL while healthy. */
const char *engine_failure(struct engine *e);
/** Stops and joins the threads and frees everything but the TAP fds (the caller's). */
void engine_stop(struct engine *e);

// vxlan-packet.c
uint64_t csum_partial(const uint8_t *p, size_t len, uint64_t acc);
uint16_t csum_fold(uint64_t acc);
/** Completes a CHECKSUM_PARTIAL frame's checksum (virtio NEEDS_CSUM); false when out of range. */
bool complete_csum(uint8_t *frame, size_t len, uint16_t start, uint16_t offset);
/**
 * Splits a TSO TCP/IPv4 super-frame into MSS-sized segments without copying its payload: each
 * segment's 8-byte VXLAN header `vxh` and its own Ethernet/IP/TCP headers go to `hdrs`
 * (capacity `hdr_cap`), and two iovecs per segment to `iov` (capacity `iov_cap`): headers,
 * then the payload slice of `frame`. Returns the number of segments and sets *seg_len to the
 * size of each but the last (8 + headers + mss) and *total; 0 when malformed or out of room.
 */
int segment_tcp4(const uint8_t *frame, size_t len, uint16_t mss, const uint8_t vxh[8],
                 uint8_t *hdrs, size_t hdr_cap, struct iovec *iov, int iov_cap, size_t *seg_len, size_t *total);

struct virtio_net_hdr;
/**
 * Prepares a received TCP/UDP-over-IPv4 frame's checksum for the TAP: with `vh`, marks it
 * CHECKSUM_PARTIAL (pseudo-header sum in the field); without, computes the full sum.
 */
bool rx_checksum(uint8_t *frame, size_t len, struct virtio_net_hdr *vh);

/**
 * Merges consecutive in-order TCP/IPv4 segments of one flow into a GSO super-frame. Only the
 * headers are copied (into hdr); the payloads stay in the receive buffers and go to the TAP
 * as one writev, so they must outlive the flush.
 */
#define COALESCE_IOV 65  /* virtio + headers, then up to 64 payloads (as many segments as the kernel's GRO merges) */
#define COALESCE_HDR 160 /* virtio header (10) + Ethernet (14) + IPv4 (20) + TCP (up to 60) */
struct coalescer {
  uint8_t hdr[COALESCE_HDR];
  struct iovec iov[COALESCE_IOV];
  int niov;
  int mtu;        /* IP MTU behind the TAP: bounds the segment size of what it emits */
  size_t len;     /* frame length (headers + payloads) */
  int segs;
  uint16_t mss;
  uint32_t next_seq;
  bool closed;    /* PSH seen or a short segment: nothing more may follow */
};
/** Tries to add `frame`; false when it cannot join (the caller flushes and starts anew). */
bool coalesce_add(struct coalescer *c, const uint8_t *frame, size_t len);
/** True when `frame` could start a super-frame. */
bool coalesce_candidate(const uint8_t *frame, size_t len);
void coalesce_begin(struct coalescer *c, const uint8_t *frame, size_t len);
/** Finishes headers and the virtio header; returns the number of iovecs in c->iov to write. */
int coalesce_finish(struct coalescer *c);

#endif
