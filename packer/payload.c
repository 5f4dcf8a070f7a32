/*
 * payload.c - lay out, compress and seal a payload (docs/format.md).
 *
 * Compression runs on the CPUs the process may use (hpk_cpus), one unit per
 * task, largest first: a zstd frame (2 or 8 MiB of content, so one
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

/* Keep compression only if it saves at least 1/32 of the size; otherwise
 * storing lets the launcher copy the bytes straight from the artifact.
 * (zstd itself stores a block that would not save 1/64. At 1/16, a JDK's
 * src.zip, 6.1% smaller in frames, took 3.2 MB more: docs/results.md.)
 * A file under 4 KiB is always stored: the warm path, which reads
 * hpack/launch, decodes nothing. */
#define WORTH(c, s) ((s) >= HPK_ALIGN && (c) + (s) / 32 < (s))

/* Where an item's stored bytes went: payload offset and length, and
 * whether they are compressed (else stored as they are). */
struct place {
    size_t off, slen;
    int packed, failed;
    int ext;        /* stored, its bytes left in the item (it->data), not copied to p->data */
    uint8_t codec;  /* of the entry, if packed */
    int has_shash;  /* shash is the XXH3-64 of the stored bytes, taken as they were laid down */
    uint64_t shash;
};

/* The XXH3-64 of an item's stored bytes (the entry's stored_hash), for
 * one not hashed as its frames were laid down (has_shash; a streamed
 * payload's window may have moved past them): a stored item's are its own
 * bytes, a compressed (zlib) one's are in p->data. */
static uint64_t stored_hash(const struct hpk_payload_buf *p, const struct hpk_item *it, const struct place *pl)
{
    if (!pl->slen) return XXH3_64bits("", 0);
    return XXH3_64bits(pl->packed ? hpk_payload_at(p, pl->off) : it->data, pl->slen);
}

static int compressible(const struct hpk_item *it, int codec)
{
    /* Under a page WORTH stores it whatever it compresses to. */
    if (!S_ISREG(it->mode) || it->size < HPK_ALIGN || it->no_compress || codec == HPK_CODEC_STORED) return 0;
    /* zlib: one deflate() call, whose counters are 32-bit. */
    return codec == HPK_CODEC_ZSTD || it->size <= (1u << 30);
}

/* A zip whose members are nine tenths deflate output or more (a jar,
 * src.zip, ct.sym), from its central directory; 0 for anything else (a
 * zip64, a member count or directory that does not add up). In deflate
 * output level 3's two hash tables find hardly more than zstd's fast
 * strategy with one table of 2^17 and 4-byte matches: on twelve of
 * Debian's largest jars the latter was 0.08% larger for 35% less CPU, and
 * on a JDK's src.zip 51 KB smaller for 26% less (docs/results.md). Not on
 * a zip of stored members: 9.5% larger there. Depends on the bytes only. */
static int mostly_deflated(const struct hpk_item *it)
{
    const uint8_t *d = it->data;
    size_t n = it->size;
    if (n < 30 || hpk_get32(d) != 0x04034b50) return 0;
    /* The end record: the last one, followed by its comment (< 64 KiB). */
    size_t lo = n - 22 > 65535 ? n - 22 - 65535 : 0;
    for (size_t at = n - 22 + 1; at-- > lo;) {
        if (hpk_get32(d + at) != 0x06054b50) continue;
        size_t count = hpk_get16(d + at + 10), p = hpk_get32(d + at + 16);
        size_t end = p + hpk_get32(d + at + 12);
        if (end > at || end < p) return 0;
        uint64_t deflated = 0;
        for (size_t k = 0; k < count; k++) {
            if (p > end || end - p < 46 || hpk_get32(d + p) != 0x02014b50) return 0;
            if (hpk_get16(d + p + 10) == 8) deflated += hpk_get32(d + p + 20);
            p += 46 + (size_t)hpk_get16(d + p + 28) + hpk_get16(d + p + 30) + hpk_get16(d + p + 32);
        }
        return p <= end && deflated <= n && deflated * 10 >= (uint64_t)n * 9;
    }
    return 0;
}

/* Room for all of it at once: one allocation, not a doubling series. */
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

/* Where an entry's `len` stored bytes start (`packed`: compressed): right
 * at *cursor, or at the next page boundary (the gap zeroed: the padding is
 * part of the bytes, docs/format.md). A stored file of a page or more
 * goes on a page (rule T10), so that the launcher's copy_file_range can
 * share its blocks where the file system reflinks; compressed bytes are
 * only read through the mapping, and a link or small file is copied
 * whole: on a page each, a JDK's 205 links and 58 small files took 1 MB
 * more, and its 138 compressed files 0.25 MB of zeros (docs/format.md
 * section 2). */
static size_t place_at(struct hpk_payload_buf *p, size_t *cursor, size_t len, int packed)
{
    size_t off = !packed && len >= HPK_ALIGN ? (size_t)hpk_align_up(*cursor) : *cursor;
    /* Padding the window has gone past (a big file stored after all, see
     * zp_commit) is not in p->data: the writer writes those zeros itself
     * (write_range). */
    size_t from = *cursor > p->base ? *cursor : p->base;
    if (off > from) memset(hpk_payload_at(p, from), 0, off - from);
    *cursor = off;
    return off;
}

/* Stored items from this size on are not copied into p->data when the
 * payload is streamed: the writer writes them from the item's own bytes
 * (a mapped one's read from its file, sink_item). */
#define EXT_MIN (256u << 10)

/* An item stored as it is (directories have no bytes). With `ext`, a big
 * one is only placed: its bytes stay where they are (stored_bytes). */
static void place_plain(struct hpk_payload_buf *p, const struct hpk_item *it, struct place *pl, size_t *cursor,
                        int ext)
{
    size_t len = S_ISDIR(it->mode) ? 0 : it->size;
    pl->packed = 0;
    pl->slen = len;
    pl->off = 0;
    pl->ext = ext && S_ISREG(it->mode) && len >= EXT_MIN;
    if (!len) return;
    pl->off = place_at(p, cursor, len, 0);
    if (!pl->ext) memcpy(hpk_payload_at(p, pl->off), it->data, len);
    *cursor = pl->off + len;
}

/* g->hold, g->rewind: none. */
#define NO_HOLD ((size_t)-1)

/* ---- zstd: frames compressed on every CPU, laid down in item order ----
 *
 * Threads claim frames in item order and compress each into a slot of a
 * small ring; whoever completes the frame next in line copies it (and any
 * completed ones after it) to its final place. Frames are never held beyond
 * the ring, so the compressed payload is written once, straight into
 * p->data: a buffer of every frame laid out afterwards took 134 MB of fresh
 * pages more for a JDK, and fresh pages are most of a build's CPU time on
 * this project's virtual machine (docs/results.md). The bytes are those of
 * the item order whatever the thread count or timing: frames are
 * compressed independently with fixed parameters, and placed in order. */
/* How an item's content hash is taken here (see hash_frame): not here,
 * frame by frame, or whole with its difference (ref_unit). */
enum { HM_NONE, HM_FRAMES, HM_REF };

