/*
 * jdeps.c - the modules a class path needs, from jdeps (for `hpack build
 * --jdk`, jlink.c): one run over every jar, helped by --module-path for the
 * app's own modules, else each jar alone, in parallel; a warning for each
 * jar jdeps cannot analyse, with the --add-modules that would help.
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "hpk_child.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How the modules are found.
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
    struct hpk_strv jdk_mods;     /* the JDK's modules (hpk_jdk_modules) */
    char **declared;              /* module each jar declares, or NULL */
    char **requires;              /* and the modules its module-info requires, or NULL */
    char *modpath;                /* --module-path: the jars providing required modules */
    char *skip;                   /* jars left out of the whole run (they fail at resolution) */
    struct hpk_strv mods;         /* found, JDK modules only */
    char **why;                   /* why jdeps cannot analyse each jar, or NULL */
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
    if (!n) return;
    v->v = n; /* moved or not: the old block is gone */
    if ((n[v->n] = strdup(s))) v->n++;
}

/* The modules `java --list-modules` shows, limited to `limit` (a comma
 * list) and what it requires, if given: appended to *out. Only lines that
 * are a module name (and @version): the JVM's notes ("Picked up
 * JAVA_TOOL_OPTIONS: ...") come on the same pipe, and a module from a
 * module path is followed by its location. */
