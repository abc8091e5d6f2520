// The shim spawner: fleetd's zygote for new native shims (this binary run as
// `fleetd-shim-spawner --spawner`, what ps shows; started once by fleetd; fleetd's side is
// src/supervise/shim-spawner.ts).
//
// Why: fleetd is a ~130 MiB Node process, and libuv starts a child with fork() then exec:
// at N = 200 the 200 forks of fleetd cost ~730 ms of its main thread (page tables copied,
// then copy-on-write faults on the pages it touches next). This process is ~1 MB: its
// fork and exec of a shim cost a fraction of a millisecond, and fleetd only writes a
// request on a pipe. The shim it starts is exactly what fleetd started before: this binary
// with argv[0] `fleetd-shim <fleet>/<agent>`, its own session, cwd /, an empty
// environment, the launch spec on its stdin, its ready line on its stdout, its stderr on
// shim.err. The spawner is the shims' parent: it reaps them (no zombies), and when fleetd
// goes away (its stdin ends, or fleetd died: PR_SET_PDEATHSIG SIGKILL, which also ends a
// stopped spawner) it exits and the shims run on, re-parented like before. A spawner that
// does not answer a launch in time is SIGKILLed by fleetd: its queued requests die with it.
//
// Protocol on the spawner's stdin and stdout (lengths in bytes, decimal):
//   request "spawn <id> <titleLen> <errLen> <specLen>\n" title, stderr path, spec
//           "kill <id>\n"    SIGKILL to the shim of request <id> unless it was reaped already
//   answer  "forked <id> <pid>\n" the shim of request <id> runs (exec done), its spec written next
//           "ready <id> <pid> <len>\n" then the shim's first line on stdout (what it printed
//           before closing stdout when there is no newline; at most READY_MAX bytes)
//           "gone <id> <pid> <code> <signal>\n" the shim ended before printing anything
//           (code -1 when killed, signal 0 when it exited)
//           "error <id> <errno>\n" the stderr file, a pipe, the fork or the exec failed
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawner.h"

/** The most of a shim's first line forwarded (fleetd's readyLine reads up to 64 KB). */
#define READY_MAX (64 * 1024 + 1)
/** Largest request payload: a spec (protocol.ts MAX_SPEC_BYTES) and two paths, with room. */
#define PAYLOAD_MAX (4 * 1024 * 1024 + 2 * 4096)

typedef struct {
  long id;
  pid_t pid;
  int out;       // read end of the shim's stdout; -1 once its line was forwarded
  char *line;    // what it printed so far
  size_t len;
  bool answered; // a ready / gone line was sent for it
} kid_t;

static kid_t *kids;
static size_t nkids, capkids;

static void die_oom(void) {
  static const char m[] = "fleetd-shim spawner: out of memory\n";
  ssize_t ignored = write(2, m, sizeof m - 1);
  (void)ignored;
  _exit(70);
}

