/*
 * hpk_store.h - the system store: unpacked trees installed once per host
 * (`hpack install`) or baked into a container image (`hpack image`), shared
 * by every user and never written by the launcher.
 *
 * Layout: <store>/<base hash>/ is a tree exactly as the launcher unpacks it
 * into a user's cache root (with the .hpack-ok marker), cache entries
 * included. The launcher trusts one only if the tree and every directory
 * above it are owned by root or by the running user and writable by neither
 * group nor others (OpenSSH's StrictModes): whoever can write there could
 * replace the code every user runs.
 */
#ifndef HPK_STORE_H
#define HPK_STORE_H

#include "hpk_tree.h"

#include <stddef.h>

/* Where the store is unless HPACK_STORE says otherwise. /var/lib, not
 * /var/cache: trees there are installed state managed by hpack
 * install/uninstall, which an administrator's cache cleaning must not
 * remove from under running services. */
#define HPK_STORE_DEFAULT "/var/lib/hpack"

/* The store directory to look in: $HPACK_STORE when set and non-empty,
 * else HPK_STORE_DEFAULT; NULL when HPACK_STORE is set but empty (no
 * store). */
const char *hpk_store_path(void);

/* Open directory `path` read-only (O_PATH) after resolving it with
 * realpath(3), walking from "/" one component at a time without following
 * links, and checking each directory on the way, the last included: owned
 * by root or the effective user, not writable by group or others. The
 * resolved path goes to `real`. Returns the descriptor, or -1 with `e` set:
 * code 0 when the directory (or one above it) does not exist, else
 * HPK_EXIT_CACHEDIR naming the directory at fault. */
int hpk_store_open(const char *path, char *real, size_t n, struct hpk_err *e);

/* Whether an open directory passes the store rule (root or the effective
 * user, no group/other write). */
int hpk_store_dir_ok(int fd, const char *what, struct hpk_err *e);

/* Open the tree `hex` below the store descriptor `store` (from
 * hpk_store_open) read-only, and check it by the same rule. -1 with `e` as
 * for hpk_store_open. The caller still checks its marker and content. */
int hpk_store_tree(int store, const char *real, const char *hex, struct hpk_err *e);

#endif
