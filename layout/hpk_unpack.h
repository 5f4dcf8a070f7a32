/*
 * hpk_unpack.h - the parts the tree files share (treedir.c, filewriter.c,
 * unpack.c, verify.c): reaching an entry's directory inside a tree without
 * following links, the names an entry is written under, and the parallel
 * file writer. Not an API for other modules: theirs is hpk_tree.h.
 */
#ifndef HPK_UNPACK_H
#define HPK_UNPACK_H

#include "hpk_tree.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HPK_PATHFMT "%.*s"
#define HPK_PATHARG(e) (int)(e)->path_len, (e)->path

/* The fixed time of every unpacked file and directory (atime, mtime). */
extern const struct timespec hpk_fixed_times[2];

/* ---- treedir.c ---- */

/* The directory last reached inside a tree: entries come grouped by
 * directory, so this saves re-walking the path for almost every file. */
struct hpk_dircache {
    int root; /* the tree */
    int fd;   /* -1, root, or the directory `path` (owned) */
    char path[HPK_PATH_MAX + 1];
};
void hpk_dircache_reset(struct hpk_dircache *dc);
/* The directory of entry `e` (reached from the root one component at a
 * time, O_NOFOLLOW; owned by the cache) and its base name in name[0..n);
 * -1 with errno when a directory on the way cannot be opened. */
int hpk_entry_dir(struct hpk_dircache *dc, const struct hpk_entry *e, char *name, size_t n);
/* The temporary name a cache entry is written under before it is renamed
 * to `name` (".tmp.<pid>.<name>"), the one place that name is made. */
void hpk_cache_tmp_name(char *tmp, size_t n, const char *name);

/* ---- filewriter.c: regular files, on every CPU ---- */

/* One regular file to write. `tmp`: create it under its temporary name
 * (hpk_cache_tmp_name; cache entries, renamed by the caller once all are
 * written). The other fields are the writer's. */
struct hpk_fjob {
    const struct hpk_entry *e;
    int tmp;
    enum { HPK_J_NEW, HPK_J_PREP, HPK_J_READY, HPK_J_DONE } state;
    struct hpk_piece *pc;
    uint32_t n, next_claim, next_hash;
    int fd;
    int hashing;           /* a thread is hashing this file's pieces (outside the lock) */
    int active;            /* its claims being worked on (prep or pieces) */
    void *hs;              /* XXH3_state_t: files of more than one piece */
    const uint8_t **ready; /* [window]: pieces decoded (stored ones also written), waiting for their turn to be hashed (and written) */
    uint8_t **rbuf;        /* [window]: the buffer each one lives in (NULL: the mapping) */
    size_t ref;            /* zstdref: the job writing its reference in this pass, else SIZE_MAX */
};

struct hpk_fjobs {
    struct hpk_fjob *v;
    size_t n, cap;
};
/* Queue entry `e`; -1 when out of memory. */
int hpk_fjobs_add(struct hpk_fjobs *l, const struct hpk_entry *e, int tmp);

/* Write the files `jobs` under the tree `root` on up to hpk_cpus() threads,
 * each created O_EXCL|O_NOFOLLOW, hashed while written, finished (mode,
 * fixed time) only once its hash matched. On failure files may be left
 * behind: the caller removes its temporaries. */
int hpk_write_files(const struct hpk_artifact *a, int root, struct hpk_fjobs *jobs, struct hpk_err *err);

#endif
