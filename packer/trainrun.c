/*
 * trainrun.c - the training run: DA0 in record mode (HPACK_TRAIN), the
 * --train-ready wait, the --train-workload, the timeout, and the training
 * log (OUT.train.log: kept, its tail shown, when the run fails).
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "hpk_child.h"
#include "hpk_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
    struct hpk_proof *proof; /* a check run: the cache's proof, looked for in every line */
};

static int train_line(void *ctx, const char *line)
{
    struct tscan *t = ctx;
    if (!t->creating && (strstr(line, "AOTConfiguration recorded") || strstr(line, "writing AOTCache"))) t->creating = 1;
    if (t->proof) {
        hpk_proof_line(t->proof, line);
        /* The logging a check run asks for is not the app's output: not in
         * the tail, and never its readiness (a class named ...Started). */
        if (hpk_proof_logged(line)) return 0;
    }
    tail_push(&t->tail, line);
    return t->have_re && regexec(&t->re, line, 0, NULL, 0) == 0;
}

static int workload_line(void *ctx, const char *line)
{
    tail_push(ctx, line);
    return 0;
}

/* One training run's state, from start to verdict. */
struct trainer {
    struct hpk_build *b;
    const char *cache_out;
    struct hpk_ready ready;
    char *extra[8];   /* the variables given to DA0 and the workload (owned) */
    char **env, **argv;
    char *self;       /* the artifact's absolute path (owned): the run's directory may be --train-dir */
    char *logpath, *tmpcache;
    const char *creating; /* the spinner's word for the cache being written */
    const char *what;     /* the run, in errors: "the training run", "DA1's check run", "a measured run" */
    int logfd, live;
    struct hpk_child app, wl; /* the training run; the workload (pid -1 if none) */
    struct tscan ts;
    struct tail wtail;
    double t0, deadline, next_probe;
    int is_ready, stopped, matched;
    int wl_running; /* the workload started and not yet seen to end */
    /* A measured run for --tune (cache_out NULL, no proof): the DA1 with
     * its cache required; it must see its end within milliseconds, not a
     * tenth. A check run (proof) has its cache required too, but training's
     * rules. */
    int timing, poll_ms;
    double probe_every, t_end;
};

