/*
 * train.c - two-pass training: DA0 -> training run -> DA1, and verification.
 *
 * DA1 is DA0's payload with the cache appended (hpk_payload_append): every
 * non-cache entry keeps its bytes and offset, so the base hash the cache was
 * recorded against is DA1's base hash by construction. The training run is
 * DA0 itself, run by its own launcher in record mode (HPACK_TRAIN), so the
 * cache sees exactly the class path string and JVM options DA1 will use.
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "hpk_verify.h"
#include "../layout/hpk_tree.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int hpk_ready_parse(const char *spec, struct hpk_ready *r)
{
    struct hpk_ready tmp;
    if (!r) r = &tmp;
    memset(r, 0, sizeof *r);
    if (!strncmp(spec, "tcp:", 4)) {
        /* tcp:PORT (on 127.0.0.1) or tcp:HOST:PORT */
        const char *hp = spec + 4, *colon = strrchr(hp, ':');
        char *end;
        long port = strtol(colon ? colon + 1 : hp, &end, 10);
        if (*end || end == (colon ? colon + 1 : hp) || port <= 0 || port > 65535) return -1;
        if (colon && (colon == hp || (size_t)(colon - hp) >= sizeof r->host)) return -1;
        r->kind = READY_TCP;
        r->port = (int)port;
        snprintf(r->host, sizeof r->host, "%.*s", colon ? (int)(colon - hp) : 9, colon ? hp : "127.0.0.1");
        if (!strcmp(r->host, "localhost")) snprintf(r->host, sizeof r->host, "127.0.0.1");
        return 0;
    }
    if (!strncmp(spec, "http:", 5)) {
        /* http:URL as documented (http:http://127.0.0.1:8080/health), the
         * bare URL (http://127.0.0.1:8080/health) and http:HOST:PORT/PATH */
        const char *u = spec + 5;
        if (!strncasecmp(u, "http://", 7)) u += 7;
        else if (!strncmp(u, "//", 2)) u += 2;
        const char *slash = strchr(u, '/');
        size_t hl = slash ? (size_t)(slash - u) : strlen(u);
        if (hl == 0 || hl >= sizeof r->host) return -1;
        snprintf(r->host, sizeof r->host, "%.*s", (int)hl, u);
        snprintf(r->path, sizeof r->path, "%s", slash ? slash : "/");
        char *colon = strrchr(r->host, ':');
        r->port = 80;
        if (colon) {
            char *end;
            long port = strtol(colon + 1, &end, 10);
            if (*end || port <= 0 || port > 65535) return -1;
            r->port = (int)port;
            *colon = 0;
        }
        if (!r->host[0]) return -1; /* http://:8080/: no host to probe */
        if (!strcmp(r->host, "localhost")) snprintf(r->host, sizeof r->host, "127.0.0.1");
        r->kind = READY_HTTP;
        return 0;
    }
    if (!strncmp(spec, "log:", 4) && spec[4]) {
        regex_t re;
        if (regcomp(&re, spec + 4, REG_EXTENDED | REG_NOSUB) != 0) return -1;
        regfree(&re);
        r->kind = READY_LOG;
        snprintf(r->regex, sizeof r->regex, "%s", spec + 4);
        return 0;
    }
    return -1;
}

static int probe(const struct hpk_ready *r)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port)};
    if (inet_pton(AF_INET, r->host, &sa.sin_addr) != 1) {
        struct hostent *h = gethostbyname(r->host);
        if (!h || h->h_addrtype != AF_INET) return 0;
        memcpy(&sa.sin_addr, h->h_addr_list[0], 4);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (ok && r->kind == READY_HTTP) {
        char req[1400], resp[64] = {0};
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", r->path, r->host);
        ok = write(fd, req, (size_t)n) == n && read(fd, resp, sizeof resp - 1) > 12 && !strncmp(resp, "HTTP/", 5);
        if (ok) {
            const char *sp = strchr(resp, ' ');
            ok = sp && (sp[1] == '2' || sp[1] == '3');
        }
    }
    close(fd);
    return ok;
}

/* ---- running a child with its output captured and scanned ---- */

struct run {
    pid_t pid;
    int out; /* read end: child's stdout+stderr */
    char line[8192];
    size_t ll;
};

