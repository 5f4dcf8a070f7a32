/*
 * imagefonts.c - fonts in an image whose runtime draws text (hpk_image.h).
 *
 * java.desktop finds fonts through the host's fontconfig, which it loads
 * by name (dlopen): the ELF closure cannot see it, and a JDK ships no
 * fonts. An image without them runs an app that draws or measures text (a
 * chart, a report, a diagram, a spreadsheet's column widths) into
 * "Fontconfig head is null" on its first string. So, like distroless's
 * Java images, an image of such a runtime carries fontconfig (elfdeps.c
 * takes it), a few fonts and a fonts.conf of its own that finds them: the
 * host's /etc/fonts is not copied, its conf.d links into files the image
 * does not have, and what it says depends on the host.
 *
 * And, for the DejaVu set, a fontconfig cache, made by the host's fc-cache
 * in a copy of the image's font directory dated like the layer
 * (HPK_FIXED_MTIME, which the cache records): without it fontconfig scans
 * the fonts at every start and, in a read-only container with no writable
 * /tmp, prints "No writable cache directories" for each lookup. The same
 * fonts and fontconfig give the same cache bytes. Only for that set:
 * fc-cache --sysroot (fontconfig 2.14) lists the copy's directory but reads
 * each font file, and looks for subdirectories, at its path on the host, so
 * its cache is right only for files the host has at the very path the
 * image has them, which DejaVu's are and --fonts DIR's are not.
 */
#define _GNU_SOURCE
#include "hpk_image.h"
#include "hpk_child.h"
#include "../layout/hpk_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The fonts of Debian's fonts-dejavu-core (distroless carries the same),
 * 3.2 MB: hpk_dejavu_fonts (fonts.c), in the image at their host path. */
#define DEJAVU_IMAGE_DIR (HPK_DEJAVU_DIR + 1)
/* Where fonts from --fonts DIR go, named by their path below DIR ("a/b.ttf"
 * as "a-b.ttf"); the fonts.conf (the path Debian's fontconfig reads); where
 * the cache goes. */
#define FONTS_DIR "usr/share/fonts"
#define OWN_DIR FONTS_DIR "/hpack"
#define FONTS_CONF "etc/fonts/fonts.conf"
#define FONT_CACHE_DIR "var/cache/fontconfig"
#define MAX_DEPTH 16

/* The fonts are in one directory, no subdirectory, which is the one <dir>. */
static const char conf_head[] =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE fontconfig SYSTEM \"urn:fontconfig:fonts.dtd\">\n"
    "<!-- Written by hpack image: the fonts this image carries, for java.desktop. -->\n"
    "<fontconfig>\n"
    "  <dir>/%s</dir>\n"
    "  <cachedir>/var/cache/fontconfig</cachedir>\n"
    "  <cachedir>/tmp/fontconfig</cachedir>\n";
/* The generic names the JDK asks fontconfig for (sans, serif, monospace),
 * each to its DejaVu face; without them fontconfig ranks every font alike
 * and a "sans" request may get the serif. */
static const char conf_dejavu[] =
    "  <alias binding=\"same\"><family>sans-serif</family><prefer><family>DejaVu Sans</family></prefer></alias>\n"
    "  <alias binding=\"same\"><family>sans</family><prefer><family>DejaVu Sans</family></prefer></alias>\n"
    "  <alias binding=\"same\"><family>serif</family><prefer><family>DejaVu Serif</family></prefer></alias>\n"
    "  <alias binding=\"same\"><family>monospace</family><prefer><family>DejaVu Sans Mono</family></prefer></alias>\n"
    "  <alias binding=\"same\"><family>mono</family><prefer><family>DejaVu Sans Mono</family></prefer></alias>\n";
static const char conf_tail[] = "</fontconfig>\n";

static int is_font(const char *name)
{
    static const char *const sufs[] = {".ttf", ".otf", ".ttc", ".pfb"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof sufs / sizeof *sufs; i++)
        if (n > 4 && !strcasecmp(name + n - 4, sufs[i])) return 1;
    return 0;
}

