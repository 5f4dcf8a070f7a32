/*
 * snapshot.c - the snapshot: the list of items every input is read into,
 * exactly once, and the check that no input changed since.
 *
 * The packer never reads an input path after the snapshot (except to check
 * that it did not change): DA0 and DA1 are made from the same bytes, and a
 * file rewritten during training cannot slip into DA1 (the Besu problem).
 * A large input may be mapped rather than copied (inputfile.c): its bytes
 * are read later, through the mapping or with read(2) from the same file
 * (hpk_item_open checks device, inode and size; a mapping sees the same
 * page cache), and hpk_item_unchanged proves they are still the
 * snapshot's.
 * The readers that fill it: inputfile.c (a file), treewalk.c (a directory),
 * archive.c (a tar or zip), runtime.c (a Java home); hpk_inputs.h.
 */
#define _GNU_SOURCE
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "hpk_inputs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void hpk_hash_bytes(const void *buf, size_t len, uint8_t out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(buf, len));
    memcpy(out, c.digest, 16);
}

void hpk_snapshot_free(struct hpk_snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].path);
        hpk_item_data_free(&s->items[i]);
        free(s->items[i].source);
    }
    free(s->items);
    free(s->ix);
    free(s->runtime_root);
    free(s->java_version);
    free(s->runtime_version);
    for (int i = 0; i < s->n_archives; i++) free(s->archives[i]);
    memset(s, 0, sizeof *s);
}

struct hpk_item *hpk_snapshot_add(struct hpk_snapshot *s, const char *path, uint32_t mode, uint8_t role)
{
    struct hpk_item *v = hpk_grow(s->items, &s->cap, s->n, sizeof *v, 256);
    if (!v) return NULL;
    s->items = v;
    struct hpk_item *it = &s->items[s->n];
    memset(it, 0, sizeof *it);
    if (!(it->path = strdup(path))) return NULL;
    it->mode = mode;
    it->role = role;
    s->n++;
    return it;
}

/* A lookup by path was a scan of every item, so reading an archive of n
 * members took n^2/2 string compares (80 000 members: 20 s): an open
 * addressing table of item indices, hashed by XXH3 of the path. */
void hpk_snapshot_reindex(struct hpk_snapshot *s)
{
    s->ix_n = 0;
    if (s->ix) memset(s->ix, 0, s->ix_cap * sizeof *s->ix);
}

static size_t ix_slot(const struct hpk_snapshot *s, const char *path, size_t len)
{
    return (size_t)XXH3_64bits(path, len) & (s->ix_cap - 1);
}

/* Enter items[ix_n..n), growing the table to keep it at most half full;
 * 0, or -1 out of memory (the caller then scans). */
static int ix_update(struct hpk_snapshot *s)
{
    if (s->ix_n > s->n) hpk_snapshot_reindex(s); /* items were removed */
    if (s->ix_n == s->n) return 0;
    if (2 * s->n > s->ix_cap) {
        size_t cap = 1024;
        while (cap < 2 * s->n) cap *= 2;
        size_t *ix = calloc(cap, sizeof *ix);
        if (!ix) return -1;
        free(s->ix);
        s->ix = ix;
        s->ix_cap = cap;
        s->ix_n = 0;
    }
    for (; s->ix_n < s->n; s->ix_n++) {
        const char *p = s->items[s->ix_n].path;
        size_t k = ix_slot(s, p, strlen(p));
        while (s->ix[k]) k = (k + 1) & (s->ix_cap - 1);
        s->ix[k] = s->ix_n + 1;
    }
    return 0;
}

struct hpk_item *hpk_snapshot_find(struct hpk_snapshot *s, const char *path)
{
    if (ix_update(s) != 0) {
        for (size_t i = 0; i < s->n; i++)
            if (!strcmp(s->items[i].path, path)) return &s->items[i];
        return NULL;
    }
    if (!s->n) return NULL;
    /* Two items of one path (never made by the readers) give the first entered. */
    for (size_t k = ix_slot(s, path, strlen(path)); s->ix[k]; k = (k + 1) & (s->ix_cap - 1))
        if (!strcmp(s->items[s->ix[k] - 1].path, path)) return &s->items[s->ix[k] - 1];
    return NULL;
}

int hpk_snapshot_has(const struct hpk_snapshot *s, const char *path)
{
    return hpk_snapshot_find((struct hpk_snapshot *)s, path) != NULL;
}

int hpk_item_copy(struct hpk_item *to, const struct hpk_item *from)
{
    to->mode = from->mode;
    to->size = from->size;
    memcpy(to->hash, from->hash, 16);
    to->hash_later = from->hash_later; /* the copy's bytes are the same: hashed later too */
    to->id = from->id;
    to->no_compress = from->no_compress;
    hpk_item_data_free(to);
    if (from->data && !(to->data = malloc(from->size ? from->size : 1))) return -1;
    if (from->data) memcpy(to->data, from->data, from->size);
    free(to->source);
    to->source = from->source ? strdup(from->source) : NULL;
    return from->source && !to->source ? -1 : 0;
}

