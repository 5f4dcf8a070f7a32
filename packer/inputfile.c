/*
 * inputfile.c - one input file read into a snapshot item: its bytes, their
 * hash and the file's identity (for the re-check and the lock file).
 */
#define _GNU_SOURCE
#include "hpk_inputs.h"
#include "../layout/hpk_cpus.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

int hpk_already_compressed(const char *name)
{
    /* Not zip containers (.jar, .zip, .jmod, .war, .ear): each member is
     * deflated alone and the headers and central directory are plain, so
     * zstd still takes 7-11% off a jar (Clojure's, Guava's, Jython's, Ant's)
     * and 6% off a JDK's src.zip (docs/results.md). */
    static const char *const sufs[] = {".gz", ".xz", ".bz2", ".zst", ".png", ".jpg", ".jpeg", ".gif", NULL};
    for (int i = 0; sufs[i]; i++)
        if (has_suffix(name, sufs[i])) return 1;
    return 0;
}

uint32_t hpk_file_mode(mode_t m) { return S_IFREG | ((m & 0111) ? 0755u : 0644u); }

/* ---- mapped inputs ----
 *
 * Files from MAP_MIN bytes on are mapped instead of read: their pages are
 * the page cache's own, so no fresh memory is taken, zeroed and filled for
 * them (fresh pages were a third of a JDK build's CPU time on this
 * project's virtual machine, docs/results.md). Two things differ from
 * reading, and both are handled:
 *
 * - A mapping sees a later change to the file, which a read copy does not:
 *   the bytes compressed could then differ from the bytes hashed. So a file
 *   is mapped only if its last change (ctime) is at least SETTLED_NS old:
 *   file times come from a coarse clock, and a change made now must then
 *   give the file another ctime. hpk_item_unchanged compares inode,
 *   size, mtime and ctime once the payload is made; a younger file (a
 *   jlink output, a file just copied) is read as before.
 * - A file cut short under the mapping raises SIGBUS when a page past its
 *   new end is touched. The handler finds the mapping the address falls in,
 *   names the file, removes the build's temporaries (util.c's registry,
 *   async-signal-safe) and ends with HPK_ST_CHANGED; an address outside
 *   every input mapping gets the default action.
 *
 * The table of mappings is process-wide because a signal handler must find
 * it; it is changed only by the reading thread, before the compression
 * threads start and after they end. */
#define MAP_MIN (1u << 20)
#define SETTLED_NS (2 * 1000000000LL)

struct mapping {
    const uint8_t *lo;
    size_t len;
    char *source; /* our own copy: items' sources are freed and replaced */
};
static struct mapping *maps;
static size_t n_maps, cap_maps, live_maps;

static void say(const char *s) { (void)!write(2, s, strlen(s)); }

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
    (void)sig, (void)ctx;
    const uint8_t *a = si->si_addr;
    for (size_t i = 0; i < n_maps; i++)
        if (maps[i].len && a >= maps[i].lo && a < maps[i].lo + maps[i].len) {
            say("hpack: ");
            say(maps[i].source);
            say(": input file shrank during the build\n");
            hpk_tmp_cleanup();
            _exit(HPK_ST_CHANGED);
        }
    signal(SIGBUS, SIG_DFL); /* not an input's: the fault repeats, with the default action */
}

static int remember(const uint8_t *lo, size_t len, const char *source)
{
    if (n_maps == cap_maps) {
        if (!cap_maps) {
            struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
            sigemptyset(&sa.sa_mask);
            sigaction(SIGBUS, &sa, NULL);
        }
        size_t cap = cap_maps ? 2 * cap_maps : 64;
        struct mapping *m = malloc(cap * sizeof *m);
        if (!m) return -1;
        /* Copied, then switched: the handler never sees a freed table. */
        if (n_maps) memcpy(m, maps, n_maps * sizeof *m);
        struct mapping *old = maps;
        maps = m;
        cap_maps = cap;
        free(old);
    }
    char *src = strdup(source);
    if (!src) return -1;
    maps[n_maps] = (struct mapping){lo, len, src};
    n_maps++;
    live_maps++;
    return 0;
}

void hpk_item_data_free(struct hpk_item *it)
{
    if (it->mapped && it->data) {
        for (size_t i = 0; i < n_maps; i++)
            if (maps[i].lo == it->data && maps[i].len) {
                maps[i].len = 0; /* first: the handler looks at a slot only while it has a length */
                free(maps[i].source);
                maps[i].source = NULL;
                live_maps--;
            }
        munmap(it->data, it->size);
        /* No input mapped any more, so no input's SIGBUS can come: the
         * table goes (a later mapping starts a new one). */
        if (!live_maps && maps) {
            n_maps = cap_maps = 0;
            free(maps);
            maps = NULL;
        }
    } else {
        free(it->data);
    }
    it->data = NULL;
    it->mapped = 0;
    it->has_hash64 = 0;
}

