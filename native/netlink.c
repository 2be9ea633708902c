// twill_netlink: the few system calls Node cannot make, so the CNI plugin and the daemon can
// talk rtnetlink in-process instead of spawning `ip`. Every message is built and parsed in
// TypeScript (lib/kernel/netlink/), this file only moves bytes:
//   socketIn(nsPath | null) -> fd   a NETLINK_ROUTE socket bound to that network namespace
//   transact(fd, requests, stopOnError) -> Buffer   send each request, collect its replies
//   transactBatch(fd, requests) -> Buffer   many requests per sendmsg; only failures and the
//     last request of each send are acknowledged, so thousands of entries cost a few syscalls
//   subscribe(nsPath | null, groups, callback, filter?) -> id   RTNLGRP_* multicast events, read
//     on a thread of ours and handed to `callback(Buffer | null, errno)` on the JS thread;
//     `filter` (classic BPF, [code, jt, jf, k] flattened) drops messages in the kernel
//   unsubscribe(id)
//   openIn(nsPath, path, writable) -> fd   a file opened from inside that namespace: a
//     /proc/sys/net file names the sysctl of the namespace it was opened in, for its life
//   close(fd)
//   pageOutExecutable() -> bytes   hands the executable's resident file pages back to the
//     kernel (MADV_PAGEOUT): what start-up touched once stops counting as the daemon's memory,
//     and the pages it still uses fault back in from the page cache
//   limitMallocArenas(n) -> bool   mallopt(M_ARENA_MAX, n): threads share n C heaps instead of
//     one each, whose freed memory glibc keeps per arena
//   trimMalloc() -> bool   malloc_trim(0): the C heap's free memory (the buffers of a big dump
//     or batch, grpc's) goes back to the kernel instead of waiting in glibc's arenas
// N-API only, so one build runs on any Node >= 18 and needs no node-gyp.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <node_api.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

// Throws an Error whose message names the step and whose `errno` property is the number.
static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[8400];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value text, error, num;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, NULL, text, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_throw(env, error);
  return NULL;
}

// Reads a string argument into buf; false (with a TypeError thrown) when it is not one or too long.
static bool get_path(napi_env env, napi_value v, char *buf, size_t size, const char *what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok || len >= size - 1) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a string shorter than %zu bytes", what, size - 1);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  return true;
}

// The one int32 argument of a call; false (with a TypeError naming the usage) when it is missing.
static bool int32_arg(napi_env env, napi_callback_info info, int32_t *out, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], out) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return false;
  }
  return true;
}

// setns(CLONE_NEWNET) affects the calling thread only, which is why the way back uses the
// thread's own namespace file, opened first. Returns that file (to leave_ns), or -1 with
// the error thrown.
static int enter_ns(napi_env env, const char *caller, const char *path) {
  char what[4200];
  int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own < 0) {
    snprintf(what, sizeof what, "%s: open /proc/thread-self/ns/net", caller);
    throw_errno(env, what, errno);
    return -1;
  }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(own);
    snprintf(what, sizeof what, "%s: open %s", caller, path);
    throw_errno(env, what, err);
    return -1;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    int err = errno;
    close(own);
    close(target);
    snprintf(what, sizeof what, "%s: setns %s", caller, path);
    throw_errno(env, what, err);
    return -1;
  }
  close(target);
  return own;
}

