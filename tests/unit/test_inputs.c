/*
 * test_inputs.c - cmocka unit tests for the input services: the directory
 * walk's symlink rules (packer/treewalk.c, docs/format.md 10.4) on trees
 * made in a temporary directory, the link arithmetic behind the copies
 * (packer/linkpath.c), and a mapped input read through its file
 * (packer/inputfile.c; built with the test hooks for HPACK_TEST_MAP).
 *
 *   make build/test_inputs && build/test_inputs
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../packer/hpk_inputs.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

/* ---- a scratch directory: D/tree is read, D/out lies outside it ---- */

static char D[64];

static int setup(void **state)
{
    (void)state;
    snprintf(D, sizeof D, "/tmp/hpack-inputs.XXXXXX");
    if (!mkdtemp(D)) return -1;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/tree", D);
    if (mkdir(p, 0755) != 0) return -1;
    snprintf(p, sizeof p, "%s/out", D);
    return mkdir(p, 0755);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", D);
    return system(cmd);
}

/* D/rel, in a static buffer (one at a time). */
static const char *at(const char *rel)
{
    static char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", D, rel);
    return p;
}

static void mk(const char *rel) { assert_int_equal(mkdir(at(rel), 0755), 0); }

static void wr(const char *rel, const char *text, mode_t mode)
{
    FILE *f = fopen(at(rel), "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(at(rel), mode), 0);
}

static void ln(const char *target, const char *rel)
{
    char t[PATH_MAX];
    snprintf(t, sizeof t, "%s", target); /* at(): one buffer */
    assert_int_equal(symlink(t, at(rel)), 0);
}

static const struct hpk_tree_dst RT = {NULL, "runtime", HPK_ROLE_RUNTIME, HPK_ST_RUNTIME};

/* Read D/tree below runtime/; returns hpk_snapshot_tree's result. */
static int read_tree(struct hpk_snapshot *s, struct hpk_err *e)
{
    memset(s, 0, sizeof *s);
    memset(e, 0, sizeof *e);
    return hpk_snapshot_tree(s, at("tree"), &RT, e);
}

static const struct hpk_item *item(struct hpk_snapshot *s, const char *path)
{
    const struct hpk_item *it = hpk_snapshot_find(s, path);
    if (!it) fail_msg("no item %s", path);
    return it;
}

static void assert_link(struct hpk_snapshot *s, const char *path, const char *target)
{
    const struct hpk_item *it = item(s, path);
    if (!S_ISLNK(it->mode)) fail_msg("%s: not a link (mode %o)", path, (unsigned)it->mode);
    assert_int_equal(it->size, strlen(target));
    assert_memory_equal(it->data, target, it->size);
}

static void assert_file(struct hpk_snapshot *s, const char *path, const char *content, uint32_t mode)
{
    const struct hpk_item *it = item(s, path);
    if (it->mode != mode) fail_msg("%s: mode %o, want %o", path, (unsigned)it->mode, (unsigned)mode);
    assert_int_equal(it->size, strlen(content));
    assert_memory_equal(it->data, content, it->size);
    uint8_t h[16];
    hpk_hash_bytes(content, strlen(content), h);
    assert_memory_equal(it->hash, h, 16);
}

static void assert_dir(struct hpk_snapshot *s, const char *path)
{
    const struct hpk_item *it = item(s, path);
    if (it->mode != (S_IFDIR | 0755)) fail_msg("%s: not a directory entry (mode %o)", path, (unsigned)it->mode);
}

/* The walk fails with the runtime's status and a message that starts with
 * the path (below D) it is about and contains `why`. */
static void assert_refused(const char *rel, const char *why)
{
    struct hpk_snapshot s;
    struct hpk_err e;
    assert_int_not_equal(read_tree(&s, &e), 0);
    assert_int_equal(e.code, HPK_ST_RUNTIME);
    const char *p = at(rel);
    if (strncmp(e.msg, p, strlen(p)) != 0 || !strstr(e.msg, why))
        fail_msg("message \"%s\": want \"%s: ...%s...\"", e.msg, p, why);
    hpk_snapshot_free(&s);
}

/* ---- the rules ---- */

/* A relative link that stays inside without passing through another link
 * is kept as written, to a file, a directory, the tree's root or a link. */
/* The path index: every item found after appends that grow the table,
 * none that is absent, the first of two items of one path, and the same
 * after the items were reordered and removed (reindexed) - the readers
 * look paths up after each of those. */
static int by_path_desc(const void *a, const void *b)
{
    return -strcmp(((const struct hpk_item *)a)->path, ((const struct hpk_item *)b)->path);
}

static void test_snapshot_index(void **state)
{
    (void)state;
    struct hpk_snapshot s = {0};
    char p[64];
    assert_null(hpk_snapshot_find(&s, "app"));
    for (int i = 0; i < 5000; i++) {
        snprintf(p, sizeof p, "app/d%d/f%d", i % 37, i);
        assert_non_null(hpk_snapshot_add(&s, p, S_IFREG | 0644, 0));
        if (i % 997 == 0) assert_string_equal(hpk_snapshot_find(&s, p)->path, p); /* the table grows between */
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(p, sizeof p, "app/d%d/f%d", i % 37, i);
        struct hpk_item *it = hpk_snapshot_find(&s, p);
        assert_non_null(it);
        assert_ptr_equal(it, &s.items[i]);
    }
    assert_null(hpk_snapshot_find(&s, "app/d0/f1"));
    assert_false(hpk_snapshot_has(&s, "app/d0"));
    hpk_snapshot_add(&s, "app/d1/f1", S_IFDIR | 0755, 0); /* a second item of one path */
    assert_ptr_equal(hpk_snapshot_find(&s, "app/d1/f1"), &s.items[1]);
    /* Reordered: the index follows once told. */
    qsort(s.items, s.n, sizeof *s.items, by_path_desc);
    hpk_snapshot_reindex(&s);
    for (size_t i = 0; i < s.n; i++) assert_string_equal(hpk_snapshot_find(&s, s.items[i].path)->path, s.items[i].path);
    /* Removed: the last 4000 (fewer items than entered: found without being told). */
    for (size_t i = 1001; i < s.n; i++) free(s.items[i].path);
    s.n = 1001;
    for (size_t i = 0; i < s.n; i++) assert_ptr_equal(hpk_snapshot_find(&s, s.items[i].path), &s.items[i]);
    assert_null(hpk_snapshot_find(&s, "app/d0/f0")); /* sorted descending: f0 was near the end */
    hpk_snapshot_free(&s);
}

static void test_relative_links_inside_kept(void **state)
{
    (void)state;
    mk("tree/lib");
    mk("tree/bin");
    wr("tree/lib/libjvm.so", "elf", 0755);
    ln("../lib/libjvm.so", "tree/bin/jvm");
    ln("lib", "tree/libdir");
    ln("./../lib/./libjvm.so", "tree/bin/longway");
    ln("..", "tree/lib/up");
    ln(".", "tree/self");        /* to its own directory: a link, not a loop */
    ln("../bin/jvm", "tree/lib/tolink"); /* to a link: kept too */
    struct hpk_snapshot s;
    struct hpk_err e;
    assert_int_equal(read_tree(&s, &e), 0);
    assert_dir(&s, "runtime");
    assert_file(&s, "runtime/lib/libjvm.so", "elf", S_IFREG | 0755);
    assert_link(&s, "runtime/bin/jvm", "../lib/libjvm.so");
    assert_link(&s, "runtime/libdir", "lib");
    assert_link(&s, "runtime/bin/longway", "./../lib/./libjvm.so");
    assert_link(&s, "runtime/lib/up", "..");
    assert_link(&s, "runtime/self", ".");
    assert_link(&s, "runtime/lib/tolink", "../bin/jvm");
    assert_null(hpk_snapshot_find(&s, "runtime/libdir/libjvm.so")); /* a kept link is not followed */
    hpk_snapshot_free(&s);
}

/* A link leaving the tree, relative or absolute, is materialised: a file's
 * content (its mode from the target's x bits), a directory's copy. An
 * absolute link into the tree itself is materialised too (a payload holds
 * no absolute target). */
static void test_escaping_and_absolute_links_materialised(void **state)
{
    (void)state;
    wr("out/notice.txt", "outside", 0644);
    wr("out/tool", "#!/bin/sh\n", 0700);
    mk("out/docs");
    wr("out/docs/a.html", "<p>", 0644);
    wr("tree/inside", "in", 0644);
    ln("../out/notice.txt", "tree/notice");
    ln(at("out/tool"), "tree/tool");
    ln(at("out/docs"), "tree/docs");
    ln(at("tree/inside"), "tree/absin");
    ln("../tree/inside", "tree/outandback"); /* leaves the root on the way: not a kept link */
    struct hpk_snapshot s;
    struct hpk_err e;
    assert_int_equal(read_tree(&s, &e), 0);
    assert_file(&s, "runtime/notice", "outside", S_IFREG | 0644);
    assert_file(&s, "runtime/tool", "#!/bin/sh\n", S_IFREG | 0755);
    assert_dir(&s, "runtime/docs");
    assert_file(&s, "runtime/docs/a.html", "<p>", S_IFREG | 0644);
    assert_file(&s, "runtime/absin", "in", S_IFREG | 0644);
    assert_file(&s, "runtime/outandback", "in", S_IFREG | 0644);
    /* the content comes from where the link points, named as the link */
    assert_string_equal(item(&s, "runtime/notice")->source, at("tree/notice"));
    hpk_snapshot_free(&s);
}

/* A link through another link is materialised; a link inside a
 * materialised directory is judged where it really is and, kept, points
 * at the same place from its copy (docs/format.md 10.4's example). */
static void test_links_through_links_and_in_copies(void **state)
{
    (void)state;
    mk("tree/conf");
    mk("tree/lib");
    wr("tree/conf/settings", "k=v", 0644);
    ln("../conf", "tree/lib/confdir");
    ln("confdir/settings", "tree/lib/chain"); /* through lib/confdir */
    mk("out/versions");
    mk("out/versions/1.2");
    wr("out/versions/1.2/libbar.so", "bar", 0644);
    wr("out/other", "o", 0644);
    ln("libbar.so", "out/versions/1.2/x");   /* inside the copied directory: to the copy's own */
    ln("../../other", "out/versions/1.2/o"); /* leaves the copied directory: materialised */
    ln(at("out/versions/1.2"), "tree/lib/current");
    struct hpk_snapshot s;
    struct hpk_err e;
    assert_int_equal(read_tree(&s, &e), 0);
    assert_link(&s, "runtime/lib/confdir", "../conf");
    assert_file(&s, "runtime/lib/chain", "k=v", S_IFREG | 0644);
    assert_dir(&s, "runtime/lib/current");
    assert_file(&s, "runtime/lib/current/libbar.so", "bar", S_IFREG | 0644);
    assert_link(&s, "runtime/lib/current/x", "libbar.so");
    assert_file(&s, "runtime/lib/current/o", "o", S_IFREG | 0644);
    hpk_snapshot_free(&s);
}

/* A dangling link, and links that loop among themselves (the kernel says
 * ELOOP: they name nothing), are skipped; the rest of the tree is read. */
static void test_dangling_and_looping_links_skipped(void **state)
{
    (void)state;
    wr("tree/real", "r", 0644);
    ln("nowhere/x", "tree/dangling");
    ln("b", "tree/a");
    ln("a", "tree/b");
    ln("me", "tree/me");
    struct hpk_snapshot s;
    struct hpk_err e;
    assert_int_equal(read_tree(&s, &e), 0);
    assert_file(&s, "runtime/real", "r", S_IFREG | 0644);
    const char *gone[] = {"runtime/dangling", "runtime/a", "runtime/b", "runtime/me"};
    for (int i = 0; i < 4; i++)
        if (hpk_snapshot_find(&s, gone[i])) fail_msg("%s should have been skipped", gone[i]);
    assert_int_equal(s.n, 2);
    hpk_snapshot_free(&s);
}

/* A materialised link to a directory that contains it would copy itself
 * forever: refused, naming the link. */
static void test_link_to_containing_directory_refused(void **state)
{
    (void)state;
    mk("tree/lib");
    ln(at("tree"), "tree/lib/root");
    assert_refused("tree/lib/root", "symlink to a directory that contains it (a loop)");
}

/* The same loop through a directory outside: tree/ext -> out/d, whose link
 * back -> tree holds tree/ext again. */
static void test_loop_through_outside_refused(void **state)
{
    (void)state;
    mk("out/d");
    ln(at("tree"), "out/d/back");
    ln(at("out/d"), "tree/ext");
    struct hpk_snapshot s;
    struct hpk_err e;
    assert_int_not_equal(read_tree(&s, &e), 0);
    assert_int_equal(e.code, HPK_ST_RUNTIME);
    if (!strstr(e.msg, "symlink to a directory that contains it (a loop)") || !strstr(e.msg, "tree/ext"))
        fail_msg("message \"%s\"", e.msg);
    hpk_snapshot_free(&s);
}

/* One directory reached twice (two links to it, or read as two trees) is
 * copied whole each time: only a copy inside itself is a loop. */
static void test_directory_given_twice(void **state)
{
    (void)state;
    mk("out/shared");
    wr("out/shared/f", "s", 0644);
    ln("f", "out/shared/g");
    ln(at("out/shared"), "tree/one");
    ln("../out/shared", "tree/two");
    struct hpk_snapshot s;
    struct hpk_err e;
    assert_int_equal(read_tree(&s, &e), 0);
    for (int i = 0; i < 2; i++) {
        char p[64];
        snprintf(p, sizeof p, "runtime/%s/f", i ? "two" : "one");
        assert_file(&s, p, "s", S_IFREG | 0644);
        snprintf(p, sizeof p, "runtime/%s/g", i ? "two" : "one");
        assert_link(&s, p, "f");
    }
    /* and as a second tree (--runtime and --app-dist the same directory) */
    static const struct hpk_tree_dst app = {NULL, "app", HPK_ROLE_CLASSPATH, HPK_ST_CLASSPATH};
    size_t n = s.n;
    assert_int_equal(hpk_snapshot_tree(&s, at("tree"), &app, &e), 0);
    assert_int_equal(s.n, 2 * n);
    for (size_t i = 0; i < n; i++) {
        const struct hpk_item *r = &s.items[i], *a = &s.items[n + i];
        assert_string_equal(a->path + 3, r->path + 7); /* "app..." against "runtime..." */
        assert_int_equal(a->mode, r->mode);
        assert_int_equal(a->size, r->size);
        assert_int_equal(a->role, HPK_ROLE_CLASSPATH);
    }
    hpk_snapshot_free(&s);
}

/* Entries come in bytewise name order, whatever order the directory has. */
static void test_sorted_bytewise(void **state)
{
    (void)state;
    const char *names[] = {"b", "a", "B", "a.b", "a-b", "_"};
    for (int i = 0; i < 6; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "tree/%s", names[i]);
        wr(rel, names[i], 0644);
    }
    struct hpk_snapshot s;
    struct hpk_err e;
    assert_int_equal(read_tree(&s, &e), 0);
    const char *want[] = {"runtime", "runtime/B", "runtime/_", "runtime/a", "runtime/a-b", "runtime/a.b", "runtime/b"};
    assert_int_equal(s.n, 7);
    for (int i = 0; i < 7; i++) assert_string_equal(s.items[i].path, want[i]);
    hpk_snapshot_free(&s);
}