static int64_t ns_of(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

/* May this file be mapped? Large, and settled (see above). */
static int settled(const struct stat *st)
{
    if ((size_t)st->st_size < MAP_MIN) return 0;
#ifdef HPK_TEST_HOOKS
    /* Test hook: HPACK_TEST_MAP=always (tests change inputs they have just
     * made) or never (the bytes of a build that reads everything). */
    const char *t = getenv("HPACK_TEST_MAP");
    if (t) return !strcmp(t, "always");
#endif
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return ns_of(st->st_ctim) < ns_of(now) - SETTLED_NS && ns_of(st->st_mtim) < ns_of(now) - SETTLED_NS;
}

#ifdef HPK_TEST_HOOKS
/* Test hook (tests/reliability.sh): HPACK_TEST_CHANGE_MAPPED=truncate:SUFFIX or
 * grow:SUFFIX changes the first mapped input whose path ends in SUFFIX right
 * after it is mapped, as another process could. */
static void test_change(const char *file)
{
    const char *v = getenv("HPACK_TEST_CHANGE_MAPPED"), *c = v ? strchr(v, ':') : NULL;
    if (!c || strlen(file) < strlen(c + 1) || strcmp(file + strlen(file) - strlen(c + 1), c + 1)) return;
    int fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return;
    if (!strncmp(v, "truncate:", 9)) (void)!ftruncate(fd, 0);
    else (void)!write(fd, "x", 1);
    close(fd);
    unsetenv("HPACK_TEST_CHANGE_MAPPED");
}
#endif

/* Map the open file fd (settled, large) into it; -1 if the kernel will not,
 * and the caller reads it instead. */
static int map_file(struct hpk_item *it, int fd, const struct stat *st, const char *file)
{
    size_t len = (size_t)st->st_size;
    /* Not MAP_POPULATE: that maps every page here, on the one thread that
     * walks the tree; hash_bytes does it on every CPU. */
    void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) return -1;
    if (remember(m, len, file) != 0) {
        munmap(m, len);
        return -1;
    }
    madvise(m, len, MADV_SEQUENTIAL);
    it->data = m;
    it->size = len;
    it->mapped = 1;
#ifdef HPK_TEST_HOOKS
    test_change(file);
#endif
    return 0;
}

/* Read the whole file fd (st->st_size bytes) into a new buffer. */
static int read_file(struct hpk_item *it, int fd, const struct stat *st, const char *file, int status,
                     struct hpk_err *e)
{
    uint8_t *buf = hpk_alloc_big(st->st_size ? (size_t)st->st_size : 1);
    if (!buf) return hpk_fail(e, HPK_ST_INTERNAL, "%s: out of memory", file);
    hpk_populate(buf, (size_t)st->st_size);
    size_t got = 0;
    while (got < (size_t)st->st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st->st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int saved = r < 0 ? errno : EIO;
            free(buf);
            return hpk_fail(e, status, "%s: read error: %s", file, strerror(saved));
        }
        got += (size_t)r;
    }
    it->data = buf;
    it->size = got;
    it->mapped = 0;
    return 0;
}

int hpk_item_open(const struct hpk_item *it)
{
    if (!it->mapped || !it->source) return -1;
    int fd = open(it->source, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || st.st_dev != it->id.dev || st.st_ino != it->id.ino ||
                    st.st_size != it->id.size)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Bytes read(2) hands the hash at a time: a buffer that stays in cache. */
#define HASH_CHUNK (256u << 10)

/* A mapped item's hashes taken through read(2); -1 if the file cannot be
 * read so (cut short, replaced, no memory): hash_bytes then reads the
 * mapping, whose SIGBUS handler names a file cut short. */
static int hash_by_read(struct hpk_item *it)
{
    int fd = hpk_item_open(it);
    if (fd < 0) return -1;
    uint8_t *buf = malloc(HASH_CHUNK);
    XXH3_state_t h128, h64;
    XXH3_128bits_reset(&h128);
    XXH3_64bits_reset(&h64);
    int rc = buf ? 0 : -1;
    for (size_t off = 0; rc == 0 && off < it->size; off += HASH_CHUNK) {
        size_t len = it->size - off < HASH_CHUNK ? it->size - off : HASH_CHUNK;
        rc = hpk_pread_full(fd, buf, len, off) == HPK_OK ? 0 : -1;
        if (rc == 0) XXH3_128bits_update(&h128, buf, len);
        if (rc == 0 && it->no_compress) XXH3_64bits_update(&h64, buf, len);
    }
    free(buf);
    close(fd);
    if (rc != 0) return -1;
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&h128));
    memcpy(it->hash, c.digest, 16);
    if (it->no_compress) it->hash64 = XXH3_64bits_digest(&h64), it->has_hash64 = 1;
    return 0;
}

