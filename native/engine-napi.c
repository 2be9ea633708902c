// N-API face of the userspace VXLAN engine (vxlan-engine.c):
//   engineStart({tapFds, port, vni, vnetHdr, batch, udpGso, udpGro, coalesce, cpuSteering, netns}) -> handle
//   engineSetPeers(handle, Buffer of 12-byte entries: MAC, 2 pad, IPv4)   atomic swap
//   engineStats(handle) -> {counters..., udpGso, udpGro, threads, cpuSteering, cpuSteeringRefused, failure}
//   engineStop(handle)    joins the threads; the TAP fds stay open (the caller's)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "napi-util.h"
#include "vxlan-engine.h"

struct handle {
  struct engine *e;
};

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct handle *h = data;
  engine_stop(h->e); // a handle dropped without engineStop must not leave threads behind
  free(h);
}

static struct handle *get_handle(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "not an engine handle");
    return NULL;
  }
  struct handle *h = p;
  if (!h->e) {
    napi_throw_error(env, "ESTOPPED", "the engine was stopped");
    return NULL;
  }
  return h;
}

static napi_value engine_start_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_object) {
    napi_throw_type_error(env, NULL, "engineStart(options)");
    return NULL;
  }
  struct engine_config cfg;
  memset(&cfg, 0, sizeof cfg);
  napi_value fds;
  bool isArray = false;
  uint32_t n = 0;
  if (napi_get_named_property(env, argv[0], "tapFds", &fds) != napi_ok || napi_is_array(env, fds, &isArray) != napi_ok ||
      !isArray || napi_get_array_length(env, fds, &n) != napi_ok || n < 1 || n > ENGINE_MAX_QUEUES) {
    napi_throw_type_error(env, NULL, "engineStart: tapFds must be an array of 1..16 fds");
    return NULL;
  }
  cfg.queues = (int)n;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_get_element(env, fds, i, &v);
    if (napi_get_value_int32(env, v, &cfg.tap_fds[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "engineStart: tapFds must hold integers");
      return NULL;
    }
  }
  int32_t port = get_int(env, argv[0], "port", 8472);
  int32_t vni = get_int(env, argv[0], "vni", 1);
  if (port < 1 || port > 65535 || vni < 0 || vni > 0xffffff) {
    napi_throw_range_error(env, NULL, "engineStart: port must be 1..65535 and vni 0..16777215");
    return NULL;
  }
  cfg.port = (uint16_t)port;
  cfg.vni = (uint32_t)vni;
  cfg.vnet_hdr = get_bool(env, argv[0], "vnetHdr", false);
  cfg.batch = get_bool(env, argv[0], "batch", true);
  cfg.want_udp_gso = get_bool(env, argv[0], "udpGso", true);
  cfg.want_udp_gro = get_bool(env, argv[0], "udpGro", true);
  cfg.coalesce = get_bool(env, argv[0], "coalesce", true);
  cfg.mtu = get_int(env, argv[0], "mtu", 1450);
  cfg.nice = get_int(env, argv[0], "nice", 0);
  cfg.slice_us = get_int(env, argv[0], "sliceUs", 0);
  cfg.steer_by_cpu = get_bool(env, argv[0], "cpuSteering", false);
  if (cfg.nice < -20 || cfg.nice > 19) {
    napi_throw_range_error(env, NULL, "engineStart: nice must be -20..19");
    return NULL;
  }

  // The UDP sockets belong to the namespace they are created in: with `netns`, the engine
  // starts inside it (this thread enters and leaves again), as the TAP fds were opened.
  char netns[4096];
  int own = -1;
  if (get_string(env, argv[0], "netns", netns, sizeof netns) && netns[0]) {
    own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(netns, O_RDONLY | O_CLOEXEC);
    if (own < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0) {
      int e = errno;
      if (own >= 0) close(own);
      if (target >= 0) close(target);
      char what[4200];
      snprintf(what, sizeof what, "engineStart: enter namespace %s", netns);
      return throw_errno_at(env, "setns", what, e);
    }
    close(target);
  }
  struct handle *h = calloc(1, sizeof *h);
  char err[512] = "";
  int rc = h ? engine_start(&cfg, &h->e, err, sizeof err) : -1;
  if (own >= 0) {
    if (setns(own, CLONE_NEWNET) < 0) {
      fprintf(stderr, "twill_tuntap: cannot return to the original network namespace: %s\n", strerror(errno));
      abort();
    }
    close(own);
  }
  if (rc < 0) {
    free(h);
    napi_throw_error(env, "EENGINE", err[0] ? err : "engine start failed");
    return NULL;
  }
  napi_value out;
  napi_create_external(env, h, finalize, NULL, &out);
  return out;
}