/* The environment and argv of DA0's run, the log file; the run not started. */
static int trainer_init(struct trainer *t, struct hpk_build *b, const char *da0, const char *work, const char *cache_out,
                        const char *java_opts, const char *log, struct hpk_proof *proof, const char *variant,
                        struct hpk_err *e)
{
    memset(t, 0, sizeof *t);
    t->b = b;
    t->cache_out = cache_out;
    t->what = cache_out ? "the training run" : proof ? "DA1's check run" : "a measured run";
    t->ts.proof = proof;
    t->timing = !cache_out && !proof;
    t->poll_ms = t->timing ? 2 : 100;
    t->probe_every = t->timing ? 0.005 : 0.1;
    t->logfd = -1;
    t->app.pid = t->wl.pid = -1;
    t->app.out = t->wl.out = -1;
    if (b->train_ready) hpk_ready_parse(b->train_ready, &t->ready);
    if (asprintf(&t->extra[0], "HPACK_CACHE_DIR=%s/unpack", work) < 0 ||
        (!cache_out ? asprintf(&t->extra[1], "HPACK_AOT=require") : asprintf(&t->extra[1], "HPACK_TRAIN=%s", cache_out)) < 0 ||
        (log ? asprintf(&t->logpath, "%s", log) : asprintf(&t->logpath, "%s.train.log", b->output)) < 0 ||
        asprintf(&t->tmpcache, "%s.tmp", cache_out ? cache_out : t->logpath) < 0)
        hpk_oom();
    int k = 2;
    /* A variant's options, in the record and create steps and the flag dump alike. */
    if (java_opts && asprintf(&t->extra[k++], "HPACK_JAVA_OPTS=%s", java_opts) < 0) hpk_oom();
    if (variant && asprintf(&t->extra[k++], "HPACK_AOT_VARIANT=%s", variant) < 0) hpk_oom();
    if (t->ready.port && asprintf(&t->extra[k++], "HPACK_TRAIN_PORT=%d", t->ready.port) < 0) hpk_oom();
    if (t->ready.kind == READY_HTTP &&
        asprintf(&t->extra[k++], "HPACK_TRAIN_URL=http://%s:%d%s", t->ready.host, t->ready.port, t->ready.path) < 0)
        hpk_oom();
    t->env = hpk_child_env(t->extra);
    /* argv: DA0, then the training arguments (after the artifact's own --arg list). */
    t->argv = hpk_xmalloc((b->train_args.n + 2) * sizeof *t->argv);
    /* Absolute: the run starts in --train-dir, and DA1's temporary name
     * beside a relative -o is relative to hpack's own directory. */
    t->self = realpath(da0, NULL);
    if (!t->self) return hpk_fail(e, HPK_ST_TRAIN, "%s: %s", da0, strerror(errno));
    t->argv[0] = t->self;
    for (size_t i = 0; i < b->train_args.n; i++) t->argv[i + 1] = b->train_args.v[i];
    t->argv[b->train_args.n + 1] = NULL;
    size_t cl = cache_out ? strlen(cache_out) : 0;
    t->creating = cl > 4 && !strcmp(cache_out + cl - 4, ".aot") ? "creating the AOT cache" : "writing the CDS archive";
    t->live = hpk_verbose >= 2;
    t->ts.have_re = t->ready.kind == READY_LOG && regcomp(&t->ts.re, t->ready.regex, REG_EXTENDED | REG_NOSUB) == 0;
    /* A fresh file (an earlier run's log is replaced): a name another user
     * planted that cannot be removed is an error, never written through. */
    unlink(t->logpath); /* if this fails (EPERM: not ours, in a sticky directory), O_EXCL does too */
    t->logfd = open(t->logpath, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (t->logfd < 0)
        return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write %s's log: %s", t->logpath, t->what, strerror(errno));
    hpk_tmp_register(t->logpath);
    return 0;
}

/* The app is ready (or the workload done): stop it, and say it was asked to. */
static void stop_app(struct trainer *t, const char *why)
{
    t->t_end = hpk_now();
    if (t->cache_out) hpk_step_update("training: %s after %.1f s; stopping the app", why, t->t_end - t->t0);
    kill(t->app.pid, SIGTERM);
    t->stopped = 1;
}

/* --train-ready: probe (or read the log match); once ready, start the
 * workload or stop the app. */
static int check_ready(struct trainer *t, double now, struct hpk_err *e)
{
    struct hpk_build *b = t->b;
    if (t->ready.kind == READY_LOG) {
        t->is_ready = t->matched;
    } else if (now >= t->next_probe) {
        t->is_ready = hpk_ready_probe(&t->ready);
        t->next_probe = now + t->probe_every;
    }
    if (!t->is_ready) return 0;
    if (!b->train_workload) {
        stop_app(t, "ready");
        return 0;
    }
    char *wargv[] = {"/bin/sh", "-c", (char *)b->train_workload, NULL};
    if (t->cache_out) {
        hpk_step_update("training: ready after %.1f s; running the workload", now - t->t0);
        hpk_info("training: workload: %s", b->train_workload);
    }
    if (hpk_child_start(&t->wl, wargv, t->env, b->train_dir) != 0) {
        int err = errno;
        hpk_child_kill(&t->app, 10);
        return hpk_fail(e, HPK_ST_TRAIN, "cannot start the workload: %s", strerror(err));
    }
    t->wl_running = 1;
    return 0;
}

/* The workload ended: a failure fails the training, success stops the app. */
static int workload_ended(struct trainer *t, struct hpk_err *e)
{
    int st = t->wl.status;
    hpk_child_drain(&t->wl, t->live, t->logfd, workload_line, &t->wtail);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        hpk_child_kill(&t->app, 10);
        return hpk_fail(e, HPK_ST_TRAIN, "%s's workload failed (%s %d): %s", t->what, WIFEXITED(st) ? "exit status" : "signal",
                            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), t->b->train_workload);
    }
    stop_app(t, "workload done");
    return 0;
}

/* Until the app ends: pump both outputs to the log, watch for readiness,
 * the cache being written, the workload's end and the deadline. */
