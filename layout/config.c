/*
 * config.c - the meaning of an artifact, for the launcher and the packer
 * alike: hpack/launch decoded, the startup cache and whether it is trusted,
 * and the JVM command line. Before this file existed the trust rule was
 * written three times (launcher, inspect, --with-cache) and the command line
 * twice; a cache rule that drifts between them is the bug this prevents.
 */
#define _GNU_SOURCE
#include "hpk_config.h"
#include "hpk_tree.h"
#include "hpk_layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A value a reason quotes, escaped (hpk_layout_path_text), its first `max`
 * bytes (max <= 64), or `none` for NULL; into t, QUOTED bytes. */
#define QUOTED (4 * 64 + 1)
static const char *quoted(char t[QUOTED], const char *s, size_t max, const char *none)
{
    if (!s) return none;
    hpk_layout_path_text(t, QUOTED, s, strnlen(s, max));
    return t;
}

enum hpk_trust hpk_cache_trust(const char *prov, size_t prov_len, const char *base_hex, const char *cache_kind,
                               const char *runtime_version, char *why, size_t why_len)
{
    char dummy[1];
    if (!why) why = dummy, why_len = sizeof dummy;
    if (!prov) {
        snprintf(why, why_len, "its provenance is missing or corrupt");
        return HPK_TRUST_NO_PROV;
    }
    const char *base = hpk_kv_get(prov, prov_len, "base");
    const char *kind = hpk_kv_get(prov, prov_len, "kind");
    const char *rv = hpk_kv_get(prov, prov_len, "runtime.version");
    /* The reason quotes the provenance and hpack/launch, which a crafted
     * artifact chooses: escaped here, so that every listing and warning
     * that repeats it shows it on its line (docs/format.md 5.4). */
    char t1[QUOTED], t2[QUOTED];
    if (!base || strcmp(base, base_hex) != 0) {
        snprintf(why, why_len, "it was recorded for other inputs (base %s; this payload is base %s)",
                 quoted(t1, base, 32, "unknown"), base_hex);
        return HPK_TRUST_BASE;
    }
    /* A payload whose runtime takes no cache (no cache.kind) trusts none. */
    if (!kind || !cache_kind || strcmp(kind, cache_kind) != 0) {
        snprintf(why, why_len, "it is of kind %s, this runtime needs %s", quoted(t1, kind, 16, "unknown"),
                 quoted(t2, cache_kind, 16, "none"));
        return HPK_TRUST_KIND;
    }
    if (!rv || !runtime_version || strcmp(rv, runtime_version) != 0) {
        snprintf(why, why_len, "it was made by Java %s, the runtime is %s", quoted(t1, rv, 64, "unknown"),
                 quoted(t2, runtime_version, 64, "unknown"));
        return HPK_TRUST_RUNTIME;
    }
    return HPK_TRUST_OK;
}

/* "sec.nsec" of a timespec. */
static void fmt_ts(char *b, size_t n, const struct timespec *t)
{
    snprintf(b, n, "%lld.%09ld", (long long)t->tv_sec, (long)t->tv_nsec);
}

char *hpk_cache_local_records(const struct stat *st, size_t *len)
{
    char ct[48], *b = NULL;
    fmt_ts(ct, sizeof ct, &st->st_ctim);
    int n = asprintf(&b, "local.ino=%llu%clocal.size=%lld%clocal.ctime=%s", (unsigned long long)st->st_ino, 0,
                     (long long)st->st_size, 0, ct);
    if (n < 0) return NULL;
    *len = (size_t)n + 1;
    return b;
}

