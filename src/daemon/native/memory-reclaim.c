/*
 * fleetd-memory.node: a Node-API addon that gives back memory fleetd no longer uses, once its
 * fleet has settled (src/daemon/memory-reclaim.ts decides when). Two calls, each the owner's
 * own public API for it:
 *  - lowMemory(): V8's v8::Isolate::LowMemoryNotification() (v8-isolate.h: "Optional
 *    notification that the system is running low on memory. V8 uses these notifications to
 *    attempt to free memory.") on v8::Isolate::TryGetCurrent(), fleetd's one isolate: V8
 *    collects all it can (several full collections), compacts, drops bytecode not in use and
 *    shrinks its heap's spaces, as its own memory reducer does some time after a burst (seconds
 *    to minutes). Both are looked up at run time (dlsym of their C++ names in the node binary,
 *    which exports V8's API for addons), so a node without them loads this file all the same
 *    and the call says it did nothing.
 *  - mallocTrim(): glibc's malloc_trim(0): free pages inside malloc's arenas (parsers', zones'
 *    and buffers' memory freed after a burst) are handed back to the kernel; glibc by itself only
 *    trims the top of the main arena. Another libc (musl has no malloc_trim): false, nothing done.
 *
 * No Node headers are needed: the few Node-API calls are declared below as js_native_api.h has
 * them (stable C ABI, Node-API 1); node resolves them in its own binary when it loads the addon.
 * Built by scripts/build-native.mjs; without a C compiler fleetd runs without it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
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

/* v8::Isolate* v8::Isolate::TryGetCurrent() (static) and void v8::Isolate::LowMemoryNotification()
 * (a non-virtual member: the isolate is its first argument in the Itanium C++ ABI) */
#define V8_TRY_GET_CURRENT_SYMBOL "_ZN2v87Isolate13TryGetCurrentEv"
#define V8_LOW_MEMORY_SYMBOL "_ZN2v87Isolate21LowMemoryNotificationEv"

/* The two V8 calls, or false when this node does not export them. */
static bool v8_calls(void *(**get_current)(void), void (**low_memory)(void *)) {
  void *get = dlsym(RTLD_DEFAULT, V8_TRY_GET_CURRENT_SYMBOL);
  void *low = dlsym(RTLD_DEFAULT, V8_LOW_MEMORY_SYMBOL);
  if (get == NULL || low == NULL) return false;
  *(void **)get_current = get;
  *(void **)low_memory = low;
  return true;
}

static napi_value boolean(napi_env env, bool value) {
  napi_value out;
  return napi_get_boolean(env, value, &out) == 0 ? out : NULL;
}

/* lowMemory(): true once V8 has collected (synchronously, on this thread, the one that runs JS);
 * false when this node does not export the calls or no isolate is current */
static napi_value low_memory(napi_env env, napi_callback_info info) {
  (void)info;
  void *(*get_current)(void);
  void (*notify)(void *);
  if (!v8_calls(&get_current, &notify)) return boolean(env, false);
  void *isolate = get_current();
  if (isolate == NULL) return boolean(env, false);
  notify(isolate);
  return boolean(env, true);
}

/* mallocTrim(): true when glibc gave memory back to the kernel */
static napi_value malloc_trim_all(napi_env env, napi_callback_info info) {
  (void)info;
#ifdef __GLIBC__
  return boolean(env, malloc_trim(0) != 0);
#else
  return boolean(env, false);
#endif
}

/* lowMemoryAvailable(): whether lowMemory() can do anything here */
static napi_value low_memory_available(napi_env env, napi_callback_info info) {
  (void)info;
  void *(*get_current)(void);
  void (*notify)(void *);
  return boolean(env, v8_calls(&get_current, &notify) && get_current() != NULL);
}

static int export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, (size_t)-1, cb, NULL, &fn) != 0) return -1;
  return napi_set_named_property(env, exports, name, fn) == 0 ? 0 : -1;
}

/* found by node with dlsym when it loads the file: visible whatever -fvisibility CC carries */
__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports);
__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  if (export_function(env, exports, "lowMemory", low_memory) != 0) return NULL;
  if (export_function(env, exports, "lowMemoryAvailable", low_memory_available) != 0) return NULL;
  if (export_function(env, exports, "mallocTrim", malloc_trim_all) != 0) return NULL;
  return exports;
}
