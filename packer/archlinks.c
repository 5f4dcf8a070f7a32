/*
 * archlinks.c - the tree walk's symlink rule (treewalk.c) for a tree read
 * from an archive, where a link's target is another member, not the disk.
 *
 * A link that resolves inside without passing through another link stays a
 * link; one through a link is replaced by what it names (a file's content,
 * a directory's copy, whose own links are judged where they really are);
 * one that names nothing inside is dropped with a warning; a link to a
 * directory that contains it is an error (its copy would never end).
 */
#define _GNU_SOURCE
#include "hpk_inputs.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Is `path` (below prefix/) a symlink member? hpk_link_resolve asks. */
struct snap_ctx {
    struct hpk_snapshot *s;
    const char *prefix;
};

static int snap_is_link(void *ctx, const char *path)
{
    const struct snap_ctx *c = ctx;
    char ent[PATH_MAX + 64];
    snprintf(ent, sizeof ent, "%s/%s", c->prefix, path);
    struct hpk_item *it = hpk_snapshot_find(c->s, ent);
    return it && S_ISLNK(it->mode);
}

/* The links of one archive, judged against its members as read: a link
 * materialised or skipped changes the tree only once all are judged, so no
 * verdict depends on the order of the members (the directory walk judges
 * every link against the disk, where nothing changes). */
struct alinks {
    struct hpk_snapshot *s;
    const char *file, *prefix;
    int status;
    size_t n0; /* items[0..n0) as read; copies are added after them */
    size_t copies, max_copies;        /* items the copies of directories added, and the most allowed */
    uint64_t copy_bytes, max_bytes;   /* their bytes, and the most allowed */
};

enum { AL_KEEP, AL_SKIP, AL_COPY };

/* The verdict on link item k where it is (treewalk.c add_link's rule): AL_KEEP, AL_SKIP,
 * or AL_COPY with *to the item it names and found its path; -1 on a loop. */
static int link_fate(const struct alinks *c, size_t k, size_t *to, char *found, size_t fn, struct hpk_err *e)
{
    const struct hpk_item *it = &c->s->items[k];
    /* An absolute target names the host that unpacks the archive, nothing in it. */
    if (it->size && ((const char *)it->data)[0] == '/') return AL_SKIP;
    const char *rel = it->path + strlen(c->prefix) + 1, *sl = strrchr(rel, '/');
    char start[2 * PATH_MAX];
    snprintf(start, sizeof start, "%.*s%s%.*s", sl ? (int)(sl - rel) : 0, rel, sl ? "/" : "", (int)it->size,
             (const char *)it->data);
    struct snap_ctx ctx = {c->s, c->prefix};
    found[0] = 0; /* hpk_snapshot_follow sets it only when it finds something */
    struct hpk_item *t = hpk_snapshot_follow(c->s, c->prefix, start, found, fn);
    if (t && hpk_link_resolve(rel, strlen(rel), (const char *)it->data, it->size, snap_is_link, &ctx) == HPK_LINK_OK)
        return AL_KEEP;
    size_t fl = strlen(found);
    if (t && S_ISDIR(t->mode) && (!fl || (!strncmp(rel, found, fl) && rel[fl] == '/')))
        return hpk_fail(e, c->status, "%s: member %s: symlink to a directory that contains it (a loop)", c->file,
                            rel);
    if (!t || (!S_ISREG(t->mode) && !S_ISDIR(t->mode))) return AL_SKIP;
    *to = (size_t)(t - c->s->items);
    return AL_COPY;
}

static void skip_warning(const struct alinks *c, const char *path, const struct hpk_item *link)
{
    hpk_warn("%s: skipping symlink %s -> %.*s (names nothing inside the archive)", c->file,
             path + strlen(c->prefix) + 1, (int)link->size, (const char *)link->data);
}

/* Copy what lies below the directory `found` to `dst` (prefix-relative
 * paths), in place of a materialised link. Each link below is judged at its
 * own place, as the directory walk does: kept, it becomes a link to the same
 * place from its copy's directory (a place inside `found` meaning its copy). */
struct copy_chain {
    const char *found;
    const struct copy_chain *up;
};

