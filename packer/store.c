/*
 * store.c - the system store commands: install, uninstall, store list|gc.
 *
 * A store (layout/hpk_store.h) holds trees exactly as the launcher
 * unpacks them, made by the launcher's own unpack code, so a tree there is
 * what a first start would have produced. Identical files of different
 * trees (two apps on one runtime) are hard links of one inode: every
 * regular file is also linked as .objects/<xxh3-128>.<mode>, and a tree
 * file whose key is already there is replaced by a link to it. The key is
 * the payload's content hash, verified when the tree was unpacked, so no
 * file is read twice. An object whose link count falls to 1 is no longer
 * used by any tree (store gc, uninstall).
 */
#define _GNU_SOURCE
#include "hpk_cmds.h"
#include "hpk_packer.h"
#include "hpk_verify.h"
#include "../layout/hpk_tree.h"
#include "../layout/hpk_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define OBJECTS ".objects"

struct store {
    char path[4096]; /* resolved */
    int fd;          /* O_RDONLY directory */
    int lock;
};

static void store_close(struct store *s)
{
    if (s->fd >= 0) close(s->fd);
    if (s->lock >= 0) close(s->lock);
}

/* mkdir -p, 0755 for what it creates (a store is readable by every user). */
static int mkdirs_755(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    size_t n = strlen(buf);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) == 0) chmod(buf, 0755); /* whatever the umask */
        else if (errno != EEXIST) return -1;
        buf[i] = c;
    }
    return 0;
}

/* Open (create: `create`) the store, check it by the launcher's own rule
 * (a store the launcher would ignore is refused here, loudly) and lock it
 * against other install/uninstall/gc runs. */
static int store_open(struct store *s, const char *path, int create, struct hpk_err *pe)
{
    s->fd = s->lock = -1;
    if (create && mkdirs_755(path) != 0)
        return hpk_fail(pe, HPK_ST_OUTPUT, "%s: cannot create the store: %s", path, strerror(errno));
    struct hpk_err e;
    int pfd = hpk_store_open(path, s->path, sizeof s->path, &e);
    if (pfd < 0) {
        if (!e.code) return hpk_fail(pe, HPK_ST_FAIL, "%s: no such store", path);
        return hpk_fail(pe, HPK_ST_OUTPUT, "store %s: %s; the launcher would not trust it", path, e.msg);
    }
    s->fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(pfd);
    if (s->fd < 0) return hpk_fail(pe, HPK_ST_OUTPUT, "%s: %s", s->path, strerror(errno));
    s->lock = openat(s->fd, ".lock", create ? O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC : O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
                     0600);
    if (s->lock < 0 && !(errno == ENOENT && !create))
        return hpk_fail(pe, HPK_ST_OUTPUT, "%s/.lock: %s", s->path, strerror(errno));
    if (s->lock >= 0)
        while (flock(s->lock, LOCK_EX) != 0)
            if (errno != EINTR) return hpk_fail(pe, HPK_ST_OUTPUT, "%s/.lock: cannot lock: %s", s->path, strerror(errno));
    return 0;
}

