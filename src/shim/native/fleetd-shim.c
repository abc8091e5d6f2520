// fleetd-shim: the per-agent output holder in C (C11, libc only, Linux), a drop-in for
// `node dist/shim/main.js` at a fraction of its cost (no V8 to boot: ~1 ms of CPU and ~1 MB
// of RSS instead of ~100 ms and ~59 MB).
//
// The protocol is defined in ONE place, src/shim/protocol.ts (launch spec on stdin, ready
// line on stdout, shim.json / exit.json in the run dir, NDJSON on shim.sock, limits
// MAX_SPEC_BYTES and MAX_MESSAGE_BYTES, error codes); this file implements it and must
// follow it. The behaviour is that of the Node shim, and each part below names the module
// it mirrors: src/shim/main.ts, read-spec.ts (spec read and checked as strictly as the zod
// schema, errors by path, never a value), run-dir.ts, records.ts, run.ts, server.ts,
// signals.ts, and src/supervise/log-sink.ts (redaction as redact.ts, rotation, disk failure
// counting, notes, reopen), output-tail.ts and spawn-gateway.ts (spawn rules and texts).
//
// Text is handled as UTF-16 code units, like the JavaScript it mirrors: gateway output is
// decoded as Node's StringDecoder does (invalid UTF-8 -> U+FFFD), redacted and tailed in
// UTF-16 units (so a window of 8 characters means what it means in redact.ts), and encoded
// back to UTF-8 (lone surrogates -> U+FFFD) for the log and to JSON (lone surrogates
// escaped, as JSON.stringify does) for the socket and the records.
//
// One thread, one poll(2) loop, non-blocking descriptors. SIGCHLD arrives on a signalfd.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawner.h"

// ---- protocol.ts constants ------------------------------------------------------------
#define SHIM_PROTOCOL 1
#define MAX_MESSAGE_BYTES (1024 * 1024)
#define MAX_SPEC_BYTES (4 * 1024 * 1024)
#define MAX_TAIL_CHARS (MAX_MESSAGE_BYTES / 4)
#define MAX_WATCH_PATH 256
// http-get.ts MAX_BODY_BYTES: the most of a watched answer kept (the rest is read and dropped)
#define WATCH_KEEP_BYTES 65536
// server.ts DEFAULT_SERVER_OPTIONS
#define MAX_PENDING_BYTES (1024 * 1024)
#define ATTACH_TIMEOUT_MS 10000
#define MAX_CONNECTIONS 8
#define EXIT_FLUSH_MS 2000
// spawn-gateway.ts
#define DRAIN_GRACE_MS 250
// log-sink.ts
#define REOPEN_AFTER_MS 1000
// redact.ts
#define MIN_PIECE 8
#define MIN_SECRET 4
// output-tail.ts
#define MAX_LINE 4096
#define READ_CHUNK 65536
#define MAX_SAFE_INT 9007199254740991.0

// ---- small utilities ------------------------------------------------------------------
static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    static const char msg[] = "fleetd-shim: out of memory\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(70);
  }
  return q;
}
static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) return xrealloc(NULL, (size_t)-1 / 2);
  return p;
}
static char *xstrndup(const char *s, size_t n) {
  char *p = xrealloc(NULL, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

/** Growable byte buffer. */
typedef struct {
  char *p;
  size_t len, cap;
} buf_t;
static void b_reserve(buf_t *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) cap *= 2;
  b->p = xrealloc(b->p, cap);
  b->cap = cap;
}
static void b_put(buf_t *b, const void *s, size_t n) {
  b_reserve(b, n);
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}
static void b_puts(buf_t *b, const char *s) { b_put(b, s, strlen(s)); }
static void b_putc(buf_t *b, char c) { b_put(b, &c, 1); }
static void b_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void b_printf(buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  b_reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}
static void b_free(buf_t *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
static char *b_cstr(buf_t *b) {
  b_reserve(b, 0);
  return b->p;
}

/** Growable UTF-16 text (JavaScript's string units). */
typedef struct {
  uint16_t *p;
  size_t len, cap;
} u16_t;
static void u_reserve(u16_t *u, size_t extra) {
  if (u->len + extra <= u->cap) return;
  size_t cap = u->cap ? u->cap : 64;
  while (cap < u->len + extra) cap *= 2;
  u->p = xrealloc(u->p, cap * sizeof(uint16_t));
  u->cap = cap;
}
static void u_put(u16_t *u, const uint16_t *s, size_t n) {
  if (n == 0) return;
  u_reserve(u, n);
  memcpy(u->p + u->len, s, n * sizeof(uint16_t));
  u->len += n;
}
static void u_putc(u16_t *u, uint16_t c) { u_put(u, &c, 1); }
static void u_free(u16_t *u) {
  free(u->p);
  u->p = NULL;
  u->len = u->cap = 0;
}

/** Epoch ms (Date.now()). */
static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
/** Monotonic ms, for timers. */
static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
/** new Date(ms).toISOString() */
static void iso_time(int64_t ms, char out[64]) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/** Node's error code for an errno (err.code). */
static const char *errno_name(int e) {
  switch (e) {
#define E(x) \
  case x: \
    return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF) E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV)
    E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK) E(EPIPE) E(ENAMETOOLONG) E(ENOTEMPTY) E(ELOOP) E(EDQUOT)
    E(EADDRINUSE) E(ECONNREFUSED) E(ECONNRESET) E(ENOTSOCK) E(EOPNOTSUPP) E(ESTALE) E(ENOTCONN)
    E(EADDRNOTAVAIL) E(ECONNABORTED) E(ETIMEDOUT) E(ENETUNREACH) E(EHOSTUNREACH) E(ENOBUFS)
#undef E
  }
  static char other[24];
  snprintf(other, sizeof other, "E%d", e);
  return other;
}

/** Node's name of a signal (os.constants.signals). */
static const char *signal_name(int sig) {
  switch (sig) {
#define S(x) \
  case x: \
    return #x;
    S(SIGHUP) S(SIGINT) S(SIGQUIT) S(SIGILL) S(SIGTRAP) S(SIGABRT) S(SIGBUS) S(SIGFPE) S(SIGKILL) S(SIGUSR1) S(SIGSEGV) S(SIGUSR2) S(SIGPIPE) S(SIGALRM) S(SIGTERM)
    S(SIGCHLD) S(SIGCONT) S(SIGSTOP) S(SIGTSTP) S(SIGTTIN) S(SIGTTOU) S(SIGURG) S(SIGXCPU) S(SIGXFSZ) S(SIGVTALRM) S(SIGPROF) S(SIGWINCH) S(SIGIO) S(SIGPWR) S(SIGSYS)
#ifdef SIGSTKFLT
    S(SIGSTKFLT)
#endif
#undef S
  }
  static char other[24];
  snprintf(other, sizeof other, "SIG%d", sig);
  return other;
}

