/*
 * jlink.c - `hpack build --jdk DIR`: make the runtime with jlink, jlink-style.
 *
 * Modules come from jdeps over the class path (jdeps.c; plus --add-modules); jlink
 * runs with deterministic options and its output is kept in a build cache
 * keyed by (JDK identity, modules, options), so rebuilding an app skips it.
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "hpk_child.h"
#include "../layout/hpk_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static int is_jdk(const char *d)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/bin/jlink", d);
    return access(p, X_OK) == 0;
}

/* --jdk default: $JAVA_HOME, then the newest JDK in Debian's JVM directory. */
static char *default_jdk(void)
{
    const char *jh = getenv("JAVA_HOME");
    if (jh && *jh && is_jdk(jh)) {
        hpk_note("using the JDK in $JAVA_HOME: %s", jh);
        return strdup(jh);
    }
    DIR *d = opendir("/usr/lib/jvm");
    char *best = NULL;
    int best_major = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "/usr/lib/jvm/%s", de->d_name);
        char real[PATH_MAX];
        if (!realpath(p, real) || !is_jdk(real)) continue;
        int m = hpk_release_major(real);
        if (m > best_major || (m == best_major && best && strcmp(real, best) < 0)) {
            free(best);
            best = strdup(real);
            best_major = m;
        }
    }
    if (d) closedir(d);
    if (best) hpk_note("using the newest JDK in /usr/lib/jvm (no --jdk, no $JAVA_HOME): %s (Java %d)", best, best_major);
    return best;
}

/* Half-linked images (".tmp.<key>.<pid>") of builds that died where no
 * handler runs (SIGKILL): removed once their pid is gone. A live pid, even
 * reused by another program, keeps its directory: the next sweep gets it. */
static void sweep_stale(const char *root)
{
    DIR *d = opendir(root);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *dot = strrchr(de->d_name, '.');
        char *end;
        if (strncmp(de->d_name, ".tmp.", 5) != 0 || !dot || dot == de->d_name + 4) continue;
        long pid = strtol(dot + 1, &end, 10);
        if (!*end && pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            hpk_info("jlink cache: removing %s, left by a build that died", de->d_name);
            hpk_rm_rf(dirfd(d), de->d_name);
        }
    }
    closedir(d);
}

