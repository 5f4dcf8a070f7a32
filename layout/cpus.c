/*
 * cpus.c - the CPUs this process may use (affinity mask and cgroup v2
 * cpu.max), so that a container given 1.5 CPUs of a 64-CPU host does not
 * start 64 threads that the quota then throttles; and work shared out on
 * them (hpk_run_threads, hpk_run_each).
 */
#define _GNU_SOURCE
#include "hpk_cpus.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void hpk_run_threads(int nt, void *(*fn)(void *), void *arg)
{
    pthread_t th[HPK_MAX_THREADS];
    int started = 0;
    for (int t = 1; t < nt && t < HPK_MAX_THREADS; t++)
        if (pthread_create(&th[started], NULL, fn, arg) == 0) started++;
    fn(arg);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
}

struct each {
    size_t n;
    atomic_size_t next;
    void (*fn)(void *ctx, size_t k);
    void *ctx;
};

static void *each_worker(void *arg)
{
    struct each *w = arg;
    for (size_t k; (k = atomic_fetch_add(&w->next, 1)) < w->n;) w->fn(w->ctx, k);
    return NULL;
}

void hpk_run_each(size_t n, void (*fn)(void *ctx, size_t k), void *ctx)
{
    struct each w = {.n = n, .fn = fn, .ctx = ctx};
    atomic_init(&w.next, 0);
    int nt = hpk_cpus();
    if ((size_t)nt > n) nt = n ? (int)n : 1;
    hpk_run_threads(nt, each_worker, &w);
}

int hpk_cpu_max_parse(const char *line)
{
    char *end;
    if (!strncmp(line, "max", 3)) return 0;
    unsigned long long quota = strtoull(line, &end, 10);
    if (end == line || *end != ' ') return 0;
    const char *p = end + 1;
    unsigned long long period = strtoull(p, &end, 10);
    if (end == p || period == 0 || quota == 0) return 0;
    unsigned long long n = (quota + period - 1) / period;
    return n > HPK_MAX_THREADS ? HPK_MAX_THREADS : (int)n;
}

int hpk_read_small(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t r = read(fd, buf, n - 1);
    close(fd);
    if (r < 0) return -1;
    buf[r] = 0;
    return 0;
}

void hpk_cgroup_each(const char *file, void (*fn)(const char *line, void *ctx), void *ctx)
{
    char cg[4096], line[128], path[4200];
    if (hpk_read_small("/proc/self/cgroup", cg, sizeof cg) != 0) return;
    char *rel = strstr(cg, "0::");
    if (rel != cg && (!rel || rel[-1] != '\n')) return;
    rel += 3;
    char *nl = strchr(rel, '\n');
    if (nl) *nl = 0;
    /* cgroup2 alone at /sys/fs/cgroup, or beside v1 at .../unified. */
    const char *mount = "/sys/fs/cgroup";
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0) {
        mount = "/sys/fs/cgroup/unified";
        if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) != 0) return;
    }
    for (;;) {
        snprintf(path, sizeof path, "%s%s/%s", mount, strcmp(rel, "/") ? rel : "", file);
        if (hpk_read_small(path, line, sizeof line) == 0) fn(line, ctx);
        char *slash = strrchr(rel, '/');
        if (!slash || slash == rel) {
            if (!strcmp(rel, "/") || !*rel) break;
            rel = "/";
            continue;
        }
        *slash = 0;
    }
}

static void tightest_cpus(const char *line, void *ctx)
{
    int *best = ctx, n = hpk_cpu_max_parse(line);
    if (n > 0 && (*best == 0 || n < *best)) *best = n;
}

/* The tightest cpu.max on the way from our cgroup up to the root of the
 * cgroup2 mount; 0 if none. */
static int cgroup_limit(void)
{
    int best = 0;
    hpk_cgroup_each("cpu.max", tightest_cpus, &best);
    return best;
}

int hpk_cpus(void)
{
    const char *env = getenv("HPACK_THREADS");
    if (env && *env) {
        char *end;
        long n = strtol(env, &end, 10);
        if (!*end && n >= 1 && n <= HPK_MAX_THREADS) return (int)n;
    }
    cpu_set_t set;
    int n = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    else n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int lim = cgroup_limit();
    if (lim > 0 && lim < n) n = lim;
    if (n < 1) n = 1;
    return n > HPK_MAX_THREADS ? HPK_MAX_THREADS : n;
}
