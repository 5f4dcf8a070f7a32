/*
 * hostfit.c - the rule that predicts whether a trained startup cache
 * applies on a host, mirroring HotSpot's ergonomics (JDK 25's
 * Arguments::set_heap_size and set_use_compressed_oops, GC selection), and
 * the records that carry the training conditions (docs/format.md 9.3).
 * Pure: no system call; the host's values come through struct hpk_host.
 */
#define _GNU_SOURCE
#include "hpk_hostfit.h"
#include "hpk_kv.h"
#include "hpk_layout.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GB (1024ULL * 1024 * 1024)
#define MB (1024ULL * 1024)

void hpk_jvmopts_init(struct hpk_jvmopts *o)
{
    memset(o, 0, sizeof *o);
    o->coops = o->ccp = o->coh = o->align = -1;
}

uint64_t hpk_size_parse(const char *s)
{
    if (!isdigit((unsigned char)*s)) return 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t m = 1;
    switch (*end) {
    case 'k': case 'K': m = 1024, end++; break;
    case 'm': case 'M': m = MB, end++; break;
    case 'g': case 'G': m = GB, end++; break;
    case 't': case 'T': m = 1024 * GB, end++; break;
    default: break;
    }
    if (*end || v > UINT64_MAX / m) return 0;
    return v * m;
}

static const char *const gcs[] = {"Serial", "Parallel", "G1", "Z", "Shenandoah", "Epsilon"};

/* -XX:+Name / -XX:-Name: 1 / 0 if opt is that flag, else -1. */
static int boolflag(const char *opt, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(opt, "-XX:", 4) || (opt[4] != '+' && opt[4] != '-') || strncmp(opt + 5, name, n) || opt[5 + n])
        return -1;
    return opt[4] == '+';
}

void hpk_jvmopts_add(struct hpk_jvmopts *o, const char *a)
{
    int b;
    uint64_t v;
    if (!strncmp(a, "-Xmx", 4) && (v = hpk_size_parse(a + 4))) o->xmx = v;
    else if (!strncmp(a, "-XX:MaxHeapSize=", 16) && (v = hpk_size_parse(a + 16))) o->xmx = v;
    else if (!strncmp(a, "-Xms", 4) && (v = hpk_size_parse(a + 4))) o->xms = v;
    else if (!strncmp(a, "-XX:InitialHeapSize=", 20) && (v = hpk_size_parse(a + 20))) o->xms = v;
    else if (!strncmp(a, "-XX:MaxRAM=", 11) && (v = hpk_size_parse(a + 11))) o->maxram = v, o->ram_override = 1;
    else if (!strncmp(a, "-XX:MaxRAMPercentage=", 21)) o->maxram_pct = strtod(a + 21, NULL), o->ram_override = 1;
    else if (!strncmp(a, "-XX:MinRAMPercentage=", 21) || !strncmp(a, "-XX:InitialRAMPercentage=", 25))
        o->ram_override = 1;
    else if (!strncmp(a, "-XX:ObjectAlignmentInBytes=", 27)) o->align = atoi(a + 27);
    else if (!strncmp(a, "-XX:ActiveProcessorCount=", 25)) o->cpus = atoi(a + 25);
    else if ((b = boolflag(a, "UseCompressedOops")) >= 0) o->coops = b;
    else if ((b = boolflag(a, "UseCompressedClassPointers")) >= 0) o->ccp = b;
    else if ((b = boolflag(a, "UseCompactObjectHeaders")) >= 0) o->coh = b;
    else if (!strncmp(a, "-XX:+Use", 8))
        for (size_t i = 0; i < sizeof gcs / sizeof *gcs; i++) {
            char name[32];
            snprintf(name, sizeof name, "Use%sGC", gcs[i]);
            if (boolflag(a, name) == 1) snprintf(o->gc, sizeof o->gc, "%s", gcs[i]);
        }
}

void hpk_jvmopts_add_str(struct hpk_jvmopts *o, const char *s)
{
    if (!s) return;
    char tok[512];
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == '\n') s++;
        size_t n = strcspn(s, " \t\n");
        if (!n) break;
        if (n < sizeof tok) {
            memcpy(tok, s, n);
            tok[n] = 0;
            hpk_jvmopts_add(o, tok);
        }
        s += n;
    }
}

