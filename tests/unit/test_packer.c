/*
 * test_packer.c - cmocka unit tests for the packer's pure parts: argument
 * files and ./hpack.conf, --train-ready and --compress parsing, the cache
 * kind a runtime takes, a jar's Class-Path rewritten, a payload streamed
 * against one made in memory. (The cache-trust rule and the JVM command line are
 * layout/'s: tests/unit/test_config.c.)
 *
 *   make build/test_packer && build/test_packer
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>
#include <zstd.h>

#include "../../packer/hpk_build.h"
#include "../../packer/hpk_tune.h"
#include "../../packer/hpk_child.h"
#include "../../packer/hpk_image.h"
#include "../../packer/hpk_inputs.h"
#include "../../packer/hpk_jsonout.h"
#include "../../layout/hpk_tree.h"

static void test_ready_forms(void **state)
{
    (void)state;
    struct hpk_ready r;
    assert_int_equal(hpk_ready_parse("tcp:8080", &r), 0);
    assert_int_equal(r.kind, READY_TCP);
    assert_int_equal(r.port, 8080);
    assert_string_equal(r.host, "127.0.0.1");
    assert_int_equal(hpk_ready_parse("tcp:localhost:9", &r), 0);
    assert_string_equal(r.host, "127.0.0.1");
    assert_int_equal(r.port, 9);
    /* the documented form, the bare URL and HOST:PORT/PATH name the same probe */
    const char *forms[] = {"http:http://127.0.0.1:8080/health", "http://127.0.0.1:8080/health", "http:127.0.0.1:8080/health"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(hpk_ready_parse(forms[i], &r), 0);
        assert_int_equal(r.kind, READY_HTTP);
        assert_string_equal(r.host, "127.0.0.1");
        assert_int_equal(r.port, 8080);
        assert_string_equal(r.path, "/health");
    }
    assert_int_equal(hpk_ready_parse("http://example:80", &r), 0);
    assert_string_equal(r.path, "/");
    assert_int_equal(hpk_ready_parse("log:Started .* in [0-9.]+ s", &r), 0);
    assert_int_equal(r.kind, READY_LOG);
    assert_string_equal(r.regex, "Started .* in [0-9.]+ s");
}

static void test_ready_refused(void **state)
{
    (void)state;
    const char *bad[] = {"tcp:", "tcp:0", "tcp:65536", "tcp:80x", "tcp::80", "http:", "http://:80/", "http://h:0/",
                         "log:", "log:(", "8080", "udp:53", NULL};
    for (int i = 0; bad[i]; i++) {
        if (hpk_ready_parse(bad[i], NULL) == 0) fail_msg("accepted --train-ready %s", bad[i]);
    }
}

static void test_compress(void **state)
{
    (void)state;
    struct hpk_compress c;
    assert_int_equal(hpk_compress_parse("none", &c), 0);
    assert_int_equal(c.codec, HPK_CODEC_STORED);
    assert_int_equal(hpk_compress_parse("zstd", &c), 0);
    assert_int_equal(c.codec, HPK_CODEC_ZSTD);
    assert_int_equal(c.level, HPK_ZSTD_LEVEL);
    assert_int_equal(hpk_compress_parse("zstd:19", &c), 0);
    assert_int_equal(c.level, 19);
    assert_int_equal(hpk_compress_parse("zlib:9", &c), 0);
    assert_int_equal(c.codec, HPK_CODEC_ZLIB);
    const char *bad[] = {"zstd:", "zstd:0", "zstd:20", "zlib:0", "zlib:10", "zlib:4x", "lz4", "", "zstdx", NULL};
    for (int i = 0; bad[i]; i++)
        if (hpk_compress_parse(bad[i], &c) == 0) fail_msg("accepted --compress %s", bad[i]);
}

static void test_cache_kind(void **state)
{
    (void)state;
    struct hpk_snapshot s;
    memset(&s, 0, sizeof s);
    s.java_major = 25;
    assert_string_equal(hpk_cache_kind(&s), "aot");
    s.java_major = 24;
    assert_string_equal(hpk_cache_kind(&s), "aot");
    s.java_major = 17;
    assert_null(hpk_cache_kind(&s)); /* no base CDS archive: nothing to layer on */
    s.has_base_cds = 1;
    assert_string_equal(hpk_cache_kind(&s), "cds");
    s.java_major = 11;
    assert_null(hpk_cache_kind(&s));
}

/* A scratch directory to chdir into (hpack.conf is read from the working
 * directory). */
static char scratch[64], oldcwd[4096];

static int enter(void **state)
{
    (void)state;
    snprintf(scratch, sizeof scratch, "/tmp/hpack-unit.XXXXXX");
    if (!mkdtemp(scratch) || !getcwd(oldcwd, sizeof oldcwd) || chdir(scratch) != 0) return -1;
    return mkdir("sub", 0755);
}