/* A fifo, a socket, a device: not a file, directory or symlink. */
static void test_fifo_refused(void **state)
{
    (void)state;
    mk("tree/sub");
    assert_int_equal(mkfifo(at("tree/sub/fifo"), 0644), 0);
    assert_refused("tree/sub/fifo", "not a file, directory or symlink");
}

static void test_socket_refused(void **state)
{
    (void)state;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", at("tree/sock"));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_refused("tree/sock", "not a file, directory or symlink");
    close(fd);
}

static void test_device_refused(void **state)
{
    (void)state;
    /* a character device like /dev/null; making one needs CAP_MKNOD */
    if (mknod(at("tree/null"), S_IFCHR | 0666, makedev(1, 3)) != 0)
        fail_msg("mknod %s: %s (this test needs CAP_MKNOD: run it as root)", at("tree/null"), strerror(errno));
    assert_refused("tree/null", "not a file, directory or symlink");
}

/* A link to a device is materialised, hence refused too. */
static void test_link_to_device_refused(void **state)
{
    (void)state;
    ln("/dev/null", "tree/null");
    assert_refused("tree/null", "symlink to /dev/null, not a regular file");
}

/* Errors during the walk name the path they are about. */
static void test_walk_errors_name_the_path(void **state)
{
    (void)state;
    /* directories nested deeper than the walk goes (65 levels) */
    char rel[PATH_MAX] = "tree";
    for (int i = 0; i < 66; i++) {
        strcat(rel, "/d");
        mk(rel);
    }
    /* the deepest directory the walk would open, 65 levels down, is named */
    char want[PATH_MAX] = "tree";
    for (int i = 0; i < 65; i++) strcat(want, "/d");
    strcat(want, ": ");
    assert_refused(want, "directories nested too deep");
    struct hpk_snapshot s;
    struct hpk_err e;
    /* the tree itself not a directory */
    memset(&s, 0, sizeof s);
    assert_int_not_equal(hpk_snapshot_tree(&s, at("nonexistent"), &RT, &e), 0);
    assert_int_equal(e.code, HPK_ST_RUNTIME);
    assert_non_null(strstr(e.msg, at("nonexistent")));
    assert_non_null(strstr(e.msg, "not a directory"));
    hpk_snapshot_free(&s);
}

