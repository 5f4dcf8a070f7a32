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
#include "../layout/hpk_hostfit.h"

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
    const char *local_cache; /* NULL, or the host-local cache passed instead of a carried one (heal.c) */
    struct hpk_root *root;   /* the user's cache root, once heal.c opened it: tree.c does not walk it again */
    int tree_lacks; /* what the tree lacks of what the start wanted (HPK_TREE_CACHE, HPK_TREE_ALL) and
                       cannot get: its cache root is read-only (tree.c) */
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
/* What a start needs in its tree beyond the base entries (flags):
 * HPK_TREE_CACHE the carried cache file (c->cf.cache), passed to the JVM;
 * HPK_TREE_ALL every runtime entry, even the default CDS archives a tree
 * unpacked for a start passing an AOT cache leaves out (--hpack-verify).
 * A start that passes no AOT cache gets them too (hpk_entry_deferrable). */
enum { HPK_TREE_CACHE = 1, HPK_TREE_ALL = 2 };
/* The system store's tree (layout/store.c), trusted and complete (as
 * `want` says): its descriptor, the store's resolved path in `path`; or
 * -1, and the user's cache serves. */
int hpk_start_store_tree(const struct hpk_start *c, int want, char *path, size_t n);
/* The tree to run from: the store's, else the one under the cache root
 * (hpk_root_open), unpacked first (under a lock) if missing or not as
 * unpacked. Its descriptor, and the root's path in rootpath (the tree is
 * rootpath/<base hash>). Dies on an error. */
int hpk_start_find_tree(struct hpk_start *c, int want, char *rootpath, size_t n);
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
/* -Xlog selections for the VM's messages about its cache: JDK 25 logs them
 * under the aot tag as well as cds; before 25 there is no aot tag, and an
 * unknown tag stops the JVM ("Invalid tag 'aot' in log selection").
 * which: 0 "off" (on stdout, the default output), 1 warnings to stderr. */
const char *hpk_start_cache_log(const struct hpk_start *c, int which);
/* execveat `java` through HPK_TREE_FD; returns only on failure (errno). */
void hpk_start_exec(const struct hpk_start *c, char **v);
/* Set the artifact's `env` variables (hpack build --env), their ${HPACK_*}
 * expanded as in JVM options, for the JVM and what it runs: after the tree
 * is pinned, before any JVM starts. Exits when out of memory. */
void hpk_start_env(const struct hpk_start *c, const char *rootpath);

/* ---- train.c: HPACK_TRAIN=PATH ---- */
/* Training writes through this descriptor of a private directory: the JVM
 * is given /proc/self/fd/249/..., so no name in a shared directory is ever
 * opened by path (a planted link there would redirect the JVM's writes).
 * Healing (heal.c) records the same way. */
#define HPK_TRAIN_FD 249
#define HPK_TRAIN_FD_PATH "/proc/self/fd/249"
/* Forward termination signals (TERM, INT, HUP, QUIT, USR1, USR2) to the
 * child hpk_start_run_child runs: the packer stops a trained server with
 * SIGTERM, a supervisor stops a healing run the same way. */
void hpk_start_forward_signals(void);
/* Run argv (java through the tree descriptor) as a child; its wait status,
 * or -1 if it could not be started. */
int hpk_start_run_child(const struct hpk_start *c, char **v);
/* Append one `key=value\0` record (docs/format.md) to a growing buffer. */
void hpk_start_kv_add(char **buf, size_t *len, const char *key, const char *value);
/* Append the conditions the cache applies under (docs/format.md 9.3),
 * asked of the JVM with the options in force; 0, or -1 (said on stderr). */
int hpk_start_conditions(const struct hpk_start *c, const char *rootpath, char **prov, size_t *plen);
/* A new cache's provenance: format, base, kind, runtime, class path and
 * the conditions; NULL when the JVM's flags could not be read. */
char *hpk_start_prov(const struct hpk_start *c, const char *rootpath, size_t *len);
/* Run the application in record mode and write PATH and PATH.prov; the
 * application's status, or an HPK_EXIT_* status when training failed. */
int hpk_start_train(struct hpk_start *c, const char *rootpath, const char *out, int argc, char **argv);

