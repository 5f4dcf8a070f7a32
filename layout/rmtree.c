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

/* One directory on the way down: who it is (to know it again from below),
 * and the subdirectories it still holds. */
struct level {
    dev_t dev;
    ino_t ino;
    char **subs;
    size_t nsub, next;
};

static void level_free(struct level *l)
{
    for (size_t i = 0; i < l->nsub; i++) free(l->subs[i]);
    free(l->subs);
}

/* The names in directory dir but "." and "..", and whether each may be a
 * directory (DT_DIR or DT_UNKNOWN). Read whole, the directory closed,
 * before anything is removed: removing while reading a directory may skip
 * some. -1 if the reading stopped early (a read error, no memory); what
 * was read is returned all the same. */
static int read_names(int dir, char ***names_out, unsigned char **maydir_out, size_t *n_out)
{
    *names_out = NULL;
    *maydir_out = NULL;
    *n_out = 0;
    int fd = dup(dir);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char **names = NULL;
    unsigned char *maydir = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    for (errno = 0; (de = readdir(d)); errno = 0) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (n == cap) {
            char **nn = realloc(names, (cap ? 2 * cap : 16) * sizeof *nn);
            if (nn) names = nn;
            unsigned char *nd = nn ? realloc(maydir, cap ? 2 * cap : 16) : NULL;
            if (nd) maydir = nd;
            if (!nd) break; /* errno: ENOMEM */
            cap = cap ? 2 * cap : 16;
        }
        if (!(names[n] = strdup(de->d_name))) break;
        maydir[n++] = de->d_type == DT_DIR || de->d_type == DT_UNKNOWN;
    }
    int r = errno ? -1 : 0;
    closedir(d);
    *names_out = names;
    *maydir_out = maydir;
    *n_out = n;
    return r;
}

/* Empty the directory fd of everything but its subdirectories, whose names
 * go to l->subs. */
static int clear_files(int fd, struct level *l)
{
    struct stat st;
    *l = (struct level){0};
    if (fstat(fd, &st) != 0) return -1;
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    /* A read-only directory (from an entry's mode) must become writable to empty it. */
    fchmod(fd, 0700);
    char **names;
    unsigned char *isdir;
    size_t n;
    int r = read_names(fd, &names, &isdir, &n);
    for (size_t i = 0; i < n; i++) {
        if (isdir[i]) {
            names[l->nsub++] = names[i]; /* kept in place: l->nsub <= i */
            continue;
        }
        if (unlinkat(fd, names[i], 0) != 0 && errno != ENOENT) r = -1;
        free(names[i]);
    }
    free(isdir);
    l->subs = names;
    return r;
}

/* Depth first, with three descriptors open at most whatever the depth: a
 * payload may nest about 2 000 directories (paths of 4 095 bytes), and one
 * descriptor per level ran out (EMFILE) under a low `ulimit -n`, which left
 * a failed start's staging directory behind for every start after it.
 * Going up is openat(".."), taken only if it is the directory we came down
 * from (device and inode): a tree moved away meanwhile is not removed from
 * the wrong place. Subdirectories are opened O_NOFOLLOW: a link is removed,
 * never followed. */
int hpk_rm_rf(int parent, const char *name)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return unlinkat(parent, name, 0) == 0 || errno == ENOENT ? 0 : -1;
    size_t cap = 16, depth = 0, live = 0; /* st[0..depth] are the directories down to fd's */
    struct level *st = malloc(cap * sizeof *st);
    if (!st) {
        close(fd);
        return -1;
    }
    int r = clear_files(fd, &st[0]);
    for (;;) {
        struct level *l = &st[depth];
        if (l->next < l->nsub) {
            const char *sub = l->subs[l->next++];
            int cfd = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd < 0) {
                /* Not a directory after all (DT_UNKNOWN): a file or a link. */
                if (unlinkat(fd, sub, 0) != 0 && errno != ENOENT) r = -1;
                continue;
            }
            if (depth + 1 == cap) {
                struct level *ns = realloc(st, 2 * cap * sizeof *ns);
                if (!ns) {
                    close(cfd);
                    live = depth + 1;
                    r = -1;
                    break;
                }
                st = ns;
                cap *= 2;
            }
            if (clear_files(cfd, &st[depth + 1]) != 0) r = -1;
            close(fd);
            fd = cfd;
            depth++;
            continue;
        }
        /* Nothing more in it that we could remove: remove it from its parent. */
        level_free(l);
        if (depth == 0) {
            close(fd);
            fd = -1;
            if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT) r = -1;
            break;
        }
        int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat us;
        if (up < 0 || fstat(up, &us) != 0 || us.st_dev != st[depth - 1].dev || us.st_ino != st[depth - 1].ino) {
            if (up >= 0) close(up);
            live = depth;
            r = -1;
            break;
        }
        close(fd);
        fd = up;
        depth--;
        if (unlinkat(fd, st[depth].subs[st[depth].next - 1], AT_REMOVEDIR) != 0 && errno != ENOENT) r = -1;
    }
    if (fd >= 0) close(fd);
    for (size_t i = 0; i < live; i++) level_free(&st[i]);
    free(st);
    return r;
}

/* Remove (files or trees) every name in `dir` that `match` accepts. */
static void remove_matching(int dir, int (*match)(const char *name, const char *a, const char *b), const char *a,
                            const char *b)
{
    char **names;
    unsigned char *maydir;
    size_t n;
    read_names(dir, &names, &maydir, &n); /* what could be read */
    for (size_t i = 0; i < n; i++) {
        if (match(names[i], a, b)) hpk_rm_rf(dir, names[i]);
        free(names[i]);
    }
    free(names);
    free(maydir);
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
