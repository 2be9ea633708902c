// The userspace VXLAN engine's threads. Per TAP queue there are two: one takes frames from
// the TAP and sends them as VXLAN-in-UDP to the peer that owns the destination MAC (what the
// kernel VXLAN device does with its FDB), one receives VXLAN from its UDP socket (SO_REUSEPORT,
// one socket per queue) and writes the inner frames to the TAP. A TAP write delivers the frame
// to the local stack at once, and what that produces (a reply, ACKs) is queued on the TAP
// before the write returns: the receiving thread sends it too, under the queue's tx lock (so
// frames of a flow leave in the order they were read), rather than leave every round trip
// waiting for the sending thread to wake. Both keep reading while there is more (a full batch)
// and poll only when the last read came up short, as flannel's udp loop does. JavaScript
// only swaps the peer table and reads counters; no packet ever crosses into it.
//
// The peer table (peer-table.c) is read without locks: a thread loads the table pointer at
// the start of a batch and bumps its sequence counter around the batch (odd = inside). A swap
// publishes the new pointer and waits until no thread is still inside a batch that began
// before it, then frees the old table (a tiny RCU).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_net.h>
#include <linux/filter.h>
#include <linux/bpf.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sched.h>
#include "peer-table.h"
#include "vxlan-engine.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define FRAME_MAX 65550          /* virtio header + 64 KB super-frame */
#define RECV_MAX 65536
#define BATCH 32
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65000      /* UDP payload of one GSO send, under the 64 KB datagram limit */
#define TX_MSGS 512
#define TX_IOVS 4096             /* per batch: a header and a payload slice per TCP segment */
#define TX_HDR_MAX 144           /* VXLAN + Ethernet + IPv4 + TCP headers, at most 8 + 14 + 60 + 60 */
#define TX_HDRS (TX_IOVS / 2 * TX_HDR_MAX)
#define VNET_HLEN ((int)sizeof(struct virtio_net_hdr))



// Each counter has one writer (its thread); readers sum them racily but atomically per word.
#define CNT(t, f, n) atomic_store_explicit(&(t)->c.f, atomic_load_explicit(&(t)->c.f, memory_order_relaxed) + (n), memory_order_relaxed)
struct counters {
  _Atomic uint64_t tx_frames, tx_packets, tx_bytes, tx_sends, tx_gso_frames, tx_by_receiver;
  _Atomic uint64_t tx_drop_unknown_mac, tx_drop_bad_frame, tx_drop_send_error;
  _Atomic uint64_t rx_packets, rx_bytes, rx_frames, rx_writes, rx_coalesced;
  _Atomic uint64_t rx_drop_malformed, rx_drop_wrong_vni, rx_drop_unknown_source, rx_drop_write_error;
};

struct worker {
  struct engine *e;
  pthread_t thread;
  bool started;
  int tap, sock;
  /** the queue's: whoever reads its TAP holds it until the frames are sent, so they leave in order */
  pthread_mutex_t *tx_lock;
  /** CPU steering: the CPU this thread is pinned to; -1 without */
  int cpu;
  _Atomic uint64_t seq;
  struct counters c;
};

struct engine {
  struct engine_config cfg;
  int stopfd;
  _Atomic bool stop; /* for threads that go on reading without polling (stopfd) */
  int socks[ENGINE_MAX_QUEUES];
  bool udp_gso, udp_gro;
  int nworkers;
  struct worker workers[2 * ENGINE_MAX_QUEUES];
  pthread_mutex_t tx_locks[ENGINE_MAX_QUEUES];
  _Atomic(struct peer_table *) table;
  _Atomic(char *) failure;
  _Atomic uint64_t swaps;
  _Atomic int nice_refused, slice_refused;
  bool cpu_steering;
  /** why CPU steering was asked for and is off ("" when it is on or was not asked for) */
  char steering_refused[160];
  uint8_t vxh[VXLAN_HLEN];
};

