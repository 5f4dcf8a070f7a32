/*
 * dirsafe.c - whether a directory (or a file) is safe to trust: the rule the
 * launcher's cache root, the jlink cache and --with-cache share.
 *
 * Like OpenSSH's StrictModes, refuse a directory owned by someone else or
 * writable by group/others, and, like its secure_filename, one below a
 * directory that someone else could write: whoever can write there can
 * replace the code the app runs. A directory is reached one component at a
 * time from "/" with O_NOFOLLOW, so what is checked is what is opened, and a
 * planted link is followed only if its owner is root or the user.
 */
#define _GNU_SOURCE
#include "hpk_tree.h"

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

static int st_secure(const struct stat *st, const char *what, uid_t me, struct hpk_err *e)
{
    if (!S_ISDIR(st->st_mode)) return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: not a directory", what);
    if (st->st_uid != me)
        return hpk_fail(e, HPK_EXIT_CACHEDIR,
                        "%s: owned by uid %u, not by you (uid %u); refusing to use it", what,
                        (unsigned)st->st_uid, (unsigned)me);
    if (st->st_mode & 022)
        return hpk_fail(e, HPK_EXIT_CACHEDIR,
                        "%s: writable by group or others (mode %03o); refusing to use it "
                        "(chmod go-w fixes it)",
                        what, (unsigned)(st->st_mode & 0777));
    return 0;
}

int hpk_dir_secure(int fd, const char *what, struct hpk_err *e)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: %s", what, strerror(errno));
    return st_secure(&st, what, geteuid(), e);
}

/* A directory or link on the way to the cache root, OpenSSH's
 * secure_filename rule: owned by root or by us, and (a directory) not
 * writable by group or others unless sticky: in a sticky directory such as
 * /tmp others may add names but cannot rename or remove ours. Anyone who
 * could rename a directory on the way could swap the tree the JVM reads
 * lazily by path (java.home) after every check. */
static int way_secure(const struct stat *st, const char *what, uid_t me, struct hpk_err *e)
{
    if (st->st_uid != 0 && st->st_uid != me)
        return hpk_fail(e, HPK_EXIT_CACHEDIR,
                        "%s: owned by uid %u (neither root nor you, uid %u): another user could swap the "
                        "cache directory below it; refusing to use it",
                        what, (unsigned)st->st_uid, (unsigned)me);
    if (S_ISDIR(st->st_mode) && (st->st_mode & 022) && !(st->st_mode & S_ISVTX))
        return hpk_fail(e, HPK_EXIT_CACHEDIR,
                        "%s: writable by group or others and not sticky (mode %03o): another user could "
                        "swap the cache directory below it; refusing to use it",
                        what, (unsigned)(st->st_mode & 0777));
    return 0;
}

/* Does `s` hold any component other than "" and "."? */
static int more_components(const char *s)
{
    for (; *s; s++)
        if (*s != '/' && !(*s == '.' && (s[1] == '/' || s[1] == 0))) return 1;
    return 0;
}