/** The shim's own stderr (shim.err): `[shim <iso>] text`. */
static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...) {
  buf_t b = {0};
  char t[64];
  iso_time(now_ms(), t);
  b_printf(&b, "[shim %s] ", t);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n > 0) {
    b_reserve(&b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b.p + b.len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b.len += (size_t)n;
  }
  b_putc(&b, '\n');
  size_t off = 0;
  while (off < b.len) {
    ssize_t w = write(2, b.p + off, b.len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  b_free(&b);
}

/** Writes all of `n` bytes to a blocking fd; false on error. */
static bool write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

// ---- UTF-8 <-> UTF-16 -----------------------------------------------------------------
/** Streaming UTF-8 decoder with WHATWG replacement (what Buffer#toString and StringDecoder do). */
typedef struct {
  uint32_t cp;
  int need, seen;
  uint8_t lower, upper;
} utf8dec_t;

static void push_cp(u16_t *out, uint32_t cp) {
  if (cp >= 0x10000) {
    cp -= 0x10000;
    u_putc(out, (uint16_t)(0xD800 + (cp >> 10)));
    u_putc(out, (uint16_t)(0xDC00 + (cp & 0x3FF)));
  } else {
    u_putc(out, (uint16_t)cp);
  }
}
static void dec_write(utf8dec_t *d, const uint8_t *s, size_t n, u16_t *out) {
  u_reserve(out, n + 2);
  for (size_t i = 0; i < n; i++) {
    uint8_t c = s[i];
    if (d->need == 0) {
      if (c < 0x80) {
        out->p[out->len++] = c;
        continue;
      }
      d->lower = 0x80;
      d->upper = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        d->need = 1;
        d->cp = c & 0x1F;
      } else if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) d->lower = 0xA0;
        if (c == 0xED) d->upper = 0x9F;
        d->need = 2;
        d->cp = c & 0xF;
      } else if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) d->lower = 0x90;
        if (c == 0xF4) d->upper = 0x8F;
        d->need = 3;
        d->cp = c & 0x7;
      } else {
        push_cp(out, 0xFFFD);
      }
      d->seen = 0;
      continue;
    }
    if (c < d->lower || c > d->upper) {
      // the sequence is cut short: one U+FFFD for it, and this byte starts afresh
      d->need = d->seen = 0;
      d->cp = 0;
      push_cp(out, 0xFFFD);
      i--;
      continue;
    }
    d->lower = 0x80;
    d->upper = 0xBF;
    d->cp = (d->cp << 6) | (c & 0x3F);
    if (++d->seen == d->need) {
      push_cp(out, d->cp);
      d->need = d->seen = 0;
      d->cp = 0;
    }
  }
}
static void dec_end(utf8dec_t *d, u16_t *out) {
  if (d->need != 0) push_cp(out, 0xFFFD);
  d->need = d->seen = 0;
  d->cp = 0;
}
/** UTF-8 (any bytes) -> UTF-16, as Buffer#toString('utf8'). */
static void utf8_to_u16(const char *s, size_t n, u16_t *out) {
  utf8dec_t d = {0};
  dec_write(&d, (const uint8_t *)s, n, out);
  dec_end(&d, out);
}
/** Code point at u[i] (a lone surrogate reads as U+FFFD); *step gets 1 or 2. */
static uint32_t u16_cp(const uint16_t *u, size_t n, size_t i, size_t *step) {
  uint16_t c = u[i];
  *step = 1;
  if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && u[i + 1] >= 0xDC00 && u[i + 1] <= 0xDFFF) {
    *step = 2;
    return 0x10000 + (((uint32_t)c - 0xD800) << 10) + (u[i + 1] - 0xDC00);
  }
  if (c >= 0xD800 && c <= 0xDFFF) return 0xFFFD;
  return c;
}
static void put_utf8_cp(buf_t *b, uint32_t cp) {
  char t[4];
  size_t n;
  if (cp < 0x80) {
    t[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    t[0] = (char)(0xC0 | (cp >> 6));
    t[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    t[0] = (char)(0xE0 | (cp >> 12));
    t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    t[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    t[0] = (char)(0xF0 | (cp >> 18));
    t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    t[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  b_put(b, t, n);
}
/** UTF-16 -> UTF-8 (Buffer.from(text, 'utf8')). */
static void u16_to_utf8(const uint16_t *u, size_t n, buf_t *out) {
  b_reserve(out, n * 3);
  for (size_t i = 0; i < n;) {
    size_t step;
    if (u[i] < 0x80) {
      out->p[out->len++] = (char)u[i++];
      continue;
    }
    uint32_t cp = u16_cp(u, n, i, &step);
    put_utf8_cp(out, cp);
    i += step;
  }
  out->p[out->len] = 0;
}
/** Buffer.byteLength(text). */
static size_t u16_utf8_len(const uint16_t *u, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n;) {
    size_t step;
    uint32_t cp = u16_cp(u, n, i, &step);
    total += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += step;
  }
  return total;
}
/** Length in code points of valid UTF-8 text (zod's length of a string: a surrogate pair is one). */
static size_t utf8_cp_len(const char *s, size_t n) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = (uint8_t)s[i];
    if ((c & 0xC0) == 0x80) continue;
    len++;
  }
  return len;
}

// ---- JSON encoding (JSON.stringify rules) ---------------------------------------------
static const char HEX[] = "0123456789abcdef";
static void json_esc_ascii(buf_t *b, unsigned c) {
  switch (c) {
    case '"': b_puts(b, "\\\""); return;
    case '\\': b_puts(b, "\\\\"); return;
    case '\b': b_puts(b, "\\b"); return;
    case '\f': b_puts(b, "\\f"); return;
    case '\n': b_puts(b, "\\n"); return;
    case '\r': b_puts(b, "\\r"); return;
    case '\t': b_puts(b, "\\t"); return;
  }
  if (c < 0x20) {
    char t[6] = {'\\', 'u', '0', '0', HEX[(c >> 4) & 0xF], HEX[c & 0xF]};
    b_put(b, t, 6);
  } else {
    b_putc(b, (char)c);
  }
}
/** A JSON string of UTF-16 text: control characters escaped, lone surrogates as \udxxx. */
static void json_u16(buf_t *b, const uint16_t *u, size_t n) {
  b_reserve(b, n + 2);
  b_putc(b, '"');
  for (size_t i = 0; i < n;) {
    uint16_t c = u[i];
    if (c < 0x80) {
      json_esc_ascii(b, c);
      i++;
      continue;
    }
    if (c >= 0xD800 && c <= 0xDFFF) {
      size_t step;
      uint32_t cp = u16_cp(u, n, i, &step);
      if (step == 1) {
        char t[6] = {'\\', 'u', HEX[(c >> 12) & 0xF], HEX[(c >> 8) & 0xF], HEX[(c >> 4) & 0xF], HEX[c & 0xF]};
        b_put(b, t, 6);
      } else {
        put_utf8_cp(b, cp);
      }
      i += step;
      continue;
    }
    put_utf8_cp(b, c);
    i++;
  }
  b_putc(b, '"');
}
/** A JSON string of valid UTF-8 text. */
static void json_utf8(buf_t *b, const char *s, size_t n) {
  b_reserve(b, n + 2);
  b_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    uint8_t c = (uint8_t)s[i];
    if (c < 0x80) json_esc_ascii(b, c);
    else b_putc(b, (char)c);
  }
  b_putc(b, '"');
}
static void json_cstr(buf_t *b, const char *s) { json_utf8(b, s, strlen(s)); }
/** A number as JSON.stringify writes it (integers exact up to 2^53, others shortest round-trip). */
static void json_num(buf_t *b, double v) {
  if (!isfinite(v)) {
    b_puts(b, "null");
    return;
  }
  if (v == floor(v) && fabs(v) < 1e21) {
    b_printf(b, "%.0f", v);
    return;
  }
  char t[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(t, sizeof t, "%.*g", prec, v);
    if (strtod(t, NULL) == v) break;
  }
  b_puts(b, t);
}

/** JSON object writer; pretty = JSON.stringify(value, null, 2). */
typedef struct {
  buf_t *b;
  bool pretty;
  int depth;
  bool first[16];
} jw_t;
static void jw_indent(jw_t *w, int depth) {
  b_putc(w->b, '\n');
  for (int i = 0; i < depth * 2; i++) b_putc(w->b, ' ');
}
static void jw_open(jw_t *w) {
  b_putc(w->b, '{');
  w->depth++;
  w->first[w->depth] = true;
}
static void jw_close(jw_t *w) {
  if (w->pretty && !w->first[w->depth]) jw_indent(w, w->depth - 1);
  w->depth--;
  b_putc(w->b, '}');
}
static void jw_key(jw_t *w, const char *key) {
  if (!w->first[w->depth]) b_putc(w->b, ',');
  w->first[w->depth] = false;
  if (w->pretty) jw_indent(w, w->depth);
  json_cstr(w->b, key);
  b_puts(w->b, w->pretty ? ": " : ":");
}
static void jw_str(jw_t *w, const char *key, const char *s) {
  jw_key(w, key);
  if (s) json_cstr(w->b, s);
  else b_puts(w->b, "null");
}
static void jw_num(jw_t *w, const char *key, double v) {
  jw_key(w, key);
  json_num(w->b, v);
}
static void jw_null(jw_t *w, const char *key) {
  jw_key(w, key);
  b_puts(w->b, "null");
}

// ---- JSON parsing (strict, JSON.parse rules) ------------------------------------------
enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
typedef struct jv {
  int t;
  bool b;
  double n;
  char *s; /* J_STR: valid UTF-8 (lone surrogates became U+FFFD) */
  size_t slen;
  struct jv **items; /* J_ARR, J_OBJ values */
  char **keys;       /* J_OBJ */
  size_t *klens;
  size_t count, cap;
} jv;

// Iterative: JSON.parse takes any depth (a 4 MiB spec can nest millions of levels), so
// neither parsing nor freeing may recurse.
static void jv_free(jv *v) {
  if (!v) return;
  jv **work = xrealloc(NULL, 16 * sizeof *work);
  size_t n = 0, cap = 16;
  work[n++] = v;
  while (n > 0) {
    jv *x = work[--n];
    for (size_t i = 0; i < x->count; i++) {
      if (n == cap) work = xrealloc(work, (cap *= 2) * sizeof *work);
      work[n++] = x->items[i];
      if (x->keys) free(x->keys[i]);
    }
    free(x->items);
    free(x->keys);
    free(x->klens);
    free(x->s);
    free(x);
  }
  free(work);
}

typedef struct {
  const char *p, *end;
  int depth;
} jparser;

static void jp_ws(jparser *p) {
  while (p->p < p->end && (*p->p == ' ' || *p->p == '\t' || *p->p == '\n' || *p->p == '\r')) p->p++;
}
static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
static bool jp_hex4(jparser *p, unsigned *out) {
  if (p->end - p->p < 4) return false;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p->p[i]);
    if (h < 0) return false;
    v = v * 16 + (unsigned)h;
  }
  p->p += 4;
  *out = v;
  return true;
}
/** Parses a string (p at the opening quote) into valid UTF-8. */
static bool jp_string(jparser *p, buf_t *out) {
  p->p++;
  for (;;) {
    if (p->p >= p->end) return false;
    uint8_t c = (uint8_t)*p->p;
    if (c == '"') {
      p->p++;
      b_reserve(out, 0);
      return true;
    }
    if (c < 0x20) return false;
    if (c != '\\') {
      const char *start = p->p;
      while (p->p < p->end && *p->p != '"' && *p->p != '\\' && (uint8_t)*p->p >= 0x20) p->p++;
      b_put(out, start, (size_t)(p->p - start));
      continue;
    }
    p->p++;
    if (p->p >= p->end) return false;
    char e = *p->p++;
    switch (e) {
      case '"': b_putc(out, '"'); break;
      case '\\': b_putc(out, '\\'); break;
      case '/': b_putc(out, '/'); break;
      case 'b': b_putc(out, '\b'); break;
      case 'f': b_putc(out, '\f'); break;
      case 'n': b_putc(out, '\n'); break;
      case 'r': b_putc(out, '\r'); break;
      case 't': b_putc(out, '\t'); break;
      case 'u': {
        unsigned u;
        if (!jp_hex4(p, &u)) return false;
        if (u >= 0xD800 && u <= 0xDBFF && p->end - p->p >= 6 && p->p[0] == '\\' && p->p[1] == 'u') {
          jparser save = *p;
          p->p += 2;
          unsigned lo;
          if (jp_hex4(p, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            put_utf8_cp(out, 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
            break;
          }
          *p = save;
        }
        put_utf8_cp(out, (u >= 0xD800 && u <= 0xDFFF) ? 0xFFFD : u);
        break;
      }
      default: return false;
    }
  }
}
static void jv_push(jv *v, char *key, size_t klen, jv *item) {
  if (v->t == J_OBJ) {
    // JSON.parse: a repeated key keeps its first place and takes the last value
    for (size_t i = 0; i < v->count; i++) {
      if (v->klens[i] == klen && memcmp(v->keys[i], key, klen) == 0) {
        jv_free(v->items[i]);
        v->items[i] = item;
        free(key);
        return;
      }
    }
  }
  if (v->count == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 4;
    v->items = xrealloc(v->items, v->cap * sizeof *v->items);
    if (v->t == J_OBJ) {
      v->keys = xrealloc(v->keys, v->cap * sizeof *v->keys);
      v->klens = xrealloc(v->klens, v->cap * sizeof *v->klens);
    }
  }
  if (v->t == J_OBJ) {
    v->keys[v->count] = key;
    v->klens[v->count] = klen;
  }
  v->items[v->count++] = item;
}
/** A scalar at p (string, number, true, false, null); NULL when there is none. */
static jv *jp_scalar(jparser *p) {
  jv *v = xcalloc(1, sizeof *v);
  char c = *p->p;
  if (c == '"') {
    buf_t s = {0};
    if (!jp_string(p, &s)) {
      b_free(&s);
      goto fail;
    }
    v->t = J_STR;
    v->s = b_cstr(&s);
    v->slen = s.len;
    return v;
  }
  if (c == 't' && p->end - p->p >= 4 && memcmp(p->p, "true", 4) == 0) {
    p->p += 4;
    v->t = J_BOOL;
    v->b = true;
    return v;
  }
  if (c == 'f' && p->end - p->p >= 5 && memcmp(p->p, "false", 5) == 0) {
    p->p += 5;
    v->t = J_BOOL;
    return v;
  }
  if (c == 'n' && p->end - p->p >= 4 && memcmp(p->p, "null", 4) == 0) {
    p->p += 4;
    v->t = J_NULL;
    return v;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    const char *s = p->p;
    if (*p->p == '-') p->p++;
    if (p->p >= p->end) goto fail;
    if (*p->p == '0') {
      p->p++;
    } else if (*p->p >= '1' && *p->p <= '9') {
      while (p->p < p->end && *p->p >= '0' && *p->p <= '9') p->p++;
    } else {
      goto fail;
    }
    if (p->p < p->end && *p->p == '.') {
      p->p++;
      if (p->p >= p->end || *p->p < '0' || *p->p > '9') goto fail;
      while (p->p < p->end && *p->p >= '0' && *p->p <= '9') p->p++;
    }
    if (p->p < p->end && (*p->p == 'e' || *p->p == 'E')) {
      p->p++;
      if (p->p < p->end && (*p->p == '+' || *p->p == '-')) p->p++;
      if (p->p >= p->end || *p->p < '0' || *p->p > '9') goto fail;
      while (p->p < p->end && *p->p >= '0' && *p->p <= '9') p->p++;
    }
    char *num = xstrndup(s, (size_t)(p->p - s));
    v->t = J_NUM;
    v->n = strtod(num, NULL);
    free(num);
    return v;
  }
fail:
  jv_free(v);
  return NULL;
}
/** An object key and its colon; NULL when there is none. */
static char *jp_key(jparser *p, size_t *klen) {
  jp_ws(p);
  if (p->p >= p->end || *p->p != '"') return NULL;
  buf_t k = {0};
  if (!jp_string(p, &k)) {
    b_free(&k);
    return NULL;
  }
  jp_ws(p);
  if (p->p >= p->end || *p->p != ':') {
    b_free(&k);
    return NULL;
  }
  p->p++;
  *klen = k.len;
  return b_cstr(&k);
}
/** JSON.parse of valid UTF-8 text, to any depth (an explicit stack); NULL when it is not one JSON document. */
static jv *json_parse(const char *s, size_t n) {
  jparser p = {s, s + n, 0};
  jv **stack = NULL;
  char **keys = NULL;
  size_t *klens = NULL;
  size_t depth = 0, cap = 0;
  jv *v = NULL;
  for (;;) {
    // a value is expected here
    jp_ws(&p);
    if (p.p >= p.end) goto fail;
    char c = *p.p;
    if (c == '{' || c == '[') {
      jv *container = xcalloc(1, sizeof *container);
      container->t = c == '{' ? J_OBJ : J_ARR;
      p.p++;
      jp_ws(&p);
      if (p.p < p.end && *p.p == (c == '{' ? '}' : ']')) {
        p.p++;
        v = container;
      } else {
        if (depth == cap) {
          cap = cap ? cap * 2 : 16;
          stack = xrealloc(stack, cap * sizeof *stack);
          keys = xrealloc(keys, cap * sizeof *keys);
          klens = xrealloc(klens, cap * sizeof *klens);
        }
        stack[depth] = container;
        keys[depth] = NULL;
        depth++;
        if (container->t == J_OBJ && !(keys[depth - 1] = jp_key(&p, &klens[depth - 1]))) goto fail;
        continue;
      }
    } else {
      v = jp_scalar(&p);
      if (!v) goto fail;
    }
    // v is complete: hand it to its container, closing containers as they end
    for (;;) {
      if (depth == 0) {
        jp_ws(&p);
        if (p.p != p.end) goto fail;
        free(stack);
        free(keys);
        free(klens);
        return v;
      }
      jv *parent = stack[depth - 1];
      jv_push(parent, keys[depth - 1], klens[depth - 1], v);
      keys[depth - 1] = NULL;
      v = NULL;
      jp_ws(&p);
      if (p.p >= p.end) goto fail;
      if (*p.p == ',') {
        p.p++;
        if (parent->t == J_OBJ && !(keys[depth - 1] = jp_key(&p, &klens[depth - 1]))) goto fail;
        break;
      }
      if (*p.p != (parent->t == J_OBJ ? '}' : ']')) goto fail;
      p.p++;
      v = parent;
      depth--;
    }
  }
fail:
  jv_free(v);
  // a container is put into its parent only once complete: each open one is freed on its own
  for (size_t i = depth; i > 0; i--) {
    free(keys[i - 1]);
    jv_free(stack[i - 1]);
  }
  free(stack);
  free(keys);
  free(klens);
  return NULL;
}
/** Any bytes -> valid UTF-8, invalid sequences as U+FFFD (Buffer#toString('utf8')). */
static void utf8_sanitize(const char *s, size_t n, buf_t *out) {
  u16_t u = {0};
  utf8_to_u16(s, n, &u);
  u16_to_utf8(u.p, u.len, out);
  u_free(&u);
}
static jv *jv_get(const jv *obj, const char *key) {
  size_t klen = strlen(key);
  for (size_t i = 0; i < obj->count; i++)
    if (obj->klens[i] == klen && memcmp(obj->keys[i], key, klen) == 0) return obj->items[i];
  return NULL;
}

// ---- checking JSON as strictly as the zod schemas (messages as zod 4 words them) -------
typedef struct {
  buf_t text;
  int count;
} issues_t;
typedef struct path_s {
  const struct path_s *up;
  const char *key; /* NULL: index */
  size_t keylen;
  size_t index;
} path_t;

static bool simple_key(const char *k, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    char c = k[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '$' || c == '-')) return false;
  }
  return true;
}
/** formatPath (src/util/zod-path.ts), for the depths the schemas have. */
static void path_render(buf_t *b, const path_t *p) {
  const path_t *chain[16];
  int n = 0;
  for (; p && n < 16; p = p->up) chain[n++] = p;
  if (n == 0) {
    b_puts(b, "(top level)");
    return;
  }
  for (int i = n - 1; i >= 0; i--) {
    const path_t *seg = chain[i];
    if (!seg->key) b_printf(b, "[%zu]", seg->index);
    else if (simple_key(seg->key, seg->keylen)) {
      if (i != n - 1) b_putc(b, '.');
      b_put(b, seg->key, seg->keylen);
    } else {
      b_putc(b, '[');
      json_utf8(b, seg->key, seg->keylen);
      b_putc(b, ']');
    }
  }
}
static void issue(issues_t *is, const path_t *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void issue(issues_t *is, const path_t *path, const char *fmt, ...) {
  if (is->count++ >= 5) return; // describeIssues shows the first five
  if (is->text.len) b_puts(&is->text, "; ");
  path_render(&is->text, path);
  b_puts(&is->text, ": ");
  va_list ap;
  va_start(ap, fmt);
  char t[512];
  vsnprintf(t, sizeof t, fmt, ap);
  va_end(ap);
  b_puts(&is->text, t);
}
static const char *received(const jv *v) {
  if (!v) return "undefined";
  switch (v->t) {
    case J_NULL: return "null";
    case J_BOOL: return "boolean";
    case J_NUM: return "number";
    case J_STR: return "string";
    case J_ARR: return "array";
    default: return "object";
  }
}
#define P(name, parent) path_t name##_path = {(parent), #name, sizeof #name - 1, 0}
// zod 4 runs length checks on whatever has a length, even after the type check failed:
// `argv: ""` is refused twice, the second time as a string ("expected string to have >=1
// characters"), `name: []` as an array. The words follow the value's own type.
/** min/max length checks of a string (code points, as zod 4.6 counts them: a JSON string's lone surrogate is U+FFFD here, one either way) or an array (items); max < 0: none. */
static bool chk_length(issues_t *is, const path_t *path, const jv *v, long min, long max) {
  if (!v || (v->t != J_STR && v->t != J_ARR)) return true;
  bool str = v->t == J_STR;
  long len = str ? (long)utf8_cp_len(v->s, v->slen) : (long)v->count;
  const char *type = str ? "string" : "array", *unit = str ? "characters" : "items";
  bool ok = true;
  if (len < min) issue(is, path, "Too small: expected %s to have >=%ld %s", type, min, unit), ok = false;
  if (max >= 0 && len > max) issue(is, path, "Too big: expected %s to have <=%ld %s", type, max, unit), ok = false;
  return ok;
}
/** z.string().min(min).max(max) (max < 0: none); lengths in code points. */
static bool chk_string(issues_t *is, const path_t *path, const jv *v, long min, long max) {
  if (!v || v->t != J_STR) {
    issue(is, path, "Invalid input: expected string, received %s", received(v));
    chk_length(is, path, v, min, max);
    return false;
  }
  return chk_length(is, path, v, min, max);
}
/** The refine of an absolute path (protocol.ts absolutePath). */
static bool chk_abs_path(issues_t *is, const path_t *path, const jv *v) {
  if (!v || v->t != J_STR) return chk_string(is, path, v, 1, -1);
  bool ok = chk_string(is, path, v, 1, -1);
  if (v->slen == 0 || v->s[0] != '/' || memchr(v->s, 0, v->slen)) {
    issue(is, path, "must be an absolute path");
    ok = false;
  }
  return ok;
}
/** z.number().int() with optional bounds. */
static bool chk_int(issues_t *is, const path_t *path, const jv *v, bool has_min, double min, bool has_max, double max) {
  if (!v || v->t != J_NUM) {
    issue(is, path, "Invalid input: expected number, received %s", received(v));
    return false;
  }
  if (!isfinite(v->n)) { // 1e400 parses as Infinity, which z.number() refuses as such
    issue(is, path, "Invalid input: expected number, received %s", v->n > 0 ? "Infinity" : "-Infinity");
    return false;
  }
  if (v->n != floor(v->n)) {
    issue(is, path, "Invalid input: expected int, received number");
    return false;
  }
  // an unsafe integer is one issue, and the bounds are still checked (as zod does)
  bool ok = true;
  if (v->n > MAX_SAFE_INT) issue(is, path, "Too big: expected int to be <=9007199254740991"), ok = false;
  if (v->n < -MAX_SAFE_INT) issue(is, path, "Too small: expected int to be >=-9007199254740991"), ok = false;
  if (has_min && v->n < min) issue(is, path, "Too small: expected number to be >=%.0f", min), ok = false;
  if (has_max && v->n > max) issue(is, path, "Too big: expected number to be <=%.0f", max), ok = false;
  return ok;
}
static bool chk_object(issues_t *is, const path_t *path, const jv *v, const char *what) {
  if (!v || v->t != J_OBJ) {
    issue(is, path, "Invalid input: expected %s, received %s", what, received(v));
    return false;
  }
  return true;
}
/** strictObject: keys not in `known` (NULL-terminated) are one issue at the end. */
static void chk_unknown_keys(issues_t *is, const path_t *path, const jv *obj, const char *const *known) {
  buf_t names = {0};
  int n = 0;
  for (size_t i = 0; i < obj->count; i++) {
    bool found = false;
    for (const char *const *k = known; *k; k++)
      if (strlen(*k) == obj->klens[i] && memcmp(*k, obj->keys[i], obj->klens[i]) == 0) found = true;
    if (found) continue;
    if (n++) b_puts(&names, ", ");
    b_putc(&names, '"');
    b_put(&names, obj->keys[i], obj->klens[i]);
    b_putc(&names, '"');
  }
  if (n) issue(is, path, "Unrecognized key%s: %s", n > 1 ? "s" : "", b_cstr(&names));
  b_free(&names);
}

// ---- the launch spec (protocol.ts shimSpecSchema) -------------------------------------
typedef struct {
  char *s;
  size_t len;
} str_t;
typedef struct {
  char *name;
  str_t *argv;
  size_t argc;
  char *cwd;
  str_t *env_keys, *env_values;
  size_t envc;
  char *run_dir;
  char *log_file;
  double log_max_bytes;
  int log_max_files;
  str_t *secrets;
  size_t nsecrets;
  char *spec_hash;
  int tail_lines, tail_chars;
  /** cgroup.procs files the gateway's process joins before its execve (join_cgroups); none: 0. */
  str_t *cgroup_procs;
  size_t ncgroup_procs;
} spec_t;

static str_t str_of(const jv *v) {
  str_t s = {xstrndup(v->s, v->slen), v->slen};
  return s;
}

/** Checks `root` against shimSpecSchema; on success fills `spec`. */
static bool check_spec(const jv *root, spec_t *spec, issues_t *is) {
  if (!chk_object(is, NULL, root, "object")) return false;
  P(protocol, NULL);
  P(name, NULL);
  P(argv, NULL);
  P(cwd, NULL);
  P(env, NULL);
  P(runDir, NULL);
  P(log, NULL);
  P(secrets, NULL);
  P(specHash, NULL);
  P(tail, NULL);
  P(cgroupProcs, NULL);
  const jv *protocol = jv_get(root, "protocol");
  if (!protocol || protocol->t != J_NUM || protocol->n != SHIM_PROTOCOL) issue(is, &protocol_path, "Invalid input: expected %d", SHIM_PROTOCOL);
  const jv *name = jv_get(root, "name");
  chk_string(is, &name_path, name, 1, 200);
  const jv *argv = jv_get(root, "argv");
  if (!argv || argv->t != J_ARR) {
    issue(is, &argv_path, "Invalid input: expected array, received %s", received(argv));
    chk_length(is, &argv_path, argv, 1, -1);
  } else {
    for (size_t i = 0; i < argv->count; i++) {
      path_t item = {&argv_path, NULL, 0, i};
      if (argv->items[i]->t != J_STR) issue(is, &item, "Invalid input: expected string, received %s", received(argv->items[i]));
    }
    if (argv->count < 1) issue(is, &argv_path, "Too small: expected array to have >=1 items");
  }
  chk_abs_path(is, &cwd_path, jv_get(root, "cwd"));
  const jv *env = jv_get(root, "env");
  if (chk_object(is, &env_path, env, "record")) {
    for (size_t i = 0; i < env->count; i++) {
      path_t item = {&env_path, env->keys[i], env->klens[i], 0};
      if (env->items[i]->t != J_STR) issue(is, &item, "Invalid input: expected string, received %s", received(env->items[i]));
    }
  }
  chk_abs_path(is, &runDir_path, jv_get(root, "runDir"));
  const jv *log = jv_get(root, "log");
  if (chk_object(is, &log_path, log, "object")) {
    P(file, &log_path);
    P(maxBytes, &log_path);
    P(maxFiles, &log_path);
    chk_abs_path(is, &file_path, jv_get(log, "file"));
    chk_int(is, &maxBytes_path, jv_get(log, "maxBytes"), true, 1, false, 0);
    chk_int(is, &maxFiles_path, jv_get(log, "maxFiles"), true, 1, true, 1000);
    static const char *const known[] = {"file", "maxBytes", "maxFiles", NULL};
    chk_unknown_keys(is, &log_path, log, known);
  }
  const jv *secrets = jv_get(root, "secrets");
  if (!secrets || secrets->t != J_ARR) {
    issue(is, &secrets_path, "Invalid input: expected array, received %s", received(secrets));
  } else {
    for (size_t i = 0; i < secrets->count; i++) {
      path_t item = {&secrets_path, NULL, 0, i};
      if (secrets->items[i]->t != J_STR) issue(is, &item, "Invalid input: expected string, received %s", received(secrets->items[i]));
    }
  }
  chk_string(is, &specHash_path, jv_get(root, "specHash"), 1, 256);
  const jv *tail = jv_get(root, "tail");
  if (tail && chk_object(is, &tail_path, tail, "object")) {
    P(lines, &tail_path);
    P(chars, &tail_path);
    chk_int(is, &lines_path, jv_get(tail, "lines"), true, 1, true, 1000);
    chk_int(is, &chars_path, jv_get(tail, "chars"), true, 0, true, MAX_TAIL_CHARS);
    static const char *const known[] = {"lines", "chars", NULL};
    chk_unknown_keys(is, &tail_path, tail, known);
  }
  const jv *cgroup_procs = jv_get(root, "cgroupProcs");
  if (cgroup_procs) {
    if (cgroup_procs->t != J_ARR) {
      issue(is, &cgroupProcs_path, "Invalid input: expected array, received %s", received(cgroup_procs));
    } else {
      for (size_t i = 0; i < cgroup_procs->count; i++) {
        path_t item = {&cgroupProcs_path, NULL, 0, i};
        chk_abs_path(is, &item, cgroup_procs->items[i]);
      }
    }
  }
  static const char *const known[] = {"protocol", "name", "argv", "cwd", "env", "runDir", "log", "secrets", "specHash", "tail", "cgroupProcs", NULL};
  chk_unknown_keys(is, NULL, root, known);
  if (is->count > 0) return false;

  spec->name = xstrndup(name->s, name->slen);
  spec->argc = argv->count;
  spec->argv = xcalloc(argv->count, sizeof(str_t));
  for (size_t i = 0; i < argv->count; i++) spec->argv[i] = str_of(argv->items[i]);
  spec->cwd = xstrndup(jv_get(root, "cwd")->s, jv_get(root, "cwd")->slen);
  spec->envc = env->count;
  spec->env_keys = xcalloc(env->count, sizeof(str_t));
  spec->env_values = xcalloc(env->count, sizeof(str_t));
  for (size_t i = 0; i < env->count; i++) {
    spec->env_keys[i].s = xstrndup(env->keys[i], env->klens[i]);
    spec->env_keys[i].len = env->klens[i];
    spec->env_values[i] = str_of(env->items[i]);
  }
  spec->run_dir = xstrndup(jv_get(root, "runDir")->s, jv_get(root, "runDir")->slen);
  spec->log_file = xstrndup(jv_get(log, "file")->s, jv_get(log, "file")->slen);
  spec->log_max_bytes = jv_get(log, "maxBytes")->n;
  spec->log_max_files = (int)jv_get(log, "maxFiles")->n;
  spec->nsecrets = secrets->count;
  spec->secrets = xcalloc(secrets->count, sizeof(str_t));
  for (size_t i = 0; i < secrets->count; i++) spec->secrets[i] = str_of(secrets->items[i]);
  spec->spec_hash = xstrndup(jv_get(root, "specHash")->s, jv_get(root, "specHash")->slen);
  spec->tail_lines = tail ? (int)jv_get(tail, "lines")->n : 40;
  spec->tail_chars = tail ? (int)jv_get(tail, "chars")->n : 16384;
  spec->ncgroup_procs = cgroup_procs ? cgroup_procs->count : 0;
  spec->cgroup_procs = xcalloc(spec->ncgroup_procs ? spec->ncgroup_procs : 1, sizeof(str_t));
  for (size_t i = 0; i < spec->ncgroup_procs; i++) spec->cgroup_procs[i] = str_of(cgroup_procs->items[i]);
  return true;
}

// ---- redaction (src/supervise/redact.ts, on UTF-16 units) ------------------------------
typedef struct {
  uint8_t used, len;
  uint16_t u[MIN_PIECE];
} hkey_t;
typedef struct {
  hkey_t *slots;
  size_t cap, count;
} hset_t;
static uint64_t hk_hash(const uint16_t *u, size_t len) {
  uint64_t h = 1469598103934665603ull ^ len;
  for (size_t i = 0; i < len; i++) h = (h ^ u[i]) * 1099511628211ull;
  return h;
}
static bool hs_has(const hset_t *s, const uint16_t *u, size_t len) {
  if (s->cap == 0) return false;
  for (size_t i = hk_hash(u, len) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    const hkey_t *k = &s->slots[i];
    if (!k->used) return false;
    if (k->len == len && memcmp(k->u, u, len * sizeof(uint16_t)) == 0) return true;
  }
}
static void hs_add(hset_t *s, const uint16_t *u, size_t len);
static void hs_grow(hset_t *s) {
  hset_t bigger = {xcalloc(s->cap ? s->cap * 2 : 64, sizeof(hkey_t)), s->cap ? s->cap * 2 : 64, 0};
  for (size_t i = 0; i < s->cap; i++)
    if (s->slots[i].used) hs_add(&bigger, s->slots[i].u, s->slots[i].len);
  free(s->slots);
  *s = bigger;
}
static void hs_add(hset_t *s, const uint16_t *u, size_t len) {
  if ((s->count + 1) * 2 > s->cap) hs_grow(s);
  for (size_t i = hk_hash(u, len) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    hkey_t *k = &s->slots[i];
    if (!k->used) {
      k->used = 1;
      k->len = (uint8_t)len;
      memcpy(k->u, u, len * sizeof(uint16_t));
      s->count++;
      return;
    }
    if (k->len == len && memcmp(k->u, u, len * sizeof(uint16_t)) == 0) return;
  }
}

/** compileSecrets: windows of every secret, their proper prefixes, the characters used. */
typedef struct {
  int lengths[MIN_PIECE];
  int nlengths;
  hset_t windows, prefixes;
  uint8_t chars[65536 / 8];
  size_t max_length;
} matcher_t;
static const uint16_t REDACTED[] = {'<', 'r', 'e', 'd', 'a', 'c', 't', 'e', 'd', '>'};
#define REDACTED_LEN (sizeof REDACTED / sizeof REDACTED[0])

static void compile_secrets(matcher_t *m, const str_t *secrets, size_t n) {
  memset(m, 0, sizeof *m);
  bool has_len[MIN_PIECE + 1] = {false};
  for (size_t s = 0; s < n; s++) {
    u16_t u = {0};
    utf8_to_u16(secrets[s].s, secrets[s].len, &u);
    if (u.len >= MIN_SECRET) {
      size_t length = u.len < MIN_PIECE ? u.len : MIN_PIECE;
      has_len[length] = true;
      for (size_t i = 0; i + length <= u.len; i++) {
        hs_add(&m->windows, u.p + i, length);
        for (size_t p = 1; p < length; p++) hs_add(&m->prefixes, u.p + i, p);
      }
      for (size_t i = 0; i < u.len; i++) m->chars[u.p[i] >> 3] |= (uint8_t)(1u << (u.p[i] & 7));
    }
    u_free(&u);
  }
  for (int l = MIN_PIECE; l >= 1; l--)
    if (has_len[l]) m->lengths[m->nlengths++] = l;
  m->max_length = m->nlengths ? (size_t)m->lengths[0] : 0;
}
static bool m_char(const matcher_t *m, uint16_t c) { return (m->chars[c >> 3] >> (c & 7)) & 1; }
static void mark_pieces(const matcher_t *m, const uint16_t *s, size_t n, uint8_t *marks) {
  for (int li = 0; li < m->nlengths; li++) {
    size_t length = (size_t)m->lengths[li];
    size_t i = 0;
    while (i + length <= n) {
      if (!m_char(m, s[i + length - 1])) {
        i += length;
        continue;
      }
      if (hs_has(&m->windows, s + i, length)) memset(marks + i, 1, length);
      i++;
    }
  }
}
static size_t held_from(const matcher_t *m, const uint16_t *s, size_t n) {
  size_t k = n + 1 > m->max_length ? n + 1 - m->max_length : 0;
  for (; k < n; k++)
    if (hs_has(&m->prefixes, s + k, n - k)) return k;
  return n;
}
static bool render(const uint16_t *s, const uint8_t *marks, size_t end, bool in_run, u16_t *out) {
  size_t plain = SIZE_MAX;
  for (size_t i = 0; i < end; i++) {
    if (marks[i]) {
      if (plain != SIZE_MAX) {
        u_put(out, s + plain, i - plain);
        plain = SIZE_MAX;
      }
      if (!in_run) u_put(out, REDACTED, REDACTED_LEN);
      in_run = true;
    } else {
      if (plain == SIZE_MAX) plain = i;
      in_run = false;
    }
  }
  if (plain != SIZE_MAX) u_put(out, s + plain, end - plain);
  return in_run;
}
/** redactText: the whole text at once. */
static void redact_text(const matcher_t *m, const uint16_t *s, size_t n, u16_t *out) {
  if (m->max_length == 0 || n == 0) {
    u_put(out, s, n);
    return;
  }
  uint8_t *marks = xcalloc(n, 1);
  mark_pieces(m, s, n, marks);
  render(s, marks, n, false, out);
  free(marks);
}
/** createRedactor: streaming, holding back a tail that may still become a piece. */
typedef struct {
  const matcher_t *m;
  u16_t held;
  uint8_t *held_marks;
  bool in_run;
} redactor_t;
static void redactor_flush(redactor_t *r, const uint16_t *s, const uint8_t *marks, size_t n, size_t cut, u16_t *out) {
  bool run = render(s, marks, cut, r->in_run, out);
  if (cut > 0) r->in_run = run;
  size_t rest = n - cut;
  uint16_t *held = xrealloc(NULL, (rest ? rest : 1) * sizeof(uint16_t));
  uint8_t *hm = xrealloc(NULL, rest ? rest : 1);
  memcpy(held, s + cut, rest * sizeof(uint16_t));
  memcpy(hm, marks + cut, rest);
  u_free(&r->held);
  free(r->held_marks);
  r->held.p = held;
  r->held.len = r->held.cap = rest;
  r->held_marks = hm;
}
static void redactor_push(redactor_t *r, const uint16_t *text, size_t n, u16_t *out) {
  if (r->m->max_length == 0) {
    u_put(out, text, n);
    return;
  }
  u16_t s = {0};
  u_put(&s, r->held.p, r->held.len);
  u_put(&s, text, n);
  uint8_t *marks = xcalloc(s.len, 1);
  if (r->held.len) memcpy(marks, r->held_marks, r->held.len);
  mark_pieces(r->m, s.p, s.len, marks);
  redactor_flush(r, s.p, marks, s.len, held_from(r->m, s.p, s.len), out);
  free(marks);
  u_free(&s);
}
static void redactor_end(redactor_t *r, u16_t *out) {
  if (r->held.len) {
    u16_t s = {0};
    u_put(&s, r->held.p, r->held.len);
    uint8_t *marks = xcalloc(s.len, 1);
    memcpy(marks, r->held_marks, s.len);
    redactor_flush(r, s.p, marks, s.len, s.len, out);
    free(marks);
    u_free(&s);
  }
  r->in_run = false;
}

// ---- the tail (src/supervise/output-tail.ts) ------------------------------------------
typedef struct {
  u16_t *lines; /* ring of `keep` lines */
  size_t keep, first, count;
  u16_t partial;
} tail_t;
static void tail_add_line(tail_t *t, const uint16_t *s, size_t n) {
  if (n > MAX_LINE) n = MAX_LINE;
  size_t slot;
  if (t->count < t->keep) {
    slot = (t->first + t->count++) % t->keep;
  } else {
    slot = t->first;
    t->first = (t->first + 1) % t->keep;
  }
  t->lines[slot].len = 0;
  u_put(&t->lines[slot], s, n);
}
static void tail_push(tail_t *t, const uint16_t *text, size_t n) {
  u16_t all = {0};
  u_put(&all, t->partial.p, t->partial.len);
  u_put(&all, text, n);
  // split on \r?\n; the last part is the unfinished line
  size_t nparts = 0;
  for (size_t i = 0; i < all.len; i++)
    if (all.p[i] == '\n') nparts++;
  size_t skip = nparts > t->keep ? nparts - t->keep : 0, idx = 0, start = 0;
  for (size_t i = 0; i < all.len; i++) {
    if (all.p[i] != '\n') continue;
    size_t end = i;
    if (end > start && all.p[end - 1] == '\r') end--;
    if (idx++ >= skip) tail_add_line(t, all.p + start, end - start);
    start = i + 1;
  }
  size_t rest = all.len - start;
  const uint16_t *from = all.p + start;
  if (rest > MAX_LINE) {
    from += rest - MAX_LINE;
    rest = MAX_LINE;
  }
  t->partial.len = 0;
  u_put(&t->partial, from, rest);
  u_free(&all);
}
/** tail.text(stream, maxChars) */
static void tail_text(const tail_t *t, size_t max_chars, u16_t *out) {
  u16_t all = {0};
  for (size_t i = 0; i < t->count; i++) {
    const u16_t *l = &t->lines[(t->first + i) % t->keep];
    u_put(&all, l->p, l->len);
    u_putc(&all, '\n');
  }
  u_put(&all, t->partial.p, t->partial.len);
  if (all.len <= max_chars) {
    u_put(out, all.p, all.len);
  } else {
    size_t cut = all.len - max_chars, next = SIZE_MAX;
    for (size_t i = cut; i < all.len; i++)
      if (all.p[i] == '\n') {
        next = i;
        break;
      }
    size_t from = (next != SIZE_MAX && next < all.len - 1) ? next + 1 : cut;
    u_put(out, all.p + from, all.len - from);
  }
  u_free(&all);
}

// ---- /proc -----------------------------------------------------------------------------
/** Field 22 (start time) and state of /proc/<pid>/stat; false when there is no such process. */
static bool read_stat(pid_t pid, char state[2], char start[32]) {
  char path[64], text[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return false;
  text[n] = 0;
  char *close_paren = strrchr(text, ')');
  if (!close_paren || close_paren[1] != ' ') return false;
  char *rest = close_paren + 2;
  int field = 3;
  char *tok = rest;
  while (tok && *tok) {
    char *sp = strchr(tok, ' ');
    size_t len = sp ? (size_t)(sp - tok) : strlen(tok);
    if (field == 3) {
      state[0] = len ? tok[0] : '?';
      state[1] = 0;
    }
    if (field == 22) {
      if (len == 0 || len >= 32) return false;
      memcpy(start, tok, len);
      start[len] = 0;
      return true;
    }
    field++;
    tok = sp ? sp + 1 : NULL;
  }
  return false;
}
static bool is_same_process(double pid, const char *start) {
  char state[2], now[32];
  if (pid <= 0 || pid > INT_MAX || !read_stat((pid_t)pid, state, now)) return false;
  return state[0] != 'Z' && strcmp(now, start) == 0;
}
/** VmRSS of this process in bytes. */
static double self_rss(void) {
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[4096];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = 0;
  char *p = strstr(text, "\nVmRSS:");
  return p ? strtod(p + 7, NULL) * 1024 : 0;
}

// ---- paths and files -------------------------------------------------------------------
/** path.normalize of an absolute path. */
static char *normalize_abs(const char *path) {
  size_t n = strlen(path);
  char *out = xrealloc(NULL, n + 2);
  size_t len = 0;
  const char *p = path;
  while (*p) {
    while (*p == '/') p++;
    const char *seg = p;
    while (*p && *p != '/') p++;
    size_t sl = (size_t)(p - seg);
    if (sl == 0 || (sl == 1 && seg[0] == '.')) continue;
    if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
      while (len > 0 && out[len - 1] != '/') len--;
      if (len > 0) len--;
      continue;
    }
    out[len++] = '/';
    memcpy(out + len, seg, sl);
    len += sl;
  }
  if (len == 0) out[len++] = '/';
  else if (n > 1 && path[n - 1] == '/') out[len++] = '/';
  out[len] = 0;
  return out;
}
/** path.join(a, b) for an absolute a, or path.resolve(cwd, b) when b is relative. */
static char *join_abs(const char *a, const char *b) {
  buf_t t = {0};
  if (b[0] == '/') {
    b_puts(&t, b);
  } else {
    b_puts(&t, a);
    b_putc(&t, '/');
    b_puts(&t, b);
  }
  char *r = normalize_abs(b_cstr(&t));
  b_free(&t);
  return r;
}
static char *dir_name(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return xstrndup(".", 1);
  if (slash == path) return xstrndup("/", 1);
  return xstrndup(path, (size_t)(slash - path));
}
static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}
/** mkdir -p with mode 0700 for the folders it creates. */
static int mkdir_p(const char *dir) {
  struct stat st;
  if (stat(dir, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
  char *copy = xstrndup(dir, strlen(dir));
  for (char *p = copy + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(copy, 0700) != 0 && errno != EEXIST) {
      int e = errno;
      free(copy);
      errno = e;
      return -1;
    }
    *p = '/';
  }
  int rc = mkdir(copy, 0700);
  int e = errno;
  free(copy);
  if (rc != 0 && e != EEXIST) {
    errno = e;
    return -1;
  }
  return 0;
}
/**
 * writeFileAtomic (src/util/atomic-write.ts): temp file, fsync, rename, fsync of the folder;
 * 0600. With `sync_later`, the two fsyncs are left to sync_file() after the caller has told
 * fleetd: the rename alone makes the whole new file (never a part of it) visible to every
 * other process at once, which is all fleetd and the next shim need; the fsyncs only matter
 * for a crash of the machine, which also ends the gateway, and a record torn by one is read
 * as invalid (claim_run_dir, src/shim/records.ts). Before the ready line and the exit message
 * they were 10-30 ms of a kill -9 to running again at 200 agents (more on a busy disk).
 */
static int write_file_atomic(const char *path, const char *data, size_t n, bool sync_later) {
  char *dir = dir_name(path);
  if (mkdir_p(dir) != 0) {
    int e = errno;
    free(dir);
    errno = e;
    return -1;
  }
  unsigned rnd = 0;
  int ur = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (ur >= 0) {
    if (read(ur, &rnd, sizeof rnd) != (ssize_t)sizeof rnd) rnd = (unsigned)now_ms();
    close(ur);
  } else {
    rnd = (unsigned)(now_ms() ^ getpid());
  }
  buf_t tmp = {0};
  b_printf(&tmp, "%s/.%s.%d.%08x.tmp", dir, base_name(path), (int)getpid(), rnd);
  int fd = open(tmp.p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  int e = 0;
  if (fd < 0) {
    e = errno;
  } else {
    if (!write_all(fd, data, n) || fchmod(fd, 0600) != 0 || (!sync_later && fsync(fd) != 0)) e = errno ? errno : EIO;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp.p, path) != 0) e = errno;
    if (e) unlink(tmp.p);
  }
  if (!e && !sync_later) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
  }
  b_free(&tmp);
  free(dir);
  errno = e;
  return e ? -1 : 0;
}
/** The fsyncs write_file_atomic(..., true) left out: the file's data, then its folder's entry. Best effort. */
static void sync_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  char *dir = dir_name(path);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  free(dir);
}