static void leave_ns(int own) {
  // Staying in the pod's namespace would make every later socket, file and child of this
  // thread land there: there is no safe way to go on.
  if (setns(own, CLONE_NEWNET) < 0) {
    fprintf(stderr, "twill_netlink: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
  close(own);
}

// A socket belongs to the namespace it was created in for its whole life, so entering the
// target namespace only for socket() is enough.
static napi_value socket_in(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4096] = "";
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    if (!get_path(env, argv[0], path, sizeof path, "socketIn: namespace path")) return NULL;
  } else if (t != napi_null && t != napi_undefined) {
    napi_throw_type_error(env, NULL, "socketIn: namespace path must be a string or null");
    return NULL;
  }

  int own = -1, fd = -1, err = 0;
  if (path[0]) {
    own = enter_ns(env, "socketIn", path);
    if (own < 0) return NULL;
  }
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  err = fd < 0 ? errno : 0;
  if (own >= 0) leave_ns(own);
  if (fd < 0) return throw_errno(env, "socketIn: socket(AF_NETLINK)", err);
  int one = 1;
  // Extended acks carry the kernel's own reason ("Unknown device type"); capped acks do not
  // echo the whole request back with every error.
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    err = errno;
    close(fd);
    return throw_errno(env, "socketIn: bind", err);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// The kernel resolves /proc/sys/net/... by the opening thread's network namespace, and the
// open file keeps pointing at that namespace's value, so the write can happen back home
// (with Node's own fs.writeSync on the returned fd).
static napi_value open_in(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char ns[4096], path[4096];
  bool writable = false;
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "openIn(nsPath, path, writable)");
    return NULL;
  }
  if (!get_path(env, argv[0], ns, sizeof ns, "openIn: namespace path")) return NULL;
  if (!get_path(env, argv[1], path, sizeof path, "openIn: path")) return NULL;
  if (argc >= 3) napi_get_value_bool(env, argv[2], &writable);
  int own = enter_ns(env, "openIn", ns);
  if (own < 0) return NULL;
  int fd = open(path, (writable ? O_WRONLY : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
  int err = fd < 0 ? errno : 0;
  leave_ns(own);
  if (fd < 0) {
    char what[8300];
    snprintf(what, sizeof what, "openIn: open %s in %s", path, ns);
    return throw_errno(env, what, err);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

struct growbuf {
  char *data;
  size_t len, cap;
};

static int grow(struct growbuf *b, size_t need) {
  if (b->len + need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 16384;
  while (cap < b->len + need) cap *= 2;
  char *d = realloc(b->data, cap);
  if (!d) return -1;
  b->data = d;
  b->cap = cap;
  return 0;
}

// Receives until the reply that ends request `seq` (an ack/error, or DONE for a dump) has
// arrived: callers set NLM_F_ACK on every request that is not a dump, so one always comes; everything received is appended to `out`. Returns the kernel's error for that
// request (0 = success), or -1 with errno set on a socket failure.
static int await_reply(int fd, uint32_t seq, struct growbuf *out, int *kernel_err) {
  for (;;) {
    ssize_t n = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (grow(out, (size_t)n) < 0) {
      errno = ENOMEM;
      return -1;
    }
    char *start = out->data + out->len;
    n = recv(fd, start, (size_t)n, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    out->len += (size_t)n;
    int done = 0;
    for (struct nlmsghdr *h = (struct nlmsghdr *)start; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        *kernel_err = h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) ? -e->error : EPROTO;
        done = 1;
      } else if (h->nlmsg_type == NLMSG_DONE) {
        // A dump's DONE carries its error, if any, as an int.
        int *e = NLMSG_DATA(h);
        *kernel_err = h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) ? -*e : 0;
        done = 1;
      }
    }
    if (done) return 0;
  }
}

// Each request goes out on its own and waits for its answer before the next is sent, so a
// failure stops the sequence exactly where `ip -batch` would (the kernel itself would go on
// with the rest of a multi-message send). A round trip costs a few microseconds.
static napi_value transact(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  void *req;
  size_t req_len;
  bool stop_on_error = true;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &req, &req_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "transact(fd, Buffer, stopOnError)");
    return NULL;
  }
  if (argc >= 3) napi_get_value_bool(env, argv[2], &stop_on_error);

  struct growbuf out = {0};
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  size_t off = 0;
  while (off + sizeof(struct nlmsghdr) <= req_len) {
    struct nlmsghdr *h = (struct nlmsghdr *)((char *)req + off);
    if (h->nlmsg_len < sizeof(struct nlmsghdr) || off + h->nlmsg_len > req_len) {
      free(out.data);
      napi_throw_range_error(env, NULL, "transact: malformed request buffer");
      return NULL;
    }
    ssize_t sent;
    do sent = sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
    while (sent < 0 && errno == EINTR);
    int kerr = 0;
    if (sent < 0 || await_reply(fd, h->nlmsg_seq, &out, &kerr) < 0) {
      int err = errno;
      free(out.data);
      return throw_errno(env, sent < 0 ? "transact: sendto" : "transact: recv", err);
    }
    off += NLMSG_ALIGN(h->nlmsg_len);
    if (kerr && stop_on_error) break;
  }
  napi_value result;
  void *copy;
  napi_create_buffer_copy(env, out.len, out.data ? out.data : "", &copy, &result);
  free(out.data);
  return result;
}

