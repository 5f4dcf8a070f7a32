/*
 * tune.c - `hpack build --train --tune`: the search for the rest of the
 * JVM's configuration, by measuring the user's own workload: the
 * candidates, their trainings, the rounds, the medians and the decision.
 * What it leaves (the table, the records, the chosen DA1 and OUT.tuned) is
 * tunetable.c; the options' parsing is tuneopts.c.
 *
 * The AOT cache is not the only thing that decides how fast a short run
 * is: the GC, the compilation tiers and the heap's first size matter as
 * much, and no one choice wins everywhere (docs/tuning.md has the figures).
 * So every candidate option set gets its own DA0 (the options are in
 * hpack/launch, so its base hash differs) and its own training (a cache
 * recorded under other options may not apply, or be worse), and they are
 * all timed on the training workload, alternated over rounds. A candidate
 * replaces the default only if its median beats the default's by more than
 * the default's own spread: a search over noise would otherwise "find" a
 * winner every time.
 */
#define _GNU_SOURCE
#include "hpk_tune_int.h"
#include "hpk_child.h"
#include "hpk_verify.h"
#include "../layout/hpk_kv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- candidates ---- */

static void add_cand(struct hpk_tune *t, const char *name, const char *opts)
{
    if (t->n == HPK_TUNE_MAX_CANDS) return;
    struct hpk_tune_cand *c = &t->c[t->n];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->run = 1;
    c->set = t->n;
    char why[200];
    if (opts && hpk_tune_split(opts, &c->opts, why, sizeof why) != 0) return; /* checked when parsed */
    const char *u = hpk_tune_user_sets(t->b, &c->opts);
    if (u) snprintf(c->out, sizeof c->out, "not tried: your --jvm-opt %s sets the same flag", u);
    t->n++;
}

/* The curated sets (docs/tuning.md): options that change how fast the JVM
 * gets there, never what the program computes. `server` never caps the
 * compilation tiers: C1 alone would cost a long run its peak speed. */
