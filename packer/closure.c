/*
 * closure.c - the class path closure: every jar the JVM will reach through
 * manifest Class-Path attributes, packed, and found inside the tree.
 *
 * The JVM (jdk.internal.loader.URLClassPath) takes each class path element
 * by its real path (ClassLoaders.toFileURL: Path.toRealPath), then resolves
 * the jar's Class-Path URLs against that URL: lexically ("a/../b" is "b"),
 * the kernel following links only when it opens the result. Class-Path jars
 * are taken as resolved, not by their real path, and their own Class-Path
 * is resolved against that, recursively. An absolute entry is a host path.
 *
 * hpack computes what the JVM finds on the build host (host side) and where
 * the same entry lands in the unpacked tree (tree side), and makes both the
 * same bytes:
 *  - the place the entry resolves to in the tree already holds those bytes
 *    (a sibling in the distribution, a class path jar): nothing to do;
 *  - the place is free (below app/): the jar is put there, a symlink to its
 *    packed copy when there is one, else the copy itself; the jar's bytes are
 *    untouched, so a signature stays valid;
 *  - otherwise (an absolute entry, a place outside app/ or holding other
 *    bytes): the manifest's Class-Path is rewritten to name the packed copy,
 *    relative to the jar, and the original jar's hash recorded (hpack/closure).
 *    A signed jar's manifest cannot be rewritten: its entry stays a host
 *    path, the packed copy goes on the class path before the jar (so its
 *    classes win) and a warning says the JVM will still look on the host.
 * An entry naming nothing at build time is ignored by the JVM too: a
 * warning. --strict-class-path makes every such warning an error.
 *
 * Then the same for the distribution's other jars (visit_dist_jars): its
 * own launcher (Maven's classworlds, Groovy's starter) loads lib/ jars with
 * a URLClassLoader, which follows their Class-Path just as the JVM does
 * (Debian's Maven has lib/cdi-api.jar naming /usr/share/java/...).
 */
#define _GNU_SOURCE
#include "hpk_build.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct rewrite {
    char *jar;              /* tree path of the jar whose manifest changes */
    struct hpk_strv from, to; /* entry as written -> new entry ("": dropped) */
    long *drop_rec;         /* per entry: where its "dropped" record's status lies in rec, or -1 */
};

struct cl {
    struct hpk_build *b;
    struct hpk_snapshot *s;
    char *dist_root;            /* realpath of a --app-dist directory, or NULL */
    struct hpk_strv seen;       /* tree paths already visited (as the JVM reaches them) */
    struct hpk_strv host_real, host_at; /* host jar (real path) -> its packed copy */
    struct rewrite *rw;
    size_t nrw;
    struct hpk_strv *before;    /* per top-level element: copies placed before it */
    size_t top;                 /* the top-level element being followed */
    FILE *rec;                  /* hpack/closure records */
    char *rec_buf;
    size_t rec_len;
    int problems;
    int off_cp;                 /* following the distribution's other jars (visit_dist_jars) */
    int depth;                  /* jars being visited, one inside the other's Class-Path */
    char first[900];
    struct hpk_err *e;
};


/* How deep a Class-Path chain (a.jar names b.jar, which names c.jar...)
 * is followed: visit recurses once a jar, with some 27 KB of paths on the
 * stack each time, and a 9.7 KB archive of 300 chained jars overflowed it.
 * Real chains are a few jars long. */
#define MAX_CHAIN 100

static ssize_t find_str(const struct hpk_strv *v, const char *s)
{
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->v[i], s)) return (ssize_t)i;
    return -1;
}

/* A warning of the kind --strict-class-path turns into an error; with
 * `weak`, only said with -v. */
