/*
 * tune.c - `hpack build --train --tune`: the rest of the JVM's
 * configuration, chosen by measuring the user's own workload.
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
#include "hpk_tune.h"
#include "hpk_child.h"
#include "hpk_verify.h"
#include "../layout/hpk_kv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CANDS 32

struct cand {
    char name[32];
    struct hpk_strv opts; /* added before the user's --jvm-opts */
    char da1[600];        /* its trained, verified DA1 in the work directory */
    double t[64];         /* measured times, seconds */
    size_t nt;
    double median, spread, lo, hi;
    char out[300];        /* why it left the search; "" while in it */
    const char *given;    /* --with-cache A --with-cache B: its cache (no training) */
    int run;              /* --train-runs: which training of its option set (1, 2, ...) */
    size_t set;           /* the candidate of run 1 with the same options */
};

struct tune {
    struct hpk_build *b;
    struct hpk_snapshot *s;
    char work[512];
    struct cand c[MAX_CANDS];
    size_t n;
    double t0, deadline;
    long peak_kb; /* the default DA1's peak resident set (first run) */
    int rounds;   /* rounds measured */
    size_t win;   /* the chosen candidate (0: the default) */
};

/* ---- candidates ---- */

int hpk_tune_split(const char *opts, struct hpk_strv *out, char *why, size_t whyn)
{
    char *copy = hpk_xstrdup(opts), *save = NULL;
    int r = 0, any = 0;
    for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
        if (w[0] != '-' || !w[1]) {
            snprintf(why, whyn, "'%s' is not a JVM option", w);
            r = -1;
            break;
        }
        hpk_strv_push(out, w);
        any = 1;
    }
    free(copy);
    if (r == 0 && !any) snprintf(why, whyn, "no options"), r = -1;
    return r;
}

/* The flag an option sets, for "the user's --jvm-opt wins": -XX:+Name,
 * -XX:-Name and -XX:Name=V set Name; -Xms64m sets Xms; every collector
 * choice (-XX:+UseSerialGC, ...) sets "GC", since two of them together are
 * an error, not an override. */
static void flag_of(const char *o, char *out, size_t n)
{
    if (!strncmp(o, "-XX:", 4)) {
        const char *p = o + 4;
        if (*p == '+' || *p == '-') p++;
        size_t l = strcspn(p, "=");
        if (!strncmp(p, "Use", 3) && l > 5 && !strncmp(p + l - 2, "GC", 2)) snprintf(out, n, "GC");
        else snprintf(out, n, "%.*s", (int)l, p);
    } else if (!strncmp(o, "-Xms", 4) || !strncmp(o, "-Xmx", 4) || !strncmp(o, "-Xss", 4)) {
        snprintf(out, n, "%.3s", o + 1);
    } else {
        snprintf(out, n, "%.*s", (int)strcspn(o, "=:"), o);
    }
}

/* Which of the user's --jvm-opts sets a flag this candidate would: the
 * candidate then measures nothing the user would ship, and is left out. */
static const char *user_sets(const struct hpk_build *b, const struct hpk_strv *opts)
{
    for (size_t i = 0; i < opts->n; i++) {
        char a[128], u[128];
        flag_of(opts->v[i], a, sizeof a);
        for (size_t k = 0; k < b->jvm_opts.n; k++) {
            flag_of(b->jvm_opts.v[k], u, sizeof u);
            if (!strcmp(a, u)) return b->jvm_opts.v[k];
        }
    }
    return NULL;
}

static void add_cand(struct tune *t, const char *name, const char *opts)
{
    if (t->n == MAX_CANDS) return;
    struct cand *c = &t->c[t->n];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->run = 1;
    c->set = t->n;
    char why[200];
    if (opts && hpk_tune_split(opts, &c->opts, why, sizeof why) != 0) return; /* checked when parsed */
    const char *u = user_sets(t->b, &c->opts);
    if (u) snprintf(c->out, sizeof c->out, "not tried: your --jvm-opt %s sets the same flag", u);
    t->n++;
}

/* The curated sets (docs/tuning.md): options that change how fast the JVM
 * gets there, never what the program computes. `server` never caps the
 * compilation tiers: C1 alone would cost a long run its peak speed. */