static void curated(struct hpk_tune *t)
{
    char xms[64] = "";
    /* The first size of the heap from what the run held at most (its GC
     * log, tuneheap.c): a heap that need not grow to hold it. */
    if (t->peak_kb > 0) hpk_tune_xms(t->peak_kb, xms, sizeof xms);
    if (t->b->tune == HPK_TUNE_STARTUP) {
        add_cand(t, "c1", "-XX:TieredStopAtLevel=1");
        add_cand(t, "serial", "-XX:+UseSerialGC");
        add_cand(t, "serial-c1", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1");
        add_cand(t, "c1-1thread", "-XX:TieredStopAtLevel=1 -XX:CICompilerCount=1");
        add_cand(t, "serial-c1-noperf", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData");
    } else {
        add_cand(t, "serial", "-XX:+UseSerialGC");
        add_cand(t, "parallel", "-XX:+UseParallelGC");
    }
    if (*xms) add_cand(t, "xms-peak", xms);
}

/* ---- hpack/launch with a candidate's options ---- */

/* The launch records with `opts` as jvm records before the user's: after
 * the class path, where build.c writes --jvm-opt (docs/format.md 9.2:
 * before the jvm, arg and env records), so the bytes are those a build
 * with these options first would write. */
static char *launch_with(const char *conf, size_t len, const struct hpk_strv *opts, size_t *outlen)
{
    char *out = NULL;
    size_t ol = 0, pos = 0;
    int done = 0;
    const char *k, *v;
    size_t kl;
    while (hpk_kv_next(conf, len, &pos, &k, &kl, &v) == 1) {
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(kl < 63 ? kl : 63), k);
        if (!done && (!strcmp(key, "jvm") || !strcmp(key, "arg") || !strcmp(key, "env"))) {
            for (size_t i = 0; i < opts->n; i++) hpk_kv_add(&out, &ol, "jvm", opts->v[i]);
            done = 1;
        }
        hpk_kv_add(&out, &ol, key, v);
    }
    if (!done)
        for (size_t i = 0; i < opts->n; i++) hpk_kv_add(&out, &ol, "jvm", opts->v[i]);
    *outlen = ol;
    return out;
}

/* Put the candidate's hpack/launch into the snapshot (the original is
 * kept by the caller and put back) and lay out its DA0. */
static int candidate_payload(struct hpk_tune *t, struct hpk_item *launch, const struct hpk_tune_cand *c, struct hpk_payload_buf *p,
                             struct hpk_err *e)
{
    struct hpk_item keep = *launch;
    size_t nl;
    char *mine = launch_with((const char *)keep.data, keep.size, &c->opts, &nl);
    launch->data = (uint8_t *)mine;
    launch->size = nl;
    hpk_hash_bytes(mine, nl, launch->hash);
    int r = hpk_payload_build(p, t->s->items, t->s->n, e);
    *launch = keep;
    free(mine);
    return r;
}

/* ---- measuring ---- */

/* Test hook (tests/tune.sh), in test builds only: HPACK_TEST_TUNE_SCALE=
 * NAME=F[,NAME=F] multiplies NAME's measured times by F, so a test can
 * decide who wins without trusting a loaded machine's timing. */
static double test_scale(const char *name, int confirming)
{
#ifdef HPK_TEST_HOOKS
    /* HPACK_TEST_TUNE_CONFIRM_SCALE, if set: the same for the
     * confirmation's runs instead. */
    const char *v = confirming ? getenv("HPACK_TEST_TUNE_CONFIRM_SCALE") : NULL;
    if (!v) v = getenv("HPACK_TEST_TUNE_SCALE");
    size_t nl = strlen(name);
    for (const char *p = v; p && *p;) {
        if (!strncmp(p, name, nl) && p[nl] == '=') return strtod(p + nl + 1, NULL);
        p = strchr(p, ',');
        if (p) p++;
    }
#else
    (void)name, (void)confirming;
#endif
    return 1.0;
}

/* One startup run: the artifact on the training arguments, in the training
 * directory, its cache required (a candidate whose cache the JVM refuses
 * fails here, never runs uncached and slow or fast for the wrong reason).
 * Wall time from the start to reaping it: what a user waits. Its output
 * goes to a log, whose last line says why if it fails. */
static int time_startup(struct hpk_tune *t, struct hpk_tune_cand *c, double *secs, const char *java_opts, struct hpk_err *e)
{
    struct hpk_build *b = t->b;
    char cd[600], log[600];
    snprintf(cd, sizeof cd, "HPACK_CACHE_DIR=%s/unpack", t->work);
    snprintf(log, sizeof log, "%s/%s.run.log", t->work, c->name);
    char *jo = NULL;
    if (java_opts && asprintf(&jo, "HPACK_JAVA_OPTS=%s", java_opts) < 0) hpk_oom();
    char *extra[] = {cd, "HPACK_AOT=require", jo, NULL};
    char **env = hpk_child_env(extra), **argv = hpk_xmalloc((b->train_args.n + 2) * sizeof *argv);
    argv[0] = c->da1;
    for (size_t i = 0; i < b->train_args.n; i++) argv[i + 1] = b->train_args.v[i];
    argv[b->train_args.n + 1] = NULL;
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(env), free(argv), free(jo);
        return hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", log, strerror(errno));
    }
    struct hpk_child ch;
    double t0 = hpk_now();
    int r = hpk_child_start(&ch, argv, env, b->train_dir);
    int err = errno;
    free(env), free(argv), free(jo);
    if (r != 0) {
        close(fd);
        return hpk_fail(e, HPK_ST_TRAIN, "cannot run %s: %s", c->name, strerror(err));
    }
    /* To the end of its output, then its exit: a process it started that
     * still writes holds the pipe open, and its time is the run's. */
    while (ch.out >= 0) hpk_child_pump(&ch, 0, fd, NULL, NULL);
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    pid_t w = hpk_wait_group_usage(ch.pid, &st, &ru);
    *secs = hpk_now() - t0;
    ch.pid = -1;
    close(fd);
    if (w < 0) return hpk_fail(e, HPK_ST_TRAIN, "lost the run of %s: %s", c->name, strerror(errno));
    /* The run did its job as training's did: the --train-exit status. */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != t->b->train_exit) {
        char last[200] = "";
        FILE *f = fopen(log, "r");
        for (char line[512]; f && fgets(line, sizeof line, f);)
            if (line[strspn(line, " \t\r\n")]) snprintf(last, sizeof last, "%.*s", (int)strcspn(line, "\r\n"), line);
        if (f) fclose(f);
        return hpk_fail(e, HPK_ST_TRAIN, "its run %s %d%s%s", WIFEXITED(st) ? "exited with status" : "was killed by signal",
                            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), *last ? ": " : "", last);
    }
    return 0;
}

