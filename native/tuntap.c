// twill_tuntap: TUN/TAP devices and the userspace VXLAN engine (native/vxlan-engine.c) for
// twilld. Node cannot issue TUNSETIFF, and the packet loop must not run in JavaScript, so
// this addon does both; everything else (which flags, which offloads to try, errors by
// errno) is decided in lib/kernel/tun.ts. N-API only: one build loads in any Node >= 18.
//   open({name, netns, tap, vnetHdr, multiQueue, queues, persist, nonBlocking, devicePath})
//       -> {name, fds}   one fd per queue; the device is created in `netns` if missing
//   setOffload(fd, flags)   TUNSETOFFLOAD (TUN_F_* bits); throws EINVAL when refused
//   setPersist(fd, on)      TUNSETPERSIST
//   close(fd)
//   engineStart / engineSetPeers / engineStats / engineStop   (see engine-napi.c)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <node_api.h>
#include "napi-util.h"

#define MAX_QUEUES 16

// Throws an Error naming the step, with `errno` (number), `code` (e.g. "EBUSY") and
// `syscall` (the step, e.g. "TUNSETIFF"), so callers branch on codes, not on text.
napi_value throw_errno_at(napi_env env, const char *syscall, const char *what, int err) {
  char msg[4400];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value text, error, num, code;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, NULL, text, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  const char *name = strerrorname_np(err);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_set_named_property(env, error, "code", code);
  napi_value sc;
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

napi_value throw_errno(napi_env env, const char *what, int err) { return throw_errno_at(env, "", what, err); }

bool get_bool(napi_env env, napi_value obj, const char *key, bool def) {
  napi_value v;
  bool has = false, out = def;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return def;
  napi_get_named_property(env, obj, key, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_boolean) napi_get_value_bool(env, v, &out);
  return out;
}

int32_t get_int(napi_env env, napi_value obj, const char *key, int32_t def) {
  napi_value v;
  bool has = false;
  int32_t out = def;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return def;
  napi_get_named_property(env, obj, key, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_number) napi_get_value_int32(env, v, &out);
  return out;
}

// Copies a string property into buf; false when missing/not a string/too long.
bool get_string(napi_env env, napi_value obj, const char *key, char *buf, size_t size) {
  napi_value v;
  bool has = false;
  buf[0] = 0;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return false;
  napi_get_named_property(env, obj, key, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) return false;
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok || len >= size - 1) return false;
  return true;
}

