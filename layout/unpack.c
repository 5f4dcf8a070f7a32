/*
 * unpack.c - a payload's entries to disk as a tree that appears only
 * complete: directories and links in table order on the calling thread,
 * regular files through the parallel writer (filewriter.c), each verified;
 * the tree built under a temporary name and renamed into place (with the
 * cache file a first start passes, or every one for an extraction, in the
 * same pass); cache entries added to an existing tree later are written
 * to temporary names and renamed once all matched.
 *
 * Every file is created relative to a directory descriptor with O_NOFOLLOW
 * and O_EXCL, never through a string path, so a hostile table (already
 * refused by hpk_layout_parse) or a symlink planted in the tree cannot make
 * us write outside it. A crash leaves only temporaries, which the next start
 * removes (rmtree.c).
 */
#define _GNU_SOURCE
#include "hpk_unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Directories and links now; regular files go to `files` (hpk_write_files). */
static int write_entry(const struct hpk_artifact *a, const struct hpk_entry *e, struct hpk_dircache *dc,
                       struct hpk_fjobs *files, struct hpk_err *err)
{
    if (S_ISREG(e->mode)) {
        if (hpk_fjobs_add(files, e, 0) != 0) return hpk_fail(err, HPK_EXIT_UNPACK, "cannot unpack: out of memory");
        return 0;
    }
    char name[HPK_NAME_MAX + 1];
    int dir = hpk_entry_dir(dc, e, name, sizeof name);
    if (dir < 0)
        return hpk_fail(err, HPK_EXIT_UNPACK, "cannot open directory of " HPK_PATHFMT ": %s",
                        HPK_PATHARG(e), strerror(errno));
    switch (e->mode & S_IFMT) {
    case S_IFDIR:
        /* Owner-writable while we fill it; final mode set at the end. */
        if (mkdirat(dir, name, 0700) != 0)
            return hpk_fail(err, HPK_EXIT_UNPACK, "cannot create directory " HPK_PATHFMT ": %s",
                            HPK_PATHARG(e), strerror(errno));
        return 0;
    case S_IFLNK: {
        char *t;
        size_t tlen;
        int r = hpk_entry_slurp(a, e, &t, &tlen);
        if (r != HPK_OK)
            return hpk_fail(err, HPK_EXIT_PAYLOAD, "corrupt payload: entry " HPK_PATHFMT ": %s",
                            HPK_PATHARG(e), hpk_layout_strerror(r));
        if (hpk_entry_link_check(a, e, t, tlen) != HPK_LINK_OK) {
            free(t);
            return hpk_fail(err, HPK_EXIT_PAYLOAD,
                            "corrupt payload: symlink " HPK_PATHFMT " points outside the tree",
                            HPK_PATHARG(e));
        }
        r = symlinkat(t, dir, name);
        free(t);
        if (r != 0 || utimensat(dir, name, hpk_fixed_times, AT_SYMLINK_NOFOLLOW) != 0)
            return hpk_fail(err, HPK_EXIT_UNPACK, "cannot create symlink " HPK_PATHFMT ": %s",
                            HPK_PATHARG(e), strerror(errno));
        return 0;
    }
    default:
        return hpk_fail(err, HPK_EXIT_PAYLOAD, "corrupt payload: entry " HPK_PATHFMT ": %s", HPK_PATHARG(e),
                        hpk_layout_strerror(HPK_E_MODE));
    }
}

/* Give directories their recorded modes and the fixed mtime, deepest first
 * (so a read-only directory is finished after its children). */
static int finish_dirs(const struct hpk_artifact *a, struct hpk_dircache *dc, int cache_role,
                       struct hpk_err *err)
{
    for (uint32_t i = a->p.count; i-- > 0;) {
        const struct hpk_entry *e = &a->p.entries[i];
        if (!S_ISDIR(e->mode) || (e->role == HPK_ROLE_CACHE) != cache_role) continue;
        char name[HPK_NAME_MAX + 1];
        int dir = hpk_entry_dir(dc, e, name, sizeof name);
        if (dir < 0 || fchmodat(dir, name, e->mode & 0777, 0) != 0 ||
            utimensat(dir, name, hpk_fixed_times, AT_SYMLINK_NOFOLLOW) != 0)
            return hpk_fail(err, HPK_EXIT_UNPACK, "cannot finish directory " HPK_PATHFMT ": %s",
                            HPK_PATHARG(e), strerror(errno));
    }
    return 0;
}

