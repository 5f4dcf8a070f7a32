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
 * deterministically (ocilayer.c); the config has no build time in it
 * (ocidoc.c, which writes the archive too); a base image is read by
 * ocibase.c. This file: the command and the two layers' contents.
 */
#define _GNU_SOURCE
#include "hpk_cmds.h"
#include "hpk_image.h"
#include "hpk_verify.h"
#include "../layout/hpk_tree.h"
#include "../layout/hpk_store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The default image user: distroless's "nonroot", which ko uses too. */
#define DEFAULT_UID 65532u

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

static int os_layer(const struct hpk_image_opts *o, const struct hpk_artifact *a, const char *java, const char *tmpdir,
                    struct hpk_litems *l, struct hpk_closure *c, int *n_fonts, struct hpk_err *e)
{
    c->out = l;
    c->arch_only = o->base != NULL;
    c->want_fontconfig = strcmp(o->fonts, "none") != 0;
    if (hpk_closure_build(a, a->fd, java, c, e) != 0) return -1;
    /* With a base, its fonts serve (or not): as for its C library. */
    if (o->base && strcmp(o->fonts, "auto") && strcmp(o->fonts, "none"))
        hpk_warn("--fonts %s: ignored with --base (the base image's fonts serve)", o->fonts);
    if (!o->base && hpk_image_fonts(o->fonts, c, tmpdir, l, n_fonts, e) != 0) return -1;
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
    if (rc) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    hpk_litems_add(l, "tmp", S_IFDIR | 01777);
    /* Mount points an engine provides; there for a plain chroot too. */
    hpk_litems_add(l, "proc", S_IFDIR | 0555);
    hpk_litems_add(l, "sys", S_IFDIR | 0555);
    hpk_litems_add(l, "dev", S_IFDIR | 0755);
    hpk_litems_add(l, "root", S_IFDIR | 0700);
    if (o->uid != 0) {
        struct hpk_litem *h = hpk_litems_add_p(l, home, S_IFDIR | 0700);
        if (!h) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
        h->uid = o->uid;
        h->gid = o->gid;
    }
    return 0;
}

/* ---- the second layer: /app/NAME and the store tree ---- */
static int app_layer(const char *name, const struct hpk_artifact *a, const char *tmpdir, struct hpk_litems *l,
                     struct hpk_err *e)
{
    char hex[33], path[4200], src[64];
    hpk_hash_hex(a->p.footer.base_hash, hex);
    struct stat st;
    if (fstat(a->fd, &st) != 0) return hpk_fail(e, HPK_ST_ARTIFACT, "%s: %s", name, strerror(errno));
    snprintf(path, sizeof path, "app/%s", name);
    struct hpk_litem *it = hpk_litems_add_p(l, path, S_IFREG | 0755);
    if (!it) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    /* The very file opened and checked, whatever happens to its name. */
    snprintf(src, sizeof src, "/proc/self/fd/%d", a->fd);
    it->src = strdup(src);
    it->size = (size_t)st.st_size;
    /* The store tree, by the launcher's unpack code, cache included (as
     * hpack install makes it). */
    snprintf(path, sizeof path, "%s/store", tmpdir);
    if (mkdir(path, 0700) != 0) return hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", path, strerror(errno));
    int sfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct hpk_err le;
    int rc = 0;
    if (sfd < 0) return hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", path, strerror(errno));
    /* Settled: the tree's bytes are the layer's, not a page cache's. */
    if (hpk_unpack_tree(a, sfd, hex, HPK_MARK_SETTLED, NULL, &hpk_all_caches, &le) != 0)
        rc = hpk_fail(e, le.code == HPK_EXIT_PAYLOAD ? HPK_ST_ARTIFACT : HPK_ST_OUTPUT, "%s", le.msg);
    close(sfd);
    if (rc) return rc;
    char *tsrc, *tdst;
    if (asprintf(&tsrc, "%s/store/%s", tmpdir, hex) < 0 || asprintf(&tdst, "%s/%s", HPK_STORE_DEFAULT + 1, hex) < 0)
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    /* Its parents as the store rule wants them: root's, 0755. */
    hpk_litems_add_p(l, HPK_STORE_DEFAULT + 1, S_IFDIR | 0755);
    rc = hpk_litems_add_tree(l, tsrc, tdst, e);
    free(tsrc);
    free(tdst);
    return rc;
}

/* ---- the command ---- */
static const char image_usage[] =
    "usage: hpack image ARTIFACT -o IMAGE.tar [--tag NAME[:TAG]] [--base oci-archive:FILE] [--user UID:GID]\n"
    "                   [--fonts auto|none|DIR] [-q]\n";

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

/* Options into o; NAME (the artifact's file name, as it is run in the
 * image) into *name; the default tag into deftag. -1 to go on, else the
 * exit status (--help: 0). */