static int is_hex32(const char *s)
{
    if (strlen(s) != 32) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

/* A complete tree of base hash `hex`: its marker names it. */
static int tree_complete(int store, const char *hex)
{
    char path[64], buf[40];
    snprintf(path, sizeof path, "%s/%s", hex, HPK_MARKER);
    int fd = openat(store, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n == 33 && !memcmp(buf, hex, 32) && buf[32] == '\n';
}

struct dedup_stats {
    unsigned long files, shared;
    unsigned long long shared_bytes;
};

/* Link every regular file of the tree with its object (see the top). A file
 * system that refuses (EXDEV, EMLINK, a read-only directory for a non-root
 * store owner) keeps the file as it is: sharing is an optimisation. */
static void dedup(int store, int tree, const struct hpk_artifact *a, struct dedup_stats *ds)
{
    if (mkdirat(store, OBJECTS, 0700) != 0 && errno != EEXIST) return;
    int obj = openat(store, OBJECTS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (obj < 0) return;
    for (uint32_t i = 0; i < a->p.count; i++) {
        const struct hpk_entry *e = &a->p.entries[i];
        if (!S_ISREG(e->mode)) continue;
        char path[HPK_PATH_MAX + 1], key[48], hex[33], tmp[64];
        snprintf(path, sizeof path, "%.*s", (int)e->path_len, e->path);
        hpk_hash_hex(e->hash, hex);
        snprintf(key, sizeof key, "%s.%03o", hex, e->mode & 0777);
        struct stat ts, os;
        if (fstatat(tree, path, &ts, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(ts.st_mode)) continue;
        ds->files++;
        if (fstatat(obj, key, &os, AT_SYMLINK_NOFOLLOW) != 0) {
            linkat(tree, path, obj, key, 0);
            continue;
        }
        if (os.st_ino == ts.st_ino && os.st_dev == ts.st_dev) {
            if (os.st_nlink > 2) ds->shared++, ds->shared_bytes += (unsigned long long)ts.st_size;
            continue;
        }
        if (!S_ISREG(os.st_mode) || (uint64_t)os.st_size != e->size || (os.st_mode & 07777) != (e->mode & 0777) ||
            os.st_mtime != HPK_FIXED_MTIME)
            continue;
        /* A new link in the store's top (where gc finds it if we are
         * killed), then over the file: a reader sees one or the other, same bytes. */
        snprintf(tmp, sizeof tmp, ".link.%ld", (long)getpid());
        unlinkat(store, tmp, 0);
        if (linkat(obj, key, store, tmp, 0) != 0) continue;
        if (renameat(store, tmp, tree, path) != 0) {
            unlinkat(store, tmp, 0);
            continue;
        }
        ds->shared++;
        ds->shared_bytes += (unsigned long long)ts.st_size;
    }
    close(obj);
}

/* Remove objects no tree links any more. */
static unsigned long gc_objects(int store)
{
    int obj = openat(store, OBJECTS, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (obj < 0) return 0;
    DIR *d = fdopendir(obj);
    if (!d) {
        close(obj);
        return 0;
    }
    unsigned long n = 0;
    struct dirent *de;
    struct stat st;
    /* Unlinking while reading is fine here: only entries already seen go. */
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && st.st_nlink == 1 && unlinkat(dirfd(d), de->d_name, 0) == 0)
            n++;
    closedir(d);
    return n;
}

/* Remove stale temporaries of killed installs: <hex>.tmp.*, <hex>.old.*, .link.*. */
static unsigned long gc_stale(int store)
{
    int fd = dup(store);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return 0;
    }
    char names[64][80];
    unsigned long n = 0, total = 0;
    struct dirent *de;
    for (;;) {
        n = 0;
        rewinddir(d);
        while ((de = readdir(d)) && n < 64)
            if ((strlen(de->d_name) > 37 && strlen(de->d_name) < 80 &&
                 (!strncmp(de->d_name + 32, ".tmp.", 5) || !strncmp(de->d_name + 32, ".old.", 5))) ||
                (!strncmp(de->d_name, ".link.", 6) && strlen(de->d_name) < 80))
                snprintf(names[n++], sizeof names[0], "%s", de->d_name);
        for (unsigned long i = 0; i < n; i++) hpk_rm_rf(store, names[i]);
        total += n;
        if (n < 64) break;
    }
    closedir(d);
    return total;
}

static const char *store_arg(const char *opt)
{
    if (opt) return opt;
    const char *s = hpk_store_path();
    return s ? s : HPK_STORE_DEFAULT;
}

/* The options every store command takes: --store DIR and --help, -q/--quiet
 * for install; then exactly one operand, at argv[optind]. -1 to go on,
 * else the status to return (0 after --help). */
static int store_opts(int argc, char **argv, int quiet_ok, const char *usage, const char **dir)
{
    static const struct option install_opts[] = {{"store", required_argument, NULL, 's'},
                                                 {"quiet", no_argument, NULL, 'q'},
                                                 {"help", no_argument, NULL, 'h'},
                                                 {0, 0, 0, 0}},
                               other_opts[] = {{"store", required_argument, NULL, 's'},
                                               {"help", no_argument, NULL, 'h'},
                                               {0, 0, 0, 0}};
    const struct option *opts = quiet_ok ? install_opts : other_opts;
    int c;
    *dir = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, quiet_ok ? "q" : "", opts, NULL)) != -1) {
        if (c == 's') *dir = optarg;
        else if (c == 'q') hpk_verbose = 0;
        else return hpk_cmd_usage(usage, c);
    }
    return argc - optind != 1 ? hpk_cmd_usage(usage, '?') : -1;
}

static const char install_usage[] = "usage: hpack install ARTIFACT [--store DIR] [-q]\n";