struct zpipe {
    const struct hpk_item *items;
    size_t n;
    const size_t *first; /* item i's frames: first[i] .. first[i+1]-1 */
    const size_t *uitem; /* the item of each frame */
    size_t nunits;
    struct hpk_payload_buf *p;
    struct place *pl;
    int level;
    size_t W, cap;  /* ring slots, and each slot's size */
    size_t maxf;    /* the largest frame's content */
    uint8_t *ring;
    size_t *rlen;   /* compressed length, or (size_t)-1: failed */
    char *rdone;
    size_t next, commit; /* next frame to claim, next to lay down */
    size_t placed;       /* items laid down: 0 .. placed-1 */
    size_t cursor;       /* end of the items laid down */
    size_t end;          /* end of the bytes in p->data (cursor, or in the item being laid down) */
    size_t zacc;         /* compressed bytes of the item being laid down */
    int sure;            /* that item will be kept compressed, whatever its other frames give */
    size_t stable;       /* bytes the writer may write: 0 .. stable-1 (see zp_commit) */
    size_t hold;         /* start of the item being laid down while it may yet be stored, else NO_HOLD */
    size_t rewind;       /* the writer's bytes from here on are stale (that item was stored), else NO_HOLD */
    size_t wto;          /* the writer is handing p->data up to here to the sink, outside the lock; or 0 */
    int committing;      /* a thread is in zp_advance */
    int finished;        /* no frame left to lay down: the writer writes the rest */
    int broken;          /* a frame failed after its item was sure: the build fails, stable stays */
    int streaming;       /* a writer runs: big stored items are not copied (place_plain's ext) */
    XXH3_state_t hs;     /* the stored bytes of the item being laid down, as its frames come */
    size_t *ref;         /* the item each item may be stored against (zstdref), or NO_REF (choose_refs, pick_ref) */
    const uint8_t *rkind; /* RK_*: what choose_refs found for the item */
    const size_t *rmax;  /* the size of its largest candidate reference, 0 if none */
    const size_t *ditem; /* the items that have one, D of them */
    size_t D, dnext;     /* differences to compress, next to claim */
    uint8_t **dbuf;      /* an item's zstdref frame */
    size_t *dlen;        /* its length, or DIFF_FAILED, or DIFF_PENDING */
    uint32_t count0;     /* entries before these items: item i becomes entry count0 + i */
    /* Content hashes taken here (an item's hash_later, see hash_frame). */
    uint8_t (*h128)[16];    /* out: item i's XXH3-128, canonical, if hmode[i] */
    const uint8_t *hmode;   /* HM_NONE, HM_FRAMES or HM_REF */
    XXH3_state_t **hst;     /* an HM_FRAMES item's hash so far */
    size_t *hnext;          /* the frame of item i to hash next */
    struct parked *park;    /* frames compressed before their turn to be hashed */
    size_t npark, parkcap;
    uint8_t **spare;        /* the buffers of parked frames, once hashed, for the next (room: parkcap) */
    size_t nspare;
    int hash_after;         /* test hook: every frame hashed after it is compressed (parked when early) */
    const uint8_t *deflated; /* the item is mostly deflated (tuned_frame) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* Bytes the writer hands to the sink at once, at least. */
#define STREAM_CHUNK (4u << 20)
/* The window of p->data moves to the front once this much of it has been
 * handed to the sink: a streamed payload touches tens of MB of memory, not
 * its whole size (but the window keeps a file not yet sure to stay
 * compressed whole, from its start, see zp_writer). Fresh pages are what
 * memory costs: on this project's virtual machine, zeroing the 134 MB of a
 * JDK's payload took up to 12 % of its build's CPU time, more or less from
 * run to run (docs/results.md). */
#define WINDOW_SLIDE (16u << 20)

/* A mapped file's bytes, as the compression and the writer read them:
 * through read(2) into a buffer of one's own, like hash_bytes
 * (inputfile.c) and for the same reason (first touches of a mapping cost
 * on a virtual machine); else, and if that fails, from the item's bytes
 * (a file cut short then raises the mapping's SIGBUS, which names it). */
struct zsrc {
    int fd;        /* open on `item`'s file, or -1 */
    size_t item;   /* the item fd belongs to, or (size_t)-1 */
    uint8_t *buf;  /* of bufsz bytes */
    size_t bufsz;
};

static const uint8_t *src_bytes(struct zsrc *z, const struct hpk_item *items, size_t i, size_t off, size_t len)
{
    const struct hpk_item *it = &items[i];
    if (!it->mapped || !z->buf || len > z->bufsz) return it->data + off;
    if (z->item != i) {
        if (z->fd >= 0) close(z->fd);
        z->fd = hpk_item_open(it);
        z->item = i;
    }
    return z->fd >= 0 && hpk_pread_full(z->fd, z->buf, len, off) == HPK_OK ? z->buf : it->data + off;
}

static void src_free(struct zsrc *z)
{
    if (z->fd >= 0) close(z->fd);
    free(z->buf);
}

/* Bytes the writer reads of a big stored file at a time. */
#define COPY_CHUNK (1u << 20)

/* Hand `len` bytes of ext item x, from `skip` in, to the sink at `at`. */
static int sink_item(struct zpipe *g, struct zsrc *r, size_t x, size_t skip, size_t len, size_t at)
{
    struct hpk_payload_buf *p = g->p;
    for (size_t done = 0; done < len;) {
        size_t n = len - done < COPY_CHUNK ? len - done : COPY_CHUNK;
        int err = p->sink(p->sink_ctx, src_bytes(r, g->items, x, skip + done, n), n, at + done);
        if (err) return err;
        done += n;
    }
    return 0;
}

/* Hand payload bytes [from, to) to the sink: runs of p->data, and the
 * items placed with `ext` from their own bytes. Items below `placed` are
 * placed for good (read without the lock); the one in progress, if any,
 * is in p->data. *wi: the first item that may still lie at or after
 * `from` (items are laid down in order). */
static int write_range(struct zpipe *g, struct zsrc *r, size_t from, size_t to, size_t placed, size_t *wi)
{
    struct hpk_payload_buf *p = g->p;
    while (from < to) {
        while (*wi < placed && (g->pl[*wi].slen == 0 || g->pl[*wi].off + g->pl[*wi].slen <= from)) (*wi)++;
        /* The next ext item at or after `from`, if any, below `to`. */
        size_t x = *wi;
        while (x < placed && !(g->pl[x].ext && g->pl[x].slen)) x++;
        size_t end = x < placed && g->pl[x].off < to ? g->pl[x].off : to;
        int err = 0;
        if (from < p->base && from < end) {
            /* Below the window: the padding before a big file stored after
             * all, whose start the window did not keep (zp_commit), zeros. */
            static const uint8_t zeros[HPK_ALIGN];
            size_t stop = end < p->base ? end : p->base;
            size_t len = stop - from < sizeof zeros ? stop - from : sizeof zeros;
            err = p->sink(p->sink_ctx, zeros, len, from);
            from += len;
        } else if (from < end) {
            err = p->sink(p->sink_ctx, hpk_payload_at(p, from), end - from, from);
            from = end;
        } else { /* from lies in ext item x (at its start: stable never stops inside one) */
            size_t skip = from - g->pl[x].off, stop = g->pl[x].off + g->pl[x].slen;
            size_t len = (stop < to ? stop : to) - from;
            err = sink_item(g, r, x, skip, len, from);
            from += len;
        }
        if (err) return err;
    }
    return 0;
}

/* What the writer handed to the sink from g->rewind on is to be written
 * again (zp_commit stored a file whose frames it had written). Under mu. */
static void take_rewind(struct zpipe *g)
{
    if (g->rewind < g->p->flushed) g->p->flushed = g->rewind;
    g->rewind = NO_HOLD;
}

/* The writer (hpk_payload_stream): hands every byte laid down (up to
 * g->stable, see zp_commit) to the sink in order, outside the lock, while
 * the other threads compress. The frames of a file not yet sure to stay
 * compressed are written too, where they go if it does: should it be
 * stored after all, zp_commit sets g->rewind and the writer goes back and
 * writes again from there (the sink puts bytes at their offset). */
static void *zp_writer(void *arg)
{
    struct zpipe *g = arg;
    struct hpk_payload_buf *p = g->p;
    size_t wi = 0;
    struct zsrc r = {-1, (size_t)-1, malloc(COPY_CHUNK), COPY_CHUNK};
    pthread_mutex_lock(&g->mu);
    for (;;) {
        take_rewind(g);
        if (!g->finished && g->stable - p->flushed < STREAM_CHUNK) {
            pthread_cond_wait(&g->cv, &g->mu);
            continue;
        }
        size_t from = p->flushed, to = g->stable, placed = g->placed;
        if (to == from) break; /* finished, all written */
        g->wto = to;
        pthread_mutex_unlock(&g->mu);
        int err = write_range(g, &r, from, to, placed, &wi);
        pthread_mutex_lock(&g->mu);
        g->wto = 0;
        pthread_cond_broadcast(&g->cv); /* zp_commit may wait for it */
        if (err) {
            p->sink_err = err;
            break;
        }
        p->flushed = to;
        take_rewind(g);
        /* Drop what the sink has: move the rest (what is laid down but not
         * yet written, a few frames usually) to the front. An item that may
         * yet be stored stays whole, written or not: zp_commit then lays it
         * down again from its start. Only the writer reads p->data outside
         * the lock, and it is here. */
        size_t keep = g->hold < p->flushed ? g->hold : p->flushed;
        size_t gone = keep > p->base ? keep - p->base : 0, live = g->end - keep;
        if (gone >= WINDOW_SLIDE && live <= gone / 2) {
            memmove(p->data, hpk_payload_at(p, keep), live);
            p->base = keep;
        }
    }
    pthread_mutex_unlock(&g->mu);
    src_free(&r);
    return NULL;
}

/* The zstd codec of a compressible item: a file that fits one 2 MiB
 * frame is the same single frame either way, so it keeps codec zstd. */
static uint8_t zstd_codec(const struct hpk_item *it, int level)
{
    return level >= HPK_ZSTD_LARGE_LEVEL && it->size > HPK_ZSTD_FRAME ? HPK_CODEC_ZSTD8M : HPK_CODEC_ZSTD;
}

static size_t frame_len(const struct hpk_item *it, size_t k, size_t F)
{
    size_t off = k * F;
    return it->size - off > F ? F : it->size - off;
}

#define NO_REF ((size_t)-1)
#define DIFF_FAILED ((size_t)-1)
#define DIFF_PENDING ((size_t)-2)

/* The level of a difference at level N: 1 for levels 1 to 3. With
 * long-distance matching doing the work, level 1 was both faster and
 * smaller than 3 on every pair measured (the JDK's CDS archives, a jlinked
 * runtime's, Clojure's AOT cache variants: 0.66-2.58 MB against 0.91-2.93
 * MB, 0.030-0.072 s against 0.040-0.099 s; docs/results.md). */
static int ref_level(int level)
{
    return level <= 3 ? 1 : level;
}

/* The smallest window, from zstd's smallest (2^10) up, that holds n
 * bytes: a prefix and what is compressed against it. */
static int window_log(size_t n)
{
    int wlog = 10;
    while (((size_t)1 << wlog) < n) wlog++;
    return wlog;
}

/* The zstdref frame of item i (docs/format.md 5.3): one frame, the
 * reference's content as its prefix, a window that spans both, and
 * long-distance matching, which finds the reference's runs wherever they
 * moved (zstd's --patch-from does the same). Fixed parameters: the bytes
 * depend on the inputs and the level only. cc is the worker's context,
 * whose parameters are set here and reset after (its frames at other
 * levels than the default use ZSTD_compressCCtx, which takes the level
 * alone): one context per thread,
 * so its tables are not made anew for each difference (fresh pages cost
 * on a virtual machine, docs/results.md). Returns the length, or
 * (size_t)-1. */
static size_t ref_unit(const struct zpipe *g, ZSTD_CCtx *cc, size_t i, uint8_t **out)
{
    const struct hpk_item *it = &g->items[i], *r = &g->items[g->ref[i]];
    size_t cap = ZSTD_compressBound(it->size), len = (size_t)-1;
    *out = malloc(cap);
    if (cc && *out && !ZSTD_isError(ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters)) &&
        !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, ref_level(g->level))) &&
        !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, window_log(it->size + r->size))) &&
        !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_enableLongDistanceMatching, 1)) &&
        !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 0)) &&
        !ZSTD_isError(ZSTD_CCtx_refPrefix(cc, r->data, r->size))) {
        size_t z = ZSTD_compress2(cc, *out, cap, it->data, it->size);
        if (!ZSTD_isError(z)) len = z;
    }
    if (cc) ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
    /* Its pages were just read, all of them (hash_frame). */
    if (g->hmode[i] == HM_REF) hpk_hash_bytes(it->data, it->size, g->h128[i]);
    return len;
}

