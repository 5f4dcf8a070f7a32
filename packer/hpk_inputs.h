/*
 * hpk_inputs.h - what the input services share among themselves.
 *
 * The snapshot's API (hpk_packer.h, "the snapshot of the inputs") is what
 * the commands call. Behind it, one file per job:
 *
 *   snapshot.c   the item list, following links among items, the re-check
 *   inputfile.c  one input file read into an item
 *   linkpath.c   link arithmetic: where a relative target leads, the target
 *                that leads there from elsewhere, a place mapped into a copy
 *   treewalk.c   a directory read into the snapshot (the link rules on disk)
 *   archive.c    a tar/zip read into the snapshot (one decoding pass)
 *   archlinks.c  the same link rules for an archive's members
 *   runtime.c    a Java runtime (directory or archive) and its release file
 *
 * Nothing here is for the commands: they use hpk_packer.h.
 */
#ifndef HPK_INPUTS_H
#define HPK_INPUTS_H

#include "hpk_packer.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- snapshot.c ---- */
/* Make `to` a copy of `from` (mode, content, hash, identity, source), its
 * path unchanged. -1 when out of memory. */
int hpk_item_copy(struct hpk_item *to, const struct hpk_item *from);

/* ---- inputfile.c ---- */
/* hpk_snapshot_file without the hash: item.hash_later is set, and
 * hpk_snapshot_hash_rest computes it, with the others, on every CPU. A
 * directory's files are read this way (treewalk.c): hashing a 300 MB JDK
 * on one thread while the second waited was a fifth of a build. */
int hpk_snapshot_file_unhashed(struct hpk_item *it, const char *file, int status, struct hpk_err *e);
/* Hash every item from index `from` on whose hash_later is set, but for
 * those the payload will hash (s->hash_in_payload). */
void hpk_snapshot_hash_rest(struct hpk_snapshot *s, size_t from);
/* Is a file of this name already compressed (jar, zip, gz, png, ...)? */
int hpk_already_compressed(const char *name);
/* The payload mode of a regular file with permissions m: 0755 if any x bit. */
uint32_t hpk_file_mode(mode_t m);

/* ---- linkpath.c: lexical link arithmetic; paths are below one root, ""
 * being the root. Each returns -1 if the result does not fit (never a cut,
 * hence wrong, path). ---- */
/* Where the relative target t (tlen bytes) of the link at `link` leads,
 * resolved lexically from the link's directory. Only for a target known to
 * stay below the root (hpk_link_resolve said HPK_LINK_OK): a ".." at the
 * root stays at the root. */
int hpk_link_dest(const char *link, const char *t, size_t tlen, char *out, size_t outn);
/* The shortest relative target that leads from the directory of `link` to
 * `dest`: "../" for each of the link's directories not shared with dest,
 * then the rest of dest ("." for the link's own directory). */
int hpk_rel_target(const char *link, const char *dest, char *out, size_t outn);
/* `dest` as seen in a copy of the directory `src` made at `dst`: a place
 * inside src maps to its copy (as cp -a would), any other stays. */
int hpk_map_into_copy(const char *dest, const char *src, const char *dst, char *out, size_t outn);
/* The target a kept link at `orig` (target t) gets in its copy at `nrel`,
 * the directory `src` being copied to `dst`: the three above in turn. */
int hpk_copied_target(const char *orig, const char *t, size_t tlen, const char *src, const char *dst,
                      const char *nrel, char *out, size_t outn);

/* ---- archive.c ---- */
struct archive;
/* The compressions hpack reads a tar in (gzip, bzip2, xz, zstd), and no
 * other: its archive readers, the inputs' and an image's base, enable
 * these in a libarchive reader `a`. */
void hpk_archive_filters(struct archive *a);

/* ---- archlinks.c ---- */
/* Apply the tree walk's link rule to the symlink items below `prefix`/ that
 * were read from the archive `file` (every item of the snapshot is judged
 * against the members as read, then changed): a link that resolves inside
 * without passing through another link stays; one through a link is replaced
 * by what it names (a file's content, a directory's copy); one that names
 * nothing inside is dropped with a warning. Errors carry `status`. */
int hpk_archive_links(struct hpk_snapshot *s, const char *file, const char *prefix, int status,
                      struct hpk_err *e);

/* ---- runtime.c ---- */
/* JAVA_VERSION, JAVA_RUNTIME_VERSION and the major version from the text
 * of a release file (`where` names it in errors) into the snapshot. */
int hpk_release_parse(struct hpk_snapshot *s, const char *text, size_t len, const char *where, struct hpk_err *e);

#endif