int hpk_cmd_install(int argc, char **argv)
{
    const char *dir;
    int done = store_opts(argc, argv, 1, install_usage, &dir);
    if (done >= 0) return done;
    const char *file = argv[optind];
    dir = store_arg(dir);
    struct hpk_artifact a;
    if ((done = hpk_cmd_open(file, &a)) != 0) return done;
    struct hpk_err pe;
    struct store s;
    int rc = store_open(&s, dir, 1, &pe);
    char hex[33];
    hpk_hash_hex(a.p.footer.base_hash, hex);
    struct hpk_err le;
    int tree = -1;
    if (rc == 0 && !tree_complete(s.fd, hex)) {
        /* We hold the store's lock: any tree or temporary of this hash is
         * stale (a killed install); the new one appears only complete. */
        hpk_rm_rf(s.fd, hex);
        hpk_clean_stale(s.fd, hex);
        /* Its marker comes last (below): a tree that lacks it is incomplete
         * to the launcher and stale to the next install. */
        if (hpk_unpack_tree(&a, s.fd, hex, HPK_MARK_NONE, NULL, NULL, &le) != 0)
            rc = hpk_fail(&pe, HPK_ST_OUTPUT, "%s/%s: %s", s.path, hex, le.msg);
    }
    if (rc == 0 && (tree = openat(s.fd, hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        rc = hpk_fail(&pe, HPK_ST_OUTPUT, "%s/%s: %s", s.path, hex, strerror(errno));
    /* A complete tree loses its settled marker before a cache is added to
     * it, and on the disk (starts pass it over meanwhile, for the user's
     * cache): after a crash a marker must never stand over a file whose
     * bytes were not synced. */
    if (rc == 0 && (unlinkat(tree, HPK_MARKER, 0) != 0 ? errno != ENOENT : fsync(tree) != 0))
        rc = hpk_fail(&pe, HPK_ST_OUTPUT, "%s/%s/%s: %s", s.path, hex, HPK_MARKER, strerror(errno));
    /* DA0 and DA1 share the base hash: a later DA1 adds its cache. */
    if (rc == 0 && hpk_unpack_cache(&a, tree, &le) != 0)
        rc = hpk_fail(&pe, HPK_ST_OUTPUT, "%s/%s: %s", s.path, hex, le.msg);
    if (rc == 0 && hpk_verify_tree(&a, tree, NULL, HPK_VERIFY_BYTES, &le) != 0)
        rc = hpk_fail(&pe, HPK_ST_FAIL, "%s/%s: %s", s.path, hex, le.msg);
    struct dedup_stats ds = {0};
    if (rc == 0) dedup(s.fd, tree, &a, &ds);
    /* A store tree is never verified by the starts that use it (they
     * cannot write to it): its bytes reach the disk before its marker says
     * it is complete and settled (layout/marker.c), and its name after. */
    if (rc == 0 && hpk_marker_write(tree, hex, HPK_MARK_SYNC, &le) != 0)
        rc = hpk_fail(&pe, HPK_ST_OUTPUT, "%s/%s: %s", s.path, hex, le.msg);
    if (rc == 0 && fsync(s.fd) != 0)
        rc = hpk_fail(&pe, HPK_ST_OUTPUT, "%s: cannot sync: %s", s.path, strerror(errno));
    if (rc == 0 && hpk_verbose)
        printf("%s/%s: installed %s (%lu files, %lu of them links to identical content in the store, %.1f MB)\n", s.path, hex, file, ds.files,
               ds.shared, ds.shared_bytes / 1e6);
    if (tree >= 0) close(tree);
    store_close(&s);
    hpk_close_artifact(&a);
    if (rc != 0) return hpk_cmd_fail("install", &pe);
    return 0;
}

static const char uninstall_usage[] = "usage: hpack uninstall ARTIFACT|BASE-HASH [--store DIR]\n";

int hpk_cmd_uninstall(int argc, char **argv)
{
    const char *dir;
    int done = store_opts(argc, argv, 0, uninstall_usage, &dir);
    if (done >= 0) return done;
    const char *what = argv[optind];
    char hex[33];
    struct hpk_err pe;
    if (is_hex32(what) && access(what, F_OK) != 0) {
        memcpy(hex, what, 33);
    } else {
        struct hpk_artifact a;
        if ((done = hpk_cmd_open(what, &a)) != 0) return done;
        hpk_hash_hex(a.p.footer.base_hash, hex);
        hpk_close_artifact(&a);
    }
    struct store s;
    int rc = store_open(&s, store_arg(dir), 0, &pe);
    char old[64];
    snprintf(old, sizeof old, "%s.old.%ld", hex, (long)getpid());
    struct stat st;
    if (rc == 0 && (fstatat(s.fd, hex, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)))
        rc = hpk_fail(&pe, HPK_ST_FAIL, "%s/%s: not installed", s.path, hex);
    /* Out of the launcher's sight in one step, then removed. */
    if (rc == 0 && renameat(s.fd, hex, s.fd, old) != 0)
        rc = hpk_fail(&pe, HPK_ST_OUTPUT, "%s/%s: %s", s.path, hex, strerror(errno));
    if (rc == 0 && hpk_rm_rf(s.fd, old) != 0)
        rc = hpk_fail(&pe, HPK_ST_OUTPUT, "%s/%s: cannot remove: %s", s.path, old, strerror(errno));
    if (rc == 0) {
        unsigned long n = gc_objects(s.fd);
        printf("%s/%s: removed, and %lu shared files no other tree uses\n", s.path, hex, n);
    }
    store_close(&s);
    if (rc != 0) return hpk_cmd_fail("uninstall", &pe);
    return 0;
}

/* Bytes of the regular files below dir, and of those also linked elsewhere
 * than from their object (shared with another tree). */
static void tree_usage(int dir, unsigned long long *bytes, unsigned long long *shared)
{
    DIR *d = fdopendir(dir);
    if (!d) {
        close(dir);
        return;
    }
    struct dirent *de;
    struct stat st;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) tree_usage(sub, bytes, shared);
        } else if (S_ISREG(st.st_mode)) {
            *bytes += (unsigned long long)st.st_size;
            if (st.st_nlink > 2) *shared += (unsigned long long)st.st_size;
        }
    }
    closedir(d);
}


