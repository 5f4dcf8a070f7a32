/*
 * layout.c - encode, decode and validate the hpack payload table and footer.
 *
 * Everything the launcher trusts passes through hpk_layout_parse(): a reader
 * that accepted a malformed table could be steered into writing outside its
 * unpack directory, so validation is strict and complete here, once, for
 * both the packer (which re-reads what it wrote) and the launcher.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "hpk_layout.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void hash128(const void *buf, size_t len, uint8_t out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(buf, len));
    memcpy(out, c.digest, 16);
}

static const char *const err_names[HPK_E_COUNT] = {
    [HPK_OK] = "ok",
    [HPK_E_TRUNCATED] = "payload truncated",
    [HPK_E_MAGIC] = "no hpack footer (bad magic)",
    [HPK_E_VERSION] = "unsupported payload format version",
    [HPK_E_FOOTER_SUM] = "footer checksum mismatch",
    [HPK_E_TOC_BOUNDS] = "table of contents outside the payload",
    [HPK_E_TOC_SUM] = "table of contents checksum mismatch",
    [HPK_E_TOC_RECORD] = "malformed table record",
    [HPK_E_ENTRY_BOUNDS] = "entry data out of bounds, misaligned or overlapping",
    [HPK_E_PATH] = "invalid entry path",
    [HPK_E_DUPLICATE] = "duplicate entry path",
    [HPK_E_PARENT] = "entry parent is not a directory entry",
    [HPK_E_MODE] = "unsupported entry type or mode",
    [HPK_E_ROLE] = "unknown role or codec, or role in the wrong directory",
    [HPK_E_HASH] = "base or full hash does not match the table",
    [HPK_E_NOMEM] = "out of memory",
    [HPK_E_NOT_ELF] = "not an ELF executable (64-bit little-endian)",
    [HPK_E_NO_SECTION] = "no .hpack section (not an hpack artifact)",
    [HPK_E_IO] = "read error",
    [HPK_E_DATA_CODEC] = "entry data does not decode",
    [HPK_E_DATA_HASH] = "entry data does not match its hash",
    [HPK_E_SINK] = "write error",
};

const char *hpk_layout_strerror(int err)
{
    if (err < 0 || err >= HPK_E_COUNT) return "unknown error";
    return err_names[err];
}

static const char *const role_names[HPK_ROLE_COUNT] = {"runtime", "classpath", "config", "cache"};
/* The top-level directory each role lives under: enforced, so that a cache
 * entry (outside the base hash) can never shadow a runtime or class path file. */
static const char *const role_dirs[HPK_ROLE_COUNT] = {"runtime", "app", "hpack", "cache"};

const char *hpk_role_name(unsigned role) { return role < HPK_ROLE_COUNT ? role_names[role] : "?"; }

int hpk_role_from_name(const char *name)
{
    for (int i = 0; i < HPK_ROLE_COUNT; i++)
        if (strcmp(name, role_names[i]) == 0) return i;
    return -1;
}

const char *hpk_codec_name(unsigned codec)
{
    static const char *const names[HPK_CODEC_COUNT] = {"stored", "zlib", "zstd", "zstd8m", "zstdref"};
    return codec < HPK_CODEC_COUNT ? names[codec] : "?";
}

void hpk_hash_hex(const uint8_t h[16], char out[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[32] = 0;
}

int hpk_hash_from_hex(const char *hex, uint8_t out[16])
{
    for (int i = 0; i < 32; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return -1;
        if (i % 2 == 0) out[i / 2] = (uint8_t)(v << 4);
        else out[i / 2] |= (uint8_t)v;
    }
    return hex[32] == 0 ? 0 : -1;
}

int hpk_layout_path_ok(const char *path, size_t len)
{
    if (len == 0 || len > HPK_PATH_MAX) return 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] == 0) return 0;
        if (i == len || path[i] == '/') {
            size_t n = i - start;
            if (n == 0 || n > HPK_NAME_MAX) return 0; /* also rejects a leading '/' */
            if (n == 1 && path[start] == '.') return 0;
            if (n == 2 && path[start] == '.' && path[start + 1] == '.') return 0;
            start = i + 1;
        }
    }
    return 1;
}

