/*
 * jar.c - read a jar's manifest (Main-Class, Class-Path) with libarchive,
 * and rewrite its Class-Path (hpk_jar_rewrite_class_path) for the closure.
 */
#define _GNU_SOURCE
#include "hpk_packer.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

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
        } else if (n == 0) {
            break; /* the end of the main section (first line empty: an empty one, as the JVM reads it) */
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

/* META-INF/X.SF: the jar is signed (JAR File Specification, "Signed JAR
 * File"); its manifest is covered by the signature. */
static int is_signature_file(const char *p)
{
    size_t n = strlen(p);
    return n > 12 && !strncasecmp(p, "META-INF/", 9) && !strchr(p + 9, '/') && !strcasecmp(p + n - 3, ".SF");
}

int hpk_jar_manifest(const uint8_t *data, size_t size, const char *name, struct hpk_manifest *m,
                     struct hpk_err *e)
{
    memset(m, 0, sizeof *m);
    struct archive *a = archive_read_new();
    if (!a) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    archive_read_support_format_zip(a);
    if (archive_read_open_memory(a, data, size) != ARCHIVE_OK) {
        archive_read_free(a);
        return hpk_fail(e, HPK_ST_CLASSPATH, "%s: not a jar (not a zip file)", name);
    }
    struct archive_entry *ae;
    int r, found = 0, entries = 0;
    while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        entries++;
        const char *p = archive_entry_pathname(ae);
        if (p && is_signature_file(p)) m->is_signed = 1;
        if (!p || found || strcasecmp(p, "META-INF/MANIFEST.MF") != 0) continue;
        la_int64_t sz = archive_entry_size(ae);
        /* Manifests take kilobytes; the bound keeps a hostile jar from
         * taking the memory it claims. Said as such, not as a corrupt jar. */
        if (sz > (1 << 24)) {
            archive_read_free(a);
            return hpk_fail(e, HPK_ST_CLASSPATH, "%s: manifest of %lld bytes: hpack reads manifests up to 16 MiB",
                            name, (long long)sz);
        }
        if (sz < 0) break;
        char *mf = malloc((size_t)sz + 1);
        if (!mf) {
            archive_read_free(a);
            return hpk_fail(e, HPK_ST_INTERNAL, "%s: out of memory for its manifest", name);
        }
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
        /* go on: a signature file may come after the manifest */
    }
    if (r != ARCHIVE_EOF && found) r = ARCHIVE_EOF; /* the manifest was read: what follows is not ours to judge */
    if (!found && r != ARCHIVE_EOF) {
        int bad = entries == 0;
        archive_read_free(a);
        return hpk_fail(e, HPK_ST_CLASSPATH, "%s: %s", name,
                            bad ? "not a jar (not a zip file)" : "corrupt jar (cannot read its manifest)");
    }
    if (!found && entries == 0) {
        archive_read_free(a);
        return hpk_fail(e, HPK_ST_CLASSPATH, "%s: not a jar (empty or not a zip file)", name);
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

/* ---- rewriting the Class-Path attribute ---- */

/* Zip fields are little-endian: hpk_get16... (layout/hpk_layout.h). */

/* The manifest text with the main section's Class-Path replaced by `value`
 * (dropped when value is empty): every other byte as it was, the line ends
 * the manifest's own, the new value wrapped at 72 bytes as the JAR File
 * Specification wants (continuation lines start with one space). */
static char *manifest_with(const char *mf, size_t len, const char *value, size_t *outn)
{
    char *out = NULL;
    size_t on = 0;
    FILE *f = open_memstream(&out, &on);
    if (!f) return NULL;
    const char *eol = memchr(mf, '\r', len) ? "\r\n" : "\n";
    int done = 0;
    size_t i = 0;
    for (int in_cp = 0; i < len;) {
        size_t j = i;
        while (j < len && mf[j] != '\n' && mf[j] != '\r') j++;
        size_t end = j;
        if (end < len && mf[end] == '\r') end++;
        if (end < len && mf[end] == '\n') end++;
        const char *line = mf + i;
        size_t n = j - i;
        if (n == 0) break; /* the end of the main section */
        if (line[0] == ' ' && in_cp) { /* a continuation of the old value: dropped */
            i = end;
            continue;
        }
        in_cp = n > 11 && !strncasecmp(line, "Class-Path:", 11);
        if (in_cp && !done) {
            done = 1;
            size_t vl = strlen(value), pos = 0, room = 72 - 12;
            if (vl) fputs("Class-Path: ", f);
            while (pos < vl) {
                size_t take = vl - pos < room ? vl - pos : room;
                /* never cut a UTF-8 sequence */
                while (take > 1 && pos + take < vl && ((unsigned char)value[pos + take] & 0xC0) == 0x80) take--;
                fwrite(value + pos, 1, take, f);
                fputs(eol, f);
                pos += take;
                if (pos < vl) fputc(' ', f);
                room = 71;
            }
        } else if (!in_cp) {
            fwrite(mf + i, 1, end - i, f);
        }
        i = end;
    }
    fwrite(mf + i, 1, len - i, f); /* the blank line and the per-entry sections */
    if (fclose(f) != 0) return NULL;
    if (!done) { /* there was none: nothing to replace (callers only rewrite an existing one) */
        free(out);
        return NULL;
    }
    *outn = on;
    return out;
}

/* Where a jar's manifest is: the zip's end record and central directory,
 * and the manifest's central directory record in it. */
struct zip_cd {
    size_t eo;              /* the end of central directory record */
    uint32_t cdoff, cdsize; /* the central directory */
    size_t rec;             /* META-INF/MANIFEST.MF's record in it */
};

/* The end of central directory record: the last "PK\5\6" whose comment
 * ends the file; SIZE_MAX if none. */
static size_t end_record(const uint8_t *d, size_t size)
{
    for (size_t k = size >= 22 ? size - 22 : 0; size >= 22; k--) {
        if (hpk_get32(d + k) == 0x06054b50 && k + 22 + hpk_get16(d + k + 20) == size) return k;
        if (k == 0 || size - k > 22 + 65535) break;
    }
    return SIZE_MAX;
}

/* The central directory record at pos, which must end by `end`: the
 * offset of the next one, or SIZE_MAX if it is no such record. */
static size_t next_record(const uint8_t *d, size_t pos, size_t end)
{
    if (pos + 46 > end || hpk_get32(d + pos) != 0x02014b50) return SIZE_MAX;
    size_t next = pos + 46 + hpk_get16(d + pos + 28) + hpk_get16(d + pos + 30) + hpk_get16(d + pos + 32);
    return next > end ? SIZE_MAX : next;
}

static int find_manifest_record(const uint8_t *d, size_t size, const char *name, struct zip_cd *z, struct hpk_err *e)
{
    size_t eo = end_record(d, size);
    if (eo == SIZE_MAX) return hpk_fail(e, HPK_ST_CLASSPATH, "%s: not a zip file (no end of central directory)", name);
    if (eo >= 20 && hpk_get32(d + eo - 20) == 0x07064b50)
        return hpk_fail(e, HPK_ST_CLASSPATH, "%s: a zip64 jar: hpack cannot rewrite its manifest", name);
    /* One disk: readers of a jar split over several (libarchive's reader by
     * the central directory among them) read it another way, by its local
     * headers in order, and would find a manifest this one does not. */
    if (hpk_get16(d + eo + 4) != 0 || hpk_get16(d + eo + 6) != 0 || hpk_get16(d + eo + 8) != hpk_get16(d + eo + 10))
        return hpk_fail(e, HPK_ST_CLASSPATH, "%s: corrupt jar (its end record names several disks)", name);
    uint32_t count = hpk_get16(d + eo + 10), cdsize = hpk_get32(d + eo + 12), cdoff = hpk_get32(d + eo + 16);
    if ((size_t)cdoff + cdsize > eo)
        return hpk_fail(e, HPK_ST_CLASSPATH, "%s: corrupt jar (central directory out of bounds)", name);
    size_t rec = SIZE_MAX, pos = cdoff;
    for (uint32_t k = 0; k < count; k++) {
        size_t next = next_record(d, pos, (size_t)cdoff + cdsize);
        if (next == SIZE_MAX)
            return hpk_fail(e, HPK_ST_CLASSPATH, "%s: corrupt jar (bad central directory record)", name);
        if (hpk_get16(d + pos + 28) == 20 && !strncasecmp((const char *)d + pos + 46, "META-INF/MANIFEST.MF", 20))
            rec = pos;
        pos = next;
    }
    if (rec == SIZE_MAX) return hpk_fail(e, HPK_ST_CLASSPATH, "%s: no manifest to rewrite", name);
    /* No other record shares the manifest's local header: the rewrite
     * moves the manifest, and that record would be left on the old one. */
    pos = cdoff;
    for (uint32_t k = 0; k < count; k++) {
        if (pos != rec && hpk_get32(d + pos + 42) == hpk_get32(d + rec + 42))
            return hpk_fail(e, HPK_ST_CLASSPATH, "%s: corrupt jar (two records share the manifest's bytes)", name);
        pos += 46 + hpk_get16(d + pos + 28) + hpk_get16(d + pos + 30) + hpk_get16(d + pos + 32);
    }
    z->eo = eo, z->cdoff = cdoff, z->cdsize = cdsize, z->rec = rec;
    return 0;
}

/* The manifest's text (stored or deflated), its CRC checked; *usize its
 * length. NULL with e set when it cannot be read. */
static char *read_manifest(const uint8_t *d, const struct zip_cd *z, const char *name, uint32_t *usize_out,
                           struct hpk_err *e)
{
    size_t rec = z->rec;
    uint32_t method = hpk_get16(d + rec + 10), csize = hpk_get32(d + rec + 20), usize = hpk_get32(d + rec + 24), lho = hpk_get32(d + rec + 42);
    if ((size_t)lho + 30 > z->cdoff || hpk_get32(d + lho) != 0x04034b50) {
        hpk_fail(e, HPK_ST_CLASSPATH, "%s: corrupt jar (bad local header of the manifest)", name);
        return NULL;
    }
    /* The local header names the same file: libarchive, which read the
     * manifest before (hpk_jar_manifest), goes by the local header's name. */
    if (hpk_get16(d + lho + 26) != 20 || (size_t)lho + 30 + 20 > z->cdoff || memcmp(d + lho + 30, d + rec + 46, 20)) {
        hpk_fail(e, HPK_ST_CLASSPATH, "%s: corrupt jar (the manifest's local header names another file)", name);
        return NULL;
    }
    size_t data = (size_t)lho + 30 + hpk_get16(d + lho + 26) + hpk_get16(d + lho + 28);
    if (data + csize > z->cdoff || usize > (1u << 24) || (method != 0 && method != 8)) {
        hpk_fail(e, HPK_ST_CLASSPATH, "%s: manifest not stored or deflated, or too big", name);
        return NULL;
    }
    char *mf = malloc(usize + 1);
    if (!mf) {
        hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
        return NULL;
    }
    const char *bad = NULL;
    if (method == 0) {
        if (csize != usize) bad = "manifest sizes differ";
        else memcpy(mf, d + data, usize);
    } else {
        z_stream zs = {0};
        int zr = inflateInit2(&zs, -15);
        zs.next_in = (Bytef *)(d + data);
        zs.avail_in = csize;
        zs.next_out = (Bytef *)mf;
        zs.avail_out = usize;
        if (zr == Z_OK) zr = inflate(&zs, Z_FINISH);
        inflateEnd(&zs);
        if (zr != Z_STREAM_END || zs.total_out != usize) bad = "cannot inflate its manifest";
    }
    if (!bad && crc32(0, (const Bytef *)mf, usize) != hpk_get32(d + rec + 16)) bad = "manifest CRC mismatch";
    if (bad) {
        free(mf);
        hpk_fail(e, HPK_ST_CLASSPATH, "%s: corrupt jar (%s)", name, bad);
        return NULL;
    }
    *usize_out = usize;
    return mf;
}

/* The jar with manifest nm (nl bytes) in place of the old one. Everything
 * before the central directory stays as it was (the old manifest's bytes
 * too, unreferenced); the new manifest is stored after it, and the central
 * directory, copied, points at it. Readers go by the central directory, as
 * the JVM's ZipFile does. */
static uint8_t *with_manifest(const uint8_t *d, size_t size, const struct zip_cd *z, const char *nm, size_t nl,
                              size_t *total_out)
{
    uint32_t cdoff = z->cdoff, cdsize = z->cdsize;
    size_t rec = z->rec, eo = z->eo;
    size_t loc = 30 + 20, total = cdoff + loc + nl + cdsize + (size - eo);
    uint8_t *o = malloc(total);
    if (!o) return NULL;
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)nm, (uInt)nl), flags = hpk_get16(d + rec + 8) & 0x0800;
    memcpy(o, d, cdoff);
    uint8_t *l = o + cdoff;
    memset(l, 0, 30);
    hpk_put32(l, 0x04034b50);
    hpk_put16(l + 4, 10);
    hpk_put16(l + 6, flags);
    hpk_put16(l + 10, hpk_get16(d + rec + 12)); /* time and date as they were */
    hpk_put16(l + 12, hpk_get16(d + rec + 14));
    hpk_put32(l + 14, crc);
    hpk_put32(l + 18, (uint32_t)nl);
    hpk_put32(l + 22, (uint32_t)nl);
    hpk_put16(l + 26, 20);
    memcpy(l + 30, "META-INF/MANIFEST.MF", 20);
    memcpy(l + loc, nm, nl);
    uint8_t *c = l + loc + nl;
    memcpy(c, d + cdoff, cdsize);
    uint8_t *r = c + (rec - cdoff);
    hpk_put16(r + 8, flags);
    hpk_put16(r + 10, 0);
    hpk_put32(r + 16, crc);
    hpk_put32(r + 20, (uint32_t)nl);
    hpk_put32(r + 24, (uint32_t)nl);
    hpk_put32(r + 42, cdoff);
    uint8_t *end = c + cdsize;
    memcpy(end, d + eo, size - eo);
    hpk_put32(end + 16, (uint32_t)(cdoff + loc + nl));
    *total_out = total;
    return o;
}

