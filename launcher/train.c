/*
 * train.c - HPACK_TRAIN=PATH: run the application once under the JVM's
 * record mode (AOT cache on JDK 24+, dynamic CDS archive before), through
 * the same descriptor class path as every start, and write PATH and
 * PATH.prov (the cache's provenance: base hash, kind, runtime and the
 * conditions it applies under, docs/format.md 9.3). `hpack build --train`
 * drives it.
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"

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

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
    if (child_pid > 0) kill(child_pid, sig);
}

void hpk_start_forward_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, NULL);
}

int hpk_start_run_child(const struct hpk_start *c, char **v)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        signal(SIGXFSZ, SIG_DFL);
        hpk_start_exec(c, v);
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

void hpk_start_kv_add(char **buf, size_t *len, const char *key, const char *value)
{
    size_t n = strlen(key) + 1 + strlen(value) + 1;
    char *b = realloc(*buf, *len + n);
    if (!b) hpk_start_oom();
    sprintf(b + *len, "%s=%s", key, value); /* writes the terminating NUL too */
    *buf = b;
    *len += n;
}

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
static void train_open(const struct hpk_start *c, const char *out, struct train_dir *t)
{
    struct hpk_err e;
    const char *slash = strrchr(out, '/');
    t->base = slash ? slash + 1 : out;
    if (!*t->base) hpk_start_dief(c, HPK_EXIT_USAGE, "HPACK_TRAIN=%s: give a file name", out);
    char *dir = slash ? strndup(out, slash == out ? 1 : (size_t)(slash - out)) : strdup(".");
    if (!dir) hpk_start_oom();
    t->parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->parent < 0) {
        hpk_fail(&e, HPK_EXIT_UNPACK, "HPACK_TRAIN: %s: %s", dir, strerror(errno));
        hpk_start_die(c, &e);
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
            hpk_start_die(c, &e);
        }
    }
    char *tmpl = hpk_start_fmt("%s/.hpack-train.XXXXXX%s", dir, "");
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
        hpk_start_die(c, &e);
    }
    if (fd != HPK_TRAIN_FD) close(fd);
    if (fcntl(HPK_TRAIN_FD, F_SETFD, 0) != 0) { /* the JVM writes through it */
        hpk_fail(&e, HPK_EXIT_UNPACK, "HPACK_TRAIN: cannot keep descriptor %d open across exec: %s", HPK_TRAIN_FD,
                 strerror(errno));
        hpk_rm_rf(t->parent, t->name);
        hpk_start_die(c, &e);
    }
    free(tmpl);
    free(dir);
}

/* The conditions under which the cache applies (docs/format.md 9.3): the
 * flags the JVM chooses with the training options, asked of the JVM itself
 * (`-XX:+PrintFlagsFinal -version`, same options, same class path), and
 * this CPU's features. */
int hpk_start_conditions(const struct hpk_start *c, const char *rootpath, char **prov, size_t *plen)
{
    /* Unlocked: the diagnostic AOTAdapterCaching says whether the cache
     * holds machine code (jvm.aot_code). */
    const char *fl[3] = {"-XX:+UnlockDiagnosticVMOptions", "-XX:+PrintFlagsFinal", NULL};
    static const char *const version[] = {"-version", NULL}; /* no main class */
    char **v = hpk_start_argv(c, rootpath, 0, fl, version, 0, NULL);
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
    if (!b) hpk_start_oom();
    memcpy(b + *plen, rec, n);
    *prov = b, *plen += n;
    free(rec);
    free(out);
    return 0;
}

/* The application under record mode, then (AOT) the create step, both
 * under the same descriptor class path: the cache is then `cache` in the
 * private directory. 0, or the status to exit with; *app_status: the
 * application's. */
