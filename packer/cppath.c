/*
 * cppath.c - the path arithmetic of manifest Class-Path entries, as the JVM
 * does it (java.net.URL, URLClassPath): a token as a file path, joined to
 * the jar's path lexically, and the relative path that names one tree path
 * from another's directory. Pure string functions: closure.c uses them,
 * tests/unit/test_packer.c checks them.
 */
#define _GNU_SOURCE
#include "hpk_build.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* dir(base) + "/" + rel, normalised lexically as java.net.URL does: ".",
 * empty components and "x/.." go. For a relative base (a tree path), -1
 * when ".." climbs above its root. */
int hpk_cp_join(const char *base, const char *rel, char *out, size_t n)
{
    char tmp[2 * PATH_MAX + 2];
    int abs = rel[0] == '/';
    if (abs) snprintf(tmp, sizeof tmp, "%s", rel);
    else {
        const char *sl = strrchr(base, '/');
        snprintf(tmp, sizeof tmp, "%.*s%s%s", sl ? (int)(sl - base) : 0, base, sl ? "/" : "", rel);
        abs = base[0] == '/';
    }
    size_t o = 0;
    out[0] = 0;
    for (char *save = NULL, *t = strtok_r(tmp, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, ".")) continue;
        if (!strcmp(t, "..")) {
            if (o == 0) {
                if (!abs) return -1;
                continue; /* "/.." is "/" */
            }
            char *up = strrchr(out, '/');
            o = up ? (size_t)(up - out) : 0;
            out[o] = 0;
            continue;
        }
        int w = snprintf(out + o, n - o, "%s%s", o || abs ? "/" : "", t);
        if (w < 0 || (size_t)w >= n - o) return -1;
        o += (size_t)w;
    }
    if (abs && o == 0) snprintf(out, n, "/");
    return 0;
}

/* The shortest relative path from the directory of `from` to `to`, both
 * tree paths. */
void hpk_cp_relpath(const char *from, const char *to, char *out, size_t n)
{
    size_t common = 0;
    for (size_t i = 0; from[i] && from[i] == to[i]; i++)
        if (from[i] == '/') common = i + 1;
    size_t o = 0;
    out[0] = 0;
    for (const char *p = from + common; (p = strchr(p, '/')); p++) o += (size_t)snprintf(out + o, o < n ? n - o : 0, "../");
    if (o < n) snprintf(out + o, n - o, "%s", to + common);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A Class-Path token as a file path: "file:" dropped, %XX decoded; -1 for
 * another scheme (the JVM ignores those), a '%' not followed by two hex
 * digits or %00 (the JVM's URL decoding refuses them: the entry names
 * nothing), or a path longer than n - 1. */
int hpk_cp_entry_path(const char *tok, char *out, size_t n)
{
    if (!strncasecmp(tok, "file:", 5)) tok += 5;
    else if (strchr(tok, ':')) return -1;
    size_t o = 0;
    for (const char *p = tok; *p; p++) {
        if (o + 1 >= n) return -1;
        if (p[0] == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (lo < 0 || (hi | lo) == 0) return -1;
            out[o++] = (char)(hi << 4 | lo);
            p += 2;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = 0;
    return o ? 0 : -1;
}
