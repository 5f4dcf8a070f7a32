/*
 * tuneheap.c - the peak heap use of a run, read from the JVM's own GC log,
 * for --tune's xms-peak candidate (docs/tuning.md): the heap's first size
 * from what the workload used at most.
 *
 * The log is the one `-Xlog:gc*:file=F:tags` writes (HPK_TUNE_HEAP_LOG),
 * one line per event, its tags first:
 *   [gc          ] GC(0) Pause Young (Allocation Failure) 24M->3M(377M) 3.026ms
 *   [gc,exit     ]  garbage-first heap   total reserved 6172672K, committed 393216K, used 4132K [...]
 *   [gc,heap,exit]  def new generation   total 1856K, used 225K [...]   (JDK 17)
 * The heap held most either just before a collection (the value before
 * "->") or at the exit (the "used" of the heap's spaces, summed: one for
 * G1, two generations for Serial and Parallel; Metaspace is not the heap
 * and has no "total"). The peak is the largest of these.
 */
#include "hpk_tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "24M" at p (digits, then K, M or G) in kB; -1 if p is not that. */
static long size_kb(const char *p)
{
    char *e;
    if (*p < '0' || *p > '9') return -1;
    long v = strtol(p, &e, 10);
    long mul = *e == 'K' ? 1 : *e == 'M' ? 1024 : *e == 'G' ? 1024 * 1024 : -1;
    if (mul < 0) return -1;
    return v * mul;
}

/* One line: its tags (between the first [ and ], blanks trimmed) and what
 * it says, into *before (a collection's "N->") and *exit_used. */
static void heap_line(const char *l, size_t n, long *before, long *exit_used)
{
    if (n < 4 || l[0] != '[') return;
    const char *close = memchr(l, ']', n);
    if (!close) return;
    size_t tl = (size_t)(close - l - 1);
    while (tl && l[tl] == ' ') tl--; /* l[1..tl] is the tag set */
    char line[1024];
    snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), l);
    if (tl == 2 && !strncmp(l + 1, "gc", 2)) {
        for (const char *a = strstr(line, "->"); a; a = strstr(a + 2, "->")) {
            if (a - line < 2 || !strchr("KMG", a[-1])) continue; /* "Eden regions: 1->0": no size */
            const char *d = a - 1;
            while (d > line && d[-1] >= '0' && d[-1] <= '9') d--;
            long v = d < a - 1 ? size_kb(d) : -1;
            if (v > *before) *before = v;
        }
    } else if (tl > 5 && !strncmp(l + 1 + tl - 5, ",exit", 5) && strstr(line, " total ")) {
        const char *u = strstr(line, " used ");
        long v = u ? size_kb(u + 6) : -1;
        if (v > 0) *exit_used += v;
    }
}

long hpk_tune_heap_peak_kb(const char *log, size_t len)
{
    long before = 0, exit_used = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(log + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (log + i)) : len - i;
        heap_line(log + i, n, &before, &exit_used);
        i += n + 1;
    }
    return before > exit_used ? before : exit_used;
}

void hpk_tune_xms(long peak_kb, char *buf, size_t n)
{
    /* rounded up to 16 MB (at least 16 MB): a heap that need not grow to
     * hold what the run held */
    long mb = (peak_kb + 1023) / 1024;
    mb = (mb + 15) / 16 * 16;
    snprintf(buf, n, "-Xms%ldm", mb < 16 ? 16 : mb);
}
