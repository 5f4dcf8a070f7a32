/*
 * ocibase.c - `hpack image --base oci-archive:FILE`: read a base image (its
 * index, manifest for our architecture, config and layer blobs, each
 * checked against its digest), with a tiny JSON reader that locates values
 * as spans of the original text, copied verbatim into our documents.
 */
#define _GNU_SOURCE
#include "hpk_image.h"
#include "hpk_inputs.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the JSON reader ---- */

const char *hpk_json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* End of the JSON value at p, or NULL if malformed. */
static const char *skip_value(const char *p, const char *end)
{
    p = hpk_json_ws(p, end);
    if (p >= end) return NULL;
    if (*p == '"') {
        for (p++; p < end; p++) {
            if (*p == '\\') p++;
            else if (*p == '"') return p + 1;
        }
        return NULL;
    }
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = hpk_json_ws(p + 1, end);
        if (p < end && *p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                p = skip_value(p, end); /* key */
                if (!p || (p = hpk_json_ws(p, end)) >= end || *p != ':') return NULL;
                p++;
            }
            p = skip_value(p, end);
            if (!p || (p = hpk_json_ws(p, end)) >= end) return NULL;
            if (*p == close) return p + 1;
            if (*p != ',') return NULL;
            p++;
        }
    }
    while (p < end && !strchr(",}] \t\r\n", *p)) p++;
    return p;
}

/* Next member of an object (or element of an array: key NULL) from *pos,
 * which starts just after '{' or '['. 1 with spans set, 0 at the end, -1 if malformed. */
int hpk_json_next(const char **pos, const char *end, struct hpk_span *key, struct hpk_span *val)
{
    const char *p = hpk_json_ws(*pos, end);
    if (p < end && *p == ',') p = hpk_json_ws(p + 1, end);
    if (p >= end) return -1;
    if (*p == '}' || *p == ']') return 0;
    if (key) {
        if (*p != '"') return -1;
        key->p = p;
        if (!(key->end = skip_value(p, end))) return -1;
        p = hpk_json_ws(key->end, end);
        if (p >= end || *p != ':') return -1;
        p = hpk_json_ws(p + 1, end);
    }
    val->p = p;
    if (!(val->end = skip_value(p, end))) return -1;
    *pos = val->end;
    return 1;
}

int hpk_json_key_is(struct hpk_span k, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(k.end - k.p) == n + 2 && !memcmp(k.p + 1, name, n);
}

/* The value of `name` in the object `obj`; 0 if absent or not an object. */
int hpk_json_get(struct hpk_span obj, const char *name, struct hpk_span *out)
{
    const char *p = hpk_json_ws(obj.p, obj.end);
    if (p >= obj.end || *p != '{') return 0;
    p++;
    struct hpk_span k, v;
    while (hpk_json_next(&p, obj.end, &k, &v) == 1)
        if (hpk_json_key_is(k, name)) {
            *out = v;
            return 1;
        }
    return 0;
}

/* A JSON string value without its quotes (no unescaping: digests, media types). */
char *hpk_json_strdup(struct hpk_span v)
{
    if (v.end - v.p < 2 || *v.p != '"') return NULL;
    return strndup(v.p + 1, (size_t)(v.end - v.p - 2));
}

/* ---- the base image (--base oci-archive:FILE) ---- */


void hpk_base_free(struct hpk_base *b)
{
    for (size_t i = 0; i < b->n; i++) free(b->m[i].name), free(b->m[i].data);
    free(b->m);
    free(b->blobs);
    memset(b, 0, sizeof *b);
}

struct hpk_base_member *hpk_base_find(struct hpk_base *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (!strcmp(b->m[i].name, name) || (!strncmp(b->m[i].name, "./", 2) && !strcmp(b->m[i].name + 2, name)))
            return &b->m[i];
    return NULL;
}

static struct hpk_base_member *blob(struct hpk_base *b, struct hpk_span desc)
{
    struct hpk_span d;
    char *dg = hpk_json_get(desc, "digest", &d) ? hpk_json_strdup(d) : NULL;
    if (!dg || strncmp(dg, "sha256:", 7)) {
        free(dg);
        return NULL;
    }
    char name[128];
    snprintf(name, sizeof name, "blobs/sha256/%.70s", dg + 7);
    free(dg);
    struct hpk_base_member *m = hpk_base_find(b, name);
    /* A base is input: its blobs must be what their digests say. */
    if (m) {
        char h[72];
        hpk_sha256_buf(m->data, m->size, h);
        if (strncmp(h + 7, name + 13, 64)) return NULL;
    }
    return m;
}

