/*
 * unpack.c - write a payload's entries to disk, verified, atomically.
 *
 * Every file is created relative to a directory descriptor with O_NOFOLLOW
 * and O_EXCL, never through a string path, so a hostile table (already
 * refused by hpk_layout_parse) or a symlink planted in the tree cannot make
 * us write outside it. Content is hashed while it is written and the tree is
 * renamed into place only after every entry matched: a crash leaves only a
 * temporary directory, which the next start removes.
 *
 * Regular files are written by a pool of threads (write_files), one per CPU
 * the process may use: directories and links first, in table order, on the
 * calling thread; then every file, each split into pieces (a zstd frame, a
 * 2 MiB slice of a stored entry) so that one big file is decoded on every
 * core. Pieces are written where they belong with pwrite, in any order, and
 * hashed in order (XXH3-128 of the whole content); a file is finished
 * (mode, mtime, close) only once its hash matched.
 */
#define _GNU_SOURCE
#include "hpk_tree.h"

#include "hpk_cpus.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Test hook (tests/reliability): stop dead after writing this many bytes, to
 * simulate a crash at a chosen point of a first start. */
static long long kill_after = -1;
static atomic_llong written_total;

/* A cache of the directory last written into: entries come grouped by
 * directory, so this saves re-walking the path for almost every file. */
struct dircache {
    int root;
    int fd;
    char path[HPK_PATH_MAX + 1];
};

static void dc_reset(struct dircache *dc)
{
    if (dc->fd >= 0 && dc->fd != dc->root) close(dc->fd);
    dc->fd = -1;
    dc->path[0] = 0;
}

/* Open directory `path` (relative to the tree) by walking it component by
 * component without following symlinks. */
static int walk_dir(int root, const char *path, size_t len)
{
    int fd = dup(root);
    if (fd < 0) return -1;
    size_t i = 0;
    char comp[HPK_NAME_MAX + 1];
    while (i < len) {
        size_t j = i;
        while (j < len && path[j] != '/') j++;
        memcpy(comp, path + i, j - i);
        comp[j - i] = 0;
        int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        close(fd);
        if (nfd < 0) {
            errno = saved;
            return -1;
        }
        fd = nfd;
        i = j + 1;
    }
    return fd;
}

/* Split `path` into its parent (opened, through the cache) and base name. */
static int parent_of(struct dircache *dc, const char *path, size_t len, const char **base)
{
    size_t n = len;
    while (n > 0 && path[n - 1] != '/') n--;
    *base = path + n;
    size_t plen = n ? n - 1 : 0;
    if (dc->fd >= 0 && strlen(dc->path) == plen && memcmp(dc->path, path, plen) == 0) return dc->fd;
    dc_reset(dc);
    if (plen == 0) {
        dc->fd = dc->root;
        return dc->fd;
    }
    int fd = walk_dir(dc->root, path, plen);
    if (fd < 0) return -1;
    dc->fd = fd;
    memcpy(dc->path, path, plen);
    dc->path[plen] = 0;
    return fd;
}

/* Write all of buf at `off` (or at the file position when off < 0). */
static int write_all(int fd, const uint8_t *buf, size_t len, long long off)
{
    while (len) {
        size_t n = len;
        if (kill_after >= 0) {
            long long before = atomic_fetch_add(&written_total, (long long)n);
            if (before + (long long)n > kill_after) {
                n = before < kill_after ? (size_t)(kill_after - before) : 0;
                if (n) {
                    ssize_t r = off < 0 ? write(fd, buf, n) : pwrite(fd, buf, n, (off_t)off);
                    (void)r;
                }
                raise(SIGKILL);
            }
        }
        ssize_t r = off < 0 ? write(fd, buf, n) : pwrite(fd, buf, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) {
            errno = EIO;
            return -1;
        }
        if (kill_after >= 0) atomic_fetch_sub(&written_total, (long long)(n - (size_t)r));
        buf += r;
        len -= (size_t)r;
        if (off >= 0) off += r;
    }
    return 0;
}

struct wsink {
    int fd;
};

static int write_sink(void *ctx, const uint8_t *buf, size_t len)
{
    return write_all(((struct wsink *)ctx)->fd, buf, len, -1);
}

static const struct timespec fixed_times[2] = {{HPK_FIXED_MTIME, 0}, {HPK_FIXED_MTIME, 0}};

#define PATHFMT "%.*s"
#define PATHARG(e) (int)(e)->path_len, (e)->path

/* ---- the parallel file writer ---- */

