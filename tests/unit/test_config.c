/*
 * test_config.c - cmocka unit tests for the artifact's meaning (layout/config.c):
 * the cache-trust rule, decoding of hpack/launch's informational keys and
 * the JVM command line builder that the launcher and `hpack inspect` share.
 *
 *   make build/test_config && build/test_config
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../layout/hpk_config.h"
#include "../../layout/hpk_tree.h"

#define BASE "0123456789abcdef0123456789abcdef"

/* A provenance as records: "k=v\0k=v\0". */
static size_t prov(char *buf, const char *base, const char *kind, const char *rv)
{
    size_t n = 0;
    n += (size_t)sprintf(buf + n, "format=1") + 1;
    if (base) n += (size_t)sprintf(buf + n, "base=%s", base) + 1;
    if (kind) n += (size_t)sprintf(buf + n, "kind=%s", kind) + 1;
    if (rv) n += (size_t)sprintf(buf + n, "runtime.version=%s", rv) + 1;
    return n;
}

static void test_trust_ok(void **state)
{
    (void)state;
    char p[256], why[320] = "untouched";
    size_t n = prov(p, BASE, "aot", "25.0.3+9");
    assert_int_equal(hpk_cache_trust(p, n, BASE, "aot", "25.0.3+9", why, sizeof why), HPK_TRUST_OK);
    assert_string_equal(why, "untouched");
}

static void test_trust_refusals(void **state)
{
    (void)state;
    char p[256], why[320];
    size_t n;
    assert_int_equal(hpk_cache_trust(NULL, 0, BASE, "aot", "25", why, sizeof why), HPK_TRUST_NO_PROV);
    n = prov(p, "ffffffffffffffffffffffffffffffff", "aot", "25");
    assert_int_equal(hpk_cache_trust(p, n, BASE, "aot", "25", why, sizeof why), HPK_TRUST_BASE);
    assert_non_null(strstr(why, "recorded for other inputs"));
    assert_non_null(strstr(why, BASE));
    n = prov(p, NULL, "aot", "25"); /* no base at all */
    assert_int_equal(hpk_cache_trust(p, n, BASE, "aot", "25", why, sizeof why), HPK_TRUST_BASE);
    n = prov(p, BASE, "cds", "25");
    assert_int_equal(hpk_cache_trust(p, n, BASE, "aot", "25", why, sizeof why), HPK_TRUST_KIND);
    assert_string_equal(why, "it is of kind cds, this runtime needs aot");
    /* a runtime that takes no cache trusts none */
    n = prov(p, BASE, "aot", "25");
    assert_int_equal(hpk_cache_trust(p, n, BASE, NULL, "25", why, sizeof why), HPK_TRUST_KIND);
    n = prov(p, BASE, "aot", "25.0.2");
    assert_int_equal(hpk_cache_trust(p, n, BASE, "aot", "25.0.3", why, sizeof why), HPK_TRUST_RUNTIME);
    assert_string_equal(why, "it was made by Java 25.0.2, the runtime is 25.0.3");
    /* no runtime.version on either side: never bound */
    n = prov(p, BASE, "aot", NULL);
    assert_int_equal(hpk_cache_trust(p, n, BASE, "aot", NULL, NULL, 0), HPK_TRUST_RUNTIME);
    /* a prefix is not a match */
    n = prov(p, BASE "0", "aot", "25");
    assert_int_equal(hpk_cache_trust(p, n, BASE, "aot", "25", NULL, 0), HPK_TRUST_BASE);
}

static void test_trust_first_record_counts(void **state)
{
    (void)state;
    static const char p[] = "base=" BASE "\0kind=aot\0runtime.version=25\0base=ffff\0";
    assert_int_equal(hpk_cache_trust(p, sizeof p - 1, BASE, "aot", "25", NULL, 0), HPK_TRUST_OK);
    /* a malformed record before the key hides it: not trusted */
    static const char bad[] = "=x\0base=" BASE "\0kind=aot\0runtime.version=25\0";
    assert_int_equal(hpk_cache_trust(bad, sizeof bad - 1, BASE, "aot", "25", NULL, 0), HPK_TRUST_BASE);
}

