/*
 * train.c - DA0 -> DA1: train a startup cache (trainrun.c) or take
 * --with-cache, check it against these inputs (hpk_cache_trust), append it
 * to DA0's payload and emit DA1, verified (verifyrun.c) before it is renamed
 * into place.
 *
 * DA1 is DA0's payload with the cache appended (hpk_payload_append): every
 * non-cache entry keeps its bytes and offset, so the base hash the cache was
 * recorded against is DA1's base hash by construction. The training run is
 * DA0 itself, run by its own launcher in record mode (HPACK_TRAIN), so the
 * cache sees exactly the class path string and JVM options DA1 will use.
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "hpk_variant.h"
#include "hpk_verify.h"
#include "../layout/hpk_tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int no_prov(const char *path, struct hpk_err *e)
{
    return hpk_fail(e, HPK_ST_TRAIN, "%s: cannot read the cache's provenance (it is written beside the cache by HPACK_TRAIN)",
                    path);
}

static int read_prov(const char *path, char **buf, size_t *len, struct hpk_err *e)
{
    uint8_t *d;
    if (hpk_read_file(path, &d, len) != 0) return no_prov(path, e);
    char *s = realloc(d, *len + 1);
    if (!s) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
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

/* One cache to append: where it is, and the variant it was trained as
 * (NULL: the default cache, or one given with --with-cache, whose
 * provenance already says what it is). */
struct cache_src {
    const char *path;
    const struct hpk_variant *v;
};

/* Check a recorded cache against these inputs and turn it into two payload
 * items, the cache file and its provenance. A trained variant must show
 * the condition its options give (else they did not take: an artifact
 * --jvm-opt overriding them), and gets its records appended: `variant`,
 * then each option as `variant.jvm` (docs/format.md 9.3). extra: --tune's
 * table and choice (tune.*), appended too. */
static int cache_items(struct hpk_snapshot *s, const struct hpk_payload_buf *p, const struct cache_src *src,
                       const char *extra, size_t extra_len, struct hpk_item items[2], struct hpk_err *e)
{
    const char *cache = src->path;
    char provpath[4200], base[33];
    snprintf(provpath, sizeof provpath, "%s.prov", cache);
    /* A cache taken out of an artifact (hpack extract) sits beside
     * cache/<hash>.prov: accept that name too. */
    size_t cl = strlen(cache);
    if (access(provpath, R_OK) != 0 && cl > 4 && (!strcmp(cache + cl - 4, ".aot") || !strcmp(cache + cl - 4, ".jsa")))
        snprintf(provpath, sizeof provpath, "%.*s.prov", (int)(cl - 4), cache);
    /* Whoever else could write the cache chooses the code the DA1 runs (a
     * cache holds classes): like the jlink cache, it must be the builder's
     * own, below directories nobody else can rename into (hpk_file_secure).
     * Both are checked, always, before either is read: a check skipped when
     * the provenance was missing let another user in a shared directory
     * (/tmp) make it appear just after, her cache read unchecked. Once
     * checked, nobody else can replace either name (the directories). */
    struct hpk_err se;
    if (hpk_file_secure(cache, "startup cache", &se) != 0) return hpk_fail(e, HPK_ST_TRAIN, "%s (--with-cache)", se.msg);
    if (access(provpath, F_OK) != 0) return no_prov(provpath, e);
    if (hpk_file_secure(provpath, "provenance", &se) != 0) return hpk_fail(e, HPK_ST_TRAIN, "%s (--with-cache)", se.msg);
    char *prov = NULL;
    size_t plen = 0;
    if (read_prov(provpath, &prov, &plen, e) != 0) return -1;
    hpk_hash_hex(p->base_hash, base);
    const char *kind = hpk_cache_kind(s);
    char why[320];
    int rc = 0;
    const char *got;
    if (unbound_cache_hook()) {
        hpk_warn("HPACK_TEST_UNBOUND_CACHE=1: not checking %s against these inputs", cache);
    } else if (hpk_cache_trust(prov, plen, base, kind, s->runtime_version, why, sizeof why) != HPK_TRUST_OK) {
        rc = hpk_fail(e, HPK_ST_TRAIN, "%s: startup cache refused: %s", cache, why);
    } else if (src->v && (!(got = hpk_kv_get(prov, plen, src->v->check_key)) || strcmp(got, src->v->check_value))) {
        rc = hpk_fail(e, HPK_ST_TRAIN, "variant %s: its training recorded %s=%s, not %s: an option of the "
                          "artifact (--jvm-opt) overrides the variant's", src->v->name, src->v->check_key,
                          got ? got : "(nothing)", src->v->check_value);
    }
    if (rc) {
        free(prov);
        return rc;
    }
    if (src->v) {
        hpk_kv_add(&prov, &plen, "variant", src->v->name);
        for (const char *const *o = src->v->opts; *o; o++) hpk_kv_add(&prov, &plen, "variant.jvm", *o);
    }
    if (extra_len) { /* --tune's table and choice (docs/format.md 9.3, tune.*) */
        char *more = realloc(prov, plen + extra_len + 1);
        if (!more) hpk_oom();
        prov = more;
        memcpy(prov + plen, extra, extra_len);
        plen += extra_len;
        prov[plen] = 0;
    }
    memset(items, 0, 2 * sizeof *items);
    if (hpk_snapshot_file(&items[0], cache, HPK_ST_TRAIN, e) != 0) {
        free(prov);
        return -1;
    }
    char hex[33], path[64];
    hpk_hash_hex(items[0].hash, hex);
    snprintf(path, sizeof path, "cache/%s.%s", hex, kind && !strcmp(kind, "aot") ? "aot" : "jsa");
    items[0].path = hpk_xstrdup(path);
    items[0].mode = S_IFREG | 0644;
    items[0].role = HPK_ROLE_CACHE;
    snprintf(path, sizeof path, "cache/%s.prov", hex);
    items[1].path = hpk_xstrdup(path);
    items[1].mode = S_IFREG | 0644;
    items[1].role = HPK_ROLE_CACHE;
    items[1].data = (uint8_t *)prov;
    items[1].size = plen;
    hpk_hash_bytes(prov, plen, items[1].hash);
    return 0;
}