// ---- the log (src/supervise/log-sink.ts) ----------------------------------------------
typedef struct {
  const char *file;
  double max_bytes;
  int max_files;
  const matcher_t *m;
  int fd;
  double size;
  bool at_line_start, closed;
  bool failed_open;
  int64_t failed_open_at;
  double written, dropped, failures;
  /** run.ts: the disk error seen last, while writes fail ("" when none) */
  char trouble[32];
  double lost_before;
} sink_t;

static void sink_fail(sink_t *k, int err) {
  k->failures += 1;
  // run.ts onError: said once per spell of trouble
  if (k->trouble[0] == 0) warn("cannot write %s (%s); gateway output is dropped and counted until it can", k->file, errno_name(err));
  snprintf(k->trouble, sizeof k->trouble, "%s", errno_name(err));
}
static void sink_open(sink_t *k, bool append) {
  char *dir = dir_name(k->file);
  int rc = mkdir_p(dir);
  int e = errno;
  free(dir);
  struct stat st;
  if (rc == 0) {
    k->fd = open(k->file, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
    e = errno;
    if (k->fd >= 0 && fstat(k->fd, &st) != 0) {
      e = errno;
      close(k->fd);
      k->fd = -1;
    }
  }
  if (rc == 0 && k->fd >= 0) {
    k->size = (double)st.st_size;
    k->failed_open = false;
    return;
  }
  k->fd = -1;
  k->failed_open = true;
  k->failed_open_at = now_ms();
  sink_fail(k, e);
}
/** Deletes rotated files numbered maxFiles-1 and above; -1 with errno on the first failure. */
static int remove_beyond(const char *file, int max_files) {
  char *dir = dir_name(file);
  const char *base = base_name(file);
  size_t blen = strlen(base);
  DIR *d = opendir(dir);
  if (!d) {
    int e = errno;
    free(dir);
    errno = e;
    return -1;
  }
  int rc = 0;
  struct dirent *ent;
  while ((ent = readdir(d)) != NULL) {
    const char *name = ent->d_name;
    if (strncmp(name, base, blen) != 0 || name[blen] != '.') continue;
    const char *num = name + blen + 1;
    if (!*num || strspn(num, "0123456789") != strlen(num)) continue;
    if (strtod(num, NULL) < max_files - 1) continue;
    buf_t p = {0};
    b_printf(&p, "%s/%s", dir, name);
    int u = unlink(p.p);
    int e = errno;
    b_free(&p);
    if (u != 0) {
      rc = -1;
      errno = e;
      break;
    }
  }
  int e = errno;
  closedir(d);
  free(dir);
  errno = e;
  return rc;
}
static void sink_rotate(sink_t *k) {
  if (k->fd >= 0) close(k->fd);
  k->fd = -1;
  if (k->max_files > 1) {
    buf_t a = {0}, b = {0};
    int rc = remove_beyond(k->file, k->max_files);
    for (int i = k->max_files - 2; rc == 0 && i >= 1; i--) {
      a.len = b.len = 0;
      b_printf(&a, "%s.%d", k->file, i);
      b_printf(&b, "%s.%d", k->file, i + 1);
      if (access(a.p, F_OK) == 0 && rename(a.p, b.p) != 0) rc = -1;
    }
    if (rc == 0 && rename(k->file, (a.len = 0, b_printf(&a, "%s.1", k->file), a.p)) != 0) rc = -1;
    if (rc != 0) sink_fail(k, errno);
    b_free(&a);
    b_free(&b);
  }
  sink_open(k, k->max_files > 1);
}
static void sink_write_bytes(sink_t *k, const char *bytes, size_t n) {
  int guard = 0;
  if (k->fd < 0 && !k->closed && (!k->failed_open || now_ms() - k->failed_open_at >= REOPEN_AFTER_MS)) sink_open(k, true);
  while (n > 0 && k->fd >= 0 && guard++ < 10000) {
    double room = k->max_bytes - k->size;
    if (room <= 0) {
      sink_rotate(k);
      continue;
    }
    size_t cut = n;
    if ((double)n > room) {
      // Prefer to end the file at a line break; cut mid-line only in an empty file.
      size_t r = (size_t)room;
      cut = 0;
      for (size_t i = r; i > 0; i--)
        if (bytes[i - 1] == '\n') {
          cut = i;
          break;
        }
      if (cut == 0) {
        if (k->size > 0) {
          sink_rotate(k);
          continue;
        }
        cut = r;
      }
    }
    ssize_t w;
    do w = write(k->fd, bytes, cut);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
      sink_fail(k, errno);
      break;
    }
    k->size += (double)w;
    k->written += (double)w;
    if (w > 0) k->at_line_start = bytes[w - 1] == '\n';
    bytes += w;
    n -= (size_t)w;
  }
  k->dropped += (double)n;
}
static void sink_write_text(sink_t *k, const uint16_t *u, size_t n) {
  if (k->closed || n == 0) return;
  buf_t b = {0};
  u16_to_utf8(u, n, &b);
  sink_write_bytes(k, b.p, b.len);
  b_free(&b);
}
/** note(): `[fleetd <iso>] text` on a line of its own, newlines as spaces, redacted. */
static void sink_note_u16(sink_t *k, const uint16_t *text, size_t n) {
  u16_t line = {0}, red = {0};
  char t[64];
  iso_time(now_ms(), t);
  char head[96];
  int hl = snprintf(head, sizeof head, "[fleetd %s] ", t);
  for (int i = 0; i < hl; i++) u_putc(&line, (uint16_t)head[i]);
  for (size_t i = 0; i < n; i++) u_putc(&line, text[i] == '\n' ? ' ' : text[i]);
  if (!k->at_line_start) u_putc(&red, '\n');
  redact_text(k->m, line.p, line.len, &red);
  u_putc(&red, '\n');
  sink_write_text(k, red.p, red.len);
  u_free(&line);
  u_free(&red);
}
static void sink_note(sink_t *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sink_note(sink_t *k, const char *fmt, ...) {
  buf_t b = {0};
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n >= 0) {
    b_reserve(&b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b.p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b.len = (size_t)n;
  }
  u16_t u = {0};
  utf8_to_u16(b.p ? b.p : "", b.len, &u);
  sink_note_u16(k, u.p, u.len);
  u_free(&u);
  b_free(&b);
}

// ---- the shim's state ------------------------------------------------------------------
typedef struct {
  int fd;
  bool attached;
  bool ending;   /* end() asked: FIN once the queue is flushed, nothing more sent */
  bool fin_sent;
  double unannounced;
  int64_t attach_deadline; /* mono ms; 0 once attached */
  buf_t out;
  size_t out_head;
  bool pressure; /* the queue was not empty: 'drain' fires once it is */
  bool dead;     /* destroyed: closed and freed at the next sweep of the loop */
  /* line splitter (src/util/line-splitter.ts) */
  buf_t pending;
  bool skipping;
} conn_t;

static struct {
  spec_t spec;
  matcher_t matcher;
  sink_t sink;
  tail_t tails[2];
  utf8dec_t dec[2];
  redactor_t red[2];
  bool stream_ended[2];
  double read_bytes[2];
  int64_t started_at;
  pid_t self_pid;
  char self_start[32];
  char *socket_path;
  char *record_path, *exit_path;
  int listen_fd;
  int sock_dir_fd;
  conn_t *conns[MAX_CONNECTIONS];
  int nconns;
  conn_t *owner;
  double skipped;
  /* the gateway */
  pid_t gw_pid; /* 0: none */
  char gw_start[32];
  bool gw_has_start;
  int64_t spawned_at;
  int pipes[2];
  bool gw_exited;
  int gw_status;
  int64_t exit_seen_at;
  int64_t drain_deadline;
  char *spawn_error;
  /* exit, once known */
  bool exit_known;
  double exit_code; /* NaN: null */
  const char *exit_signal;
  int64_t exit_at;
  buf_t record_json; /* compact shim.json record */
} S;

static const char *const STREAM_NAMES[2] = {"stdout", "stderr"};

// ---- socket connections (src/shim/server.ts) -----------------------------------------
static void conn_flush(conn_t *c);
static void watch_forget(const conn_t *c);
/** socket.destroy(): the connection is gone at once ('close' drops it from the server). */
static void conn_destroy(conn_t *c) {
  c->dead = true;
  watch_forget(c); // before the sweep frees it: a new connection may get its address
  if (S.owner == c) S.owner = NULL;
}
/** Frees destroyed connections (only here, so no pointer held during one turn of the loop dangles). */
static void sweep_conns(void) {
  for (int i = S.nconns - 1; i >= 0; i--) {
    conn_t *c = S.conns[i];
    if (!c->dead) continue;
    S.conns[i] = S.conns[--S.nconns];
    close(c->fd);
    b_free(&c->out);
    b_free(&c->pending);
    free(c);
  }
}
static size_t conn_pending(const conn_t *c) { return c->out.len - c->out_head; }
/** socket.write(line) when the socket is writable (not ended). */
static void conn_send(conn_t *c, const buf_t *line) {
  if (c->ending || c->dead) return;
  b_put(&c->out, line->p, line->len);
  conn_flush(c);
}
/** socket.end(): flush, then FIN. */
static void conn_end(conn_t *c) {
  if (c->dead) return;
  c->ending = true;
  conn_flush(c);
}
/** Writes what the kernel takes; destroys the connection on a write error (EPIPE, ECONNRESET). Returns false when destroyed. */
static bool conn_try_flush(conn_t *c) {
  if (c->dead) return false;
  while (conn_pending(c) > 0) {
    ssize_t w = send(c->fd, c->out.p + c->out_head, conn_pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (w < 0) {
      conn_destroy(c);
      return false;
    }
    c->out_head += (size_t)w;
  }
  if (c->out_head > 0 && (conn_pending(c) == 0 || c->out_head > c->out.len / 2)) {
    memmove(c->out.p, c->out.p + c->out_head, conn_pending(c));
    c->out.len -= c->out_head;
    c->out_head = 0;
  }
  if (conn_pending(c) > 0) c->pressure = true;
  if (c->ending && conn_pending(c) == 0 && !c->fin_sent) {
    shutdown(c->fd, SHUT_WR);
    c->fin_sent = true;
  }
  return true;
}
static void send_skipped(conn_t *c);
static void conn_flush(conn_t *c) {
  bool had = c->pressure;
  if (!conn_try_flush(c)) return;
  if (had && conn_pending(c) == 0) {
    c->pressure = false;
    // 'drain': announce what this client missed
    send_skipped(c);
  }
}
static void send_skipped(conn_t *c) {
  if (c->unannounced > 0 && S.owner == c) {
    buf_t m = {0};
    b_puts(&m, "{\"type\":\"skipped\",\"bytes\":");
    json_num(&m, c->unannounced);
    b_puts(&m, "}\n");
    c->unannounced = 0;
    conn_send(c, &m);
    b_free(&m);
  }
}
/** An error message; `end`: then end the connection. */
static void conn_fail(conn_t *c, bool has_id, double id, const char *code, const char *message, bool end) {
  buf_t m = {0};
  jw_t w = {&m, false, 0, {false}};
  jw_open(&w);
  jw_str(&w, "type", "error");
  if (has_id) jw_num(&w, "id", id);
  else jw_null(&w, "id");
  jw_str(&w, "code", code);
  jw_str(&w, "message", message);
  jw_close(&w);
  b_putc(&m, '\n');
  conn_send(c, &m);
  b_free(&m);
  if (end) conn_end(c);
}
static void tail_json(jw_t *w, const char *key, int stream, size_t chars) {
  u16_t t = {0};
  tail_text(&S.tails[stream], chars, &t);
  jw_key(w, key);
  json_u16(w->b, t.p, t.len);
  u_free(&t);
}
static void exit_fields(jw_t *w) {
  if (isnan(S.exit_code)) jw_null(w, "code");
  else jw_num(w, "code", S.exit_code);
  jw_str(w, "signal", S.exit_signal);
  jw_num(w, "at", (double)S.exit_at);
  if (S.spawn_error) jw_str(w, "error", S.spawn_error);
}
static void send_exit(conn_t *c) {
  buf_t m = {0};
  jw_t w = {&m, false, 0, {false}};
  jw_open(&w);
  exit_fields(&w);
  jw_str(&w, "type", "exit");
  jw_close(&w);
  b_putc(&m, '\n');
  conn_send(c, &m);
  b_free(&m);
}
static void do_attach(conn_t *c, double id, double protocol, bool takeover) {
  if (protocol != SHIM_PROTOCOL) {
    char msg[128];
    buf_t pn = {0};
    json_num(&pn, protocol);
    snprintf(msg, sizeof msg, "this shim speaks protocol %d, the client %s", SHIM_PROTOCOL, pn.p);
    b_free(&pn);
    conn_fail(c, true, id, "protocol", msg, true);
    return;
  }
  if (S.owner && S.owner != c) {
    if (!takeover) {
      conn_fail(c, true, id, "busy", "another client is attached; attach with takeover to replace it", true);
      return;
    }
    conn_t *old = S.owner;
    conn_fail(old, false, 0, "replaced", "another client attached with takeover", true);
    old->attached = false;
    watch_forget(old);
  }
  S.owner = c;
  c->attached = true;
  c->attach_deadline = 0;
  // One step: no output can fall between the tail in hello and the first output message.
  buf_t m = {0};
  jw_t w = {&m, false, 0, {false}};
  jw_open(&w);
  jw_str(&w, "type", "hello");
  jw_num(&w, "protocol", SHIM_PROTOCOL);
  jw_key(&w, "record");
  b_put(&m, S.record_json.p, S.record_json.len);
  jw_key(&w, "tail");
  jw_open(&w);
  tail_json(&w, "stdout", 0, (size_t)S.spec.tail_chars);
  tail_json(&w, "stderr", 1, (size_t)S.spec.tail_chars);
  jw_close(&w);
  jw_key(&w, "features");
  b_puts(&m, "[\"watch\"]");
  jw_close(&w);
  b_putc(&m, '\n');
  conn_send(c, &m);
  b_free(&m);
  if (S.exit_known) {
    send_exit(c);
    conn_end(c);
  }
}
static void send_status(conn_t *c, double id) {
  buf_t m = {0};
  jw_t w = {&m, false, 0, {false}};
  jw_open(&w);
  jw_str(&w, "type", "status");
  jw_num(&w, "id", id);
  jw_key(&w, "stats");
  jw_open(&w);
  jw_key(&w, "readBytes");
  jw_open(&w);
  jw_num(&w, "stdout", S.read_bytes[0]);
  jw_num(&w, "stderr", S.read_bytes[1]);
  jw_close(&w);
  jw_key(&w, "log");
  jw_open(&w);
  jw_num(&w, "writtenBytes", S.sink.written);
  jw_num(&w, "droppedBytes", S.sink.dropped);
  jw_num(&w, "failures", S.sink.failures);
  jw_close(&w);
  jw_num(&w, "skippedBytes", S.skipped);
  jw_num(&w, "rssBytes", self_rss());
  jw_num(&w, "startedAt", (double)S.started_at);
  jw_close(&w);
  jw_close(&w);
  b_putc(&m, '\n');
  conn_send(c, &m);
  b_free(&m);
}
// ---- the watch (protocol.ts `watch`): the gateway's readiness, checked here ------------
// fleetd used to make this request itself, in Node, for every ready agent every interval
// (~0.2 ms of CPU each); here it is a socket, one write, a read or two and a close inside
// the poll loop, and nothing is said while the answer is 200. One check at a time: the
// next is due intervalMs after the previous one started, and a check still running when it
// is due delays it. A check is bounded by timeoutMs (folded into the poll timeout) and by
// WATCH_KEEP_BYTES kept; the answer is judged as http-get.ts parseAnswer judges it.
enum { W_IDLE, W_CONNECTING, W_WRITING, W_READING };
static struct {
  bool active;
  conn_t *owner; /* the attached client that asked; the watch ends when it stops being that */
  int port;
  int64_t interval_ms, timeout_ms;
  int64_t next_at; /* mono ms the next check is due */
  /* the running check (fd -1: none) */
  int fd;
  int phase;
  unsigned gen; /* counts checks: a poll result is for the check it was polled for */
  int64_t started_at; /* epoch ms, for watch-miss `at` */
  int64_t deadline;   /* mono ms */
  char request[MAX_WATCH_PATH + 128];
  size_t request_len, request_sent;
  size_t kept;
} W = {.fd = -1};
static char watch_answer[WATCH_KEEP_BYTES];

/** Drops the running check, if any (silently). */
static void watch_drop_check(void) {
  if (W.fd >= 0) close(W.fd);
  W.fd = -1;
  W.phase = W_IDLE;
}
/** Ends the watch, dropping a running check. */
static void watch_stop(void) {
  watch_drop_check();
  W.active = false;
  W.owner = NULL;
}
/** The client `c` is gone or no longer attached: a watch it asked for ends. */
static void watch_forget(const conn_t *c) {
  if (W.active && W.owner == c) watch_stop();
}
/** The check failed: ends the watch and tells the client that asked (status < 0: null). */
static void watch_miss(int status, const char *error) {
  conn_t *c = W.owner;
  int64_t at = W.started_at;
  watch_stop();
  if (!c || c != S.owner || c->dead || c->ending || !c->attached) return;
  buf_t m = {0};
  jw_t w = {&m, false, 0, {false}};
  jw_open(&w);
  jw_str(&w, "type", "watch-miss");
  jw_num(&w, "at", (double)at);
  if (status >= 0) jw_num(&w, "status", status);
  else jw_null(&w, "status");
  jw_str(&w, "error", error);
  jw_close(&w);
  b_putc(&m, '\n');
  conn_send(c, &m);
  b_free(&m);
}
static void watch_fail(int err) { watch_miss(-1, err == ECONNREFUSED ? "connection refused" : errno_name(err)); }
/** Starts watching for `c` (replacing any watch): GET `path` on 127.0.0.1:`port`, first intervalMs from now. */
static void watch_start(conn_t *c, int port, const char *path, int64_t interval_ms, int64_t timeout_ms) {
  watch_stop();
  if (S.gw_exited) return; // nothing left to watch: the exit message follows
  W.active = true;
  W.owner = c;
  W.port = port;
  W.interval_ms = interval_ms;
  W.timeout_ms = timeout_ms;
  W.next_at = mono_ms() + interval_ms;
  int n = snprintf(W.request, sizeof W.request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/json\r\nConnection: close\r\n\r\n", path, port);
  W.request_len = n < 0 ? 0 : (size_t)n >= sizeof W.request ? sizeof W.request - 1 : (size_t)n; // path <= MAX_WATCH_PATH: always fits
}
/** Sends what is left of the request; then the answer is read. */
static void watch_write(void) {
  while (W.request_sent < W.request_len) {
    ssize_t w = send(W.fd, W.request + W.request_sent, W.request_len - W.request_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      W.phase = W_WRITING;
      return;
    }
    if (w < 0) {
      watch_fail(errno);
      return;
    }
    W.request_sent += (size_t)w;
  }
  W.phase = W_READING;
}
/** Starts a check now (mono ms `now`). */
static void watch_begin(int64_t now) {
  W.gen++;
  W.started_at = now_ms();
  W.deadline = now + W.timeout_ms;
  W.next_at = now + W.interval_ms;
  W.request_sent = 0;
  W.kept = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    watch_fail(errno);
    return;
  }
  W.fd = fd;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)W.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
    watch_write();
    return;
  }
  if (errno == EINPROGRESS || errno == EINTR) { // EINTR: the connect goes on in the background
    W.phase = W_CONNECTING;
    return;
  }
  watch_fail(errno);
}
/** The whole answer is in (EOF): 200 is silence, anything else a miss (http-get.ts parseAnswer). */
static void watch_judge(void) {
  if (W.kept == 0) {
    watch_miss(-1, "the connection closed without an answer");
    return;
  }
  const char *a = watch_answer;
  // /^HTTP\/1\.[01] (\d{3})/ on the status line, and the header block must end
  bool ok = W.kept >= 12 && memmem(a, W.kept, "\r\n\r\n", 4) && memcmp(a, "HTTP/1.", 7) == 0 && (a[7] == '0' || a[7] == '1') && a[8] == ' ';
  for (int i = 9; ok && i < 12; i++) ok = a[i] >= '0' && a[i] <= '9';
  if (!ok) {
    watch_miss(-1, "malformed answer");
    return;
  }
  int status = (a[9] - '0') * 100 + (a[10] - '0') * 10 + (a[11] - '0');
  if (status == 200) {
    watch_drop_check(); // silence; the next check is due at next_at
    return;
  }
  char error[32];
  snprintf(error, sizeof error, "answered %d", status);
  watch_miss(status, error);
}
/** One read of the answer: the first WATCH_KEEP_BYTES are kept, the rest dropped. */
static void watch_read(void) {
  static char dropped[16384];
  char *into = W.kept < WATCH_KEEP_BYTES ? watch_answer + W.kept : dropped;
  size_t room = W.kept < WATCH_KEEP_BYTES ? WATCH_KEEP_BYTES - W.kept : sizeof dropped;
  ssize_t n = recv(W.fd, into, room, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n < 0) {
    watch_fail(errno);
    return;
  }
  if (n == 0) {
    watch_judge();
    return;
  }
  if (into != dropped) W.kept += (size_t)n;
}
/** The running check's socket is ready (`revents` of the poll). */
static void watch_ready(short revents) {
  if (W.phase == W_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(W.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) {
      watch_fail(err);
      return;
    }
    if (!(revents & (POLLOUT | POLLERR | POLLHUP))) return;
    watch_write();
  } else if (W.phase == W_WRITING) {
    watch_write();
  } else if (W.phase == W_READING) {
    watch_read();
  }
}
/** Timers of the watch at mono ms `now`: the timeout of a running check, the start of a due one. */
static void watch_tick(int64_t now) {
  if (!W.active) return;
  if (!W.owner || W.owner != S.owner || W.owner->dead || W.owner->ending || !W.owner->attached) {
    watch_stop();
    return;
  }
  if (W.fd >= 0 && now >= W.deadline) {
    char error[64];
    snprintf(error, sizeof error, "no answer within %lld ms", (long long)W.timeout_ms);
    watch_miss(-1, error);
    return;
  }
  if (W.fd < 0 && now >= W.next_at) watch_begin(now);
}
/** When the loop must wake for the watch (mono ms), or -1. */
static int64_t watch_wake(void) {
  if (!W.active) return -1;
  return W.fd >= 0 ? W.deadline : W.next_at;
}
/** The path of a watch: /^\/[\x21-\x7e]*$/ (bytes: anything else fails as its UTF-16 units would). */
static bool watch_path_ok(const jv *v) {
  if (v->slen == 0 || v->s[0] != '/') return false;
  for (size_t i = 1; i < v->slen; i++)
    if ((unsigned char)v->s[i] < 0x21 || (unsigned char)v->s[i] > 0x7e) return false;
  return true;
}

