/*
 * treewalk.c - a directory read into the snapshot, below one payload prefix
 * ("runtime" or "app"), in bytewise name order, with the symlink rule of
 * docs/format.md.
 *
 * The rule: a link whose relative target stays inside the tree without
 * passing through another link is kept as a link (the launcher's own rule,
 * hpk_link_resolve); any other link is replaced by what it names: a file's
 * content, or a copy of a directory (materialised). A dangling link is
 * skipped with a warning; a link to a directory that contains it (a loop)
 * and a file that is neither a regular file, a directory nor a link (fifo,
 * socket, device) are errors naming the path.
 */
#define _GNU_SOURCE
#include "hpk_inputs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A directory copied in place of a link (materialised). The links inside it
 * are judged where they really are, not where their copies go: a relative
 * target means something from its own directory only. */
struct copy_ctx {
    const struct hpk_tree_dst *where; /* its root: the tree's, or the copied directory when it lies outside the tree */
    const char *src;                  /* the copied directory below where->root ("" for that root itself) */
    const char *dst;                  /* its copy, below the tree's root */
    const char *real;                 /* the copied directory's real path */
    const struct copy_ctx *up;        /* the copy this one is made in, if any */
};

static int walk(struct hpk_snapshot *s, const struct hpk_tree_dst *t, const char *abs, const char *rel,
                const struct copy_ctx *cp, int depth, struct hpk_err *e);

static int too_deep(const struct hpk_tree_dst *t, const char *abs, struct hpk_err *e)
{
    return hpk_fail(e, t->status, "%s: directories nested too deep (symlink loop?)", abs);
}

/* Is `path` (below the directory being read) a symlink on disk? */
static int disk_is_link(void *ctx, const char *path)
{
    char abs[PATH_MAX + 8];
    struct stat st;
    snprintf(abs, sizeof abs, "%s/%s", ((const struct hpk_tree_dst *)ctx)->root, path);
    return lstat(abs, &st) == 0 && S_ISLNK(st.st_mode);
}

/* Materialise the directory the link at abs (really at phys) names: its
 * copy goes to rel. It is read by its real path, so that no path the
 * kernel resolves crosses more links than the original would. */
static int walk_copy(struct hpk_snapshot *s, const struct hpk_tree_dst *t, const char *abs, const char *phys,
                     const char *rel, const struct copy_ctx *up, int depth, struct hpk_err *e)
{
    char real[PATH_MAX];
    if (!realpath(abs, real)) {
        if (errno == ELOOP) return too_deep(t, abs, e);
        return hpk_fail(e, t->status, "%s: %s", abs, strerror(errno));
    }
    /* The copy would hold the link again, hence another copy, forever
     * (the same test as the archive reader's, so both refuse alike). */
    size_t l = strlen(real);
    int loop = !strncmp(phys, real, l) && (phys[l] == '/' || real[l - 1] == '/'); /* real is "/" */
    for (const struct copy_ctx *c = up; c && !loop; c = c->up) loop = !strcmp(c->real, real);
    if (loop) return hpk_fail(e, t->status, "%s: symlink to a directory that contains it (a loop)", abs);
    size_t rl = strlen(t->root);
    struct hpk_tree_dst outside = *t;
    struct copy_ctx cp = {t, "", rel, real, up};
    if (!strncmp(real, t->root, rl) && (!real[rl] || real[rl] == '/'))
        cp.src = real[rl] ? real + rl + 1 : "";
    else {
        outside.root = real;
        cp.where = &outside;
    }
    return walk(s, t, real, rel, &cp, depth + 1, e);
}

/* The symlink at abs (rel below the tree, ent in the payload, tg its
 * target of n bytes): kept, materialised or skipped (the rule above). */
static int add_link(struct hpk_snapshot *s, const struct hpk_tree_dst *t, const char *abs, const char *rel,
                    const char *ent, char *tg, size_t n, const struct copy_ctx *cp, int depth, struct hpk_err *e)
{
    struct stat ts;
    if (stat(abs, &ts) != 0) {
        hpk_warn("%s: skipping dangling symlink to %s", abs, tg);
        return 0;
    }
    /* Judged where the link really is: in a copy, that is in the
     * directory copied (the kernel resolved it there too, for stat). */
    const struct hpk_tree_dst *where = t;
    char orig[PATH_MAX];
    snprintf(orig, sizeof orig, "%s", rel);
    if (cp) {
        const char *sub = rel + strlen(cp->dst) + 1;
        snprintf(orig, sizeof orig, "%s%s%s", cp->src, *cp->src ? "/" : "", sub);
        where = cp->where;
    }
    struct hpk_item *it;
    if (hpk_link_resolve(orig, strlen(orig), tg, n, disk_is_link, (void *)where) != HPK_LINK_OK) {
        /* Pointing outside the tree (Debian's JDK points into /etc and
         * /usr/share/doc, its Maven into /usr/share/java): a payload never
         * holds a link out of its tree, so the target's content is
         * materialised in its place. */
        hpk_info("%s: materialising symlink to %s", abs, tg);
        if (S_ISDIR(ts.st_mode)) {
            if (!hpk_snapshot_add(s, ent, S_IFDIR | 0755, t->role)) goto nomem;
            char phys[2 * PATH_MAX];
            snprintf(phys, sizeof phys, "%s/%s", where->root, orig);
            return walk_copy(s, t, abs, phys, rel, cp, depth, e);
        }
        if (!S_ISREG(ts.st_mode)) return hpk_fail(e, t->status, "%s: symlink to %s, not a regular file", abs, tg);
        if (!(it = hpk_snapshot_add(s, ent, hpk_file_mode(ts.st_mode), t->role))) goto nomem;
        return hpk_snapshot_file_unhashed(it, abs, t->status, e);
    }
    if (cp) {
        /* A copy: the same place, reached from the copy's directory. */
        char copied[PATH_MAX];
        if (hpk_copied_target(orig, tg, n, cp->src, cp->dst, rel, copied, sizeof copied) != 0)
            return hpk_fail(e, t->status, "%s: path too long in its copy", abs);
        snprintf(tg, PATH_MAX, "%s", copied);
        n = strlen(tg);
    }
    if (!(it = hpk_snapshot_add(s, ent, S_IFLNK | 0777, t->role))) goto nomem;
    it->size = n;
    if (!(it->data = (uint8_t *)strdup(tg))) goto nomem;
    hpk_hash_bytes(tg, n, it->hash);
    return 0;
nomem:
    return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
}

