/*
 * filewriter.c - the parallel file writer: every regular file of an unpack,
 * on a pool of threads, one per CPU the process may use. Each file is split
 * into pieces (a zstd frame, a 2 MiB slice of a stored entry) so that one
 * big file is decoded on every core. A thread keeps to one file while it
 * can (claim), so the threads mostly write different files. Stored pieces
 * are copied where they belong with copy_file_range, in any order; decoded
 * pieces of a file are written with pwrite in order, each by the thread
 * that hashes it (XXH3-128 of the whole content, in order), never by two
 * threads at once (do_piece); a file is finished (mode, mtime, close) only
 * once its hash matched.
 */
#define _GNU_SOURCE
#include "hpk_unpack.h"

#include "hpk_cpus.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Test hook (tests/reliability): stop dead after writing this many bytes, to
 * simulate a crash at a chosen point of a first start. */
static long long kill_after = -1;
static atomic_llong written_total;

/* Test builds only (make's hpack-test, -DHPK_TEST_HOOKS): the launcher
 * shipped in artifacts reads no test variable. */
static void load_hooks(void)
{
#ifdef HPK_TEST_HOOKS
    const char *k = getenv("HPACK_TEST_KILL_AFTER_BYTES");
    if (k && *k) kill_after = atoll(k);
#endif
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

struct engine {
    const struct hpk_artifact *a;
    struct hpk_fjob *jobs;
    size_t n, scan;
    size_t *order;     /* the jobs in the order they are taken: largest first (claim) */
    uint32_t window;   /* pieces of one file decoded ahead of its hash */
    int inflight;      /* claims being worked on */
    atomic_int no_cfr; /* copy_file_range refused: write stored pieces with pwrite */
    int failed;
    int ref_busy;      /* a zstdref entry is being decoded (one at a time) */
    struct hpk_err *err;
    size_t slot;         /* a decode buffer's size: the largest zstd frame of the jobs */
    uint8_t **free_bufs; /* decode buffers to reuse */
    size_t nfree, capfree;
    uint8_t *arena;      /* slots of `slot` bytes, 2 MiB aligned (NULL: malloc) */
    size_t arena_slots, arena_used;
    struct hpk_huge arena_mem; /* the mapping the arena was cut from */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* Record the first failure; the other threads stop claiming. Under mu. */
static void eng_fail(struct engine *g, int code, const struct hpk_entry *e, const char *what, const char *why)
{
    if (!g->failed)
        hpk_fail(g->err, code, "%s" HPK_PATHFMT "%s%s", what, HPK_PATHARG(e), why ? ": " : "", why ? why : "");
    g->failed = 1;
    pthread_cond_broadcast(&g->cv);
}

/* Decode buffers come from one anonymous mapping, 2 MiB aligned and
 * advised for huge pages, each slot populated with one madvise when first
 * handed out. A malloc'ed buffer took a page fault per 4 KiB on its first
 * use, and with two threads several buffers are live (pieces decoded ahead
 * of their file's hash): measured, most of the second thread's CPU time
 * went to those faults (docs/results.md). */
static void arena_init(struct engine *g, size_t slots)
{
    g->arena = hpk_huge_map(&g->arena_mem, slots * g->slot, 0);
    if (g->arena) g->arena_slots = slots;
}

static int in_arena(const struct engine *g, const uint8_t *b)
{
    return g->arena && b >= g->arena && b < g->arena + g->arena_slots * g->slot;
}

static void buf_free(const struct engine *g, uint8_t *b)
{
    if (!in_arena(g, b)) free(b);
}

static uint8_t *buf_get(struct engine *g)
{
    int fresh = 0;
    pthread_mutex_lock(&g->mu);
    uint8_t *b = g->nfree ? g->free_bufs[--g->nfree] : NULL;
    if (!b && g->arena_used < g->arena_slots) {
        b = g->arena + g->arena_used++ * g->slot;
        fresh = 1;
    }
    pthread_mutex_unlock(&g->mu);
#ifdef MADV_POPULATE_WRITE
    /* All its pages in one call (older kernels refuse: then faults). */
    if (fresh) madvise(b, g->slot, MADV_POPULATE_WRITE);
#else
    (void)fresh;
#endif
    return b ? b : malloc(g->slot);
}

/* Under mu. */
static void buf_put(struct engine *g, uint8_t *b)
{
    if (!b) return;
    if (g->nfree == g->capfree) {
        size_t cap = g->capfree ? 2 * g->capfree : 16;
        uint8_t **nb = realloc(g->free_bufs, cap * sizeof *nb);
        if (!nb) {
            buf_free(g, b);
            return;
        }
        g->free_bufs = nb;
        g->capfree = cap;
    }
    g->free_bufs[g->nfree++] = b;
}

enum { C_NONE, C_PREP, C_PIECE };

/* A zstdref entry holds itself, its reference and maybe that one's
 * reference in memory while it is decoded (up to HPK_ZSTDREF_MAX
 * together): one at a time, so that the
 * unpack's memory does not grow with the number of threads. */
static int claimable(const struct engine *g, const struct hpk_fjob *j)
{
    if (j->state == HPK_J_READY && j->e->codec == HPK_CODEC_ZSTDREF &&
        (g->ref_busy || (j->ref != SIZE_MAX && g->jobs[j->ref].state != HPK_J_DONE)))
        return 0; /* one at a time, and after its reference's file (ref_from_file) */
    return j->state == HPK_J_NEW ||
           (j->state == HPK_J_READY && j->next_claim < j->n && j->next_claim < j->next_hash + g->window);
}

/* Take the next piece of work. A thread keeps to its file (`*job` on entry,
 * SIZE_MAX for none) while it has pieces to claim, else takes the first file
 * in claim_order no thread works on, and only when there is none helps with
 * a file another thread works on: one file's pieces in flight on two
 * threads at once wait for each other (its writes are in order, one thread
 * at a time, see do_piece), different files do not. Under mu. */
static int claim(struct engine *g, size_t *job, uint32_t *piece)
{
    size_t own = *job;
    for (;;) {
        if (g->failed) return C_NONE;
        while (g->scan < g->n && (g->jobs[g->order[g->scan]].state == HPK_J_DONE ||
                                  (g->jobs[g->order[g->scan]].state == HPK_J_READY &&
                                   g->jobs[g->order[g->scan]].next_claim == g->jobs[g->order[g->scan]].n)))
            g->scan++;
        size_t pick = own < g->n && g->jobs[own].state == HPK_J_READY && claimable(g, &g->jobs[own]) ? own : SIZE_MAX;
        size_t busy = SIZE_MAX;
        for (size_t o = g->scan; o < g->n && pick == SIZE_MAX; o++) {
            size_t i = g->order[o];
            if (!claimable(g, &g->jobs[i])) continue;
            if (g->jobs[i].active == 0) pick = i;
            else if (busy == SIZE_MAX) busy = i;
        }
        if (pick == SIZE_MAX) pick = busy;
        if (pick != SIZE_MAX) {
            struct hpk_fjob *j = &g->jobs[pick];
            *job = pick;
            g->inflight++;
            j->active++;
            if (j->state == HPK_J_NEW) {
                j->state = HPK_J_PREP;
                return C_PREP;
            }
            *piece = j->next_claim++;
            if (j->e->codec == HPK_CODEC_ZSTDREF) g->ref_busy = 1;
            return C_PIECE;
        }
        if (g->inflight == 0) return C_NONE;
        pthread_cond_wait(&g->cv, &g->mu);
    }
}

/* Mode, mtime, close: the file's content matched. */
static int finish_file(struct hpk_fjob *j)
{
    int r = fchmod(j->fd, j->e->mode & 0777) != 0 || futimens(j->fd, hpk_fixed_times) != 0 ? -1 : 0;
    int saved = errno;
    if (close(j->fd) != 0 && r == 0) saved = errno, r = -1;
    j->fd = -1;
    errno = saved;
    return r;
}

/* The directory job j's file is written in, and its name there (its
 * entry's base name, or the temporary one); -1 with errno if that
 * directory cannot be opened. */
static int job_dir(struct hpk_dircache *dc, const struct hpk_fjob *j, char *name, size_t n)
{
    char base[HPK_NAME_MAX + 1];
    int dir = hpk_entry_dir(dc, j->e, base, sizeof base);
    if (j->tmp) hpk_cache_tmp_name(name, n, base);
    else snprintf(name, n, "%s", base);
    return dir;
}

/* Create the file and find its pieces (checking its stored bytes). */
static void prep(struct engine *g, struct hpk_dircache *dc, size_t i)
{
    struct hpk_fjob *j = &g->jobs[i];
    const struct hpk_entry *e = j->e;
    char name[HPK_NAME_MAX + 64];
    int dir = job_dir(dc, j, name, sizeof name);
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
    j->state = HPK_J_READY;
    if (dir < 0) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot open directory of ", strerror(saved));
    else if (fd < 0) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot create ", strerror(saved));
    else if (r == HPK_E_NOMEM) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot unpack ", "out of memory");
    else if (r != HPK_OK) eng_fail(g, HPK_EXIT_PAYLOAD, e, "corrupt payload: entry ", hpk_layout_strerror(r));
    else if (n == 0) { /* an empty file */
        j->state = HPK_J_DONE;
        if (finish_file(j) != 0) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot finish ", strerror(errno));
    }
    g->inflight--;
    j->active--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* A zstdref entry whose reference this pass has written and checked
 * (claimable waits for it): decoded against that file, mapped from the
 * page cache, instead of decoding the reference a second time from the
 * payload (14 MB for the JDK's classes_nocoops.jsa: docs/results.md). The
 * file is this process's own, in a tree no other user can reach (a new
 * 0700 staging tree, or for a later pass a tree under the user's 0700
 * cache root, under its lock), created O_EXCL; O_NONBLOCK so that nothing
 * but a regular file can hold the open up; and the result is hashed
 * anyway. -1 (errno) when the file cannot be mapped: the caller decodes
 * the reference instead. Else an HPK_ code. */
static int ref_from_file(struct engine *g, struct hpk_dircache *dc, struct hpk_fjob *j)
{
    const struct hpk_fjob *rj = &g->jobs[j->ref];
    size_t rlen = (size_t)rj->e->size;
    char name[HPK_NAME_MAX + 64];
    int dir = job_dir(dc, rj, name, sizeof name);
    int fd = dir < 0 ? -1 : openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    void *ref = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == rj->e->size)
        ref = mmap(NULL, rlen, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (ref == MAP_FAILED) return -1;
    struct hpk_huge bo;
    uint8_t *out = hpk_huge_map(&bo, (size_t)j->e->size, 1);
    int r = out ? hpk_ref_decode(g->a, j->e, ref, rlen, out) : HPK_E_NOMEM;
    munmap(ref, rlen);
    if (r == HPK_OK && write_all(j->fd, out, (size_t)j->e->size, -1) != 0) r = HPK_E_SINK;
    int saved = errno;
    hpk_huge_free(&bo);
    errno = saved;
    return r;
}

/* A whole zlib or zstdref entry (one piece), decoded and written in order
 * by one thread. */
static void whole_piece(struct engine *g, struct hpk_dircache *dc, struct hpk_fjob *j)
{
    struct wsink w = {j->fd};
    int r = j->ref != SIZE_MAX ? ref_from_file(g, dc, j) : -1;
    if (r < 0) r = hpk_entry_decode(g->a, j->e, write_sink, &w);
    int saved = errno;
    pthread_mutex_lock(&g->mu);
    if (j->e->codec == HPK_CODEC_ZSTDREF) g->ref_busy = 0;
    if (r == HPK_E_SINK) eng_fail(g, HPK_EXIT_UNPACK, j->e, "cannot write ", strerror(saved));
    else if (r == HPK_E_NOMEM) eng_fail(g, HPK_EXIT_UNPACK, j->e, "cannot unpack ", "out of memory");
    else if (r != HPK_OK) eng_fail(g, HPK_EXIT_PAYLOAD, j->e, "corrupt payload: entry ", hpk_layout_strerror(r));
    else {
        j->next_hash = 1;
        j->state = HPK_J_DONE;
        if (finish_file(j) != 0) eng_fail(g, HPK_EXIT_UNPACK, j->e, "cannot finish ", strerror(errno));
    }
    g->inflight--;
    j->active--;
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

/* Decode piece k of job i, then write (see `defer`) and hash what is next
 * in line. A file's pieces are hashed by one thread at a time, outside the
 * lock. */
static void do_piece(struct engine *g, struct hpk_dircache *dc, void *dctx, size_t i, uint32_t k)
{
    struct hpk_fjob *j = &g->jobs[i];
    const struct hpk_entry *e = j->e;
    if (e->codec == HPK_CODEC_ZLIB || e->codec == HPK_CODEC_ZSTDREF) return whole_piece(g, dc, j);
    const struct hpk_piece *p = &j->pc[k];
    int zstd = hpk_codec_zstd(e->codec);
    uint8_t *buf = zstd ? buf_get(g) : NULL;
    const uint8_t *out = NULL;
    int r = zstd && !buf ? HPK_E_NOMEM : hpk_piece_decode(g->a, e, p, dctx, buf, &out);
    /* A decoded piece of a file of several is written in order, by the
     * thread that hashes it (below), not here: two threads writing one file
     * at once serialise on its inode lock (ext4 takes it for every buffered
     * write), and the one waiting spun there instead of decoding
     * (docs/results.md, "One writer per file"). */
    int defer = zstd && j->n > 1;
    int werr = 0;
    if (r == HPK_OK && e->codec == HPK_CODEC_STORED && kill_after < 0 && !atomic_load(&g->no_cfr))
        werr = copy_piece(g, e, p, j->fd);
    else if (r == HPK_OK && !defer && write_all(j->fd, out, (size_t)p->out_len, (long long)p->out_off) != 0)
        werr = errno;
    if (r == HPK_OK && !werr && j->n == 1) {
        /* One piece: hash it here, no ordering to wait for. */
        int ok = hash_ok(XXH3_128bits(out, (size_t)p->out_len), e);
        pthread_mutex_lock(&g->mu);
        buf_put(g, buf);
        j->next_hash = 1;
        j->state = HPK_J_DONE;
        if (!ok) eng_fail(g, HPK_EXIT_PAYLOAD, e, "corrupt payload: entry ", hpk_layout_strerror(HPK_E_DATA_HASH));
        else if (finish_file(j) != 0) eng_fail(g, HPK_EXIT_UNPACK, e, "cannot finish ", strerror(errno));
        g->inflight--;
        j->active--;
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
        j->active--;
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
        int herr = defer && write_all(j->fd, hp, (size_t)j->pc[h].out_len, (long long)j->pc[h].out_off) != 0 ? errno : 0;
        if (!herr) XXH3_128bits_update(j->hs, hp, (size_t)j->pc[h].out_len);
        pthread_mutex_lock(&g->mu);
        j->hashing = 0;
        if (herr) {
            eng_fail(g, HPK_EXIT_UNPACK, e, "cannot write ", strerror(herr));
            break;
        }
        j->ready[h % g->window] = NULL;
        j->rbuf[h % g->window] = NULL;
        buf_put(g, hb);
        j->next_hash = h + 1;
        if (j->next_hash == j->n) {
            j->state = HPK_J_DONE;
            if (!hash_ok(XXH3_128bits_digest(j->hs), e))
                eng_fail(g, HPK_EXIT_PAYLOAD, e, "corrupt payload: entry ", hpk_layout_strerror(HPK_E_DATA_HASH));
            else if (finish_file(j) != 0)
                eng_fail(g, HPK_EXIT_UNPACK, e, "cannot finish ", strerror(errno));
        }
    }
    g->inflight--;
    j->active--;
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
    struct hpk_dircache dc = {.root = w->root, .fd = -1};
    void *dctx = hpk_dctx_new();
    pthread_mutex_lock(&g->mu);
    if (!dctx && !g->failed) {
        hpk_fail(g->err, HPK_EXIT_UNPACK, "cannot unpack: out of memory");
        g->failed = 1;
        pthread_cond_broadcast(&g->cv);
    }
    size_t i = SIZE_MAX;
    for (;;) {
        uint32_t k = 0;
        int c = claim(g, &i, &k);
        if (c == C_NONE) break;
        pthread_mutex_unlock(&g->mu);
        if (c == C_PREP) prep(g, &dc, i);
        else do_piece(g, &dc, dctx, i, k);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    hpk_dctx_free(dctx);
    hpk_dircache_reset(&dc);
    return NULL;
}

struct sized {
    uint64_t size;
    size_t job;
};

/* Larger first, then table order. */
static int by_size(const void *x, const void *y)
{
    const struct sized *a = x, *b = y;
    if (a->size != b->size) return a->size < b->size ? 1 : -1;
    return (a->job > b->job) - (a->job < b->job);
}

/* The order claim takes the files in: the largest first, so that the
 * last work is small files that both threads share out, not the tail of
 * one big file written in order by one thread while the other waits
 * (docs/results.md). NULL when out of memory. */
static size_t *claim_order(const struct hpk_fjob *jobs, size_t n)
{
    struct sized *s = malloc(n * sizeof *s);
    size_t *o = malloc(n * sizeof *o);
    if (s && o) {
        for (size_t i = 0; i < n; i++) s[i] = (struct sized){jobs[i].e->size, i};
        qsort(s, n, sizeof *s, by_size);
        for (size_t i = 0; i < n; i++) o[i] = s[i].job;
    } else {
        free(o);
        o = NULL;
    }
    free(s);
    return o;
}

int hpk_write_files(const struct hpk_artifact *a, int root, struct hpk_fjobs *list, struct hpk_err *err)
{
    struct hpk_fjob *jobs = list->v;
    size_t n = list->n;
    if (n == 0) return 0;
    load_hooks();
    uint64_t bytes = 0;
    size_t slot = HPK_ZSTD_FRAME;
    for (size_t i = 0; i < n; i++) {
        jobs[i].fd = -1;
        jobs[i].ref = SIZE_MAX;
        const struct hpk_entry *r = hpk_entry_ref(a, jobs[i].e);
        for (size_t k = 0; r && k < n; k++)
            if (jobs[k].e == r) jobs[i].ref = k;
        bytes += jobs[i].e->size;
        if (hpk_codec_zstd(jobs[i].e->codec) && hpk_codec_frame(jobs[i].e->codec) > slot)
            slot = hpk_codec_frame(jobs[i].e->codec);
    }
    /* Threads only for work worth their start (about 50 us each). */
    int nt = bytes < 2 * HPK_ZSTD_FRAME ? 1 : hpk_cpus();
    /* Pieces of one file decoded ahead of its hash: enough to keep every
     * thread busy on one big file, bounded (at most 64 MiB waiting: 32
     * pieces of 2 MiB, 8 of 8 MiB). */
    uint32_t window = (uint32_t)(2 * nt + 2), most = (uint32_t)((64u << 20) / slot);
    if (window > most) window = most;
    size_t *order = claim_order(jobs, n);
    if (!order) return hpk_fail(err, HPK_EXIT_UNPACK, "cannot unpack: out of memory");
    struct engine g = {.a = a, .jobs = jobs, .n = n, .order = order, .window = window, .slot = slot, .err = err};
    /* Enough slots for every piece a window lets wait plus one per thread;
     * more (several files each with a window open) come from malloc. */
    if (bytes > HPK_ZSTD_FRAME / 2) arena_init(&g, window + (size_t)nt);
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    struct worker_arg w = {&g, root};
    hpk_run_threads(nt, worker, &w);
    for (size_t i = 0; i < n; i++) {
        struct hpk_fjob *j = &jobs[i];
        if (j->fd >= 0) close(j->fd);
        if (j->rbuf)
            for (uint32_t k = 0; k < g.window; k++) buf_free(&g, j->rbuf[k]);
        free(j->pc);
        free(j->ready);
        free(j->rbuf);
        if (j->hs) XXH3_freeState(j->hs);
    }
    for (size_t i = 0; i < g.nfree; i++) buf_free(&g, g.free_bufs[i]);
    free(g.free_bufs);
    free(order);
    hpk_huge_free(&g.arena_mem);
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
    return g.failed ? -1 : 0;
}

int hpk_fjobs_add(struct hpk_fjobs *l, const struct hpk_entry *e, int tmp)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        struct hpk_fjob *nv = realloc(l->v, cap * sizeof *nv);
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