/* Whether item i is stored as zstdref, known once its difference is
 * compressed and its reference laid down (ref_known). Only if the
 * difference beats by an eighth what the item's own frames would take,
 * estimated from its reference's (alike files compress alike): else the
 * frames, which the unpack decodes on every core without the reference.
 * An estimate, not the frames themselves, so that the frames need not be
 * compressed at all when the difference wins; the decision depends on
 * compressed sizes only, never on timing. */
static int ref_known(const struct zpipe *g, size_t i)
{
    return g->ref[i] != NO_REF && g->placed > g->ref[i] && g->dlen[i] != DIFF_PENDING;
}

/* What item j's frames take, or would: its own for an item in frames,
 * else estimated from its reference's (an item stored as zstdref), else
 * its size (stored). Once j is laid down. */
static uint64_t frames_est(const struct zpipe *g, size_t j)
{
    const struct place *pl = &g->pl[j];
    if (!pl->packed) return g->items[j].size;
    if (pl->codec != HPK_CODEC_ZSTDREF) return pl->slen;
    size_t r = g->ref[j];
    return frames_est(g, r) * g->items[j].size / g->items[r].size;
}

static int ref_pays(const struct zpipe *g, size_t i)
{
    const struct hpk_item *it = &g->items[i], *r = &g->items[g->ref[i]];
    if (g->dlen[i] == DIFF_FAILED) return 0;
    size_t z = 4 + g->dlen[i];
    uint64_t est = frames_est(g, g->ref[i]) * it->size / r->size;
    return z + z / 8 < est && WORTH(z, it->size);
}

/* Lay down frame u (complete, in its slot). Under mu.
 *
 * What is stable (may be written out while the rest is compressed): every
 * item before this one, and this one's frames as they come, where they stay
 * if it is kept compressed. It is sure to be once even its remaining frames
 * at their largest (ZSTD_compressBound) would leave it worth compressing.
 * Before that, a file that does not pay is stored over its frames at its
 * end, and the writer writes again from its start (g->rewind); no frame is
 * written beyond the end of its stored bytes, so every byte written so is
 * written again. Frames are written as they come even before that: a file
 * that saves little, like src.zip (6 %, most of it in its central
 * directory at the end), is sure only after most of its frames, and
 * holding them made its 50 MB the last thing written, after the
 * compression had ended. */
