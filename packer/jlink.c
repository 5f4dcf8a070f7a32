/*
 * jlink.c - `hpack build --jdk DIR`: make the runtime with jlink, jlink-style.
 *
 * Modules come from jdeps over the class path (plus --add-modules); jlink
 * runs with deterministic options and its output is kept in a build cache
 * keyed by (JDK identity, modules, options), so rebuilding an app skips it.
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "../launcher/hpk_launcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Run argv, capture stdout (and stderr into the same buffer when both). */
static void hpk_rm_tree(const char *p) { hpk_rm_rf(AT_FDCWD, p); }

static int run_capture(char *const *argv, char **out)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        execv(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    size_t n = 0, cap = 4096;
    char *b = malloc(cap);
    ssize_t r;
    while (b && (r = read(p[0], b + n, cap - n - 1)) > 0) {
        n += (size_t)r;
        if (cap - n < 2) b = realloc(b, cap *= 2);
    }
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    if (b) b[n] = 0;
    *out = b;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

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

static void cache_root(char *buf, size_t n)
{
    const char *x = getenv("HPACK_JLINK_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (x && *x) snprintf(buf, n, "%s", x);
    else if (xdg && *xdg == '/') snprintf(buf, n, "%s/hpack-jlink", xdg);
    else if (home && *home == '/') snprintf(buf, n, "%s/.cache/hpack-jlink", home);
    else snprintf(buf, n, "/tmp/hpack-jlink-%u", (unsigned)geteuid());
}

int hpk_jlink_runtime(struct hpk_build *b, struct hpk_perr *e)
{
    char jdk[PATH_MAX];
    char *chosen = b->jdk ? strdup(b->jdk) : default_jdk();
    if (!chosen) return hpk_perr_set(e, HPK_ST_RUNTIME, "no JDK found: give --jdk DIR or --runtime DIR (or set JAVA_HOME)");
    if (!realpath(chosen, jdk) || !is_jdk(jdk)) {
        hpk_perr_set(e, HPK_ST_RUNTIME, "%s: not a JDK (no bin/jlink); give a JDK with --jdk, or a runtime with --runtime", chosen);
        free(chosen);
        return -1;
    }
    free(chosen);
    int major = hpk_release_major(jdk);
    char jmods[PATH_MAX + 8];
    snprintf(jmods, sizeof jmods, "%s/jmods", jdk);
    struct stat st;
    /* JEP 493 (JDK 24) lets jlink link from the run-time image; before it,
     * jlink needs the jmods (Debian ships them apart). */
    if (major < 24 && stat(jmods, &st) != 0)
        return hpk_perr_set(e, HPK_ST_RUNTIME,
                            "%s: Java %d JDK without jmods/: jlink cannot make a runtime from it; install the "
                            "openjdk-%d-jmods package (apt-get install openjdk-%d-jmods), or give --runtime DIR",
                            jdk, major, major, major);

    /* Modules: jdeps over the class path, unless given. */
    char *mods = NULL;
    {
        char **av = calloc(b->jdeps_inputs.n + 8, sizeof *av);
        char jdeps[PATH_MAX + 16], mr[16];
        snprintf(jdeps, sizeof jdeps, "%s/bin/jdeps", jdk);
        snprintf(mr, sizeof mr, "%d", major);
        int k = 0;
        av[k++] = jdeps;
        av[k++] = "--print-module-deps";
        av[k++] = "--ignore-missing-deps";
        av[k++] = "--multi-release";
        av[k++] = mr;
        for (size_t i = 0; i < b->jdeps_inputs.n; i++) av[k++] = b->jdeps_inputs.v[i];
        char *out = NULL;
        hpk_step_begin("jdeps: finding the modules the class path needs");
        int r = run_capture(av, &out);
        hpk_step_end();
        free(av);
        /* The last line is the module list; earlier ones are warnings. */
        char *last = out ? strrchr(out, '\n') : NULL;
        while (last && last > out && last[1] == 0) {
            *last = 0;
            last = strrchr(out, '\n');
        }
        char *line = last ? last + 1 : out;
        if (r != 0 || !line || !*line || strchr(line, ' ')) {
            hpk_perr_set(e, HPK_ST_RUNTIME, "jdeps failed (status %d): %.300s", r, out ? out : "");
            free(out);
            return -1;
        }
        mods = strdup(line);
        free(out);
    }
    if (b->add_modules) {
        char *m;
        if (asprintf(&m, "%s%s%s", mods ? mods : "", mods ? "," : "", b->add_modules) < 0) return -1;
        free(mods);
        mods = m;
    }
    if (!mods || !*mods) mods = strdup("java.base");
    /* Sort and deduplicate: the same set is the same key. */
    struct hpk_strv list = {0};
    char *save = NULL;
    for (char *t = strtok_r(mods, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int dup = 0;
        for (size_t i = 0; i < list.n; i++) dup |= !strcmp(list.v[i], t);
        if (dup) continue;
        list.v = realloc(list.v, (list.n + 1) * sizeof *list.v);
        list.v[list.n++] = strdup(t);
    }
    free(mods);
    for (size_t i = 1; i < list.n; i++)
        for (size_t j = i; j > 0 && strcmp(list.v[j - 1], list.v[j]) > 0; j--) {
            char *t = list.v[j];
            list.v[j] = list.v[j - 1];
            list.v[j - 1] = t;
        }
    size_t ml = 1;
    for (size_t i = 0; i < list.n; i++) ml += strlen(list.v[i]) + 1;
    free(b->modules);
    b->modules = calloc(1, ml);
    for (size_t i = 0; i < list.n; i++) {
        if (i) strcat(b->modules, ",");
        strcat(b->modules, list.v[i]);
    }
    hpk_strv_free(&list);
    hpk_note("modules: %s", b->modules);

    /* The options: deterministic defaults, then the user's. A base CDS
     * archive is generated so that JDK 13-23 runtimes can train (dynamic CDS
     * layers on it) and every runtime starts faster. */
    struct hpk_strv opts = {0};
    const char *defaults[] = {"--strip-debug", "--no-header-files", "--no-man-pages", "--generate-cds-archive"};
    for (size_t i = 0; i < 4; i++) {
        opts.v = realloc(opts.v, (opts.n + 1) * sizeof *opts.v);
        opts.v[opts.n++] = strdup(defaults[i]);
    }
    for (size_t i = 0; i < b->jlink_opts.n; i++) {
        opts.v = realloc(opts.v, (opts.n + 1) * sizeof *opts.v);
        opts.v[opts.n++] = strdup(b->jlink_opts.v[i]);
    }
    /* Key: the JDK's identity (path, release, size and mtime of lib/modules),
     * the modules and the options. */
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
    if (stat(p, &st) == 0) {
        int64_t id[2] = {(int64_t)st.st_size, (int64_t)st.st_mtime};
        XXH3_128bits_update(&hs, id, sizeof id);
    }
    XXH3_128bits_update(&hs, b->modules, strlen(b->modules) + 1);
    for (size_t i = 0; i < opts.n; i++) XXH3_128bits_update(&hs, opts.v[i], strlen(opts.v[i]) + 1);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&hs));
    char key[33];
    hpk_hash_hex(c.digest, key);
    char root[PATH_MAX], out[PATH_MAX + 64], tmp[PATH_MAX + 96];
    cache_root(root, sizeof root);
    snprintf(out, sizeof out, "%s/%s", root, key);
    /* Whoever can write the cache chooses the runtime we ship: like the
     * launcher's cache directory, it must be ours and closed to others. */
    if (hpk_mkdirs(root) != 0) {
        hpk_strv_free(&opts);
        return hpk_perr_set(e, HPK_ST_OUTPUT, "%s: cannot create the jlink cache: %s", root, strerror(errno));
    }
    chmod(root, 0700);
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct hpk_err se;
    if (rfd < 0 || hpk_dir_secure(rfd, root, &se) != 0) {
        if (rfd >= 0) close(rfd);
        hpk_strv_free(&opts);
        return hpk_perr_set(e, HPK_ST_OUTPUT, "jlink cache %s", rfd < 0 ? strerror(errno) : se.msg);
    }
    close(rfd);
    snprintf(p, sizeof p, "%s/bin/java", out);
    if (access(p, X_OK) == 0) {
        hpk_note("jlink: reusing %s (same JDK, modules and options)", out);
    } else {
        snprintf(tmp, sizeof tmp, "%s/.tmp.%s.%ld", root, key, (long)getpid());
        char jl[PATH_MAX + 16];
        snprintf(jl, sizeof jl, "%s/bin/jlink", jdk);
        char **av = calloc(opts.n + 8, sizeof *av);
        int k = 0;
        av[k++] = jl;
        av[k++] = "--add-modules";
        av[k++] = b->modules;
        for (size_t i = 0; i < opts.n; i++) av[k++] = opts.v[i];
        av[k++] = "--output";
        av[k++] = tmp;
        double t0 = hpk_now();
        size_t nm = 1;
        for (const char *q = b->modules; *q; q++) nm += *q == ',';
        hpk_step_begin("jlink: linking a runtime of %zu module(s) from %s", nm, jdk);
        char *msg = NULL;
        int r = run_capture(av, &msg);
        free(av);
        if (r != 0) {
            hpk_rm_tree(tmp);
            hpk_perr_set(e, HPK_ST_RUNTIME, "jlink failed (status %d): %.400s", r, msg ? msg : "");
            free(msg);
            hpk_strv_free(&opts);
            return -1;
        }
        free(msg);
        hpk_step_end();
        if (rename(tmp, out) != 0 && access(p, X_OK) != 0) {
            hpk_rm_tree(tmp);
            hpk_strv_free(&opts);
            return hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, strerror(errno));
        }
        hpk_rm_tree(tmp); /* lost a race with another build: theirs is the same */
        hpk_note("jlink: done in %.1f s, kept in %s", hpk_now() - t0, out);
    }
    hpk_strv_free(&opts);
    free(b->jlinked);
    b->jlinked = strdup(out);
    b->runtime = b->jlinked;
    return 0;
}
