/*
 * linkpath.c - link arithmetic, lexical only (no disk, no snapshot): where a
 * kept link's relative target leads, the relative target that leads to a
 * place from another link, and a place mapped into a copy of a directory.
 *
 * The directory walk (treewalk.c) and the archive reader (archlinks.c) both
 * need it when they copy a directory in place of a link (materialise it):
 * a link kept inside the copy must lead, from where its copy is, to the
 * copy of what it named, as in a copy made with cp -a. Whether a link may
 * be kept at all is layout's rule (hpk_link_resolve), judged before.
 */
#include "hpk_inputs.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

int hpk_link_dest(const char *link, const char *t, size_t tlen, char *out, size_t outn)
{
    const char *sl = strrchr(link, '/');
    size_t n = sl ? (size_t)(sl - link) : 0;
    if (n >= outn) return -1;
    memcpy(out, link, n);
    out[n] = 0;
    for (size_t i = 0; i < tlen;) {
        size_t j = i;
        while (j < tlen && t[j] != '/') j++;
        size_t c = j - i;
        if (c == 2 && t[i] == '.' && t[i + 1] == '.') {
            char *up = strrchr(out, '/');
            *(up ? up : out) = 0;
        } else if (!(c == 0 || (c == 1 && t[i] == '.'))) {
            size_t l = strlen(out);
            if ((size_t)snprintf(out + l, outn - l, "%s%.*s", l ? "/" : "", (int)c, t + i) >= outn - l) return -1;
        }
        i = j + 1;
    }
    return 0;
}

int hpk_rel_target(const char *link, const char *dest, char *out, size_t outn)
{
    const char *sl = strrchr(link, '/');
    size_t dl = sl ? (size_t)(sl - link) : 0, common = 0;
    for (size_t i = 0;; i++) {
        char x = i < dl ? link[i] : 0, y = dest[i];
        int ex = !x || x == '/', ey = !y || y == '/';
        if (ex && ey) {
            common = i;
            if (!x || !y) break;
        } else if (x != y) {
            break;
        }
    }
    size_t o = 0;
    out[0] = 0;
    for (size_t i = common; i < dl; i++)
        if (i == common || link[i] == '/') /* common is 0 or a '/': one directory each */
            o += (size_t)snprintf(out + o, o < outn ? outn - o : 0, "../");
    const char *rest = dest + common;
    while (*rest == '/') rest++;
    if (o >= outn) return -1;
    if (*rest) return (size_t)snprintf(out + o, outn - o, "%s", rest) < outn - o ? 0 : -1;
    if (o) out[o - 1] = 0; /* "../.." rather than "../../" */
    else snprintf(out, outn, ".");
    return 0;
}

int hpk_map_into_copy(const char *dest, const char *src, const char *dst, char *out, size_t outn)
{
    size_t sl = strlen(src);
    int n;
    if (!sl || (!strncmp(dest, src, sl) && (!dest[sl] || dest[sl] == '/'))) {
        const char *rest = dest + sl;
        while (*rest == '/') rest++;
        n = snprintf(out, outn, "%s%s%s", dst, *rest ? "/" : "", rest);
    } else {
        n = snprintf(out, outn, "%s", dest);
    }
    return (size_t)n < outn ? 0 : -1;
}

int hpk_copied_target(const char *orig, const char *t, size_t tlen, const char *src, const char *dst,
                      const char *nrel, char *out, size_t outn)
{
    char dest[PATH_MAX], mapped[PATH_MAX];
    if (hpk_link_dest(orig, t, tlen, dest, sizeof dest) != 0 ||
        hpk_map_into_copy(dest, src, dst, mapped, sizeof mapped) != 0)
        return -1;
    return hpk_rel_target(nrel, mapped, out, outn);
}
