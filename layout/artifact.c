/*
 * artifact.c - find the .hpack section, read the table, decode entries.
 */
#define _GNU_SOURCE
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "hpk_artifact.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

int hpk_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return HPK_E_IO;
        if (n == 0) return HPK_E_TRUNCATED;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return HPK_OK;
}

int hpk_hash_fd(int fd, void *buf, size_t n, uint8_t out[16])
{
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    ssize_t r;
    while ((r = read(fd, buf, n)) != 0) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return HPK_E_IO;
        XXH3_128bits_update(&st, buf, (size_t)r);
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
    memcpy(out, c.digest, 16);
    return HPK_OK;
}

/* Section lookup over an abstract reader so the fd and memory versions share
 * one implementation (and one set of bounds checks). */
struct src {
    int fd;
    const uint8_t *img;
    uint64_t len; /* file size */
};

static int src_read(const struct src *s, void *buf, size_t n, uint64_t off)
{
    if (off > s->len || n > s->len - off) return HPK_E_TRUNCATED;
    if (s->img) {
        memcpy(buf, s->img + off, n);
        return HPK_OK;
    }
    return hpk_pread_full(s->fd, buf, n, off);
}

static int find_section(const struct src *s, const char *name, uint64_t *off, uint64_t *size)
{
    Elf64_Ehdr eh;
    if (src_read(s, &eh, sizeof eh, 0) != HPK_OK) return HPK_E_NOT_ELF;
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr))
        return HPK_E_NOT_ELF;
    if (eh.e_shnum == 0 || eh.e_shstrndx == SHN_UNDEF || eh.e_shstrndx >= eh.e_shnum)
        return HPK_E_NO_SECTION;
    size_t tbl = (size_t)eh.e_shnum * sizeof(Elf64_Shdr);
    Elf64_Shdr *sh = malloc(tbl);
    if (!sh) return HPK_E_NOMEM;
    int err = src_read(s, sh, tbl, eh.e_shoff);
    if (err != HPK_OK) goto out;
    const Elf64_Shdr *str = &sh[eh.e_shstrndx];
    /* One read of the section name table; names are bounded by it. */
    if (str->sh_type != SHT_STRTAB || str->sh_size == 0 || str->sh_size > (1u << 20)) {
        err = HPK_E_NO_SECTION;
        goto out;
    }
    char *names = malloc(str->sh_size + 1);
    if (!names) { err = HPK_E_NOMEM; goto out; }
    if ((err = src_read(s, names, str->sh_size, str->sh_offset)) != HPK_OK) {
        free(names);
        goto out;
    }
    names[str->sh_size] = 0;
    err = HPK_E_NO_SECTION;
    for (unsigned i = 1; i < eh.e_shnum; i++) {
        if (sh[i].sh_name >= str->sh_size || strcmp(names + sh[i].sh_name, name) != 0) continue;
        if (sh[i].sh_type != SHT_PROGBITS) break;
        if (sh[i].sh_offset > s->len || sh[i].sh_size > s->len - sh[i].sh_offset) {
            err = HPK_E_TRUNCATED;
            break;
        }
        *off = sh[i].sh_offset;
        *size = sh[i].sh_size;
        err = HPK_OK;
        break;
    }
    free(names);
out:
    free(sh);
    return err;
}

int hpk_elf_find_section(int fd, const char *name, uint64_t *off, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return HPK_E_IO;
    struct src s = {.fd = fd, .img = NULL, .len = (uint64_t)st.st_size};
    return find_section(&s, name, off, size);
}

int hpk_elf_find_section_mem(const uint8_t *img, size_t len, const char *name, uint64_t *off,
                             uint64_t *size)
{
    struct src s = {.fd = -1, .img = img, .len = len};
    return find_section(&s, name, off, size);
}

