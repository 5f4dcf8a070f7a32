/*
 * verify.c - re-hash an unpacked tree against the payload's table
 * (--hpack-verify, hpack verify): every entry there, of its type and size,
 * every file's content equal to the decoded entry; or, after a restart
 * (HPK_VERIFY_HASH), every file's XXH3-128 equal to its entry's content
 * hash, which decodes nothing.
 */
#define _GNU_SOURCE
#include "hpk_unpack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hsink {
    int fd;
    int mismatch;
    uint8_t buf[1 << 16];
};

/* One buffer for both checks (the launcher's bss: 64 KiB). */
static struct hsink sink;

/* Compare the payload's decoded bytes with the file's, chunk by chunk. */
static int cmp_sink(void *ctx, const uint8_t *data, size_t len)
{
    struct hsink *h = ctx;
    while (len) {
        size_t n = len < sizeof h->buf ? len : sizeof h->buf;
        ssize_t r = read(h->fd, h->buf, n);
        if (r <= 0 || memcmp(h->buf, data, (size_t)r) != 0) {
            h->mismatch = 1;
            return -1;
        }
        data += r;
        len -= (size_t)r;
    }
    return 0;
}

/* A link's target against its entry's: a link retargeted in the tree is
 * not the link unpacked. */
static int link_matches(const struct hpk_artifact *a, const struct hpk_entry *e, int dir, const char *name,
                        struct hpk_err *err)
{
    char *t = NULL;
    size_t tlen = 0;
    int d = hpk_entry_slurp(a, e, &t, &tlen);
    if (d != HPK_OK)
        return hpk_fail(err, HPK_EXIT_PAYLOAD, "corrupt payload: entry " HPK_PATHFMT ": %s", HPK_PATHARG(e),
                        hpk_layout_strerror(d));
    /* sink.buf (64 KiB) holds any target the format allows (format.md 7.5). */
    ssize_t n = readlinkat(dir, name, (char *)sink.buf, sizeof sink.buf);
    int same = n >= 0 && (size_t)n == tlen && !memcmp(sink.buf, t, tlen);
    free(t);
    if (n < 0) return hpk_fail(err, HPK_EXIT_TAMPER, HPK_PATHFMT ": %s", HPK_PATHARG(e), strerror(errno));
    return same ? 0 : hpk_fail(err, HPK_EXIT_TAMPER, HPK_PATHFMT ": points elsewhere than the payload's link", HPK_PATHARG(e));
}