enum hpk_trust hpk_cache_trust_local(const char *prov, size_t prov_len, const char *base_hex, const char *cache_kind,
                                     const char *runtime_version, const struct stat *st, unsigned uid, char *why,
                                     size_t why_len)
{
    enum hpk_trust t = hpk_cache_trust(prov, prov_len, base_hex, cache_kind, runtime_version, why, why_len);
    if (t != HPK_TRUST_OK) return t;
    size_t n;
    char *want = hpk_cache_local_records(st, &n);
    int same = want != NULL;
    /* Every identity record of the file as it is must be in the provenance. */
    for (size_t o = 0; same && o < n; o += strlen(want + o) + 1) {
        char *eq = strchr(want + o, '=');
        *eq = 0;
        const char *v = hpk_kv_get(prov, prov_len, want + o);
        same = v && !strcmp(v, eq + 1);
        *eq = '=';
    }
    free(want);
    if (!same || !S_ISREG(st->st_mode) || st->st_uid != uid || (st->st_mode & 022)) {
        if (why)
            snprintf(why, why_len, "the file is not the one the launcher made (changed, replaced, or writable by others "
                     "since)");
        return HPK_TRUST_LOCAL;
    }
    return HPK_TRUST_OK;
}

static int ends_with(const struct hpk_entry *e, const char *suf)
{
    size_t n = strlen(suf);
    return e->path_len > n && memcmp(e->path + e->path_len - n, suf, n) == 0;
}

size_t hpk_config_cache_entries(const struct hpk_payload *p, const struct hpk_entry **out, size_t max)
{
    size_t n = 0;
    for (uint32_t i = 0; i < p->count; i++) {
        const struct hpk_entry *e = &p->entries[i];
        if (e->role == HPK_ROLE_CACHE && S_ISREG(e->mode) && (ends_with(e, ".aot") || ends_with(e, ".jsa"))) {
            if (n < max) out[n] = e;
            n++;
        }
    }
    return n;
}

const struct hpk_entry *hpk_config_cache_entry(const struct hpk_payload *p)
{
    const struct hpk_entry *c = NULL;
    return hpk_config_cache_entries(p, &c, 1) ? c : NULL;
}

const char *hpk_config_cache_name(const struct hpk_config *c)
{
    return c->variant ? c->variant : "default";
}

static void unselect(struct hpk_config *c)
{
    free(c->prov);
    free(c->cache_opts);
    c->prov = NULL, c->prov_len = 0;
    c->prov_base = c->prov_kind = c->prov_runtime = c->variant = NULL;
    c->cache_opts = NULL, c->n_cache_opts = 0;
    c->trust = HPK_TRUST_OK;
    c->cache_why[0] = 0;
}

int hpk_config_select(const struct hpk_artifact *a, struct hpk_config *c, size_t i)
{
    unselect(c);
    c->cur = i;
    c->cache = i < c->n_caches ? c->caches[i] : NULL;
    if (!c->cache) return HPK_OK;
    /* The provenance sits beside the cache: same name, ".prov". */
    char path[HPK_PATH_MAX + 8];
    snprintf(path, sizeof path, "%.*s.prov", (int)c->cache->path_len - 4, c->cache->path);
    const struct hpk_entry *pe = hpk_payload_find(&a->p, path);
    if (pe && S_ISREG(pe->mode) && hpk_entry_slurp(a, pe, &c->prov, &c->prov_len) == HPK_OK) {
        c->prov_base = hpk_kv_get(c->prov, c->prov_len, "base");
        c->prov_kind = hpk_kv_get(c->prov, c->prov_len, "kind");
        c->prov_runtime = hpk_kv_get(c->prov, c->prov_len, "runtime.version");
        c->variant = hpk_kv_get(c->prov, c->prov_len, "variant");
        /* The options the launcher passes with this cache, in order. */
        size_t pos = 0, kl;
        const char *k, *v;
        while (hpk_kv_next(c->prov, c->prov_len, &pos, &k, &kl, &v) == 1)
            if (kl == 11 && !memcmp(k, "variant.jvm", 11)) {
                const char **o = realloc(c->cache_opts, (c->n_cache_opts + 1) * sizeof *o);
                if (!o) return HPK_E_NOMEM;
                o[c->n_cache_opts++] = v;
                c->cache_opts = o;
            }
    } else {
        free(c->prov);
        c->prov = NULL;
        c->prov_len = 0;
    }
    c->trust = hpk_cache_trust(c->prov, c->prov_len, c->base_hex, c->launch.cache_kind, c->launch.runtime_version,
                               c->cache_why, sizeof c->cache_why);
    if (c->trust == HPK_TRUST_NO_PROV)
        snprintf(c->cache_why, sizeof c->cache_why, "its provenance (%.200s) is missing or corrupt", path);
    return HPK_OK;
}

