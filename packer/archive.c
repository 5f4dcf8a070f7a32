/*
 * archive.c - the archive reader: a tar, tar.gz (any format and filter
 * libarchive reads) or zip read in memory into the snapshot below one
 * payload prefix, its one top directory stripped when there is one.
 * Members below a symlink member, members given twice and other file
 * types than file, directory and symlink are refused; hard links become
 * copies; symlinks are then judged by archlinks.c.
 *
 * The archive is decoded once (a JDK .tar.gz is 150 MB to inflate): every
 * member into memory, then the top directory is known and the members are
 * placed. Errors come in the order a member-by-member reader would give
 * them: a member refused before a later member that cannot be decoded.
 */
#define _GNU_SOURCE
#include "hpk_inputs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One member as decoded. */
struct member {
    char *name;     /* without leading "./" */
    mode_t type;    /* AE_IFREG, AE_IFDIR, AE_IFLNK, ... */
    mode_t perm;
    char *hardlink; /* the earlier member it is a hard link to, or NULL */
    char *symlink;  /* a symlink's target, or NULL */
    uint8_t *data;  /* a regular file's content (not a hard link's) */
    size_t size;
    char *err;      /* its content could not be read: why (then it is the last one) */
};

struct members {
    struct member *v;
    size_t n, cap;
    int opened;     /* libarchive recognised the format */
    char *err;      /* decoding stopped after the n members: why (NULL at the end) */
};

static void members_free(struct members *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        struct member *m = &ms->v[i];
        free(m->name);
        free(m->hardlink);
        free(m->symlink);
        free(m->data);
        free(m->err);
    }
    free(ms->v);
    free(ms->err);
    memset(ms, 0, sizeof *ms);
}

/* A member's name without leading "./" (NULL for the archive's root). */
static const char *member_name(struct archive_entry *ae)
{
    const char *name = archive_entry_pathname(ae);
    while (name && name[0] == '.' && name[1] == '/') name += 2;
    return name && *name && strcmp(name, ".") ? name : NULL;
}

static char *xdup_or_null(const char *s) { return s ? hpk_xstrdup(s) : NULL; }

/* Bytes of a member made resident and read at a time. */
#define MEMBER_CHUNK ((size_t)64 << 20)

/* A regular file's content into m; 0, or -1 with m->err set. The size is
 * the member header's word: its memory is reserved, and made resident only
 * as the bytes arrive (a 105-byte archive claiming a 3 GiB member once
 * took 3 GB of memory before it was found truncated). */
static int member_read(struct archive *a, struct archive_entry *ae, struct member *m)
{
    la_int64_t sz = archive_entry_size(ae);
    m->data = hpk_alloc_big(sz > 0 ? (size_t)sz : 1);
    la_int64_t got = 0;
    while (m->data && got < sz) {
        size_t n = (size_t)(sz - got) < MEMBER_CHUNK ? (size_t)(sz - got) : MEMBER_CHUNK;
        hpk_populate(m->data + got, n);
        la_ssize_t r = archive_read_data(a, m->data + got, n);
        if (r <= 0) break;
        got += r;
    }
    if (!m->data || got != sz) {
        const char *why = !m->data ? "out of memory" : archive_error_string(a);
        m->err = hpk_xstrdup(why ? why : sz < 0 ? "unknown size" : "truncated");
        return -1;
    }
    m->size = (size_t)sz;
    return 0;
}

void hpk_archive_filters(struct archive *a)
{
    /* Not "all": that runs an external lrzip or lzop found on the PATH for
     * a file with its magic. */
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_zstd(a);
}

/* Every member of the archive image, in order: the one decoding pass. */
static void members_decode(const uint8_t *img, size_t len, struct members *ms)
{
    memset(ms, 0, sizeof *ms);
    struct archive *a = archive_read_new();
    if (!a) hpk_oom();
    /* What the options name (a .zip, a .tar compressed or not), and no
     * more: "all" would take an mtree text for an archive. */
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_format_zip(a);
    hpk_archive_filters(a);
    if (archive_read_open_memory(a, img, len) != ARCHIVE_OK) {
        archive_read_free(a);
        return;
    }
    ms->opened = 1;
    struct archive_entry *ae;
    int r;
    while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        /* ARCHIVE_WARN: a name libarchive could not convert to the locale's
         * characters (hpack.c sets UTF-8): said, never dropped in silence. */
        r = ARCHIVE_OK;
        if (!archive_entry_pathname(ae)) {
            const char *why = archive_error_string(a);
            ms->err = hpk_xstrdup(why ? why : "a member name that cannot be read");
            break;
        }
        const char *name = member_name(ae);
        if (!name) continue;
        if (ms->n == ms->cap) ms->v = hpk_xrealloc(ms->v, (ms->cap = ms->cap ? 2 * ms->cap : 256) * sizeof *ms->v);
        struct member *m = &ms->v[ms->n++];
        memset(m, 0, sizeof *m);
        m->name = hpk_xstrdup(name);
        m->type = archive_entry_filetype(ae);
        m->perm = archive_entry_perm(ae);
        m->hardlink = xdup_or_null(archive_entry_hardlink(ae));
        m->symlink = xdup_or_null(archive_entry_symlink(ae));
        if (!m->hardlink && m->type == AE_IFREG && member_read(a, ae, m) != 0) break;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_EOF) {
        const char *why = archive_error_string(a);
        ms->err = hpk_xstrdup(why ? why : "unreadable");
    }
    archive_read_free(a);
}

