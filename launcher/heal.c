/*
 * heal.c - healing (docs/launcher.md 9.3): where no carried startup cache
 * applies on this host, or the artifact carries none, record one from a
 * real run of the application, create it after the application has exited
 * in a detached process, and pass it from the next start on. Opt-in
 * (hpack build --heal, HPACK_HEAL=on): a recording run costs about twice
 * the CPU of a plain one, and a container that starts from an empty cache
 * every time would pay that on every start and never profit.
 *
 * The host-local cache lives in <cache root>/<base hash>.heal/, a 0700
 * directory of the user's below the checked cache root:
 *   cache, cache.prov  the cache and its provenance (base, kind, runtime,
 *                      class path, conditions, and the file's identity:
 *                      layout/config.c hpk_cache_trust_local)
 *   lock               flock'ed by the one start that records, and by its
 *                      creator until the cache is published
 *   rec/               the recording in progress (private, removed after)
 *   failed             one byte per failed recording; healing stops at 3
 * Every way this can go wrong (a concurrent first start, a killed
 * recording, a full disk, a tampered cache) ends in a plain uncached start,
 * never in a failure of the application or a stale cache.
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEAL_MAX_FAILS 3
#define HEAL_PROV_MAX (1 << 20)

/* Options that healing must not meet: the user's own cache or sharing
 * settings (record mode would fight them: -Xshare:off makes it fail to
 * start), and VM output the user asked for (the recording run silences the
 * VM's own output, so that its "AOTConfiguration recorded" line never
 * reaches the application's stdout). */
static const char *conflicting_option(const struct hpk_start *c)
{
    static const char *const bad[] = {"-Xshare", "AOTMode", "AOTCache", "AOTConfiguration", "SharedArchiveFile",
                                      "ArchiveClassesAtExit", "AutoCreateSharedArchive", "-XX:+Print",
                                      "DisplayVMOutput", "LogVMOutput"};
    const char *env[] = {getenv("JAVA_TOOL_OPTIONS"), getenv("JDK_JAVA_OPTIONS"), getenv("HPACK_JAVA_OPTS"),
                         getenv("_JAVA_OPTIONS")};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        for (size_t i = 0; i < c->cf.launch.n_jvm; i++)
            if (strstr(c->cf.launch.jvm[i], bad[k])) return bad[k];
        for (size_t i = 0; i < sizeof env / sizeof *env; i++)
            if (env[i] && strstr(env[i], bad[k])) return bad[k];
    }
    return NULL;
}

void hpk_heal_init(const struct hpk_start *c, struct hpk_heal *h)
{
    memset(h, 0, sizeof *h);
    h->dir = h->cache = -1;
    h->root.fd = -1;
    const char *v = getenv("HPACK_HEAL");
    if (v && *v && strcmp(v, "on") && strcmp(v, "1") && strcmp(v, "off") && strcmp(v, "0"))
        hpk_start_dief(c, HPK_EXIT_USAGE, "HPACK_HEAL=%s: expected on or off", v);
    if (v && *v) h->on = !strcmp(v, "on") || !strcmp(v, "1");
    else h->on = c->cf.launch.heal && !strcmp(c->cf.launch.heal, "on");
    h->wanted = h->on;
    const char *bad;
    if (!h->on) h->off_why = v && *v ? "HPACK_HEAL=off" : "healing is off (hpack build --heal or HPACK_HEAL=on)";
    else if (c->aot == HPK_AOT_OFF) h->off_why = "HPACK_AOT=off";
    else if (!c->cf.launch.cache_kind) h->off_why = "this runtime cannot record a startup cache";
    else if (strcmp(c->cf.launch.cache_kind, "aot") != 0)
        h->off_why = "healing records AOT caches (JDK 24+); a CDS archive is written at the JVM's exit, "
                     "which would delay the application's";
    else if ((bad = conflicting_option(c))) {
        snprintf(h->why, sizeof h->why, "the JVM options in force set %s", bad);
        h->off_why = h->why;
    }
    if (h->off_why) h->on = 0;
}