static void free_items(struct hpk_item *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(it[i].path);
        hpk_item_data_free(&it[i]);
        free(it[i].source);
    }
}

/* The caches of one DA1, as appended: the default first, then the variants
 * in the order given, each named by its provenance's `variant`, none twice
 * (the launcher tries them in this order; docs/launcher.md 9.2). */
static int check_order(struct hpk_item *items, size_t n_caches, struct hpk_err *e)
{
    for (size_t i = 0; i < n_caches; i++) {
        const struct hpk_item *pv = &items[1 + 2 * i + 1];
        const char *v = hpk_kv_get((const char *)pv->data, pv->size, "variant");
        if (!i && v)
            return hpk_fail(e, HPK_ST_TRAIN, "the first --with-cache is the variant %s; give the default cache first", v);
        if (i && !v)
            return hpk_fail(e, HPK_ST_TRAIN, "--with-cache %zu is a default cache; only the first may be", i + 1);
        for (size_t k = 0; k < i; k++) {
            const struct hpk_item *pk = &items[1 + 2 * k + 1];
            const char *w = hpk_kv_get((const char *)pk->data, pk->size, "variant");
            if (v && w && !strcmp(v, w)) return hpk_fail(e, HPK_ST_TRAIN, "two caches of the variant %s", v);
            if (!strcmp(items[1 + 2 * k].path, items[1 + 2 * i].path))
                return hpk_fail(e, HPK_ST_TRAIN, "two caches with the same content (%s)", items[1 + 2 * i].path);
        }
    }
    return 0;
}

/* "-XX:a -XX:b": a variant's options as HPACK_JAVA_OPTS (no option has a blank). */
static char *joined(const char *const *o)
{
    size_t n = 0;
    while (o[n]) n++;
    return hpk_xjoin(o, n, " ");
}

int hpk_train_payload(struct hpk_build *b, struct hpk_snapshot *s, const struct hpk_payload_buf *p, const char *work,
                      const char *cache, const char *java_opts, const char *log, size_t *da0_size, struct hpk_err *e)
{
    char da0[600];
    snprintf(da0, sizeof da0, "%s/da0", work);
    if (hpk_elf_emit(da0, p->data, p->len, e) != 0) return -1;
    struct stat st;
    if (da0_size) *da0_size = stat(da0, &st) == 0 ? (size_t)st.st_size : 0;
    int r = hpk_train_run(b, da0, work, cache, java_opts, log, e);
    unlink(da0);
    if (r != 0) {
        b->training_failed = 1;
        return -1;
    }
    /* The Besu problem: were the trained inputs the shipped ones? */
    return hpk_snapshot_recheck(s, e);
}

