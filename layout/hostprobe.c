/*
 * hostprobe.c - the host as the JVM's ergonomics see it: CPU features,
 * physical memory (a cgroup v2 memory.max where one is set, else
 * MemTotal) and CPUs. Probed lazily by hpk_fit_predict: the warm path asks
 * for the CPU features only (CPUID, no system call), memory and CPUs only
 * when the recorded conditions make them decide (docs/launcher.md 9).
 */
#define _GNU_SOURCE
#include "hpk_hostfit.h"
#include "hpk_cpus.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

void hpk_cpufeat_probe(struct hpk_cpufeat *f)
{
    memset(f, 0, sizeof *f);
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0, max = __get_cpuid_max(0, NULL), xmax = __get_cpuid_max(0x80000000, NULL);
    snprintf(f->arch, sizeof f->arch, "x86_64");
    f->n = HPK_FEAT_WORDS;
    if (max >= 1) {
        __cpuid(1, a, b, c, d);
        /* Not instruction-set features: bit 31 says "a hypervisor", bit 27
         * (OSXSAVE) is the OS's, which word 8 (XCR0) states precisely. */
        f->w[0] = c & ~((1u << 31) | (1u << 27));
        f->w[1] = d;
    }
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        f->w[2] = b;
        f->w[3] = c & ~(1u << 4); /* OSPKE: the OS's */
        /* EDX: instruction sets only (FSRM, AVX512 4VNNIW/4FMAPS/VP2INTERSECT/FP16,
         * SERIALIZE, TSXLDTRK, AMX); its other bits are microcode and
         * mitigation flags that differ between hosts of one CPU model. */
        f->w[4] = d & ((1u << 2) | (1u << 3) | (1u << 4) | (1u << 8) | (1u << 14) | (1u << 16) | (1u << 22) |
                       (1u << 23) | (1u << 24) | (1u << 25));
        __cpuid_count(7, 1, a, b, c, d);
        f->w[5] = a;
    }
    if (xmax >= 0x80000001) {
        __cpuid(0x80000001, a, b, c, d);
        f->w[6] = c;
        f->w[7] = d;
    }
    __cpuid(1, a, b, c, d);
    if (c & (1u << 27)) { /* OSXSAVE: XCR0 says which register states the OS saves (AVX, AVX-512) */
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        f->w[8] = lo & 0xe7; /* x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM */
    }
#elif defined(__aarch64__)
    snprintf(f->arch, sizeof f->arch, "aarch64");
    f->n = 2;
    f->w[0] = getauxval(AT_HWCAP);
    f->w[1] = getauxval(AT_HWCAP2);
#endif
}

static void tightest_memory(const char *line, void *ctx)
{
    uint64_t *best = ctx;
    if (line[0] < '0' || line[0] > '9') return; /* "max": no limit here */
    uint64_t v = strtoull(line, NULL, 10);
    if (v && (!*best || v < *best)) *best = v;
}

/* The tightest memory.max from our cgroup up to the cgroup2 root; 0 if none
 * (as the JDK's container support reads it, hierarchy included). */
static uint64_t cgroup_memory(void)
{
    uint64_t best = 0;
    hpk_cgroup_each("memory.max", tightest_memory, &best);
    return best;
}

static uint64_t meminfo_total(void)
{
    char buf[256];
    if (hpk_read_small("/proc/meminfo", buf, sizeof buf) != 0) return 0;
    const char *p = strstr(buf, "MemTotal:");
    return p ? strtoull(p + 9, NULL, 10) * 1024 : 0;
}

#ifdef HPK_TEST_HOOKS
/* Test builds only: the host the tests simulate. */
static int test_value(const char *var, struct hpk_host *h, int what)
{
    const char *v = getenv(var);
    if (!v || !*v) return 0;
    if (what == HPK_HOST_MEM) h->mem = strtoull(v, NULL, 10);
    else if (what == HPK_HOST_CPUS) h->cpus = atoi(v);
    else if (hpk_cpufeat_parse(v, &h->cpu) != 0) memset(&h->cpu, 0, sizeof h->cpu);
    h->have |= what;
    return 1;
}
#endif

static void probe(struct hpk_host *h, int what)
{
    if (what & HPK_HOST_FEAT) {
#ifdef HPK_TEST_HOOKS
        if (!test_value("HPACK_TEST_CPU_FEATURES", h, HPK_HOST_FEAT))
#endif
        {
            hpk_cpufeat_probe(&h->cpu);
            if (h->cpu.n) h->have |= HPK_HOST_FEAT;
        }
    }
    if (what & HPK_HOST_MEM) {
#ifdef HPK_TEST_HOOKS
        if (!test_value("HPACK_TEST_MEMORY", h, HPK_HOST_MEM))
#endif
        {
            uint64_t total = meminfo_total(), cg = cgroup_memory();
            h->mem = cg && (!total || cg < total) ? cg : total;
            if (h->mem) h->have |= HPK_HOST_MEM;
        }
    }
    if (what & HPK_HOST_CPUS) {
#ifdef HPK_TEST_HOOKS
        if (!test_value("HPACK_TEST_CPUS", h, HPK_HOST_CPUS))
#endif
        {
            h->cpus = hpk_cpus();
            h->have |= HPK_HOST_CPUS;
        }
    }
}

void hpk_host_init(struct hpk_host *h)
{
    memset(h, 0, sizeof *h);
    h->need = probe;
}
