/*
 * payload.c - lay out, compress and seal a payload (docs/format.md).
 *
 * Compression runs on the CPUs the process may use (hpk_cpus), one unit per
 * task, largest first: a zstd frame (HPK_ZSTD_FRAME content bytes, so one
 * big file is compressed on every core) or a whole zlib entry. Each unit is
 * compressed on its own with fixed parameters, and the layout is decided
 * afterwards in item order, so the bytes never depend on the thread count or
 * timing (zstd and zlib output is deterministic for a given library version
 * and level).
 */
#define _GNU_SOURCE
#include "hpk_packer.h"
#include "../layout/hpk_cpus.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

struct hpk_compress hpk_compress_opt = {HPK_CODEC_ZSTD, HPK_ZSTD_LEVEL};

int hpk_compress_parse(const char *spec, struct hpk_compress *out)
{
    if (!strcmp(spec, "none")) {
        *out = (struct hpk_compress){HPK_CODEC_STORED, 0};
        return 0;
    }
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    int codec, lo, hi, def;
    if (n == 4 && !strncmp(spec, "zstd", 4)) codec = HPK_CODEC_ZSTD, lo = 1, hi = 19, def = HPK_ZSTD_LEVEL;
    else if (n == 4 && !strncmp(spec, "zlib", 4)) codec = HPK_CODEC_ZLIB, lo = 1, hi = 9, def = HPK_ZLIB_LEVEL;
    else return -1;
    int level = def;
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || v < lo || v > hi) return -1;
        level = (int)v;
    }
    *out = (struct hpk_compress){codec, level};
    return 0;
}

/* Keep compression only if it saves at least 1/16 of the size and at least
 * one 4 KiB page (every entry starts on a page: a file under 4 KiB takes a
 * page whatever its codec). Otherwise storing lets the launcher copy the
 * bytes straight from the mapping; and the warm path, which reads
 * hpack/launch, decodes nothing. */
#define WORTH(c, s) ((c) + (s) / 16 < (s) && hpk_align_up(c) < hpk_align_up(s))

/* One unit of work: frame `k` of a zstd item, or a whole zlib item. */
struct unit {
    size_t item;
    uint32_t k;
    size_t in_len;
    uint8_t *z; /* compressed bytes */
    size_t zlen;
    int failed;
};

struct pool {
    const struct hpk_item *items;
    struct unit *units;
    size_t *order;
    size_t n;
    int codec, level;
    atomic_size_t next;
};

static int zlib_unit(struct unit *u, const uint8_t *in, int level)
{
    uLong bound = compressBound((uLong)u->in_len);
    if (!(u->z = hpk_alloc_big(bound))) return -1;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)u->in_len;
    z.next_out = u->z;
    z.avail_out = (uInt)bound;
    int r = deflate(&z, Z_FINISH);
    u->zlen = z.total_out;
    deflateEnd(&z);
    return r == Z_STREAM_END ? 0 : -1;
}

/* Into the thread's scratch buffer (reused: a fresh buffer of the bound's
 * size for every frame meant zeroing as many pages as the input has), then
 * copied out at its real size. */
static int zstd_unit(struct unit *u, const uint8_t *in, int level, ZSTD_CCtx *cc, uint8_t *scratch, size_t cap)
{
    if (!cc || !scratch) return -1;
    /* One-shot: the frame header records the content size, no checksum
     * (the entry's XXH3-128 covers it), no dictionary. */
    size_t r = ZSTD_compressCCtx(cc, scratch, cap, in, u->in_len, level);
    if (ZSTD_isError(r) || !(u->z = malloc(r ? r : 1))) return -1;
    memcpy(u->z, scratch, r);
    u->zlen = r;
    return 0;
}

static void *worker(void *arg)
{
    struct pool *p = arg;
    ZSTD_CCtx *cc = p->codec == HPK_CODEC_ZSTD ? ZSTD_createCCtx() : NULL;
    size_t cap = ZSTD_compressBound(HPK_ZSTD_FRAME);
    uint8_t *scratch = p->codec == HPK_CODEC_ZSTD ? malloc(cap) : NULL;
    for (;;) {
        size_t k = atomic_fetch_add(&p->next, 1);
        if (k >= p->n) break;
        struct unit *u = &p->units[p->order[k]];
        const uint8_t *in = p->items[u->item].data + (size_t)u->k * HPK_ZSTD_FRAME;
        int r = p->codec == HPK_CODEC_ZSTD ? zstd_unit(u, in, p->level, cc, scratch, cap) : zlib_unit(u, in, p->level);
        if (r != 0) {
            free(u->z);
            u->z = NULL;
            u->failed = 1;
        }
    }
    free(scratch);
    ZSTD_freeCCtx(cc);
    return NULL;
}