static void fail(struct engine *e, const char *what, int err) {
  char *msg = malloc(256);
  if (!msg) return;
  snprintf(msg, 256, "%s: %s", what, strerror(err));
  char *none = NULL;
  if (!atomic_compare_exchange_strong(&e->failure, &none, msg)) free(msg);
}

static struct peer_table *enter(struct worker *w) {
  atomic_fetch_add(&w->seq, 1);
  return atomic_load(&w->e->table);
}

static void leave(struct worker *w) { atomic_fetch_add(&w->seq, 1); }

static bool stopping(struct engine *e) { return atomic_load_explicit(&e->stop, memory_order_relaxed); }

/** Waits for the TAP (or socket) to be readable; false when stopping or on a dead fd. */
static bool wait_readable(struct worker *w, int fd, const char *what) {
  struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = w->e->stopfd, .events = POLLIN}};
  for (;;) {
    int r = poll(p, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      fail(w->e, "poll", errno);
      return false;
    }
    if (p[1].revents) return false;
    if (p[0].revents & POLLIN) return true;
    if (fd == w->sock && (p[0].revents & POLLERR)) {
      // a socket error (ICMP feedback) is not ours to act on: clear it and go on
      int soerr;
      socklen_t sl = sizeof soerr;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
      continue;
    }
    if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      // a TAP whose device was deleted reports POLLERR: this queue is dead
      fail(w->e, what, p[0].revents & POLLNVAL ? EBADF : EBADFD);
      return false;
    }
  }
}

struct tx_msg {
  struct sockaddr_in to;
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctl;
};

// What one batch of TAP frames becomes before its sendmmsg: messages whose iovecs point at
// headers built in hdrs and at payload still in the frames read from the TAP (no copy).
struct tx_batch {
  struct tx_msg *msgs;
  struct mmsghdr *mm;
  struct iovec *iov;
  uint8_t *hdrs;
  int nm, niov;
  size_t nhdr;
};

// Sends the batch with sendmmsg, resuming after partial sends; a message the kernel refuses
// (no route, ICMP-unreachable feedback) is counted and skipped. Leaves the batch empty.
static void send_all(struct worker *w, struct tx_batch *b) {
  struct mmsghdr *mm = b->mm;
  int i = 0, n = b->nm;
  while (i < n) {
    int r = sendmmsg(w->sock, mm + i, (unsigned)(n - i), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      CNT(w, tx_drop_send_error, 1);
      i++;
      continue;
    }
    CNT(w, tx_sends, 1);
    for (int k = i; k < i + r; k++) CNT(w, tx_bytes, mm[k].msg_len);
    i += r;
  }
  b->nm = b->niov = 0;
  b->nhdr = 0;
}

/** Queues one datagram of iovecs b->iov[first..first+niov); gso > 0 makes it a UDP GSO train of that segment size. */
static void queue_msg(struct tx_batch *b, const struct sockaddr_in *to, int first, int niov, uint16_t gso) {
  struct tx_msg *m = &b->msgs[b->nm];
  struct mmsghdr *h = &b->mm[b->nm];
  m->to = *to;
  memset(h, 0, sizeof *h);
  h->msg_hdr.msg_name = &m->to;
  h->msg_hdr.msg_namelen = sizeof m->to;
  h->msg_hdr.msg_iov = &b->iov[first];
  h->msg_hdr.msg_iovlen = (size_t)niov;
  if (gso) {
    h->msg_hdr.msg_control = m->ctl.buf;
    h->msg_hdr.msg_controllen = sizeof m->ctl.buf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&h->msg_hdr);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(cm), &gso, sizeof gso);
  }
  b->nm++;
}

static int gso_per_send(const struct engine *e, size_t seg_len) {
  int per = e->udp_gso ? (int)(GSO_MAX_BYTES / seg_len) : 1;
  return per > GSO_MAX_SEGS ? GSO_MAX_SEGS : per;
}