/* The one DA1 writer: the N caches of src (the default first, then the
 * variants) checked and appended to p, the first one's provenance followed
 * by EXTRA (--tune's records); the artifact written to a temporary name
 * beside OUT, run with each cache required (HPACK_AOT_VARIANT: a variant
 * forces the setting it was trained with, so it applies on this host too),
 * and only then renamed to OUT: a cache that does not apply leaves
 * nothing. *cache_size: the first cache's. */
static int da1_emit(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_payload_buf *p, const struct cache_src *src,
                    size_t n_caches, const char *extra, size_t extra_len, const char *out, int check_run, size_t *cache_size,
                    struct hpk_err *e)
{
    size_t n_items = 1 + 2 * n_caches;
    struct hpk_item *items = hpk_xmalloc(n_items * sizeof *items);
    memset(items, 0, n_items * sizeof *items);
    char tmp[4200];
    const char *slash = strrchr(out, '/');
    snprintf(tmp, sizeof tmp, "%.*s.hpack-da1.%ld", slash ? (int)(slash - out + 1) : 0, out, (long)getpid());
    int rc = -1;
    items[0].path = hpk_xstrdup("cache");
    items[0].mode = S_IFDIR | 0755;
    items[0].role = HPK_ROLE_CACHE;
    for (size_t i = 0; i < n_caches; i++)
        if (cache_items(s, p, &src[i], i ? NULL : extra, i ? 0 : extra_len, &items[1 + 2 * i], e) != 0) goto out;
    if (cache_size) *cache_size = items[1].size;
    if (check_order(items, n_caches, e) != 0 || hpk_payload_append(p, items, n_items, e) != 0) goto out;
    hpk_tmp_register(tmp);
    if (hpk_elf_emit(tmp, p->data, p->len, e) != 0) goto gone;
    for (size_t i = 0; i < n_caches; i++) {
        const struct hpk_item *pv = &items[1 + 2 * i + 1];
        const char *name = n_caches == 1 ? NULL : i ? hpk_kv_get((const char *)pv->data, pv->size, "variant") : "default";
        if (unbound_cache_hook()) {
            hpk_warn("HPACK_TEST_UNBOUND_CACHE=1: not verifying DA1");
            break;
        }
        if (!i && check_run) {
            hpk_step_begin("verifying DA1: running its training run again with its cache required");
            if (hpk_check_run(b, tmp, name, e) != 0) goto gone;
            continue;
        }
        hpk_step_begin("verifying DA1: running it with the %s%s cache required", name ? name : "", name ? "" : "startup");
        if (hpk_verify_run(tmp, b->train_dir, name, (int)b->train_args.n, b->train_args.v, e) != 0) goto gone;
    }
    if (rename(tmp, out) != 0) {
        hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, strerror(errno));
        goto gone;
    }
    if (out == b->output) {
        /* An earlier failed check's log is about an artifact that is gone. */
        char *log = hpk_check_log(out);
        unlink(log);
        free(log);
    }
    rc = 0;
gone:
    if (rc) unlink(tmp);
    hpk_tmp_forget(tmp);
out:
    free_items(items, n_items);
    free(items);
    return rc;
}

int hpk_da1_write(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_payload_buf *p, const char *cache,
                  const char *extra, size_t extra_len, const char *out, size_t *cache_size, struct hpk_err *e)
{
    struct cache_src src = {.path = cache, .v = NULL};
    return da1_emit(b, s, p, &src, 1, extra, extra_len, out, 0, cache_size, e);
}

/* The caches of the DA1: with --train, the default's and each variant's,
 * each trained with its options into WORK (the caches cannot share one
 * training: each holds the settings it was made with); else the
 * --with-cache files. */
