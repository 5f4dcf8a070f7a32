/*
 * ocidoc.c - `hpack image`'s output: the image config, manifest and index
 * (JSON, no build time in them, a base image's settings carried over) and
 * the archive that holds them with the blobs (a tar, sorted, dated
 * HPK_FIXED_MTIME, written to a temporary name and renamed).
 */
#define _GNU_SOURCE
#include "hpk_image.h"
#include "hpk_jsonout.h"
#include "hpk_verify.h"
#include "../layout/hpk_tree.h"
#include "../layout/hpk_store.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- JSON documents ---- */
static void label(FILE *f, const char *k, const char *v, int *first)
{
    fputs(*first ? "" : ",", f);
    *first = 0;
    hpk_json_str(f, k);
    fputc(':', f);
    hpk_json_str(f, v);
}

static int our_label(struct hpk_span k)
{
    return hpk_json_key_is(k, "org.hpack.base-hash") || hpk_json_key_is(k, "org.hpack.full-hash") || hpk_json_key_is(k, "org.hpack.java") ||
           hpk_json_key_is(k, "org.hpack.main-class") || hpk_json_key_is(k, "org.opencontainers.image.title");
}

char *hpk_image_config_json(const struct hpk_image_opts *o, const char *name, const char *arch, const struct hpk_artifact *a,
                         const struct hpk_config *in, const struct hpk_base *b, struct hpk_blob *layers, int nl,
                         size_t *len)
{
    char *buf, hex[33], full[33], ep[4200], user[32];
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    hpk_hash_hex(a->p.footer.base_hash, hex);
    hpk_hash_hex(a->p.footer.full_hash, full);
    snprintf(ep, sizeof ep, "/app/%s", name);
    snprintf(user, sizeof user, "%u:%u", o->uid, o->gid);
    struct hpk_span bcfg = {0}, v;
    int have_bcfg = b && hpk_json_get(b->config, "config", &bcfg);
    fprintf(f, "{\"architecture\":\"%s\",\"config\":{", arch);
    /* The base's settings stay (its Env above all), but for what running
     * this app decides: entry point, command, user, working directory. */
    int have_env = 0;
    if (have_bcfg) {
        const char *p = hpk_json_ws(bcfg.p, bcfg.end) + 1;
        struct hpk_span k;
        while (hpk_json_next(&p, bcfg.end, &k, &v) == 1) {
            if (hpk_json_key_is(k, "Entrypoint") || hpk_json_key_is(k, "Cmd") || hpk_json_key_is(k, "User") || hpk_json_key_is(k, "WorkingDir") ||
                hpk_json_key_is(k, "Labels"))
                continue;
            if (hpk_json_key_is(k, "Env")) have_env = 1;
            fprintf(f, "%.*s:%.*s,", (int)(k.end - k.p), k.p, (int)(v.end - v.p), v.p);
        }
    }
    fputs("\"Entrypoint\":[", f);
    hpk_json_str(f, ep);
    fputs("],", f);
    if (!have_env) fputs("\"Env\":[\"PATH=/usr/local/bin:/usr/bin:/bin\"],", f);
    fputs("\"Labels\":{", f);
    int first = 1;
    struct hpk_span bl;
    if (have_bcfg && hpk_json_get(bcfg, "Labels", &bl) && *hpk_json_ws(bl.p, bl.end) == '{') {
        const char *p = hpk_json_ws(bl.p, bl.end) + 1;
        struct hpk_span k;
        while (hpk_json_next(&p, bl.end, &k, &v) == 1) {
            if (our_label(k)) continue;
            fprintf(f, "%s%.*s:%.*s", first ? "" : ",", (int)(k.end - k.p), k.p, (int)(v.end - v.p), v.p);
            first = 0;
        }
    }
    label(f, "org.hpack.base-hash", hex, &first);
    label(f, "org.hpack.full-hash", full, &first);
    label(f, "org.hpack.java", in->launch.runtime_version ? in->launch.runtime_version : "", &first);
    label(f, "org.hpack.main-class", in->launch.main, &first);
    label(f, "org.opencontainers.image.title", name, &first);
    fprintf(f, "},\"User\":\"%s\",\"WorkingDir\":\"/\"},\"created\":\"%s\",\"history\":[", user, HPK_IMAGE_TIME);
    struct hpk_span h;
    if (b && hpk_json_get(b->config, "history", &h)) hpk_json_copy_elements(f, h);
    for (int i = 0; i < nl; i++)
        fprintf(f, "%s{\"created\":\"%s\",\"created_by\":\"hpack image: %s\"}", i ? "," : "", HPK_IMAGE_TIME,
                i == nl - 1 ? "the artifact in /app and unpacked in " HPK_STORE_DEFAULT
                            : "C library closure of the runtime, /etc, /tmp");
    fputs("],\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[", f);
    struct hpk_span rf, di;
    if (b && hpk_json_get(b->config, "rootfs", &rf) && hpk_json_get(rf, "diff_ids", &di)) hpk_json_copy_elements(f, di);
    for (int i = 0; i < nl; i++) fprintf(f, "%s\"%s\"", i ? "," : "", layers[i].diff_id);
    fputs("],\"type\":\"layers\"}}", f);
    if (fclose(f) != 0) return NULL;
    return buf;
}

