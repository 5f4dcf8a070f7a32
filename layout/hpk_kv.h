/*
 * hpk_kv.h - the key/value record format of hpack's small text entries
 * (hpack/launch, cache/<hash>.prov).
 *
 * A record is `key=value` followed by one NUL byte; keys are [a-z0-9._-]+;
 * values are any bytes but NUL (so arguments with spaces, quotes or newlines
 * survive unchanged). A key may repeat: order is meaningful (class path,
 * JVM options, arguments). See docs/format.md.
 */
#ifndef HPK_KV_H
#define HPK_KV_H

#include <stddef.h>

/* Iterate over records. *pos starts at 0. Returns 1 with key/value set
 * (value NUL-terminated inside buf), 0 at the end, -1 on a malformed record. */
int hpk_kv_next(const char *buf, size_t len, size_t *pos, const char **key, size_t *key_len,
                const char **value);

/* The value of the first record named `key`, or NULL (also when a record
 * before it is malformed). */
const char *hpk_kv_get(const char *buf, size_t len, const char *key);

/* The decoded launch configuration (hpack/launch). Pointers point into the
 * buffer given to hpk_launch_decode(); the arrays are malloc'ed. */
struct hpk_launch {
    const char *java;   /* path of the java binary, relative to the tree root */
    const char *main;   /* main class */
    const char *runtime_version;
    const char *cache_kind;       /* "aot", "cds" or NULL: the startup cache this runtime takes */
    const char *launcher_version; /* the hpack that wrote it (informational) */
    const char *heal;             /* "on": the launcher heals unless HPACK_HEAL=off (hpack build --heal); or NULL */
    const char **cp;    /* class path entries, relative to the tree root */
    const char **jvm;   /* JVM options */
    const char **arg;   /* application arguments, before the user's own */
    const char **env;   /* NAME=VALUE set for the JVM and what it runs (hpack build --env) */
    size_t n_cp, n_jvm, n_arg, n_env;
};

/* Decode; unknown keys are ignored (forward compatible). Returns 0, or -1 if
 * malformed or missing java/main/cp. `buf` must end with a NUL byte. */
int hpk_launch_decode(const char *buf, size_t len, struct hpk_launch *out);
void hpk_launch_free(struct hpk_launch *l);

/* A `cp` value the JVM takes as one element inside the tree: a valid path
 * without ':' (the JVM's separator: "app/my:app.jar" would be two elements,
 * the second relative to the working directory, where anyone who can write
 * there supplies the classes) and whose last component is not "*" (which
 * the java launcher expands into a directory's jars). */
int hpk_launch_cp_ok(const char *v);

/* An `env` value: NAME=VALUE, NAME a shell variable's name ([A-Za-z_]
 * [A-Za-z0-9_]*), none the launcher reads (HPACK_*) and none the JVM takes
 * options from (JAVA_TOOL_OPTIONS, _JAVA_OPTIONS, JDK_JAVA_OPTIONS: they
 * would change the options the startup cache was trained with; --jvm-opt
 * is for those), shorter than the 128 KiB the kernel passes in one
 * variable (MAX_ARG_STRLEN: longer, every start would fail). NULL if it
 * is one, else why not (for a message after the value). */
const char *hpk_launch_env_why(const char *v);
#define HPK_ENV_MAX (128u << 10)
static inline int hpk_launch_env_ok(const char *v) { return !hpk_launch_env_why(v); }

#endif
