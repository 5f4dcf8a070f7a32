/*
 * hpk_image.h - the parts of `hpack image`: the C library closure of a
 * runtime (elfdeps.c) and reproducible OCI layers and blobs (ocilayer.c).
 */
#ifndef HPK_IMAGE_H
#define HPK_IMAGE_H

#include "hpk_packer.h"
#include "hpk_sha256.h"

#include <stdio.h>
#include <sys/types.h>

/* Every entry of every layer and of the image archive has this mtime, the
 * launcher's (HPK_FIXED_MTIME), so an unpacked store tree passes its
 * warm-path checks. */
#define HPK_IMAGE_TIME "1980-01-01T00:00:00Z"

/* ---- one file or directory of a layer ---- */
struct hpk_litem {
    char *path;         /* in the layer, relative ("etc/passwd"), no trailing slash */
    uint32_t mode;      /* type and permission bits */
    unsigned uid, gid;
    const uint8_t *data; /* regular file content in memory, or NULL: read `src` */
    size_t size;
    char *src;          /* regular file on disk to copy (data == NULL) */
    char *target;       /* symlink target */
    uint8_t *owned;     /* freed with the list */
};

struct hpk_litems {
    struct hpk_litem *v;
    size_t n, cap;
};

struct hpk_litem *hpk_litems_add(struct hpk_litems *l, const char *path, uint32_t mode);
/* Add `path` and, as 0755 root directories, each of its parents not yet there. */
struct hpk_litem *hpk_litems_add_p(struct hpk_litems *l, const char *path, uint32_t mode);
int hpk_litems_has(const struct hpk_litems *l, const char *path);
/* Add the tree at directory `dir` on disk below `prefix`, as it is on disk
 * (modes, symlinks), owned by root. */
int hpk_litems_add_tree(struct hpk_litems *l, const char *dir, const char *prefix, struct hpk_perr *e);
void hpk_litems_free(struct hpk_litems *l);

/* ---- a content-addressed blob, written to a temporary file ---- */
struct hpk_blob {
    char digest[72];  /* of the bytes as stored (gzip for a layer) */
    uint64_t size;
    char diff_id[72]; /* a layer: of the uncompressed tar */
    char *file;       /* temporary file (registered for cleanup) */
};

/* Write the items, sorted by path, as a tar (owner, mtime fixed) gzipped
 * deterministically, to a new file in `tmpdir`. */
int hpk_layer_write(struct hpk_litems *l, const char *tmpdir, struct hpk_blob *b, struct hpk_perr *e);
/* A blob of the given bytes (JSON), written to a new file in `tmpdir`. */
int hpk_blob_bytes(const char *data, size_t len, const char *tmpdir, struct hpk_blob *b, struct hpk_perr *e);
void hpk_blob_free(struct hpk_blob *b);

/* ---- the C library closure (elfdeps.c) ---- */
struct hpk_closure {
    struct hpk_litems *out; /* where the libraries go (paths relative to /) */
    unsigned machine;       /* e_machine of bin/java */
    const char *arch;       /* OCI architecture name ("amd64", "arm64") */
    int arch_only;          /* only find the architecture (a base image has the libraries) */
    int n_libs;
};

/* Read PT_INTERP and DT_NEEDED of bin/java and of every shared object of
 * the runtime from the payload, find what the runtime does not carry in the
 * host's library directories, and add the loader and those libraries (and
 * theirs) to c->out. A library that bin/java or libjvm.so needs and the
 * host lacks is an error; one another runtime library needs is a warning.
 * exe_fd: the artifact itself, whose launcher is static but in SANITIZE=1
 * builds (its needs are taken too), or -1. */
int hpk_closure_build(const struct hpk_artifact *a, int exe_fd, const char *java, struct hpk_closure *c,
                      struct hpk_perr *e);

/* JSON string escaping into a FILE (open_memstream). */
void hpk_json_str(FILE *f, const char *s);

#endif
