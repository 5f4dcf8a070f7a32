/*
 * assemble.c - what goes into an artifact, from the build's options: the
 * application (--app-dist, --jar, --cp with its wildcards, the main class,
 * the manifest Class-Path closure), the jars staged for jdeps, the runtime
 * and hpack/launch, in the payload's one canonical order.
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "../layout/hpk_kv.h"
#include "../layout/hpk_tree.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* Expand one class path element: "dir/ *" (without the space) means every
 * jar in dir, sorted bytewise, as the java launcher's wildcard does. */
static int expand_cp(struct hpk_strv *out, const char *elem, struct hpk_err *e)
{
    size_t n = strlen(elem);
    if (n >= 1 && elem[n - 1] == '*' && (n == 1 || elem[n - 2] == '/')) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", (int)(n > 1 ? n - 2 : 0), n > 1 ? elem : ".");
        if (!*dir) snprintf(dir, sizeof dir, "/");
        DIR *d = opendir(dir);
        if (!d) return hpk_fail(e, HPK_ST_CLASSPATH, "%s: cannot read directory: %s", dir, strerror(errno));
        struct hpk_strv names = {0};
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l > 4 && (!strcmp(de->d_name + l - 4, ".jar") || !strcmp(de->d_name + l - 4, ".JAR")))
                hpk_strv_push(&names, de->d_name);
        }
        closedir(d);
        if (names.n) qsort(names.v, names.n, sizeof *names.v, hpk_str_cmp);
        for (size_t i = 0; i < names.n; i++) {
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", dir, names.v[i]);
            hpk_strv_push(out, p);
        }
        int empty = names.n == 0;
        hpk_strv_free(&names);
        if (empty) return hpk_fail(e, HPK_ST_CLASSPATH, "%s: no jars match", elem);
        return 0;
    }
    hpk_strv_push(out, elem);
    return 0;
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hpk_item *)a)->path, ((const struct hpk_item *)b)->path);
}

/* Add directory items for every parent of `path` not yet present. */
static int add_parents(struct hpk_snapshot *s, const char *path, uint8_t role)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf; (p = strchr(p, '/')); p++) {
        *p = 0;
        if (!hpk_snapshot_has(s, buf) && !hpk_snapshot_add(s, buf, S_IFDIR | 0755, role)) return -1;
        *p = '/';
    }
    return 0;
}

/* A class path element, with the real path the JVM would take it by on the
 * host (closure.c resolves its manifest Class-Path from there). */
static void cp_push(struct hpk_build *b, const char *path, const char *host)
{
    if (hpk_strv_has(&b->cp_paths, path)) return; /* listed twice: the JVM takes the first */
    hpk_strv_push(&b->cp_paths, path);
    char *real = host ? realpath(host, NULL) : NULL;
    hpk_strv_push(&b->cp_hosts, real ? real : "");
    free(real);
}

/* A jar from the host: read into app/<name>. A ':' in the name becomes '_'
 * there: the JVM splits its class path at ':', so "my:app.jar" would be two
 * elements, the second relative to the working directory (hpk_launch_cp_ok);
 * the name inside the tree is ours to choose, as for app/2/ below. */
static int add_jar(struct hpk_snapshot *s, struct hpk_build *b, const char *file, struct hpk_err *e)
{
    /* The same file again (a:b:a, or --jar a --cp a): the JVM takes the
     * first; a second copy in the tree would only be more to ship. */
    char *real = realpath(file, NULL);
    int again = real && hpk_strv_has(&b->cp_hosts, real);
    free(real);
    if (again) {
        hpk_info("%s: on the class path already; packed once", file);
        return 0;
    }
    char path[PATH_MAX], base[PATH_MAX];
    const char *slash = strrchr(file, '/');
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : file);
    for (char *c = base; (c = strchr(c, ':')); c++) *c = '_';
    snprintf(path, sizeof path, "app/%s", base);
    /* Same name from two directories: keep both, deterministically apart. */
    for (int k = 2; hpk_snapshot_has(s, path); k++) snprintf(path, sizeof path, "app/%d/%s", k, base);
    if (!hpk_layout_path_ok(path, strlen(path)))
        return hpk_fail(e, HPK_ST_CLASSPATH, "%s: file name not allowed in a payload", file);
    if (add_parents(s, path, HPK_ROLE_CLASSPATH) != 0) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    struct hpk_item *it = hpk_snapshot_add(s, path, S_IFREG | 0644, HPK_ROLE_CLASSPATH);
    if (!it) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    if (hpk_snapshot_file(it, file, HPK_ST_CLASSPATH, e) != 0) return -1;
    struct hpk_manifest m;
    if (hpk_jar_manifest(it->data, it->size, file, &m, e) != 0) return -1;
    hpk_manifest_free(&m);
    cp_push(b, path, file);
    return 0;
}