static int leave(void **state)
{
    (void)state;
    int r = chdir(oldcwd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", scratch);
    return r | system(cmd);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* v holds exactly the arguments of want (NULL-terminated). */
static void assert_args(const struct hpk_strv *v, const char *const *want)
{
    size_t i = 0;
    for (; want[i]; i++) {
        assert_true(i < v->n);
        assert_string_equal(v->v[i], want[i]);
    }
    assert_int_equal(v->n, i);
}

static void test_argfile_paths_and_order(void **state)
{
    (void)state;
    write_file("sub/args", "# a comment\n--jar\napp.jar\n--arg\n  two words  \n--cp=a.jar:/abs/b.jar\n-o\nout\n");
    write_file("hpack.conf", "main-class = demo.Main\ntrain = true\nruntime = rt\n");
    char *argv[] = {"build", "@sub/args", "--arg", "last", "--", "@literal", NULL};
    struct hpk_strv v;
    struct hpk_err e;
    assert_int_equal(hpk_expand_args(6, argv, hpk_build_options, HPK_BUILD_SHORTOPTS, &v, &e), 0);
    /* hpack.conf first (the command line wins), paths from each file's directory */
    const char *want[] = {"build", "--main-class", "demo.Main", "--train", "--runtime", "rt",
                          "--jar", "sub/app.jar", "--arg", "two words", "--cp=sub/a.jar:/abs/b.jar", "-o", "sub/out",
                          "--arg", "last", "--", "@literal", NULL};
    assert_args(&v, want);
    hpk_strv_free(&v);
    unlink("hpack.conf");
}

/* A path option as getopt_long takes it, by a prefix of its name or -o
 * with its value joined, is resolved against the file's directory too (it
 * was not: a review's finding); a value that looks like an option is
 * taken as it is. */
static void test_argfile_abbreviations(void **state)
{
    (void)state;
    write_file("sub/args", "--ja=app.jar\n-oout\n--runt\nrt\n--arg\n-output.txt\n--arg\n--jar\n--main-class\ndemo.Main\n");
    char *argv[] = {"build", "@sub/args", NULL};
    struct hpk_strv v;
    struct hpk_err e;
    assert_int_equal(hpk_expand_args(2, argv, hpk_build_options, HPK_BUILD_SHORTOPTS, &v, &e), 0);
    const char *want[] = {"build", "--jar=sub/app.jar", "-o", "sub/out", "--runtime", "sub/rt", "--arg", "-output.txt",
                          "--arg", "--jar", "--main-class", "demo.Main", NULL};
    assert_args(&v, want);
    hpk_strv_free(&v);
}

/* An option's value is never read as a file of arguments: --jvm-opt @FILE
 * is the JVM's own argument file (JRuby's launcher passes one). */
static void test_argfile_not_an_option_value(void **state)
{
    (void)state;
    write_file("sub/args3", "--arg\nfromfile\n");
    char *argv[] = {"build", "--jvm-opt", "@jvm.args", "--jvm", "@prefix", "-qo", "@out", "--train",
                    "@sub/args3", "-o@x", "@sub/args3", "--jvm-opt=@y", "@sub/args3", NULL};
    struct hpk_strv v;
    struct hpk_err e;
    assert_int_equal(hpk_expand_args(13, argv, hpk_build_options, HPK_BUILD_SHORTOPTS, &v, &e), 0);
    const char *want[] = {"build", "--jvm-opt", "@jvm.args", "--jvm", "@prefix", "-qo", "@out", "--train",
                          "--arg", "fromfile", "-o@x", "--arg", "fromfile", "--jvm-opt=@y", "--arg", "fromfile", NULL};
    assert_args(&v, want);
    hpk_strv_free(&v);
}

static void test_argfile_errors_name_the_file(void **state)
{
    (void)state;
    write_file("hpack.conf", "runtime = rt\nno equals sign here\n");
    char *argv[] = {"build", NULL};
    struct hpk_strv v;
    struct hpk_err e;
    assert_int_not_equal(hpk_expand_args(1, argv, hpk_build_options, HPK_BUILD_SHORTOPTS, &v, &e), 0);
    assert_non_null(strstr(e.msg, "hpack.conf:2: expected 'key = value'"));
    hpk_strv_free(&v);
    unlink("hpack.conf");
    write_file("sub/args2", "--jar\n");
    char *argv2[] = {"build", "@sub/args2", NULL};
    assert_int_not_equal(hpk_expand_args(2, argv2, hpk_build_options, HPK_BUILD_SHORTOPTS, &v, &e), 0);
    assert_non_null(strstr(e.msg, "sub/args2"));
    assert_non_null(strstr(e.msg, "--jar"));
    hpk_strv_free(&v);
    /* any option awaiting its value at a file's end, not only a path's */
    write_file("sub/args4", "--jar\na.jar\n--jvm-opt\n");
    char *argv4[] = {"build", "@sub/args4", "@sub/args3", NULL};
    write_file("sub/args3", "--arg\nx\n");
    assert_int_not_equal(hpk_expand_args(3, argv4, hpk_build_options, HPK_BUILD_SHORTOPTS, &v, &e), 0);
    assert_non_null(strstr(e.msg, "sub/args4: --jvm-opt at the end lacks its value"));
    hpk_strv_free(&v);
    char *argv3[] = {"build", "@sub/missing", NULL};
    assert_int_not_equal(hpk_expand_args(2, argv3, hpk_build_options, HPK_BUILD_SHORTOPTS, &v, &e), 0);
    assert_non_null(strstr(e.msg, "sub/missing: cannot read"));
    hpk_strv_free(&v);
}

/* --tune's rule (docs/tuning.md): the median, and the middle half's width
 * relative to it (the whole range below 4 runs). */
static void test_tune_stats(void **state)
{
    (void)state;
    double a[] = {0.30, 0.10, 0.20}, med, sp;
    hpk_tune_stats(a, 3, &med, &sp);
    assert_true(med == 0.20);
    assert_true(fabs(sp - 1.0) < 1e-9); /* (0.30 - 0.10) / 0.20 */
    assert_true(a[0] == 0.10 && a[2] == 0.30); /* sorted in place */
    /* one wild run of five does not widen the spread */
    double b[] = {1.00, 1.02, 0.98, 5.00, 1.01}, c[] = {1.00, 1.02, 0.98, 1.03, 1.01};
    double sb, sc;
    hpk_tune_stats(b, 5, &med, &sb);
    assert_true(med == 1.01);
    hpk_tune_stats(c, 5, &med, &sc);
    assert_true(fabs(sb - sc) < 1e-9 && fabs(sb - 0.02 / 1.01) < 1e-9);
    double d[] = {0.5, 0.7}, one[] = {0.4};
    hpk_tune_stats(d, 2, &med, &sp);
    assert_true(fabs(med - 0.6) < 1e-9);
    hpk_tune_stats(one, 1, &med, &sp);
    assert_true(med == 0.4 && sp == 0);
}

static void test_tune_split(void **state)
{
    (void)state;
    struct hpk_strv v = {0};
    char why[200];
    assert_int_equal(hpk_tune_split("  -XX:+UseSerialGC\t-Xms64m ", &v, why, sizeof why), 0);
    assert_int_equal(v.n, 2);
    assert_string_equal(v.v[0], "-XX:+UseSerialGC");
    assert_string_equal(v.v[1], "-Xms64m");
    hpk_strv_free(&v);
    assert_int_equal(hpk_tune_split("-Xss1m serial", &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "'serial' is not a JVM option"));
    hpk_strv_free(&v);
    assert_int_equal(hpk_tune_split(" ", &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "no options"));
    hpk_strv_free(&v);
    /* quoted as in a shell: one option may hold a blank */
    assert_int_equal(hpk_tune_split("-XX:+UseSerialGC '-Dhpack.words=a b'", &v, why, sizeof why), 0);
    assert_int_equal(v.n, 2);
    assert_string_equal(v.v[1], "-Dhpack.words=a b");
    hpk_strv_free(&v);
    assert_int_equal(hpk_tune_split("'-Dx=a\tb'", &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "control character"));
    hpk_strv_free(&v);
    assert_int_equal(hpk_tune_split("-Dx='a", &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "not closed"));
    hpk_strv_free(&v);
}

/* --tune-candidate's quoting (argfile.c): a shell's, without expansions;
 * what hpk_quote_arg writes reads back as the same word. */
static void test_split_quoted(void **state)
{
    (void)state;
    struct hpk_strv v = {0};
    char why[200];
    assert_int_equal(hpk_split_quoted(" -XX:+A\t'-Dk=a b' \"-Dq=x\\\"y\\\\\" c\\ d e'f'\"g\" '' ", &v, why, sizeof why), 0);
    assert_int_equal(v.n, 6);
    assert_string_equal(v.v[0], "-XX:+A");
    assert_string_equal(v.v[1], "-Dk=a b");
    assert_string_equal(v.v[2], "-Dq=x\"y\\");
    assert_string_equal(v.v[3], "c d");
    assert_string_equal(v.v[4], "efg");
    assert_string_equal(v.v[5], "");
    hpk_strv_free(&v);
    assert_int_equal(hpk_split_quoted("-Da='b c", &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "single quote is not closed"));
    hpk_strv_free(&v);
    assert_int_equal(hpk_split_quoted("-Da=\"b", &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "double quote is not closed"));
    hpk_strv_free(&v);
    assert_int_equal(hpk_split_quoted("-Da\\", &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "backslash at the end"));
    hpk_strv_free(&v);
    const char *words[] = {"plain", "a b", "it's", "", "\\", "x\"y", "'", "tab\there"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        char *q = hpk_quote_arg(words[i]);
        assert_int_equal(hpk_split_quoted(q, &v, why, sizeof why), 0);
        assert_int_equal(v.n, 1);
        assert_string_equal(v.v[0], words[i]);
        hpk_strv_free(&v);
        free(q);
    }
    char *q = hpk_quote_arg("plain");
    assert_string_equal(q, "plain"); /* quoted only when it must be */
    free(q);
}

/* The peak heap use in the JVM's GC log (tuneheap.c): before a collection
 * or at the exit, whichever is larger; Metaspace and region counts are not
 * the heap; xms-peak rounds it up to 16 MB. */
static void test_tune_heap_peak(void **state)
{
    (void)state;
    const char *g1 = "[gc     ] Using G1\n"
                     "[gc,exit     ] Heap\n"
                     "[gc,exit     ]  garbage-first heap   total reserved 6172672K, committed 393216K, used 4132K [0x0, 0x8)\n"
                     "[gc,exit     ]   region size 4096K, 1 young (4096K), 0 survivors (0K)\n"
                     "[gc,exit     ]  Metaspace       used 1033K, committed 1152K, reserved 1114112K\n"
                     "[gc,exit     ]   class space    used 98K, committed 192K, reserved 1048576K\n";
    assert_int_equal(hpk_tune_heap_peak_kb(g1, strlen(g1)), 4132);
    const char *serial17 = "[gc] Using Serial\n"
                           "[gc] GC(0) Pause Young (Allocation Failure) 24M->3M(377M) 3.026ms\n"
                           "[gc,heap] GC(0) Eden regions: 1->0(3)\n"
                           "[gc] GC(1) Pause Young (Allocation Failure) 2M->1M(377M) 1.0ms\n"
                           "[gc,heap,exit] Heap\n"
                           "[gc,heap,exit]  def new generation   total 1856K, used 225K [0x0, 0x1, 0x2)\n"
                           "[gc,heap,exit]   eden space 1664K,   2% used [0x0, 0x1, 0x2)\n"
                           "[gc,heap,exit]  tenured generation   total 385024K, used 844K [0x0, 0x1, 0x2)";
    assert_int_equal(hpk_tune_heap_peak_kb(serial17, strlen(serial17)), 24 * 1024);
    /* at the exit: the generations summed */
    const char *exit17 = strstr(serial17, "[gc,heap,exit] Heap");
    assert_int_equal(hpk_tune_heap_peak_kb(exit17, strlen(exit17)), 225 + 844);
    const char *none = "[gc] Using The Epsilon GC\nHello\n";
    assert_int_equal(hpk_tune_heap_peak_kb(none, strlen(none)), 0);
    char x[32];
    hpk_tune_xms(4132, x, sizeof x);
    assert_string_equal(x, "-Xms16m");
    hpk_tune_xms(16 * 1024, x, sizeof x);
    assert_string_equal(x, "-Xms16m");
    hpk_tune_xms(16 * 1024 + 1, x, sizeof x);
    assert_string_equal(x, "-Xms32m");
    hpk_tune_xms(24 * 1024, x, sizeof x);
    assert_string_equal(x, "-Xms32m");
}

/* ---- hpk_jar_rewrite_class_path ---- */

/* Class-Path arithmetic (cppath.c), as java.net.URL resolves it. */
static void test_cp_path(void **state)
{
    (void)state;
    char o[256];
    assert_int_equal(hpk_cp_join("app/lib/a.jar", "b.jar", o, sizeof o), 0);
    assert_string_equal(o, "app/lib/b.jar");
    assert_int_equal(hpk_cp_join("app/lib/a.jar", "./x/../../c.jar", o, sizeof o), 0);
    assert_string_equal(o, "app/c.jar");
    assert_int_equal(hpk_cp_join("app/a.jar", "../../up.jar", o, sizeof o), -1); /* above the tree */
    assert_int_equal(hpk_cp_join("/opt/x/a.jar", "../../../b.jar", o, sizeof o), 0);
    assert_string_equal(o, "/b.jar"); /* "/.." is "/" */
    assert_int_equal(hpk_cp_join("app/a.jar", "/usr/share/java/b.jar", o, sizeof o), 0);
    assert_string_equal(o, "/usr/share/java/b.jar");
    assert_int_equal(hpk_cp_join("app/a.jar", "x//y/", o, sizeof o), 0);
    assert_string_equal(o, "app/x/y");
    hpk_cp_relpath("app/lib/a.jar", "app/lib/b.jar", o, sizeof o);
    assert_string_equal(o, "b.jar");
    hpk_cp_relpath("app/lib/x/a.jar", "app/other/b.jar", o, sizeof o);
    assert_string_equal(o, "../../other/b.jar");
    assert_int_equal(hpk_cp_entry_path("file:lib/a%20b.jar", o, sizeof o), 0);
    assert_string_equal(o, "lib/a b.jar");
    assert_int_equal(hpk_cp_entry_path("http://example.org/a.jar", o, sizeof o), -1);
    assert_int_equal(hpk_cp_entry_path("file:", o, sizeof o), -1);
    /* only a whole %XX escape: the JVM refuses the rest, and "x%4" once
     * read past the token's end (a review found it under ASan) */
    assert_int_equal(hpk_cp_entry_path("x%4", o, sizeof o), -1);
    assert_int_equal(hpk_cp_entry_path("x%", o, sizeof o), -1);
    assert_int_equal(hpk_cp_entry_path("a%-1.jar", o, sizeof o), -1);
    assert_int_equal(hpk_cp_entry_path("a% 9.jar", o, sizeof o), -1);
    assert_int_equal(hpk_cp_entry_path("a%00.jar", o, sizeof o), -1);
    assert_int_equal(hpk_cp_entry_path("caf%C3%a9.jar", o, sizeof o), 0);
    assert_string_equal(o, "caf\xc3\xa9.jar");
    assert_int_equal(hpk_cp_entry_path("abcdef", o, 6), -1); /* longer than the room: not cut */
    assert_int_equal(hpk_cp_entry_path("abcde", o, 6), 0);
}

/* A jar holding only META-INF/MANIFEST.MF with text mf, stored (method 0)
 * or deflated (8), as a zip writer lays it out. */
static uint8_t *tiny_jar(const char *mf, int method, size_t *size)
{
    static const char name[] = "META-INF/MANIFEST.MF";
    uLong ul = strlen(mf), cl = compressBound(ul) + 16;
    uint8_t *body = malloc(cl);
    assert_non_null(body);
    if (method == 8) {
        z_stream z = {0};
        assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (Bytef *)mf, z.avail_in = (uInt)ul, z.next_out = body, z.avail_out = (uInt)cl;
        assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
        cl = z.total_out;
        deflateEnd(&z);
    } else {
        memcpy(body, mf, ul);
        cl = ul;
    }
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)mf, (uInt)ul);
    size_t lh = 30 + 20, cd = 46 + 20, n = lh + cl + cd + 22;
    uint8_t *j = calloc(1, n);
    assert_non_null(j);
    hpk_put32(j, 0x04034b50), hpk_put16(j + 4, 20), hpk_put16(j + 8, (uint32_t)method);
    hpk_put32(j + 14, crc), hpk_put32(j + 18, (uint32_t)cl), hpk_put32(j + 22, (uint32_t)ul), hpk_put16(j + 26, 20);
    memcpy(j + 30, name, 20);
    memcpy(j + lh, body, cl);
    uint8_t *c = j + lh + cl;
    hpk_put32(c, 0x02014b50), hpk_put16(c + 4, 20), hpk_put16(c + 6, 20), hpk_put16(c + 10, (uint32_t)method);
    hpk_put32(c + 16, crc), hpk_put32(c + 20, (uint32_t)cl), hpk_put32(c + 24, (uint32_t)ul), hpk_put16(c + 28, 20);
    memcpy(c + 46, name, 20);
    uint8_t *eo = c + cd;
    hpk_put32(eo, 0x06054b50), hpk_put16(eo + 8, 1), hpk_put16(eo + 10, 1), hpk_put32(eo + 12, (uint32_t)cd);
    hpk_put32(eo + 16, (uint32_t)(lh + cl));
    free(body);
    *size = n;
    return j;
}