/* The file at src, read whole, as dst (0644) in l; `status` if it cannot be read. */
static int add_font(struct hpk_litems *l, const char *src, const char *dst, int status, struct hpk_err *e)
{
    uint8_t *data;
    size_t len;
    if (hpk_read_file(src, &data, &len) != 0)
        return hpk_fail(e, status, "%s: cannot read: %s", src, strerror(errno));
    struct hpk_litem *it = hpk_litems_add_p(l, dst, S_IFREG | 0644);
    if (!it) {
        free(data);
        hpk_oom();
    }
    it->data = it->owned = data;
    it->size = len;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* Every font file below dir (rel: its path below the --fonts directory,
 * '/' as '-'), in name order whatever the directory order; links to files
 * followed, links to directories not (no loops). */
static int walk(struct hpk_litems *l, const char *dir, const char *rel, int depth, int *n, struct hpk_err *e)
{
    if (depth > MAX_DEPTH) return hpk_fail(e, HPK_ST_USAGE, "--fonts: %s: more than %d directories deep", dir, MAX_DEPTH);
    struct dirent **names;
    int k = scandir(dir, &names, NULL, by_name);
    if (k < 0) return hpk_fail(e, HPK_ST_USAGE, "--fonts: %s: cannot read: %s", dir, strerror(errno));
    int rc = 0;
    for (int i = 0; i < k; i++) {
        const char *name = names[i]->d_name;
        char *path = NULL, *sub = NULL;
        struct stat st;
        if (!strcmp(name, ".") || !strcmp(name, "..")) goto next;
        if (asprintf(&path, "%s/%s", dir, name) < 0 || asprintf(&sub, "%s%s%s", rel, *rel ? "-" : "", name) < 0)
            hpk_oom();
        if (rc || lstat(path, &st) != 0) goto next;
        if (S_ISDIR(st.st_mode)) {
            rc = walk(l, path, sub, depth + 1, n, e);
        } else if (is_font(name) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            char *dst;
            if (asprintf(&dst, "%s/%s", OWN_DIR, sub) < 0) hpk_oom();
            rc = hpk_litems_has(l, dst) ? hpk_fail(e, HPK_ST_USAGE, "--fonts: %s: a second font named %s in the image",
                                                   path, dst + sizeof OWN_DIR)
                                        : add_font(l, path, dst, HPK_ST_USAGE, e);
            free(dst);
            if (rc == 0) ++*n;
        }
    next:
        free(path);
        free(sub);
        free(names[i]);
    }
    free(names);
    return rc;
}

static void add_conf(struct hpk_litems *l, const char *dir, int dejavu_aliases)
{
    char *head, *text;
    if (asprintf(&head, conf_head, dir) < 0 ||
        asprintf(&text, "%s%s%s", head, dejavu_aliases ? conf_dejavu : "", conf_tail) < 0)
        hpk_oom();
    free(head);
    struct hpk_litem *it = hpk_litems_add_p(l, FONTS_CONF, S_IFREG | 0644);
    if (!it) hpk_oom();
    it->data = it->owned = (uint8_t *)text;
    it->size = strlen(text);
}

/* ---- the cache ---- */
#define FC_CACHE "/usr/bin/fc-cache"

/* What of l the cache is made from: the fonts and their fonts.conf. */
static int font_part(const char *path)
{
    return !strcmp(path, FONTS_CONF) || !strncmp(path, FONTS_DIR "/", sizeof FONTS_DIR) || !strcmp(path, FONTS_DIR);
}

static int write_all(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) rc = -1;
        else off += (size_t)w;
    }
    if (close(fd) != 0) rc = -1;
    return rc;
}

/* The font part of l as a tree below root, every font directory and file
 * dated HPK_FIXED_MTIME as the layer dates them (each item's parents come
 * before it: hpk_litems_add_p). */
static int stage(const struct hpk_litems *l, const char *root)
{
    static const char *const dirs[] = {"etc", "etc/fonts", "usr", "usr/share", "var", "var/cache", FONT_CACHE_DIR};
    struct timespec t[2] = {{HPK_FIXED_MTIME, 0}, {HPK_FIXED_MTIME, 0}};
    char path[4200];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
        rc = mkdir(path, 0755);
    }
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        const struct hpk_litem *it = &l->v[i];
        if (!font_part(it->path)) continue;
        snprintf(path, sizeof path, "%s/%s", root, it->path);
        rc = S_ISDIR(it->mode) ? mkdir(path, 0755) : write_all(path, it->data, it->size);
    }
    /* Dated once all is written: writing a file changes its directory's time. */
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        if (!font_part(l->v[i].path)) continue;
        snprintf(path, sizeof path, "%s/%s", root, l->v[i].path);
        rc = utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW);
    }
    return rc;
}

