/*
 * main.c - the hpack launcher: find our payload, make sure it is unpacked,
 * exec the JVM with exactly the class path the artifact was built (and its
 * startup cache trained) with.
 *
 * Warm path (tree already unpacked), in system calls: open /proc/self/exe,
 * read the ELF and .hpack headers and table, map the payload, open the cache
 * root and tree, stat the marker and the class path jars, dup2, execve.
 * No hashing of the payload, no process left behind.
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"
#include "hpk_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* A one-byte placeholder .hpack section, not allocated (never loaded): the
 * packer replaces its content with the payload, so the section name is
 * already in .shstrtab (packer/elfout.c). */
#if defined(__SANITIZE_ADDRESS__)
/* SANITIZE=1 builds: the launcher ends in execve() or exit(), and what it
 * allocates lives exactly as long as the process, by design; report
 * memory errors, not those "leaks". The packer keeps leak detection. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }
#endif

__asm__(".section .hpack,\"\",@progbits\n.byte 0\n.previous\n");

enum aot_mode { AOT_AUTO, AOT_REQUIRE, AOT_OFF };

struct ctx {
    const char *self; /* how we were invoked, for messages */
    int debug;
    enum aot_mode aot;
    struct hpk_artifact a;
    char *conf_buf;
    struct hpk_launch l;
    const char *cache_kind; /* "aot", "cds" or NULL: from hpack/launch */
    char hex[33];
    /* startup cache carried by the payload, if any */
    const struct hpk_entry *cache;
    int cache_bound; /* its provenance names our base hash */
    char cache_why[256];
    char *prov_buf;
};

static void die(const struct ctx *c, const struct hpk_err *e)
{
    fprintf(stderr, "hpack: %s: %s\n", c->self, e->msg);
    exit(e->code);
}

static void dief(const struct ctx *c, int code, const char *fmt, const char *arg)
{
    fprintf(stderr, "hpack: %s: ", c->self);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(code);
}

static const char *kv_get(const char *buf, size_t len, const char *key)
{
    size_t pos = 0, kl;
    const char *k, *v;
    while (hpk_kv_next(buf, len, &pos, &k, &kl, &v) == 1)
        if (kl == strlen(key) && memcmp(k, key, kl) == 0) return v;
    return NULL;
}

static int ends_with(const struct hpk_entry *e, const char *suf)
{
    size_t n = strlen(suf);
    return e->path_len > n && memcmp(e->path + e->path_len - n, suf, n) == 0;
}

/* Load hpack/launch and the provenance of the cache entry, if any. */
static void load_config(struct ctx *c)
{
    struct hpk_err err;
    const struct hpk_entry *conf = hpk_payload_find(&c->a.p, "hpack/launch");
    if (!conf || conf->role != HPK_ROLE_CONFIG || !S_ISREG(conf->mode)) {
        hpk_fail(&err, HPK_EXIT_PAYLOAD, "corrupt payload: no hpack/launch entry");
        die(c, &err);
    }
    size_t len;
    int r = hpk_entry_slurp(&c->a, conf, &c->conf_buf, &len);
    if (r != HPK_OK) {
        hpk_fail(&err, HPK_EXIT_PAYLOAD, "corrupt payload: hpack/launch: %s", hpk_layout_strerror(r));
        die(c, &err);
    }
    if (hpk_launch_decode(c->conf_buf, len, &c->l) != 0) {
        hpk_fail(&err, HPK_EXIT_PAYLOAD, "corrupt payload: hpack/launch is malformed");
        die(c, &err);
    }
    c->cache_kind = kv_get(c->conf_buf, len, "cache.kind");
    hpk_hash_hex(c->a.p.footer.base_hash, c->hex);

    for (uint32_t i = 0; i < c->a.p.count; i++) {
        const struct hpk_entry *e = &c->a.p.entries[i];
        if (e->role == HPK_ROLE_CACHE && S_ISREG(e->mode) && (ends_with(e, ".aot") || ends_with(e, ".jsa")))
            c->cache = e;
    }
    if (!c->cache) return;
    /* The provenance sits beside the cache: same name, ".prov". */
    char path[HPK_PATH_MAX + 8];
    snprintf(path, sizeof path, "%.*s.prov", (int)c->cache->path_len - 4, c->cache->path);
    const struct hpk_entry *pe = hpk_payload_find(&c->a.p, path);
    size_t plen;
    if (!pe || hpk_entry_slurp(&c->a, pe, &c->prov_buf, &plen) != HPK_OK) {
        snprintf(c->cache_why, sizeof c->cache_why, "its provenance (%.200s) is missing or corrupt", path);
        return;
    }
    const char *base = kv_get(c->prov_buf, plen, "base");
    const char *kind = kv_get(c->prov_buf, plen, "kind");
    const char *rv = kv_get(c->prov_buf, plen, "runtime.version");
    if (!base || strcmp(base, c->hex) != 0)
        snprintf(c->cache_why, sizeof c->cache_why,
                 "it was trained for base %.32s, this payload is %s", base ? base : "(none)", c->hex);
    else if (!kind || !c->cache_kind || strcmp(kind, c->cache_kind) != 0)
        snprintf(c->cache_why, sizeof c->cache_why, "it is of kind %s, this runtime needs %s",
                 kind ? kind : "(none)", c->cache_kind ? c->cache_kind : "none");
    else if (!rv || !c->l.runtime_version || strcmp(rv, c->l.runtime_version) != 0)
        snprintf(c->cache_why, sizeof c->cache_why, "it was made by Java %s, the runtime is %s",
                 rv ? rv : "(unknown)", c->l.runtime_version ? c->l.runtime_version : "(unknown)");
    else
        c->cache_bound = 1;
}

