/*
 * hpk_build.h - the build command's state and the services it runs on:
 * build.c (options, driver), assemble.c (what goes in), jlink.c (the
 * runtime), train.c (DA1), trainrun.c (the training run), ready.c
 * (--train-ready).
 */
#ifndef HPK_BUILD_H
#define HPK_BUILD_H

#include "hpk_packer.h"
#include <getopt.h>


struct hpk_build {
    const char *runtime, *jar, *main_class, *output;
    const char *app_dist; /* --app-dist DIR|ARCHIVE: shipped under app/; relative --jar/--cp inside it */
    struct hpk_strv cp, jvm_opts, args;
    int train;
    struct hpk_strv train_args;
    int have_train_args;
    double train_timeout;
    int train_exit; /* --train-exit: the status of a training run that did its job */
    int train_check; /* --train-check: 0 not given (full), 1 full, 2 start (DA1's start checked, not its whole run) */
    const char *train_ready, *train_workload, *keep_da0, *with_cache;
    struct hpk_strv more_caches;    /* --with-cache given again: the variants' caches, in order; with --pick, candidates */
    struct hpk_strv train_variants; /* --train-variant NAME, in order (packer/variant.c) */
    const char *train_dir; /* --train-dir: the training and verification runs' working directory */
    const char *lock, *locked; /* --lock FILE, --locked FILE */
    const char *jdk, *add_modules; /* --jdk DIR, --add-modules M,... */
    int no_provider_modules, provider_modules_given; /* --provider-modules none (provmods.c), given at all */
    int no_fonts;                 /* --fonts none: no fallback fonts in the runtime (fonts.c) */
    struct hpk_strv jlink_opts;
    struct hpk_strv env;          /* --env NAME=VALUE, in order (hpack/launch `env`) */
    struct hpk_strv jdeps_inputs; /* class path jars, for jdeps (staged copies) */
    struct hpk_strv jdeps_names;  /* what each is to the user, for messages */
    char *modules;                /* the module list linked (recorded in hpack/launch) */
    char *said_modules;           /* the large providers said, not linked (provmods.c), "a, b"; or NULL */
    int training_failed;          /* DA0's training run failed (the error says what said_modules may explain) */
    struct hpk_strv jlink_used;   /* the options jlink ran with, ours then the user's (hpack/launch) */
    char *jlinked;                /* the runtime jlink made (in the build cache) */
    char *fail_detail;            /* lines printed before the error (the training run's last output) */
    /* results of the snapshot */
    char dist_top[256];       /* the --app-dist archive's single top directory, stripped, or "" */
    struct hpk_strv cp_paths; /* entry paths of the class path, in order */
    struct hpk_strv cp_hosts; /* and the real path of each on the host ("" inside an archive distribution) */
    int dist_is_dir;          /* --app-dist is a directory (it has a host side) */
    int strict_cp;            /* --strict-class-path */
    int heal;                 /* --heal: the launcher heals by default (heal=on in hpack/launch) */
    char *closure;            /* hpack/closure records (closure.c), or NULL */
    size_t closure_len;
    char *resolved_main;
    /* --tune (tune.c, docs/tuning.md) */
    int tune;                   /* HPK_TUNE_* (hpk_tune.h); 0 without --tune */
    struct hpk_strv tune_cands; /* --tune-candidate 'OPTS', as given */
    int tune_only;              /* --tune-candidates-only: no curated sets */
    int tune_set;               /* 1: --tune-candidate(s-only) given; 2: --tune-rounds/--tune-time */
    int tune_rounds;            /* --tune-rounds N */
    double tune_time;           /* --tune-time SECS: the whole search */
    const char *tuned;          /* --tuned FILE: replay a recorded choice */
    int train_runs;             /* --train-runs N: train each option set N times, keep the best */
    int pick_first;             /* --pick first: of several --with-cache, the first, unmeasured */
    int pick_best;              /* --pick best: of several --with-cache, the fastest (measured) */
};

int hpk_cmd_build(int argc, char **argv);
/* build's options, as getopt_long takes them (argfile.c needs them too). */
#define HPK_BUILD_SHORTOPTS "o:qv"
extern const struct option hpk_build_options[];
int hpk_build_run(struct hpk_build *b);

/* assemble.c: the application half of the snapshot (distribution, jars,
 * main class, closure); it comes first, because jdeps looks at these bytes
 * to choose the runtime's modules. */
