/*
 * ocilayer.c - reproducible OCI layers: a tar of sorted entries, owners and
 * times fixed, gzipped with fixed parameters and no name or time in the
 * gzip header, hashed (sha256) as it is written (hpk_image.h).
 */
#define _GNU_SOURCE
#include "hpk_image.h"
#include "../layout/hpk_tree.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

struct hpk_litem *hpk_litems_add(struct hpk_litems *l, const char *path, uint32_t mode)
{
    struct hpk_litem *v = hpk_grow(l->v, &l->cap, l->n, sizeof *v, 64);
    if (!v) return NULL;
    l->v = v;
    struct hpk_litem *it = &l->v[l->n];
    memset(it, 0, sizeof *it);
    if (!(it->path = strdup(path))) return NULL;
    it->mode = mode;
    l->n++;
    return it;
}

int hpk_litems_has(const struct hpk_litems *l, const char *path)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].path, path)) return 1;
    return 0;
}

struct hpk_litem *hpk_litems_add_p(struct hpk_litems *l, const char *path, uint32_t mode)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        if (!hpk_litems_has(l, buf) && !hpk_litems_add(l, buf, S_IFDIR | 0755)) return NULL;
        *s = '/';
    }
    return hpk_litems_add(l, path, mode);
}

int hpk_litems_add_tree(struct hpk_litems *l, const char *dir, const char *prefix, struct hpk_err *e)
{
    struct stat st;
    if (lstat(dir, &st) != 0) return hpk_fail(e, HPK_ST_INTERNAL, "%s: %s", dir, strerror(errno));
    struct hpk_litem *it = hpk_litems_add(l, prefix, st.st_mode & (S_IFMT | 07777));
    if (!it) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    if (S_ISREG(st.st_mode)) {
        it->src = strdup(dir);
        it->size = (size_t)st.st_size;
        return 0;
    }
    if (S_ISLNK(st.st_mode)) {
        char t[4096];
        ssize_t n = readlink(dir, t, sizeof t - 1);
        if (n < 0) return hpk_fail(e, HPK_ST_INTERNAL, "%s: %s", dir, strerror(errno));
        t[n] = 0;
        it->target = strdup(t);
        it->mode = S_IFLNK | 0777;
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) return hpk_fail(e, HPK_ST_INTERNAL, "%s: not a file, directory or link", dir);
    DIR *d = opendir(dir);
    if (!d) return hpk_fail(e, HPK_ST_INTERNAL, "%s: %s", dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *sub, *p;
        if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
        if (asprintf(&p, "%s/%s", prefix, de->d_name) < 0) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
        rc = hpk_litems_add_tree(l, sub, p, e);
        free(sub);
        free(p);
    }
    closedir(d);
    return rc;
}

void hpk_litems_free(struct hpk_litems *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].src);
        free(l->v[i].target);
        free(l->v[i].owned);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

void hpk_blob_free(struct hpk_blob *b)
{
    if (b->file) {
        unlink(b->file);
        hpk_tmp_forget(b->file);
        free(b->file);
    }
    memset(b, 0, sizeof *b);
}

/* ---- the gzip sink libarchive writes into ---- */
struct gz {
    FILE *f;
    z_stream z;
    struct hpk_sha256 raw, out;
    uint64_t raw_size, out_size;
    int err; /* errno of the first failure */
    uint8_t buf[1 << 16];
};