static int image_args(int argc, char **argv, struct hpk_image_opts *o, const char **name, char *deftag, size_t dn)
{
    static const struct option lopts[] = {{"output", required_argument, NULL, 'o'}, {"tag", required_argument, NULL, 't'},
                                          {"base", required_argument, NULL, 'b'},   {"user", required_argument, NULL, 'u'},
                                          {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
                                          {"fonts", required_argument, NULL, 'f'},  {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:q", lopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->out = optarg; break;
        case 't': o->tag = optarg; break;
        case 'b': o->base = optarg; break;
        case 'f':
            o->fonts = optarg;
            if (!*optarg) {
                fprintf(stderr, "hpack: image: --fonts: expected auto, none or a directory\n");
                return HPK_ST_USAGE;
            }
            if (strcmp(optarg, "auto") && strcmp(optarg, "none")) {
                struct stat st;
                const char *why = stat(optarg, &st) != 0 ? strerror(errno) : !S_ISDIR(st.st_mode) ? "not a directory" : NULL;
                if (why) {
                    fprintf(stderr, "hpack: image: --fonts %s: %s\n", optarg, why);
                    return HPK_ST_USAGE;
                }
            }
            break;
        case 'q': hpk_verbose = 0; break;
        case 'u':
            if (parse_user(optarg, &o->uid, &o->gid) != 0) {
                fprintf(stderr, "hpack: image: --user %s: expected UID:GID, two numbers\n", optarg);
                return HPK_ST_USAGE;
            }
            break;
        default: return hpk_cmd_usage(image_usage, c);
        }
    }
    if (argc - optind != 1 || !o->out) return hpk_cmd_usage(image_usage, '?');
    o->artifact = argv[optind];
    if (o->base && strncmp(o->base, "oci-archive:", 12)) {
        fprintf(stderr, "hpack: image: --base %s: expected oci-archive:FILE\n", o->base);
        return HPK_ST_USAGE;
    }
    const char *slash = strrchr(o->artifact, '/');
    *name = slash ? slash + 1 : o->artifact;
    if (!**name || !strcmp(*name, ".") || !strcmp(*name, "..")) {
        fprintf(stderr, "hpack: image: %s: not a file name\n", o->artifact);
        return HPK_ST_USAGE;
    }
    if (!o->tag) {
        /* Lowercased name, characters a reference cannot hold dropped. */
        size_t k = 0;
        for (const char *p = *name; *p && k < 200 && k + 8 < dn; p++) {
            char ch = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
            if (strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", ch) && (k || (ch != '.' && ch != '-' && ch != '_')))
                deftag[k++] = ch;
        }
        snprintf(deftag + k, dn - k, "%s:latest", k ? "" : "app");
        o->tag = deftag;
    }
    if (!tag_ok(o->tag)) {
        fprintf(stderr, "hpack: image: --tag %s: not an image reference (lowercase name[:tag])\n", o->tag);
        return HPK_ST_USAGE;
    }
    return -1;
}

/* Everything an image is made of, from the layers to the archive's
 * documents: one place that frees it whatever failed. */
struct image {
    char *tmpdir;
    struct hpk_litems l1, l2;
    struct hpk_blob layers[2], cfg, man;
    int nl;
    struct hpk_closure clo;
    int n_fonts;
    struct hpk_base base;
    char *cj, *mj, *ij;
    size_t cl, ml, il;
};

static void image_free(struct image *m)
{
    for (int i = 0; i < 2; i++) hpk_blob_free(&m->layers[i]);
    hpk_blob_free(&m->cfg);
    hpk_blob_free(&m->man);
    hpk_litems_free(&m->l1);
    hpk_litems_free(&m->l2);
    hpk_base_free(&m->base);
    free(m->cj);
    free(m->mj);
    free(m->ij);
    if (m->tmpdir) {
        hpk_tmp_rm_tree(m->tmpdir);
        free(m->tmpdir);
    }
}

/* The archive: our blobs, the base's layer blobs, index.json, oci-layout. */
static int image_archive(const struct hpk_image_opts *o, struct image *m, struct hpk_err *e)
{
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    size_t n = 0, cap = 6 + m->base.n_blobs;
    struct hpk_outfile *files = calloc(cap, sizeof *files);
    char **names = calloc(cap, sizeof *names);
    if (!files || !names) hpk_oom();
    struct hpk_blob *ours[] = {&m->layers[0], &m->layers[1], &m->cfg, &m->man};
    for (size_t i = 0; i < 4; i++) {
        if (!ours[i]->file) continue;
        if (asprintf(&names[n], "blobs/sha256/%s", ours[i]->digest + 7) < 0) hpk_oom();
        files[n] = (struct hpk_outfile){names[n], NULL, ours[i]->file, ours[i]->size};
        n++;
    }
    for (size_t i = 0; i < m->base.n_blobs; i++) {
        struct hpk_base_member *bm = hpk_base_find(&m->base, m->base.blobs[i]);
        const char *bn = bm->name + (bm->name[0] == '.' ? 2 : 0);
        int dup = 0;
        for (size_t k = 0; k < n; k++) dup |= !strcmp(files[k].name, bn);
        if (!dup) files[n++] = (struct hpk_outfile){bn, bm->data, NULL, bm->size};
    }
    files[n++] = (struct hpk_outfile){"index.json", m->ij, NULL, m->il};
    files[n++] = (struct hpk_outfile){"oci-layout", layout, NULL, sizeof layout - 1};
    int rc = hpk_image_write_archive(o->out, files, n, e);
    for (size_t i = 0; i < cap; i++) free(names[i]);
    free(names);
    free(files);
    return rc;
}

/* Layers, config, manifest, index, archive: each step only if the last
 * one succeeded. */
static int image_make(const struct hpk_image_opts *o, const char *name, const struct hpk_artifact *a,
                      const struct hpk_config *in, struct image *m, struct hpk_err *e)
{
    int rc = 0;
    if (asprintf(&m->tmpdir, "%s.hpack-image.%ld", o->out, (long)getpid()) < 0) hpk_oom();
    if (mkdir(m->tmpdir, 0700) != 0)
        return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot make a temporary directory: %s", m->tmpdir, strerror(errno));
    hpk_tmp_register_tree(m->tmpdir);
    hpk_step_begin("making the image layers");
    /* With a base, its C library serves; the closure still says the
     * architecture. */
    struct hpk_litems scratch = {0};
    rc = os_layer(o, a, in->launch.java, m->tmpdir, o->base ? &scratch : &m->l1, &m->clo, &m->n_fonts, e);
    hpk_litems_free(&scratch);
    const struct hpk_base *base = o->base ? &m->base : NULL;
    if (rc == 0 && o->base) rc = hpk_base_load(o->base, m->clo.arch, &m->base, e);
    if (rc == 0 && !o->base && (rc = hpk_layer_write(&m->l1, m->tmpdir, &m->layers[0], e)) == 0) m->nl++;
    if (rc == 0) rc = app_layer(name, a, m->tmpdir, &m->l2, e);
    if (rc == 0 && (rc = hpk_layer_write(&m->l2, m->tmpdir, &m->layers[m->nl], e)) == 0) m->nl++;
    if (rc == 0 && !(m->cj = hpk_image_config_json(o, name, m->clo.arch, a, in, base, m->layers, m->nl, &m->cl))) hpk_oom();
    if (rc == 0) rc = hpk_blob_bytes(m->cj, m->cl, m->tmpdir, &m->cfg, e);
    if (rc == 0 && !(m->mj = hpk_image_manifest_json(&m->cfg, base, m->layers, m->nl, &m->ml))) hpk_oom();
    if (rc == 0) rc = hpk_blob_bytes(m->mj, m->ml, m->tmpdir, &m->man, e);
    if (rc == 0 && !(m->ij = hpk_image_index_json(&m->man, m->clo.arch, o->tag, &m->il))) hpk_oom();
    if (rc == 0) {
        hpk_step_update("writing %s", o->out);
        rc = image_archive(o, m, e);
    }
    return rc;
}

int hpk_cmd_image(int argc, char **argv)
{
    struct hpk_image_opts o = {.uid = DEFAULT_UID, .gid = DEFAULT_UID, .fonts = "auto"};
    const char *name = NULL;
    char deftag[300];
    int st = image_args(argc, argv, &o, &name, deftag, sizeof deftag);
    if (st >= 0) return st;
    struct hpk_err e;
    if (hpk_output_check(o.out, "output", &e) != 0) return hpk_cmd_fail("image", &e);
    struct hpk_artifact a;
    if ((st = hpk_cmd_open(o.artifact, &a)) != 0) return st;
    struct hpk_config in;
    if (hpk_artifact_info(&a, &in, &e) != 0) {
        char msg[sizeof e.msg];
        snprintf(msg, sizeof msg, "%s", e.msg);
        hpk_fail(&e, HPK_ST_ARTIFACT, "%s: %s", o.artifact, msg);
        hpk_close_artifact(&a);
        fprintf(stderr, "hpack: image: %s\n", e.msg);
        return e.code;
    }
    struct image m;
    memset(&m, 0, sizeof m);
    int rc = image_make(&o, name, &a, &in, &m, &e);
    if (rc == 0) {
        hpk_step_end();
        struct stat sb;
        stat(o.out, &sb);
        char fonts[32] = "";
        if (m.n_fonts) snprintf(fonts, sizeof fonts, ", %d font%s", m.n_fonts, m.n_fonts > 1 ? "s" : "");
        hpk_note("%s: image %s, %s, %.1f MB (%d C libraries%s%s), user %u:%u", o.out, o.tag, m.clo.arch,
                 (double)sb.st_size / 1e6, m.clo.n_libs, o.base ? " from the base" : "", fonts, o.uid, o.gid);
        printf("%s\n", m.man.digest);
    } else {
        hpk_step_abort();
    }
    image_free(&m);
    hpk_config_free(&in);
    hpk_close_artifact(&a);
    if (rc != 0) return hpk_cmd_fail("image", &e);
    return 0;
}