static int train_loop(struct trainer *t, struct hpk_err *e)
{
    struct hpk_build *b = t->b;
    for (;;) {
        if (t->app.out >= 0 || t->wl.out >= 0) {
            struct pollfd pfd[2] = {{.fd = t->app.out, .events = POLLIN}, {.fd = t->wl.out, .events = POLLIN}};
            if (poll(pfd, 2, t->poll_ms) > 0) {
                if (t->app.out >= 0 && pfd[0].revents &&
                    hpk_child_pump(&t->app, t->live, t->logfd, train_line, &t->ts))
                    t->matched = 1;
                if (t->wl.out >= 0 && pfd[1].revents) hpk_child_pump(&t->wl, t->live, t->logfd, workload_line, &t->wtail);
            }
        } else {
            usleep((useconds_t)t->poll_ms * 200);
        }
        if (hpk_child_done(&t->app)) {
            if (!t->t_end) t->t_end = hpk_now();
            while (t->app.out >= 0)
                if (hpk_child_pump(&t->app, t->live, t->logfd, train_line, &t->ts)) t->matched = 1;
            return 0;
        }
        if (!t->ts.creating && access(t->tmpcache, F_OK) == 0) t->ts.creating = 1;
        if (t->ts.creating == 1 && t->cache_out) {
            t->ts.creating = 2;
            hpk_step_update("training: %s", t->creating);
        }
        double now = hpk_now();
        if (now > t->deadline) {
            hpk_child_kill(&t->app, 10);
            hpk_child_kill(&t->wl, 1);
            return hpk_fail(e, HPK_ST_TRAIN, "%s timed out after %.0f s%s (--train-timeout)", t->what,
                                b->train_timeout, b->train_ready && !t->is_ready ? ": the app never became ready"
                                : t->wl_running && t->wl.pid < 0 ? ": the workload exited, but its output stayed open (a process it started holds it)" : "");
        }
        if (b->train_ready && !t->is_ready && check_ready(t, now, e) != 0) return -1;
        /* The workload has ended when it has exited and, in a measured run,
         * its output has reached its end: what it started that still
         * writes is part of its time (training only drains what is there). */
        if (t->wl_running && hpk_child_done(&t->wl) && (!t->timing || t->wl.out < 0)) {
            t->wl_running = 0;
            if (workload_ended(t, e) != 0) return -1;
        }
    }
}

/* The app has ended: did the run do what it was for? */
static int train_verdict(struct trainer *t, struct hpk_err *e)
{
    struct hpk_build *b = t->b;
    hpk_child_kill(&t->wl, 1);
    int code = hpk_child_code(t->app.status);
    if (b->train_ready && !t->is_ready)
        return hpk_fail(e, HPK_ST_TRAIN, "%s: the app exited (status %d) before it was ready (--train-ready %s)", t->what, code,
                        b->train_ready);
    if (!t->stopped && code != b->train_exit)
        return hpk_fail(e, HPK_ST_TRAIN, "%s failed: the app exited with status %d%s", t->what, code,
                        b->train_exit ? ", not the --train-exit status" : "");
    if (t->stopped && code != 0 && code != 143 && code != 130)
        return hpk_fail(e, HPK_ST_TRAIN, "%s: the app exited with status %d when stopped (ready, or its workload done)",
                        t->what, code);
    if (t->cache_out && access(t->cache_out, R_OK) != 0)
        return hpk_fail(e, HPK_ST_TRAIN, "the training run wrote no startup cache (the JVM's messages are in its output)");
    return 0;
}

/* After a failure: the last lines of both outputs into b->fail_detail
 * (printed before the error), unless they were shown live. */
static void keep_tails(struct trainer *t)
{
    /* The app's own last lines (its exception), then the workload's: both,
     * whichever failed. */
    if (t->app.out >= 0) hpk_child_drain(&t->app, 0, t->logfd, train_line, &t->ts);
    if (t->wl.out >= 0) hpk_child_drain(&t->wl, 0, t->logfd, workload_line, &t->wtail);
    char *d = NULL;
    size_t dl = 0;
    FILE *f = open_memstream(&d, &dl);
    if (f) {
        char whose[64];
        snprintf(whose, sizeof whose, "%s's", t->what);
        tail_print(f, &t->ts.tail, whose);
        tail_print(f, &t->wtail, "the workload's");
        fclose(f);
    }
    free(t->b->fail_detail);
    t->b->fail_detail = d && *d ? d : NULL;
    if (!t->b->fail_detail) free(d);
}

/* The log removed when the run succeeded, kept (and named in the error)
 * when not; everything freed. */