/* The one top directory every member lies in, if there is one: "jdk-25/"
 * in a JDK tarball, "app-1.0/" in a typical distribution. A top-level
 * regular file means there is none. */
static int members_top(const struct members *ms, char *top, size_t n)
{
    int one = ms->opened;
    top[0] = 0;
    for (size_t i = 0; one && i < ms->n; i++) {
        const char *name = ms->v[i].name, *slash = strchr(name, '/');
        size_t tl = slash ? (size_t)(slash - name) : strlen(name);
        if (!slash && ms->v[i].type != AE_IFDIR) one = 0;
        else if (!top[0] && tl < n) snprintf(top, n, "%.*s", (int)tl, name);
        else if (strlen(top) != tl || strncmp(top, name, tl) != 0) one = 0;
    }
    return one && top[0];
}

/* The archive being placed into the snapshot. */
struct areader {
    struct hpk_snapshot *s;
    const char *file;
    const struct hpk_tree_dst *dst;
    const char *top; /* the top directory stripped, "" if none */
    size_t tl;
};

static int nomem(struct hpk_err *e) { return hpk_fail(e, HPK_ST_INTERNAL, "out of memory"); }

/* Its parents first (archives may omit directory members). A member below
 * a symlink member would be unpacked through the link (where tar puts it
 * depends on the order; a payload cannot hold it). */
static int add_parents(const struct areader *r, const struct member *m, const char *rel, const char *ent,
                       struct hpk_err *e)
{
    const char *prefix = r->dst->prefix;
    char par[PATH_MAX];
    snprintf(par, sizeof par, "%s", ent);
    int rc = 0;
    for (char *q = par + strlen(prefix) + 1; rc == 0 && (q = strchr(q, '/')); q++) {
        *q = 0;
        struct hpk_item *p = hpk_snapshot_find(r->s, par);
        if (p && !S_ISDIR(p->mode))
            rc = hpk_fail(e, r->dst->status, "%s: member %s lies below the %s %.*s", r->file, m->name,
                          S_ISLNK(p->mode) ? "symlink" : "file",
                          (int)(rel - m->name) + (int)(q - par) - (int)strlen(prefix) - 1, m->name);
        else if (!p && !hpk_snapshot_add(r->s, par, S_IFDIR | 0755, r->dst->role))
            rc = nomem(e);
        *q = '/';
    }
    return rc;
}

/* A member whose name is taken already: only a directory again may be. */
static int check_taken(const struct areader *r, const struct member *m, const char *ent, struct hpk_err *e)
{
    struct hpk_snapshot *s = r->s;
    struct hpk_item *was = hpk_snapshot_find(s, ent);
    if (!was) return 0;
    if (m->type == AE_IFLNK && S_ISDIR(was->mode)) {
        /* the same, members in the other order: name one that lies below */
        size_t el = strlen(ent);
        for (size_t k = 0; k < s->n; k++)
            if (!strncmp(s->items[k].path, ent, el) && s->items[k].path[el] == '/')
                return hpk_fail(e, r->dst->status, "%s: member %s%s%s lies below the symlink %s", r->file, r->top,
                                    r->tl ? "/" : "", s->items[k].path + strlen(r->dst->prefix) + 1, m->name);
    }
    if (m->type != AE_IFDIR || !S_ISDIR(was->mode)) /* tar would replace it: which one is meant? */
        return hpk_fail(e, r->dst->status, "%s: member %s appears twice", r->file, m->name);
    return 0;
}

/* A hard link: the content of an earlier member. */
static int add_hardlink(const struct areader *r, const struct member *m, const char *ent, struct hpk_err *e)
{
    struct hpk_snapshot *s = r->s;
    const char *hl = m->hardlink, *top = r->top;
    size_t tl = r->tl;
    char tgt[PATH_MAX];
    while (hl[0] == '.' && hl[1] == '/') hl += 2;
    /* the target lies in the same top directory as the members, or it names nothing of ours */
    int in_top = !tl || (!strncmp(hl, top, tl) && (hl[tl] == '/' || !hl[tl]));
    snprintf(tgt, sizeof tgt, "%s/%s", r->dst->prefix, !in_top ? "" : tl ? hl + tl + (hl[tl] == '/') : hl);
    struct hpk_item *src = in_top ? hpk_snapshot_find(s, tgt) : NULL;
    if (!src || !S_ISREG(src->mode))
        return hpk_fail(e, r->dst->status, "%s: hard link %s to missing %s", r->file, m->name, hl);
    size_t si = (size_t)(src - s->items);
    struct hpk_item *it = hpk_snapshot_add(s, ent, 0, r->dst->role);
    return !it || hpk_item_copy(it, &s->items[si]) != 0 ? nomem(e) : 0;
}