static void zp_commit(struct zpipe *g, size_t u)
{
    size_t i = g->uitem[u];
    const struct hpk_item *it = &g->items[i];
    struct place *pl = &g->pl[i];
    int has_ref = g->ref[i] != NO_REF;
    if (u == g->first[i]) {
        while (g->placed < i)
            place_plain(g->p, &g->items[g->placed], &g->pl[g->placed], &g->cursor, g->streaming), g->placed++;
        pl->off = place_at(g->p, &g->cursor, it->size, 1); /* compressed, unless it does not pay */
        pl->failed = 0;
        pl->ext = 0;
        g->zacc = 0;
        g->sure = 0;
        g->end = pl->off;
        /* Its start kept in the window until it is sure to stay
         * compressed, to be laid down stored over its frames if it is not;
         * but for a big file streamed, which is then written from its own
         * bytes (ext): src.zip, sure only near its end, held 50 MB of fresh
         * pages for the window (a tenth of a JDK build's CPU time went to
         * clearing fresh pages, perf record, 2026-12-03). */
        g->hold = g->streaming && it->size >= EXT_MIN ? NO_HOLD : pl->off;
        XXH3_64bits_reset(&g->hs);
        if (!g->broken) g->stable = pl->off;
        if (has_ref && ref_pays(g, i)) { /* its frames were not compressed, or are dropped */
            uint8_t *d = hpk_payload_at(g->p, pl->off);
            hpk_put32(d, g->count0 + (uint32_t)g->ref[i]);
            memcpy(d + 4, g->dbuf[i], g->dlen[i]);
            pl->packed = 1;
            pl->codec = HPK_CODEC_ZSTDREF;
            pl->slen = 4 + g->dlen[i];
            pl->shash = XXH3_64bits(d, pl->slen);
            pl->has_shash = 1;
            goto placed;
        }
    }
    if (g->placed > i) return; /* a frame of an item stored as zstdref */
    size_t len = g->rlen[u % g->W];
    if (len == (size_t)-1) pl->failed = 1;
    else if (!pl->failed) {
        const uint8_t *frame = g->ring + (u % g->W) * g->cap;
        memcpy(hpk_payload_at(g->p, pl->off + g->zacc), frame, len);
        XXH3_64bits_update(&g->hs, frame, len);
        g->zacc += len;
        g->end = pl->off + g->zacc;
    }
    if (u + 1 < g->first[i + 1]) {
        if (!pl->failed && !g->sure && WORTH(g->zacc + (g->first[i + 1] - u - 1) * g->cap, it->size))
            g->sure = 1, g->hold = NO_HOLD;
        if (!pl->failed && !g->broken) g->stable = pl->off + (g->zacc < it->size ? g->zacc : it->size);
        return;
    }
    if (!pl->failed && WORTH(g->zacc, it->size)) {
        pl->packed = 1;
        pl->codec = zstd_codec(it, g->level);
        pl->slen = g->zacc;
        pl->shash = XXH3_64bits_digest(&g->hs);
        pl->has_shash = 1;
    } else { /* not worth it (or failed): stored, over the frames */
        pl->packed = 0;
        pl->slen = it->size;
        /* Sure means it was worth it, unless a frame failed: then the
         * build fails (add_items), and its frames, maybe being written,
         * stay; nothing after them is written out. A big file streamed
         * is written from its own bytes, like place_plain's. */
        if (g->sure) {
            g->broken = 1;
        } else { /* on a page after all, like place_plain's; written again from its start */
            size_t at = pl->off;
            /* Not under the writer: it may be handing these frames to the
             * sink (they are written again, but must not change meanwhile). */
            while (g->wto > at) pthread_cond_wait(&g->cv, &g->mu);
            if (at < g->rewind) g->rewind = at;
            pl->off = place_at(g->p, &at, it->size, 0);
            /* A big file streamed is written from its own bytes (the window
             * may have let its start go); a failed one's bytes do not
             * matter (the build fails, add_items). */
            if (g->streaming && it->size >= EXT_MIN) pl->ext = 1;
            else memcpy(hpk_payload_at(g->p, pl->off), it->data, it->size);
        }
    }
placed:
    if (has_ref) {
        free(g->dbuf[i]);
        g->dbuf[i] = NULL;
    }
    g->cursor = g->end = pl->off + pl->slen;
    g->hold = NO_HOLD;
    if (!g->broken) g->stable = g->cursor;
    g->placed = i + 1;
}

/* Lay down the frames next in line that are complete, each once its
 * item's difference, if any, is compressed (zp_commit decides with it).
 * Under mu. One thread at a time: zp_commit may wait for the writer
 * (releasing mu), and the frames completed meanwhile are laid down after
 * it by the same thread, in order. */
static void zp_advance(struct zpipe *g)
{
    if (g->committing) return;
    g->committing = 1;
    while (g->commit < g->nunits && g->rdone[g->commit % g->W]) {
        size_t i = g->uitem[g->commit];
        if (g->ref[i] != NO_REF && g->dlen[i] == DIFF_PENDING) break;
        g->rdone[g->commit % g->W] = 0;
        zp_commit(g, g->commit++);
    }
    g->committing = 0;
}

/* A frame at the default level, with parameters of its own (the rest as
 * ZSTD_compressCCtx at that level: the content size in the header, no
 * checksum, a window within the frame):
 * - a file mostly deflated already (mostly_deflated, `deflated`): zstd's
 *   fast strategy, a hash table of 2^17, 4-byte matches;
 * - any other: level 3 with a hash table of 2^16 and a chain table of
 *   2^15, half of each of what the level takes for 2 MiB frames: 13% less
 *   time on the JDK's lib/modules, 1.6% larger (docs/results.md,
 *   docs/format.md 10.5).
 * A context for each kind, made at its first frame (*c): sharing one, or
 * the worker's, whose tables are sized for the level's, made libzstd
 * resize them back and forth, fresh pages each time. */
static size_t tuned_frame(ZSTD_CCtx **c, int deflated, void *dst, size_t cap, const void *src, size_t len,
                          int level)
{
    if (!*c) {
        ZSTD_CCtx *x = ZSTD_createCCtx();
        int ok = x && !ZSTD_isError(ZSTD_CCtx_setParameter(x, ZSTD_c_compressionLevel, level)) &&
                 !ZSTD_isError(ZSTD_CCtx_setParameter(x, ZSTD_c_checksumFlag, 0));
        if (deflated)
            ok = ok && !ZSTD_isError(ZSTD_CCtx_setParameter(x, ZSTD_c_strategy, ZSTD_fast)) &&
                 !ZSTD_isError(ZSTD_CCtx_setParameter(x, ZSTD_c_hashLog, 17)) &&
                 !ZSTD_isError(ZSTD_CCtx_setParameter(x, ZSTD_c_minMatch, 4));
        else
            ok = ok && !ZSTD_isError(ZSTD_CCtx_setParameter(x, ZSTD_c_hashLog, 16)) &&
                 !ZSTD_isError(ZSTD_CCtx_setParameter(x, ZSTD_c_chainLog, 15));
        if (ok) *c = x;
        else ZSTD_freeCCtx(x);
    }
    return *c ? ZSTD_compress2(*c, dst, cap, src, len) : (size_t)-1;
}

/* ---- content hashes taken while compressing ----
 *
 * A mapped input left unhashed by the snapshot (hash_later, see
 * hpk_snapshot_hash_rest) is hashed here from the very bytes its frames are
 * compressed from, so the build reads it once. XXH3-128 is a stream: an
 * item's frames are hashed in order, each by the worker that compressed it,
 * right after. A frame done before its turn is parked with its buffer (the
 * worker takes a spare one and goes on); whoever hashes the frame before it
 * hashes it next. An item stored as zstdref is hashed whole in ref_unit,
 * whose difference reads all of it (its frames may never be compressed). */
struct parked {
    size_t item, k, len;
    const uint8_t *src;
    uint8_t *buf; /* src's buffer, a worker's (zsrc), or NULL: src is in the item's bytes */
};

static void hash_done(struct zpipe *g, size_t i, XXH128_hash_t h)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    memcpy(g->h128[i], c.digest, 16);
}

/* Park a frame, or grow the room for it; -1 if there is none. Under mu. */
static int park(struct zpipe *g, struct parked f)
{
    if (g->npark == g->parkcap) {
        size_t cap = g->parkcap ? 2 * g->parkcap : 8;
        struct parked *v = realloc(g->park, cap * sizeof *v);
        uint8_t **sp = realloc(g->spare, cap * sizeof *sp);
        if (v) g->park = v;
        if (sp) g->spare = sp;
        if (!v || !sp) return -1;
        g->parkcap = cap;
    }
    g->park[g->npark++] = f;
    return 0;
}

/* Frame k of item i (len bytes at src) is compressed: hash it now if it is
 * its turn, with the frames parked after it, else park it. z is the
 * worker's source: a parked frame takes its buffer along. Under mu,
 * released while hashing. */