static void say(struct cl *c, int weak, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
static void say(struct cl *c, int weak, const char *fmt, va_list ap)
{
    char m[900];
    vsnprintf(m, sizeof m, fmt, ap);
    if (weak) {
        hpk_info("%s", m);
        return;
    }
    if (!c->problems++) snprintf(c->first, sizeof c->first, "%s", m);
    if (!c->b->strict_cp) hpk_warn("%s", m);
}

static void problem(struct cl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct cl *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(c, 0, fmt, ap);
    va_end(ap);
}

/* An entry naming nothing: the JVM ignores it, and so does a class loader.
 * A warning for a class path jar's entry; for the distribution's other jars,
 * which nothing may ever load (Debian's name jars it does not install),
 * said with -v only. */
static void missing(struct cl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void missing(struct cl *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(c, c->off_cp, fmt, ap);
    va_end(ap);
}

/* One hpack/closure record (docs/format.md 9.4). Returns where its status
 * lies in rec_buf (for restate), or -1 when that cannot be had. */
static long record(struct cl *c, const char *jar, const char *entry, const char *status, const char *from,
                   const char *path)
{
    char v[3 * PATH_MAX];
    int head = snprintf(v, sizeof v, "%s\t%s\t", jar, entry);
    snprintf(v, sizeof v, "%s\t%s\t%s\t%s\t%s", jar, entry, status, from, path ? path : "-");
    long at = fflush(c->rec) == 0 && head + strlen(status) < sizeof v ? (long)(c->rec_len + strlen("entry=") + head) : -1;
    fprintf(c->rec, "entry=%s%c", v, 0);
    return at;
}

/* Change a record's status in place, to one of the same length: a drop
 * that gave way to a rewrite ("dropped" -> "missing"). */
static void restate(struct cl *c, long at, const char *status)
{
    if (at >= 0 && fflush(c->rec) == 0) memcpy(c->rec_buf + at, status, strlen(status));
}

/* Is every existing parent of tree path p a directory (not a link, not a
 * file), and p itself free? Then an entry can be placed there. */
static int placeable(struct hpk_snapshot *s, const char *p)
{
    if (strncmp(p, "app/", 4) || !hpk_layout_path_ok(p, strlen(p)) || hpk_snapshot_find(s, p)) return 0;
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", p);
    for (char *q = buf; (q = strchr(q, '/')); q++) {
        *q = 0;
        struct hpk_item *it = hpk_snapshot_find(s, buf);
        *q = '/';
        if (it && !S_ISDIR(it->mode)) return 0;
    }
    return 1;
}

static int add_parents(struct hpk_snapshot *s, const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf; (p = strchr(p, '/')); p++) {
        *p = 0;
        if (!hpk_snapshot_find(s, buf) && !hpk_snapshot_add(s, buf, S_IFDIR | 0755, HPK_ROLE_CLASSPATH)) return -1;
        *p = '/';
    }
    return 0;
}

static int copy_into(struct hpk_item *to, const struct hpk_item *from)
{
    to->mode = S_IFREG | 0644;
    to->size = from->size;
    memcpy(to->hash, from->hash, 16);
    to->id = from->id;
    to->no_compress = from->no_compress;
    if (!(to->data = malloc(from->size ? from->size : 1))) return -1;
    memcpy(to->data, from->data, from->size);
    to->source = from->source ? strdup(from->source) : NULL;
    return 0;
}

/* The tree path of the packed copy of host file `real`, or NULL. */
static const char *packed_copy(struct cl *c, const char *real, char *buf, size_t n)
{
    ssize_t k = find_str(&c->host_real, real);
    if (k >= 0) return c->host_at.v[k];
    size_t rl = c->dist_root ? strlen(c->dist_root) : 0;
    if (rl && !strncmp(real, c->dist_root, rl) && real[rl] == '/') {
        char found[PATH_MAX];
        struct hpk_item *it = hpk_snapshot_follow(c->s, "app", real + rl + 1, found, sizeof found);
        if (it && S_ISREG(it->mode)) {
            snprintf(buf, n, "app/%s", found);
            return buf;
        }
    }
    return NULL;
}

/* Pack host file `real` (a jar outside every input so far) at tree path
 * `at`, or at app/<name> (app/2/<name>, ... when taken) if at is NULL:
 * a name of our choosing, so a ':' in it becomes '_', as for a --cp jar
 * (assemble.c add_jar): the JVM splits its class path at ':', and the
 * build refuses such a class path jar (hpk_launch_cp_ok). */
static int pack_host(struct cl *c, const char *real, const char *at, char *where, size_t wn)
{
    if (at) snprintf(where, wn, "%s", at);
    else {
        char base[PATH_MAX];
        snprintf(base, sizeof base, "%s", strrchr(real, '/') + 1);
        for (char *k = base; (k = strchr(k, ':')); k++) *k = '_';
        snprintf(where, wn, "app/%s", base);
        for (int k = 2; !placeable(c->s, where); k++) {
            snprintf(where, wn, "app/%d/%s", k, base);
            if (k > 1000 || !hpk_layout_path_ok(where, strlen(where)))
                return hpk_fail(c->e, HPK_ST_CLASSPATH, "%s: file name not allowed in a payload", real);
        }
    }
    struct hpk_item *it;
    if (add_parents(c->s, where) != 0 || !(it = hpk_snapshot_add(c->s, where, S_IFREG | 0644, HPK_ROLE_CLASSPATH)))
        return hpk_fail(c->e, HPK_ST_INTERNAL, "out of memory");
    if (hpk_snapshot_file(it, real, HPK_ST_CLASSPATH, c->e) != 0) return -1;
    it->mode = S_IFREG | 0644;
    struct hpk_manifest m;
    if (hpk_jar_manifest(it->data, it->size, real, &m, c->e) != 0) return -1;
    hpk_manifest_free(&m);
    hpk_strv_push(&c->host_real, real);
    hpk_strv_push(&c->host_at, where);
    return 0;
}

/* Entry `from` of jar's manifest becomes `to`; "" drops it (drop_rec:
 * where the record saying so lies). A drop is weak: the same entry reached
 * by another path that names a packed copy wins, and the earlier record
 * then says "missing" (the manifest keeps the entry). 1 when two paths want
 * two different places, or a drop meets a rewrite: the first one stays. */
static int add_rewrite(struct cl *c, const char *jar, const char *from, const char *to, long drop_rec)
{
    struct rewrite *r = NULL;
    for (size_t i = 0; i < c->nrw; i++)
        if (!strcmp(c->rw[i].jar, jar)) r = &c->rw[i];
    if (!r) {
        struct rewrite *n = realloc(c->rw, (c->nrw + 1) * sizeof *n);
        if (!n) return -1;
        c->rw = n;
        r = &c->rw[c->nrw++];
        memset(r, 0, sizeof *r);
        r->jar = strdup(jar);
    }
    ssize_t k = find_str(&r->from, from);
    if (k >= 0 && !*r->to.v[k] && *to) {
        free(r->to.v[k]);
        r->to.v[k] = hpk_xstrdup(to);
        restate(c, r->drop_rec[k], "missing");
        r->drop_rec[k] = -1;
        return 0;
    }
    if (k >= 0) return strcmp(r->to.v[k], to) ? 1 : 0; /* reached twice, wanting two places: cannot */
    long *d = realloc(r->drop_rec, (r->from.n + 1) * sizeof *d);
    if (!d) return -1;
    r->drop_rec = d;
    d[r->from.n] = *to ? -1 : drop_rec;
    hpk_strv_push(&r->from, from);
    hpk_strv_push(&r->to, to);
    return 0;
}

static int visit(struct cl *c, const char *rt, const char *host);

/* The jar as the user knows it, for messages: the file it was read from,
 * else (a member of an archive distribution) ARCHIVE:PATH. */
static const char *jar_name(const struct cl *c, const struct hpk_item *jar, const char *rt, char *buf, size_t n)
{
    if (jar->source) return jar->source;
    snprintf(buf, n, "%s:%s", c->b->app_dist ? c->b->app_dist : "", rt + 4);
    return buf;
}

/* One Class-Path token being followed: what follow_entry's steps share. */
struct entry {
    const char *rt;           /* the jar holding the token, as the JVM reaches it in the tree */
    const char *host;         /* the same jar on the host, NULL inside an archive distribution */
    const char *jar_path;     /* the jar's own tree path (its manifest is the one rewritten) */
    const char *jname;        /* the jar for messages (jar_name) */
    const char *tok;          /* the token as written */
    int is_signed;
    char ep[PATH_MAX];        /* the token as a file path (entry_path) */
    int absolute;             /* ep is a host path */
    int d_in;                 /* d is a tree path: lexjoin stayed inside the tree */
    char d[2 * PATH_MAX];     /* where the token leads in the tree */
    char h[2 * PATH_MAX];     /* where it leads on the host */
    char real[PATH_MAX];      /* h's real path */
    const char *content;      /* tree path of the bytes the JVM finds there, once packed; NULL: not packed yet */
    const char *from;         /* the record's origin: dist, packed, outside, or the absolute entry */
    uint8_t want[16];         /* the hash of those bytes */
    struct hpk_item tmp;      /* the host file, read when it is not packed yet */
    char buf[PATH_MAX];       /* content's storage when it is found by a search */
    char jn[PATH_MAX + 64];   /* jname's storage */
};

/* A token ending in "/": a directory of classes. Only the distribution's
 * own directories are in the tree; hpack packs jars, not host directories. */
static int follow_dir(struct cl *c, struct entry *e)
{
    char found[PATH_MAX];
    struct hpk_item *it = e->d_in ? hpk_snapshot_follow(c->s, "app", e->d + 4, found, sizeof found) : NULL;
    if (e->d_in && !strncmp(e->d, "app/", 4) && it && S_ISDIR(it->mode)) {
        record(c, e->rt, e->tok, "in-tree", "dist", e->d);
        return 0;
    }
    problem(c, "%s: Class-Path entry %s is a directory outside the distribution: not packed (hpack packs jars), "
            "the JVM would read it on the host", e->jname, e->tok);
    record(c, e->rt, e->tok, "unpacked", "-", NULL);
    return 0;
}

static int unreachable(struct cl *c, struct entry *e, const char *why);

/* A relative token of a jar inside an archive distribution: there is no
 * host side, the tree is all the JVM will see. */
static int follow_in_dist(struct cl *c, struct entry *e)
{
    char found[PATH_MAX];
    struct hpk_item *it =
        e->d_in && !strncmp(e->d, "app/", 4) ? hpk_snapshot_follow(c->s, "app", e->d + 4, found, sizeof found) : NULL;
    if (!e->d_in) {
        /* Above the distribution: a host path, whatever host it runs on
         * (the JVM would read a file there). Dropped, as for a directory. */
        snprintf(e->h, sizeof e->h, "it");
        return unreachable(c, e, "leads out of the distribution") > 0 ? 0 : -1;
    }
    if (!it || !S_ISREG(it->mode)) {
        missing(c, "%s: Class-Path entry %s names no jar in the distribution; ignored, as the JVM does", e->jname, e->tok);
        record(c, e->rt, e->tok, "missing", "-", NULL);
        return 0;
    }
    record(c, e->rt, e->tok, "in-tree", "dist", e->d);
    return visit(c, e->d, NULL);
}

/* Token e names nothing the JVM can use on the build host (why: what is
 * there), which it ignores: recorded, and dropped from the manifest when it
 * is a host path (absolute, or leaving the tree): another host may have a
 * file there, which the JVM would run. A signed jar's manifest cannot
 * change: its token stays. 1, or -1 out of memory. */
static int unreachable(struct cl *c, struct entry *e, const char *why)
{
    int drop = (e->absolute || !e->d_in) && !e->is_signed;
    long at = record(c, e->rt, e->tok, drop ? "dropped" : "missing", e->absolute ? e->ep : "-", NULL);
    if (drop) {
        int r = add_rewrite(c, e->jar_path, e->tok, "", at);
        if (r < 0) return hpk_fail(c->e, HPK_ST_INTERNAL, "out of memory");
        if (r > 0) restate(c, at, "missing"), drop = 0; /* the entry is rewritten for another path */
    }
    missing(c, "%s: Class-Path entry %s: %s %s; ignored, as the JVM does%s", e->jname, e->tok, e->h, why,
            drop ? " (dropped from the manifest)" : "");
    return 1;
}

/* The host side: the file the JVM finds running the inputs in place (h,
 * real). 1 when there is none (the JVM ignores the token: recorded). Such a
 * token naming a host path (absolute, or leaving the tree) is dropped from
 * the manifest: another host may have a file there, which the JVM would
 * run. A signed jar's manifest cannot change: its token stays. */
static int host_target(struct cl *c, struct entry *e)
{
    if (e->absolute) snprintf(e->h, sizeof e->h, "%s", e->ep);
    else hpk_cp_join(e->host, e->ep, e->h, sizeof e->h);
    struct stat st;
    if (stat(e->h, &st) == 0 && S_ISREG(st.st_mode) && realpath(e->h, e->real)) return 0;
    int dir = stat(e->h, &st) == 0 && S_ISDIR(st.st_mode);
    return unreachable(c, e, dir ? "is a directory, not a jar" : "does not exist");
}

/* Where the host file's bytes come from: the distribution, a jar packed
 * already (the class path's, or one packed for an earlier entry), or
 * outside every input so far (then read into tmp, and checked to be a
 * jar); an absolute entry shows its path. Sets content, from and want. */
static int host_bytes(struct cl *c, struct entry *e)
{
    e->content = packed_copy(c, e->real, e->buf, sizeof e->buf);
    e->from = e->content ? (find_str(&c->host_real, e->real) < 0 ? "dist" : "packed") : "outside";
    if (e->content) {
        memcpy(e->want, hpk_snapshot_find(c->s, e->content)->hash, 16);
    } else {
        if (hpk_snapshot_file(&e->tmp, e->h, HPK_ST_CLASSPATH, c->e) != 0) return -1;
        memcpy(e->want, e->tmp.hash, 16);
        struct hpk_manifest m;
        if (hpk_jar_manifest(e->tmp.data, e->tmp.size, e->h, &m, c->e) != 0) return -1;
        hpk_manifest_free(&m);
        /* The same bytes packed under another name (a distribution's copy
         * of a link that leaves it): no second copy. */
        for (size_t i = 0; i < c->s->n && !e->content; i++) {
            const struct hpk_item *x = &c->s->items[i];
            if (x->role == HPK_ROLE_CLASSPATH && S_ISREG(x->mode) && x->size == e->tmp.size &&
                !memcmp(x->hash, e->want, 16)) {
                snprintf(e->buf, sizeof e->buf, "%s", x->path);
                e->content = e->buf;
                e->from = "dist";
                hpk_item_data_free(&e->tmp), free(e->tmp.source);
                memset(&e->tmp, 0, sizeof e->tmp);
            }
        }
    }
    if (e->absolute) e->from = e->ep;
    return 0;
}

/* Put the packed copy (content) at the free tree place d: a link to it,
 * unless that copy's own Class-Path would then resolve from another
 * directory (then a copy). *how says which, for the record. */
static int place_packed(struct cl *c, struct entry *e, const char **how)
{
    char cdir[PATH_MAX], ddir[PATH_MAX], tg[PATH_MAX];
    snprintf(cdir, sizeof cdir, "%s", e->content);
    snprintf(ddir, sizeof ddir, "%s", e->d);
    *strrchr(cdir, '/') = 0;
    *strrchr(ddir, '/') = 0;
    struct hpk_item *ci = hpk_snapshot_find(c->s, e->content);
    struct hpk_manifest m = {0};
    struct hpk_err ig;
    int has_cp = hpk_jar_manifest(ci->data, ci->size, e->content, &m, &ig) == 0 && m.class_path;
    hpk_manifest_free(&m);
    struct hpk_item *n;
    if (add_parents(c->s, e->d) != 0) return hpk_fail(c->e, HPK_ST_INTERNAL, "out of memory");
    if (has_cp && strcmp(cdir, ddir)) {
        struct hpk_item copy = {0};
        ci = hpk_snapshot_find(c->s, e->content); /* items move as the snapshot grows */
        if (copy_into(&copy, ci) != 0 || !(n = hpk_snapshot_add(c->s, e->d, S_IFREG | 0644, HPK_ROLE_CLASSPATH)))
            return hpk_fail(c->e, HPK_ST_INTERNAL, "out of memory");
        n->mode = copy.mode, n->size = copy.size, n->data = copy.data, n->source = copy.source;
        n->id = copy.id, n->no_compress = copy.no_compress;
        memcpy(n->hash, copy.hash, 16);
        *how = "copied";
        return 0;
    }
    hpk_cp_relpath(e->d, e->content, tg, sizeof tg);
    if (!(n = hpk_snapshot_add(c->s, e->d, S_IFLNK | 0777, HPK_ROLE_CLASSPATH)) || !(n->data = (uint8_t *)strdup(tg)))
        return hpk_fail(c->e, HPK_ST_INTERNAL, "out of memory");
    n->size = strlen(tg);
    hpk_hash_bytes(tg, n->size, n->hash);
    *how = "linked";
    return 0;
}

/* The tree side: where the same token leads in the unpacked tree. 1 when
 * the same bytes are there already, or the place is free and they are put
 * there (recorded); 0 when the manifest must name the packed copy instead. */
static int tree_side(struct cl *c, struct entry *e)
{
    if (!e->d_in || strncmp(e->d, "app/", 4)) return 0;
    char found[PATH_MAX];
    struct hpk_item *it = hpk_snapshot_follow(c->s, "app", e->d + 4, found, sizeof found);
    if (it && S_ISREG(it->mode) && !memcmp(it->hash, e->want, 16)) {
        record(c, e->rt, e->tok, "in-tree", e->content || e->absolute ? e->from : "dist", e->d);
        return 1;
    }
    if (it || !placeable(c->s, e->d)) return 0;
    const char *how;
    if (!e->content) {
        struct hpk_item *n;
        if (add_parents(c->s, e->d) != 0 || !(n = hpk_snapshot_add(c->s, e->d, S_IFREG | 0644, HPK_ROLE_CLASSPATH)) ||
            copy_into(n, &e->tmp) != 0)
            return hpk_fail(c->e, HPK_ST_INTERNAL, "out of memory");
        hpk_strv_push(&c->host_real, e->real);
        hpk_strv_push(&c->host_at, e->d);
        how = "copied";
        hpk_info("%s: Class-Path entry %s: packed %s there", e->jname, e->tok, e->h);
    } else if (place_packed(c, e, &how) != 0) {
        return -1;
    }
    record(c, e->rt, e->tok, how, e->from, e->d);
    return 1;
}

/* Neither side agrees: the manifest names the packed copy instead (packed
 * now if it is not yet), relative to the jar. A signed jar's manifest, or
 * one reached by two paths wanting two rewrites, cannot be rewritten: the
 * copy goes first on the class path and the JVM still looks on the host. */
static int name_packed_copy(struct cl *c, struct entry *e)
{
    char where[PATH_MAX];
    if (!e->content) {
        if (pack_host(c, e->real, NULL, where, sizeof where) != 0) return -1;
        hpk_info("%s: Class-Path entry %s: packed %s as %s", e->jname, e->tok, e->h, where);
    } else {
        snprintf(where, sizeof where, "%s", e->content);
    }
    const char *content = where;
    char rel[PATH_MAX];
    hpk_cp_relpath(e->rt, content, rel, sizeof rel);
    int r = e->is_signed ? 1 : add_rewrite(c, e->jar_path, e->tok, rel, -1);
    if (r < 0) return hpk_fail(c->e, HPK_ST_INTERNAL, "out of memory");
    if (r > 0) {
        const char *what = e->absolute ? "is a host path" : "leads outside the unpacked tree or to other bytes there";
        const char *why = e->is_signed ? "it is a signed jar, whose manifest hpack cannot rewrite"
                                       : "the jar is reached by two paths that would need two different rewrites";
        if (c->off_cp) {
            /* Not on the class path: nothing can come before it. */
            problem(c, "%s: Class-Path entry %s %s: %s; a class loader that loads this jar will still look at %s on "
                    "the host", e->jname, e->tok, what, why, e->absolute ? e->ep : e->tok);
        } else {
            if (find_str(&c->before[c->top], content) < 0) hpk_strv_push(&c->before[c->top], content);
            problem(c, "%s: Class-Path entry %s %s: %s; its packed copy %s comes first on the class path, but the JVM "
                    "will still look at %s on the host", e->jname, e->tok, what, why, content + 4,
                    e->absolute ? e->ep : e->tok);
        }
        record(c, e->rt, e->tok, "host", e->from, content);
        return visit(c, content, e->h);
    }
    hpk_info("%s: Class-Path entry %s becomes %s in its manifest (packed copy %s)", e->jname, e->tok, rel, content);
    record(c, e->rt, e->tok, "rewritten", e->from, content);
    char child[2 * PATH_MAX];
    if (hpk_cp_join(e->rt, rel, child, sizeof child) != 0) snprintf(child, sizeof child, "%s", content);
    return visit(c, child, e->h);
}

/* One Class-Path token of the jar reached as tree path `rt` (host path
 * `host`, or NULL inside an archive distribution, which has no host side):
 * the host side (what the JVM finds running the inputs in place) and the
 * tree side (where the token leads once unpacked) made the same bytes. */
static int follow_entry(struct cl *c, const char *rt, const char *host, const struct hpk_item *jar, int is_signed,
                        const char *tok)
{
    /* On the heap: visit and follow_entry recurse along the Class-Path chain.
     * jar points into the snapshot, which moves as it grows: keep its strings. */
    struct entry *e = hpk_xmalloc(sizeof *e);
    memset(e, 0, sizeof *e);
    e->rt = rt, e->host = host, e->jar_path = jar->path, e->tok = tok, e->is_signed = is_signed;
    e->jname = jar_name(c, jar, rt, e->jn, sizeof e->jn);
    int rc;
    if (hpk_cp_entry_path(tok, e->ep, sizeof e->ep) != 0) {
        hpk_info("%s: Class-Path entry %s is not a file path; the JVM ignores it", e->jname, tok);
        record(c, rt, tok, "ignored", "-", NULL);
        rc = 0;
    } else {
        e->absolute = e->ep[0] == '/';
        e->d_in = !e->absolute && hpk_cp_join(rt, e->ep, e->d, sizeof e->d) == 0;
        if (e->ep[strlen(e->ep) - 1] == '/') rc = follow_dir(c, e);
        else if (!host && !e->absolute) rc = follow_in_dist(c, e);
        else if ((rc = host_target(c, e)) != 0) rc = rc > 0 ? 0 : -1;
        else if ((rc = host_bytes(c, e)) != 0) {
            /* A distribution's other jar, which may never be loaded, may name
             * anything: a file that is no jar is skipped, as the JVM does. */
            if (c->off_cp) {
                hpk_info("%s", c->e->msg);
                rc = unreachable(c, e, "is not a jar") > 0 ? 0 : -1;
            }
        } else if ((rc = tree_side(c, e)) >= 0) {
            hpk_item_data_free(&e->tmp), free(e->tmp.source);
            memset(&e->tmp, 0, sizeof e->tmp);
            rc = rc > 0 ? visit(c, e->d, e->h) : name_packed_copy(c, e);
        }
    }
    hpk_item_data_free(&e->tmp), free(e->tmp.source);
    free(e);
    return rc;
}

/* A jar as the JVM reaches it: tree path rt (a regular file through the
 * tree's links), host path host (NULL in an archive distribution). */
static int visit(struct cl *c, const char *rt, const char *host)
{
    if (find_str(&c->seen, rt) >= 0) return 0;
    hpk_strv_push(&c->seen, rt);
    char found[PATH_MAX], jp[PATH_MAX + 8];
    struct hpk_item *it = hpk_snapshot_follow(c->s, "app", rt + 4, found, sizeof found);
    if (!it || !S_ISREG(it->mode)) return 0;
    if (c->depth >= MAX_CHAIN)
        return hpk_fail(c->e, HPK_ST_CLASSPATH, "%s: a Class-Path chain more than %d jars deep (each jar's Class-Path "
                        "names the next): not followed", jar_name(c, it, rt, jp, sizeof jp), MAX_CHAIN);
    snprintf(jp, sizeof jp, "app/%s", found);
    struct hpk_manifest m;
    if (hpk_jar_manifest(it->data, it->size, rt, &m, c->e) != 0) {
        if (!c->off_cp) return -1;
        /* A distribution's other jar that is no jar: nothing to follow. */
        hpk_info("%s: not a jar, its Class-Path not followed (%s)", it->source ? it->source : rt, c->e->msg);
        return 0;
    }
    int rc = 0;
    if (m.class_path) {
        char *save = NULL;
        for (char *t = strtok_r(m.class_path, " \t\r\n\f", &save); rc == 0 && t; t = strtok_r(NULL, " \t\r\n\f", &save)) {
            it = hpk_snapshot_find(c->s, jp); /* items move as the snapshot grows */
            c->depth++;
            rc = follow_entry(c, rt, host, it, m.is_signed, t);
            c->depth--;
        }
    }
    hpk_manifest_free(&m);
    return rc;
}

/* The distribution's jars that are not on the class path (nor reached from
 * it). Its own launcher may load them with a URLClassLoader (Maven's
 * classworlds, Groovy's starter, Ant's Launcher: lib/ *.jar, without the
 * space), which follows their Class-Path as the JVM's class path does
 * (URLClassPath), but from the URL it was given: the jar's place in the
 * distribution, not its real path. */
static int visit_dist_jars(struct cl *c)
{
    if (!c->b->app_dist) return 0;
    /* In bytewise order of path, not the walk's: placements (app/2/...)
     * and which of two rewrites wins depend on it. */
    struct hpk_strv jars = {0};
    for (size_t i = 0; i < c->s->n; i++) {
        const struct hpk_item *it = &c->s->items[i];
        if (it->role == HPK_ROLE_CLASSPATH && S_ISREG(it->mode) && !strncmp(it->path, "app/", 4) &&
            hpk_is_jar_name(it->path) && find_str(&c->seen, it->path) < 0)
            hpk_strv_push(&jars, it->path);
    }
    if (jars.n) qsort(jars.v, jars.n, sizeof *jars.v, hpk_str_cmp);
    c->off_cp = 1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < jars.n; i++) {
        char host[2 * PATH_MAX];
        const char *hp = NULL;
        struct stat st;
        if (c->dist_root && snprintf(host, sizeof host, "%s/%s", c->dist_root, jars.v[i] + 4) < (int)sizeof host &&
            stat(host, &st) == 0 && S_ISREG(st.st_mode))
            hp = host;
        rc = visit(c, jars.v[i], hp);
    }
    c->off_cp = 0;
    hpk_strv_free(&jars);
    return rc;
}

