/*
 * main.c - the hpack launcher's start: read the arguments and the
 * environment (HPACK_AOT, HPACK_TRAIN, HPACK_DEBUG, --hpack-*), open our
 * own payload, decide whether the carried startup cache is used, get the
 * unpacked tree (tree.c) and exec the JVM (jvmline.c); training (train.c)
 * and the reporting commands (commands.c) branch off here.
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

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

_Noreturn void hpk_start_die(const struct hpk_start *c, const struct hpk_err *e)
{
    fprintf(stderr, "hpack: %s: %s\n", c->self, e->msg);
    exit(e->code);
}

_Noreturn void hpk_start_dief(const struct hpk_start *c, int code, const char *fmt, const char *arg)
{
    fprintf(stderr, "hpack: %s: ", c->self);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(code);
}

/* Load hpack/launch and the provenance of the cache entry, if any. */
static void load_config(struct hpk_start *c)
{
    struct hpk_err err;
    int r = hpk_config_load(&c->a, &c->cf);
    if (r == HPK_E_TOC_RECORD && !hpk_payload_find(&c->a.p, "hpack/launch"))
        hpk_fail(&err, HPK_EXIT_PAYLOAD, "corrupt payload: no hpack/launch entry");
    else if (r == HPK_E_TOC_RECORD)
        hpk_fail(&err, HPK_EXIT_PAYLOAD, "corrupt payload: hpack/launch is malformed");
    else if (r != HPK_OK)
        hpk_fail(&err, HPK_EXIT_PAYLOAD, "corrupt payload: hpack/launch: %s", hpk_layout_strerror(r));
    if (r != HPK_OK) hpk_start_die(c, &err);
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
         "HPACK_AOT_VARIANT=default|NAME (consider only that startup cache),\n"
         "HPACK_HEAL=on|off (record a host-local startup cache where none applies),\n"
         "HPACK_TRAIN=PATH (record a startup cache to PATH). See docs/launcher.md.");
}

/* Who we are, HPACK_DEBUG, HPACK_AOT and the --hpack-* option, checked
 * before anything is opened; --hpack-help is answered here. The option, or
 * NULL when the arguments are all the application's. */
static const char *read_options(struct hpk_start *c, int argc, char **argv)
{
    c->self = argc > 0 ? argv[0] : "hpack-launcher";
    c->uid = geteuid();
    const char *dbg = getenv("HPACK_DEBUG");
    c->debug = dbg && *dbg && strcmp(dbg, "0") != 0;
    const char *cmd = argc > 1 && !strncmp(argv[1], "--hpack-", 8) ? argv[1] : NULL;
    if (cmd && !strcmp(cmd, "--hpack-help")) {
        usage();
        exit(0);
    }
    const char *aot = getenv("HPACK_AOT");
    if (!aot || !*aot || !strcmp(aot, "auto")) c->aot = HPK_AOT_AUTO;
    else if (!strcmp(aot, "require")) c->aot = HPK_AOT_REQUIRE;
    else if (!strcmp(aot, "off")) c->aot = HPK_AOT_OFF;
    else hpk_start_dief(c, HPK_EXIT_USAGE, "HPACK_AOT=%s: expected auto, require or off", aot);
    if (cmd && strcmp(cmd, "--hpack-info") && strcmp(cmd, "--hpack-extract") && strcmp(cmd, "--hpack-verify") &&
        strcmp(cmd, "--hpack-check"))
        hpk_start_dief(c, HPK_EXIT_USAGE, "unknown launcher option %s (--hpack-* is reserved; see --hpack-help)", cmd);
    return cmd;
}

/* Our own payload: /proc/self/exe's .hpack section, mapped, and its
 * hpack/launch with the cache verdict. */
static void open_self(struct hpk_start *c)
{
    int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0) hpk_start_dief(c, HPK_EXIT_PAYLOAD, "cannot open /proc/self/exe (%s): is /proc mounted?", strerror(errno));
    int r = hpk_artifact_open(self, &c->a);
    if (r == HPK_OK) r = hpk_artifact_map(&c->a);
    if (r != HPK_OK) {
        if (r == HPK_E_NO_SECTION) hpk_start_dief(c, HPK_EXIT_PAYLOAD, "%s", "no payload: this is the bare launcher, build an artifact with 'hpack build'");
        fprintf(stderr, "hpack: %s: corrupt payload: %s%s%s\n", c->self, hpk_layout_strerror(r),
                c->a.err_path[0] ? ": " : "", c->a.err_path);
        exit(HPK_EXIT_PAYLOAD);
    }
    load_config(c);
}

/* --hpack-extract DIR: the payload into a new directory, nothing else. */
static int extract(const struct hpk_start *c, int argc, char **argv)
{
    if (argc != 3) hpk_start_dief(c, HPK_EXIT_USAGE, "%s", "usage: --hpack-extract DIR");
    struct hpk_err xe;
    if (hpk_extract_dir(&c->a, argv[2], &xe) != 0) {
        fprintf(stderr, "hpack: %s: --hpack-extract %s\n", c->self, xe.msg);
        return xe.code;
    }
    printf("%s\n", argv[2]);
    return 0;
}

enum cache_use { USE_NONE, USE_CARRIED, USE_LOCAL };

/* Which cache this start passes: the first carried one bound and
 * predicted to apply on this host (fit.c, docs/launcher.md 9.2), else the
 * host-local one healing made (heal.c, section 10), else none: a warning
 * (auto), or an error (require). Never while training. */
