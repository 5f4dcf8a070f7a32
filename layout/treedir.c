/*
 * treedir.c - reaching an entry's directory inside a tree being unpacked or
 * checked: from the tree's descriptor one component at a time, never
 * following a link (a link planted in the tree cannot lead a write outside
 * it), with the directory last reached kept open; and the names an entry is
 * written under.
 */
#define _GNU_SOURCE
#include "hpk_unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const struct timespec hpk_fixed_times[2] = {{HPK_FIXED_MTIME, 0}, {HPK_FIXED_MTIME, 0}};

void hpk_dircache_reset(struct hpk_dircache *dc)
{
    if (dc->fd >= 0 && dc->fd != dc->root) close(dc->fd);
    dc->fd = -1;
    dc->path[0] = 0;
}

/* Open directory `path` (relative to the tree) by walking it component by
 * component without following symlinks. */
static int walk_dir(int root, const char *path, size_t len)
{
    int fd = dup(root);
    if (fd < 0) return -1;
    size_t i = 0;
    char comp[HPK_NAME_MAX + 1];
    while (i < len) {
        size_t j = i;
        while (j < len && path[j] != '/') j++;
        memcpy(comp, path + i, j - i);
        comp[j - i] = 0;
        int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        close(fd);
        if (nfd < 0) {
            errno = saved;
            return -1;
        }
        fd = nfd;
        i = j + 1;
    }
    return fd;
}

/* Split `path` into its parent (opened, through the cache) and base name. */
static int parent_of(struct hpk_dircache *dc, const char *path, size_t len, const char **base)
{
    size_t n = len;
    while (n > 0 && path[n - 1] != '/') n--;
    *base = path + n;
    size_t plen = n ? n - 1 : 0;
    if (dc->fd >= 0 && strlen(dc->path) == plen && memcmp(dc->path, path, plen) == 0) return dc->fd;
    hpk_dircache_reset(dc);
    if (plen == 0) {
        dc->fd = dc->root;
        return dc->fd;
    }
    int fd = walk_dir(dc->root, path, plen);
    if (fd < 0) return -1;
    dc->fd = fd;
    memcpy(dc->path, path, plen);
    dc->path[plen] = 0;
    return fd;
}

int hpk_entry_dir(struct hpk_dircache *dc, const struct hpk_entry *e, char *name, size_t n)
{
    const char *base;
    int dir = parent_of(dc, e->path, e->path_len, &base);
    size_t blen = e->path_len - (size_t)(base - e->path);
    snprintf(name, n, "%.*s", (int)blen, base);
    return dir;
}

void hpk_cache_tmp_name(char *tmp, size_t n, const char *name)
{
    snprintf(tmp, n, ".tmp.%ld.%s", (long)getpid(), name);
}