/** {"type":"ok","id":<id>}: the answer to a request that has nothing else to say. */
static void send_ok(conn_t *c, double id) {
  buf_t m = {0};
  b_puts(&m, "{\"type\":\"ok\",\"id\":");
  json_num(&m, id);
  b_puts(&m, "}\n");
  conn_send(c, &m);
  b_free(&m);
}
/** Whitespace as String#trim removes it. */
static bool js_space(uint32_t cp) {
  return cp == 9 || cp == 10 || cp == 11 || cp == 12 || cp == 13 || cp == 32 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}
static bool blank_line(const uint16_t *u, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!js_space(u[i])) return false;
  return true;
}
/** One line from a client (server.ts handle). */
static void handle_line(conn_t *c, const char *raw, size_t n) {
  u16_t u = {0};
  utf8_to_u16(raw, n, &u);
  bool blank = blank_line(u.p, u.len);
  buf_t text = {0};
  if (!blank) u16_to_utf8(u.p, u.len, &text);
  u_free(&u);
  if (blank) return;
  jv *json = json_parse(text.p, text.len);
  b_free(&text);
  if (!json) {
    conn_fail(c, false, 0, "bad-message", "not a JSON line", false);
    return;
  }
  issues_t is = {{0}, 0};
  P(type, NULL);
  P(id, NULL);
  const jv *type = json->t == J_OBJ ? jv_get(json, "type") : NULL;
  const jv *idv = json->t == J_OBJ ? jv_get(json, "id") : NULL;
  const char *kind = NULL;
  if (json->t != J_OBJ) {
    issue(&is, NULL, "Invalid input: expected object, received %s", received(json));
  } else if (!type || type->t != J_STR ||
             !((strcmp(type->s, "attach") == 0 || strcmp(type->s, "tail") == 0 || strcmp(type->s, "status") == 0 || strcmp(type->s, "note") == 0 || strcmp(type->s, "watch") == 0 ||
                strcmp(type->s, "unwatch") == 0) &&
               strlen(type->s) == type->slen)) {
    issue(&is, &type_path, "Invalid discriminator value. Expected 'attach' | 'tail' | 'status' | 'note' | 'watch' | 'unwatch'");
  } else {
    kind = type->s;
    chk_int(&is, &id_path, idv, true, 0, false, 0);
    if (strcmp(kind, "attach") == 0) {
      P(protocol, NULL);
      P(takeover, NULL);
      chk_int(&is, &protocol_path, jv_get(json, "protocol"), false, 0, false, 0);
      const jv *t = jv_get(json, "takeover");
      if (t && t->t != J_BOOL) issue(&is, &takeover_path, "Invalid input: expected boolean, received %s", received(t));
    } else if (strcmp(kind, "tail") == 0) {
      P(chars, NULL);
      const jv *ch = jv_get(json, "chars");
      if (ch) chk_int(&is, &chars_path, ch, true, 0, true, MAX_TAIL_CHARS);
    } else if (strcmp(kind, "note") == 0) {
      P(text, NULL);
      chk_string(&is, &text_path, jv_get(json, "text"), 0, 4096);
    } else if (strcmp(kind, "watch") == 0) {
      P(port, NULL);
      P(path, NULL);
      P(intervalMs, NULL);
      P(timeoutMs, NULL);
      chk_int(&is, &port_path, jv_get(json, "port"), true, 1, true, 65535);
      const jv *pv = jv_get(json, "path");
      if (pv && pv->t == J_STR) {
        // zod runs the checks in the schema's order: regex, then max
        if (!watch_path_ok(pv)) issue(&is, &path_path, "must start with / and hold printable ASCII without spaces");
        chk_length(&is, &path_path, pv, 0, MAX_WATCH_PATH);
      } else {
        chk_string(&is, &path_path, pv, 0, MAX_WATCH_PATH);
      }
      chk_int(&is, &intervalMs_path, jv_get(json, "intervalMs"), true, 100, true, 86400000);
      chk_int(&is, &timeoutMs_path, jv_get(json, "timeoutMs"), true, 10, true, 86400000);
    }
  }
  if (is.count > 0) {
    bool has_id = idv && idv->t == J_NUM && idv->n == floor(idv->n) && idv->n >= 0 && isfinite(idv->n);
    conn_fail(c, has_id, has_id ? idv->n : 0, "bad-message", b_cstr(&is.text), false);
    b_free(&is.text);
    jv_free(json);
    return;
  }
  b_free(&is.text);
  double id = idv->n;
  if (strcmp(kind, "attach") == 0) {
    const jv *t = jv_get(json, "takeover");
    do_attach(c, id, jv_get(json, "protocol")->n, t && t->b);
  } else if (!c->attached) {
    conn_fail(c, true, id, "not-attached", "send attach first", false);
  } else if (strcmp(kind, "tail") == 0) {
    const jv *ch = jv_get(json, "chars");
    buf_t m = {0};
    jw_t w = {&m, false, 0, {false}};
    jw_open(&w);
    jw_str(&w, "type", "tail");
    jw_num(&w, "id", id);
    size_t chars = ch ? (size_t)ch->n : 16384;
    tail_json(&w, "stdout", 0, chars);
    tail_json(&w, "stderr", 1, chars);
    jw_close(&w);
    b_putc(&m, '\n');
    conn_send(c, &m);
    b_free(&m);
  } else if (strcmp(kind, "status") == 0) {
    send_status(c, id);
  } else if (strcmp(kind, "watch") == 0 || strcmp(kind, "unwatch") == 0) {
    if (strcmp(kind, "watch") == 0) {
      const jv *pv = jv_get(json, "path");
      watch_start(c, (int)jv_get(json, "port")->n, pv->s, (int64_t)jv_get(json, "intervalMs")->n, (int64_t)jv_get(json, "timeoutMs")->n);
    } else {
      watch_stop();
    }
    send_ok(c, id);
  } else {
    const jv *t = jv_get(json, "text");
    u16_t u16 = {0};
    utf8_to_u16(t->s, t->slen, &u16);
    sink_note_u16(&S.sink, u16.p, u16.len);
    u_free(&u16);
    send_ok(c, id);
  }
  jv_free(json);
}
/** Bytes from a client through the bounded line splitter; false when the connection is gone. */
static bool conn_input(conn_t *c, const char *data, size_t n) {
  conn_t *self = c;
  while (n > 0) {
    const char *nl = memchr(data, '\n', n);
    if (!nl) break;
    size_t plen = (size_t)(nl - data);
    const char *piece = data;
    data = nl + 1;
    n -= plen + 1;
    if (self->skipping) {
      self->skipping = false;
      continue;
    }
    if (self->pending.len + plen > MAX_MESSAGE_BYTES) {
      char msg[128];
      snprintf(msg, sizeof msg, "line of %zu bytes is longer than %d; skipped", self->pending.len + plen, MAX_MESSAGE_BYTES);
      self->pending.len = 0;
      conn_fail(self, false, 0, "too-long", msg, false);
    } else {
      b_put(&self->pending, piece, plen);
      buf_t line = self->pending;
      self->pending = (buf_t){0};
      handle_line(self, line.p, line.len);
      b_free(&line);
    }
    if (self->dead) return false; // destroyed by a failed write
  }
  if (n == 0 || self->skipping) return true;
  if (self->pending.len + n > MAX_MESSAGE_BYTES) {
    char msg[128];
    snprintf(msg, sizeof msg, "line of %zu bytes is longer than %d; skipped", self->pending.len + n, MAX_MESSAGE_BYTES);
    b_free(&self->pending);
    self->skipping = true;
    conn_fail(self, false, 0, "too-long", msg, false);
    return true;
  }
  b_put(&self->pending, data, n);
  return true;
}
/** server.output(): redacted output to the attached client, skipped while it lags. */
static void server_output(int stream, const uint16_t *text, size_t n) {
  conn_t *c = S.owner;
  if (!c || c->dead) return;
  if (conn_pending(c) > MAX_PENDING_BYTES) {
    double bytes = (double)u16_utf8_len(text, n);
    c->unannounced += bytes;
    S.skipped += bytes;
    return;
  }
  buf_t m = {0};
  b_reserve(&m, n + 48);
  b_puts(&m, "{\"type\":\"output\",\"stream\":\"");
  b_puts(&m, STREAM_NAMES[stream]);
  b_puts(&m, "\",\"text\":");
  json_u16(&m, text, n);
  b_puts(&m, "}\n");
  conn_send(c, &m);
  b_free(&m);
}