static int record(const struct hpk_start *c, const char *rootpath, int argc, char **argv, int *app_status)
{
    int aot = strcmp(c->cf.launch.cache_kind, "aot") == 0;
    /* The application's standard output is its own (HPACK_TRAIN=PATH on a
     * production run whose output is data): the VM's lines about the cache
     * ("AOTConfiguration recorded", "AOTCache creation is complete", the
     * unified log's "[warning][cds] Skipping ...", whose default output is
     * stdout) go to stderr. */
    const char *rec[8] = {0};
    int k = 0;
    if (aot) {
        rec[k++] = "-XX:AOTMode=record";
        rec[k++] = "-XX:AOTConfiguration=" HPK_TRAIN_FD_PATH "/aotconf";
    } else {
        rec[k++] = "-XX:ArchiveClassesAtExit=" HPK_TRAIN_FD_PATH "/cache";
    }
    const char *const to_stderr[] = {"-XX:+DisplayVMOutputToStderr", hpk_start_cache_log(c, 0), hpk_start_cache_log(c, 1)};
    for (size_t i = 0; i < 3; i++) rec[k++] = to_stderr[i];
    char **b = hpk_start_argv(c, rootpath, 0, rec, NULL, argc, argv);
    if (c->debug) hpk_start_print_argv(stderr, b);
    int st = hpk_start_run_child(c, b);
    hpk_exec_line_free(b);
    *app_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    struct stat fs;
    if (aot) {
        if (fstatat(HPK_TRAIN_FD, "aotconf", &fs, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(fs.st_mode)) {
            fprintf(stderr, "hpack: training: the JVM wrote no AOT configuration (app status %d)\n", *app_status);
            return *app_status ? *app_status : HPK_EXIT_EXEC;
        }
        const char *cr[] = {"-XX:AOTMode=create", rec[1], "-XX:AOTCache=" HPK_TRAIN_FD_PATH "/cache",
                            to_stderr[0], to_stderr[1], to_stderr[2], NULL};
        static const char *const none[] = {NULL}; /* nothing after the class path: create runs no application */
        char **cb = hpk_start_argv(c, rootpath, 0, cr, none, 0, NULL);
        if (c->debug) hpk_start_print_argv(stderr, cb);
        int cs = hpk_start_run_child(c, cb);
        hpk_exec_line_free(cb);
        if (cs != 0) {
            fprintf(stderr, "hpack: training: creating the AOT cache failed\n");
            return HPK_EXIT_EXEC;
        }
    }
    if (fstatat(HPK_TRAIN_FD, "cache", &fs, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(fs.st_mode)) {
        fprintf(stderr, "hpack: training: the JVM wrote no startup cache (app status %d)\n", *app_status);
        return *app_status ? *app_status : HPK_EXIT_EXEC;
    }
    return 0;
}

/* The provenance (docs/format.md 9.3) beside the recorded cache, then
 * PATH.prov and PATH in PATH's directory. 0, or the status to exit with. */
static int publish(const struct hpk_start *c, const char *rootpath, const struct train_dir *t, const char *out)
{
    size_t plen = 0;
    char *prov = hpk_start_prov(c, rootpath, &plen);
    if (!prov) return HPK_EXIT_EXEC;
    char *pfin = hpk_start_fmt("%s.prov%s", t->base, "");
    /* Both files are complete in the private directory before either name
     * appears; a name another user holds in a sticky directory cannot be
     * replaced, and that is an error, not a silent leftover. */
    int f = openat(HPK_TRAIN_FD, "prov", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    int ok = f >= 0 && write(f, prov, plen) == (ssize_t)plen;
    if (f >= 0 && close(f) != 0) ok = 0;
    ok = ok && fchmodat(HPK_TRAIN_FD, "cache", 0644, 0) == 0 && renameat(HPK_TRAIN_FD, "prov", t->parent, pfin) == 0 &&
         renameat(HPK_TRAIN_FD, "cache", t->parent, t->base) == 0;
    if (!ok) fprintf(stderr, "hpack: training: cannot write %s: %s\n", out, strerror(errno));
    free(pfin);
    free(prov);
    return ok ? 0 : HPK_EXIT_UNPACK;
}

char *hpk_start_prov(const struct hpk_start *c, const char *rootpath, size_t *len)
{
    char *prov = NULL;
    size_t plen = 0;
    hpk_start_kv_add(&prov, &plen, "format", "1");
    hpk_start_kv_add(&prov, &plen, "base", c->cf.base_hex);
    hpk_start_kv_add(&prov, &plen, "kind", c->cf.launch.cache_kind);
    hpk_start_kv_add(&prov, &plen, "runtime.version", c->cf.launch.runtime_version ? c->cf.launch.runtime_version : "");
    char *cp = hpk_exec_classpath(&c->cf.launch);
    if (!cp) hpk_start_oom();
    hpk_start_kv_add(&prov, &plen, "classpath", cp);
    free(cp);
    if (hpk_start_conditions(c, rootpath, &prov, &plen) != 0) {
        free(prov);
        return NULL;
    }
    *len = plen;
    return prov;
}

int hpk_start_train(struct hpk_start *c, const char *rootpath, const char *out, int argc, char **argv)
{
    if (!c->cf.launch.cache_kind)
        hpk_start_dief(c, HPK_EXIT_USAGE, "HPACK_TRAIN: this runtime (Java %s) cannot record a startup cache "
             "(JDK 24+, or JDK 13-23 with a base CDS archive lib/server/classes.jsa)",
             c->cf.launch.runtime_version ? c->cf.launch.runtime_version : "?");
    struct train_dir t = {0};
    train_open(c, out, &t);
    hpk_start_forward_signals();
    int app_status = 0;
    int r = record(c, rootpath, argc, argv, &app_status);
    if (r == 0) r = publish(c, rootpath, &t, out);
    train_cleanup(&t);
    if (r != 0) return r;
    if (c->debug) fprintf(stderr, "hpack: training: wrote %s and %s.prov\n", out, out);
    return app_status;
}