static void test_launch_informational_keys(void **state)
{
    (void)state;
    static const char c[] = "format=1\0launcher.version=0.1.0\0java=runtime/bin/java\0main=demo.Main\0"
                            "cache.kind=aot\0cache.kind=cds\0cp=app/a.jar\0";
    struct hpk_launch l;
    assert_int_equal(hpk_launch_decode(c, sizeof c - 1, &l), 0);
    assert_string_equal(l.cache_kind, "aot"); /* the first counts */
    assert_string_equal(l.launcher_version, "0.1.0");
    hpk_launch_free(&l);
    static const char none[] = "java=runtime/bin/java\0main=M\0cp=app/a.jar\0";
    assert_int_equal(hpk_launch_decode(none, sizeof none - 1, &l), 0);
    assert_null(l.cache_kind);
    hpk_launch_free(&l);
}

/* A cp value is one class path element inside the tree: no ':' (the JVM
 * splits there; the part after it would be relative to the working
 * directory), no last component '*' (the java launcher expands it). */
static void test_launch_cp_separator(void **state)
{
    (void)state;
    assert_true(hpk_launch_cp_ok("app/a.jar"));
    assert_true(hpk_launch_cp_ok("app/*x/a*.jar"));
    assert_false(hpk_launch_cp_ok("app/my:app.jar"));
    assert_false(hpk_launch_cp_ok("app/a.jar:"));
    assert_false(hpk_launch_cp_ok("app/*"));
    assert_false(hpk_launch_cp_ok("*"));
    assert_false(hpk_launch_cp_ok("app/../a.jar"));
    static const char c[] = "java=runtime/bin/java\0main=M\0cp=app/a.jar\0cp=app/b:c.jar\0";
    struct hpk_launch l;
    assert_int_equal(hpk_launch_decode(c, sizeof c - 1, &l), -1);
    static const char w[] = "java=runtime/bin/java\0main=M\0cp=app/lib/*\0";
    assert_int_equal(hpk_launch_decode(w, sizeof w - 1, &l), -1);
}

/* An env value names a variable the launcher may set for the JVM: not one
 * it reads itself, nor one the JVM takes options from (the cache was
 * trained without them). */
static void test_launch_env(void **state)
{
    (void)state;
    assert_true(hpk_launch_env_ok("JAVA_HOME=${HPACK_RUNTIME}"));
    assert_true(hpk_launch_env_ok("_x1="));
    assert_true(hpk_launch_env_ok("A=b=c d\n"));
    assert_false(hpk_launch_env_ok("=x"));
    assert_false(hpk_launch_env_ok("NOVALUE"));
    assert_false(hpk_launch_env_ok("1A=x"));
    assert_false(hpk_launch_env_ok("A-B=x"));
    assert_false(hpk_launch_env_ok("HPACK_CACHE_DIR=/tmp"));
    assert_false(hpk_launch_env_ok("JAVA_TOOL_OPTIONS=-Xmx1m"));
    assert_false(hpk_launch_env_ok("_JAVA_OPTIONS=-Xmx1m"));
    assert_false(hpk_launch_env_ok("JDK_JAVA_OPTIONS=-Xmx1m"));
    assert_true(hpk_launch_env_ok("JAVA_TOOL_OPTIONSX=1"));
    /* the kernel passes no variable of 128 KiB or more (MAX_ARG_STRLEN) */
    static char big[HPK_ENV_MAX + 1];
    memset(big, 'x', HPK_ENV_MAX);
    big[0] = 'A', big[1] = '=';
    big[HPK_ENV_MAX - 1] = 0;
    assert_true(hpk_launch_env_ok(big));
    big[HPK_ENV_MAX - 1] = 'x';
    assert_false(hpk_launch_env_ok(big));
    static const char good[] = "java=runtime/bin/java\0main=M\0cp=app/a.jar\0env=A=1\0env=B=${HPACK_APP} x\0";
    struct hpk_launch l;
    assert_int_equal(hpk_launch_decode(good, sizeof good - 1, &l), 0);
    assert_int_equal(l.n_env, 2);
    assert_string_equal(l.env[0], "A=1");
    assert_string_equal(l.env[1], "B=${HPACK_APP} x");
    hpk_launch_free(&l);
    static const char bad[] = "java=runtime/bin/java\0main=M\0cp=app/a.jar\0env=A=1\0env=JAVA_TOOL_OPTIONS=-Xint\0";
    assert_int_equal(hpk_launch_decode(bad, sizeof bad - 1, &l), -1);
}

