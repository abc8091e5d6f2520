/*
 * fleetd-memory.node: a Node-API addon that gives back memory fleetd no longer uses, once its
 * fleet has settled (src/daemon/memory-reclaim.ts decides when). Two calls, each the owner's
 * own API for it:
 *  - lowMemory(): node::LowMemoryNotification() (node.h, "Notifies V8 that the process is
 *    under memory pressure"): V8 collects all it can, compacts, and shrinks its heap's
 *    spaces, as its own memory reducer does some time after a burst (seconds to minutes).
 *    Looked up at run time (dlsym), so a node without that export loads this file all the same
 *    and the call says it is not there.
 *  - mallocTrim(): glibc's malloc_trim(0): free pages inside malloc's arenas (parsers', zones'
 *    and buffers' memory freed after a burst) are handed back to the kernel; glibc by itself only
 *    trims the top of the main arena.
 *
 * No Node headers are needed: the few Node-API calls are declared below as node_api.h has them
 * (stable C ABI, Node-API 1); node resolves them in its own binary when it loads the addon.
 * Built by scripts/build-native.mjs; without a C compiler fleetd runs without it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status; /* napi_ok is 0 */
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);
extern napi_status napi_create_function(napi_env env, const char *name, size_t length, napi_callback cb, void *data, napi_value *result);
extern napi_status napi_set_named_property(napi_env env, napi_value object, const char *name, napi_value value);
extern napi_status napi_get_boolean(napi_env env, bool value, napi_value *result);

/* node::LowMemoryNotification(), C++ linkage, no arguments (node.h) */
#define NODE_LOW_MEMORY_SYMBOL "_ZN4node21LowMemoryNotificationEv"

static napi_value boolean(napi_env env, bool value) {
  napi_value out;
  return napi_get_boolean(env, value, &out) == 0 ? out : NULL;
}

/* lowMemory(): true once V8 has collected (synchronously, on this thread); false when this node does not export the call */
static napi_value low_memory(napi_env env, napi_callback_info info) {
  (void)info;
  void *symbol = dlsym(RTLD_DEFAULT, NODE_LOW_MEMORY_SYMBOL);
  if (symbol == NULL) return boolean(env, false);
  void (*notify)(void);
  *(void **)&notify = symbol;
  notify();
  return boolean(env, true);
}

/* mallocTrim(): true when glibc gave memory back to the kernel */
static napi_value malloc_trim_all(napi_env env, napi_callback_info info) {
  (void)info;
  return boolean(env, malloc_trim(0) != 0);
}

/* lowMemoryAvailable(): whether lowMemory() can do anything here */
static napi_value low_memory_available(napi_env env, napi_callback_info info) {
  (void)info;
  return boolean(env, dlsym(RTLD_DEFAULT, NODE_LOW_MEMORY_SYMBOL) != NULL);
}

static int export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, (size_t)-1, cb, NULL, &fn) != 0) return -1;
  return napi_set_named_property(env, exports, name, fn) == 0 ? 0 : -1;
}

napi_value napi_register_module_v1(napi_env env, napi_value exports);
napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  if (export_function(env, exports, "lowMemory", low_memory) != 0) return NULL;
  if (export_function(env, exports, "lowMemoryAvailable", low_memory_available) != 0) return NULL;
  if (export_function(env, exports, "mallocTrim", malloc_trim_all) != 0) return NULL;
  return exports;
}
