/*
 * jar.c - read a jar's manifest (Main-Class, Class-Path) with libarchive.
 */
#define _GNU_SOURCE
#include "hpk_packer.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Manifest lines are at most 72 bytes; a line starting with one space
 * continues the previous one (JAR File Specification). */
static char *manifest_get(const char *mf, size_t len, const char *key)
{
    size_t kl = strlen(key);
    char *out = NULL;
    size_t on = 0;
    int in_value = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && mf[j] != '\n' && mf[j] != '\r') j++;
        const char *line = mf + i;
        size_t n = j - i;
        if (in_value) {
            if (n > 0 && line[0] == ' ') {
                char *o = realloc(out, on + n);
                if (!o) break;
                out = o;
                memcpy(out + on, line + 1, n - 1);
                on += n - 1;
                out[on] = 0;
            } else {
                break;
            }
        } else if (n > kl + 1 && strncasecmp(line, key, kl) == 0 && line[kl] == ':') {
            const char *v = line + kl + 1;
            size_t vn = n - kl - 1;
            while (vn && *v == ' ') v++, vn--;
            out = malloc(vn + 1);
            if (!out) return NULL;
            memcpy(out, v, vn);
            out[vn] = 0;
            on = vn;
            in_value = 1;
        } else if (n == 0 && i > 0) {
            break; /* end of the main section */
        }
        /* skip one line terminator: \r\n, \n or \r */
        if (j < len && mf[j] == '\r') j++;
        if (j < len && mf[j] == '\n') j++;
        i = j;
    }
    if (out) {
        /* trim trailing spaces */
        while (on && (out[on - 1] == ' ' || out[on - 1] == '\t')) out[--on] = 0;
    }
    return out;
}

int hpk_jar_manifest(const uint8_t *data, size_t size, const char *name, struct hpk_manifest *m,
                     struct hpk_perr *e)
{
    memset(m, 0, sizeof *m);
    struct archive *a = archive_read_new();
    if (!a) return hpk_perr_set(e, HPK_ST_INTERNAL, "out of memory");
    archive_read_support_format_zip(a);
    if (archive_read_open_memory(a, data, size) != ARCHIVE_OK) {
        archive_read_free(a);
        return hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: not a jar (not a zip file)", name);
    }
    struct archive_entry *ae;
    int r, found = 0, entries = 0;
    while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
        entries++;
        const char *p = archive_entry_pathname(ae);
        if (!p || strcasecmp(p, "META-INF/MANIFEST.MF") != 0) continue;
        la_int64_t sz = archive_entry_size(ae);
        if (sz < 0 || sz > (1 << 24)) break;
        char *mf = malloc((size_t)sz + 1);
        if (!mf) break;
        la_ssize_t got = archive_read_data(a, mf, (size_t)sz);
        if (got != sz) {
            free(mf);
            break;
        }
        mf[sz] = 0;
        m->main_class = manifest_get(mf, (size_t)sz, "Main-Class");
        m->class_path = manifest_get(mf, (size_t)sz, "Class-Path");
        free(mf);
        found = 1;
        break;
    }
    if (!found && r != ARCHIVE_EOF) {
        int bad = entries == 0;
        archive_read_free(a);
        return hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: %s", name,
                            bad ? "not a jar (not a zip file)" : "corrupt jar (cannot read its manifest)");
    }
    if (!found && entries == 0) {
        archive_read_free(a);
        return hpk_perr_set(e, HPK_ST_CLASSPATH, "%s: not a jar (empty or not a zip file)", name);
    }
    archive_read_free(a);
    return 0;
}

void hpk_manifest_free(struct hpk_manifest *m)
{
    free(m->main_class);
    free(m->class_path);
    memset(m, 0, sizeof *m);
}