/* One regular file to write. `tmp`: create it as .tmp.<pid>.<name> (cache
 * entries, renamed by the caller once all are written). */
struct fjob {
    const struct hpk_entry *e;
    int tmp;
    enum { J_NEW, J_PREP, J_READY, J_DONE } state;
    struct hpk_piece *pc;
    uint32_t n, next_claim, next_hash;
    int fd;
    int hashing;             /* a thread is hashing this file's pieces (outside the lock) */
    XXH3_state_t *hs;        /* files of more than one piece */
    const uint8_t **ready;   /* [window]: piece outputs written, waiting for their turn */
    uint8_t **rbuf;          /* [window]: the buffer each one lives in (NULL: the mapping) */
};

struct engine {
    const struct hpk_artifact *a;
    struct fjob *jobs;
    size_t n, scan;
    uint32_t window;   /* pieces of one file decoded ahead of its hash */
    int inflight;      /* claims being worked on */
    atomic_int no_cfr; /* copy_file_range refused: write stored pieces with pwrite */
    int failed;
    struct hpk_err *err;
    uint8_t **free_bufs; /* HPK_ZSTD_FRAME buffers to reuse */
    size_t nfree, capfree;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* Record the first failure; the other threads stop claiming. Under mu. */
static void eng_fail(struct engine *g, int code, const struct hpk_entry *e, const char *what, const char *why)
{
    if (!g->failed)
        hpk_fail(g->err, code, "%s" PATHFMT "%s%s", what, PATHARG(e), why ? ": " : "", why ? why : "");
    g->failed = 1;
    pthread_cond_broadcast(&g->cv);
}

static uint8_t *buf_get(struct engine *g)
{
    pthread_mutex_lock(&g->mu);
    uint8_t *b = g->nfree ? g->free_bufs[--g->nfree] : NULL;
    pthread_mutex_unlock(&g->mu);
    return b ? b : malloc(HPK_ZSTD_FRAME);
}

/* Under mu. */
static void buf_put(struct engine *g, uint8_t *b)
{
    if (!b) return;
    if (g->nfree == g->capfree) {
        size_t cap = g->capfree ? 2 * g->capfree : 16;
        uint8_t **nb = realloc(g->free_bufs, cap * sizeof *nb);
        if (!nb) {
            free(b);
            return;
        }
        g->free_bufs = nb;
        g->capfree = cap;
    }
    g->free_bufs[g->nfree++] = b;
}

enum { C_NONE, C_PREP, C_PIECE };

/* Take the next piece of work, in table order as far as possible. Under mu. */
static int claim(struct engine *g, size_t *job, uint32_t *piece)
{
    for (;;) {
        if (g->failed) return C_NONE;
        while (g->scan < g->n && (g->jobs[g->scan].state == J_DONE ||
                                  (g->jobs[g->scan].state == J_READY && g->jobs[g->scan].next_claim == g->jobs[g->scan].n)))
            g->scan++;
        for (size_t i = g->scan; i < g->n; i++) {
            struct fjob *j = &g->jobs[i];
            if (j->state == J_NEW) {
                j->state = J_PREP;
                g->inflight++;
                *job = i;
                return C_PREP;
            }
            if (j->state == J_READY && j->next_claim < j->n && j->next_claim < j->next_hash + g->window) {
                *job = i;
                *piece = j->next_claim++;
                g->inflight++;
                return C_PIECE;
            }
        }
        if (g->inflight == 0) return C_NONE;
        pthread_cond_wait(&g->cv, &g->mu);
    }
}

/* Mode, mtime, close: the file's content matched. */
static int finish_file(struct fjob *j)
{
    int r = fchmod(j->fd, j->e->mode & 0777) != 0 || futimens(j->fd, fixed_times) != 0 ? -1 : 0;
    int saved = errno;
    if (close(j->fd) != 0 && r == 0) saved = errno, r = -1;
    j->fd = -1;
    errno = saved;
    return r;
}

/* Create the file and find its pieces (checking its stored bytes). */
static void prep(struct engine *g, struct dircache *dc, size_t i)
{
    struct fjob *j = &g->jobs[i];
    const struct hpk_entry *e = j->e;
    const char *base;
    char name[HPK_NAME_MAX + 64];
    int dir = parent_of(dc, e->path, e->path_len, &base);
    int blen = (int)(e->path_len - (size_t)(base - e->path));
    if (j->tmp) snprintf(name, sizeof name, ".tmp.%ld.%.*s", (long)getpid(), blen, base);
    else snprintf(name, sizeof name, "%.*s", blen, base);
    int fd = dir < 0 ? -1 : openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int saved = errno;
    struct hpk_piece *pc = NULL;
    uint32_t n = 0;
    int r = fd < 0 ? HPK_OK : hpk_entry_pieces(g->a, e, &pc, &n);
    XXH3_state_t *hs = NULL;
    const uint8_t **ready = NULL;
    uint8_t **rbuf = NULL;
    if (fd >= 0 && r == HPK_OK && n > 1 && e->codec != HPK_CODEC_ZLIB) {
        hs = XXH3_createState();
        ready = calloc(g->window, sizeof *ready);
        rbuf = calloc(g->window, sizeof *rbuf);
        if (!hs || !ready || !rbuf) r = HPK_E_NOMEM;
        else XXH3_128bits_reset(hs);
    }
    pthread_mutex_lock(&g->mu);
    j->fd = fd;
    j->pc = pc;
    j->n = n;
    j->hs = hs;
    j->ready = ready;
    j->rbuf = rbuf;
    j->state = J_READY;
    if (dir < 0) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot open directory of ", strerror(saved));
    else if (fd < 0) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot create ", strerror(saved));
    else if (r == HPK_E_NOMEM) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot unpack ", "out of memory");
    else if (r != HPK_OK) eng_fail(g, HPK_EXIT_PAYLOAD, e, "corrupt payload: entry ", hpk_layout_strerror(r));
    else if (n == 0) { /* an empty file */
        j->state = J_DONE;
        if (finish_file(j) != 0) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot finish ", strerror(errno));
    }
    g->inflight--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* A whole zlib entry, decoded and written in order by one thread. */
static void zlib_piece(struct engine *g, struct fjob *j)
{
    struct wsink w = {j->fd};
    int r = hpk_entry_decode(g->a, j->e, write_sink, &w);
    int saved = errno;
    pthread_mutex_lock(&g->mu);
    if (r == HPK_E_SINK) eng_fail(g, HPK_EXIT_UNPACK, j->e, "cannot write ", strerror(saved));
    else if (r != HPK_OK) eng_fail(g, HPK_EXIT_PAYLOAD, j->e, "corrupt payload: entry ", hpk_layout_strerror(r));
    else {
        j->next_hash = 1;
        j->state = J_DONE;
        if (finish_file(j) != 0) eng_fail(g, HPK_EXIT_UNPACK, j->e, "cannot finish ", strerror(errno));
    }
    g->inflight--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int hash_ok(XXH128_hash_t h, const struct hpk_entry *e)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    return memcmp(c.digest, e->hash, 16) == 0;
}

/* A stored piece: copy_file_range from the artifact, in the kernel (a
 * reflink where the file system can), instead of write() from the mapping:
 * measured 0.66 of the time for a payload of stored entries (docs/results.md).
 * The hash is still taken over the mapping, which shows the same page cache
 * pages. Where the call is refused (another file system, no support), fall
 * back to pwrite for this and every later piece. Returns 0 or an errno. */
static int copy_piece(struct engine *g, const struct hpk_entry *e, const struct hpk_piece *p, int fd)
{
    loff_t in = (loff_t)(g->a->sec_off + e->offset + p->in_off), out = (loff_t)p->out_off;
    size_t left = (size_t)p->out_len;
    while (left) {
        ssize_t c = copy_file_range(g->a->fd, &in, fd, &out, left, 0);
        if (c < 0 && errno == EINTR) continue;
        if (c <= 0) {
            if (c == 0 || errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP ||
                errno == EBADF || errno == EPERM) {
                atomic_store(&g->no_cfr, 1);
                const uint8_t *src = g->a->map + g->a->map_skew + e->offset + p->in_off + (p->out_len - left);
                return write_all(fd, src, left, (long long)out) != 0 ? errno : 0;
            }
            return errno;
        }
        left -= (size_t)c;
    }
    return 0;
}

/* Decode piece k of job i, write it in place, then hash what is next in
 * line. Pieces hashed by one thread at a time per file, outside the lock. */
static void do_piece(struct engine *g, void *dctx, size_t i, uint32_t k)
{
    struct fjob *j = &g->jobs[i];
    const struct hpk_entry *e = j->e;
    if (e->codec == HPK_CODEC_ZLIB) return zlib_piece(g, j);
    const struct hpk_piece *p = &j->pc[k];
    uint8_t *buf = e->codec == HPK_CODEC_ZSTD ? buf_get(g) : NULL;
    const uint8_t *out = NULL;
    int r = e->codec == HPK_CODEC_ZSTD && !buf ? HPK_E_NOMEM : hpk_piece_decode(g->a, e, p, dctx, buf, &out);
    int werr = 0;
    if (r == HPK_OK && e->codec == HPK_CODEC_STORED && kill_after < 0 && !atomic_load(&g->no_cfr))
        werr = copy_piece(g, e, p, j->fd);
    else if (r == HPK_OK && write_all(j->fd, out, (size_t)p->out_len, (long long)p->out_off) != 0)
        werr = errno;
    if (r == HPK_OK && !werr && j->n == 1) {
        /* One piece: hash it here, no ordering to wait for. */
        int ok = hash_ok(XXH3_128bits(out, (size_t)p->out_len), e);
        pthread_mutex_lock(&g->mu);
        buf_put(g, buf);
        j->next_hash = 1;
        j->state = J_DONE;
        if (!ok) eng_fail(g, HPK_EXIT_PAYLOAD, e, "corrupt payload: entry ", hpk_layout_strerror(HPK_E_DATA_HASH));
        else if (finish_file(j) != 0) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot finish ", strerror(errno));
        g->inflight--;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        return;
    }
    pthread_mutex_lock(&g->mu);
    if (r != HPK_OK || werr) {
        buf_put(g, buf);
        if (werr) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot write ", strerror(werr));
        else if (r == HPK_E_NOMEM) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot unpack ", "out of memory");
        else eng_fail(g, HPK_EXIT_PAYLOAD, e, "corrupt payload: entry ", hpk_layout_strerror(r));
        g->inflight--;
        pthread_mutex_unlock(&g->mu);
        return;
    }
    j->ready[k % g->window] = out;
    j->rbuf[k % g->window] = buf;
    /* Whoever finds the next piece in line ready hashes it, and the ones
     * after it, with the lock released; others leave theirs waiting. */
    while (!j->hashing && !g->failed && j->next_hash < j->n && j->ready[j->next_hash % g->window]) {
        uint32_t h = j->next_hash;
        const uint8_t *hp = j->ready[h % g->window];
        uint8_t *hb = j->rbuf[h % g->window];
        j->hashing = 1;
        pthread_mutex_unlock(&g->mu);
        XXH3_128bits_update(j->hs, hp, (size_t)j->pc[h].out_len);
        pthread_mutex_lock(&g->mu);
        j->hashing = 0;
        j->ready[h % g->window] = NULL;
        j->rbuf[h % g->window] = NULL;
        buf_put(g, hb);
        j->next_hash = h + 1;
        if (j->next_hash == j->n) {
            j->state = J_DONE;
            if (!hash_ok(XXH3_128bits_digest(j->hs), e))
                eng_fail(g, HPK_EXIT_PAYLOAD, e, "corrupt payload: entry ", hpk_layout_strerror(HPK_E_DATA_HASH));
            else if (finish_file(j) != 0)
                eng_fail(g, HPK_EXIT_UNPACK, e, "cannot finish ", strerror(errno));
        }
    }
    g->inflight--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

struct worker_arg {
    struct engine *g;
    int root;
};

static void *worker(void *arg)
{
    struct worker_arg *w = arg;
    struct engine *g = w->g;
    struct dircache dc = {.root = w->root, .fd = -1};
    void *dctx = hpk_dctx_new();
    pthread_mutex_lock(&g->mu);
    if (!dctx && !g->failed) {
        hpk_fail(g->err, HPK_EXIT_UNPACK, "cannot unpack: out of memory");
        g->failed = 1;
        pthread_cond_broadcast(&g->cv);
    }
    for (;;) {
        size_t i;
        uint32_t k = 0;
        int c = claim(g, &i, &k);
        if (c == C_NONE) break;
        pthread_mutex_unlock(&g->mu);
        if (c == C_PREP) prep(g, &dc, i);
        else do_piece(g, dctx, i, k);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    hpk_dctx_free(dctx);
    dc_reset(&dc);
    return NULL;
}

/* Write the files `jobs` under the tree `root` on up to hpk_cpus() threads.
 * On failure, files may be left behind: the caller removes its temporaries. */
static int write_files(const struct hpk_artifact *a, int root, struct fjob *jobs, size_t n, struct hpk_err *err)
{
    if (n == 0) return 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        jobs[i].fd = -1;
        bytes += jobs[i].e->size;
    }
    /* Threads only for work worth their start (about 50 us each). */
    int nt = bytes < 2 * HPK_ZSTD_FRAME ? 1 : hpk_cpus();
    /* Pieces of one file decoded ahead of its hash: enough to keep every
     * thread busy on one big file, bounded (at most 32 x 2 MiB waiting). */
    uint32_t window = (uint32_t)(2 * nt + 2) < 32 ? (uint32_t)(2 * nt + 2) : 32;
    struct engine g = {.a = a, .jobs = jobs, .n = n, .window = window, .err = err};
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    struct worker_arg w = {&g, root};
    pthread_t th[HPK_MAX_THREADS];
    int started = 0;
    for (int t = 1; t < nt; t++)
        if (pthread_create(&th[started], NULL, worker, &w) == 0) started++;
    worker(&w);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    for (size_t i = 0; i < n; i++) {
        struct fjob *j = &jobs[i];
        if (j->fd >= 0) close(j->fd);
        if (j->rbuf)
            for (uint32_t k = 0; k < g.window; k++) free(j->rbuf[k]);
        free(j->pc);
        free(j->ready);
        free(j->rbuf);
        if (j->hs) XXH3_freeState(j->hs);
    }
    for (size_t i = 0; i < g.nfree; i++) free(g.free_bufs[i]);
    free(g.free_bufs);
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
    return g.failed ? -1 : 0;
}

struct joblist {
    struct fjob *v;
    size_t n, cap;
};

static int job_add(struct joblist *l, const struct hpk_entry *e, int tmp)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        struct fjob *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = cap;
    }
    memset(&l->v[l->n], 0, sizeof *l->v);
    l->v[l->n].e = e;
    l->v[l->n].tmp = tmp;
    l->n++;
    return 0;
}

/* Directories and links now; regular files go to `files` (write_files). */
static int write_entry(const struct hpk_artifact *a, const struct hpk_entry *e, struct dircache *dc,
                       struct joblist *files, struct hpk_err *err)
{
    if (S_ISREG(e->mode)) {
        if (job_add(files, e, 0) != 0) return hpk_fail(err, HPK_EXIT_UNPACK, "cannot unpack: out of memory");
        return 0;
    }
    const char *base;
    char name[HPK_NAME_MAX + 1];
    int dir = parent_of(dc, e->path, e->path_len, &base);
    if (dir < 0)
        return hpk_fail(err, HPK_EXIT_UNPACK, "cannot open directory of " PATHFMT ": %s",
                        PATHARG(e), strerror(errno));
    size_t blen = e->path_len - (size_t)(base - e->path);
    memcpy(name, base, blen);
    name[blen] = 0;
    switch (e->mode & S_IFMT) {
    case S_IFDIR:
        /* Owner-writable while we fill it; final mode set at the end. */
        if (mkdirat(dir, name, 0700) != 0)
            return hpk_fail(err, HPK_EXIT_UNPACK, "cannot create directory " PATHFMT ": %s",
                            PATHARG(e), strerror(errno));
        return 0;
    case S_IFLNK: {
        char *t;
        size_t tlen;
        int r = hpk_entry_slurp(a, e, &t, &tlen);
        if (r != HPK_OK)
            return hpk_fail(err, HPK_EXIT_PAYLOAD, "corrupt payload: entry " PATHFMT ": %s",
                            PATHARG(e), hpk_layout_strerror(r));
        if (hpk_entry_link_check(a, e, t, tlen) != HPK_LINK_OK) {
            free(t);
            return hpk_fail(err, HPK_EXIT_PAYLOAD,
                            "corrupt payload: symlink " PATHFMT " points outside the tree",
                            PATHARG(e));
        }
        r = symlinkat(t, dir, name);
        free(t);
        if (r != 0 || utimensat(dir, name, fixed_times, AT_SYMLINK_NOFOLLOW) != 0)
            return hpk_fail(err, HPK_EXIT_UNPACK, "cannot create symlink " PATHFMT ": %s",
                            PATHARG(e), strerror(errno));
        return 0;
    }
    default:
        return hpk_fail(err, HPK_EXIT_PAYLOAD, "corrupt payload: entry " PATHFMT ": %s", PATHARG(e),
                        hpk_layout_strerror(HPK_E_MODE));
    }
}

/* Give directories their recorded modes and the fixed mtime, deepest first
 * (so a read-only directory is finished after its children). */
static int finish_dirs(const struct hpk_artifact *a, struct dircache *dc, int cache_role,
                       struct hpk_err *err)
{
    for (uint32_t i = a->p.count; i-- > 0;) {
        const struct hpk_entry *e = &a->p.entries[i];
        if (!S_ISDIR(e->mode) || (e->role == HPK_ROLE_CACHE) != cache_role) continue;
        const char *base;
        char name[HPK_NAME_MAX + 1];
        int dir = parent_of(dc, e->path, e->path_len, &base);
        size_t blen = e->path_len - (size_t)(base - e->path);
        memcpy(name, base, blen);
        name[blen] = 0;
        if (dir < 0 || fchmodat(dir, name, e->mode & 0777, 0) != 0 ||
            utimensat(dir, name, fixed_times, AT_SYMLINK_NOFOLLOW) != 0)
            return hpk_fail(err, HPK_EXIT_UNPACK, "cannot finish directory " PATHFMT ": %s",
                            PATHARG(e), strerror(errno));
    }
    return 0;
}

/* Test builds only (make's hpack-test, -DHPK_TEST_HOOKS): the launcher
 * shipped in artifacts reads no test variable. */
static void load_hooks(void)
{
#ifdef HPK_TEST_HOOKS
    const char *k = getenv("HPACK_TEST_KILL_AFTER_BYTES");
    if (k && *k) kill_after = atoll(k);
#endif
}

int hpk_unpack_tree(const struct hpk_artifact *a, int parent, const char *name, int marker, struct hpk_err *err)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", name, (long)getpid());
    load_hooks();
    /* Unpacking may hit RLIMIT_FSIZE: get EFBIG instead of dying of SIGXFSZ.
     * main.c restores the default before exec. */
    signal(SIGXFSZ, SIG_IGN);
    if (mkdirat(parent, tmp, 0700) != 0)
        return hpk_fail(err, HPK_EXIT_UNPACK, "cannot create %s: %s", tmp, strerror(errno));
    int root = openat(parent, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0) {
        hpk_fail(err, HPK_EXIT_UNPACK, "cannot open %s: %s", tmp, strerror(errno));
        hpk_rm_rf(parent, tmp);
        return -1;
    }
    struct dircache dc = {.root = root, .fd = -1};
    struct joblist files = {0};
    int r = 0;
    for (uint32_t i = 0; i < a->p.count && r == 0; i++)
        if (a->p.entries[i].role != HPK_ROLE_CACHE) r = write_entry(a, &a->p.entries[i], &dc, &files, err);
    if (r == 0) r = write_files(a, root, files.v, files.n, err);
    free(files.v);
    if (r == 0) r = finish_dirs(a, &dc, 0, err);
    dc_reset(&dc);
    if (r == 0 && marker) {
        char hex[33];
        hpk_hash_hex(a->p.footer.base_hash, hex);
        int fd = openat(root, HPK_MARKER, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        hex[32] = '\n';
        /* fchmod: 0644 whatever the umask (a store tree is read by every user, and an image's bytes must not depend on it). */
        if (fd < 0 || write(fd, hex, 33) != 33 || fchmod(fd, 0644) != 0 || futimens(fd, fixed_times) != 0 || close(fd) != 0)
            r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot write %s: %s", HPK_MARKER, strerror(errno));
    }
    if (r == 0 && (fchmod(root, 0755) != 0 || renameat(parent, tmp, parent, name) != 0))
        r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot move %s into place: %s", tmp, strerror(errno));
    close(root);
    if (r != 0) hpk_rm_rf(parent, tmp);
    return r;
}

int hpk_extract_dir(const struct hpk_artifact *a, const char *dir, struct hpk_err *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return hpk_fail(err, HPK_EXIT_USAGE, "%s: path too long", dir);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = 0;
    char *slash = strrchr(buf, '/');
    const char *parent = ".", *name = buf;
    if (slash) {
        *slash = 0;
        parent = slash == buf ? "/" : buf;
        name = slash + 1;
    }
    if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
        return hpk_fail(err, HPK_EXIT_USAGE, "%s: give a new directory name", dir);
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) return hpk_fail(err, HPK_EXIT_USAGE, "cannot open the parent of %s: %s", dir, strerror(errno));
    int r = -1;
    if (faccessat(pfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        hpk_fail(err, HPK_EXIT_USAGE, "%s: already exists", dir);
    } else if (hpk_unpack_tree(a, pfd, name, 0, err) == 0) {
        int tree = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tree < 0) hpk_fail(err, HPK_EXIT_UNPACK, "%s: %s", dir, strerror(errno));
        else r = hpk_unpack_cache(a, tree, err);
        if (tree >= 0) close(tree);
    }
    close(pfd);
    return r;
}

