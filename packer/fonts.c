/*
 * fonts.c - fallback fonts for a runtime that draws text (hpk_packer.h).
 *
 * java.desktop finds fonts through the host's fontconfig, and a JDK ships
 * none: on a host without fontconfig or fonts (a slim container, a minimal
 * server: the hosts with no Java hpack ships to) an app that draws or
 * measures text throws "Fontconfig head is null" on its first string. The
 * JDK has a fallback for that: when fontconfig cannot be initialised it
 * reads <java.home>/lib/fontconfig.properties, whose fonts may be files of
 * <java.home>/lib/fonts ($JRE_LIB_FONTS). So the runtime of such an app
 * gets the DejaVu core fonts there and a fontconfig.properties that maps
 * the five logical fonts to them. Where fontconfig works the JDK still uses
 * it (X11FontManager.createFontConfiguration prefers it whenever the
 * properties file is not the host's distribution's own): the fallback
 * changes nothing on hosts that have fonts.
 */
#define _GNU_SOURCE
#include "hpk_packer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const hpk_dejavu_fonts[HPK_DEJAVU_N] = {
    "DejaVuSans.ttf",  "DejaVuSans-Bold.ttf",  "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
};

#define FONTS_DIR "runtime/lib/fonts"
#define PROPS "runtime/lib/fontconfig.properties"

/* The logical fonts, each with its plain and bold face (italic: the plain
 * face, bold italic: the bold one; the core set has no oblique faces), in
 * the JDK's fontconfig.properties format (version 1). */
static const char props[] =
    "# Written by hpack build: the fonts of this runtime's lib/fonts, used by the\n"
    "# JDK only where the host's fontconfig cannot be (no library, no fonts).\n"
    "version=1\n"
    "serif.plain.latin-1=DejaVu Serif\n"
    "serif.bold.latin-1=DejaVu Serif Bold\n"
    "serif.italic.latin-1=DejaVu Serif\n"
    "serif.bolditalic.latin-1=DejaVu Serif Bold\n"
    "sansserif.plain.latin-1=DejaVu Sans\n"
    "sansserif.bold.latin-1=DejaVu Sans Bold\n"
    "sansserif.italic.latin-1=DejaVu Sans\n"
    "sansserif.bolditalic.latin-1=DejaVu Sans Bold\n"
    "monospaced.plain.latin-1=DejaVu Sans Mono\n"
    "monospaced.bold.latin-1=DejaVu Sans Mono Bold\n"
    "monospaced.italic.latin-1=DejaVu Sans Mono\n"
    "monospaced.bolditalic.latin-1=DejaVu Sans Mono Bold\n"
    "dialog.plain.latin-1=DejaVu Sans\n"
    "dialog.bold.latin-1=DejaVu Sans Bold\n"
    "dialog.italic.latin-1=DejaVu Sans\n"
    "dialog.bolditalic.latin-1=DejaVu Sans Bold\n"
    "dialoginput.plain.latin-1=DejaVu Sans Mono\n"
    "dialoginput.bold.latin-1=DejaVu Sans Mono Bold\n"
    "dialoginput.italic.latin-1=DejaVu Sans Mono\n"
    "dialoginput.bolditalic.latin-1=DejaVu Sans Mono Bold\n"
    "sequence.allfonts=latin-1\n"
    "filename.DejaVu_Sans=$JRE_LIB_FONTS/DejaVuSans.ttf\n"
    "filename.DejaVu_Sans_Bold=$JRE_LIB_FONTS/DejaVuSans-Bold.ttf\n"
    "filename.DejaVu_Sans_Mono=$JRE_LIB_FONTS/DejaVuSansMono.ttf\n"
    "filename.DejaVu_Sans_Mono_Bold=$JRE_LIB_FONTS/DejaVuSansMono-Bold.ttf\n"
    "filename.DejaVu_Serif=$JRE_LIB_FONTS/DejaVuSerif.ttf\n"
    "filename.DejaVu_Serif_Bold=$JRE_LIB_FONTS/DejaVuSerif-Bold.ttf\n";

int hpk_fonts_entry(const struct hpk_item *it)
{
    size_t n = strlen(FONTS_DIR), d = strlen(HPK_DEJAVU_DIR);
    const char *p = it->path;
    /* Added here: no input file, or one of the DejaVu set's (a runtime's
     * own lib/fonts has its files' sources). */
    return (!it->source || (!strncmp(it->source, HPK_DEJAVU_DIR, d) && it->source[d] == '/')) &&
           (!strcmp(p, PROPS) || (!strncmp(p, FONTS_DIR, n) && (p[n] == 0 || p[n] == '/')));
}

int hpk_snapshot_fonts(struct hpk_snapshot *s, struct hpk_err *e)
{
    if (!hpk_snapshot_find(s, "runtime/lib/libfontmanager.so")) return 0;
    /* A runtime that configures its fonts itself, or has some: left as it is. */
    if (hpk_snapshot_find(s, PROPS) || hpk_snapshot_find(s, "runtime/conf/fonts/fontconfig.properties") ||
        hpk_snapshot_find(s, FONTS_DIR))
        return 0;
    struct stat st;
    for (size_t i = 0; i < HPK_DEJAVU_N; i++) {
        char src[256];
        snprintf(src, sizeof src, "%s/%s", HPK_DEJAVU_DIR, hpk_dejavu_fonts[i]);
        if (stat(src, &st) != 0) {
            hpk_warn("the runtime draws text (java.desktop), and this host has no %s (Debian: fonts-dejavu-core): "
                     "the artifact carries no fallback fonts, so hosts without fonts cannot draw text "
                     "(--fonts none says this is meant)", src);
            return 0;
        }
    }
    struct hpk_item *it = hpk_snapshot_add(s, FONTS_DIR, S_IFDIR | 0755, HPK_ROLE_RUNTIME);
    if (!it) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    for (size_t i = 0; i < HPK_DEJAVU_N; i++) {
        char src[256], dst[128];
        snprintf(src, sizeof src, "%s/%s", HPK_DEJAVU_DIR, hpk_dejavu_fonts[i]);
        snprintf(dst, sizeof dst, "%s/%s", FONTS_DIR, hpk_dejavu_fonts[i]);
        if (!(it = hpk_snapshot_add(s, dst, S_IFREG | 0644, HPK_ROLE_RUNTIME)))
            return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
        if (hpk_snapshot_file(it, src, HPK_ST_RUNTIME, e) != 0) return -1;
        it->mode = S_IFREG | 0644;
    }
    if (!(it = hpk_snapshot_add(s, PROPS, S_IFREG | 0644, HPK_ROLE_RUNTIME)) ||
        !(it->data = (uint8_t *)strdup(props)))
        return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    it->size = sizeof props - 1;
    hpk_hash_bytes(it->data, it->size, it->hash);
    hpk_note("fonts: DejaVu Sans, Sans Mono and Serif added to the runtime (lib/fonts, lib/fontconfig.properties): "
             "the JDK draws text with them on hosts whose fontconfig has no fonts (--fonts none leaves them out)");
    return 0;
}