// ---- output capture (run.ts capture + log-sink.ts stream) ------------------------------
static void emit(int stream, const u16_t *text) {
  if (text->len == 0) return;
  sink_write_text(&S.sink, text->p, text->len);
  tail_push(&S.tails[stream], text->p, text->len);
  server_output(stream, text->p, text->len);
}
static void stream_write(int stream, const uint8_t *chunk, size_t n) {
  if (S.stream_ended[stream]) return;
  u16_t decoded = {0}, out = {0};
  dec_write(&S.dec[stream], chunk, n, &decoded);
  redactor_push(&S.red[stream], decoded.p, decoded.len, &out);
  emit(stream, &out);
  u_free(&decoded);
  u_free(&out);
}
static void stream_end(int stream) {
  if (S.stream_ended[stream]) return;
  S.stream_ended[stream] = true;
  u16_t decoded = {0}, out = {0};
  dec_end(&S.dec[stream], &decoded);
  redactor_push(&S.red[stream], decoded.p, decoded.len, &out);
  redactor_end(&S.red[stream], &out);
  emit(stream, &out);
  u_free(&decoded);
  u_free(&out);
}
static void capture(int stream, const uint8_t *chunk, size_t n) {
  S.read_bytes[stream] += (double)n;
  bool troubled = S.sink.trouble[0] != 0;
  double written = S.sink.written, dropped = S.sink.dropped;
  stream_write(stream, chunk, n);
  if (!troubled) return;
  // Back from a disk failure: say in the log itself how much is missing.
  if (S.sink.written > written && S.sink.dropped == dropped) {
    char trouble[32];
    snprintf(trouble, sizeof trouble, "%s", S.sink.trouble);
    sink_note(&S.sink, "%.0f bytes of gateway output were lost: the log could not be written (%s)", S.sink.dropped - S.sink.lost_before, trouble);
    warn("writing %s again after %s", S.spec.log_file, trouble);
    S.sink.lost_before = S.sink.dropped;
    S.sink.trouble[0] = 0;
  }
}