static void hash_frame(struct zpipe *g, struct zsrc *z, size_t i, size_t k, const uint8_t *src, size_t len)
{
    if (g->hnext[i] != k) {
        uint8_t *own = src == z->buf ? z->buf : NULL;
        /* At most a ring's worth parked: the frames before keep being laid
         * down while the one whose turn it is waits (its thread descheduled
         * on a busy machine), and each parked frame holds a buffer. */
        if (g->npark < g->W && park(g, (struct parked){i, k, len, src, own}) == 0) {
            if (own) z->buf = g->nspare ? g->spare[--g->nspare] : malloc(z->bufsz); /* NULL: src_bytes maps */
            return;
        }
        /* Else wait for its turn: the frame whose turn it is is being
         * compressed or hashed by its thread, or parked and taken next. */
        while (g->hnext[i] != k) pthread_cond_wait(&g->cv, &g->mu);
    }
    uint8_t *give = NULL; /* a parked frame's buffer, a spare once hashed */
    for (;;) {
        pthread_mutex_unlock(&g->mu);
        XXH3_128bits_update(g->hst[i], src, len);
        pthread_mutex_lock(&g->mu);
        if (give) g->spare[g->nspare++] = give;
        if (++g->hnext[i] == g->first[i + 1] - g->first[i]) {
            hash_done(g, i, XXH3_128bits_digest(g->hst[i]));
            break;
        }
        size_t x = 0;
        while (x < g->npark && !(g->park[x].item == i && g->park[x].k == g->hnext[i])) x++;
        if (x == g->npark) break;
        src = g->park[x].src, len = g->park[x].len, give = g->park[x].buf;
        g->park[x] = g->park[--g->npark];
    }
    pthread_cond_broadcast(&g->cv);
}

/* Files from this size on may be stored against a like file. */
#define REF_MIN (1u << 20)

/* The name's directory and extension: where files alike sit (the JDK's
 * lib/server/classes*.jsa, a runtime's caches). */
static int alike_names(const char *a, const char *b)
{
    const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
    size_t da = sa ? (size_t)(sa - a) : 0, db = sb ? (size_t)(sb - b) : 0;
    if (da != db || memcmp(a, b, da) != 0) return 0;
    const char *ea = strrchr(sa ? sa : a, '.'), *eb = strrchr(sb ? sb : b, '.');
    return ea && eb && !strcmp(ea, eb);
}

/* What choose_refs finds for a file: too small or not compressible (none);
 * no earlier file alike (a base); only bases alike (it may be a reference
 * itself: its chain has one level); another alike that is not a base (it
 * is never a reference: the format allows two levels, docs/format.md 5.3). */
enum { RK_NONE, RK_BASE, RK_ONE, RK_TWO };

/* Whether item j may be item i's reference: an earlier compressible file
 * of the same role, directory and extension, of a size within a quarter of
 * its own, that may be a reference, and the sizes along the chain within
 * HPK_ZSTDREF_MAX. */
static int may_ref(const struct hpk_item *items, const uint8_t *rkind, const size_t *rmax, size_t i, size_t j)
{
    const struct hpk_item *it = &items[i], *r = &items[j];
    return j < i && (rkind[j] == RK_BASE || rkind[j] == RK_ONE) && r->role == it->role &&
           r->size <= HPK_ZSTDREF_MAX - it->size && rmax[j] <= HPK_ZSTDREF_MAX - it->size - r->size &&
           4 * r->size <= 5 * it->size && 4 * it->size <= 5 * r->size && alike_names(r->path, it->path);
}

static size_t size_gap(const struct hpk_item *a, const struct hpk_item *b)
{
    return a->size > b->size ? a->size - b->size : b->size - a->size;
}

/* For each item, whether it may be stored against another (zstdref), and
 * if so a first choice in ref: the candidate closest in size (the first of
 * equals); pick_ref chooses among several by their content. Only files of
 * 1 MiB or more: the rest is not worth a difference. Whether it pays is
 * measured (ref_pays). Depends on the items alone, never on a choice
 * made: what may be whose reference is fixed here, so the differences are
 * chosen on any thread in any order. `big` (n entries) is room for the
 * indexes of those files. */
static void choose_refs(const struct hpk_item *items, size_t n, int codec, size_t *ref, uint8_t *rkind,
                        size_t *rmax, size_t *big)
{
    size_t nbig = 0;
    for (size_t i = 0; i < n; i++) {
        ref[i] = NO_REF;
        rkind[i] = RK_NONE;
        rmax[i] = 0;
        const struct hpk_item *it = &items[i];
        if (!compressible(it, codec) || it->size < REF_MIN || it->size > HPK_ZSTDREF_MAX) continue;
        size_t best = NO_REF;
        int chained = 0;
        for (size_t b = 0; b < nbig; b++) {
            size_t j = big[b];
            if (!may_ref(items, rkind, rmax, i, j)) continue;
            if (items[j].size > rmax[i]) rmax[i] = items[j].size;
            if (rkind[j] == RK_ONE) chained = 1;
            if (best == NO_REF || size_gap(&items[j], it) < size_gap(&items[best], it)) best = j;
        }
        ref[i] = best;
        rkind[i] = best == NO_REF ? RK_BASE : chained ? RK_TWO : RK_ONE;
        big[nbig++] = i;
    }
}

/* How alike file it is to file r, cheaply: samples of it, evenly spread,
 * each compressed with the region of r about the same relative place as
 * its prefix; the sum of their sizes, the smaller the more alike. Sizes
 * alone mislead: the JDK's classes_nocoops.jsa is closer in size to
 * classes_coh.jsa than to classes.jsa, but its difference from the first
 * is 1.99 MB, from the second 0.73 MB; these samples score them 31 625 and
 * 8 187, in about 5 ms each (a difference takes 40-55 ms). Level 1 with a
 * hash table that covers the prefix (level 1's own, smaller, kept only its
 * last part: samples of random bytes found nothing in the rest), and the
 * double-hash strategy with 6-byte matches: level 1's single table keeps
 * the last of a string's places, and in repetitive text (numbers, one line
 * in ten changed) that was rarely the right one, so the file most alike
 * scored worse (docs/results.md). */
#define LIKE_SAMPLES 8
#define LIKE_LEN (16u << 10)
#define LIKE_SLACK (512u << 10)
#define LIKE_HASHLOG 17
#define LIKE_MINMATCH 6
static uint64_t likeness(ZSTD_CCtx *cc, const struct hpk_item *r, const struct hpk_item *it)
{
    uint8_t out[ZSTD_COMPRESSBOUND(LIKE_LEN)];
    uint64_t sum = 0;
    for (unsigned k = 0; k < LIKE_SAMPLES; k++) {
        size_t fo = (size_t)((uint64_t)(2 * k + 1) * (it->size - LIKE_LEN) / (2 * LIKE_SAMPLES));
        size_t ro = (size_t)((uint64_t)fo * r->size / it->size);
        size_t a = ro > LIKE_SLACK ? ro - LIKE_SLACK : 0;
        size_t b = r->size - ro > LIKE_LEN + LIKE_SLACK ? ro + LIKE_LEN + LIKE_SLACK : r->size;
        size_t z = (size_t)-1;
        if (!ZSTD_isError(ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters)) &&
            !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1)) &&
            !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, window_log(b - a + LIKE_LEN))) &&
            !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_hashLog, LIKE_HASHLOG)) &&
            !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_strategy, ZSTD_dfast)) &&
            !ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_minMatch, LIKE_MINMATCH)) &&
            !ZSTD_isError(ZSTD_CCtx_refPrefix(cc, r->data + a, b - a)))
            z = ZSTD_compress2(cc, out, sizeof out, it->data + fo, LIKE_LEN);
        sum += ZSTD_isError(z) ? sizeof out : z;
    }
    ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
    return sum;
}

/* Item i's reference, among those choose_refs allows: the one alone, else
 * the most alike (likeness; of equals, the closest in size, then the
 * first). Depends on the items alone, whatever the thread. */
