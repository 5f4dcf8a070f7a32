/*
 * fit.c - the launcher's side of "does the cache apply on this host"
 * (layout/hostfit.c holds the rule): gather the options in force, run the
 * training JVM's flag dump, record the conditions.
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The options in the order the JVM gets them (layout/config.c): the
 * prediction for a cache of provenance `prov` passed with `opts` (a
 * variant's own options). */
static void fit_prov(const struct hpk_config *cf, const char *prov, size_t prov_len, const char **opts, size_t n_opts,
                     struct hpk_host *h, struct hpk_fit_result *r)
{
    struct hpk_cond rec;
    struct hpk_jvmopts o;
    hpk_cond_from_prov(prov, prov ? prov_len : 0, &rec);
    /* In the order the JVM applies them, the later winning: JAVA_TOOL_OPTIONS
     * (read first by the VM), JDK_JAVA_OPTIONS (the java launcher puts them
     * before the command line), the command line (the artifact's options,
     * then the user's HPACK_JAVA_OPTS), _JAVA_OPTIONS (read last by the VM). */
    hpk_jvmopts_init(&o);
    hpk_jvmopts_add_str(&o, getenv("JAVA_TOOL_OPTIONS"));
    hpk_jvmopts_add_str(&o, getenv("JDK_JAVA_OPTIONS"));
    for (size_t i = 0; i < cf->launch.n_jvm; i++) hpk_jvmopts_add(&o, cf->launch.jvm[i]);
    for (size_t i = 0; i < n_opts; i++) hpk_jvmopts_add(&o, opts[i]);
    hpk_jvmopts_add_str(&o, getenv("HPACK_JAVA_OPTS"));
    hpk_jvmopts_add_str(&o, getenv("_JAVA_OPTIONS"));
    hpk_fit_predict(&rec, cf->launch.cache_kind, &o, h, r);
}

static void fit_on(const struct hpk_config *cf, struct hpk_host *h, struct hpk_fit_result *r)
{
    fit_prov(cf, cf->prov, cf->prov_len, cf->cache_opts, cf->n_cache_opts, h, r);
}

void hpk_launcher_fit_prov(const struct hpk_config *cf, const char *prov, size_t prov_len, struct hpk_fit_result *r)
{
    struct hpk_host h;
    hpk_host_init(&h);
    fit_prov(cf, prov, prov_len, NULL, 0, &h, r);
}

void hpk_launcher_fit(const struct hpk_config *cf, struct hpk_fit_result *r)
{
    struct hpk_host h;
    hpk_host_init(&h);
    fit_on(cf, &h, r);
}

struct pick_ctx {
    const struct hpk_artifact *a;
    struct hpk_config *cf;
    struct hpk_pick *p;
    struct hpk_host host; /* one host for every cache: each probe is made once */
    const char *want;     /* HPACK_AOT_VARIANT, or NULL */
};

static enum hpk_fit verdict(void *ctx, size_t i)
{
    struct pick_ctx *x = ctx;
    struct hpk_fit_result *r = &x->p->r[i];
    memset(r, 0, sizeof *r);
    r->fit = HPK_FIT_NO;
    x->p->n_eval = i + 1;
    if (hpk_config_select(x->a, x->cf, i) != HPK_OK) {
        snprintf(r->why, sizeof r->why, "out of memory reading its provenance");
        return r->fit;
    }
    snprintf(x->p->name[i], sizeof x->p->name[i], "%s", hpk_config_cache_name(x->cf));
    x->p->bound[i] = x->cf->trust == HPK_TRUST_OK;
    if (x->want && strcmp(x->want, x->p->name[i]) != 0)
        snprintf(r->why, sizeof r->why, "HPACK_AOT_VARIANT=%.64s names another cache", x->want);
    else if (!x->p->bound[i])
        snprintf(r->why, sizeof r->why, "%s", x->cf->cache_why);
    else
        fit_on(x->cf, &x->host, r);
    return r->fit;
}

static enum hpk_fit recorded(void *ctx, size_t i)
{
    return ((const struct hpk_pick *)ctx)->r[i].fit;
}