/* hpk_jar_lists: a jar's central directory names the class, or a
 * multi-release version of it; a longer name ending the same does not. */
static void test_jar_lists(void **state)
{
    (void)state;
    static const char *const names[] = {"xa/b/Main.class", "META-INF/versions/11/c/D.class",
                                        "META-INF/versions/x/e/F.class", "META-INF/versions/11/xg/H.class",
                                        "a/b/Main.class", NULL};
    uint8_t *buf = malloc(1 << 16);
    size_t used = 0;
    assert_non_null(buf);
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_memory(a, buf, 1 << 16, &used), ARCHIVE_OK);
    for (int i = 0; names[i]; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, names[i]);
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, 0644);
        archive_entry_set_size(ae, 4);
        assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, "\xca\xfe\xba\xbe", 4), 4);
        archive_entry_free(ae);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    assert_int_equal(hpk_jar_lists(buf, used, "a/b/Main.class"), 1);
    assert_int_equal(hpk_jar_lists(buf, used, "c/D.class"), 1);       /* in META-INF/versions/11 */
    assert_int_equal(hpk_jar_lists(buf, used, "e/F.class"), 0);       /* "x" is no version */
    assert_int_equal(hpk_jar_lists(buf, used, "g/H.class"), 0);       /* xg/H.class is another class */
    assert_int_equal(hpk_jar_lists(buf, used, "b/Main.class"), 0);    /* nor is a/b/Main.class */
    assert_int_equal(hpk_jar_lists(buf, used, "Main.class"), 0);
    assert_int_equal(hpk_jar_lists(buf, used, "a/b/Other.class"), 0);
    assert_int_equal(hpk_jar_lists(buf, used - 1, "a/b/Main.class"), -1); /* cut short: cannot tell */
    assert_int_equal(hpk_jar_lists((const uint8_t *)"not a zip", 9, "a/b/Main.class"), -1);
    free(buf);
}

static void test_jar_rewrite_class_path(void **state)
{
    (void)state;
    const char *mf = "Manifest-Version: 1.0\r\nClass-Path: /opt/x/a.jar\r\n  b.jar\r\nMain-Class: demo.Main\r\n\r\n";
    /* longer than one 72-byte line: wrapped, read back whole */
    const char *want = "lib/a-with-a-rather-long-name-1.0.jar lib/b-with-a-rather-long-name-2.0.jar ../c.jar";
    for (int method = 0; method <= 8; method += 8) {
        size_t n, on;
        uint8_t *j = tiny_jar(mf, method, &n), *o = NULL;
        struct hpk_err e = {0};
        struct hpk_manifest m;
        assert_int_equal(hpk_jar_manifest(j, n, "t.jar", &m, &e), 0);
        assert_string_equal(m.class_path, "/opt/x/a.jar b.jar");
        hpk_manifest_free(&m);
        assert_int_equal(hpk_jar_rewrite_class_path(j, n, "t.jar", want, &o, &on, &e), 0);
        assert_memory_equal(o, j, 30); /* what came before the central directory is kept */
        assert_int_equal(hpk_jar_manifest(o, on, "t.jar", &m, &e), 0);
        assert_string_equal(m.class_path, want);
        assert_string_equal(m.main_class, "demo.Main");
        hpk_manifest_free(&m);
        free(o);
        /* a damaged manifest is refused, naming the jar and the damage */
        j[30 + 20 + 3] ^= 1;
        assert_int_equal(hpk_jar_rewrite_class_path(j, n, "t.jar", want, &o, &on, &e), -1);
        assert_int_equal(e.code, HPK_ST_CLASSPATH);
        /* (a flipped bit may still inflate: then the CRC finds it) */
        assert_true(!strcmp(e.msg, "t.jar: corrupt jar (manifest CRC mismatch)") ||
                    (method && !strcmp(e.msg, "t.jar: corrupt jar (cannot inflate its manifest)")));
        free(j);
    }
    size_t n, on;
    uint8_t *j = tiny_jar("Manifest-Version: 1.0\nMain-Class: demo.Main\n\n", 0, &n), *o;
    struct hpk_err e = {0};
    assert_int_equal(hpk_jar_rewrite_class_path(j, n, "t.jar", want, &o, &on, &e), -1);
    assert_string_equal(e.msg, "t.jar: no Class-Path attribute to rewrite");
    assert_int_equal(hpk_jar_rewrite_class_path(j, n - 1, "t.jar", want, &o, &on, &e), -1);
    assert_string_equal(e.msg, "t.jar: not a zip file (no end of central directory)");
    free(j);

    /* Where libarchive (hpk_jar_manifest) would read the jar another way
     * than the central directory says (found by tests/fuzz/fuzz_jar.c):
     * refused, not rewritten into a jar that reads back otherwise. */
    const char *cp = "Manifest-Version: 1.0\nClass-Path: /opt/a.jar\n\n";
    j = tiny_jar(cp, 0, &n);
    hpk_put16(j + n - 22 + 4, 1); /* the end record: "disk 1" (a split zip) */
    assert_int_equal(hpk_jar_rewrite_class_path(j, n, "t.jar", want, &o, &on, &e), -1);
    assert_string_equal(e.msg, "t.jar: corrupt jar (its end record names several disks)");
    free(j);
    j = tiny_jar(cp, 0, &n);
    j[30] = 'm'; /* the local header says "meta-INF/...": libarchive goes by it */
    assert_int_equal(hpk_jar_rewrite_class_path(j, n, "t.jar", want, &o, &on, &e), -1);
    assert_string_equal(e.msg, "t.jar: corrupt jar (the manifest's local header names another file)");
    free(j);
    /* A manifest over hpack's 16 MiB bound is said to be one, not called
     * a corrupt jar; one just under it is read. */
    struct hpk_manifest m;
    for (size_t big = (1u << 24) - 64; big <= (1u << 24) + 64; big += 128) {
        char *huge = malloc(big + 1);
        assert_non_null(huge);
        memset(huge, 'a', big);
        const char *head = "Manifest-Version: 1.0\nX-Pad: ", *tail = "\nMain-Class: demo.M\n\n";
        memcpy(huge, head, strlen(head));
        memcpy(huge + big - strlen(tail), tail, strlen(tail));
        huge[big] = 0;
        j = tiny_jar(huge, 8, &n);
        free(huge);
        int rc = hpk_jar_manifest(j, n, "t.jar", &m, &e);
        if (big < (1u << 24)) {
            assert_int_equal(rc, 0);
            assert_string_equal(m.main_class, "demo.M");
            hpk_manifest_free(&m);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(e.code, HPK_ST_CLASSPATH);
            assert_string_equal(e.msg, "t.jar: manifest of 16777280 bytes: hpack reads manifests up to 16 MiB");
        }
        free(j);
    }
    /* An empty first line ends an empty main section, as the JVM reads
     * it: what follows is a per-entry section, not the jar's Class-Path. */
    j = tiny_jar("\nName: x/\nClass-Path: /opt/a.jar\nMain-Class: x.M\n\n", 0, &n);
    assert_int_equal(hpk_jar_manifest(j, n, "t.jar", &m, &e), 0);
    assert_null(m.class_path);
    assert_null(m.main_class);
    hpk_manifest_free(&m);
    free(j);
}

/* A zip of k entries, stored or deflated, written by libarchive. */
static uint8_t *zip_of(const char **names, const uint8_t **data, const size_t *len, int k, int deflate, size_t *size)
{
    size_t cap = 4096;
    for (int i = 0; i < k; i++) cap += len[i] + 256 + strlen(names[i]);
    uint8_t *buf = malloc(cap);
    struct archive *a = archive_write_new();
    assert_non_null(buf);
    assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_options(a, deflate ? "zip:compression=deflate" : "zip:compression=store"),
                     ARCHIVE_OK);
    assert_int_equal(archive_write_open_memory(a, buf, cap, size), ARCHIVE_OK);
    for (int i = 0; i < k; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)len[i]);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, data[i], len[i]), (la_ssize_t)len[i]);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return buf;
}