/* Start argv in its own process group with stdin from /dev/null. Its
 * stdout and stderr go to a new pipe (*outfd), else to `to` if >= 0, else
 * to our stderr (keeping hpack's stdout for hpack). */
static pid_t spawn(char *const *argv, char *const *env, int *outfd, int to, const char *cwd)
{
    int p[2];
    if (outfd && pipe2(p, O_CLOEXEC) != 0) return -1;
    pid_t pid = hpk_fork_group(); /* its own group: a timeout kills the JVM too */
    if (pid < 0) {
        if (outfd) close(p[0]), close(p[1]);
        return -1;
    }
    if (pid == 0) {
        if (outfd) to = p[1];
        if (to >= 0) {
            dup2(to, 1);
            dup2(to, 2);
        } else {
            dup2(2, 1);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        if (cwd && chdir(cwd) != 0) {
            fprintf(stderr, "hpack: %s: cannot change to it: %s\n", cwd, strerror(errno));
            _exit(127);
        }
        execve(argv[0], argv, env);
        fprintf(stderr, "hpack: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (outfd) {
        close(p[1]);
        *outfd = p[0];
    }
    return pid;
}

/* Build an environment: ours minus HPACK_*, plus `extra` ("K=V" strings). */
static char **make_env(char **extra)
{
    size_t n = 0, m = 0;
    while (environ[n]) n++;
    while (extra && extra[m]) m++;
    char **env = calloc(n + m + 1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "HPACK_", 6) != 0) env[k++] = environ[i];
    for (size_t i = 0; i < m; i++) env[k++] = extra[i];
    env[k] = NULL;
    return env;
}

static void kill_group(pid_t pid, double grace)
{
    kill(-pid, SIGTERM);
    kill(pid, SIGTERM);
    double end = hpk_now() + grace;
    while (hpk_now() < end) {
        if (hpk_wait_group(pid, NULL, WNOHANG) == pid) {
            kill(-pid, SIGKILL); /* what the leader left running */
            return;
        }
        usleep(50000);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    hpk_wait_group(pid, NULL, 0);
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

/* Read what is available: copy it to `logfd` (if >= 0) and to our stderr
 * (if echo), and call fn for each full line. */
typedef int (*line_fn)(void *ctx, const char *line);
static void pump(struct run *r, int echo, int logfd, line_fn fn, void *ctx, int *matched)
{
    char buf[16384];
    ssize_t n = read(r->out, buf, sizeof buf);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            close(r->out);
            r->out = -1;
        }
        return;
    }
    if (logfd >= 0) write_all(logfd, buf, (size_t)n);
    if (echo) write_all(2, buf, (size_t)n);
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || r->ll == sizeof r->line - 1) {
            r->line[r->ll] = 0;
            if (fn && fn(ctx, r->line)) *matched = 1;
            r->ll = 0;
        } else {
            r->line[r->ll++] = buf[i];
        }
    }
}


/* The last lines of an output, kept for the error when training fails.
 * The JVM's "[warning][aot] Skipping ..." lines (one per class it will not
 * cache) say nothing about the failure and, printed, push the app's own
 * exception out of view: they are counted, not kept. */
#define TAIL_LINES 20
struct tail {
    char *l[TAIL_LINES];
    size_t n, noise;
};

static int noise_line(const char *line)
{
    return (strstr(line, "[warning][aot") || strstr(line, "[warning][cds")) && strstr(line, "] Skipping ");
}

static void tail_push(struct tail *t, const char *line)
{
    if (!line[strspn(line, " \t\r")]) return;
    if (noise_line(line)) {
        t->noise++;
        return;
    }
    if (t->n == TAIL_LINES) {
        free(t->l[0]);
        memmove(t->l, t->l + 1, (TAIL_LINES - 1) * sizeof *t->l);
        t->n--;
    }
    t->l[t->n++] = strndup(line, 300);
}

/* Each line indented, control characters shown as '?'. */
static void tail_print(FILE *f, const struct tail *t, const char *what)
{
    if (!t->n) return;
    fprintf(f, "hpack: %s last output", what);
    if (t->noise) fprintf(f, " (%zu lines of the JVM's \"[warning][aot] Skipping ...\" not shown)", t->noise);
    fputs(":\n", f);
    for (size_t i = 0; i < t->n; i++) {
        fputs("    ", f);
        for (const char *c = t->l[i]; *c; c++) fputc((unsigned char)*c < 32 && *c != '\t' ? '?' : *c, f);
        fputc('\n', f);
    }
}

