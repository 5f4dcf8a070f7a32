/*
 * jvmline.c - the JVM's command line on this host and its exec: the line
 * itself is layout/config.c's (hpk_exec_line); here are what only the
 * launcher knows (HPACK_JAVA_OPTS, ${HPACK_*} values, where the tree is) and
 * the execveat through the checked tree's descriptor.
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

_Noreturn void hpk_start_oom(void)
{
    fputs("hpack: out of memory\n", stderr);
    exit(HPK_EXIT_EXEC);
}

char *hpk_start_fmt(const char *f, const char *a, const char *b)
{
    char *s;
    if (asprintf(&s, f, a, b) < 0) hpk_start_oom();
    return s;
}

/* HPACK_JAVA_OPTS, split on blanks (no quoting: docs/launcher.md 2); the
 * pieces point into *copy. */
static const char **user_jvm_opts(char **copy_out)
{
    const char *o = getenv("HPACK_JAVA_OPTS");
    size_t n = 0;
    const char **v = calloc(o ? strlen(o) / 2 + 2 : 1, sizeof *v);
    char *copy = o ? strdup(o) : NULL, *save = NULL;
    if (!v || (o && !copy)) hpk_start_oom();
    *copy_out = copy;
    if (copy)
        for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) v[n++] = t;
    return v;
}

/* ${HPACK_APP}, ${HPACK_RUNTIME}, ${HPACK_EXE} and ${HPACK_CWD} in a JVM
 * option or app argument: where the tree landed on this host, this
 * artifact's path, the working directory, none of which the packer can know
 * (Maven's maven.home and its project directory, Jython's python.home).
 * Anything else, other ${...} included, is passed as it is. */
static char *var_value(const struct hpk_start *c, const char *tree, const char *var)
{
    char *v = NULL;
    char real[PATH_MAX];
    if (c->pinned && (!strcmp(var, "APP") || !strcmp(var, "RUNTIME"))) {
        /* The tree that was checked, wherever it is now: the kernel's name
         * of the descriptor, not a path string built before the checks. */
        ssize_t r = readlink(HPK_TREE_FD_PATH, real, sizeof real);
        if (r > 0 && (size_t)r < sizeof real && real[0] == '/') {
            real[r] = 0;
            tree = real;
        }
    }
    if (!strcmp(var, "EXE")) {
        char buf[PATH_MAX]; /* the kernel gives no longer link there */
        ssize_t r = readlink("/proc/self/exe", buf, sizeof buf);
        if (r > 0 && (size_t)r < sizeof buf) v = strndup(buf, (size_t)r);
        else if (r >= 0) errno = ENAMETOOLONG;
    } else if (!strcmp(var, "CWD")) {
        v = getcwd(NULL, 0); /* glibc: as long as it takes */
    } else {
        /* Absolute even under a relative HPACK_CACHE_DIR: the app may chdir. */
        char *cwd = tree[0] == '/' ? NULL : getcwd(NULL, 0);
        if (tree[0] == '/' || cwd)
            v = hpk_start_fmt(cwd ? "%s/%s" : "%s%s", cwd ? cwd : "", tree), free(cwd);
        if (v) {
            char *w = hpk_start_fmt("%s/%s", v, !strcmp(var, "APP") ? "app" : "runtime");
            free(v);
            v = w;
        }
    }
    if (!v) {
        /* Never an empty or partial path: the app would look in the wrong place. */
        fprintf(stderr, "hpack: cannot expand ${HPACK_%s}: %s\n", var, strerror(errno));
        exit(HPK_EXIT_EXEC);
    }
    return v;
}

static char *expand(const struct hpk_start *c, const char *tree, const char *s)
{
    if (!strstr(s, "${HPACK_")) {
        char *d = strdup(s);
        if (!d) hpk_start_oom();
        return d;
    }
    static const char *const vars[] = {"APP", "RUNTIME", "EXE", "CWD"};
    size_t cap = strlen(s) + 1, n = 0;
    char *out = malloc(cap);
    for (const char *p = s; out && *p;) {
        char *v = NULL;
        size_t skip = 1;
        for (size_t i = 0; i < sizeof vars / sizeof *vars && !v; i++) {
            size_t l = strlen(vars[i]);
            if (!strncmp(p, "${HPACK_", 8) && !strncmp(p + 8, vars[i], l) && p[8 + l] == '}') {
                v = var_value(c, tree, vars[i]);
                skip = 9 + l;
            }
        }
        size_t add = v ? strlen(v) : 1;
        if (n + add + 1 > cap) {
            char *o = realloc(out, cap = 2 * (n + add + 1));
            if (!o) free(out);
            out = o;
        }
        if (out) memcpy(out + n, v ? v : p, add);
        free(v);
        n += add;
        p += skip;
    }
    if (!out) hpk_start_oom();
    out[n] = 0;
    return out;
}