/* Three printf arguments for "%s%s%s": a path inside an archive whose single
 * top directory was stripped is relative to that directory, which a user
 * who wrote "lib/x.jar" for an archive holding only lib/ must be told. */
#define DIST_TOP(b) (*(b)->dist_top ? " (paths are relative to its single top directory " : ""), (b)->dist_top, \
                    (*(b)->dist_top ? "/)" : "")

/* A jar inside the application distribution (`rel` below its root), symlinks
 * followed: the launcher wants class path entries to be regular files. */
static struct hpk_item *dist_jar(struct hpk_snapshot *s, struct hpk_build *b, const char *rel, int missing_ok,
                                 struct hpk_err *e)
{
    char found[PATH_MAX], path[PATH_MAX + 8];
    struct hpk_item *it = hpk_snapshot_follow(s, "app", rel, found, sizeof found);
    if (!it) {
        if (!missing_ok)
            hpk_fail(e, HPK_ST_CLASSPATH, "%s: no %s in the application distribution%s%s%s", b->app_dist, rel,
                         DIST_TOP(b));
        return NULL;
    }
    if (!S_ISREG(it->mode)) {
        hpk_fail(e, HPK_ST_CLASSPATH, "%s: %s is a directory; class path entries are jars", b->app_dist, rel);
        return NULL;
    }
    snprintf(path, sizeof path, "app/%s", found);
    char name[PATH_MAX + 64];
    snprintf(name, sizeof name, "%s:%s", b->app_dist, found);
    struct hpk_manifest m;
    if (hpk_jar_manifest(it->data, it->size, name, &m, e) != 0) return NULL;
    hpk_manifest_free(&m);
    char host[2 * PATH_MAX];
    snprintf(host, sizeof host, "%s/%s", b->app_dist, found);
    cp_push(b, path, b->dist_is_dir ? host : NULL);
    return it;
}

int hpk_is_jar_name(const char *n)
{
    size_t l = strlen(n);
    return l > 4 && (!strcmp(n + l - 4, ".jar") || !strcmp(n + l - 4, ".JAR"));
}

/* "lib/ *" (without the space) inside the distribution: every jar in lib,
 * bytewise, like the host wildcard (expand_cp). */
static int dist_wildcard(struct hpk_snapshot *s, struct hpk_build *b, const char *elem, struct hpk_err *e)
{
    size_t n = strlen(elem);
    char dir[PATH_MAX] = "", found[PATH_MAX] = "";
    if (n > 1) {
        snprintf(dir, sizeof dir, "%.*s", (int)(n - 2), elem);
        struct hpk_item *d = hpk_snapshot_follow(s, "app", dir, found, sizeof found);
        if (!d || !S_ISDIR(d->mode))
            return hpk_fail(e, HPK_ST_CLASSPATH, "%s: no directory %s in the application distribution%s%s%s",
                                b->app_dist, dir, DIST_TOP(b));
    }
    char pre[PATH_MAX + 8];
    size_t pl = (size_t)snprintf(pre, sizeof pre, "app/%s%s", found, *found ? "/" : "");
    struct hpk_strv names = {0};
    for (size_t i = 0; i < s->n; i++) {
        const char *p = s->items[i].path;
        if (!strncmp(p, pre, pl) && !strchr(p + pl, '/') && hpk_is_jar_name(p + pl) && !S_ISDIR(s->items[i].mode))
            hpk_strv_push(&names, p + 4);
    }
    if (names.n) qsort(names.v, names.n, sizeof *names.v, hpk_str_cmp);
    int r = names.n ? 0 : hpk_fail(e, HPK_ST_CLASSPATH, "%s: no jars match %s in the application distribution%s%s%s",
                                            b->app_dist, elem, DIST_TOP(b));
    for (size_t i = 0; r == 0 && i < names.n; i++)
        if (!dist_jar(s, b, names.v[i], 0, e)) r = -1;
    hpk_strv_free(&names);
    return r;
}

