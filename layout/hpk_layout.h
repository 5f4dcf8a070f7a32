/*
 * hpk_layout.h - the hpack payload format, shared by the packer and the launcher.
 *
 * A payload is the content of the `.hpack` ELF section:
 *
 *     [entry data, back to back; a stored file of 4096 bytes or more at a
 *      multiple of 4096] [table of contents] [footer]
 *
 * The table and the fixed-size footer sit at the END, like a zip central
 * directory: appending an entry (the startup cache) rewrites only the table
 * and the footer, so every earlier entry keeps its bytes at its offset.
 * docs/format.md is the normative description; this header mirrors it.
 *
 * This module does no I/O and allocates only in hpk_layout_parse() and in
 * the table builder: the launcher links it statically, so it must stay small.
 */
#ifndef HPK_LAYOUT_H
#define HPK_LAYOUT_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define HPK_LAYOUT_VERSION 1u
#define HPK_ALIGN 4096u
#define HPK_FOOTER_SIZE 128u
#define HPK_RECORD_FIXED 56u
#define HPK_PATH_MAX 4095u   /* longest entry path, bytes */
#define HPK_NAME_MAX 255u    /* longest path component, bytes */
#define HPK_MAX_ENTRIES 1000000u
/* Content bytes per zstd frame (docs/format.md 5.3): every frame of a zstd
 * entry but the last decodes to exactly this many bytes. Fixed by the codec,
 * so a reader knows where each frame's output goes before decoding any.
 * Stored entries are unpacked in slices of HPK_ZSTD_FRAME too. */
#define HPK_ZSTD_FRAME (2u << 20)
/* ... and of a zstd8m entry: high levels search windows of 4-8 MiB, which
 * 2 MiB frames would cut short (docs/results.md: the JDK at level 19 is 2.3 %
 * smaller in 8 MiB frames). */
#define HPK_ZSTD_FRAME_LARGE (8u << 20)

/* A zstdref entry, its reference and, if that is zstdref too, the
 * reference's reference are held in memory to decode it: their sizes
 * together are at most this (docs/format.md 5.3). */
#define HPK_ZSTDREF_MAX (128u << 20)

#define HPK_FOOTER_MAGIC "HPACKFT1"
#define HPK_FOOTER_MAGIC_END "HPACKEND"

/* What an entry is for. The base hash covers every role but CACHE. */
enum hpk_role {
    HPK_ROLE_RUNTIME = 0,   /* the Java runtime tree, under runtime/ */
    HPK_ROLE_CLASSPATH = 1, /* an application jar, under app/ */
    HPK_ROLE_CONFIG = 2,    /* launch configuration, hpack/launch */
    HPK_ROLE_CACHE = 3,     /* a JVM startup cache and its provenance */
    HPK_ROLE_COUNT
};

enum hpk_codec {
    HPK_CODEC_STORED = 0,
    HPK_CODEC_ZLIB = 1, /* one zlib stream (RFC 1950) of the whole content */
    HPK_CODEC_ZSTD = 2, /* zstd frames (RFC 8878) of HPK_ZSTD_FRAME content bytes each, the last
                         * one shorter: independent, so one file decodes on several cores */
    HPK_CODEC_ZSTD8M = 3, /* the same in frames of HPK_ZSTD_FRAME_LARGE content bytes */
    HPK_CODEC_ZSTDREF = 4, /* u32 index of an earlier entry, then one zstd frame that decodes with that
                            * entry's content as its prefix: a file much like another (the JDK's four
                            * CDS archives) is stored as its difference (docs/format.md 5.3) */
    HPK_CODEC_COUNT
};

/* Error codes of this module; hpk_layout_strerror() names them. */
enum hpk_layout_err {
    HPK_OK = 0,
    HPK_E_TRUNCATED,      /* payload shorter than its footer says */
    HPK_E_MAGIC,          /* not an hpack footer */
    HPK_E_VERSION,        /* footer of a format version this reader does not know */
    HPK_E_FOOTER_SUM,     /* footer checksum mismatch */
    HPK_E_TOC_BOUNDS,     /* table offset/size outside the payload */
    HPK_E_TOC_SUM,        /* table checksum mismatch */
    HPK_E_TOC_RECORD,     /* malformed table record */
    HPK_E_ENTRY_BOUNDS,   /* entry data outside the data area, misaligned or overlapping */
    HPK_E_PATH,           /* hostile or malformed entry path */
    HPK_E_DUPLICATE,      /* two entries with one path */
    HPK_E_PARENT,         /* entry whose parent is not a directory entry */
    HPK_E_MODE,           /* unsupported file type or mode bits */
    HPK_E_ROLE,           /* unknown role or codec */
    HPK_E_HASH,           /* base or full hash does not match the table */
    HPK_E_NOMEM,
    HPK_E_NOT_ELF,        /* not a 64-bit little-endian ELF file */
    HPK_E_NO_SECTION,     /* ELF file without a .hpack section */
    HPK_E_IO,             /* read error (errno has the reason) */
    HPK_E_DATA_CODEC,     /* entry data does not decode */
    HPK_E_DATA_HASH,      /* entry data does not match its size or hash */
    HPK_E_SINK,           /* the consumer of entry data failed (errno has the reason) */
    HPK_E_COUNT
};

