/*
 * image.c - `hpack image`: an OCI image archive (image layout 1.0 in a tar,
 * the `oci-archive:` form of skopeo and podman) that runs the artifact.
 *
 * Like Jib and ko: no daemon, no Dockerfile, no shell in the image, and the
 * same input gives the same bytes. Two layers:
 *   1. the C library closure of the runtime (hpk_closure_build), a minimal
 *      /etc (passwd and group naming the image user, nsswitch.conf), /tmp
 *      (1777) and the image user's home; left out with --base, whose layers
 *      come first instead;
 *   2. the artifact at /app/NAME and its tree unpacked, by the launcher's
 *      own unpack code, in the system store /var/lib/hpack/<base hash>/
 *      (layout/hpk_store.h): the first start in a container is a warm
 *      start, and needs no writable file system.
 * Layers are sorted, owned by root, dated HPK_FIXED_MTIME and gzipped
 * deterministically (ocilayer.c); the config has no build time in it.
 */
#define _GNU_SOURCE
#include "hpk_cmds.h"
#include "hpk_image.h"
#include "hpk_verify.h"
#include "../layout/hpk_tree.h"
#include "../layout/hpk_store.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER_GZ "application/vnd.oci.image.layer.v1.tar+gzip"

/* The default image user: distroless's "nonroot", which ko uses too. */
#define DEFAULT_UID 65532u

struct opts {
    const char *artifact, *out, *tag, *base;
    unsigned uid, gid;
};

/* ---- a tiny JSON reader for a base image's index, manifest and config:
 * values are located as spans of the original text and copied verbatim ---- */
struct span {
    const char *p, *end;
};