int hpk_jar_rewrite_class_path(const uint8_t *d, size_t size, const char *name, const char *value, uint8_t **out,
                               size_t *outn, struct hpk_err *e)
{
    struct zip_cd z = {0};
    if (find_manifest_record(d, size, name, &z, e) != 0) return -1;
    uint32_t usize;
    char *mf = read_manifest(d, &z, name, &usize, e);
    if (!mf) return -1;
    size_t nl;
    char *nm = manifest_with(mf, usize, value, &nl);
    free(mf);
    if (!nm) return hpk_fail(e, HPK_ST_CLASSPATH, "%s: no Class-Path attribute to rewrite", name);
    size_t total;
    uint8_t *o = with_manifest(d, size, &z, nm, nl, &total);
    free(nm);
    if (!o) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    if ((uint64_t)z.cdoff + 30 + 20 + nl > 0xffffffffu) {
        free(o);
        return hpk_fail(e, HPK_ST_CLASSPATH, "%s: too big to rewrite without zip64", name);
    }
    *out = o;
    *outn = total;
    return 0;
}

/* ---- the module a jar declares ---- */

/* The module name in a module-info.class: the Module attribute's
 * module_name_index -> CONSTANT_Module -> CONSTANT_Utf8 (JVMS 4.7.25). */
