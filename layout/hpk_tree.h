/*
 * hpk_tree.h - unpacked trees, shared by the launcher (which makes and uses
 * them), `hpack extract`, `hpack install`, `hpack diff` and the JVM command
 * line (layout/config.c): what every host's tree looks like so that a
 * startup cache trained on one host applies on the others (unpack.c), and
 * whether a directory may be trusted at all (dirsafe.c).
 *
 * Errors are returned in struct hpk_err, never printed: the caller that
 * knows the context (the launcher's main.c, a packer command) reports.
 */
#ifndef HPK_TREE_H
#define HPK_TREE_H

#include "hpk_artifact.h"

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* Every unpacked file gets this mtime (1980-01-01T00:00:00Z): class path
 * entries' mtimes are recorded in JVM startup caches, so they must be the
 * same on every host. */
#define HPK_FIXED_MTIME ((time_t)315532800)

/* The unpack root is kept open at this descriptor across execve, and the
 * class path is named through it (/proc/self/fd/250/app/x.jar): the same
 * string on every host, which OpenJDK 17's CDS requires. */
#define HPK_TREE_FD 250
#define HPK_TREE_FD_PATH "/proc/self/fd/250"

/* A complete launcher tree holds this file: the base hash and a newline,
 * then, until the tree's bytes are known to be on disk, the boot that wrote
 * it (marker.c). */
#define HPK_MARKER ".hpack-ok"

/* Exit statuses of the launcher itself, before it execs the JVM. Chosen high
 * so they rarely collide with an app's own; documented in docs/launcher.md. */
enum hpk_exit {
    HPK_EXIT_HOSTFIT = 120, /* the startup cache does not apply on this host (require, --hpack-check) */
    HPK_EXIT_PAYLOAD = 121, /* the artifact's payload is missing, truncated or corrupt */
    HPK_EXIT_CACHEDIR = 122, /* the cache directory is unusable or insecure */
    HPK_EXIT_UNPACK = 123,  /* unpacking failed (I/O error, disk full) */
    HPK_EXIT_TAMPER = 124,  /* the unpacked tree or the startup cache does not match */
    HPK_EXIT_USAGE = 125,   /* bad --hpack-* option or HPACK_* variable */
    HPK_EXIT_EXEC = 126,    /* the JVM could not be started */
};


struct hpk_err {
    int code;       /* the exit status: an enum hpk_exit value (launcher), HPK_ST_* (packer) */
    char msg[1024]; /* one line, no trailing newline */
};

