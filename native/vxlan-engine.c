// The userspace VXLAN engine's threads. Per TAP queue there are two: one takes frames from
// the TAP and sends them as VXLAN-in-UDP to the peer that owns the destination MAC (what the
// kernel VXLAN device does with its FDB), one receives VXLAN from its UDP socket (SO_REUSEPORT,
// one socket per queue) and writes the inner frames to the TAP. JavaScript only swaps the
// peer table and reads counters; no packet ever crosses into it.
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
#define SEG_BUF (96 * 1024)
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65000      /* UDP payload of one GSO send, under the 64 KB datagram limit */
#define TX_MSGS 512
#define VNET_HLEN ((int)sizeof(struct virtio_net_hdr))



// Each counter has one writer (its thread); readers sum them racily but atomically per word.
#define CNT(t, f, n) atomic_store_explicit(&(t)->c.f, atomic_load_explicit(&(t)->c.f, memory_order_relaxed) + (n), memory_order_relaxed)
struct counters {
  _Atomic uint64_t tx_frames, tx_packets, tx_bytes, tx_sends, tx_gso_frames;
  _Atomic uint64_t tx_drop_unknown_mac, tx_drop_bad_frame, tx_drop_send_error;
  _Atomic uint64_t rx_packets, rx_bytes, rx_frames, rx_writes, rx_coalesced;
  _Atomic uint64_t rx_drop_malformed, rx_drop_wrong_vni, rx_drop_unknown_source, rx_drop_write_error;
};

struct worker {
  struct engine *e;
  pthread_t thread;
  bool started;
  int tap, sock;
  _Atomic uint64_t seq;
  struct counters c;
};

struct engine {
  struct engine_config cfg;
  int stopfd;
  int socks[ENGINE_MAX_QUEUES];
  bool udp_gso, udp_gro;
  int nworkers;
  struct worker workers[2 * ENGINE_MAX_QUEUES];
  _Atomic(struct peer_table *) table;
  _Atomic(char *) failure;
  _Atomic uint64_t swaps;
  _Atomic int nice_refused, slice_refused;
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
  struct iovec iov;
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctl;
};

// Sends msgs[0..n) with sendmmsg, resuming after partial sends; a message the kernel refuses
// (no route, ICMP-unreachable feedback) is counted and skipped.
static void send_all(struct worker *w, struct mmsghdr *mm, int n) {
  int i = 0;
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

static void set_nice(struct engine *e) {
  if (e->cfg.nice && setpriority(PRIO_PROCESS, (id_t)gettid(), e->cfg.nice) < 0) atomic_store(&e->nice_refused, 1);
  if (e->cfg.slice_us > 0) {
    struct sched_attr_v1 a = {.size = sizeof a, .sched_policy = 0 /* SCHED_OTHER */,
                              .sched_nice = e->cfg.nice, .sched_runtime = (uint64_t)e->cfg.slice_us * 1000};
    if (syscall(SYS_sched_setattr, 0, &a, 0) < 0) atomic_store(&e->slice_refused, 1);
  }
}

static void *tx_loop(void *arg) {
  struct worker *w = arg;
  struct engine *e = w->e;
  set_nice(e);
  const bool vnet = e->cfg.vnet_hdr;
  const int batch = e->cfg.batch ? BATCH : 1;
  uint8_t *in = malloc((size_t)batch * FRAME_MAX);
  uint8_t *seg = malloc((size_t)batch * SEG_BUF);
  struct tx_msg *msgs = calloc(TX_MSGS, sizeof *msgs);
  struct mmsghdr *mm = calloc(TX_MSGS, sizeof *mm);
  if (!in || !seg || !msgs || !mm) {
    fail(e, "tx: allocating buffers", ENOMEM);
    goto out;
  }
  while (wait_readable(w, w->tap, "tx: TAP device")) {
    struct peer_table *t = enter(w);
    int nm = 0;
    for (int f = 0; f < batch && nm < TX_MSGS; f++) {
      uint8_t *buf = in + (size_t)f * FRAME_MAX;
      ssize_t n = read(w->tap, buf, FRAME_MAX);
      if (n < 0) {
        if (errno == EINTR) {
          f--;
          continue;
        }
        if (errno == EBADFD || errno == EBADF) fail(e, "tx: read from the TAP device", errno);
        break;
      }
      struct virtio_net_hdr vh = {0};
      uint8_t *frame = buf;
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
        size_t seg_len = 0, total = 0;
        uint8_t *out = seg + (size_t)f * SEG_BUF;
        int ns = vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4
                     ? segment_tcp4(frame, len, vh.gso_size, e->vxh, out, SEG_BUF, &seg_len, &total)
                     : 0;
        if (!ns) {
          CNT(w, tx_drop_bad_frame, 1);
          continue;
        }
        int per = e->udp_gso ? (int)(GSO_MAX_BYTES / seg_len) : 1;
        if (per > GSO_MAX_SEGS) per = GSO_MAX_SEGS;
        int need = (ns + per - 1) / per;
        if (need > TX_MSGS) {
          CNT(w, tx_drop_bad_frame, 1); // a tiny MSS without UDP GSO: more datagrams than one batch holds
          continue;
        }
        if (nm + need > TX_MSGS) {
          send_all(w, mm, nm); // the queued messages point into earlier slots, still intact
          nm = 0;
        }
        CNT(w, tx_gso_frames, 1);
        CNT(w, tx_packets, ns);
        for (int s = 0; s < ns; s += per) {
          int cnt = ns - s < per ? ns - s : per;
          size_t bytes = s + cnt == ns ? total - (size_t)s * seg_len : (size_t)cnt * seg_len;
          struct tx_msg *m = &msgs[nm];
          m->to = to;
          m->iov.iov_base = out + (size_t)s * seg_len;
          m->iov.iov_len = bytes;
          memset(&mm[nm], 0, sizeof mm[nm]);
          mm[nm].msg_hdr.msg_name = &m->to;
          mm[nm].msg_hdr.msg_namelen = sizeof m->to;
          mm[nm].msg_hdr.msg_iov = &m->iov;
          mm[nm].msg_hdr.msg_iovlen = 1;
          if (cnt > 1) {
            mm[nm].msg_hdr.msg_control = m->ctl.buf;
            mm[nm].msg_hdr.msg_controllen = sizeof m->ctl.buf;
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mm[nm].msg_hdr);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t gso = (uint16_t)seg_len;
            memcpy(CMSG_DATA(cm), &gso, sizeof gso);
          }
          nm++;
        }
        continue;
      }
      if (vnet && (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !complete_csum(frame, len, vh.csum_start, vh.csum_offset)) {
        CNT(w, tx_drop_bad_frame, 1);
        continue;
      }
      // the VXLAN header goes in front of the frame, over the virtio header's room (or, with
      // no virtio header, into the slot's spare room at the start of the segment buffer)
      uint8_t *pkt;
      if (vnet) {
        pkt = frame - VXLAN_HLEN;
      } else {
        pkt = seg + (size_t)f * SEG_BUF;
        memcpy(pkt + VXLAN_HLEN, frame, len);
      }
      memcpy(pkt, e->vxh, VXLAN_HLEN);
      CNT(w, tx_packets, 1);
      struct tx_msg *m = &msgs[nm];
      m->to = to;
      m->iov.iov_base = pkt;
      m->iov.iov_len = len + VXLAN_HLEN;
      memset(&mm[nm], 0, sizeof mm[nm]);
      mm[nm].msg_hdr.msg_name = &m->to;
      mm[nm].msg_hdr.msg_namelen = sizeof m->to;
      mm[nm].msg_hdr.msg_iov = &m->iov;
      mm[nm].msg_hdr.msg_iovlen = 1;
      nm++;
    }
    leave(w);
    if (nm) send_all(w, mm, nm);
  }
out:
  free(in);
  free(seg);
  free(msgs);
  free(mm);
  return NULL;
}