static int copy_dir(struct alinks *c, const char *found, const char *dst, const struct copy_chain *up,
                    struct hpk_err *e)
{
    struct hpk_snapshot *s = c->s;
    /* A directory copied inside its own copy: it would never end. */
    for (const struct copy_chain *u = up; u; u = u->up)
        if (!strcmp(u->found, found))
            return hpk_fail(e, c->status, "%s: member %s: symlink to a directory that contains it (a loop)",
                                c->file, dst);
    struct copy_chain me = {found, up};
    char from[PATH_MAX + 64];
    int fn = snprintf(from, sizeof from, "%s/%s/", c->prefix, found);
    for (size_t k = 0; k < c->n0; k++) {
        if (strncmp(s->items[k].path, from, (size_t)fn) != 0) continue;
        char np[PATH_MAX + 64];
        snprintf(np, sizeof np, "%s/%s/%s", c->prefix, dst, s->items[k].path + fn);
        if (!hpk_layout_path_ok(np, strlen(np)))
            return hpk_fail(e, c->status, "%s: member %s: path too long once materialised", c->file, dst);
        size_t src = k; /* what the copy is made of */
        int fate = AL_COPY;
        char f2[PATH_MAX] = ""; /* set for a link only: the directories below found are copied by this loop */
        if (S_ISLNK(s->items[k].mode) && (fate = link_fate(c, k, &src, f2, sizeof f2, e)) < 0) return -1;
        if (fate == AL_SKIP) {
            skip_warning(c, np, &s->items[k]);
            continue;
        }
        /* Links to directories holding links to directories can fan out,
         * each level doubling the copies: a 869-byte archive took 688 MB.
         * A distribution's own links copy a little of it, not many times it. */
        c->copies++;
        c->copy_bytes += s->items[src].size;
        if (c->copies > c->max_copies || c->copy_bytes > c->max_bytes)
            return hpk_fail(e, c->status, "%s: member %s: its symlinks to directories copy more than %zu files or "
                            "%llu MiB, several times what the archive holds; refused", c->file, dst, c->max_copies,
                            (unsigned long long)(c->max_bytes >> 20));
        struct hpk_item *n = hpk_snapshot_add(s, np, 0, s->items[k].role);
        if (!n || hpk_item_copy(n, &s->items[src]) != 0) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
        if (fate == AL_KEEP && S_ISLNK(n->mode)) {
            const char *orig = s->items[k].path + strlen(c->prefix) + 1, *nrel = np + strlen(c->prefix) + 1;
            char tg[PATH_MAX];
            if (hpk_copied_target(orig, (const char *)s->items[k].data, s->items[k].size, found, dst, nrel, tg, sizeof tg) != 0)
                return hpk_fail(e, c->status, "%s: member %s: path too long in its copy", c->file, nrel);
            free(n->data);
            if (!(n->data = (uint8_t *)strdup(tg))) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
            n->size = strlen(tg);
            hpk_hash_bytes(tg, n->size, n->hash);
        }
        if (fate == AL_COPY && S_ISDIR(n->mode) && f2[0] &&
            copy_dir(c, f2, np + strlen(c->prefix) + 1, &me, e) != 0)
            return -1;
    }
    return 0;
}

/* Every link is judged first, then the snapshot changes (hpk_inputs.h). */
int hpk_archive_links(struct hpk_snapshot *s, const char *file, const char *prefix, int status, struct hpk_err *e)
{
    size_t pl = strlen(prefix);
    struct alinks c = {s, file, prefix, status, s->n, 0, 0, 0, 0};
    uint64_t bytes = 0;
    for (size_t i = 0; i < c.n0; i++) bytes += s->items[i].size;
    c.max_copies = 4 * c.n0 > 10000 ? 4 * c.n0 : 10000;
    c.max_bytes = 4 * bytes > ((uint64_t)256 << 20) ? 4 * bytes : (uint64_t)256 << 20;
    /* verdict[i]: the item link i becomes (itself when kept), or SIZE_MAX to drop it */
    size_t *verdict = malloc((c.n0 ? c.n0 : 1) * sizeof *verdict);
    if (!verdict) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    for (size_t i = 0; i < c.n0; i++) verdict[i] = i;
    int rc = 0;
    for (size_t i = 0; i < c.n0 && rc == 0; i++) {
        const struct hpk_item *it = &s->items[i];
        if (!S_ISLNK(it->mode) || strncmp(it->path, prefix, pl) != 0 || it->path[pl] != '/') continue;
        char found[PATH_MAX];
        int fate = link_fate(&c, i, &verdict[i], found, sizeof found, e);
        if (fate < 0) {
            rc = -1;
        } else if (fate == AL_SKIP) {
            skip_warning(&c, it->path, it);
            verdict[i] = SIZE_MAX;
        } else if (fate == AL_COPY) {
            hpk_info("%s: materialising symlink %s (through another link)", file, it->path + pl + 1);
            if (S_ISDIR(s->items[verdict[i]].mode)) {
                char self[PATH_MAX];
                snprintf(self, sizeof self, "%s", it->path + pl + 1);
                rc = copy_dir(&c, found, self, NULL, e);
            }
        }
    }
    /* Now that every link has been judged, materialise (what a link names is
     * never a link: no copy reads an item already replaced) ... */
    for (size_t i = 0; i < c.n0 && rc == 0; i++)
        if (verdict[i] != i && verdict[i] != SIZE_MAX && hpk_item_copy(&s->items[i], &s->items[verdict[i]]) != 0)
            rc = hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    /* ... then drop the skipped ones. */
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct hpk_item *it = &s->items[i];
        if (i < c.n0 && verdict[i] == SIZE_MAX) {
            free(it->path);
            free(it->data);
            free(it->source);
            continue;
        }
        s->items[w++] = *it;
    }
    s->n = w;
    hpk_snapshot_reindex(s);
    free(verdict);
    return rc;
}
