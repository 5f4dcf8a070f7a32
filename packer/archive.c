/*
 * archive.c - the archive reader: a tar, tar.gz (any format and filter
 * libarchive reads) or zip read in memory into the snapshot below one
 * payload prefix, its one top directory stripped when there is one.
 * Members below a symlink member, members given twice and other file
 * types than file, directory and symlink are refused; hard links become
 * copies; symlinks are then judged by archlinks.c.
 */
#define _GNU_SOURCE
#include "hpk_inputs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A member's name without leading "./" (NULL for the archive's root). */
static const char *member_name(struct archive_entry *ae)
{
    const char *name = archive_entry_pathname(ae);
    while (name && name[0] == '.' && name[1] == '/') name += 2;
    return name && *name && strcmp(name, ".") ? name : NULL;
}

/* The one top directory every member lies in, if there is one: "jdk-25/"
 * in a JDK tarball, "app-1.0/" in a typical distribution. A top-level
 * regular file means there is none. */
static int archive_top(const uint8_t *img, size_t len, char *top, size_t n)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    int one = 0;
    top[0] = 0;
    struct archive_entry *ae;
    if (archive_read_open_memory(a, img, len) == ARCHIVE_OK) {
        one = 1;
        while (one && archive_read_next_header(a, &ae) == ARCHIVE_OK) {
            const char *name = member_name(ae);
            if (!name) continue;
            const char *slash = strchr(name, '/');
            size_t tl = slash ? (size_t)(slash - name) : strlen(name);
            if (!slash && archive_entry_filetype(ae) != AE_IFDIR) one = 0;
            else if (!top[0] && tl < n) snprintf(top, n, "%.*s", (int)tl, name);
            else if (strlen(top) != tl || strncmp(top, name, tl) != 0) one = 0;
            archive_read_data_skip(a);
        }
    }
    archive_read_free(a);
    return one && top[0];
}