// A tun fd is tied to the namespace it was opened in (the device is created there, or looked
// up there), so only open() + TUNSETIFF run inside the target namespace. setns affects this
// thread only; the way back is the thread's own namespace file.
static napi_value open_device(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_object) {
    napi_throw_type_error(env, NULL, "open(options)");
    return NULL;
  }
  char name[IFNAMSIZ + 1], netns[4096], devpath[4096];
  if (!get_string(env, argv[0], "name", name, sizeof name) || !name[0] || strlen(name) >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "open: name must be a device name of 1..15 characters");
    return NULL;
  }
  get_string(env, argv[0], "netns", netns, sizeof netns);
  if (!get_string(env, argv[0], "devicePath", devpath, sizeof devpath) || !devpath[0]) strcpy(devpath, "/dev/net/tun");
  bool tap = get_bool(env, argv[0], "tap", false);
  bool vnet = get_bool(env, argv[0], "vnetHdr", false);
  bool mq = get_bool(env, argv[0], "multiQueue", false);
  bool persist = get_bool(env, argv[0], "persist", false);
  bool nonblock = get_bool(env, argv[0], "nonBlocking", false);
  bool excl = get_bool(env, argv[0], "exclusive", false);
  int32_t queues = get_int(env, argv[0], "queues", 1);
  if (queues < 1 || queues > MAX_QUEUES || (queues > 1 && !mq)) {
    napi_throw_range_error(env, NULL, "open: queues must be 1..16, and above 1 only with multiQueue");
    return NULL;
  }

  int own = -1, err = 0, n = 0;
  const char *step = "";
  int fds[MAX_QUEUES];
  char what[4400] = "";
  if (netns[0]) {
    own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own < 0) return throw_errno_at(env, "open-own-netns", "tun open: open /proc/thread-self/ns/net", errno);
    int target = open(netns, O_RDONLY | O_CLOEXEC);
    if (target < 0) {
      err = errno;
      close(own);
      snprintf(what, sizeof what, "tun open: open namespace %s", netns);
      return throw_errno_at(env, "open-netns", what, err);
    }
    if (setns(target, CLONE_NEWNET) < 0) {
      err = errno;
      close(own);
      close(target);
      snprintf(what, sizeof what, "tun open: setns %s", netns);
      return throw_errno_at(env, "setns", what, err);
    }
    close(target);
  }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  for (n = 0; n < queues; n++) {
    int fd = open(devpath, O_RDWR | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
    if (fd < 0) {
      err = errno;
      snprintf(what, sizeof what, "tun open: open %s", devpath);
      step = "open";
      break;
    }
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name)); // length checked above: < IFNAMSIZ
    ifr.ifr_flags = (tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0) | (mq ? IFF_MULTI_QUEUE : 0) | (excl && n == 0 ? IFF_TUN_EXCL : 0);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      err = errno;
      close(fd);
      snprintf(what, sizeof what, "tun open: TUNSETIFF %s (queue %d)", name, n);
      step = "TUNSETIFF";
      break;
    }
    fds[n] = fd;
  }
  if (!err && ioctl(fds[0], TUNSETPERSIST, persist ? 1 : 0) < 0) {
    err = errno;
    snprintf(what, sizeof what, "tun open: TUNSETPERSIST %s", name);
    step = "TUNSETPERSIST";
  }
  if (own >= 0) {
    if (setns(own, CLONE_NEWNET) < 0) {
      fprintf(stderr, "twill_tuntap: cannot return to the original network namespace: %s\n", strerror(errno));
      abort();
    }
    close(own);
  }
  if (err) {
    for (int i = 0; i < n; i++) close(fds[i]);
    return throw_errno_at(env, step, what, err);
  }

  napi_value out, arr, v;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "name", v);
  napi_create_array_with_length(env, (size_t)queues, &arr);
  for (int i = 0; i < queues; i++) {
    napi_create_int32(env, fds[i], &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  napi_set_named_property(env, out, "fds", arr);
  return out;
}

static bool fd_and_int(napi_env env, napi_callback_info info, int32_t *fd, int32_t *val, const char *usage) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int32(env, argv[0], fd) != napi_ok || napi_get_value_int32(env, argv[1], val) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return false;
  }
  return true;
}

static napi_value set_offload(napi_env env, napi_callback_info info) {
  int32_t fd, flags;
  if (!fd_and_int(env, info, &fd, &flags, "setOffload(fd, flags)")) return NULL;
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(unsigned)flags) < 0) return throw_errno_at(env, "TUNSETOFFLOAD", "tun: TUNSETOFFLOAD", errno);
  return NULL;
}

static napi_value set_persist(napi_env env, napi_callback_info info) {
  int32_t fd, on;
  if (!fd_and_int(env, info, &fd, &on, "setPersist(fd, 0|1)")) return NULL;
  if (ioctl(fd, TUNSETPERSIST, on ? 1 : 0) < 0) return throw_errno_at(env, "TUNSETPERSIST", "tun: TUNSETPERSIST", errno);
  return NULL;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "close(fd)");
    return NULL;
  }
  if (close(fd) < 0) return throw_errno(env, "tun: close", errno);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, open_device, NULL, NULL, NULL, napi_default, NULL},
      {"setOffload", NULL, set_offload, NULL, NULL, NULL, napi_default, NULL},
      {"setPersist", NULL, set_persist, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  define_engine_functions(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
