/*
 * inputs.c - the snapshot: every input read and hashed exactly once.
 *
 * The packer never reads an input path after the snapshot (except to check
 * that it did not change): DA0 and DA1 are made from the same bytes, and a
 * file rewritten during training cannot slip into DA1 (the Besu problem).
 */
#define _GNU_SOURCE
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "hpk_packer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void hpk_hash_bytes(const void *buf, size_t len, uint8_t out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(buf, len));
    memcpy(out, c.digest, 16);
}

void hpk_snapshot_free(struct hpk_snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].path);
        free(s->items[i].data);
        free(s->items[i].source);
    }
    free(s->items);
    free(s->runtime_root);
    free(s->java_version);
    free(s->runtime_version);
    for (int i = 0; i < s->n_archives; i++) free(s->archives[i]);
    memset(s, 0, sizeof *s);
}

struct hpk_item *hpk_snapshot_add(struct hpk_snapshot *s, const char *path, uint32_t mode, uint8_t role)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        struct hpk_item *it = realloc(s->items, cap * sizeof *it);
        if (!it) return NULL;
        s->items = it;
        s->cap = cap;
    }
    struct hpk_item *it = &s->items[s->n];
    memset(it, 0, sizeof *it);
    if (!(it->path = strdup(path))) return NULL;
    it->mode = mode;
    it->role = role;
    s->n++;
    return it;
}

int hpk_snapshot_has(const struct hpk_snapshot *s, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].path, path) == 0) return 1;
    return 0;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int already_compressed(const char *name)
{
    static const char *const sufs[] = {".jar", ".zip", ".gz", ".xz", ".bz2", ".zst", ".png", ".jpg",
                                       ".jpeg", ".gif", ".jmod", ".war", ".ear", NULL};
    for (int i = 0; sufs[i]; i++)
        if (has_suffix(name, sufs[i])) return 1;
    return 0;
}

int hpk_snapshot_file(struct hpk_item *it, const char *file, int status, struct hpk_perr *e)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hpk_perr_set(e, status, "%s: cannot read: %s", file, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hpk_perr_set(e, status, "%s: not a regular file", file);
    }
    uint8_t *buf = hpk_alloc_big(st.st_size ? (size_t)st.st_size : 1);
    if (!buf) {
        close(fd);
        return hpk_perr_set(e, HPK_ST_INTERNAL, "%s: out of memory", file);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int saved = r < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return hpk_perr_set(e, status, "%s: read error: %s", file, strerror(saved));
        }
        got += (size_t)r;
    }
    close(fd);
    it->data = buf;
    it->size = got;
    hpk_hash_bytes(buf, got, it->hash);
    free(it->source);
    it->source = strdup(file);
    it->id.dev = st.st_dev;
    it->id.ino = st.st_ino;
    it->id.size = st.st_size;
    it->id.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    it->no_compress = already_compressed(file);
    return 0;
}