/* The walk is the kernel's, over items instead of the disk: components in
 * turn, ".." up one, a link's target spliced in before the rest (at most
 * 40 links, as the kernel's ELOOP limit). */
struct hpk_item *hpk_snapshot_follow(struct hpk_snapshot *s, const char *prefix, const char *start, char *out,
                                     size_t outn)
{
    char todo[2 * PATH_MAX], cur[PATH_MAX] = "", ent[PATH_MAX + 64];
    snprintf(todo, sizeof todo, "%s", start);
    struct hpk_item *it = hpk_snapshot_find(s, prefix);
    const char *p = todo;
    for (int hops = 0; *p;) {
        const char *sl = strchr(p, '/');
        size_t c = sl ? (size_t)(sl - p) : strlen(p);
        const char *comp = p;
        p = sl ? sl + 1 : p + c;
        if (c == 0 || (c == 1 && comp[0] == '.')) continue;
        size_t cl = strlen(cur);
        if (c == 2 && comp[0] == '.' && comp[1] == '.') {
            if (!cl) return NULL;
            char *last = strrchr(cur, '/');
            *(last ? last : cur) = 0;
            snprintf(ent, sizeof ent, "%s%s%s", prefix, *cur ? "/" : "", cur);
            it = hpk_snapshot_find(s, ent);
            continue;
        }
        if (cl + 1 + c >= sizeof cur) return NULL;
        snprintf(cur + cl, sizeof cur - cl, "%s%.*s", cl ? "/" : "", (int)c, comp);
        snprintf(ent, sizeof ent, "%s/%s", prefix, cur);
        if (!(it = hpk_snapshot_find(s, ent))) return NULL;
        if (S_ISLNK(it->mode)) {
            if (++hops > 40 || !it->size || it->data[0] == '/') return NULL;
            char rest[2 * PATH_MAX];
            snprintf(rest, sizeof rest, "%.*s%s%s", (int)it->size, (const char *)it->data, sl ? "/" : "", p);
            snprintf(todo, sizeof todo, "%s", rest);
            p = todo;
            char *last = strrchr(cur, '/'); /* the target is relative to the link's directory */
            *(last ? last : cur) = 0;
            snprintf(ent, sizeof ent, "%s%s%s", prefix, *cur ? "/" : "", cur);
            it = hpk_snapshot_find(s, ent);
        } else if (sl && !S_ISDIR(it->mode)) {
            return NULL; /* "file/..", "file/": the kernel says ENOTDIR */
        }
    }
    snprintf(out, outn, "%s", cur);
    return it;
}

/* The hash of a file's bytes, read through one small buffer: the re-check
 * reads every input again, and needs no copy of any. */
static int hash_file(const char *file, uint8_t out[16], size_t *size)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = malloc(CHUNK);
    XXH3_state_t *st = XXH3_createState();
    int rc = buf && st && XXH3_128bits_reset(st) == XXH_OK ? 0 : -1;
    *size = 0;
    for (ssize_t r; rc == 0 && (r = read(fd, buf, CHUNK)) != 0;) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 || XXH3_128bits_update(st, buf, (size_t)r) != XXH_OK) rc = -1;
        else *size += (size_t)r;
    }
    if (rc == 0) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
        memcpy(out, c.digest, 16);
    }
    XXH3_freeState(st);
    free(buf);
    close(fd);
    return rc;
}

int hpk_snapshot_recheck(const struct hpk_snapshot *s, struct hpk_err *e)
{
    uint8_t h[16];
    size_t n;
    for (int i = 0; i < s->n_archives; i++) {
        if (hash_file(s->archives[i], h, &n) != 0)
            return hpk_fail(e, HPK_ST_CHANGED, "%s: input disappeared during the build", s->archives[i]);
        if (memcmp(h, s->archive_hash[i], 16) != 0)
            return hpk_fail(e, HPK_ST_CHANGED, "%s: input changed during the build", s->archives[i]);
    }
    for (size_t i = 0; i < s->n; i++) {
        const struct hpk_item *it = &s->items[i];
        if (!it->source || !S_ISREG(it->mode)) continue;
        if (hash_file(it->source, h, &n) != 0)
            return hpk_fail(e, HPK_ST_CHANGED, "%s: input disappeared or became unreadable during the build",
                                it->source);
        int same = it->rewritten ? !memcmp(h, it->input_hash, 16) : n == it->size && !memcmp(h, it->hash, 16);
        if (!same)
            return hpk_fail(e, HPK_ST_CHANGED,
                                "%s: input changed during the build (the trained bytes would not be the shipped ones)",
                                it->source);
    }
    return 0;
}

/* The startup cache this runtime can make and use ("aot", "cds") or NULL:
 * recorded in hpack/launch as cache.kind (docs/format.md 9.2). */
const char *hpk_cache_kind(const struct hpk_snapshot *s)
{
    if (s->java_major >= 24) return "aot";
    if (s->java_major >= 13 && s->has_base_cds) return "cds";
    return NULL;
}