int hpk_config_load(const struct hpk_artifact *a, struct hpk_config *c)
{
    memset(c, 0, sizeof *c);
    hpk_hash_hex(a->p.footer.base_hash, c->base_hex);
    const struct hpk_entry *conf = hpk_payload_find(&a->p, "hpack/launch");
    if (!conf || conf->role != HPK_ROLE_CONFIG || !S_ISREG(conf->mode)) return HPK_E_TOC_RECORD;
    int r = hpk_entry_slurp(a, conf, &c->conf, &c->conf_len);
    if (r != HPK_OK) return r;
    if (hpk_launch_decode(c->conf, c->conf_len, &c->launch) != 0) return HPK_E_TOC_RECORD;
    c->n_caches = hpk_config_cache_entries(&a->p, c->caches, HPK_CACHES_MAX);
    if (c->n_caches > HPK_CACHES_MAX) c->n_caches = HPK_CACHES_MAX;
    return hpk_config_select(a, c, 0);
}

void hpk_config_free(struct hpk_config *c)
{
    hpk_launch_free(&c->launch);
    free(c->conf);
    free(c->prov);
    free(c->cache_opts);
    memset(c, 0, sizeof *c);
}

/* ---- the JVM command line ---- */

struct vec {
    char **v;
    size_t n, cap;
    int oom;
};

/* Takes ownership of s (NULL marks the vector failed). */
static void put(struct vec *b, char *s)
{
    if (!s) b->oom = 1;
    if (b->oom) {
        free(s);
        return;
    }
    if (b->n + 2 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        char **nv = realloc(b->v, cap * sizeof *nv);
        if (!nv) {
            free(s);
            b->oom = 1;
            return;
        }
        b->v = nv, b->cap = cap;
    }
    b->v[b->n++] = s;
    b->v[b->n] = NULL;
}

static char *dup_or_expand(const struct hpk_exec_spec *s, const char *v)
{
    return s->expand ? s->expand(s->expand_ctx, v) : strdup(v);
}

/* Is JVM option `opt` (after `prev`, NULL for the first) a path list the
 * JVM checks against its startup cache? A JDK 24+ AOT cache is refused
 * when the module path differs from the training run's ("optimized module
 * handling: disabled because extra module path(s) are specified"), and CDS
 * checks the boot class path append. */
static int checked_path(const char *prev, const char *opt)
{
    static const char *const split[] = {"--module-path", "-p", "--upgrade-module-path", NULL};
    static const char *const joined[] = {"--module-path=", "--upgrade-module-path=", "-Xbootclasspath/a:", NULL};
    for (int i = 0; prev && split[i]; i++)
        if (!strcmp(prev, split[i])) return 1;
    for (int i = 0; joined[i]; i++)
        if (!strncmp(opt, joined[i], strlen(joined[i]))) return 1;
    return 0;
}

/* ${HPACK_APP} and ${HPACK_RUNTIME} in such a path: the tree through its
 * descriptor, like the class path, so the string is the same on every host
 * and in DA0 and DA1 (their trees lie in two directories). */
static char *tree_by_descriptor(const char *v)
{
    static const struct {
        const char *var, *to;
    } sub[] = {{"${HPACK_APP}", HPK_TREE_FD_PATH "/app"}, {"${HPACK_RUNTIME}", HPK_TREE_FD_PATH "/runtime"}};
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f) return NULL;
    for (const char *p = v; *p;) {
        size_t k = 0;
        while (k < 2 && strncmp(p, sub[k].var, strlen(sub[k].var))) k++;
        if (k < 2) {
            fputs(sub[k].to, f);
            p += strlen(sub[k].var);
        } else {
            fputc(*p++, f);
        }
    }
    return fclose(f) == 0 ? out : (free(out), NULL);
}