// ---- the ready line, run dir and records (main.ts, run-dir.ts, records.ts) -------------
static bool ready_sent = false;
static void ready_line(const buf_t *line) {
  if (ready_sent) return;
  ready_sent = true;
  write_all(1, line->p, line->len);
  // fleetd reads the ready line and goes: stdout is closed (kept as /dev/null, so fd 1 stays taken)
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 1);
    close(null);
  }
}
static void ready_failed(const char *code, const char *message) {
  buf_t m = {0};
  jw_t w = {&m, false, 0, {false}};
  jw_open(&w);
  jw_str(&w, "type", "failed");
  jw_str(&w, "code", code);
  jw_str(&w, "message", message);
  jw_close(&w);
  b_putc(&m, '\n');
  ready_line(&m);
  b_free(&m);
}

/** runDirProblem(): why the run dir is not a private folder of this user, or NULL. */
static char *run_dir_problem(const char *dir) {
  struct stat st;
  buf_t b = {0};
  if (lstat(dir, &st) != 0) {
    if (errno == ENOENT) b_printf(&b, "%s does not exist", dir);
    else b_printf(&b, "%s: cannot inspect it (%s)", dir, errno_name(errno));
  } else if (S_ISLNK(st.st_mode)) {
    b_printf(&b, "%s is a symlink; the shim's folder must be a real folder", dir);
  } else if (!S_ISDIR(st.st_mode)) {
    b_printf(&b, "%s is not a folder", dir);
  } else if (st.st_uid != getuid()) {
    b_printf(&b, "%s belongs to uid %u, not to fleetd's user (uid %u)", dir, (unsigned)st.st_uid, (unsigned)getuid());
  } else if (st.st_mode & 077) {
    b_printf(&b, "%s has mode %o; it must be 700", dir, (unsigned)(st.st_mode & 0777));
  }
  return b.p;
}

/** Reads a whole small file; NULL with errno. */
static char *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  buf_t b = {0};
  char chunk[8192];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      b_free(&b);
      errno = e;
      return NULL;
    }
    if (n == 0) break;
    b_put(&b, chunk, (size_t)n);
  }
  close(fd);
  *len = b.len;
  return b_cstr(&b);
}

static bool is_digits(const jv *v) { return v && v->t == J_STR && v->slen > 0 && strspn(v->s, "0123456789") == v->slen; }
static bool is_pid(const jv *v) { return v && v->t == J_NUM && v->n == floor(v->n) && v->n > 0 && v->n <= MAX_SAFE_INT; }

/** liveShimIn(): the pid of a live shim recorded in the run dir (same pid AND start time), other than us; 0 when none. */
static pid_t live_shim_in(void) {
  size_t len;
  char *text = read_file(S.record_path, &len);
  if (!text) return 0;
  buf_t clean = {0};
  utf8_sanitize(text, len, &clean);
  free(text);
  jv *rec = json_parse(clean.p, clean.len);
  b_free(&clean);
  pid_t holder = 0;
  if (rec && rec->t == J_OBJ) {
    const jv *pid = jv_get(rec, "shimPid"), *start = jv_get(rec, "shimStartTime");
    const jv *gp = jv_get(rec, "gatewayPid"), *gs = jv_get(rec, "gatewayStartTime");
    const jv *proto = jv_get(rec, "protocol"), *spawned = jv_get(rec, "spawnedAt");
    bool valid = is_pid(pid) && is_digits(start) && proto && proto->t == J_NUM && proto->n == floor(proto->n) && (gp && (gp->t == J_NULL || is_pid(gp))) &&
                 (gs && (gs->t == J_NULL || is_digits(gs))) && spawned && spawned->t == J_NUM;
    static const char *const strings[] = {"name", "specHash", "socket", "logFile"};
    for (size_t i = 0; i < 4; i++) {
      const jv *s = jv_get(rec, strings[i]);
      if (!s || s->t != J_STR) valid = false;
    }
    if (valid && (pid_t)pid->n != S.self_pid && is_same_process(pid->n, start->s)) holder = (pid_t)pid->n;
  }
  jv_free(rec);
  return holder;
}