static void curated(struct tune *t)
{
    char xms[64] = "";
    if (t->peak_kb > 0) {
        /* The first size of the heap from what the run used at most,
         * rounded up to 16 MB: a heap that never has to grow. */
        long mb = (t->peak_kb / 1024 + 15) / 16 * 16;
        snprintf(xms, sizeof xms, "-Xms%ldm", mb < 16 ? 16 : mb);
    }
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
 * the class path, where build.c writes --jvm-opt (docs/format.md 9.2), so
 * the bytes are those a build with these options first would write. */
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
        if (!done && (!strcmp(key, "jvm") || !strcmp(key, "arg"))) {
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
static int candidate_payload(struct tune *t, struct hpk_item *launch, const struct cand *c, struct hpk_payload_buf *p,
                             struct hpk_perr *e)
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
static double test_scale(const char *name)
{
#ifdef HPK_TEST_HOOKS
    const char *v = getenv("HPACK_TEST_TUNE_SCALE");
    size_t nl = strlen(name);
    for (const char *p = v; p && *p;) {
        if (!strncmp(p, name, nl) && p[nl] == '=') return strtod(p + nl + 1, NULL);
        p = strchr(p, ',');
        if (p) p++;
    }
#else
    (void)name;
#endif
    return 1.0;
}

/* One startup run: the artifact on the training arguments, in the training
 * directory, its cache required (a candidate whose cache the JVM refuses
 * fails here, never runs uncached and slow or fast for the wrong reason).
 * Wall time from the start to reaping it: what a user waits. Its output
 * goes to a log, whose last line says why if it fails. */
static int time_startup(struct tune *t, struct cand *c, double *secs, long *maxrss_kb, struct hpk_perr *e)
{
    struct hpk_build *b = t->b;
    char cd[600], log[600];
    snprintf(cd, sizeof cd, "HPACK_CACHE_DIR=%s/unpack", t->work);
    snprintf(log, sizeof log, "%s/%s.run.log", t->work, c->name);
    char *extra[] = {cd, "HPACK_AOT=require", NULL};
    char **env = hpk_child_env(extra), **argv = hpk_xmalloc((b->train_args.n + 2) * sizeof *argv);
    argv[0] = c->da1;
    for (size_t i = 0; i < b->train_args.n; i++) argv[i + 1] = b->train_args.v[i];
    argv[b->train_args.n + 1] = NULL;
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(env), free(argv);
        return hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", log, strerror(errno));
    }
    struct hpk_child ch;
    double t0 = hpk_now();
    int r = hpk_child_start(&ch, argv, env, b->train_dir);
    int err = errno;
    free(env), free(argv);
    if (r != 0) {
        close(fd);
        return hpk_perr_set(e, HPK_ST_TRAIN, "cannot run %s: %s", c->name, strerror(err));
    }
    while (ch.out >= 0) hpk_child_pump(&ch, 0, fd, NULL, NULL);
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    pid_t w = hpk_wait_group_usage(ch.pid, &st, &ru);
    *secs = hpk_now() - t0;
    ch.pid = -1;
    close(fd);
    if (w < 0) return hpk_perr_set(e, HPK_ST_TRAIN, "lost the run of %s: %s", c->name, strerror(errno));
    if (maxrss_kb) *maxrss_kb = ru.ru_maxrss;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char last[200] = "";
        FILE *f = fopen(log, "r");
        for (char line[512]; f && fgets(line, sizeof line, f);)
            if (line[strspn(line, " \t\r\n")]) snprintf(last, sizeof last, "%.*s", (int)strcspn(line, "\r\n"), line);
        if (f) fclose(f);
        return hpk_perr_set(e, HPK_ST_TRAIN, "its run %s %d%s%s", WIFEXITED(st) ? "exited with status" : "was killed by signal",
                            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), *last ? ": " : "", last);
    }
    return 0;
}

