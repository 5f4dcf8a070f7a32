/*
 * store.c - find a tree in the system store and decide whether to trust it
 * (hpk_store.h). Read-only: nothing here creates or changes a file, so it
 * works on a read-only root file system and as any user.
 */
#define _GNU_SOURCE
#include "hpk_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *hpk_store_path(void)
{
    const char *s = getenv("HPACK_STORE");
    if (!s) return HPK_STORE_DEFAULT;
    return *s ? s : NULL;
}

int hpk_store_dir_ok(int fd, const char *what, struct hpk_err *e)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: %s", what, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: not a directory", what);
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: owned by uid %u, neither root nor you", what,
                        (unsigned)st.st_uid);
    if (st.st_mode & 022)
        return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: writable by group or others (mode %03o)", what,
                        (unsigned)(st.st_mode & 0777));
    return 0;
}

int hpk_store_open(const char *path, char *real, size_t n, struct hpk_err *e)
{
    char buf[PATH_MAX];
    e->code = 0;
    e->msg[0] = 0;
    if (!realpath(path, buf)) {
        if (errno == ENOENT || errno == ENOTDIR) return -1;
        return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: %s", path, strerror(errno));
    }
    if (snprintf(real, n, "%s", buf) >= (int)n) return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: path too long", buf);
    /* Walk the resolved path with O_NOFOLLOW: a link swapped in after
     * realpath fails the walk instead of leading elsewhere, so the
     * directories checked are the ones opened. */
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return hpk_fail(e, HPK_EXIT_CACHEDIR, "/: %s", strerror(errno));
    char *p = buf;
    for (;;) {
        char *slash = p;
        /* buf[0..slash) is the path opened so far ("" for "/"). */
        char saved = *slash;
        *slash = 0;
        int bad = hpk_store_dir_ok(fd, slash == buf ? "/" : buf, e);
        *slash = saved;
        if (bad) {
            close(fd);
            return -1;
        }
        while (*p == '/') p++;
        if (!*p) break;
        char *end = strchr(p, '/');
        if (end) *end = 0;
        int nfd = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int err = errno;
        if (end) *end = '/';
        close(fd);
        if (nfd < 0) {
            if (err == ENOENT) return -1;
            if (end) *end = 0;
            hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: %s", buf, strerror(err));
            return -1;
        }
        fd = nfd;
        p = end ? end : p + strlen(p);
    }
    return fd;
}

int hpk_store_tree(int store, const char *real, const char *hex, struct hpk_err *e)
{
    char what[PATH_MAX + 64];
    e->code = 0;
    e->msg[0] = 0;
    snprintf(what, sizeof what, "%s/%s", real, hex);
    int tree = openat(store, hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tree < 0) {
        if (errno == ENOENT) return -1;
        return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: %s", what, strerror(errno));
    }
    if (hpk_store_dir_ok(tree, what, e) != 0) {
        close(tree);
        return -1;
    }
    return tree;
}