/* --app-dist: a directory or archive shipped whole under app/, resources
 * included; relative --jar and --cp paths name files inside it. */
static int read_dist(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_err *e)
{
    static const struct hpk_tree_dst app = {NULL, "app", HPK_ROLE_CLASSPATH, HPK_ST_CLASSPATH};
    struct stat st;
    if (stat(b->app_dist, &st) != 0)
        return hpk_fail(e, HPK_ST_CLASSPATH, "%s: %s (--app-dist wants a directory or an archive)", b->app_dist,
                            strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        b->dist_is_dir = 1;
        return hpk_snapshot_tree(s, b->app_dist, &app, e);
    }
    char *top = b->dist_top;
    if (hpk_snapshot_archive(s, b->app_dist, &app, 0, top, sizeof b->dist_top, e) != 0) return -1;
    if (*top) hpk_info("%s: its top directory %s/ is the distribution's root", b->app_dist, top);
    return 0;
}

static int in_dist(const struct hpk_build *b, const char *p) { return b->app_dist && p[0] != '/'; }

/* A jar of the app: a class path entry, whatever its name (app.zip is a
 * jar to the JVM), or a file of the distribution named *.jar. */
static int app_jar(const struct hpk_build *b, const struct hpk_item *it)
{
    return it->role == HPK_ROLE_CLASSPATH && S_ISREG(it->mode) &&
           (hpk_is_jar_name(it->path) || hpk_strv_has(&b->cp_paths, it->path));
}

/* Whether the main class is in a jar of the app (a class of the JDK's own
 * packages is the runtime's). A jar that cannot be read so counts as
 * having it: this only warns. */
static int main_found(const struct hpk_build *b, const struct hpk_snapshot *s, const char *cls)
{
    static const char *const jdk[] = {"java.", "javax.", "jdk.", "sun.", "com.sun.", NULL};
    for (int i = 0; jdk[i]; i++)
        if (!strncmp(cls, jdk[i], strlen(jdk[i]))) return 1;
    char *entry;
    if (asprintf(&entry, "%s.class", cls) < 0) hpk_oom();
    for (char *c = entry; *c && strcmp(c, ".class"); c++)
        if (*c == '.') *c = '/';
    int found = 0;
    for (size_t i = 0; !found && i < s->n; i++) {
        const struct hpk_item *it = &s->items[i];
        if (app_jar(b, it) && it->data) found = hpk_jar_lists(it->data, it->size, entry) != 0;
    }
    free(entry);
    return found;
}

/* The application half of the snapshot: the distribution, the jars and
 * the main class. It comes first, because jdeps looks at these bytes to
 * choose the runtime's modules. */