static void cache_root(char *buf, size_t n)
{
    const char *x = getenv("HPACK_JLINK_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (x && *x) snprintf(buf, n, "%s", x);
    else if (xdg && *xdg == '/') snprintf(buf, n, "%s/hpack-jlink", xdg);
    else if (home && *home == '/') snprintf(buf, n, "%s/.cache/hpack-jlink", home);
    else snprintf(buf, n, "%s/hpack-jlink-%u", hpk_tmpdir(), (unsigned)geteuid());
}

/* The JDK to link from (--jdk, else the default) into jdk, by its real
 * path; its feature release into *major. */
static int choose_jdk(const struct hpk_build *b, char *jdk, int *major, struct hpk_err *e)
{
    char *chosen = b->jdk ? strdup(b->jdk) : default_jdk();
    if (!chosen) return hpk_fail(e, HPK_ST_RUNTIME, "no JDK found: give --jdk DIR or --runtime DIR (or set JAVA_HOME)");
    if (!realpath(chosen, jdk) || !is_jdk(jdk)) {
        hpk_fail(e, HPK_ST_RUNTIME, "%s: not a JDK (no bin/jlink); give a JDK with --jdk, or a runtime with --runtime", chosen);
        free(chosen);
        return -1;
    }
    free(chosen);
    *major = hpk_release_major(jdk);
    char jmods[PATH_MAX + 8];
    snprintf(jmods, sizeof jmods, "%s/jmods", jdk);
    struct stat st;
    /* JEP 493 (JDK 24) lets jlink link from the run-time image; before it,
     * jlink needs the jmods (Debian ships them apart). */
    if (*major < 24 && stat(jmods, &st) != 0)
        return hpk_fail(e, HPK_ST_RUNTIME,
                            "%s: Java %d JDK without jmods/: jlink cannot make a runtime from it; install the "
                            "openjdk-%d-jmods package (apt-get install openjdk-%d-jmods), or give --runtime DIR",
                            jdk, *major, *major, *major);
    return 0;
}

/* b->modules: what jdeps finds plus --add-modules (java.base if nothing),
 * sorted and without duplicates: the same set is the same cache key. */
static int module_list(struct hpk_build *b, const char *jdk, int major, struct hpk_err *e)
{
    char *mods = NULL;
    if (b->jdeps_inputs.n && hpk_jdeps_modules(jdk, major, &b->jdeps_inputs, &b->jdeps_names, &mods, e) != 0) return -1;
    if (b->add_modules) {
        char *m;
        if (asprintf(&m, "%s%s%s", mods ? mods : "", mods ? "," : "", b->add_modules) < 0) hpk_oom();
        free(mods);
        mods = m;
    }
    if (!mods || !*mods) {
        free(mods);
        mods = hpk_xstrdup("java.base");
    }
    struct hpk_strv list = {0};
    char *save = NULL;
    for (char *t = strtok_r(mods, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (!hpk_strv_has(&list, t)) hpk_strv_push(&list, t);
    free(mods);
    /* Service providers jdeps cannot see (provmods.c), said so with why. */
    const struct hpk_provider_rule *added[HPK_PROVIDER_RULES], *said[HPK_PROVIDER_RULES];
    size_t n_added = 0, n_said = 0;
    if (!b->no_provider_modules) {
        struct hpk_strv jdk_mods = {0}, linked = {0};
        hpk_jdk_modules(jdk, &jdk_mods);
        hpk_jdk_linked_closure(jdk, &list, &linked);
        hpk_provider_modules(&list, &linked, &jdk_mods, major, added, &n_added, said, &n_said);
        hpk_strv_free(&jdk_mods);
        hpk_strv_free(&linked);
    }
    qsort(list.v, list.n, sizeof *list.v, hpk_str_cmp);
    free(b->modules);
    b->modules = hpk_xjoin((const char *const *)list.v, list.n, ",");
    hpk_strv_free(&list);
    hpk_note("modules: %s", b->modules);
    if (n_added) {
        char line[1024] = "";
        for (size_t i = 0; i < n_added; i++)
            snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s (%s)", i ? ", " : "", added[i]->add,
                     added[i]->why);
        hpk_note("modules: %s added: service providers the linked modules use, which jdeps cannot see "
                 "(--provider-modules none leaves them out)", line);
    }
    const char *said_names[HPK_PROVIDER_RULES];
    for (size_t i = 0; i < n_said; i++) {
        hpk_note("modules: %s not linked (%s); --add-modules %s links it%s", said[i]->add, said[i]->why, said[i]->add,
                 said[i]->hint ? said[i]->hint : "");
        said_names[i] = said[i]->add;
    }
    free(b->said_modules);
    b->said_modules = n_said ? hpk_xjoin(said_names, n_said, ", ") : NULL;
    return 0;
}

/* The build cache's key: the JDK's identity (path, release, size and mtime
 * of lib/modules), the modules, the options and jlink's environment (its
 * locale: runtimes linked under the user's, before hpack fixed it, are
 * not taken for ones linked under C.UTF-8). */
static void cache_key(const char *jdk, const char *modules, const struct hpk_strv *opts, char key[33])
{
    XXH3_state_t hs;
    XXH3_128bits_reset(&hs);
    XXH3_128bits_update(&hs, jdk, strlen(jdk) + 1);
    char p[PATH_MAX + 32];
    uint8_t *rel = NULL;
    size_t rl = 0;
    snprintf(p, sizeof p, "%s/release", jdk);
    if (hpk_read_file(p, &rel, &rl) == 0) XXH3_128bits_update(&hs, rel, rl);
    free(rel);
    snprintf(p, sizeof p, "%s/lib/modules", jdk);
    struct stat st;
    if (stat(p, &st) == 0) {
        int64_t id[2] = {(int64_t)st.st_size, (int64_t)st.st_mtime};
        XXH3_128bits_update(&hs, id, sizeof id);
    }
    XXH3_128bits_update(&hs, modules, strlen(modules) + 1);
    static const char env[] = "LC_ALL=C.UTF-8", fallback[] = "LC_ALL=C.UTF-8 (missing: C)";
    if (hpk_child_has_c_utf8()) XXH3_128bits_update(&hs, env, sizeof env);
    else XXH3_128bits_update(&hs, fallback, sizeof fallback);
    for (size_t i = 0; i < opts->n; i++) XXH3_128bits_update(&hs, opts->v[i], strlen(opts->v[i]) + 1);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&hs));
    hpk_hash_hex(c.digest, key);
}

