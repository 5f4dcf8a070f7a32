/*
 * hpk_cpus.h - how many CPUs this process may use, for the packer's
 * compression and the launcher's first-start unpacking.
 */
#ifndef HPK_CPUS_H
#define HPK_CPUS_H

#include <stddef.h>

#define HPK_MAX_THREADS 64

/* The CPUs of the affinity mask (sched_getaffinity), lowered to the
 * cgroup v2 quota (cpu.max: quota / period, rounded up) of this process's
 * cgroup and of each of its ancestors; 1 .. HPK_MAX_THREADS. HPACK_THREADS=N
 * (1 .. HPK_MAX_THREADS) in the environment overrides it: output never
 * depends on it (only speed does), tests use it to show that. */
int hpk_cpus(void);

/* fn(arg) on nt threads (at most HPK_MAX_THREADS): this one and nt - 1
 * started, as many as can be (fn shares the work out, so fewer is only
 * slower); returns when every one is done. */
void hpk_run_threads(int nt, void *(*fn)(void *), void *arg);

/* fn(ctx, k) once for every k in 0 .. n-1, on up to hpk_cpus() threads
 * (never more than n), each claiming the next k in turn: a caller orders
 * its work largest first, so that no big piece is started last and alone
 * while the other threads idle. */
void hpk_run_each(size_t n, void (*fn)(void *ctx, size_t k), void *ctx);

/* The cgroup v2 limit alone, from a cpu.max line ("max 100000", "150000
 * 100000"): CPUs rounded up, or 0 for no limit or a line it cannot read. */
int hpk_cpu_max_parse(const char *line);

/* Read a small file whole (NUL-terminated, at most n - 1 bytes): 0 or -1. */
int hpk_read_small(const char *path, char *buf, size_t n);

/* Call fn with the content of FILE (e.g. "cpu.max", "memory.max") of this
 * process's cgroup v2 directory and of each ancestor up to the root of the
 * cgroup2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified beside v1),
 * wherever it can be read. Limits nest: callers keep the tightest. */
void hpk_cgroup_each(const char *file, void (*fn)(const char *line, void *ctx), void *ctx);

#endif
