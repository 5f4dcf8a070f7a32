/*
 * jlink.c - `hpack build --jdk DIR`: make the runtime with jlink, jlink-style.
 *
 * Modules come from jdeps over the class path (plus --add-modules); jlink
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
#include <poll.h>
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

/* ---- jdeps: the modules the class path needs ----
 * One run over every jar. jdeps fails at module resolution when a modular
 * jar requires a module another jar of the app provides (jaxb-api requires
 * java.activation, which Debian's javax.activation.jar names in its
 * Automatic-Module-Name): the jars' declared module names are read first
 * (module-info.class, Automatic-Module-Name), and the run is repeated with
 * each jar providing a missing module on --module-path, which costs one
 * short failing run per missing module. If it still fails, every jar is
 * analysed alone, in parallel (one jdeps per CPU): the union of what each
 * needs is what the class path needs, and each jar that fails alone is
 * named, in class path order, with the --add-modules that would supply what
 * it lacks (when that is a JDK module). Modules of the app itself, which
 * jdeps lists once they are on --module-path, are not the runtime's: only
 * modules of the JDK are kept. */
struct jdeps {
    const char *exe, *mr;
    const struct hpk_strv *jars;  /* the staged copies jdeps reads */
    const struct hpk_strv *names; /* and what each is to the user */
    struct hpk_strv jdk_mods;     /* the JDK's modules (release MODULES) */
    char **declared;              /* module each jar declares, or NULL */
    char **requires;              /* and the modules its module-info requires, or NULL */
    char *modpath;                /* --module-path: the jars providing required modules */
    char *skip;                   /* jars left out of the whole run (they fail at resolution) */
    struct hpk_strv mods;         /* found, JDK modules only */
};

static int strv_find(const struct hpk_strv *v, const char *s)
{
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->v[i], s)) return (int)i;
    return -1;
}

static void strv_add(struct hpk_strv *v, const char *s)
{
    if (strv_find(v, s) >= 0) return;
    char **n = realloc(v->v, (v->n + 1) * sizeof *n);
    if (!n || !(n[v->n] = strdup(s))) return;
    v->v = n;
    v->n++;
}

/* The modules of a JDK, from the MODULES line of its release file. */
static void jdk_modules(const char *jdk, struct hpk_strv *out)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/release", jdk);
    uint8_t *d;
    size_t n;
    if (hpk_read_file(p, &d, &n) != 0) return;
    char *t = strndup((char *)d, n), *l = strstr(t, "\nMODULES=\"");
    free(d);
    if (!l && !strncmp(t, "MODULES=\"", 9)) l = t - 1;
    if (l) {
        char *v = l + 10, *end = strchr(v, '"');
        if (end) *end = 0;
        for (char *save = NULL, *m = strtok_r(v, " ", &save); m; m = strtok_r(NULL, " ", &save)) strv_add(out, m);
    }
    free(t);
}

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

/* The missing module of "Module X not found, required by Y", or NULL. */
static char *missing_module(const char *why)
{
    const char *p = why ? strstr(why, "Module ") : NULL, *q;
    if (!p || !(q = strstr(p + 7, " not found"))) return NULL;
    return strndup(p + 7, (size_t)(q - p - 7));
}

/* argv for one jdeps run over jars [lo, hi). */
static char **jdeps_argv(const struct jdeps *j, size_t lo, size_t hi)
{
    char **av = calloc(hi - lo + 10, sizeof *av);
    if (!av) return NULL;
    int k = 0;
    av[k++] = (char *)j->exe;
    av[k++] = "--print-module-deps";
    av[k++] = "--ignore-missing-deps";
    if (j->mr) {
        av[k++] = "--multi-release";
        av[k++] = (char *)j->mr;
    }
    if (j->modpath) {
        av[k++] = "--module-path";
        av[k++] = j->modpath;
    }
    for (size_t i = lo; i < hi; i++)
        if (hi - lo == 1 || !j->skip[i]) av[k++] = j->jars->v[i];
    return av;
}

/* jdeps' output: 0 and its modules (the last line: a comma list, maybe
 * empty) kept when they are the JDK's; else -1. */
static int jdeps_result(struct jdeps *j, int st, char *out)
{
    size_t n = out ? strlen(out) : 0;
    while (n && out[n - 1] == '\n') out[--n] = 0;
    char *line = out ? strrchr(out, '\n') : NULL;
    line = line ? line + 1 : out;
    int ok = st == 0 && line && strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,") == strlen(line);
    if (!ok) return -1;
    for (char *save = NULL, *m = strtok_r(line, ",", &save); m; m = strtok_r(NULL, ",", &save))
        if (!j->jdk_mods.n || strv_find(&j->jdk_mods, m) >= 0) strv_add(&j->mods, m);
    return 0;
}