static int time_run(struct hpk_tune *t, struct hpk_tune_cand *c, double *secs, const char *java_opts, int confirming,
                    struct hpk_err *e)
{
    int r;
    if (t->b->tune == HPK_TUNE_SERVER) {
        char log[600];
        snprintf(log, sizeof log, "%s/%s.run.log", t->work, c->name);
        r = hpk_workload_time(t->b, c->da1, t->work, java_opts, log, secs, e);
    } else {
        r = time_startup(t, c, secs, java_opts, e);
    }
    if (r == 0) *secs *= test_scale(c->name, confirming);
    return r;
}

static int time_one(struct hpk_tune *t, struct hpk_tune_cand *c, double *secs, const char *java_opts, struct hpk_err *e)
{
    return time_run(t, c, secs, java_opts, 0, e);
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void hpk_tune_stats(double *x, size_t n, double *median, double *spread)
{
    qsort(x, n, sizeof *x, dbl_cmp);
    *median = n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
    /* The middle half's width (the whole range below 4 runs), relative to
     * the median: one outlier on a shared machine does not widen it. */
    size_t k = n / 4;
    *spread = *median > 0 ? (x[n - 1 - k] - x[k]) / *median : 0;
}

static void cand_stats(struct hpk_tune_cand *c)
{
    double x[64];
    memcpy(x, c->t, c->nt * sizeof *x);
    hpk_tune_stats(x, c->nt, &c->median, &c->spread);
    c->lo = x[0];
    c->hi = x[c->nt - 1];
}

/* ---- the search ---- */

static int out_of_time(const struct hpk_tune *t) { return hpk_now() > t->deadline; }

/* Where candidate c's cache is: the one given, or its training's in the
 * work directory. */
static void cache_of(const struct hpk_tune *t, const struct hpk_tune_cand *c, char *buf, size_t n)
{
    if (c->given) snprintf(buf, n, "%s", c->given);
    else snprintf(buf, n, "%s/%s.%s", t->work, c->name, hpk_cache_kind(t->s));
}

/* Train candidate c and write its verified DA1 into the work directory.
 * `p0`, if given, is its DA0 already laid out (the default's). */
static int build_cand(struct hpk_tune *t, struct hpk_tune_cand *c, struct hpk_item *launch, struct hpk_payload_buf *p0,
                      struct hpk_err *e)
{
    struct hpk_payload_buf mine, *p = p0;
    memset(&mine, 0, sizeof mine);
    char cache[600], log[600];
    cache_of(t, c, cache, sizeof cache);
    snprintf(log, sizeof log, "%s/%s.train.log", t->work, c->name);
    snprintf(c->da1, sizeof c->da1, "%s/%s.da1", t->work, c->name);
    int r = 0;
    if (!p) {
        p = &mine;
        r = candidate_payload(t, launch, c, p, e);
    }
    if (r == 0 && !c->given) r = hpk_train_payload(t->b, t->s, p, t->work, cache, NULL, log, NULL, e);
    if (r == 0) r = hpk_da1_write(t->b, t->s, p, cache, NULL, 0, c->da1, NULL, e);
    hpk_payload_buf_free(&mine);
    return r; /* the cache stays in the work directory: the winner's is emitted again */
}

/* The rule (docs/tuning.md): the fastest median among the candidates whose
 * median is below the default's by more than the default's own spread (at
 * least 1 %: a timer's tie is not a win). */
static void choose(struct hpk_tune *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (!*t->c[i].out) cand_stats(&t->c[i]);
    double margin = t->c[0].spread > 0.01 ? t->c[0].spread : 0.01;
    t->win = 0;
    for (size_t i = 1; i < t->n; i++) {
        const struct hpk_tune_cand *c = &t->c[i];
        if (*c->out || c->median >= t->c[0].median * (1 - margin)) continue;
        if (t->win == 0 || c->median < t->c[t->win].median) t->win = i;
    }
}

/* The winner confirmed: it and the default measured again, alternately
 * (which runs first alternates), as many rounds as the search had, and
 * kept only if its median there is still below the default's by more than
 * the default's spread there (at least 1 %). The search picks the best of
 * many candidates, and so also the luckiest: on a loaded machine five
 * rounds can make a tie look like a win. A second, independent
 * measurement of the one chosen does not share that luck
 * (docs/tuning.md). 0, or -1 if the default failed. */
static int confirm(struct hpk_tune *t, struct hpk_err *e)
{
    if (!t->win) return 0;
    struct hpk_tune_cand *d = &t->c[0], *w = &t->c[t->win];
    double td[HPK_TUNE_MAX_RUNS], tw[HPK_TUNE_MAX_RUNS];
    int n = 0, rounds = t->rounds < HPK_TUNE_MAX_RUNS ? t->rounds : HPK_TUNE_MAX_RUNS;
    hpk_note("tune: confirming %s against the default, %d more rounds", w->name, rounds);
    for (; n < rounds; n++) {
        for (int k = 0; k < 2; k++) {
            struct hpk_tune_cand *c = (k ^ (n & 1)) ? w : d;
            double s;
            struct hpk_err ce = {0};
            if (time_run(t, c, &s, NULL, 1, &ce) != 0) {
                if (c == d) return hpk_fail(e, ce.code, "tune: the default DA1 failed: %s", ce.msg);
                hpk_note("tune: %s failed in the confirmation: %s", w->name, ce.msg);
                t->unconfirmed = t->win, t->win = 0;
                return 0;
            }
            (c == d ? td : tw)[n] = s;
        }
    }
    double sw;
    hpk_tune_stats(td, (size_t)n, &t->conf_def, &t->conf_spread);
    hpk_tune_stats(tw, (size_t)n, &t->conf_win, &sw);
    t->conf_rounds = n;
    double margin = t->conf_spread > 0.01 ? t->conf_spread : 0.01;
    if (!(t->conf_win < t->conf_def * (1 - margin))) t->unconfirmed = t->win, t->win = 0;
    hpk_note("tune: %s %s: %.3f s against the default's %.3f s (spread %.1f%%)", w->name,
             t->win ? "confirmed" : "not confirmed, the default is kept", t->conf_win, t->conf_def,
             100 * t->conf_spread);
    return 0;
}

/* Rounds: each live candidate once per round, the order rotated so none
 * always runs first (after another's page cache or next to its GC). */
static int measure(struct hpk_tune *t, int rounds, struct hpk_err *e)
{
    for (int r = 0; r < rounds; r++) {
        if (r >= 3 && out_of_time(t)) {
            hpk_note("tune: --tune-time reached after %d rounds", r);
            break;
        }
        for (size_t j = 0; j < t->n; j++) {
            struct hpk_tune_cand *c = &t->c[(j + (size_t)r) % t->n];
            if (*c->out || c->nt == sizeof c->t / sizeof *c->t) continue;
            double s;
            struct hpk_err ce = {0};
            if (time_one(t, c, &s, NULL, &ce) != 0) {
                if (c == &t->c[0]) return hpk_fail(e, ce.code, "tune: the default DA1 failed: %s", ce.msg);
                snprintf(c->out, sizeof c->out, "failed in round %d: %.250s", r + 1, ce.msg);
                continue;
            }
            c->t[c->nt++] = s;
        }
        t->rounds = r + 1;
        char line[2048];
        size_t l = (size_t)snprintf(line, sizeof line, "tune: round %d/%d, medians:", r + 1, rounds);
        for (size_t i = 0; i < t->n && l < sizeof line; i++) {
            struct hpk_tune_cand *c = &t->c[i];
            if (*c->out || !c->nt) continue;
            double x[64], med, sp;
            memcpy(x, c->t, c->nt * sizeof *x);
            hpk_tune_stats(x, c->nt, &med, &sp);
            l += (size_t)snprintf(line + l, sizeof line - l, " %s %.3f s%s", c->name, med, i + 1 < t->n ? "," : "");
        }
        hpk_note("%s", line);
    }
    return 0;
}

/* --train-runs N: every option set trained N times, each training its own
 * candidate ("c1", "c1#2", ...): the max operator over trainings, by the
 * same measurement (a training run is itself noisy: which classes, which
 * profiles, depend on timing). */
static void more_runs(struct hpk_tune *t)
{
    size_t sets = t->n;
    for (int r = 2; r <= t->b->train_runs; r++)
        for (size_t i = 0; i < sets && t->n < HPK_TUNE_MAX_CANDS; i++) {
            const struct hpk_tune_cand *src = &t->c[i];
            if (src->given) continue;
            struct hpk_tune_cand *c = &t->c[t->n++];
            memset(c, 0, sizeof *c);
            snprintf(c->name, sizeof c->name, "%.24s#%d", src->name, r);
            for (size_t k = 0; k < src->opts.n; k++) hpk_strv_push(&c->opts, src->opts.v[k]);
            snprintf(c->out, sizeof c->out, "%s", src->out);
            c->run = r;
            c->set = i;
        }
}

/* The winner, for good: its DA0 laid out again (the same bytes: the layout
 * is a function of the snapshot) with the very cache that was measured
 * (kept in the work directory), written by tunetable.c. */
static int emit_winner(struct hpk_tune *t, struct hpk_item *launch, struct hpk_err *e)
{
    struct hpk_tune_cand *w = &t->c[t->win];
    struct hpk_payload_buf p;
    memset(&p, 0, sizeof p);
    char cache[600];
    cache_of(t, w, cache, sizeof cache);
    int r = candidate_payload(t, launch, w, &p, e);
    if (r == 0 && t->b->keep_da0) r = hpk_elf_emit(t->b->keep_da0, p.data, p.len, e);
    if (r == 0) r = hpk_tune_write(t, &p, cache, e);
    hpk_payload_buf_free(&p);
    return r;
}

/* The default first: the user's own options, the DA0 build.c laid out in
 * p (with --with-cache A --with-cache B, the first cache); trained,
 * verified and run once, untimed (the run that unpacks it). */
static int start_default(struct hpk_tune *t, struct hpk_item *launch, struct hpk_payload_buf *p, struct hpk_err *e)
{
    struct hpk_build *b = t->b;
    add_cand(t, b->with_cache ? "cache-1" : "default", NULL);
    t->c[0].given = b->with_cache;
    hpk_note(b->with_cache ? "tune: checking cache-1 (%s)" : "tune: training the default%s", b->with_cache ? b->with_cache : "");
    if (build_cand(t, &t->c[0], launch, p, e) != 0) return -1;
    /* Its first run unpacks it, so it is not timed; it writes the JVM's GC
     * log, the peak heap use of which sizes the xms-peak candidate. A path
     * with a blank or a quote cannot be given in HPACK_JAVA_OPTS: then none. */
    char heaplog[600], jo[700];
    snprintf(heaplog, sizeof heaplog, "%s/heap.log", t->work);
    int logged = !strpbrk(heaplog, " \t\n\"");
    if (logged) snprintf(jo, sizeof jo, HPK_TUNE_HEAP_LOG, heaplog);
    double s0;
    struct hpk_err fe = {0};
    if (time_one(t, &t->c[0], &s0, logged ? jo : NULL, &fe) != 0)
        return hpk_fail(e, fe.code, "tune: the default DA1 failed: %s", fe.msg);
    uint8_t *d = NULL;
    size_t dl = 0;
    if (logged && hpk_read_file(heaplog, &d, &dl) == 0) t->peak_kb = hpk_tune_heap_peak_kb((const char *)d, dl);
    free(d);
    unlink(heaplog);
    if (t->peak_kb > 0) {
        char xms[64];
        hpk_tune_xms(t->peak_kb, xms, sizeof xms);
        hpk_note("tune: the default's peak heap use %.1f MB (its GC log): xms-peak is %s", t->peak_kb / 1024.0, xms);
    } else {
        hpk_note("tune: no peak heap use in the default's GC log: no xms-peak candidate");
    }
    return 0;
}

/* The other candidates: the curated sets, the user's, the given caches,
 * and with --train-runs their further trainings. */
static void add_all(struct hpk_tune *t)
{
    struct hpk_build *b = t->b;
    if (!b->tune_only) curated(t);
    for (size_t i = 0; i < b->tune_cands.n; i++) {
        char name[32];
        snprintf(name, sizeof name, "user-%zu", i + 1);
        add_cand(t, name, b->tune_cands.v[i]);
    }
    for (size_t i = 0; i < b->more_caches.n; i++) {
        char name[32];
        snprintf(name, sizeof name, "cache-%zu", i + 2);
        add_cand(t, name, NULL);
        t->c[t->n - 1].given = b->more_caches.v[i];
    }
    more_runs(t);
}

/* Train (or check) every candidate but the default and run it once,
 * untimed; one that fails leaves the search with the reason, the search
 * goes on. Past --tune-time, the rest are not tried. */
static void train_all(struct hpk_tune *t, struct hpk_item *launch)
{
    for (size_t i = 1; i < t->n; i++) {
        struct hpk_tune_cand *c = &t->c[i];
        if (*c->out) continue;
        if (c->set != i && *t->c[c->set].out) { /* its first training failed: the options do not work */
            snprintf(c->out, sizeof c->out, "not tried: %s failed", t->c[c->set].name);
            continue;
        }
        if (out_of_time(t)) {
            snprintf(c->out, sizeof c->out, "not tried: --tune-time %g s reached", t->b->tune_time);
            continue;
        }
        char o[1024];
        hpk_tune_opts_text(&c->opts, o, sizeof o);
        if (c->given) hpk_note("tune: checking %s (%s)", c->name, c->given);
        else hpk_note("tune: training %s (%s)", c->name, *o ? o : "the default options");
        struct hpk_err ce = {0};
        double s0;
        if (build_cand(t, c, launch, NULL, &ce) != 0 || time_one(t, c, &s0, NULL, &ce) != 0) {
            hpk_step_abort();
            /* Its log is in the work directory, which goes: do not name it. */
            char *log = strstr(ce.msg, "; its output is in ");
            if (log) *log = 0;
            snprintf(c->out, sizeof c->out, "failed: %.280s", ce.msg);
            hpk_note("tune: %s left out: %s", c->name, ce.msg);
        }
    }
}

int hpk_tune_and_emit(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_payload_buf *p, struct hpk_err *e)
{
    const char *kind = hpk_cache_kind(s);
    if (!kind)
        return hpk_fail(e, HPK_ST_TRAIN, "%s: Java %s cannot record a startup cache (--tune measures trained DA1s)",
                            b->runtime, s->java_version);
    struct hpk_item *launch = hpk_snapshot_find(s, "hpack/launch");
    if (!launch) return hpk_fail(e, HPK_ST_INTERNAL, "no hpack/launch in the snapshot");
    struct hpk_tune *t = calloc(1, sizeof *t);
    if (!t) hpk_oom();
    t->b = b, t->s = s;
    t->t0 = hpk_now();
    t->deadline = t->t0 + b->tune_time;
    int rc = -1;
    if (hpk_mkdtemp(t->work, sizeof t->work, "tune", e) != 0 || start_default(t, launch, p, e) != 0) goto out;
    add_all(t);
    train_all(t, launch);
    if (measure(t, b->tune_rounds, e) != 0) goto out;
    choose(t);
    if (confirm(t, e) != 0) goto out;
    hpk_tune_print_table(t);
    if (emit_winner(t, launch, e) != 0) goto out;
    hpk_note("wrote %s (%s) and %s.tuned in %.1f s", b->output, t->c[t->win].name, b->output, hpk_now() - t->t0);
    rc = 0;
out:
    for (size_t i = 0; i < t->n; i++) hpk_strv_free(&t->c[i].opts);
    if (t->work[0]) hpk_tmp_rm_tree(t->work);
    free(t);
    return rc;
}