/* One entry of the table, decoded. `path` points into the table bytes and is
 * NOT NUL-terminated: use path_len. */
struct hpk_entry {
    uint64_t offset;      /* from the start of the payload; a multiple of HPK_ALIGN for a stored file of a page or more */
    uint64_t stored_size; /* bytes in the payload */
    uint64_t size;        /* bytes once decoded */
    uint8_t hash[16];     /* XXH3-128 of the decoded content, big-endian canonical form */
    uint64_t stored_hash; /* XXH3-64 of the stored bytes: pins every payload byte, even
                           * where two zlib streams would decode alike */
    uint32_t mode;        /* type (S_IFREG, S_IFDIR, S_IFLNK) and permission bits */
    uint8_t role;
    uint8_t codec;
    uint16_t path_len;
    const char *path;
};

struct hpk_footer {
    uint32_t version;
    uint32_t flags;
    uint64_t toc_offset;
    uint64_t toc_size;
    uint32_t entry_count;
    uint64_t data_end; /* end of the last entry's data: where an appended entry may start */
    uint8_t toc_hash[16];
    uint8_t base_hash[16];
    uint8_t full_hash[16];
};

/* A parsed, validated payload. Entries are in table order. */
struct hpk_payload {
    struct hpk_footer footer;
    struct hpk_entry *entries;
    uint32_t count;
    /* The entries in byte order of path (hpk_layout_parse keeps the index it
     * validated with): lookups are binary searches. NULL in a hand-made
     * payload, where hpk_payload_find falls back to a linear search. */
    const struct hpk_entry **sorted;
    /* On a parse error about one entry: its path (printable, truncated), for messages. */
    char err_path[128];
};

const char *hpk_layout_strerror(int err);
const char *hpk_role_name(unsigned role);
const char *hpk_codec_name(unsigned codec);
/* A zstd codec (frames), and the content bytes of each of its pieces: a
 * zstd frame, or a slice of a stored entry (docs/format.md 5.3). */
static inline int hpk_codec_zstd(unsigned codec) { return codec == HPK_CODEC_ZSTD || codec == HPK_CODEC_ZSTD8M; }
static inline uint32_t hpk_codec_frame(unsigned codec)
{
    return codec == HPK_CODEC_ZSTD8M ? HPK_ZSTD_FRAME_LARGE : HPK_ZSTD_FRAME;
}
int hpk_role_from_name(const char *name); /* -1 if unknown */

/* Little-endian fields: the format is little-endian on every host (and so
 * is zip, whose records packer/jar.c rewrites). */
static inline void hpk_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static inline void hpk_put32(uint8_t *p, uint32_t v) { hpk_put16(p, (uint16_t)v), hpk_put16(p + 2, (uint16_t)(v >> 16)); }
static inline void hpk_put64(uint8_t *p, uint64_t v) { hpk_put32(p, (uint32_t)v), hpk_put32(p + 4, (uint32_t)(v >> 32)); }
static inline uint16_t hpk_get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t hpk_get32(const uint8_t *p) { return hpk_get16(p) | (uint32_t)hpk_get16(p + 2) << 16; }
static inline uint64_t hpk_get64(const uint8_t *p) { return hpk_get32(p) | (uint64_t)hpk_get32(p + 4) << 32; }

static inline uint64_t hpk_align_up(uint64_t v)
{
    return (v + (HPK_ALIGN - 1)) & ~(uint64_t)(HPK_ALIGN - 1);
}

/* --- reading ----------------------------------------------------------- */

/* Decode and check the footer, which must be the last HPK_FOOTER_SIZE bytes of
 * a payload of `payload_size` bytes. Checks magic, version, checksum and that
 * the table lies inside the payload. */
int hpk_layout_footer_decode(const uint8_t buf[HPK_FOOTER_SIZE], uint64_t payload_size,
                             struct hpk_footer *out);

/* Decode and validate the table `toc` (footer->toc_size bytes): its checksum,
 * every record, paths, parents, overlaps, and the base and full hashes.
 * On success *out owns a malloc'ed entry array whose paths point into `toc`,
 * which must outlive it. Free with hpk_payload_free(). */
int hpk_layout_parse(const struct hpk_footer *footer, const uint8_t *toc, struct hpk_payload *out);