/* Is `path` (below the directory being read) a symlink on disk? */
static int disk_is_link(void *ctx, const char *path)
{
    char abs[PATH_MAX + 8];
    struct stat st;
    snprintf(abs, sizeof abs, "%s/%s", ((const struct hpk_tree_dst *)ctx)->root, path);
    return lstat(abs, &st) == 0 && S_ISLNK(st.st_mode);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint32_t file_mode(mode_t m) { return S_IFREG | ((m & 0111) ? 0755u : 0644u); }

/* Where a kept link's relative target leads, resolved lexically from the
 * link's directory: "" is the root. Only called once hpk_link_resolve has
 * said HPK_LINK_OK, so it never climbs above the root. */
static int link_dest(const char *link, const char *t, size_t tlen, char *out, size_t outn)
{
    const char *sl = strrchr(link, '/');
    size_t n = sl ? (size_t)(sl - link) : 0;
    if (n >= outn) return -1;
    memcpy(out, link, n);
    out[n] = 0;
    for (size_t i = 0; i < tlen;) {
        size_t j = i;
        while (j < tlen && t[j] != '/') j++;
        size_t c = j - i;
        if (c == 2 && t[i] == '.' && t[i + 1] == '.') {
            char *up = strrchr(out, '/');
            *(up ? up : out) = 0;
        } else if (!(c == 0 || (c == 1 && t[i] == '.'))) {
            size_t l = strlen(out);
            if ((size_t)snprintf(out + l, outn - l, "%s%.*s", l ? "/" : "", (int)c, t + i) >= outn - l) return -1;
        }
        i = j + 1;
    }
    return 0;
}

/* The shortest relative target that leads from the directory of `link` to
 * `dest` (both below one root, "" being the root): "../" for each of the
 * link's directories not shared with dest, then the rest of dest. */
static int rel_target(const char *link, const char *dest, char *out, size_t outn)
{
    const char *sl = strrchr(link, '/');
    size_t dl = sl ? (size_t)(sl - link) : 0, common = 0;
    for (size_t i = 0;; i++) {
        char x = i < dl ? link[i] : 0, y = dest[i];
        int ex = !x || x == '/', ey = !y || y == '/';
        if (ex && ey) {
            common = i;
            if (!x || !y) break;
        } else if (x != y) {
            break;
        }
    }
    size_t o = 0;
    out[0] = 0;
    for (size_t i = common; i < dl; i++)
        if (i == common || link[i] == '/') /* common is 0 or a '/': one directory each */
            o += (size_t)snprintf(out + o, o < outn ? outn - o : 0, "../");
    const char *rest = dest + common;
    while (*rest == '/') rest++;
    if (o >= outn) return -1;
    if (*rest) return (size_t)snprintf(out + o, outn - o, "%s", rest) < outn - o ? 0 : -1;
    if (o) out[o - 1] = 0; /* "../.." rather than "../../" */
    else snprintf(out, outn, ".");
    return 0;
}

/* Where `dest` (below the root the link was judged in) is in the payload
 * tree: a place inside the directory being copied maps to its copy, so a
 * materialised directory's own links stay within it, as in a copy made with
 * cp -a. `src` and `dst` are that directory and its copy. */
static int map_into_copy(const char *dest, const char *src, const char *dst, char *out, size_t outn)
{
    size_t sl = strlen(src);
    int n;
    if (!sl || (!strncmp(dest, src, sl) && (!dest[sl] || dest[sl] == '/'))) {
        const char *rest = dest + sl;
        while (*rest == '/') rest++;
        n = snprintf(out, outn, "%s%s%s", dst, *rest ? "/" : "", rest);
    } else {
        n = snprintf(out, outn, "%s", dest);
    }
    return (size_t)n < outn ? 0 : -1;
}

/* The target a kept link at `orig` (target t) gets in its copy at `nrel`,
 * the directory `src` being copied to `dst`; -1 if a path gets too long
 * (never a cut, hence wrong, target). */
static int copied_target(const char *orig, const char *t, size_t tlen, const char *src, const char *dst,
                         const char *nrel, char *out, size_t outn)
{
    char dest[PATH_MAX], mapped[PATH_MAX];
    if (link_dest(orig, t, tlen, dest, sizeof dest) != 0 || map_into_copy(dest, src, dst, mapped, sizeof mapped) != 0)
        return -1;
    return rel_target(nrel, mapped, out, outn);
}

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
                const struct copy_ctx *cp, int depth, struct hpk_perr *e);

/* Materialise the directory the link at abs (really at phys) names: its
 * copy goes to rel. It is read by its real path, so that no path the
 * kernel resolves crosses more links than the original would. */