static int read_prov(int dir, char **out, size_t *len)
{
    int fd = openat(dir, "cache.prov", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return -1;
    char *b = NULL;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < HEAL_PROV_MAX &&
             (b = malloc((size_t)st.st_size + 1)) && read(fd, b, (size_t)st.st_size) == st.st_size;
    close(fd);
    if (!ok || b[st.st_size - 1] != 0) {
        free(b);
        return -1;
    }
    b[st.st_size] = 0;
    *out = b;
    *len = (size_t)st.st_size;
    return 0;
}

/* Open the heal directory (made 0700 first when `create`) and check it
 * like the tree: ours, not writable by others. 0; or, with h->why and
 * h->dir -1, -1 when it cannot be made or opened, -2 when it fails the check. */
static int open_dir(const struct hpk_start *c, struct hpk_heal *h, int create)
{
    struct hpk_err e;
    char name[64];
    snprintf(name, sizeof name, "%s.heal", c->cf.base_hex);
    if (create && mkdirat(h->root.fd, name, 0700) != 0 && errno != EEXIST) {
        snprintf(h->why, sizeof h->why, "cannot make %s: %s", h->path, strerror(errno));
        return -1;
    }
    h->dir = openat(h->root.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (h->dir < 0) {
        snprintf(h->why, sizeof h->why, "%s: %s", h->path, strerror(errno));
        return -1;
    }
    if (hpk_dir_secure(h->dir, h->path, &e) != 0) {
        snprintf(h->why, sizeof h->why, "%s", e.msg);
        close(h->dir);
        h->dir = -1;
        return -2;
    }
    return 0;
}

/* The cache in the open heal directory: there, bound, unchanged since the
 * launcher made it, and predicted to apply? Judged through a descriptor,
 * which is what is passed (hpk_heal_pin): a creator publishing another
 * cache meanwhile renames over the name, not over this file. The file is
 * opened before its provenance is read, and a creator removes the old
 * provenance before it renames the new cache in: a provenance read after
 * that describes the new file, whose identity is not this one's. */
static int judge(const struct hpk_start *c, struct hpk_heal *h)
{
    char *prov = NULL;
    size_t plen = 0;
    struct stat st;
    if (h->cache >= 0) close(h->cache); /* judged before (hpk_heal_record judges again, locked) */
    h->cache = openat(h->dir, "cache", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (h->cache < 0 || fstat(h->cache, &st) != 0 || read_prov(h->dir, &prov, &plen) != 0) {
        if (h->cache >= 0) close(h->cache);
        h->cache = -1;
        snprintf(h->why, sizeof h->why, "none recorded yet");
        return 0;
    }
    h->present = 1;
    if (hpk_cache_trust_local(prov, plen, c->cf.base_hex, c->cf.launch.cache_kind, c->cf.launch.runtime_version, &st,
                              (unsigned)c->uid, h->why, sizeof h->why) != HPK_TRUST_OK) {
        free(prov);
        return 0;
    }
    hpk_launcher_fit_prov(&c->cf, prov, plen, &h->fit);
    free(prov);
    snprintf(h->why, sizeof h->why, "%s", h->fit.why);
    h->usable = h->fit.fit != HPK_FIT_NO;
    return h->usable;
}

int hpk_heal_look(struct hpk_start *c, struct hpk_heal *h)
{
    if (!h->on) return 0;
    struct hpk_err e;
    if (hpk_root_open(&h->root, c->debug, &e) != 0) {
        snprintf(h->why, sizeof h->why, "no cache root: %s", e.msg);
        h->on = 0, h->off_why = h->why;
        return 0;
    }
    c->root = &h->root;
    snprintf(h->path, sizeof h->path, "%s/%s.heal", h->root.path, c->cf.base_hex);
    int r = open_dir(c, h, 0);
    if (r == -1) snprintf(h->why, sizeof h->why, "none recorded yet");
    if (r == -2) h->on = 0, h->off_why = h->why; /* not ours, or writable by others: never read, never written */
    if (r != 0) return 0;
    return judge(c, h);
}

void hpk_heal_pin(const struct hpk_start *c, struct hpk_heal *h)
{
    struct hpk_err e;
#ifdef HPK_TEST_HOOKS
    /* Test builds only: what another start's creator may do between the
     * judging and the exec, rename a new file over `cache`. */
    const char *swap = getenv("HPACK_TEST_HEAL_SWAP");
    if (swap && *swap && renameat(h->dir, swap, h->dir, "cache") != 0)
        hpk_start_dief(c, HPK_EXIT_USAGE, "HPACK_TEST_HEAL_SWAP=%s: cannot rename it", swap);
#endif
    if (dup2(h->cache, HPK_HEAL_FD) < 0 || fcntl(HPK_HEAL_FD, F_SETFD, 0) != 0) {
        hpk_fail(&e, HPK_EXIT_EXEC, "cannot keep the host-local cache open at descriptor %d: %s", HPK_HEAL_FD,
                 strerror(errno));
        hpk_start_die(c, &e);
    }
}

/* One more failed recording (healing stops after HEAL_MAX_FAILS). */
static void note_failure(int dir)
{
    int f = openat(dir, "failed", O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f >= 0) {
        if (write(f, "x", 1) != 1) { /* nothing better to do: the next start records again */
        }
        close(f);
    }
}

/* Room for the recording: the configuration and the cache hold at most
 * what the JVM loads, the runtime's modules and the class path, so twice
 * those plus 64 MiB leaves the disk usable for the application. The JVM
 * writes its configuration at exit, and a write that fails there makes it
 * exit 1: this check is what keeps a nearly full disk from failing the
 * application (docs/launcher.md 9.3 says what remains). */
static int enough_room(const struct hpk_start *c, int dir, char *why, size_t n)
{
    uint64_t need = 64ull << 20;
    const struct hpk_entry *m = hpk_payload_find(&c->a.p, "runtime/lib/modules");
    if (m) need += 2 * m->size;
    for (size_t i = 0; i < c->cf.launch.n_cp; i++) {
        const struct hpk_entry *e = hpk_payload_find(&c->a.p, c->cf.launch.cp[i]);
        if (e) need += 2 * e->size;
    }
    struct statvfs vs;
    if (fstatvfs(dir, &vs) != 0) {
        snprintf(why, n, "cannot see the free space: %s", strerror(errno));
        return 0;
    }
    uint64_t avail = (uint64_t)vs.f_bavail * vs.f_frsize;
    if (avail < need) {
        snprintf(why, n, "%llu MB free, recording needs %llu MB", (unsigned long long)(avail >> 20),
                 (unsigned long long)(need >> 20));
        return 0;
    }
    return 1;
}

/* The heal directory made (0700) if missing and checked; the recording
 * lock taken without waiting; room and the failure count checked; a fresh
 * rec/ at HPK_TRAIN_FD. Returns the lock's descriptor, or -1 with h->why. */
static int prepare(const struct hpk_start *c, struct hpk_heal *h)
{
    if (h->dir < 0 && open_dir(c, h, 1) != 0) return -1;
    int lock = openat(h->dir, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
        snprintf(h->why, sizeof h->why, "%s",
                 lock >= 0 && errno == EWOULDBLOCK ? "another start is recording" : strerror(errno));
        if (lock >= 0) close(lock);
        return -1;
    }
    /* Another start may have published one since we looked: use it next time. */
    if (judge(c, h)) {
        snprintf(h->why, sizeof h->why, "another start has just recorded one");
        close(lock);
        return -1;
    }
    struct stat st;
    if (fstatat(h->dir, "failed", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_size >= HEAL_MAX_FAILS) {
        snprintf(h->why, sizeof h->why, "%lld recordings failed; remove %s to try again", (long long)st.st_size,
                 h->path);
        close(lock);
        return -1;
    }
    hpk_rm_rf(h->dir, "rec"); /* a recording killed before it ended: we hold the lock */
    if (!enough_room(c, h->dir, h->why, sizeof h->why)) {
        close(lock);
        return -1;
    }
    int rec = -1;
    if (mkdirat(h->dir, "rec", 0700) != 0 ||
        (rec = openat(h->dir, "rec", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
        dup2(rec, HPK_TRAIN_FD) < 0 || fcntl(HPK_TRAIN_FD, F_SETFD, 0) != 0) {
        snprintf(h->why, sizeof h->why, "cannot make %s/rec: %s", h->path, strerror(errno));
        if (rec >= 0) close(rec), close(HPK_TRAIN_FD);
        hpk_rm_rf(h->dir, "rec");
        close(lock);
        return -1;
    }
    close(rec);
    return lock;
}

/* Exit as the application did: its status, or the same signal. */
static _Noreturn void exit_like(int st)
{
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        signal(sig, SIG_DFL);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, sig);
        sigprocmask(SIG_UNBLOCK, &s, NULL);
        raise(sig);
        exit(128 + sig);
    }
    exit(WIFEXITED(st) ? WEXITSTATUS(st) : HPK_EXIT_EXEC);
}

/* In the detached creator: the create step, the provenance, then cache and
 * cache.prov published into the heal directory. 0, or -1. */
static int create(const struct hpk_start *c, int dir, const char *rootpath)
{
    const char *cr[] = {"-XX:AOTMode=create", "-XX:AOTConfiguration=" HPK_TRAIN_FD_PATH "/aotconf",
                        "-XX:AOTCache=" HPK_TRAIN_FD_PATH "/cache", NULL};
    static const char *const none[] = {NULL}; /* the create step runs no application */
    char **v = hpk_start_argv(c, rootpath, 0, cr, none, 0, NULL);
    int st = hpk_start_run_child(c, v);
    hpk_exec_line_free(v);
    struct stat fs;
    if (st != 0 || fstatat(HPK_TRAIN_FD, "cache", &fs, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(fs.st_mode)) return -1;
    /* Nobody waits for the creator: the cache's bytes reach the disk before
     * it is published, so a crash of the machine cannot leave a published
     * cache of zeros (the trees' answer, a check after a restart, is
     * docs/launcher.md 5.2). The renames need no sync: lost, they leave
     * no cache, and the next start heals again. */
    int cf = openat(HPK_TRAIN_FD, "cache", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int synced = cf >= 0 && fsync(cf) == 0;
    if (cf >= 0) close(cf);
    if (!synced) return -1;
    size_t plen = 0, ilen = 0;
    char *prov = hpk_start_prov(c, rootpath, &plen);
    if (!prov) return -1;
    /* The old provenance goes first: no start pairs it with the new file
     * (the identity would not match anyway). The identity is taken after
     * the rename, which sets the change time. */
    unlinkat(dir, "cache.prov", 0);
    char *id = NULL;
    int ok = fchmodat(HPK_TRAIN_FD, "cache", 0600, 0) == 0 && renameat(HPK_TRAIN_FD, "cache", dir, "cache") == 0 &&
             fstatat(dir, "cache", &fs, AT_SYMLINK_NOFOLLOW) == 0 && (id = hpk_cache_local_records(&fs, &ilen));
    char *all = ok ? realloc(prov, plen + ilen) : NULL;
    if (all) {
        prov = all;
        memcpy(prov + plen, id, ilen);
        plen += ilen;
    }
    int f = all ? openat(HPK_TRAIN_FD, "prov", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
    ok = f >= 0 && write(f, prov, plen) == (ssize_t)plen && fsync(f) == 0;
    if (f >= 0 && close(f) != 0) ok = 0;
    ok = ok && renameat(HPK_TRAIN_FD, "prov", dir, "cache.prov") == 0;
    free(id);
    free(prov);
    return ok ? 0 : -1;
}

/* The creator: a grandchild in its own session (setsid), so that it
 * outlives us and no terminal signal meant for the application reaches it;
 * stdin, stdout and stderr on /dev/null, so that whoever reads the
 * application's output sees its end when the application ends; at a lower
 * priority, the application's successor comes first. It holds the lock
 * (inherited) until it exits. */
static void spawn_creator(const struct hpk_start *c, int dir, int lock, const char *rootpath)
{
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) return;
    if (p == 0) {
        setsid();
        if (fork() != 0) _exit(0);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) dup2(null, 0), dup2(null, 1), dup2(null, 2);
        /* No other descriptor of the launcher's either (a pipe the caller
         * passed as descriptor 3 would not see its end): only the heal
         * directory and its lock, moved up, rec/ (249) and the tree (250). */
        if (dup3(dir, HPK_HEAL_FD - 2, O_CLOEXEC) < 0 || dup3(lock, HPK_HEAL_FD - 1, O_CLOEXEC) < 0) _exit(0);
        dir = HPK_HEAL_FD - 2;
        close_range(3, HPK_HEAL_FD - 3, 0);
        close_range(HPK_HEAL_FD, HPK_HEAL_FD, 0);
        close_range(HPK_TREE_FD + 1, ~0U, 0);
        static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE};
        for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) signal(sigs[i], SIG_DFL);
        setpriority(PRIO_PROCESS, 0, 10);
        if (create(c, dir, rootpath) == 0) unlinkat(dir, "failed", 0);
        else note_failure(dir);
        hpk_rm_rf(dir, "rec");
        _exit(0);
    }
    while (waitpid(p, NULL, 0) < 0 && errno == EINTR) {
    }
}

int hpk_heal_record(struct hpk_start *c, struct hpk_heal *h, const char *rootpath, int argc, char **argv)
{
    if (!h->on) return -1;
    int lock = prepare(c, h);
    if (lock < 0) return -1;
    /* The application as it would run, in record mode, the VM's own output
     * silenced (see conflicting_option): record mode prints a line on
     * stdout at exit, and the unified log's default (warnings on stdout)
     * gets "[aot] Skipping ..." lines for classes it cannot archive. */
    const char *rec[] = {"-XX:AOTMode=record", "-XX:AOTConfiguration=" HPK_TRAIN_FD_PATH "/aotconf",
                         "-XX:+UnlockDiagnosticVMOptions", "-XX:-DisplayVMOutput", hpk_start_cache_log(c, 0), NULL};
    char **b = hpk_start_argv(c, rootpath, 0, rec, NULL, argc, argv);
    if (c->debug) {
        fprintf(stderr, "hpack: healing: recording a host-local startup cache in %s\nhpack: exec ", h->path);
        hpk_start_print_argv(stderr, b);
    }
    hpk_start_forward_signals();
    int st = hpk_start_run_child(c, b);
    hpk_exec_line_free(b);
    if (st < 0) {
        /* Not started (fork failed): the plain start, nothing lost. */
        snprintf(h->why, sizeof h->why, "cannot start the recording: %s", strerror(errno));
        close(HPK_TRAIN_FD); /* not for the plain JVM */
        hpk_rm_rf(h->dir, "rec");
        close(lock);
        return -1;
    }
    struct stat fs;
    if (fstatat(HPK_TRAIN_FD, "aotconf", &fs, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(fs.st_mode) && fs.st_size > 0) {
        spawn_creator(c, h->dir, lock, rootpath);
    } else {
        /* Killed, or the JVM could not write it: this start is over. */
        note_failure(h->dir);
        hpk_rm_rf(h->dir, "rec");
    }
    close(lock); /* the creator holds its own reference until it is done */
    exit_like(st);
}