/* Does e->path, from byte `at`, start with the len bytes of s? */
static int has_at(const struct hpk_entry *e, size_t at, const char *s, size_t len)
{
    return e->path_len >= at + len && memcmp(e->path + at, s, len) == 0;
}

int hpk_entry_deferrable(const struct hpk_artifact *a, const struct hpk_entry *e, const char *java)
{
    if (!java || e->role != HPK_ROLE_RUNTIME || !S_ISREG(e->mode)) return 0;
    /* The Java home: `java` without its last two components ("runtime" of
     * "runtime/bin/java"); the entry must be <home>/lib/<vm>/classes*.jsa. */
    const char *last = strrchr(java, '/');
    if (!last) return 0;
    const char *bin = last;
    while (bin > java && bin[-1] != '/') bin--;
    if (bin == java) return 0;
    size_t home = (size_t)(bin - java); /* with its '/' */
    if (!has_at(e, 0, java, home) || !has_at(e, home, "lib/", 4)) return 0;
    size_t vm = home + 4, p = vm;
    while (p < e->path_len && e->path[p] != '/') p++;
    if (p == vm || !has_at(e, p, "/classes", 8) || !has_at(e, e->path_len - 4, ".jsa", 4) ||
        memchr(e->path + p + 1, '/', e->path_len - p - 1))
        return 0;
    /* Only where a file can be added later: the directory's recorded mode
     * lets its owner write. */
    char dir[HPK_PATH_MAX + 1];
    if (p > HPK_PATH_MAX) return 0;
    memcpy(dir, e->path, p);
    dir[p] = 0;
    const struct hpk_entry *d = hpk_payload_find(&a->p, dir);
    return d && S_ISDIR(d->mode) && (d->mode & S_IWUSR);
}

const struct hpk_entry hpk_all_caches;

/* Is cache entry e among `cache` (NULL: none; one file, with the cache
 * directories; &hpk_all_caches: every one)? The one rule for both the
 * tree's pass and a later one. */
static int cache_wanted(const struct hpk_entry *e, const struct hpk_entry *cache)
{
    return cache && (cache == &hpk_all_caches || e == cache || S_ISDIR(e->mode));
}

/* Does hpk_unpack_tree write entry e? Every one but the cache entries, the
 * deferred ones left out; of the cache entries, those `cache` names. */
static int in_tree(const struct hpk_artifact *a, const struct hpk_entry *e, const char *defer,
                   const struct hpk_entry *cache)
{
    if (e->role == HPK_ROLE_CACHE) return cache_wanted(e, cache);
    return !hpk_entry_deferrable(a, e, defer);
}

