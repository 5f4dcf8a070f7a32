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
    uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
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

/* Is `path` (below the runtime directory `ctx`) a symlink on disk? */
static int disk_is_link(void *ctx, const char *path)
{
    char abs[PATH_MAX + 8];
    struct stat st;
    snprintf(abs, sizeof abs, "%s/%s", (const char *)ctx, path);
    return lstat(abs, &st) == 0 && S_ISLNK(st.st_mode);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint32_t file_mode(mode_t m) { return S_IFREG | ((m & 0111) ? 0755u : 0644u); }

static int walk(struct hpk_snapshot *s, const char *abs, const char *rel, int depth, struct hpk_perr *e);

/* rel: path below the runtime root ("" for the root); ent: payload path. */
static int add_node(struct hpk_snapshot *s, const char *abs, const char *rel, int depth, struct hpk_perr *e)
{
    char ent[PATH_MAX];
    snprintf(ent, sizeof ent, "runtime/%s", rel);
    if (!hpk_layout_path_ok(ent, strlen(ent)))
        return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: name not allowed in a payload", abs);
    struct stat st;
    if (lstat(abs, &st) != 0) return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: %s", abs, strerror(errno));
    struct hpk_item *it;
    if (S_ISLNK(st.st_mode)) {
        char t[PATH_MAX];
        ssize_t n = readlink(abs, t, sizeof t - 1);
        if (n < 0) return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: %s", abs, strerror(errno));
        t[n] = 0;
        struct stat ts;
        int dangling = stat(abs, &ts) != 0;
        if (dangling) {
            hpk_warn("%s: skipping dangling symlink to %s", abs, t);
            return 0;
        }
        /* Kept only if it stays inside without passing through another link
         * (the launcher's own rule, hpk_link_resolve). */
        if (hpk_link_resolve(rel, strlen(rel), t, (size_t)n, disk_is_link, s->runtime_root) != HPK_LINK_OK) {
            /* Pointing outside the runtime (Debian's JDK points into /etc and
             * /usr/share/doc): a payload never holds a link out of its tree,
             * so the target's content is materialised in its place. */
            hpk_info("%s: materialising symlink to %s", abs, t);
            if (S_ISDIR(ts.st_mode)) {
                if (!(it = hpk_snapshot_add(s, ent, S_IFDIR | 0755, HPK_ROLE_RUNTIME))) goto nomem;
                return walk(s, abs, rel, depth + 1, e);
            }
            if (!S_ISREG(ts.st_mode))
                return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: symlink to %s, not a regular file", abs, t);
            if (!(it = hpk_snapshot_add(s, ent, file_mode(ts.st_mode), HPK_ROLE_RUNTIME))) goto nomem;
            return hpk_snapshot_file(it, abs, HPK_ST_RUNTIME, e);
        }
        if (!(it = hpk_snapshot_add(s, ent, S_IFLNK | 0777, HPK_ROLE_RUNTIME))) goto nomem;
        it->size = (size_t)n;
        if (!(it->data = (uint8_t *)strdup(t))) goto nomem;
        hpk_hash_bytes(t, (size_t)n, it->hash);
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!(it = hpk_snapshot_add(s, ent, S_IFDIR | 0755, HPK_ROLE_RUNTIME))) goto nomem;
        return walk(s, abs, rel, depth + 1, e);
    }
    if (S_ISREG(st.st_mode)) {
        if (!(it = hpk_snapshot_add(s, ent, file_mode(st.st_mode), HPK_ROLE_RUNTIME))) goto nomem;
        return hpk_snapshot_file(it, abs, HPK_ST_RUNTIME, e);
    }
    return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: not a file, directory or symlink", abs);
nomem:
    return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
}

/* Directory order is the file system's: sort names bytewise so the payload
 * does not depend on it (nor on the locale). */
