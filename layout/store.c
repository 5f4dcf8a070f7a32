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

/* The store rule for one directory on the way or the store itself. */
static int store_st_ok(const struct stat *st, const char *what, uid_t me, struct hpk_err *e)
{
    if (!S_ISDIR(st->st_mode)) return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: not a directory", what);
    if (st->st_uid != 0 && st->st_uid != me)
        return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: owned by uid %u, neither root nor you", what,
                        (unsigned)st->st_uid);
    if (st->st_mode & 022)
        return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: writable by group or others (mode %03o)", what,
                        (unsigned)(st->st_mode & 0777));
    return 0;
}

int hpk_store_dir_ok(int fd, const char *what, struct hpk_err *e)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: %s", what, strerror(errno));
    return store_st_ok(&st, what, geteuid(), e);
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
    /* Walk the resolved path without following links (dirsafe.c's walk): a
     * link swapped in after realpath fails the walk instead of leading
     * elsewhere, so the directories checked are the ones opened. Stricter
     * than the cache root's rule: no sticky exception on the way. */
    static const struct hpk_walk_rule rule = {.way = store_st_ok, .last = store_st_ok, .missing_ok = 1, .o_path = 1};
    int insecure;
    return hpk_dir_walk(buf, &rule, real, n, &insecure, e);
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
