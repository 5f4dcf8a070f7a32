/*
 * test_hostfit.c - cmocka unit tests for the rule that predicts whether a
 * trained startup cache applies on a host (layout/hostfit.c): each host
 * condition of issue 13's table, the ergonomics behind it, the CPU feature
 * check and the provenance records.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../layout/hpk_hostfit.h"

#define GB (1024ULL * 1024 * 1024)

/* A cache trained as on the build machine: G1, compressed oops, 8-byte
 * alignment, no compact headers, an x86-64 CPU with avx2. */
static void trained(struct hpk_cond *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->gc, "G1");
    c->coops = c->ccp = 1;
    c->align = 8;
    c->coh = 0;
    assert_int_equal(hpk_cpufeat_parse("x86_64:76d83203,178bfbff,f1bb03a9,18005f42,110,30,440001f1,25d3fbff,e7", &c->cpu), 0);
}

static int probes;
static void probe_fake(struct hpk_host *h, int what)
{
    probes |= what;
    h->have |= what;
}

/* A host of `mem` bytes and `cpus` CPUs with the training CPU. */
static void host(struct hpk_host *h, uint64_t mem, int cpus)
{
    memset(h, 0, sizeof *h);
    h->mem = mem;
    h->cpus = cpus;
    hpk_cpufeat_parse("x86_64:76d83203,178bfbff,f1bb03a9,18005f42,110,30,440001f1,25d3fbff,e7", &h->cpu);
    h->need = probe_fake;
    probes = 0;
}

static enum hpk_fit predict(const char *opts, uint64_t mem, int cpus, struct hpk_fit_result *r)
{
    struct hpk_cond c;
    struct hpk_jvmopts o;
    struct hpk_host h;
    trained(&c);
    host(&h, mem, cpus);
    hpk_jvmopts_init(&o);
    hpk_jvmopts_add_str(&o, opts);
    hpk_fit_predict(&c, "aot", &o, &h, r);
    return r->fit;
}

static void test_issue_table(void **state)
{
    (void)state;
    struct hpk_fit_result r;
    assert_int_equal(predict("", 24 * GB, 2, &r), HPK_FIT_YES);
    assert_int_equal(probes, HPK_HOST_FEAT); /* the warm path probes the CPU only */
    assert_int_equal(predict("-XX:ActiveProcessorCount=1", 24 * GB, 2, &r), HPK_FIT_YES);
    assert_string_equal(r.gc, "Serial");
    assert_int_equal(predict("-XX:MaxRAM=1g", 24 * GB, 2, &r), HPK_FIT_YES);
    assert_int_equal(predict("-XX:+UseParallelGC", 24 * GB, 2, &r), HPK_FIT_YES);
    assert_int_equal(predict("-XX:+UseShenandoahGC", 24 * GB, 2, &r), HPK_FIT_YES);
    assert_int_equal(predict("-XX:MaxRAM=256g", 24 * GB, 2, &r), HPK_FIT_NO);
    assert_non_null(strstr(r.why, "compressed oops are off here (max heap 64.0 GB)"));
    assert_int_equal(predict("-Xmx40g", 24 * GB, 2, &r), HPK_FIT_NO);
    assert_int_equal(predict("-XX:+UseZGC", 24 * GB, 2, &r), HPK_FIT_NO);
    assert_non_null(strstr(r.why, "the GC is Z here"));
    assert_int_equal(predict("-XX:+UseCompactObjectHeaders", 24 * GB, 2, &r), HPK_FIT_NO);
    assert_non_null(strstr(r.why, "UseCompactObjectHeaders is on here"));
}

static void test_ergonomics(void **state)
{
    (void)state;
    struct hpk_fit_result r;
    /* A real 256 GB host without MaxRAM flags: the default heap is clamped
     * below the compressed range, so the cache still applies. */
    assert_int_equal(predict("", 256 * GB, 64, &r), HPK_FIT_YES);
    assert_int_equal(r.coops, 1);
    /* MaxRAMPercentage alone takes the host's memory: 90% of 24 GB fits, of 64 GB does not. */
    assert_int_equal(predict("-XX:MaxRAMPercentage=90", 24 * GB, 2, &r), HPK_FIT_YES);
    assert_true(probes & HPK_HOST_MEM);
    assert_int_equal(predict("-XX:MaxRAMPercentage=90", 64 * GB, 2, &r), HPK_FIT_NO);
    /* The later option wins, as in the JVM. */
    assert_int_equal(predict("-Xmx40g -Xmx4g", 24 * GB, 2, &r), HPK_FIT_YES);
    /* At the limit it says so instead of guessing. */
    assert_int_equal(predict("-Xmx32g", 24 * GB, 2, &r), HPK_FIT_UNSURE);
    assert_int_equal(predict("-Xmx31g", 24 * GB, 2, &r), HPK_FIT_YES);
    /* Explicit flags. */
    assert_int_equal(predict("-XX:-UseCompressedOops", 24 * GB, 2, &r), HPK_FIT_NO);
    assert_int_equal(predict("-Xmx40g -XX:ObjectAlignmentInBytes=16", 24 * GB, 2, &r), HPK_FIT_NO);
    assert_non_null(strstr(r.why, "ObjectAlignmentInBytes is 16 here, 8 in training"));
    assert_int_equal(predict("-XX:-UseCompressedClassPointers", 24 * GB, 2, &r), HPK_FIT_NO);
}