/* cachedir.c's cache root (below). */
struct hpk_root {
    char path[4096]; /* the real path: absolute, no symbolic link, no "." or ".." */
    int fd;
    int fallback; /* 1 if $TMPDIR/hpack-$UID was used because $HOME did not work */
};

/* ---- heal.c: a host-local startup cache (docs/launcher.md 9.3) ---- */
/* The host-local cache is passed as /proc/self/fd/248: the very file
 * judged, kept open across execve (as the tree is at 250), so that a cache
 * another start renames into place meanwhile is not the one the JVM maps. */
#define HPK_HEAL_FD 248
#define HPK_HEAL_CACHE_PATH "/proc/self/fd/248"
struct hpk_heal {
    int wanted;          /* healing asked for (HPACK_HEAL=on, or the artifact's heal=on) */
    int on;              /* ... and possible here */
    const char *off_why; /* when not: why (HPACK_DEBUG, --hpack-check) */
    struct hpk_root root; /* the user's cache root (hpk_heal_look opens it) */
    char path[4200];     /* <root>/<base hash>.heal */
    int dir;             /* that directory, or -1 */
    int cache;           /* its cache file as judged (open), or -1 */
    int present;         /* a host-local cache is there */
    int usable;          /* ... bound to this payload, unchanged, and predicted to apply */
    struct hpk_fit_result fit;
    char why[400];       /* why it is not usable, or what decides that it applies */
};
/* Whether this start may heal: HPACK_HEAL=on|off, else the artifact's
 * `heal` (hpack build --heal); only AOT caches; not with HPACK_AOT=off or
 * options that conflict with record mode. Opens nothing. */
void hpk_heal_init(const struct hpk_start *c, struct hpk_heal *h);
/* The host-local cache, if healing is on: trusted (hpk_cache_trust_local)
 * and predicted to apply (fit.c)? 1 if it may be passed. */
int hpk_heal_look(struct hpk_start *c, struct hpk_heal *h);
/* Keep the judged cache file open at HPK_HEAL_FD across execve. */
void hpk_heal_pin(const struct hpk_start *c, struct hpk_heal *h);
/* Run the application once in record mode (the tree pinned), then leave a
 * detached process to create and publish the cache, and exit as the
 * application did. Returns -1, h->why saying why, when it does not record
 * (another start records, 3 recordings failed, too little room): the
 * caller then starts the application plainly. */
int hpk_heal_record(struct hpk_start *c, struct hpk_heal *h, const char *rootpath, int argc, char **argv);

/* ---- commands.c: --hpack-info, --hpack-check ---- */
struct hpk_pick;
/* p: every carried cache judged (hpk_launcher_pick with all). */
void hpk_start_info(struct hpk_start *c, const char *rootpath, const struct hpk_pick *p);
/* 0 when a carried cache applies on this host, HPK_EXIT_HOSTFIT when none does. */
int hpk_start_check(struct hpk_start *c);

/* cachedir.c: choose the cache root and open it, creating it 0700 and
 * refusing one owned by another user or writable by group/others, or below
 * a directory another user could write (layout/dirsafe.c). */
int hpk_root_open(struct hpk_root *r, int debug, struct hpk_err *e);
/* The root hpk_root_open would try first, computed without touching disk. */
void hpk_root_default(char *buf, size_t n);

/* ---- fit.c: does a carried cache apply on this host? ---- */
/* Predict (layout/hostfit.c) whether the current cache of `cf` applies:
 * from its recorded conditions, the artifact's JVM options, then the
 * cache's own (variant.jvm), then HPACK_JAVA_OPTS, and this host. */
void hpk_launcher_fit(const struct hpk_config *cf, struct hpk_fit_result *r);
/* The same for a cache of provenance `prov` passed without a variant's
 * options (a host-local cache, heal.c). */
void hpk_launcher_fit_prov(const struct hpk_config *cf, const char *prov, size_t prov_len, struct hpk_fit_result *r);

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
/* Why no carried cache is passed: the status and message HPACK_AOT=require
 * dies with, and the warning auto prints (both without "hpack: SELF:"). */
struct hpk_nocache {
    int code;
    char require[1100];
    char warn[1100];
};
/* Which carried cache this start passes (docs/launcher.md 9.2): the first
 * predicted to apply, made c->cf's current cache; 0 when none, `no` saying
 * why. */
int hpk_start_choose_cache(struct hpk_start *c, struct hpk_nocache *no);
#endif