struct expand_ctx {
    const struct hpk_start *c;
    const char *tree;
};

static char *expand_cb(void *ctx, const char *value)
{
    const struct expand_ctx *x = ctx;
    return expand(x->c, x->tree, value);
}

/* train: NULL, or the record-mode options to use instead of a cache;
 * after_cp: NULL, or what follows the class path instead of the main class
 * and arguments (a JVM run that starts no application). */
char **hpk_start_argv(const struct hpk_start *c, const char *rootpath, int use_cache, const char *const *train,
                      const char *const *after_cp, int argc, char **argv)
{
    char *tree = hpk_start_fmt("%s/%s", rootpath, c->cf.base_hex);
    char *user_copy;
    const char **user = user_jvm_opts(&user_copy);
    struct expand_ctx x = {c, tree};
    struct hpk_exec_spec sp = {.tree = tree,
                               .cache = use_cache ? (c->aot == HPK_AOT_REQUIRE ? 2 : 1) : 0,
                               .cache_file = c->local_cache,
                               .train = train,
                               .user_opts = user,
                               .after_cp = after_cp,
                               .expand = expand_cb,
                               .expand_ctx = &x,
                               .argc = argc,
                               .argv = argv};
    char **v = hpk_exec_line(&c->cf, &sp);
    if (!v) hpk_start_oom();
    free(tree);
    free(user_copy); /* hpk_exec_line copied the pieces */
    free(user);
    return v;
}

const char *hpk_start_cache_log(const struct hpk_start *c, int which)
{
    const char *v = c->cf.launch.runtime_version;
    int aot_tag = v && atoi(v) >= 25;
    static const char *const sel[2][2] = {{"-Xlog:cds*=off", "-Xlog:cds*=warning:stderr"},
                                          {"-Xlog:aot*=off,cds*=off", "-Xlog:aot*=warning,cds*=warning:stderr"}};
    return sel[aot_tag][which != 0];
}

static void print_quoted(FILE *f, const char *s)
{
    int plain = *s != 0;
    for (const char *p = s; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=+,@%", *p))
            plain = 0;
    if (plain) {
        fputs(s, f);
        return;
    }
    /* A control character or a byte that is not UTF-8 (a crafted class
     * path, an option with a newline) in bash's $'...' form, as \xNN:
     * never raw on the terminal (hpk_layout_text_unit). */
    size_t len = strlen(s);
    int ctl = 0, esc;
    for (size_t i = 0, n; i < len && !ctl; i += n) {
        n = hpk_layout_text_unit(s + i, len - i, &esc);
        ctl = esc;
    }
    if (ctl) {
        fputs("$'", f);
        for (size_t i = 0, n; i < len; i += n) {
            n = hpk_layout_text_unit(s + i, len - i, &esc);
            if (s[i] == '\'' || s[i] == '\\') fprintf(f, "\\%c", s[i]);
            else hpk_layout_print_path(f, s + i, n);
        }
        fputc('\'', f);
        return;
    }
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

void hpk_start_print_argv(FILE *f, char **v)
{
    for (size_t i = 0; v[i]; i++) {
        if (i) fputc(' ', f);
        print_quoted(f, v[i]);
    }
    fputc('\n', f);
}

/* The artifact's env records (hpk_launcher.h). */
void hpk_start_env(const struct hpk_start *c, const char *rootpath)
{
    if (!c->cf.launch.n_env) return;
    char *tree = hpk_start_fmt("%s/%s", rootpath, c->cf.base_hex);
    for (size_t i = 0; i < c->cf.launch.n_env; i++) {
        const char *v = c->cf.launch.env[i], *eq = strchr(v, '='); /* hpk_launch_env_ok: there is one */
        char *name = strndup(v, (size_t)(eq - v)), *value = expand(c, tree, eq + 1);
        if (!name || setenv(name, value, 1) != 0) hpk_start_oom();
        free(name);
        free(value);
    }
    free(tree);
}

/* Start the JVM through the checked tree's descriptor: the path of
 * `java` is resolved from the tree itself, never from a path string that
 * another process could have redirected since the checks. argv[0] keeps
 * the readable path (what ps shows; the JVM finds its home through
 * /proc/self/exe, which the kernel gives from the file it runs). */
void hpk_start_exec(const struct hpk_start *c, char **v)
{
    execveat(HPK_TREE_FD, c->cf.launch.java, v, environ, 0);
}