static int time_one(struct tune *t, struct cand *c, double *secs, long *maxrss_kb, struct hpk_perr *e)
{
    if (maxrss_kb) *maxrss_kb = 0;
    int r;
    if (t->b->tune == HPK_TUNE_SERVER) {
        char log[600];
        snprintf(log, sizeof log, "%s/%s.run.log", t->work, c->name);
        r = hpk_workload_time(t->b, c->da1, t->work, log, secs, e);
    } else {
        r = time_startup(t, c, secs, maxrss_kb, e);
    }
    if (r == 0) *secs *= test_scale(c->name);
    return r;
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

static void cand_stats(struct cand *c)
{
    double x[64];
    memcpy(x, c->t, c->nt * sizeof *x);
    hpk_tune_stats(x, c->nt, &c->median, &c->spread);
    c->lo = x[0];
    c->hi = x[c->nt - 1];
}

/* ---- the search ---- */

static int out_of_time(const struct tune *t) { return hpk_now() > t->deadline; }

/* Train candidate c and write its verified DA1 into the work directory.
 * `p0`, if given, is its DA0 already laid out (the default's). */
static int build_cand(struct tune *t, struct cand *c, struct hpk_item *launch, struct hpk_payload_buf *p0,
                      struct hpk_perr *e)
{
    struct hpk_payload_buf mine, *p = p0;
    memset(&mine, 0, sizeof mine);
    char cache[600], log[600];
    if (c->given) snprintf(cache, sizeof cache, "%s", c->given);
    else snprintf(cache, sizeof cache, "%s/%s.%s", t->work, c->name, hpk_cache_kind(t->s));
    snprintf(log, sizeof log, "%s/%s.train.log", t->work, c->name);
    snprintf(c->da1, sizeof c->da1, "%s/%s.da1", t->work, c->name);
    int r = 0;
    if (!p) {
        p = &mine;
        r = candidate_payload(t, launch, c, p, e);
    }
    if (r == 0 && !c->given) r = hpk_train_payload(t->b, t->s, p, t->work, cache, log, NULL, e);
    if (r == 0) r = hpk_da1_write(t->b, t->s, p, cache, NULL, 0, c->da1, NULL, e);
    hpk_payload_buf_free(&mine);
    return r; /* the cache stays in the work directory: the winner's is emitted again */
}

static void opts_text(const struct hpk_strv *o, char *buf, size_t n)
{
    size_t l = 0;
    buf[0] = 0;
    for (size_t i = 0; i < o->n && l < n; i++) l += (size_t)snprintf(buf + l, n - l, "%s%s", i ? " " : "", o->v[i]);
}

/* A measured candidate's verdict: chosen, the default, faster (beyond the
 * noise, but not the fastest), within noise, slower (docs/tuning.md). */
static const char *verdict(const struct tune *t, size_t i)
{
    const struct cand *c = &t->c[i], *d = &t->c[0];
    double margin = d->spread > 0.01 ? d->spread : 0.01;
    return i == t->win ? "chosen" : i == 0 ? "default" : c->median < d->median * (1 - margin) ? "faster"
         : c->median < d->median ? "within noise" : "slower";
}

/* The table and the choice as records (docs/format.md 9.3, tune.*): into
 * the winner's provenance (NUL-ended) and the .tuned file (lines). */
static void records(const struct tune *t, char **buf, size_t *len)
{
    char v[2048], o[1024];
    const char *goal = t->b->tune == HPK_TUNE_SERVER ? "server" : "startup";
    hpk_kv_add(buf, len, "tune.goal", goal);
    snprintf(v, sizeof v, "%d", t->rounds);
    hpk_kv_add(buf, len, "tune.rounds", v);
    snprintf(v, sizeof v, "%.4f", t->c[0].spread);
    hpk_kv_add(buf, len, "tune.spread", v);
    for (size_t i = 0; i < t->n; i++) {
        const struct cand *c = &t->c[i];
        char key[32];
        opts_text(&c->opts, o, sizeof o);
        snprintf(key, sizeof key, "tune.%zu", i);
        if (*c->out)
            snprintf(v, sizeof v, "%s\t-\t-\t-\t0\t%s\t%s", c->name, c->out, o);
        else
            snprintf(v, sizeof v, "%s\t%.6f\t%.6f\t%.6f\t%zu\t%s\t%s", c->name, c->median, c->lo, c->hi, c->nt,
                     verdict(t, i), o);
        hpk_kv_add(buf, len, key, v);
    }
    hpk_kv_add(buf, len, "tune.choice", t->c[t->win].name);
    opts_text(&t->c[t->win].opts, o, sizeof o);
    hpk_kv_add(buf, len, "tune.choice.jvm", o);
}

static void print_table(const struct tune *t)
{
    printf("tune (%s, %d rounds, alternated; the default's spread %.1f%%):\n",
           t->b->tune == HPK_TUNE_SERVER ? "server: time to ready plus the workload" : "startup: the whole run", t->rounds,
           100 * t->c[0].spread);
    printf("  %-18s %10s %21s %8s  %-13s %s\n", "candidate", "median", "range", "speedup", "verdict", "options");
    for (size_t i = 0; i < t->n; i++) {
        const struct cand *c = &t->c[i];
        char o[1024], range[64];
        opts_text(&c->opts, o, sizeof o);
        if (*c->out) {
            printf("  %-18s %10s %21s %8s  %-13s %s\n", c->name, "-", "-", "-", "out", *o ? o : "(none)");
            printf("  %-18s   %s\n", "", c->out);
            continue;
        }
        snprintf(range, sizeof range, "%.3f-%.3f s", c->lo, c->hi);
        if (c->given) snprintf(o, sizeof o, "(--with-cache %s)", c->given);
        printf("  %-18s %8.3f s %21s %7.2fx  %-13s %s\n", c->name, c->median, range, t->c[0].median / c->median,
               verdict(t, i), *o ? o : "(none)");
    }
    char o[1024];
    opts_text(&t->c[t->win].opts, o, sizeof o);
    if (t->win)
        printf("chosen: %s%s%s%s: %.2fx the default's speed, beyond its spread of %.1f%%\n", t->c[t->win].name,
               *o ? " (" : "", o, *o ? ")" : "", t->c[0].median / t->c[t->win].median, 100 * t->c[0].spread);
    else
        printf("chosen: the default (no candidate beat it by more than its spread of %.1f%%)\n", 100 * t->c[0].spread);
    fflush(stdout);
}

/* The rule (docs/tuning.md): the fastest median among the candidates whose
 * median is below the default's by more than the default's own spread (at
 * least 1 %: a timer's tie is not a win). */
static void choose(struct tune *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (!*t->c[i].out) cand_stats(&t->c[i]);
    double margin = t->c[0].spread > 0.01 ? t->c[0].spread : 0.01;
    t->win = 0;
    for (size_t i = 1; i < t->n; i++) {
        const struct cand *c = &t->c[i];
        if (*c->out || c->median >= t->c[0].median * (1 - margin)) continue;
        if (t->win == 0 || c->median < t->c[t->win].median) t->win = i;
    }
}

/* Rounds: each live candidate once per round, the order rotated so none
 * always runs first (after another's page cache or next to its GC). */
static int measure(struct tune *t, int rounds, struct hpk_perr *e)
{
    for (int r = 0; r < rounds; r++) {
        if (r >= 3 && out_of_time(t)) {
            hpk_note("tune: --tune-time reached after %d rounds", r);
            break;
        }
        for (size_t j = 0; j < t->n; j++) {
            struct cand *c = &t->c[(j + (size_t)r) % t->n];
            if (*c->out || c->nt == sizeof c->t / sizeof *c->t) continue;
            double s;
            struct hpk_perr ce = {0};
            if (time_one(t, c, &s, NULL, &ce) != 0) {
                if (c == &t->c[0]) return hpk_perr_set(e, ce.status, "tune: the default DA1 failed: %s", ce.msg);
                snprintf(c->out, sizeof c->out, "failed in round %d: %.250s", r + 1, ce.msg);
                continue;
            }
            c->t[c->nt++] = s;
        }
        t->rounds = r + 1;
        char line[2048];
        size_t l = (size_t)snprintf(line, sizeof line, "tune: round %d/%d, medians:", r + 1, rounds);
        for (size_t i = 0; i < t->n && l < sizeof line; i++) {
            struct cand *c = &t->c[i];
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

/* Write text to PATH through a temporary name (registered: an interrupt
 * leaves neither); the caller renames it. */
static int write_tmp(const char *tmp, const char *text, size_t n, struct hpk_perr *e)
{
    hpk_tmp_register(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", tmp, strerror(errno));
    int ok = write(fd, text, n) == (ssize_t)n;
    ok &= close(fd) == 0;
    return ok ? 0 : hpk_perr_set(e, HPK_ST_OUTPUT, "%s: cannot write: %s", tmp, strerror(errno));
}

/* The winner, for good: its DA0 again (the same bytes: the layout is a
 * function of the snapshot), its cache with the table appended to the
 * provenance, verified once more, written beside the output and renamed;
 * the table to OUT.tuned the same way. */
static int emit_winner(struct tune *t, struct hpk_item *launch, struct hpk_perr *e)
{
    struct hpk_build *b = t->b;
    struct cand *w = &t->c[t->win];
    char *rec = NULL, *text = NULL;
    size_t rl = 0;
    records(t, &rec, &rl);
    text = hpk_xmalloc(rl + 1);
    memcpy(text, rec, rl);
    for (size_t i = 0; i < rl; i++)
        if (!text[i]) text[i] = '\n';
    struct hpk_payload_buf p;
    memset(&p, 0, sizeof p);
    char cache[600], tmp[4200], ttmp[4200], tuned[4200];
    const char *slash = strrchr(b->output, '/');
    int dl = slash ? (int)(slash - b->output + 1) : 0;
    snprintf(tmp, sizeof tmp, "%.*s.hpack-da1.%ld", dl, b->output, (long)getpid());
    snprintf(ttmp, sizeof ttmp, "%.*s.hpack-tuned.%ld", dl, b->output, (long)getpid());
    snprintf(tuned, sizeof tuned, "%s.tuned", b->output);
    /* The very cache that was measured, kept in the work directory. */
    if (w->given) snprintf(cache, sizeof cache, "%s", w->given);
    else snprintf(cache, sizeof cache, "%s/%s.%s", t->work, w->name, hpk_cache_kind(t->s));
    int r = candidate_payload(t, launch, w, &p, e);
    if (r == 0 && b->keep_da0) r = hpk_elf_emit(b->keep_da0, p.data, p.len, e);
    if (r == 0) {
        hpk_tmp_register(tmp);
        hpk_note("tune: writing the chosen DA1 (%s)", w->name);
        r = hpk_da1_write(b, t->s, &p, cache, rec, rl, tmp, NULL, e);
    }
    if (r == 0) r = write_tmp(ttmp, text, rl, e);
    if (r == 0 && rename(ttmp, tuned) != 0) r = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", tuned, strerror(errno));
    if (r == 0 && rename(tmp, b->output) != 0) {
        r = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", b->output, strerror(errno));
        unlink(tuned);
    }
    unlink(tmp), unlink(ttmp);
    hpk_tmp_forget(tmp), hpk_tmp_forget(ttmp);
    hpk_payload_buf_free(&p);
    free(rec);
    free(text);
    return r;
}

/* --train-runs N: every option set trained N times, each training its own
 * candidate ("c1", "c1#2", ...): the max operator over trainings, by the
 * same measurement (a training run is itself noisy: which classes, which
 * profiles, depend on timing). */
static void more_runs(struct tune *t)
{
    size_t sets = t->n;
    for (int r = 2; r <= t->b->train_runs; r++)
        for (size_t i = 0; i < sets && t->n < MAX_CANDS; i++) {
            const struct cand *src = &t->c[i];
            if (src->given) continue;
            struct cand *c = &t->c[t->n++];
            memset(c, 0, sizeof *c);
            snprintf(c->name, sizeof c->name, "%.24s#%d", src->name, r);
            for (size_t k = 0; k < src->opts.n; k++) hpk_strv_push(&c->opts, src->opts.v[k]);
            snprintf(c->out, sizeof c->out, "%s", src->out);
            c->run = r;
            c->set = i;
        }
}

/* How far apart the trainings of one option set came out: the spread of
 * their medians (fastest to slowest, relative to the fastest). */
static void training_spread(const struct tune *t)
{
    if (t->b->train_runs < 2) return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->c[i].run != 1 || t->c[i].given) continue;
        double lo = 0, hi = 0;
        int n = 0;
        for (size_t k = 0; k < t->n; k++) {
            const struct cand *c = &t->c[k];
            if (c->set != i || *c->out || !c->nt) continue;
            if (!n || c->median < lo) lo = c->median;
            if (!n || c->median > hi) hi = c->median;
            n++;
        }
        if (n >= 2)
            printf("training spread: %s: medians %.3f-%.3f s over %d trainings (%.1f%%)\n", t->c[i].name, lo, hi, n,
                   100 * (hi - lo) / lo);
    }
    fflush(stdout);
}

int hpk_tune_and_emit(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_payload_buf *p, struct hpk_perr *e)
{
    const char *kind = hpk_cache_kind(s);
    if (!kind)
        return hpk_perr_set(e, HPK_ST_TRAIN, "%s: Java %s cannot record a startup cache (--tune measures trained DA1s)",
                            b->runtime, s->java_version);
    struct hpk_item *launch = hpk_snapshot_find(s, "hpack/launch");
    if (!launch) return hpk_perr_set(e, HPK_ST_INTERNAL, "no hpack/launch in the snapshot");
    struct tune *t = calloc(1, sizeof *t);
    if (!t) hpk_oom();
    t->b = b, t->s = s;
    t->t0 = hpk_now();
    t->deadline = t->t0 + b->tune_time;
    int rc = -1;
    if (hpk_mkdtemp(t->work, sizeof t->work, "tune", e) != 0) goto out;

    /* The default first: the user's own options, the DA0 build.c laid out
     * (with --with-cache A --with-cache B, the first cache). */
    add_cand(t, b->with_cache ? "cache-1" : "default", NULL);
    t->c[0].given = b->with_cache;
    hpk_note(b->with_cache ? "tune: checking cache-1 (%s)" : "tune: training the default%s", b->with_cache ? b->with_cache : "");
    if (build_cand(t, &t->c[0], launch, p, e) != 0) goto out;
    double s0;
    struct hpk_perr fe = {0};
    if (time_one(t, &t->c[0], &s0, &t->peak_kb, &fe) != 0) { /* the first run unpacks: not counted */
        hpk_perr_set(e, fe.status, "tune: the default DA1 failed: %s", fe.msg);
        goto out;
    }
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
    for (size_t i = 1; i < t->n; i++) {
        struct cand *c = &t->c[i];
        if (*c->out) continue;
        if (c->set != i && *t->c[c->set].out) { /* its first training failed: the options do not work */
            snprintf(c->out, sizeof c->out, "not tried: %s failed", t->c[c->set].name);
            continue;
        }
        if (out_of_time(t)) {
            snprintf(c->out, sizeof c->out, "not tried: --tune-time %g s reached", b->tune_time);
            continue;
        }
        char o[1024];
        opts_text(&c->opts, o, sizeof o);
        if (c->given) hpk_note("tune: checking %s (%s)", c->name, c->given);
        else hpk_note("tune: training %s (%s)", c->name, *o ? o : "the default options");
        struct hpk_perr ce = {0};
        if (build_cand(t, c, launch, NULL, &ce) != 0 || time_one(t, c, &s0, NULL, &ce) != 0) {
            hpk_step_abort();
            /* Its log is in the work directory, which goes: do not name it. */
            char *log = strstr(ce.msg, "; its output is in ");
            if (log) *log = 0;
            snprintf(c->out, sizeof c->out, "failed: %.280s", ce.msg);
            hpk_note("tune: %s left out: %s", c->name, ce.msg);
        }
    }
    if (measure(t, b->tune_rounds, e) != 0) goto out;
    choose(t);
    print_table(t);
    training_spread(t);
    if (emit_winner(t, launch, e) != 0) goto out;
    hpk_note("wrote %s (%s) and %s.tuned in %.1f s", b->output, t->c[t->win].name, b->output, hpk_now() - t->t0);
    rc = 0;
out:
    for (size_t i = 0; i < t->n; i++) hpk_strv_free(&t->c[i].opts);
    if (t->work[0]) hpk_tmp_rm_tree(t->work);
    free(t);
    return rc;
}

int hpk_tune_read_choice(const char *file, struct hpk_strv *out, struct hpk_perr *e)
{
    FILE *f = fopen(file, "r");
    if (!f) return hpk_perr_set(e, HPK_ST_USAGE, "--tuned %s: %s", file, strerror(errno));
    char line[8192];
    int found = 0, fmt = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "tune.goal=", 10)) fmt = 1;
        if (!strncmp(line, "tune.choice.jvm=", 16)) {
            found = 1;
            char why[200];
            if (line[16] && hpk_tune_split(line + 16, out, why, sizeof why) != 0) {
                fclose(f);
                return hpk_perr_set(e, HPK_ST_USAGE, "--tuned %s: tune.choice.jvm: %s", file, why);
            }
        }
    }
    fclose(f);
    if (!fmt || !found)
        return hpk_perr_set(e, HPK_ST_USAGE, "--tuned %s: not a table written by hpack build --tune (no tune.goal and tune.choice.jvm)", file);
    return 0;
}

