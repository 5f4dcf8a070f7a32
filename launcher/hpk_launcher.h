/*
 * hpk_launcher.h - internal API of the embedded launcher: the choice of its
 * cache root. Making, checking and extracting trees is layout/'s
 * (hpk_tree.h), shared with the packer.
 *
 * The launcher runs on every start of every shipped application: its warm
 * path is a handful of system calls (see docs/launcher.md). Everything here
 * reports errors through struct hpk_err; only main.c prints.
 */
#ifndef HPK_LAUNCHER_H
#define HPK_LAUNCHER_H

#include "../layout/hpk_artifact.h"
#include "../layout/hpk_kv.h"
#include "../layout/hpk_tree.h"
#include "../layout/hpk_store.h"

#include <stddef.h>
#include <time.h>

/* cachedir.c: choose the cache root and open it, creating it 0700 and
 * refusing one owned by another user or writable by group/others, or below
 * a directory another user could write (layout/dirsafe.c). */
struct hpk_root {
    char path[4096]; /* the real path: absolute, no symbolic link, no "." or ".." */
    int fd;
    int fallback; /* 1 if $TMPDIR/hpack-$UID was used because $HOME did not work */
};
int hpk_root_open(struct hpk_root *r, int debug, struct hpk_err *e);
/* The root hpk_root_open would try first, computed without touching disk. */
void hpk_root_default(char *buf, size_t n);

/* ---- fit.c: does a carried cache apply on this host? ---- */
#include "../layout/hpk_config.h"
#include "../layout/hpk_hostfit.h"
/* Predict (layout/hostfit.c) whether the current cache of `cf` applies:
 * from its recorded conditions, the artifact's JVM options, then the
 * cache's own (variant.jvm), then HPACK_JAVA_OPTS, and this host. */
void hpk_launcher_fit(const struct hpk_config *cf, struct hpk_fit_result *r);

/* Which carried cache to pass (docs/launcher.md 9.2). */
struct hpk_pick {
    int idx;       /* the chosen cache, an index into cf->caches; -1: none applies */
    size_t n_eval; /* caches judged, in table order; the others were not looked at */
    /* Each judged cache's verdict. One not bound to the payload (`bound` 0),
     * or not the one HPACK_AOT_VARIANT names, is HPK_FIT_NO with that reason. */
    struct hpk_fit_result r[HPK_CACHES_MAX];
    int bound[HPK_CACHES_MAX];
    char name[HPK_CACHES_MAX][48]; /* "default" or the variant's name */
};
/* Judge the carried caches by the pick rule (hpk_fit_pick): stop at the
 * first that applies unless `all` (--hpack-check, --hpack-info judge every
 * one). Leaves cf's current cache at the chosen one, else at the first. */
void hpk_launcher_pick(const struct hpk_artifact *a, struct hpk_config *cf, int all, struct hpk_pick *p);
/* Run argv (java through the tree descriptor, path `java` in it) with
 * stdout and stderr into a buffer; returns it (malloc'ed, NUL-ended) and
 * the wait status in *status, or NULL if it could not run. */
char *hpk_launcher_capture(const char *java, char **argv, int *status);
/* The training conditions' records (docs/format.md 9.3) from the output of
 * `java ... -XX:+PrintFlagsFinal -version` and this CPU; NULL if the output
 * lacks a deciding flag. */
char *hpk_launcher_cond_records(const char *flags_out, size_t *len);
#endif
