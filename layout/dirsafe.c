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
#include "hpk_layout.h"
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
    /* One line whatever a path in it holds (an entry's name, a file name
     * on the host): control bytes escaped as hpack inspect shows them. */
    char raw[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    hpk_layout_path_text(e->msg, sizeof e->msg, raw, strlen(raw));
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

/* ---- the walk from "/" (hpk_dir_walk) ---- */

struct walk {
    const struct hpk_walk_rule *r;
    const char *path; /* as given, for errors about the whole path */
    uid_t me;
    char rest[8192];  /* what is left to walk, a link's target spliced in */
    char *p;          /* into rest */
    char *real;       /* the way walked: absolute, no link, no "." or ".." */
    size_t realn, rn;
    char what[4400];  /* the directory or link at hand, for messages */
    int fd;           /* O_PATH descriptor of real */
    struct stat st;   /* of fd */
    int links;
    int *insecure;
    struct hpk_err *e;
};

static int walk_errno(struct walk *w, const char *what)
{
    return hpk_fail(w->e, HPK_EXIT_CACHEDIR, "%s: %s", what, strerror(errno));
}

/* A refusal by the rule (not an error) sets *insecure. */
static int walk_judge(struct walk *w, hpk_walk_check check, const struct stat *st, const char *what)
{
    if (check(st, what, w->me, w->e) == 0) return 0;
    *w->insecure = 1;
    return -1;
}

/* (Re)start at the root directory: the path, or an absolute link's target. */
static int walk_root(struct walk *w)
{
    if (w->fd >= 0) close(w->fd);
    w->fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    w->rn = 0;
    w->real[0] = 0;
    if (w->fd < 0 || fstat(w->fd, &w->st) != 0) return walk_errno(w, w->path);
    return walk_judge(w, w->r->way, &w->st, "/");
}

/* Component `comp` is a symbolic link: followed only if its owner may be
 * trusted (its directory was checked: nobody else can replace it), its
 * target spliced in front of what is left of the path. */
static int walk_link(struct walk *w, const char *comp)
{
    struct stat st;
    if (fstatat(w->fd, comp, &st, AT_SYMLINK_NOFOLLOW) != 0) return walk_errno(w, w->what);
    if (!S_ISLNK(st.st_mode)) return hpk_fail(w->e, HPK_EXIT_CACHEDIR, "%s: not a directory", w->what);
    if (walk_judge(w, w->r->way, &st, w->what) != 0) return -1;
    char target[4096];
    ssize_t tl = readlinkat(w->fd, comp, target, sizeof target - 1);
    if (tl <= 0 || ++w->links > 40) {
        if (tl > 0) errno = ELOOP;
        return walk_errno(w, w->what);
    }
    target[tl] = 0;
    char spliced[sizeof w->rest];
    if (snprintf(spliced, sizeof spliced, "%s/%s", target, w->p) >= (int)sizeof spliced) {
        errno = ENAMETOOLONG;
        return walk_errno(w, w->path);
    }
    memcpy(w->rest, spliced, strlen(spliced) + 1);
    w->p = w->rest;
    return w->rest[0] == '/' ? walk_root(w) : 0;
}

/* One more component: 1 when walked, 0 at the end of the path, -1 when the
 * walk stops (e set; e->code 0: a missing directory the rule allows). */
static int walk_step(struct walk *w)
{
    char comp[256];
    while (*w->p == '/') w->p++;
    if (!*w->p) return 0;
    size_t n = strcspn(w->p, "/");
    if (n >= sizeof comp) {
        errno = ENAMETOOLONG;
        return walk_errno(w, w->path);
    }
    memcpy(comp, w->p, n);
    comp[n] = 0;
    w->p += n;
    if (!strcmp(comp, ".")) return 1;
    snprintf(w->what, sizeof w->what, "%.*s/%s", (int)w->rn, w->real, comp);
    int nfd;
    if (!strcmp(comp, "..")) {
        nfd = openat(w->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (nfd < 0) return walk_errno(w, w->path);
        while (w->rn > 0 && w->real[w->rn - 1] != '/') w->rn--;
        w->rn = w->rn ? w->rn - 1 : 0;
        w->real[w->rn] = 0;
        snprintf(w->what, sizeof w->what, "%s", w->rn ? w->real : "/");
    } else {
        nfd = openat(w->fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0 && errno == ENOENT && w->r->create) {
            if (mkdirat(w->fd, comp, 0700) != 0 && errno != EEXIST) return walk_errno(w, w->what);
            nfd = openat(w->fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (nfd < 0 && errno == ENOENT && w->r->missing_ok) {
            w->e->code = 0;
            w->e->msg[0] = 0;
            return -1;
        }
        if (nfd < 0 && w->r->follow && (errno == ELOOP || errno == ENOTDIR))
            return walk_link(w, comp) == 0 ? 1 : -1;
        if (nfd < 0) return walk_errno(w, w->what);
        if (w->rn + 1 + n >= w->realn) {
            close(nfd);
            errno = ENAMETOOLONG;
            return walk_errno(w, w->path);
        }
        w->real[w->rn++] = '/';
        memcpy(w->real + w->rn, comp, n + 1);
        w->rn += n;
    }
    close(w->fd);
    w->fd = nfd;
    if (fstat(w->fd, &w->st) != 0) return walk_errno(w, w->what);
    /* The last component is the directory itself, judged by `last` at the end. */
    if (more_components(w->p) && walk_judge(w, w->r->way, &w->st, w->what) != 0) return -1;
    return 1;
}

int hpk_dir_walk(const char *path, const struct hpk_walk_rule *r, char *real, size_t realn, int *insecure,
                 struct hpk_err *e)
{
    struct walk w = {.r = r, .path = path, .me = geteuid(), .real = real, .realn = realn, .fd = -1,
                     .insecure = insecure, .e = e};
    *insecure = 0;
    if (!*path) return hpk_fail(e, HPK_EXIT_CACHEDIR, "empty cache directory path");
    int over;
    if (path[0] == '/') {
        over = snprintf(w.rest, sizeof w.rest, "%s", path) >= (int)sizeof w.rest;
    } else {
        char *cwd = getcwd(NULL, 0);
        if (!cwd) return hpk_fail(e, HPK_EXIT_CACHEDIR, "%s: cannot get the working directory: %s", path, strerror(errno));
        over = snprintf(w.rest, sizeof w.rest, "%s/%s", cwd, path) >= (int)sizeof w.rest;
        free(cwd);
    }
    if (over) {
        errno = ENAMETOOLONG;
        return walk_errno(&w, path);
    }
    w.p = w.rest;
    int s = walk_root(&w) == 0 ? 1 : -1;
    while (s > 0) s = walk_step(&w);
    if (s == 0) {
        if (!real[0]) snprintf(real, realn, "/");
        if (walk_judge(&w, r->last, &w.st, real) != 0) s = -1;
    }
    if (s == 0 && !r->o_path) {
        /* The walk used O_PATH descriptors (search permission is enough on
         * the way); the directory itself is read (readdir of stale
         * temporaries). */
        int rfd = openat(w.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0) {
            s = walk_errno(&w, w.what);
        } else {
            close(w.fd);
            w.fd = rfd;
        }
    }
    if (s == 0) return w.fd;
    if (w.fd >= 0) close(w.fd);
    return -1;
}

int hpk_dir_open_secure(const char *path, int flags, char *real, size_t realn, int *insecure,
                        struct hpk_err *e)
{
    struct hpk_walk_rule r = {.way = way_secure,
                              .last = flags & HPK_DIR_WAY ? way_secure : st_secure,
                              .create = !!(flags & HPK_DIR_CREATE),
                              .follow = 1};
    return hpk_dir_walk(path, &r, real, realn, insecure, e);
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