/** Segments into the batch's free room; 0 when malformed or when it does not fit. */
static int segment_into(struct engine *e, struct tx_batch *b, const uint8_t *frame, size_t len, uint16_t mss, size_t *seg_len, size_t *total) {
  int ns = segment_tcp4(frame, len, mss, e->vxh, b->hdrs + b->nhdr, TX_HDRS - b->nhdr, b->iov + b->niov, TX_IOVS - b->niov, seg_len, total);
  int per = ns ? gso_per_send(e, *seg_len) : 1;
  return ns && b->nm + (ns + per - 1) / per <= TX_MSGS ? ns : 0;
}

/**
 * A TSO super-frame as UDP GSO trains of VXLAN segments (one datagram per segment when the
 * kernel has no UDP GSO); false when malformed. Sends what the batch holds if it needs room.
 */
static bool queue_tso(struct worker *w, struct tx_batch *b, const struct sockaddr_in *to, const uint8_t *frame, size_t len, uint16_t mss) {
  struct engine *e = w->e;
  size_t seg_len = 0, total = 0;
  int ns = segment_into(e, b, frame, len, mss, &seg_len, &total);
  if (!ns && b->nm) {
    send_all(w, b); // the queued messages point into earlier frames, still intact
    ns = segment_into(e, b, frame, len, mss, &seg_len, &total);
  }
  if (!ns) return false; // even an empty batch has no room: a tiny MSS without UDP GSO, or malformed
  int per = gso_per_send(e, seg_len);
  CNT(w, tx_gso_frames, 1);
  CNT(w, tx_packets, ns);
  for (int s = 0; s < ns; s += per) {
    int cnt = ns - s < per ? ns - s : per;
    queue_msg(b, to, b->niov + 2 * s, 2 * cnt, cnt > 1 ? (uint16_t)seg_len : 0);
  }
  b->niov += 2 * ns;
  b->nhdr += (size_t)ns * (seg_len - mss); // VXLAN + Ethernet + IP + TCP headers per segment
  return true;
}

// Every packet waits for its thread to be scheduled, twice per direction; on a busy node
// that wait, not the work, is the RTT. Two fair-scheduler knobs, neither able to starve
// anyone (the threads block in poll() when idle): a lower nice value (a bigger CPU share)
// and, on kernels with EEVDF (6.12+), a short time slice, which gives a waking thread an
// early deadline so it preempts whatever runs instead of waiting its turn.
struct sched_attr_v1 {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
};

/** Pins the calling thread to `cpu` (CPU steering); -1: leaves it where the scheduler wants. */
static void pin(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/**
 * CPU steering: a frame the stack sends on the TAP goes to the queue of the CPU that sends it
 * (a steering program on the TAP returning the CPU; tun takes it modulo the queue count), a
 * datagram to the socket of the CPU that receives it (a reuseport program returning the CPU;
 * beyond the group the kernel falls back to its hash), and queue q's threads run on CPU q.
 * Every hand-off of a packet between the stack and the engine is then a wake-up on the CPU
 * already running it, not an IPI to another (bench:rtt-placement). Needs CPUs 0..queues-1 in
 * the process's affinity, eBPF socket filters and TUNSETSTEERINGEBPF (Linux 4.16); on refusal
 * it undoes what it set and says why in err.
 */
static int steer_by_cpu(struct engine *e, char *err, size_t errlen) {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) < 0) {
    snprintf(err, errlen, "sched_getaffinity: %s", strerror(errno));
    return -1;
  }
  for (int q = 0; q < e->cfg.queues; q++) {
    if (!CPU_ISSET(q, &allowed)) {
      snprintf(err, errlen, "CPU %d (for queue %d) is not in the process's CPU set", q, q);
      return -1;
    }
  }
  struct sock_filter code[] = {{BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(SKF_AD_OFF + SKF_AD_CPU)}, {BPF_RET | BPF_A, 0, 0, 0}};
  struct sock_fprog cbpf = {.len = 2, .filter = code};
  if (setsockopt(e->socks[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &cbpf, sizeof cbpf) < 0) {
    snprintf(err, errlen, "SO_ATTACH_REUSEPORT_CBPF: %s", strerror(errno));
    return -1;
  }
  struct bpf_insn insns[] = {
      {.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_smp_processor_id},
      {.code = BPF_JMP | BPF_EXIT},
  };
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  a.insns = (uintptr_t)insns;
  a.insn_cnt = 2;
  a.license = (uintptr_t) "GPL";
  int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
  if (fd < 0 || ioctl(e->cfg.tap_fds[0], TUNSETSTEERINGEBPF, &fd) < 0) {
    snprintf(err, errlen, "%s: %s", fd < 0 ? "BPF_PROG_LOAD" : "TUNSETSTEERINGEBPF", strerror(errno));
    if (fd >= 0) close(fd);
    int zero = 0;
    setsockopt(e->socks[0], SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &zero, sizeof zero);
    return -1;
  }
  close(fd); // the TAP holds the program
  return 0;
}