/* A path longer than PATH_MAX below the tree: refused with the path (the
 * message, at most 1024 bytes, starts with it). Made with mkdirat, as
 * mkdir cannot name such a path. */
static void test_path_too_long_refused(void **state)
{
    (void)state;
    char name[251];
    memset(name, 'n', 250);
    name[250] = 0;
    int fd = open(at("tree"), O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    for (int i = 0; i < 17; i++) { /* 17 * 251 bytes: past PATH_MAX */
        if (mkdirat(fd, name, 0755) != 0) fail_msg("mkdirat: %s", strerror(errno));
        int sub = openat(fd, name, O_RDONLY | O_DIRECTORY);
        assert_true(sub >= 0);
        close(fd);
        fd = sub;
    }
    close(fd);
    struct hpk_snapshot s;
    struct hpk_err e;
    assert_int_not_equal(read_tree(&s, &e), 0);
    assert_int_equal(e.code, HPK_ST_RUNTIME);
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/%s/%s/", at("tree"), name, name);
    if (strncmp(e.msg, want, strlen(want)) != 0) fail_msg("message \"%.300s...\"", e.msg);
    hpk_snapshot_free(&s);
}

/* ---- link arithmetic (linkpath.c) ---- */

static void test_link_arithmetic(void **state)
{
    (void)state;
    char out[PATH_MAX];
    assert_int_equal(hpk_link_dest("lib/a/x", "../b/./y", 8, out, sizeof out), 0);
    assert_string_equal(out, "lib/b/y");
    assert_int_equal(hpk_link_dest("x", ".", 1, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(hpk_rel_target("lib/a/x", "lib/b/y", out, sizeof out), 0);
    assert_string_equal(out, "../b/y");
    assert_int_equal(hpk_rel_target("lib/a/x", "lib", out, sizeof out), 0);
    assert_string_equal(out, "..");
    assert_int_equal(hpk_rel_target("lib/a/x", "", out, sizeof out), 0);
    assert_string_equal(out, "../..");
    assert_int_equal(hpk_rel_target("lib/x", "lib", out, sizeof out), 0);
    assert_string_equal(out, ".");
    assert_int_equal(hpk_rel_target("libx/y", "lib/z", out, sizeof out), 0); /* "lib" is not a prefix of "libx" */
    assert_string_equal(out, "../lib/z");
    assert_int_equal(hpk_map_into_copy("versions/1.2/libbar.so", "versions/1.2", "lib/current", out, sizeof out), 0);
    assert_string_equal(out, "lib/current/libbar.so");
    assert_int_equal(hpk_map_into_copy("versions/1.20/x", "versions/1.2", "lib/current", out, sizeof out), 0);
    assert_string_equal(out, "versions/1.20/x");
    /* docs/format.md 10.4: lib/current -> vlink/1.2 copies lib/versions/1.2 */
    const char *t = "../../../other/libfoo.so.1";
    assert_int_equal(hpk_copied_target("lib/versions/1.2/libfoo.so", t, strlen(t), "lib/versions/1.2", "lib/current",
                                       "lib/current/libfoo.so", out, sizeof out), 0);
    assert_string_equal(out, "../../other/libfoo.so.1");
    t = "../../server";
    assert_int_equal(hpk_copied_target("lib/versions/1.2/srv", t, strlen(t), "lib/versions/1.2", "lib/current",
                                       "lib/current/srv", out, sizeof out), 0);
    assert_string_equal(out, "../server");
    /* never a cut target */
    char small[4];
    assert_int_not_equal(hpk_rel_target("a/b/c/d", "x/y", small, sizeof small), 0);
}

/* ---- a mapped input read through its file (inputfile.c) ---- */

/* Write n pseudo-random bytes (fixed seed) to path; returns them. */
static uint8_t *write_noise(const char *path, size_t n, uint32_t seed)
{
    uint8_t *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) seed = seed * 1103515245u + 12345u, b[i] = (uint8_t)(seed >> 16);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return b;
}

/* A large input is mapped (HPACK_TEST_MAP=always: settled however young)
 * and hashed through read(2): the same hashes as over its bytes, and an
 * already compressed one gets its stored hash (XXH3-64) too. The file is
 * reopened only while it is the one mapped: replaced, hpk_item_open says
 * no, and the callers read the mapping. */
static void test_mapped_input_read_through_its_file(void **state)
{
    (void)state;
    setenv("HPACK_TEST_MAP", "always", 1);
    const size_t n = (3u << 20) / 2 + 123; /* 1.5 MiB: mapped (MAP_MIN 1 MiB), read in 256 KiB pieces */
    char zip[PATH_MAX], bin[PATH_MAX], other[PATH_MAX];
    snprintf(zip, sizeof zip, "%s/tree/big.zst", D); /* stored: its name says compressed */
    snprintf(bin, sizeof bin, "%s/tree/big.bin", D);
    snprintf(other, sizeof other, "%s/out/other", D);
    uint8_t *zb = write_noise(zip, n, 1), *bb = write_noise(bin, n, 2);
    struct hpk_err e = {0};
    struct hpk_item z = {0}, b = {0};
    assert_int_equal(hpk_snapshot_file(&z, zip, 3, &e), 0);
    assert_int_equal(hpk_snapshot_file(&b, bin, 3, &e), 0);
    assert_true(z.mapped && b.mapped);
    uint8_t want[16];
    hpk_hash_bytes(zb, n, want);
    assert_memory_equal(z.hash, want, 16);
    hpk_hash_bytes(bb, n, want);
    assert_memory_equal(b.hash, want, 16);
    assert_true(z.no_compress && z.has_hash64);
    assert_true(z.hash64 == XXH3_64bits(zb, n));
    assert_false(b.has_hash64); /* to be compressed: its stored hash is the payload's to take */
    /* reopened, the same bytes as the mapping */
    int fd = hpk_item_open(&z);
    assert_true(fd >= 0);
    uint8_t piece[4096];
    assert_int_equal(hpk_pread_full(fd, piece, sizeof piece, n - sizeof piece), HPK_OK);
    assert_memory_equal(piece, z.data + n - sizeof piece, sizeof piece);
    assert_int_equal(hpk_pread_full(fd, piece, sizeof piece, n - 100), HPK_E_TRUNCATED); /* past the end: short */
    close(fd);
    /* replaced by another file of the same size: not the file mapped */
    free(write_noise(other, n, 3));
    assert_int_equal(rename(other, zip), 0);
    assert_int_equal(hpk_item_open(&z), -1);
    assert_memory_equal(z.data, zb, n); /* the mapping still holds the snapshot's bytes */
    hpk_item_data_free(&z);
    assert_false(z.mapped || z.has_hash64);
    assert_int_equal(hpk_item_open(&z), -1);
    hpk_item_data_free(&b);
    free(z.source);
    free(b.source);
    free(zb);
    free(bb);
    unsetenv("HPACK_TEST_MAP");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_index),
        cmocka_unit_test_setup_teardown(test_relative_links_inside_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping_and_absolute_links_materialised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_through_links_and_in_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dangling_and_looping_links_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_to_containing_directory_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_through_outside_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_given_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sorted_bytewise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_to_device_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_errors_name_the_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_too_long_refused, setup, teardown),
        cmocka_unit_test(test_link_arithmetic),
        cmocka_unit_test_setup_teardown(test_mapped_input_read_through_its_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