/* The lexical walk of a link target shared by both rules. The walk keeps
 * the current path in `w->path` (w->n bytes) and the start of each of its
 * w->depth components in w->cs; `step` is asked about every intermediate
 * component just pushed (a non-zero answer: the path is a link). */
struct link_walk {
    char path[2 * HPK_PATH_MAX + 2];
    size_t n, depth;
    size_t cs[HPK_PATH_MAX + 2];
};

static int walk_push(struct link_walk *w, const char *c, size_t len)
{
    if (w->n + 1 + len >= sizeof w->path || w->depth + 1 >= sizeof w->cs / sizeof *w->cs) return -1;
    if (w->n) w->path[w->n++] = '/';
    w->cs[w->depth++] = w->n;
    memcpy(w->path + w->n, c, len);
    w->n += len;
    return 0;
}

static int link_walk(struct link_walk *w, const char *link, size_t link_len, const char *t, size_t tlen,
                     int (*step)(void *ctx, struct link_walk *w), void *ctx)
{
    if (tlen == 0 || t[0] == '/' || memchr(t, 0, tlen)) return HPK_LINK_ESCAPES;
    size_t d = link_len;
    while (d > 0 && link[d - 1] != '/') d--;
    d = d ? d - 1 : 0; /* the link's directory */
    w->n = w->depth = 0;
    for (size_t i = 0; i < d;) { /* its components (entry paths: no empty, "." or "..") */
        size_t j = i;
        while (j < d && link[j] != '/') j++;
        if (walk_push(w, link + i, j - i) != 0) return HPK_LINK_ESCAPES;
        i = j + 1;
    }
    for (size_t i = 0; i < tlen;) {
        size_t j = i;
        while (j < tlen && t[j] != '/') j++;
        size_t c = j - i;
        if (c == 2 && t[i] == '.' && t[i + 1] == '.') {
            if (w->depth == 0) return HPK_LINK_ESCAPES;
            w->depth--;
            w->n = w->cs[w->depth] ? w->cs[w->depth] - 1 : 0;
        } else if (!(c == 0 || (c == 1 && t[i] == '.'))) {
            if (walk_push(w, t + i, c) != 0) return HPK_LINK_ESCAPES;
            if (j < tlen && step && step(ctx, w)) return HPK_LINK_THROUGH; /* an intermediate component */
        }
        i = j + 1;
    }
    return HPK_LINK_OK;
}

struct by_name {
    int (*is_link)(void *ctx, const char *path);
    void *ctx;
};

static int step_by_name(void *ctx, struct link_walk *w)
{
    struct by_name *b = ctx;
    w->path[w->n] = 0;
    return b->is_link(b->ctx, w->path);
}

int hpk_link_resolve(const char *link, size_t link_len, const char *t, size_t tlen,
                     int (*is_link)(void *ctx, const char *path), void *ctx)
{
    struct link_walk *w = malloc(sizeof *w);
    if (!w) return HPK_LINK_ESCAPES; /* refuse rather than guess */
    struct by_name b = {is_link, ctx};
    int r = link_walk(w, link, link_len, t, tlen, is_link ? step_by_name : NULL, &b);
    free(w);
    return r;
}

/* Range of the sorted index whose paths all begin with the same `off` bytes:
 * the entries below one directory (off = its length + 1; the root: 0). */
struct span {
    uint32_t lo, hi;
    size_t off;
};

/* Compare the path of x after its first `off` bytes with c[0..len) followed
 * by the byte `tail` (tail < 0: nothing follows). */
static int suffix_cmp(const struct hpk_entry *x, size_t off, const char *c, size_t len, int tail)
{
    size_t sl = x->path_len - off, n = sl < len ? sl : len;
    int r = memcmp(x->path + off, c, n);
    if (r) return r;
    if (sl < len) return -1;
    if (tail < 0) return sl > len;
    if (sl == len) return -1;
    return (int)(unsigned char)x->path[off + len] - tail;
}