static void set_nice(struct engine *e) {
  if (e->cfg.nice && setpriority(PRIO_PROCESS, (id_t)gettid(), e->cfg.nice) < 0) atomic_store(&e->nice_refused, 1);
  if (e->cfg.slice_us > 0) {
    struct sched_attr_v1 a = {.size = sizeof a, .sched_policy = 0 /* SCHED_OTHER */,
                              .sched_nice = e->cfg.nice, .sched_runtime = (uint64_t)e->cfg.slice_us * 1000};
    if (syscall(SYS_sched_setattr, 0, &a, 0) < 0) atomic_store(&e->slice_refused, 1);
  }
}

/** A thread's buffers for taking frames from the TAP: a batch of frames and what they become. */
struct tx_state {
  uint8_t *in;
  struct tx_batch b;
};

static bool tx_state_init(struct tx_state *st, int batch) {
  *st = (struct tx_state){.in = malloc((size_t)batch * FRAME_MAX),
                          .b = {.msgs = calloc(TX_MSGS, sizeof *st->b.msgs), .mm = calloc(TX_MSGS, sizeof *st->b.mm),
                                .iov = calloc(TX_IOVS, sizeof *st->b.iov), .hdrs = malloc(TX_HDRS)}};
  return st->in && st->b.msgs && st->b.mm && st->b.iov && st->b.hdrs;
}

static void tx_state_free(struct tx_state *st) {
  free(st->in);
  free(st->b.msgs);
  free(st->b.mm);
  free(st->b.iov);
  free(st->b.hdrs);
}

/**
 * Reads frames from the TAP until it is empty or a batch is full, and sends them as VXLAN to
 * the peers that own their destination MACs. The caller holds w->tx_lock and is inside a
 * peer-table section (t). Returns the number of frames read: the batch size means "more".
 */
static int tx_forward(struct worker *w, struct tx_state *st, struct peer_table *t) {
  struct engine *e = w->e;
  const bool vnet = e->cfg.vnet_hdr;
  const int batch = e->cfg.batch ? BATCH : 1;
  // without a virtio header, frames are read VXLAN_HLEN into their slot: room for the header
  const size_t room = vnet ? 0 : VXLAN_HLEN;
  struct tx_batch *b = &st->b;
  int f = 0;
  while (f < batch && b->nm < TX_MSGS && b->niov < TX_IOVS) {
    uint8_t *buf = st->in + (size_t)f * FRAME_MAX;
    ssize_t n = read(w->tap, buf + room, FRAME_MAX - room);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EBADFD || errno == EBADF) fail(e, "tx: read from the TAP device", errno);
      break;
    }
    f++;
    struct virtio_net_hdr vh = {0};
    uint8_t *frame = buf + room;
    size_t len = (size_t)n;
    if (vnet) {
      if (n < VNET_HLEN) {
        CNT(w, tx_drop_bad_frame, 1);
        continue;
      }
      memcpy(&vh, buf, sizeof vh);
      frame = buf + VNET_HLEN;
      len -= VNET_HLEN;
    }
    CNT(w, tx_frames, 1);
    if (len < 14) {
      CNT(w, tx_drop_bad_frame, 1);
      continue;
    }
    uint32_t ip = (frame[0] & 1) ? 0 : table_ip_for_mac(t, frame);
    if (!ip) {
      // broadcast/multicast (ARP, IPv6 ND) or a MAC no lease announces: the kernel VXLAN
      // device without learning and without a default FDB entry drops these too
      CNT(w, tx_drop_unknown_mac, 1);
      continue;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(e->cfg.port), .sin_addr.s_addr = ip};
    if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
      if (vh.gso_type != VIRTIO_NET_HDR_GSO_TCPV4 || !queue_tso(w, b, &to, frame, len, vh.gso_size)) CNT(w, tx_drop_bad_frame, 1);
      continue;
    }
    if (vnet && (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !complete_csum(frame, len, vh.csum_start, vh.csum_offset)) {
      CNT(w, tx_drop_bad_frame, 1);
      continue;
    }
    // the VXLAN header goes in front of the frame: over the virtio header (10 bytes), or
    // into the room the frame was read behind
    uint8_t *pkt = frame - VXLAN_HLEN;
    memcpy(pkt, e->vxh, VXLAN_HLEN);
    CNT(w, tx_packets, 1);
    b->iov[b->niov] = (struct iovec){pkt, len + VXLAN_HLEN};
    queue_msg(b, &to, b->niov++, 1, 0);
  }
  if (b->nm) send_all(w, b);
  return f;
}