// One send carries at most this much (the kernel refuses a send above its socket's sndbuf,
// 208 KiB by default), and the receive buffer is made big enough for the errors of a send.
#define BATCH_CHUNK (64 * 1024)
#define BATCH_RCVBUF (8 * 1024 * 1024)

// The kernel runs every message of one send in order and answers each failure (nlmsgerr)
// whatever its flags; NLM_F_ACK on the last message of each send makes one success answer
// that says "all of this send is done". The caller decodes failures by sequence number.
static napi_value transact_batch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  void *req;
  size_t req_len;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &req, &req_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "transactBatch(fd, Buffer)");
    return NULL;
  }
  int rcvbuf = BATCH_RCVBUF;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);

  struct growbuf out = {0};
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  size_t off = 0;
  while (off + sizeof(struct nlmsghdr) <= req_len) {
    size_t start = off, end = off;
    struct nlmsghdr *last = NULL;
    while (end + sizeof(struct nlmsghdr) <= req_len) {
      struct nlmsghdr *h = (struct nlmsghdr *)((char *)req + end);
      if (h->nlmsg_len < sizeof(struct nlmsghdr) || end + h->nlmsg_len > req_len) {
        free(out.data);
        napi_throw_range_error(env, NULL, "transactBatch: malformed request buffer");
        return NULL;
      }
      size_t next = end + NLMSG_ALIGN(h->nlmsg_len);
      if (last && next - start > BATCH_CHUNK) break;
      last = h;
      end = next > req_len ? req_len : next;
    }
    last->nlmsg_flags |= NLM_F_ACK;
    ssize_t sent;
    do sent = sendto(fd, (char *)req + start, end - start, 0, (struct sockaddr *)&kernel, sizeof kernel);
    while (sent < 0 && errno == EINTR);
    int kerr = 0;
    if (sent < 0 || await_reply(fd, last->nlmsg_seq, &out, &kerr) < 0) {
      int err = errno;
      free(out.data);
      return throw_errno(env, sent < 0 ? "transactBatch: sendto" : "transactBatch: recv", err);
    }
    off = end;
  }
  napi_value result;
  void *copy;
  napi_create_buffer_copy(env, out.len, out.data ? out.data : "", &copy, &result);
  free(out.data);
  return result;
}

// A subscription: a socket joined to multicast groups, a thread blocked in poll() on it and
// on a pipe (written to stop it), and a thread-safe function that runs the JS callback.
struct sub {
  int fd, stop_w, stop_r, id;
  pthread_t thread;
  napi_threadsafe_function tsfn;
  struct sub *next;
};
struct chunk {
  char *data;
  size_t len;
  int err;
};
static struct sub *subs = NULL;
static int next_sub_id = 1;

// Runs on the JS thread: hands the bytes over (or null and the errno of a lost stream).
static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  (void)ctx;
  struct chunk *c = data;
  if (env && cb) {
    napi_value argv[2], undef;
    napi_get_undefined(env, &undef);
    if (c->data) {
      void *copy;
      napi_create_buffer_copy(env, c->len, c->data, &copy, &argv[0]);
    } else {
      napi_get_null(env, &argv[0]);
    }
    napi_create_int32(env, c->err, &argv[1]);
    napi_call_function(env, undef, cb, 2, argv, NULL);
  }
  free(c->data);
  free(c);
}

