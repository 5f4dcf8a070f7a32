/*
 * cachedir.c - where the launcher unpacks:
 * ${HPACK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hpack}, else (no usable
 * home) ${TMPDIR:-/tmp}/hpack-$UID. Whether the chosen place is safe is
 * layout/dirsafe.c's rule (hpk_dir_open_secure): an insecure root is an
 * error, never a reason to fall back to another one.
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Open `path` as the cache root (creating it and missing parents 0700).
 * *insecure: the failure is about who could write there, never a reason
 * to fall back to another root. */
static int try_root(struct hpk_root *r, const char *path, int *insecure, struct hpk_err *e)
{
    int fd = hpk_dir_open_secure(path, HPK_DIR_CREATE, r->path, sizeof r->path, insecure, e);
    if (fd < 0) return -1;
    r->fd = fd;
    return 0;
}

static int absolute(const char *s) { return s && s[0] == '/'; }

/* The first choice of root, in order: $HPACK_CACHE_DIR (*explicit = 1: no
 * fallback then), $XDG_CACHE_HOME/hpack, $HOME/.cache/hpack. Returns 0 when
 * none applies. */
static int first_choice(char *buf, size_t n, int *explicit)
{
    const char *dir = getenv("HPACK_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    *explicit = dir && *dir;
    if (*explicit) return snprintf(buf, n, "%s", dir) < (int)n;
    if (absolute(xdg)) return snprintf(buf, n, "%s/hpack", xdg) < (int)n;
    if (absolute(home)) return snprintf(buf, n, "%s/.cache/hpack", home) < (int)n;
    return 0;
}

/* Where a user without a usable home unpacks: ${TMPDIR:-/tmp}/hpack-$UID. */
static void fallback(char *buf, size_t n)
{
    snprintf(buf, n, "%s/hpack-%u", hpk_tmpdir(), (unsigned)geteuid());
}

void hpk_root_default(char *buf, size_t n)
{
    int explicit;
    if (!first_choice(buf, n, &explicit)) fallback(buf, n);
}

int hpk_root_open(struct hpk_root *r, int debug, struct hpk_err *e)
{
    char buf[4096];
    memset(r, 0, sizeof *r);
    r->fd = -1;
    int explicit, insecure;
    int have = first_choice(buf, sizeof buf, &explicit);
    /* Asked for by name: no fallback, the user wants to know. */
    if (explicit) return try_root(r, getenv("HPACK_CACHE_DIR"), &insecure, e);
    struct hpk_err first = {0};
    if (have) {
        if (try_root(r, buf, &insecure, &first) == 0) {
            /* A root we can open but not write to (read-only home) is no use. */
            if (faccessat(r->fd, ".", W_OK, AT_EACCESS) == 0) return 0;
            snprintf(first.msg, sizeof first.msg, "%.700s: not writable", r->path);
            close(r->fd);
            r->fd = -1;
        } else if (insecure) {
            /* Another user could write there: say so, never quietly unpack
             * elsewhere (the user would not learn that their home is open). */
            *e = first;
            return -1;
        }
    } else {
        snprintf(first.msg, sizeof first.msg, "$HOME is not set");
    }
    fallback(buf, sizeof buf);
    if (debug) fprintf(stderr, "hpack: %s; falling back to %s\n", first.msg, buf);
    r->fallback = 1;
    return try_root(r, buf, &insecure, e);
}