/* rel: path below the tree's root ("" for the root); ent: payload path;
 * cp: the materialised directory rel lies in, if any. */
static int add_node(struct hpk_snapshot *s, const struct hpk_tree_dst *t, const char *abs, const char *rel,
                    const struct copy_ctx *cp, int depth, struct hpk_err *e)
{
    char ent[PATH_MAX];
    snprintf(ent, sizeof ent, "%s/%s", t->prefix, rel);
    if (!hpk_layout_path_ok(ent, strlen(ent))) return hpk_fail(e, t->status, "%s: name not allowed in a payload", abs);
    struct stat st;
    if (lstat(abs, &st) != 0) {
        if (errno == ELOOP) return too_deep(t, abs, e); /* the kernel's limit on links in one path hit first */
        return hpk_fail(e, t->status, "%s: %s", abs, strerror(errno));
    }
    struct hpk_item *it;
    if (S_ISLNK(st.st_mode)) {
        char tg[PATH_MAX];
        ssize_t n = readlink(abs, tg, sizeof tg - 1);
        if (n < 0) return hpk_fail(e, t->status, "%s: %s", abs, strerror(errno));
        tg[n] = 0;
        return add_link(s, t, abs, rel, ent, tg, (size_t)n, cp, depth, e);
    }
    if (S_ISDIR(st.st_mode)) {
        if (!hpk_snapshot_add(s, ent, S_IFDIR | 0755, t->role)) goto nomem;
        return walk(s, t, abs, rel, cp, depth + 1, e);
    }
    if (S_ISREG(st.st_mode)) {
        if (!(it = hpk_snapshot_add(s, ent, hpk_file_mode(st.st_mode), t->role))) goto nomem;
        return hpk_snapshot_file_unhashed(it, abs, t->status, e);
    }
    return hpk_fail(e, t->status, "%s: not a file, directory or symlink", abs);
nomem:
    return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
}

/* The names in directory abs but "." and "..", sorted bytewise: the payload
 * must not depend on the file system's order, nor on the locale. */
static int read_names(const struct hpk_tree_dst *t, const char *abs, char ***out, size_t *outn, struct hpk_err *e)
{
    DIR *d = opendir(abs);
    if (!d && errno == ELOOP) return too_deep(t, abs, e);
    if (!d) return hpk_fail(e, t->status, "%s: cannot read directory: %s", abs, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    for (errno = 0; (de = readdir(d)); errno = 0) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (n == cap) names = hpk_xrealloc(names, (cap = cap ? 2 * cap : 32) * sizeof *names);
        names[n++] = hpk_xstrdup(de->d_name);
    }
    int err = errno;
    closedir(d);
    if (err) {
        for (size_t i = 0; i < n; i++) free(names[i]);
        free(names);
        return hpk_fail(e, t->status, "%s: cannot read directory: %s", abs, strerror(err));
    }
    if (n) qsort(names, n, sizeof *names, hpk_str_cmp);
    *out = names;
    *outn = n;
    return 0;
}

static int walk(struct hpk_snapshot *s, const struct hpk_tree_dst *t, const char *abs, const char *rel,
                const struct copy_ctx *cp, int depth, struct hpk_err *e)
{
    if (depth > 64) return too_deep(t, abs, e);
    char **names = NULL;
    size_t n = 0;
    if (read_names(t, abs, &names, &n, e) != 0) return -1;
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (r == 0) {
            char a[PATH_MAX], rl[PATH_MAX];
            if (snprintf(a, sizeof a, "%s/%s", abs, names[i]) >= (int)sizeof a ||
                snprintf(rl, sizeof rl, "%s%s%s", rel, *rel ? "/" : "", names[i]) >= (int)sizeof rl)
                r = hpk_fail(e, t->status, "%s/%s: path too long", abs, names[i]);
            else
                r = add_node(s, t, a, rl, cp, depth, e);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

int hpk_snapshot_tree(struct hpk_snapshot *s, const char *dir, const struct hpk_tree_dst *dst, struct hpk_err *e)
{
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(dir, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return hpk_fail(e, dst->status, "%s: not a directory", dir);
    struct hpk_tree_dst t = *dst;
    t.root = real;
    if (!hpk_snapshot_has(s, t.prefix) && !hpk_snapshot_add(s, t.prefix, S_IFDIR | 0755, t.role))
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    size_t from = s->n;
    int rc = walk(s, &t, real, "", NULL, 0, e);
    hpk_snapshot_hash_rest(s, from); /* also after a failure: no item is left without its hash */
    return rc;
}