/* Rewrite each manifest that needs it: its tokens, each replaced or kept. */
static int apply_rewrites(struct cl *c)
{
    for (size_t i = 0; i < c->nrw; i++) {
        struct rewrite *r = &c->rw[i];
        struct hpk_item *it = hpk_snapshot_find(c->s, r->jar);
        struct hpk_manifest m;
        if (hpk_jar_manifest(it->data, it->size, r->jar, &m, c->e) != 0) return -1;
        char *v = NULL;
        size_t vl = 0;
        FILE *f = open_memstream(&v, &vl);
        int first = 1;
        char *save = NULL;
        for (char *t = strtok_r(m.class_path, " \t\r\n\f", &save); t; t = strtok_r(NULL, " \t\r\n\f", &save)) {
            ssize_t k = find_str(&r->from, t);
            const char *to = k >= 0 ? r->to.v[k] : t;
            if (!*to) continue; /* dropped (host_target); none left: the attribute goes */
            fprintf(f, "%s%s", first ? "" : " ", to);
            first = 0;
        }
        fclose(f);
        hpk_manifest_free(&m);
        uint8_t *out;
        size_t on;
        int rc = hpk_jar_rewrite_class_path(it->data, it->size, it->source ? it->source : r->jar, v, &out, &on, c->e);
        free(v);
        if (rc != 0) return -1;
        /* Read through a mapping (inputfile.c): still the bytes hashed? */
        if (hpk_item_unchanged(it, c->e) != 0) {
            free(out);
            return -1;
        }
        /* The shipped bytes differ from the input's: say which input. */
        char hex[33];
        hpk_hash_hex(it->hash, hex);
        fprintf(c->rec, "rewritten=%s\t%s%c", r->jar, hex, 0);
        memcpy(it->input_hash, it->hash, 16);
        it->rewritten = 1;
        hpk_item_data_free(it);
        it->data = out;
        it->size = on;
        hpk_hash_bytes(out, on, it->hash);
    }
    return 0;
}