/** A sockaddr for `path` of any length (reachableSocketPath: long ones through the folder's descriptor). */
static bool socket_addr(const char *path, struct sockaddr_un *addr, int *dir_fd) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  *dir_fd = -1;
  if (strlen(path) < sizeof addr->sun_path) {
    memcpy(addr->sun_path, path, strlen(path));
    return true;
  }
  char *dir = dir_name(path);
  *dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(dir);
  if (*dir_fd < 0) return false;
  int n = snprintf(addr->sun_path, sizeof addr->sun_path, "/proc/self/fd/%d/%s", *dir_fd, base_name(path));
  return n > 0 && (size_t)n < sizeof addr->sun_path;
}

/** claimRunDir(): 0 when claimed; 1 busy (holder in *holder, 0 when only the socket answers); -1 internal (message in *why). */
static int claim_run_dir(pid_t *holder, buf_t *why) {
  *holder = live_shim_in();
  if (*holder) return 1;
  struct stat st;
  if (lstat(S.socket_path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      b_printf(why, "%s exists and is not a socket; move it away or choose another socket path", S.socket_path);
      return -1;
    }
    struct sockaddr_un addr;
    int dfd;
    bool live = false;
    if (socket_addr(S.socket_path, &addr, &dfd)) {
      int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd >= 0) {
        int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
        live = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
        close(fd);
      }
    }
    if (dfd >= 0) close(dfd);
    if (live) return 1;
    if (unlink(S.socket_path) != 0 && errno != ENOENT) {
      b_printf(why, "%s: cannot remove it (%s)", S.socket_path, errno_name(errno));
      return -1;
    }
  }
  const char *files[] = {S.exit_path, S.record_path, S.socket_path};
  for (int i = 0; i < 3; i++)
    if (unlink(files[i]) != 0 && errno != ENOENT) {
      b_printf(why, "%s: cannot remove it (%s)", files[i], errno_name(errno));
      return -1;
    }
  return 0;
}

/** listenUnixSocket(): bound under umask 0177, then chmod 0600. NULL or the reason. */
static char *listen_socket(void) {
  buf_t why = {0};
  struct sockaddr_un addr;
  if (!socket_addr(S.socket_path, &addr, &S.sock_dir_fd)) {
    b_printf(&why, "cannot listen on %s: %s", S.socket_path, errno_name(errno));
    return why.p;
  }
  S.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  mode_t previous = umask(0177);
  int rc = S.listen_fd < 0 ? -1 : bind(S.listen_fd, (struct sockaddr *)&addr, sizeof addr);
  if (rc == 0) rc = listen(S.listen_fd, 511);
  int e = errno;
  umask(previous);
  if (rc != 0) {
    b_printf(&why, "cannot listen on %s: listen %s: %s %s%s", S.socket_path, errno_name(e), strerror(e), S.socket_path,
             e == EADDRINUSE ? " (another process bound it just now; it was left alone)" : "");
    return why.p;
  }
  chmod(S.socket_path, 0600);
  return NULL;
}

static void write_record_json(buf_t *b, bool pretty) {
  jw_t w = {b, pretty, 0, {false}};
  jw_open(&w);
  jw_num(&w, "protocol", SHIM_PROTOCOL);
  jw_str(&w, "name", S.spec.name);
  jw_num(&w, "shimPid", (double)S.self_pid);
  jw_str(&w, "shimStartTime", S.self_start);
  if (S.gw_pid) jw_num(&w, "gatewayPid", (double)S.gw_pid);
  else jw_null(&w, "gatewayPid");
  jw_str(&w, "gatewayStartTime", S.gw_has_start ? S.gw_start : NULL);
  jw_num(&w, "spawnedAt", (double)S.spawned_at);
  jw_str(&w, "specHash", S.spec.spec_hash);
  jw_str(&w, "socket", S.socket_path);
  jw_str(&w, "logFile", S.spec.log_file);
  jw_close(&w);
}

// ---- spawning the gateway (src/supervise/spawn-gateway.ts) -----------------------------
static bool executable_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}
/** resolveCommand(): argv[0] looked up in the gateway's PATH, relative entries from its cwd. */
static char *resolve_command(const char *command, const char *path_env, const char *cwd) {
  if (strchr(command, '/')) {
    char *full = command[0] == '/' ? normalize_abs(command) : join_abs(cwd, command);
    if (executable_file(full)) return full;
    free(full);
    return NULL;
  }
  const char *p = path_env ? path_env : "";
  for (;;) {
    const char *colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    if (len > 0) {
      char *dir = xstrndup(p, len);
      char *base = dir[0] == '/' ? normalize_abs(dir) : join_abs(cwd, dir);
      char *full = join_abs(base, command);
      free(base);
      free(dir);
      if (executable_file(full)) return full;
      free(full);
    }
    if (!colon) break;
    p = colon + 1;
  }
  return NULL;
}
static void spawn_failed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void spawn_failed(const char *fmt, ...) {
  buf_t b = {0};
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  b_reserve(&b, (size_t)(n > 0 ? n : 0));
  va_start(ap, fmt);
  vsnprintf(b.p, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
  va_end(ap);
  S.spawn_error = b.p;
}
static const char *spec_env(const char *key) {
  const char *found = NULL;
  for (size_t i = 0; i < S.spec.envc; i++)
    if (strcmp(S.spec.env_keys[i].s, key) == 0 && S.spec.env_keys[i].len == strlen(key)) found = S.spec.env_values[i].s;
  return found;
}
// The launch chain's first step (src/isolation/launch-chain.ts), done here instead of by an
// exec of /bin/sh: the child writes its own pid to each cgroup.procs after setsid and the
// redirections, before its execve, so the gateway's first instruction already runs inside
// and nothing it forks can start outside. A file that cannot be written ends the child as
// the /bin/sh step would (the reason on its stderr, i.e. the agent's log, exit 126), after
// the exec report pipe closed unwritten: the launch is a gateway that exited 126 at once.
// The shim is single-threaded, so its forked child may call snprintf and strerror (no lock held elsewhere).
/** The child's cgroup join (before execve); returns only when every file took its pid. */
static void join_cgroups(void) {
  if (S.spec.ncgroup_procs == 0) return;
  char pid[24];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  for (size_t i = 0; i < S.spec.ncgroup_procs; i++) {
    const char *file = S.spec.cgroup_procs[i].s;
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    int e = 0;
    if (fd < 0) {
      e = errno;
    } else {
      errno = 0;
      if (write(fd, pid, (size_t)n) != n) e = errno ? errno : EIO; // a short write sets no errno
    }
    if (fd >= 0) close(fd);
    if (e == 0) continue;
    const char *parts[] = {"fleetd-join-cgroup: cannot write ", file, ": ", strerror(e), "\n"};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
      ssize_t ignored = write(2, parts[k], strlen(parts[k]));
      (void)ignored;
    }
    _exit(126);
  }
}

/** Spawns the gateway: setsid, stdin /dev/null, stdout/stderr pipes, exactly the spec's env and cwd, the spec's cgroups joined. */
static void spawn_gateway(const sigset_t *child_mask) {
  S.pipes[0] = S.pipes[1] = -1;
  const char *program = S.spec.argv[0].s;
  struct stat st;
  if (stat(S.spec.cwd, &st) != 0) return spawn_failed("working directory %s does not exist", S.spec.cwd);
  if (!S_ISDIR(st.st_mode)) return spawn_failed("working directory %s is not a directory", S.spec.cwd);
  const char *path_env = spec_env("PATH");
  char *file = resolve_command(program, path_env, S.spec.cwd);
  if (!file) return spawn_failed("command not found or not executable: \"%s\" (PATH=%s)", program, path_env ? path_env : "");
  for (size_t i = 0; i < S.spec.argc; i++)
    if (strlen(S.spec.argv[i].s) != S.spec.argv[i].len) {
      spawn_failed("spawn %s failed: argument %zu holds a NUL byte", file, i);
      free(file);
      return;
    }
  for (size_t i = 0; i < S.spec.envc; i++)
    if (strlen(S.spec.env_keys[i].s) != S.spec.env_keys[i].len || strlen(S.spec.env_values[i].s) != S.spec.env_values[i].len) {
      spawn_failed("spawn %s failed: the environment variable %s holds a NUL byte", file, S.spec.env_keys[i].s);
      free(file);
      return;
    }
  char **argv = xcalloc(S.spec.argc + 1, sizeof(char *));
  for (size_t i = 0; i < S.spec.argc; i++) argv[i] = S.spec.argv[i].s;
  char **envp = xcalloc(S.spec.envc + 1, sizeof(char *));
  for (size_t i = 0; i < S.spec.envc; i++) {
    buf_t kv = {0};
    b_printf(&kv, "%s=%s", S.spec.env_keys[i].s, S.spec.env_values[i].s);
    envp[i] = kv.p;
  }
  int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = -1;
  int e = 0;
  if (devnull < 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) {
    e = errno;
  } else {
    pid = fork();
    if (pid < 0) e = errno;
  }
  if (pid == 0) {
    // the child: its own session, default signal dispositions, nothing blocked
    setsid();
    for (int sig = 1; sig < NSIG; sig++)
      if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, child_mask, NULL);
    if (dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0 || chdir(S.spec.cwd) != 0) {
      int ce = errno;
      ssize_t ignored = write(report[1], &ce, sizeof ce);
      (void)ignored;
      _exit(127);
    }
    join_cgroups();
    execve(file, argv, envp);
    int ce = errno;
    ssize_t ignored = write(report[1], &ce, sizeof ce);
    (void)ignored;
    _exit(127);
  }
  if (devnull >= 0) close(devnull);
  if (out[1] >= 0) close(out[1]);
  if (err[1] >= 0) close(err[1]);
  if (report[1] >= 0) close(report[1]);
  if (pid > 0) {
    // as libuv: the spawn is done once exec succeeded (the report pipe closes) or failed (errno on it)
    int ce = 0;
    ssize_t n;
    do n = read(report[0], &ce, sizeof ce);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof ce) {
      e = ce;
      int status;
      waitpid(pid, &status, 0);
      pid = -1;
    }
  }
  if (report[0] >= 0) close(report[0]);
  for (size_t i = 0; i < S.spec.envc; i++) free(envp[i]);
  free(envp);
  free(argv);
  if (pid <= 0) {
    if (out[0] >= 0) close(out[0]);
    if (err[0] >= 0) close(err[0]);
    spawn_failed("spawn %s failed: spawn %s %s", file, file, errno_name(e));
    free(file);
    return;
  }
  free(file);
  S.gw_pid = pid;
  // read now: even an instant exit leaves a zombie to read until it is reaped
  char state[2];
  S.gw_has_start = read_stat(pid, state, S.gw_start);
  S.pipes[0] = out[0];
  S.pipes[1] = err[0];
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
}

// ---- formatDuration (src/util/duration.ts) ---------------------------------------------
static double js_round(double v) { return floor(v + 0.5); }
static void trim1(char *out, size_t size, double n) {
  snprintf(out, size, "%.1f", n > 1e15 ? 1e15 : n);
  size_t len = strlen(out);
  if (len >= 2 && strcmp(out + len - 2, ".0") == 0) out[len - 2] = 0;
}
static void format_duration(double ms, char *out, size_t size) {
  double value = ms > 0 ? ms : 0;
  char t[24];
  if (js_round(value) < 1000) {
    snprintf(out, size, "%.0f ms", js_round(value));
    return;
  }
  double seconds = js_round(value / 100) / 10;
  if (seconds < 60) {
    trim1(t, sizeof t, seconds);
    snprintf(out, size, "%s s", t);
    return;
  }
  double minutes = js_round(value / 6000) / 10;
  if (minutes < 60) {
    trim1(t, sizeof t, minutes);
    snprintf(out, size, "%s min", t);
    return;
  }
  trim1(t, sizeof t, js_round(value / 360000) / 10);
  snprintf(out, size, "%s h", t);
}

// ---- the run (src/shim/run.ts) ----------------------------------------------------------
static void accept_connections(void) {
  for (;;) {
    int fd = accept4(S.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    if (S.nconns >= MAX_CONNECTIONS) {
      close(fd);
      continue;
    }
    conn_t *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    c->attach_deadline = mono_ms() + ATTACH_TIMEOUT_MS;
    S.conns[S.nconns++] = c;
  }
}
static void conn_readable(conn_t *c) {
  char chunk[READ_CHUNK];
  ssize_t n = recv(c->fd, chunk, sizeof chunk, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    // the client ended (or broke): finish what is queued, then close
    if (n < 0 || conn_pending(c) == 0 || c->fin_sent) {
      conn_destroy(c);
      return;
    }
    c->ending = true;
    conn_flush(c);
    return;
  }
  if (c->ending) return; // after end(), nothing more is answered
  conn_input(c, chunk, (size_t)n);
}
static void pipe_readable(int stream) {
  uint8_t chunk[READ_CHUNK];
  ssize_t n = read(S.pipes[stream], chunk, sizeof chunk);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    close(S.pipes[stream]);
    S.pipes[stream] = -1;
    return;
  }
  capture(stream, chunk, (size_t)n);
}
static void reap(void) {
  for (;;) {
    int status;
    pid_t p = waitpid(-1, &status, WNOHANG);
    if (p <= 0) return;
    if (p == S.gw_pid && !S.gw_exited) {
      S.gw_exited = true;
      S.gw_status = status;
      S.exit_seen_at = now_ms();
      S.drain_deadline = mono_ms() + DRAIN_GRACE_MS;
      watch_stop(); // the watch ends with the gateway, before the exit message (no miss for a gateway known gone)
    }
  }
}

// The fsyncs of shim.json, left out before the ready line (write_file_atomic), were made
// right after it, before the shim's loop: fleetd, told by the ready line, connected and
// waited for its hello behind them (median 6.7 ms of a kill -9 to running again at N = 200
// on this ext4 disk, more while 200 shims of a start all sync at once). They only matter for
// a crash of the machine, so they wait until fleetd attached (its hello is sent) or
// RECORD_SYNC_DEFER_MS passed, and come before exit.json is written, keeping their order.
/** Most time shim.json's fsyncs wait for fleetd to attach (ms). */
#define RECORD_SYNC_DEFER_MS 100
static bool record_sync_pending = false;
static int64_t record_sync_at = 0;

/** The deferred fsyncs of shim.json (see above), once. */
static void sync_record(void) {
  if (!record_sync_pending) return;
  record_sync_pending = false;
  sync_file(S.record_path);
}