int hpk_assemble_app(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_err *e)
{
    if (b->app_dist && read_dist(b, s, e) != 0) return -1;
    if (!hpk_snapshot_has(s, "app") && !hpk_snapshot_add(s, "app", S_IFDIR | 0755, HPK_ROLE_CLASSPATH))
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");

    /* Owned by b from here on, so every early return frees it (build_free). */
    free(b->resolved_main);
    b->resolved_main = b->main_class ? strdup(b->main_class) : NULL;
    if (b->jar) {
        struct hpk_item *jit;
        if (in_dist(b, b->jar)) {
            if (!(jit = dist_jar(s, b, b->jar, 0, e))) return -1;
        } else {
            if (add_jar(s, b, b->jar, e) != 0) return -1;
            jit = hpk_snapshot_find(s, b->cp_paths.v[b->cp_paths.n - 1]);
        }
        struct hpk_manifest m;
        if (hpk_jar_manifest(jit->data, jit->size, b->jar, &m, e) != 0) return -1;
        if (!b->resolved_main && m.main_class) b->resolved_main = strdup(m.main_class);
        hpk_manifest_free(&m);
    }
    for (size_t i = 0; i < b->cp.n; i++) {
        char *list = strdup(b->cp.v[i]), *save = NULL;
        int r = 0;
        for (char *t = strtok_r(list, ":", &save); r == 0 && t; t = strtok_r(NULL, ":", &save)) {
            size_t n = strlen(t);
            /* "a.jar/" is a.jar to the JVM (Debian's antlr4 wrapper has one) */
            while (n > 1 && t[n - 1] == '/') t[--n] = 0;
            if (!in_dist(b, t)) {
                struct hpk_strv files = {0};
                r = expand_cp(&files, t, e);
                for (size_t k = 0; r == 0 && k < files.n; k++) {
                    struct stat st;
                    if (stat(files.v[k], &st) != 0)
                        r = hpk_fail(e, HPK_ST_CLASSPATH, "%s: class path entry does not exist", files.v[k]);
                    else if (S_ISDIR(st.st_mode))
                        r = hpk_fail(e, HPK_ST_CLASSPATH, "%s: class path entry is a directory; hpack packs jars (make one with 'jar cf')", files.v[k]);
                    else
                        r = add_jar(s, b, files.v[k], e);
                }
                hpk_strv_free(&files);
            } else if (t[n - 1] == '*' && (n == 1 || t[n - 2] == '/')) {
                r = dist_wildcard(s, b, t, e);
            } else if (!dist_jar(s, b, t, 0, e)) {
                r = -1;
            }
        }
        free(list);
        if (r) return r;
    }
    if (b->cp_paths.n == 0) return hpk_fail(e, HPK_ST_CLASSPATH, "no class path: give --jar or --cp");
    if (hpk_closure(b, s, e) != 0) return -1;
    if (!b->resolved_main || !*b->resolved_main) {
        return hpk_fail(e, HPK_ST_MAIN, "%s: no main class: give --main-class, or a --jar whose manifest has Main-Class",
                            b->jar ? b->jar : "--cp");
    }
    if (!main_found(b, s, b->resolved_main))
        hpk_warn("main class %s is in none of the jars packed: the artifact will end with \"Could not find or load "
                 "main class\" unless the runtime has it", b->resolved_main);
    return 0;
}

/* jdeps reads files: stage every jar of the snapshot (the class path and
 * the distribution's other jars, which custom class loaders may run) in a
 * temporary directory, as the bytes that will be shipped. */
int hpk_stage_jdeps_inputs(struct hpk_build *b, const struct hpk_snapshot *s, char *dir, size_t dirn,
                              struct hpk_err *e)
{
    if (hpk_mkdtemp(dir, dirn, "jdeps", e) != 0) return -1;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct hpk_item *it = &s->items[i];
        /* The distribution's other jars too, which the app may load by
         * itself (plugins). jdeps only reads files named *.jar. */
        if (!app_jar(b, it)) continue;
        char sub[PATH_MAX], f[2 * PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%zu", dir, k++);
        snprintf(f, sizeof f, "%s/%s%s", sub, strrchr(it->path, '/') + 1, hpk_is_jar_name(it->path) ? "" : ".jar");
        if (mkdir(sub, 0700) != 0)
            return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot make: %s", sub, strerror(errno));
        FILE *o = fopen(f, "wb");
        if (!o) return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", f, strerror(errno));
        int ok = fwrite(it->data, 1, it->size, o) == it->size;
        int err = errno;
        if (fclose(o) != 0 && ok) ok = 0, err = errno;
        if (!ok) return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", f, strerror(err));
        hpk_strv_push(&b->jdeps_inputs, f);
        if (it->source) {
            hpk_strv_push(&b->jdeps_names, it->source);
        } else { /* a member of the --app-dist archive */
            snprintf(f, sizeof f, "%s:%s", b->app_dist ? b->app_dist : "", it->path + 4);
            hpk_strv_push(&b->jdeps_names, f);
        }
    }
    return 0;
}