static bool tap_write(struct worker *w, const void *hdr, size_t hlen, const uint8_t *frame, size_t len) {
  struct iovec iov[2] = {{(void *)hdr, hlen}, {(void *)frame, len}};
  for (;;) {
    ssize_t r = hlen ? writev(w->tap, iov, 2) : write(w->tap, frame, len);
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

static void *rx_loop(void *arg) {
  struct worker *w = arg;
  struct engine *e = w->e;
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
  struct coalescer co = {.buf = malloc(FRAME_MAX + 64), .mtu = e->cfg.mtu > 68 ? e->cfg.mtu : 1450};
  if (!bufs || !mm || !iov || !from || !ctl || !co.buf) {
    fail(e, "rx: allocating buffers", ENOMEM);
    goto out;
  }
  const uint32_t want_vni = htonl(e->cfg.vni << 8);
  bool alive = true;
  while (alive && wait_readable(w, w->sock, "rx: UDP socket")) {
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
          if (co.segs) {
            size_t out = coalesce_finish(&co);
            alive = tap_write(w, NULL, 0, co.buf, out);
            co.segs = 0;
          }
          if (coalesce_candidate(frame, flen)) {
            coalesce_begin(&co, frame, flen);
            continue;
          }
        }
        struct virtio_net_hdr vh = {0};
        rx_checksum(frame, flen, vnet ? &vh : NULL);
        alive = alive && tap_write(w, vnet ? &vh : NULL, vnet ? sizeof vh : 0, frame, flen);
      }
    }
    if (alive && co.segs) {
      size_t out = coalesce_finish(&co);
      alive = tap_write(w, NULL, 0, co.buf, out);
      co.segs = 0;
    }
    leave(w);
  }
out:
  free(bufs);
  free(mm);
  free(iov);
  free(from);
  free(ctl);
  free(co.buf);
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
  for (int q = 0; q < ENGINE_MAX_QUEUES; q++) e->socks[q] = -1;
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
  for (int q = 0; q < cfg->queues; q++) {
    for (int dir = 0; dir < 2; dir++) {
      struct worker *w = &e->workers[e->nworkers];
      w->e = e;
      w->tap = cfg->tap_fds[q];
      w->sock = e->socks[q];
      int rc = pthread_create(&w->thread, NULL, dir ? rx_loop : tx_loop, w);
      if (rc) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        engine_stop(e);
        return -1;
      }
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
    SUM(tx_frames); SUM(tx_packets); SUM(tx_bytes); SUM(tx_sends); SUM(tx_gso_frames);
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
}

const char *engine_failure(struct engine *e) { return atomic_load(&e->failure); }

void engine_stop(struct engine *e) {
  if (!e) return;
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
  table_free(atomic_load(&e->table));
  free(atomic_load(&e->failure));
  free(e);
}