static void list_modules(const char *jdk, const char *limit, struct hpk_strv *out)
{
    char exe[PATH_MAX + 16], *res = NULL;
    snprintf(exe, sizeof exe, "%s/bin/java", jdk);
    char *lim[] = {exe, "--limit-modules", (char *)limit, "--list-modules", NULL};
    char *all[] = {exe, "--list-modules", NULL};
    char **env = hpk_child_env_jdk();
    int st = hpk_child_capture_env(limit ? lim : all, env, &res);
    free(env);
    if (st == 0 && res)
        for (char *save = NULL, *l = strtok_r(res, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            char *at = strchr(l, '@');
            if (at) *at = 0;
            if (*l && strspn(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._") == strlen(l) &&
                !strchr(at ? at + 1 : "", ' '))
                strv_add(out, l);
        }
    free(res);
}

/* The modules of a JDK, from the MODULES line of its release file; from
 * its java if there is none. */
void hpk_jdk_modules(const char *jdk, struct hpk_strv *out)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/release", jdk);
    uint8_t *d;
    size_t n;
    size_t had = out->n;
    if (hpk_read_file(p, &d, &n) == 0) {
        char *t = strndup((char *)d, n), *l = t ? strstr(t, "\nMODULES=\"") : NULL;
        free(d);
        if (t && !l && !strncmp(t, "MODULES=\"", 9)) l = t - 1;
        if (l) {
            char *v = l + 10, *end = strchr(v, '"');
            if (end) *end = 0;
            for (char *save = NULL, *m = strtok_r(v, " ", &save); m; m = strtok_r(NULL, " ", &save)) strv_add(out, m);
        }
        free(t);
    }
    if (out->n == had) list_modules(jdk, NULL, out);
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
    char **env = hpk_child_env_jdk();
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
            if (!av || hpk_child_start(&c[next], av, env, NULL) != 0) {
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
    free(c), free(buf), free(len), free(env);
}

void hpk_jdk_linked_closure(const char *jdk, const struct hpk_strv *mods, struct hpk_strv *out)
{
    char *list = NULL;
    size_t ll = 0;
    FILE *f = open_memstream(&list, &ll);
    if (!f) return;
    for (size_t i = 0; i < mods->n; i++) fprintf(f, "%s%s", i ? "," : "", mods->v[i]);
    fclose(f);
    list_modules(jdk, list && *list ? list : "java.base", out);
    free(list);
}

/* The jars' declared module names and requires, for --module-path. */
static int jdeps_init(struct jdeps *j, const char *jdk, struct hpk_err *e)
{
    size_t n = j->jars->n;
    hpk_jdk_modules(jdk, &j->jdk_mods);
    j->declared = calloc(n ? n : 1, sizeof *j->declared);
    j->requires = calloc(n ? n : 1, sizeof *j->requires);
    j->skip = calloc(n ? n : 1, 1);
    j->why = calloc(n ? n : 1, sizeof *j->why);
    if (!j->declared || !j->requires || !j->skip || !j->why) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint8_t *d;
        size_t dn;
        if (hpk_read_file(j->jars->v[i], &d, &dn) != 0) continue;
        j->declared[i] = hpk_jar_module_name(d, dn, &j->requires[i]);
        free(d);
    }
    return 0;
}

/* One run over every jar, repeated with each jar that provides a missing
 * module on --module-path, or without a jar that requires a module nobody
 * provides. NULL when a run succeeded, else why the last one failed. */
static char *jdeps_whole(struct jdeps *j)
{
    const struct hpk_strv *jars = j->jars, *names = j->names;
    char *last = NULL;
    struct hpk_strv on_mp = {0}; /* indexes (as text) of the jars put on --module-path */
    for (;;) {
        char **av = jdeps_argv(j, 0, jars->n), *out = NULL;
        char **env = hpk_child_env_jdk();
        int st = av ? hpk_child_capture_env(av, env, &out) : -1;
        free(env);
        free(av);
        int ok = jdeps_result(j, st, out) == 0;
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
            if (j->declared[i] && !strcmp(j->declared[i], m)) k = i;
        char key[32];
        snprintf(key, sizeof key, "%zu", k);
        if (m && (k == jars->n || strv_find(&on_mp, key) >= 0)) {
            const char *by = strstr(last, "required by ");
            size_t bad = jars->n, left = 0;
            for (size_t i = 0; by && i < jars->n && bad == jars->n; i++)
                if (!j->skip[i] && j->declared[i] && !strcmp(j->declared[i], by + 12)) bad = i;
            for (size_t i = 0; i < jars->n; i++) left += !j->skip[i];
            free(m);
            if (bad == jars->n || left < 2) break;
            j->skip[bad] = 1;
            j->why[bad] = strdup(last);
            hpk_info("jdeps: leaving %s (module %s) out: %s", names->v[bad], j->declared[bad], last);
            continue;
        }
        free(m);
        if (k == jars->n) break;
        strv_add(&on_mp, key);
        hpk_info("jdeps: %s declares module %s: on --module-path", names->v[k], j->declared[k]);
        char *mp;
        if (asprintf(&mp, "%s%s%s", j->modpath ? j->modpath : "", j->modpath ? ":" : "", jars->v[k]) < 0) break;
        free(j->modpath);
        j->modpath = mp;
    }
    hpk_strv_free(&on_mp);
    return last;
}

/* A list as "a,b,c" (free()), or NULL for none. */
static char *join(const struct hpk_strv *v)
{
    char *l = NULL;
    size_t ll = 0;
    FILE *f = open_memstream(&l, &ll);
    for (size_t i = 0; f && i < v->n; i++) fprintf(f, "%s%s", i ? "," : "", v->v[i]);
    if (f) fclose(f);
    return l;
}

/* A warning for each jar jdeps cannot analyse, in class path order, each
 * jar once. A modular jar says what it needs of the JDK (its module-info's
 * requires): those modules are linked (added to j->mods), since the jar
 * cannot work without them (Tomcat's catalina.jar requires java.naming,
 * and jdeps fails on it over modules Debian does not ship); for another
 * jar the warning says --add-modules may be needed. */
static void jdeps_warn(struct jdeps *j, const char *jdk)
{
    const struct hpk_strv *jars = j->jars, *names = j->names;
    struct hpk_strv add = {0}, linked = {0};
    for (size_t i = 0; i < jars->n && !linked.n; i++)
        if (j->why[i] && j->requires[i]) hpk_jdk_linked_closure(jdk, &j->mods, &linked);
    for (size_t i = 0; i < jars->n; i++) {
        if (!j->why[i]) continue;
        int again = 0; /* the same jar twice on the class path: one warning */
        for (size_t k = 0; k < i; k++) again |= j->why[k] && !strcmp(names->v[k], names->v[i]);
        if (again) continue;
        /* What it needs of the JDK that is not linked anyway. */
        struct hpk_strv need = {0};
        char *req = j->requires[i] ? strdup(j->requires[i]) : NULL;
        for (char *save = NULL, *m = req ? strtok_r(req, ",", &save) : NULL; m; m = strtok_r(NULL, ",", &save))
            if (strv_find(&j->jdk_mods, m) >= 0 && strv_find(&linked, m) < 0) strv_add(&need, m), strv_add(&add, m);
        free(req);
        char *l = join(&need);
        for (size_t k = 0; k < need.n; k++) strv_add(&j->mods, need.v[k]);
        if (j->requires[i])
            hpk_warn("%s: jdeps cannot analyse it (%s); %s%s", names->v[i], j->why[i],
                     need.n ? "the JDK modules its module-info requires are linked: " :
                              "the JDK modules its module-info requires are linked anyway",
                     need.n ? l : "");
        else
            hpk_warn("%s: jdeps cannot analyse it (%s); the modules it alone needs are not linked: add them with "
                     "--add-modules M,... if the app needs them", names->v[i], j->why[i]);
        free(l);
        hpk_strv_free(&need);
    }
    if (add.n) {
        char *l = join(&add);
        hpk_note("jdeps: linked for the jars it cannot analyse, as their module-info requires: %s", l ? l : "");
        free(l);
    }
    hpk_strv_free(&add);
    hpk_strv_free(&linked);
}

static void jdeps_free(struct jdeps *j)
{
    for (size_t i = 0; i < j->jars->n; i++) {
        if (j->why) free(j->why[i]);
        if (j->declared) free(j->declared[i]);
        if (j->requires) free(j->requires[i]);
    }
    free(j->why);
    free(j->declared);
    free(j->requires);
    free(j->skip);
    free(j->modpath);
    hpk_strv_free(&j->mods);
    hpk_strv_free(&j->jdk_mods);
}

int hpk_jdeps_modules(const char *jdk, int major, const struct hpk_strv *jars, const struct hpk_strv *names, char **mods,
                      struct hpk_err *e)
{
    char exe[PATH_MAX + 16], mr[16];
    snprintf(exe, sizeof exe, "%s/bin/jdeps", jdk);
    snprintf(mr, sizeof mr, "%d", major);
    if (access(exe, X_OK) != 0)
        return hpk_fail(e, HPK_ST_RUNTIME, "%s: %s: the JDK has no jdeps to find the modules; give a runtime with --runtime DIR",
                            exe, strerror(errno));
    struct jdeps j = {.exe = exe, .mr = major >= 9 ? mr : NULL, .jars = jars, .names = names};
    if (jdeps_init(&j, jdk, e) != 0) {
        jdeps_free(&j);
        return -1;
    }
    hpk_step_begin("jdeps: finding the modules the class path needs");
    char *last = jdeps_whole(&j);
    size_t nbad = 0;
    for (size_t i = 0; i < jars->n; i++) nbad += j.why[i] != NULL;
    if (last) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int par = cpus < 1 ? 1 : cpus > 16 ? 16 : (int)cpus;
        hpk_info("jdeps failed over the whole class path (%s); analysing each jar alone, %d at a time", last, par);
        hpk_step_update("jdeps: failed over the whole class path; analysing each jar alone (%zu jars, %d at a time)", jars->n, par);
        jdeps_each(&j, j.why, par);
        nbad = 0;
        for (size_t i = 0; i < jars->n; i++) nbad += j.why[i] != NULL;
        if (nbad == 0)
            hpk_note("jdeps failed over the whole class path (%s) but not over each jar; their modules are used", last);
    }
    int rc = 0;
    if (nbad && nbad == jars->n) {
        hpk_step_abort();
        rc = hpk_fail(e, HPK_ST_RUNTIME, "%s: jdeps cannot analyse it (%s)%s; fix it, or give a runtime with --runtime DIR",
                          names->v[0], j.why[0], jars->n > 1 ? ", nor any other class path jar" : "");
    } else {
        hpk_step_end();
        jdeps_warn(&j, jdk);
        char *l = join(&j.mods);
        *mods = l && *l ? l : NULL;
        if (!*mods) free(l);
    }
    free(last);
    jdeps_free(&j);
    return rc;
}