/* The module a jar declares: its module-info.class (javac's, for a module
 * com.example.m requiring java.sql and java.logging) wherever it lies,
 * before the manifest's Automatic-Module-Name, which once won when it came
 * first and lost the requires (a review found it). */
static void test_jar_module_name(void **state)
{
    (void)state;
    static const uint8_t mi[] = {
    0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x45, 0x00, 0x11, 0x07, 0x00, 0x02, 0x01, 0x00, 0x0b,
    0x6d, 0x6f, 0x64, 0x75, 0x6c, 0x65, 0x2d, 0x69, 0x6e, 0x66, 0x6f, 0x01, 0x00, 0x0a, 0x53, 0x6f,
    0x75, 0x72, 0x63, 0x65, 0x46, 0x69, 0x6c, 0x65, 0x01, 0x00, 0x10, 0x6d, 0x6f, 0x64, 0x75, 0x6c,
    0x65, 0x2d, 0x69, 0x6e, 0x66, 0x6f, 0x2e, 0x6a, 0x61, 0x76, 0x61, 0x01, 0x00, 0x06, 0x4d, 0x6f,
    0x64, 0x75, 0x6c, 0x65, 0x13, 0x00, 0x07, 0x01, 0x00, 0x0d, 0x63, 0x6f, 0x6d, 0x2e, 0x65, 0x78,
    0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6d, 0x13, 0x00, 0x09, 0x01, 0x00, 0x09, 0x6a, 0x61, 0x76,
    0x61, 0x2e, 0x62, 0x61, 0x73, 0x65, 0x01, 0x00, 0x06, 0x32, 0x35, 0x2e, 0x30, 0x2e, 0x33, 0x13,
    0x00, 0x0c, 0x01, 0x00, 0x08, 0x6a, 0x61, 0x76, 0x61, 0x2e, 0x73, 0x71, 0x6c, 0x13, 0x00, 0x0e,
    0x01, 0x00, 0x0c, 0x6a, 0x61, 0x76, 0x61, 0x2e, 0x6c, 0x6f, 0x67, 0x67, 0x69, 0x6e, 0x67, 0x14,
    0x00, 0x10, 0x01, 0x00, 0x0b, 0x63, 0x6f, 0x6d, 0x2f, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
    0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00, 0x28, 0x00, 0x06, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x03, 0x00, 0x08, 0x80, 0x00, 0x00, 0x0a, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x0a,
    0x00, 0x0d, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x01, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
    };
    static const char mf[] = "Manifest-Version: 1.0\r\nAutomatic-Module-Name: other.name\r\n\r\n";
    const char *names[] = {"META-INF/MANIFEST.MF", "module-info.class"};
    const uint8_t *data[] = {(const uint8_t *)mf, mi};
    const size_t len[] = {sizeof mf - 1, sizeof mi};
    size_t n;
    char *req;
    uint8_t *j = zip_of(names, data, len, 2, 0, &n);
    char *m = hpk_jar_module_name(j, n, &req);
    assert_string_equal(m, "com.example.m");
    assert_string_equal(req, "java.base,java.sql,java.logging");
    free(m), free(req), free(j);
    j = zip_of(names, data, len, 1, 0, &n); /* the manifest alone */
    m = hpk_jar_module_name(j, n, &req);
    assert_string_equal(m, "other.name");
    assert_null(req);
    free(m), free(j);
    /* a first entry with a UTF-8 name (zip's flag) neither ends the reading
     * nor makes the jar "not a jar" */
    const char *names2[] = {"donn\xc3\xa9" "es/x.txt", "module-info.class"};
    const uint8_t *data2[] = {(const uint8_t *)"x", mi};
    const size_t len2[] = {1, sizeof mi};
    j = zip_of(names2, data2, len2, 2, 0, &n);
    m = hpk_jar_module_name(j, n, &req);
    assert_string_equal(m, "com.example.m");
    free(m), free(req);
    struct hpk_manifest man;
    struct hpk_err e;
    assert_int_equal(hpk_jar_manifest(j, n, "u.jar", &man, &e), 0); /* no manifest: read, not refused */
    hpk_manifest_free(&man);
    free(j);
}

/* A child stopped while it fills its output pipe: its writes are read
 * while it stops, so it acts on SIGTERM (here: a trap that exits 3)
 * instead of being killed at the end of the grace (a JVM logging its class
 * loading held verification 10 s so: found packing Saxon). */
static void test_child_kill_reads_while_stopping(void **state)
{
    (void)state;
    struct hpk_child c;
    char *argv[] = {"/bin/sh", "-c",
                    "trap 'echo bye; exit 3' TERM; echo started; "
                    "while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done",
                    NULL};
    assert_int_equal(hpk_child_start(&c, argv, NULL, NULL), 0);
    char *out = NULL;
    size_t len = 0;
    while (len < 8 && hpk_child_read(&c, &out, &len) != 0) continue; /* it runs */
    free(out);
    /* until the pipe is full: the child blocks in a write */
    int room = fcntl(c.out, F_GETPIPE_SZ), queued = 0;
    assert_true(room > 0);
    while (ioctl(c.out, FIONREAD, &queued) == 0 && queued < room - 4096) usleep(1000); /* (lines do not fill pages) */
    hpk_child_kill(&c, 60);
    assert_true(WIFEXITED(c.status));
    assert_int_equal(WEXITSTATUS(c.status), 3);
    hpk_child_close(&c);
}

/* JAVA_VERSION="1" (a release file of a third party's tarball) once read
 * past its string (ASan): major 1, said and refused by the caller. */
static void test_release_major(void **state)
{
    (void)state;
    const char *cases[][2] = {{"JAVA_VERSION=\"1\"\n", "1"}, {"JAVA_VERSION=\"1.8.0_452\"\n", "8"},
                              {"JAVA_VERSION=\"25.0.1\"\n", "25"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_file("release", cases[i][0]);
        assert_int_equal(hpk_release_major("."), atoi(cases[i][1]));
    }
}

/* Which entries a start passing an AOT cache may leave out of its tree
 * (layout/unpack.c): the Java home's lib/<vm>/classes*.jsa, in a directory
 * whose owner may write, and nothing else. */
static void test_deferrable_default_cds(void **state)
{
    (void)state;
    struct {
        const char *path;
        mode_t mode;
        int role, want;
    } t[] = {
        {"runtime", S_IFDIR | 0755, HPK_ROLE_RUNTIME, 0},
        {"runtime/bin", S_IFDIR | 0755, HPK_ROLE_RUNTIME, 0},
        {"runtime/bin/java", S_IFREG | 0755, HPK_ROLE_RUNTIME, 0},
        {"runtime/lib", S_IFDIR | 0755, HPK_ROLE_RUNTIME, 0},
        {"runtime/lib/classes.jsa", S_IFREG | 0644, HPK_ROLE_RUNTIME, 0}, /* no VM directory */
        {"runtime/lib/server", S_IFDIR | 0755, HPK_ROLE_RUNTIME, 0},
        {"runtime/lib/server/classes.jsa", S_IFREG | 0644, HPK_ROLE_RUNTIME, 1},
        {"runtime/lib/server/classes_nocoops_coh.jsa", S_IFREG | 0644, HPK_ROLE_RUNTIME, 1},
        {"runtime/lib/server/libjvm.so", S_IFREG | 0644, HPK_ROLE_RUNTIME, 0},
        {"runtime/lib/server/classes.jsa.old", S_IFREG | 0644, HPK_ROLE_RUNTIME, 0},
        {"runtime/lib/server/xclasses.jsa", S_IFREG | 0644, HPK_ROLE_RUNTIME, 0},
        {"runtime/lib/server/classes", S_IFLNK | 0777, HPK_ROLE_RUNTIME, 0},
        {"runtime/lib/server/sub", S_IFDIR | 0755, HPK_ROLE_RUNTIME, 0},
        {"runtime/lib/server/sub/classes.jsa", S_IFREG | 0644, HPK_ROLE_RUNTIME, 0}, /* too deep */
        {"runtime/lib/client", S_IFDIR | 0555, HPK_ROLE_RUNTIME, 0},
        {"runtime/lib/client/classes.jsa", S_IFREG | 0644, HPK_ROLE_RUNTIME, 0}, /* read-only directory */
        {"runtime/lib/server/classes.xjsa", S_IFREG | 0644, HPK_ROLE_RUNTIME, 0},
        {"app", S_IFDIR | 0755, HPK_ROLE_CLASSPATH, 0},
        {"app/lib", S_IFDIR | 0755, HPK_ROLE_CLASSPATH, 0},
        {"app/lib/server", S_IFDIR | 0755, HPK_ROLE_CLASSPATH, 0},
        {"app/lib/server/classes.jsa", S_IFREG | 0644, HPK_ROLE_CLASSPATH, 0}, /* not the runtime */
    };
    enum { N = sizeof t / sizeof t[0] };
    struct hpk_entry e[N];
    struct hpk_artifact a;
    memset(e, 0, sizeof e);
    memset(&a, 0, sizeof a);
    for (size_t i = 0; i < N; i++)
        e[i] = (struct hpk_entry){.path = t[i].path, .path_len = (uint16_t)strlen(t[i].path), .mode = t[i].mode,
                                  .role = (uint8_t)t[i].role};
    a.p.entries = e;
    a.p.count = N;
    for (size_t i = 0; i < N; i++) {
        if (hpk_entry_deferrable(&a, &e[i], "runtime/bin/java") != t[i].want) fail_msg("%s", t[i].path);
        assert_int_equal(hpk_entry_deferrable(&a, &e[i], NULL), 0);
        assert_int_equal(hpk_entry_deferrable(&a, &e[i], "java"), 0);      /* no home above bin/ */
        assert_int_equal(hpk_entry_deferrable(&a, &e[i], "bin/java"), 0);  /* home is the tree */
        assert_int_equal(hpk_entry_deferrable(&a, &e[i], "rt/bin/java"), 0); /* another home */
    }
}

/* ---- a payload written while it is made (hpk_payload_stream) ---- */

struct mem_sink {
    uint8_t *buf;
    size_t cap, got; /* the end of the bytes handed over */
    int bad;         /* a write that leaves a hole or is out of bounds */
    int again;       /* writes over bytes handed over before */
};

/* Bytes come in order, but the frames of a file that is stored after all
 * are written over again (payload.c, zp_writer). */
static int to_memory(void *ctx, const uint8_t *b, size_t len, uint64_t off)
{
    struct mem_sink *m = ctx;
    if (off > m->got || off + len > m->cap) {
        m->bad = 1;
        return 0;
    }
    memcpy(m->buf + off, b, len);
    if (off < m->got) m->again++;
    if (off + len > m->got) m->got = off + len;
    return 0;
}

/* hpk_entry_decode's sink: in order, into m. */
static int decoded_to(void *ctx, const uint8_t *b, size_t len)
{
    struct mem_sink *m = ctx;
    if (len > m->cap - m->got) return -1;
    memcpy(m->buf + m->got, b, len);
    m->got += len;
    return 0;
}

static uint64_t lcg(uint64_t *x) { return *x = *x * 6364136223846793005u + 1442695040888963407u, *x >> 33; }

static void fill_random(uint8_t *b, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)lcg(&seed);
}