/* Run jlink into root/.tmp.KEY.PID (removed on interrupt), then rename it
 * to out; a build that won the race with the same image is as good. */
static int link_into(const char *jdk, const char *modules, const struct hpk_strv *opts, const char *root, const char *key,
                     const char *out, struct hpk_err *e)
{
    char tmp[PATH_MAX + 96], jl[PATH_MAX + 16], java[PATH_MAX + 80];
    snprintf(tmp, sizeof tmp, "%s/.tmp.%s.%ld", root, key, (long)getpid());
    snprintf(java, sizeof java, "%s/bin/java", out);
    hpk_tmp_register_tree(tmp);
    snprintf(jl, sizeof jl, "%s/bin/jlink", jdk);
    char **av = hpk_xmalloc((opts->n + 8) * sizeof *av);
    int k = 0;
    av[k++] = jl;
    av[k++] = "--add-modules";
    av[k++] = (char *)modules;
    for (size_t i = 0; i < opts->n; i++) av[k++] = opts->v[i];
    av[k++] = "--output";
    av[k++] = tmp;
    av[k] = NULL;
    double t0 = hpk_now();
    size_t nm = 1;
    for (const char *q = modules; *q; q++) nm += *q == ',';
    hpk_step_begin("jlink: linking a runtime of %zu module(s) from %s", nm, jdk);
    char *msg = NULL;
    char **env = hpk_child_env_jdk();
    int r = hpk_child_capture_env(av, env, &msg);
    free(env);
    free(av);
    if (r != 0) {
        hpk_tmp_rm_tree(tmp);
        /* jlink's first line says it ("Error: Module java.nope not
         * found"); the stack trace after it is for jlink's authors. */
        size_t first = msg ? strcspn(msg, "\n") : 0;
        hpk_fail(e, HPK_ST_RUNTIME, "jlink failed (status %d): %.*s; check --add-modules and --jlink-opt", r,
                     (int)(first < 400 ? first : 400), msg ? msg : "");
        free(msg);
        return -1;
    }
    hpk_step_end();
    /* A jlink that succeeds may still warn, of what the user's --jlink-opt
     * asked (a deprecated --compress=2): say its "Warning:" lines. */
    for (const char *l = msg; l && *l;) {
        size_t n = strcspn(l, "\n");
        if (strncmp(l, "Warning:", 8) == 0) hpk_warn("jlink: %.*s", (int)(n < 400 ? n : 400), l);
        l += n + (l[n] == '\n');
    }
    free(msg);
    /* Later builds take the kept runtime as it is: after a crash of the
     * machine it must not hold zeros under its name. */
    if (hpk_sync_path(tmp, 1) != 0) {
        int se = errno;
        hpk_tmp_rm_tree(tmp);
        return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot sync the linked runtime: %s", tmp, strerror(se));
    }
    int renamed = rename(tmp, out) == 0, err = errno;
    if (!renamed && access(java, X_OK) != 0) {
        hpk_tmp_rm_tree(tmp);
        return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot keep the linked runtime: %s", out, strerror(err));
    }
    hpk_tmp_rm_tree(tmp); /* gone if renamed; else another build won the race with the same image */
    hpk_note("jlink: done in %.1f s, kept in %s", hpk_now() - t0, out);
    return 0;
}