static int walk_copy(struct hpk_snapshot *s, const struct hpk_tree_dst *t, const char *abs, const char *phys,
                     const char *rel, const struct copy_ctx *up, int depth, struct hpk_perr *e)
{
    char real[PATH_MAX];
    if (!realpath(abs, real)) {
        if (errno == ELOOP)
            return hpk_perr_set(e, t->status, "%s: directories nested too deep (symlink loop?)", abs);
        return hpk_perr_set(e, t->status, "%s: %s", abs, strerror(errno));
    }
    /* The copy would hold the link again, hence another copy, forever
     * (the same test as the archive reader's, so both refuse alike). */
    size_t l = strlen(real);
    int loop = !strncmp(phys, real, l) && (phys[l] == '/' || real[l - 1] == '/'); /* real is "/" */
    for (const struct copy_ctx *c = up; c && !loop; c = c->up) loop = !strcmp(c->real, real);
    if (loop) return hpk_perr_set(e, t->status, "%s: symlink to a directory that contains it (a loop)", abs);
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

/* rel: path below the tree's root ("" for the root); ent: payload path;
 * cp: the materialised directory rel lies in, if any. */
static int add_node(struct hpk_snapshot *s, const struct hpk_tree_dst *t, const char *abs, const char *rel,
                    const struct copy_ctx *cp, int depth, struct hpk_perr *e)
{
    char ent[PATH_MAX];
    snprintf(ent, sizeof ent, "%s/%s", t->prefix, rel);
    if (!hpk_layout_path_ok(ent, strlen(ent)))
        return hpk_perr_set(e, t->status, "%s: name not allowed in a payload", abs);
    struct stat st;
    if (lstat(abs, &st) != 0) {
        if (errno == ELOOP) /* the kernel's limit on links in one path hit first */
            return hpk_perr_set(e, t->status, "%s: directories nested too deep (symlink loop?)", abs);
        return hpk_perr_set(e, t->status, "%s: %s", abs, strerror(errno));
    }
    struct hpk_item *it;
    if (S_ISLNK(st.st_mode)) {
        char tg[PATH_MAX];
        ssize_t n = readlink(abs, tg, sizeof tg - 1);
        if (n < 0) return hpk_perr_set(e, t->status, "%s: %s", abs, strerror(errno));
        tg[n] = 0;
        struct stat ts;
        int dangling = stat(abs, &ts) != 0;
        if (dangling) {
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
        /* Kept only if it stays inside without passing through another link
         * (the launcher's own rule, hpk_link_resolve). */
        if (hpk_link_resolve(orig, strlen(orig), tg, (size_t)n, disk_is_link, (void *)where) != HPK_LINK_OK) {
            /* Pointing outside the tree (Debian's JDK points into /etc and
             * /usr/share/doc, its Maven into /usr/share/java): a payload never
             * holds a link out of its tree, so the target's content is
             * materialised in its place. */
            hpk_info("%s: materialising symlink to %s", abs, tg);
            if (S_ISDIR(ts.st_mode)) {
                if (!(it = hpk_snapshot_add(s, ent, S_IFDIR | 0755, t->role))) goto nomem;
                char phys[2 * PATH_MAX];
                snprintf(phys, sizeof phys, "%s/%s", where->root, orig);
                return walk_copy(s, t, abs, phys, rel, cp, depth, e);
            }
            if (!S_ISREG(ts.st_mode))
                return hpk_perr_set(e, t->status, "%s: symlink to %s, not a regular file", abs, tg);
            if (!(it = hpk_snapshot_add(s, ent, file_mode(ts.st_mode), t->role))) goto nomem;
            return hpk_snapshot_file(it, abs, t->status, e);
        }
        if (cp) {
            /* A copy: the same place, reached from the copy's directory. */
            char copied[PATH_MAX];
            if (copied_target(orig, tg, (size_t)n, cp->src, cp->dst, rel, copied, sizeof copied) != 0)
                return hpk_perr_set(e, t->status, "%s: path too long in its copy", abs);
            snprintf(tg, sizeof tg, "%s", copied);
            n = (ssize_t)strlen(tg);
        }
        if (!(it = hpk_snapshot_add(s, ent, S_IFLNK | 0777, t->role))) goto nomem;
        it->size = (size_t)n;
        if (!(it->data = (uint8_t *)strdup(tg))) goto nomem;
        hpk_hash_bytes(tg, (size_t)n, it->hash);
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!(it = hpk_snapshot_add(s, ent, S_IFDIR | 0755, t->role))) goto nomem;
        return walk(s, t, abs, rel, cp, depth + 1, e);
    }
    if (S_ISREG(st.st_mode)) {
        if (!(it = hpk_snapshot_add(s, ent, file_mode(st.st_mode), t->role))) goto nomem;
        return hpk_snapshot_file(it, abs, t->status, e);
    }
    return hpk_perr_set(e, t->status, "%s: not a file, directory or symlink", abs);
nomem:
    return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
}

/* Directory order is the file system's: sort names bytewise so the payload
 * does not depend on it (nor on the locale). */
static int walk(struct hpk_snapshot *s, const struct hpk_tree_dst *t, const char *abs, const char *rel,
                const struct copy_ctx *cp, int depth, struct hpk_perr *e)
{
    if (depth > 64) return hpk_perr_set(e, t->status, "%s: directories nested too deep (symlink loop?)", abs);
    DIR *d = opendir(abs);
    if (!d && errno == ELOOP) return hpk_perr_set(e, t->status, "%s: directories nested too deep (symlink loop?)", abs);
    if (!d) return hpk_perr_set(e, t->status, "%s: cannot read directory: %s", abs, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, name_cmp);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (r == 0) {
            char a[PATH_MAX], rl[PATH_MAX];
            if (snprintf(a, sizeof a, "%s/%s", abs, names[i]) >= (int)sizeof a ||
                snprintf(rl, sizeof rl, "%s%s%s", rel, *rel ? "/" : "", names[i]) >= (int)sizeof rl)
                r = hpk_perr_set(e, t->status, "%s/%s: path too long", abs, names[i]);
            else
                r = add_node(s, t, a, rl, cp, depth, e);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

int hpk_snapshot_tree(struct hpk_snapshot *s, const char *dir, const struct hpk_tree_dst *dst, struct hpk_perr *e)
{
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(dir, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return hpk_perr_set(e, dst->status, "%s: not a directory", dir);
    struct hpk_tree_dst t = *dst;
    t.root = real;
    if (!hpk_snapshot_has(s, t.prefix) && !hpk_snapshot_add(s, t.prefix, S_IFDIR | 0755, t.role))
        return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    return walk(s, &t, real, "", NULL, 0, e);
}

/* Value of KEY="value" in a release file, unquoted; malloc'ed or NULL. */
static char *release_get(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) != 0 || p[kl] != '=') continue;
        const char *v = p + kl + 1, *end = strchr(v, '\n');
        size_t n = end ? (size_t)(end - v) : strlen(v);
        if (n && v[0] == '"') {
            v++;
            n--;
            if (n && v[n - 1] == '"') n--;
        }
        return strndup(v, n);
    }
    return NULL;
}

/* 17 from "17.0.15", 8 from "1.8.0_452". */
static int major_from(const char *v)
{
    int m = atoi(v);
    return m == 1 ? atoi(v + 2) : m;
}

int hpk_release_major(const char *home)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/release", home);
    uint8_t *d;
    size_t n;
    if (hpk_read_file(p, &d, &n) != 0) return 0;
    char *t = strndup((char *)d, n), *v = release_get(t, "JAVA_VERSION");
    int m = v ? major_from(v) : 0;
    free(v);
    free(t);
    free(d);
    return m;
}