static void tail_free(struct tail *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->l[i]);
    t->n = 0;
}

/* The training run's output, scanned for --train-ready log:REGEX and for
 * the JVM's word that it is writing the cache (a phase of the spinner). */
struct tscan {
    regex_t re;
    int have_re, creating;
    struct tail tail;
};

static int train_line(void *ctx, const char *line)
{
    struct tscan *t = ctx;
    if (!t->creating && (strstr(line, "AOTConfiguration recorded") || strstr(line, "writing AOTCache"))) t->creating = 1;
    tail_push(&t->tail, line);
    return t->have_re && regexec(&t->re, line, 0, NULL, 0) == 0;
}

static int workload_line(void *ctx, const char *line)
{
    tail_push(ctx, line);
    return 0;
}

/* What is left in a pipe, without waiting for writers that hold it open
 * (a workload's background children). */
static void drain(struct run *r, int echo, int logfd, line_fn fn, void *ctx)
{
    int m = 0;
    struct pollfd pfd = {.fd = r->out, .events = POLLIN};
    while (r->out >= 0 && (pfd.fd = r->out, poll(&pfd, 1, 50) > 0)) pump(r, echo, logfd, fn, ctx, &m);
    if (r->out >= 0) close(r->out);
    r->out = -1;
}

/* The training run: DA0 in record mode under HPACK_TRAIN. Its output (and
 * the workload's) goes to OUT.train.log (or `log_in`), and live to stderr
 * with -v; the log is removed when the run succeeds and kept, its tail
 * shown, when not. With cache_out NULL, a measured run for --tune instead
 * (tune.c): the artifact with its cache required (HPACK_AOT=require), the
 * same readiness and workload, *secs the time from its start until it was
 * stopped (ready, and the workload done), polled finely. */