int hpk_artifact_open(int fd, struct hpk_artifact *a)
{
    memset(a, 0, sizeof *a);
    a->fd = fd;
    int err = hpk_elf_find_section(fd, HPK_SECTION_NAME, &a->sec_off, &a->sec_size);
    if (err != HPK_OK) return err;
    /* The bare launcher carries a 1-byte placeholder section. */
    if (a->sec_size <= 1) return HPK_E_NO_SECTION;
    if (a->sec_size < HPK_FOOTER_SIZE) return HPK_E_TRUNCATED;
    uint8_t fb[HPK_FOOTER_SIZE];
    if ((err = hpk_pread_full(fd, fb, sizeof fb, a->sec_off + a->sec_size - HPK_FOOTER_SIZE)) != HPK_OK)
        return err;
    struct hpk_footer f;
    if ((err = hpk_layout_footer_decode(fb, a->sec_size, &f)) != HPK_OK) return err;
    a->toc = malloc(f.toc_size ? f.toc_size : 1);
    if (!a->toc) return HPK_E_NOMEM;
    if ((err = hpk_pread_full(fd, a->toc, f.toc_size, a->sec_off + f.toc_offset)) != HPK_OK ||
        (err = hpk_layout_parse(&f, a->toc, &a->p)) != HPK_OK) {
        memcpy(a->err_path, a->p.err_path, sizeof a->err_path);
        free(a->toc);
        a->toc = NULL;
        return err;
    }
    return HPK_OK;
}

int hpk_artifact_map(struct hpk_artifact *a)
{
    if (a->map) return HPK_OK;
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t start = a->sec_off - a->sec_off % (uint64_t)pg;
    a->map_skew = (size_t)(a->sec_off - start);
    a->map_len = a->map_skew + a->sec_size;
    void *m = mmap(NULL, a->map_len, PROT_READ, MAP_PRIVATE, a->fd, (off_t)start);
    if (m == MAP_FAILED) return HPK_E_IO;
    madvise(m, a->map_len, MADV_SEQUENTIAL);
    a->map = m;
    return HPK_OK;
}

void hpk_artifact_close(struct hpk_artifact *a)
{
    if (a->map) munmap((void *)a->map, a->map_len);
    hpk_payload_free(&a->p);
    free(a->toc);
    a->map = NULL;
    a->toc = NULL;
}

#define CHUNK (1u << 20)

static const uint8_t *entry_data(const struct hpk_artifact *a, const struct hpk_entry *e)
{
    return a->map + a->map_skew + e->offset;
}

void *hpk_dctx_new(void) { return ZSTD_createDCtx(); }
void hpk_dctx_free(void *dctx) { ZSTD_freeDCtx(dctx); }

/* Walk the frames of a zstd entry (docs/format.md 5.3). Only headers are
 * read here (ZSTD_findFrameCompressedSize walks block headers): cheap, and
 * it tells every frame's place before any is decoded. */
static int zstd_pieces(const uint8_t *data, const struct hpk_entry *e, struct hpk_piece *p, uint32_t n)
{
    uint64_t in = 0, out = 0, F = hpk_codec_frame(e->codec);
    for (uint32_t k = 0; k < n; k++) {
        size_t left = (size_t)(e->stored_size - in);
        const uint8_t *f = data + in;
        /* A data frame, not a skippable one: its 4-byte magic number. */
        if (left < 4 || (f[0] | f[1] << 8 | f[2] << 16 | (uint32_t)f[3] << 24) != ZSTD_MAGICNUMBER)
            return HPK_E_DATA_CODEC;
        size_t clen = ZSTD_findFrameCompressedSize(f, left);
        if (ZSTD_isError(clen)) return HPK_E_DATA_CODEC;
        unsigned long long fcs = ZSTD_getFrameContentSize(f, clen);
        uint64_t want = e->size - out < F ? e->size - out : F;
        if (fcs != want || ZSTD_getDictID_fromFrame(f, clen) != 0) return HPK_E_DATA_CODEC;
        p[k] = (struct hpk_piece){.in_off = in, .in_len = clen, .out_off = out, .out_len = want};
        in += clen;
        out += want;
    }
    /* Exactly the frames the size calls for, ending exactly at stored_size. */
    return in == e->stored_size ? HPK_OK : HPK_E_DATA_CODEC;
}

/* Map the pages of [p, p+len) of the payload in one call rather than a
 * fault per 64 KiB read-around (a page fault costs tens of microseconds in
 * some virtual machines: measured in docs/results.md). Reads what is not
 * cached, as the faults would. An advice: older kernels refuse it. */