static char *module_info_name(const uint8_t *c, size_t n, char **requires)
{
    if (n < 10 || hpk_get32(c) != 0xBEBAFECAu) return NULL; /* CAFEBABE, read little-endian */
    size_t cpn = (size_t)c[8] << 8 | c[9], p = 10;
    size_t *off = calloc(cpn ? cpn : 1, sizeof *off);
    if (!off) return NULL;
    char *name = NULL;
    for (size_t i = 1; i < cpn; i++) {
        if (p >= n) goto out;
        off[i] = p;
        switch (c[p]) {
        case 1: if (p + 3 > n) goto out; p += 3 + ((size_t)c[p + 1] << 8 | c[p + 2]); break;
        case 3: case 4: case 9: case 10: case 11: case 12: case 17: case 18: p += 5; break;
        case 5: case 6: p += 9; i++; break;
        case 7: case 8: case 16: case 19: case 20: p += 3; break;
        case 15: p += 5 - 1; break;
        default: goto out;
        }
    }
#define U2(q) ((size_t)c[q] << 8 | c[(q) + 1])
    if (p + 8 > n) goto out;
    p += 6; /* access, this, super */
    p += 2 + 2 * U2(p); /* interfaces */
    for (int k = 0; k < 2; k++) { /* fields, methods: none in a module-info, but skip them properly */
        if (p + 2 > n) goto out;
        size_t cnt = U2(p);
        p += 2;
        for (size_t j = 0; j < cnt; j++) {
            if (p + 8 > n) goto out;
            size_t ac = U2(p + 6);
            p += 8;
            for (size_t a = 0; a < ac; a++) {
                if (p + 6 > n) goto out;
                p += 6 + hpk_get32((const uint8_t[]){c[p + 5], c[p + 4], c[p + 3], c[p + 2]});
            }
        }
    }
    if (p + 2 > n) goto out;
    size_t ac = U2(p);
    p += 2;
    for (size_t a = 0; a < ac && p + 8 <= n; a++) {
        size_t ni = U2(p), len = hpk_get32((const uint8_t[]){c[p + 5], c[p + 4], c[p + 3], c[p + 2]});
        if (ni && ni < cpn && c[off[ni]] == 1 && U2(off[ni] + 1) == 6 && !memcmp(c + off[ni] + 3, "Module", 6)) {
            /* module_name_index, flags, version_index, requires_count, then
             * (requires_index, flags, version_index) each */
            char *names[2] = {NULL, NULL};
            size_t mp = p + 6, nreq = mp + 8 <= n ? U2(mp + 6) : 0;
            FILE *f = requires ? open_memstream(&names[1], &(size_t){0}) : NULL;
            int written = 0;
            for (size_t r = 0; r <= nreq && mp + 6 <= n; r++) {
                size_t mi = U2(mp), ui;
                if (mi && mi < cpn && c[off[mi]] == 19 && (ui = U2(off[mi] + 1)) && ui < cpn && c[off[ui]] == 1 &&
                    off[ui] + 3 + U2(off[ui] + 1) <= n) {
                    if (r == 0) names[0] = strndup((const char *)c + off[ui] + 3, U2(off[ui] + 1));
                    else if (f) fprintf(f, "%s%.*s", written++ ? "," : "", (int)U2(off[ui] + 1), (const char *)c + off[ui] + 3);
                }
                mp += r == 0 ? 8 : 6;
            }
            if (f) fclose(f);
            name = names[0];
            if (requires) *requires = names[1];
            break;
        }
        p += 6 + len;
    }
#undef U2
out:
    free(off);
    return name;
}

