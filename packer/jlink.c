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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Run argv, its stdout and stderr captured into one buffer. In its own
 * process group, registered, so that an interrupt of hpack stops it rather
 * than leave it writing into a directory being removed. */
static int run_capture(char *const *argv, char **out)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    pid_t pid = hpk_fork_group();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
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
    hpk_wait_group(pid, &st, 0);
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
    else snprintf(buf, n, "/tmp/hpack-jlink-%u", (unsigned)geteuid());
}

/* ---- jdeps: the modules the class path needs ----
 * One run over every jar. When it fails (one jar's module-info requires a
 * module nobody has, say), the jars are split in halves, each half run with
 * the others on --class-path (so that what a good jar uses of a bad one is
 * still followed), down to single jars: k bad jars among n cost about
 * 2k log2(n) runs instead of n, and the failing runs are short (they fail
 * at module resolution). The modules of every run that succeeds are kept;
 * each jar that fails alone is reported. */
struct jdeps {
    const char *exe, *mr;
    const struct hpk_strv *jars;  /* the staged copies jdeps reads */
    const struct hpk_strv *names; /* and what each is to the user */
    char *mods;       /* comma list, grown */
    size_t *bad;      /* indexes of the jars that fail alone */
    char **why;       /* and jdeps' reason for each */
    size_t nbad;
};

/* jdeps' reason in one line: its "Error: " line, else its last line. */
static char *jdeps_reason(int status, const char *out)
{
    const char *l = out ? strstr(out, "Error: ") : NULL, *end;
    if (l) {
        l += 7;
    } else if (out && *out) {
        end = out + strlen(out);
        while (end > out && (end[-1] == '\n' || end[-1] == ' ')) end--;
        l = end;
        while (l > out && l[-1] != '\n') l--;
    }
    if (l) {
        end = strchr(l, '\n');
        int n = (int)(end ? end - l : (ptrdiff_t)strlen(l));
        if (n > 0) {
            char *r;
            return asprintf(&r, "%.*s", n > 300 ? 300 : n, l) < 0 ? NULL : r;
        }
    }
    char *r;
    return asprintf(&r, "status %d", status) < 0 ? NULL : r;
}

/* One run over jars[lo, hi), the others (if any) on the class path.
 * Returns 0 and appends the modules, or -1 and sets *why. */
static int jdeps_run(struct jdeps *j, size_t lo, size_t hi, char **why)
{
    const struct hpk_strv *v = j->jars;
    char **av = calloc(v->n + 10, sizeof *av), *cp = NULL, *out = NULL;
    size_t cl = 0;
    FILE *f = hi - lo < v->n ? open_memstream(&cp, &cl) : NULL;
    for (size_t i = 0, first = 1; f && i < v->n; i++)
        if (i < lo || i >= hi) {
            fprintf(f, "%s%s", first ? "" : ":", v->v[i]);
            first = 0;
        }
    if (f) fclose(f);
    int k = 0;
    av[k++] = (char *)j->exe;
    av[k++] = "--print-module-deps";
    av[k++] = "--ignore-missing-deps";
    if (j->mr) {
        av[k++] = "--multi-release";
        av[k++] = (char *)j->mr;
    }
    if (cp) {
        av[k++] = "--class-path";
        av[k++] = cp;
    }
    for (size_t i = lo; i < hi; i++) av[k++] = v->v[i];
    int st = run_capture(av, &out);
    free(av);
    free(cp);
    /* The last line is the module list (possibly empty: no classes);
     * warnings come before it. */
    size_t n = out ? strlen(out) : 0;
    while (n && out[n - 1] == '\n') out[--n] = 0;
    char *line = out ? strrchr(out, '\n') : NULL;
    line = line ? line + 1 : out;
    int ok = st == 0 && line && strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,") == strlen(line);
    if (ok && *line) {
        char *m;
        if (asprintf(&m, "%s%s%s", j->mods ? j->mods : "", j->mods ? "," : "", line) >= 0) {
            free(j->mods);
            j->mods = m;
        }
    }
    hpk_info("jdeps over %zu jar(s) from %s: %s", hi - lo, j->names->v[lo], ok ? (*line ? line : "no modules") : "failed");
    if (!ok) *why = jdeps_reason(st, out);
    free(out);
    return ok ? 0 : -1;
}

static void jdeps_split(struct jdeps *j, size_t lo, size_t hi)
{
    char *why = NULL;
    if (jdeps_run(j, lo, hi, &why) == 0) return;
    if (hi - lo > 1) {
        free(why);
        size_t mid = lo + (hi - lo) / 2;
        jdeps_split(j, lo, mid);
        jdeps_split(j, mid, hi);
        return;
    }
    j->bad[j->nbad] = lo;
    j->why[j->nbad++] = why;
}