static char *jvm_opt(const struct hpk_exec_spec *s, const char *prev, const char *opt)
{
    if (!checked_path(prev, opt)) return dup_or_expand(s, opt);
    char *t = tree_by_descriptor(opt);
    char *r = t ? dup_or_expand(s, t) : NULL; /* ${HPACK_EXE}, ${HPACK_CWD} */
    free(t);
    return r;
}

static char *cat3(const char *a, const char *b, const char *c)
{
    char *s;
    return asprintf(&s, "%s%s%s", a, b, c) < 0 ? NULL : s;
}

char *hpk_exec_classpath(const struct hpk_launch *l)
{
    size_t n = 1;
    for (size_t i = 0; i < l->n_cp; i++) n += strlen(HPK_TREE_FD_PATH) + 2 + strlen(l->cp[i]);
    char *s = malloc(n), *p = s;
    if (!s) return NULL;
    *p = 0;
    for (size_t i = 0; i < l->n_cp; i++) p += sprintf(p, "%s%s/%s", i ? ":" : "", HPK_TREE_FD_PATH, l->cp[i]);
    return s;
}

char **hpk_exec_line(const struct hpk_config *c, const struct hpk_exec_spec *s)
{
    struct vec b = {0};
    const struct hpk_launch *l = &c->launch;
    put(&b, cat3(s->tree, "/", l->java));
    for (size_t i = 0; i < l->n_jvm; i++) put(&b, jvm_opt(s, i ? l->jvm[i - 1] : NULL, l->jvm[i]));
    if (s->train) {
        for (const char *const *t = s->train; *t; t++) put(&b, strdup(*t));
    } else if (s->cache && (c->cache || s->cache_file) && c->launch.cache_kind) {
        /* Named through the descriptor, like the class path: the same
         * string on every host. `require` turns a refusal into an error
         * instead of a silently slow start. */
        char path[HPK_PATH_MAX + 32];
        if (s->cache_file) snprintf(path, sizeof path, "%s", s->cache_file);
        else snprintf(path, sizeof path, "%s/%.*s", HPK_TREE_FD_PATH, (int)c->cache->path_len, c->cache->path);
        int aot = strcmp(c->launch.cache_kind, "aot") == 0;
        put(&b, cat3(aot ? "-XX:AOTCache=" : "-XX:SharedArchiveFile=", path, ""));
        if (s->cache == 2) put(&b, strdup(aot ? "-XX:AOTMode=on" : "-Xshare:on"));
        /* A variant's own options (the portable cache runs without AOT
         * adapters): after the cache's, before the user's, who win. */
        for (size_t i = 0; !s->cache_file && i < c->n_cache_opts; i++) put(&b, strdup(c->cache_opts[i]));
    }
    if (s->user_opts)
        for (const char *const *u = s->user_opts; *u; u++) put(&b, strdup(*u));
    put(&b, strdup("-cp"));
    put(&b, hpk_exec_classpath(l));
    if (s->after_cp) {
        for (const char *const *a = s->after_cp; *a; a++) put(&b, strdup(*a));
    } else {
        put(&b, strdup(l->main));
        for (size_t i = 0; i < l->n_arg; i++) put(&b, dup_or_expand(s, l->arg[i]));
        for (int i = 0; i < s->argc; i++) put(&b, strdup(s->argv[i]));
    }
    if (b.oom || !b.v) {
        hpk_exec_line_free(b.v);
        return NULL;
    }
    return b.v;
}

void hpk_exec_line_free(char **v)
{
    if (!v) return;
    for (char **p = v; *p; p++) free(*p);
    free(v);
}
