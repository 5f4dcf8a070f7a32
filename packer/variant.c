/*
 * variant.c - the startup cache variants `hpack build --train-variant NAME`
 * trains beside the default cache (docs/format.md 10.1, docs/launcher.md
 * 9.2): what each is for, the JVM options it is trained and run with, and
 * the recorded condition that proves the training took them.
 *
 * A variant exists for hosts where the default cache cannot apply; each
 * forces the setting it was trained with (its options are passed with its
 * cache), so where it is picked its verdict is certain, and it can be
 * verified on the build host.
 */
#include "hpk_variant.h"

#include <string.h>

static const char *const large_heap_opts[] = {"-XX:-UseCompressedOops", NULL};
static const char *const portable_opts[] = {"-XX:+UnlockDiagnosticVMOptions", "-XX:-AOTAdapterCaching", NULL};

static const struct hpk_variant variants[] = {
    /* Hosts whose heap is over 32 GB (>= 128 GB of memory with a MaxRAM*
     * option, or a large -Xmx): the JVM turns compressed oops off there,
     * and a cache trained with them is refused. */
    {"large-heap", "no compressed oops: hosts with a heap over 32 GB", large_heap_opts, "jvm.compressed_oops",
     "false"},
    /* Trained and run without AOT adapters: no machine code in the cache,
     * so no CPU feature of the build host is needed (adoptium-support
     * 1507: SIGILL on CPUs lacking one); costs a few percent of start. */
    {"portable", "no machine code: any CPU of the architecture", portable_opts, "jvm.aot_code", "false"},
};

const struct hpk_variant *hpk_variant_find(const char *name)
{
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++)
        if (!strcmp(variants[i].name, name)) return &variants[i];
    return NULL;
}

const struct hpk_variant *hpk_variant_at(size_t i)
{
    return i < sizeof variants / sizeof *variants ? &variants[i] : NULL;
}
