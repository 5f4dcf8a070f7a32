/*
 * hpk_config.h - what an artifact means, read one way for both sides: its
 * launch configuration, the startup cache it carries, whether that cache may
 * be used (the cache-trust rule) and the JVM command line it starts.
 *
 * The launcher (on every start), `hpack inspect`/`verify` and `hpack build
 * --with-cache` all call these, so the rule that decides whether a cache is
 * trusted, and the command line that passes it, exist exactly once
 * (docs/format.md section 9.3, docs/architecture.md).
 */
#ifndef HPK_CONFIG_H
#define HPK_CONFIG_H

#include "hpk_artifact.h"
#include "hpk_kv.h"

#include <stddef.h>
#include <sys/stat.h>

/* The verdicts of the cache-trust rule (docs/format.md 9.3), in the order
 * they are checked. */
enum hpk_trust {
    HPK_TRUST_OK = 0,
    HPK_TRUST_NO_PROV,  /* no provenance, or a corrupt one */
    HPK_TRUST_BASE,     /* recorded by a payload with another base hash */
    HPK_TRUST_KIND,     /* not the kind of cache this runtime uses */
    HPK_TRUST_RUNTIME,  /* made by another Java runtime build */
    HPK_TRUST_LOCAL,    /* a host-local cache that is not the file the launcher published */
};

/* The rule: a cache whose provenance is `prov` (prov_len bytes, NUL-ended
 * records; NULL if there is none) applies to a payload of base hash
 * `base_hex` whose hpack/launch says `cache_kind` and `runtime_version`
 * only if the provenance names exactly those three. On a refusal `why`
 * (may be NULL) gets a clause such as "it was recorded for other inputs
 * (base X; this payload is base Y)". */
enum hpk_trust hpk_cache_trust(const char *prov, size_t prov_len, const char *base_hex, const char *cache_kind,
                               const char *runtime_version, char *why, size_t why_len);

/* A host-local cache (one the launcher made on this host by healing,
 * docs/launcher.md 9.3): the rule above, and the file must be exactly the
 * one the launcher published: its provenance records the file's identity
 * (`local.ino`, `local.size`, `local.ctime`: inode, size, and the change
 * time the kernel set when it was renamed into place), and `st` (the file as it is now, not followed) must match it and
 * be a regular file of `uid`'s that nobody else may write. Any write,
 * truncation, chmod or replacement changes the inode or the change time,
 * which no user can set back. HPK_TRUST_LOCAL on a mismatch. */
enum hpk_trust hpk_cache_trust_local(const char *prov, size_t prov_len, const char *base_hex, const char *cache_kind,
                                     const char *runtime_version, const struct stat *st, unsigned uid, char *why,
                                     size_t why_len);
/* The identity records hpk_cache_trust_local checks, for `st`: NUL-ended
 * records (docs/format.md 9.3) in a malloc'ed buffer, length in *len. */
char *hpk_cache_local_records(const struct stat *st, size_t *len);

/* At most this many carried caches are considered (the default and its
 * variants, docs/format.md 10.1); later ones are ignored. */
#define HPK_CACHES_MAX 16

struct hpk_config {
    char *conf; /* hpack/launch, verified; owned, NUL-ended */
    size_t conf_len;
    struct hpk_launch launch;      /* decoded from conf (cache_kind and launcher_version too) */
    char base_hex[33];             /* the payload's base hash */
    /* Every carried cache, in table order: the default first, then the
     * variants (docs/format.md 10.1). */
    const struct hpk_entry *caches[HPK_CACHES_MAX];
    size_t n_caches;
    /* The current cache (caches[cur]; hpk_config_select changes it) and what
     * its provenance says. The load selects the first. */
    size_t cur;
    const struct hpk_entry *cache; /* caches[cur], or NULL if the payload carries none */
    char *prov;                    /* its provenance, owned; NULL if missing or corrupt */
    size_t prov_len;
    const char *prov_base, *prov_kind, *prov_runtime; /* point into prov */
    const char *variant;           /* its `variant` (into prov), NULL for the default cache */
    const char **cache_opts;       /* its `variant.jvm` options (into prov), passed with it */
    size_t n_cache_opts;
    enum hpk_trust trust;          /* the rule's verdict when cache != NULL */
    char cache_why[320];           /* why the cache is not trusted */
};

