/*
 * hpk_launcher.h - internal API of the embedded launcher, file by file: one
 * start's state (main.c), its tree (tree.c), the JVM line and exec
 * (jvmline.c), training (train.c), host fit (fit.c), the reporting options
 * (commands.c) and the choice of the cache root (cachedir.c). Making,
 * checking and extracting trees is layout/'s (hpk_tree.h), shared with the
 * packer.
 *
 * The launcher runs on every start of every shipped application: its warm
 * path is a handful of system calls (see docs/launcher.md). A launcher
 * error ends the process: hpk_start_die prints it once, naming the artifact.
 */
#ifndef HPK_LAUNCHER_H
#define HPK_LAUNCHER_H

#include "../layout/hpk_artifact.h"
#include "../layout/hpk_config.h"
#include "../layout/hpk_kv.h"
#include "../layout/hpk_tree.h"
#include "../layout/hpk_store.h"

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

/* ---- main.c: one start of the artifact ---- */
enum hpk_aot { HPK_AOT_AUTO, HPK_AOT_REQUIRE, HPK_AOT_OFF }; /* HPACK_AOT */

struct hpk_start {
    const char *self; /* how we were invoked, for messages */
    int debug;
    enum hpk_aot aot;
    struct hpk_artifact a;
    struct hpk_config cf; /* hpack/launch, the carried cache and the trust verdict */
    int pinned; /* the checked tree is open at HPK_TREE_FD */
    uid_t uid;  /* effective user */
};

/* "hpack: SELF: message" on stderr, then exit with the error's status. */
_Noreturn void hpk_start_die(const struct hpk_start *c, const struct hpk_err *e);
_Noreturn void hpk_start_dief(const struct hpk_start *c, int code, const char *fmt, const char *arg);

/* The carried cache may be passed: the rule of layout/config.c said so. */
static inline int hpk_start_bound(const struct hpk_start *c)
{
    return c->cf.cache && c->cf.trust == HPK_TRUST_OK;
}

/* ---- tree.c: the unpacked tree this start runs from ---- */
struct hpk_root;
/* The system store's tree (layout/store.c), trusted and complete (the
 * cache file too when want_cache): its descriptor, the store's resolved
 * path in `path`; or -1, and the user's cache serves. */
int hpk_start_store_tree(const struct hpk_start *c, int want_cache, char *path, size_t n);
/* The tree to run from: the store's, else the one under the cache root
 * (hpk_root_open), unpacked first (under a lock) if missing or not as
 * unpacked. Its descriptor, and the root's path in rootpath (the tree is
 * rootpath/<base hash>). Dies on an error. */
int hpk_start_find_tree(struct hpk_start *c, int want_cache, char *rootpath, size_t n);
/* Keep `tree` open at HPK_TREE_FD across execve (the class path names it). */
void hpk_start_pin(struct hpk_start *c, int tree);

/* ---- jvmline.c: the JVM's command line and its exec ---- */
_Noreturn void hpk_start_oom(void);
/* asprintf of f with two strings; exits when out of memory. */
char *hpk_start_fmt(const char *f, const char *a, const char *b);
/* hpk_exec_line for this start: the tree at rootpath/<base hash>, the cache
 * passed when use_cache (required under HPACK_AOT=require), train: NULL or
 * the record-mode options used instead; after_cp: NULL, or what follows the
 * class path instead of the main class and arguments. Exits when out of
 * memory. */
char **hpk_start_argv(const struct hpk_start *c, const char *rootpath, int use_cache, const char *const *train,
                      const char *const *after_cp, int argc, char **argv);
/* The line on one line, shell-quoted where needed. */
void hpk_start_print_argv(FILE *f, char **v);
/* execveat `java` through HPK_TREE_FD; returns only on failure (errno). */
void hpk_start_exec(const struct hpk_start *c, char **v);

/* ---- train.c: HPACK_TRAIN=PATH ---- */
/* Run the application in record mode and write PATH and PATH.prov; the
 * application's status, or an HPK_EXIT_* status when training failed. */
int hpk_start_train(struct hpk_start *c, const char *rootpath, const char *out, int argc, char **argv);

/* ---- commands.c: --hpack-info, --hpack-check ---- */
void hpk_start_info(struct hpk_start *c, const char *rootpath);
/* 0 when the cache applies on this host, HPK_EXIT_HOSTFIT when not. */
int hpk_start_check(struct hpk_start *c);

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

/* ---- fit.c: does the carried cache apply on this host? ---- */
struct hpk_config;
struct hpk_fit_result;
/* Predict (layout/hostfit.c) from the cache's recorded conditions, the
 * artifact's JVM options then HPACK_JAVA_OPTS, and this host. */
void hpk_launcher_fit(const struct hpk_config *cf, struct hpk_fit_result *r);
/* Run argv (java through the tree descriptor, path `java` in it) with
 * stdout and stderr into a buffer; returns it (malloc'ed, NUL-ended) and
 * the wait status in *status, or NULL if it could not run. */
char *hpk_launcher_capture(const char *java, char **argv, int *status);
/* The training conditions' records (docs/format.md 9.3) from the output of
 * `java ... -XX:+PrintFlagsFinal -version` and this CPU; NULL if the output
 * lacks a deciding flag. */
char *hpk_launcher_cond_records(const char *flags_out, size_t *len);
/* Whether to pass the bound cache on this host (auto: a warning when not;
 * require: dies with HPK_EXIT_HOSTFIT naming the condition). */
int hpk_start_host_fit(const struct hpk_start *c);
#endif