/* names: what each of jars is to the user (jdeps reads staged copies). */
static int find_modules(const char *jdk, int major, const struct hpk_strv *jars, const struct hpk_strv *names,
                        char **mods, struct hpk_perr *e)
{
    char exe[PATH_MAX + 16], mr[16];
    snprintf(exe, sizeof exe, "%s/bin/jdeps", jdk);
    snprintf(mr, sizeof mr, "%d", major);
    if (access(exe, X_OK) != 0)
        return hpk_perr_set(e, HPK_ST_RUNTIME, "%s: %s: the JDK has no jdeps to find the modules; give a runtime with --runtime DIR",
                            exe, strerror(errno));
    struct jdeps j = {.exe = exe, .mr = major >= 9 ? mr : NULL, .jars = jars, .names = names};
    j.bad = calloc(jars->n, sizeof *j.bad);
    j.why = calloc(jars->n, sizeof *j.why);
    if (!j.bad || !j.why) {
        free(j.bad);
        free(j.why);
        return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    }
    hpk_step_begin("jdeps: finding the modules the class path needs");
    char *why = NULL;
    if (jdeps_run(&j, 0, jars->n, &why) != 0) {
        if (jars->n > 1) {
            hpk_info("jdeps failed over the whole class path (%s); analysing the jars in smaller groups", why ? why : "?");
            hpk_step_update("jdeps: failed over the whole class path; finding the jar(s) it fails on");
            jdeps_split(&j, 0, jars->n / 2);
            jdeps_split(&j, jars->n / 2, jars->n);
            /* No jar fails alone (split packages, say): the union of the
             * parts' modules is the answer, but say why it was needed. */
            if (j.nbad == 0)
                hpk_note("jdeps failed over the whole class path (%s) but not over its parts; their modules are used",
                         why ? why : "?");
            free(why);
        } else {
            j.bad[j.nbad] = 0;
            j.why[j.nbad++] = why;
        }
    }
    int rc = 0;
    if (j.nbad == jars->n) {
        hpk_step_abort();
        rc = hpk_perr_set(e, HPK_ST_RUNTIME, "%s: jdeps cannot analyse it (%s)%s; fix it, or give a runtime with --runtime DIR",
                          names->v[j.bad[0]], j.why[0] ? j.why[0] : "?", jars->n > 1 ? ", nor any other class path jar" : "");
        free(j.mods);
    } else {
        hpk_step_end();
        for (size_t i = 0; i < j.nbad; i++) {
            int again = 0; /* the same jar twice on the class path: one warning */
            for (size_t k = 0; k < i; k++) again |= !strcmp(names->v[j.bad[k]], names->v[j.bad[i]]);
            if (!again)
                hpk_warn("%s: jdeps cannot analyse it (%s); the modules it alone needs are not linked: add them with "
                         "--add-modules M,... if the app needs them",
                         names->v[j.bad[i]], j.why[i] ? j.why[i] : "?");
        }
        *mods = j.mods;
    }
    for (size_t i = 0; i < j.nbad; i++) free(j.why[i]);
    free(j.bad);
    free(j.why);
    return rc;
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

    /* Modules: jdeps over the class path (see find_modules). */
    char *mods = NULL;
    if (b->jdeps_inputs.n && find_modules(jdk, major, &b->jdeps_inputs, &b->jdeps_names, &mods, e) != 0) return -1;
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
    char given[PATH_MAX], root[PATH_MAX], out[PATH_MAX + 64], tmp[PATH_MAX + 96];
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
        return hpk_perr_set(e, HPK_ST_OUTPUT, "jlink cache %s", se.msg);
    }
    snprintf(out, sizeof out, "%s/%s", root, key);
    sweep_stale(root);
    close(rfd);
    snprintf(p, sizeof p, "%s/bin/java", out);
    if (access(p, X_OK) == 0) {
        hpk_note("jlink: reusing %s (same JDK, modules and options)", out);
    } else {
        snprintf(tmp, sizeof tmp, "%s/.tmp.%s.%ld", root, key, (long)getpid());
        hpk_tmp_register_tree(tmp);
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
            hpk_tmp_rm_tree(tmp);
            /* jlink's first line says it ("Error: Module java.nope not
             * found"); the stack trace after it is for jlink's authors. */
            size_t first = msg ? strcspn(msg, "\n") : 0;
            hpk_perr_set(e, HPK_ST_RUNTIME, "jlink failed (status %d): %.*s; check --add-modules and --jlink-opt", r,
                         (int)(first < 400 ? first : 400), msg ? msg : "");
            free(msg);
            hpk_strv_free(&opts);
            return -1;
        }
        free(msg);
        hpk_step_end();
        int renamed = rename(tmp, out) == 0, err = errno;
        if (!renamed && access(p, X_OK) != 0) {
            hpk_tmp_rm_tree(tmp);
            hpk_strv_free(&opts);
            return hpk_perr_set(e, HPK_ST_OUTPUT, "%s: cannot keep the linked runtime: %s", out, strerror(err));
        }
        hpk_tmp_rm_tree(tmp); /* gone if renamed; else another build won the race with the same image */
        hpk_note("jlink: done in %.1f s, kept in %s", hpk_now() - t0, out);
    }
    hpk_strv_free(&opts);
    free(b->jlinked);
    b->jlinked = strdup(out);
    b->runtime = b->jlinked;
    return 0;
}