static int walk(struct hpk_snapshot *s, const char *abs, const char *rel, int depth, struct hpk_perr *e)
{
    if (depth > 64) return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: directories nested too deep (symlink loop?)", abs);
    DIR *d = opendir(abs);
    if (!d) return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: cannot read directory: %s", abs, strerror(errno));
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
    qsort(names, n, sizeof *names, name_cmp);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (r == 0) {
            char a[PATH_MAX], rl[PATH_MAX];
            if (snprintf(a, sizeof a, "%s/%s", abs, names[i]) >= (int)sizeof a ||
                snprintf(rl, sizeof rl, "%s%s%s", rel, *rel ? "/" : "", names[i]) >= (int)sizeof rl)
                r = hpk_perr_set(e, HPK_ST_RUNTIME, "%s/%s: path too long", abs, names[i]);
            else
                r = add_node(s, a, rl, depth, e);
        }
        free(names[i]);
    }
    free(names);
    return r;
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
    if (!hpk_snapshot_add(s, "runtime", S_IFDIR | 0755, HPK_ROLE_RUNTIME))
        return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    return walk(s, real, "", 0, e);
}

static struct hpk_item *find_item(struct hpk_snapshot *s, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->items[i].path, path)) return &s->items[i];
    return NULL;
}

int hpk_snapshot_runtime_archive(struct hpk_snapshot *s, const char *file, struct hpk_perr *e)
{
    uint8_t *img;
    size_t len;
    if (hpk_read_file(file, &img, &len) != 0) return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: cannot read: %s", file, strerror(errno));
    if (s->n_archives < 4) {
        s->archives[s->n_archives] = strdup(file);
        hpk_hash_bytes(img, len, s->archive_hash[s->n_archives]);
        s->n_archives++;
    }
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    if (archive_read_open_memory(a, img, len) != ARCHIVE_OK) {
        archive_read_free(a);
        free(img);
        return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: not a directory nor an archive hpack can read", file);
    }
    if (!hpk_snapshot_add(s, "runtime", S_IFDIR | 0755, HPK_ROLE_RUNTIME)) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    char top[256] = "";
    struct archive_entry *ae;
    int r, rc = 0;
    while (rc == 0 && (r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ae);
        while (name && name[0] == '.' && name[1] == '/') name += 2;
        if (!name || !*name || !strcmp(name, ".")) continue;
        /* One top directory: the Java home. */
        const char *slash = strchr(name, '/');
        size_t tl = slash ? (size_t)(slash - name) : strlen(name);
        if (!top[0]) snprintf(top, sizeof top, "%.*s", (int)tl, name);
        if (strlen(top) != tl || strncmp(top, name, tl) != 0) {
            rc = hpk_perr_set(e, HPK_ST_RUNTIME, "%s: holds %s besides %s/: a runtime archive has one top directory", file, name, top);
            break;
        }
        const char *rel = slash ? slash + 1 : "";
        char ent[PATH_MAX];
        size_t rl = strlen(rel);
        while (rl && rel[rl - 1] == '/') rl--;
        if (rl == 0) continue;
        snprintf(ent, sizeof ent, "runtime/%.*s", (int)rl, rel);
        if (!hpk_layout_path_ok(ent, strlen(ent))) {
            rc = hpk_perr_set(e, HPK_ST_RUNTIME, "%s: member %s: name not allowed in a payload", file, name);
            break;
        }
        /* Parents first; tar files may omit directory members. */
        char par[PATH_MAX];
        snprintf(par, sizeof par, "%s", ent);
        for (char *q = par + 8; (q = strchr(q, '/')); q++) {
            *q = 0;
            if (!find_item(s, par) && !hpk_snapshot_add(s, par, S_IFDIR | 0755, HPK_ROLE_RUNTIME)) rc = -1;
            *q = '/';
        }
        mode_t m = archive_entry_filetype(ae);
        struct hpk_item *it;
        const char *hl = archive_entry_hardlink(ae);
        if (hl) {
            /* A hard link: the content of an earlier member. */
            char tgt[PATH_MAX];
            const char *hs = strchr(hl, '/');
            snprintf(tgt, sizeof tgt, "runtime/%s", hs ? hs + 1 : hl);
            struct hpk_item *src = find_item(s, tgt);
            if (!src || !S_ISREG(src->mode)) {
                rc = hpk_perr_set(e, HPK_ST_RUNTIME, "%s: hard link %s to missing %s", file, name, hl);
                break;
            }
            size_t si = (size_t)(src - s->items);
            if (!(it = hpk_snapshot_add(s, ent, 0, HPK_ROLE_RUNTIME))) break;
            src = &s->items[si];
            it->mode = src->mode;
            it->size = src->size;
            it->data = malloc(src->size ? src->size : 1);
            memcpy(it->data, src->data, src->size);
            memcpy(it->hash, src->hash, 16);
            continue;
        }
        if (m == AE_IFDIR) {
            if (!find_item(s, ent) && !hpk_snapshot_add(s, ent, S_IFDIR | 0755, HPK_ROLE_RUNTIME)) rc = -1;
        } else if (m == AE_IFLNK) {
            const char *t = archive_entry_symlink(ae);
            if (!t || hpk_link_resolve(rel, strlen(rel), t, strlen(t), NULL, NULL) != HPK_LINK_OK) {
                /* The target is not in the archive: nothing to materialise. */
                hpk_warn("%s: skipping symlink %s -> %s (points outside the archive's Java home)", file, name, t ? t : "?");
                continue;
            }
            if (!(it = hpk_snapshot_add(s, ent, S_IFLNK | 0777, HPK_ROLE_RUNTIME))) break;
            it->size = strlen(t);
            it->data = (uint8_t *)strdup(t);
            hpk_hash_bytes(t, it->size, it->hash);
        } else if (m == AE_IFREG) {
            la_int64_t sz = archive_entry_size(ae);
            if (!(it = hpk_snapshot_add(s, ent, file_mode(archive_entry_perm(ae)), HPK_ROLE_RUNTIME))) break;
            it->data = malloc(sz > 0 ? (size_t)sz : 1);
            la_ssize_t got = sz > 0 ? archive_read_data(a, it->data, (size_t)sz) : 0;
            if (!it->data || got != sz) {
                rc = hpk_perr_set(e, HPK_ST_RUNTIME, "%s: member %s: %s", file, name, archive_error_string(a));
                break;
            }
            it->size = (size_t)sz;
            hpk_hash_bytes(it->data, it->size, it->hash);
            it->no_compress = already_compressed(ent);
        } else {
            rc = hpk_perr_set(e, HPK_ST_RUNTIME, "%s: member %s is not a file, directory or symlink", file, name);
        }
    }
    if (rc == 0 && r != ARCHIVE_EOF && r != ARCHIVE_OK)
        rc = hpk_perr_set(e, HPK_ST_RUNTIME, "%s: %s", file, archive_error_string(a));
    archive_read_free(a);
    free(img);
    if (rc) return rc;
    struct hpk_item *java = find_item(s, "runtime/bin/java"), *rel = find_item(s, "runtime/release");
    if (!java || !S_ISREG(java->mode) || !(java->mode & 0111))
        return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: not a Java runtime archive (no executable %s/bin/java)", file, top);
    if (!rel || !S_ISREG(rel->mode))
        return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: not a Java runtime archive (no %s/release)", file, top);
    if (parse_release(s, (char *)rel->data, rel->size, file, e) != 0) return -1;
    s->has_base_cds = find_item(s, "runtime/lib/server/classes.jsa") != NULL;
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
        int same = now.size == it->size && memcmp(now.hash, it->hash, 16) == 0;
        free(now.data);
        free(now.source);
        if (!same)
            return hpk_perr_set(e, HPK_ST_CHANGED,
                                "%s: input changed during the build (the trained bytes would not be the shipped ones)",
                                it->source);
    }
    return 0;
}