static int train_run(struct hpk_build *b, const char *da0, const char *work, const char *cache_out, const char *log_in,
                     double *secs, struct hpk_perr *e)
{
    int timing = !cache_out;
    struct hpk_ready ready = {0};
    if (b->train_ready) hpk_ready_parse(b->train_ready, &ready);
    char *cachedir, *trainvar, *portvar = NULL, *urlvar = NULL, *logpath = NULL, *tmpcache = NULL;
    if (asprintf(&cachedir, "HPACK_CACHE_DIR=%s/unpack", work) < 0 ||
        (timing ? asprintf(&trainvar, "HPACK_AOT=require") : asprintf(&trainvar, "HPACK_TRAIN=%s", cache_out)) < 0 ||
        (log_in ? asprintf(&logpath, "%s", log_in) : asprintf(&logpath, "%s.train.log", b->output)) < 0 ||
        asprintf(&tmpcache, "%s.tmp", timing ? logpath : cache_out) < 0)
        return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    if (ready.port && asprintf(&portvar, "HPACK_TRAIN_PORT=%d", ready.port) < 0) return -1;
    if (ready.kind == READY_HTTP && asprintf(&urlvar, "HPACK_TRAIN_URL=http://%s:%d%s", ready.host, ready.port, ready.path) < 0)
        return -1;
    char *extra[] = {cachedir, trainvar, portvar ? portvar : urlvar, portvar ? urlvar : NULL, NULL};
    char **env = make_env(extra);
    /* argv: DA0, then the training arguments (after the artifact's own --arg list). */
    char **argv = calloc(b->train_args.n + 2, sizeof *argv);
    argv[0] = (char *)da0;
    for (size_t i = 0; i < b->train_args.n; i++) argv[i + 1] = b->train_args.v[i];
    size_t cl = timing ? 0 : strlen(cache_out);
    const char *creating = cl > 4 && !strcmp(cache_out + cl - 4, ".aot") ? "creating the AOT cache" : "writing the CDS archive";
    int live = hpk_verbose >= 2;
    /* A measured run must see its end within milliseconds, not a tenth. */
    int poll_ms = timing ? 2 : 100;
    double probe_every = timing ? 0.005 : 0.1, t_end = 0;

    struct tscan ts = {.have_re = 0};
    ts.have_re = ready.kind == READY_LOG && regcomp(&ts.re, ready.regex, REG_EXTENDED | REG_NOSUB) == 0;
    struct run r = {.pid = -1, .out = -1}, wr = {.pid = -1, .out = -1};
    struct tail wtail = {0};
    double t0 = hpk_now(), deadline = t0 + b->train_timeout, next_probe = t0;
    int rc = 0, is_ready = 0, stopped = 0, status = 0, matched = 0;
    pid_t wl = -1;
    int wl_status = 0;
    /* A fresh file (an earlier run's log is replaced): a name another user
     * planted that cannot be removed is an error, never written through. */
    unlink(logpath); /* if this fails (EPERM: not ours, in a sticky directory), O_EXCL does too */
    int logfd = open(logpath, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (logfd < 0) {
        rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: cannot write the training log: %s", logpath, strerror(errno));
        goto out;
    }
    hpk_tmp_register(logpath);
    if (timing)
        ;
    else if (b->train_ready)
        hpk_step_begin("training: running DA0, waiting for %s (timeout %.0f s)", b->train_ready, b->train_timeout);
    else
        hpk_step_begin("training: running DA0 (timeout %.0f s)", b->train_timeout);
    r.pid = spawn(argv, env, &r.out, -1, b->train_dir);
    if (r.pid < 0) {
        rc = hpk_perr_set(e, HPK_ST_TRAIN, "cannot start the training run: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        if (r.out >= 0 || wr.out >= 0) {
            struct pollfd pfd[2] = {{.fd = r.out, .events = POLLIN}, {.fd = wr.out, .events = POLLIN}};
            if (poll(pfd, 2, poll_ms) > 0) {
                if (r.out >= 0 && pfd[0].revents) pump(&r, live, logfd, train_line, &ts, &matched);
                int wm = 0;
                if (wr.out >= 0 && pfd[1].revents) pump(&wr, live, logfd, workload_line, &wtail, &wm);
            }
        } else {
            usleep((useconds_t)poll_ms * 200);
        }
        pid_t w = hpk_wait_group(r.pid, &status, WNOHANG);
        if (w == r.pid) {
            if (!t_end) t_end = hpk_now();
            while (r.out >= 0) pump(&r, live, logfd, train_line, &ts, &matched);
            break;
        }
        if (!ts.creating && access(tmpcache, F_OK) == 0) ts.creating = 1;
        if (ts.creating == 1 && !timing) {
            ts.creating = 2;
            hpk_step_update("training: %s", creating);
        }
        double now = hpk_now();
        if (now > deadline) {
            kill_group(r.pid, 10);
            if (wl > 0) kill_group(wl, 1);
            rc = hpk_perr_set(e, HPK_ST_TRAIN, "training timed out after %.0f s%s (--train-timeout)", b->train_timeout,
                              b->train_ready && !is_ready ? ": the app never became ready" : "");
            goto out;
        }
        if (b->train_ready && !is_ready) {
            if (ready.kind == READY_LOG) is_ready = matched;
            else if (now >= next_probe) {
                is_ready = probe(&ready);
                next_probe = now + probe_every;
            }
            if (is_ready) {
                if (b->train_workload) {
                    char *wargv[] = {"/bin/sh", "-c", (char *)b->train_workload, NULL};
                    if (!timing) {
                        hpk_step_update("training: ready after %.1f s; running the workload", now - t0);
                        hpk_info("training: workload: %s", b->train_workload);
                    }
                    wl = spawn(wargv, env, &wr.out, -1, b->train_dir);
                    if (wl < 0) {
                        kill_group(r.pid, 10);
                        rc = hpk_perr_set(e, HPK_ST_TRAIN, "cannot start the workload: %s", strerror(errno));
                        goto out;
                    }
                } else {
                    if (!timing) hpk_step_update("training: ready after %.1f s; stopping the app", now - t0);
                    kill(r.pid, SIGTERM);
                    stopped = 1;
                    t_end = now;
                }
            }
        }
        if (wl > 0 && hpk_wait_group(wl, &wl_status, WNOHANG) == wl) {
            wl = -1;
            drain(&wr, live, logfd, workload_line, &wtail);
            if (!WIFEXITED(wl_status) || WEXITSTATUS(wl_status) != 0) {
                kill_group(r.pid, 10);
                rc = hpk_perr_set(e, HPK_ST_TRAIN, "training workload failed (%s %d): %s",
                                  WIFEXITED(wl_status) ? "exit status" : "signal",
                                  WIFEXITED(wl_status) ? WEXITSTATUS(wl_status) : WTERMSIG(wl_status), b->train_workload);
                goto out;
            }
            t_end = hpk_now();
            if (!timing) hpk_step_update("training: workload done after %.1f s; stopping the app", t_end - t0);
            kill(r.pid, SIGTERM);
            stopped = 1;
        }
    }
    if (wl > 0) kill_group(wl, 1);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (b->train_ready && !is_ready) {
        rc = hpk_perr_set(e, HPK_ST_TRAIN, "the app exited (status %d) before it was ready (--train-ready %s)", code, b->train_ready);
    } else if (!stopped && code != 0) {
        rc = hpk_perr_set(e, HPK_ST_TRAIN, "the training run failed: the app exited with status %d", code);
    } else if (stopped && code != 0 && code != 143 && code != 130) {
        rc = hpk_perr_set(e, HPK_ST_TRAIN, "the app exited with status %d when stopped after training", code);
    } else if (timing) {
        *secs = t_end - t0;
    } else if (access(cache_out, R_OK) != 0) {
        rc = hpk_perr_set(e, HPK_ST_TRAIN, "the training run wrote no startup cache (the JVM's messages are in its output)");
    }
out:
    hpk_step_abort();
    /* A run killed on an error (timeout, failed workload) may have written
     * its last lines after the last poll: they are still in the pipe, and
     * belong in the log (without them a quick failure left no log at all).
     * The run is reaped, so what is there is all there is: do not wait. */
    while (r.out >= 0 && logfd >= 0) {
        struct pollfd pfd = {.fd = r.out, .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0) break;
        pump(&r, live, logfd, train_line, &ts, &matched);
    }
    if (logfd >= 0) {
        struct stat st;
        hpk_tmp_forget(logpath);
        if (rc == 0 || fstat(logfd, &st) != 0 || st.st_size == 0) {
            unlink(logpath);
        } else {
            /* Kept: the error says where; its tail is shown unless it was live. */
            if (!live) {
                /* The app's own last lines (its exception), then the
                 * workload's: both, whichever failed. */
                if (r.out >= 0) drain(&r, 0, logfd, train_line, &ts);
                if (wr.out >= 0) drain(&wr, 0, logfd, workload_line, &wtail);
                char *d = NULL;
                size_t dl = 0;
                FILE *f = open_memstream(&d, &dl);
                if (f) {
                    tail_print(f, &ts.tail, "the training run's");
                    tail_print(f, &wtail, "the workload's");
                    fclose(f);
                }
                free(b->fail_detail);
                b->fail_detail = d && *d ? d : NULL;
                if (!b->fail_detail) free(d);
            }
            size_t ml = strlen(e->msg);
            snprintf(e->msg + ml, sizeof e->msg - ml, "; its output is in %s", logpath);
        }
        close(logfd);
    }
    if (rc == 0 && !timing) hpk_note("trained in %.1f s", hpk_now() - t0);
    if (ts.have_re) regfree(&ts.re);
    if (r.out >= 0) close(r.out);
    if (wr.out >= 0) close(wr.out);
    tail_free(&ts.tail);
    tail_free(&wtail);
    free(argv);
    free(env);
    free(cachedir);
    free(trainvar);
    free(portvar);
    free(urlvar);
    free(logpath);
    free(tmpcache);
    return rc;
}

/* ---- verification: the main class must come from the cache ---- */

struct vscan {
    char want[1100];
    int hit;
    char why[2048]; /* the JVM's own explanation lines, kept for the error */
};

static int verify_line(void *ctx, const char *line)
{
    struct vscan *v = ctx;
    if (strstr(line, v->want)) {
        v->hit = 1;
        return 1;
    }
    /* Keep lines that explain a rejected cache. */
    if ((strstr(line, "mismatch") || strstr(line, "AOT") || strstr(line, "shared archive") || strstr(line, "error") ||
         strstr(line, "Error")) && strlen(v->why) + strlen(line) + 3 < sizeof v->why) {
        strcat(v->why, line);
        strcat(v->why, "; ");
    }
    return 0;
}

int hpk_verify_run(const char *artifact, const char *cwd, int argc, char **argv, struct hpk_perr *e)
{
    struct hpk_artifact a;
    struct hpk_config in;
    if (hpk_open_artifact(artifact, &a, e) != 0) return -1;
    if (hpk_artifact_info(&a, &in, e) != 0) {
        hpk_close_artifact(&a);
        return -1;
    }
    if (!in.cache) {
        hpk_config_free(&in);
        hpk_close_artifact(&a);
        return hpk_perr_set(e, HPK_ST_TRAIN, "no startup cache in this artifact");
    }
    struct vscan v = {0};
    snprintf(v.want, sizeof v.want, " %s source: shared objects file", in.launch.main);
    const char *log = !strcmp(in.launch.cache_kind ? in.launch.cache_kind : "", "aot") ? "-Xlog:class+load=info,aot=info,class+path=info"
                                                                          : "-Xlog:class+load=info,cds=info,class+path=info";
    hpk_config_free(&in);
    hpk_close_artifact(&a);

    char work[512];
    if (hpk_mkdtemp(work, sizeof work, "verify", e) != 0) return -1;
    char *cd, *opts;
    if (asprintf(&cd, "HPACK_CACHE_DIR=%s/unpack", work) < 0 || asprintf(&opts, "HPACK_JAVA_OPTS=%s", log) < 0) return -1;
    char *extra[] = {cd, opts, "HPACK_AOT=require", NULL};
    char **env = make_env(extra);
    char **av = calloc((size_t)argc + 2, sizeof *av);
    char *abs = realpath(artifact, NULL);
    av[0] = abs ? abs : (char *)artifact;
    for (int i = 0; i < argc; i++) av[i + 1] = argv[i];
    struct run r = {0};
    int status = 0, matched = 0, rc = 0;
    double deadline = hpk_now() + 300;
    r.pid = spawn(av, env, &r.out, -1, cwd);
    if (r.pid < 0) {
        rc = hpk_perr_set(e, HPK_ST_TRAIN, "cannot run %s: %s", artifact, strerror(errno));
        goto out;
    }
    for (;;) {
        struct pollfd pfd = {.fd = r.out, .events = POLLIN};
        if (r.out >= 0 && poll(&pfd, 1, 100) > 0) pump(&r, hpk_verbose > 1, -1, verify_line, &v, &matched);
        if (r.out < 0) usleep(20000);
        if (v.hit) {
            /* Seen: a server need not run on. */
            kill_group(r.pid, 10);
            break;
        }
        if (hpk_wait_group(r.pid, &status, WNOHANG) == r.pid) {
            while (r.out >= 0 && !v.hit) pump(&r, hpk_verbose > 1, -1, verify_line, &v, &matched);
            break;
        }
        if (hpk_now() > deadline) {
            kill_group(r.pid, 5);
            break;
        }
    }
    if (!v.hit)
        rc = hpk_perr_set(e, HPK_ST_TRAIN, "the startup cache does not apply: main class not loaded from it%s%.1900s",
                          v.why[0] ? "; the JVM said: " : "", v.why);
    else
        hpk_note("verified: %s is loaded from the startup cache", v.want + 1);
out:
    if (r.out >= 0) close(r.out);
    hpk_tmp_rm_tree(work);
    free(abs);
    free(av);
    free(env);
    free(cd);
    free(opts);
    return rc;
}

/* ---- DA1 ---- */

static int read_prov(const char *path, char **buf, size_t *len, struct hpk_perr *e)
{
    uint8_t *d;
    if (hpk_read_file(path, &d, len) != 0)
        return hpk_perr_set(e, HPK_ST_TRAIN, "%s: cannot read the cache's provenance (it is written beside the cache by HPACK_TRAIN)", path);
    char *s = realloc(d, *len + 1);
    if (!s) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    s[*len] = 0;
    *buf = s;
    return 0;
}

/* Test hook (tests/integration.sh), in test builds only (hpack-test,
 * -DHPK_TEST_HOOKS): build an artifact whose cache is NOT bound to its
 * payload, to prove the launcher refuses it. */
static int unbound_cache_hook(void)
{
#ifdef HPK_TEST_HOOKS
    const char *v = getenv("HPACK_TEST_UNBOUND_CACHE");
    return v && !strcmp(v, "1");
#else
    return 0;
#endif
}

/* Check a recorded cache against these inputs and turn it into payload items. */
static int cache_items(struct hpk_snapshot *s, const struct hpk_payload_buf *p, const char *cache, const char *extra,
                       size_t extra_len, struct hpk_item items[3], struct hpk_perr *e)
{
    char provpath[4200], base[33];
    snprintf(provpath, sizeof provpath, "%s.prov", cache);
    /* A cache taken out of an artifact (hpack extract) sits beside
     * cache/<hash>.prov: accept that name too. */
    size_t cl = strlen(cache);
    if (access(provpath, R_OK) != 0 && cl > 4 && (!strcmp(cache + cl - 4, ".aot") || !strcmp(cache + cl - 4, ".jsa")))
        snprintf(provpath, sizeof provpath, "%.*s.prov", (int)(cl - 4), cache);
    /* Whoever else could write the cache chooses the code the DA1 runs (a
     * cache holds classes): like the jlink cache, it must be the builder's
     * own, below directories nobody else can rename into (hpk_file_secure). */
    struct hpk_err se;
    if (access(provpath, F_OK) == 0 &&
        (hpk_file_secure(cache, "startup cache", &se) != 0 || hpk_file_secure(provpath, "provenance", &se) != 0))
        return hpk_perr_set(e, HPK_ST_TRAIN, "%s (--with-cache)", se.msg);
    char *prov = NULL;
    size_t plen = 0;
    if (read_prov(provpath, &prov, &plen, e) != 0) return -1;
    hpk_hash_hex(p->base_hash, base);
    const char *kind = hpk_cache_kind(s);
    char why[320];
    int rc = 0;
    if (unbound_cache_hook()) {
        hpk_warn("HPACK_TEST_UNBOUND_CACHE=1: not checking %s against these inputs", cache);
    } else if (hpk_cache_trust(prov, plen, base, kind, s->runtime_version, why, sizeof why) != HPK_TRUST_OK) {
        rc = hpk_perr_set(e, HPK_ST_TRAIN, "%s: startup cache refused: %s", cache, why);
    }
    if (rc) {
        free(prov);
        return rc;
    }
    if (extra_len) { /* --tune's table and choice (docs/format.md 9.3) */
        char *more = realloc(prov, plen + extra_len + 1);
        if (!more) hpk_oom();
        prov = more;
        memcpy(prov + plen, extra, extra_len);
        plen += extra_len;
        prov[plen] = 0;
    }
    memset(items, 0, 3 * sizeof *items);
    items[0].path = strdup("cache");
    items[0].mode = S_IFDIR | 0755;
    items[0].role = HPK_ROLE_CACHE;
    if (hpk_snapshot_file(&items[1], cache, HPK_ST_TRAIN, e) != 0) {
        free(prov);
        return -1;
    }
    char hex[33], path[64];
    hpk_hash_hex(items[1].hash, hex);
    snprintf(path, sizeof path, "cache/%s.%s", hex, kind && !strcmp(kind, "aot") ? "aot" : "jsa");
    items[1].path = strdup(path);
    items[1].mode = S_IFREG | 0644;
    items[1].role = HPK_ROLE_CACHE;
    snprintf(path, sizeof path, "cache/%s.prov", hex);
    items[2].path = strdup(path);
    items[2].mode = S_IFREG | 0644;
    items[2].role = HPK_ROLE_CACHE;
    items[2].data = (uint8_t *)prov;
    items[2].size = plen;
    hpk_hash_bytes(prov, plen, items[2].hash);
    return 0;
}

static void free_items(struct hpk_item *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(it[i].path);
        free(it[i].data);
        free(it[i].source);
    }
}

