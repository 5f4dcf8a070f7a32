/*
 * unpack.c - write a payload's entries to disk, verified, atomically.
 *
 * Every file is created relative to a directory descriptor with O_NOFOLLOW
 * and O_EXCL, never through a string path, so a hostile table (already
 * refused by hpk_layout_parse) or a symlink planted in the tree cannot make
 * us write outside it. Content is hashed while it is written and the tree is
 * renamed into place only after every entry matched: a crash leaves only a
 * temporary directory, which the next start removes.
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Test hook (tests/reliability): stop dead after writing this many bytes, to
 * simulate a crash at a chosen point of a first start. */
static long long kill_after = -1;
static long long written_total;

/* A cache of the directory last written into: entries come grouped by
 * directory, so this saves re-walking the path for almost every file. */
struct dircache {
    int root;
    int fd;
    char path[HPK_PATH_MAX + 1];
};

static void dc_reset(struct dircache *dc)
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
static int parent_of(struct dircache *dc, const char *path, size_t len, const char **base)
{
    size_t n = len;
    while (n > 0 && path[n - 1] != '/') n--;
    *base = path + n;
    size_t plen = n ? n - 1 : 0;
    if (dc->fd >= 0 && strlen(dc->path) == plen && memcmp(dc->path, path, plen) == 0) return dc->fd;
    dc_reset(dc);
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

struct wsink {
    int fd;
};

static int write_sink(void *ctx, const uint8_t *buf, size_t len)
{
    struct wsink *w = ctx;
    while (len) {
        size_t n = len;
        if (kill_after >= 0 && written_total + (long long)n > kill_after) {
            n = (size_t)(kill_after - written_total);
            if (n) {
                ssize_t r = write(w->fd, buf, n);
                (void)r;
            }
            raise(SIGKILL);
        }
        ssize_t r = write(w->fd, buf, n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) {
            errno = EIO;
            return -1;
        }
        buf += r;
        len -= (size_t)r;
        written_total += r;
    }
    return 0;
}

static const struct timespec fixed_times[2] = {{HPK_FIXED_MTIME, 0}, {HPK_FIXED_MTIME, 0}};

#define PATHFMT "%.*s"
#define PATHARG(e) (int)(e)->path_len, (e)->path

static int write_file(const struct hpk_artifact *a, const struct hpk_entry *e, int dir,
                      const char *name, struct hpk_err *err)
{
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return hpk_fail(err, HPK_EXIT_UNPACK, "cannot create " PATHFMT ": %s", PATHARG(e),
                        strerror(errno));
    struct wsink w = {fd};
    int r = hpk_entry_decode(a, e, write_sink, &w);
    int saved = errno;
    if (r == HPK_E_SINK) {
        close(fd);
        return hpk_fail(err, HPK_EXIT_UNPACK, "cannot write " PATHFMT ": %s", PATHARG(e),
                        strerror(saved));
    }
    if (r != HPK_OK) {
        close(fd);
        return hpk_fail(err, HPK_EXIT_PAYLOAD, "corrupt payload: entry " PATHFMT ": %s", PATHARG(e),
                        hpk_layout_strerror(r));
    }
    if (fchmod(fd, e->mode & 0777) != 0 || futimens(fd, fixed_times) != 0 || close(fd) != 0)
        return hpk_fail(err, HPK_EXIT_UNPACK, "cannot finish " PATHFMT ": %s", PATHARG(e),
                        strerror(errno));
    return 0;
}

static int write_entry(const struct hpk_artifact *a, const struct hpk_entry *e, struct dircache *dc,
                       struct hpk_err *err)
{
    const char *base;
    char name[HPK_NAME_MAX + 1];
    int dir = parent_of(dc, e->path, e->path_len, &base);
    if (dir < 0)
        return hpk_fail(err, HPK_EXIT_UNPACK, "cannot open directory of " PATHFMT ": %s",
                        PATHARG(e), strerror(errno));
    size_t blen = e->path_len - (size_t)(base - e->path);
    memcpy(name, base, blen);
    name[blen] = 0;
    switch (e->mode & S_IFMT) {
    case S_IFDIR:
        /* Owner-writable while we fill it; final mode set at the end. */
        if (mkdirat(dir, name, 0700) != 0)
            return hpk_fail(err, HPK_EXIT_UNPACK, "cannot create directory " PATHFMT ": %s",
                            PATHARG(e), strerror(errno));
        return 0;
    case S_IFLNK: {
        char *t;
        size_t tlen;
        int r = hpk_entry_slurp(a, e, &t, &tlen);
        if (r != HPK_OK)
            return hpk_fail(err, HPK_EXIT_PAYLOAD, "corrupt payload: entry " PATHFMT ": %s",
                            PATHARG(e), hpk_layout_strerror(r));
        if (hpk_entry_link_check(a, e, t, tlen) != HPK_LINK_OK) {
            free(t);
            return hpk_fail(err, HPK_EXIT_PAYLOAD,
                            "corrupt payload: symlink " PATHFMT " points outside the tree",
                            PATHARG(e));
        }
        r = symlinkat(t, dir, name);
        free(t);
        if (r != 0 || utimensat(dir, name, fixed_times, AT_SYMLINK_NOFOLLOW) != 0)
            return hpk_fail(err, HPK_EXIT_UNPACK, "cannot create symlink " PATHFMT ": %s",
                            PATHARG(e), strerror(errno));
        return 0;
    }
    default:
        return write_file(a, e, dir, name, err);
    }
}

/* Give directories their recorded modes and the fixed mtime, deepest first
 * (so a read-only directory is finished after its children). */
static int finish_dirs(const struct hpk_artifact *a, struct dircache *dc, int cache_role,
                       struct hpk_err *err)
{
    for (uint32_t i = a->p.count; i-- > 0;) {
        const struct hpk_entry *e = &a->p.entries[i];
        if (!S_ISDIR(e->mode) || (e->role == HPK_ROLE_CACHE) != cache_role) continue;
        const char *base;
        char name[HPK_NAME_MAX + 1];
        int dir = parent_of(dc, e->path, e->path_len, &base);
        size_t blen = e->path_len - (size_t)(base - e->path);
        memcpy(name, base, blen);
        name[blen] = 0;
        if (dir < 0 || fchmodat(dir, name, e->mode & 0777, 0) != 0 ||
            utimensat(dir, name, fixed_times, AT_SYMLINK_NOFOLLOW) != 0)
            return hpk_fail(err, HPK_EXIT_UNPACK, "cannot finish directory " PATHFMT ": %s",
                            PATHARG(e), strerror(errno));
    }
    return 0;
}

static void load_hooks(void)
{
    const char *k = getenv("HPACK_TEST_KILL_AFTER_BYTES");
    if (k && *k) kill_after = atoll(k);
}

int hpk_unpack_tree(const struct hpk_artifact *a, int parent, const char *name, int marker, struct hpk_err *err)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", name, (long)getpid());
    load_hooks();
    /* Unpacking may hit RLIMIT_FSIZE: get EFBIG instead of dying of SIGXFSZ.
     * main.c restores the default before exec. */
    signal(SIGXFSZ, SIG_IGN);
    if (mkdirat(parent, tmp, 0700) != 0)
        return hpk_fail(err, HPK_EXIT_UNPACK, "cannot create %s: %s", tmp, strerror(errno));
    int root = openat(parent, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0) {
        hpk_fail(err, HPK_EXIT_UNPACK, "cannot open %s: %s", tmp, strerror(errno));
        hpk_rm_rf(parent, tmp);
        return -1;
    }
    struct dircache dc = {.root = root, .fd = -1};
    int r = 0;
    for (uint32_t i = 0; i < a->p.count && r == 0; i++)
        if (a->p.entries[i].role != HPK_ROLE_CACHE) r = write_entry(a, &a->p.entries[i], &dc, err);
    if (r == 0) r = finish_dirs(a, &dc, 0, err);
    dc_reset(&dc);
    if (r == 0 && marker) {
        char hex[33];
        hpk_hash_hex(a->p.footer.base_hash, hex);
        int fd = openat(root, HPK_MARKER, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        hex[32] = '\n';
        /* fchmod: 0644 whatever the umask (a store tree is read by every user, and an image's bytes must not depend on it). */
        if (fd < 0 || write(fd, hex, 33) != 33 || fchmod(fd, 0644) != 0 || futimens(fd, fixed_times) != 0 || close(fd) != 0)
            r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot write %s: %s", HPK_MARKER, strerror(errno));
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
    if (faccessat(pfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        hpk_fail(err, HPK_EXIT_USAGE, "%s: already exists", dir);
    } else if (hpk_unpack_tree(a, pfd, name, 0, err) == 0) {
        int tree = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tree < 0) hpk_fail(err, HPK_EXIT_UNPACK, "%s: %s", dir, strerror(errno));
        else r = hpk_unpack_cache(a, tree, err);
        if (tree >= 0) close(tree);
    }
    close(pfd);
    return r;
}

int hpk_unpack_cache(const struct hpk_artifact *a, int tree, struct hpk_err *err)
{
    struct dircache dc = {.root = tree, .fd = -1};
    int r = 0;
    load_hooks();
    signal(SIGXFSZ, SIG_IGN);
    for (uint32_t i = 0; i < a->p.count && r == 0; i++) {
        const struct hpk_entry *e = &a->p.entries[i];
        if (e->role != HPK_ROLE_CACHE) continue;
        const char *base;
        char name[HPK_NAME_MAX + 1], tmp[HPK_NAME_MAX + 64];
        int dir = parent_of(&dc, e->path, e->path_len, &base);
        size_t blen = e->path_len - (size_t)(base - e->path);
        memcpy(name, base, blen);
        name[blen] = 0;
        if (dir < 0) {
            r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot open directory of " PATHFMT ": %s",
                         PATHARG(e), strerror(errno));
            break;
        }
        struct stat st;
        if (S_ISDIR(e->mode)) {
            if (mkdirat(dir, name, 0755) != 0 && errno != EEXIST)
                r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot create directory " PATHFMT ": %s",
                             PATHARG(e), strerror(errno));
            else if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
                r = hpk_fail(err, HPK_EXIT_TAMPER, PATHFMT " in the unpacked tree is not a directory",
                             PATHARG(e));
            continue;
        }
        /* A temporary of a killed start (we hold the lock: it is stale). */
        hpk_clean_prefix(dir, ".tmp.", name);
        /* Cache file names carry their content hash: an existing file of the
         * right size and mtime is this very entry. */
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            (uint64_t)st.st_size == e->size && st.st_mtime == HPK_FIXED_MTIME)
            continue;
        snprintf(tmp, sizeof tmp, ".tmp.%ld.%s", (long)getpid(), name);
        unlinkat(dir, tmp, 0);
        if ((r = write_file(a, e, dir, tmp, err)) != 0) {
            unlinkat(dir, tmp, 0);
            break;
        }
        if (renameat(dir, tmp, dir, name) != 0) {
            r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot move " PATHFMT " into place: %s", PATHARG(e),
                         strerror(errno));
            unlinkat(dir, tmp, 0);
        }
    }
    if (r == 0) r = finish_dirs(a, &dc, 1, err);
    dc_reset(&dc);
    return r;
}

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