/* A config as hpk_config_load would leave it, without an artifact. */
static struct hpk_entry cache_entry = {.path = "cache/abc.aot", .path_len = 13, .role = HPK_ROLE_CACHE,
                                       .mode = S_IFREG | 0644};
static const char conf_buf[] = "java=runtime/bin/java\0main=demo.Main\0cache.kind=aot\0cp=app/a.jar\0cp=app/lib/b.jar\0"
                               "jvm=-Xss2m\0jvm=-Dhome=${HPACK_APP}\0arg=fixed\0";

static void config(struct hpk_config *c, int with_cache)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(hpk_launch_decode(conf_buf, sizeof conf_buf - 1, &c->launch), 0);
    strcpy(c->base_hex, BASE);
    if (with_cache) c->cache = &cache_entry;
}

static char *upper(void *ctx, const char *v)
{
    (*(int *)ctx)++;
    char *s = strdup(v);
    char *p = strstr(s, "${HPACK_APP}");
    if (p) {
        char *o;
        if (asprintf(&o, "%.*s/T/app%s", (int)(p - s), s, p + 12) < 0) o = NULL;
        free(s);
        s = o;
    }
    return s;
}

static void assert_argv(char **v, const char *const *want)
{
    size_t i = 0;
    for (; want[i]; i++) {
        assert_non_null(v[i]);
        assert_string_equal(v[i], want[i]);
    }
    assert_null(v[i]);
}

static void test_exec_line_cache_and_order(void **state)
{
    (void)state;
    struct hpk_config c;
    config(&c, 1);
    int calls = 0;
    const char *user[] = {"-Xlog:aot", NULL};
    char *argv[] = {"one", "two words"};
    struct hpk_exec_spec s = {.tree = "/r/" BASE, .cache = 2, .user_opts = user, .expand = upper,
                              .expand_ctx = &calls, .argc = 2, .argv = argv};
    char **v = hpk_exec_line(&c, &s);
    const char *want[] = {"/r/" BASE "/runtime/bin/java", "-Xss2m", "-Dhome=/T/app",
                          "-XX:AOTCache=" HPK_TREE_FD_PATH "/cache/abc.aot", "-XX:AOTMode=on", "-Xlog:aot", "-cp",
                          HPK_TREE_FD_PATH "/app/a.jar:" HPK_TREE_FD_PATH "/app/lib/b.jar", "demo.Main", "fixed", "one",
                          "two words", NULL};
    assert_argv(v, want);
    assert_int_equal(calls, 3); /* every jvm and arg value, nothing else */
    hpk_exec_line_free(v);
    hpk_launch_free(&c.launch);
}

static void test_exec_line_without_cache(void **state)
{
    (void)state;
    struct hpk_config c;
    config(&c, 1);
    struct hpk_exec_spec s = {.tree = "T", .cache = 0};
    char **v = hpk_exec_line(&c, &s);
    for (char **p = v; *p; p++) assert_null(strstr(*p, "AOT"));
    assert_string_equal(v[2], "-Dhome=${HPACK_APP}"); /* no expander: as it is */
    hpk_exec_line_free(v);
    /* a cache passed, not required: no AOTMode */
    s.cache = 1;
    v = hpk_exec_line(&c, &s);
    assert_string_equal(v[3], "-XX:AOTCache=" HPK_TREE_FD_PATH "/cache/abc.aot");
    assert_string_equal(v[4], "-cp");
    hpk_exec_line_free(v);
    /* CDS: SharedArchiveFile and -Xshare:on */
    c.launch.cache_kind = "cds";
    s.cache = 2;
    v = hpk_exec_line(&c, &s);
    assert_string_equal(v[3], "-XX:SharedArchiveFile=" HPK_TREE_FD_PATH "/cache/abc.aot");
    assert_string_equal(v[4], "-Xshare:on");
    hpk_exec_line_free(v);
    /* training options replace the cache */
    const char *train[] = {"-XX:AOTMode=record", "-XX:AOTConfiguration=x", NULL};
    s.train = train;
    v = hpk_exec_line(&c, &s);
    assert_string_equal(v[3], "-XX:AOTMode=record");
    assert_string_equal(v[4], "-XX:AOTConfiguration=x");
    assert_string_equal(v[5], "-cp");
    hpk_exec_line_free(v);
    hpk_launch_free(&c.launch);
}