void hpk_launcher_pick(const struct hpk_artifact *a, struct hpk_config *cf, int all, struct hpk_pick *p)
{
    memset(p, 0, sizeof *p);
    struct pick_ctx x = {.a = a, .cf = cf, .p = p};
    const char *w = getenv("HPACK_AOT_VARIANT");
    x.want = w && *w ? w : NULL;
    hpk_host_init(&x.host);
    if (all) {
        /* Every cache judged, then the same rule over the verdicts. */
        for (size_t i = 0; i < cf->n_caches; i++) verdict(&x, i);
        p->idx = hpk_fit_pick(cf->n_caches, recorded, p);
    } else {
        p->idx = hpk_fit_pick(cf->n_caches, verdict, &x);
    }
    size_t sel = p->idx >= 0 ? (size_t)p->idx : 0;
    if (cf->cur != sel && hpk_config_select(a, cf, sel) != HPK_OK) {
        hpk_config_select(a, cf, cf->n_caches); /* no cache rather than half of one */
        p->idx = -1;
    }
}

char *hpk_launcher_capture(const char *java, char **argv, int *status)
{
    int p[2];
    if (pipe(p) != 0) return NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]), close(p[1]);
        return NULL;
    }
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        signal(SIGXFSZ, SIG_DFL);
        execveat(HPK_TREE_FD, java, argv, environ, 0);
        _exit(HPK_EXIT_EXEC);
    }
    close(p[1]);
    size_t n = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    for (;;) {
        if (buf && n + 4096 > cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
        char sink[4096];
        ssize_t r = read(p[0], buf ? buf + n : sink, 4096);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (buf) n += (size_t)r;
    }
    close(p[0]);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) {
            free(buf);
            return NULL;
        }
    if (buf) buf[n] = 0;
    return buf;
}

char *hpk_launcher_cond_records(const char *flags_out, size_t *len)
{
    struct hpk_cond c;
    memset(&c, 0, sizeof c);
    hpk_cpufeat_probe(&c.cpu);
    if (hpk_cond_from_flags(flags_out, &c) != 0) return NULL;
    return hpk_cond_records(&c, len);
}

/* Which carried cache to pass (docs/launcher.md 9.2): the first, default
 * cache then the variants, predicted to apply (fit.c). When unsure, it is
 * passed and the JVM decides: a refusal there costs only speed, while the
 * CPU check, which protects against crashes, is never unsure. Returns
 * whether a cache is passed (c->cf's current cache is that one); when none
 * is, `no` says why, for the caller to warn (auto) or die (require), once
 * healing had its say. */
int hpk_start_choose_cache(struct hpk_start *c, struct hpk_nocache *no)
{
    struct hpk_pick p;
    hpk_launcher_pick(&c->a, &c->cf, 0, &p);
    if (p.idx >= 0) {
        if (c->debug) {
            fputs("hpack: startup cache ", stderr);
            hpk_layout_print_path(stderr, c->cf.cache->path, c->cf.cache->path_len);
            if (c->cf.variant) {
                fputs(" (variant ", stderr);
                hpk_layout_print_text(stderr, c->cf.variant);
                fputc(')', stderr);
            }
            fprintf(stderr, " %s: %s\n", p.r[p.idx].fit == HPK_FIT_YES ? "applies" : "may apply (the JVM decides)",
                    p.r[p.idx].why);
        }
        return 1;
    }
    /* None: the messages of a single cache, or each cache's reason. */
    if (c->cf.n_caches == 1 && !p.bound[0]) {
        no->code = HPK_EXIT_TAMPER;
        snprintf(no->require, sizeof no->require, "the startup cache is refused: %s", c->cf.cache_why);
        snprintf(no->warn, sizeof no->warn, "%s", c->cf.cache_why);
        return 0;
    }
    char why[1024] = "";
    if (c->cf.n_caches == 1) {
        snprintf(why, sizeof why, "%s", p.r[0].why);
    } else {
        size_t o = (size_t)snprintf(why, sizeof why, "none of the %zu startup caches applies on this host:", p.n_eval);
        for (size_t i = 0; i < p.n_eval && o < sizeof why; i++)
            o += (size_t)snprintf(why + o, sizeof why - o, "%s %s: %s", i ? ";" : "", p.name[i], p.r[i].why);
    }
    /* Every cache refused as not bound: the artifact is at fault, not the host. */
    int any_bound = 0;
    for (size_t i = 0; i < p.n_eval; i++) any_bound |= p.bound[i];
    no->code = any_bound ? HPK_EXIT_HOSTFIT : HPK_EXIT_TAMPER;
    const char *lead = c->cf.n_caches == 1 ? "the startup cache does not apply on this host: " : "";
    snprintf(no->require, sizeof no->require, "%s%s", lead, why);
    snprintf(no->warn, sizeof no->warn, "%s%s", c->cf.n_caches == 1 ? "it does not apply on this host: " : "", why);
    return 0;
}