static void *tx_loop(void *arg) {
  struct worker *w = arg;
  struct engine *e = w->e;
  pin(w->cpu);
  set_nice(e);
  const int batch = e->cfg.batch ? BATCH : 1;
  struct tx_state st;
  if (!tx_state_init(&st, batch)) {
    fail(e, "tx: allocating buffers", ENOMEM);
    goto out;
  }
  bool more = false; // the last batch was full: read again before polling
  while (more ? !stopping(e) : wait_readable(w, w->tap, "tx: TAP device")) {
    pthread_mutex_lock(w->tx_lock);
    struct peer_table *t = enter(w);
    more = tx_forward(w, &st, t) == batch;
    leave(w);
    pthread_mutex_unlock(w->tx_lock);
  }
out:
  tx_state_free(&st);
  return NULL;
}

static bool tap_write(struct worker *w, const struct iovec *iov, int n) {
  for (;;) {
    ssize_t r = writev(w->tap, iov, n);
    if (r >= 0) {
      CNT(w, rx_writes, 1);
      return true;
    }
    if (errno == EINTR) continue;
    CNT(w, rx_drop_write_error, 1);
    if (errno == EBADFD || errno == EBADF) { // detached: the device was deleted
      fail(w->e, "rx: write to the TAP device", errno);
      return false;
    }
    return true;
  }
}

static bool flush_coalesced(struct worker *w, struct coalescer *co) {
  int n = coalesce_finish(co);
  co->segs = 0;
  return tap_write(w, co->iov, n);
}