/* First index in s whose suffix is >= (c, tail). */
static uint32_t span_lower(const struct hpk_entry *const *idx, const struct span *s, const char *c, size_t len,
                           int tail)
{
    uint32_t lo = s->lo, hi = s->hi;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (suffix_cmp(idx[mid], s->off, c, len, tail) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

struct by_span {
    const struct hpk_payload *p;
    struct span *sp; /* sp[k]: the entries below the first k components */
    size_t valid;    /* sp[0..valid] describe the current path */
};

static int step_by_span(void *ctx, struct link_walk *w)
{
    struct by_span *b = ctx;
    const struct hpk_entry *const *idx = b->p->sorted;
    size_t d = w->depth - 1; /* the parent of the component just pushed */
    if (b->valid > d) b->valid = d;
    for (; b->valid < d; b->valid++) { /* descend: children of component k are "<k>/..." */
        size_t k = b->valid, cs = w->cs[k], len = (k + 1 < w->depth ? w->cs[k + 1] - 1 : w->n) - cs;
        const struct span *s = &b->sp[k];
        b->sp[k + 1].lo = span_lower(idx, s, w->path + cs, len, '/');
        b->sp[k + 1].hi = span_lower(idx, s, w->path + cs, len, '/' + 1);
        b->sp[k + 1].off = s->off + len + 1;
    }
    const struct span *s = &b->sp[d];
    size_t cs = w->cs[d], len = w->n - cs;
    uint32_t i = span_lower(idx, s, w->path + cs, len, -1);
    return i < s->hi && suffix_cmp(idx[i], s->off, w->path + cs, len, -1) == 0 && S_ISLNK(idx[i]->mode);
}

int hpk_link_resolve_sorted(const struct hpk_payload *p, const char *link, size_t link_len, const char *t,
                            size_t tlen)
{
    struct link_walk *w = malloc(sizeof *w);
    struct by_span b = {p, malloc(sizeof w->cs / sizeof *w->cs * sizeof(struct span)), 0};
    int r = HPK_LINK_ESCAPES; /* refuse rather than guess */
    if (w && b.sp && p->sorted) {
        b.sp[0] = (struct span){0, p->count, 0};
        r = link_walk(w, link, link_len, t, tlen, step_by_span, &b);
    }
    free(w);
    free(b.sp);
    return r;
}

/* ---- footer ---- */

/* Footer layout (little-endian), HPK_FOOTER_SIZE = 128 bytes:
 *   0 magic[8]  8 version u32  12 flags u32  16 toc_offset u64  24 toc_size u64
 *  32 entry_count u32  36 footer_size u32  40 data_end u64  48 toc_hash[16]
 *  64 base_hash[16]  80 full_hash[16]  96 reserved[16] (zero)
 * 112 footer_sum u64 = XXH3-64 of bytes 0..111   120 magic_end[8] */
static void footer_encode(const struct hpk_footer *f, uint8_t b[HPK_FOOTER_SIZE])
{
    memset(b, 0, HPK_FOOTER_SIZE);
    memcpy(b, HPK_FOOTER_MAGIC, 8);
    hpk_put32(b + 8, f->version);
    hpk_put32(b + 12, f->flags);
    hpk_put64(b + 16, f->toc_offset);
    hpk_put64(b + 24, f->toc_size);
    hpk_put32(b + 32, f->entry_count);
    hpk_put32(b + 36, HPK_FOOTER_SIZE);
    hpk_put64(b + 40, f->data_end);
    memcpy(b + 48, f->toc_hash, 16);
    memcpy(b + 64, f->base_hash, 16);
    memcpy(b + 80, f->full_hash, 16);
    hpk_put64(b + 112, XXH3_64bits(b, 112));
    memcpy(b + 120, HPK_FOOTER_MAGIC_END, 8);
}

int hpk_layout_footer_decode(const uint8_t b[HPK_FOOTER_SIZE], uint64_t payload_size,
                             struct hpk_footer *f)
{
    if (memcmp(b, HPK_FOOTER_MAGIC, 8) != 0 || memcmp(b + 120, HPK_FOOTER_MAGIC_END, 8) != 0)
        return HPK_E_MAGIC;
    if (hpk_get64(b + 112) != XXH3_64bits(b, 112)) return HPK_E_FOOTER_SUM;
    f->version = hpk_get32(b + 8);
    if (f->version != HPK_LAYOUT_VERSION || hpk_get32(b + 36) != HPK_FOOTER_SIZE) return HPK_E_VERSION;
    f->flags = hpk_get32(b + 12);
    f->toc_offset = hpk_get64(b + 16);
    f->toc_size = hpk_get64(b + 24);
    f->entry_count = hpk_get32(b + 32);
    f->data_end = hpk_get64(b + 40);
    memcpy(f->toc_hash, b + 48, 16);
    memcpy(f->base_hash, b + 64, 16);
    memcpy(f->full_hash, b + 80, 16);
    if (f->flags != 0) return HPK_E_VERSION;
    for (int i = 96; i < 112; i++)
        if (b[i] != 0) return HPK_E_VERSION;
    if (payload_size < HPK_FOOTER_SIZE) return HPK_E_TRUNCATED;
    /* The table ends exactly where the footer begins. */
    uint64_t body = payload_size - HPK_FOOTER_SIZE;
    if (f->toc_offset > body || f->toc_size != body - f->toc_offset || f->toc_offset % 8 != 0 ||
        f->data_end > f->toc_offset)
        return f->toc_offset + f->toc_size > body ? HPK_E_TRUNCATED : HPK_E_TOC_BOUNDS;
    if (f->entry_count > HPK_MAX_ENTRIES || f->entry_count > f->toc_size / HPK_RECORD_FIXED)
        return HPK_E_TOC_BOUNDS;
    return HPK_OK;
}

/* ---- table ---- */

/* Record layout (little-endian), 8-aligned, hpk_record_size(path_len) bytes:
 *   0 offset u64  8 stored_size u64  16 size u64  24 hash[16]  40 mode u32
 *  44 role u8  45 codec u8  46 path_len u16  48 stored_hash u64
 *  56 path bytes, zero padding */
size_t hpk_layout_toc_size(const struct hpk_entry *e, uint32_t count)
{
    size_t n = 0;
    for (uint32_t i = 0; i < count; i++) n += hpk_record_size(e[i].path_len);
    return n;
}

void hpk_layout_toc_encode(const struct hpk_entry *e, uint32_t count, uint8_t *buf)
{
    for (uint32_t i = 0; i < count; i++) {
        size_t rs = hpk_record_size(e[i].path_len);
        memset(buf, 0, rs);
        hpk_put64(buf, e[i].offset);
        hpk_put64(buf + 8, e[i].stored_size);
        hpk_put64(buf + 16, e[i].size);
        memcpy(buf + 24, e[i].hash, 16);
        hpk_put32(buf + 40, e[i].mode);
        buf[44] = e[i].role;
        buf[45] = e[i].codec;
        hpk_put16(buf + 46, e[i].path_len);
        hpk_put64(buf + 48, e[i].stored_hash);
        memcpy(buf + HPK_RECORD_FIXED, e[i].path, e[i].path_len);
        buf += rs;
    }
}

static int path_cmp(const struct hpk_entry *a, const struct hpk_entry *b)
{
    size_t n = a->path_len < b->path_len ? a->path_len : b->path_len;
    int c = memcmp(a->path, b->path, n);
    if (c) return c;
    return (a->path_len > b->path_len) - (a->path_len < b->path_len);
}

static int ptr_cmp(const void *x, const void *y)
{
    return path_cmp(*(const struct hpk_entry *const *)x, *(const struct hpk_entry *const *)y);
}

static const struct hpk_entry **sorted_index(const struct hpk_entry *e, uint32_t count)
{
    const struct hpk_entry **idx = malloc((count ? count : 1) * sizeof *idx);
    if (!idx) return NULL;
    for (uint32_t i = 0; i < count; i++) idx[i] = &e[i];
    qsort(idx, count, sizeof *idx, ptr_cmp);
    return idx;
}

static void identity_from_index(const struct hpk_entry **idx, uint32_t count, int include_cache,
                                uint8_t out[16])
{
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    XXH3_128bits_update(&st, "hpack-identity-1", 16);
    for (uint32_t i = 0; i < count; i++) {
        const struct hpk_entry *e = idx[i];
        if (!include_cache && e->role == HPK_ROLE_CACHE) continue;
        uint8_t b[2 + 4 + 1 + 8 + 16];
        hpk_put16(b, e->path_len);
        hpk_put32(b + 2, e->mode);
        b[6] = e->role;
        hpk_put64(b + 7, e->size);
        memcpy(b + 15, e->hash, 16);
        XXH3_128bits_update(&st, b, 2);
        XXH3_128bits_update(&st, e->path, e->path_len);
        XXH3_128bits_update(&st, b + 2, sizeof b - 2);
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
    memcpy(out, c.digest, 16);
}

int hpk_layout_identity(const struct hpk_entry *e, uint32_t count, int include_cache, uint8_t out[16])
{
    const struct hpk_entry **idx = sorted_index(e, count);
    if (!idx) return HPK_E_NOMEM;
    identity_from_index(idx, count, include_cache, out);
    free(idx);
    return HPK_OK;
}

static int role_dir_ok(const struct hpk_entry *e)
{
    const char *d = role_dirs[e->role];
    size_t n = strlen(d);
    if (e->path_len < n || memcmp(e->path, d, n) != 0) return 0;
    return e->path_len == n || e->path[n] == '/';
}

static int entry_check(const struct hpk_entry *e)
{
    if (e->role >= HPK_ROLE_COUNT || e->codec >= HPK_CODEC_COUNT) return HPK_E_ROLE;
    if (!hpk_layout_path_ok(e->path, e->path_len)) return HPK_E_PATH;
    if (!role_dir_ok(e)) return HPK_E_ROLE;
    static const uint8_t zero[16];
    switch (e->mode & S_IFMT) {
    case S_IFREG:
        if (e->mode & ~(uint32_t)(S_IFMT | 0755)) return HPK_E_MODE;
        break;
    case S_IFDIR:
        if (e->mode & ~(uint32_t)(S_IFMT | 0755) || e->size || e->stored_size ||
            e->codec != HPK_CODEC_STORED || memcmp(e->hash, zero, 16) != 0)
            return HPK_E_MODE;
        break;
    case S_IFLNK:
        if ((e->mode & 0777) != 0777 || e->mode & ~(uint32_t)(S_IFMT | 0777) || e->size == 0 || e->size > HPK_PATH_MAX ||
            e->codec != HPK_CODEC_STORED || e->role == HPK_ROLE_CACHE)
            return HPK_E_MODE;
        break;
    default:
        return HPK_E_MODE;
    }
    if (e->codec == HPK_CODEC_STORED && e->stored_size != e->size) return HPK_E_TOC_RECORD;
    if (e->stored_size == 0 && e->offset != 0) return HPK_E_ENTRY_BOUNDS;
    /* T10: a stored file of a page or more starts on a page. */
    if (e->codec == HPK_CODEC_STORED && e->stored_size >= HPK_ALIGN && e->offset % HPK_ALIGN)
        return HPK_E_ENTRY_BOUNDS;
    return HPK_OK;
}

/* Parent of a path: the bytes before its last '/'; top-level entries have none. */
static int parent_ok(const struct hpk_entry **idx, uint32_t count, const struct hpk_entry *e)
{
    size_t n = e->path_len;
    while (n > 0 && e->path[n - 1] != '/') n--;
    if (n == 0) return S_ISDIR(e->mode); /* only directories at the top level */
    struct hpk_entry key = {.path = e->path, .path_len = (uint16_t)(n - 1)};
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = path_cmp(idx[mid], &key);
        if (c == 0) return S_ISDIR(idx[mid]->mode) && idx[mid] < e; /* declared before use */
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

size_t hpk_layout_text_unit(const char *p, size_t len, int *escaped)
{
    const unsigned char *u = (const unsigned char *)p;
    unsigned char c = u[0];
    *escaped = c < 0x20 || c == 0x7f;
    if (c < 0x80) return 1;
    /* RFC 3629's table: the second byte's range depends on the first (no
     * overlong forms, no surrogates, nothing above U+10FFFF). */
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80, hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    *escaped = 1;
    if (n == 0 || n > len || u[1] < lo || u[1] > hi) return 1;
    for (size_t i = 2; i < n; i++)
        if (u[i] < 0x80 || u[i] > 0xbf) return 1;
    *escaped = c == 0xc2 && u[1] < 0xa0; /* C1 */
    return n;
}

/* The n bytes of one unit as shown, escaped or not, into t (16 bytes at
 * most); returns the length. */
static size_t unit_text(char t[16], const char *p, size_t n, int esc)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)p[k];
        if (!esc) t[o++] = (char)c;
        else t[o++] = '\\', t[o++] = 'x', t[o++] = hex[c >> 4], t[o++] = hex[c & 15];
    }
    return o;
}

void hpk_layout_path_text(char *out, size_t outn, const char *path, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        char t[16];
        int esc;
        size_t n = hpk_layout_text_unit(path + i, len - i, &esc), w = unit_text(t, path + i, n, esc);
        if (o + w >= outn) break;
        memcpy(out + o, t, w);
        o += w;
        i += n;
    }
    if (outn) out[o] = 0;
}