/* An item's content hash. A mapped file is read with read(2), not through
 * its mapping: on this project's virtual machine the first touch of each
 * mapped page costs about 1.3 us more (the hypervisor fills its own page
 * tables), and hashing lib/modules (146 MB) took 31 ms so, 64 ms through
 * the mapping even with its pages mapped in one call first (measured).
 * A file stored as it is (already compressed) gets its XXH3-64, its
 * entry's stored_hash, in the same pass. */
static void hash_bytes(struct hpk_item *it)
{
    if (it->mapped && hash_by_read(it) == 0) return;
#ifdef MADV_POPULATE_READ
    if (it->mapped) madvise(it->data, it->size, MADV_POPULATE_READ); /* an advice: a kernel without it faults */
#endif
    hpk_hash_bytes(it->data, it->size, it->hash);
}

static int snapshot_file(struct hpk_item *it, const char *file, int status, int hash, struct hpk_err *e)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hpk_fail(e, status, "%s: cannot read: %s", file, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hpk_fail(e, status, "%s: not a regular file", file);
    }
    char *source = strdup(file);
    if (!source) {
        close(fd);
        return hpk_fail(e, HPK_ST_INTERNAL, "%s: out of memory", file);
    }
    int rc = settled(&st) && map_file(it, fd, &st, file) == 0 ? 0 : read_file(it, fd, &st, file, status, e);
    close(fd);
    if (rc != 0) {
        free(source);
        return rc;
    }
    /* Source, identity and kind first: hash_bytes reads a mapped file
     * through them (hpk_item_open). */
    free(it->source);
    it->source = source;
    it->id.dev = st.st_dev;
    it->id.ino = st.st_ino;
    it->id.size = st.st_size;
    it->id.mtime_ns = ns_of(st.st_mtim);
    it->id.ctime_ns = ns_of(st.st_ctim);
    it->no_compress = hpk_already_compressed(file);
    it->has_hash64 = 0;
    if (hash) hash_bytes(it);
    it->hash_later = !hash;
    return 0;
}

int hpk_snapshot_file(struct hpk_item *it, const char *file, int status, struct hpk_err *e)
{
    return snapshot_file(it, file, status, 1, e);
}

int hpk_snapshot_file_unhashed(struct hpk_item *it, const char *file, int status, struct hpk_err *e)
{
    return snapshot_file(it, file, status, 0, e);
}

static void hash_one(void *ctx, size_t k)
{
    struct hpk_item *it = ((struct hpk_item **)ctx)[k];
    hash_bytes(it);
    it->hash_later = 0;
}

static int bigger_first(const void *a, const void *b)
{
    size_t x = (*(struct hpk_item *const *)a)->size, y = (*(struct hpk_item *const *)b)->size;
    return (x < y) - (x > y);
}

/* Whether the payload hashes the item as it compresses it: a mapped file
 * (read from its file through a buffer, inputfile.c) that is compressed.
 * Hashing it here read its bytes a first time, only for the compression to
 * read them again: 7.5 % of a JDK build's CPU time (perf record, 2026-12-03). */
static int payload_hashes(const struct hpk_snapshot *s, const struct hpk_item *it)
{
    return s->hash_in_payload && it->mapped && !it->no_compress;
}

static void hash_items(struct hpk_snapshot *s, size_t from, int all)
{
    size_t n = 0;
    struct hpk_item **v = malloc((s->n - from + 1) * sizeof *v);
    for (size_t i = from; i < s->n; i++) {
        struct hpk_item *it = &s->items[i];
        if (!it->hash_later || (!all && payload_hashes(s, it))) continue;
        if (v) v[n++] = it;
        else hash_one(&it, 0); /* no memory: one thread */
    }
    if (!v) return;
    /* Largest first (hpk_run_each). */
    qsort(v, n, sizeof *v, bigger_first);
    hpk_run_each(n, hash_one, v);
    free(v);
}

void hpk_snapshot_hash_rest(struct hpk_snapshot *s, size_t from)
{
    hash_items(s, from, 0);
}

void hpk_snapshot_hash_all(struct hpk_snapshot *s)
{
    hash_items(s, 0, 1);
}

int hpk_item_unchanged(const struct hpk_item *it, struct hpk_err *e)
{
    struct stat st;
    if (!it->mapped) return 0;
    if (stat(it->source, &st) != 0 || st.st_dev != it->id.dev || st.st_ino != it->id.ino ||
        st.st_size != it->id.size || ns_of(st.st_mtim) != it->id.mtime_ns || ns_of(st.st_ctim) != it->id.ctime_ns)
        return hpk_fail(e, HPK_ST_CHANGED, "%s: input changed during the build", it->source);
    return 0;
}