static size_t pick_ref(const struct zpipe *g, ZSTD_CCtx *cc, size_t i)
{
    size_t best = g->ref[i], nc = 0;
    for (size_t j = 0; j < i && nc < 2; j++) nc += may_ref(g->items, g->rkind, g->rmax, i, j);
    if (nc < 2 || !cc) return best;
    uint64_t bests = 0;
    best = NO_REF;
    for (size_t j = 0; j < i; j++) {
        if (!may_ref(g->items, g->rkind, g->rmax, i, j)) continue;
        uint64_t sc = likeness(cc, &g->items[j], &g->items[i]);
        if (best == NO_REF || sc < bests ||
            (sc == bests && size_gap(&g->items[j], &g->items[i]) < size_gap(&g->items[best], &g->items[i])))
            best = j, bests = sc;
    }
    return best;
}

static void *zp_worker(void *arg)
{
    struct zpipe *g = arg;
    ZSTD_CCtx *cc = ZSTD_createCCtx(), *dc = NULL, *fc = NULL; /* tuned_frame's, deflated or not */
    struct zsrc z = {-1, (size_t)-1, malloc(g->maxf), g->maxf};
    pthread_mutex_lock(&g->mu);
    for (;;) {
        /* The differences first, outside the ring (they are kept in
         * g->dbuf): compressed before the frames of their items are
         * claimed, those frames need not be compressed at all. */
        if (g->dnext < g->D) {
            size_t i = g->ditem[g->dnext++];
            pthread_mutex_unlock(&g->mu);
            size_t r = pick_ref(g, cc, i);
            pthread_mutex_lock(&g->mu);
            g->ref[i] = r; /* others read it under mu: which one, only after its difference */
            pthread_mutex_unlock(&g->mu);
            uint8_t *d;
            size_t dl = ref_unit(g, cc, i, &d);
            pthread_mutex_lock(&g->mu);
            g->dbuf[i] = d;
            g->dlen[i] = dl;
            zp_advance(g);
            pthread_cond_broadcast(&g->cv);
            continue;
        }
        if (g->next >= g->nunits) break;
        if (g->next >= g->commit + g->W) { /* its slot is still taken */
            pthread_cond_wait(&g->cv, &g->mu);
            continue;
        }
        size_t u = g->next++;
        size_t i = g->uitem[u];
        const struct hpk_item *it = &g->items[i];
        /* A frame of an item already known to be stored as zstdref would
         * be dropped: not compressed. */
        int skip = ref_known(g, i) && ref_pays(g, i);
        pthread_mutex_unlock(&g->mu);
        size_t r = 0; /* a skipped frame's slot holds nothing */
        size_t k = u - g->first[i], len = 0;
        const uint8_t *src = NULL;
        int hashed = 0;
        if (!skip) {
            size_t F = hpk_codec_frame(zstd_codec(it, g->level));
            /* One-shot: the frame header records the content size, no
             * checksum (the entry's XXH3-128 covers it), no dictionary. */
            len = frame_len(it, k, F);
            src = src_bytes(&z, g->items, i, k * F, len);
            /* Hashed first if it is its turn (it usually is: the frame
             * before was claimed first, and is hashed as soon as read),
             * while its bytes are still in this CPU's cache. */
            if (g->hmode[i] == HM_FRAMES && !g->hash_after) {
                pthread_mutex_lock(&g->mu);
                if (g->hnext[i] == k) hash_frame(g, &z, i, k, src, len), hashed = 1;
                pthread_mutex_unlock(&g->mu);
            }
            uint8_t *dst = g->ring + (u % g->W) * g->cap;
            r = !cc               ? (size_t)-1
                : g->deflated[i]              ? tuned_frame(&dc, 1, dst, g->cap, src, len, g->level)
                : g->level == HPK_ZSTD_LEVEL ? tuned_frame(&fc, 0, dst, g->cap, src, len, g->level)
                                             : ZSTD_compressCCtx(cc, dst, g->cap, src, len, g->level);
        }
        pthread_mutex_lock(&g->mu);
        g->rlen[u % g->W] = cc && !ZSTD_isError(r) ? r : (size_t)-1;
        g->rdone[u % g->W] = 1;
        zp_advance(g);
        pthread_cond_broadcast(&g->cv);
        if (src && !hashed && g->hmode[i] == HM_FRAMES) hash_frame(g, &z, i, k, src, len);
    }
    pthread_mutex_unlock(&g->mu);
    ZSTD_freeCCtx(cc);
    ZSTD_freeCCtx(dc);
    ZSTD_freeCCtx(fc);
    src_free(&z);
    return NULL;
}

/* Compress (zstd) or store every item, laying them down after p->data_end.
 * An item with hash_later that is compressed gets its hash in h128 and
 * hashed[i] set (hash_frame). */
static int place_zstd(struct hpk_payload_buf *p, const struct hpk_item *items, size_t n, struct place *pl, int codec,
                      uint8_t (*h128)[16], uint8_t *hashed)
{
    size_t *first = malloc((n + 1) * sizeof *first), total = 0;
    size_t *ref = malloc((n ? n : 1) * sizeof *ref), *dlen = calloc(n ? n : 1, sizeof *dlen);
    size_t *ditem = malloc((n ? n : 1) * sizeof *ditem), *rmax = malloc((n ? n : 1) * sizeof *rmax);
    uint8_t **dbuf = calloc(n ? n : 1, sizeof *dbuf), *rkind = malloc(n ? n : 1);
    if (!first || !ref || !dlen || !dbuf || !ditem || !rmax || !rkind) {
        free(first), free(ref), free(dlen), free(dbuf), free(ditem), free(rmax), free(rkind);
        return -1;
    }
    choose_refs(items, n, codec, ref, rkind, rmax, ditem); /* ditem: room it needs first */
    size_t D = 0;
    for (size_t i = 0; i < n; i++) {
        dlen[i] = DIFF_PENDING;
        if (ref[i] != NO_REF) ditem[D++] = i;
    }
    size_t need = (size_t)hpk_align_up(p->data_end) + (1u << 20), maxf = HPK_ZSTD_FRAME;
    int level = hpk_compress_opt.level;
    for (size_t i = 0; i < n; i++) {
        first[i] = total;
        size_t F = hpk_codec_frame(zstd_codec(&items[i], level));
        size_t nf = compressible(&items[i], codec) ? (items[i].size + F - 1) / F : 0;
        if (nf && F > maxf) maxf = F;
        total += nf;
        size_t bound = nf ? ZSTD_compressBound(items[i].size) + nf * 64 : 0;
        need += 4096 + (bound > items[i].size ? bound : items[i].size);
    }
    first[n] = total;
    size_t *uitem = malloc((total ? total : 1) * sizeof *uitem);
    int nt = hpk_cpus();
    if ((size_t)nt > total) nt = total ? (int)total : 1;
    struct zpipe g = {.items = items, .n = n, .first = first, .uitem = uitem, .nunits = total, .p = p, .pl = pl,
                      .level = level, .W = (size_t)(2 * nt + 2), .cap = ZSTD_compressBound(maxf), .maxf = maxf,
                      .cursor = p->data_end, .end = p->data_end, .stable = p->data_end, .hold = NO_HOLD,
                      .rewind = NO_HOLD, .ref = ref, .rkind = rkind, .rmax = rmax, .ditem = ditem,
                      .D = D, .dbuf = dbuf, .dlen = dlen, .count0 = p->count, .h128 = h128, .hmode = hashed};
    XXH3_state_t **hst = calloc(n ? n : 1, sizeof *hst);
    size_t *hnext = calloc(n ? n : 1, sizeof *hnext);
    uint8_t *defl = calloc(n ? n : 1, 1);
    int hok = hst && hnext && defl;
    for (size_t i = 0; hok && i < n; i++) {
        int c = compressible(&items[i], codec);
        hashed[i] = !items[i].hash_later || !c ? HM_NONE : ref[i] != NO_REF ? HM_REF : HM_FRAMES;
        if (hashed[i] == HM_FRAMES && (!(hst[i] = XXH3_createState()) || XXH3_128bits_reset(hst[i]) != XXH_OK))
            hok = 0;
        /* At the default level only: the choice was measured there. */
        defl[i] = c && level == HPK_ZSTD_LEVEL && mostly_deflated(&items[i]);
    }
    g.hst = hst;
    g.hnext = hnext;
    g.deflated = defl;
#ifdef HPK_TEST_HOOKS
    g.hash_after = getenv("HPACK_TEST_HASH_AFTER") != NULL;
#endif
    /* The whole reservation is address space; pages are taken as it fills. */
    int rc = hok && uitem && reserve(p, need - p->base) == 0 ? 0 : -1;
    if (rc == 0 && total) {
        g.ring = hpk_alloc_big(g.W * g.cap);
        g.rlen = calloc(g.W, sizeof *g.rlen);
        g.rdone = calloc(g.W, 1);
        if (!g.ring || !g.rlen || !g.rdone) rc = -1;
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            for (size_t u = first[i]; u < first[i + 1]; u++) uitem[u] = i;
        pthread_mutex_init(&g.mu, NULL);
        pthread_cond_init(&g.cv, NULL);
        pthread_t writer;
        g.streaming = p->sink && !p->sink_err && pthread_create(&writer, NULL, zp_writer, &g) == 0;
        if (total) hpk_run_threads(nt, zp_worker, &g);
        pthread_mutex_lock(&g.mu);
        while (g.placed < n) place_plain(p, &items[g.placed], &pl[g.placed], &g.cursor, g.streaming), g.placed++;
        g.end = g.cursor;
        if (!g.broken) g.stable = g.cursor;
        g.finished = 1;
        pthread_cond_broadcast(&g.cv);
        pthread_mutex_unlock(&g.mu);
        if (g.streaming) pthread_join(writer, NULL);
        pthread_cond_destroy(&g.cv);
        pthread_mutex_destroy(&g.mu);
        p->data_end = g.cursor;
    }
    free(g.ring);
    free(g.rlen);
    free(g.rdone);
    for (size_t i = 0; i < g.npark; i++) free(g.park[i].buf); /* none: every frame is hashed */
    for (size_t i = 0; i < g.nspare; i++) free(g.spare[i]);
    free(g.park);
    free(g.spare);
    for (size_t i = 0; hst && i < n; i++) XXH3_freeState(hst[i]);
    free(hst);
    free(hnext);
    free(defl);
    free(uitem);
    free(first);
    for (size_t i = 0; i < n; i++) free(dbuf[i]); /* left by a failure */
    free(dbuf);
    free(dlen);
    free(ditem);
    free(rmax);
    free(rkind);
    free(ref);
    return rc;
}

