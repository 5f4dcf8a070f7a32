/*
 * util.c - messages, errors and the temporary-file registry of the packer.
 */
#define _GNU_SOURCE
#include "hpk_packer.h"
#include "../layout/hpk_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int hpk_verbose = 1;

/* ---- progress: one step at a time ----
 * On a terminal, a spinner with the step's name and elapsed time redraws
 * itself on stderr from a small thread; elsewhere (logs, CI), and with -v
 * (whose explanations would be drawn over), a step is one plain line when
 * it starts and one when it ends. -q silences both. */
static struct {
    pthread_t th;
    int running;
    volatile int stop;
    char name[200];
    double t0;
    pthread_mutex_t mu;
} step = {.mu = PTHREAD_MUTEX_INITIALIZER};


/* One line, whatever the text it quotes holds (a third party's manifest,
 * an entry name, a file name): control bytes as \xNN, like hpk_fail. */
static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    char *m = NULL;
    int n = vasprintf(&m, fmt, ap);
    fputs(prefix, stderr);
    if (n >= 0) hpk_layout_print_path(stderr, m, (size_t)n);
    fputc('\n', stderr);
    free(m);
}

void hpk_note(const char *fmt, ...)
{
    if (hpk_verbose < 1) return;
    hpk_step_end();
    va_list ap;
    va_start(ap, fmt);
    vmsg("hpack: ", fmt, ap);
    va_end(ap);
}

void hpk_info(const char *fmt, ...)
{
    if (hpk_verbose < 2) return;
    va_list ap;
    va_start(ap, fmt);
    vmsg("hpack: ", fmt, ap);
    va_end(ap);
}

void hpk_warn(const char *fmt, ...)
{
    hpk_step_end();
    va_list ap;
    va_start(ap, fmt);
    vmsg("hpack: warning: ", fmt, ap);
    va_end(ap);
}

void hpk_human_size(char *buf, size_t n, double bytes)
{
    if (bytes >= 1 << 20) snprintf(buf, n, "%.1f MB", bytes / (1 << 20));
    else snprintf(buf, n, "%.1f kB", bytes / 1024);
}

double hpk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A fixed-size registry of what an interrupt must not leave behind: files,
 * directory trees (jlink's output, the training's work directory) and child
 * process groups (a training JVM runs in its own group so that a timeout
 * kills all of it, which also keeps a terminal's Ctrl-C from reaching it).
 * The signal handler only calls kill(), waitpid(), openat(), fchmod(),
 * getdents64, unlinkat() and close(), which are async-signal-safe: no
 * malloc, no stdio, no opendir. */
#define TMP_MAX_FILES 16
enum { TMP_FREE, TMP_FILE, TMP_TREE, TMP_GROUP };
static struct {
    volatile sig_atomic_t kind;
    pid_t pid;
    char path[4096];
} tmp[TMP_MAX_FILES];

static void on_signal(int sig)
{
    step.stop = 1;
    hpk_tmp_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void tmp_add(int kind, const char *path, pid_t pid)
{
    static int installed;
    if (!installed) {
        installed = 1;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
    }
    if (kind == TMP_FREE) return;
    for (int i = 0; i < TMP_MAX_FILES; i++)
        if (tmp[i].kind == TMP_FREE) {
            snprintf(tmp[i].path, sizeof tmp[i].path, "%s", path ? path : "");
            tmp[i].pid = pid;
            tmp[i].kind = kind; /* last: the handler reads a complete slot */
            return;
        }
    /* A build holds about six at a time: this is a bug, not an input. */
    fprintf(stderr, "hpack: internal: more than %d temporaries; %s would survive an interrupt\n", TMP_MAX_FILES,
            path ? path : "a child process");
}

/* fork() for a child that runs in its own process group (so that a timeout
 * can kill all it starts) and that hpack's end ends too: an interrupt kills
 * its group (the registry), and so does hpack's death by a signal nobody can
 * catch (SIGKILL, a timeout's), through PR_SET_PDEATHSIG, which survives
 * execve. Signals are blocked from fork to registration, so no interrupt
 * falls between; the child gets the default handlers back before it runs
 * anything, so a signal sent to it alone does not run our handler there. */
pid_t hpk_fork_group(void)
{
    sigset_t all, old;
    sigemptyset(&all);
    sigaddset(&all, SIGINT);
    sigaddset(&all, SIGTERM);
    sigaddset(&all, SIGHUP);
    pid_t parent = getpid();
    fflush(NULL);
    tmp_add(TMP_FREE, NULL, 0); /* installs the handlers if need be */
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127); /* hpack died before prctl */
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return 0;
    }
    if (pid > 0) {
        setpgid(pid, pid); /* both sides: whichever runs first */
        tmp_add(TMP_GROUP, NULL, pid);
    }
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return pid;
}

