/*
 * argfile.c - arguments from files: `hpack build @FILE` (one argument per
 * line, like javac and jlink argument files) and ./hpack.conf (key = value,
 * keys are the long option names). Relative paths given to path options
 * resolve against the directory of the file that names them, so a project
 * can commit its build description and build from anywhere. In a file that
 * gives --app-dist, --jar and --cp values are left as they are: relative,
 * they name files inside the distribution.
 *
 * Also the one way a string holding several arguments is split into them
 * and written back (hpk_split_quoted, hpk_quote_arg): blanks separate,
 * quotes as in a shell, no expansion. --tune-candidate 'OPTS' and the
 * options recorded in OUT.tuned use it; argument files do not need it
 * (one argument per line, kept whole).
 */
#define _GNU_SOURCE
#include "hpk_build.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const path_opts[] = {"--runtime", "--jdk", "--jar", "--cp", "--class-path", "-o", "--output",
                                        "--keep-da0", "--with-cache", "--lock", "--locked", "--app-dist", NULL};

/* Options whose relative values name files in the distribution, if any. */
static int dist_relative(const char *opt)
{
    return !strcmp(opt, "--jar") || !strcmp(opt, "--cp") || !strcmp(opt, "--class-path");
}

static int is_path_opt(const char *o, size_t n)
{
    for (int i = 0; path_opts[i]; i++)
        if (strlen(path_opts[i]) == n && !strncmp(path_opts[i], o, n)) return 1;
    return 0;
}

static void push(struct hpk_strv *v, char *s)
{
    v->v = hpk_xrealloc(v->v, (v->n + 2) * sizeof *v->v);
    v->v[v->n++] = s;
    v->v[v->n] = NULL;
}

/* Resolve a (':'-separated, for --cp) value against dir. */
static char *resolve(const char *dir, const char *value, int list)
{
    size_t cap = strlen(value) * 2 + strlen(dir) * 8 + 16;
    char *out = hpk_xmalloc(cap), *copy = hpk_xstrdup(value), *save = NULL;
    out[0] = 0;
    for (char *t = list ? strtok_r(copy, ":", &save) : copy; t; t = list ? strtok_r(NULL, ":", &save) : NULL) {
        if (out[0]) strcat(out, ":");
        size_t need = strlen(out) + strlen(dir) + strlen(t) + 3;
        if (need > cap) out = hpk_xrealloc(out, cap = need * 2);
        if (t[0] == '/' || !strcmp(dir, ".")) strcat(out, t);
        else {
            strcat(out, dir);
            strcat(out, "/");
            strcat(out, t);
        }
    }
    free(copy);
    return out;
}

/* The long option `a` (--NAME or --NAME=VALUE) names, as getopt_long
 * reads it (the whole name, or an unambiguous prefix of one), or NULL. */
static const struct option *long_opt(const char *a, const struct option *opts)
{
    if (a[0] != '-' || a[1] != '-' || !a[2]) return NULL;
    size_t n = strcspn(a + 2, "=");
    const struct option *hit = NULL;
    int k = 0;
    for (const struct option *o = opts; o->name; o++) {
        if (strlen(o->name) == n && !strncmp(o->name, a + 2, n)) return o;
        if (!strncmp(o->name, a + 2, n)) hit = o, k++;
    }
    return k == 1 ? hit : NULL;
}

/* Add one argument that came from a file in `dir`; `pending` says the
 * previous one was a path option awaiting its value; `dist`: the file gives
 * --app-dist; `value`: it is the value of an option that is no path
 * option (taken as it is). A path option is recognised however getopt_long
 * would take it: by a prefix of its name (--ja=x), and -o with its value
 * joined. */
