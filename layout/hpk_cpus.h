/*
 * hpk_cpus.h - how many CPUs this process may use, for the packer's
 * compression and the launcher's first-start unpacking.
 */
#ifndef HPK_CPUS_H
#define HPK_CPUS_H

#define HPK_MAX_THREADS 64

/* The CPUs of the affinity mask (sched_getaffinity), lowered to the
 * cgroup v2 quota (cpu.max: quota / period, rounded up) of this process's
 * cgroup and of each of its ancestors; 1 .. HPK_MAX_THREADS. HPACK_THREADS=N
 * (1 .. HPK_MAX_THREADS) in the environment overrides it: output never
 * depends on it (only speed does), tests use it to show that. */
int hpk_cpus(void);

/* The cgroup v2 limit alone, from a cpu.max line ("max 100000", "150000
 * 100000"): CPUs rounded up, or 0 for no limit or a line it cannot read. */
int hpk_cpu_max_parse(const char *line);

#endif