static void test_gc_ergonomics(void **state)
{
    (void)state;
    struct hpk_cond c;
    struct hpk_jvmopts o;
    struct hpk_host h;
    struct hpk_fit_result r;
    trained(&c);
    strcpy(c.gc, "Z"); /* trained with ZGC: now the ergonomic choice decides */
    c.coops = 0;
    hpk_jvmopts_init(&o);
    host(&h, 24 * GB, 2);
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_string_equal(r.gc, "G1");
    assert_true(probes & HPK_HOST_CPUS);
    host(&h, 1 * GB, 2); /* < 1792 MB: Serial */
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_string_equal(r.gc, "Serial");
    host(&h, 24 * GB, 1);
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_string_equal(r.gc, "Serial");
}

static void test_cpu_features(void **state)
{
    (void)state;
    struct hpk_cond c;
    struct hpk_jvmopts o;
    struct hpk_host h;
    struct hpk_fit_result r;
    trained(&c);
    hpk_jvmopts_init(&o);
    host(&h, 24 * GB, 2);
    h.cpu.w[2] &= ~(1ULL << 5); /* no avx2 */
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_int_equal(r.fit, HPK_FIT_NO);
    assert_string_equal(r.why, "this CPU lacks avx2, which the training CPU had");
    host(&h, 24 * GB, 2);
    h.cpu.w[4] = 0; /* an unnamed bit: named by its word */
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_int_equal(r.fit, HPK_FIT_NO);
    assert_string_equal(r.why, "this CPU lacks cpuid word 7.edx bit 4, which the training CPU had");
    /* more features than the training CPU: fine */
    host(&h, 24 * GB, 2);
    h.cpu.w[2] |= 1ULL << 16;
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_int_equal(r.fit, HPK_FIT_YES);
    /* another architecture */
    hpk_cpufeat_parse("aarch64:ff,0", &h.cpu);
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_int_equal(r.fit, HPK_FIT_NO);
    /* features unknown: refused, the cache holds machine code */
    host(&h, 24 * GB, 2);
    h.need = NULL;
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_int_equal(r.fit, HPK_FIT_NO);
    /* a CDS archive holds no machine code: features do not decide */
    host(&h, 24 * GB, 2);
    h.cpu.w[2] = 0;
    hpk_fit_predict(&c, "cds", &o, &h, &r);
    assert_int_equal(r.fit, HPK_FIT_YES);
}

static void test_records_round_trip(void **state)
{
    (void)state;
    const char *flags =
        "[Global flags]\n"
        "     bool UseCompactObjectHeaders                  = false                                     {product} {default}\n"
        "     bool UseCompressedClassPointers               = true                                      {product} {default}\n"
        "     bool UseCompressedOops                        = true                           {product lp64_product} {ergonomic}\n"
        "     intx ObjectAlignmentInBytes                   = 8                                   {product lp64_product} {default}\n"
        "     bool UseG1GC                                  = true                                      {product} {ergonomic}\n"
        "     bool UseSerialGC                              = false                                     {product} {default}\n"
        "openjdk version \"25.0.3\" 2026-04-21 LTS\n"
        "OpenJDK 64-Bit Server VM Temurin-25.0.3+9 (build 25.0.3+9-LTS, mixed mode, sharing)\n";
    struct hpk_cond c, d;
    memset(&c, 0, sizeof c);
    hpk_cpufeat_parse("x86_64:1,2,ff", &c.cpu);
    assert_int_equal(hpk_cond_from_flags(flags, &c), 0);
    assert_string_equal(c.gc, "G1");
    assert_string_equal(c.build, "25.0.3+9-LTS");
    assert_int_equal(c.coops, 1);
    assert_int_equal(c.coh, 0);
    size_t n;
    char *rec = hpk_cond_records(&c, &n);
    assert_non_null(rec);
    hpk_cond_from_prov(rec, n, &d);
    assert_string_equal(d.gc, "G1");
    assert_int_equal(d.coops, 1);
    assert_int_equal(d.ccp, 1);
    assert_int_equal(d.align, 8);
    assert_int_equal(d.coh, 0);
    assert_string_equal(d.build, "25.0.3+9-LTS");
    assert_int_equal(d.cpu.n, 3);
    assert_true(d.cpu.w[2] == 0xff);
    free(rec);
    /* output without the deciding flags (a JVM that failed) */
    assert_int_equal(hpk_cond_from_flags("Error: Could not create the Java Virtual Machine.\n", &c), -1);
    /* an old provenance: nothing recorded, the rule is unsure, not wrong */
    struct hpk_jvmopts o;
    struct hpk_host h;
    struct hpk_fit_result r;
    hpk_cond_from_prov("format=1\0kind=aot\0", 18, &d);
    hpk_jvmopts_init(&o);
    host(&h, 24 * GB, 2);
    hpk_fit_predict(&d, "aot", &o, &h, &r);
    assert_int_equal(r.fit, HPK_FIT_UNSURE);
}