static void add_from_file(struct hpk_strv *out, const char *dir, int dist, const char *arg, const char **pending,
                          const struct option *opts, int value)
{
    if (!*pending && value) {
        push(out, hpk_xstrdup(arg));
        return;
    }
    if (!*pending && arg[0] == '-' && arg[1] == 'o' && arg[2]) { /* -oOUT: -o, OUT */
        add_from_file(out, dir, dist, "-o", pending, opts, 0);
        add_from_file(out, dir, dist, arg + 2, pending, opts, 0);
        return;
    }
    const struct option *lo = *pending ? NULL : long_opt(arg, opts);
    const char *full = lo ? lo->name : NULL;
    char *whole = NULL;
    if (full && strncmp(arg + 2, full, strlen(full))) { /* an abbreviation: written out */
        if (asprintf(&whole, "--%s%s", full, arg + 2 + strcspn(arg + 2, "=")) < 0) hpk_oom();
        arg = whole;
    }
    if (*pending) {
        int list = !strcmp(*pending, "--cp") || !strcmp(*pending, "--class-path");
        push(out, dist && dist_relative(*pending) ? hpk_xstrdup(arg) : resolve(dir, arg, list));
        *pending = NULL;
        return;
    }
    const char *eq = strchr(arg, '=');
    if (arg[0] == '-' && eq && is_path_opt(arg, (size_t)(eq - arg))) {
        char opt[64];
        snprintf(opt, sizeof opt, "%.*s", (int)(eq - arg), arg);
        int list = !strcmp(opt, "--cp") || !strcmp(opt, "--class-path");
        char *v = dist && dist_relative(opt) ? hpk_xstrdup(eq + 1) : resolve(dir, eq + 1, list), *s;
        if (asprintf(&s, "%s=%s", opt, v) < 0) hpk_oom();
        free(v);
        push(out, s);
        free(whole);
        return;
    }
    for (int i = 0; path_opts[i]; i++)
        if (!strcmp(arg, path_opts[i])) *pending = path_opts[i];
    push(out, hpk_xstrdup(arg));
    free(whole);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

static int value_follows(const char *a, const struct option *opts, const char *shortopts);

/* opts, shortopts: a file of arguments must not end in an option whose
 * value would be the command line's next argument. */
static int read_file_args(struct hpk_strv *out, const char *file, int conf, const struct option *opts,
                          const char *shortopts, struct hpk_err *e)
{
    FILE *f = fopen(file, "r");
    if (!f) return hpk_fail(e, HPK_ST_USAGE, "%s: cannot read: %s", file, strerror(errno));
    char *copy = hpk_xstrdup(file), *dir = hpk_xstrdup(dirname(copy));
    free(copy);
    char *line = NULL;
    size_t cap = 0;
    int no = 0, rc = 0, dist = 0;
    const char *pending = NULL;
    char *wants = NULL; /* the last argument, an option awaiting its value */
    while (getline(&line, &cap, f) > 0) {
        char *t = trim(line);
        dist |= conf ? !strncmp(t, "app-dist", 8) && strchr(" \t=", t[8]) : !strncmp(t, "--app-dist", 10) && strchr("=", t[10]);
    }
    rewind(f);
    while (getline(&line, &cap, f) > 0) {
        no++;
        char *t = trim(line);
        if (!*t || *t == '#') continue;
        if (!conf) {
            add_from_file(out, dir, dist, t, &pending, opts, wants != NULL);
            if (wants) free(wants), wants = NULL;
            else if (value_follows(t, opts, shortopts)) wants = hpk_xstrdup(t);
            continue;
        }
        char *eq = strchr(t, '=');
        if (!eq) {
            rc = hpk_fail(e, HPK_ST_USAGE, "%s:%d: expected 'key = value'", file, no);
            break;
        }
        *eq = 0;
        char *key = trim(t), *val = trim(eq + 1), opt[128];
        snprintf(opt, sizeof opt, "--%s", key);
        if (!strcmp(key, "train")) {
            /* a flag: train = true|false */
            if (!strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "1")) push(out, hpk_xstrdup("--train"));
            continue;
        }
        add_from_file(out, dir, dist, opt, &pending, opts, 0);
        add_from_file(out, dir, dist, val, &pending, opts, 1);
    }
    if (rc == 0 && (pending || wants))
        rc = hpk_fail(e, HPK_ST_USAGE, "%s: %s at the end lacks its value", file, pending ? pending : wants);
    free(wants);
    free(line);
    free(dir);
    fclose(f);
    return rc;
}