/* The temporary name of a cache entry (its base name in `name`). */
static void cache_tmp(char *tmp, size_t n, const char *name)
{
    snprintf(tmp, n, ".tmp.%ld.%s", (long)getpid(), name);
}

/* only: NULL for every cache entry, else the cache directories and that
 * one file (a DA1 with variants carries several caches; a start needs one). */
static int unpack_cache(const struct hpk_artifact *a, int tree, const struct hpk_entry *only, struct hpk_err *err)
{
    struct dircache dc = {.root = tree, .fd = -1};
    struct joblist files = {0};
    int r = 0;
    load_hooks();
    signal(SIGXFSZ, SIG_IGN);
    for (uint32_t i = 0; i < a->p.count && r == 0; i++) {
        const struct hpk_entry *e = &a->p.entries[i];
        if (e->role != HPK_ROLE_CACHE) continue;
        if (only && e != only && !S_ISDIR(e->mode)) continue;
        const char *base;
        char name[HPK_NAME_MAX + 1], tmp[HPK_NAME_MAX + 64];
        int dir = parent_of(&dc, e->path, e->path_len, &base);
        size_t blen = e->path_len - (size_t)(base - e->path);
        memcpy(name, base, blen);
        name[blen] = 0;
        if (dir < 0) {
            r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot open directory of " PATHFMT ": %s",
                         PATHARG(e), strerror(errno));
            break;
        }
        struct stat st;
        if (S_ISDIR(e->mode)) {
            if (mkdirat(dir, name, 0755) != 0 && errno != EEXIST)
                r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot create directory " PATHFMT ": %s",
                             PATHARG(e), strerror(errno));
            else if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
                r = hpk_fail(err, HPK_EXIT_TAMPER, PATHFMT " in the unpacked tree is not a directory",
                             PATHARG(e));
            continue;
        }
        /* A temporary of a killed start (we hold the lock: it is stale). */
        hpk_clean_prefix(dir, ".tmp.", name);
        /* Cache file names carry their content hash: an existing file of the
         * right size and mtime is this very entry. */
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            (uint64_t)st.st_size == e->size && st.st_mtime == HPK_FIXED_MTIME && st.st_uid == geteuid() &&
            !(st.st_mode & 022)) /* one only we can write (docs/security.md section 3) */
            continue;
        cache_tmp(tmp, sizeof tmp, name);
        unlinkat(dir, tmp, 0);
        if (job_add(&files, e, 1) != 0) r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot unpack: out of memory");
    }
    if (r == 0) r = write_files(a, tree, files.v, files.n, err);
    /* Each written file renamed into place, in table order; on failure,
     * every temporary removed. */
    for (size_t i = 0; i < files.n; i++) {
        const struct hpk_entry *e = files.v[i].e;
        const char *base;
        char name[HPK_NAME_MAX + 1], tmp[HPK_NAME_MAX + 64];
        int dir = parent_of(&dc, e->path, e->path_len, &base);
        size_t blen = e->path_len - (size_t)(base - e->path);
        memcpy(name, base, blen);
        name[blen] = 0;
        cache_tmp(tmp, sizeof tmp, name);
        if (dir < 0) {
            if (r == 0)
                r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot open directory of " PATHFMT ": %s", PATHARG(e),
                             strerror(errno));
            continue;
        }
        if (r == 0 && renameat(dir, tmp, dir, name) != 0)
            r = hpk_fail(err, HPK_EXIT_UNPACK, "cannot move " PATHFMT " into place: %s", PATHARG(e),
                         strerror(errno));
        if (r != 0) unlinkat(dir, tmp, 0);
    }
    free(files.v);
    if (r == 0) r = finish_dirs(a, &dc, 1, err);
    dc_reset(&dc);
    return r;
}

