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
#include "hpk_verify.h"
#include "../layout/hpk_tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    if (extra_len) { /* --tune's table and choice (docs/format.md 9.3, tune.*) */
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


int hpk_train_payload(struct hpk_build *b, struct hpk_snapshot *s, const struct hpk_payload_buf *p, const char *work,
                      const char *cache, const char *log, size_t *da0_size, struct hpk_perr *e)
{
    char da0[600];
    snprintf(da0, sizeof da0, "%s/da0", work);
    if (hpk_elf_emit(da0, p->data, p->len, e) != 0) return -1;
    struct stat st;
    if (da0_size) *da0_size = stat(da0, &st) == 0 ? (size_t)st.st_size : 0;
    int r = hpk_train_run(b, da0, work, cache, log, e);
    unlink(da0);
    if (r != 0) return -1;
    /* The Besu problem: were the trained inputs the shipped ones? */
    return hpk_snapshot_recheck(s, e);
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
    size_t da0_size = 0, cache_size = 0;
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
        if (hpk_train_payload(b, s, p, work, cache, NULL, &da0_size, e) != 0) goto out;
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
    hpk_human_size(s0, sizeof s0, (double)da0_size);
    hpk_human_size(s1, sizeof s1, stat(b->output, &st) == 0 ? (double)st.st_size : 0);
    hpk_human_size(sc, sizeof sc, (double)cache_size);
    if (b->train) hpk_note("training time %.1f s; cache %s (%s); DA0 %s; DA1 %s", train_time, sc, kind, s0, s1);
    else hpk_note("cache %s (%s) from %s; DA1 %s", sc, kind, b->with_cache, s1);
    hpk_note("wrote %s in %.1f s; base %s full %s", b->output, hpk_now() - t0, base, full);
    rc = 0;
out:
    if (work[0]) hpk_tmp_rm_tree(work);
    return rc;
}