char *hpk_image_manifest_json(const struct hpk_blob *config, const struct hpk_base *b, const struct hpk_blob *layers, int nl,
                           size_t *len)
{
    char *buf;
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    fprintf(f, "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu},"
               "\"layers\":[",
            HPK_MT_MANIFEST, HPK_MT_CONFIG, config->digest, (unsigned long long)config->size);
    if (b) hpk_json_copy_elements(f, b->layers);
    for (int i = 0; i < nl; i++)
        fprintf(f, "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu}", i ? "," : "", HPK_MT_LAYER_GZ,
                layers[i].digest, (unsigned long long)layers[i].size);
    fputs("]}", f);
    if (fclose(f) != 0) return NULL;
    return buf;
}

char *hpk_image_index_json(const struct hpk_blob *manifest, const char *arch, const char *tag, size_t *len)
{
    char *buf;
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    fprintf(f, "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
               "\"size\":%llu,\"platform\":{\"architecture\":\"%s\",\"os\":\"linux\"},\"annotations\":{"
               "\"io.containerd.image.name\":",
            HPK_MT_INDEX, HPK_MT_MANIFEST, manifest->digest, (unsigned long long)manifest->size, arch);
    hpk_json_str(f, tag);
    fputs(",\"org.opencontainers.image.ref.name\":", f);
    hpk_json_str(f, tag);
    fputs("}}]}", f);
    if (fclose(f) != 0) return NULL;
    return buf;
}

/* ---- the image archive ---- */

static int cmp_out(const void *x, const void *y)
{
    return strcmp(((const struct hpk_outfile *)x)->name, ((const struct hpk_outfile *)y)->name);
}

int hpk_image_write_archive(const char *out, struct hpk_outfile *files, size_t n, struct hpk_err *e)
{
    qsort(files, n, sizeof *files, cmp_out);
    char *tmp;
    if (asprintf(&tmp, "%s.tmp.%ld", out, (long)getpid()) < 0) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    hpk_tmp_register(tmp);
    struct archive *ar = archive_write_new();
    archive_write_set_format_pax_restricted(ar);
    int rc = 0;
    archive_write_set_bytes_per_block(ar, 1 << 20); /* fewer system calls; same bytes (diffx.c) */
    if (archive_write_open_filename(ar, tmp) != ARCHIVE_OK)
        rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
    static const char *const dirs[] = {"blobs", "blobs/sha256"};
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, dirs[i]);
        archive_entry_set_mode(ae, S_IFDIR | 0755);
        archive_entry_set_mtime(ae, HPK_FIXED_MTIME, 0);
        if (archive_write_header(ar, ae) != ARCHIVE_OK)
            rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
        archive_entry_free(ae);
    }
    static char buf[1 << 16];
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, files[i].name);
        archive_entry_set_mode(ae, S_IFREG | 0644);
        archive_entry_set_mtime(ae, HPK_FIXED_MTIME, 0);
        archive_entry_set_size(ae, (la_int64_t)files[i].size);
        if (archive_write_header(ar, ae) != ARCHIVE_OK)
            rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
        archive_entry_free(ae);
        if (rc) break;
        if (files[i].data) {
            if (archive_write_data(ar, files[i].data, files[i].size) != (la_ssize_t)files[i].size)
                rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
            continue;
        }
        FILE *f = fopen(files[i].file, "rb");
        if (!f) {
            rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", files[i].file, strerror(errno));
            break;
        }
        size_t got, total = 0;
        while (rc == 0 && (got = fread(buf, 1, sizeof buf, f)) > 0) {
            total += got;
            if (archive_write_data(ar, buf, got) != (la_ssize_t)got)
                rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
        }
        if (rc == 0 && (ferror(f) || total != files[i].size))
            rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: read error", files[i].file);
        fclose(f);
    }
    if (archive_write_close(ar) != ARCHIVE_OK && rc == 0)
        rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
    archive_write_free(ar);
    if (rc == 0 && hpk_sync_path(tmp, 0) != 0) rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", out, strerror(errno));
    if (rc == 0 && rename(tmp, out) != 0) rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, strerror(errno));
    if (rc != 0) unlink(tmp);
    hpk_tmp_forget(tmp);
    free(tmp);
    return rc;
}