static void *rx_loop(void *arg) {
  struct worker *w = arg;
  struct engine *e = w->e;
  pin(w->cpu);
  set_nice(e);
  const bool vnet = e->cfg.vnet_hdr;
  const bool merge = vnet && e->cfg.coalesce;
  const int batch = e->cfg.batch ? BATCH : 1;
  uint8_t *bufs = malloc((size_t)batch * RECV_MAX);
  struct mmsghdr *mm = calloc((size_t)batch, sizeof *mm);
  struct iovec *iov = calloc((size_t)batch, sizeof *iov);
  struct sockaddr_in *from = calloc((size_t)batch, sizeof *from);
  union ctl {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } *ctl = calloc((size_t)batch, sizeof *ctl);
  struct coalescer co = {.mtu = e->cfg.mtu > 68 ? e->cfg.mtu : 1450};
  struct tx_state txs;
  if (!tx_state_init(&txs, batch) || !bufs || !mm || !iov || !from || !ctl) {
    fail(e, "rx: allocating buffers", ENOMEM);
    goto out;
  }
  const uint32_t want_vni = htonl(e->cfg.vni << 8);
  bool alive = true;
  bool more = false; // the last recvmmsg filled the batch: receive again before polling
  while (alive && (more ? !stopping(e) : wait_readable(w, w->sock, "rx: UDP socket"))) {
    for (int i = 0; i < batch; i++) {
      iov[i].iov_base = bufs + (size_t)i * RECV_MAX;
      iov[i].iov_len = RECV_MAX;
      memset(&mm[i], 0, sizeof mm[i]);
      mm[i].msg_hdr.msg_name = &from[i];
      mm[i].msg_hdr.msg_namelen = sizeof from[i];
      mm[i].msg_hdr.msg_iov = &iov[i];
      mm[i].msg_hdr.msg_iovlen = 1;
      if (e->udp_gro) {
        mm[i].msg_hdr.msg_control = ctl[i].buf;
        mm[i].msg_hdr.msg_controllen = sizeof ctl[i].buf;
      }
    }
    int n = recvmmsg(w->sock, mm, (unsigned)batch, MSG_DONTWAIT, NULL);
    more = n == batch;
    if (n <= 0) continue;
    struct peer_table *t = enter(w);
    co.segs = 0;
    for (int i = 0; i < n && alive; i++) {
      size_t len = mm[i].msg_len;
      size_t gso = len;
      if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) { // cannot happen below 64 KB; never forward a cut frame
        CNT(w, rx_drop_malformed, 1);
        continue;
      }
      for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mm[i].msg_hdr); cm; cm = CMSG_NXTHDR(&mm[i].msg_hdr, cm)) {
        if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
          int g;
          memcpy(&g, CMSG_DATA(cm), sizeof g);
          if (g > 0) gso = (size_t)g;
        }
      }
      size_t nseg = (len + gso - 1) / (gso ? gso : 1);
      CNT(w, rx_packets, nseg);
      CNT(w, rx_bytes, len);
      if (!table_has_ip(t, from[i].sin_addr.s_addr)) {
        CNT(w, rx_drop_unknown_source, nseg);
        continue;
      }
      uint8_t *base = iov[i].iov_base;
      for (size_t off = 0; off < len && alive; off += gso) {
        uint8_t *p = base + off;
        size_t plen = len - off < gso ? len - off : gso;
        uint32_t w0, w1;
        if (plen < VXLAN_HLEN + 14) {
          CNT(w, rx_drop_malformed, 1);
          continue;
        }
        memcpy(&w0, p, 4);
        memcpy(&w1, p + 4, 4);
        // flags: only I (VNI valid); reserved bits zero (RFC 7348), as the kernel insists
        if (w0 != htonl(0x08000000) || (ntohl(w1) & 0xff)) {
          CNT(w, rx_drop_malformed, 1);
          continue;
        }
        if (w1 != want_vni) {
          CNT(w, rx_drop_wrong_vni, 1);
          continue;
        }
        uint8_t *frame = p + VXLAN_HLEN;
        size_t flen = plen - VXLAN_HLEN;
        CNT(w, rx_frames, 1);
        if (merge) {
          if (co.segs && coalesce_add(&co, frame, flen)) {
            CNT(w, rx_coalesced, 1);
            continue;
          }
          if (co.segs) alive = flush_coalesced(w, &co);
          if (coalesce_candidate(frame, flen)) {
            coalesce_begin(&co, frame, flen);
            continue;
          }
        }
        struct virtio_net_hdr vh = {0};
        rx_checksum(frame, flen, vnet ? &vh : NULL);
        struct iovec out[2] = {{&vh, sizeof vh}, {frame, flen}};
        alive = alive && (vnet ? tap_write(w, out, 2) : tap_write(w, out + 1, 1));
      }
    }
    if (alive && co.segs) alive = flush_coalesced(w, &co);
    // What the TAP writes produced synchronously (a ping's reply, the TCP ACKs for the data
    // just delivered, the data a sender's window opened for) is already queued on the TAP:
    // send it now instead of waiting for the tx thread to be woken and scheduled, which on a
    // busy node is most of a round trip. The tx thread keeps locally started traffic; if it
    // holds the lock, it is at it already.
    if (alive && pthread_mutex_trylock(w->tx_lock) == 0) {
      CNT(w, tx_by_receiver, tx_forward(w, &txs, t));
      pthread_mutex_unlock(w->tx_lock);
    }
    leave(w);
  }