int hpk_unpack_tree(const struct hpk_artifact *a, int parent, const char *name, enum hpk_mark mark,
                    const char *defer, const struct hpk_entry *cache, struct hpk_err *err)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", name, (long)getpid());
    /* Unpacking may hit RLIMIT_FSIZE: get EFBIG instead of dying of SIGXFSZ.
     * The launcher restores the default before exec. */
    signal(SIGXFSZ, SIG_IGN);
    if (mkdirat(parent, tmp, 0700) != 0)
        return hpk_fail(err, HPK_EXIT_UNPACK, "cannot create %s: %s", tmp, strerror(errno));
    int root = openat(parent, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0) {
        hpk_fail(err, HPK_EXIT_UNPACK, "cannot open %s: %s", tmp, strerror(errno));
        hpk_rm_rf(parent, tmp);
        return -1;
    }
    struct hpk_dircache dc = {.root = root, .fd = -1};
    struct hpk_fjobs files = {0};
    int r = 0;
    for (uint32_t i = 0; i < a->p.count && r == 0; i++)
        if (in_tree(a, &a->p.entries[i], defer, cache)) r = write_entry(a, &a->p.entries[i], &dc, &files, err);
    if (r == 0) r = hpk_write_files(a, root, &files, err);
    free(files.v);
    if (r == 0) r = finish_dirs(a, &dc, 0, err);
    if (r == 0 && cache) r = finish_dirs(a, &dc, 1, err);
    hpk_dircache_reset(&dc);
    if (r == 0 && mark != HPK_MARK_NONE) {
        char hex[33];
        hpk_hash_hex(a->p.footer.base_hash, hex);
        r = hpk_marker_write(root, hex, mark, err);
    }
    if (r == 0 && (fchmod(root, 0755) != 0 || renameat(parent, tmp, parent, name) != 0))
        r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot move %s into place: %s", tmp, strerror(errno));
    close(root);
    if (r != 0) hpk_rm_rf(parent, tmp);
    return r;
}

int hpk_extract_dir(const struct hpk_artifact *a, const char *dir, struct hpk_err *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return hpk_fail(err, HPK_EXIT_USAGE, "%s: path too long", dir);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = 0;
    char *slash = strrchr(buf, '/');
    const char *parent = ".", *name = buf;
    if (slash) {
        *slash = 0;
        parent = slash == buf ? "/" : buf;
        name = slash + 1;
    }
    if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
        return hpk_fail(err, HPK_EXIT_USAGE, "%s: give a new directory name", dir);
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) return hpk_fail(err, HPK_EXIT_USAGE, "cannot open the parent of %s: %s", dir, strerror(errno));
    int r = -1;
    /* The caches in the tree's own pass: the directory appears only with
     * every file in it. */
    if (faccessat(pfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) hpk_fail(err, HPK_EXIT_USAGE, "%s: already exists", dir);
    else r = hpk_unpack_tree(a, pfd, name, HPK_MARK_NONE, NULL, &hpk_all_caches, err);
    close(pfd);
    return r;
}


/* What a later pass adds to an unpacked tree: the cache entries `cache`
 * names (cache_wanted: every one, or one file with the cache directories:
 * a DA1 with variants carries several caches, a start needs one), or
 * (`defer`, a `java` path) the runtime entries hpk_unpack_tree left out. */
struct later {
    const struct hpk_entry *cache;
    const char *defer;
    int durable; /* the files' bytes on the disk before any is renamed into place */
};

static int later_wants(const struct hpk_artifact *a, const struct later *w, const struct hpk_entry *e)
{
    if (w->defer) return hpk_entry_deferrable(a, e, w->defer);
    return e->role == HPK_ROLE_CACHE && cache_wanted(e, w->cache);
}

/* The entries to add to `tree`: their directories made (or found), stale
 * temporaries removed, and every file not already there as unpacked queued
 * in `files`, to be written under its temporary name. */