/* The item of a directory, symlink or regular file member; its content
 * moves from the member to the item. */
static int add_typed(const struct areader *r, struct member *m, const char *ent, struct hpk_err *e)
{
    struct hpk_snapshot *s = r->s;
    struct hpk_item *it;
    if (m->type == AE_IFDIR) {
        if (!hpk_snapshot_find(s, ent) && !hpk_snapshot_add(s, ent, S_IFDIR | 0755, r->dst->role)) return nomem(e);
    } else if (m->type == AE_IFLNK) {
        /* Stored even when it points outside the archive: archlinks.c
         * drops it then, but until then a member below it is refused
         * whichever comes first (the directory walk never sees one). */
        const char *t = m->symlink;
        if (!t || !*t) {
            hpk_warn("%s: skipping symlink %s without a target", r->file, m->name);
            return 0;
        }
        if (strlen(t) > HPK_PATH_MAX)
            return hpk_fail(e, r->dst->status, "%s: member %s: symlink target longer than %u bytes", r->file, m->name,
                            HPK_PATH_MAX);
        if (!(it = hpk_snapshot_add(s, ent, S_IFLNK | 0777, r->dst->role))) return nomem(e);
        it->size = strlen(t);
        it->data = (uint8_t *)m->symlink;
        m->symlink = NULL;
        hpk_hash_bytes(t, it->size, it->hash);
    } else if (m->type == AE_IFREG) {
        if (!(it = hpk_snapshot_add(s, ent, hpk_file_mode(m->perm), r->dst->role))) return nomem(e);
        if (m->err) return hpk_fail(e, r->dst->status, "%s: member %s: %s", r->file, m->name, m->err);
        it->data = m->data;
        it->size = m->size;
        m->data = NULL;
        hpk_hash_bytes(it->data, it->size, it->hash);
        it->no_compress = hpk_already_compressed(ent);
    } else {
        return hpk_fail(e, r->dst->status, "%s: member %s is not a file, directory or symlink", r->file, m->name);
    }
    return 0;
}

/* One member into the snapshot, below the prefix, the top stripped. */
static int add_member(const struct areader *r, struct member *m, struct hpk_err *e)
{
    const char *rel = r->tl ? m->name + r->tl : m->name; /* members_top checked every member starts with top */
    while (*rel == '/') rel++;
    size_t rl = strlen(rel);
    while (rl && rel[rl - 1] == '/') rl--;
    if (rl == 0) return 0;
    char ent[PATH_MAX];
    if ((size_t)snprintf(ent, sizeof ent, "%s/%.*s", r->dst->prefix, (int)rl, rel) >= sizeof ent)
        return hpk_fail(e, r->dst->status, "%s: member %.200s...: name too long", r->file, m->name);
    if (!hpk_layout_path_ok(ent, strlen(ent)))
        return hpk_fail(e, r->dst->status, "%s: member %s: name not allowed in a payload", r->file, m->name);
    if (add_parents(r, m, rel, ent, e) != 0 || check_taken(r, m, ent, e) != 0) return -1;
    if (m->hardlink) return add_hardlink(r, m, ent, e);
    return add_typed(r, m, ent, e);
}

int hpk_snapshot_archive(struct hpk_snapshot *s, const char *file, const struct hpk_tree_dst *dst, int need_top,
                         char *top, size_t topn, struct hpk_err *e)
{
    uint8_t *img;
    size_t len;
    if (hpk_read_file(file, &img, &len) != 0)
        return hpk_fail(e, dst->status, "%s: cannot read: %s", file, strerror(errno));
    if (s->n_archives < HPK_MAX_ARCHIVES) {
        s->archives[s->n_archives] = hpk_xstrdup(file);
        hpk_hash_bytes(img, len, s->archive_hash[s->n_archives]);
        s->n_archives++;
    }
    struct members ms;
    members_decode(img, len, &ms);
    free(img); /* the members hold their content now */
    int has_top = members_top(&ms, top, topn), rc = 0;
    if (!has_top) top[0] = 0;
    if (need_top && !has_top)
        rc = hpk_fail(e, dst->status, "%s: not an archive with one top directory (a Java home)", file);
    else if (!ms.opened)
        rc = hpk_fail(e, dst->status, "%s: not a directory nor an archive hpack can read", file);
    else if (!hpk_snapshot_find(s, dst->prefix) && !hpk_snapshot_add(s, dst->prefix, S_IFDIR | 0755, dst->role))
        rc = nomem(e);
    struct areader r = {s, file, dst, top, strlen(top)};
    for (size_t i = 0; rc == 0 && i < ms.n; i++) rc = add_member(&r, &ms.v[i], e);
    if (rc == 0 && ms.err) rc = hpk_fail(e, dst->status, "%s: %s", file, ms.err);
    members_free(&ms);
    if (rc) return rc;
    return hpk_archive_links(s, file, dst->prefix, dst->status, e);
}