/* Paths the JVM checks against its cache (module path, upgrade module path,
 * boot class path append): ${HPACK_APP} and ${HPACK_RUNTIME} take the
 * descriptor's form, the same string for every tree; other values, and the
 * option before such a path, go through the expander as ever. */
static void test_exec_line_checked_paths(void **state)
{
    (void)state;
    static const char buf[] = "java=runtime/bin/java\0main=demo.Main\0cp=app/a.jar\0"
                              "jvm=-p\0jvm=${HPACK_APP}/m.jar:${HPACK_RUNTIME}/x\0"
                              "jvm=--upgrade-module-path\0jvm=${HPACK_APP}/u\0"
                              "jvm=--module-path=${HPACK_APP}/n.jar\0jvm=--upgrade-module-path=${HPACK_APP}/v\0"
                              "jvm=-Xbootclasspath/a:${HPACK_APP}/b.jar\0jvm=-Dp=${HPACK_APP}\0jvm=--add-modules\0"
                              "jvm=${HPACK_APP}\0jvm=--module-path\0jvm=-Dq=${HPACK_APP}\0";
    struct hpk_config c;
    memset(&c, 0, sizeof c);
    assert_int_equal(hpk_launch_decode(buf, sizeof buf - 1, &c.launch), 0);
    strcpy(c.base_hex, BASE);
    int calls = 0;
    struct hpk_exec_spec s = {.tree = "/r/" BASE, .expand = upper, .expand_ctx = &calls};
    char **v = hpk_exec_line(&c, &s);
    const char *want[] = {"/r/" BASE "/runtime/bin/java", "-p",
                          HPK_TREE_FD_PATH "/app/m.jar:" HPK_TREE_FD_PATH "/runtime/x", "--upgrade-module-path",
                          HPK_TREE_FD_PATH "/app/u", "--module-path=" HPK_TREE_FD_PATH "/app/n.jar",
                          "--upgrade-module-path=" HPK_TREE_FD_PATH "/app/v",
                          "-Xbootclasspath/a:" HPK_TREE_FD_PATH "/app/b.jar", "-Dp=/T/app", "--add-modules", "/T/app",
                          "--module-path",
                          "-Dq=" HPK_TREE_FD_PATH "/app", /* after --module-path: a path, by its place */ "-cp",
                          HPK_TREE_FD_PATH "/app/a.jar", "demo.Main", NULL};
    assert_argv(v, want);
    assert_int_equal(calls, 12); /* every value still goes through the expander (${HPACK_EXE}, ${HPACK_CWD}) */
    hpk_exec_line_free(v);
    hpk_launch_free(&c.launch);
}

/* after_cp: a JVM run that starts no application (`-version` to ask the
 * JVM about the cache, nothing for the AOT create step): the words follow
 * the class path, and the main class, the artifact's args and the user's
 * args are left out, with every option before -cp as in a real start. */