static void fill_text(uint8_t *b, size_t n, uint64_t seed)
{
    static const char *words[] = {"class ", "void ", "return ", "public ", "static ", "int ", "String ",
                                  "java/lang/Object ", "hpack ", "\n", "{ ", "} ", "import ", "final "};
    size_t i = 0;
    while (i < n) {
        const char *w = words[lcg(&seed) % (sizeof words / sizeof *words)];
        for (; *w && i < n; w++) b[i++] = (uint8_t)*w;
    }
}

/* Items of a payload for the tests below. kind: 0 text, 1 random, 2 random
 * already compressed (its name says so), 3 the item before, a few bytes
 * changed; a symbolic link points to c.txt. */
struct titem {
    const char *path;
    uint32_t mode;
    size_t size;
    int kind;
};

static void make_items(const struct titem *t, size_t n, struct hpk_item *it)
{
    memset(it, 0, n * sizeof *it);
    for (size_t i = 0; i < n; i++) {
        it[i].path = (char *)t[i].path;
        it[i].mode = t[i].mode;
        it[i].role = HPK_ROLE_RUNTIME;
        it[i].size = t[i].size;
        if (S_ISDIR(t[i].mode)) continue;
        it[i].data = malloc(t[i].size);
        assert_non_null(it[i].data);
        if (S_ISLNK(t[i].mode)) memcpy(it[i].data, "c.txt", 5);
        else if (t[i].kind == 0) fill_text(it[i].data, t[i].size, i);
        else if (t[i].kind == 3) {
            memcpy(it[i].data, it[i - 1].data, t[i].size);
            for (size_t k = 0; k < 64; k++) it[i].data[k * 40000 % t[i].size] ^= 0x5a;
        } else fill_random(it[i].data, t[i].size, i);
        it[i].no_compress = t[i].kind == 2;
        hpk_hash_bytes(it[i].data, it[i].size, it[i].hash);
    }
}

/* The bytes of a streamed payload are those of one made in memory, with
 * its buffer a window that moves (WINDOW_SLIDE, 16 MiB): compressed
 * frames laid down after the window moved, big files that do not pay
 * (their frames dropped, maybe written already and written over, the file
 * written from its own bytes), a small one that does not pay (copied), a
 * stored big file, a symbolic link. */
static void check_stream_equals_build(struct hpk_compress c)
{
    static const struct titem t[] = {
        {"runtime", S_IFDIR | 0755, 0, 0},
        {"runtime/a.txt", S_IFREG | 0644, 3000, 0},
        {"runtime/b.zip", S_IFREG | 0644, 18u << 20, 2},
        {"runtime/c.txt", S_IFREG | 0644, 24u << 20, 0},
        {"runtime/d.bin", S_IFREG | 0755, 3u << 20, 1},
        {"runtime/e.bin", S_IFREG | 0644, 100000, 1},
        {"runtime/f", S_IFLNK | 0777, 5, 0},
        {"runtime/g.txt", S_IFREG | 0644, 8u << 20, 0},
        {"runtime/h.bin", S_IFREG | 0644, 32u << 20, 1},
        {"runtime/i.txt", S_IFREG | 0644, 5u << 20, 0},
    };
    enum { N = sizeof t / sizeof t[0] };
    struct hpk_item it[N];
    make_items(t, N, it);
    struct hpk_compress saved = hpk_compress_opt;
    hpk_compress_opt = c;
    struct hpk_payload_buf whole, streamed;
    struct hpk_err e = {0};
    assert_int_equal(hpk_payload_build(&whole, it, N, &e), 0);
    /* The table's order (docs/format.md 10.2): directories, files already
     * compressed, the rest; each group in the items' order. */
    const char *order[N] = {"runtime",       "runtime/b.zip", "runtime/a.txt", "runtime/c.txt", "runtime/d.bin",
                            "runtime/e.bin", "runtime/f",     "runtime/g.txt", "runtime/h.bin", "runtime/i.txt"};
    assert_int_equal(whole.count, N);
    for (size_t i = 0; i < N; i++) assert_string_equal(whole.entries[i].path, order[i]);
    struct mem_sink m = {.buf = malloc(whole.len), .cap = whole.len};
    assert_non_null(m.buf);
    /* Its pages touched now, so the sink keeps up with the compression, as
     * a disk does, and frames are laid down after the window moved. */
    memset(m.buf, 0xa5, whole.len);
    assert_int_equal(hpk_payload_stream(&streamed, it, N, to_memory, &m, &e), 0);
    hpk_compress_opt = saved;
    assert_int_equal(m.bad, 0);
    /* Whether the writer had written h.bin's first frames before the last
     * showed it does not pay depends on timing: said, not asserted. */
    if (c.codec == HPK_CODEC_ZSTD) print_message("streamed: %d writes over bytes written before\n", m.again);
    assert_int_equal(streamed.len, whole.len);
    assert_int_equal(m.got, streamed.flushed);
    /* The data went to the sink; table and footer are the caller's. */
    assert_int_equal(streamed.flushed, streamed.data_end);
    assert_true(streamed.base > 0); /* the window moved */
    memcpy(m.buf + streamed.flushed, hpk_payload_at(&streamed, streamed.flushed), streamed.len - streamed.flushed);
    assert_memory_equal(m.buf, whole.data, whole.len);
    assert_memory_equal(streamed.full_hash, whole.full_hash, 16);
    assert_int_not_equal(hpk_payload_append(&streamed, it, 1, &e), 0); /* its data is gone */
    hpk_payload_buf_free(&whole);
    hpk_payload_buf_free(&streamed);
    free(m.buf);
    for (size_t i = 0; i < N; i++) free(it[i].data);
}

static void test_stream_equals_build(void **state)
{
    (void)state;
    check_stream_equals_build((struct hpk_compress){HPK_CODEC_ZSTD, HPK_ZSTD_LEVEL});
    /* Stored: big files go from their own bytes, the window holds the rest. */
    check_stream_equals_build((struct hpk_compress){HPK_CODEC_STORED, 0});
}

/* Items left unhashed (hash_later: a mapped input, hpk_snapshot_hash_rest)
 * are hashed by the payload from the bytes it compresses (payload.c,
 * hash_frame): frame by frame in order, whole with a zstdref difference,
 * from their bytes when not compressed. Every entry gets the hash of its
 * content, written back into its item; the bytes are those of a payload
 * made from items hashed before. `after`: every frame is hashed after it is
 * compressed, so that frames done before their turn are parked. */
/* Item i's bytes written to a file of the scratch directory and read back
 * from it as a build reads its inputs, unhashed (hash_later); mapped from
 * 1 MiB (HPACK_TEST_MAP=always: however young), so that the compression
 * reads it into buffers of its own, which frames parked take along. */
static void from_file(struct hpk_item *it, size_t i)
{
    char file[64];
    snprintf(file, sizeof file, "input.%zu", i);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(it->data, 1, it->size, f), it->size);
    assert_int_equal(fclose(f), 0);
    struct hpk_item m = {0};
    struct hpk_err e = {0};
    setenv("HPACK_TEST_MAP", "always", 1);
    assert_int_equal(hpk_snapshot_file_unhashed(&m, file, 3, &e), 0);
    unsetenv("HPACK_TEST_MAP");
    assert_true(m.mapped == (it->size >= (1u << 20)));
    free(it->data);
    it->data = m.data, it->size = m.size, it->mapped = m.mapped, it->source = m.source, it->id = m.id;
}