static int later_plan(const struct hpk_artifact *a, const struct later *w, struct hpk_dircache *dc,
                      struct hpk_fjobs *files, struct hpk_err *err)
{
    for (uint32_t i = 0; i < a->p.count; i++) {
        const struct hpk_entry *e = &a->p.entries[i];
        if (!later_wants(a, w, e)) continue;
        char name[HPK_NAME_MAX + 1], tmp[HPK_NAME_MAX + 64];
        int dir = hpk_entry_dir(dc, e, name, sizeof name);
        if (dir < 0)
            return hpk_fail(err, HPK_EXIT_UNPACK, "cannot open directory of " HPK_PATHFMT ": %s", HPK_PATHARG(e),
                            strerror(errno));
        struct stat st;
        if (S_ISDIR(e->mode)) {
            if (mkdirat(dir, name, 0755) != 0 && errno != EEXIST)
                return hpk_fail(err, HPK_EXIT_UNPACK, "cannot create directory " HPK_PATHFMT ": %s",
                                HPK_PATHARG(e), strerror(errno));
            if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
                return hpk_fail(err, HPK_EXIT_TAMPER, HPK_PATHFMT " in the unpacked tree is not a directory",
                                HPK_PATHARG(e));
            continue;
        }
        /* A temporary of a killed start (we hold the lock: it is stale). */
        hpk_clean_prefix(dir, ".tmp.", name);
        /* Cache file names carry their content hash, and a deferred runtime
         * file is only ever renamed into its tree once it matched: an
         * existing file of the right size and mtime is this very entry. */
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            (uint64_t)st.st_size == e->size && st.st_mtime == HPK_FIXED_MTIME && st.st_uid == geteuid() &&
            !(st.st_mode & 022)) /* one only we can write (docs/security.md section 3) */
            continue;
        hpk_cache_tmp_name(tmp, sizeof tmp, name);
        unlinkat(dir, tmp, 0);
        if (hpk_fjobs_add(files, e, 1) != 0) return hpk_fail(err, HPK_EXIT_UNPACK, "cannot unpack: out of memory");
    }
    return 0;
}

/* Each written file renamed into place, in table order, when r == 0 (all
 * were written and matched), its directory given the fixed time again (a
 * runtime directory was finished before: its mtime must not tell when a
 * file was added); otherwise, and after a failed rename, every temporary
 * removed. The status, r or the first failure. */
static int later_publish(struct hpk_dircache *dc, const struct hpk_fjobs *files, int r, struct hpk_err *err)
{
    for (size_t i = 0; i < files->n; i++) {
        const struct hpk_entry *e = files->v[i].e;
        char name[HPK_NAME_MAX + 1], tmp[HPK_NAME_MAX + 64];
        int dir = hpk_entry_dir(dc, e, name, sizeof name);
        if (dir < 0) {
            if (r == 0)
                r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot open directory of " HPK_PATHFMT ": %s", HPK_PATHARG(e),
                             strerror(errno));
            continue;
        }
        hpk_cache_tmp_name(tmp, sizeof tmp, name);
        if (r == 0 && (renameat(dir, tmp, dir, name) != 0 || futimens(dir, hpk_fixed_times) != 0))
            r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot move " HPK_PATHFMT " into place: %s", HPK_PATHARG(e),
                         strerror(errno));
        if (r != 0) unlinkat(dir, tmp, 0);
    }
    return r;
}

static int unpack_later(const struct hpk_artifact *a, int tree, const struct later *w, struct hpk_err *err)
{
    struct hpk_dircache dc = {.root = tree, .fd = -1};
    struct hpk_fjobs files = {0};
    signal(SIGXFSZ, SIG_IGN);
    int r = later_plan(a, w, &dc, &files, err);
    if (r == 0) r = hpk_write_files(a, tree, &files, err);
    /* A settled tree on a host with no boot id (launcher/tree.c unsettle)
     * is never checked again: a file renamed into it must not lose its
     * bytes in a crash after its rename. */
    if (r == 0 && files.n && w->durable && syncfs(tree) != 0)
        r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot sync the added files: %s", strerror(errno));
    r = later_publish(&dc, &files, r, err);
    free(files.v);
    if (r == 0 && !w->defer) r = finish_dirs(a, &dc, 1, err);
    hpk_dircache_reset(&dc);
    return r;
}

int hpk_unpack_cache(const struct hpk_artifact *a, int tree, struct hpk_err *err)
{
    struct later w = {&hpk_all_caches, NULL, 0};
    return unpack_later(a, tree, &w, err);
}

int hpk_unpack_cache_one(const struct hpk_artifact *a, int tree, const struct hpk_entry *cache, int durable,
                         struct hpk_err *err)
{
    struct later w = {cache, NULL, durable};
    return unpack_later(a, tree, &w, err);
}

int hpk_unpack_deferred(const struct hpk_artifact *a, int tree, const char *java, int durable, struct hpk_err *err)
{
    struct later w = {NULL, java, durable};
    return unpack_later(a, tree, &w, err);
}