static void trainer_finish(struct trainer *t, int rc, struct hpk_err *e)
{
    /* A run killed on an error (timeout, failed workload) may have written
     * its last lines after the last poll: they are still in the pipe, and
     * belong in the log (without them a quick failure left no log at all).
     * The run is reaped, so what is there is all there is: do not wait. */
    while (t->app.out >= 0 && t->logfd >= 0) {
        struct pollfd pfd = {.fd = t->app.out, .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0) break;
        if (hpk_child_pump(&t->app, t->live, t->logfd, train_line, &t->ts)) t->matched = 1;
    }
    if (t->logfd >= 0) {
        struct stat st;
        hpk_tmp_forget(t->logpath);
        if (rc == 0 || fstat(t->logfd, &st) != 0 || st.st_size == 0) {
            unlink(t->logpath);
        } else {
            if (!t->live) keep_tails(t);
            size_t ml = strlen(e->msg);
            snprintf(e->msg + ml, sizeof e->msg - ml, "; its output is in %s", t->logpath);
        }
        close(t->logfd);
    }
    if (t->ts.have_re) regfree(&t->ts.re);
    hpk_child_close(&t->app);
    hpk_child_close(&t->wl);
    tail_free(&t->ts.tail);
    tail_free(&t->wtail);
    free(t->argv);
    free(t->self);
    free(t->env);
    for (size_t i = 0; i < sizeof t->extra / sizeof *t->extra; i++) free(t->extra[i]);
    free(t->logpath);
    free(t->tmpcache);
}

/* The run, for training (cache_out) or, with cache_out NULL, measured
 * (--tune): *secs from its start until it was stopped (ready, and the
 * workload done: exited, its output at its end) or ended by itself. */
static int run(struct hpk_build *b, const char *da0, const char *work, const char *cache_out, const char *java_opts,
               const char *log, struct hpk_proof *proof, const char *variant, double *secs, struct hpk_err *e)
{
    struct trainer t;
    int rc = trainer_init(&t, b, da0, work, cache_out, java_opts, log, proof, variant, e);
    if (rc == 0) {
        if (!cache_out)
            ;
        else if (b->train_ready)
            hpk_step_begin("training: running DA0, waiting for %s (timeout %.0f s)", b->train_ready, b->train_timeout);
        else
            hpk_step_begin("training: running DA0 (timeout %.0f s)", b->train_timeout);
        t.t0 = t.next_probe = hpk_now();
        t.deadline = t.t0 + b->train_timeout;
        if (hpk_child_start(&t.app, t.argv, t.env, b->train_dir) != 0)
            rc = hpk_fail(e, HPK_ST_TRAIN, "cannot start %s: %s", t.what, strerror(errno));
        else if ((rc = train_loop(&t, e)) == 0)
            rc = train_verdict(&t, e);
        /* Before the log is removed: a run without the proof keeps it. */
        if (rc == 0 && proof) {
            rc = hpk_proof_verdict(proof, variant, e);
        } else if (rc != 0 && proof) {
            size_t ml = strlen(e->msg);
            snprintf(e->msg + ml, sizeof e->msg - ml, " (DA1 repeats the training run with its cache required; for a run "
                     "that cannot be repeated, --train-check start checks only that DA1 starts from its cache)");
        }
    }
    if (cache_out) hpk_step_abort();
    if (rc == 0 && cache_out) hpk_note("trained in %.1f s", hpk_now() - t.t0);
    if (rc == 0 && secs) *secs = t.t_end - t.t0;
    trainer_finish(&t, rc, e);
    return rc;
}

int hpk_train_run(struct hpk_build *b, const char *da0, const char *work, const char *cache_out, const char *java_opts,
                  const char *log, struct hpk_err *e)
{
    return run(b, da0, work, cache_out, java_opts, log, NULL, NULL, NULL, e);
}

int hpk_workload_time(struct hpk_build *b, const char *artifact, const char *work, const char *java_opts, const char *log,
                      double *secs, struct hpk_err *e)
{
    return run(b, artifact, work, NULL, java_opts, log, NULL, NULL, secs, e);
}

char *hpk_check_log(const char *output)
{
    char *log;
    if (asprintf(&log, "%s.check.log", output) < 0) hpk_oom();
    return log;
}

int hpk_check_run(struct hpk_build *b, const char *da1, const char *variant, struct hpk_err *e)
{
    struct hpk_proof proof;
    char work[512];
    if (hpk_proof_plan(da1, &proof, e) != 0 || hpk_mkdtemp(work, sizeof work, "check", e) != 0) return -1;
    char *log = hpk_check_log(b->output);
    int rc = run(b, da1, work, NULL, proof.log, log, &proof, variant, NULL, e);
    hpk_tmp_rm_tree(work);
    free(log);
    return rc;
}