int hpk_unpack_cache(const struct hpk_artifact *a, int tree, struct hpk_err *err)
{
    return unpack_cache(a, tree, NULL, err);
}

int hpk_unpack_cache_one(const struct hpk_artifact *a, int tree, const struct hpk_entry *cache, struct hpk_err *err)
{
    return unpack_cache(a, tree, cache, err);
}

int hpk_rm_rf(int parent, const char *name)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return unlinkat(parent, name, 0) == 0 || errno == ENOENT ? 0 : -1;
    /* A read-only directory (from an entry's mode) must become writable to empty it. */
    fchmod(fd, 0700);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
            if (hpk_rm_rf(dirfd(d), de->d_name) != 0) r = -1;
        } else if (unlinkat(dirfd(d), de->d_name, 0) != 0) {
            r = -1;
        }
    }
    closedir(d);
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT) r = -1;
    return r;
}

/* Remove (files or trees) every name in `dir` that `match` accepts.
 * Names are collected first: removing while reading a directory may skip some. */
static void remove_matching(int dir, int (*match)(const char *name, const char *a, const char *b), const char *a,
                            const char *b)
{
    int fd = dup(dir);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return;
    }
    char **names = NULL;
    size_t count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!match(de->d_name, a, b)) continue;
        char **nn = realloc(names, (count + 1) * sizeof *nn);
        if (!nn) break;
        names = nn;
        if (!(names[count] = strdup(de->d_name))) break;
        count++;
    }
    closedir(d);
    for (size_t i = 0; i < count; i++) {
        hpk_rm_rf(dir, names[i]);
        free(names[i]);
    }
    free(names);
}