/* Version facts from the release file's text. */
static int parse_release(struct hpk_snapshot *s, const char *text, size_t len, const char *where, struct hpk_perr *e)
{
    char *t = strndup(text, len);
    s->java_version = release_get(t, "JAVA_VERSION");
    s->runtime_version = release_get(t, "JAVA_RUNTIME_VERSION");
    free(t);
    if (!s->java_version) return hpk_perr_set(e, HPK_ST_RUNTIME, "%s/release: no JAVA_VERSION", where);
    if (!s->runtime_version) s->runtime_version = strdup(s->java_version);
    s->java_major = major_from(s->java_version);
    return 0;
}

int hpk_snapshot_runtime(struct hpk_snapshot *s, const char *dir, struct hpk_perr *e)
{
    char real[PATH_MAX], p[PATH_MAX + 32];
    struct stat st;
    if (!realpath(dir, real) || stat(real, &st) != 0)
        return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: no such directory (--runtime wants a Java home)", dir);
    if (S_ISREG(st.st_mode)) return hpk_snapshot_runtime_archive(s, dir, e);
    if (!S_ISDIR(st.st_mode))
        return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: not a directory (--runtime wants a Java home)", dir);
    snprintf(p, sizeof p, "%s/bin/java", real);
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
        return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: not a Java runtime (no executable bin/java)", dir);
    snprintf(p, sizeof p, "%s/release", real);
    uint8_t *rel;
    size_t rlen;
    if (hpk_read_file(p, &rel, &rlen) != 0)
        return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: not a Java runtime (no release file)", dir);
    int r = parse_release(s, (char *)rel, rlen, dir, e);
    free(rel);
    if (r) return r;
    snprintf(p, sizeof p, "%s/lib/server/classes.jsa", real);
    s->has_base_cds = stat(p, &st) == 0;
    s->runtime_root = strdup(real);
    static const struct hpk_tree_dst rt = {NULL, "runtime", HPK_ROLE_RUNTIME, HPK_ST_RUNTIME};
    return hpk_snapshot_tree(s, real, &rt, e);
}

struct hpk_item *hpk_snapshot_find(struct hpk_snapshot *s, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->items[i].path, path)) return &s->items[i];
    return NULL;
}

/* A member's name without leading "./" (NULL for the archive's root). */
static const char *member_name(struct archive_entry *ae)
{
    const char *name = archive_entry_pathname(ae);
    while (name && name[0] == '.' && name[1] == '/') name += 2;
    return name && *name && strcmp(name, ".") ? name : NULL;
}

/* The one top directory every member lies in, if there is one: "jdk-25/"
 * in a JDK tarball, "app-1.0/" in a typical distribution. A top-level
 * regular file means there is none. */