/* Every jar alone, `par` jdeps at a time; why[i] set for each that fails. */
static void jdeps_each(struct jdeps *j, char **why, int par)
{
    size_t n = j->jars->n, next = 0, running = 0;
    struct hpk_child *c = hpk_xmalloc((n ? n : 1) * sizeof *c);
    char **buf = calloc(n ? n : 1, sizeof *buf);
    size_t *len = calloc(n ? n : 1, sizeof *len);
    if (!buf || !len) hpk_oom();
    for (size_t i = 0; i < n; i++) c[i].pid = -1, c[i].out = -1;
    while (next < n || running) {
        while (next < n && running < (size_t)par) {
            if (j->skip[next]) { /* left out already: it fails at resolution */
                next++;
                continue;
            }
            char **av = jdeps_argv(j, next, next + 1);
            if (!av || hpk_child_start(&c[next], av, NULL, NULL) != 0) {
                free(av);
                why[next++] = strdup("cannot start jdeps");
                continue;
            }
            free(av);
            next++;
            running++;
        }
        struct pollfd pf[64];
        size_t idx[64], np = 0;
        for (size_t i = 0; i < next && np < 64; i++)
            if (c[i].out >= 0) pf[np] = (struct pollfd){.fd = c[i].out, .events = POLLIN}, idx[np++] = i;
        if (!np) continue;
        if (poll(pf, np, 1000) <= 0) continue;
        for (size_t k = 0; k < np; k++) {
            if (!pf[k].revents) continue;
            size_t i = idx[k];
            if (hpk_child_read(&c[i], &buf[i], &len[i]) != 0) continue;
            running--;
            int code = hpk_child_wait(&c[i]);
            if (jdeps_result(j, code, buf[i]) != 0) why[i] = jdeps_reason(code, buf[i]);
            hpk_info("jdeps over %s: %s", j->names->v[i], why[i] ? "failed" : "done");
        }
    }
    for (size_t i = 0; i < n; i++) free(buf[i]);
    free(c), free(buf), free(len);
}

/* The modules linking `mods` gives (their requires, transitively): what
 * the JDK's java shows with --limit-modules. */
