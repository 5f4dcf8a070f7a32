/*
 * build.c - `hpack build`: snapshot the inputs, emit DA0, and with --train
 * or --with-cache, DA1 (train.c).
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "hpk_tune.h"
#include "../layout/hpk_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Expand one class path element: "dir/ *" (without the space) means every
 * jar in dir, sorted bytewise, as the java launcher's wildcard does. */
static int expand_cp(struct hpk_strv *out, const char *elem, struct hpk_perr *e)
{
    size_t n = strlen(elem);
    if (n >= 1 && elem[n - 1] == '*' && (n == 1 || elem[n - 2] == '/')) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", (int)(n > 1 ? n - 2 : 0), n > 1 ? elem : ".");
        if (!*dir) snprintf(dir, sizeof dir, "/");
        DIR *d = opendir(dir);
        if (!d) return hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: cannot read directory: %s", dir, strerror(errno));
        struct hpk_strv names = {0};
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l > 4 && (!strcmp(de->d_name + l - 4, ".jar") || !strcmp(de->d_name + l - 4, ".JAR")))
                hpk_strv_push(&names, de->d_name);
        }
        closedir(d);
        if (names.n) qsort(names.v, names.n, sizeof *names.v, name_cmp);
        for (size_t i = 0; i < names.n; i++) {
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", dir, names.v[i]);
            hpk_strv_push(out, p);
        }
        int empty = names.n == 0;
        hpk_strv_free(&names);
        if (empty) return hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: no jars match", elem);
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

/* A clean relative path: no "..", ".", empty or absolute component. */
static int clean_rel(const char *p) { return hpk_layout_path_ok(p, strlen(p)); }

static int strv_has(const struct hpk_strv *v, const char *s)
{
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->v[i], s)) return 1;
    return 0;
}

/* A class path element, with the real path the JVM would take it by on the
 * host (closure.c resolves its manifest Class-Path from there). */
static void cp_push(struct hpk_build *b, const char *path, const char *host)
{
    if (strv_has(&b->cp_paths, path)) return; /* listed twice: the JVM takes the first */
    hpk_strv_push(&b->cp_paths, path);
    char *real = host ? realpath(host, NULL) : NULL;
    hpk_strv_push(&b->cp_hosts, real ? real : "");
    free(real);
}

/* A jar from the host: read into app/<name> (or app/<want>). */
static int add_jar(struct hpk_snapshot *s, struct hpk_build *b, const char *file, const char *want,
                   struct hpk_perr *e)
{
    char path[PATH_MAX];
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (want && clean_rel(want)) snprintf(path, sizeof path, "app/%s", want);
    else snprintf(path, sizeof path, "app/%s", base);
    /* Same name from two directories: keep both, deterministically apart. */
    for (int k = 2; hpk_snapshot_has(s, path); k++) snprintf(path, sizeof path, "app/%d/%s", k, base);
    if (!hpk_layout_path_ok(path, strlen(path)))
        return hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: file name not allowed in a payload", file);
    if (add_parents(s, path, HPK_ROLE_CLASSPATH) != 0) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    struct hpk_item *it = hpk_snapshot_add(s, path, S_IFREG | 0644, HPK_ROLE_CLASSPATH);
    if (!it) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    if (hpk_snapshot_file(it, file, HPK_ST_CLASSPATH, e) != 0) return -1;
    it->no_compress = 1;
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
                                 struct hpk_perr *e)
{
    char found[PATH_MAX], path[PATH_MAX + 8];
    struct hpk_item *it = hpk_snapshot_follow(s, "app", rel, found, sizeof found);
    if (!it) {
        if (!missing_ok)
            hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: no %s in the application distribution%s%s%s", b->app_dist, rel,
                         DIST_TOP(b));
        return NULL;
    }
    if (!S_ISREG(it->mode)) {
        hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: %s is a directory; class path entries are jars", b->app_dist, rel);
        return NULL;
    }
    snprintf(path, sizeof path, "app/%s", found);
    char name[PATH_MAX + 64];
    snprintf(name, sizeof name, "%s:%s", b->app_dist, found);
    struct hpk_manifest m;
    if (hpk_jar_manifest(it->data, it->size, name, &m, e) != 0) return NULL;
    hpk_manifest_free(&m);
    it->no_compress = 1;
    char host[2 * PATH_MAX];
    snprintf(host, sizeof host, "%s/%s", b->app_dist, found);
    cp_push(b, path, b->dist_is_dir ? host : NULL);
    return it;
}