static void populate(const uint8_t *p, size_t len)
{
#ifdef MADV_POPULATE_READ
    if (len < (256u << 10)) return;
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)4095;
    madvise((void *)lo, (uintptr_t)p + len - lo, MADV_POPULATE_READ);
#else
    (void)p;
    (void)len;
#endif
}

int hpk_entry_pieces(const struct hpk_artifact *a, const struct hpk_entry *e, struct hpk_piece **out,
                     uint32_t *n)
{
    *out = NULL;
    *n = 0;
    if (!a->map) return HPK_E_IO;
    const uint8_t *data = entry_data(a, e);
    populate(data, (size_t)e->stored_size);
    /* The stored bytes first (D0): cheap, and it catches a flip that would
     * still decode to the same content. */
    if (XXH3_64bits(data, (size_t)e->stored_size) != e->stored_hash) return HPK_E_DATA_HASH;
    uint64_t count;
    if (e->stored_size == 0) {
        if (e->codec == HPK_CODEC_STORED) return HPK_OK;
        return HPK_E_DATA_CODEC; /* a compressed entry has at least its header */
    }
    uint64_t F = hpk_codec_frame(e->codec);
    if (e->codec == HPK_CODEC_ZLIB || e->codec == HPK_CODEC_ZSTDREF) count = 1;
    else count = e->size / F + (e->size % F != 0);
    /* Every zstd frame takes at least 9 bytes (magic, header, one block
     * header): a size the stored bytes cannot hold is refused before any
     * allocation it would call for; and the pieces are counted in 32 bits
     * (2^32 frames would be 8 PiB of content). */
    if (hpk_codec_zstd(e->codec) && (count == 0 || count > e->stored_size / 9 || count > UINT32_MAX))
        return HPK_E_DATA_CODEC;
    struct hpk_piece *p = malloc((size_t)count * sizeof *p);
    if (!p) return HPK_E_NOMEM;
    int err = HPK_OK;
    if (hpk_codec_zstd(e->codec)) {
        err = zstd_pieces(data, e, p, (uint32_t)count);
    } else if (e->codec == HPK_CODEC_ZLIB || e->codec == HPK_CODEC_ZSTDREF) {
        /* One piece, decoded whole by hpk_entry_decode. */
        p[0] = (struct hpk_piece){.in_off = 0, .in_len = e->stored_size, .out_off = 0, .out_len = e->size};
    } else {
        for (uint64_t k = 0; k < count; k++) {
            uint64_t off = k * F, len = e->size - off < F ? e->size - off : F;
            p[k] = (struct hpk_piece){.in_off = off, .in_len = len, .out_off = off, .out_len = len};
        }
    }
    if (err != HPK_OK) {
        free(p);
        return err;
    }
    *out = p;
    *n = (uint32_t)count;
    return HPK_OK;
}

int hpk_piece_decode(const struct hpk_artifact *a, const struct hpk_entry *e, const struct hpk_piece *p,
                     void *dctx, uint8_t *buf, const uint8_t **res)
{
    const uint8_t *in = entry_data(a, e) + p->in_off;
    if (e->codec == HPK_CODEC_STORED) {
        *res = in;
        return HPK_OK;
    }
    if (!hpk_codec_zstd(e->codec)) return HPK_E_DATA_CODEC;
    size_t got = ZSTD_decompressDCtx(dctx, buf, (size_t)p->out_len, in, (size_t)p->in_len);
    if (ZSTD_isError(got) || got != p->out_len) return HPK_E_DATA_CODEC;
    *res = buf;
    return HPK_OK;
}

static int decode_zstd(const struct hpk_artifact *a, const struct hpk_entry *e, hpk_sink_fn sink, void *ctx)
{
    struct hpk_piece *p;
    uint32_t n;
    int err = hpk_entry_pieces(a, e, &p, &n);
    if (err != HPK_OK) return err;
    void *dctx = hpk_dctx_new();
    size_t F = hpk_codec_frame(e->codec);
    uint8_t *buf = malloc(e->size < F ? (size_t)e->size : F);
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    if (!dctx || !buf) err = HPK_E_NOMEM;
    for (uint32_t k = 0; k < n && err == HPK_OK; k++) {
        const uint8_t *out;
        if ((err = hpk_piece_decode(a, e, &p[k], dctx, buf, &out)) != HPK_OK) break;
        XXH3_128bits_update(&st, out, (size_t)p[k].out_len);
        if (sink && sink(ctx, out, (size_t)p[k].out_len)) err = HPK_E_SINK;
    }
    hpk_dctx_free(dctx);
    free(buf);
    free(p);
    if (err != HPK_OK) return err;
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
    return memcmp(c.digest, e->hash, 16) == 0 ? HPK_OK : HPK_E_DATA_HASH;
}

