/*
 * fit.c - the launcher's side of "does the cache apply on this host"
 * (layout/hostfit.c holds the rule): gather the options in force, run the
 * training JVM's flag dump, record the conditions.
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"
#include "../layout/hpk_config.h"
#include "../layout/hpk_hostfit.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void hpk_launcher_fit(const struct hpk_config *cf, struct hpk_fit_result *r)
{
    struct hpk_cond rec;
    struct hpk_jvmopts o;
    struct hpk_host h;
    hpk_cond_from_prov(cf->prov, cf->prov ? cf->prov_len : 0, &rec);
    /* In the order the JVM applies them, the later winning: JAVA_TOOL_OPTIONS
     * (read first by the VM), JDK_JAVA_OPTIONS (the java launcher puts them
     * before the command line), the command line (the artifact's options,
     * then the user's HPACK_JAVA_OPTS), _JAVA_OPTIONS (read last by the VM). */
    hpk_jvmopts_init(&o);
    hpk_jvmopts_add_str(&o, getenv("JAVA_TOOL_OPTIONS"));
    hpk_jvmopts_add_str(&o, getenv("JDK_JAVA_OPTIONS"));
    for (size_t i = 0; i < cf->launch.n_jvm; i++) hpk_jvmopts_add(&o, cf->launch.jvm[i]);
    hpk_jvmopts_add_str(&o, getenv("HPACK_JAVA_OPTS"));
    hpk_jvmopts_add_str(&o, getenv("_JAVA_OPTIONS"));
    hpk_host_init(&h);
    hpk_fit_predict(&rec, cf->launch.cache_kind, &o, &h, r);
}

char *hpk_launcher_capture(const char *java, char **argv, int *status)
{
    int p[2];
    if (pipe(p) != 0) return NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]), close(p[1]);
        return NULL;
    }
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        signal(SIGXFSZ, SIG_DFL);
        execveat(HPK_TREE_FD, java, argv, environ, 0);
        _exit(HPK_EXIT_EXEC);
    }
    close(p[1]);
    size_t n = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    for (;;) {
        if (buf && n + 4096 > cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
        char sink[4096];
        ssize_t r = read(p[0], buf ? buf + n : sink, 4096);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (buf) n += (size_t)r;
    }
    close(p[0]);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) {
            free(buf);
            return NULL;
        }
    if (buf) buf[n] = 0;
    return buf;
}

char *hpk_launcher_cond_records(const char *flags_out, size_t *len)
{
    struct hpk_cond c;
    memset(&c, 0, sizeof c);
    hpk_cpufeat_probe(&c.cpu);
    if (hpk_cond_from_flags(flags_out, &c) != 0) return NULL;
    return hpk_cond_records(&c, len);
}

/* Whether to pass the bound cache: not when it is predicted not to apply
 * (auto: a warning; require: exit HPK_EXIT_HOSTFIT naming the condition).
 * When unsure, it is passed and the JVM decides: a refusal there costs
 * only speed, while the CPU check, which protects against crashes, is
 * never unsure. */
int hpk_start_host_fit(const struct hpk_start *c)
{
    struct hpk_fit_result r;
    hpk_launcher_fit(&c->cf, &r);
    if (r.fit == HPK_FIT_NO && c->aot == HPK_AOT_REQUIRE) {
        struct hpk_err e;
        hpk_fail(&e, HPK_EXIT_HOSTFIT, "HPACK_AOT=require: the startup cache does not apply on this host: %s", r.why);
        hpk_start_die(c, &e);
    }
    if (r.fit == HPK_FIT_NO)
        fprintf(stderr, "hpack: %s: warning: startup cache not used: it does not apply on this host: %s\n", c->self, r.why);
    else if (c->debug)
        fprintf(stderr, "hpack: startup cache %.*s %s: %s\n", (int)c->cf.cache->path_len, c->cf.cache->path,
                r.fit == HPK_FIT_YES ? "applies" : "may apply (the JVM decides)", r.why);
    return r.fit != HPK_FIT_NO;
}

/* ---- --hpack-* commands ---- */