int hpk_snapshot_archive(struct hpk_snapshot *s, const char *file, const struct hpk_tree_dst *dst, int need_top,
                         char *top, size_t topn, struct hpk_perr *e)
{
    uint8_t *img;
    size_t len;
    int status = dst->status;
    const char *prefix = dst->prefix;
    if (hpk_read_file(file, &img, &len) != 0) return hpk_perr_set(e, status, "%s: cannot read: %s", file, strerror(errno));
    if (s->n_archives < HPK_MAX_ARCHIVES) {
        s->archives[s->n_archives] = strdup(file);
        hpk_hash_bytes(img, len, s->archive_hash[s->n_archives]);
        s->n_archives++;
    }
    int has_top = archive_top(img, len, top, topn);
    if (need_top && !has_top) {
        free(img);
        return hpk_perr_set(e, status, "%s: not an archive with one top directory (a Java home)", file);
    }
    if (!has_top) top[0] = 0;
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    if (archive_read_open_memory(a, img, len) != ARCHIVE_OK) {
        archive_read_free(a);
        free(img);
        return hpk_perr_set(e, status, "%s: not a directory nor an archive hpack can read", file);
    }
    if (!hpk_snapshot_find(s, prefix) && !hpk_snapshot_add(s, prefix, S_IFDIR | 0755, dst->role))
        return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    size_t tl = strlen(top);
    struct archive_entry *ae;
    int r, rc = 0;
    while (rc == 0 && (r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
        const char *name = member_name(ae);
        if (!name) continue;
        const char *rel = tl ? name + tl : name; /* archive_top checked every member starts with top */
        while (*rel == '/') rel++;
        char ent[PATH_MAX];
        size_t rl = strlen(rel);
        while (rl && rel[rl - 1] == '/') rl--;
        if (rl == 0) continue;
        snprintf(ent, sizeof ent, "%s/%.*s", prefix, (int)rl, rel);
        if (!hpk_layout_path_ok(ent, strlen(ent))) {
            rc = hpk_perr_set(e, status, "%s: member %s: name not allowed in a payload", file, name);
            break;
        }
        /* Parents first; archives may omit directory members. A member
         * below a symlink member would be unpacked through the link (where
         * tar puts it depends on the order; a payload cannot hold it). */
        char par[PATH_MAX];
        snprintf(par, sizeof par, "%s", ent);
        for (char *q = par + strlen(prefix) + 1; rc == 0 && (q = strchr(q, '/')); q++) {
            *q = 0;
            struct hpk_item *p = hpk_snapshot_find(s, par);
            if (p && S_ISLNK(p->mode))
                rc = hpk_perr_set(e, status, "%s: member %s lies below the symlink %.*s", file, name,
                                  (int)(rel - name) + (int)(q - par) - (int)strlen(prefix) - 1, name);
            else if (!p && !hpk_snapshot_add(s, par, S_IFDIR | 0755, dst->role))
                rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
            *q = '/';
        }
        if (rc) break;
        mode_t m = archive_entry_filetype(ae);
        struct hpk_item *it;
        const char *hl = archive_entry_hardlink(ae);
        struct hpk_item *was = hpk_snapshot_find(s, ent);
        if (was && m == AE_IFLNK && S_ISDIR(was->mode)) {
            /* the same, members in the other order: name one that lies below */
            size_t el = strlen(ent);
            for (size_t k = 0; k < s->n; k++)
                if (!strncmp(s->items[k].path, ent, el) && s->items[k].path[el] == '/') {
                    rc = hpk_perr_set(e, status, "%s: member %s%s%s lies below the symlink %s", file, top,
                                      tl ? "/" : "", s->items[k].path + strlen(prefix) + 1, name);
                    break;
                }
            if (rc) break;
        }
        if (was && (m != AE_IFDIR || !S_ISDIR(was->mode))) { /* tar would replace it: which one is meant? */
            rc = hpk_perr_set(e, status, "%s: member %s appears twice", file, name);
            break;
        }
        if (hl) {
            /* A hard link: the content of an earlier member. */
            char tgt[PATH_MAX];
            while (hl[0] == '.' && hl[1] == '/') hl += 2;
            /* the target lies in the same top directory as the members, or it names nothing of ours */
            int in_top = !tl || (!strncmp(hl, top, tl) && (hl[tl] == '/' || !hl[tl]));
            snprintf(tgt, sizeof tgt, "%s/%s", prefix, !in_top ? "" : tl ? hl + tl + (hl[tl] == '/') : hl);
            struct hpk_item *src = in_top ? hpk_snapshot_find(s, tgt) : NULL;
            if (!src || !S_ISREG(src->mode)) {
                rc = hpk_perr_set(e, status, "%s: hard link %s to missing %s", file, name, hl);
                break;
            }
            size_t si = (size_t)(src - s->items);
            if (!(it = hpk_snapshot_add(s, ent, 0, dst->role)) || hpk_item_copy(it, &s->items[si]) != 0) rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
            continue;
        }
        if (m == AE_IFDIR) {
            if (!hpk_snapshot_find(s, ent) && !hpk_snapshot_add(s, ent, S_IFDIR | 0755, dst->role)) rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
        } else if (m == AE_IFLNK) {
            /* Stored even when it points outside the archive: archive_links
             * drops it then, but until then a member below it is refused
             * whichever comes first (the directory walk never sees one). */
            const char *t = archive_entry_symlink(ae);
            if (!t || !*t) {
                hpk_warn("%s: skipping symlink %s without a target", file, name);
                continue;
            }
            if (!(it = hpk_snapshot_add(s, ent, S_IFLNK | 0777, dst->role))) {
                rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
                break;
            }
            it->size = strlen(t);
            it->data = (uint8_t *)strdup(t);
            hpk_hash_bytes(t, it->size, it->hash);
        } else if (m == AE_IFREG) {
            la_int64_t sz = archive_entry_size(ae);
            if (!(it = hpk_snapshot_add(s, ent, hpk_file_mode(archive_entry_perm(ae)), dst->role))) {
                rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
                break;
            }
            it->data = malloc(sz > 0 ? (size_t)sz : 1);
            la_ssize_t got = sz > 0 && it->data ? archive_read_data(a, it->data, (size_t)sz) : 0;
            if (!it->data || got != sz) {
                rc = hpk_perr_set(e, status, "%s: member %s: %s", file, name,
                                  it->data ? archive_error_string(a) : "out of memory");
                break;
            }
            it->size = (size_t)sz;
            hpk_hash_bytes(it->data, it->size, it->hash);
            it->no_compress = hpk_already_compressed(ent);
        } else {
            rc = hpk_perr_set(e, status, "%s: member %s is not a file, directory or symlink", file, name);
        }
    }
    if (rc == 0 && r != ARCHIVE_EOF && r != ARCHIVE_OK)
        rc = hpk_perr_set(e, status, "%s: %s", file, archive_error_string(a));
    archive_read_free(a);
    free(img);
    if (rc) return rc;
    return hpk_archive_links(s, file, prefix, status, e);
}