char *hpk_jar_module_name(const uint8_t *data, size_t size, char **requires)
{
    if (requires) *requires = NULL;
    struct archive *a = archive_read_new();
    if (!a) return NULL;
    archive_read_support_format_zip(a);
    /* A module-info.class wins over the manifest's Automatic-Module-Name
     * wherever each lies: it also says what the module requires. */
    char *name = NULL, *automatic = NULL;
    struct archive_entry *ae;
    if (archive_read_open_memory(a, data, size) == ARCHIVE_OK) {
        int r;
        while (!name && ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN)) {
            const char *p = archive_entry_pathname(ae);
            la_int64_t sz = archive_entry_size(ae);
            int mi = p && (!strcmp(p, "module-info.class") ||
                           (!strncmp(p, "META-INF/versions/", 18) && strstr(p + 18, "/module-info.class")));
            int mf = p && !automatic && !strcasecmp(p, "META-INF/MANIFEST.MF");
            if ((!mi && !mf) || sz <= 0 || sz > (1 << 22)) continue;
            uint8_t *buf = malloc((size_t)sz + 1);
            if (!buf) break;
            if (archive_read_data(a, buf, (size_t)sz) == sz) {
                buf[sz] = 0;
                if (mi) name = module_info_name(buf, (size_t)sz, requires);
                else automatic = manifest_get((char *)buf, (size_t)sz, "Automatic-Module-Name");
            }
            free(buf);
        }
    }
    archive_read_free(a);
    if (name) {
        free(automatic);
        return name;
    }
    return automatic;
}