int hpk_assemble_app(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_err *e);
/* The jars of the snapshot copied to a new temporary directory `dir` for
 * jdeps (b->jdeps_inputs, b->jdeps_names). */
int hpk_stage_jdeps_inputs(struct hpk_build *b, const struct hpk_snapshot *s, char *dir, size_t dirn, struct hpk_err *e);
/* Is file name n a jar's (ends in .jar or .JAR)? */
int hpk_is_jar_name(const char *n);
/* The rest: the runtime, hpack/launch, hpack/closure; sorted. */
int hpk_assemble_runtime(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_err *e);
void hpk_kv_add(char **buf, size_t *len, const char *key, const char *value);

/* argfile.c: argv with @FILE expanded and ./hpack.conf prepended; an
 * option's value (by opts and shortopts, as getopt_long reads them) is
 * never taken for a file. */
int hpk_expand_args(int argc, char **argv, const struct option *opts, const char *shortopts, struct hpk_strv *out,
                    struct hpk_err *e);
/* One string of several arguments split into words, as a shell would
 * without expansions: blanks (space, tab, newline) separate; '...' keeps
 * what it encloses; "..." too, but \" and \\ in it stand for " and \; a
 * backslash outside quotes keeps the next character; parts next to each
 * other are one word. Words appended to out; -1 with the reason in why (a
 * quote not closed, a backslash at the end). */
int hpk_split_quoted(const char *s, struct hpk_strv *out, char *why, size_t whyn);
/* W written so that hpk_split_quoted reads it back as one word: as it is,
 * or in single quotes (malloc'ed). */
char *hpk_quote_arg(const char *w);

/* jlink.c: make b->runtime from b->jdk (or the default JDK) with jlink. */
int hpk_jlink_runtime(struct hpk_build *b, struct hpk_err *e);
/* jdeps.c: the JDK modules the jars need, as "a,b,c" in *mods (NULL for
 * none); names: what each jar is to the user (jdeps reads staged copies). */
int hpk_jdeps_modules(const char *jdk, int major, const struct hpk_strv *jars, const struct hpk_strv *names, char **mods,
                      struct hpk_err *e);

/* jdeps.c: the modules of a JDK (its release file's MODULES, else what its
 * java lists), appended to *out. */
void hpk_jdk_modules(const char *jdk, struct hpk_strv *out);
/* jdeps.c: the modules linking `mods` gives (they and their requires,
 * transitively), as the JDK's java lists them with --limit-modules:
 * appended to *out; none if it cannot run. */
void hpk_jdk_linked_closure(const char *jdk, const struct hpk_strv *mods, struct hpk_strv *out);

/* provmods.c: service providers jdeps cannot see. A rule: where module
 * `when` is linked (and the JDK is Java max_major or older, 0: any), `add`
 * is linked too, for `why`; or, if it is `large`, said (why: its size and
 * what lacks without it; hint, if any, follows the --add-modules advice). */
struct hpk_provider_rule {
    const char *when, *add;
    int max_major, large;
    const char *why, *hint;
};
#define HPK_PROVIDER_RULES 7
/* Append to *mods the providers the rules link for it, those the JDK of
 * Java `major` has (jdk_mods) and neither mods nor `linked` (what linking
 * mods brings: jdeps lists no module another listed one requires) has; a
 * rule applies where its `when` is in either. Their rules in
 * added[0..*n_added); the large ones that would apply, not linked, in
 * said[0..*n_said) (each with room for HPK_PROVIDER_RULES). */
void hpk_provider_modules(struct hpk_strv *mods, const struct hpk_strv *linked, const struct hpk_strv *jdk_mods,
                          int major,
                          const struct hpk_provider_rule **added, size_t *n_added,
                          const struct hpk_provider_rule **said, size_t *n_said);

/* cppath.c: Class-Path entries as the JVM reads them. */
/* dir(base) + "/" + rel, normalised lexically as java.net.URL does (".",
 * empty components and "x/.." go); -1 when a relative base's ".." climbs
 * above its root, or the result does not fit. */
int hpk_cp_join(const char *base, const char *rel, char *out, size_t n);
/* The shortest relative path from the directory of tree path `from` to `to`. */
void hpk_cp_relpath(const char *from, const char *to, char *out, size_t n);
/* A Class-Path token as a file path ("file:" dropped, %XX decoded); -1 for
 * another scheme (the JVM ignores those) or an empty path. */