void hpk_layout_print_text(FILE *f, const char *s)
{
    if (!s) s = "?";
    hpk_layout_print_path(f, s, strlen(s));
}

void hpk_layout_print_path(FILE *f, const char *path, size_t len)
{
    for (size_t i = 0; i < len;) {
        char t[16];
        int esc;
        size_t n = hpk_layout_text_unit(path + i, len - i, &esc);
        fwrite(t, 1, unit_text(t, path + i, n, esc), f);
        i += n;
    }
}

/* Remember which entry was bad, printable, for the caller's message. */
static void note_path(struct hpk_payload *out, const struct hpk_entry *e)
{
    hpk_layout_path_text(out->err_path, sizeof out->err_path, e->path, e->path_len);
}

int hpk_layout_parse(const struct hpk_footer *f, const uint8_t *toc, struct hpk_payload *out)
{
    memset(out, 0, sizeof *out);
    uint8_t h[16];
    hash128(toc, f->toc_size, h);
    if (memcmp(h, f->toc_hash, 16) != 0) return HPK_E_TOC_SUM;

    struct hpk_entry *e = calloc(f->entry_count ? f->entry_count : 1, sizeof *e);
    if (!e) return HPK_E_NOMEM;
    int err = HPK_OK;
    const struct hpk_entry **idx = NULL;
    uint64_t pos = 0, data_end = 0;
    for (uint32_t i = 0; i < f->entry_count; i++) {
        if (f->toc_size - pos < HPK_RECORD_FIXED) { err = HPK_E_TOC_RECORD; goto fail; }
        const uint8_t *r = toc + pos;
        e[i].offset = hpk_get64(r);
        e[i].stored_size = hpk_get64(r + 8);
        e[i].size = hpk_get64(r + 16);
        memcpy(e[i].hash, r + 24, 16);
        e[i].mode = hpk_get32(r + 40);
        e[i].role = r[44];
        e[i].codec = r[45];
        e[i].path_len = hpk_get16(r + 46);
        e[i].stored_hash = hpk_get64(r + 48);
        e[i].path = (const char *)r + HPK_RECORD_FIXED;
        size_t rs = hpk_record_size(e[i].path_len);
        if (f->toc_size - pos < rs) { err = HPK_E_TOC_RECORD; goto fail; }
        for (size_t k = HPK_RECORD_FIXED + e[i].path_len; k < rs; k++)
            if (r[k] != 0) { err = HPK_E_TOC_RECORD; goto fail; }
        pos += rs;
        if ((err = entry_check(&e[i])) != HPK_OK) {
            note_path(out, &e[i]);
            goto fail;
        }
        /* Data areas come in table order and never overlap: appending an
         * entry can then only ever add bytes after data_end. */
        if (e[i].stored_size) {
            if (e[i].offset < data_end || e[i].stored_size > f->toc_offset ||
                e[i].offset > f->toc_offset - e[i].stored_size) {
                note_path(out, &e[i]);
                err = HPK_E_ENTRY_BOUNDS;
                goto fail;
            }
            data_end = e[i].offset + e[i].stored_size;
        }
    }
    if (pos != f->toc_size) { err = HPK_E_TOC_RECORD; goto fail; }
    if (data_end != f->data_end) { err = HPK_E_ENTRY_BOUNDS; goto fail; }

    if (!(idx = sorted_index(e, f->entry_count))) { err = HPK_E_NOMEM; goto fail; }
    for (uint32_t i = 1; i < f->entry_count; i++)
        if (path_cmp(idx[i - 1], idx[i]) == 0) {
            note_path(out, idx[i]);
            err = HPK_E_DUPLICATE;
            goto fail;
        }
    for (uint32_t i = 0; i < f->entry_count; i++)
        if (!parent_ok(idx, f->entry_count, &e[i])) {
            note_path(out, &e[i]);
            err = HPK_E_PARENT;
            goto fail;
        }
    identity_from_index(idx, f->entry_count, 0, h);
    if (memcmp(h, f->base_hash, 16) != 0) { err = HPK_E_HASH; goto fail; }
    identity_from_index(idx, f->entry_count, 1, h);
    if (memcmp(h, f->full_hash, 16) != 0) { err = HPK_E_HASH; goto fail; }
    out->footer = *f;
    out->entries = e;
    out->count = f->entry_count;
    out->sorted = idx;
    return HPK_OK;
fail:
    free(idx);
    free(e);
    return err;
}