int hpk_jar_lists(const uint8_t *d, size_t size, const char *entry)
{
    size_t eo = end_record(d, size), el = strlen(entry);
    if (eo == SIZE_MAX || (eo >= 20 && hpk_get32(d + eo - 20) == 0x07064b50)) return -1;
    uint32_t count = hpk_get16(d + eo + 10), cdsize = hpk_get32(d + eo + 12), cdoff = hpk_get32(d + eo + 16);
    if ((size_t)cdoff + cdsize > eo) return -1;
    size_t pos = cdoff;
    for (uint32_t k = 0; k < count; k++) {
        size_t next = next_record(d, pos, (size_t)cdoff + cdsize);
        if (next == SIZE_MAX) return -1;
        size_t nl = hpk_get16(d + pos + 28);
        const char *n = (const char *)d + pos + 46;
        if (nl >= el && !memcmp(n + nl - el, entry, el)) {
            if (nl == el) return 1;
            /* META-INF/versions/<N>/entry: a multi-release jar's */
            size_t pl = nl - el, v = 18;
            if (pl > v + 1 && !memcmp(n, "META-INF/versions/", v) && n[pl - 1] == '/') {
                while (v < pl - 1 && n[v] >= '0' && n[v] <= '9') v++;
                if (v == pl - 1) return 1;
            }
        }
        pos = next;
    }
    return 0;
}