int hpk_cp_entry_path(const char *tok, char *out, size_t n);

/* closure.c: follow the manifest Class-Path of every class path jar, then
 * of the distribution's other jars, recursively; pack what it names so that
 * each entry resolves inside the tree (docs/format.md 10.6). Sets
 * b->closure; may add to b->cp_paths. */
int hpk_closure(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_err *e);

/* lock.c */
int hpk_lock_write(const struct hpk_snapshot *s, const char *file, struct hpk_err *e);
int hpk_lock_check(const struct hpk_snapshot *s, const char *file, struct hpk_err *e);

/* ready.c: --train-ready SPEC */
struct hpk_ready {
    enum { READY_NONE, READY_TCP, READY_HTTP, READY_LOG } kind;
    int port;
    char host[256];
    char path[1024];
    char regex[1024];
};
int hpk_ready_parse(const char *spec, struct hpk_ready *out);
/* tcp: and http: kinds: 1 if the server answers (http: with 2xx or 3xx). */
int hpk_ready_probe(const struct hpk_ready *r);

/* trainrun.c: run DA0 in record mode until it has written cache_out
 * (--train-ready, --train-workload, --train-timeout); work is the private
 * directory it unpacks into; its output goes to log (NULL: OUT.train.log),
 * kept on failure. java_opts (NULL: none) is DA0's HPACK_JAVA_OPTS: a
 * variant's training options. On failure b->fail_detail has its last output. */
int hpk_train_run(struct hpk_build *b, const char *da0, const char *work, const char *cache_out, const char *java_opts,
                  const char *log, struct hpk_err *e);
/* The same run measured, for --tune: the DA1 ARTIFACT with its cache
 * required (HPACK_AOT=require), JAVA_OPTS (NULL: none) as its
 * HPACK_JAVA_OPTS, the same readiness and workload; *secs from its start
 * until the app is ready and the workload done (exited, and its output at
 * its end: what it started and still writes counts), or the app ended. */
int hpk_workload_time(struct hpk_build *b, const char *artifact, const char *work, const char *java_opts, const char *log,
                      double *secs, struct hpk_err *e);
/* DA1's check after training (--train-check full): the training run
 * again, on DA1 with its cache required and its class loading logged; it
 * passes if the run ends as a training run must (the --train-exit status,
 * or ready and the workload done) and its main class came from the cache.
 * The JVM can take a cache that changes how the app runs (JDK 25, JRuby
 * on --module-path: every run fails); verifying only the start misses
 * that. Its output goes to OUT.check.log, kept on failure. variant: NULL,
 * or "default" where DA1 has variants (HPACK_AOT_VARIANT: that cache, not
 * another that applies). Training's rules for the workload's end and its
 * polling, not a measured run's. */
int hpk_check_run(struct hpk_build *b, const char *da1, const char *variant, struct hpk_err *e);
/* OUT.check.log, the check run's log for output OUT (malloc'ed): one name
 * for the run that writes it and the build that removes a stale one. */
char *hpk_check_log(const char *output);

/* train.c */
/* DA0 is in p (sealed). Train (or take --with-cache), check inputs, emit DA1. */
int hpk_train_and_emit(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_payload_buf *p, struct hpk_err *e);
/* Its steps, for tune.c. Train the DA0 in p (written to WORK/da0, its size
 * in *da0_size if asked, run with WORK/unpack as its cache root, JAVA_OPTS
 * (NULL: none) as its HPACK_JAVA_OPTS): the cache goes to CACHE (and
 * CACHE.prov); the run's output to LOG (NULL: OUT.train.log), kept only on
 * failure. */
int hpk_train_payload(struct hpk_build *b, struct hpk_snapshot *s, const struct hpk_payload_buf *p, const char *work,
                      const char *cache, const char *java_opts, const char *log, size_t *da0_size, struct hpk_err *e);
/* Append CACHE (checked against s and p) to p, its provenance followed by
 * the records EXTRA (NUL-ended, EXTRA_LEN bytes; NULL for none); write the
 * artifact to a temporary name beside OUT, run it with the cache required
 * (hpk_verify_run) and rename it to OUT. The same writer as
 * hpk_train_and_emit's, with one cache. */
int hpk_da1_write(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_payload_buf *p, const char *cache,
                  const char *extra, size_t extra_len, const char *out, size_t *cache_size, struct hpk_err *e);

#endif