uint8_t *hpk_huge_map(struct hpk_huge *m, size_t n, int populate)
{
    const size_t huge = 2u << 20;
    m->len = n + huge;
    m->map = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m->map == MAP_FAILED) {
        m->map = NULL;
        return NULL;
    }
    uint8_t *p = (uint8_t *)(((uintptr_t)m->map + huge - 1) & ~(uintptr_t)(huge - 1));
#ifdef MADV_HUGEPAGE
    madvise(p, n, MADV_HUGEPAGE); /* advice only: older kernels refuse */
#endif
#ifdef MADV_POPULATE_WRITE
    if (populate) madvise(p, n, MADV_POPULATE_WRITE);
#else
    (void)populate;
#endif
    return p;
}

void hpk_huge_free(struct hpk_huge *m)
{
    if (m->map) munmap(m->map, m->len);
    m->map = NULL;
}

struct slurp {
    char *buf;
    size_t len, cap;
};

/* Appends to s, keeping room for a NUL (hpk_entry_slurp's). */
static int slurp_sink(void *ctx, const uint8_t *buf, size_t len)
{
    struct slurp *s = ctx;
    if (s->len + len + 1 > s->cap) return -1;
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    return 0;
}

/* Whether a zstdref entry's frame header is as docs/format.md 5.3
 * requires: the magic number, the frame ending exactly at stored_size, its
 * content size declared and equal to size, no dictionary. */
static int ref_frame_ok(const struct hpk_artifact *a, const struct hpk_entry *e)
{
    const uint8_t *f = entry_data(a, e) + 4;
    size_t flen = (size_t)e->stored_size - 4;
    return hpk_get32(f) == ZSTD_MAGICNUMBER && ZSTD_findFrameCompressedSize(f, flen) == flen &&
           ZSTD_getFrameContentSize(f, flen) == e->size && ZSTD_getDictID_fromFrame(f, flen) == 0;
}

/* The entry a zstdref entry's 4 first stored bytes name, if it may be one
 * (docs/format.md 5.3): earlier in the table, a regular file, not a cache
 * entry for an entry that is not one (the base entries decode without the
 * cache). It may itself be zstdref once (may_chain) but not twice: a
 * reader never decodes more than three entries for one. The sizes held
 * together while decoding (held, already; this entry; its reference; the
 * reference's reference) are within HPK_ZSTDREF_MAX, which bounds the
 * memory a hostile table can make a reader take; and every frame header
 * along the chain is checked here, before any of that is taken. NULL if
 * not. */
static const struct hpk_entry *ref_entry(const struct hpk_artifact *a, const struct hpk_entry *e, uint64_t held,
                                         int may_chain)
{
    const struct hpk_entry *v = a->p.entries;
    if (!v || e < v || e >= v + a->p.count || e->stored_size < 4 + 9 || !ref_frame_ok(a, e)) return NULL;
    uint32_t ref = hpk_get32(entry_data(a, e));
    if (ref >= (uint32_t)(e - v)) return NULL;
    const struct hpk_entry *r = &v[ref];
    if (!S_ISREG(r->mode) || (r->role == HPK_ROLE_CACHE && e->role != HPK_ROLE_CACHE)) return NULL;
    if (e->size == 0 || r->size == 0 || e->size > HPK_ZSTDREF_MAX - held ||
        r->size > HPK_ZSTDREF_MAX - held - e->size)
        return NULL;
    if (r->codec == HPK_CODEC_ZSTDREF && (!may_chain || !ref_entry(a, r, held + e->size, 0))) return NULL;
    return r;
}

/* Entry e's one frame (after the 4 bytes naming its reference) decoded
 * with ref[0..reflen), the reference's content, as the prefix, into out
 * (e->size bytes), and its content's XXH3-128 checked. */