static void human(char *buf, size_t n, double bytes)
{
    if (bytes >= 1 << 20) snprintf(buf, n, "%.1f MB", bytes / (1 << 20));
    else snprintf(buf, n, "%.1f kB", bytes / 1024);
}

int hpk_train_payload(struct hpk_build *b, struct hpk_snapshot *s, const struct hpk_payload_buf *p, const char *work,
                      const char *cache, const char *log, struct hpk_perr *e)
{
    char da0[600];
    snprintf(da0, sizeof da0, "%s/da0", work);
    if (hpk_elf_emit(da0, p->data, p->len, e) != 0) return -1;
    int r = train_run(b, da0, work, cache, log, NULL, e);
    unlink(da0);
    if (r != 0) return -1;
    /* The Besu problem: were the trained inputs the shipped ones? */
    return hpk_snapshot_recheck(s, e);
}

int hpk_workload_time(struct hpk_build *b, const char *artifact, const char *work, const char *log, double *secs,
                      struct hpk_perr *e)
{
    return train_run(b, artifact, work, NULL, log, secs, e);
}

int hpk_da1_write(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_payload_buf *p, const char *cache,
                  const char *extra, size_t extra_len, const char *out, size_t *cache_size, struct hpk_perr *e)
{
    struct hpk_item items[3];
    memset(items, 0, sizeof items);
    int rc = -1;
    if (cache_items(s, p, cache, extra, extra_len, items, e) != 0) goto out;
    if (cache_size) *cache_size = items[1].size;
    if (hpk_payload_append(p, items, 3, e) != 0) goto out;
    if (hpk_elf_emit(out, p->data, p->len, e) != 0) goto out;
    if (unbound_cache_hook()) {
        hpk_warn("HPACK_TEST_UNBOUND_CACHE=1: not verifying DA1");
    } else if (hpk_step_begin("verifying DA1: running it with the cache required"),
               hpk_verify_run(out, b->train_dir, (int)b->train_args.n, b->train_args.v, e) != 0) {
        unlink(out);
        goto out;
    }
    rc = 0;
out:
    free_items(items, 3);
    return rc;
}