int hpk_dir_open_secure(const char *path, int flags, char *real, size_t realn, int *insecure,
                        struct hpk_err *e)
{
    int create = flags & HPK_DIR_CREATE;
    char rest[8192], comp[256], what[4400];
    uid_t me = geteuid();
    struct stat st;
    int links = 0, fd = -1;
    size_t rn = 0;
    *insecure = 0;
    if (!*path) return hpk_fail(e, HPK_EXIT_CACHEDIR, "empty cache directory path");
    if (path[0] == '/') {
        if (snprintf(rest, sizeof rest, "%s", path) >= (int)sizeof rest) goto toolong;
    } else {
        char *cwd = getcwd(NULL, 0);
        if (!cwd) return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: cannot get the working directory: %s", path, strerror(errno));
        int over = snprintf(rest, sizeof rest, "%s/%s", cwd, path) >= (int)sizeof rest;
        free(cwd);
        if (over) goto toolong;
    }
    real[0] = 0;
    int restart = 1;
    for (char *p = rest;;) {
        if (restart) { /* (re)start at the root directory: the path, or an absolute link's target */
            restart = 0;
            if (fd >= 0) close(fd);
            fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
            rn = 0;
            real[0] = 0;
            if (fd < 0 || fstat(fd, &st) != 0) goto sys;
            *insecure = 1;
            if (way_secure(&st, "/", me, e) != 0) goto out;
            *insecure = 0;
        }
        while (*p == '/') p++;
        if (!*p) break;
        size_t n = strcspn(p, "/");
        if (n >= sizeof comp) {
            errno = ENAMETOOLONG;
            goto sys;
        }
        memcpy(comp, p, n);
        comp[n] = 0;
        p += n;
        if (!strcmp(comp, ".")) continue;
        snprintf(what, sizeof what, "%.*s/%s", (int)rn, real, comp);
        int nfd;
        if (!strcmp(comp, "..")) {
            nfd = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (nfd < 0) goto sys;
            while (rn > 0 && real[rn - 1] != '/') rn--;
            rn = rn ? rn - 1 : 0;
            real[rn] = 0;
            snprintf(what, sizeof what, "%s", rn ? real : "/");
        } else {
            nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (nfd < 0 && errno == ENOENT && create) {
                if (mkdirat(fd, comp, 0700) != 0 && errno != EEXIST) goto sys_what;
                nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            }
            if (nfd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
                /* A symbolic link is followed only if its owner may be trusted
                 * (its directory was checked: nobody else can replace it). */
                if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) != 0) goto sys_what;
                if (!S_ISLNK(st.st_mode)) {
                    hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: not a directory", what);
                    goto out;
                }
                *insecure = 1;
                if (way_secure(&st, what, me, e) != 0) goto out;
                *insecure = 0;
                char target[4096];
                ssize_t tl = readlinkat(fd, comp, target, sizeof target - 1);
                if (tl <= 0 || ++links > 40) {
                    if (tl > 0) errno = ELOOP;
                    goto sys_what;
                }
                target[tl] = 0;
                char spliced[sizeof rest];
                if (snprintf(spliced, sizeof spliced, "%s/%s", target, p) >= (int)sizeof spliced) goto toolong;
                memcpy(rest, spliced, strlen(spliced) + 1);
                p = rest;
                restart = rest[0] == '/';
                continue;
            }
            if (nfd < 0) goto sys_what;
            if (rn + 1 + n >= realn) {
                close(nfd);
                goto toolong;
            }
            real[rn++] = '/';
            memcpy(real + rn, comp, n + 1);
            rn += n;
        }
        close(fd);
        fd = nfd;
        if (fstat(fd, &st) != 0) goto sys_what;
        /* The last component is the root itself, checked more strictly below. */
        if (more_components(p)) {
            *insecure = 1;
            if (way_secure(&st, what, me, e) != 0) goto out;
            *insecure = 0;
        }
    }
    if (!real[0]) snprintf(real, realn, "/");
    *insecure = 1;
    if (flags & HPK_DIR_WAY ? way_secure(&st, real, me, e) != 0 : st_secure(&st, real, me, e) != 0) goto out;
    *insecure = 0;
    /* The walk used O_PATH descriptors (search permission is enough on
     * the way); the root itself is read (readdir of stale temporaries). */
    int rfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0) goto sys_what;
    close(fd);
    return rfd;
toolong:
    errno = ENAMETOOLONG;
sys:
    snprintf(what, sizeof what, "%s", path);
sys_what:
    hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: %s", what, strerror(errno));
out:
    if (fd >= 0) close(fd);
    return -1;
}

int hpk_file_secure(const char *path, const char *what, struct hpk_err *e)
{
    char dir[4096], real[4096];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    int insecure;
    int dfd = hpk_dir_open_secure(dir, HPK_DIR_WAY, real, sizeof real, &insecure, e);
    if (dfd < 0) return -1;
    struct stat st;
    int r = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW);
    int saved = errno;
    close(dfd);
    if (r != 0) return hpk_fail(e, HPK_EXIT_USAGE, "%s: %s", path, strerror(saved));
    if (!S_ISREG(st.st_mode)) return hpk_fail(e, HPK_EXIT_USAGE, "%s: not a regular file (links are not followed)", path);
    if (st.st_uid != geteuid())
        return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: %s owned by uid %u, not by you (uid %u); refusing to use it",
                        path, what, (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & 022)
        return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: %s writable by group or others (mode %03o); refusing to use it",
                        path, what, (unsigned)(st.st_mode & 0777));
    return 0;
}

const char *hpk_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && t[0] == '/' ? t : "/tmp";
}