/* ---- hpack inspect: the table and the choice from a provenance ---- */

static void json_s(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* Options as a JSON list (split on blanks, as they were given). */
static void json_opts(FILE *f, const char *s, size_t n)
{
    fputc('[', f);
    int first = 1;
    for (size_t i = 0; i < n;) {
        while (i < n && s[i] == ' ') i++;
        size_t j = i;
        while (j < n && s[j] != ' ') j++;
        if (j > i) {
            if (!first) fputs(", ", f);
            json_s(f, s + i, j - i);
            first = 0;
        }
        i = j;
    }
    fputc(']', f);
}

int hpk_tune_show(FILE *f, const char *prov, size_t len, int json)
{
    const char *goal = prov ? hpk_kv_get(prov, len, "tune.goal") : NULL;
    if (!goal) {
        if (json) fputs("null", f);
        return 0;
    }
    const char *rounds = hpk_kv_get(prov, len, "tune.rounds"), *spread = hpk_kv_get(prov, len, "tune.spread");
    const char *choice = hpk_kv_get(prov, len, "tune.choice"), *cjvm = hpk_kv_get(prov, len, "tune.choice.jvm");
    if (!rounds) rounds = "0";
    if (!spread) spread = "0";
    if (!choice) choice = "?";
    if (!cjvm) cjvm = "";
    if (json) {
        fputs("{\"goal\": ", f);
        json_s(f, goal, strlen(goal));
        fprintf(f, ", \"rounds\": %d, \"spread\": %g, \"choice\": ", atoi(rounds), strtod(spread, NULL));
        json_s(f, choice, strlen(choice));
        fputs(", \"choice_jvm\": ", f);
        json_opts(f, cjvm, strlen(cjvm));
        fputs(", \"candidates\": [", f);
    } else {
        fprintf(f, "tuned:          %s, %s rounds; chosen: %s%s%s%s (the default's spread %.1f%%)\n", goal, rounds, choice,
                *cjvm ? " (" : "", cjvm, *cjvm ? ")" : "", 100 * strtod(spread, NULL));
    }
    for (int i = 0;; i++) {
        char key[32];
        snprintf(key, sizeof key, "tune.%d", i);
        const char *v = hpk_kv_get(prov, len, key);
        if (!v) break;
        /* name, median, min, max, runs, verdict, options: TAB-separated */
        const char *fld[7] = {0};
        size_t fl[7] = {0};
        const char *p = v;
        for (int k = 0; k < 7; k++) {
            fld[k] = p;
            fl[k] = k < 6 ? strcspn(p, "\t") : strlen(p);
            p += fl[k];
            if (*p == '\t') p++;
        }
        int out = fl[1] == 1 && fld[1][0] == '-';
        if (json) {
            fprintf(f, "%s{\"name\": ", i ? ", " : "");
            json_s(f, fld[0], fl[0]);
            if (out) fputs(", \"median\": null, \"min\": null, \"max\": null, \"runs\": 0, \"verdict\": \"out\", \"note\": ", f);
            else fprintf(f, ", \"median\": %g, \"min\": %g, \"max\": %g, \"runs\": %d, \"verdict\": ", strtod(fld[1], NULL),
                         strtod(fld[2], NULL), strtod(fld[3], NULL), atoi(fld[4]));
            json_s(f, fld[5], fl[5]);
            fputs(", \"jvm\": ", f);
            json_opts(f, fld[6], fl[6]);
            fputc('}', f);
        } else {
            fprintf(f, "                %-18.*s ", (int)fl[0], fld[0]);
            if (out) fprintf(f, "%-30s %.*s: %.*s\n", "out", (int)fl[6], fl[6] ? fld[6] : "", (int)fl[5], fld[5]);
            else if (fl[6]) fprintf(f, "%8.3f s  %-13.*s %.*s\n", strtod(fld[1], NULL), (int)fl[5], fld[5], (int)fl[6], fld[6]);
            else fprintf(f, "%8.3f s  %-13.*s (none)\n", strtod(fld[1], NULL), (int)fl[5], fld[5]);
        }
    }
    if (json) fputs("]}", f);
    return 1;
}