/* PREFIX<anything>.SUFFIX */
static int prefix_suffix(const char *name, const char *prefix, const char *suffix)
{
    size_t n = strlen(name), pl = strlen(prefix), sl = strlen(suffix);
    return n > pl + sl && !strncmp(name, prefix, pl) && !strcmp(name + n - sl, suffix) && name[n - sl - 1] == '.';
}

/* PREFIX.tmp.* or PREFIX.old.* */
static int stale_tree(const char *name, const char *prefix, const char *unused)
{
    (void)unused;
    size_t n = strlen(prefix);
    return !strncmp(name, prefix, n) && (!strncmp(name + n, ".tmp.", 5) || !strncmp(name + n, ".old.", 5));
}

void hpk_clean_prefix(int dir, const char *prefix, const char *suffix)
{
    remove_matching(dir, prefix_suffix, prefix, suffix);
}

void hpk_clean_stale(int parent, const char *prefix)
{
    remove_matching(parent, stale_tree, prefix, NULL);
}

struct hsink {
    int fd;
    int mismatch;
    uint8_t buf[1 << 16];
};

/* Compare the payload's decoded bytes with the file's, chunk by chunk. */
static int cmp_sink(void *ctx, const uint8_t *data, size_t len)
{
    struct hsink *h = ctx;
    while (len) {
        size_t n = len < sizeof h->buf ? len : sizeof h->buf;
        ssize_t r = read(h->fd, h->buf, n);
        if (r <= 0 || memcmp(h->buf, data, (size_t)r) != 0) {
            h->mismatch = 1;
            return -1;
        }
        data += r;
        len -= (size_t)r;
    }
    return 0;
}