/* ---- CPU features ---- */

int hpk_cpufeat_parse(const char *s, struct hpk_cpufeat *f)
{
    memset(f, 0, sizeof *f);
    const char *colon = strchr(s, ':');
    /* An architecture is a name (x86_64, aarch64): anything else is not
     * one this host has, and must not reach a reason or a listing raw. */
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof f->arch ||
        strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != (size_t)(colon - s))
        return -1;
    memcpy(f->arch, s, (size_t)(colon - s));
    for (const char *p = colon + 1; *p;) {
        char *end;
        if (f->n == HPK_FEAT_WORDS || !isxdigit((unsigned char)*p)) return -1;
        f->w[f->n++] = strtoull(p, &end, 16);
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return f->n ? 0 : -1;
}

void hpk_cpufeat_format(const struct hpk_cpufeat *f, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "%s:", f->arch);
    for (int i = 0; i < f->n && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%" PRIx64, i ? "," : "", f->w[i]);
}

/* Named bits, for messages: the features HotSpot's generated code uses most. */
static const struct {
    const char *arch;
    int word, bit;
    const char *name;
} named[] = {
    {"x86_64", 0, 0, "sse3"},     {"x86_64", 0, 9, "ssse3"},    {"x86_64", 0, 12, "fma"},
    {"x86_64", 0, 19, "sse4.1"},  {"x86_64", 0, 20, "sse4.2"},  {"x86_64", 0, 23, "popcnt"},
    {"x86_64", 0, 25, "aes"},     {"x86_64", 0, 28, "avx"},     {"x86_64", 2, 3, "bmi1"},
    {"x86_64", 2, 5, "avx2"},     {"x86_64", 2, 8, "bmi2"},     {"x86_64", 2, 16, "avx512f"},
    {"x86_64", 2, 17, "avx512dq"}, {"x86_64", 2, 29, "sha"},    {"x86_64", 2, 30, "avx512bw"},
    {"x86_64", 2, 31, "avx512vl"}, {"x86_64", 6, 5, "lzcnt"},   {"x86_64", 8, 2, "os-avx-state"},
    {"aarch64", 0, 3, "aes"},     {"aarch64", 0, 7, "crc32"},   {"aarch64", 0, 8, "atomics"},
    {"aarch64", 0, 22, "sve"},    {"aarch64", 1, 1, "sve2"},
};

static const char *const x86_words[HPK_FEAT_WORDS] = {"1.ecx", "1.edx", "7.ebx", "7.ecx", "7.edx",
                                                      "7.1.eax", "80000001.ecx", "80000001.edx", "xcr0"};

int hpk_cpufeat_missing(const struct hpk_cpufeat *rec, const struct hpk_cpufeat *host, char *name, size_t n)
{
    if (strcmp(rec->arch, host->arch) != 0) {
        snprintf(name, n, "the %s architecture", rec->arch);
        return 1;
    }
    for (int i = 0; i < rec->n; i++) {
        uint64_t lack = rec->w[i] & ~(i < host->n ? host->w[i] : 0);
        if (!lack) continue;
        int bit = __builtin_ctzll(lack);
        for (size_t k = 0; k < sizeof named / sizeof *named; k++)
            if (!strcmp(named[k].arch, rec->arch) && named[k].word == i && named[k].bit == bit) {
                snprintf(name, n, "%s", named[k].name);
                return 1;
            }
        if (!strcmp(rec->arch, "x86_64")) snprintf(name, n, "cpuid word %s bit %d", x86_words[i], bit);
        else snprintf(name, n, "hwcap word %d bit %d", i + 1, bit);
        return 1;
    }
    return 0;
}

/* ---- records ---- */

static int tristate(const char *v)
{
    return !v ? -1 : !strcmp(v, "true") ? 1 : !strcmp(v, "false") ? 0 : -1;
}