static napi_value engine_set_peers_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "engineSetPeers(handle, Buffer)");
    return NULL;
  }
  struct handle *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || len % PEER_ENTRY_SIZE) {
    napi_throw_type_error(env, NULL, "engineSetPeers: a Buffer of 12-byte entries");
    return NULL;
  }
  if (engine_set_peers(h->e, data, len / PEER_ENTRY_SIZE) < 0) {
    napi_throw_error(env, "ENOMEM", "engineSetPeers: out of memory");
    return NULL;
  }
  return NULL;
}

static void put_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, key, n);
}

static napi_value engine_stats_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "engineStats(handle)");
    return NULL;
  }
  struct handle *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  struct engine_stats s;
  struct engine_info in;
  engine_read_stats(h->e, &s);
  engine_read_info(h->e, &in);
  napi_value o, v;
  napi_create_object(env, &o);
#define PUT(f, name) put_num(env, o, name, (double)s.f)
  PUT(tx_frames, "txFrames"); PUT(tx_by_receiver, "txByReceiver"); PUT(tx_packets, "txPackets"); PUT(tx_bytes, "txBytes"); PUT(tx_sends, "txSends");
  PUT(tx_gso_frames, "txGsoFrames"); PUT(tx_drop_unknown_mac, "txDropUnknownMac"); PUT(tx_drop_bad_frame, "txDropBadFrame");
  PUT(tx_drop_send_error, "txDropSendError"); PUT(rx_packets, "rxPackets"); PUT(rx_bytes, "rxBytes"); PUT(rx_frames, "rxFrames");
  PUT(rx_writes, "rxWrites"); PUT(rx_coalesced, "rxCoalesced"); PUT(rx_drop_malformed, "rxDropMalformed");
  PUT(rx_drop_wrong_vni, "rxDropWrongVni"); PUT(rx_drop_unknown_source, "rxDropUnknownSource");
  PUT(rx_drop_write_error, "rxDropWriteError"); PUT(peer_swaps, "peerSwaps");
#undef PUT
  napi_get_boolean(env, in.udp_gso, &v);
  napi_set_named_property(env, o, "udpGso", v);
  napi_get_boolean(env, in.udp_gro, &v);
  napi_set_named_property(env, o, "udpGro", v);
  put_num(env, o, "threads", in.threads);
  put_num(env, o, "nice", in.nice);
  put_num(env, o, "sliceUs", in.slice_us);
  napi_get_boolean(env, in.cpu_steering, &v);
  napi_set_named_property(env, o, "cpuSteering", v);
  if (in.steering_refused[0]) napi_create_string_utf8(env, in.steering_refused, NAPI_AUTO_LENGTH, &v);
  else napi_get_null(env, &v);
  napi_set_named_property(env, o, "cpuSteeringRefused", v);
  const char *f = engine_failure(h->e);
  if (f) napi_create_string_utf8(env, f, NAPI_AUTO_LENGTH, &v);
  else napi_get_null(env, &v);
  napi_set_named_property(env, o, "failure", v);
  return o;
}

static napi_value engine_stop_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "engineStop(handle)");
    return NULL;
  }
  struct handle *h = p;
  engine_stop(h->e); // NULL-safe: stopping twice is a no-op
  h->e = NULL;
  return NULL;
}

void define_engine_functions(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"engineStart", NULL, engine_start_js, NULL, NULL, NULL, napi_default, NULL},
      {"engineSetPeers", NULL, engine_set_peers_js, NULL, NULL, NULL, napi_default, NULL},
      {"engineStats", NULL, engine_stats_js, NULL, NULL, NULL, napi_default, NULL},
      {"engineStop", NULL, engine_stop_js, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