/** Records the exit (exit.json) and tells the attached client (run.ts after `proc.exited`). */
static void finish_exit(void) {
  sync_record(); // shim.json is durable before exit.json is written
  stream_end(0);
  stream_end(1);
  S.exit_known = true;
  S.exit_at = S.exit_seen_at;
  S.exit_code = NAN;
  S.exit_signal = NULL;
  if (!S.spawn_error) {
    if (WIFSIGNALED(S.gw_status)) S.exit_signal = signal_name(WTERMSIG(S.gw_status));
    else S.exit_code = WEXITSTATUS(S.gw_status);
  }
  char how[64], dur[48];
  format_duration((double)(S.exit_at - S.spawned_at), dur, sizeof dur);
  if (S.spawn_error) {
    sink_note(&S.sink, "pid - could not start: %s after %s", S.spawn_error, dur);
  } else {
    if (S.exit_signal) snprintf(how, sizeof how, "killed by %s", S.exit_signal);
    else snprintf(how, sizeof how, "exited with code %.0f", S.exit_code);
    sink_note(&S.sink, "pid %d %s after %s", (int)S.gw_pid, how, dur);
  }
  buf_t rec = {0};
  jw_t w = {&rec, true, 0, {false}};
  jw_open(&w);
  exit_fields(&w);
  jw_num(&w, "protocol", SHIM_PROTOCOL);
  jw_str(&w, "name", S.spec.name);
  if (S.gw_pid) jw_num(&w, "gatewayPid", (double)S.gw_pid);
  else jw_null(&w, "gatewayPid");
  jw_str(&w, "gatewayStartTime", S.gw_has_start ? S.gw_start : NULL);
  jw_num(&w, "spawnedAt", (double)S.spawned_at);
  jw_str(&w, "specHash", S.spec.spec_hash);
  jw_key(&w, "tail");
  jw_open(&w);
  tail_json(&w, "stdout", 0, (size_t)S.spec.tail_chars);
  tail_json(&w, "stderr", 1, (size_t)S.spec.tail_chars);
  jw_close(&w);
  jw_key(&w, "log");
  jw_open(&w);
  jw_num(&w, "writtenBytes", S.sink.written);
  jw_num(&w, "droppedBytes", S.sink.dropped);
  jw_num(&w, "failures", S.sink.failures);
  jw_close(&w);
  jw_close(&w);
  b_putc(&rec, '\n');
  bool exit_written = write_file_atomic(S.exit_path, rec.p, rec.len, true) == 0;
  if (!exit_written) {
    char pid[24];
    if (S.gw_pid) snprintf(pid, sizeof pid, "%d", (int)S.gw_pid);
    else snprintf(pid, sizeof pid, "-");
    warn("cannot write %s: %s; only an attached fleetd learns how pid %s ended", S.exit_path, strerror(errno), pid);
  }
  b_free(&rec);
  // sendExit: tell the attached client, end every connection
  bool told = false;
  for (int i = 0; i < S.nconns; i++) {
    conn_t *c = S.conns[i];
    if (c->attached) {
      send_exit(c);
      told = true;
    }
    conn_end(c);
  }
  // exit.json is for a fleetd that was not attached: it reads the file when it comes back, so
  // then the file is made durable (after the rename, as write_file_atomic says). An attached
  // fleetd was just told; a fleetd that crashes before acting on it still finds the renamed
  // file (the page cache is the kernel's, not ours), and a crash of the machine ends the
  // gateway anyway. The two fsyncs held this shim for 0.3-17 ms after fleetd dropped its
  // connection (ext4 here), and fleetd's next launch of the agent waits for this shim to go
  // (the run dir is its until then): most of that wait in a kill -9 to running again.
  if (exit_written && !told) sync_file(S.exit_path);
}

static int run(void) {
  char *problem = run_dir_problem(S.spec.run_dir);
  if (problem) {
    ready_failed("run-dir", problem);
    free(problem);
    return 1;
  }
  pid_t holder;
  buf_t why = {0};
  int claim = claim_run_dir(&holder, &why);
  if (claim < 0) {
    warn("internal error: %s", why.p);
    ready_failed("internal", why.p);
    b_free(&why);
    return 1;
  }
  if (claim > 0) {
    buf_t m = {0};
    if (holder) b_printf(&m, "%s is held by shim pid %d; attach to it, or stop its gateway first", S.spec.run_dir, (int)holder);
    else b_printf(&m, "%s is held by a process listening on its socket; attach to it, or stop its gateway first", S.spec.run_dir);
    ready_failed("busy", m.p);
    b_free(&m);
    return 1;
  }
  compile_secrets(&S.matcher, S.spec.secrets, S.spec.nsecrets);
  for (int i = 0; i < 2; i++) {
    S.tails[i].keep = (size_t)S.spec.tail_lines;
    S.tails[i].lines = xcalloc(S.tails[i].keep, sizeof(u16_t));
    S.red[i].m = &S.matcher;
  }
  S.sink.file = S.spec.log_file;
  S.sink.max_bytes = S.spec.log_max_bytes < 1 ? 1 : S.spec.log_max_bytes;
  S.sink.max_files = S.spec.log_max_files < 1 ? 1 : S.spec.log_max_files;
  S.sink.m = &S.matcher;
  S.sink.fd = -1;
  S.sink.at_line_start = true;
  sink_open(&S.sink, true);

  S.started_at = now_ms();
  char state[2];
  if (!read_stat(S.self_pid, state, S.self_start)) snprintf(S.self_start, sizeof S.self_start, "0");
  S.listen_fd = -1;
  char *listen_error = listen_socket();
  if (listen_error) {
    S.sink.closed = true;
    if (S.sink.fd >= 0) close(S.sink.fd);
    ready_failed("listen", listen_error);
    free(listen_error);
    return 1;
  }

  // SIGCHLD on a signalfd, blocked before the fork (the child gets the mask it had before)
  sigset_t chld, previous;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &previous);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  sigset_t child_mask;
  sigemptyset(&child_mask);

  S.spawned_at = now_ms();
  spawn_gateway(&child_mask);
  if (S.gw_pid) {
    buf_t argv = {0};
    for (size_t i = 0; i < S.spec.argc; i++) {
      if (i) b_putc(&argv, ' ');
      b_put(&argv, S.spec.argv[i].s, S.spec.argv[i].len);
    }
    sink_note(&S.sink, "spawned pid %d (shim pid %d): %s", (int)S.gw_pid, (int)S.self_pid, b_cstr(&argv));
    b_free(&argv);
  } else {
    S.gw_exited = true;
    S.exit_seen_at = now_ms();
    S.drain_deadline = mono_ms();
  }
  write_record_json(&S.record_json, false);
  buf_t pretty = {0};
  write_record_json(&pretty, true);
  b_putc(&pretty, '\n');
  bool record_written = write_file_atomic(S.record_path, pretty.p, pretty.len, true) == 0;
  if (!record_written) warn("cannot write %s: %s; fleetd will not find this shim after a restart", S.record_path, strerror(errno));
  b_free(&pretty);
  buf_t ready = {0};
  b_puts(&ready, "{\"type\":\"ready\",\"record\":");
  b_put(&ready, S.record_json.p, S.record_json.len);
  b_puts(&ready, "}\n");
  ready_line(&ready);
  b_free(&ready);
  if (record_written) {
    // after fleetd was told (write_file_atomic), and after it attached: see record_sync_due
    record_sync_pending = true;
    record_sync_at = mono_ms() + RECORD_SYNC_DEFER_MS;
  }

  int64_t exit_deadline = 0;
  bool finished = false;
  for (;;) {
    int64_t now = mono_ms();
    if (record_sync_pending && (S.owner != NULL || now >= record_sync_at)) sync_record();
    if (S.gw_exited && !finished && (now >= S.drain_deadline || (S.pipes[0] < 0 && S.pipes[1] < 0))) {
      // the drain is over (or the grace passed: the gateway's children may hold the pipes)
      for (int i = 0; i < 2; i++)
        if (S.pipes[i] >= 0) {
          close(S.pipes[i]);
          S.pipes[i] = -1;
        }
      finish_exit();
      finished = true;
      exit_deadline = now + EXIT_FLUSH_MS;
    }
    for (int i = 0; i < S.nconns; i++) {
      conn_t *c = S.conns[i];
      if (!c->attached && c->attach_deadline && now >= c->attach_deadline) conn_destroy(c);
    }
    sweep_conns();
    if (finished && (S.nconns == 0 || now >= exit_deadline)) break;
    watch_tick(now);
    int64_t wake = -1;
    if (S.gw_exited && !finished) wake = S.drain_deadline;
    if (finished) wake = exit_deadline;
    if (record_sync_pending && (wake < 0 || record_sync_at < wake)) wake = record_sync_at;
    int64_t watch_at = watch_wake();
    if (watch_at >= 0 && (wake < 0 || watch_at < wake)) wake = watch_at;
    for (int i = 0; i < S.nconns; i++)
      if (!S.conns[i]->attached && S.conns[i]->attach_deadline && (wake < 0 || S.conns[i]->attach_deadline < wake)) wake = S.conns[i]->attach_deadline;
    int timeout = wake < 0 ? -1 : (int)(wake > now ? wake - now : 0);

    struct pollfd fds[5 + MAX_CONNECTIONS];
    conn_t *polled[MAX_CONNECTIONS];
    int nfds = 0;
    fds[nfds++] = (struct pollfd){sfd, POLLIN, 0};
    fds[nfds++] = (struct pollfd){S.listen_fd, POLLIN, 0};
    fds[nfds++] = (struct pollfd){S.pipes[0], POLLIN, 0};
    fds[nfds++] = (struct pollfd){S.pipes[1], POLLIN, 0};
    unsigned watch_gen = W.gen;
    fds[nfds++] = (struct pollfd){W.fd, (short)(W.phase == W_READING ? POLLIN : POLLOUT), 0};
    int nc = S.nconns;
    for (int i = 0; i < nc; i++) {
      polled[i] = S.conns[i];
      fds[nfds++] = (struct pollfd){S.conns[i]->fd, (short)(POLLIN | (conn_pending(S.conns[i]) ? POLLOUT : 0)), 0};
    }
    int rc = poll(fds, (nfds_t)nfds, timeout);
    if (rc < 0 && errno != EINTR) {
      warn("internal error: poll: %s", strerror(errno));
      break;
    }
    if (rc <= 0) continue;
    if (fds[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {
      }
      reap();
    }
    for (int s = 0; s < 2; s++)
      if (fds[2 + s].revents && S.pipes[s] >= 0) pipe_readable(s);
    // the check polled, if it still runs (the gateway's exit stops it; no socket is made before the next tick)
    if (fds[4].revents && W.fd >= 0 && W.fd == fds[4].fd && W.gen == watch_gen) watch_ready(fds[4].revents);
    for (int i = 0; i < nc; i++) {
      conn_t *c = polled[i];
      short re = fds[5 + i].revents;
      if (!c->dead && (re & POLLOUT)) conn_flush(c);
      if (!c->dead && (re & (POLLIN | POLLHUP | POLLERR))) conn_readable(c);
    }
    if (fds[1].revents) accept_connections();
  }
  // close(): every connection, the socket file
  watch_stop();
  for (int i = 0; i < S.nconns; i++) conn_destroy(S.conns[i]);
  sweep_conns();
  close(S.listen_fd);
  unlink(S.socket_path);
  if (S.sock_dir_fd >= 0) close(S.sock_dir_fd);
  S.sink.closed = true;
  if (S.sink.fd >= 0) close(S.sink.fd);
  close(sfd);
  return 0;
}

// ---- main (src/shim/main.ts, read-spec.ts, signals.ts) --------------------------------
/** IGNORED_SIGNALS of signals.ts */
static const int IGNORED_SIGNALS[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2};

/** The process title `fleetd-shim <name>` in the room argv has (fleetd starts us with it as argv[0]). */
static void set_title(int argc, char **argv, const char *name) {
  prctl(PR_SET_NAME, "fleetd-shim", 0, 0, 0);
  if (argc < 1) return;
  char *start = argv[0];
  char *end = argv[argc - 1] + strlen(argv[argc - 1]);
  buf_t title = {0};
  b_printf(&title, "fleetd-shim %s", name);
  size_t room = (size_t)(end - start);
  if (title.len <= room) {
    memset(start, 0, room);
    memcpy(start, title.p, title.len);
  }
  b_free(&title);
}

static void free_spec(spec_t *s) {
  free(s->name);
  for (size_t i = 0; i < s->argc; i++) free(s->argv[i].s);
  free(s->argv);
  for (size_t i = 0; i < s->ncgroup_procs; i++) free(s->cgroup_procs[i].s);
  free(s->cgroup_procs);
  free(s->cwd);
  for (size_t i = 0; i < s->envc; i++) {
    free(s->env_keys[i].s);
    free(s->env_values[i].s);
  }
  free(s->env_keys);
  free(s->env_values);
  free(s->run_dir);
  free(s->log_file);
  for (size_t i = 0; i < s->nsecrets; i++) free(s->secrets[i].s);
  free(s->secrets);
  free(s->spec_hash);
}
static void free_state(void) {
  free_spec(&S.spec);
  free(S.matcher.windows.slots);
  free(S.matcher.prefixes.slots);
  for (int i = 0; i < 2; i++) {
    for (size_t j = 0; j < S.tails[i].keep; j++) u_free(&S.tails[i].lines[j]);
    free(S.tails[i].lines);
    u_free(&S.tails[i].partial);
    u_free(&S.red[i].held);
    free(S.red[i].held_marks);
  }
  free(S.socket_path);
  free(S.record_path);
  free(S.exit_path);
  free(S.spawn_error);
  b_free(&S.record_json);
}

int main(int argc, char **argv) {
  // fleetd's zygote for new shims (spawner.c); a shim itself is started with argv[0] alone
  if (argc == 2 && strcmp(argv[1], "--spawner") == 0) return fleetd_spawner_main();
  // Signals are ignored from the very first instant (signals.ts); the gateway gets the defaults back.
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  for (size_t i = 0; i < sizeof IGNORED_SIGNALS / sizeof IGNORED_SIGNALS[0]; i++) sigaction(IGNORED_SIGNALS[i], &ign, NULL);
  // The gateway's exit status comes through SIGCHLD: a parent that left it ignored would have the kernel reap it unseen.
  signal(SIGCHLD, SIG_DFL);

  S.self_pid = getpid();
  S.sock_dir_fd = -1;
  S.listen_fd = -1;
  S.pipes[0] = S.pipes[1] = -1;

  // read-spec.ts: one JSON document on stdin, bounded
  buf_t in = {0};
  char chunk[READ_CHUNK];
  bool too_big = false;
  for (;;) {
    ssize_t n = read(0, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (in.len + (size_t)n > MAX_SPEC_BYTES) {
      too_big = true;
      break;
    }
    b_put(&in, chunk, (size_t)n);
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, 0);
    close(devnull);
  }
  int code = 1;
  char msg[160];
  if (too_big) {
    snprintf(msg, sizeof msg, "launch spec on stdin is larger than %d bytes", MAX_SPEC_BYTES);
    ready_failed("spec", msg);
  } else if (in.len == 0) {
    ready_failed("spec", "no launch spec on stdin (expected one JSON document)");
  } else {
    buf_t clean = {0};
    utf8_sanitize(in.p, in.len, &clean);
    jv *root = json_parse(clean.p, clean.len);
    b_free(&clean);
    if (!root) {
      snprintf(msg, sizeof msg, "launch spec on stdin is not JSON (%zu bytes)", in.len);
      ready_failed("spec", msg);
    } else {
      issues_t is = {{0}, 0};
      if (!check_spec(root, &S.spec, &is)) {
        buf_t m = {0};
        b_printf(&m, "launch spec: %s", b_cstr(&is.text));
        ready_failed("spec", m.p);
        b_free(&m);
      } else {
        jv_free(root);
        root = NULL;
        b_free(&in);
        set_title(argc, argv, S.spec.name);
        S.socket_path = join_abs(S.spec.run_dir, "shim.sock");
        S.record_path = join_abs(S.spec.run_dir, "shim.json");
        S.exit_path = join_abs(S.spec.run_dir, "exit.json");
        code = run();
        free_state();
      }
      b_free(&is.text);
      jv_free(root);
    }
  }
  b_free(&in);
  // The gateway's children may still hold its pipes open: leave without waiting for them.
  return code;
}