void hpk_cond_from_prov(const char *prov, size_t len, struct hpk_cond *c)
{
    memset(c, 0, sizeof *c);
    const char *v;
    /* Escaped as read (docs/format.md 5.4): the reasons and listings that
     * quote them show a crafted value on its line. */
    v = hpk_kv_get(prov, len, "jvm.gc");
    hpk_layout_path_text(c->gc, sizeof c->gc, v ? v : "", v ? strlen(v) : 0);
    v = hpk_kv_get(prov, len, "jvm.build");
    hpk_layout_path_text(c->build, sizeof c->build, v ? v : "", v ? strlen(v) : 0);
    c->coops = tristate(hpk_kv_get(prov, len, "jvm.compressed_oops"));
    c->ccp = tristate(hpk_kv_get(prov, len, "jvm.compressed_class_pointers"));
    c->coh = tristate(hpk_kv_get(prov, len, "jvm.compact_object_headers"));
    c->align = (v = hpk_kv_get(prov, len, "jvm.object_alignment")) ? atoi(v) : -1;
    if (c->align <= 0) c->align = -1;
    int code = tristate(hpk_kv_get(prov, len, "jvm.aot_code"));
    c->code = code < 0 ? HPK_CODE_UNKNOWN : code ? HPK_CODE_YES : HPK_CODE_NONE;
    if (!(v = hpk_kv_get(prov, len, "cpu.features")) || hpk_cpufeat_parse(v, &c->cpu) != 0)
        memset(&c->cpu, 0, sizeof c->cpu);
}

/* The value of flag `name` in PrintFlagsFinal output ("  bool Name  = true  {...}");
 * `origin` (may be NULL) gets the line's end, "{diagnostic} {command line}". */
static int flag_value_at(const char *out, const char *name, char *val, size_t n, const char **origin)
{
    size_t l = strlen(name);
    for (const char *p = out; (p = strstr(p, name)); p += l) {
        if (p == out || p[-1] != ' ' || (p[l] != ' ' && p[l] != '=')) continue;
        const char *q = p + l;
        while (*q == ' ') q++;
        if (*q != '=') continue;
        q++;
        while (*q == ' ') q++;
        size_t k = strcspn(q, " \n");
        if (!k || k >= n) return -1;
        memcpy(val, q, k);
        val[k] = 0;
        if (origin) *origin = q + k;
        return 0;
    }
    return -1;
}

static int flag_value(const char *out, const char *name, char *val, size_t n)
{
    return flag_value_at(out, name, val, n, NULL);
}

int hpk_cond_from_flags(const char *out, struct hpk_cond *c)
{
    struct hpk_cpufeat cpu = c->cpu;
    memset(c, 0, sizeof *c);
    c->cpu = cpu;
    c->coh = -1; /* JDK 17 has no such flag */
    char v[64];
    const char *origin;
    if (flag_value(out, "UseCompressedOops", v, sizeof v) != 0) return -1;
    c->coops = tristate(v);
    if (flag_value(out, "UseCompressedClassPointers", v, sizeof v) != 0) return -1;
    c->ccp = tristate(v);
    if (flag_value(out, "ObjectAlignmentInBytes", v, sizeof v) != 0) return -1;
    c->align = atoi(v);
    if (flag_value(out, "UseCompactObjectHeaders", v, sizeof v) == 0) c->coh = tristate(v);
    for (size_t i = 0; i < sizeof gcs / sizeof *gcs; i++) {
        char name[32];
        snprintf(name, sizeof name, "Use%sGC", gcs[i]);
        if (flag_value(out, name, v, sizeof v) == 0 && !strcmp(v, "true")) snprintf(c->gc, sizeof c->gc, "%s", gcs[i]);
    }
    /* Machine code in an AOT cache (JDK 25: adapters; stubs are off by
     * default). The flag dump runs without an AOT mode, where
     * AOTAdapterCaching reads false by default although the create step
     * turns it on ergonomically: only a value set by the options
     * ("{command line}", "{environment}"...: not "{default}" or
     * "{ergonomic}") says the cache holds none. Diagnostic flags are listed
     * only with -XX:+UnlockDiagnosticVMOptions, which training adds. */
    if (flag_value_at(out, "AOTAdapterCaching", v, sizeof v, &origin) == 0) {
        size_t k = strcspn(origin, "\n");
        int set = !(memmem(origin, k, "{default}", 9) || memmem(origin, k, "{ergonomic}", 11));
        c->code = set && !strcmp(v, "false") ? HPK_CODE_NONE : HPK_CODE_YES;
        if (flag_value(out, "AOTStubCaching", v, sizeof v) == 0 && !strcmp(v, "true")) c->code = HPK_CODE_YES;
    }
    /* The VM line of -version: "... VM ... (build 25.0.3+9-LTS, mixed mode, sharing)". */
    const char *vm = strstr(out, " VM ");
    const char *b = vm ? strstr(vm, "(build ") : NULL;
    if (b) {
        b += 7;
        size_t k = strcspn(b, ",)\n");
        snprintf(c->build, sizeof c->build, "%.*s", (int)(k < sizeof c->build ? k : sizeof c->build - 1), b);
    }
    return c->gc[0] && c->coops >= 0 && c->ccp >= 0 && c->align > 0 ? 0 : -1;
}