static enum cache_use choose(struct hpk_start *c, struct hpk_heal *h, const char *train_out)
{
    struct hpk_err err;
    struct hpk_nocache no = {0};
    if (train_out) return USE_NONE;
    if (c->aot == HPK_AOT_OFF) {
        if (c->debug) fprintf(stderr, "hpack: no startup cache used: HPACK_AOT=off\n");
        return USE_NONE;
    }
    if (c->cf.cache && hpk_start_choose_cache(c, &no)) return USE_CARRIED;
    if (hpk_heal_look(c, h)) {
        if (c->debug) fprintf(stderr, "hpack: host-local startup cache %s/cache applies: %s\n", h->path, h->why);
        return USE_LOCAL;
    }
    if (c->aot == HPK_AOT_REQUIRE) {
        if (c->cf.cache) hpk_fail(&err, no.code, "HPACK_AOT=require: %s", no.require);
        else hpk_fail(&err, HPK_EXIT_TAMPER, "HPACK_AOT=require: this artifact carries no startup cache%s%s",
                      h->on ? " and the host-local one does not apply: " : "", h->on ? h->why : "");
        hpk_start_die(c, &err);
    }
    if (c->cf.cache) fprintf(stderr, "hpack: %s: warning: startup cache not used: %s\n", c->self, no.warn);
    else if (c->debug) fprintf(stderr, "hpack: no startup cache used: this artifact carries none\n");
    if (c->debug && h->on) fprintf(stderr, "hpack: host-local startup cache: %s\n", h->why);
    else if (c->debug && h->wanted) fprintf(stderr, "hpack: healing: off: %s\n", h->off_why);
    return USE_NONE;
}

int main(int argc, char **argv)
{
    struct hpk_start c;
    memset(&c, 0, sizeof c);
    const char *cmd = read_options(&c, argc, argv);
    /* Unpacking ignores SIGXFSZ (to get EFBIG); the app gets what we got. */
    struct sigaction xfsz;
    sigaction(SIGXFSZ, NULL, &xfsz);
    open_self(&c);
    if (cmd && !strcmp(cmd, "--hpack-extract")) return extract(&c, argc, argv);

    struct hpk_err err;
    const char *train_out = getenv("HPACK_TRAIN");
    if (train_out && !*train_out) train_out = NULL;
    if (cmd && !strcmp(cmd, "--hpack-info")) {
        /* Do not create anything just to print. */
        char dir[4096];
        struct hpk_pick p;
        hpk_launcher_pick(&c.a, &c.cf, 1, &p);
        int want = !train_out && p.idx >= 0 && c.aot != HPK_AOT_OFF ? HPK_TREE_CACHE : 0;
        int st = hpk_start_store_tree(&c, want, dir, sizeof dir);
        if (st >= 0) close(st);
        else hpk_root_default(dir, sizeof dir);
        hpk_start_info(&c, dir, &p);
        return 0;
    }
    if (cmd && !strcmp(cmd, "--hpack-check")) return hpk_start_check(&c);
    struct hpk_heal heal;
    hpk_heal_init(&c, &heal);
    if (cmd || train_out) heal.on = heal.wanted = 0; /* --hpack-verify and training never heal */
    enum cache_use use = choose(&c, &heal, train_out);
    int cache = use == USE_CARRIED;

    char rootpath[4096];
    int verify = cmd && !strcmp(cmd, "--hpack-verify");
    int tree = hpk_start_find_tree(&c, (cache ? HPK_TREE_CACHE : 0) | (verify ? HPK_TREE_ALL : 0), rootpath,
                                   sizeof rootpath);
    if (cache && !verify && (c.tree_lacks & HPK_TREE_CACHE)) { /* a read-only root's tree: the cache cannot be added */
        if (c.aot == HPK_AOT_REQUIRE) {
            hpk_fail(&err, HPK_EXIT_TAMPER, "HPACK_AOT=require: the startup cache is not in %.3000s/%s, and the "
                     "cache directory is read-only", rootpath, c.cf.base_hex);
            hpk_start_die(&c, &err);
        }
        fprintf(stderr, "hpack: %s: warning: startup cache not used: it is not in %s/%s, and the cache directory "
                "is read-only\n", c.self, rootpath, c.cf.base_hex);
        use = USE_NONE;
        cache = 0;
    }
    if (verify) {
        /* What a read-only root's tree lacks and cannot get is not checked. */
        const char *defer = c.tree_lacks & HPK_TREE_ALL ? c.cf.launch.java : NULL;
        if (hpk_verify_tree(&c.a, tree, defer, HPK_VERIFY_BYTES, &err) != 0) hpk_start_die(&c, &err);
        printf("%s/%s: all %u entries match the payload\n", rootpath, c.cf.base_hex, c.a.p.count);
        return 0;
    }
    hpk_start_pin(&c, tree);
    hpk_start_env(&c, rootpath);
    sigaction(SIGXFSZ, &xfsz, NULL);
    if (train_out) return hpk_start_train(&c, rootpath, train_out, argc - 1, argv + 1);

    if (use == USE_NONE && hpk_heal_record(&c, &heal, rootpath, argc - 1, argv + 1) < 0 && c.debug && heal.on)
        fprintf(stderr, "hpack: healing: not recording: %s\n", heal.why);
    if (use == USE_LOCAL) {
        hpk_heal_pin(&c, &heal);
        c.local_cache = HPK_HEAL_CACHE_PATH;
    }
    char **b = hpk_start_argv(&c, rootpath, use != USE_NONE, NULL, NULL, argc - 1, argv + 1);
    if (c.debug) {
        fputs("hpack: exec ", stderr);
        hpk_start_print_argv(stderr, b);
    }
    hpk_start_exec(&c, b);
    hpk_fail(&err, HPK_EXIT_EXEC, "cannot run %s: %s", b[0], strerror(errno));
    hpk_start_die(&c, &err);
}