static const char *ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* End of the JSON value at p, or NULL if malformed. */
static const char *skip_value(const char *p, const char *end)
{
    p = ws(p, end);
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
        p = ws(p + 1, end);
        if (p < end && *p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                p = skip_value(p, end); /* key */
                if (!p || (p = ws(p, end)) >= end || *p != ':') return NULL;
                p++;
            }
            p = skip_value(p, end);
            if (!p || (p = ws(p, end)) >= end) return NULL;
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
static int next_member(const char **pos, const char *end, struct span *key, struct span *val)
{
    const char *p = ws(*pos, end);
    if (p < end && *p == ',') p = ws(p + 1, end);
    if (p >= end) return -1;
    if (*p == '}' || *p == ']') return 0;
    if (key) {
        if (*p != '"') return -1;
        key->p = p;
        if (!(key->end = skip_value(p, end))) return -1;
        p = ws(key->end, end);
        if (p >= end || *p != ':') return -1;
        p = ws(p + 1, end);
    }
    val->p = p;
    if (!(val->end = skip_value(p, end))) return -1;
    *pos = val->end;
    return 1;
}

static int key_is(struct span k, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(k.end - k.p) == n + 2 && !memcmp(k.p + 1, name, n);
}

/* The value of `name` in the object `obj`; 0 if absent or not an object. */
static int get(struct span obj, const char *name, struct span *out)
{
    const char *p = ws(obj.p, obj.end);
    if (p >= obj.end || *p != '{') return 0;
    p++;
    struct span k, v;
    while (next_member(&p, obj.end, &k, &v) == 1)
        if (key_is(k, name)) {
            *out = v;
            return 1;
        }
    return 0;
}

/* A JSON string value without its quotes (no unescaping: digests, media types). */
static char *str_of(struct span v)
{
    if (v.end - v.p < 2 || *v.p != '"') return NULL;
    return strndup(v.p + 1, (size_t)(v.end - v.p - 2));
}

/* ---- the base image (--base oci-archive:FILE) ---- */
struct member {
    char *name;
    char *data;
    size_t size;
};

struct base {
    struct member *m;
    size_t n;
    struct span manifest, config; /* into members' data */
    struct span layers;           /* the manifest's layers array */
    char **blobs;                 /* member names of the layer blobs to carry */
    size_t n_blobs;
};

static void base_free(struct base *b)
{
    for (size_t i = 0; i < b->n; i++) free(b->m[i].name), free(b->m[i].data);
    free(b->m);
    free(b->blobs);
    memset(b, 0, sizeof *b);
}

static struct member *member(struct base *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (!strcmp(b->m[i].name, name) || (!strncmp(b->m[i].name, "./", 2) && !strcmp(b->m[i].name + 2, name)))
            return &b->m[i];
    return NULL;
}

static struct member *blob(struct base *b, struct span desc)
{
    struct span d;
    char *dg = get(desc, "digest", &d) ? str_of(d) : NULL;
    if (!dg || strncmp(dg, "sha256:", 7)) {
        free(dg);
        return NULL;
    }
    char name[128];
    snprintf(name, sizeof name, "blobs/sha256/%.70s", dg + 7);
    free(dg);
    struct member *m = member(b, name);
    /* A base is input: its blobs must be what their digests say. */
    if (m) {
        char h[72];
        hpk_sha256_buf(m->data, m->size, h);
        if (strncmp(h + 7, name + 13, 64)) return NULL;
    }
    return m;
}

static int base_load(const char *spec, const char *arch, struct base *b, struct hpk_perr *e)
{
    memset(b, 0, sizeof *b);
    const char *file = spec + strlen("oci-archive:");
    struct archive *ar = archive_read_new();
    archive_read_support_format_tar(ar);
    archive_read_support_filter_all(ar);
    if (archive_read_open_filename(ar, file, 1 << 16) != ARCHIVE_OK) {
        hpk_perr_set(e, HPK_ST_USAGE, "--base %s: %s", file, archive_error_string(ar));
        archive_read_free(ar);
        return -1;
    }
    struct archive_entry *ae;
    int r, rc = 0;
    while ((r = archive_read_next_header(ar, &ae)) == ARCHIVE_OK) {
        if (!S_ISREG(archive_entry_mode(ae))) continue;
        la_int64_t sz = archive_entry_size(ae);
        struct member *nm = realloc(b->m, (b->n + 1) * sizeof *nm);
        char *data = malloc(sz > 0 ? (size_t)sz : 1);
        if (!nm || !data) {
            free(data);
            rc = hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
            break;
        }
        b->m = nm;
        if (archive_read_data(ar, data, (size_t)sz) != sz) {
            free(data);
            rc = hpk_perr_set(e, HPK_ST_USAGE, "--base %s: %s", file, archive_error_string(ar));
            break;
        }
        b->m[b->n++] = (struct member){strdup(archive_entry_pathname(ae)), data, (size_t)sz};
    }
    if (rc == 0 && r != ARCHIVE_EOF) rc = hpk_perr_set(e, HPK_ST_USAGE, "--base %s: %s", file, archive_error_string(ar));
    archive_read_free(ar);
    if (rc) return rc;
    struct member *idx = member(b, "index.json");
    if (!idx) return hpk_perr_set(e, HPK_ST_USAGE, "--base %s: no index.json: not an OCI image archive", file);
    /* index -> (nested index ->) manifest: the one for our platform, else the only one. */
    struct span doc = {idx->data, idx->data + idx->size}, mans, v, desc = {0};
    for (int depth = 0; depth < 2; depth++) {
        if (!get(doc, "manifests", &mans))
            return hpk_perr_set(e, HPK_ST_USAGE, "--base %s: an index without manifests", file);
        const char *p = ws(mans.p, mans.end) + 1;
        struct span d;
        int count = 0, picked = 0;
        while (next_member(&p, mans.end, NULL, &d) == 1) {
            struct span plat, a;
            count++;
            char *as = get(d, "platform", &plat) && get(plat, "architecture", &a) ? str_of(a) : NULL;
            if (!picked && (count == 1 || (as && !strcmp(as, arch)))) desc = d, picked = as && !strcmp(as, arch);
            free(as);
        }
        if (!count) return hpk_perr_set(e, HPK_ST_USAGE, "--base %s: an index without manifests", file);
        struct member *m = blob(b, desc);
        if (!m) return hpk_perr_set(e, HPK_ST_USAGE, "--base %s: a manifest blob is missing or damaged", file);
        char *mt = get(desc, "mediaType", &v) ? str_of(v) : NULL;
        int nested = mt && !strcmp(mt, MT_INDEX);
        free(mt);
        doc = (struct span){m->data, m->data + m->size};
        if (!nested) break;
    }
    b->manifest = doc;
    struct span cdesc, lay;
    struct member *cm;
    if (!get(doc, "config", &cdesc) || !(cm = blob(b, cdesc)))
        return hpk_perr_set(e, HPK_ST_USAGE, "--base %s: the image config is missing or damaged", file);
    b->config = (struct span){cm->data, cm->data + cm->size};
    if (!get(doc, "layers", &lay) || *ws(lay.p, lay.end) != '[')
        return hpk_perr_set(e, HPK_ST_USAGE, "--base %s: the manifest has no layers", file);
    b->layers = lay;
    const char *p = ws(lay.p, lay.end) + 1;
    struct span d;
    while (next_member(&p, lay.end, NULL, &d) == 1) {
        struct member *m = blob(b, d);
        if (!m) return hpk_perr_set(e, HPK_ST_USAGE, "--base %s: a layer blob is missing or damaged", file);
        char **nb = realloc(b->blobs, (b->n_blobs + 1) * sizeof *nb);
        if (!nb) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
        b->blobs = nb;
        b->blobs[b->n_blobs++] = m->name;
    }
    struct span a;
    char *as = get(b->config, "architecture", &a) ? str_of(a) : NULL;
    int same = as && !strcmp(as, arch);
    if (!same) {
        hpk_perr_set(e, HPK_ST_USAGE, "--base %s: its architecture is %s, the runtime's is %s", file, as ? as : "unknown",
                     arch);
        free(as);
        return -1;
    }
    free(as);
    return 0;
}

/* The elements of array `arr` (verbatim), each followed by ", ". */
static void copy_elements(FILE *f, struct span arr)
{
    const char *p = ws(arr.p, arr.end);
    if (p >= arr.end || *p != '[') return;
    p++;
    struct span v;
    while (next_member(&p, arr.end, NULL, &v) == 1) fprintf(f, "%.*s,", (int)(v.end - v.p), v.p);
}

/* ---- the first layer: C library, /etc, /tmp ---- */
static char *user_name(unsigned uid) { return uid == 0 ? "root" : "app"; }

static int add_text(struct hpk_litems *l, const char *path, const char *text)
{
    struct hpk_litem *it = hpk_litems_add_p(l, path, S_IFREG | 0644);
    if (!it || !(it->owned = (uint8_t *)strdup(text))) return -1;
    it->data = it->owned;
    it->size = strlen(text);
    return 0;
}

static int os_layer(const struct opts *o, const struct hpk_artifact *a, const char *java, struct hpk_litems *l,
                    struct hpk_closure *c, struct hpk_perr *e)
{
    c->out = l;
    c->arch_only = o->base != NULL;
    if (hpk_closure_build(a, a->fd, java, c, e) != 0) return -1;
    char *passwd, *group, home[64];
    snprintf(home, sizeof home, "home/%s", user_name(o->uid));
    if (o->uid == 0) {
        passwd = strdup("root:x:0:0:root:/root:/sbin/nologin\n");
        group = strdup("root:x:0:\n");
    } else {
        if (asprintf(&passwd, "root:x:0:0:root:/root:/sbin/nologin\napp:x:%u:%u:app:/%s:/sbin/nologin\n", o->uid,
                     o->gid, home) < 0)
            passwd = NULL;
        if (asprintf(&group, "root:x:0:\n%s:x:%u:\n", o->gid == 0 ? "app-root" : "app", o->gid) < 0) group = NULL;
        if (o->gid == 0 && group) strcpy(group, "root:x:0:\n");
    }
    int rc = !passwd || !group || add_text(l, "etc/passwd", passwd) || add_text(l, "etc/group", group) ||
             add_text(l, "etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n");
    free(passwd);
    free(group);
    if (rc) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    hpk_litems_add(l, "tmp", S_IFDIR | 01777);
    /* Mount points an engine provides; there for a plain chroot too. */
    hpk_litems_add(l, "proc", S_IFDIR | 0555);
    hpk_litems_add(l, "sys", S_IFDIR | 0555);
    hpk_litems_add(l, "dev", S_IFDIR | 0755);
    hpk_litems_add(l, "root", S_IFDIR | 0700);
    if (o->uid != 0) {
        struct hpk_litem *h = hpk_litems_add_p(l, home, S_IFDIR | 0700);
        if (!h) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
        h->uid = o->uid;
        h->gid = o->gid;
    }
    return 0;
}

/* ---- the second layer: /app/NAME and the store tree ---- */
static int app_layer(const char *name, const struct hpk_artifact *a, const char *tmpdir, struct hpk_litems *l,
                     struct hpk_perr *e)
{
    char hex[33], path[4200], src[64];
    hpk_hash_hex(a->p.footer.base_hash, hex);
    struct stat st;
    if (fstat(a->fd, &st) != 0) return hpk_perr_set(e, HPK_ST_ARTIFACT, "%s: %s", name, strerror(errno));
    snprintf(path, sizeof path, "app/%s", name);
    struct hpk_litem *it = hpk_litems_add_p(l, path, S_IFREG | 0755);
    if (!it) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    /* The very file opened and checked, whatever happens to its name. */
    snprintf(src, sizeof src, "/proc/self/fd/%d", a->fd);
    it->src = strdup(src);
    it->size = (size_t)st.st_size;
    /* The store tree, by the launcher's unpack code, cache included (as
     * hpack install makes it). */
    snprintf(path, sizeof path, "%s/store", tmpdir);
    if (mkdir(path, 0700) != 0) return hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", path, strerror(errno));
    int sfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct hpk_err le;
    int rc = 0;
    if (sfd < 0) return hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", path, strerror(errno));
    if (hpk_unpack_tree(a, sfd, hex, 1, &le) != 0) {
        rc = hpk_perr_set(e, le.code == HPK_EXIT_PAYLOAD ? HPK_ST_ARTIFACT : HPK_ST_OUTPUT, "%s", le.msg);
    } else {
        int tree = openat(sfd, hex, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tree < 0 || hpk_unpack_cache(a, tree, &le) != 0)
            rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s", tree < 0 ? strerror(errno) : le.msg);
        if (tree >= 0) close(tree);
    }
    close(sfd);
    if (rc) return rc;
    char *tsrc, *tdst;
    if (asprintf(&tsrc, "%s/store/%s", tmpdir, hex) < 0 || asprintf(&tdst, "%s/%s", HPK_STORE_DEFAULT + 1, hex) < 0)
        return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    /* Its parents as the store rule wants them: root's, 0755. */
    hpk_litems_add_p(l, HPK_STORE_DEFAULT + 1, S_IFDIR | 0755);
    rc = hpk_litems_add_tree(l, tsrc, tdst, e);
    free(tsrc);
    free(tdst);
    return rc;
}

/* ---- JSON documents ---- */
static void label(FILE *f, const char *k, const char *v, int *first)
{
    fputs(*first ? "" : ",", f);
    *first = 0;
    hpk_json_str(f, k);
    fputc(':', f);
    hpk_json_str(f, v);
}

static int our_label(struct span k)
{
    return key_is(k, "org.hpack.base-hash") || key_is(k, "org.hpack.full-hash") || key_is(k, "org.hpack.java") ||
           key_is(k, "org.hpack.main-class") || key_is(k, "org.opencontainers.image.title");
}

static char *config_json(const struct opts *o, const char *name, const char *arch, const struct hpk_artifact *a,
                         const struct hpk_config *in, const struct base *b, struct hpk_blob *layers, int nl,
                         size_t *len)
{
    char *buf, hex[33], full[33], ep[4200], user[32];
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    hpk_hash_hex(a->p.footer.base_hash, hex);
    hpk_hash_hex(a->p.footer.full_hash, full);
    snprintf(ep, sizeof ep, "/app/%s", name);
    snprintf(user, sizeof user, "%u:%u", o->uid, o->gid);
    struct span bcfg = {0}, v;
    int have_bcfg = b && get(b->config, "config", &bcfg);
    fprintf(f, "{\"architecture\":\"%s\",\"config\":{", arch);
    /* The base's settings stay (its Env above all), but for what running
     * this app decides: entry point, command, user, working directory. */
    int have_env = 0;
    if (have_bcfg) {
        const char *p = ws(bcfg.p, bcfg.end) + 1;
        struct span k;
        while (next_member(&p, bcfg.end, &k, &v) == 1) {
            if (key_is(k, "Entrypoint") || key_is(k, "Cmd") || key_is(k, "User") || key_is(k, "WorkingDir") ||
                key_is(k, "Labels"))
                continue;
            if (key_is(k, "Env")) have_env = 1;
            fprintf(f, "%.*s:%.*s,", (int)(k.end - k.p), k.p, (int)(v.end - v.p), v.p);
        }
    }
    fputs("\"Entrypoint\":[", f);
    hpk_json_str(f, ep);
    fputs("],", f);
    if (!have_env) fputs("\"Env\":[\"PATH=/usr/local/bin:/usr/bin:/bin\"],", f);
    fputs("\"Labels\":{", f);
    int first = 1;
    struct span bl;
    if (have_bcfg && get(bcfg, "Labels", &bl) && *ws(bl.p, bl.end) == '{') {
        const char *p = ws(bl.p, bl.end) + 1;
        struct span k;
        while (next_member(&p, bl.end, &k, &v) == 1) {
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
    struct span h;
    if (b && get(b->config, "history", &h)) copy_elements(f, h);
    for (int i = 0; i < nl; i++)
        fprintf(f, "%s{\"created\":\"%s\",\"created_by\":\"hpack image: %s\"}", i ? "," : "", HPK_IMAGE_TIME,
                i == nl - 1 ? "the artifact in /app and unpacked in " HPK_STORE_DEFAULT
                            : "C library closure of the runtime, /etc, /tmp");
    fputs("],\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[", f);
    struct span rf, di;
    if (b && get(b->config, "rootfs", &rf) && get(rf, "diff_ids", &di)) copy_elements(f, di);
    for (int i = 0; i < nl; i++) fprintf(f, "%s\"%s\"", i ? "," : "", layers[i].diff_id);
    fputs("],\"type\":\"layers\"}}", f);
    if (fclose(f) != 0) return NULL;
    return buf;
}

static char *manifest_json(const struct hpk_blob *config, const struct base *b, const struct hpk_blob *layers, int nl,
                           size_t *len)
{
    char *buf;
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    fprintf(f, "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu},"
               "\"layers\":[",
            MT_MANIFEST, MT_CONFIG, config->digest, (unsigned long long)config->size);
    if (b) copy_elements(f, b->layers);
    for (int i = 0; i < nl; i++)
        fprintf(f, "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu}", i ? "," : "", MT_LAYER_GZ,
                layers[i].digest, (unsigned long long)layers[i].size);
    fputs("]}", f);
    if (fclose(f) != 0) return NULL;
    return buf;
}

static char *index_json(const struct hpk_blob *manifest, const char *arch, const char *tag, size_t *len)
{
    char *buf;
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    fprintf(f, "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
               "\"size\":%llu,\"platform\":{\"architecture\":\"%s\",\"os\":\"linux\"},\"annotations\":{"
               "\"io.containerd.image.name\":",
            MT_INDEX, MT_MANIFEST, manifest->digest, (unsigned long long)manifest->size, arch);
    hpk_json_str(f, tag);
    fputs(",\"org.opencontainers.image.ref.name\":", f);
    hpk_json_str(f, tag);
    fputs("}}]}", f);
    if (fclose(f) != 0) return NULL;
    return buf;
}

/* ---- the image archive ---- */
struct outfile {
    const char *name;
    const char *data; /* in memory, or */
    const char *file; /* a blob's temporary file */
    size_t size;
};

static int cmp_out(const void *x, const void *y)
{
    return strcmp(((const struct outfile *)x)->name, ((const struct outfile *)y)->name);
}

static int write_archive(const char *out, struct outfile *files, size_t n, struct hpk_perr *e)
{
    qsort(files, n, sizeof *files, cmp_out);
    char *tmp;
    if (asprintf(&tmp, "%s.tmp.%ld", out, (long)getpid()) < 0) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    hpk_tmp_register(tmp);
    struct archive *ar = archive_write_new();
    archive_write_set_format_pax_restricted(ar);
    int rc = 0;
    if (archive_write_open_filename(ar, tmp) != ARCHIVE_OK)
        rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
    static const char *const dirs[] = {"blobs", "blobs/sha256"};
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, dirs[i]);
        archive_entry_set_mode(ae, S_IFDIR | 0755);
        archive_entry_set_mtime(ae, HPK_FIXED_MTIME, 0);
        if (archive_write_header(ar, ae) != ARCHIVE_OK)
            rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
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
            rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
        archive_entry_free(ae);
        if (rc) break;
        if (files[i].data) {
            if (archive_write_data(ar, files[i].data, files[i].size) != (la_ssize_t)files[i].size)
                rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
            continue;
        }
        FILE *f = fopen(files[i].file, "rb");
        if (!f) {
            rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", files[i].file, strerror(errno));
            break;
        }
        size_t got, total = 0;
        while (rc == 0 && (got = fread(buf, 1, sizeof buf, f)) > 0) {
            total += got;
            if (archive_write_data(ar, buf, got) != (la_ssize_t)got)
                rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
        }
        if (rc == 0 && (ferror(f) || total != files[i].size))
            rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: read error", files[i].file);
        fclose(f);
    }
    if (archive_write_close(ar) != ARCHIVE_OK && rc == 0)
        rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
    archive_write_free(ar);
    if (rc == 0 && rename(tmp, out) != 0) rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, strerror(errno));
    if (rc != 0) unlink(tmp);
    hpk_tmp_forget(tmp);
    free(tmp);
    return rc;
}