static int add(char **buf, size_t *len, const char *k, const char *v)
{
    size_t n = strlen(k) + strlen(v) + 2;
    char *b = realloc(*buf, *len + n);
    if (!b) return -1;
    snprintf(b + *len, n, "%s=%s", k, v);
    *buf = b;
    *len += n;
    return 0;
}

char *hpk_cond_records(const struct hpk_cond *c, size_t *len)
{
    char *b = NULL, num[16], feat[HPK_FEAT_WORDS * 17 + 32];
    int bad = 0;
    *len = 0;
    static const char *const tf[] = {"false", "true"};
    bad |= add(&b, len, "jvm.gc", c->gc);
    if (c->coops >= 0) bad |= add(&b, len, "jvm.compressed_oops", tf[c->coops]);
    if (c->ccp >= 0) bad |= add(&b, len, "jvm.compressed_class_pointers", tf[c->ccp]);
    snprintf(num, sizeof num, "%d", c->align);
    if (c->align > 0) bad |= add(&b, len, "jvm.object_alignment", num);
    if (c->coh >= 0) bad |= add(&b, len, "jvm.compact_object_headers", tf[c->coh]);
    if (c->code != HPK_CODE_UNKNOWN) bad |= add(&b, len, "jvm.aot_code", tf[c->code == HPK_CODE_YES]);
    if (c->build[0]) bad |= add(&b, len, "jvm.build", c->build);
    if (c->cpu.n) {
        hpk_cpufeat_format(&c->cpu, feat, sizeof feat);
        bad |= add(&b, len, "cpu.features", feat);
    }
    if (bad) {
        free(b);
        return NULL;
    }
    return b;
}

/* ---- the rule ---- */

static int need(struct hpk_host *h, int what)
{
    if ((h->have & what) != what && h->need) h->need(h, what & ~h->have);
    return (h->have & what) == what;
}

/* GCs whose heap the JDK 25 AOT cache's archived objects load into
 * (measured with Temurin 25.0.3: Serial, Parallel, G1 and Shenandoah all
 * apply a G1-trained cache; ZGC is refused; Epsilon is not known). */
static int heap_loading(const char *gc)
{
    return !strcmp(gc, "Serial") || !strcmp(gc, "Parallel") || !strcmp(gc, "G1") || !strcmp(gc, "Shenandoah");
}

static void gb(char *s, size_t n, uint64_t v)
{
    snprintf(s, n, "%.1f GB", (double)v / (double)GB);
}