// Drains whatever is queued into one chunk per wake-up: one JS call for a burst of events
// (the daemon's own batch writes cause thousands) instead of one per message.
static void *sub_thread(void *arg) {
  struct sub *s = arg;
  const size_t cap = 256 * 1024;
  char *scratch = malloc(cap);
  while (scratch) {
    struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->stop_r, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    size_t len = 0;
    int err = 0;
    while (len + 65536 <= cap) {
      ssize_t n = recv(s->fd, scratch + len, 65536, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno; // ENOBUFS: events were lost
        break;
      }
      len += (size_t)n;
    }
    if (len == 0 && err == 0) continue;
    // what was read, exactly: a queue of chunks waiting for a busy JS thread costs only that
    struct chunk *c = calloc(1, sizeof *c);
    if (!c) break;
    c->err = err;
    c->len = len;
    if (len) {
      c->data = malloc(len);
      if (!c->data) { free(c); break; }
      memcpy(c->data, scratch, len);
    }
    if (napi_call_threadsafe_function(s->tsfn, c, napi_tsfn_blocking) != napi_ok) {
      free(c->data);
      free(c);
      break;
    }
  }
  free(scratch);
  napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  return NULL;
}

static napi_value subscribe(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4096] = "";
  napi_valuetype t = napi_undefined;
  bool is_array = false, has_filter = false;
  if (argc >= 4) napi_is_array(env, argv[3], &has_filter);
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (argc >= 2) napi_is_array(env, argv[1], &is_array);
  napi_valuetype cbt = napi_undefined;
  if (argc >= 3) napi_typeof(env, argv[2], &cbt);
  if (argc < 3 || !is_array || cbt != napi_function || (t != napi_string && t != napi_null && t != napi_undefined)) {
    napi_throw_type_error(env, NULL, "subscribe(nsPath | null, groups: number[], callback, filter?: number[])");
    return NULL;
  }
  if (t == napi_string && !get_path(env, argv[0], path, sizeof path, "subscribe: namespace path")) return NULL;
  int own = -1;
  if (path[0]) {
    own = enter_ns(env, "subscribe", path);
    if (own < 0) return NULL;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int err = fd < 0 ? errno : 0;
  if (own >= 0) leave_ns(own);
  if (fd < 0) return throw_errno(env, "subscribe: socket(AF_NETLINK)", err);
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    err = errno;
    close(fd);
    return throw_errno(env, "subscribe: bind", err);
  }
  int rcvbuf = BATCH_RCVBUF;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  uint32_t n = 0;
  napi_get_array_length(env, argv[1], &n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    int32_t group = 0;
    napi_get_element(env, argv[1], i, &v);
    if (napi_get_value_int32(env, v, &group) != napi_ok || group <= 0) {
      close(fd);
      napi_throw_type_error(env, NULL, "subscribe: groups must be positive numbers (RTNLGRP_*)");
      return NULL;
    }
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
      err = errno;
      close(fd);
      return throw_errno(env, "subscribe: NETLINK_ADD_MEMBERSHIP", err);
    }
  }
  if (has_filter) {
    uint32_t len = 0;
    napi_get_array_length(env, argv[3], &len);
    if (len == 0 || len % 4 != 0 || len / 4 > 256) {
      close(fd);
      napi_throw_range_error(env, NULL, "subscribe: filter must be [code, jt, jf, k] quadruples, at most 256");
      return NULL;
    }
    struct sock_filter prog[256];
    for (uint32_t i = 0; i < len; i++) {
      napi_value v;
      uint32_t x = 0;
      napi_get_element(env, argv[3], i, &v);
      napi_get_value_uint32(env, v, &x);
      struct sock_filter *ins = &prog[i / 4];
      switch (i % 4) {
        case 0: ins->code = (uint16_t)x; break;
        case 1: ins->jt = (uint8_t)x; break;
        case 2: ins->jf = (uint8_t)x; break;
        default: ins->k = x;
      }
    }
    struct sock_fprog fprog = {.len = (unsigned short)(len / 4), .filter = prog};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0) {
      err = errno;
      close(fd);
      return throw_errno(env, "subscribe: SO_ATTACH_FILTER", err);
    }
  }
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) {
    err = errno;
    close(fd);
    return throw_errno(env, "subscribe: pipe", err);
  }
  struct sub *s = calloc(1, sizeof *s);
  s->fd = fd;
  s->stop_r = pipefd[0];
  s->stop_w = pipefd[1];
  s->id = next_sub_id++;
  napi_value name;
  napi_create_string_utf8(env, "twill_netlink.subscribe", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &s->tsfn) != napi_ok) {
    close(fd); close(pipefd[0]); close(pipefd[1]); free(s);
    napi_throw_error(env, NULL, "subscribe: cannot create the thread-safe function");
    return NULL;
  }
  // an idle subscription must not keep the process alive
  napi_unref_threadsafe_function(env, s->tsfn);
  if ((err = pthread_create(&s->thread, NULL, sub_thread, s)) != 0) {
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    close(fd); close(pipefd[0]); close(pipefd[1]); free(s);
    return throw_errno(env, "subscribe: pthread_create", err);
  }
  s->next = subs;
  subs = s;
  napi_value out;
  napi_create_int32(env, s->id, &out);
  return out;
}