void hpk_tmp_register(const char *path) { tmp_add(TMP_FILE, path, 0); }
void hpk_tmp_register_tree(const char *path) { tmp_add(TMP_TREE, path, 0); }

void hpk_tmp_forget(const char *path)
{
    for (int i = 0; i < TMP_MAX_FILES; i++)
        if ((tmp[i].kind == TMP_FILE || tmp[i].kind == TMP_TREE) && strcmp(tmp[i].path, path) == 0)
            tmp[i].kind = TMP_FREE;
}

static void forget_group(pid_t pgid)
{
    for (int i = 0; i < TMP_MAX_FILES; i++)
        if (tmp[i].kind == TMP_GROUP && tmp[i].pid == pgid) tmp[i].kind = TMP_FREE;
}

pid_t hpk_wait_group(pid_t pid, int *status, int flags)
{
    pid_t w = waitpid(pid, status, flags);
    if (w == pid) forget_group(pid); /* reaped: its pid may be reused */
    return w;
}

pid_t hpk_wait_group_usage(pid_t pid, int *status, struct rusage *ru)
{
    pid_t w;
    while ((w = wait4(pid, status, 0, ru)) < 0 && errno == EINTR) {}
    if (w == pid) forget_group(pid);
    return w;
}


/* Remove the tree NAME under directory DFD, with system calls only (see
 * above). Bounded depth: a runtime image is a dozen levels deep. */
struct dirent64_raw {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

static int rm_tree_raw(int dfd, const char *name, int depth)
{
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return 0;
    if (depth > 64) return -1;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    fchmod(fd, 0700); /* a read-only directory (a runtime's) is ours to empty */
    char buf[2048] __attribute__((aligned(8)));
    /* Entries removed while reading may shift the rest: read again from the
     * start until a pass removes nothing. */
    for (int again = 1; again;) {
        again = 0;
        lseek(fd, 0, SEEK_SET);
        long n;
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
            for (long off = 0; off < n;) {
                struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
                off += d->reclen;
                if (strcmp(d->name, ".") && strcmp(d->name, "..") && rm_tree_raw(fd, d->name, depth + 1) == 0)
                    again = 1;
            }
    }
    close(fd);
    return unlinkat(dfd, name, AT_REMOVEDIR);
}

int hpk_sync_path(const char *path, int tree)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | (tree ? O_DIRECTORY : 0));
    if (fd < 0) return -1;
    int r = tree ? syncfs(fd) : fsync(fd), saved = errno;
    close(fd);
    errno = saved;
    return r;
}

void hpk_tmp_rm_tree(const char *path)
{
    rm_tree_raw(AT_FDCWD, path, 0);
    hpk_tmp_forget(path);
}

void hpk_tmp_cleanup(void)
{
    int saved = errno;
    /* Children first: a JVM still writing into a tree would race its removal. */
    for (int i = 0; i < TMP_MAX_FILES; i++)
        if (tmp[i].kind == TMP_GROUP) {
            kill(-tmp[i].pid, SIGKILL);
            /* SIGKILL takes effect a little later: a dying JVM could still
             * create a file in a tree being removed. The leader is our child
             * (ECHILD if the main line reaped it meanwhile). */
            while (waitpid(tmp[i].pid, NULL, 0) < 0 && errno == EINTR) {
            }
            tmp[i].kind = TMP_FREE;
        }
    for (int i = 0; i < TMP_MAX_FILES; i++) {
        if (tmp[i].kind == TMP_FILE) unlink(tmp[i].path);
        else if (tmp[i].kind == TMP_TREE) rm_tree_raw(AT_FDCWD, tmp[i].path, 0);
        tmp[i].kind = TMP_FREE;
    }
    errno = saved;
}