void hpk_payload_free(struct hpk_payload *p)
{
    free(p->entries);
    free((void *)p->sorted);
    p->entries = NULL;
    p->sorted = NULL;
    p->count = 0;
}

const struct hpk_entry *hpk_payload_find(const struct hpk_payload *p, const char *path)
{
    size_t n = strlen(path);
    if (p->sorted) {
        struct span all = {0, p->count, 0};
        uint32_t i = span_lower(p->sorted, &all, path, n, -1);
        return i < p->count && suffix_cmp(p->sorted[i], 0, path, n, -1) == 0 ? p->sorted[i] : NULL;
    }
    for (uint32_t i = 0; i < p->count; i++)
        if (p->entries[i].path_len == n && memcmp(p->entries[i].path, path, n) == 0)
            return &p->entries[i];
    return NULL;
}

int hpk_layout_footer_make(const struct hpk_entry *e, uint32_t count, const uint8_t *toc,
                           uint64_t toc_offset, uint64_t toc_size, struct hpk_footer *f,
                           uint8_t out[HPK_FOOTER_SIZE])
{
    memset(f, 0, sizeof *f);
    f->version = HPK_LAYOUT_VERSION;
    f->toc_offset = toc_offset;
    f->toc_size = toc_size;
    f->entry_count = count;
    for (uint32_t i = 0; i < count; i++)
        if (e[i].stored_size && e[i].offset + e[i].stored_size > f->data_end)
            f->data_end = e[i].offset + e[i].stored_size;
    hash128(toc, toc_size, f->toc_hash);
    const struct hpk_entry **idx = sorted_index(e, count);
    if (!idx) return HPK_E_NOMEM;
    identity_from_index(idx, count, 0, f->base_hash);
    identity_from_index(idx, count, 1, f->full_hash);
    free(idx);
    footer_encode(f, out);
    return HPK_OK;
}