static napi_value unsubscribe(napi_env env, napi_callback_info info) {
  int32_t id;
  if (!int32_arg(env, info, &id, "unsubscribe(id)")) return NULL;
  for (struct sub **pp = &subs; *pp; pp = &(*pp)->next) {
    struct sub *s = *pp;
    if (s->id != id) continue;
    *pp = s->next;
    char one = 1;
    ssize_t w;
    do w = write(s->stop_w, &one, 1);
    while (w < 0 && errno == EINTR);
    pthread_join(s->thread, NULL);
    close(s->fd);
    close(s->stop_r);
    close(s->stop_w);
    free(s);
    return NULL;
  }
  return NULL;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!int32_arg(env, info, &fd, "close(fd)")) return NULL;
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

// Every mapping of /proc/self/exe in /proc/self/maps gets MADV_PAGEOUT. The pages are clean
// (code and read-only data of the file), so nothing is written anywhere; the kernel only
// takes them out of this process's resident set. Returns the bytes advised.
static napi_value page_out_executable(napi_env env, napi_callback_info info) {
  (void)info;
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) return throw_errno(env, "readlink /proc/self/exe", errno);
  exe[n] = 0;
  FILE *maps = fopen("/proc/self/maps", "re");
  if (!maps) return throw_errno(env, "open /proc/self/maps", errno);
  char line[4096 + 256];
  double bytes = 0;
  int err = 0;
  while (fgets(line, sizeof line, maps)) {
    unsigned long start, end;
    int path_at = 0;
    // start-end perms offset dev inode path
    if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &start, &end, &path_at) < 2 || path_at == 0) continue;
    char *path = line + path_at;
    path[strcspn(path, "\n")] = 0;
    if (strcmp(path, exe) != 0) continue;
    if (madvise((void *)start, end - start, MADV_PAGEOUT) < 0) {
      err = errno;
      break;
    }
    bytes += (double)(end - start);
  }
  fclose(maps);
  if (err) return throw_errno(env, "madvise MADV_PAGEOUT", err);
  napi_value out;
  napi_create_double(env, bytes, &out);
  return out;
}

static napi_value trim_malloc(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_get_boolean(env, malloc_trim(0) != 0, &out);
  return out;
}

static napi_value limit_malloc_arenas(napi_env env, napi_callback_info info) {
  int32_t n;
  if (!int32_arg(env, info, &n, "limitMallocArenas(n >= 1)")) return NULL;
  if (n < 1) {
    napi_throw_range_error(env, NULL, "limitMallocArenas(n >= 1)");
    return NULL;
  }
  napi_value out;
  napi_get_boolean(env, mallopt(M_ARENA_MAX, n) == 1, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"socketIn", NULL, socket_in, NULL, NULL, NULL, napi_default, NULL},
      {"transact", NULL, transact, NULL, NULL, NULL, napi_default, NULL},
      {"transactBatch", NULL, transact_batch, NULL, NULL, NULL, napi_default, NULL},
      {"subscribe", NULL, subscribe, NULL, NULL, NULL, napi_default, NULL},
      {"unsubscribe", NULL, unsubscribe, NULL, NULL, NULL, napi_default, NULL},
      {"openIn", NULL, open_in, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
      {"pageOutExecutable", NULL, page_out_executable, NULL, NULL, NULL, napi_default, NULL},
      {"trimMalloc", NULL, trim_malloc, NULL, NULL, NULL, napi_default, NULL},
      {"limitMallocArenas", NULL, limit_malloc_arenas, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