static int jar_name(const char *n)
{
    size_t l = strlen(n);
    return l > 4 && (!strcmp(n + l - 4, ".jar") || !strcmp(n + l - 4, ".JAR"));
}

/* "lib/ *" (without the space) inside the distribution: every jar in lib,
 * bytewise, like the host wildcard (expand_cp). */
static int dist_wildcard(struct hpk_snapshot *s, struct hpk_build *b, const char *elem, struct hpk_perr *e)
{
    size_t n = strlen(elem);
    char dir[PATH_MAX] = "", found[PATH_MAX] = "";
    if (n > 1) {
        snprintf(dir, sizeof dir, "%.*s", (int)(n - 2), elem);
        struct hpk_item *d = hpk_snapshot_follow(s, "app", dir, found, sizeof found);
        if (!d || !S_ISDIR(d->mode))
            return hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: no directory %s in the application distribution%s%s%s",
                                b->app_dist, dir, DIST_TOP(b));
    }
    char pre[PATH_MAX + 8];
    size_t pl = (size_t)snprintf(pre, sizeof pre, "app/%s%s", found, *found ? "/" : "");
    struct hpk_strv names = {0};
    for (size_t i = 0; i < s->n; i++) {
        const char *p = s->items[i].path;
        if (!strncmp(p, pre, pl) && !strchr(p + pl, '/') && jar_name(p + pl) && !S_ISDIR(s->items[i].mode))
            hpk_strv_push(&names, p + 4);
    }
    if (names.n) qsort(names.v, names.n, sizeof *names.v, name_cmp);
    int r = names.n ? 0 : hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: no jars match %s in the application distribution%s%s%s",
                                            b->app_dist, elem, DIST_TOP(b));
    for (size_t i = 0; r == 0 && i < names.n; i++)
        if (!dist_jar(s, b, names.v[i], 0, e)) r = -1;
    hpk_strv_free(&names);
    return r;
}

/* --app-dist: a directory or archive shipped whole under app/, resources
 * included; relative --jar and --cp paths name files inside it. */