out:
  tx_state_free(&txs);
  free(bufs);
  free(mm);
  free(iov);
  free(from);
  free(ctl);
  return NULL;
}

static int open_socket(struct engine *e, int q, char *err, size_t errlen) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) {
    snprintf(err, errlen, "socket(AF_INET, SOCK_DGRAM): %s", strerror(errno));
    return -1;
  }
  int one = 1, big = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0) setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0) setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(e->cfg.port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
    snprintf(err, errlen, "bind UDP port %u (queue %d): %s", e->cfg.port, q, strerror(errno));
    close(s);
    return -1;
  }
  // Probe the offloads on the first socket; a kernel that refuses one gets plain datagrams.
  if (q == 0) {
    int probe = 1400; // the kernel wants an int, although the per-message cmsg is a u16
    e->udp_gso = e->cfg.batch && e->cfg.want_udp_gso && setsockopt(s, SOL_UDP, UDP_SEGMENT, &probe, sizeof probe) == 0;
    if (e->udp_gso) {
      probe = 0; // per-send size comes with each message
      setsockopt(s, SOL_UDP, UDP_SEGMENT, &probe, sizeof probe);
    }
    e->udp_gro = e->cfg.batch && e->cfg.want_udp_gro && setsockopt(s, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
  } else if (e->udp_gro) {
    setsockopt(s, SOL_UDP, UDP_GRO, &one, sizeof one);
  }
  return s;
}

int engine_start(const struct engine_config *cfg, struct engine **out, char *err, size_t errlen) {
  if (cfg->queues < 1 || cfg->queues > ENGINE_MAX_QUEUES) {
    snprintf(err, errlen, "queues must be 1..%d", ENGINE_MAX_QUEUES);
    return -1;
  }
  struct engine *e = calloc(1, sizeof *e);
  if (!e) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  e->cfg = *cfg;
  uint32_t w0 = htonl(0x08000000), w1 = htonl(cfg->vni << 8);
  memcpy(e->vxh, &w0, 4);
  memcpy(e->vxh + 4, &w1, 4);
  for (int q = 0; q < ENGINE_MAX_QUEUES; q++) {
    e->socks[q] = -1;
    pthread_mutex_init(&e->tx_locks[q], NULL);
  }
  e->stopfd = eventfd(0, EFD_CLOEXEC);
  atomic_store(&e->table, table_build(NULL, 0));
  if (e->stopfd < 0 || !atomic_load(&e->table)) {
    snprintf(err, errlen, "eventfd/table: %s", strerror(errno));
    engine_stop(e);
    return -1;
  }
  for (int q = 0; q < cfg->queues; q++) {
    e->socks[q] = open_socket(e, q, err, errlen);
    if (e->socks[q] < 0) {
      engine_stop(e);
      return -1;
    }
    int fl = fcntl(cfg->tap_fds[q], F_GETFL);
    if (fl < 0 || fcntl(cfg->tap_fds[q], F_SETFL, fl | O_NONBLOCK) < 0) {
      snprintf(err, errlen, "TAP fd %d (queue %d): %s", cfg->tap_fds[q], q, strerror(errno));
      engine_stop(e);
      return -1;
    }
  }
  // one queue has nothing to steer between: steering stays off, and that is no refusal
  if (cfg->steer_by_cpu && cfg->queues > 1) {
    e->cpu_steering = steer_by_cpu(e, e->steering_refused, sizeof e->steering_refused) == 0;
  }
  if (!e->cpu_steering) {
    // the TAP persists across daemons: drop a steering program an earlier engine left on it
    // (a kernel without TUNSETSTEERINGEBPF refuses the call, and has none to drop)
    int none = -1;
    ioctl(cfg->tap_fds[0], TUNSETSTEERINGEBPF, &none);
  }
  for (int q = 0; q < cfg->queues; q++) {
    for (int dir = 0; dir < 2; dir++) {
      struct worker *w = &e->workers[e->nworkers];
      w->cpu = e->cpu_steering ? q : -1;
      w->e = e;
      w->tap = cfg->tap_fds[q];
      w->sock = e->socks[q];
      w->tx_lock = &e->tx_locks[q];
      int rc = pthread_create(&w->thread, NULL, dir ? rx_loop : tx_loop, w);
      if (rc) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        engine_stop(e);
        return -1;
      }
      // named for top -H and for the tests that find them by name: twill-tx0, twill-rx0, ...
      char name[16];
      snprintf(name, sizeof name, "twill-%s%d", dir ? "rx" : "tx", q);
      pthread_setname_np(w->thread, name);
      w->started = true;
      e->nworkers++;
    }
  }
  *out = e;
  return 0;
}

