/*
 * hpk_image.h - the parts of `hpack image` (image.c): the C library closure
 * of a runtime (elfdeps.c), reproducible OCI layers and blobs (ocilayer.c),
 * a base image and the JSON reader (ocibase.c), the image's JSON documents
 * and its archive (ocidoc.c).
 */
#ifndef HPK_IMAGE_H
#define HPK_IMAGE_H

#include "hpk_packer.h"
#include "hpk_sha256.h"
#include "../layout/hpk_config.h"

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
int hpk_litems_add_tree(struct hpk_litems *l, const char *dir, const char *prefix, struct hpk_err *e);
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
int hpk_layer_write(struct hpk_litems *l, const char *tmpdir, struct hpk_blob *b, struct hpk_err *e);
/* A blob of the given bytes (JSON), written to a new file in `tmpdir`. */
int hpk_blob_bytes(const char *data, size_t len, const char *tmpdir, struct hpk_blob *b, struct hpk_err *e);
void hpk_blob_free(struct hpk_blob *b);

/* ---- the C library closure (elfdeps.c) ---- */
struct hpk_closure {
    struct hpk_litems *out; /* where the libraries go (paths relative to /) */
    unsigned machine;       /* e_machine of bin/java */
    const char *arch;       /* OCI architecture name ("amd64", "arm64") */
    int arch_only;          /* only find the architecture (a base image has the libraries) */
    int want_fontconfig;    /* take HPK_FONTCONFIG_LIB if the runtime has a font manager */
    int n_libs;
    int font_manager;       /* out: the runtime carries java.desktop's libfontmanager.so */
    int fontconfig;         /* out: HPK_FONTCONFIG_LIB was found and taken */
};

/* The library java.desktop's font manager loads by name (dlopen, so no
 * DT_NEEDED says it) to find the host's fonts. */
#define HPK_FONTCONFIG_LIB "libfontconfig.so.1"

/* Read PT_INTERP and DT_NEEDED of bin/java and of every shared object of
 * the runtime from the payload, find what the runtime does not carry in the
 * host's library directories, and add the loader and those libraries (and
 * theirs) to c->out. A library that bin/java or libjvm.so needs and the
 * host lacks is an error; one another runtime library needs is a warning.
 * exe_fd: the artifact itself, whose launcher is static but in SANITIZE=1
 * builds (its needs are taken too), or -1. */
int hpk_closure_build(const struct hpk_artifact *a, int exe_fd, const char *java, struct hpk_closure *c,
                      struct hpk_err *e);

/* ---- fonts for java.desktop (imagefonts.c) ---- */
/* If the runtime has a font manager and c took fontconfig: the fonts
 * `spec` names ("auto": the host's DejaVu core set; a directory: every
 * font file below it), an /etc/fonts/fonts.conf that finds them and their
 * fontconfig cache (made by the host's fc-cache in tmpdir), into l; the
 * number of fonts into *n. "none", no font manager: nothing. `spec` is
 * auto, none or a directory (the caller checked it is one). A directory
 * with no font file, or one given where the host has no fontconfig, is an
 * error; auto finding no font or no fontconfig, a warning. */
int hpk_image_fonts(const char *spec, const struct hpk_closure *c, const char *tmpdir, struct hpk_litems *l, int *n,
                    struct hpk_err *e);

#define HPK_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define HPK_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define HPK_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define HPK_MT_LAYER_GZ "application/vnd.oci.image.layer.v1.tar+gzip"

/* What `hpack image` was asked for. */
struct hpk_image_opts {
    const char *artifact, *out, *tag, *base;
    const char *fonts; /* --fonts: auto, none or a directory */
    unsigned uid, gid;
};

/* ---- a tiny JSON reader (ocibase.c): values are located as spans of the
 * original text and copied verbatim ---- */
struct hpk_span {
    const char *p, *end;
};
const char *hpk_json_ws(const char *p, const char *end);
/* Next member of an object (or element of an array: key NULL) from *pos,
 * which starts just after '{' or '['. 1 with spans set, 0 at the end, -1
 * if malformed. */
int hpk_json_next(const char **pos, const char *end, struct hpk_span *key, struct hpk_span *val);
int hpk_json_key_is(struct hpk_span k, const char *name);
/* The value of `name` in the object `obj`; 0 if absent or not an object. */
int hpk_json_get(struct hpk_span obj, const char *name, struct hpk_span *out);
/* A JSON string value without its quotes (no unescaping: digests, media types). */
char *hpk_json_strdup(struct hpk_span v);
/* The elements of array `arr` (verbatim), each followed by ",". */
void hpk_json_copy_elements(FILE *f, struct hpk_span arr);

/* ---- the base image (--base oci-archive:FILE, ocibase.c) ---- */
struct hpk_base_member {
    char *name;
    char *data;
    size_t size;
};
struct hpk_base {
    struct hpk_base_member *m;
    size_t n;
    struct hpk_span manifest, config; /* into members' data */
    struct hpk_span layers;           /* the manifest's layers array */
    char **blobs;                     /* member names of the layer blobs to carry */
    size_t n_blobs;
};
/* Read the archive, pick the manifest for `arch` (else the only one), check
 * every blob carried against its digest and the config's architecture. */
int hpk_base_load(const char *spec, const char *arch, struct hpk_base *b, struct hpk_err *e);
struct hpk_base_member *hpk_base_find(struct hpk_base *b, const char *name);
void hpk_base_free(struct hpk_base *b);

/* ---- the image's documents and archive (ocidoc.c) ---- */
/* Each in memory (free()), NULL if out of memory; *len its length. */
char *hpk_image_config_json(const struct hpk_image_opts *o, const char *name, const char *arch, const struct hpk_artifact *a,
                            const struct hpk_config *in, const struct hpk_base *b, struct hpk_blob *layers, int nl,
                            size_t *len);
char *hpk_image_manifest_json(const struct hpk_blob *config, const struct hpk_base *b, const struct hpk_blob *layers, int nl,
                              size_t *len);
char *hpk_image_index_json(const struct hpk_blob *manifest, const char *arch, const char *tag, size_t *len);
/* One file of the image archive. */
struct hpk_outfile {
    const char *name;
    const char *data; /* in memory, or */
    const char *file; /* a blob's temporary file */
    size_t size;
};
/* The archive, files sorted by name, to a temporary name renamed to out. */
int hpk_image_write_archive(const char *out, struct hpk_outfile *files, size_t n, struct hpk_err *e);

#endif