static int against(const struct hpk_artifact *a, const struct hpk_entry *e, const uint8_t *ref, size_t reflen,
                   uint8_t *out)
{
    const uint8_t *f = entry_data(a, e) + 4;
    size_t flen = (size_t)e->stored_size - 4;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx) return HPK_E_NOMEM;
    size_t got = ZSTD_DCtx_refPrefix(dctx, ref, reflen);
    if (!ZSTD_isError(got)) got = ZSTD_decompressDCtx(dctx, out, (size_t)e->size, f, flen);
    ZSTD_freeDCtx(dctx);
    if (ZSTD_isError(got) || got != e->size) return HPK_E_DATA_CODEC;
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(out, (size_t)e->size));
    return memcmp(c.digest, e->hash, 16) == 0 ? HPK_OK : HPK_E_DATA_HASH;
}

/* A zstdref entry decoded into out (e->size bytes) and checked: its
 * reference decoded into memory first (a zstdref one the same way, its
 * stored bytes checked here as hpk_entry_decode checks the others'), then
 * its one frame with that content as the prefix. held: the bytes the
 * callers hold for it; may_chain: whether its reference may be zstdref
 * (ref_entry). */
static int ref_decode(const struct hpk_artifact *a, const struct hpk_entry *e, uint64_t held, int may_chain,
                      uint8_t *out)
{
    const struct hpk_entry *r = ref_entry(a, e, held, may_chain);
    if (!r) return HPK_E_DATA_CODEC;
    /* Buffers of up to 128 MiB together, written once: from hpk_huge_map,
     * whose faults cost less than decoding 14 MB did (docs/results.md).
     * This entry's decoder is made (in against) only once the reference
     * is decoded: one at a time along a chain. */
    struct hpk_huge bb;
    struct slurp base = {(char *)hpk_huge_map(&bb, (size_t)r->size + 1, 1), 0, (size_t)r->size + 1};
    int err = HPK_E_NOMEM;
    if (!base.buf) {
    } else if (r->codec != HPK_CODEC_ZSTDREF) {
        err = hpk_entry_decode(a, r, slurp_sink, &base);
    } else if (XXH3_64bits(entry_data(a, r), (size_t)r->stored_size) != r->stored_hash) {
        err = HPK_E_DATA_HASH;
    } else if ((err = ref_decode(a, r, held + e->size, 0, (uint8_t *)base.buf)) == HPK_OK) {
        base.len = (size_t)r->size;
    }
    /* The reference's own failure is this entry's: it cannot be decoded. */
    if (err == HPK_E_DATA_HASH || err == HPK_E_SINK) err = HPK_E_DATA_CODEC;
    if (err == HPK_OK) err = against(a, e, (const uint8_t *)base.buf, base.len, out);
    hpk_huge_free(&bb);
    return err;
}

const struct hpk_entry *hpk_entry_ref(const struct hpk_artifact *a, const struct hpk_entry *e)
{
    if (e->codec != HPK_CODEC_ZSTDREF) return NULL;
    const struct hpk_entry *r = ref_entry(a, e, 0, 1);
    return r && r->codec != HPK_CODEC_ZSTDREF ? r : NULL;
}

int hpk_ref_decode(const struct hpk_artifact *a, const struct hpk_entry *e, const uint8_t *ref, size_t reflen,
                   uint8_t *out)
{
    if (!a->map) return HPK_E_IO;
    const struct hpk_entry *r = hpk_entry_ref(a, e);
    if (!r || reflen != r->size) return HPK_E_DATA_CODEC;
    if (XXH3_64bits(entry_data(a, e), (size_t)e->stored_size) != e->stored_hash) return HPK_E_DATA_HASH;
    return against(a, e, ref, reflen, out);
}

/* A zstdref entry (its stored bytes checked by the caller), to the sink. */
static int decode_ref(const struct hpk_artifact *a, const struct hpk_entry *e, hpk_sink_fn sink, void *ctx)
{
    if (!ref_entry(a, e, 0, 1)) return HPK_E_DATA_CODEC; /* before taking its size in memory */
    struct hpk_huge bo;
    uint8_t *out = hpk_huge_map(&bo, (size_t)e->size, 1);
    int err = out ? ref_decode(a, e, 0, 1, out) : HPK_E_NOMEM;
    if (err == HPK_OK && sink && sink(ctx, out, (size_t)e->size)) err = HPK_E_SINK;
    hpk_huge_free(&bo);
    return err;
}