/* Every regular file of the archive into b->m, in memory. */
static int read_members(const char *file, struct hpk_base *b, struct hpk_err *e)
{
    struct archive *ar = archive_read_new();
    archive_read_support_format_tar(ar);
    archive_read_support_format_gnutar(ar);
    hpk_archive_filters(ar);
    if (archive_read_open_filename(ar, file, 1 << 16) != ARCHIVE_OK) {
        hpk_fail(e, HPK_ST_USAGE, "--base %s: %s", file, archive_error_string(ar));
        archive_read_free(ar);
        return -1;
    }
    struct archive_entry *ae;
    int r, rc = 0;
    while ((r = archive_read_next_header(ar, &ae)) == ARCHIVE_OK) {
        if (!S_ISREG(archive_entry_mode(ae))) continue;
        la_int64_t sz = archive_entry_size(ae);
        struct hpk_base_member *nm = realloc(b->m, (b->n + 1) * sizeof *nm);
        char *data = malloc(sz > 0 ? (size_t)sz : 1);
        if (!nm || !data) {
            free(data);
            rc = hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
            break;
        }
        b->m = nm;
        if (archive_read_data(ar, data, (size_t)sz) != sz) {
            free(data);
            rc = hpk_fail(e, HPK_ST_USAGE, "--base %s: %s", file, archive_error_string(ar));
            break;
        }
        b->m[b->n++] = (struct hpk_base_member){strdup(archive_entry_pathname(ae)), data, (size_t)sz};
    }
    if (rc == 0 && r != ARCHIVE_EOF) rc = hpk_fail(e, HPK_ST_USAGE, "--base %s: %s", file, archive_error_string(ar));
    archive_read_free(ar);
    return rc;
}

int hpk_base_load(const char *spec, const char *arch, struct hpk_base *b, struct hpk_err *e)
{
    memset(b, 0, sizeof *b);
    const char *file = spec + strlen("oci-archive:");
    if (read_members(file, b, e) != 0) return -1;
    struct hpk_base_member *idx = hpk_base_find(b, "index.json");
    if (!idx) return hpk_fail(e, HPK_ST_USAGE, "--base %s: no index.json: not an OCI image archive", file);
    /* index -> (nested index ->) manifest: the one for our platform, else the only one. */
    struct hpk_span doc = {idx->data, idx->data + idx->size}, mans, v, desc = {0};
    for (int depth = 0; depth < 2; depth++) {
        if (!hpk_json_get(doc, "manifests", &mans))
            return hpk_fail(e, HPK_ST_USAGE, "--base %s: an index without manifests", file);
        const char *p = hpk_json_ws(mans.p, mans.end) + 1;
        struct hpk_span d;
        int count = 0, picked = 0;
        while (hpk_json_next(&p, mans.end, NULL, &d) == 1) {
            struct hpk_span plat, a;
            count++;
            char *as = hpk_json_get(d, "platform", &plat) && hpk_json_get(plat, "architecture", &a) ? hpk_json_strdup(a) : NULL;
            if (!picked && (count == 1 || (as && !strcmp(as, arch)))) desc = d, picked = as && !strcmp(as, arch);
            free(as);
        }
        if (!count) return hpk_fail(e, HPK_ST_USAGE, "--base %s: an index without manifests", file);
        struct hpk_base_member *m = blob(b, desc);
        if (!m) return hpk_fail(e, HPK_ST_USAGE, "--base %s: a manifest blob is missing or damaged", file);
        char *mt = hpk_json_get(desc, "mediaType", &v) ? hpk_json_strdup(v) : NULL;
        int nested = mt && !strcmp(mt, HPK_MT_INDEX);
        free(mt);
        doc = (struct hpk_span){m->data, m->data + m->size};
        if (!nested) break;
    }
    b->manifest = doc;
    struct hpk_span cdesc, lay;
    struct hpk_base_member *cm;
    if (!hpk_json_get(doc, "config", &cdesc) || !(cm = blob(b, cdesc)))
        return hpk_fail(e, HPK_ST_USAGE, "--base %s: the image config is missing or damaged", file);
    b->config = (struct hpk_span){cm->data, cm->data + cm->size};
    if (!hpk_json_get(doc, "layers", &lay) || *hpk_json_ws(lay.p, lay.end) != '[')
        return hpk_fail(e, HPK_ST_USAGE, "--base %s: the manifest has no layers", file);
    b->layers = lay;
    const char *p = hpk_json_ws(lay.p, lay.end) + 1;
    struct hpk_span d;
    while (hpk_json_next(&p, lay.end, NULL, &d) == 1) {
        struct hpk_base_member *m = blob(b, d);
        if (!m) return hpk_fail(e, HPK_ST_USAGE, "--base %s: a layer blob is missing or damaged", file);
        char **nb = realloc(b->blobs, (b->n_blobs + 1) * sizeof *nb);
        if (!nb) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
        b->blobs = nb;
        b->blobs[b->n_blobs++] = m->name;
    }
    struct hpk_span a;
    char *as = hpk_json_get(b->config, "architecture", &a) ? hpk_json_strdup(a) : NULL;
    int same = as && !strcmp(as, arch);
    if (!same) {
        hpk_fail(e, HPK_ST_USAGE, "--base %s: its architecture is %s, the runtime's is %s", file, as ? as : "unknown",
                     arch);
        free(as);
        return -1;
    }
    free(as);
    return 0;
}

/* The elements of array `arr` (verbatim), each followed by ", ". */
void hpk_json_copy_elements(FILE *f, struct hpk_span arr)
{
    const char *p = hpk_json_ws(arr.p, arr.end);
    if (p >= arr.end || *p != '[') return;
    p++;
    struct hpk_span v;
    while (hpk_json_next(&p, arr.end, NULL, &v) == 1) fprintf(f, "%.*s,", (int)(v.end - v.p), v.p);
}