static int by_size_desc(const void *a, const void *b, void *units)
{
    const struct unit *u = units;
    size_t x = u[*(const size_t *)a].in_len, y = u[*(const size_t *)b].in_len;
    if (x != y) return (x < y) - (x > y);
    return (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

static int compressible(const struct hpk_item *it, int codec)
{
    if (!S_ISREG(it->mode) || it->size < 64 || it->no_compress || codec == HPK_CODEC_STORED) return 0;
    /* zlib: one deflate() call, whose counters are 32-bit. */
    return codec == HPK_CODEC_ZSTD || it->size <= (1u << 30);
}

/* The units of `items`, compressed; first[i] is item i's first unit (n+1 entries). */
static struct unit *compress_all(const struct hpk_item *items, size_t n, size_t *first, size_t *nunits)
{
    int codec = hpk_compress_opt.codec;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        first[i] = total;
        if (compressible(&items[i], codec))
            total += codec == HPK_CODEC_ZSTD ? (items[i].size + HPK_ZSTD_FRAME - 1) / HPK_ZSTD_FRAME : 1;
    }
    first[n] = total;
    struct pool pool = {.items = items, .units = calloc(total ? total : 1, sizeof *pool.units),
                        .order = malloc((total ? total : 1) * sizeof(size_t)), .n = total, .codec = codec,
                        .level = hpk_compress_opt.level};
    if (!pool.units || !pool.order) {
        free(pool.units);
        free(pool.order);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t u = first[i]; u < first[i + 1]; u++) {
            struct unit *x = &pool.units[u];
            x->item = i;
            x->k = (uint32_t)(u - first[i]);
            size_t off = (size_t)x->k * HPK_ZSTD_FRAME;
            x->in_len = codec == HPK_CODEC_ZSTD && items[i].size - off > HPK_ZSTD_FRAME ? HPK_ZSTD_FRAME : items[i].size - off;
            pool.order[u] = u;
        }
    qsort_r(pool.order, total, sizeof *pool.order, by_size_desc, pool.units);
    atomic_init(&pool.next, 0);
    int nt = hpk_cpus();
    if ((size_t)nt > total) nt = total ? (int)total : 1;
    hpk_run_threads(nt, worker, &pool);
    free(pool.order);
    *nunits = total;
    return pool.units;
}

static int reserve(struct hpk_payload_buf *p, size_t need)
{
    if (need <= p->cap) return 0;
    size_t cap = p->cap ? p->cap : (1u << 20);
    while (cap < need) cap *= 2;
    uint8_t *d = realloc(p->data, cap);
    if (!d) return -1;
    /* Hundreds of MB are copied in: transparent huge pages take one page
     * fault per 2 MiB instead of one per 4 KiB (measured: the faults were
     * most of the time of a --compress none build). An advice only. */
    uintptr_t lo = ((uintptr_t)d + 4095) & ~(uintptr_t)4095, hi = ((uintptr_t)d + cap) & ~(uintptr_t)4095;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    p->data = d;
    p->cap = cap;
    return 0;
}

/* Compress `items` and append their data after p->data_end, adding entries. */
static int add_items(struct hpk_payload_buf *p, const struct hpk_item *items, size_t n, struct hpk_err *e)
{
    size_t *first = malloc((n + 1) * sizeof *first), nunits = 0;
    struct unit *units = first ? compress_all(items, n, first, &nunits) : NULL;
    struct hpk_entry *ents = realloc(p->entries, (p->count + n + 1) * sizeof *ents);
    char **paths = realloc(p->paths, (p->count + n + 1) * sizeof *paths);
    if (ents) p->entries = ents;
    if (paths) p->paths = paths;
    if (!units || !ents || !paths) {
        free(units);
        free(first);
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    }
    int codec = hpk_compress_opt.codec;
    int err = 0;
    /* Room for all of it at once: one allocation, not a doubling series. */
    size_t need = (size_t)hpk_align_up(p->data_end);
    for (size_t i = 0; i < n; i++) {
        size_t zlen = 0;
        for (size_t x = first[i]; x < first[i + 1]; x++) zlen += units[x].zlen;
        need = (size_t)hpk_align_up(need) + (first[i] < first[i + 1] && WORTH(zlen, items[i].size) ? zlen : items[i].size);
    }
    if (reserve(p, need + (1u << 20)) != 0) err = hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    for (size_t i = 0; i < n && !err; i++) {
        const struct hpk_item *it = &items[i];
        struct unit *u = units + first[i], *uend = units + first[i + 1];
        size_t zlen = 0;
        int failed = 0;
        for (struct unit *x = u; x < uend; x++) zlen += x->zlen, failed |= x->failed;
        int packed = u < uend && !failed && WORTH(zlen, it->size);
        if (failed && !err) err = hpk_fail(e, HPK_ST_INTERNAL, "%s: compression failed", it->path);
        size_t plen = strlen(it->path);
        if (!err && (plen > HPK_PATH_MAX || !hpk_layout_path_ok(it->path, plen)))
            err = hpk_fail(e, HPK_ST_INTERNAL, "%s: invalid entry path", it->path);
        if (err) continue;
        struct hpk_entry *en = &p->entries[p->count];
        memset(en, 0, sizeof *en);
        p->paths[p->count] = strdup(it->path);
        en->path = p->paths[p->count];
        en->path_len = (uint16_t)plen;
        en->mode = it->mode;
        en->role = it->role;
        en->size = S_ISDIR(it->mode) ? 0 : it->size;
        if (!S_ISDIR(it->mode)) memcpy(en->hash, it->hash, 16);
        en->codec = packed ? (uint8_t)codec : HPK_CODEC_STORED;
        en->stored_size = packed ? zlen : en->size;
        if (en->stored_size) {
            size_t off = (size_t)hpk_align_up(p->data_end);
            if (reserve(p, off + en->stored_size) != 0) {
                err = hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
                continue;
            }
            memset(p->data + p->data_end, 0, off - p->data_end);
            if (packed) {
                size_t at = off;
                for (struct unit *x = u; x < uend; x++) {
                    memcpy(p->data + at, x->z, x->zlen);
                    at += x->zlen;
                }
            } else {
                memcpy(p->data + off, it->data, en->stored_size);
            }
            en->offset = off;
            p->data_end = off + en->stored_size;
        }
        en->stored_hash = XXH3_64bits(p->data + en->offset, en->stored_size);
        p->count++;
    }
    for (size_t x = 0; x < nunits; x++) free(units[x].z);
    free(units);
    free(first);
    return err;
}

/* Write table and footer after the data; p->len becomes the payload size. */
static int seal(struct hpk_payload_buf *p, struct hpk_err *e)
{
    size_t toc_off = (p->data_end + 7) & ~(size_t)7;
    size_t toc_size = hpk_layout_toc_size(p->entries, p->count);
    if (reserve(p, toc_off + toc_size + HPK_FOOTER_SIZE) != 0)
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    memset(p->data + p->data_end, 0, toc_off - p->data_end);
    hpk_layout_toc_encode(p->entries, p->count, p->data + toc_off);
    struct hpk_footer f;
    if (hpk_layout_footer_make(p->entries, p->count, p->data + toc_off, toc_off, toc_size, &f,
                               p->data + toc_off + toc_size) != HPK_OK)
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    memcpy(p->base_hash, f.base_hash, 16);
    memcpy(p->full_hash, f.full_hash, 16);
    p->len = toc_off + toc_size + HPK_FOOTER_SIZE;
    /* Read back what we wrote through the launcher's own validator. */
    struct hpk_footer back;
    struct hpk_payload parsed;
    int r = hpk_layout_footer_decode(p->data + p->len - HPK_FOOTER_SIZE, p->len, &back);
    if (r == HPK_OK) r = hpk_layout_parse(&back, p->data + toc_off, &parsed);
    if (r != HPK_OK) return hpk_fail(e, HPK_ST_INTERNAL, "payload self-check failed: %s", hpk_layout_strerror(r));
    hpk_payload_free(&parsed);
    return 0;
}

int hpk_payload_build(struct hpk_payload_buf *p, const struct hpk_item *items, size_t n, struct hpk_err *e)
{
    memset(p, 0, sizeof *p);
    if (add_items(p, items, n, e) != 0) return -1;
    return seal(p, e);
}

int hpk_payload_append(struct hpk_payload_buf *p, const struct hpk_item *items, size_t n, struct hpk_err *e)
{
    /* Drop the old table and footer; data up to data_end stays as it is. */
    p->len = p->data_end;
    if (add_items(p, items, n, e) != 0) return -1;
    return seal(p, e);
}

void hpk_payload_buf_free(struct hpk_payload_buf *p)
{
    for (uint32_t i = 0; i < p->count; i++) free(p->paths[i]);
    free(p->paths);
    free(p->entries);
    free(p->data);
    memset(p, 0, sizeof *p);
}