static int read_dist(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_perr *e)
{
    static const struct hpk_tree_dst app = {NULL, "app", HPK_ROLE_CLASSPATH, HPK_ST_CLASSPATH};
    struct stat st;
    if (stat(b->app_dist, &st) != 0)
        return hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: %s (--app-dist wants a directory or an archive)", b->app_dist,
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

/* The application half of the snapshot: the distribution, the jars and
 * the main class. It comes first, because jdeps looks at these bytes to
 * choose the runtime's modules. */
static int snapshot_app(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_perr *e)
{
    if (b->app_dist && read_dist(b, s, e) != 0) return -1;
    if (!hpk_snapshot_has(s, "app") && !hpk_snapshot_add(s, "app", S_IFDIR | 0755, HPK_ROLE_CLASSPATH))
        return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");

    /* Owned by b from here on, so every early return frees it (build_free). */
    free(b->resolved_main);
    b->resolved_main = b->main_class ? strdup(b->main_class) : NULL;
    if (b->jar) {
        struct hpk_item *jit;
        if (in_dist(b, b->jar)) {
            if (!(jit = dist_jar(s, b, b->jar, 0, e))) return -1;
        } else {
            if (add_jar(s, b, b->jar, NULL, e) != 0) return -1;
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
            if (!in_dist(b, t)) {
                struct hpk_strv files = {0};
                r = expand_cp(&files, t, e);
                for (size_t k = 0; r == 0 && k < files.n; k++) {
                    struct stat st;
                    if (stat(files.v[k], &st) != 0)
                        r = hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: class path entry does not exist", files.v[k]);
                    else if (S_ISDIR(st.st_mode))
                        r = hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: class path entry is a directory; hpack packs jars (make one with 'jar cf')", files.v[k]);
                    else
                        r = add_jar(s, b, files.v[k], NULL, e);
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
    if (b->cp_paths.n == 0) return hpk_perr_set(e, HPK_ST_CLASSPATH, "no class path: give --jar or --cp");
    if (hpk_closure(b, s, e) != 0) return -1;
    if (!b->resolved_main || !*b->resolved_main) {
        return hpk_perr_set(e, HPK_ST_MAIN, "%s: no main class: give --main-class, or a --jar whose manifest has Main-Class",
                            b->jar ? b->jar : "--cp");
    }
    return 0;
}

/* jdeps reads files: stage every jar of the snapshot (the class path and
 * the distribution's other jars, which custom class loaders may run) in a
 * temporary directory, as the bytes that will be shipped. */
static int stage_jdeps_inputs(struct hpk_build *b, const struct hpk_snapshot *s, char *dir, size_t dirn,
                              struct hpk_perr *e)
{
    if (hpk_mkdtemp(dir, dirn, "jdeps", e) != 0) return -1;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct hpk_item *it = &s->items[i];
        if (it->role != HPK_ROLE_CLASSPATH || !S_ISREG(it->mode)) continue;
        /* Every class path entry, whatever its name (app.zip is a jar to the
         * JVM), and the distribution's other jars, which the app may load by
         * itself (plugins). jdeps only reads files named *.jar. */
        int on_cp = strv_has(&b->cp_paths, it->path);
        if (!on_cp && !jar_name(it->path)) continue;
        char sub[PATH_MAX], f[2 * PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%zu", dir, k++);
        snprintf(f, sizeof f, "%s/%s%s", sub, strrchr(it->path, '/') + 1, jar_name(it->path) ? "" : ".jar");
        if (mkdir(sub, 0700) != 0)
            return hpk_perr_set(e, HPK_ST_OUTPUT, "%s: cannot make: %s", sub, strerror(errno));
        FILE *o = fopen(f, "wb");
        if (!o) return hpk_perr_set(e, HPK_ST_OUTPUT, "%s: cannot write: %s", f, strerror(errno));
        int ok = fwrite(it->data, 1, it->size, o) == it->size;
        int err = errno;
        if (fclose(o) != 0 && ok) ok = 0, err = errno;
        if (!ok) return hpk_perr_set(e, HPK_ST_OUTPUT, "%s: cannot write: %s", f, strerror(err));
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
static int snapshot_runtime(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_perr *e)
{
    if (hpk_snapshot_runtime(s, b->runtime, e) != 0) return -1;
    if (s->java_major < 9)
        hpk_warn("%s: Java %s: hpack is tested with Java 17 and later", b->runtime, s->java_version);

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
    for (size_t i = 0; i < b->cp_paths.n; i++) hpk_kv_add(&conf, &clen, "cp", b->cp_paths.v[i]);
    for (size_t i = 0; i < b->jvm_opts.n; i++) hpk_kv_add(&conf, &clen, "jvm", b->jvm_opts.v[i]);
    for (size_t i = 0; i < b->args.n; i++) hpk_kv_add(&conf, &clen, "arg", b->args.v[i]);
    struct hpk_item *it;
    if (!hpk_snapshot_add(s, "hpack", S_IFDIR | 0755, HPK_ROLE_CONFIG) ||
        !(it = hpk_snapshot_add(s, "hpack/launch", S_IFREG | 0644, HPK_ROLE_CONFIG)))
        return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    it->data = (uint8_t *)conf;
    it->size = clen;
    hpk_hash_bytes(conf, clen, it->hash);
    /* hpack/closure: how each manifest Class-Path entry was made to resolve
     * inside the tree (hpack inspect lists it; the launcher ignores it). */
    if (b->closure) {
        if (!(it = hpk_snapshot_add(s, "hpack/closure", S_IFREG | 0644, HPK_ROLE_CONFIG)))
            return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
        it->data = (uint8_t *)b->closure;
        it->size = b->closure_len;
        b->closure = NULL;
        hpk_hash_bytes(it->data, it->size, it->hash);
    }

    /* One canonical order whatever the walk: by path, bytewise. */
    qsort(s->items, s->n, sizeof *s->items, item_cmp);
    return 0;
}

void hpk_kv_add(char **buf, size_t *len, const char *key, const char *value)
{
    size_t n = strlen(key) + 1 + strlen(value) + 1;
    char *b = realloc(*buf, *len + n);
    if (!b) {
        hpk_oom();
    }
    memcpy(b + *len, key, strlen(key));
    b[*len + strlen(key)] = '=';
    memcpy(b + *len + strlen(key) + 1, value, strlen(value) + 1);
    *buf = b;
    *len += n;
}

static const char build_usage[] =
    "usage: hpack build (--runtime DIR | [--jdk DIR] [--add-modules M,...] [--jlink-opt OPT]...)\n"
    "                   [--app-dist DIR|ARCHIVE] (--jar APP.jar | --cp A.jar:B.jar --main-class CLS)\n"
    "                   [--jvm-opt OPT]... [--arg ARG]... -o OUT\n"
    "                   [--train [--train-arg ARG]... [--train-timeout SECS]\n"
    "                            [--train-ready tcp:[HOST:]PORT|http:URL|log:REGEX]\n"
    "                            [--train-dir DIR]\n"
    "                            [--train-workload 'SHELL COMMAND'] [--keep-da0 PATH]]\n"
    "                   [--tune[=startup|server] [--tune-candidate 'OPTS']... [--tune-candidates-only]\n"
    "                           [--tune-rounds N] [--tune-time SECS]]\n"
    "                   [--with-cache CACHE] [--tuned FILE] [--lock FILE | --locked FILE]\n"
    "                   [--compress zstd[:N]|zlib[:N]|none]\n"
    "\n"
    "  --runtime DIR        Java home to ship (JRE, JDK or jlink image; or a .tar/.tar.gz of one)\n"
    "  --jdk DIR            link the runtime with this JDK's jlink (default: $JAVA_HOME, then\n"
    "                       the newest JDK in /usr/lib/jvm); modules from jdeps\n"
    "  --add-modules M,...  modules to link besides those jdeps finds\n"
    "  --jlink-opt OPT      extra jlink option, repeatable\n"
    "  --app-dist DIR|ARCH  application distribution (directory, .zip, .tar, .tar.gz), shipped whole\n"
    "                       as the app directory; relative --jar/--cp paths are inside it\n"
    "  --jar JAR            application jar; Main-Class and Class-Path from its manifest\n"
    "  --cp LIST            class path jars, ':'-separated; DIR/* means every jar in DIR\n"
    "  --main-class CLS     main class (overrides the manifest's)\n"
    "  --strict-class-path  refuse to build when a manifest Class-Path entry cannot be packed\n"
    "                       (it names nothing, or a signed jar names a host path); default: warn\n"
    "  --jvm-opt OPT        JVM option, repeatable (e.g. --jvm-opt=-Xmx512m)\n"
    "  --arg ARG            argument given to the app before the user's own, repeatable\n"
    "                       In both, the launcher expands ${HPACK_APP} (the unpacked app directory),\n"
    "                       ${HPACK_RUNTIME}, ${HPACK_EXE} (this artifact) and ${HPACK_CWD}\n"
    "  -o, --output OUT     the artifact to write\n"
    "  --train              train a startup cache with DA0 and emit DA1 with it\n"
    "  --train-arg ARG      app argument for the training run only, after the --arg list\n"
    "                       (which the artifact always passes); repeatable\n"
    "  --train-timeout SECS bound the whole training run (default 300)\n"
    "  --train-ready SPEC   server readiness: tcp:PORT, tcp:HOST:PORT, http:URL or log:REGEX\n"
    "                       (tcp:8080, tcp:127.0.0.1:8080, http:http://127.0.0.1:8080/, log:'Started')\n"
    "  --train-dir DIR      the training run's working directory (default: hpack's own)\n"
    "  --train-workload CMD shell command run against the ready server (HPACK_TRAIN_PORT)\n"
    "  --keep-da0 PATH      also keep DA0 (the artifact without cache) at PATH\n"
    "  --tune[=GOAL]        with --train: also train DA1s with candidate JVM option sets, time\n"
    "                       them on the training workload and keep the fastest, if it beats the\n"
    "                       default beyond its noise (docs/tuning.md). GOAL: startup (the whole\n"
    "                       run; the default) or server (time to ready plus the workload; the\n"
    "                       default with --train-ready). Writes OUT.tuned (the table, the choice)\n"
    "  --tune-candidate OPTS  a candidate of your own, e.g. '-XX:+UseSerialGC -Xss512k'; repeatable\n"
    "  --tune-candidates-only  only yours, not the curated sets\n"
    "  --tune-rounds N      measured runs of each candidate, alternated (default 5)\n"
    "  --tune-time SECS     bound the whole search (default 600)\n"
    "  --tuned FILE         the choice recorded in FILE (an OUT.tuned): its options before yours;\n"
    "                       with --with-cache, rebuilds the tuned DA1 bit for bit\n"
    "  --with-cache CACHE   emit DA1 from a cache recorded with HPACK_TRAIN=CACHE\n"
    "  --lock FILE          record every input (entry path, size, mode, XXH3-128) in FILE\n"
    "  --locked FILE        refuse to build if any input differs from FILE, naming it\n"
    "  --compress SPEC      zstd:N (1-19, default zstd:3), zlib:N (1-9) or none\n"
    "  -q, --quiet          only errors\n"
    "  -v, --verbose        explain each step\n";

enum {
    O_RUNTIME = 1000, O_JAR, O_CP, O_MAIN, O_JVM, O_ARG, O_TRAIN, O_TRAIN_ARG, O_TRAIN_TIMEOUT,
    O_TRAIN_READY, O_TRAIN_WORKLOAD, O_KEEP_DA0, O_WITH_CACHE, O_HELP, O_LOCK, O_LOCKED, O_JDK, O_ADD_MODULES, O_JLINK_OPT,
    O_APP_DIST, O_COMPRESS, O_STRICT_CP, O_TRAIN_DIR, O_TUNE, O_TUNE_CAND, O_TUNE_ONLY, O_TUNE_ROUNDS, O_TUNE_TIME,
    O_TUNED
};

/* A ${HPACK_...} the launcher would not expand is a typo: say so now. */
static const char *bad_variable(const char *s)
{
    static const char *const known[] = {"APP}", "RUNTIME}", "EXE}", "CWD}", NULL};
    for (const char *p = s; (p = strstr(p, "${HPACK_")); p++) {
        int ok = 0;
        for (int i = 0; known[i]; i++) ok |= !strncmp(p + 8, known[i], strlen(known[i]));
        if (!ok) return p;
    }
    return NULL;
}

static int build_cmd(int argc, char **argv);

int hpk_cmd_build(int argc, char **argv)
{
    struct hpk_strv args;
    struct hpk_perr ae;
    if (hpk_expand_args(argc, argv, &args, &ae) != 0) {
        fprintf(stderr, "hpack build: %s\n", ae.msg);
        hpk_strv_free(&args);
        return ae.status;
    }
    int st = build_cmd((int)args.n, args.v);
    hpk_strv_free(&args);
    return st;
}

static void build_free(struct hpk_build *b)
{
    hpk_strv_free(&b->cp);
    hpk_strv_free(&b->jvm_opts);
    hpk_strv_free(&b->args);
    hpk_strv_free(&b->train_args);
    hpk_strv_free(&b->cp_paths);
    hpk_strv_free(&b->cp_hosts);
    free(b->closure);
    hpk_strv_free(&b->jlink_opts);
    hpk_strv_free(&b->jdeps_inputs);
    hpk_strv_free(&b->jdeps_names);
    hpk_strv_free(&b->tune_cands);
    free(b->resolved_main);
    free(b->modules);
    free(b->jlinked);
    free(b->fail_detail);
}

static int build_cmd(int argc, char **argv)
{
    static const struct option opts[] = {
        {"runtime", required_argument, NULL, O_RUNTIME},
        {"app-dist", required_argument, NULL, O_APP_DIST},
        {"jar", required_argument, NULL, O_JAR},
        {"cp", required_argument, NULL, O_CP},
        {"class-path", required_argument, NULL, O_CP},
        {"main-class", required_argument, NULL, O_MAIN},
        {"jvm-opt", required_argument, NULL, O_JVM},
        {"arg", required_argument, NULL, O_ARG},
        {"output", required_argument, NULL, 'o'},
        {"train", no_argument, NULL, O_TRAIN},
        {"train-arg", required_argument, NULL, O_TRAIN_ARG},
        {"train-timeout", required_argument, NULL, O_TRAIN_TIMEOUT},
        {"train-ready", required_argument, NULL, O_TRAIN_READY},
        {"train-workload", required_argument, NULL, O_TRAIN_WORKLOAD},
        {"train-dir", required_argument, NULL, O_TRAIN_DIR},
        {"keep-da0", required_argument, NULL, O_KEEP_DA0},
        {"with-cache", required_argument, NULL, O_WITH_CACHE},
        {"lock", required_argument, NULL, O_LOCK},
        {"jdk", required_argument, NULL, O_JDK},
        {"add-modules", required_argument, NULL, O_ADD_MODULES},
        {"jlink-opt", required_argument, NULL, O_JLINK_OPT},
        {"locked", required_argument, NULL, O_LOCKED},
        {"compress", required_argument, NULL, O_COMPRESS},
        {"strict-class-path", no_argument, NULL, O_STRICT_CP},
        {"tune", optional_argument, NULL, O_TUNE},
        {"tune-candidate", required_argument, NULL, O_TUNE_CAND},
        {"tune-candidates-only", no_argument, NULL, O_TUNE_ONLY},
        {"tune-rounds", required_argument, NULL, O_TUNE_ROUNDS},
        {"tune-time", required_argument, NULL, O_TUNE_TIME},
        {"tuned", required_argument, NULL, O_TUNED},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, O_HELP},
        {0, 0, 0, 0},
    };
    struct hpk_build b;
    memset(&b, 0, sizeof b);
    b.train_timeout = 300;
    b.tune_rounds = HPK_TUNE_ROUNDS;
    b.tune_time = HPK_TUNE_TIME;
    int c, tune_any = 0;
    const char *tune_goal = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qv", opts, NULL)) != -1) {
        switch (c) {
        case O_RUNTIME: b.runtime = optarg; break;
        /* Single-valued options: the last one counts, so the command line
         * overrides ./hpack.conf (read first). */
        case O_APP_DIST: b.app_dist = optarg; break;
        case O_JAR: b.jar = optarg; break;
        case O_CP: hpk_strv_push(&b.cp, optarg); break;
        case O_MAIN: b.main_class = optarg; break;
        case O_JVM: hpk_strv_push(&b.jvm_opts, optarg); break;
        case O_ARG: hpk_strv_push(&b.args, optarg); break;
        case 'o': b.output = optarg; break;
        case O_TRAIN: b.train = 1; break;
        case O_TRAIN_ARG: hpk_strv_push(&b.train_args, optarg); b.have_train_args = 1; break;
        case O_TRAIN_TIMEOUT: {
            char *end;
            b.train_timeout = strtod(optarg, &end);
            if (*end || b.train_timeout <= 0) {
                fprintf(stderr, "hpack build: --train-timeout %s: expected a positive number of seconds\n", optarg);
                return build_free(&b), HPK_ST_USAGE;
            }
            break;
        }
        case O_TRAIN_READY: b.train_ready = optarg; break;
        case O_TRAIN_WORKLOAD: b.train_workload = optarg; break;
        case O_TRAIN_DIR: b.train_dir = optarg; break;
        case O_KEEP_DA0: b.keep_da0 = optarg; break;
        case O_WITH_CACHE: b.with_cache = optarg; break;
        case O_LOCK: b.lock = optarg; break;
        case O_JDK: b.jdk = optarg; break;
        case O_ADD_MODULES: b.add_modules = optarg; break;
        case O_JLINK_OPT: hpk_strv_push(&b.jlink_opts, optarg); break;
        case O_LOCKED: b.locked = optarg; break;
        case O_COMPRESS:
            if (hpk_compress_parse(optarg, &hpk_compress_opt) != 0) {
                fprintf(stderr, "hpack build: --compress %s: expected zstd[:1-19], zlib[:1-9] or none\n", optarg);
                return build_free(&b), HPK_ST_USAGE;
            }
            break;
        case O_STRICT_CP: b.strict_cp = 1; break;
        case O_TUNE:
            b.tune = 1;
            tune_goal = optarg;
            if (optarg && strcmp(optarg, "startup") && strcmp(optarg, "server")) {
                fprintf(stderr, "hpack build: --tune=%s: expected startup or server\n", optarg);
                return build_free(&b), HPK_ST_USAGE;
            }
            break;
        case O_TUNE_CAND: {
            struct hpk_strv tmp = {0};
            char why[200];
            int bad = hpk_tune_split(optarg, &tmp, why, sizeof why);
            hpk_strv_free(&tmp);
            if (bad) {
                fprintf(stderr, "hpack build: --tune-candidate '%s': %s (JVM options separated by blanks)\n", optarg, why);
                return build_free(&b), HPK_ST_USAGE;
            }
            hpk_strv_push(&b.tune_cands, optarg);
            tune_any = 1;
            break;
        }
        case O_TUNE_ONLY: b.tune_only = 1; tune_any = 1; break;
        case O_TUNE_ROUNDS:
        case O_TUNE_TIME: {
            char *end;
            double v = strtod(optarg, &end);
            int rounds = c == O_TUNE_ROUNDS;
            if (*end || v <= 0 || (rounds && (v != (int)v || v > 64))) {
                fprintf(stderr, "hpack build: --%s %s: expected %s\n", rounds ? "tune-rounds" : "tune-time", optarg,
                        rounds ? "a whole number from 1 to 64" : "a positive number of seconds");
                return build_free(&b), HPK_ST_USAGE;
            }
            if (rounds) b.tune_rounds = (int)v;
            else b.tune_time = v;
            tune_any = 1;
            break;
        }
        case O_TUNED: b.tuned = optarg; break;
        case 'q': hpk_verbose = 0; break;
        case 'v': hpk_verbose = 2; break;
        case O_HELP: fputs(build_usage, stdout); return build_free(&b), 0;
        default: fputs(build_usage, stderr); return build_free(&b), HPK_ST_USAGE;
        }
    }
    const char *missing = !b.output ? "-o" : (!b.jar && !b.cp.n) ? "--jar or --cp" : NULL;
    if (optind < argc) {
        fprintf(stderr, "hpack build: unexpected argument '%s' (app arguments go in --arg)\n", argv[optind]);
        return build_free(&b), HPK_ST_USAGE;
    }
    if (missing) {
        fprintf(stderr, "hpack build: missing %s (see hpack build --help)\n", missing);
        return build_free(&b), HPK_ST_USAGE;
    }
    for (int w = 0; w < 2; w++) {
        const struct hpk_strv *v = w ? &b.args : &b.jvm_opts;
        for (size_t i = 0; i < v->n; i++) {
            const char *bad = bad_variable(v->v[i]);
            if (bad) {
                fprintf(stderr, "hpack build: %s %s: unknown variable %.*s... (known: ${HPACK_APP}, ${HPACK_RUNTIME}, "
                        "${HPACK_EXE}, ${HPACK_CWD})\n", w ? "--arg" : "--jvm-opt", v->v[i], 16, bad);
                return build_free(&b), HPK_ST_USAGE;
            }
        }
    }
    if (b.runtime && (b.jdk || b.add_modules || b.jlink_opts.n)) {
        fprintf(stderr, "hpack build: --runtime excludes --jdk, --add-modules and --jlink-opt\n");
        return build_free(&b), HPK_ST_USAGE;
    }
    if (b.lock && b.locked) {
        fprintf(stderr, "hpack build: --lock and --locked exclude each other\n");
        return build_free(&b), HPK_ST_USAGE;
    }
    if (b.train && b.with_cache) {
        fprintf(stderr, "hpack build: --train and --with-cache exclude each other\n");
        return build_free(&b), HPK_ST_USAGE;
    }
    if (!b.train && (b.have_train_args || b.train_ready || b.train_workload || b.keep_da0 || b.train_dir)) {
        fprintf(stderr, "hpack build: --train-* and --keep-da0 need --train\n");
        return build_free(&b), HPK_ST_USAGE;
    }
    if (b.train_ready && hpk_ready_parse(b.train_ready, NULL) != 0) {
        fprintf(stderr, "hpack build: --train-ready %s: expected tcp:PORT, tcp:HOST:PORT, http:URL or log:REGEX, e.g. "
                "tcp:8080, tcp:127.0.0.1:8080, http:http://127.0.0.1:8080/health, log:'Started in'\n", b.train_ready);
        return build_free(&b), HPK_ST_USAGE;
    }
    struct stat tst;
    const char *why = !b.train_dir ? NULL : stat(b.train_dir, &tst) != 0 ? strerror(errno) : !S_ISDIR(tst.st_mode) ? "not a directory" : NULL;
    if (why) {
        fprintf(stderr, "hpack build: --train-dir %s: %s\n", b.train_dir, why);
        return build_free(&b), HPK_ST_USAGE;
    }
    if (b.train_workload && !b.train_ready) {
        fprintf(stderr, "hpack build: --train-workload needs --train-ready (when to start it)\n");
        return build_free(&b), HPK_ST_USAGE;
    }
    if ((b.tune && !b.train) || (tune_any && !b.tune)) {
        fprintf(stderr, "hpack build: %s\n", b.tune ? "--tune needs --train (it measures trained DA1s)" : "--tune-* need --tune");
        return build_free(&b), HPK_ST_USAGE;
    }
    if (b.tune) {
        b.tune = (tune_goal ? !strcmp(tune_goal, "server") : b.train_ready != NULL) ? HPK_TUNE_SERVER : HPK_TUNE_STARTUP;
        if (b.tune == HPK_TUNE_SERVER && !b.train_ready) {
            fprintf(stderr, "hpack build: --tune=server needs --train-ready (it times the run to ready and the workload)\n");
            return build_free(&b), HPK_ST_USAGE;
        }
    }
    if (b.tuned) {
        /* The recorded choice's options go first, as --tune put them: the
         * user's own --jvm-opts after them still win. */
        struct hpk_strv all = {0};
        struct hpk_perr te;
        if (b.tune) {
            fprintf(stderr, "hpack build: --tuned replays a choice; --tune makes one: give one of them\n");
            return build_free(&b), HPK_ST_USAGE;
        }
        if (hpk_tune_read_choice(b.tuned, &all, &te) != 0) {
            fprintf(stderr, "hpack build: %s\n", te.msg);
            hpk_strv_free(&all);
            return build_free(&b), te.status;
        }
        for (size_t i = 0; i < b.jvm_opts.n; i++) hpk_strv_push(&all, b.jvm_opts.v[i]);
        hpk_strv_free(&b.jvm_opts);
        b.jvm_opts = all;
    }
    int st = hpk_build_run(&b);
    build_free(&b);
    return st;
}

static void human(char *buf, size_t n, double bytes)
{
    if (bytes >= 1 << 20) snprintf(buf, n, "%.1f MB", bytes / (1 << 20));
    else snprintf(buf, n, "%.1f kB", bytes / 1024);
}

int hpk_build_run(struct hpk_build *b)
{
    struct hpk_perr e = {0};
    struct hpk_snapshot s;
    struct hpk_payload_buf p;
    memset(&p, 0, sizeof p);
    double t0 = hpk_now();
    int st = HPK_ST_OK;
    memset(&s, 0, sizeof s);
    if (hpk_output_check(b->output, "output", &e) != 0 || (b->keep_da0 && hpk_output_check(b->keep_da0, "--keep-da0", &e) != 0) ||
        (b->lock && hpk_output_check(b->lock, "lock", &e) != 0))
        goto fail;
    struct stat cst;
    if (b->with_cache) {
        const char *why = stat(b->with_cache, &cst) != 0 ? strerror(errno) : !S_ISREG(cst.st_mode) ? "not a file" : NULL;
        if (why) {
            hpk_perr_set(&e, HPK_ST_TRAIN, "%s: cannot read the startup cache (--with-cache): %s", b->with_cache, why);
            goto fail;
        }
    }
    hpk_step_begin("reading the application");
    if (snapshot_app(b, &s, &e) != 0) goto fail;
    hpk_step_end();
    if (!b->runtime) {
        char dir[PATH_MAX];
        int r = stage_jdeps_inputs(b, &s, dir, sizeof dir, &e);
        if (r == 0) r = hpk_jlink_runtime(b, &e);
        if (*dir) hpk_tmp_rm_tree(dir);
        if (r != 0) goto fail;
    }
    hpk_step_begin("reading %s", b->runtime);
    if (snapshot_runtime(b, &s, &e) != 0) goto fail;
    hpk_step_end();
    hpk_info("read %zu entries in %.2f s", s.n, hpk_now() - t0);
    if (b->locked && hpk_lock_check(&s, b->locked, &e) != 0) goto fail;
    hpk_step_begin("compressing %zu entries", s.n);
    if (hpk_payload_build(&p, s.items, s.n, &e) != 0) goto fail;
    hpk_step_end();
    char hex[33], size[32];
    hpk_hash_hex(p.base_hash, hex);
    if (b->tune) {
        if (hpk_tune_and_emit(b, &s, &p, &e) != 0) goto fail;
    } else if (b->train || b->with_cache) {
        if (hpk_train_and_emit(b, &s, &p, &e) != 0) goto fail;
    } else {
        if (hpk_elf_emit(b->output, p.data, p.len, &e) != 0) goto fail;
        struct stat sb;
        human(size, sizeof size, stat(b->output, &sb) == 0 ? (double)sb.st_size : 0);
        hpk_note("wrote %s (%s, Java %s, main class %s) in %.2f s; base %s", b->output, size, s.runtime_version,
                 b->resolved_main, hpk_now() - t0, hex);
    }
    if (b->lock && hpk_lock_write(&s, b->lock, &e) != 0) goto fail;
    goto done;
fail:
    hpk_step_abort();
    if (b->fail_detail) fputs(b->fail_detail, stderr);
    fprintf(stderr, "hpack: %s\n", e.msg);
    st = e.status ? e.status : HPK_ST_FAIL;
done:
    hpk_payload_buf_free(&p);
    hpk_snapshot_free(&s);
    return st;
}