static void test_exec_line_after_cp(void **state)
{
    (void)state;
    struct hpk_config c;
    config(&c, 1);
    int calls = 0;
    const char *user[] = {"-Xlog:aot", NULL};
    const char *version[] = {"-version", NULL};
    char *argv[] = {"one"};
    struct hpk_exec_spec s = {.tree = "/r/" BASE, .cache = 2, .user_opts = user, .after_cp = version,
                              .expand = upper, .expand_ctx = &calls, .argc = 1, .argv = argv};
    char **v = hpk_exec_line(&c, &s);
    const char *want[] = {"/r/" BASE "/runtime/bin/java", "-Xss2m", "-Dhome=/T/app",
                          "-XX:AOTCache=" HPK_TREE_FD_PATH "/cache/abc.aot", "-XX:AOTMode=on", "-Xlog:aot", "-cp",
                          HPK_TREE_FD_PATH "/app/a.jar:" HPK_TREE_FD_PATH "/app/lib/b.jar", "-version", NULL};
    assert_argv(v, want);
    assert_int_equal(calls, 2); /* the jvm values only: the artifact's arg is not there */
    hpk_exec_line_free(v);
    /* an empty list: the line ends with the class path (training's create step) */
    const char *none[] = {NULL};
    const char *create[] = {"-XX:AOTMode=create", "-XX:AOTCache=x", NULL};
    s.after_cp = none, s.train = create, s.user_opts = NULL, s.expand = NULL;
    v = hpk_exec_line(&c, &s);
    const char *want2[] = {"/r/" BASE "/runtime/bin/java", "-Xss2m", "-Dhome=${HPACK_APP}", "-XX:AOTMode=create",
                           "-XX:AOTCache=x", "-cp", HPK_TREE_FD_PATH "/app/a.jar:" HPK_TREE_FD_PATH "/app/lib/b.jar",
                           NULL};
    assert_argv(v, want2);
    hpk_exec_line_free(v);
    hpk_launch_free(&c.launch);
}

/* A variant's options (variant.jvm) follow its cache, before the user's,
 * and only when the cache is passed. */
static void test_exec_line_variant_options(void **state)
{
    (void)state;
    struct hpk_config c;
    config(&c, 1);
    const char *opts[] = {"-XX:+UnlockDiagnosticVMOptions", "-XX:-AOTAdapterCaching"};
    c.cache_opts = opts;
    c.n_cache_opts = 2;
    const char *user[] = {"-Xlog:aot", NULL};
    struct hpk_exec_spec s = {.tree = "T", .cache = 2, .user_opts = user};
    char **v = hpk_exec_line(&c, &s);
    const char *want[] = {"T/runtime/bin/java", "-Xss2m", "-Dhome=${HPACK_APP}",
                          "-XX:AOTCache=" HPK_TREE_FD_PATH "/cache/abc.aot", "-XX:AOTMode=on",
                          "-XX:+UnlockDiagnosticVMOptions", "-XX:-AOTAdapterCaching", "-Xlog:aot", "-cp",
                          HPK_TREE_FD_PATH "/app/a.jar:" HPK_TREE_FD_PATH "/app/lib/b.jar", "demo.Main", "fixed", NULL};
    assert_argv(v, want);
    hpk_exec_line_free(v);
    s.cache = 0;
    v = hpk_exec_line(&c, &s);
    for (char **p = v; *p; p++) assert_null(strstr(*p, "AOT"));
    hpk_exec_line_free(v);
    hpk_launch_free(&c.launch);
}

static char *failing(void *ctx, const char *v)
{
    (void)ctx, (void)v;
    return NULL;
}

static void test_exec_line_expand_failure(void **state)
{
    (void)state;
    struct hpk_config c;
    config(&c, 0);
    struct hpk_exec_spec s = {.tree = "T", .expand = failing};
    assert_null(hpk_exec_line(&c, &s));
    hpk_launch_free(&c.launch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trust_ok),
        cmocka_unit_test(test_trust_refusals),
        cmocka_unit_test(test_trust_first_record_counts),
        cmocka_unit_test(test_launch_informational_keys),
        cmocka_unit_test(test_launch_cp_separator),
        cmocka_unit_test(test_launch_env),
        cmocka_unit_test(test_exec_line_cache_and_order),
        cmocka_unit_test(test_exec_line_without_cache),
        cmocka_unit_test(test_exec_line_variant_options),
        cmocka_unit_test(test_exec_line_after_cp),
        cmocka_unit_test(test_exec_line_checked_paths),
        cmocka_unit_test(test_exec_line_expand_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