static void check_hashes_while_compressing(struct hpk_compress c, int after, int files)
{
    static const struct titem t[] = {
        {"runtime", S_IFDIR | 0755, 0, 0},
        {"runtime/a.txt", S_IFREG | 0644, 3000, 0},
        {"runtime/b.zip", S_IFREG | 0644, 1u << 20, 2},
        {"runtime/c.txt", S_IFREG | 0644, 16u << 20, 0},
        {"runtime/d.bin", S_IFREG | 0644, (3u << 20) + 17, 1},
        {"runtime/lib", S_IFDIR | 0755, 0, 0},
        {"runtime/lib/x1.jsa", S_IFREG | 0644, 2u << 20, 0},
        {"runtime/lib/x2.jsa", S_IFREG | 0644, 2u << 20, 3},
        {"runtime/e.txt", S_IFREG | 0644, (5u << 20) + 5, 0},
        {"runtime/f.txt", S_IFREG | 0644, 4096, 0},
    };
    enum { N = sizeof t / sizeof t[0] };
    struct hpk_item it[N], known[N];
    uint8_t want[N][16];
    make_items(t, N, it);
    memcpy(known, it, sizeof it);
    for (size_t i = 0; i < N; i++) { /* the payload is to find each hash */
        memcpy(want[i], it[i].hash, 16);
        if (S_ISDIR(t[i].mode)) continue;
        if (files) {
            known[i].data = malloc(it[i].size);
            assert_non_null(known[i].data);
            memcpy(known[i].data, it[i].data, it[i].size);
            from_file(&it[i], i);
        }
        memset(it[i].hash, 0, 16);
        it[i].hash_later = 1;
    }
    struct hpk_compress saved = hpk_compress_opt;
    hpk_compress_opt = c;
    if (after) setenv("HPACK_TEST_HASH_AFTER", "1", 1);
    struct hpk_payload_buf p, ref;
    struct hpk_err e = {0};
    int r = hpk_payload_build(&p, it, N, &e);
    unsetenv("HPACK_TEST_HASH_AFTER");
    if (r) print_error("%s\n", e.msg);
    assert_int_equal(r, 0);
    assert_int_equal(hpk_payload_build(&ref, known, N, &e), 0);
    hpk_compress_opt = saved;
    int refs = 0;
    for (uint32_t k = 0; k < p.count; k++) {
        const struct hpk_entry *en = &p.entries[k];
        size_t i = 0;
        while (strcmp(t[i].path, en->path)) i++;
        if (!S_ISDIR(en->mode)) assert_memory_equal(en->hash, want[i], 16);
        refs += en->codec == HPK_CODEC_ZSTDREF;
    }
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(it[i].hash_later, 0);
        if (!S_ISDIR(t[i].mode)) assert_memory_equal(it[i].hash, want[i], 16);
    }
    if (c.codec == HPK_CODEC_ZSTD) assert_int_equal(refs, 1); /* x2.jsa: hashed with its difference */
    assert_int_equal(p.len, ref.len);
    assert_memory_equal(p.data, ref.data, p.len);
    hpk_payload_buf_free(&p);
    hpk_payload_buf_free(&ref);
    for (size_t i = 0; i < N; i++) {
        if (files && !S_ISDIR(t[i].mode)) free(known[i].data), free(it[i].source);
        if (it[i].mapped) hpk_item_data_free(&it[i]);
        else free(it[i].data);
    }
}

/* text_zip: a zip of `members` members of `each` bytes of text, deflated or
 * stored, in a new buffer of *len bytes. The members are of eight texts:
 * zstd finds their deflate output again. */
static uint8_t *text_zip(int deflate, int members, size_t each, size_t *len)
{
    const char **names = calloc((size_t)members, sizeof *names);
    const uint8_t **data = calloc((size_t)members, sizeof *data);
    size_t *lens = calloc((size_t)members, sizeof *lens);
    uint8_t *text[8];
    assert_non_null(names);
    assert_non_null(data);
    assert_non_null(lens);
    for (int t = 0; t < 8; t++) {
        text[t] = malloc(each);
        assert_non_null(text[t]);
        fill_text(text[t], each, (uint64_t)t + 7);
    }
    for (int i = 0; i < members; i++) {
        char name[32];
        snprintf(name, sizeof name, "m/%04d.txt", i);
        names[i] = strdup(name);
        assert_non_null(names[i]);
        data[i] = text[i % 8], lens[i] = each;
    }
    uint8_t *z = zip_of(names, data, lens, members, deflate, len);
    for (int i = 0; i < members; i++) free((char *)names[i]);
    for (int t = 0; t < 8; t++) free(text[t]);
    free(names), free(data), free(lens);
    return z;
}

/* What an item's zstd frames are: each 2 MiB compressed alone, as
 * ZSTD_compressCCtx at the level (F_LEVEL), with the fast strategy of a zip
 * of deflated members (F_FAST, payload.c tuned_frame) or with the
 * default level's tables (F_TABLES, tuned_frame). */
enum { F_LEVEL, F_FAST, F_TABLES };
static size_t frames_of(const uint8_t *d, size_t n, int level, int how, uint8_t *out, size_t cap)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    assert_non_null(cc);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level)));
    if (how == F_FAST) {
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_strategy, ZSTD_fast)));
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_hashLog, 17)));
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_minMatch, 4)));
    } else if (how == F_TABLES) {
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_hashLog, 16)));
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_chainLog, 15)));
    }
    size_t got = 0;
    for (size_t off = 0; off < n; off += HPK_ZSTD_FRAME) {
        size_t len = n - off < HPK_ZSTD_FRAME ? n - off : HPK_ZSTD_FRAME;
        size_t r = how != F_LEVEL ? ZSTD_compress2(cc, out + got, cap - got, d + off, len)
                                  : ZSTD_compressCCtx(cc, out + got, cap - got, d + off, len, level);
        assert_false(ZSTD_isError(r));
        got += r;
    }
    ZSTD_freeCCtx(cc);
    return got;
}

/* A file alike to several earlier ones is stored against the one its
 * content is closest to, not the one closest in size, and that one may be
 * stored against another itself (two levels, docs/format.md 5.3), as the
 * JDK's classes_nocoops_coh.jsa against classes_coh.jsa against
 * classes.jsa. a: random; b: a with every eighth 4 KiB block changed and
 * more after; c: b cut short, so closer in size to a; d: a with other
 * blocks changed and more after, so closer in size to b. c goes against b,
 * d against a; c decodes through b to its content. e, c with a few more
 * bytes changed, goes against b too, not c: c's reference is itself a
 * difference, so c may not be one (three levels). In txt/, repetitive
 * text: f, numbers one to a line; g, f with a digit of one line in ten
 * changed; h, g with one more line changed: h goes against g (with level
 * 1's single hash table the samples scored f better). */
static void test_refs_chosen_by_content(void **state)
{
    (void)state;
    enum { S = 2u << 20, B = 4096 };
    static const struct titem t[] = {
        {"runtime", S_IFDIR | 0755, 0, 0},
        {"runtime/lib", S_IFDIR | 0755, 0, 0},
        {"runtime/lib/a.jsa", S_IFREG | 0644, S, 1},
        {"runtime/lib/b.jsa", S_IFREG | 0644, S + (256u << 10), 1},
        {"runtime/lib/c.jsa", S_IFREG | 0644, S + (32u << 10), 1},
        {"runtime/lib/d.jsa", S_IFREG | 0644, S + (224u << 10), 1},
        {"runtime/lib/e.jsa", S_IFREG | 0644, S + (32u << 10), 1},
        {"runtime/txt", S_IFDIR | 0755, 0, 0},
        {"runtime/txt/f.txt", S_IFREG | 0644, S, 0},
        {"runtime/txt/g.txt", S_IFREG | 0644, S, 0},
        {"runtime/txt/h.txt", S_IFREG | 0644, S, 0},
    };
    enum { N = sizeof t / sizeof t[0], A = 2, BB = 3, C = 4, D = 5, E = 6, F = 8, G = 9, H = 10 };
    struct hpk_item it[N];
    make_items(t, N, it);
    memcpy(it[BB].data, it[A].data, S); /* its tail stays its own */
    memcpy(it[D].data, it[A].data, S);
    for (size_t k = 0; k < S / B; k += 8) {
        fill_random(it[BB].data + k * B, B, 1000 + k);
        fill_random(it[D].data + (k + 4) * B, B, 2000 + k);
    }
    memcpy(it[C].data, it[BB].data, it[C].size);
    for (size_t k = 0; k < 16; k++) it[C].data[k * 100003 % it[C].size] ^= 0x5a;
    memcpy(it[E].data, it[C].data, it[E].size);
    for (size_t k = 0; k < 16; k++) it[E].data[k * 70001 % it[E].size] ^= 0x33;
    for (size_t k = 0; k < S / 8; k++) {
        char line[9];
        snprintf(line, sizeof line, "%07zu\n", 1000000 + k);
        memcpy(it[F].data + 8 * k, line, 8);
        if (k % 10 == 6) line[6] = 'X';
        memcpy(it[G].data + 8 * k, line, 8);
    }
    memcpy(it[H].data, it[G].data, S);
    memcpy(it[H].data + S / 2, "changed\n", 8);
    for (size_t i = A; i < N; i++)
        if (!S_ISDIR(t[i].mode)) hpk_hash_bytes(it[i].data, it[i].size, it[i].hash);
    struct hpk_compress saved = hpk_compress_opt;
    hpk_compress_opt = (struct hpk_compress){HPK_CODEC_ZSTD, HPK_ZSTD_LEVEL};
    struct hpk_payload_buf p;
    struct hpk_err e = {0};
    int r = hpk_payload_build(&p, it, N, &e);
    hpk_compress_opt = saved;
    if (r) print_error("%s\n", e.msg);
    assert_int_equal(r, 0);
    assert_int_equal(p.count, N);
    /* The table's order is section 10.2's: each item's entry found by path. */
    const struct hpk_entry *en[N];
    uint32_t tix[N];
    for (size_t i = 0; i < N; i++) {
        tix[i] = 0;
        while (tix[i] < p.count && strcmp(p.entries[tix[i]].path, t[i].path)) tix[i]++;
        assert_true(tix[i] < p.count);
        en[i] = &p.entries[tix[i]];
    }
    assert_int_equal(en[A]->codec, HPK_CODEC_STORED);
    static const size_t want[N] = {[BB] = A, [C] = BB, [D] = A, [E] = BB, [G] = F, [H] = G};
    for (size_t i = BB; i < N; i++) {
        if (!want[i]) continue;
        assert_int_equal(en[i]->codec, HPK_CODEC_ZSTDREF);
        uint32_t got = hpk_get32(hpk_payload_at(&p, en[i]->offset));
        if (got != tix[want[i]])
            fail_msg("%s is stored against entry %u, not %s (%u)", t[i].path, (unsigned)got, t[want[i]].path,
                     (unsigned)tix[want[i]]);
    }
    assert_true(en[C]->stored_size < 4096); /* a few bytes changed from b */
    /* Decoded through b and a, to its content. */
    struct hpk_artifact a;
    memset(&a, 0, sizeof a);
    a.p.entries = p.entries;
    a.p.count = p.count;
    a.map = p.data;
    a.map_len = p.len;
    struct mem_sink m = {malloc(it[C].size), it[C].size, 0, 0, 0};
    assert_non_null(m.buf);
    assert_int_equal(hpk_entry_decode(&a, en[C], decoded_to, &m), HPK_OK);
    assert_int_equal(m.got, it[C].size);
    assert_memory_equal(m.buf, it[C].data, m.got);
    free(m.buf);
    hpk_payload_buf_free(&p);
    for (size_t i = 0; i < N; i++) free(it[i].data);
}

