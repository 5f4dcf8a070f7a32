/*
 * tree.c - the unpacked tree this start runs from: the system store's
 * (store.c's rule) when it holds a trusted, complete one, else the one under
 * the user's cache root, checked on the warm path (tree_ok) and unpacked
 * once under a lock when missing or not as unpacked; then kept open at
 * HPK_TREE_FD for the JVM.
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A class path jar or cache file as the launcher wrote it: a regular file
 * (not followed) of the entry's size and the fixed time (cheap, catches
 * replacement and truncation), ours and writable by nobody else (whoever
 * could write it could change its content, size and time kept). No system
 * call beyond the fstatat. */
static int file_as_unpacked(int tree, const char *path, uint64_t size, uid_t uid, int shared)
{
    struct stat st;
    /* A store tree (shared) is root's or ours: hpack install runs as root
     * and store.c checked the directories above it by the same rule. */
    return fstatat(tree, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
           (uint64_t)st.st_size == size && st.st_mtime == HPK_FIXED_MTIME &&
           (st.st_uid == uid || (shared && st.st_uid == 0)) && !(st.st_mode & 022);
}

/* The `java` path whose deferrable runtime entries (hpk_entry_deferrable)
 * this start can do without: only a start that passes the carried cache,
 * when that is an AOT cache, and that does not want the whole tree. NULL:
 * it needs them all. */
static const char *deferrable(const struct hpk_start *c, int want)
{
    const char *k = c->cf.launch.cache_kind;
    return (want & HPK_TREE_CACHE) && !(want & HPK_TREE_ALL) && k && !strcmp(k, "aot") ? c->cf.launch.java : NULL;
}

/* An entry of the payload as the launcher wrote it (file_as_unpacked). */
static int entry_as_unpacked(const struct hpk_start *c, int tree, const struct hpk_entry *e, int shared)
{
    char p[HPK_PATH_MAX + 1];
    snprintf(p, sizeof p, "%.*s", (int)e->path_len, e->path);
    return file_as_unpacked(tree, p, e->size, c->uid, shared);
}

/* The runtime entries a tree may leave out (hpk_entry_deferrable) are all
 * there as unpacked: a few fstatat, only for starts that pass no AOT cache. */
static int deferred_in(const struct hpk_start *c, int tree, int shared)
{
    for (uint32_t i = 0; i < c->a.p.count; i++) {
        const struct hpk_entry *d = &c->a.p.entries[i];
        if (hpk_entry_deferrable(&c->a, d, c->cf.launch.java) && !entry_as_unpacked(c, tree, d, shared)) return 0;
    }
    return 1;
}

/* base_ok's answer for a tree that is complete but was written in an
 * earlier boot (layout/marker.c): to be verified before it is used. */
#define UNSETTLED 2

/* The base part of an unpacked tree: complete, ours (`shared`: a store
 * tree, whose ownership store.c checked), class path jars as unpacked;
 * written in this boot or settled (else UNSETTLED). */
static int base_ok(const struct hpk_start *c, int tree, int shared, const char **why)
{
    struct hpk_err e;
    enum hpk_marker_state m = hpk_tree_marker(tree, c->cf.base_hex);
    if (m == HPK_MARKER_BAD) {
        *why = "incomplete";
        return 0;
    }
    if (!shared && hpk_dir_secure(tree, "tree", &e) != 0) {
        *why = "insecure";
        return -1;
    }
    for (size_t i = 0; i < c->cf.launch.n_cp; i++) {
        const struct hpk_entry *ce = hpk_payload_find(&c->a.p, c->cf.launch.cp[i]);
        if (!ce || !file_as_unpacked(tree, c->cf.launch.cp[i], ce->size, c->uid, shared)) {
            *why = "class path changed"; /* a jar of another size, time, owner or mode */
            return 0;
        }
    }
    if (m == HPK_MARKER_EARLIER_BOOT) {
        /* hpack install settles a store tree, which no start may write. */
        *why = "unpacked before the machine restarted";
        return shared ? 0 : UNSETTLED;
    }
    return 1;
}

/* Warm-path check of an unpacked tree: its base part (base_ok), and what
 * this start needs besides: (want_cache) the cache file and (`deferred`)
 * the runtime entries a tree may leave out, as unpacked. */
static int tree_ok(const struct hpk_start *c, int tree, int want_cache, int deferred, int shared, const char **why)
{
    int r = base_ok(c, tree, shared, why);
    if (r != 1 && r != UNSETTLED) return r;
    if (want_cache && !entry_as_unpacked(c, tree, c->cf.cache, shared)) {
        *why = "cache missing";
        return 0;
    }
    if (deferred && !deferred_in(c, tree, shared)) {
        *why = "the runtime's default CDS archives were left out";
        return 0;
    }
    return r; /* 1, or UNSETTLED: complete, to be checked first */
}

/* The system store (store.c), looked at before the user's cache: a tree
 * there that is trusted and complete (the startup cache included when it is
 * to be used) is used as it is and never written. Its descriptor, with the
 * store's resolved path in `path`, or -1: then the user's cache serves. */
int hpk_start_store_tree(const struct hpk_start *c, int want, char *path, size_t n)
{
    const char *s = hpk_store_path();
    if (!s) return -1;
    struct hpk_err e;
    const char *why = "not installed";
    int tree = -1, store = hpk_store_open(s, path, n, &e);
    if (store >= 0) {
        tree = hpk_store_tree(store, path, c->cf.base_hex, &e);
        close(store);
    }
    if (tree >= 0) {
        if (tree_ok(c, tree, want & HPK_TREE_CACHE, !deferrable(c, want), 1, &why) == 1) return tree;
        close(tree);
    }
    if (e.code)
        fprintf(stderr, "hpack: %s: warning: system store not used: %s\n", c->self, e.msg);
    else if (c->debug)
        fprintf(stderr, "hpack: store %s/%s: %s; using the user cache\n", s, c->cf.base_hex, why);
    return -1;
}

/* A tree unpacked in an earlier boot (base_ok's UNSETTLED): the machine
 * may have crashed before all its bytes reached the disk, so every file it
 * holds is hashed and compared with its entry's content hash. The runtime's
 * default CDS archives may be absent whatever this start needs: the caller
 * adds them. 1, or 0 with *why (in err) naming the first file that
 * differs. */
static int check_after_restart(const struct hpk_start *c, const struct hpk_root *root, int tree,
                               struct hpk_err *err, const char **why)
{
    if (c->debug) fprintf(stderr, "hpack: %s/%s: unpacked before the machine restarted; verifying it\n", root->path, c->cf.base_hex);
    if (hpk_verify_tree(&c->a, tree, c->cf.launch.java, HPK_VERIFY_HASH, err) != 0) {
        *why = err->msg;
        return 0;
    }
    return 1;
}

/* check_after_restart, then the marker settled: no later start checks the
 * tree again. Before that, the cache files another artifact of this base
 * hash added (DA0 and DA1 share the tree; DA0's table lists no cache, two
 * DA1s different ones), which no later check would see either: each is
 * kept only if its content hash is its name. 0: the caller unpacks the
 * tree again. Under the tree's lock. */
static int settle(const struct hpk_start *c, const struct hpk_root *root, int tree, struct hpk_err *err,
                  const char **why)
{
    if (!check_after_restart(c, root, tree, err, why)) return 0;
    if (hpk_verify_foreign_cache(&c->a, tree, err) != 0) {
        *why = err->msg;
        return 0;
    }
    /* Verified: what it holds was read back from the disk. A marker that
     * cannot be settled only costs the next start the same verification. */
    if (hpk_marker_write(tree, c->cf.base_hex, HPK_MARK_SETTLED, err) != 0)
        fprintf(stderr, "hpack: %s: warning: %s/%s: %s\n", c->self, root->path, c->cf.base_hex, err->msg);
    return 1;
}

/* Before files are added to a tree (a cache file, the default CDS
 * archives): a settled marker stops saying so first, and that on the disk
 * (the tree's directory fsynced), or a crash of the machine could leave it
 * settled over an added file's lost bytes. A marker of this boot stays as
 * it is. On a host that shows no boot id the marker stays settled and the
 * caller syncs the added files instead, before they are renamed into place
 * and after: returns 1 then. */
static int unsettle(struct hpk_start *c, const struct hpk_root *root, int tree)
{
    struct hpk_err err;
    char id[HPK_BOOT_ID_LEN + 1];
    if (hpk_tree_marker(tree, c->cf.base_hex) != HPK_MARKER_SETTLED) return 0;
    if (hpk_boot_id(id) != 0) return 1;
    int r = hpk_marker_write(tree, c->cf.base_hex, HPK_MARK_BOOT, &err);
    if (r == 0 && fsync(tree) != 0) r = hpk_fail(&err, HPK_EXIT_UNPACK, "cannot sync: %s", strerror(errno));
    if (r != 0) {
        char m[sizeof err.msg];
        snprintf(m, sizeof m, "%s", err.msg);
        hpk_fail(&err, HPK_EXIT_UNPACK, "%s/%s: %s", root->path, c->cf.base_hex, m);
        hpk_start_die(c, &err);
    }
    return 0;
}

/* Return an open descriptor of the unpacked tree, unpacking it first if needed. */
static int ensure_tree(struct hpk_start *c, struct hpk_root *root, int want)
{
    struct hpk_err err;
    const char *why = NULL;
    const char *defer = deferrable(c, want);
    int want_cache = want & HPK_TREE_CACHE;
    int tree = openat(root->fd, c->cf.base_hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tree >= 0) {
        int ok = tree_ok(c, tree, want_cache, !defer, 0, &why);
        if (ok == 1) return tree;
        /* A root we may not write (HPACK_CACHE_DIR on a read-only file
         * system, filled elsewhere) works from its warm path alone: its
         * tree is checked on every start, its marker cannot be settled, nor
         * the tree unpacked again or completed. A start runs from its base
         * part without what it lacks (the cache file another artifact's
         * start left out, the default CDS archives a start passing an AOT
         * cache left out): c->tree_lacks says so to the caller. */
        if (ok >= 0 && ok != 1 && faccessat(root->fd, ".", W_OK, AT_EACCESS) != 0) {
            struct hpk_err ce;
            int b = base_ok(c, tree, 0, &why);
            if (b == UNSETTLED) b = check_after_restart(c, root, tree, &ce, &why);
            if (b != 1) {
                hpk_fail(&err, HPK_EXIT_TAMPER, "%s/%s: %s, and the cache directory is read-only", root->path,
                         c->cf.base_hex, why);
                hpk_start_die(c, &err);
            }
            if (want_cache && !entry_as_unpacked(c, tree, c->cf.cache, 0)) c->tree_lacks |= HPK_TREE_CACHE;
            /* A start that cannot pass its cache would want the archives. */
            if ((!defer || (c->tree_lacks & HPK_TREE_CACHE)) && !deferred_in(c, tree, 0)) c->tree_lacks |= HPK_TREE_ALL;
            if (c->debug && (c->tree_lacks & HPK_TREE_ALL))
                fprintf(stderr, "hpack: %s/%s: the runtime's default CDS archives were left out, and the cache "
                        "directory is read-only: running without them\n", root->path, c->cf.base_hex);
            return tree;
        }
        if (ok < 0) {
            hpk_dir_secure(tree, root->path, &err);
            snprintf(err.msg, sizeof err.msg, "%.600s/%s: owned by another user or writable by others; refusing to use it",
                     root->path, c->cf.base_hex);
            err.code = HPK_EXIT_CACHEDIR;
            hpk_start_die(c, &err);
        }
        close(tree);
    }

    /* Cold path: serialise with other first starts on a lock file. */
    char lockname[64];
    snprintf(lockname, sizeof lockname, "%s.lock", c->cf.base_hex);
    int lock = openat(root->fd, lockname, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock < 0) {
        hpk_fail(&err, HPK_EXIT_CACHEDIR, "%s/%s: %s", root->path, lockname, strerror(errno));
        hpk_start_die(c, &err);
    }
    while (flock(lock, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        hpk_fail(&err, HPK_EXIT_CACHEDIR, "%s/%s: cannot lock: %s", root->path, lockname, strerror(errno));
        hpk_start_die(c, &err);
    }
    /* Someone may have finished while we waited. */
    tree = openat(root->fd, c->cf.base_hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int ok = tree >= 0 ? base_ok(c, tree, 0, &why) : 0;
    struct hpk_err se; /* holds *why after a failed check: err is reused below */
    if (ok == UNSETTLED) ok = settle(c, root, tree, &se, &why);
    if (ok != 1) {
        if (tree >= 0) {
            close(tree);
            if (c->debug) fprintf(stderr, "hpack: %s/%s: %s; unpacking again\n", root->path, c->cf.base_hex, why);
            char old[96];
            snprintf(old, sizeof old, "%s.old.%ld", c->cf.base_hex, (long)getpid());
            if (renameat(root->fd, c->cf.base_hex, root->fd, old) != 0) {
                hpk_fail(&err, HPK_EXIT_TAMPER, "%s/%s: %s and cannot be moved aside: %s", root->path,
                         c->cf.base_hex, why, strerror(errno));
                hpk_start_die(c, &err);
            }
        } else if (faccessat(root->fd, c->cf.base_hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
            /* Exists but is not a directory we may open: something planted it. */
            hpk_fail(&err, HPK_EXIT_CACHEDIR, "%s/%s: exists and is not a directory; remove it", root->path, c->cf.base_hex);
            hpk_start_die(c, &err);
        }
        /* We hold the lock: every temporary or old tree of this hash is stale. */
        hpk_clean_stale(root->fd, c->cf.base_hex);
        if (c->debug)
            fprintf(stderr, "hpack: unpacking to %s/%s%s\n", root->path, c->cf.base_hex,
                    defer ? " (the runtime's default CDS archives left out: an AOT cache is passed)" : "");
        /* The cache this start passes is written in the tree's own pass. */
        if (hpk_unpack_tree(&c->a, root->fd, c->cf.base_hex, HPK_MARK_BOOT, defer, want_cache ? c->cf.cache : NULL,
                            &err) != 0)
            hpk_start_die(c, &err);
        tree = openat(root->fd, c->cf.base_hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tree < 0) {
            hpk_fail(&err, HPK_EXIT_UNPACK, "%s/%s: %s", root->path, c->cf.base_hex, strerror(errno));
            hpk_start_die(c, &err);
        }
    }
    /* The base part is right (checked, or just unpacked): only what this
     * start needs besides may be missing. */
    int add_cache = want_cache && !entry_as_unpacked(c, tree, c->cf.cache, 0);
    int add_deferred = !defer && !deferred_in(c, tree, 0);
    int sync_after = (add_cache || add_deferred) && unsettle(c, root, tree);
    if (add_cache && hpk_unpack_cache_one(&c->a, tree, c->cf.cache, sync_after, &err) != 0) hpk_start_die(c, &err);
    if (add_deferred) {
        if (c->debug) fprintf(stderr, "hpack: adding the runtime's default CDS archives to %s/%s\n", root->path, c->cf.base_hex);
        if (hpk_unpack_deferred(&c->a, tree, c->cf.launch.java, sync_after, &err) != 0) hpk_start_die(c, &err);
    }
    if (sync_after && syncfs(tree) != 0) {
        hpk_fail(&err, HPK_EXIT_UNPACK, "%s/%s: cannot sync: %s", root->path, c->cf.base_hex, strerror(errno));
        hpk_start_die(c, &err);
    }
    close(lock); /* releases the flock */
    return tree;
}

int hpk_start_find_tree(struct hpk_start *c, int want, char *rootpath, size_t n)
{
    /* The system store first; it is read-only for us: nothing below the
     * user's cache root is created unless the store lacks the tree. */
    int tree = hpk_start_store_tree(c, want, rootpath, n);
    if (tree >= 0) return tree;
    struct hpk_root own, *root = c->root ? c->root : &own;
    struct hpk_err err;
    if (!c->root && hpk_root_open(root, c->debug, &err) != 0) hpk_start_die(c, &err);
    tree = ensure_tree(c, root, want);
    snprintf(rootpath, n, "%s", root->path);
    return tree;
}

/* Keep the tree open at HPK_TREE_FD across execve: the class path names it. */
void hpk_start_pin(struct hpk_start *c, int tree)
{
    if (tree != HPK_TREE_FD && dup2(tree, HPK_TREE_FD) < 0) {
        struct hpk_err e;
        hpk_fail(&e, HPK_EXIT_EXEC, "cannot keep the unpacked tree open at descriptor %d: %s",
                 HPK_TREE_FD, strerror(errno));
        hpk_start_die(c, &e);
    }
    if (tree != HPK_TREE_FD) close(tree);
    /* The JVM needs it after execve: the class path and the cache name it. */
    if (fcntl(HPK_TREE_FD, F_SETFD, 0) != 0) {
        struct hpk_err e;
        hpk_fail(&e, HPK_EXIT_EXEC, "cannot keep descriptor %d open across exec: %s", HPK_TREE_FD, strerror(errno));
        hpk_start_die(c, &e);
    }
    c->pinned = 1;
}