int engine_set_peers(struct engine *e, const uint8_t *entries, size_t count) {
  struct peer_table *t = table_build(entries, count);
  if (!t) return -1;
  struct peer_table *old = atomic_exchange(&e->table, t);
  for (int i = 0; i < e->nworkers; i++) {
    uint64_t s = atomic_load(&e->workers[i].seq);
    // odd: inside a batch that may hold the old pointer; wait for it to end (microseconds)
    while ((s & 1) && atomic_load(&e->workers[i].seq) == s) {
      struct timespec ts = {0, 20000};
      nanosleep(&ts, NULL);
    }
  }
  table_free(old);
  atomic_fetch_add(&e->swaps, 1);
  return 0;
}

void engine_read_stats(struct engine *e, struct engine_stats *o) {
  memset(o, 0, sizeof *o);
  for (int i = 0; i < e->nworkers; i++) {
    struct counters *c = &e->workers[i].c;
#define SUM(f) o->f += atomic_load_explicit(&c->f, memory_order_relaxed)
    SUM(tx_frames); SUM(tx_by_receiver); SUM(tx_packets); SUM(tx_bytes); SUM(tx_sends); SUM(tx_gso_frames);
    SUM(tx_drop_unknown_mac); SUM(tx_drop_bad_frame); SUM(tx_drop_send_error);
    SUM(rx_packets); SUM(rx_bytes); SUM(rx_frames); SUM(rx_writes); SUM(rx_coalesced);
    SUM(rx_drop_malformed); SUM(rx_drop_wrong_vni); SUM(rx_drop_unknown_source); SUM(rx_drop_write_error);
#undef SUM
  }
  o->peer_swaps = atomic_load(&e->swaps);
}

void engine_read_info(struct engine *e, struct engine_info *o) {
  o->udp_gso = e->udp_gso;
  o->udp_gro = e->udp_gro;
  o->threads = e->nworkers;
  o->nice = atomic_load(&e->nice_refused) ? 0 : e->cfg.nice;
  o->slice_us = atomic_load(&e->slice_refused) ? 0 : e->cfg.slice_us;
  o->cpu_steering = e->cpu_steering;
  snprintf(o->steering_refused, sizeof o->steering_refused, "%s", e->steering_refused);
}

const char *engine_failure(struct engine *e) { return atomic_load(&e->failure); }

void engine_stop(struct engine *e) {
  if (!e) return;
  atomic_store(&e->stop, true);
  if (e->stopfd >= 0) {
    uint64_t one = 1;
    if (write(e->stopfd, &one, sizeof one) < 0) { /* the threads still see POLLIN from a prior write */ }
  }
  for (int i = 0; i < e->nworkers; i++) {
    if (e->workers[i].started) pthread_join(e->workers[i].thread, NULL);
  }
  for (int q = 0; q < ENGINE_MAX_QUEUES; q++) {
    if (e->socks[q] >= 0) close(e->socks[q]);
  }
  if (e->stopfd >= 0) close(e->stopfd);
  for (int q = 0; q < ENGINE_MAX_QUEUES; q++) pthread_mutex_destroy(&e->tx_locks[q]);
  table_free(atomic_load(&e->table));
  free(atomic_load(&e->failure));
  free(e);
}