/* ---- the command ---- */
static const char image_usage[] =
    "usage: hpack image ARTIFACT -o IMAGE.tar [--tag NAME[:TAG]] [--base oci-archive:FILE] [--user UID:GID] [-q]\n";

/* A reference as engines accept it: lowercase path components, an optional tag. */
static int tag_ok(const char *t)
{
    const char *colon = strrchr(t, ':');
    if (colon && strchr(colon, '/')) colon = NULL; /* a registry port, not a tag */
    size_t n = colon ? (size_t)(colon - t) : strlen(t);
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-/:", t[i])) return 0;
    if (colon) {
        size_t m = strlen(colon + 1);
        if (!m || m > 128 || colon[1] == '.' || colon[1] == '-') return 0;
        for (const char *p = colon + 1; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p)) return 0;
    }
    return 1;
}

static int parse_user(const char *s, unsigned *uid, unsigned *gid)
{
    char *end;
    errno = 0;
    unsigned long u = strtoul(s, &end, 10);
    if (end == s || *end != ':' || errno || u > 2147483647ul || *s == '-') return -1;
    const char *g = end + 1;
    unsigned long v = strtoul(g, &end, 10);
    if (end == g || *end || errno || v > 2147483647ul || *g == '-') return -1;
    *uid = (unsigned)u;
    *gid = (unsigned)v;
    return 0;
}

