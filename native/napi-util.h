// Helpers shared by the twill_tuntap addon's N-API files.
#ifndef TWILL_NAPI_UTIL_H
#define TWILL_NAPI_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>

napi_value throw_errno(napi_env env, const char *what, int err);
napi_value throw_errno_at(napi_env env, const char *syscall, const char *what, int err);
bool get_bool(napi_env env, napi_value obj, const char *key, bool def);
int32_t get_int(napi_env env, napi_value obj, const char *key, int32_t def);
bool get_string(napi_env env, napi_value obj, const char *key, char *buf, size_t size);
void define_engine_functions(napi_env env, napi_value exports);

#endif
