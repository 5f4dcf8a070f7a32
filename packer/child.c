/*
 * child.c - the one way the packer runs another program (hpk_child.h):
 * started in its own process group (hpk_fork_group: registered, so an
 * interrupt kills it), output read through a pipe (to a log, to stderr,
 * line by line, or whole), stopped as a group, waited for with its status.
 */
#define _GNU_SOURCE
#include "hpk_child.h"
#include "hpk_packer.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int hpk_child_start(struct hpk_child *c, char *const *argv, char *const *env, const char *cwd)
{
    int p[2];
    c->pid = -1;
    c->out = -1;
    c->status = 0;
    c->ll = 0;
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    pid_t pid = hpk_fork_group(); /* its own group: a timeout kills the JVM too */
    if (pid < 0) {
        int err = errno;
        close(p[0]), close(p[1]);
        errno = err;
        return -1;
    }
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        if (cwd && chdir(cwd) != 0) {
            fprintf(stderr, "hpack: %s: cannot change to it: %s\n", cwd, strerror(errno));
            _exit(127);
        }
        execve(argv[0], argv, env ? env : environ);
        fprintf(stderr, "hpack: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    c->pid = pid;
    c->out = p[0];
    return 0;
}

static void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        buf += w;
        n -= (size_t)w;
    }
}

/* One read; -1: nothing this time (interrupted), 0: end of file (closed). */
static ssize_t read_once(struct hpk_child *c, char *buf, size_t n)
{
    ssize_t r = read(c->out, buf, n);
    if (r > 0) return r;
    if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        hpk_child_close(c);
        return 0;
    }
    return -1;
}

int hpk_child_pump(struct hpk_child *c, int echo, int logfd, hpk_child_line_fn fn, void *ctx)
{
    char buf[16384];
    ssize_t n = read_once(c, buf, sizeof buf);
    if (n <= 0) return 0;
    if (logfd >= 0) write_all(logfd, buf, (size_t)n);
    if (echo) write_all(2, buf, (size_t)n);
    int matched = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || c->ll == sizeof c->line - 1) {
            c->line[c->ll] = 0;
            if (fn && fn(ctx, c->line)) matched = 1;
            c->ll = 0;
        } else {
            c->line[c->ll++] = buf[i];
        }
    }
    return matched;
}

long hpk_child_read(struct hpk_child *c, char **buf, size_t *len)
{
    char tmp[16384];
    ssize_t n = read_once(c, tmp, sizeof tmp);
    if (n <= 0) return (long)n;
    char *nb = hpk_xrealloc(*buf, *len + (size_t)n + 1);
    memcpy(nb + *len, tmp, (size_t)n);
    *len += (size_t)n;
    nb[*len] = 0;
    *buf = nb;
    return (long)n;
}

void hpk_child_drain(struct hpk_child *c, int echo, int logfd, hpk_child_line_fn fn, void *ctx)
{
    struct pollfd pfd = {.fd = c->out, .events = POLLIN};
    while (c->out >= 0 && (pfd.fd = c->out, poll(&pfd, 1, 50) > 0)) hpk_child_pump(c, echo, logfd, fn, ctx);
    hpk_child_close(c);
}

int hpk_child_done(struct hpk_child *c)
{
    if (c->pid < 0) return 1;
    if (hpk_wait_group(c->pid, &c->status, WNOHANG) != c->pid) return 0;
    c->pid = -1;
    return 1;
}

void hpk_child_kill(struct hpk_child *c, double grace)
{
    pid_t pid = c->pid;
    if (pid < 0) return;
    kill(-pid, SIGTERM);
    kill(pid, SIGTERM);
    double end = hpk_now() + grace;
    while (hpk_now() < end) {
        if (hpk_wait_group(pid, &c->status, WNOHANG) == pid) {
            kill(-pid, SIGKILL); /* what the leader left running */
            c->pid = -1;
            return;
        }
        /* What it writes meanwhile is read (and dropped: it is being
         * stopped): a JVM blocked on a full pipe, its class loading logged
         * there, acts on SIGTERM only once the write returns, and
         * verification waited the whole grace for nothing (10 s). */
        struct pollfd pfd = {.fd = c->out, .events = POLLIN};
        if (c->out >= 0 && poll(&pfd, 1, 50) > 0) {
            char buf[16384];
            (void)read_once(c, buf, sizeof buf);
        } else if (c->out < 0) {
            usleep(50000);
        }
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    hpk_wait_group(pid, &c->status, 0);
    c->pid = -1;
}

int hpk_child_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

int hpk_child_wait(struct hpk_child *c)
{
    while (c->pid >= 0) {
        pid_t w = hpk_wait_group(c->pid, &c->status, 0);
        if (w == c->pid) c->pid = -1;
        else if (w < 0 && errno != EINTR) return -1;
    }
    return hpk_child_code(c->status);
}

void hpk_child_close(struct hpk_child *c)
{
    if (c->out >= 0) close(c->out);
    c->out = -1;
}

int hpk_child_capture_env(char *const *argv, char *const *env, char **out)
{
    struct hpk_child c;
    size_t len = 0;
    *out = NULL;
    if (hpk_child_start(&c, argv, env, NULL) != 0) return -1;
    *out = hpk_xmalloc(1);
    **out = 0;
    while (c.out >= 0) hpk_child_read(&c, out, &len);
    return hpk_child_wait(&c);
}

int hpk_child_has_c_utf8(void)
{
    locale_t l = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
    if (l) freelocale(l);
    return l != (locale_t)0;
}

char **hpk_child_env_jdk(void)
{
    static const char *const drop[] = {"LANG=", "LANGUAGE=", "LC_", "JAVA_TOOL_OPTIONS=", "JDK_JAVA_OPTIONS=",
                                       "_JAVA_OPTIONS=", "HPACK_"};
    size_t n = 0;
    while (environ[n]) n++;
    char **env = hpk_xmalloc((n + 2) * sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t d = 0;
        while (d < sizeof drop / sizeof *drop && strncmp(environ[i], drop[d], strlen(drop[d])) != 0) d++;
        if (d == sizeof drop / sizeof *drop) env[k++] = environ[i];
    }
    env[k++] = "LC_ALL=C.UTF-8";
    env[k] = NULL;
    return env;
}

char **hpk_child_env(char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ[n]) n++;
    while (extra && extra[m]) m++;
    char **env = hpk_xmalloc((n + m + 1) * sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "HPACK_", 6) != 0) env[k++] = environ[i];
    for (size_t i = 0; i < m; i++) env[k++] = extra[i];
    env[k] = NULL;
    return env;
}