int hpk_cmd_image(int argc, char **argv)
{
    static const struct option lopts[] = {{"output", required_argument, NULL, 'o'}, {"tag", required_argument, NULL, 't'},
                                          {"base", required_argument, NULL, 'b'},   {"user", required_argument, NULL, 'u'},
                                          {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
                                          {0, 0, 0, 0}};
    struct opts o = {.uid = DEFAULT_UID, .gid = DEFAULT_UID};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:q", lopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out = optarg; break;
        case 't': o.tag = optarg; break;
        case 'b': o.base = optarg; break;
        case 'q': hpk_verbose = 0; break;
        case 'u':
            if (parse_user(optarg, &o.uid, &o.gid) != 0) {
                fprintf(stderr, "hpack: image: --user %s: expected UID:GID, two numbers\n", optarg);
                return HPK_ST_USAGE;
            }
            break;
        default: fputs(image_usage, c == 'h' ? stdout : stderr); return c == 'h' ? 0 : HPK_ST_USAGE;
        }
    }
    if (argc - optind != 1 || !o.out) {
        fputs(image_usage, stderr);
        return HPK_ST_USAGE;
    }
    o.artifact = argv[optind];
    if (o.base && strncmp(o.base, "oci-archive:", 12)) {
        fprintf(stderr, "hpack: image: --base %s: expected oci-archive:FILE\n", o.base);
        return HPK_ST_USAGE;
    }
    /* NAME: the artifact's file name, as it is run in the image. */
    const char *slash = strrchr(o.artifact, '/');
    const char *name = slash ? slash + 1 : o.artifact;
    if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
        fprintf(stderr, "hpack: image: %s: not a file name\n", o.artifact);
        return HPK_ST_USAGE;
    }
    char deftag[300];
    if (!o.tag) {
        /* Lowercased name, characters a reference cannot hold dropped. */
        size_t k = 0;
        for (const char *p = name; *p && k < 200; p++) {
            char ch = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
            if (strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", ch) && (k || (ch != '.' && ch != '-' && ch != '_')))
                deftag[k++] = ch;
        }
        snprintf(deftag + k, sizeof deftag - k, "%s:latest", k ? "" : "app");
        o.tag = deftag;
    }
    if (!tag_ok(o.tag)) {
        fprintf(stderr, "hpack: image: --tag %s: not an image reference (lowercase name[:tag])\n", o.tag);
        return HPK_ST_USAGE;
    }
    struct hpk_perr e;
    if (hpk_output_check(o.out, "output", &e) != 0) {
        fprintf(stderr, "hpack: image: %s\n", e.msg);
        return e.status;
    }
    struct hpk_artifact a;
    if (hpk_open_artifact(o.artifact, &a, &e) != 0) {
        fprintf(stderr, "hpack: %s\n", e.msg);
        return e.status;
    }
    struct hpk_config in;
    int rc = hpk_artifact_info(&a, &in, &e);
    if (rc != 0) {
        char m[sizeof e.msg];
        snprintf(m, sizeof m, "%s", e.msg);
        hpk_perr_set(&e, HPK_ST_ARTIFACT, "%s: %s", o.artifact, m);
        hpk_close_artifact(&a);
        fprintf(stderr, "hpack: image: %s\n", e.msg);
        return e.status;
    }
    char *tmpdir = NULL;
    struct hpk_litems l1 = {0}, l2 = {0};
    struct hpk_blob layers[2], cfg, man;
    memset(layers, 0, sizeof layers);
    memset(&cfg, 0, sizeof cfg);
    memset(&man, 0, sizeof man);
    struct hpk_closure clo = {0};
    struct base base = {0};
    int nl = 0;
    char *cj = NULL, *mj = NULL, *ij = NULL;
    size_t cl = 0, ml = 0, il = 0;
    if (asprintf(&tmpdir, "%s.hpack-image.%ld", o.out, (long)getpid()) < 0 || mkdir(tmpdir, 0700) != 0)
        rc = hpk_perr_set(&e, HPK_ST_OUTPUT, "%s: cannot make a temporary directory: %s", tmpdir ? tmpdir : o.out,
                          strerror(errno));
    else
        hpk_tmp_register_tree(tmpdir);
    if (rc == 0) {
        hpk_step_begin("making the image layers");
        /* With a base, its C library serves; the closure still says the
         * architecture. */
        struct hpk_litems scratch = {0};
        rc = os_layer(&o, &a, in.launch.java, o.base ? &scratch : &l1, &clo, &e);
        hpk_litems_free(&scratch);
    }
    if (rc == 0 && o.base) rc = base_load(o.base, clo.arch, &base, &e);
    if (rc == 0 && !o.base && (rc = hpk_layer_write(&l1, tmpdir, &layers[0], &e)) == 0) nl++;
    if (rc == 0) rc = app_layer(name, &a, tmpdir, &l2, &e);
    if (rc == 0 && (rc = hpk_layer_write(&l2, tmpdir, &layers[nl], &e)) == 0) nl++;
    if (rc == 0 && !(cj = config_json(&o, name, clo.arch, &a, &in, o.base ? &base : NULL, layers, nl, &cl)))
        rc = hpk_perr_set(&e, HPK_ST_INTERNAL, "out of memory");
    if (rc == 0) rc = hpk_blob_bytes(cj, cl, tmpdir, &cfg, &e);
    if (rc == 0 && !(mj = manifest_json(&cfg, o.base ? &base : NULL, layers, nl, &ml)))
        rc = hpk_perr_set(&e, HPK_ST_INTERNAL, "out of memory");
    if (rc == 0) rc = hpk_blob_bytes(mj, ml, tmpdir, &man, &e);
    if (rc == 0 && !(ij = index_json(&man, clo.arch, o.tag, &il))) rc = hpk_perr_set(&e, HPK_ST_INTERNAL, "out of memory");
    if (rc == 0) {
        hpk_step_update("writing %s", o.out);
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        size_t n = 0, cap = 6 + base.n_blobs;
        struct outfile *files = calloc(cap, sizeof *files);
        char **names = calloc(cap, sizeof *names);
        struct hpk_blob *ours[] = {&layers[0], &layers[1], &cfg, &man};
        for (size_t i = 0; i < 4; i++) {
            if (!ours[i]->file) continue;
            if (asprintf(&names[n], "blobs/sha256/%s", ours[i]->digest + 7) < 0) hpk_oom();
            files[n] = (struct outfile){names[n], NULL, ours[i]->file, ours[i]->size};
            n++;
        }
        for (size_t i = 0; i < base.n_blobs; i++) {
            struct member *m = member(&base, base.blobs[i]);
            int dup = 0;
            for (size_t k = 0; k < n; k++) dup |= !strcmp(files[k].name, m->name + (m->name[0] == '.' ? 2 : 0));
            if (!dup) files[n++] = (struct outfile){m->name + (m->name[0] == '.' ? 2 : 0), m->data, NULL, m->size};
        }
        files[n++] = (struct outfile){"index.json", ij, NULL, il};
        files[n++] = (struct outfile){"oci-layout", layout, NULL, sizeof layout - 1};
        rc = write_archive(o.out, files, n, &e);
        for (size_t i = 0; i < cap; i++) free(names[i]);
        free(names);
        free(files);
    }
    if (rc == 0) {
        hpk_step_end();
        struct stat st;
        stat(o.out, &st);
        hpk_note("%s: image %s, %s, %.1f MB (%d C libraries%s), user %u:%u", o.out, o.tag, clo.arch,
                 (double)st.st_size / 1e6, clo.n_libs, o.base ? " from the base" : "", o.uid, o.gid);
        printf("%s\n", man.digest);
    } else {
        hpk_step_abort();
    }
    for (int i = 0; i < 2; i++) hpk_blob_free(&layers[i]);
    hpk_blob_free(&cfg);
    hpk_blob_free(&man);
    hpk_litems_free(&l1);
    hpk_litems_free(&l2);
    base_free(&base);
    free(cj);
    free(mj);
    free(ij);
    if (tmpdir) {
        hpk_tmp_rm_tree(tmpdir);
        free(tmpdir);
    }
    hpk_config_free(&in);
    hpk_close_artifact(&a);
    if (rc != 0) {
        fprintf(stderr, "hpack: image: %s\n", e.msg);
        return e.status;
    }
    return 0;
}