static void *spin(void *arg)
{
    (void)arg;
    static const char frames[] = "|/-\\";
    for (unsigned k = 0; !step.stop; k++) {
        pthread_mutex_lock(&step.mu);
        fprintf(stderr, "\r\033[K%c %s  %.1f s", frames[k % 4], step.name, hpk_now() - step.t0);
        fflush(stderr);
        pthread_mutex_unlock(&step.mu);
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

void hpk_step_begin(const char *fmt, ...)
{
    if (hpk_verbose < 1) return;
    hpk_step_end();
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(step.name, sizeof step.name, fmt, ap);
    va_end(ap);
    step.t0 = hpk_now();
    const char *term = getenv("TERM");
    if (hpk_verbose == 1 && isatty(2) && term && strcmp(term, "dumb") != 0) {
        step.stop = 0;
        step.running = pthread_create(&step.th, NULL, spin, NULL) == 0;
    } else {
        fprintf(stderr, "hpack: %s ...\n", step.name);
    }
}

void hpk_step_update(const char *fmt, ...)
{
    if (hpk_verbose < 1 || !step.name[0]) return;
    pthread_mutex_lock(&step.mu);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(step.name, sizeof step.name, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&step.mu);
    if (!step.running) fprintf(stderr, "hpack: %s ...\n", step.name);
}

static void step_stop(void)
{
    if (step.running) {
        step.stop = 1;
        pthread_join(step.th, NULL);
        step.running = 0;
        fprintf(stderr, "\r\033[K");
    }
}

void hpk_step_end(void)
{
    if (!step.name[0]) return;
    step_stop();
    if (hpk_verbose >= 1) fprintf(stderr, "hpack: %s: done in %.1f s\n", step.name, hpk_now() - step.t0);
    step.name[0] = 0;
}

void hpk_step_abort(void)
{
    if (!step.name[0]) return;
    step_stop();
    step.name[0] = 0;
}

void *hpk_alloc_big(size_t n)
{
    /* Big buffers are filled at once: transparent huge pages make that one
     * page fault per 2 MiB instead of one per 4 KiB (the faults were most
     * of the CPU time of packing a 300 MB JDK). Aligned to 2 MiB and sized
     * in whole huge pages, so that no head or tail of it falls back to
     * 4 KiB pages. Only an advice. */
    const size_t huge = 2u << 20;
    if (n < huge) return malloc(n);
    size_t len = (n + huge - 1) & ~(huge - 1);
    void *p = aligned_alloc(huge, len);
    if (p) madvise(p, len, MADV_HUGEPAGE);
    return p;
}

void hpk_populate(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
    /* Whole pages around it: populating keeps their contents, so a page
     * shared with a neighbouring allocation comes to no harm. */
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)4095, hi = ((uintptr_t)p + n + 4095) & ~(uintptr_t)4095;
    if (n >= 8192) madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)n;
#endif
}

/* ---- memory ---- */

void hpk_oom(void)
{
    fputs("hpack: out of memory\n", stderr);
    hpk_tmp_cleanup();
    exit(HPK_ST_INTERNAL);
}

void *hpk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) hpk_oom();
    return p;
}

void *hpk_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) hpk_oom();
    return q;
}

void *hpk_grow(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap) return v;
    size_t c = *cap ? 2 * *cap : first;
    void *w = realloc(v, c * size);
    if (w) *cap = c;
    return w;
}

char *hpk_xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) hpk_oom();
    return d;
}

char *hpk_xjoin(const char *const *v, size_t n, const char *sep)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += strlen(v[i]) + (i ? strlen(sep) : 0);
    char *s = hpk_xmalloc(len), *o = s;
    for (size_t i = 0; i < n; i++) o = stpcpy(i ? stpcpy(o, sep) : o, v[i]);
    *o = 0;
    return s;
}

void hpk_strv_push(struct hpk_strv *v, const char *s)
{
    v->v = hpk_xrealloc(v->v, (v->n + 1) * sizeof *v->v);
    v->v[v->n++] = hpk_xstrdup(s);
}

int hpk_strv_has(const struct hpk_strv *v, const char *s)
{
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->v[i], s)) return 1;
    return 0;
}

int hpk_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void hpk_strv_free(struct hpk_strv *v)
{
    for (size_t i = 0; i < v->n; i++) free(v->v[i]);
    free(v->v);
    v->v = NULL;
    v->n = 0;
}

/* ---- temporary directories ---- */

int hpk_mkdtemp(char *out, size_t n, const char *what, struct hpk_err *e)
{
    snprintf(out, n, "%s/hpack-%s.XXXXXX", hpk_tmpdir(), what);
    if (!mkdtemp(out)) {
        int err = errno;
        hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot create a temporary directory: %s", out, strerror(err));
        out[0] = 0;
        return -1;
    }
    hpk_tmp_register_tree(out);
    return 0;
}