/* Every verdict carries the code of the condition that decided it, and the
 * CPU refusals (machine code that must not run here) are told apart by it,
 * not by their text (the launcher's --hpack-check skips the JVM for them). */
static void test_reason_codes(void **state)
{
    (void)state;
    struct hpk_fit_result r;
    static const struct {
        const char *opts;
        uint64_t mem;
        enum hpk_fit fit;
        enum hpk_fit_reason reason;
    } t[] = {
        {"", 24 * GB, HPK_FIT_YES, HPK_FIT_R_MATCH},
        {"-XX:+UseCompactObjectHeaders", 24 * GB, HPK_FIT_NO, HPK_FIT_R_HEADERS},
        {"-XX:ObjectAlignmentInBytes=16", 24 * GB, HPK_FIT_NO, HPK_FIT_R_ALIGN},
        {"-XX:+UseZGC", 24 * GB, HPK_FIT_NO, HPK_FIT_R_GC},
        {"-Xmx40g", 24 * GB, HPK_FIT_NO, HPK_FIT_R_OOPS},
        {"-XX:MaxRAMPercentage=90", 64 * GB, HPK_FIT_NO, HPK_FIT_R_OOPS},
        {"-Xmx32g", 24 * GB, HPK_FIT_UNSURE, HPK_FIT_R_OOPS},
        {"-XX:-UseCompressedClassPointers", 24 * GB, HPK_FIT_NO, HPK_FIT_R_CCP},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        assert_int_equal(predict(t[i].opts, t[i].mem, 2, &r), t[i].fit);
        assert_int_equal(r.reason, t[i].reason);
        assert_false(hpk_fit_cpu_refused(r.fit, r.reason));
    }

    struct hpk_cond c;
    struct hpk_jvmopts o;
    struct hpk_host h;
    hpk_jvmopts_init(&o);
    /* trained with ZGC, G1 chosen here: unsure, because of the GC */
    trained(&c);
    strcpy(c.gc, "Z");
    c.coops = 0;
    host(&h, 24 * GB, 2);
    hpk_jvmopts_add(&o, "-XX:-UseCompressedOops");
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_int_equal(r.fit, HPK_FIT_UNSURE);
    assert_int_equal(r.reason, HPK_FIT_R_GC);
    /* an old provenance: unsure, nothing recorded */
    hpk_jvmopts_init(&o);
    hpk_cond_from_prov("format=1\0kind=aot\0", 18, &c);
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_int_equal(r.fit, HPK_FIT_UNSURE);
    assert_int_equal(r.reason, HPK_FIT_R_NO_CONDITIONS);
    /* the CPU: a missing feature, and features that cannot be read */
    trained(&c);
    host(&h, 24 * GB, 2);
    h.cpu.w[2] &= ~(1ULL << 5);
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_int_equal(r.reason, HPK_FIT_R_CPU);
    assert_true(hpk_fit_cpu_refused(r.fit, r.reason));
    host(&h, 24 * GB, 2);
    h.need = NULL;
    hpk_fit_predict(&c, "aot", &o, &h, &r);
    assert_int_equal(r.reason, HPK_FIT_R_CPU_UNKNOWN);
    assert_true(hpk_fit_cpu_refused(r.fit, r.reason));
    /* the code, not the text: a refusal whose clause names the CPU by
     * chance is not a CPU refusal */
    assert_false(hpk_fit_cpu_refused(HPK_FIT_NO, HPK_FIT_R_OOPS));
    assert_false(hpk_fit_cpu_refused(HPK_FIT_UNSURE, HPK_FIT_R_CPU));
}

static void test_sizes_and_features_parse(void **state)
{
    (void)state;
    assert_true(hpk_size_parse("40g") == 40 * GB);
    assert_true(hpk_size_parse("512M") == 512ULL << 20);
    assert_true(hpk_size_parse("1024") == 1024);
    assert_true(hpk_size_parse("g") == 0);
    assert_true(hpk_size_parse("12x") == 0);
    struct hpk_cpufeat f;
    assert_int_equal(hpk_cpufeat_parse("x86_64:", &f), -1);
    assert_int_equal(hpk_cpufeat_parse(":1", &f), -1);
    assert_int_equal(hpk_cpufeat_parse("x86_64:1,zz", &f), -1);
    assert_int_equal(hpk_cpufeat_parse("x86_64:1,2,3,4,5,6,7,8,9,10", &f), -1);
    char buf[64];
    assert_int_equal(hpk_cpufeat_parse("aarch64:ff,10", &f), 0);
    hpk_cpufeat_format(&f, buf, sizeof buf);
    assert_string_equal(buf, "aarch64:ff,10");
    /* this machine's own features read back */
    hpk_cpufeat_probe(&f);
    assert_true(f.n > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_table),       cmocka_unit_test(test_ergonomics),
        cmocka_unit_test(test_gc_ergonomics),     cmocka_unit_test(test_cpu_features),
        cmocka_unit_test(test_records_round_trip), cmocka_unit_test(test_sizes_and_features_parse),
        cmocka_unit_test(test_reason_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