void hpk_payload_free(struct hpk_payload *p);

/* Find an entry by path; NULL if none. A binary search on p->sorted. */
const struct hpk_entry *hpk_payload_find(const struct hpk_payload *p, const char *path);

/* Check one entry path: relative, no empty, "." or ".." component, no NUL,
 * components <= HPK_NAME_MAX, total <= HPK_PATH_MAX. */
int hpk_layout_path_ok(const char *path, size_t len);

/* An entry path for a person to read: a path may hold any byte but NUL,
 * and a listing or message must not let it erase or forge lines on a
 * terminal, so control characters are written as \xNN, a byte each: C0
 * (below 0x20), DEL, C1 (U+0080-U+009F, in UTF-8 0xc2 0x80-0x9f) and every
 * byte that is not part of well-formed UTF-8 (a terminal in an 8-bit mode
 * takes a lone 0x9b as CSI). Other UTF-8 is written as it is; text already
 * so written stays as it is (hpk_fail applies it to every message).
 * hpk_layout_path_text() writes it NUL-terminated into out, cut before a
 * character that does not fit whole (HPK_PATH_TEXT_MAX always holds it).
 * hpk_layout_text_unit() gives the length of the character at p (1 to 4;
 * 1 for a byte that begins no well-formed sequence) and whether it is
 * escaped. */
#define HPK_PATH_TEXT_MAX (4 * HPK_PATH_MAX + 1)
void hpk_layout_path_text(char *out, size_t outn, const char *path, size_t len);
void hpk_layout_print_path(FILE *f, const char *path, size_t len);
/* A value of an artifact (the main class, a version, a variant's name: any
 * bytes but NUL), written so, whole; NULL as "?". */
void hpk_layout_print_text(FILE *f, const char *s);
size_t hpk_layout_text_unit(const char *p, size_t len, int *escaped);

/* Resolve a relative symlink target `t`, for a link at path `link`, lexically
 * within the namespace `link` lives in (entry paths for the launcher, paths
 * below the runtime directory for the packer). Returns HPK_LINK_OK, or
 * HPK_LINK_ESCAPES (empty, absolute, NUL inside, too long, or climbing above
 * the root), or HPK_LINK_THROUGH when an intermediate component is a symlink
 * according to `is_link` (NULL: not checked): a -> b/../.. with b -> .. would
 * otherwise climb out while looking tame. The launcher refuses such links;
 * the packer materialises them. */
enum { HPK_LINK_OK = 0, HPK_LINK_ESCAPES, HPK_LINK_THROUGH };
int hpk_link_resolve(const char *link, size_t link_len, const char *t, size_t tlen,
                     int (*is_link)(void *ctx, const char *path), void *ctx);

/* The same rule decided against a payload's sorted table without a lookup
 * per component from scratch: the directory being walked is kept as a stack
 * of ranges of the sorted index, so each step costs a binary search over
 * its siblings comparing one component, and a link's check is linear in
 * its target's length (times a logarithm), not quadratic. */
int hpk_link_resolve_sorted(const struct hpk_payload *p, const char *link, size_t link_len, const char *t,
                            size_t tlen);

/* --- hashing ----------------------------------------------------------- */

/* The base hash (include_cache = 0) or full hash (1) of a set of entries:
 * XXH3-128 over the canonical encoding of (path, mode, role, size, hash) of
 * each entry taken in byte order of path. Offsets and codecs are not part of
 * it: the same content packed differently has the same identity. */
int hpk_layout_identity(const struct hpk_entry *entries, uint32_t count, int include_cache,
                        uint8_t out[16]);

void hpk_hash_hex(const uint8_t h[16], char out[33]);
int hpk_hash_from_hex(const char *hex, uint8_t out[16]);

/* --- writing ----------------------------------------------------------- */

/* Size of an encoded table record for a path of `path_len` bytes. */
static inline size_t hpk_record_size(size_t path_len)
{
    return (HPK_RECORD_FIXED + path_len + 7u) & ~(size_t)7u;
}

/* Encode `count` entries as a table into `buf` (hpk_layout_toc_size() bytes). */
size_t hpk_layout_toc_size(const struct hpk_entry *entries, uint32_t count);
void hpk_layout_toc_encode(const struct hpk_entry *entries, uint32_t count, uint8_t *buf);

/* Fill in a footer for a table already encoded in `toc`: computes the table
 * hash, the base and full hashes and data_end, then encodes it into `out`. */
int hpk_layout_footer_make(const struct hpk_entry *entries, uint32_t count, const uint8_t *toc,
                           uint64_t toc_offset, uint64_t toc_size, struct hpk_footer *f,
                           uint8_t out[HPK_FOOTER_SIZE]);

#endif