/* Read hpack/launch, find the carried caches and read the first one's
 * provenance from an open (and mapped) artifact, and judge that cache.
 * Returns HPK_OK, or a layout error reading hpack/launch, or
 * HPK_E_TOC_RECORD when it is missing or malformed. A missing or corrupt
 * provenance is not an error: the cache is then not trusted
 * (HPK_TRUST_NO_PROV). Free with hpk_config_free() in every case. */
int hpk_config_load(const struct hpk_artifact *a, struct hpk_config *c);
/* Make caches[i] the current cache: read its provenance and judge it as
 * the load does for the first (in memory: the payload is mapped). Returns
 * HPK_OK, or HPK_E_NOMEM. */
int hpk_config_select(const struct hpk_artifact *a, struct hpk_config *c, size_t i);
void hpk_config_free(struct hpk_config *c);

/* The startup cache entries of a payload: its regular cache-role entries
 * whose path ends in .aot or .jsa, in table order, at most `max` of them
 * in `out`. Returns how many there are (all of them, even beyond `max`). */
size_t hpk_config_cache_entries(const struct hpk_payload *p, const struct hpk_entry **out, size_t max);
/* The first of them (the default cache), or NULL. */
const struct hpk_entry *hpk_config_cache_entry(const struct hpk_payload *p);
/* A cache's name for messages: "default" or the variant's name. */
const char *hpk_config_cache_name(const struct hpk_config *c);

/* ---- the JVM command line ---- */

/* How the command line is made: the same for a real start and for the line
 * `hpack inspect` and `--hpack-info` show. */
struct hpk_exec_spec {
    const char *tree;               /* the unpacked tree's path ("<root>/<base hash>") */
    int cache;                      /* 0: no cache; 1: pass it; 2: pass it and make the JVM require it */
    /* NULL, or the path of a host-local cache to pass instead of the
     * carried one (without a variant's options: it was recorded with the
     * options in force on this host). */
    const char *cache_file;
    const char *const *train;       /* NULL, or record-mode options used instead of the cache */
    const char *const *user_opts;   /* NULL, or the user's extra JVM options (HPACK_JAVA_OPTS) */
    /* NULL, or the words that follow `-cp CP` instead of the main class, the
     * artifact's args and the user's args (argc/argv are then unused): a JVM
     * run that starts no application, such as `-version` to ask the JVM about
     * the cache, or nothing at all for the AOT create step. */
    const char *const *after_cp;
    /* Variable expansion of jvm/arg values (${HPACK_APP}...): NULL passes them
     * as they are. Returns a malloc'ed string, or NULL (the build fails). */
    char *(*expand)(void *ctx, const char *value);
    void *expand_ctx;
    int argc;                       /* the user's arguments, appended last */
    char *const *argv;
};

/* Build the JVM's argv: java, the artifact's jvm options, the cache (or
 * training) options (with a variant's, its variant.jvm options after the
 * cache's), the user's options, -cp through the tree descriptor
 * (HPK_TREE_FD_PATH), main class, the artifact's args, the user's args
 * (or, instead of these three, the spec's after_cp words).
 * NULL-terminated; every string is owned by the vector. Returns NULL when
 * out of memory or when `expand` failed. */
char **hpk_exec_line(const struct hpk_config *c, const struct hpk_exec_spec *s);
void hpk_exec_line_free(char **v);

/* The class path string: "/proc/self/fd/250/<cp1>:/proc/self/fd/250/<cp2>..."
 * (malloc'ed; NULL when out of memory). */
char *hpk_exec_classpath(const struct hpk_launch *l);

#endif