/* ---- zlib: whole items on every CPU, largest first, then laid down ---- */

/* One unit of work: a whole zlib item. */
struct unit {
    size_t item;
    uint8_t *z; /* compressed bytes */
    size_t zlen;
    int failed;
};

struct pool {
    const struct hpk_item *items;
    struct unit *units;
    int level;
};

static int zlib_unit(struct unit *u, const uint8_t *in, size_t in_len, int level)
{
    uLong bound = compressBound((uLong)in_len);
    if (!(u->z = hpk_alloc_big(bound))) return -1;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)in_len;
    z.next_out = u->z;
    z.avail_out = (uInt)bound;
    int r = deflate(&z, Z_FINISH);
    u->zlen = z.total_out;
    deflateEnd(&z);
    return r == Z_STREAM_END ? 0 : -1;
}

static void zlib_one(void *ctx, size_t k)
{
    struct pool *p = ctx;
    struct unit *u = &p->units[k];
    const struct hpk_item *it = &p->items[u->item];
    if (zlib_unit(u, it->data, it->size, p->level) != 0) {
        free(u->z);
        u->z = NULL;
        u->failed = 1;
    }
}

static int by_size_desc(const void *a, const void *b, void *items)
{
    const struct hpk_item *it = items;
    const struct unit *x = a, *y = b;
    size_t sx = it[x->item].size, sy = it[y->item].size;
    if (sx != sy) return (sx < sy) - (sx > sy);
    return (x->item > y->item) - (x->item < y->item);
}

static int place_zlib(struct hpk_payload_buf *p, const struct hpk_item *items, size_t n, struct place *pl)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += compressible(&items[i], HPK_CODEC_ZLIB);
    struct pool pool = {.items = items, .units = calloc(total ? total : 1, sizeof *pool.units),
                        .level = hpk_compress_opt.level};
    size_t *unit_of = malloc((n ? n : 1) * sizeof *unit_of);
    if (!pool.units || !unit_of) {
        free(pool.units);
        free(unit_of);
        return -1;
    }
    for (size_t i = 0, u = 0; i < n; i++)
        if (compressible(&items[i], HPK_CODEC_ZLIB)) pool.units[u++].item = i;
    /* Largest first: one big item started last would keep one thread busy alone. */
    qsort_r(pool.units, total, sizeof *pool.units, by_size_desc, (void *)items);
    for (size_t i = 0; i < n; i++) unit_of[i] = (size_t)-1;
    for (size_t u = 0; u < total; u++) unit_of[pool.units[u].item] = u;
    hpk_run_each(total, zlib_one, &pool);
    size_t need = (size_t)hpk_align_up(p->data_end) + (1u << 20);
    for (size_t i = 0; i < n; i++) {
        const struct unit *u = unit_of[i] == (size_t)-1 ? NULL : &pool.units[unit_of[i]];
        need += 4096 + (u && !u->failed && WORTH(u->zlen, items[i].size) ? u->zlen : items[i].size);
    }
    int rc = reserve(p, need - p->base);
    size_t cursor = p->data_end;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct unit *u = unit_of[i] == (size_t)-1 ? NULL : &pool.units[unit_of[i]];
        if (!u || u->failed || !WORTH(u->zlen, items[i].size)) {
            place_plain(p, &items[i], &pl[i], &cursor, 0);
            pl[i].failed = u && u->failed;
            continue;
        }
        pl[i].off = place_at(p, &cursor, u->zlen, 1);
        memcpy(hpk_payload_at(p, pl[i].off), u->z, u->zlen);
        pl[i].slen = u->zlen;
        pl[i].packed = 1;
        pl[i].codec = HPK_CODEC_ZLIB;
        cursor = pl[i].off + u->zlen;
    }
    if (rc == 0) p->data_end = cursor;
    for (size_t u = 0; u < total; u++) free(pool.units[u].z);
    free(pool.units);
    free(unit_of);
    return rc;
}

/* Stored hashes not taken as the bytes were laid down, on every CPU: a
 * big stored file's (src.zip, 53 MB) took 20 ms on one. */
struct shash_job {
    const struct hpk_payload_buf *p;
    const struct hpk_item *items;
    struct place *pl;
};

static void shash_one(void *ctx, size_t i)
{
    struct shash_job *j = ctx;
    struct place *pl = &j->pl[i];
    if (pl->failed || pl->has_shash) return;
    const struct hpk_item *it = &j->items[i];
    /* A mapped file stored as it is was hashed so with its content. */
    pl->shash = !pl->packed && it->mapped && it->has_hash64 ? it->hash64 : stored_hash(j->p, it, pl);
    pl->has_shash = 1;
}