int hpk_train_and_emit(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_payload_buf *p, struct hpk_perr *e)
{
    char work[512] = "", cache[600], base[33];
    double t0 = hpk_now(), train_time = 0;
    size_t da0_size = p->len + (size_t)(hpk_launcher_end - hpk_launcher_start), cache_size = 0;
    hpk_hash_hex(p->base_hash, base);
    int rc = -1;
    const char *kind = hpk_cache_kind(s);
    if (!kind)
        return hpk_perr_set(e, HPK_ST_TRAIN, "%s: Java %s cannot record a startup cache: JDK 24+ (AOT cache) or JDK 13-23 with a base CDS archive (lib/server/classes.jsa) is needed",
                            b->runtime, s->java_version);
    const char *cache_path = b->with_cache;
    if (b->train) {
        if (hpk_mkdtemp(work, sizeof work, "train", e) != 0) return -1;
        snprintf(cache, sizeof cache, "%s/cache.%s", work, kind);
        if (b->keep_da0 && hpk_elf_emit(b->keep_da0, p->data, p->len, e) != 0) goto out;
        double tt = hpk_now();
        if (hpk_train_payload(b, s, p, work, cache, NULL, e) != 0) goto out;
        train_time = hpk_now() - tt;
        cache_path = cache;
    }

    /* DA1 goes to a temporary name beside the output, is verified there,
     * and only then renamed: a cache that does not apply leaves nothing. */
    char tmp[4200];
    const char *slash = strrchr(b->output, '/');
    snprintf(tmp, sizeof tmp, "%.*s.hpack-da1.%ld", slash ? (int)(slash - b->output + 1) : 0, b->output, (long)getpid());
    hpk_tmp_register(tmp);
    if (hpk_da1_write(b, s, p, cache_path, NULL, 0, tmp, &cache_size, e) != 0) {
        hpk_tmp_forget(tmp);
        goto out;
    }
    if (rename(tmp, b->output) != 0) {
        hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", b->output, strerror(errno));
        unlink(tmp);
        hpk_tmp_forget(tmp);
        goto out;
    }
    hpk_tmp_forget(tmp);
    struct stat st;
    char full[33], s0[32], s1[32], sc[32];
    hpk_hash_hex(p->full_hash, full);
    human(s0, sizeof s0, (double)da0_size);
    human(s1, sizeof s1, stat(b->output, &st) == 0 ? (double)st.st_size : 0);
    human(sc, sizeof sc, (double)cache_size);
    if (b->train) hpk_note("training time %.1f s; cache %s (%s); DA0 %s; DA1 %s", train_time, sc, kind, s0, s1);
    else hpk_note("cache %s (%s) from %s; DA1 %s", sc, kind, b->with_cache, s1);
    hpk_note("wrote %s in %.1f s; base %s full %s", b->output, hpk_now() - t0, base, full);
    rc = 0;
out:
    if (work[0]) hpk_tmp_rm_tree(work);
    return rc;
}