int hpk_verify_tree(const struct hpk_artifact *a, int tree, const char *defer, int how, struct hpk_err *err)
{
    struct hpk_dircache dc = {.root = tree, .fd = -1};
    int r = 0;
    for (uint32_t i = 0; i < a->p.count && r == 0; i++) {
        const struct hpk_entry *e = &a->p.entries[i];
        char name[HPK_NAME_MAX + 1];
        int dir = hpk_entry_dir(&dc, e, name, sizeof name);
        struct stat st;
        int missing = dir < 0 || fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0;
        /* Cache entries are unpacked only when used (HPACK_AOT), deferred
         * ones only when needed: absent is fine. */
        if (missing && (e->role == HPK_ROLE_CACHE || hpk_entry_deferrable(a, e, defer))) continue;
        if (missing || (st.st_mode & S_IFMT) != (e->mode & S_IFMT)) {
            r = hpk_fail(err, HPK_EXIT_TAMPER, HPK_PATHFMT ": missing or of the wrong type", HPK_PATHARG(e));
            break;
        }
        if (S_ISLNK(e->mode)) {
            r = link_matches(a, e, dir, name, err);
            continue;
        }
        /* Modes too: a file or directory others may write is how another
         * user gets her code into the tree (docs/security.md section 3).
         * A file may have no permission its entry lacks, nor lack its
         * owner's read or execute (a tree copied under a umask, 0640 for
         * 0644, or made read-only is fine); a directory may not be writable
         * by group or others (entries never are, format.md 5.1; one of the
         * cache role made after the unpack has the umask's and the
         * parent's set-group-ID). */
        if ((S_ISREG(e->mode) && ((st.st_mode & 07777 & ~e->mode) || (e->mode & 0500 & ~st.st_mode))) ||
            (S_ISDIR(e->mode) && (st.st_mode & 022))) {
            r = hpk_fail(err, HPK_EXIT_TAMPER, HPK_PATHFMT ": mode %04o, expected %04o", HPK_PATHARG(e),
                         (unsigned)(st.st_mode & 07777), (unsigned)(e->mode & 0777));
            break;
        }
        if (!S_ISREG(e->mode)) continue;
        if ((uint64_t)st.st_size != e->size) {
            r = hpk_fail(err, HPK_EXIT_TAMPER, HPK_PATHFMT ": size %lld, expected %llu", HPK_PATHARG(e),
                         (long long)st.st_size, (unsigned long long)e->size);
            break;
        }
        sink.fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        sink.mismatch = 0;
        if (sink.fd < 0) {
            r = hpk_fail(err, HPK_EXIT_TAMPER, HPK_PATHFMT ": %s", HPK_PATHARG(e), strerror(errno));
            break;
        }
        int d = HPK_OK;
        uint8_t got[16];
        int rd = HPK_OK;
        if (how == HPK_VERIFY_HASH) {
            rd = hpk_hash_fd(sink.fd, sink.buf, sizeof sink.buf, got);
            sink.mismatch = rd == HPK_OK && memcmp(got, e->hash, 16) != 0;
        } else {
            d = hpk_entry_decode(a, e, cmp_sink, &sink);
        }
        int rerr = errno;
        close(sink.fd);
        if (rd != HPK_OK) r = hpk_fail(err, HPK_EXIT_TAMPER, HPK_PATHFMT ": cannot read: %s", HPK_PATHARG(e), strerror(rerr));
        else if (sink.mismatch) r = hpk_fail(err, HPK_EXIT_TAMPER, HPK_PATHFMT ": content differs from the payload", HPK_PATHARG(e));
        else if (d != HPK_OK)
            r = hpk_fail(err, HPK_EXIT_PAYLOAD, "corrupt payload: entry " HPK_PATHFMT ": %s", HPK_PATHARG(e),
                         hpk_layout_strerror(d));
    }
    hpk_dircache_reset(&dc);
    return r;
}


/* A cache file another artifact of the same base hash added: kept only if
 * named <32 hex>.<ext> and its content's XXH3-128 is that name (format.md
 * section 11: cache files are named by their content hash). */
static int foreign_ok(int cache, const char *name)
{
    const char *dot = strchr(name, '.');
    if (!dot || dot - name != 32 || (strcmp(dot, ".aot") && strcmp(dot, ".jsa"))) return 0;
    /* O_NONBLOCK: a FIFO under that name must not hang the start that
     * holds the tree's lock; anything but a regular file is foreign. */
    int fd = openat(cache, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    uint8_t got[16];
    char hex[33];
    struct stat st;
    int r = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? hpk_hash_fd(fd, sink.buf, sizeof sink.buf, got) : -1;
    close(fd);
    hpk_hash_hex(got, hex);
    return r == HPK_OK && !memcmp(hex, name, 32);
}

int hpk_verify_foreign_cache(const struct hpk_artifact *a, int tree, struct hpk_err *err)
{
    int cache = openat(tree, "cache", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cache < 0) return 0; /* no cache directory: nothing was added */
    DIR *d = fdopendir(cache);
    if (!d) {
        close(cache);
        return hpk_fail(err, HPK_EXIT_UNPACK, "cache: %s", strerror(errno));
    }
    int r = 0, removed = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d))) {
        char path[HPK_NAME_MAX + 8];
        if (de->d_name[0] == '.' || snprintf(path, sizeof path, "cache/%s", de->d_name) >= (int)sizeof path) continue;
        if (hpk_payload_find(&a->p, path) || foreign_ok(dirfd(d), de->d_name)) continue;
        if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT)
            r = hpk_fail(err, HPK_EXIT_UNPACK, "%s: cannot remove: %s", path, strerror(errno));
        removed = 1;
    }
    /* Gone on the disk before the marker says settled. */
    if (r == 0 && removed && fsync(dirfd(d)) != 0)
        r = hpk_fail(err, HPK_EXIT_UNPACK, "cache: cannot sync: %s", strerror(errno));
    closedir(d);
    return r;
}