/* The rest of the snapshot: the runtime and hpack/launch. */
int hpk_assemble_runtime(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_err *e)
{
    if (hpk_snapshot_runtime(s, b->runtime, e) != 0) return -1;
    if (!b->no_fonts && hpk_snapshot_fonts(s, e) != 0) return -1;
    if (s->java_major < 9)
        hpk_warn("%s: Java %s: hpack is tested with Java 17 and later", b->runtime, s->java_version);

    /* The launcher refuses such a value (docs/format.md 9.2). A jar from the
     * host was renamed (add_jar); one of the distribution or of a manifest
     * Class-Path keeps the name its neighbours know it by, so say it here. */
    for (size_t i = 0; i < b->cp_paths.n; i++)
        if (!hpk_launch_cp_ok(b->cp_paths.v[i]))
            return hpk_fail(e, HPK_ST_CLASSPATH, "%s: a class path jar cannot be named with ':' or '*' (the JVM "
                                "splits its class path at ':' and expands '*'): rename it",
                                b->cp_hosts.v[i][0] ? b->cp_hosts.v[i] : b->cp_paths.v[i]);

    /* hpack/launch: what the launcher runs (docs/format.md). */
    char *conf = NULL;
    size_t clen = 0;
    hpk_kv_add(&conf, &clen, "format", "1");
    hpk_kv_add(&conf, &clen, "launcher.version", HPK_VERSION);
    hpk_kv_add(&conf, &clen, "java", "runtime/bin/java");
    hpk_kv_add(&conf, &clen, "main", b->resolved_main);
    hpk_kv_add(&conf, &clen, "java.version", s->java_version);
    hpk_kv_add(&conf, &clen, "runtime.version", s->runtime_version);
    const char *kind = hpk_cache_kind(s);
    if (kind) hpk_kv_add(&conf, &clen, "cache.kind", kind);
    if (b->modules) hpk_kv_add(&conf, &clen, "modules", b->modules);
    for (size_t i = 0; i < b->jlink_used.n; i++) hpk_kv_add(&conf, &clen, "jlink", b->jlink_used.v[i]);
    /* Written only when asked: artifacts without it keep their bytes. */
    if (b->heal) hpk_kv_add(&conf, &clen, "heal", "on");
    for (size_t i = 0; i < b->cp_paths.n; i++) hpk_kv_add(&conf, &clen, "cp", b->cp_paths.v[i]);
    for (size_t i = 0; i < b->jvm_opts.n; i++) hpk_kv_add(&conf, &clen, "jvm", b->jvm_opts.v[i]);
    for (size_t i = 0; i < b->args.n; i++) hpk_kv_add(&conf, &clen, "arg", b->args.v[i]);
    for (size_t i = 0; i < b->env.n; i++) hpk_kv_add(&conf, &clen, "env", b->env.v[i]);
    struct hpk_item *it;
    if (!hpk_snapshot_add(s, "hpack", S_IFDIR | 0755, HPK_ROLE_CONFIG) ||
        !(it = hpk_snapshot_add(s, "hpack/launch", S_IFREG | 0644, HPK_ROLE_CONFIG)))
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    it->data = (uint8_t *)conf;
    it->size = clen;
    hpk_hash_bytes(conf, clen, it->hash);
    /* hpack/closure: how each manifest Class-Path entry was made to resolve
     * inside the tree (hpack inspect lists it; the launcher ignores it). */
    if (b->closure) {
        if (!(it = hpk_snapshot_add(s, "hpack/closure", S_IFREG | 0644, HPK_ROLE_CONFIG)))
            return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
        it->data = (uint8_t *)b->closure;
        it->size = b->closure_len;
        b->closure = NULL;
        hpk_hash_bytes(it->data, it->size, it->hash);
    }

    /* One canonical order whatever the walk: by path, bytewise. */
    qsort(s->items, s->n, sizeof *s->items, item_cmp);
    hpk_snapshot_reindex(s);
    return 0;
}

void hpk_kv_add(char **buf, size_t *len, const char *key, const char *value)
{
    size_t n = strlen(key) + 1 + strlen(value) + 1;
    char *b = hpk_xrealloc(*buf, *len + n);
    memcpy(b + *len, key, strlen(key));
    b[*len + strlen(key)] = '=';
    memcpy(b + *len + strlen(key) + 1, value, strlen(value) + 1);
    *buf = b;
    *len += n;
}