int hpk_closure(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_err *e)
{
    struct cl c = {.b = b, .s = s, .e = e};
    if (b->app_dist && b->dist_is_dir) c.dist_root = realpath(b->app_dist, NULL);
    if (!(c.rec = open_memstream(&c.rec_buf, &c.rec_len))) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    c.before = calloc(b->cp_paths.n + 1, sizeof *c.before);
    size_t n0 = b->cp_paths.n;
    for (size_t i = 0; i < n0; i++)
        if (b->cp_hosts.v[i][0] && find_str(&c.host_real, b->cp_hosts.v[i]) < 0) {
            hpk_strv_push(&c.host_real, b->cp_hosts.v[i]);
            hpk_strv_push(&c.host_at, b->cp_paths.v[i]);
        }
    int rc = c.before ? 0 : hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    for (size_t i = 0; rc == 0 && i < b->cp_paths.n; i++) {
        c.top = i;
        rc = visit(&c, b->cp_paths.v[i], b->cp_hosts.v[i][0] ? b->cp_hosts.v[i] : NULL);
    }
    if (rc == 0) rc = visit_dist_jars(&c);
    if (rc == 0) rc = apply_rewrites(&c);
    if (rc == 0 && c.problems && b->strict_cp)
        rc = hpk_fail(e, HPK_ST_CLASSPATH, "%s%s (--strict-class-path)", c.first,
                          c.problems > 1 ? " (and more: see hpack build -v)" : "");
    if (rc == 0) {
        /* Copies that must come before a top-level element. */
        struct hpk_strv cp = {0}, hosts = {0};
        for (size_t i = 0; i < n0; i++) {
            for (size_t k = 0; k < c.before[i].n; k++)
                if (find_str(&cp, c.before[i].v[k]) < 0) {
                    hpk_strv_push(&cp, c.before[i].v[k]);
                    hpk_strv_push(&hosts, "");
                }
            if (find_str(&cp, b->cp_paths.v[i]) < 0) {
                hpk_strv_push(&cp, b->cp_paths.v[i]);
                hpk_strv_push(&hosts, b->cp_hosts.v[i]);
            }
        }
        hpk_strv_free(&b->cp_paths);
        hpk_strv_free(&b->cp_hosts);
        b->cp_paths = cp;
        b->cp_hosts = hosts;
    }
    fclose(c.rec);
    if (rc == 0 && c.rec_len) {
        free(b->closure);
        b->closure = c.rec_buf;
        b->closure_len = c.rec_len;
    } else {
        free(c.rec_buf);
    }
    for (size_t i = 0; c.before && i < n0 + 1; i++) hpk_strv_free(&c.before[i]);
    free(c.before);
    for (size_t i = 0; i < c.nrw; i++) {
        free(c.rw[i].jar);
        hpk_strv_free(&c.rw[i].from);
        hpk_strv_free(&c.rw[i].to);
        free(c.rw[i].drop_rec);
    }
    free(c.rw);
    hpk_strv_free(&c.seen);
    hpk_strv_free(&c.host_real);
    hpk_strv_free(&c.host_at);
    free(c.dist_root);
    return rc;
}