static int caches_of(struct hpk_build *b, struct hpk_snapshot *s, const struct hpk_payload_buf *p, const char *work,
                     struct cache_src *src, char **paths, size_t n_caches, size_t *da0_size, struct hpk_err *e)
{
    const char *kind = hpk_cache_kind(s);
    for (size_t i = 0; i < n_caches; i++) {
        src[i].v = NULL;
        if (!b->train) {
            src[i].path = i ? b->more_caches.v[i - 1] : b->with_cache;
            continue;
        }
        src[i].v = i ? hpk_variant_find(b->train_variants.v[i - 1]) : NULL;
        if ((i ? asprintf(&paths[i], "%s/cache-%zu.%s", work, i, kind) : asprintf(&paths[i], "%s/cache.%s", work, kind)) < 0)
            hpk_oom();
        src[i].path = paths[i];
        char *opts = src[i].v ? joined(src[i].v->opts) : NULL;
        if (src[i].v) hpk_note("training the %s variant (%s)", src[i].v->name, opts);
        int r = hpk_train_payload(b, s, p, work, paths[i], opts, NULL, i ? NULL : da0_size, e);
        free(opts);
        if (r != 0) {
            if (src[i].v) {
                size_t ml = strlen(e->msg);
                snprintf(e->msg + ml, sizeof e->msg - ml, " (variant %s)", src[i].v->name);
            }
            return -1;
        }
    }
    return 0;
}

int hpk_train_and_emit(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_payload_buf *p, struct hpk_err *e)
{
    char work[512] = "", base[33];
    double t0 = hpk_now(), train_time = 0;
    size_t da0_size = 0, cache_size = 0;
    hpk_hash_hex(p->base_hash, base);
    int rc = -1;
    const char *kind = hpk_cache_kind(s);
    if (!kind)
        return hpk_fail(e, HPK_ST_TRAIN, "%s: Java %s cannot record a startup cache: JDK 24+ (AOT cache) or JDK 13-23 with a base CDS archive (lib/server/classes.jsa) is needed",
                            b->runtime, s->java_version);
    /* Every variant changes an AOT cache's settings (adapters, oops); a
     * JDK 13-23 dynamic CDS archive has no such option. */
    if (b->train_variants.n && strcmp(kind, "aot") != 0)
        return hpk_fail(e, HPK_ST_TRAIN, "--train-variant %s: variants are AOT caches (JDK 24+); Java %s records a CDS archive",
                            b->train_variants.v[0], s->java_version);
    size_t n_caches = 1 + (b->train ? b->train_variants.n : b->more_caches.n);
    struct cache_src *src = hpk_xmalloc(n_caches * sizeof *src);
    char **paths = hpk_xmalloc(n_caches * sizeof *paths);
    memset(paths, 0, n_caches * sizeof *paths);
    if (b->train) {
        if (hpk_mkdtemp(work, sizeof work, "train", e) != 0) goto out;
        if (b->keep_da0 && hpk_elf_emit(b->keep_da0, p->data, p->len, e) != 0) goto out;
    }
    double tt = hpk_now();
    if (caches_of(b, s, p, work, src, paths, n_caches, &da0_size, e) != 0) goto out;
    train_time = hpk_now() - tt;
    if (da1_emit(b, s, p, src, n_caches, NULL, 0, b->output, b->train && b->train_check != 2, &cache_size, e) != 0) goto out;
    struct stat st;
    char full[33], s0[32], s1[32], sc[32];
    hpk_hash_hex(p->full_hash, full);
    hpk_human_size(s0, sizeof s0, (double)da0_size);
    hpk_human_size(s1, sizeof s1, stat(b->output, &st) == 0 ? (double)st.st_size : 0);
    hpk_human_size(sc, sizeof sc, (double)cache_size);
    char more[64] = "";
    if (n_caches > 1) snprintf(more, sizeof more, " and %zu variant%s", n_caches - 1, n_caches > 2 ? "s" : "");
    if (b->train) hpk_note("training time %.1f s; cache %s (%s)%s; DA0 %s; DA1 %s", train_time, sc, kind, more, s0, s1);
    else hpk_note("cache %s (%s)%s from %s; DA1 %s", sc, kind, more, b->with_cache, s1);
    hpk_note("wrote %s in %.1f s; base %s full %s", b->output, hpk_now() - t0, base, full);
    rc = 0;
out:
    for (size_t i = 0; i < n_caches; i++) free(paths[i]);
    free(paths);
    free(src);
    if (work[0]) hpk_tmp_rm_tree(work);
    return rc;
}
