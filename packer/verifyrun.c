/*
 * verifyrun.c - running an artifact with its startup cache required and
 * class loading logged: it passes only if the main class is loaded from the
 * cache. A variant's DA1 is checked this way before it is renamed into
 * place (train.c), the default cache's by repeating the training run with
 * the same proof (trainrun.c, hpk_check_run); `hpack verify --run` does it
 * on demand.
 */
#define _GNU_SOURCE
#include "hpk_child.h"
#include "hpk_verify.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int verify_line(void *ctx, const char *line)
{
    return hpk_proof_line(ctx, line);
}

/* The level and tags of a line of the JVM's unified logging with its
 * default decorations, "[0.013s][info][class,load] ...": 0, or -1 if it is
 * no such line. The JVM pads each field to the widest it has printed on
 * that output ("[info ][class,load    ]" after a warning or a gc+heap
 * line), so fields are read, not matched whole. */
static int log_fields(const char *line, const char **level, size_t *ll, const char **tags, size_t *tl)
{
    const char *f[3];
    size_t n[3];
    const char *p = line;
    for (int i = 0; i < 3; i++) {
        if (*p != '[') return -1;
        const char *end = strchr(p, ']');
        if (!end) return -1;
        f[i] = p + 1;
        n[i] = (size_t)(end - f[i]);
        while (n[i] && f[i][n[i] - 1] == ' ') n[i]--;
        p = end + 1;
    }
    *level = f[1], *ll = n[1], *tags = f[2], *tl = n[2];
    return 0;
}

static int has_prefix(const char *s, size_t n, const char *pre)
{
    size_t pl = strlen(pre);
    return n >= pl && !strncmp(s, pre, pl);
}

int hpk_proof_logged(const char *line)
{
    const char *lv, *tg;
    size_t ll, tl;
    return log_fields(line, &lv, &ll, &tg, &tl) == 0 && ll == 4 && !strncmp(lv, "info", 4) &&
           (has_prefix(tg, tl, "class,") || has_prefix(tg, tl, "aot") || has_prefix(tg, tl, "cds"));
}

/* A class being loaded: never an explanation, though its name may say Error. */
static int class_load_line(const char *line)
{
    const char *lv, *tg;
    size_t ll, tl;
    return log_fields(line, &lv, &ll, &tg, &tl) == 0 && tl == 10 && !strncmp(tg, "class,load", 10);
}

int hpk_proof_line(struct hpk_proof *v, const char *line)
{
    if (!v->hit && strstr(line, v->want)) {
        v->hit = 1;
        return 1;
    }
    /* Keep lines that explain a rejected cache (not the loading of a class
     * named ...Error: every run loads some). */
    if (!v->hit && !class_load_line(line) && (strstr(line, "mismatch") || strstr(line, "AOT") || strstr(line, "shared archive") ||
                    strstr(line, "error") || strstr(line, "Error")) &&
        strlen(v->why) + strlen(line) + 3 < sizeof v->why) {
        strcat(v->why, line);
        strcat(v->why, "; ");
    }
    return 0;
}

int hpk_proof_plan(const char *artifact, struct hpk_proof *v, struct hpk_err *e)
{
    struct hpk_artifact a;
    struct hpk_config in;
    memset(v, 0, sizeof *v);
    if (hpk_open_artifact(artifact, &a, e) != 0) return -1;
    if (hpk_artifact_info(&a, &in, e) != 0) {
        hpk_close_artifact(&a);
        return -1;
    }
    int rc = 0;
    if (!in.cache) {
        rc = hpk_fail(e, HPK_ST_TRAIN, "no startup cache in this artifact");
    } else {
        snprintf(v->want, sizeof v->want, " %s source: shared objects file", in.launch.main);
        /* The JVM takes "demo/Main" for demo.Main (jing's manifest says
         * com/thaiopensource/relaxng/util/Driver) and logs it dotted. */
        for (char *c = v->want + 1; *c && *c != ' '; c++)
            if (*c == '/') *c = '.';
        v->log = !strcmp(in.launch.cache_kind ? in.launch.cache_kind : "", "aot") ? "-Xlog:class+load=info,aot=info,class+path=info"
                                                                                 : "-Xlog:class+load=info,cds=info,class+path=info";
    }
    hpk_config_free(&in);
    hpk_close_artifact(&a);
    return rc;
}

int hpk_proof_verdict(const struct hpk_proof *v, const char *variant, struct hpk_err *e)
{
    if (!v->hit)
        return hpk_fail(e, HPK_ST_TRAIN, "the %s%sstartup cache does not apply: main class not loaded from it%s%.600s",
                        variant ? variant : "", variant ? " " : "", v->why[0] ? "; the JVM said: " : "", v->why);
    hpk_note("verified: %s is loaded from the %s%sstartup cache", v->want + 1, variant ? variant : "", variant ? " " : "");
    return 0;
}

/* Until the main class is seen loaded from the cache (then stop it: a
 * server need not run on), the run ends, or 300 s pass. */
static void verify_watch(struct hpk_child *c, struct hpk_proof *v)
{
    double deadline = hpk_now() + 300;
    int echo = hpk_verbose > 1;
    for (;;) {
        struct pollfd pfd = {.fd = c->out, .events = POLLIN};
        if (c->out >= 0 && poll(&pfd, 1, 100) > 0) hpk_child_pump(c, echo, -1, verify_line, v);
        if (c->out < 0) usleep(20000);
        if (v->hit) {
            hpk_child_kill(c, 10);
            return;
        }
        if (hpk_child_done(c)) {
            while (c->out >= 0 && !v->hit) hpk_child_pump(c, echo, -1, verify_line, v);
            return;
        }
        if (hpk_now() > deadline) {
            hpk_child_kill(c, 5);
            return;
        }
    }
}

int hpk_verify_run(const char *artifact, const char *cwd, const char *variant, int argc, char **argv, struct hpk_err *e)
{
    struct hpk_proof v;
    if (hpk_proof_plan(artifact, &v, e) != 0) return -1;
    char work[512];
    if (hpk_mkdtemp(work, sizeof work, "verify", e) != 0) return -1;
    char *cd, *opts, *var = NULL;
    if (asprintf(&cd, "HPACK_CACHE_DIR=%s/unpack", work) < 0 || asprintf(&opts, "HPACK_JAVA_OPTS=%s", v.log) < 0 ||
        (variant && asprintf(&var, "HPACK_AOT_VARIANT=%s", variant) < 0))
        hpk_oom();
    char *extra[] = {cd, opts, "HPACK_AOT=require", var, NULL};
    char **env = hpk_child_env(extra);
    char **av = hpk_xmalloc(((size_t)argc + 2) * sizeof *av);
    char *abs = realpath(artifact, NULL);
    av[0] = abs ? abs : (char *)artifact;
    for (int i = 0; i < argc; i++) av[i + 1] = argv[i];
    av[argc + 1] = NULL;
    struct hpk_child c;
    int rc = 0;
    if (hpk_child_start(&c, av, env, cwd) != 0) {
        rc = hpk_fail(e, HPK_ST_TRAIN, "cannot run %s: %s", artifact, strerror(errno));
    } else {
        verify_watch(&c, &v);
        rc = hpk_proof_verdict(&v, variant, e);
        hpk_child_close(&c);
    }
    hpk_tmp_rm_tree(work);
    free(abs);
    free(av);
    free(env);
    free(cd);
    free(opts);
    free(var);
    return rc;
}
