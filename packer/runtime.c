/*
 * runtime.c - the Java runtime as an input: a Java home (a directory, or a
 * tar/zip holding one under one top directory) read into runtime/, and the
 * facts of its release file (version, major, whether it has a base CDS
 * archive) that decide the cache kind and the jlink steps.
 */
#define _GNU_SOURCE
#include "hpk_inputs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct hpk_tree_dst runtime_dst = {NULL, "runtime", HPK_ROLE_RUNTIME, HPK_ST_RUNTIME};

static char *xstrndup(const char *s, size_t n)
{
    char *r = strndup(s, n);
    if (!r) hpk_oom();
    return r;
}

/* Value of KEY="value" in a release file, unquoted; malloc'ed, or NULL when
 * the key is absent. */
static char *release_get(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) != 0 || p[kl] != '=') continue;
        const char *v = p + kl + 1, *end = strchr(v, '\n');
        size_t n = end ? (size_t)(end - v) : strlen(v);
        if (n && v[0] == '"') {
            v++;
            n--;
            if (n && v[n - 1] == '"') n--;
        }
        return xstrndup(v, n);
    }
    return NULL;
}

/* 17 from "17.0.15", 8 from "1.8.0_452". */
static int major_from(const char *v)
{
    int m = atoi(v);
    return m == 1 && v[1] == '.' ? atoi(v + 2) : m;
}

int hpk_release_major(const char *home)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/release", home);
    uint8_t *d;
    size_t n;
    if (hpk_read_file(p, &d, &n) != 0) return 0;
    char *t = xstrndup((char *)d, n), *v = release_get(t, "JAVA_VERSION");
    int m = v ? major_from(v) : 0;
    free(v);
    free(t);
    free(d);
    return m;
}

int hpk_release_parse(struct hpk_snapshot *s, const char *text, size_t len, const char *where, struct hpk_err *e)
{
    char *t = xstrndup(text, len);
    s->java_version = release_get(t, "JAVA_VERSION");
    s->runtime_version = release_get(t, "JAVA_RUNTIME_VERSION");
    free(t);
    if (!s->java_version) return hpk_fail(e, HPK_ST_RUNTIME, "%s/release: no JAVA_VERSION", where);
    if (!s->runtime_version) s->runtime_version = hpk_xstrdup(s->java_version);
    s->java_major = major_from(s->java_version);
    return 0;
}

int hpk_snapshot_runtime(struct hpk_snapshot *s, const char *dir, struct hpk_err *e)
{
    char real[PATH_MAX], p[PATH_MAX + 32];
    struct stat st;
    if (!realpath(dir, real) || stat(real, &st) != 0)
        return hpk_fail(e, HPK_ST_RUNTIME, "%s: no such directory (--runtime wants a Java home)", dir);
    if (S_ISREG(st.st_mode)) return hpk_snapshot_runtime_archive(s, dir, e);
    if (!S_ISDIR(st.st_mode))
        return hpk_fail(e, HPK_ST_RUNTIME, "%s: not a directory (--runtime wants a Java home)", dir);
    snprintf(p, sizeof p, "%s/bin/java", real);
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
        return hpk_fail(e, HPK_ST_RUNTIME, "%s: not a Java runtime (no executable bin/java)", dir);
    snprintf(p, sizeof p, "%s/release", real);
    uint8_t *rel;
    size_t rlen;
    if (hpk_read_file(p, &rel, &rlen) != 0)
        return hpk_fail(e, HPK_ST_RUNTIME, "%s: not a Java runtime (no release file)", dir);
    int r = hpk_release_parse(s, (char *)rel, rlen, dir, e);
    free(rel);
    if (r) return r;
    snprintf(p, sizeof p, "%s/lib/server/classes.jsa", real);
    s->has_base_cds = stat(p, &st) == 0;
    s->runtime_root = hpk_xstrdup(real);
    return hpk_snapshot_tree(s, real, &runtime_dst, e);
}

int hpk_snapshot_runtime_archive(struct hpk_snapshot *s, const char *file, struct hpk_err *e)
{
    char top[256];
    if (hpk_snapshot_archive(s, file, &runtime_dst, 1, top, sizeof top, e) != 0) return -1;
    struct hpk_item *java = hpk_snapshot_find(s, "runtime/bin/java"), *rel = hpk_snapshot_find(s, "runtime/release");
    if (!java || !S_ISREG(java->mode) || !(java->mode & 0111))
        return hpk_fail(e, HPK_ST_RUNTIME, "%s: not a Java runtime archive (no executable %s/bin/java)", file, top);
    if (!rel || !S_ISREG(rel->mode))
        return hpk_fail(e, HPK_ST_RUNTIME, "%s: not a Java runtime archive (no %s/release)", file, top);
    if (hpk_release_parse(s, (char *)rel->data, rel->size, file, e) != 0) return -1;
    s->has_base_cds = hpk_snapshot_find(s, "runtime/lib/server/classes.jsa") != NULL;
    s->runtime_root = hpk_xstrdup(file);
    return 0;
}
