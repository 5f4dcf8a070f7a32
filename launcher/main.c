/*
 * main.c - the hpack launcher: find our payload, make sure it is unpacked,
 * exec the JVM with exactly the class path the artifact was built (and its
 * startup cache trained) with.
 *
 * Warm path (tree already unpacked), in system calls: open /proc/self/exe,
 * read the ELF and .hpack headers and table, map the payload, walk to the
 * cache root from / (an openat and fstat per component), open the tree,
 * stat the marker and the class path jars, dup2, execveat through the tree's
 * descriptor (docs/launcher.md section 4 lists them).
 * No hashing of the payload, no process left behind.
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"
#include "../layout/hpk_config.h"
#include "../layout/hpk_hostfit.h"
#include "../layout/hpk_store.h"

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
    struct hpk_config cf; /* hpack/launch, the carried cache and the trust verdict */
    int pinned; /* the checked tree is open at HPK_TREE_FD */
    uid_t uid;  /* effective user */
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

/* The carried cache may be passed: the rule of layout/config.c said so. */
static int bound(const struct ctx *c)
{
    return c->cf.cache && c->cf.trust == HPK_TRUST_OK;
}

/* Load hpack/launch and the provenance of the cache entry, if any. */
static void load_config(struct ctx *c)
{
    struct hpk_err err;
    int r = hpk_config_load(&c->a, &c->cf);
    if (r == HPK_E_TOC_RECORD && !hpk_payload_find(&c->a.p, "hpack/launch"))
        hpk_fail(&err, HPK_EXIT_PAYLOAD, "corrupt payload: no hpack/launch entry");
    else if (r == HPK_E_TOC_RECORD)
        hpk_fail(&err, HPK_EXIT_PAYLOAD, "corrupt payload: hpack/launch is malformed");
    else if (r != HPK_OK)
        hpk_fail(&err, HPK_EXIT_PAYLOAD, "corrupt payload: hpack/launch: %s", hpk_layout_strerror(r));
    if (r != HPK_OK) die(c, &err);
}

/* A class path jar or cache file as the launcher wrote it: a regular file
 * (not followed) of the entry's size and the fixed time (cheap, catches
 * replacement and truncation), ours and writable by nobody else (whoever
 * could write it could change its content, size and time kept). No system
 * call beyond the fstatat. */