int hpk_verify_tree(const struct hpk_artifact *a, int tree, struct hpk_err *err)
{
    struct dircache dc = {.root = tree, .fd = -1};
    static struct hsink h;
    int r = 0;
    for (uint32_t i = 0; i < a->p.count && r == 0; i++) {
        const struct hpk_entry *e = &a->p.entries[i];
        const char *base;
        char name[HPK_NAME_MAX + 1];
        int dir = parent_of(&dc, e->path, e->path_len, &base);
        size_t blen = e->path_len - (size_t)(base - e->path);
        memcpy(name, base, blen);
        name[blen] = 0;
        struct stat st;
        int missing = dir < 0 || fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0;
        /* Cache entries are unpacked only when used (HPACK_AOT): absent is fine. */
        if (missing && e->role == HPK_ROLE_CACHE) continue;
        if (missing || (st.st_mode & S_IFMT) != (e->mode & S_IFMT)) {
            r = hpk_fail(err, HPK_EXIT_TAMPER, PATHFMT ": missing or of the wrong type", PATHARG(e));
            break;
        }
        if (!S_ISREG(e->mode)) continue;
        if ((uint64_t)st.st_size != e->size) {
            r = hpk_fail(err, HPK_EXIT_TAMPER, PATHFMT ": size %lld, expected %llu", PATHARG(e),
                         (long long)st.st_size, (unsigned long long)e->size);
            break;
        }
        h.fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        h.mismatch = 0;
        if (h.fd < 0) {
            r = hpk_fail(err, HPK_EXIT_TAMPER, PATHFMT ": %s", PATHARG(e), strerror(errno));
            break;
        }
        int d = hpk_entry_decode(a, e, cmp_sink, &h);
        close(h.fd);
        if (h.mismatch) r = hpk_fail(err, HPK_EXIT_TAMPER, PATHFMT ": content differs from the payload", PATHARG(e));
        else if (d != HPK_OK)
            r = hpk_fail(err, HPK_EXIT_PAYLOAD, "corrupt payload: entry " PATHFMT ": %s", PATHARG(e),
                         hpk_layout_strerror(d));
    }
    dc_reset(&dc);
    return r;
}