static int store_list(struct store *s)
{
    int fd = dup(s->fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) return -1;
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (is_hex32(de->d_name)) {
            char **nn = realloc(names, (n + 1) * sizeof *nn);
            if (!nn) break;
            names = nn;
            names[n++] = strdup(de->d_name);
        }
    closedir(d);
    qsort(names, n, sizeof *names, hpk_str_cmp);
    for (size_t i = 0; i < n; i++) {
        char p[80];
        snprintf(p, sizeof p, "%s/hpack/launch", names[i]);
        int lf = openat(s->fd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char buf[65536];
        ssize_t len = lf >= 0 ? read(lf, buf, sizeof buf - 1) : -1;
        if (lf >= 0) close(lf);
        struct hpk_launch l = {0};
        int ok = len > 0 && tree_complete(s->fd, names[i]);
        if (ok) {
            buf[len] = 0;
            ok = hpk_launch_decode(buf, (size_t)len + (buf[len - 1] != 0), &l) == 0;
        }
        unsigned long long bytes = 0, shared = 0;
        int tfd = openat(s->fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tfd >= 0) tree_usage(tfd, &bytes, &shared);
        int cache = 0;
        snprintf(p, sizeof p, "%s/cache", names[i]);
        struct stat st;
        cache = fstatat(s->fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (ok)
            printf("%s  Java %-10s %-40s %8.1f MB (%.1f MB shared)%s\n", names[i],
                   l.runtime_version ? l.runtime_version : "?", l.main, bytes / 1e6, shared / 1e6,
                   cache ? "  startup cache" : "");
        else
            printf("%s  (incomplete or damaged: hpack install again, or hpack uninstall %s)\n", names[i], names[i]);
        hpk_launch_free(&l);
        free(names[i]);
    }
    free(names);
    return 0;
}

static const char store_usage[] = "usage: hpack store list|gc [--store DIR]\n";

int hpk_cmd_store(int argc, char **argv)
{
    const char *dir;
    int done = store_opts(argc, argv, 0, store_usage, &dir);
    if (done >= 0) return done;
    if (strcmp(argv[optind], "list") && strcmp(argv[optind], "gc")) {
        fputs(store_usage, stderr);
        return HPK_ST_USAGE;
    }
    int gc = !strcmp(argv[optind], "gc");
    struct store s;
    struct hpk_err pe;
    if (store_open(&s, store_arg(dir), 0, &pe) != 0) {
        store_close(&s);
        fprintf(stderr, "hpack: store: %s\n", pe.msg);
        return pe.code;
    }
    if (gc) {
        unsigned long t = gc_stale(s.fd), o = gc_objects(s.fd);
        printf("%s: removed %lu stale temporaries, %lu unused objects\n", s.path, t, o);
    } else {
        store_list(&s);
    }
    store_close(&s);
    return 0;
}