int hpk_entry_decode(const struct hpk_artifact *a, const struct hpk_entry *e, hpk_sink_fn sink,
                     void *ctx)
{
    if (!a->map) return HPK_E_IO;
    if (hpk_codec_zstd(e->codec)) return decode_zstd(a, e, sink, ctx);
    const uint8_t *data = entry_data(a, e);
    /* The stored bytes first: cheap (XXH3-64 runs at memory speed) and it
     * catches a flip that would still inflate to the same content. */
    if (XXH3_64bits(data, (size_t)e->stored_size) != e->stored_hash) return HPK_E_DATA_HASH;
    if (e->codec == HPK_CODEC_ZSTDREF) return decode_ref(a, e, sink, ctx);
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    uint64_t total = 0;
    if (e->codec == HPK_CODEC_STORED) {
        for (uint64_t done = 0; done < e->stored_size;) {
            size_t n = e->stored_size - done < CHUNK ? (size_t)(e->stored_size - done) : CHUNK;
            XXH3_128bits_update(&st, data + done, n);
            if (sink && sink(ctx, data + done, n)) return HPK_E_SINK;
            done += n;
        }
        total = e->stored_size;
    } else {
        uint8_t *out = malloc(CHUNK);
        if (!out) return HPK_E_NOMEM;
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit(&z) != Z_OK) {
            free(out);
            return HPK_E_NOMEM;
        }
        uint64_t in_left = e->stored_size;
        const uint8_t *in = data;
        int zr = Z_OK, err = HPK_OK;
        while (zr != Z_STREAM_END) {
            if (z.avail_in == 0 && in_left) {
                uInt n = in_left > CHUNK ? CHUNK : (uInt)in_left;
                z.next_in = (Bytef *)in;
                z.avail_in = n;
                in += n;
                in_left -= n;
            }
            z.next_out = out;
            z.avail_out = CHUNK;
            zr = inflate(&z, Z_NO_FLUSH);
            if (zr != Z_OK && zr != Z_STREAM_END) { err = HPK_E_DATA_CODEC; break; }
            size_t got = CHUNK - z.avail_out;
            if (got == 0 && zr == Z_OK && z.avail_in == 0 && in_left == 0) {
                err = HPK_E_DATA_CODEC; /* stream ends early */
                break;
            }
            total += got;
            if (total > e->size) { err = HPK_E_DATA_HASH; break; }
            XXH3_128bits_update(&st, out, got);
            if (got && sink && sink(ctx, out, got)) { err = HPK_E_SINK; break; }
        }
        /* Trailing bytes after the stream are corruption too. */
        if (err == HPK_OK && (z.avail_in || in_left)) err = HPK_E_DATA_CODEC;
        inflateEnd(&z);
        free(out);
        if (err != HPK_OK) return err;
    }
    if (total != e->size) return HPK_E_DATA_HASH;
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
    return memcmp(c.digest, e->hash, 16) == 0 ? HPK_OK : HPK_E_DATA_HASH;
}

int hpk_entry_slurp(const struct hpk_artifact *a, const struct hpk_entry *e, char **out, size_t *len)
{
    if (e->size > (64u << 20)) return HPK_E_NOMEM;
    struct slurp s = {.buf = malloc((size_t)e->size + 1), .len = 0, .cap = (size_t)e->size + 1};
    if (!s.buf) return HPK_E_NOMEM;
    int err = hpk_entry_decode(a, e, slurp_sink, &s);
    if (err != HPK_OK) {
        free(s.buf);
        return err;
    }
    s.buf[s.len] = 0;
    *out = s.buf;
    *len = s.len;
    return HPK_OK;
}

int hpk_entry_link_check(const struct hpk_artifact *a, const struct hpk_entry *e, const char *t,
                         size_t tlen)
{
    return hpk_link_resolve_sorted(&a->p, e->path, e->path_len, t, tlen);
}