int hpk_fail(struct hpk_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* dirsafe.c */
/* The directory for temporaries, one rule for every part of hpack: $TMPDIR
 * when it is an absolute path, else /tmp (a relative TMPDIR would follow
 * the working directory of whoever runs us). */
const char *hpk_tmpdir(void);
/* Check that an opened directory is ours and not writable by others. */
int hpk_dir_secure(int fd, const char *what, struct hpk_err *e);
/* Open the directory `path` (relative to the working directory if not
 * absolute) for reading, walking from "/" one component at a time without
 * following links except links owned by root or the user: every directory
 * on the way owned by root or the user and not writable by group or others
 * unless sticky (OpenSSH's secure_filename rule), the directory itself owned
 * by the user and not writable by group or others (HPK_DIR_WAY: held to
 * the rule of the directories on the way only). HPK_DIR_CREATE: make missing
 * directories 0700. Its real path goes to real[0..realn). On failure
 * *insecure tells a refusal about ownership or modes from other errors. */
enum { HPK_DIR_CREATE = 1, HPK_DIR_WAY = 2 };
int hpk_dir_open_secure(const char *path, int flags, char *real, size_t realn, int *insecure,
                        struct hpk_err *e);
/* The walk under hpk_dir_open_secure and the store's hpk_store_open: from
 * "/" one component at a time with O_NOFOLLOW descriptors, so what is
 * judged is what is opened; every directory on the way judged by `way`,
 * the directory itself by `last` (a check fills e and returns -1 to
 * refuse, which sets *insecure). Returns the directory's descriptor, its
 * real path in real[0..realn), or -1 with e set (e->code 0: a directory is
 * missing and missing_ok). */
typedef int (*hpk_walk_check)(const struct stat *st, const char *what, uid_t me, struct hpk_err *e);
struct hpk_walk_rule {
    hpk_walk_check way, last;
    int create;     /* make missing directories 0700 */
    int follow;     /* follow a link whose owner passes `way` (else a link is an error) */
    int missing_ok; /* a missing directory is no error */
    int o_path;     /* return the O_PATH descriptor (search only), not one opened for reading */
};
int hpk_dir_walk(const char *path, const struct hpk_walk_rule *r, char *real, size_t realn, int *insecure,
                 struct hpk_err *e);
/* A file the user is about to trust (a startup cache given to hpack build
 * --with-cache): below directories nobody else may rename (as above), a
 * regular file (not followed), owned by the user, not writable by group or
 * others. `what` names it in the message. */
int hpk_file_secure(const char *path, const char *what, struct hpk_err *e);

/* marker.c */
#define HPK_BOOT_ID_LEN 36           /* /proc/sys/kernel/random/boot_id: a UUID */
#define HPK_MARKER_SETTLED_SIZE 33   /* "<base hex>\n" */
#define HPK_MARKER_BOOT_SIZE 75      /* "<base hex>\nboot <boot id>\n" */
/* How a marker is written: settled (the tree's bytes are on disk already,
 * or are the bytes of an image layer), settled after syncing the tree's
 * file system, or naming this boot (a host without a boot id: synced). */
enum hpk_mark { HPK_MARK_NONE, HPK_MARK_SETTLED, HPK_MARK_SYNC, HPK_MARK_BOOT };
/* What a tree's marker (`st`: its fstatat, not followed) says: not a marker
 * of this tree, settled, written in this boot, or written in an earlier
 * boot (or on a host that shows no boot id now): then the tree must be
 * verified before it is used. Reads the marker and the boot id only when it
 * names a boot. */
enum hpk_marker_state { HPK_MARKER_BAD, HPK_MARKER_SETTLED, HPK_MARKER_THIS_BOOT, HPK_MARKER_EARLIER_BOOT };
enum hpk_marker_state hpk_marker_state(int tree, const char *hex, const struct stat *st);
/* The same after its own fstatat of the marker (not followed): what the
 * launcher's checks and --hpack-info ask. */
enum hpk_marker_state hpk_tree_marker(int tree, const char *hex);
/* Write the marker of the tree `tree` of base hash `hex` (32 hex digits),
 * replacing any (a temporary, then renamed: the caller holds the tree's
 * lock or owns a tree nobody uses yet). HPK_EXIT_UNPACK on failure. */
int hpk_marker_write(int tree, const char *hex, enum hpk_mark how, struct hpk_err *e);
/* This boot's id (test builds: HPACK_TEST_BOOT_ID), or -1. */
int hpk_boot_id(char id[HPK_BOOT_ID_LEN + 1]);
/* unpack.c (with filewriter.c and treedir.c: hpk_unpack.h) */
/* Whether `e` is one of the runtime's default CDS archives,
 * <home>/lib/<vm>/classes*.jsa (<home>: the directory above the bin/ of
 * `java`, the hpack/launch key), in a directory whose owner may add files.
 * A start that passes an AOT cache (cache kind "aot", JDK 24+) never opens
 * them: the cache replaces the default archive, and the JVM does not fall
 * back to it when the cache fails. They are a fifth of a jlinked runtime,
 * so the launcher leaves them out of a tree unpacked for such a start and
 * adds them (hpk_unpack_deferred) before any start that may read them.
 * 0 when `java` is NULL. */
int hpk_entry_deferrable(const struct hpk_artifact *a, const struct hpk_entry *e, const char *java);
/* Unpack every non-cache entry into a new directory `name` under `parent`
 * (which must not exist), verifying each entry; the directory appears only
 * complete (built as a temporary sibling, then renamed). `mark`: how to
 * write the .hpack-ok marker the launcher's warm path looks for
 * (HPK_MARK_NONE for an extraction: no marker). `defer`: NULL, or the `java` path: leave out the entries
 * hpk_entry_deferrable names.
 * `cache`: NULL, or the one cache file to write with the tree, the cache
 * directories too (a first start that passes it: the file is there when
 * the tree appears, written in the same parallel pass rather than added by
 * a second one), or &hpk_all_caches: every cache entry (an extraction, an
 * image's store tree). */
int hpk_unpack_tree(const struct hpk_artifact *a, int parent, const char *name, enum hpk_mark mark,
                    const char *defer, const struct hpk_entry *cache, struct hpk_err *e);
/* hpk_unpack_tree's `cache` for all of them: compared by address only. */
extern const struct hpk_entry hpk_all_caches;
/* Add to the unpacked tree `tree` the entries hpk_unpack_tree left out
 * (`java` as given to it) that are not there as unpacked, each written to
 * a temporary name, verified and renamed, its directory's time kept.
 * `durable`: their bytes synced to the disk before the first rename. */
int hpk_unpack_deferred(const struct hpk_artifact *a, int tree, const char *java, int durable, struct hpk_err *e);
/* Extract the whole payload, cache entries included, into the new directory
 * `dir` (no marker: not a launcher tree), which appears only complete.
 * Errors: HPK_EXIT_USAGE when `dir`
 * exists or its parent cannot be opened, else those of unpacking. */
int hpk_extract_dir(const struct hpk_artifact *a, const char *dir, struct hpk_err *e);
/* Add the cache entries of `a` missing from the unpacked tree `tree`, each
 * written to a temporary name and renamed. */
int hpk_unpack_cache(const struct hpk_artifact *a, int tree, struct hpk_err *e);
/* The same for one cache file (`cache`, an entry of a) and the cache
 * directories: what a start that uses that cache needs; `durable` as for
 * hpk_unpack_deferred. */
int hpk_unpack_cache_one(const struct hpk_artifact *a, int tree, const struct hpk_entry *cache, int durable,
                         struct hpk_err *e);
/* rmtree.c */
/* Remove a directory tree without following symlinks. */
int hpk_rm_rf(int parent, const char *name);
/* Remove stale temporaries `<prefix>.tmp.*` / `<prefix>.old.*` under parent. */
void hpk_clean_stale(int parent, const char *prefix);
/* Remove files named `<prefix><anything>.<suffix>` in dir (a killed start's cache temporaries). */
void hpk_clean_prefix(int dir, const char *prefix, const char *suffix);
/* verify.c */
/* Check every entry of the unpacked tree against the table: its type and
 * size, and a regular file's content (`how`): HPK_VERIFY_BYTES compares it
 * byte for byte with the decoded entry, whose stored and content hashes are
 * checked too (--hpack-verify, hpack verify, hpack install: what someone
 * changed on purpose); HPK_VERIFY_HASH compares its XXH3-128 with the
 * entry's content hash and decodes nothing (after a restart: what a crash
 * of the machine lost; several times faster). Cache entries may be absent
 * (unpacked only when used), and with `defer` (a `java` path, as given to
 * hpk_unpack_tree) the entries hpk_entry_deferrable names. */
enum { HPK_VERIFY_BYTES, HPK_VERIFY_HASH };
int hpk_verify_tree(const struct hpk_artifact *a, int tree, const char *defer, int how, struct hpk_err *e);
/* After a restart, with hpk_verify_tree (which checks only the entries of
 * `a`): the files in the tree's cache/ that `a` does not list (another DA1
 * of the same base hash added them) are each kept only if its content's
 * XXH3-128 is its name (<h>.aot, <h>.jsa), else removed, so that no start
 * passes a cache file a crash damaged (that DA1 adds it again when it
 * starts). Under the tree's lock. */
int hpk_verify_foreign_cache(const struct hpk_artifact *a, int tree, struct hpk_err *e);

#endif