/* A zip whose members are deflated is compressed, at the default level
 * only, with zstd's fast strategy (payload.c, mostly_deflated); one of
 * stored members, or anything that only begins like a zip, as any file
 * (at the default level, with its tables: tuned_frame). */
static void test_deflated_zip_frames(void **state)
{
    (void)state;
    struct titem t[] = {
        {"runtime", S_IFDIR | 0755, 0, 0},
        {"runtime/a.zip", S_IFREG | 0644, 0, 1},
        {"runtime/b.zip", S_IFREG | 0644, 0, 1},
        {"runtime/c.zip", S_IFREG | 0644, 3u << 20, 1},
        {"runtime/d.zip", S_IFREG | 0644, 8192, 1},
    };
    enum { N = sizeof t / sizeof t[0] };
    struct hpk_item it[N];
    make_items(t, N, it);
    size_t n;
    free(it[1].data);
    it[1].data = text_zip(1, 400, 32768, &n); /* about 3 MB deflated: two frames */
    it[1].size = n;
    free(it[2].data);
    it[2].data = text_zip(0, 40, 65536, &n);
    it[2].size = n;
    memcpy(it[3].data, "PK\3\4", 4); /* no central directory */
    /* A central directory whose first record's name runs past its end (and
     * the file's): two records said, the second never read. */
    uint8_t *z = it[4].data;
    memcpy(z, "PK\3\4", 4);
    memset(z + 4000, 0, 46);
    memcpy(z + 4000, "PK\1\2", 4);
    z[4000 + 28] = 0x60, z[4000 + 29] = 0xea; /* name length 60000 */
    size_t eo = 8192 - 22;
    memset(z + eo, 0, 22);
    memcpy(z + eo, "PK\5\6", 4);
    z[eo + 10] = 2;                       /* two records */
    z[eo + 12] = 46;                      /* a directory of 46 bytes */
    z[eo + 16] = 4000 & 0xff, z[eo + 17] = 4000 >> 8; /* at 4000 */
    for (int level = 3; level <= 4; level++) {
        struct hpk_compress saved = hpk_compress_opt;
        hpk_compress_opt = (struct hpk_compress){HPK_CODEC_ZSTD, level};
        struct hpk_payload_buf p;
        struct hpk_err e = {0};
        for (size_t i = 1; i < N; i++) hpk_hash_bytes(it[i].data, it[i].size, it[i].hash);
        assert_int_equal(hpk_payload_build(&p, it, N, &e), 0);
        hpk_compress_opt = saved;
        for (size_t i = 1; i < N; i++) {
            const struct hpk_entry *en = &p.entries[i];
            assert_string_equal(en->path, t[i].path);
            if (i >= 3) { /* random bytes: stored */
                assert_int_equal(en->codec, HPK_CODEC_STORED);
                continue;
            }
            assert_int_equal(en->codec, HPK_CODEC_ZSTD);
            size_t cap = ZSTD_compressBound(it[i].size) + 4096;
            uint8_t *want = malloc(cap);
            assert_non_null(want);
            int how = level != HPK_ZSTD_LEVEL ? F_LEVEL : i == 1 ? F_FAST : F_TABLES;
            size_t wl = frames_of(it[i].data, it[i].size, level, how, want, cap);
            assert_int_equal(en->stored_size, wl);
            assert_memory_equal(hpk_payload_at(&p, en->offset), want, wl);
            free(want);
        }
        hpk_payload_buf_free(&p);
    }
    for (size_t i = 0; i < N; i++) free(it[i].data);
}

static void test_hashes_while_compressing(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) /* parking depends on timing: more than one round */
        for (int files = 0; files < 2; files++) {
            check_hashes_while_compressing((struct hpk_compress){HPK_CODEC_ZSTD, HPK_ZSTD_LEVEL}, 0, files);
            check_hashes_while_compressing((struct hpk_compress){HPK_CODEC_ZSTD, HPK_ZSTD_LEVEL}, 1, files);
        }
    check_hashes_while_compressing((struct hpk_compress){HPK_CODEC_ZSTD, 12}, 1, 1); /* zstd8m frames */
    check_hashes_while_compressing((struct hpk_compress){HPK_CODEC_ZLIB, 4}, 0, 1);
    check_hashes_while_compressing((struct hpk_compress){HPK_CODEC_STORED, 0}, 0, 0);
}

/* The marker's forms (layout/marker.c): written settled or naming this
 * boot, read back as such; one naming another boot, of another tree, cut
 * short or of another size is not taken for this boot's. */
static void test_marker_forms(void **state)
{
    (void)state;
    static const char hex[] = "0123456789abcdef0123456789abcdef";
    char id[HPK_BOOT_ID_LEN + 1], text[HPK_MARKER_BOOT_SIZE + 1];
    struct hpk_err e;
    struct stat st;
    int t = open(".", O_RDONLY | O_DIRECTORY);
    assert_true(t >= 0);
    assert_int_equal(hpk_boot_id(id), 0); /* Linux shows one */
    assert_int_equal(strlen(id), 36);

    assert_int_equal(hpk_marker_write(t, hex, HPK_MARK_SETTLED, &e), 0);
    assert_int_equal(stat(HPK_MARKER, &st), 0);
    assert_int_equal(st.st_size, HPK_MARKER_SETTLED_SIZE);
    assert_int_equal(st.st_mtime, HPK_FIXED_MTIME);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(hpk_marker_state(t, hex, &st), HPK_MARKER_SETTLED);

    assert_int_equal(hpk_marker_write(t, hex, HPK_MARK_BOOT, &e), 0);
    assert_int_equal(stat(HPK_MARKER, &st), 0);
    assert_int_equal(st.st_size, HPK_MARKER_BOOT_SIZE);
    assert_int_equal(hpk_marker_state(t, hex, &st), HPK_MARKER_THIS_BOOT);
    snprintf(text, sizeof text, "%s\nboot %s\n", hex, id);
    FILE *f = fopen(HPK_MARKER, "r");
    char got[128] = {0};
    assert_non_null(f);
    assert_int_equal(fread(got, 1, sizeof got, f), HPK_MARKER_BOOT_SIZE);
    fclose(f);
    assert_string_equal(got, text);
    assert_int_equal(access(HPK_MARKER ".tmp", F_OK), -1); /* renamed, not left */
    /* Another tree's marker is none of this tree's. */
    assert_int_equal(hpk_marker_state(t, "fedcba9876543210fedcba9876543210", &st), HPK_MARKER_BAD);

    /* Another boot: a restart since. */
    text[33 + 5] = text[33 + 5] == '0' ? '1' : '0';
    write_file(HPK_MARKER, text);
    assert_int_equal(stat(HPK_MARKER, &st), 0);
    assert_int_equal(hpk_marker_state(t, hex, &st), HPK_MARKER_EARLIER_BOOT);
    /* Same size, no "boot " word; zeros as a crash leaves them; empty. */
    memcpy(text + 33, "bott ", 5);
    write_file(HPK_MARKER, text);
    assert_int_equal(stat(HPK_MARKER, &st), 0);
    assert_int_equal(hpk_marker_state(t, hex, &st), HPK_MARKER_BAD);
    f = fopen(HPK_MARKER, "w");
    assert_non_null(f);
    assert_int_equal(fwrite((char[HPK_MARKER_BOOT_SIZE]){0}, 1, HPK_MARKER_BOOT_SIZE, f), HPK_MARKER_BOOT_SIZE);
    fclose(f);
    assert_int_equal(stat(HPK_MARKER, &st), 0);
    assert_int_equal(hpk_marker_state(t, hex, &st), HPK_MARKER_BAD);
    write_file(HPK_MARKER, "");
    assert_int_equal(stat(HPK_MARKER, &st), 0);
    assert_int_equal(hpk_marker_state(t, hex, &st), HPK_MARKER_BAD);
    /* A FIFO put in its place after the stat: no hang, not a marker. */
    assert_int_equal(hpk_marker_write(t, hex, HPK_MARK_BOOT, &e), 0);
    assert_int_equal(stat(HPK_MARKER, &st), 0);
    assert_int_equal(unlink(HPK_MARKER), 0);
    assert_int_equal(mkfifo(HPK_MARKER, 0644), 0);
    assert_int_equal(hpk_marker_state(t, hex, &st), HPK_MARKER_BAD);
    assert_int_equal(unlink(HPK_MARKER), 0);
    write_file(HPK_MARKER, "");
    /* A directory in its place: not followed, not a marker. */
    assert_int_equal(unlink(HPK_MARKER), 0);
    assert_int_equal(mkdir(HPK_MARKER, 0755), 0);
    assert_int_equal(stat(HPK_MARKER, &st), 0);
    assert_int_equal(hpk_marker_state(t, hex, &st), HPK_MARKER_BAD);
    assert_int_not_equal(hpk_marker_write(t, hex, HPK_MARK_SETTLED, &e), 0);
    assert_int_equal(e.code, HPK_EXIT_UNPACK);
    assert_non_null(strstr(e.msg, "cannot write .hpack-ok"));
    assert_int_equal(access(HPK_MARKER ".tmp", F_OK), -1);
    close(t);
}

/* The service providers jdeps cannot see (provmods.c): added where their
 * user is linked and the JDK has them, jdk.crypto.ec only up to Java 21,
 * nothing twice, and nothing the JDK lacks. */
static void strv_of(struct hpk_strv *v, const char *csv)
{
    char *t = strdup(csv), *save = NULL;
    for (char *m = strtok_r(t, ",", &save); m; m = strtok_r(NULL, ",", &save)) hpk_strv_push(v, m);
    free(t);
}