/* Every verdict goes through here: its code and its clause together. */
__attribute__((format(printf, 4, 5))) static void say(struct hpk_fit_result *r, enum hpk_fit fit,
                                                      enum hpk_fit_reason reason, const char *fmt, ...)
{
    va_list ap;
    r->fit = fit;
    r->reason = reason;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

static const char *onoff(int v) { return v ? "on" : "off"; }

/* 1. CPU features. Only an AOT cache holds machine code (adapters): a CPU
 * lacking a feature the training CPU had must never meet it. A cache
 * trained with adapter caching off (jvm.aot_code=false, the portable
 * variant) holds none, and its launcher passes it with the same option
 * (variant.jvm), so the CPU does not decide. 1 when that is the verdict. */
static int fit_cpu(const struct hpk_cond *rec, int aot, struct hpk_host *h, struct hpk_fit_result *r)
{
    if (!aot || !rec->cpu.n || rec->code == HPK_CODE_NONE) return 0;
    char name[64];
    if (!need(h, HPK_HOST_FEAT)) {
        say(r, HPK_FIT_NO, HPK_FIT_R_CPU_UNKNOWN, "this CPU's features cannot be read; the cache holds machine code");
        return 1;
    }
    if (hpk_cpufeat_missing(&rec->cpu, &h->cpu, name, sizeof name)) {
        say(r, HPK_FIT_NO, HPK_FIT_R_CPU, "this CPU lacks %s, which the training CPU had", name);
        return 1;
    }
    return 0;
}

/* 2. Object headers and alignment: JDK 25 defaults, off and 8. */
static int fit_headers(const struct hpk_cond *rec, const struct hpk_jvmopts *o, struct hpk_fit_result *r)
{
    r->coh = o->coh >= 0 ? o->coh : 0;
    if (rec->coh >= 0 && r->coh != rec->coh) {
        say(r, HPK_FIT_NO, HPK_FIT_R_HEADERS, "UseCompactObjectHeaders is %s here, %s in training", onoff(r->coh),
            onoff(rec->coh));
        return 1;
    }
    r->align = o->align > 0 ? o->align : 8;
    if (rec->align > 0 && r->align != rec->align) {
        say(r, HPK_FIT_NO, HPK_FIT_R_ALIGN, "ObjectAlignmentInBytes is %d here, %d in training", r->align,
            rec->align);
        return 1;
    }
    return 0;
}

/* 3. The GC: given, else Serial on a client-class host (< 2 CPUs or
 * < 1792 MB), else G1. Both load archived objects, so the host is probed
 * only when the recorded GC is another one. *unsure: a GC not known to
 * load the archived heap. */
static int fit_gc(const struct hpk_cond *rec, int aot, const struct hpk_jvmopts *o, struct hpk_host *h,
                  struct hpk_fit_result *r, int *unsure)
{
    if (o->gc[0]) snprintf(r->gc, sizeof r->gc, "%s", o->gc);
    else if (!rec->gc[0] || heap_loading(rec->gc)) snprintf(r->gc, sizeof r->gc, "%s", o->cpus == 1 ? "Serial" : "");
    else if (need(h, HPK_HOST_CPUS | HPK_HOST_MEM)) {
        int cpus = o->cpus > 0 ? o->cpus : h->cpus;
        snprintf(r->gc, sizeof r->gc, "%s", cpus >= 2 && h->mem >= 1792 * MB ? "G1" : "Serial");
    }
    *unsure = 0;
    if (aot && rec->gc[0] && r->gc[0] && strcmp(rec->gc, r->gc) != 0 &&
        !(heap_loading(rec->gc) && heap_loading(r->gc))) {
        if (heap_loading(rec->gc) && !strcmp(r->gc, "Z")) {
            say(r, HPK_FIT_NO, HPK_FIT_R_GC, "the GC is Z here, %s in training: ZGC cannot load the archived heap",
                rec->gc);
            return 1;
        }
        *unsure = 1;
    }
    return 0;
}

/* 4. Compressed oops here (Arguments::set_heap_size,
 * set_use_compressed_oops): r->coops and r->heap, and in a (n bytes) what
 * decided. Returns 1 when the heap is at the limit (either may happen). */
static int predict_coops(const struct hpk_jvmopts *o, struct hpk_host *h, struct hpk_fit_result *r, char *a, size_t n)
{
    uint64_t enc = 32 * GB * (uint64_t)(r->align >= 8 ? r->align / 8 : 1); /* OopEncodingHeapMax */
    char b2[32];
    if (!strcmp(r->gc, "Z")) {
        r->coops = 0;
        snprintf(a, n, "ZGC");
        return 0;
    }
    if (o->coops >= 0) {
        r->coops = o->coops;
        snprintf(a, n, "the options");
        return 0;
    }
    if (o->xmx || o->xms) {
        /* An explicit heap: on if it fits below the encoding range less
         * the heap alignment (up to 512 MB for G1's regions). */
        r->heap = o->xmx > o->xms ? o->xmx : o->xms;
        r->coops = r->heap <= enc - 1 * GB ? 1 : r->heap > enc ? 0 : 1;
        gb(b2, sizeof b2, r->heap);
        snprintf(a, n, "max heap %s", b2);
        return r->heap > enc - 1 * GB && r->heap <= enc;
    }
    if (!o->ram_override) {
        /* The default heap is clamped to what compressed oops address: on. */
        r->coops = 1;
        snprintf(a, n, "default heap");
        return 0;
    }
    /* MaxRAM* given: the heap is MaxRAMPercentage of MaxRAM (or of the
     * memory), and above the compressed range (less HeapBaseMinAddress,
     * 2 GB) oops are not compressed. */
    uint64_t phys = o->maxram;
    if (!phys && need(h, HPK_HOST_MEM)) phys = h->mem;
    double pct = o->maxram_pct > 0 ? o->maxram_pct : 25.0;
    if (!phys) {
        snprintf(a, n, "unknown memory");
        return 1;
    }
    r->heap = (uint64_t)((double)phys * pct / 100.0);
    uint64_t lim = enc - 2 * GB;
    r->coops = r->heap <= lim - 1 * GB ? 1 : r->heap > lim ? 0 : 1;
    gb(b2, sizeof b2, r->heap);
    snprintf(a, n, "max heap %s", b2);
    return r->heap > lim - 1 * GB && r->heap <= lim;
}

void hpk_fit_predict(const struct hpk_cond *rec, const char *kind, const struct hpk_jvmopts *o, struct hpk_host *h,
                     struct hpk_fit_result *r)
{
    memset(r, 0, sizeof *r);
    r->coops = r->coh = r->ccp = r->align = -1;
    int aot = kind && !strcmp(kind, "aot");
    int gc_unsure = 0;
    if (fit_cpu(rec, aot, h, r) || fit_headers(rec, o, r) || fit_gc(rec, aot, o, h, r, &gc_unsure)) return;
    char a[48];
    int coops_unsure = predict_coops(o, h, r, a, sizeof a);
    if (rec->coops >= 0 && r->coops >= 0 && r->coops != rec->coops && !coops_unsure) {
        say(r, HPK_FIT_NO, HPK_FIT_R_OOPS, "compressed oops are %s here (%s), %s in training", onoff(r->coops), a,
            onoff(rec->coops));
        return;
    }
    /* 5. Compressed class pointers: on unless the options say off. */
    r->ccp = o->ccp >= 0 ? o->ccp : 1;
    if (rec->ccp >= 0 && r->ccp != rec->ccp) {
        say(r, HPK_FIT_NO, HPK_FIT_R_CCP, "compressed class pointers are %s here, %s in training", onoff(r->ccp),
            onoff(rec->ccp));
        return;
    }
    if (coops_unsure) {
        say(r, HPK_FIT_UNSURE, HPK_FIT_R_OOPS, "compressed oops may be on or off here (%s is at the limit)", a);
    } else if (gc_unsure) {
        say(r, HPK_FIT_UNSURE, HPK_FIT_R_GC, "the GC is %s here, %s in training (not known to load its heap)",
            r->gc, rec->gc);
    } else if (rec->coops < 0 && rec->coh < 0 && !rec->gc[0]) {
        say(r, HPK_FIT_UNSURE, HPK_FIT_R_NO_CONDITIONS,
            "its provenance records no JVM conditions (trained by an older hpack)");
    } else {
        say(r, HPK_FIT_YES, HPK_FIT_R_MATCH, "compressed oops %s (%s), GC %s, compact headers %s%s", onoff(r->coops),
            a, r->gc[0] ? r->gc : "Serial or G1", onoff(r->coh),
            aot && rec->code == HPK_CODE_NONE ? ", no machine code (the CPU does not matter)" : "");
    }
}

int hpk_fit_pick(size_t n, enum hpk_fit (*verdict)(void *ctx, size_t i), void *ctx)
{
    int unsure = -1;
    for (size_t i = 0; i < n; i++) {
        enum hpk_fit f = verdict(ctx, i);
        if (f == HPK_FIT_YES) return (int)i;
        if (f == HPK_FIT_UNSURE && unsure < 0) unsure = (int)i;
    }
    return unsure;
}
