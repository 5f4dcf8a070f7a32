/*
 * fuzz_artifact.c - libFuzzer harness over everything the launcher trusts:
 * the ELF section lookup, the footer, the table, entry decoding and the
 * launch configuration. An input is tried as an ELF file (its .hpack
 * section) and, failing that, as a bare payload.
 *
 *   make fuzz FUZZ_TIME=1800     run libFuzzer (clang) on the corpus
 *   make fuzz-regress            replay the corpus without libFuzzer (CI)
 */
#include "../../layout/hpk_artifact.h"
#include "../../layout/hpk_kv.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The launcher's parallel path: pieces decoded out of order (last first),
 * hashed in order, as layout/unpack.c does with several threads. */
static void fuzz_pieces(const struct hpk_artifact *a, const struct hpk_entry *e)
{
    struct hpk_piece *p;
    uint32_t n;
    if (e->codec == HPK_CODEC_ZLIB || hpk_entry_pieces(a, e, &p, &n) != HPK_OK) return;
    void *dctx = hpk_dctx_new();
    const uint8_t **out = calloc(n ? n : 1, sizeof *out);
    uint8_t **bufs = calloc(n ? n : 1, sizeof *bufs);
    int ok = dctx && out && bufs;
    for (uint32_t k = n; ok && k-- > 0;) {
        ok = (bufs[k] = malloc(hpk_codec_frame(e->codec))) != NULL;
        if (ok) ok = hpk_piece_decode(a, e, &p[k], dctx, bufs[k], &out[k]) == HPK_OK;
    }
    if (ok) {
        XXH3_state_t st;
        XXH3_128bits_reset(&st);
        for (uint32_t k = 0; k < n; k++) XXH3_128bits_update(&st, out[k], (size_t)p[k].out_len);
        (void)XXH3_128bits_digest(&st);
    }
    for (uint32_t k = 0; bufs && k < n; k++) free(bufs[k]);
    free(bufs);
    free(out);
    hpk_dctx_free(dctx);
    free(p);
}

static void fuzz_payload(const uint8_t *d, size_t n)
{
    struct hpk_footer f;
    if (n < HPK_FOOTER_SIZE || hpk_layout_footer_decode(d + n - HPK_FOOTER_SIZE, n, &f) != HPK_OK) return;
    /* A private copy of the table, as the launcher reads it with pread. */
    uint8_t *toc = malloc(f.toc_size ? f.toc_size : 1);
    if (!toc) return;
    memcpy(toc, d + f.toc_offset, f.toc_size);
    struct hpk_artifact a;
    memset(&a, 0, sizeof a);
    if (hpk_layout_parse(&f, toc, &a.p) == HPK_OK) {
        a.map = d;
        a.map_len = n;
        a.sec_size = n;
        for (uint32_t i = 0; i < a.p.count; i++) {
            const struct hpk_entry *e = &a.p.entries[i];
            /* A zlib bomb is slow, not a bug; zstd frames decode fast, and
             * three of them cover first, middle and last. */
            if (e->size > (hpk_codec_zstd(e->codec) ? 3ull * hpk_codec_frame(e->codec) : 1u << 20)) continue;
            if (e->size > (1u << 20)) {
                fuzz_pieces(&a, e);
                continue;
            }
            fuzz_pieces(&a, e);
            char *buf;
            size_t len;
            if (hpk_entry_slurp(&a, e, &buf, &len) != HPK_OK) continue;
            struct hpk_launch l;
            if (hpk_launch_decode(buf, len, &l) == 0) hpk_launch_free(&l);
            free(buf);
        }
        a.map = NULL;
        hpk_payload_free(&a.p);
    }
    free(toc);
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Checksums stop a mutating fuzzer at the door. For inputs whose first byte
 * is odd, reseal a copy: decode the table records loosely, rehash each
 * entry's stored bytes and rewrite the footer with hpk_layout_footer_make,
 * so the structural checks behind the checksums (records, paths, parents,
 * bounds, entry data) and the decoders get fuzzed too. */
static void fuzz_resealed(const uint8_t *d, size_t n)
{
    if (n < HPK_FOOTER_SIZE) return;
    uint8_t *c = malloc(n);
    if (!c) return;
    memcpy(c, d, n);
    uint8_t *fb = c + n - HPK_FOOTER_SIZE;
    uint64_t toc_off = rd64(fb + 16), body = n - HPK_FOOTER_SIZE;
    if (toc_off > body) toc_off = body & ~(uint64_t)7;
    uint64_t toc_size = body - toc_off;
    struct hpk_entry e[64];
    uint32_t count = 0;
    for (uint64_t pos = 0; count < 64 && toc_size - pos >= HPK_RECORD_FIXED;) {
        const uint8_t *r = c + toc_off + pos;
        struct hpk_entry *x = &e[count];
        x->offset = rd64(r);
        x->stored_size = rd64(r + 8);
        x->size = rd64(r + 16);
        memcpy(x->hash, r + 24, 16);
        x->mode = (uint32_t)rd64(r + 40) & 0xffffffffu;
        x->role = r[44];
        x->codec = r[45];
        x->path_len = (uint16_t)(r[46] | r[47] << 8);
        x->stored_hash = rd64(r + 48);
        x->path = (const char *)r + HPK_RECORD_FIXED;
        size_t rs = hpk_record_size(x->path_len);
        if (toc_size - pos < rs) break;
        /* The stored bytes' own hash too (rule D0), else every mutation of
         * them stops there and the codecs only ever see the seeds' streams. */
        if (x->stored_size && x->offset <= toc_off && x->stored_size <= toc_off - x->offset) {
            x->stored_hash = XXH3_64bits(c + x->offset, (size_t)x->stored_size);
            hpk_put64(c + toc_off + pos + 48, x->stored_hash);
        }
        pos += rs;
        count++;
    }
    struct hpk_footer f;
    if (hpk_layout_footer_make(e, count, c + toc_off, toc_off, toc_size, &f, fb) == HPK_OK) fuzz_payload(c, n);
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    uint64_t off, size;
    if (hpk_elf_find_section_mem(d, n, HPK_SECTION_NAME, &off, &size) == HPK_OK) {
        d += off;
        n = (size_t)size;
    }
    fuzz_payload(d, n);
    if (n && (d[0] & 1)) fuzz_resealed(d, n);
    return 0;
}

#include "replay.h"
