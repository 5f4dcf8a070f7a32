/*
 * hpk_artifact.h - open an hpack artifact (an ELF file with a .hpack section),
 * read and validate its table, and stream entry contents with verification.
 *
 * Shared by the launcher (which opens /proc/self/exe) and the packer's
 * inspect/verify/extract commands, so there is one reader to test and fuzz.
 * Only plain system calls, no libelf: the launcher must stay small and static.
 */
#ifndef HPK_ARTIFACT_H
#define HPK_ARTIFACT_H

#include "hpk_layout.h"

#include <stddef.h>
#include <stdint.h>

#define HPK_SECTION_NAME ".hpack"

/* pread exactly len bytes at off: HPK_OK, HPK_E_IO, or HPK_E_TRUNCATED
 * (end of file first). */
int hpk_pread_full(int fd, void *buf, size_t len, uint64_t off);

/* The XXH3-128 (canonical, as an entry's content hash) of what `fd` reads
 * to its end, through buf[0..n): HPK_OK or HPK_E_IO. */
int hpk_hash_fd(int fd, void *buf, size_t n, uint8_t out[16]);

/* Find a section by name in an ELF64 little-endian file read through `fd`.
 * Returns HPK_OK with its file offset and size, HPK_E_NOT_ELF, HPK_E_NO_SECTION,
 * HPK_E_TRUNCATED (section past the end of the file) or HPK_E_IO. */
int hpk_elf_find_section(int fd, const char *name, uint64_t *off, uint64_t *size);

/* The same over an in-memory image (used by the fuzzer and the packer). */
int hpk_elf_find_section_mem(const uint8_t *img, size_t len, const char *name, uint64_t *off,
                             uint64_t *size);

struct hpk_artifact {
    int fd;               /* not owned */
    uint64_t sec_off;     /* file offset of the payload */
    uint64_t sec_size;
    uint8_t *toc;         /* owned copy of the table */
    struct hpk_payload p; /* entries point into toc */
    const uint8_t *map;   /* whole payload once hpk_artifact_map() succeeded */
    size_t map_len;
    size_t map_skew;      /* sec_off minus the page-aligned mapping start */
    char err_path[128];   /* after a failed open: the entry at fault, if any */
};

/* Locate the payload in `fd`, read the footer and table, validate them. */
int hpk_artifact_open(int fd, struct hpk_artifact *a);
/* Map the whole payload read-only (for entry data). */
int hpk_artifact_map(struct hpk_artifact *a);
void hpk_artifact_close(struct hpk_artifact *a);

/* Decode entry `e` from the mapped payload, handing the content to `sink`
 * in pieces; checks the decoded size and XXH3-128 at the end. A sink returns
 * 0 to go on, non-zero to stop (reported as HPK_E_SINK). Nothing is trusted
 * before the final check: a sink writing to disk must discard its output
 * unless this returns HPK_OK. */
typedef int (*hpk_sink_fn)(void *ctx, const uint8_t *buf, size_t len);
int hpk_entry_decode(const struct hpk_artifact *a, const struct hpk_entry *e, hpk_sink_fn sink,
                     void *ctx);

/* A zstdref entry decoded against its reference's content held by the
 * caller, instead of decoding that reference again: the parallel unpacker
 * maps the reference's file it has just written and checked. hpk_entry_ref
 * gives the reference when this applies (the entry is zstdref and its
 * reference, checked as hpk_entry_decode checks it, is not itself zstdref),
 * NULL otherwise. hpk_ref_decode checks e's stored bytes, decodes its frame
 * with `ref` (reflen bytes: must be the reference's size) as the prefix
 * into `out` (e->size bytes) and checks the content's XXH3-128; the caller
 * vouches for `ref` being the reference's content (a wrong one only makes
 * the hash fail). */
const struct hpk_entry *hpk_entry_ref(const struct hpk_artifact *a, const struct hpk_entry *e);
int hpk_ref_decode(const struct hpk_artifact *a, const struct hpk_entry *e, const uint8_t *ref, size_t reflen,
                   uint8_t *out);

/* One independently decodable piece of an entry: a zstd frame (of
 * hpk_codec_frame(codec) content bytes), or a slice of HPK_ZSTD_FRAME bytes
 * of a stored entry, or a whole zlib entry. Pieces of
 * one entry may be decoded in any order, on any thread: the parallel
 * unpacker hashes their outputs in order (XXH3-128 of the whole content). */
struct hpk_piece {
    uint64_t in_off;  /* within the entry's stored bytes */
    uint64_t in_len;
    uint64_t out_off; /* within the decoded content */
    uint64_t out_len;
};
/* Check the stored bytes (D0), then split entry `e` into pieces, checking
 * the zstd framing (every frame's header: one frame per hpk_codec_frame
 * content bytes, sizes declared, no dictionary, nothing left over). An entry
 * without data has no pieces. *out is malloc'ed (free it). */
int hpk_entry_pieces(const struct hpk_artifact *a, const struct hpk_entry *e, struct hpk_piece **out,
                     uint32_t *n);
/* Decode one piece of a stored or zstd entry. A stored piece is not copied:
 * *res points into the mapping. A zstd piece is decoded into `buf` (at least
 * out_len bytes) with `dctx` (hpk_dctx_new; one per thread), *res = buf.
 * Checks only that the piece decodes to its size: the caller hashes. */
int hpk_piece_decode(const struct hpk_artifact *a, const struct hpk_entry *e, const struct hpk_piece *p,
                     void *dctx, uint8_t *buf, const uint8_t **res);
void *hpk_dctx_new(void);
void hpk_dctx_free(void *dctx);

/* Memory of tens of MB written once: an anonymous mapping, 2 MiB aligned
 * and advised for huge pages, so that its first use takes a page fault per
 * 2 MiB, not per 4 KiB (on this project's VM those faults cost more than
 * decoding into the memory: docs/results.md). With `populate`, all of it is
 * mapped in one call now. Returns the start of n usable bytes, m keeping
 * the mapping for hpk_huge_free; NULL if there is no memory for it. */
struct hpk_huge {
    void *map;
    size_t len;
};
uint8_t *hpk_huge_map(struct hpk_huge *m, size_t n, int populate);
void hpk_huge_free(struct hpk_huge *m);

/* Read a small stored, zlib or zstd entry whole, verified, NUL-terminated.
 * Caller frees *out. */
int hpk_entry_slurp(const struct hpk_artifact *a, const struct hpk_entry *e, char **out,
                    size_t *len);

/* The launcher's rule for the symlink entry `e` whose target is t[0..tlen)
 * (docs/format.md section 7.5): hpk_link_resolve within the payload's
 * entries, refusing a target that passes through another symlink entry.
 * HPK_LINK_OK, HPK_LINK_ESCAPES or HPK_LINK_THROUGH. Every writer of links
 * (the launcher's unpacking, hpack extract) applies it. */
int hpk_entry_link_check(const struct hpk_artifact *a, const struct hpk_entry *e, const char *t,
                         size_t tlen);

#endif