static int file_as_unpacked(int tree, const char *path, uint64_t size, uid_t uid, int shared)
{
    struct stat st;
    /* A store tree (shared) is root's or ours: hpack install runs as root
     * and store.c checked the directories above it by the same rule. */
    return fstatat(tree, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
           (uint64_t)st.st_size == size && st.st_mtime == HPK_FIXED_MTIME &&
           (st.st_uid == uid || (shared && st.st_uid == 0)) && !(st.st_mode & 022);
}

/* Warm-path check of an unpacked tree: complete, ours (`shared`: a store
 * tree, whose ownership store.c checked), class path jars and the cache
 * file as unpacked (file_as_unpacked). */
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
    for (size_t i = 0; i < c->cf.launch.n_cp; i++) {
        const struct hpk_entry *ce = hpk_payload_find(&c->a.p, c->cf.launch.cp[i]);
        if (!ce || !file_as_unpacked(tree, c->cf.launch.cp[i], ce->size, c->uid, shared)) {
            *why = "class path changed"; /* a jar of another size, time, owner or mode */
            return 0;
        }
    }
    if (want_cache) {
        char p[HPK_PATH_MAX + 1];
        snprintf(p, sizeof p, "%.*s", (int)c->cf.cache->path_len, c->cf.cache->path);
        if (!file_as_unpacked(tree, p, c->cf.cache->size, c->uid, shared)) {
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
        tree = hpk_store_tree(store, path, c->cf.base_hex, &e);
        close(store);
    }
    if (tree >= 0) {
        if (tree_ok(c, tree, want_cache, 1, &why) > 0) return tree;
        close(tree);
    }
    if (e.code)
        fprintf(stderr, "hpack: %s: warning: system store not used: %s\n", c->self, e.msg);
    else if (c->debug)
        fprintf(stderr, "hpack: store %s/%s: %s; using the user cache\n", s, c->cf.base_hex, why);
    return -1;
}

/* Return an open descriptor of the unpacked tree, unpacking it first if needed. */
static int ensure_tree(struct ctx *c, struct hpk_root *root, int want_cache)
{
    struct hpk_err err;
    const char *why = NULL;
    int tree = openat(root->fd, c->cf.base_hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tree >= 0) {
        int ok = tree_ok(c, tree, want_cache, 0, &why);
        if (ok > 0) return tree;
        if (ok < 0) {
            hpk_dir_secure(tree, root->path, &err);
            snprintf(err.msg, sizeof err.msg, "%.600s/%s: owned by another user or writable by others; refusing to use it",
                     root->path, c->cf.base_hex);
            err.code = HPK_EXIT_CACHEDIR;
            die(c, &err);
        }
        close(tree);
    }

    /* Cold path: serialise with other first starts on a lock file. */
    char lockname[64];
    snprintf(lockname, sizeof lockname, "%s.lock", c->cf.base_hex);
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
    tree = openat(root->fd, c->cf.base_hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int base_ok = tree >= 0 && tree_ok(c, tree, 0, 0, &why) > 0;
    if (!base_ok) {
        if (tree >= 0) {
            close(tree);
            if (c->debug) fprintf(stderr, "hpack: %s/%s: %s; unpacking again\n", root->path, c->cf.base_hex, why);
            char old[96];
            snprintf(old, sizeof old, "%s.old.%ld", c->cf.base_hex, (long)getpid());
            if (renameat(root->fd, c->cf.base_hex, root->fd, old) != 0) {
                hpk_fail(&err, HPK_EXIT_TAMPER, "%s/%s: %s and cannot be moved aside: %s", root->path,
                         c->cf.base_hex, why, strerror(errno));
                die(c, &err);
            }
        } else if (faccessat(root->fd, c->cf.base_hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
            /* Exists but is not a directory we may open: something planted it. */
            hpk_fail(&err, HPK_EXIT_CACHEDIR, "%s/%s: exists and is not a directory; remove it", root->path, c->cf.base_hex);
            die(c, &err);
        }
        /* We hold the lock: every temporary or old tree of this hash is stale. */
        hpk_clean_stale(root->fd, c->cf.base_hex);
        if (c->debug) fprintf(stderr, "hpack: unpacking to %s/%s\n", root->path, c->cf.base_hex);
        if (hpk_unpack_tree(&c->a, root->fd, c->cf.base_hex, 1, &err) != 0) die(c, &err);
        tree = openat(root->fd, c->cf.base_hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tree < 0) {
            hpk_fail(&err, HPK_EXIT_UNPACK, "%s/%s: %s", root->path, c->cf.base_hex, strerror(errno));
            die(c, &err);
        }
    }
    if (want_cache && tree_ok(c, tree, 1, 0, &why) <= 0) {
        if (hpk_unpack_cache(&c->a, tree, &err) != 0) die(c, &err);
    }
    close(lock); /* releases the flock */
    return tree;
}

/* ---- building the JVM's command line (layout/config.c builds it) ---- */

static void oom(void)
{
    fputs("hpack: out of memory\n", stderr);
    exit(HPK_EXIT_EXEC);
}

static char *fmt(const char *f, const char *a, const char *b)
{
    char *s;
    if (asprintf(&s, f, a, b) < 0) oom();
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
    if (!v || (o && !copy)) oom();
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
static char *var_value(const struct ctx *c, const char *tree, const char *var)
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

static char *expand(const struct ctx *c, const char *tree, const char *s)
{
    if (!strstr(s, "${HPACK_")) {
        char *d = strdup(s);
        if (!d) oom();
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
    if (!out) {
        fputs("hpack: out of memory\n", stderr);
        exit(HPK_EXIT_EXEC);
    }
    out[n] = 0;
    return out;
}

struct expand_ctx {
    const struct ctx *c;
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
static char **build_argv(const struct ctx *c, const char *rootpath, int use_cache, const char *const *train,
                         const char *const *after_cp, int argc, char **argv)
{
    char *tree = fmt("%s/%s", rootpath, c->cf.base_hex);
    char *user_copy;
    const char **user = user_jvm_opts(&user_copy);
    struct expand_ctx x = {c, tree};
    struct hpk_exec_spec sp = {.tree = tree,
                               .cache = use_cache ? (c->aot == AOT_REQUIRE ? 2 : 1) : 0,
                               .train = train,
                               .user_opts = user,
                               .after_cp = after_cp,
                               .expand = expand_cb,
                               .expand_ctx = &x,
                               .argc = argc,
                               .argv = argv};
    char **v = hpk_exec_line(&c->cf, &sp);
    if (!v) oom();
    free(tree);
    free(user_copy); /* hpk_exec_line copied the pieces */
    free(user);
    return v;
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
    /* The JVM needs it after execve: the class path and the cache name it. */
    if (fcntl(HPK_TREE_FD, F_SETFD, 0) != 0) {
        struct hpk_err e;
        hpk_fail(&e, HPK_EXIT_EXEC, "cannot keep descriptor %d open across exec: %s", HPK_TREE_FD, strerror(errno));
        die(c, &e);
    }
    ((struct ctx *)c)->pinned = 1;
}

/* Start the JVM through the checked tree's descriptor: the path of
 * `java` is resolved from the tree itself, never from a path string that
 * another process could have redirected since the checks. argv[0] keeps
 * the readable path (what ps shows; the JVM finds its home through
 * /proc/self/exe, which the kernel gives from the file it runs). */
static void exec_jvm(const struct ctx *c, char **v)
{
    execveat(HPK_TREE_FD, c->cf.launch.java, v, environ, 0);
}

/* ---- training (HPACK_TRAIN=PATH) ---- */

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
    if (child_pid > 0) kill(child_pid, sig);
}

/* Run argv as a child, forwarding termination signals to it (the packer
 * stops a trained server with SIGTERM). Returns a wait status. */
static int run_child(const struct ctx *c, char **v)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        signal(SIGXFSZ, SIG_DFL);
        exec_jvm(c, v);
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

/* Training writes through this descriptor of a private directory: the JVM
 * is given /proc/self/fd/249/..., so no name in a shared directory is ever
 * opened by path (a planted link there would redirect the JVM's writes). */
#define HPK_TRAIN_FD 249
#define HPK_TRAIN_FD_PATH "/proc/self/fd/249"

struct train_dir {
    int parent;     /* the directory of PATH */
    char name[64];  /* the private directory in it */
    const char *base; /* PATH's last component */
};

static void train_cleanup(struct train_dir *t)
{
    close(HPK_TRAIN_FD);
    hpk_rm_rf(t->parent, t->name);
}

/* Open PATH's directory, refuse PATH or PATH.prov if someone else owns it
 * (in a shared directory they may have planted it), and make the private
 * directory (mkdtemp: 0700, a fresh name) at HPK_TRAIN_FD. */
static void train_open(const struct ctx *c, const char *out, struct train_dir *t)
{
    struct hpk_err e;
    const char *slash = strrchr(out, '/');
    t->base = slash ? slash + 1 : out;
    if (!*t->base) dief(c, HPK_EXIT_USAGE, "HPACK_TRAIN=%s: give a file name", out);
    char *dir = slash ? strndup(out, slash == out ? 1 : (size_t)(slash - out)) : strdup(".");
    if (!dir) exit(HPK_EXIT_EXEC);
    t->parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->parent < 0) {
        hpk_fail(&e, HPK_EXIT_UNPACK, "HPACK_TRAIN: %s: %s", dir, strerror(errno));
        die(c, &e);
    }
    char prov[NAME_MAX + 8];
    snprintf(prov, sizeof prov, "%s.prov", t->base);
    const char *names[2] = {t->base, prov};
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (fstatat(t->parent, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid != geteuid()) {
            hpk_fail(&e, HPK_EXIT_UNPACK,
                     "HPACK_TRAIN: %s/%s exists and belongs to uid %u, not to you: another user may have "
                     "planted it; remove it or record to a private directory",
                     dir, names[i], (unsigned)st.st_uid);
            die(c, &e);
        }
    }
    char *tmpl = fmt("%s/.hpack-train.XXXXXX%s", dir, "");
    struct stat st;
    int fd = -1;
    if (mkdtemp(tmpl)) {
        snprintf(t->name, sizeof t->name, "%s", strrchr(tmpl, '/') + 1);
        fd = openat(t->parent, t->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) ||
        (fd != HPK_TRAIN_FD && dup2(fd, HPK_TRAIN_FD) < 0)) {
        hpk_fail(&e, HPK_EXIT_UNPACK, "HPACK_TRAIN: cannot make a private directory in %s: %s", dir,
                 fd < 0 ? strerror(errno) : "not ours after creation");
        if (t->name[0]) hpk_rm_rf(t->parent, t->name);
        die(c, &e);
    }
    if (fd != HPK_TRAIN_FD) close(fd);
    fcntl(HPK_TRAIN_FD, F_SETFD, 0); /* the JVM writes through it */
    free(tmpl);
    free(dir);
}

/* The conditions under which the cache applies (docs/format.md 9.3): the
 * flags the JVM chooses with the training options, asked of the JVM itself
 * (`-XX:+PrintFlagsFinal -version`, same options, same class path), and
 * this CPU's features. */
static int train_conditions(const struct ctx *c, const char *rootpath, char **prov, size_t *plen)
{
    const char *fl[2] = {"-XX:+PrintFlagsFinal", NULL};
    static const char *const version[] = {"-version", NULL}; /* no main class */
    char **v = build_argv(c, rootpath, 0, fl, version, 0, NULL);
    int st = -1;
    size_t n = 0;
    char *out = hpk_launcher_capture(c->cf.launch.java, v, &st);
    char *rec = out && st == 0 ? hpk_launcher_cond_records(out, &n) : NULL;
    hpk_exec_line_free(v);
    if (!rec) {
        fprintf(stderr, "hpack: training: cannot read the JVM's flags (-XX:+PrintFlagsFinal): %.300s\n",
                out ? out : strerror(errno));
        free(out);
        return -1;
    }
    char *b = realloc(*prov, *plen + n);
    if (!b) oom();
    memcpy(b + *plen, rec, n);
    *prov = b, *plen += n;
    free(rec);
    free(out);
    return 0;
}

static int train(struct ctx *c, const char *rootpath, const char *out, int argc, char **argv)
{
    if (!c->cf.launch.cache_kind)
        dief(c, HPK_EXIT_USAGE, "HPACK_TRAIN: this runtime (Java %s) cannot record a startup cache "
             "(JDK 24+, or JDK 13-23 with a base CDS archive lib/server/classes.jsa)",
             c->cf.launch.runtime_version ? c->cf.launch.runtime_version : "?");
    struct train_dir t = {0};
    train_open(c, out, &t);
    struct sigaction sa = {0};
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < 32; s++)
        if (s == SIGTERM || s == SIGINT || s == SIGHUP || s == SIGQUIT || s == SIGUSR1 || s == SIGUSR2)
            sigaction(s, &sa, NULL);
    int aot = strcmp(c->cf.launch.cache_kind, "aot") == 0;
    const char *rec[4] = {0};
    if (aot) {
        rec[0] = "-XX:AOTMode=record";
        rec[1] = "-XX:AOTConfiguration=" HPK_TRAIN_FD_PATH "/aotconf";
    } else {
        rec[0] = "-XX:ArchiveClassesAtExit=" HPK_TRAIN_FD_PATH "/cache";
    }
    char **b = build_argv(c, rootpath, 0, rec, NULL, argc, argv);
    if (c->debug) print_argv(stderr, b);
    int st = run_child(c, b);
    int app_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    struct stat fs;
    if (aot) {
        /* The create step, under the same descriptor class path. */
        const char *cr[5] = {"-XX:AOTMode=create", rec[1], "-XX:AOTCache=" HPK_TRAIN_FD_PATH "/cache", NULL};
        /* nothing after the class path: create runs no application */
        static const char *const none[] = {NULL};
        char **cb = build_argv(c, rootpath, 0, cr, none, 0, NULL);
        if (fstatat(HPK_TRAIN_FD, "aotconf", &fs, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(fs.st_mode)) {
            fprintf(stderr, "hpack: training: the JVM wrote no AOT configuration (app status %d)\n", app_status);
            train_cleanup(&t);
            return app_status ? app_status : HPK_EXIT_EXEC;
        }
        if (c->debug) print_argv(stderr, cb);
        int cs = run_child(c, cb);
        if (cs != 0) {
            fprintf(stderr, "hpack: training: creating the AOT cache failed\n");
            train_cleanup(&t);
            return HPK_EXIT_EXEC;
        }
    }
    if (fstatat(HPK_TRAIN_FD, "cache", &fs, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(fs.st_mode)) {
        fprintf(stderr, "hpack: training: the JVM wrote no startup cache (app status %d)\n", app_status);
        train_cleanup(&t);
        return app_status ? app_status : HPK_EXIT_EXEC;
    }
    char *prov = NULL;
    size_t plen = 0;
    kv_add(&prov, &plen, "format", "1");
    kv_add(&prov, &plen, "base", c->cf.base_hex);
    kv_add(&prov, &plen, "kind", c->cf.launch.cache_kind);
    kv_add(&prov, &plen, "runtime.version", c->cf.launch.runtime_version ? c->cf.launch.runtime_version : "");
    char *cp = hpk_exec_classpath(&c->cf.launch);
    if (!cp) oom();
    kv_add(&prov, &plen, "classpath", cp);
    if (train_conditions(c, rootpath, &prov, &plen) != 0) {
        train_cleanup(&t);
        return HPK_EXIT_EXEC;
    }
    char *pfin = fmt("%s.prov%s", t.base, "");
    /* Both files are complete in the private directory before either name
     * appears; a name another user holds in a sticky directory cannot be
     * replaced, and that is an error, not a silent leftover. */
    int f = openat(HPK_TRAIN_FD, "prov", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f < 0 || write(f, prov, plen) != (ssize_t)plen || close(f) != 0 ||
        fchmodat(HPK_TRAIN_FD, "cache", 0644, 0) != 0 ||
        renameat(HPK_TRAIN_FD, "prov", t.parent, pfin) != 0 || renameat(HPK_TRAIN_FD, "cache", t.parent, t.base) != 0) {
        fprintf(stderr, "hpack: training: cannot write %s: %s\n", out, strerror(errno));
        train_cleanup(&t);
        return HPK_EXIT_UNPACK;
    }
    train_cleanup(&t);
    if (c->debug) fprintf(stderr, "hpack: training: wrote %s and %s.prov\n", out, out);
    return app_status;
}

/* ---- does the cache apply on this host (layout/hostfit.c) ---- */

/* Whether to pass the bound cache: not when it is predicted not to apply
 * (auto: a warning; require: exit HPK_EXIT_HOSTFIT naming the condition).
 * When unsure, it is passed and the JVM decides: a refusal there costs
 * only speed, while the CPU check, which protects against crashes, is
 * never unsure. */
static int host_fit(const struct ctx *c)
{
    struct hpk_fit_result r;
    hpk_launcher_fit(&c->cf, &r);
    if (r.fit == HPK_FIT_NO && c->aot == AOT_REQUIRE) {
        struct hpk_err e;
        hpk_fail(&e, HPK_EXIT_HOSTFIT, "HPACK_AOT=require: the startup cache does not apply on this host: %s", r.why);
        die(c, &e);
    }
    if (r.fit == HPK_FIT_NO)
        fprintf(stderr, "hpack: %s: warning: startup cache not used: it does not apply on this host: %s\n", c->self, r.why);
    else if (c->debug)
        fprintf(stderr, "hpack: startup cache %.*s %s: %s\n", (int)c->cf.cache->path_len, c->cf.cache->path,
                r.fit == HPK_FIT_YES ? "applies" : "may apply (the JVM decides)", r.why);
    return r.fit != HPK_FIT_NO;
}

/* ---- --hpack-* commands ---- */

static void info(struct ctx *c, const char *rootpath)
{
    char full[33];
    hpk_hash_hex(c->a.p.footer.full_hash, full);
    printf("format: %u\nbase hash: %s\nfull hash: %s\n", c->a.p.footer.version, c->cf.base_hex, full);
    printf("runtime: Java %s\nmain class: %s\n", c->cf.launch.runtime_version ? c->cf.launch.runtime_version : "?", c->cf.launch.main);
    if (c->cf.cache)
        printf("startup cache: %.*s (%s, %llu bytes): %s%s\n", (int)c->cf.cache->path_len, c->cf.cache->path,
               c->cf.launch.cache_kind ? c->cf.launch.cache_kind : "?", (unsigned long long)c->cf.cache->size,
               bound(c) ? "bound to base " : "NOT USABLE: ", bound(c) ? c->cf.base_hex : c->cf.cache_why);
    else
        printf("startup cache: none\n");
    struct hpk_fit_result r = {.fit = HPK_FIT_NO};
    if (bound(c)) {
        static const char *const said[] = {"applies", "does not apply", "may apply (the JVM decides)"};
        hpk_launcher_fit(&c->cf, &r);
        printf("on this host: %s: %s\n", said[r.fit], r.why);
    }
    printf("unpack directory: %s/%s\n", rootpath, c->cf.base_hex);
    char **b = build_argv(c, rootpath, bound(c) && r.fit != HPK_FIT_NO && c->aot != AOT_OFF, NULL, NULL, 0, NULL);
    printf("exec: ");
    print_argv(stdout, b);
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

/* --hpack-check: for this host, does the carried cache apply? The
 * prediction (the warm path's rule), then the JVM's own check
 * (`-XX:AOTMode=on ... -version`, or -Xshare:on), unless the CPU lacks a
 * feature: that cache's machine code must never run here. Exit 0 when the
 * cache applies, HPK_EXIT_HOSTFIT when it does not (docs/launcher.md 1). */
static int check(struct ctx *c)
{
    if (!c->cf.cache) {
        printf("startup cache: none; nothing to check\n");
        return HPK_EXIT_HOSTFIT;
    }
    printf("startup cache: %.*s (%s)\n", (int)c->cf.cache->path_len, c->cf.cache->path,
           c->cf.launch.cache_kind ? c->cf.launch.cache_kind : "?");
    if (!bound(c)) {
        printf("bound: no: %s\nverdict: does not apply\n", c->cf.cache_why);
        return HPK_EXIT_HOSTFIT;
    }
    struct hpk_fit_result r;
    hpk_launcher_fit(&c->cf, &r);
    static const char *const said[] = {"applies", "does not apply", "may apply (at a limit; the JVM decides)"};
    printf("predicted: %s: %s\n", said[r.fit], r.why);
    if (r.fit == HPK_FIT_NO && strstr(r.why, "CPU")) {
        printf("jvm check: not run (the cache's machine code must not meet this CPU)\nverdict: does not apply\n");
        return HPK_EXIT_HOSTFIT;
    }
    struct hpk_root root;
    struct hpk_err err;
    char store_path[4096];
    const char *rootpath = store_path;
    int tree = store_lookup(c, 1, store_path, sizeof store_path);
    if (tree < 0) {
        if (hpk_root_open(&root, c->debug, &err) != 0) die(c, &err);
        tree = ensure_tree(c, &root, 1);
        rootpath = root.path;
    }
    pin_tree(c, tree);
    enum aot_mode keep = c->aot;
    c->aot = AOT_REQUIRE;
    static const char *const version[] = {"-version", NULL}; /* no main class */
    char **v = build_argv(c, rootpath, 1, NULL, version, 0, NULL);
    c->aot = keep;
    int st = -1;
    char *out = hpk_launcher_capture(c->cf.launch.java, v, &st);
    hpk_exec_line_free(v);
    int ok = out && st == 0;
    const char *w = out ? strstr(out, "Unable to use") : NULL;
    if (!w && out) w = strstr(out, "rror");
    printf("jvm check: %s%.*s\n", ok ? "the JVM maps the cache" : "refused: ",
           ok ? 0 : (int)strcspn(w ? w : "", "\n"), w ? w : "");
    if (r.fit != HPK_FIT_UNSURE && ok != (r.fit == HPK_FIT_YES)) printf("note: the prediction and the JVM disagree; the JVM's word stands\n");
    printf("verdict: %s\n", ok ? "applies" : "does not apply");
    free(out);
    return ok ? 0 : HPK_EXIT_HOSTFIT;
}

static void usage(void)
{
    puts("This is an hpack artifact: a Java application in one executable.\n"
         "Arguments are passed to the application, except these, when first:\n"
         "  --hpack-info          print the payload table, hashes and the JVM command line\n"
         "  --hpack-extract DIR   unpack the payload into the new directory DIR and stop\n"
         "  --hpack-verify        unpack if needed, then re-hash the unpacked tree\n"
         "  --hpack-check         say whether the startup cache applies on this host, and why\n"
         "  --hpack-help          this text\n"
         "Environment: HPACK_CACHE_DIR, HPACK_DEBUG=1, HPACK_JAVA_OPTS, HPACK_AOT=auto|require|off,\n"
         "HPACK_TRAIN=PATH (record a startup cache to PATH). See docs/launcher.md.");
}

int main(int argc, char **argv)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.self = argc > 0 ? argv[0] : "hpack-launcher";
    c.uid = geteuid();
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
    if (cmd && strcmp(cmd, "--hpack-info") && strcmp(cmd, "--hpack-extract") && strcmp(cmd, "--hpack-verify") &&
        strcmp(cmd, "--hpack-check"))
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
    int use_cache = !train_out && c.cf.cache && c.aot != AOT_OFF;
    if (cmd && !strcmp(cmd, "--hpack-info")) {
        /* Do not create anything just to print. */
        char dir[4096];
        int st = store_lookup(&c, use_cache && bound(&c), dir, sizeof dir);
        if (st >= 0) close(st);
        else hpk_root_default(dir, sizeof dir);
        info(&c, dir);
        return 0;
    }
    if (cmd && !strcmp(cmd, "--hpack-check")) return check(&c);
    if (use_cache && !bound(&c)) {
        if (c.aot == AOT_REQUIRE) {
            hpk_fail(&err, HPK_EXIT_TAMPER, "HPACK_AOT=require: the startup cache is refused: %s", c.cf.cache_why);
            die(&c, &err);
        }
        fprintf(stderr, "hpack: %s: warning: startup cache not used: %s\n", c.self, c.cf.cache_why);
        use_cache = 0;
    }
    if (use_cache && bound(&c)) use_cache = host_fit(&c);
    else if (c.debug && !train_out && (!c.cf.cache || c.aot == AOT_OFF))
        fprintf(stderr, "hpack: no startup cache used: %s\n", c.cf.cache ? "HPACK_AOT=off" : "this artifact carries none");
    if (c.aot == AOT_REQUIRE && !train_out && !c.cf.cache) {
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
        printf("%s/%s: all %u entries match the payload\n", rootpath, c.cf.base_hex, c.a.p.count);
        return 0;
    }
    pin_tree(&c, tree);
    sigaction(SIGXFSZ, &xfsz, NULL);
    if (train_out) return train(&c, rootpath, train_out, argc - 1, argv + 1);

    char **b = build_argv(&c, rootpath, use_cache, NULL, NULL, argc - 1, argv + 1);
    if (c.debug) {
        fputs("hpack: exec ", stderr);
        print_argv(stderr, b);
    }
    exec_jvm(&c, b);
    hpk_fail(&err, HPK_EXIT_EXEC, "cannot run %s: %s", b[0], strerror(errno));
    die(&c, &err);
}