static int archive_top(const uint8_t *img, size_t len, char *top, size_t n)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    int one = 0;
    top[0] = 0;
    struct archive_entry *ae;
    if (archive_read_open_memory(a, img, len) == ARCHIVE_OK) {
        one = 1;
        while (one && archive_read_next_header(a, &ae) == ARCHIVE_OK) {
            const char *name = member_name(ae);
            if (!name) continue;
            const char *slash = strchr(name, '/');
            size_t tl = slash ? (size_t)(slash - name) : strlen(name);
            if (!slash && archive_entry_filetype(ae) != AE_IFDIR) one = 0;
            else if (!top[0] && tl < n) snprintf(top, n, "%.*s", (int)tl, name);
            else if (strlen(top) != tl || strncmp(top, name, tl) != 0) one = 0;
            archive_read_data_skip(a);
        }
    }
    archive_read_free(a);
    return one && top[0];
}

struct hpk_item *hpk_snapshot_follow(struct hpk_snapshot *s, const char *prefix, const char *start, char *out,
                                     size_t outn)
{
    char todo[2 * PATH_MAX], cur[PATH_MAX] = "", ent[PATH_MAX + 64];
    snprintf(todo, sizeof todo, "%s", start);
    struct hpk_item *it = hpk_snapshot_find(s, prefix);
    const char *p = todo;
    for (int hops = 0; *p;) {
        const char *sl = strchr(p, '/');
        size_t c = sl ? (size_t)(sl - p) : strlen(p);
        const char *comp = p;
        p = sl ? sl + 1 : p + c;
        if (c == 0 || (c == 1 && comp[0] == '.')) continue;
        size_t cl = strlen(cur);
        if (c == 2 && comp[0] == '.' && comp[1] == '.') {
            if (!cl) return NULL;
            char *last = strrchr(cur, '/');
            *(last ? last : cur) = 0;
            snprintf(ent, sizeof ent, "%s%s%s", prefix, *cur ? "/" : "", cur);
            it = hpk_snapshot_find(s, ent);
            continue;
        }
        if (cl + 1 + c >= sizeof cur) return NULL;
        snprintf(cur + cl, sizeof cur - cl, "%s%.*s", cl ? "/" : "", (int)c, comp);
        snprintf(ent, sizeof ent, "%s/%s", prefix, cur);
        if (!(it = hpk_snapshot_find(s, ent))) return NULL;
        if (S_ISLNK(it->mode)) {
            if (++hops > 40 || !it->size || it->data[0] == '/') return NULL;
            char rest[2 * PATH_MAX];
            snprintf(rest, sizeof rest, "%.*s%s%s", (int)it->size, (const char *)it->data, sl ? "/" : "", p);
            snprintf(todo, sizeof todo, "%s", rest);
            p = todo;
            char *last = strrchr(cur, '/'); /* the target is relative to the link's directory */
            *(last ? last : cur) = 0;
            snprintf(ent, sizeof ent, "%s%s%s", prefix, *cur ? "/" : "", cur);
            it = hpk_snapshot_find(s, ent);
        } else if (sl && !S_ISDIR(it->mode)) {
            return NULL; /* "file/..", "file/": the kernel says ENOTDIR */
        }
    }
    snprintf(out, outn, "%s", cur);
    return it;
}

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

static int copy_item(struct hpk_item *to, const struct hpk_item *from)
{
    to->mode = from->mode;
    to->size = from->size;
    memcpy(to->hash, from->hash, 16);
    to->id = from->id;
    to->no_compress = from->no_compress;
    free(to->data);
    to->data = NULL;
    if (from->data && !(to->data = malloc(from->size ? from->size : 1))) return -1;
    if (from->data) memcpy(to->data, from->data, from->size);
    free(to->source);
    to->source = from->source ? strdup(from->source) : NULL;
    return 0;
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
};

enum { AL_KEEP, AL_SKIP, AL_COPY };

/* The verdict on link item k where it is (add_node's rule): AL_KEEP, AL_SKIP,
 * or AL_COPY with *to the item it names and found its path; -1 on a loop. */