/* Compress `items` and append their data after p->data_end, adding entries. */
static int add_items(struct hpk_payload_buf *p, const struct hpk_item *items, size_t n, struct hpk_err *e)
{
    int codec = hpk_compress_opt.codec;
    struct place *pl = calloc(n ? n : 1, sizeof *pl);
    uint8_t(*h128)[16] = calloc(n ? n : 1, sizeof *h128);
    uint8_t *hashed = calloc(n ? n : 1, 1);
    struct hpk_entry *ents = realloc(p->entries, (p->count + n + 1) * sizeof *ents);
    char **paths = realloc(p->paths, (p->count + n + 1) * sizeof *paths);
    if (ents) p->entries = ents;
    if (paths) p->paths = paths;
    if (!pl || !h128 || !hashed || !ents || !paths ||
        (codec == HPK_CODEC_ZLIB ? place_zlib(p, items, n, pl) : place_zstd(p, items, n, pl, codec, h128, hashed)) !=
            0) {
        free(pl);
        free(h128);
        free(hashed);
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    }
    /* Items left unhashed (hash_later) that were not hashed as they were
     * compressed (other codecs, files stored): from their bytes. */
    for (size_t i = 0; i < n; i++)
        if (items[i].hash_later && !hashed[i] && S_ISREG(items[i].mode))
            hpk_hash_bytes(items[i].data, items[i].size, h128[i]), hashed[i] = 1;
    int err = 0;
    /* An item read through a mapping (inputfile.c) was compressed from the
     * file's pages: those are the bytes it was hashed from only if the file
     * did not change meanwhile. Checked here, where the mappings are read,
     * for every payload made or appended to. */
    for (size_t i = 0; i < n && !err; i++) err = hpk_item_unchanged(&items[i], e);
    struct shash_job sj = {p, items, pl};
    if (!err) hpk_run_each(n, shash_one, &sj);
    for (size_t i = 0; i < n && !err; i++) {
        const struct hpk_item *it = &items[i];
        if (pl[i].failed) {
            err = hpk_fail(e, HPK_ST_INTERNAL, "%s: compression failed", it->path);
            break;
        }
        size_t plen = strlen(it->path);
        if (plen > HPK_PATH_MAX || !hpk_layout_path_ok(it->path, plen)) {
            err = hpk_fail(e, HPK_ST_INTERNAL, "%s: invalid entry path", it->path);
            break;
        }
        struct hpk_entry *en = &p->entries[p->count];
        memset(en, 0, sizeof *en);
        p->paths[p->count] = strdup(it->path);
        en->path = p->paths[p->count];
        en->path_len = (uint16_t)plen;
        en->mode = it->mode;
        en->role = it->role;
        en->size = S_ISDIR(it->mode) ? 0 : it->size;
        if (!S_ISDIR(it->mode)) memcpy(en->hash, hashed[i] ? h128[i] : it->hash, 16);
        en->codec = pl[i].packed ? pl[i].codec : HPK_CODEC_STORED;
        en->stored_size = pl[i].slen;
        en->offset = pl[i].off;
        en->stored_hash = pl[i].shash; /* shash_one */
        p->count++;
    }
    free(pl);
    free(h128);
    free(hashed);
    return err;
}

/* Write table and footer after the data; p->len becomes the payload size. */
static int seal(struct hpk_payload_buf *p, struct hpk_err *e)
{
    size_t toc_off = (p->data_end + 7) & ~(size_t)7;
    size_t toc_size = hpk_layout_toc_size(p->entries, p->count);
    if (reserve(p, toc_off - p->base + toc_size + HPK_FOOTER_SIZE) != 0)
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    uint8_t *toc = hpk_payload_at(p, toc_off);
    memset(hpk_payload_at(p, p->data_end), 0, toc_off - p->data_end);
    hpk_layout_toc_encode(p->entries, p->count, toc);
    struct hpk_footer f;
    if (hpk_layout_footer_make(p->entries, p->count, toc, toc_off, toc_size, &f, toc + toc_size) != HPK_OK)
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    memcpy(p->base_hash, f.base_hash, 16);
    memcpy(p->full_hash, f.full_hash, 16);
    p->len = toc_off + toc_size + HPK_FOOTER_SIZE;
    /* Read back what we wrote through the launcher's own validator. */
    struct hpk_footer back;
    struct hpk_payload parsed;
    int r = hpk_layout_footer_decode(toc + toc_size, p->len, &back);
    if (r == HPK_OK) r = hpk_layout_parse(&back, toc, &parsed);
    if (r != HPK_OK) return hpk_fail(e, HPK_ST_INTERNAL, "payload self-check failed: %s", hpk_layout_strerror(r));
    hpk_payload_free(&parsed);
    return 0;
}

/* The table's order in a payload made from scratch (docs/format.md 10.2):
 * directories, then files already compressed (stored as they are whatever
 * the codec), then the rest, each group in the items' own order (bytewise,
 * by path). Directories first keep every parent before its contents (W5).
 * Stored files next have places that no compression decides, so a
 * streamed payload writes them while it compresses the rest: after the
 * files compressed, a JDK's src.zip (53 MB) was written alone at the end,
 * while a CPU idled. */
static int table_group(const struct hpk_item *it)
{
    return S_ISDIR(it->mode) ? 0 : S_ISREG(it->mode) && it->no_compress ? 1 : 2;
}

static void table_order(const struct hpk_item *items, size_t n, struct hpk_item *v, size_t *orig)
{
    size_t k = 0;
    for (int g = 0; g < 3; g++)
        for (size_t i = 0; i < n; i++)
            if (table_group(&items[i]) == g) orig[k] = i, v[k++] = items[i]; /* shallow: add_items only reads them */
}

/* The hashes the payload took (hash_later) go back into the items, for
 * what reads them after (a DA1, a lock, the re-check of the inputs). Entry
 * count0 + k is item orig[k]. */
static void give_hashes(const struct hpk_payload_buf *p, uint32_t count0, struct hpk_item *items, const size_t *orig,
                        size_t n)
{
    for (size_t k = 0; k < n; k++) {
        struct hpk_item *it = &items[orig ? orig[k] : k];
        if (!it->hash_later) continue;
        memcpy(it->hash, p->entries[count0 + k].hash, 16);
        it->hash_later = 0;
    }
}

int hpk_payload_build(struct hpk_payload_buf *p, struct hpk_item *items, size_t n, struct hpk_err *e)
{
    return hpk_payload_stream(p, items, n, NULL, NULL, e);
}

int hpk_payload_stream(struct hpk_payload_buf *p, struct hpk_item *items, size_t n, hpk_payload_sink_fn sink,
                       void *ctx, struct hpk_err *e)
{
    memset(p, 0, sizeof *p);
    p->sink = sink;
    p->sink_ctx = ctx;
    size_t *orig = malloc((n ? n : 1) * sizeof *orig);
    struct hpk_item *ordered = calloc(n ? n : 1, sizeof *ordered); /* table_order fills all n */
    if (!ordered || !orig) {
        free(ordered);
        free(orig);
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    }
    table_order(items, n, ordered, orig);
    int r = add_items(p, ordered, n, e);
    if (r == 0) give_hashes(p, 0, items, orig, n);
    free(ordered);
    free(orig);
    /* Appends (DA1) are made in memory whole; the caller writes them. */
    p->sink = NULL;
    /* The caller, which knows the output's name, reports p->sink_err. */
    if (r == 0 && p->sink_err) return hpk_fail(e, HPK_ST_OUTPUT, "cannot write: %s", strerror(p->sink_err));
    return r != 0 ? -1 : seal(p, e);
}

int hpk_payload_append(struct hpk_payload_buf *p, struct hpk_item *items, size_t n, struct hpk_err *e)
{
    /* A streamed payload's data is gone (written out). */
    if (p->base || p->flushed) return hpk_fail(e, HPK_ST_INTERNAL, "a payload written while made cannot be appended to");
    /* Drop the old table and footer; data up to data_end stays as it is. */
    p->len = p->data_end;
    uint32_t count0 = p->count;
    if (add_items(p, items, n, e) != 0) return -1;
    give_hashes(p, count0, items, NULL, n);
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