static void linked_closure(const char *jdk, const struct hpk_strv *mods, struct hpk_strv *out)
{
    char exe[PATH_MAX + 16], *list = NULL, *res = NULL;
    size_t ll = 0;
    snprintf(exe, sizeof exe, "%s/bin/java", jdk);
    FILE *f = open_memstream(&list, &ll);
    if (!f) return;
    for (size_t i = 0; i < mods->n; i++) fprintf(f, "%s%s", i ? "," : "", mods->v[i]);
    fclose(f);
    char *av[] = {exe, "--limit-modules", list && *list ? list : "java.base", "--list-modules", NULL};
    if (hpk_child_capture(av, &res) == 0 && res)
        for (char *save = NULL, *l = strtok_r(res, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            char *at = strchr(l, '@');
            if (at) *at = 0;
            strv_add(out, l);
        }
    free(res);
    free(list);
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
    jdk_modules(jdk, &j.jdk_mods);
    j.declared = calloc(jars->n, sizeof *j.declared);
    j.requires = calloc(jars->n, sizeof *j.requires);
    j.skip = calloc(jars->n, 1);
    char **why = calloc(jars->n, sizeof *why);
    if (!j.declared || !j.requires || !j.skip || !why) {
        free(j.declared), free(j.requires), free(j.skip), free(why);
        return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < jars->n; i++) {
        uint8_t *d;
        size_t n;
        if (hpk_read_file(jars->v[i], &d, &n) != 0) continue;
        j.declared[i] = hpk_jar_module_name(d, n, &j.requires[i]);
        free(d);
    }
    hpk_step_begin("jdeps: finding the modules the class path needs");
    char *last = NULL;
    struct hpk_strv on_mp = {0}; /* indexes (as text) of the jars put on --module-path */
    for (;;) {
        char **av = jdeps_argv(&j, 0, jars->n), *out = NULL;
        int st = av ? hpk_child_capture(av, &out) : -1;
        free(av);
        int ok = jdeps_result(&j, st, out) == 0;
        free(last);
        last = ok ? NULL : jdeps_reason(st, out);
        free(out);
        hpk_info("jdeps over %zu jar(s): %s", jars->n, ok ? "done" : last);
        if (ok) break;
        /* A module the app itself provides: put its jar on --module-path.
         * None does: leave out the jar that requires it (it fails alone
         * too), and go on with the others: one short run per such jar. */
        char *m = missing_module(last);
        size_t k = jars->n;
        for (size_t i = 0; m && i < jars->n && k == jars->n; i++)
            if (j.declared[i] && !strcmp(j.declared[i], m)) k = i;
        char key[32];
        snprintf(key, sizeof key, "%zu", k);
        if (m && (k == jars->n || strv_find(&on_mp, key) >= 0)) {
            const char *by = strstr(last, "required by ");
            size_t bad = jars->n, left = 0;
            for (size_t i = 0; by && i < jars->n && bad == jars->n; i++)
                if (!j.skip[i] && j.declared[i] && !strcmp(j.declared[i], by + 12)) bad = i;
            for (size_t i = 0; i < jars->n; i++) left += !j.skip[i];
            free(m);
            if (bad == jars->n || left < 2) break;
            j.skip[bad] = 1;
            why[bad] = strdup(last);
            hpk_info("jdeps: leaving %s (module %s) out: %s", names->v[bad], j.declared[bad], last);
            continue;
        }
        free(m);
        if (k == jars->n) break;
        strv_add(&on_mp, key);
        hpk_info("jdeps: %s declares module %s: on --module-path", names->v[k], j.declared[k]);
        char *mp;
        if (asprintf(&mp, "%s%s%s", j.modpath ? j.modpath : "", j.modpath ? ":" : "", jars->v[k]) < 0) break;
        free(j.modpath);
        j.modpath = mp;
    }
    hpk_strv_free(&on_mp);
    size_t nbad = 0;
    for (size_t i = 0; i < jars->n; i++) nbad += why[i] != NULL;
    if (last) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int par = cpus < 1 ? 1 : cpus > 16 ? 16 : (int)cpus;
        hpk_info("jdeps failed over the whole class path (%s); analysing each jar alone, %d at a time", last, par);
        hpk_step_update("jdeps: failed over the whole class path; analysing each jar alone (%zu jars, %d at a time)", jars->n, par);
        jdeps_each(&j, why, par);
        nbad = 0;
        for (size_t i = 0; i < jars->n; i++) nbad += why[i] != NULL;
        if (nbad == 0)
            hpk_note("jdeps failed over the whole class path (%s) but not over each jar; their modules are used", last);
    }
    int rc = 0;
    if (nbad && nbad == jars->n) {
        hpk_step_abort();
        rc = hpk_perr_set(e, HPK_ST_RUNTIME, "%s: jdeps cannot analyse it (%s)%s; fix it, or give a runtime with --runtime DIR",
                          names->v[0], why[0], jars->n > 1 ? ", nor any other class path jar" : "");
    } else {
        hpk_step_end();
        /* In class path order, each jar once; then what would help. */
        struct hpk_strv add = {0}, linked = {0};
        for (size_t i = 0; i < jars->n && !linked.n; i++)
            if (why[i] && j.requires[i]) linked_closure(jdk, &j.mods, &linked);
        for (size_t i = 0; i < jars->n; i++) {
            if (!why[i]) continue;
            int again = 0; /* the same jar twice on the class path: one warning */
            for (size_t k = 0; k < i; k++) again |= why[k] && !strcmp(names->v[k], names->v[i]);
            if (again) continue;
            /* What it needs of the JDK: a modular jar says (its requires);
             * those not linked anyway are what --add-modules must add. */
            struct hpk_strv need = {0};
            char *req = j.requires[i] ? strdup(j.requires[i]) : NULL;
            for (char *save = NULL, *m = req ? strtok_r(req, ",", &save) : NULL; m; m = strtok_r(NULL, ",", &save))
                if (strv_find(&j.jdk_mods, m) >= 0 && strv_find(&linked, m) < 0) strv_add(&need, m), strv_add(&add, m);
            free(req);
            char *l = NULL;
            size_t ll = 0;
            FILE *f = open_memstream(&l, &ll);
            for (size_t k = 0; f && k < need.n; k++) fprintf(f, "%s%s", k ? "," : "", need.v[k]);
            if (f) fclose(f);
            if (j.requires[i])
                hpk_warn("%s: jdeps cannot analyse it (%s); %s%s", names->v[i], why[i],
                         need.n ? "the JDK modules its module-info requires are not all linked: add --add-modules " :
                                  "the JDK modules its module-info requires are linked anyway (no --add-modules needed)",
                         need.n ? l : "");
            else
                hpk_warn("%s: jdeps cannot analyse it (%s); the modules it alone needs are not linked: add them with "
                         "--add-modules M,... if the app needs them", names->v[i], why[i]);
            free(l);
            hpk_strv_free(&need);
        }
        if (add.n) {
            char *l = NULL;
            size_t ll = 0;
            FILE *f = open_memstream(&l, &ll);
            for (size_t i = 0; f && i < add.n; i++) fprintf(f, "%s%s", i ? "," : "", add.v[i]);
            if (f) fclose(f);
            hpk_warn("jdeps: the jars it cannot analyse would need --add-modules %s (JDK modules not linked otherwise)", l ? l : "");
            free(l);
        }
        hpk_strv_free(&add);
        hpk_strv_free(&linked);
        char *l = NULL;
        size_t ll = 0;
        FILE *f = open_memstream(&l, &ll);
        for (size_t i = 0; f && i < j.mods.n; i++) fprintf(f, "%s%s", i ? "," : "", j.mods.v[i]);
        if (f) fclose(f);
        *mods = l && *l ? l : NULL;
        if (!*mods) free(l);
    }
    for (size_t i = 0; i < jars->n; i++) free(why[i]), free(j.declared[i]), free(j.requires[i]);
    free(why);
    free(j.declared);
    free(j.requires);
    free(j.skip);
    free(j.modpath);
    free(last);
    hpk_strv_free(&j.mods);
    hpk_strv_free(&j.jdk_mods);
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
        int r = hpk_child_capture(av, &msg);
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