/* The files fc-cache wrote, in name order, into l at var/cache/fontconfig. */
static int take_cache(struct hpk_litems *l, const char *dir, int *n, struct hpk_err *e)
{
    struct dirent **names;
    int k = scandir(dir, &names, NULL, by_name);
    if (k < 0) return hpk_fail(e, HPK_ST_INTERNAL, "%s: %s", dir, strerror(errno));
    int rc = 0;
    for (int i = 0; i < k; i++) {
        char src[4200], dst[512];
        if (rc == 0 && names[i]->d_name[0] != '.') {
            snprintf(src, sizeof src, "%s/%s", dir, names[i]->d_name);
            snprintf(dst, sizeof dst, "%s/%s", FONT_CACHE_DIR, names[i]->d_name);
            rc = add_font(l, src, dst, HPK_ST_INTERNAL, e);
            if (rc == 0 && strstr(names[i]->d_name, ".cache-")) ++*n;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* The last line of a program's output (its trailing newlines cut). */
static const char *last_line(char *out)
{
    if (!out) return "";
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n') out[--n] = 0;
    char *nl = strrchr(out, '\n');
    return nl ? nl + 1 : out;
}

/* fc-cache of the staged tree; the cache files into l. 0 also when the
 * host has no fc-cache or it fails (warned: the image works, slower). */
static int make_cache(struct hpk_litems *l, const char *tmpdir, struct hpk_err *e)
{
    if (access(FC_CACHE, X_OK) != 0) {
        hpk_warn("%s is not on this host (Debian: fontconfig): the image's fonts get no cache, so fontconfig scans "
                 "them at every start and, with no writable /tmp, prints \"No writable cache directories\"", FC_CACHE);
        return 0;
    }
    /* Absolute: fontconfig takes a relative FONTCONFIG_FILE as relative
     * to its own configuration directory (/etc/fonts). */
    char *dir, *root = NULL, *conf = NULL, *sysroot = NULL, *cache = NULL, *envs[5] = {NULL, NULL, NULL, "LC_ALL=C", NULL};
    if (asprintf(&dir, "%s/fonts", tmpdir) < 0) hpk_oom();
    int rc = mkdir(dir, 0700) == 0 && (root = realpath(dir, NULL)) ? stage(l, root) : -1;
    if (rc != 0) rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot stage the fonts: %s", dir, strerror(errno));
    free(dir);
    if (rc == 0 && (asprintf(&conf, "FONTCONFIG_FILE=%s/%s", root, FONTS_CONF) < 0 ||
                    asprintf(&sysroot, "--sysroot=%s", root) < 0 || asprintf(&cache, "%s/%s", root, FONT_CACHE_DIR) < 0 ||
                    asprintf(&envs[1], "HOME=%s", root) < 0 || asprintf(&envs[2], "XDG_CACHE_HOME=%s/xdg", root) < 0))
        hpk_oom();
    envs[0] = conf;
    char *out = NULL;
    if (rc == 0) {
        /* Only these: the user's FONTCONFIG_FILE or HOME would win over
         * ours, and fontconfig dates its cache by SOURCE_DATE_EPOCH. */
        char *argv[] = {FC_CACHE, sysroot, NULL};
        int st = hpk_child_capture_env(argv, envs, &out);
        int n = 0;
        if (st == 0) rc = take_cache(l, cache, &n, e);
        if (rc == 0 && !n)
            hpk_warn("%s %s made no cache (status %d%s%s): the image's fonts get none", FC_CACHE, sysroot, st,
                     *last_line(out) ? ": " : "", last_line(out));
    }
    free(out);
    free(root);
    free(conf);
    free(sysroot);
    free(cache);
    free(envs[1]);
    free(envs[2]);
    return rc;
}

int hpk_image_fonts(const char *spec, const struct hpk_closure *c, const char *tmpdir, struct hpk_litems *l, int *n,
                    struct hpk_err *e)
{
    *n = 0;
    struct stat st;
    int automatic = !strcmp(spec, "auto");
    if (!strcmp(spec, "none")) return 0;
    if (!c->font_manager) {
        if (!automatic) hpk_warn("--fonts %s: ignored: the runtime has no java.desktop (lib/libfontmanager.so)", spec);
        return 0;
    }
    if (!c->fontconfig && !automatic)
        return hpk_fail(e, HPK_ST_RUNTIME, "--fonts %s: the fonts need %s, and this host has none (Debian: libfontconfig1)",
                        spec, HPK_FONTCONFIG_LIB);
    if (!c->fontconfig) {
        hpk_warn("the runtime draws text with java.desktop, which finds fonts through %s, and this host has none "
                 "(Debian: libfontconfig1): the image carries no fonts (an artifact with fonts of its own, hpack build "
                 "--fonts, still draws text)",
                 HPK_FONTCONFIG_LIB);
        return 0;
    }
    if (automatic) {
        for (size_t i = 0; i < HPK_DEJAVU_N; i++) {
            char src[256];
            snprintf(src, sizeof src, "%s/%s", HPK_DEJAVU_DIR, hpk_dejavu_fonts[i]);
            if (stat(src, &st) != 0) continue;
            int rc = add_font(l, src, src + 1, HPK_ST_RUNTIME, e);
            if (rc != 0) return rc;
            ++*n;
        }
        if (!*n) {
            hpk_warn("the runtime draws text with java.desktop, and this host has no DejaVu fonts in %s (Debian: "
                     "fonts-dejavu-core): the image carries none (an artifact with fonts of its own, hpack build --fonts, "
                     "still draws text; --fonts DIR takes the fonts below DIR)", HPK_DEJAVU_DIR);
            return 0;
        }
    } else {
        int rc = walk(l, spec, "", 0, n, e);
        if (rc != 0) return rc;
        if (!*n) return hpk_fail(e, HPK_ST_USAGE, "--fonts %s: no font file (.ttf, .otf, .ttc, .pfb) below it", spec);
    }
    add_conf(l, automatic ? DEJAVU_IMAGE_DIR : OWN_DIR, automatic);
    return automatic ? make_cache(l, tmpdir, e) : 0;
}
