/*
 * rmtree.c - removing trees and the temporaries of killed starts, without
 * following links.
 */
#define _GNU_SOURCE
#include "hpk_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hpk_rm_rf(int parent, const char *name)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return unlinkat(parent, name, 0) == 0 || errno == ENOENT ? 0 : -1;
    /* A read-only directory (from an entry's mode) must become writable to empty it. */
    fchmod(fd, 0700);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
            if (hpk_rm_rf(dirfd(d), de->d_name) != 0) r = -1;
        } else if (unlinkat(dirfd(d), de->d_name, 0) != 0) {
            r = -1;
        }
    }
    closedir(d);
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT) r = -1;
    return r;
}

/* Remove (files or trees) every name in `dir` that `match` accepts.
 * Names are collected first: removing while reading a directory may skip some. */
static void remove_matching(int dir, int (*match)(const char *name, const char *a, const char *b), const char *a,
                            const char *b)
{
    int fd = dup(dir);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return;
    }
    char **names = NULL;
    size_t count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!match(de->d_name, a, b)) continue;
        char **nn = realloc(names, (count + 1) * sizeof *nn);
        if (!nn) break;
        names = nn;
        if (!(names[count] = strdup(de->d_name))) break;
        count++;
    }
    closedir(d);
    for (size_t i = 0; i < count; i++) {
        hpk_rm_rf(dir, names[i]);
        free(names[i]);
    }
    free(names);
}

/* PREFIX<anything>.SUFFIX */
static int prefix_suffix(const char *name, const char *prefix, const char *suffix)
{
    size_t n = strlen(name), pl = strlen(prefix), sl = strlen(suffix);
    return n > pl + sl && !strncmp(name, prefix, pl) && !strcmp(name + n - sl, suffix) && name[n - sl - 1] == '.';
}

/* PREFIX.tmp.* or PREFIX.old.* */
static int stale_tree(const char *name, const char *prefix, const char *unused)
{
    (void)unused;
    size_t n = strlen(prefix);
    return !strncmp(name, prefix, n) && (!strncmp(name + n, ".tmp.", 5) || !strncmp(name + n, ".old.", 5));
}

void hpk_clean_prefix(int dir, const char *prefix, const char *suffix)
{
    remove_matching(dir, prefix_suffix, prefix, suffix);
}

void hpk_clean_stale(int parent, const char *prefix)
{
    remove_matching(parent, stale_tree, prefix, NULL);
}