static char *provided_linked(const char *mods, const char *linked, const char *jdk, int major, size_t *n_added,
                             char *said, size_t saidn)
{
    struct hpk_strv m = {0}, j = {0}, l = {0};
    strv_of(&m, mods);
    strv_of(&j, jdk);
    strv_of(&l, linked);
    const struct hpk_provider_rule *added[HPK_PROVIDER_RULES], *told[HPK_PROVIDER_RULES];
    size_t n_told;
    hpk_provider_modules(&m, &l, &j, major, added, n_added, told, &n_told);
    size_t len = 1;
    for (size_t i = 0; i < m.n; i++) len += strlen(m.v[i]) + 1;
    char *out = calloc(1, len);
    for (size_t i = 0; i < m.n; i++) {
        if (i) strcat(out, ",");
        strcat(out, m.v[i]);
    }
    for (size_t i = 0; i < *n_added; i++) assert_non_null(strstr(out, added[i]->add));
    said[0] = 0;
    for (size_t i = 0; i < n_told; i++) {
        assert_null(strstr(out, told[i]->add)); /* said: not linked */
        snprintf(said + strlen(said), saidn - strlen(said), "%s%s", i ? "," : "", told[i]->add);
    }
    hpk_strv_free(&m);
    hpk_strv_free(&j);
    hpk_strv_free(&l);
    return out;
}

static char *provided(const char *mods, const char *jdk, int major, size_t *n_added, char *said, size_t saidn)
{
    return provided_linked(mods, "", jdk, major, n_added, said, saidn);
}

static void test_provider_modules(void **state)
{
    (void)state;
    const char *jdk = "java.base,java.compiler,java.management,java.naming,jdk.compiler,jdk.crypto.ec,jdk.localedata,"
                      "jdk.management,jdk.naming.dns,jdk.zipfs";
    size_t n;
    char said[256];
    char *r = provided("java.base", jdk, 17, &n, said, sizeof said);
    assert_string_equal(r, "java.base,jdk.crypto.ec,jdk.zipfs");
    assert_int_equal(n, 2);
    assert_string_equal(said, "jdk.localedata");
    free(r);
    r = provided("java.base", jdk, 21, &n, said, sizeof said);
    assert_string_equal(r, "java.base,jdk.crypto.ec,jdk.zipfs");
    free(r);
    /* JDK 22 has the EC provider in java.base */
    r = provided("java.base", jdk, 22, &n, said, sizeof said);
    assert_string_equal(r, "java.base,jdk.zipfs");
    assert_int_equal(n, 1);
    free(r);
    /* the large ones are said, not linked */
    r = provided("java.base,java.compiler,java.naming,java.management", jdk, 25, &n, said, sizeof said);
    assert_string_equal(r, "java.base,java.compiler,java.naming,java.management,jdk.zipfs,jdk.naming.dns,"
                           "jdk.management");
    assert_int_equal(n, 3);
    assert_string_equal(said, "jdk.compiler,jdk.localedata");
    free(r);
    /* already linked: not twice, not counted, not said */
    r = provided("java.base,jdk.zipfs,java.compiler,jdk.compiler,jdk.localedata", jdk, 25, &n, said, sizeof said);
    assert_string_equal(r, "java.base,jdk.zipfs,java.compiler,jdk.compiler,jdk.localedata");
    assert_int_equal(n, 0);
    assert_string_equal(said, "");
    free(r);
    /* a JDK without them: nothing */
    r = provided("java.base,java.compiler", "java.base,java.compiler", 17, &n, said, sizeof said);
    assert_string_equal(r, "java.base,java.compiler");
    assert_int_equal(n, 0);
    assert_string_equal(said, "");
    free(r);
    r = provided("java.base", "", 17, &n, said, sizeof said);
    assert_string_equal(r, "java.base");
    free(r);
    /* jdeps lists no module another listed one requires: the rules look
     * at what is linked (java.sql.rowset brings java.naming), and what is
     * linked that way is not added again */
    r = provided_linked("java.sql.rowset", "java.base,java.logging,java.naming,java.sql,java.sql.rowset,java.xml,jdk.zipfs",
                        jdk, 25, &n, said, sizeof said);
    assert_string_equal(r, "java.sql.rowset,jdk.naming.dns");
    assert_int_equal(n, 1);
    assert_string_equal(said, "jdk.localedata");
    free(r);
    /* a large provider linked through a module that requires it is not said */
    r = provided_linked("jdk.jshell", "java.base,java.compiler,jdk.compiler,jdk.jshell,jdk.zipfs", jdk, 25, &n, said,
                        sizeof said);
    assert_string_equal(r, "jdk.jshell");
    assert_int_equal(n, 0);
    assert_string_equal(said, "jdk.localedata");
    free(r);
}

static const struct hpk_litem *litem(const struct hpk_litems *l, const char *path)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].path, path)) return &l->v[i];
    return NULL;
}

/* hpack image --fonts DIR: the font files below DIR flattened into one
 * directory (a/x.ttf as a-x.ttf), links to files followed, links to
 * directories not; a clash of flattened names refused; none, or a runtime
 * without a font manager, adds nothing; DIR without fontconfig refused. */
static void test_image_fonts_dir(void **state)
{
    (void)state;
    struct hpk_closure c = {.font_manager = 1, .fontconfig = 1};
    struct hpk_litems l = {0};
    struct hpk_err e = {0};
    int n = -1;
    assert_int_equal(mkdir("d", 0755), 0);
    assert_int_equal(mkdir("d/a", 0755), 0);
    write_file("d/a/x.ttf", "one");
    write_file("d/a-x.ttf", "two");
    assert_int_not_equal(hpk_image_fonts("d", &c, ".", &l, &n, &e), 0);
    assert_int_equal(e.code, HPK_ST_USAGE);
    assert_non_null(strstr(e.msg, "a second font named a-x.ttf"));
    hpk_litems_free(&l);
    assert_int_equal(unlink("d/a-x.ttf"), 0);
    write_file("d/b.OTF", "three");
    write_file("d/readme.txt", "not a font");
    assert_int_equal(symlink("a/x.ttf", "d/link.ttf"), 0);
    assert_int_equal(symlink(".", "d/loop"), 0);
    assert_int_equal(hpk_image_fonts("d", &c, ".", &l, &n, &e), 0);
    assert_int_equal(n, 3);
    const struct hpk_litem *it = litem(&l, "usr/share/fonts/hpack/a-x.ttf");
    assert_non_null(it);
    assert_int_equal(it->size, 3);
    assert_memory_equal(it->data, "one", 3);
    assert_non_null(litem(&l, "usr/share/fonts/hpack/b.OTF"));
    assert_non_null(litem(&l, "usr/share/fonts/hpack/link.ttf"));
    assert_null(litem(&l, "usr/share/fonts/hpack/readme.txt"));
    it = litem(&l, "etc/fonts/fonts.conf");
    assert_non_null(it);
    char *conf = strndup((const char *)it->data, it->size);
    assert_non_null(strstr(conf, "<dir>/usr/share/fonts/hpack</dir>"));
    assert_null(strstr(conf, "DejaVu")); /* the aliases are the DejaVu set's */
    free(conf);
    for (size_t i = 0; i < l.n; i++) assert_null(strstr(l.v[i].path, "cache")); /* no fontconfig cache for DIR */
    hpk_litems_free(&l);
    /* none, and a runtime that draws no text: nothing */
    assert_int_equal(hpk_image_fonts("none", &c, ".", &l, &n, &e), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(n, 0);
    c.font_manager = 0;
    assert_int_equal(hpk_image_fonts("d", &c, ".", &l, &n, &e), 0);
    assert_int_equal(l.n, 0);
    /* fonts asked for, no fontconfig to find them */
    c.font_manager = 1, c.fontconfig = 0;
    assert_int_not_equal(hpk_image_fonts("d", &c, ".", &l, &n, &e), 0);
    assert_int_equal(e.code, HPK_ST_RUNTIME);
    assert_non_null(strstr(e.msg, "libfontconfig.so.1"));
    hpk_litems_free(&l);
}

/* One rule for every JSON string: valid JSON (ASCII escapes for controls
 * and for bytes that are not UTF-8, \udcXX), UTF-8 kept, C1 included. */
static void test_json_strings(void **state)
{
    (void)state;
    static const char in[] = "a\"\\\n\t\x01\x7f caf\xc3\xa9 \xc2\x9b \xe9 \xed\xa0\x80 \xe6\x97";
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    hpk_json_strn(f, in, sizeof in - 1);
    fputc(' ', f);
    hpk_json_str(f, "x");
    fclose(f);
    assert_string_equal(buf, "\"a\\\"\\\\\\n\\t\\u0001\\u007f caf\xc3\xa9 \xc2\x9b \\udce9 \\udced\\udca0\\udc80 \\udce6\\udc97\" \"x\"");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_forms),
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_provider_modules),
        cmocka_unit_test(test_deferrable_default_cds),
        cmocka_unit_test(test_jar_module_name),
        cmocka_unit_test(test_child_kill_reads_while_stopping),
        cmocka_unit_test_setup_teardown(test_release_major, enter, leave),
        cmocka_unit_test(test_ready_refused),
        cmocka_unit_test(test_compress),
        cmocka_unit_test(test_stream_equals_build),
        cmocka_unit_test(test_cache_kind),
        cmocka_unit_test(test_tune_stats),
        cmocka_unit_test(test_tune_split),
        cmocka_unit_test(test_jar_lists),
        cmocka_unit_test(test_jar_rewrite_class_path),
        cmocka_unit_test(test_cp_path),
        cmocka_unit_test(test_split_quoted),
        cmocka_unit_test(test_tune_heap_peak),
        cmocka_unit_test_setup_teardown(test_argfile_paths_and_order, enter, leave),
        cmocka_unit_test_setup_teardown(test_argfile_abbreviations, enter, leave),
        cmocka_unit_test_setup_teardown(test_argfile_errors_name_the_file, enter, leave),
        cmocka_unit_test_setup_teardown(test_argfile_not_an_option_value, enter, leave),
        cmocka_unit_test_setup_teardown(test_marker_forms, enter, leave),
        cmocka_unit_test_setup_teardown(test_hashes_while_compressing, enter, leave),
        cmocka_unit_test(test_refs_chosen_by_content),
        cmocka_unit_test(test_deflated_zip_frames),
        cmocka_unit_test_setup_teardown(test_image_fonts_dir, enter, leave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
