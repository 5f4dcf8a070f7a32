/*
 * hpk_hostfit.h - does a trained startup cache apply on this host?
 *
 * The JVM refuses an AOT cache (or CDS archive) when some of its settings
 * differ from the training run's, and many of those settings are chosen by
 * the JVM from the host (heap size from the memory, hence compressed oops).
 * Training records the deciding settings and the CPU's features in the
 * cache's provenance (docs/format.md 9.3); on every start the launcher
 * predicts, without starting a JVM, whether the cache applies, by the same
 * ergonomics HotSpot uses (docs/launcher.md section 9). The rule here is
 * pure: the host comes in as values (probed by hostprobe.c, lazily).
 */
#ifndef HPK_HOSTFIT_H
#define HPK_HOSTFIT_H

#include <stddef.h>
#include <stdint.h>

#define HPK_FEAT_WORDS 9

/* CPU features: the architecture and its feature words (x86-64: CPUID
 * words, aarch64: AT_HWCAP, AT_HWCAP2; docs/format.md 9.3). n == 0: unknown. */
struct hpk_cpufeat {
    char arch[16];
    uint64_t w[HPK_FEAT_WORDS];
    int n;
};

/* The conditions a cache was trained under; -1 (or "" / n == 0) when the
 * provenance does not say (a cache trained by an older hpack). */
struct hpk_cond {
    char gc[16];   /* Serial, Parallel, G1, Z, Shenandoah, Epsilon */
    int coops;     /* UseCompressedOops */
    int ccp;       /* UseCompressedClassPointers */
    int align;     /* ObjectAlignmentInBytes */
    int coh;       /* UseCompactObjectHeaders */
    char build[64];
    struct hpk_cpufeat cpu;
};

/* The JVM options in force that decide the conditions, as given (-1 or 0:
 * not given). Later options override earlier ones, as in the JVM. */
struct hpk_jvmopts {
    uint64_t xmx, xms, maxram; /* bytes */
    double maxram_pct;         /* -XX:MaxRAMPercentage (0: not given) */
    int ram_override;          /* MaxRAM, Max/Min/InitialRAMPercentage given */
    char gc[16];               /* -XX:+UseXxxGC given; "" if none */
    int coops, ccp, coh, align; /* -1: not given */
    int cpus;                  /* -XX:ActiveProcessorCount (0: not given) */
};

/* The host, filled lazily: the rule calls need() for what it lacks. */
enum { HPK_HOST_MEM = 1, HPK_HOST_CPUS = 2, HPK_HOST_FEAT = 4 };
struct hpk_host {
    int have;          /* HPK_HOST_* bits filled */
    uint64_t mem;      /* physical memory as the JVM sees it: cgroup memory.max, else MemTotal; 0 unknown */
    int cpus;          /* CPUs as the JVM counts them; 0 unknown */
    struct hpk_cpufeat cpu;
    void (*need)(struct hpk_host *h, int what); /* NULL: nothing more can be had */
};

enum hpk_fit { HPK_FIT_YES = 0, HPK_FIT_NO, HPK_FIT_UNSURE };

/* The condition that decided a prediction, for callers that act on it
 * (the text in `why` is for people). */
enum hpk_fit_reason {
    HPK_FIT_R_MATCH = 0,       /* YES: every recorded condition holds here */
    HPK_FIT_R_CPU,             /* NO: this CPU lacks a feature (or is another architecture) */
    HPK_FIT_R_CPU_UNKNOWN,     /* NO: this CPU's features cannot be read */
    HPK_FIT_R_HEADERS,         /* NO: UseCompactObjectHeaders differs */
    HPK_FIT_R_ALIGN,           /* NO: ObjectAlignmentInBytes differs */
    HPK_FIT_R_GC,              /* NO: ZGC cannot load the archived heap; UNSURE: another GC */
    HPK_FIT_R_OOPS,            /* NO: compressed oops differ; UNSURE: the heap is at the limit */
    HPK_FIT_R_CCP,             /* NO: compressed class pointers differ */
    HPK_FIT_R_NO_CONDITIONS,   /* UNSURE: the provenance records none (an older hpack) */
};

/* NO for a reason that concerns the CPU: the cache holds machine code that
 * must never run here, so not even the JVM is asked to try it. */
static inline int hpk_fit_cpu_refused(enum hpk_fit fit, enum hpk_fit_reason reason)
{
    return fit == HPK_FIT_NO && (reason == HPK_FIT_R_CPU || reason == HPK_FIT_R_CPU_UNKNOWN);
}

/* The prediction, with the settings the JVM is predicted to choose. */
struct hpk_fit_result {
    enum hpk_fit fit;
    enum hpk_fit_reason reason; /* what decided `fit` */
    char gc[16];
    int coops, coh, ccp, align; /* -1 where it did not need to decide */
    uint64_t heap;              /* predicted max heap, 0 if not computed */
    char why[240];              /* the deciding condition, one clause */
};

/* Options: reset, then feed the artifact's jvm options and the user's in
 * order. hpk_jvmopts_add_str splits HPACK_JAVA_OPTS on blanks as the
 * launcher does (docs/launcher.md 2). */
void hpk_jvmopts_init(struct hpk_jvmopts *o);
void hpk_jvmopts_add(struct hpk_jvmopts *o, const char *opt);
void hpk_jvmopts_add_str(struct hpk_jvmopts *o, const char *s);

/* A size as the JVM reads it ("40g", "512m", "1073741824"); 0 if malformed. */
uint64_t hpk_size_parse(const char *s);

/* Conditions from a provenance (key/value records). */
void hpk_cond_from_prov(const char *prov, size_t len, struct hpk_cond *c);

/* Conditions from the output of `java <opts> -XX:+PrintFlagsFinal -version`
 * (stdout and stderr together). Returns 0, or -1 if a deciding flag is
 * missing from it. The CPU part is left as it is. */
int hpk_cond_from_flags(const char *out, struct hpk_cond *c);

/* The provenance records for `c` (key=value\0 ...), malloc'ed, length in
 * *len; NULL when out of memory. */
char *hpk_cond_records(const struct hpk_cond *c, size_t *len);

/* "x86_64:hex,hex,..." <-> struct; parse returns 0 or -1. */
int hpk_cpufeat_parse(const char *s, struct hpk_cpufeat *f);
void hpk_cpufeat_format(const struct hpk_cpufeat *f, char *buf, size_t n);

/* Features recorded in `rec` that `host` lacks: 0 if none, else 1 with the
 * first missing one named in `name` ("avx2", or "cpuid word 7.ebx bit 5"). */
int hpk_cpufeat_missing(const struct hpk_cpufeat *rec, const struct hpk_cpufeat *host, char *name, size_t n);

/* The rule. `kind` is the cache kind ("aot" or "cds"). */
void hpk_fit_predict(const struct hpk_cond *rec, const char *kind, const struct hpk_jvmopts *o, struct hpk_host *h,
                     struct hpk_fit_result *r);

/* ---- the host (hostprobe.c) ---- */

/* This CPU's features (CPUID / getauxval: no system call on x86-64). */
void hpk_cpufeat_probe(struct hpk_cpufeat *f);
/* A host whose need() probes memory (cgroup v2 memory.max of this
 * process's cgroup, else /proc/meminfo MemTotal), CPUs (hpk_cpus) and
 * features on demand. Test builds (HPK_TEST_HOOKS) take HPACK_TEST_MEMORY,
 * HPACK_TEST_CPUS and HPACK_TEST_CPU_FEATURES instead when set. */
void hpk_host_init(struct hpk_host *h);

#endif
