/*
 * tuneopts.c - the options of `hpack build --tune` (docs/tuning.md): a
 * candidate's option set split into options (--tune-candidate, and
 * tune.choice.jvm when --tuned FILE replays a choice; quoted as a shell
 * would, with argfile.c's hpk_split_quoted), and which flag an option
 * sets, so that the user's own --jvm-opt always wins.
 */
#define _GNU_SOURCE
#include "hpk_tune_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hpk_tune_split(const char *opts, struct hpk_strv *out, char *why, size_t whyn)
{
    struct hpk_strv w = {0};
    if (hpk_split_quoted(opts, &w, why, whyn) != 0) {
        hpk_strv_free(&w);
        return -1;
    }
    int r = w.n ? 0 : (snprintf(why, whyn, "no options"), -1);
    for (size_t i = 0; i < w.n && r == 0; i++) {
        const char *o = w.v[i];
        if (o[0] != '-' || !o[1]) {
            snprintf(why, whyn, "'%s' is not a JVM option", o);
            r = -1;
        }
        /* The table's records are TAB-separated lines (docs/format.md 9.3). */
        for (const char *c = o; *c && r == 0; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) snprintf(why, whyn, "'%s' holds a control character", o), r = -1;
        if (r == 0) hpk_strv_push(out, o);
    }
    hpk_strv_free(&w);
    return r;
}

/* The flag an option sets, for "the user's --jvm-opt wins": -XX:+Name,
 * -XX:-Name and -XX:Name=V set Name; -Xms64m sets Xms; every collector
 * choice (-XX:+UseSerialGC, ...) sets "GC", since two of them together are
 * an error, not an override. */
static void flag_of(const char *o, char *out, size_t n)
{
    if (!strncmp(o, "-XX:", 4)) {
        const char *p = o + 4;
        if (*p == '+' || *p == '-') p++;
        size_t l = strcspn(p, "=");
        if (!strncmp(p, "Use", 3) && l > 5 && !strncmp(p + l - 2, "GC", 2)) snprintf(out, n, "GC");
        else snprintf(out, n, "%.*s", (int)l, p);
    } else if (!strncmp(o, "-Xms", 4) || !strncmp(o, "-Xmx", 4) || !strncmp(o, "-Xss", 4)) {
        snprintf(out, n, "%.3s", o + 1);
    } else {
        snprintf(out, n, "%.*s", (int)strcspn(o, "=:"), o);
    }
}

const char *hpk_tune_user_sets(const struct hpk_build *b, const struct hpk_strv *opts)
{
    for (size_t i = 0; i < opts->n; i++) {
        char a[128], u[128];
        flag_of(opts->v[i], a, sizeof a);
        for (size_t k = 0; k < b->jvm_opts.n; k++) {
            flag_of(b->jvm_opts.v[k], u, sizeof u);
            if (!strcmp(a, u)) return b->jvm_opts.v[k];
        }
    }
    return NULL;
}

int hpk_tune_read_choice(const char *file, struct hpk_strv *out, struct hpk_err *e)
{
    FILE *f = fopen(file, "r");
    if (!f) return hpk_fail(e, HPK_ST_USAGE, "--tuned %s: %s", file, strerror(errno));
    char line[8192];
    int found = 0, fmt = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "tune.goal=", 10)) fmt = 1;
        if (!strncmp(line, "tune.choice.jvm=", 16)) {
            found = 1;
            char why[200];
            if (line[16] && hpk_tune_split(line + 16, out, why, sizeof why) != 0) {
                fclose(f);
                return hpk_fail(e, HPK_ST_USAGE, "--tuned %s: tune.choice.jvm: %s", file, why);
            }
        }
    }
    fclose(f);
    if (!fmt || !found)
        return hpk_fail(e, HPK_ST_USAGE, "--tuned %s: not a table written by hpack build --tune (no tune.goal and tune.choice.jvm)", file);
    return 0;
}