/* Warm-path check of an unpacked tree: complete, ours (`shared`: a store
 * tree, whose ownership store.c checked), class path jars as unpacked (size
 * and mtime: cheap, catches replacement and truncation). */
static int tree_ok(const struct ctx *c, int tree, int want_cache, int shared, const char **why)
{
    struct stat st;
    struct hpk_err e;
    if (fstatat(tree, HPK_MARKER, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size != 33) {
        *why = "incomplete";
        return 0;
    }
    if (!shared && hpk_dir_secure(tree, "tree", &e) != 0) {
        *why = "insecure";
        return -1;
    }
    for (size_t i = 0; i < c->l.n_cp; i++) {
        const struct hpk_entry *ce = hpk_payload_find(&c->a.p, c->l.cp[i]);
        if (!ce || fstatat(tree, c->l.cp[i], &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_size != ce->size || st.st_mtime != HPK_FIXED_MTIME) {
            *why = "class path changed";
            return 0;
        }
    }
    if (want_cache) {
        char p[HPK_PATH_MAX + 1];
        snprintf(p, sizeof p, "%.*s", (int)c->cache->path_len, c->cache->path);
        if (fstatat(tree, p, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_size != c->cache->size || st.st_mtime != HPK_FIXED_MTIME) {
            *why = "cache missing";
            return 0;
        }
    }
    return 1;
}

/* The system store (store.c), looked at before the user's cache: a tree
 * there that is trusted and complete (the startup cache included when it is
 * to be used) is used as it is and never written. Its descriptor, with the
 * store's resolved path in `path`, or -1: then the user's cache serves. */
static int store_lookup(const struct ctx *c, int want_cache, char *path, size_t n)
{
    const char *s = hpk_store_path();
    if (!s) return -1;
    struct hpk_err e;
    const char *why = "not installed";
    int tree = -1, store = hpk_store_open(s, path, n, &e);
    if (store >= 0) {
        tree = hpk_store_tree(store, path, c->hex, &e);
        close(store);
    }
    if (tree >= 0) {
        if (tree_ok(c, tree, want_cache, 1, &why) > 0) return tree;
        close(tree);
    }
    if (e.code)
        fprintf(stderr, "hpack: %s: warning: system store not used: %s\n", c->self, e.msg);
    else if (c->debug)
        fprintf(stderr, "hpack: store %s/%s: %s; using the user cache\n", s, c->hex, why);
    return -1;
}

/* Return an open descriptor of the unpacked tree, unpacking it first if needed. */
static int ensure_tree(struct ctx *c, struct hpk_root *root, int want_cache)
{
    struct hpk_err err;
    const char *why = NULL;
    int tree = openat(root->fd, c->hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tree >= 0) {
        int ok = tree_ok(c, tree, want_cache, 0, &why);
        if (ok > 0) return tree;
        if (ok < 0) {
            hpk_dir_secure(tree, root->path, &err);
            snprintf(err.msg, sizeof err.msg, "%.600s/%s: owned by another user or writable by others; refusing to use it",
                     root->path, c->hex);
            err.code = HPK_EXIT_CACHEDIR;
            die(c, &err);
        }
        close(tree);
    }

    /* Cold path: serialise with other first starts on a lock file. */
    char lockname[64];
    snprintf(lockname, sizeof lockname, "%s.lock", c->hex);
    int lock = openat(root->fd, lockname, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock < 0) {
        hpk_fail(&err, HPK_EXIT_CACHEDIR, "%s/%s: %s", root->path, lockname, strerror(errno));
        die(c, &err);
    }
    while (flock(lock, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        hpk_fail(&err, HPK_EXIT_CACHEDIR, "%s/%s: cannot lock: %s", root->path, lockname, strerror(errno));
        die(c, &err);
    }
    /* Someone may have finished while we waited. */
    tree = openat(root->fd, c->hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int base_ok = tree >= 0 && tree_ok(c, tree, 0, 0, &why) > 0;
    if (!base_ok) {
        if (tree >= 0) {
            close(tree);
            if (c->debug) fprintf(stderr, "hpack: %s/%s: %s; unpacking again\n", root->path, c->hex, why);
            char old[96];
            snprintf(old, sizeof old, "%s.old.%ld", c->hex, (long)getpid());
            if (renameat(root->fd, c->hex, root->fd, old) != 0) {
                hpk_fail(&err, HPK_EXIT_TAMPER, "%s/%s: %s and cannot be moved aside: %s", root->path,
                         c->hex, why, strerror(errno));
                die(c, &err);
            }
        } else if (faccessat(root->fd, c->hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
            /* Exists but is not a directory we may open: something planted it. */
            hpk_fail(&err, HPK_EXIT_CACHEDIR, "%s/%s: exists and is not a directory; remove it", root->path, c->hex);
            die(c, &err);
        }
        /* We hold the lock: every temporary or old tree of this hash is stale. */
        hpk_clean_stale(root->fd, c->hex);
        if (c->debug) fprintf(stderr, "hpack: unpacking to %s/%s\n", root->path, c->hex);
        if (hpk_unpack_tree(&c->a, root->fd, c->hex, 1, &err) != 0) die(c, &err);
        tree = openat(root->fd, c->hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tree < 0) {
            hpk_fail(&err, HPK_EXIT_UNPACK, "%s/%s: %s", root->path, c->hex, strerror(errno));
            die(c, &err);
        }
    }
    if (want_cache && tree_ok(c, tree, 1, 0, &why) <= 0) {
        if (hpk_unpack_cache(&c->a, tree, &err) != 0) die(c, &err);
    }
    close(lock); /* releases the flock */
    return tree;
}

/* ---- building the JVM's command line ---- */

struct argvb {
    char **v;
    size_t n, cap;
};

static void push(struct argvb *b, char *s)
{
    if (b->n + 2 > b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->v = realloc(b->v, b->cap * sizeof *b->v);
        if (!b->v) {
            fputs("hpack: out of memory\n", stderr);
            exit(HPK_EXIT_EXEC);
        }
    }
    b->v[b->n++] = s;
    b->v[b->n] = NULL;
}

static char *fmt(const char *f, const char *a, const char *b)
{
    char *s;
    if (asprintf(&s, f, a, b) < 0) {
        fputs("hpack: out of memory\n", stderr);
        exit(HPK_EXIT_EXEC);
    }
    return s;
}

static char *classpath(const struct ctx *c)
{
    size_t n = 1;
    for (size_t i = 0; i < c->l.n_cp; i++) n += strlen(HPK_TREE_FD_PATH) + 2 + strlen(c->l.cp[i]);
    char *s = malloc(n), *p = s;
    if (!s) exit(HPK_EXIT_EXEC);
    for (size_t i = 0; i < c->l.n_cp; i++)
        p += sprintf(p, "%s%s/%s", i ? ":" : "", HPK_TREE_FD_PATH, c->l.cp[i]);
    *p = 0;
    return s;
}

/* JVM options that name the startup cache. `require` makes the JVM refuse
 * to start without it instead of silently running slow. */
static void cache_opts(const struct ctx *c, struct argvb *b, int require)
{
    char path[HPK_PATH_MAX + 1];
    snprintf(path, sizeof path, "%.*s", (int)c->cache->path_len, c->cache->path);
    if (strcmp(c->cache_kind, "aot") == 0) {
        push(b, fmt("-XX:AOTCache=%s/%s", HPK_TREE_FD_PATH, path));
        if (require) push(b, "-XX:AOTMode=on");
    } else {
        push(b, fmt("-XX:SharedArchiveFile=%s/%s", HPK_TREE_FD_PATH, path));
        if (require) push(b, "-Xshare:on");
    }
}

static void user_jvm_opts(struct argvb *b)
{
    const char *o = getenv("HPACK_JAVA_OPTS");
    if (!o) return;
    char *copy = strdup(o), *save = NULL;
    for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) push(b, t);
}

/* ${HPACK_APP}, ${HPACK_RUNTIME}, ${HPACK_EXE} and ${HPACK_CWD} in a JVM
 * option or app argument: where the tree landed on this host, this
 * artifact's path, the working directory, none of which the packer can know
 * (Maven's maven.home and its project directory, Jython's python.home).
 * Anything else, other ${...} included, is passed as it is. */
static char *var_value(const char *tree, const char *var)
{
    char *v = NULL;
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
            v = fmt(cwd ? "%s/%s" : "%s%s", cwd ? cwd : "", tree), free(cwd);
        if (v) {
            char *w = fmt("%s/%s", v, !strcmp(var, "APP") ? "app" : "runtime");
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

static char *expand(const char *tree, const char *s)
{
    if (!strstr(s, "${HPACK_")) return (char *)s;
    static const char *const vars[] = {"APP", "RUNTIME", "EXE", "CWD"};
    size_t cap = strlen(s) + 1, n = 0;
    char *out = malloc(cap);
    for (const char *p = s; out && *p;) {
        char *v = NULL;
        size_t skip = 1;
        for (size_t i = 0; i < sizeof vars / sizeof *vars && !v; i++) {
            size_t l = strlen(vars[i]);
            if (!strncmp(p, "${HPACK_", 8) && !strncmp(p + 8, vars[i], l) && p[8 + l] == '}') {
                v = var_value(tree, vars[i]);
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
    if (!out) {
        fputs("hpack: out of memory\n", stderr);
        exit(HPK_EXIT_EXEC);
    }
    out[n] = 0;
    return out;
}

/* train: NULL, or the record-mode options to use instead of a cache. */
static struct argvb build_argv(const struct ctx *c, const char *rootpath, int use_cache,
                               const char *const *train, int argc, char **argv)
{
    struct argvb b = {0};
    char *java, *tree;
    if (asprintf(&java, "%s/%s/%s", rootpath, c->hex, c->l.java) < 0) exit(HPK_EXIT_EXEC);
    tree = fmt("%s/%s", rootpath, c->hex);
    push(&b, java);
    for (size_t i = 0; i < c->l.n_jvm; i++) push(&b, expand(tree, c->l.jvm[i]));
    if (train)
        for (; *train; train++) push(&b, (char *)*train);
    else if (use_cache)
        cache_opts(c, &b, c->aot == AOT_REQUIRE);
    user_jvm_opts(&b);
    push(&b, "-cp");
    push(&b, classpath(c));
    push(&b, (char *)c->l.main);
    for (size_t i = 0; i < c->l.n_arg; i++) push(&b, expand(tree, c->l.arg[i]));
    for (int i = 0; i < argc; i++) push(&b, argv[i]);
    return b;
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
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

static void print_argv(FILE *f, char **v)
{
    for (size_t i = 0; v[i]; i++) {
        if (i) fputc(' ', f);
        print_quoted(f, v[i]);
    }
    fputc('\n', f);
}

/* Keep the tree open at HPK_TREE_FD across execve: the class path names it. */
static void pin_tree(const struct ctx *c, int tree)
{
    if (tree != HPK_TREE_FD && dup2(tree, HPK_TREE_FD) < 0) {
        struct hpk_err e;
        hpk_fail(&e, HPK_EXIT_EXEC, "cannot keep the unpacked tree open at descriptor %d: %s",
                 HPK_TREE_FD, strerror(errno));
        die(c, &e);
    }
    if (tree != HPK_TREE_FD) close(tree);
    fcntl(HPK_TREE_FD, F_SETFD, 0); /* no FD_CLOEXEC */
}

/* ---- training (HPACK_TRAIN=PATH) ---- */

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
    if (child_pid > 0) kill(child_pid, sig);
}

/* Run argv as a child, forwarding termination signals to it (the packer
 * stops a trained server with SIGTERM). Returns a wait status. */
static int run_child(char **v)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        signal(SIGXFSZ, SIG_DFL);
        execve(v[0], v, environ);
        fprintf(stderr, "hpack: cannot run %s: %s\n", v[0], strerror(errno));
        _exit(HPK_EXIT_EXEC);
    }
    child_pid = pid;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    child_pid = 0;
    return st;
}

/* Append one `key=value\0` record (docs/format.md) to a growing buffer. */
static void kv_add(char **buf, size_t *len, const char *key, const char *value)
{
    size_t n = strlen(key) + 1 + strlen(value) + 1;
    char *b = realloc(*buf, *len + n);
    if (!b) exit(HPK_EXIT_EXEC);
    sprintf(b + *len, "%s=%s", key, value); /* writes the terminating NUL too */
    *buf = b;
    *len += n;
}

static int train(struct ctx *c, const char *rootpath, const char *out, int argc, char **argv)
{
    if (!c->cache_kind)
        dief(c, HPK_EXIT_USAGE, "HPACK_TRAIN: this runtime (Java %s) cannot record a startup cache "
             "(JDK 24+, or JDK 13-23 with a base CDS archive lib/server/classes.jsa)",
             c->l.runtime_version ? c->l.runtime_version : "?");
    struct sigaction sa = {0};
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < 32; s++)
        if (s == SIGTERM || s == SIGINT || s == SIGHUP || s == SIGQUIT || s == SIGUSR1 || s == SIGUSR2)
            sigaction(s, &sa, NULL);
    int aot = strcmp(c->cache_kind, "aot") == 0;
    char *tmp = fmt("%s.tmp%s", out, ""), *conf = fmt("%s.aotconf%s", out, "");
    unlink(tmp);
    unlink(conf);
    const char *rec[4] = {0};
    if (aot) {
        rec[0] = "-XX:AOTMode=record";
        rec[1] = fmt("-XX:AOTConfiguration=%s%s", conf, "");
    } else {
        rec[0] = fmt("-XX:ArchiveClassesAtExit=%s%s", tmp, "");
    }
    struct argvb b = build_argv(c, rootpath, 0, rec, argc, argv);
    if (c->debug) print_argv(stderr, b.v);
    int st = run_child(b.v);
    int app_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (aot) {
        /* The create step, under the same descriptor class path. */
        const char *cr[5] = {"-XX:AOTMode=create", rec[1], fmt("-XX:AOTCache=%s%s", tmp, ""), NULL};
        struct argvb cb = {0};
        struct argvb full = build_argv(c, rootpath, 0, cr, 0, NULL);
        /* drop the main class and app arguments: create runs no application */
        for (size_t i = 0; full.v[i]; i++) {
            push(&cb, full.v[i]);
            if (i > 0 && strcmp(full.v[i - 1], "-cp") == 0) break;
        }
        if (access(conf, F_OK) != 0) {
            fprintf(stderr, "hpack: training: the JVM wrote no AOT configuration (app status %d)\n", app_status);
            return app_status ? app_status : HPK_EXIT_EXEC;
        }
        if (c->debug) print_argv(stderr, cb.v);
        int cs = run_child(cb.v);
        unlink(conf);
        if (cs != 0) {
            fprintf(stderr, "hpack: training: creating the AOT cache failed\n");
            unlink(tmp);
            return HPK_EXIT_EXEC;
        }
    }
    if (access(tmp, F_OK) != 0) {
        fprintf(stderr, "hpack: training: the JVM wrote no startup cache (app status %d)\n", app_status);
        return app_status ? app_status : HPK_EXIT_EXEC;
    }
    char *prov = NULL;
    size_t plen = 0;
    kv_add(&prov, &plen, "format", "1");
    kv_add(&prov, &plen, "base", c->hex);
    kv_add(&prov, &plen, "kind", c->cache_kind);
    kv_add(&prov, &plen, "runtime.version", c->l.runtime_version ? c->l.runtime_version : "");
    kv_add(&prov, &plen, "classpath", classpath(c));
    char *ptmp = fmt("%s.prov.tmp%s", out, ""), *pfin = fmt("%s.prov%s", out, "");
    FILE *f = fopen(ptmp, "w");
    if (!f || fwrite(prov, 1, plen, f) != plen || fclose(f) != 0 || rename(ptmp, pfin) != 0 ||
        rename(tmp, out) != 0) {
        fprintf(stderr, "hpack: training: cannot write %s: %s\n", out, strerror(errno));
        return HPK_EXIT_UNPACK;
    }
    if (c->debug) fprintf(stderr, "hpack: training: wrote %s and %s\n", out, pfin);
    return app_status;
}

/* ---- --hpack-* commands ---- */

static void info(struct ctx *c, const char *rootpath)
{
    char full[33];
    hpk_hash_hex(c->a.p.footer.full_hash, full);
    printf("format: %u\nbase hash: %s\nfull hash: %s\n", c->a.p.footer.version, c->hex, full);
    printf("runtime: Java %s\nmain class: %s\n", c->l.runtime_version ? c->l.runtime_version : "?", c->l.main);
    if (c->cache)
        printf("startup cache: %.*s (%s, %llu bytes): %s%s\n", (int)c->cache->path_len, c->cache->path,
               c->cache_kind ? c->cache_kind : "?", (unsigned long long)c->cache->size,
               c->cache_bound ? "bound to base " : "NOT USABLE: ", c->cache_bound ? c->hex : c->cache_why);
    else
        printf("startup cache: none\n");
    printf("unpack directory: %s/%s\n", rootpath, c->hex);
    struct argvb b = build_argv(c, rootpath, c->cache && c->cache_bound && c->aot != AOT_OFF, NULL, 0, NULL);
    printf("exec: ");
    print_argv(stdout, b.v);
    printf("entries: %u\n", c->a.p.count);
    printf("%-9s %7s %12s %12s %-6s %12s %-32s %s\n", "role", "mode", "size", "stored", "codec", "offset",
           "xxh3-128", "path");
    for (uint32_t i = 0; i < c->a.p.count; i++) {
        const struct hpk_entry *e = &c->a.p.entries[i];
        char h[33];
        hpk_hash_hex(e->hash, h);
        printf("%-9s %07o %12llu %12llu %-6s %12llu %s %.*s\n", hpk_role_name(e->role), e->mode,
               (unsigned long long)e->size, (unsigned long long)e->stored_size, hpk_codec_name(e->codec),
               (unsigned long long)e->offset, h, (int)e->path_len, e->path);
    }
}

static void usage(void)
{
    puts("This is an hpack artifact: a Java application in one executable.\n"
         "Arguments are passed to the application, except these, when first:\n"
         "  --hpack-info          print the payload table, hashes and the JVM command line\n"
         "  --hpack-extract DIR   unpack the payload into the new directory DIR and stop\n"
         "  --hpack-verify        unpack if needed, then re-hash the unpacked tree\n"
         "  --hpack-help          this text\n"
         "Environment: HPACK_CACHE_DIR, HPACK_DEBUG=1, HPACK_JAVA_OPTS, HPACK_AOT=auto|require|off,\n"
         "HPACK_TRAIN=PATH (record a startup cache to PATH). See docs/launcher.md.");
}

int main(int argc, char **argv)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.self = argc > 0 ? argv[0] : "hpack-launcher";
    const char *dbg = getenv("HPACK_DEBUG");
    c.debug = dbg && *dbg && strcmp(dbg, "0") != 0;
    const char *cmd = argc > 1 && !strncmp(argv[1], "--hpack-", 8) ? argv[1] : NULL;
    if (cmd && !strcmp(cmd, "--hpack-help")) {
        usage();
        return 0;
    }
    const char *aot = getenv("HPACK_AOT");
    if (!aot || !*aot || !strcmp(aot, "auto")) c.aot = AOT_AUTO;
    else if (!strcmp(aot, "require")) c.aot = AOT_REQUIRE;
    else if (!strcmp(aot, "off")) c.aot = AOT_OFF;
    else dief(&c, HPK_EXIT_USAGE, "HPACK_AOT=%s: expected auto, require or off", aot);
    /* Unpacking ignores SIGXFSZ (to get EFBIG); the app gets what we got. */
    struct sigaction xfsz;
    sigaction(SIGXFSZ, NULL, &xfsz);
    if (cmd && strcmp(cmd, "--hpack-info") && strcmp(cmd, "--hpack-extract") && strcmp(cmd, "--hpack-verify"))
        dief(&c, HPK_EXIT_USAGE, "unknown launcher option %s (--hpack-* is reserved; see --hpack-help)", cmd);

    int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0) dief(&c, HPK_EXIT_PAYLOAD, "cannot open /proc/self/exe (%s): is /proc mounted?", strerror(errno));
    int r = hpk_artifact_open(self, &c.a);
    if (r == HPK_OK) r = hpk_artifact_map(&c.a);
    if (r != HPK_OK) {
        if (r == HPK_E_NO_SECTION) dief(&c, HPK_EXIT_PAYLOAD, "%s", "no payload: this is the bare launcher, build an artifact with 'hpack build'");
        fprintf(stderr, "hpack: %s: corrupt payload: %s%s%s\n", c.self, hpk_layout_strerror(r),
                c.a.err_path[0] ? ": " : "", c.a.err_path);
        return HPK_EXIT_PAYLOAD;
    }
    load_config(&c);

    if (cmd && !strcmp(cmd, "--hpack-extract")) {
        if (argc != 3) dief(&c, HPK_EXIT_USAGE, "%s", "usage: --hpack-extract DIR");
        struct hpk_err xe;
        if (hpk_extract_dir(&c.a, argv[2], &xe) != 0) {
            fprintf(stderr, "hpack: %s: --hpack-extract %s\n", c.self, xe.msg);
            return xe.code;
        }
        printf("%s\n", argv[2]);
        return 0;
    }

    struct hpk_err err;
    struct hpk_root root;
    const char *train_out = getenv("HPACK_TRAIN");
    if (train_out && !*train_out) train_out = NULL;
    int use_cache = !train_out && c.cache && c.aot != AOT_OFF;
    if (cmd && !strcmp(cmd, "--hpack-info")) {
        /* Do not create anything just to print. */
        char dir[4096];
        int st = store_lookup(&c, use_cache && c.cache_bound, dir, sizeof dir);
        if (st >= 0) close(st);
        else hpk_root_default(dir, sizeof dir);
        info(&c, dir);
        return 0;
    }
    if (use_cache && !c.cache_bound) {
        if (c.aot == AOT_REQUIRE) {
            hpk_fail(&err, HPK_EXIT_TAMPER, "HPACK_AOT=require: the startup cache is refused: %s", c.cache_why);
            die(&c, &err);
        }
        fprintf(stderr, "hpack: %s: warning: startup cache not used: %s\n", c.self, c.cache_why);
        use_cache = 0;
    }
    if (c.aot == AOT_REQUIRE && !train_out && !c.cache) {
        hpk_fail(&err, HPK_EXIT_TAMPER, "HPACK_AOT=require: this artifact carries no startup cache");
        die(&c, &err);
    }

    /* The system store first; it is read-only for us: nothing below the
     * user's cache root is created unless the store lacks the tree. */
    char store_path[4096];
    const char *rootpath = store_path;
    int tree = store_lookup(&c, use_cache, store_path, sizeof store_path);
    if (tree < 0) {
        if (hpk_root_open(&root, c.debug, &err) != 0) die(&c, &err);
        tree = ensure_tree(&c, &root, use_cache);
        rootpath = root.path;
    }
    if (cmd && !strcmp(cmd, "--hpack-verify")) {
        if (hpk_verify_tree(&c.a, tree, &err) != 0) die(&c, &err);
        printf("%s/%s: all %u entries match the payload\n", rootpath, c.hex, c.a.p.count);
        return 0;
    }
    pin_tree(&c, tree);
    sigaction(SIGXFSZ, &xfsz, NULL);
    if (train_out) return train(&c, rootpath, train_out, argc - 1, argv + 1);

    struct argvb b = build_argv(&c, rootpath, use_cache, NULL, argc - 1, argv + 1);
    if (c.debug) {
        fputs("hpack: exec ", stderr);
        print_argv(stderr, b.v);
    }
    execve(b.v[0], b.v, environ);
    hpk_fail(&err, HPK_EXIT_EXEC, "cannot run %s: %s", b.v[0], strerror(errno));
    die(&c, &err);
}
