/*
 * cachedir.c - where the launcher unpacks, and whether that place is safe.
 *
 * ${HPACK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hpack}, else (no usable
 * home) ${TMPDIR:-/tmp}/hpack-$UID. Like OpenSSH's StrictModes, the launcher
 * refuses a root or tree owned by someone else or writable by group/others:
 * whoever can write there can replace the code the app runs.
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hpk_fail(struct hpk_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
    return -1;
}

int hpk_dir_secure(int fd, const char *what, struct hpk_err *e)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: %s", what, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: not a directory", what);
    if (st.st_uid != geteuid())
        return hpk_fail(e, HPK_EXIT_CACHEDIR,
                        "%s: owned by uid %u, not by you (uid %u); refusing to use it", what,
                        (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & 022)
        return hpk_fail(e, HPK_EXIT_CACHEDIR,
                        "%s: writable by group or others (mode %03o); refusing to use it "
                        "(chmod go-w fixes it)",
                        what, (unsigned)(st.st_mode & 0777));
    return 0;
}

int hpk_mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
        buf[i] = c;
    }
    return 0;
}

static int try_root(struct hpk_root *r, const char *path, struct hpk_err *e)
{
    if (snprintf(r->path, sizeof r->path, "%s", path) >= (int)sizeof r->path)
        return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: cache directory path too long", path);
    /* Fast path: it exists. */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT || hpk_mkdirs(path) != 0)
            return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: cannot create cache directory: %s", path,
                            strerror(errno));
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: cannot open cache directory: %s", path,
                            strerror(errno));
    }
    if (hpk_dir_secure(fd, path, e) != 0) {
        close(fd);
        return -1;
    }
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
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, n, "%s/hpack-%u", absolute(tmp) ? tmp : "/tmp", (unsigned)geteuid());
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
    int explicit;
    int have = first_choice(buf, sizeof buf, &explicit);
    /* Asked for by name: no fallback, the user wants to know. */
    if (explicit) return try_root(r, getenv("HPACK_CACHE_DIR"), e);
    struct hpk_err first = {0};
    if (have) {
        if (try_root(r, buf, &first) == 0) {
            /* A root we can open but not write to (read-only home) is no use. */
            if (faccessat(r->fd, ".", W_OK, AT_EACCESS) == 0) return 0;
            snprintf(first.msg, sizeof first.msg, "%.700s: not writable", buf);
            close(r->fd);
            r->fd = -1;
        }
    } else {
        snprintf(first.msg, sizeof first.msg, "$HOME is not set");
    }
    fallback(buf, sizeof buf);
    if (debug) fprintf(stderr, "hpack: %s; falling back to %s\n", first.msg, buf);
    r->fallback = 1;
    return try_root(r, buf, e);
}