struct hsink {
    int fd;
    int mismatch;
    uint8_t buf[1 << 16];
};

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

int hpk_verify_tree(const struct hpk_artifact *a, int tree, struct hpk_err *err)
{
    struct dircache dc = {.root = tree, .fd = -1};
    static struct hsink h;
    int r = 0;
    for (uint32_t i = 0; i < a->p.count && r == 0; i++) {
        const struct hpk_entry *e = &a->p.entries[i];
        const char *base;
        char name[HPK_NAME_MAX + 1];
        int dir = parent_of(&dc, e->path, e->path_len, &base);
        size_t blen = e->path_len - (size_t)(base - e->path);
        memcpy(name, base, blen);
        name[blen] = 0;
        struct stat st;
        int missing = dir < 0 || fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0;
        /* Cache entries are unpacked only when used (HPACK_AOT): absent is fine. */
        if (missing && e->role == HPK_ROLE_CACHE) continue;
        if (missing || (st.st_mode & S_IFMT) != (e->mode & S_IFMT)) {
            r = hpk_fail(err, HPK_EXIT_TAMPER, PATHFMT ": missing or of the wrong type", PATHARG(e));
            break;
        }
        if (!S_ISREG(e->mode)) continue;
        if ((uint64_t)st.st_size != e->size) {
            r = hpk_fail(err, HPK_EXIT_TAMPER, PATHFMT ": size %lld, expected %llu", PATHARG(e),
                         (long long)st.st_size, (unsigned long long)e->size);
            break;
        }
        h.fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        h.mismatch = 0;
        if (h.fd < 0) {
            r = hpk_fail(err, HPK_EXIT_TAMPER, PATHFMT ": %s", PATHARG(e), strerror(errno));
            break;
        }
        int d = hpk_entry_decode(a, e, cmp_sink, &h);
        close(h.fd);
        if (h.mismatch) r = hpk_fail(err, HPK_EXIT_TAMPER, PATHFMT ": content differs from the payload", PATHARG(e));
        else if (d != HPK_OK)
            r = hpk_fail(err, HPK_EXIT_PAYLOAD, "corrupt payload: entry " PATHFMT ": %s", PATHARG(e),
                         hpk_layout_strerror(d));
    }
    dc_reset(&dc);
    return r;
}