static int gz_drain(struct gz *g, int flush)
{
    int r;
    do {
        g->z.next_out = g->buf;
        g->z.avail_out = sizeof g->buf;
        r = deflate(&g->z, flush);
        if (r == Z_STREAM_ERROR) return -1;
        size_t n = sizeof g->buf - g->z.avail_out;
        if (n && fwrite(g->buf, 1, n, g->f) != n) {
            g->err = errno;
            return -1;
        }
        hpk_sha256_update(&g->out, g->buf, n);
        g->out_size += n;
    } while (g->z.avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
    return 0;
}

static la_ssize_t gz_write(struct archive *ar, void *ctx, const void *buf, size_t len)
{
    struct gz *g = ctx;
    hpk_sha256_update(&g->raw, buf, len);
    g->raw_size += len;
    g->z.next_in = (Bytef *)buf;
    g->z.avail_in = (uInt)len;
    if (gz_drain(g, Z_NO_FLUSH) != 0) {
        archive_set_error(ar, g->err ? g->err : EIO, "%s", g->err ? strerror(g->err) : "deflate failed");
        return -1;
    }
    return (la_ssize_t)len;
}

static int new_tmp(const char *tmpdir, struct hpk_blob *b, FILE **f, struct hpk_err *e)
{
    static unsigned seq;
    if (asprintf(&b->file, "%s/blob.%u", tmpdir, ++seq) < 0) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    hpk_tmp_register(b->file);
    *f = fopen(b->file, "wbx");
    if (!*f) return hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", b->file, strerror(errno));
    return 0;
}

static int cmp_item(const void *x, const void *y)
{
    return strcmp(((const struct hpk_litem *)x)->path, ((const struct hpk_litem *)y)->path);
}

static int write_item(struct archive *ar, const struct hpk_litem *it, struct hpk_err *e)
{
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, it->path);
    archive_entry_set_mode(ae, it->mode);
    archive_entry_set_mtime(ae, HPK_FIXED_MTIME, 0);
    archive_entry_set_uid(ae, it->uid);
    archive_entry_set_gid(ae, it->gid);
    if (S_ISLNK(it->mode)) archive_entry_set_symlink(ae, it->target);
    archive_entry_set_size(ae, S_ISREG(it->mode) ? (la_int64_t)it->size : 0);
    int rc = 0;
    if (archive_write_header(ar, ae) != ARCHIVE_OK)
        rc = hpk_fail(e, HPK_ST_OUTPUT, "layer entry %s: %s", it->path, archive_error_string(ar));
    archive_entry_free(ae);
    if (rc || !S_ISREG(it->mode)) return rc;
    if (it->data) {
        if (archive_write_data(ar, it->data, it->size) != (la_ssize_t)it->size)
            return hpk_fail(e, HPK_ST_OUTPUT, "layer entry %s: %s", it->path, archive_error_string(ar));
        return 0;
    }
    int fd = open(it->src, O_RDONLY | O_CLOEXEC); /* may be /proc/self/fd/N */
    if (fd < 0) return hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", it->src, strerror(errno));
    static uint8_t buf[1 << 16];
    size_t left = it->size;
    while (left) {
        ssize_t n = read(fd, buf, left < sizeof buf ? left : sizeof buf);
        if (n <= 0) {
            rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", it->src, n < 0 ? strerror(errno) : "shrank while read");
            break;
        }
        if (archive_write_data(ar, buf, (size_t)n) != n) {
            rc = hpk_fail(e, HPK_ST_OUTPUT, "layer entry %s: %s", it->path, archive_error_string(ar));
            break;
        }
        left -= (size_t)n;
    }
    close(fd);
    return rc;
}

int hpk_layer_write(struct hpk_litems *l, const char *tmpdir, struct hpk_blob *b, struct hpk_err *e)
{
    memset(b, 0, sizeof *b);
    /* Sorted by bytes: the same order whatever the directory order on disk
     * or the locale; a parent sorts before its children. */
    qsort(l->v, l->n, sizeof *l->v, cmp_item);
    for (size_t i = 1; i < l->n; i++)
        if (!strcmp(l->v[i].path, l->v[i - 1].path))
            return hpk_fail(e, HPK_ST_INTERNAL, "layer: %s given twice", l->v[i].path);
    struct gz *g = calloc(1, sizeof *g);
    if (!g) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    if (new_tmp(tmpdir, b, &g->f, e) != 0) {
        free(g);
        return -1;
    }
    hpk_sha256_init(&g->raw);
    hpk_sha256_init(&g->out);
    /* windowBits 15 + 16: a gzip wrapper; zlib writes its header with no
     * name and mtime 0, so the bytes depend only on the input (and on
     * zlib's version, like any compressor's). */
    if (deflateInit2(&g->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        fclose(g->f);
        free(g);
        return hpk_fail(e, HPK_ST_INTERNAL, "deflateInit2 failed");
    }
    struct archive *ar = archive_write_new();
    archive_write_set_format_pax_restricted(ar);
    int rc = 0;
    if (archive_write_open(ar, g, NULL, gz_write, NULL) != ARCHIVE_OK)
        rc = hpk_fail(e, HPK_ST_OUTPUT, "layer: %s", archive_error_string(ar));
    for (size_t i = 0; i < l->n && rc == 0; i++) rc = write_item(ar, &l->v[i], e);
    if (archive_write_close(ar) != ARCHIVE_OK && rc == 0)
        rc = hpk_fail(e, HPK_ST_OUTPUT, "layer: %s", archive_error_string(ar));
    archive_write_free(ar);
    g->z.avail_in = 0;
    if (rc == 0 && gz_drain(g, Z_FINISH) != 0)
        rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", b->file, g->err ? strerror(g->err) : "deflate failed");
    deflateEnd(&g->z);
    if (fclose(g->f) != 0 && rc == 0) rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", b->file, strerror(errno));
    uint8_t h[32];
    hpk_sha256_final(&g->raw, h);
    hpk_sha256_digest(h, b->diff_id);
    hpk_sha256_final(&g->out, h);
    hpk_sha256_digest(h, b->digest);
    b->size = g->out_size;
    free(g);
    if (rc != 0) hpk_blob_free(b);
    return rc;
}

int hpk_blob_bytes(const char *data, size_t len, const char *tmpdir, struct hpk_blob *b, struct hpk_err *e)
{
    memset(b, 0, sizeof *b);
    FILE *f;
    if (new_tmp(tmpdir, b, &f, e) != 0) return -1;
    int ok = fwrite(data, 1, len, f) == len;
    if (fclose(f) != 0 || !ok) {
        hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", b->file, strerror(errno));
        hpk_blob_free(b);
        return -1;
    }
    hpk_sha256_buf(data, len, b->digest);
    b->size = len;
    return 0;
}