int hpk_jlink_runtime(struct hpk_build *b, struct hpk_err *e)
{
    char jdk[PATH_MAX];
    int major = 0;
    if (choose_jdk(b, jdk, &major, e) != 0 || module_list(b, jdk, major, e) != 0) return -1;
    /* The options: deterministic defaults, then the user's (jlink keeps the
     * last of a repeated option, so --jlink-opt=--compress=zip-0 undoes ours).
     * A base CDS archive is generated so that JDK 13-23 runtimes can train
     * (dynamic CDS layers on it) and every runtime starts faster.
     *
     * lib/modules is deflated resource by resource (zip-6; JDK 21 named the
     * levels, before it "2" is the same): a first start writes the unpacked
     * tree into fresh page cache, the most of its cost (docs/results.md), and
     * Clojure's lib/modules shrinks from 55.8 to 26.8 MB, its first start on
     * Temurin 25 from 0.36 to 0.24 s. The JVM inflates only the classes that
     * neither the startup cache nor the default CDS archive holds, so a
     * trained artifact's warm start is unchanged, an untrained one's 2-4%
     * slower; the artifact grows by 9-12 MB (Clojure 44.7 to 53.2 MiB),
     * zstd finding less in deflated resources (docs/results.md). */
    struct hpk_strv opts = {0};
    const char *defaults[] = {"--strip-debug", "--no-header-files", "--no-man-pages", "--generate-cds-archive",
                              major >= 21 ? "--compress=zip-6" : "--compress=2"};
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++) hpk_strv_push(&opts, defaults[i]);
    for (size_t i = 0; i < b->jlink_opts.n; i++) hpk_strv_push(&opts, b->jlink_opts.v[i]);
    char key[33];
    cache_key(jdk, b->modules, &opts, key);
    if (!hpk_child_has_c_utf8())
        hpk_warn("this host has no C.UTF-8 locale: jdeps and jlink run under C, whose default CDS archive is other "
                 "bytes than on hosts that have it (the artifact is reproducible among hosts of the same kind)");
    char given[PATH_MAX], root[PATH_MAX], out[PATH_MAX + 64], p[PATH_MAX + 80];
    cache_root(given, sizeof given);
    /* Whoever can write the cache, or rename a directory on the way to it,
     * chooses the runtime we ship: like the launcher's cache directory
     * (hpk_dir_open_secure), it must be ours and closed to others, reached
     * without following another user's link (a planted
     * /tmp/hpack-jlink-<uid>), and is named by its real path from then on. */
    struct hpk_err se;
    int insecure;
    int rfd = hpk_dir_open_secure(given, HPK_DIR_CREATE, root, sizeof root, &insecure, &se);
    if (rfd < 0) {
        hpk_strv_free(&opts);
        return hpk_fail(e, HPK_ST_OUTPUT, "jlink cache %s", se.msg);
    }
    snprintf(out, sizeof out, "%s/%s", root, key);
    sweep_stale(root);
    close(rfd);
    snprintf(p, sizeof p, "%s/bin/java", out);
    int rc = 0;
    if (access(p, X_OK) == 0) hpk_note("jlink: reusing %s (same JDK, modules and options)", out);
    else if ((rc = link_into(jdk, b->modules, &opts, root, key, out, e)) == 0 && major < 19)
        /* JDK-8253495: -Xshare:dump (jlink --generate-cds-archive) is
         * deterministic from JDK 19 on; on 17 two dumps differed in 4.8 MB
         * of their 13.5 MB. The cache kept is what makes a rebuild match. */
        hpk_note("jlink: JDK %d writes a different default CDS archive (lib/server/*.jsa) on every run (JDK-8253495, "
                 "fixed in JDK 19): a rebuild gives the same artifact from this jlink cache, or with --runtime %s",
                 major, out);
    if (rc != 0) {
        hpk_strv_free(&opts);
        return -1;
    }
    hpk_strv_free(&b->jlink_used);
    b->jlink_used = opts; /* recorded for hpack inspect: two runtimes of one module list can differ by them */
    free(b->jlinked);
    b->jlinked = hpk_xstrdup(out);
    b->runtime = b->jlinked;
    return 0;
}