static bool out_all(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

/** Writes one answer (header + optional body); fleetd gone means the spawner is done. */
static void answer(const char *head, const char *body, size_t len) {
  if (!out_all(head, strlen(head)) || (len > 0 && !out_all(body, len))) _exit(0);
}

static void send_ready(kid_t *k) {
  char head[96];
  snprintf(head, sizeof head, "ready %ld %d %zu\n", k->id, (int)k->pid, k->len);
  answer(head, k->line, k->len);
  k->answered = true;
}

static void close_out(kid_t *k) {
  if (k->out >= 0) close(k->out);
  k->out = -1;
  free(k->line);
  k->line = NULL;
  k->len = 0;
}

/** Reads what the shim printed; true when its first line is complete (newline, EOF or READY_MAX). */
static bool read_out(kid_t *k) {
  for (;;) {
    if (k->len >= READY_MAX) return true;
    if (!k->line) {
      k->line = malloc(READY_MAX);
      if (!k->line) die_oom();
    }
    ssize_t n = read(k->out, k->line + k->len, READY_MAX - k->len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return false;
    if (n <= 0) return true; // EOF (or an error: nothing more will come)
    char *nl = memchr(k->line + k->len, '\n', (size_t)n);
    k->len += (size_t)n;
    if (nl) {
      k->len = (size_t)(nl - k->line) + 1;
      return true;
    }
  }
}

static void drop_kid(size_t i) {
  close_out(&kids[i]);
  kids[i] = kids[--nkids];
}

/** Forks and execs one shim; answers ready/gone later, error now. */
static void spawn_shim(long id, const char *title, const char *err_path, const char *spec, size_t spec_len) {
  char head[64];
  int in[2] = {-1, -1}, out[2] = {-1, -1}, report[2] = {-1, -1};
  int errfd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (errfd < 0 || pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) {
    int e = errno;
    int fds[] = {errfd, in[0], in[1], out[0], out[1], report[0], report[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
      if (fds[i] >= 0) close(fds[i]);
    snprintf(head, sizeof head, "error %ld %d\n", id, e);
    answer(head, NULL, 0);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    // the child: what libuv did for fleetd's spawn (detached: own session; default signal state)
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    setsid();
    if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(errfd, 2) < 0 || chdir("/") != 0) {
      int e = errno;
      ssize_t ignored = write(report[1], &e, sizeof e);
      (void)ignored;
      _exit(127);
    }
    char *args[] = {(char *)title, NULL};
    char *env[] = {NULL};
    execve("/proc/self/exe", args, env);
    int e = errno;
    ssize_t ignored = write(report[1], &e, sizeof e);
    (void)ignored;
    _exit(127);
  }
  int fork_errno = errno;
  close(in[0]);
  close(out[1]);
  close(errfd);
  close(report[1]);
  int exec_errno = 0;
  if (pid < 0) {
    exec_errno = fork_errno;
  } else {
    // the report pipe closes at the exec (CLOEXEC): nothing read means the shim runs
    for (;;) {
      ssize_t n = read(report[0], &exec_errno, sizeof exec_errno);
      if (n < 0 && errno == EINTR) continue;
      if (n != (ssize_t)sizeof exec_errno) exec_errno = 0;
      break;
    }
  }
  close(report[0]);
  if (exec_errno != 0) {
    close(in[1]);
    close(out[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    snprintf(head, sizeof head, "error %ld %d\n", id, exec_errno);
    answer(head, NULL, 0);
    return;
  }
  // fleetd knows the shim's pid from here on: a launch it gives up on, it kills itself
  snprintf(head, sizeof head, "forked %ld %d\n", id, (int)pid);
  answer(head, NULL, 0);
  // The shim reads its whole stdin before anything else: this write does not wait on it for long,
  // and a spec larger than a pipe's 64 KB gets a pipe that holds it (up to pipe-max-size), so a
  // shim that never reads cannot hold the spawner here. A shim that died first gives EPIPE
  // (SIGPIPE is ignored here); its end is reported below.
  if (spec_len > 65536) fcntl(in[1], F_SETPIPE_SZ, (int)(spec_len < (1u << 30) ? spec_len : (1u << 30)));
  size_t off = 0;
  while (off < spec_len) {
    ssize_t w = write(in[1], spec + off, spec_len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  close(in[1]);
  fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
  if (nkids == capkids) {
    capkids = capkids ? capkids * 2 : 64;
    kid_t *grown = realloc(kids, capkids * sizeof *kids);
    if (!grown) die_oom();
    kids = grown;
  }
  kids[nkids++] = (kid_t){.id = id, .pid = pid, .out = out[0], .line = NULL, .len = 0, .answered = false};
}

/** Reaps every ended shim; one that printed nothing is reported gone. */
static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (size_t i = 0; i < nkids; i++) {
      kid_t *k = &kids[i];
      if (k->pid != pid) continue;
      if (!k->answered) {
        // what it printed before it ended is in the pipe now
        if (k->out >= 0) read_out(k);
        if (k->len > 0) {
          send_ready(k);
        } else {
          char head[96];
          snprintf(head, sizeof head, "gone %ld %d %d %d\n", k->id, (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
          answer(head, NULL, 0);
          k->answered = true;
        }
      }
      drop_kid(i);
      break;
    }
  }
}

/** Parses and runs the complete requests at the start of `buf`; returns the bytes used. */
static size_t handle_requests(const char *buf, size_t len) {
  size_t used = 0;
  while (used < len) {
    const char *p = buf + used;
    const char *nl = memchr(p, '\n', len - used);
    if (!nl) {
      if (len - used > 256) goto bad;
      return used;
    }
    long id;
    size_t title_len, err_len, spec_len;
    int consumed = 0;
    if (sscanf(p, "spawn %ld %zu %zu %zu%n", &id, &title_len, &err_len, &spec_len, &consumed) == 4 && p + consumed == nl) {
      if (title_len > 4096 || err_len > 4096 || spec_len > PAYLOAD_MAX) goto bad;
      size_t need = (size_t)(nl - p) + 1 + title_len + err_len + spec_len;
      if (len - used < need) return used;
      const char *q = nl + 1;
      char *title = strndup(q, title_len);
      char *err_path = strndup(q + title_len, err_len);
      if (!title || !err_path) die_oom();
      spawn_shim(id, title, err_path, q + title_len + err_len, spec_len);
      free(title);
      free(err_path);
      used += need;
    } else if (sscanf(p, "kill %ld%n", &id, &consumed) == 1 && p + consumed == nl) {
      for (size_t i = 0; i < nkids; i++)
        if (kids[i].id == id) kill(kids[i].pid, SIGKILL); // not reaped yet: the pid is still this shim
      used += (size_t)(nl - p) + 1;
    } else {
      goto bad;
    }
  }
  return used;
bad: {
  static const char m[] = "fleetd-shim spawner: malformed request from fleetd; exiting\n";
  ssize_t ignored = write(2, m, sizeof m - 1);
  (void)ignored;
  _exit(2);
}
}

int fleetd_spawner_main(void) {
  // fleetd gone (even killed, even while this process is stopped): SIGKILL, not an orphan
  // spawner (not inherited by the shims: fork clears it)
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent || parent == 1) return 1;
  signal(SIGPIPE, SIG_IGN);
  // fleetd ends us by closing our stdin; its signals to its process group are not for us
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return 1;
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);
  char *in = NULL;
  size_t in_len = 0, in_cap = 0;
  struct pollfd *fds = NULL;
  size_t *which = NULL;
  size_t cap = 0;
  for (;;) {
    if (cap < nkids + 2) {
      cap = nkids + 66;
      fds = realloc(fds, cap * sizeof *fds);
      which = realloc(which, cap * sizeof *which);
      if (!fds || !which) die_oom();
    }
    size_t n = 0;
    fds[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    for (size_t i = 0; i < nkids; i++)
      if (kids[i].out >= 0) {
        which[n] = i;
        fds[n++] = (struct pollfd){.fd = kids[i].out, .events = POLLIN};
      }
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    // shims' first lines before reaping (a line printed just before exiting is a line)
    for (size_t j = 2; j < n; j++) {
      if (!fds[j].revents) continue;
      kid_t *k = &kids[which[j]];
      if (k->out < 0 || !read_out(k)) continue;
      if (k->len > 0) send_ready(k);
      if (k->answered) close_out(k);
      else {
        // EOF with nothing printed: its exit says how it ended
        close(k->out);
        k->out = -1;
      }
    }
    if (fds[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
      }
      reap();
    }
    if (fds[0].revents) {
      if (in_cap - in_len < 65536) {
        in_cap = in_cap ? in_cap * 2 : 131072;
        in = realloc(in, in_cap);
        if (!in) die_oom();
      }
      ssize_t r = read(0, in + in_len, in_cap - in_len);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return 0; // fleetd is gone: the shims run on
      in_len += (size_t)r;
      size_t used = handle_requests(in, in_len);
      memmove(in, in + used, in_len - used);
      in_len -= used;
    }
  }
}