/* Is argument a an option whose value is the next argument (getopt_long's
 * rules: a long option by an unambiguous prefix, without "=VALUE"; short
 * options clustered, a value-taking one last)? */
static int value_follows(const char *a, const struct option *opts, const char *shortopts)
{
    if (a[0] != '-' || !a[1]) return 0;
    if (a[1] == '-') {
        if (!a[2] || strchr(a, '=')) return 0;
        const struct option *o = long_opt(a, opts);
        return o && o->has_arg == required_argument;
    }
    for (const char *p = a + 1; *p; p++) {
        const char *o = strchr(shortopts, *p);
        if (o && o[1] == ':') return p[1] == 0; /* else the rest of a is its value */
    }
    return 0;
}

int hpk_expand_args(int argc, char **argv, const struct option *opts, const char *shortopts, struct hpk_strv *out,
                    struct hpk_err *e)
{
    memset(out, 0, sizeof *out);
    push(out, hpk_xstrdup(argv[0]));
    /* ./hpack.conf first: the command line comes after it and wins. */
    FILE *probe = fopen("hpack.conf", "r");
    if (probe) {
        fclose(probe);
        hpk_info("reading ./hpack.conf");
        if (read_file_args(out, "./hpack.conf", 1, opts, shortopts, e) != 0) return -1;
    }
    /* An option's value is never a file of arguments: --jvm-opt @FILE is
     * the JVM's own argument file, read by java when the app starts. */
    int dashdash = 0, is_value = 0;
    for (int i = 1; i < argc; i++) {
        if (is_value) {
            push(out, hpk_xstrdup(argv[i]));
            is_value = 0;
            continue;
        }
        if (!dashdash && !strcmp(argv[i], "--")) dashdash = 1;
        if (!dashdash && argv[i][0] == '@' && argv[i][1]) {
            if (read_file_args(out, argv[i] + 1, 0, opts, shortopts, e) != 0) return -1;
        } else {
            push(out, hpk_xstrdup(argv[i]));
            is_value = !dashdash && value_follows(argv[i], opts, shortopts);
        }
    }
    return 0;
}

/* ---- one argument string split into words, and back ---- */

int hpk_split_quoted(const char *s, struct hpk_strv *out, char *why, size_t whyn)
{
    size_t n = strlen(s), wl = 0;
    char *w = hpk_xmalloc(n + 1);
    int in_word = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == 0 || c == ' ' || c == '\t' || c == '\n') {
            if (in_word) {
                w[wl] = 0;
                hpk_strv_push(out, w);
            }
            in_word = 0, wl = 0;
            continue;
        }
        in_word = 1;
        if (c == '\\') {
            if (!s[i + 1]) {
                snprintf(why, whyn, "a backslash at the end escapes nothing");
                free(w);
                return -1;
            }
            w[wl++] = s[++i];
        } else if (c == '\'' || c == '"') {
            /* to the closing quote; in double quotes \" and \\ stand for " and \ */
            size_t j = i + 1;
            for (; s[j] && s[j] != c; j++) {
                if (c == '"' && s[j] == '\\' && (s[j + 1] == '"' || s[j + 1] == '\\')) j++;
                w[wl++] = s[j];
            }
            if (!s[j]) {
                snprintf(why, whyn, "a %s quote is not closed", c == '"' ? "double" : "single");
                free(w);
                return -1;
            }
            i = j;
        } else {
            w[wl++] = c;
        }
    }
    free(w);
    return 0;
}

char *hpk_quote_arg(const char *w)
{
    int plain = *w != 0;
    for (const char *c = w; *c; c++)
        if (strchr(" \t\n'\"\\", *c)) plain = 0;
    if (plain) return hpk_xstrdup(w);
    /* 'w', each ' in it written as '\'' (close, an escaped quote, open) */
    char *q = hpk_xmalloc(4 * strlen(w) + 3), *p = q;
    *p++ = '\'';
    for (const char *c = w; *c; c++) {
        if (*c == '\'') memcpy(p, "'\\''", 4), p += 4;
        else *p++ = *c;
    }
    *p++ = '\'';
    *p = 0;
    return q;
}