static int link_fate(const struct alinks *c, size_t k, size_t *to, char *found, size_t fn, struct hpk_perr *e)
{
    const struct hpk_item *it = &c->s->items[k];
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
        return hpk_perr_set(e, c->status, "%s: member %s: symlink to a directory that contains it (a loop)", c->file,
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

static int copy_dir(const struct alinks *c, const char *found, const char *dst, const struct copy_chain *up,
                    struct hpk_perr *e)
{
    struct hpk_snapshot *s = c->s;
    /* A directory copied inside its own copy: it would never end. */
    for (const struct copy_chain *u = up; u; u = u->up)
        if (!strcmp(u->found, found))
            return hpk_perr_set(e, c->status, "%s: member %s: symlink to a directory that contains it (a loop)",
                                c->file, dst);
    struct copy_chain me = {found, up};
    char from[PATH_MAX + 64];
    int fn = snprintf(from, sizeof from, "%s/%s/", c->prefix, found);
    for (size_t k = 0; k < c->n0; k++) {
        if (strncmp(s->items[k].path, from, (size_t)fn) != 0) continue;
        char np[PATH_MAX + 64];
        snprintf(np, sizeof np, "%s/%s/%s", c->prefix, dst, s->items[k].path + fn);
        if (!hpk_layout_path_ok(np, strlen(np)))
            return hpk_perr_set(e, c->status, "%s: member %s: path too long once materialised", c->file, dst);
        size_t src = k; /* what the copy is made of */
        int fate = AL_COPY;
        char f2[PATH_MAX] = ""; /* set for a link only: the directories below found are copied by this loop */
        if (S_ISLNK(s->items[k].mode) && (fate = link_fate(c, k, &src, f2, sizeof f2, e)) < 0) return -1;
        if (fate == AL_SKIP) {
            skip_warning(c, np, &s->items[k]);
            continue;
        }
        struct hpk_item *n = hpk_snapshot_add(s, np, 0, s->items[k].role);
        if (!n || copy_item(n, &s->items[src]) != 0) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
        if (fate == AL_KEEP && S_ISLNK(n->mode)) {
            const char *orig = s->items[k].path + strlen(c->prefix) + 1, *nrel = np + strlen(c->prefix) + 1;
            char tg[PATH_MAX];
            if (copied_target(orig, (const char *)s->items[k].data, s->items[k].size, found, dst, nrel, tg, sizeof tg) != 0)
                return hpk_perr_set(e, c->status, "%s: member %s: path too long in its copy", c->file, nrel);
            free(n->data);
            if (!(n->data = (uint8_t *)strdup(tg))) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
            n->size = strlen(tg);
            hpk_hash_bytes(tg, n->size, n->hash);
        }
        if (fate == AL_COPY && S_ISDIR(n->mode) && f2[0] &&
            copy_dir(c, f2, np + strlen(c->prefix) + 1, &me, e) != 0)
            return -1;
    }
    return 0;
}

/* The rule the directory walk applies (add_node), for a tree read from an
 * archive, where the targets are members: a symlink that resolves inside
 * without passing through another link stays a link; one through a link is
 * replaced by what it names (a file's content, a directory's copy); one
 * that names nothing inside is skipped with a warning. */
static int archive_links(struct hpk_snapshot *s, const char *file, const char *prefix, int status, struct hpk_perr *e)
{
    size_t pl = strlen(prefix);
    struct alinks c = {s, file, prefix, status, s->n};
    /* verdict[i]: the item link i becomes (itself when kept), or SIZE_MAX to drop it */
    size_t *verdict = malloc((c.n0 ? c.n0 : 1) * sizeof *verdict);
    if (!verdict) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
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
        if (verdict[i] != i && verdict[i] != SIZE_MAX && copy_item(&s->items[i], &s->items[verdict[i]]) != 0)
            rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
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
    free(verdict);
    return rc;
}

int hpk_snapshot_archive(struct hpk_snapshot *s, const char *file, const struct hpk_tree_dst *dst, int need_top,
                         char *top, size_t topn, struct hpk_perr *e)
{
    uint8_t *img;
    size_t len;
    int status = dst->status;
    const char *prefix = dst->prefix;
    if (hpk_read_file(file, &img, &len) != 0) return hpk_perr_set(e, status, "%s: cannot read: %s", file, strerror(errno));
    if (s->n_archives < HPK_MAX_ARCHIVES) {
        s->archives[s->n_archives] = strdup(file);
        hpk_hash_bytes(img, len, s->archive_hash[s->n_archives]);
        s->n_archives++;
    }
    int has_top = archive_top(img, len, top, topn);
    if (need_top && !has_top) {
        free(img);
        return hpk_perr_set(e, status, "%s: not an archive with one top directory (a Java home)", file);
    }
    if (!has_top) top[0] = 0;
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    if (archive_read_open_memory(a, img, len) != ARCHIVE_OK) {
        archive_read_free(a);
        free(img);
        return hpk_perr_set(e, status, "%s: not a directory nor an archive hpack can read", file);
    }
    if (!hpk_snapshot_find(s, prefix) && !hpk_snapshot_add(s, prefix, S_IFDIR | 0755, dst->role))
        return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    size_t tl = strlen(top);
    struct archive_entry *ae;
    int r, rc = 0;
    while (rc == 0 && (r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
        const char *name = member_name(ae);
        if (!name) continue;
        const char *rel = tl ? name + tl : name; /* archive_top checked every member starts with top */
        while (*rel == '/') rel++;
        char ent[PATH_MAX];
        size_t rl = strlen(rel);
        while (rl && rel[rl - 1] == '/') rl--;
        if (rl == 0) continue;
        snprintf(ent, sizeof ent, "%s/%.*s", prefix, (int)rl, rel);
        if (!hpk_layout_path_ok(ent, strlen(ent))) {
            rc = hpk_perr_set(e, status, "%s: member %s: name not allowed in a payload", file, name);
            break;
        }
        /* Parents first; archives may omit directory members. A member
         * below a symlink member would be unpacked through the link (where
         * tar puts it depends on the order; a payload cannot hold it). */
        char par[PATH_MAX];
        snprintf(par, sizeof par, "%s", ent);
        for (char *q = par + strlen(prefix) + 1; rc == 0 && (q = strchr(q, '/')); q++) {
            *q = 0;
            struct hpk_item *p = hpk_snapshot_find(s, par);
            if (p && S_ISLNK(p->mode))
                rc = hpk_perr_set(e, status, "%s: member %s lies below the symlink %.*s", file, name,
                                  (int)(rel - name) + (int)(q - par) - (int)strlen(prefix) - 1, name);
            else if (!p && !hpk_snapshot_add(s, par, S_IFDIR | 0755, dst->role))
                rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
            *q = '/';
        }
        if (rc) break;
        mode_t m = archive_entry_filetype(ae);
        struct hpk_item *it;
        const char *hl = archive_entry_hardlink(ae);
        struct hpk_item *was = hpk_snapshot_find(s, ent);
        if (was && m == AE_IFLNK && S_ISDIR(was->mode)) {
            /* the same, members in the other order: name one that lies below */
            size_t el = strlen(ent);
            for (size_t k = 0; k < s->n; k++)
                if (!strncmp(s->items[k].path, ent, el) && s->items[k].path[el] == '/') {
                    rc = hpk_perr_set(e, status, "%s: member %s%s%s lies below the symlink %s", file, top,
                                      tl ? "/" : "", s->items[k].path + strlen(prefix) + 1, name);
                    break;
                }
            if (rc) break;
        }
        if (was && (m != AE_IFDIR || !S_ISDIR(was->mode))) { /* tar would replace it: which one is meant? */
            rc = hpk_perr_set(e, status, "%s: member %s appears twice", file, name);
            break;
        }
        if (hl) {
            /* A hard link: the content of an earlier member. */
            char tgt[PATH_MAX];
            while (hl[0] == '.' && hl[1] == '/') hl += 2;
            /* the target lies in the same top directory as the members, or it names nothing of ours */
            int in_top = !tl || (!strncmp(hl, top, tl) && (hl[tl] == '/' || !hl[tl]));
            snprintf(tgt, sizeof tgt, "%s/%s", prefix, !in_top ? "" : tl ? hl + tl + (hl[tl] == '/') : hl);
            struct hpk_item *src = in_top ? hpk_snapshot_find(s, tgt) : NULL;
            if (!src || !S_ISREG(src->mode)) {
                rc = hpk_perr_set(e, status, "%s: hard link %s to missing %s", file, name, hl);
                break;
            }
            size_t si = (size_t)(src - s->items);
            if (!(it = hpk_snapshot_add(s, ent, 0, dst->role)) || copy_item(it, &s->items[si]) != 0) rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
            continue;
        }
        if (m == AE_IFDIR) {
            if (!hpk_snapshot_find(s, ent) && !hpk_snapshot_add(s, ent, S_IFDIR | 0755, dst->role)) rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
        } else if (m == AE_IFLNK) {
            /* Stored even when it points outside the archive: archive_links
             * drops it then, but until then a member below it is refused
             * whichever comes first (the directory walk never sees one). */
            const char *t = archive_entry_symlink(ae);
            if (!t || !*t) {
                hpk_warn("%s: skipping symlink %s without a target", file, name);
                continue;
            }
            if (!(it = hpk_snapshot_add(s, ent, S_IFLNK | 0777, dst->role))) {
                rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
                break;
            }
            it->size = strlen(t);
            it->data = (uint8_t *)strdup(t);
            hpk_hash_bytes(t, it->size, it->hash);
        } else if (m == AE_IFREG) {
            la_int64_t sz = archive_entry_size(ae);
            if (!(it = hpk_snapshot_add(s, ent, file_mode(archive_entry_perm(ae)), dst->role))) {
                rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
                break;
            }
            it->data = malloc(sz > 0 ? (size_t)sz : 1);
            la_ssize_t got = sz > 0 && it->data ? archive_read_data(a, it->data, (size_t)sz) : 0;
            if (!it->data || got != sz) {
                rc = hpk_perr_set(e, status, "%s: member %s: %s", file, name,
                                  it->data ? archive_error_string(a) : "out of memory");
                break;
            }
            it->size = (size_t)sz;
            hpk_hash_bytes(it->data, it->size, it->hash);
            it->no_compress = already_compressed(ent);
        } else {
            rc = hpk_perr_set(e, status, "%s: member %s is not a file, directory or symlink", file, name);
        }
    }
    if (rc == 0 && r != ARCHIVE_EOF && r != ARCHIVE_OK)
        rc = hpk_perr_set(e, status, "%s: %s", file, archive_error_string(a));
    archive_read_free(a);
    free(img);
    if (rc) return rc;
    return archive_links(s, file, prefix, status, e);
}

int hpk_snapshot_runtime_archive(struct hpk_snapshot *s, const char *file, struct hpk_perr *e)
{
    static const struct hpk_tree_dst rt = {NULL, "runtime", HPK_ROLE_RUNTIME, HPK_ST_RUNTIME};
    char top[256];
    if (hpk_snapshot_archive(s, file, &rt, 1, top, sizeof top, e) != 0) return -1;
    struct hpk_item *java = hpk_snapshot_find(s, "runtime/bin/java"), *rel = hpk_snapshot_find(s, "runtime/release");
    if (!java || !S_ISREG(java->mode) || !(java->mode & 0111))
        return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: not a Java runtime archive (no executable %s/bin/java)", file, top);
    if (!rel || !S_ISREG(rel->mode))
        return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: not a Java runtime archive (no %s/release)", file, top);
    if (parse_release(s, (char *)rel->data, rel->size, file, e) != 0) return -1;
    s->has_base_cds = hpk_snapshot_find(s, "runtime/lib/server/classes.jsa") != NULL;
    s->runtime_root = strdup(file);
    return 0;
}

int hpk_snapshot_recheck(const struct hpk_snapshot *s, struct hpk_perr *e)
{
    for (int i = 0; i < s->n_archives; i++) {
        uint8_t *d;
        size_t n;
        uint8_t h[16];
        if (hpk_read_file(s->archives[i], &d, &n) != 0)
            return hpk_perr_set(e, HPK_ST_CHANGED, "%s: input disappeared during the build", s->archives[i]);
        hpk_hash_bytes(d, n, h);
        free(d);
        if (memcmp(h, s->archive_hash[i], 16) != 0)
            return hpk_perr_set(e, HPK_ST_CHANGED, "%s: input changed during the build", s->archives[i]);
    }
    for (size_t i = 0; i < s->n; i++) {
        const struct hpk_item *it = &s->items[i];
        if (!it->source || !S_ISREG(it->mode)) continue;
        struct hpk_item now = {0};
        struct hpk_perr ignored;
        if (hpk_snapshot_file(&now, it->source, HPK_ST_CHANGED, &ignored) != 0)
            return hpk_perr_set(e, HPK_ST_CHANGED, "%s: input disappeared or became unreadable during the build",
                                it->source);
        int same = it->rewritten ? !memcmp(now.hash, it->input_hash, 16) : now.size == it->size && !memcmp(now.hash, it->hash, 16);
        free(now.data);
        free(now.source);
        if (!same)
            return hpk_perr_set(e, HPK_ST_CHANGED,
                                "%s: input changed during the build (the trained bytes would not be the shipped ones)",
                                it->source);
    }
    return 0;
}

/* The startup cache this runtime can make and use ("aot", "cds") or NULL:
 * recorded in hpack/launch as cache.kind (docs/format.md 9.2). */
const char *hpk_cache_kind(const struct hpk_snapshot *s)
{
    if (s->java_major >= 24) return "aot";
    if (s->java_major >= 13 && s->has_base_cds) return "cds";
    return NULL;
}
