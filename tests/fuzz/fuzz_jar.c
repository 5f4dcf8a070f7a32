/*
 * fuzz_jar.c - libFuzzer harness over packer/jar.c, which reads jars from
 * third parties (Maven Central, a distribution's lib/): the manifest
 * (Main-Class, Class-Path), the hand-written zip code that rewrites a
 * Class-Path for the closure, and the module-info.class reader.
 *
 * The first byte of an input says what the rest is:
 *   0  a jar, as it is;
 *   1  the text of a META-INF/MANIFEST.MF, put in a jar (stored);
 *   2  the same, deflated;
 *   3  a module-info.class, put in a jar.
 * An oracle besides the sanitizers: a rewrite that succeeds, of a jar that
 * reads whole, gives a jar that reads back (libarchive, as the build reads
 * it) with the new Class-Path and the old Main-Class.
 *
 *   make fuzz-jar FUZZ_TIME=600    run libFuzzer (clang) on the corpus
 *   make fuzz-regress              replays tests/fuzz/corpus-jar too (CI)
 */
#include "../../packer/hpk_packer.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A jar of one entry `name` holding d (n bytes), stored or deflated. */
static uint8_t *one_entry_jar(const char *name, const uint8_t *d, size_t n, int deflated, size_t *outn)
{
    size_t nl = strlen(name), cn = deflated ? compressBound((uLong)n) + 16 : n;
    uint8_t *c = malloc(cn ? cn : 1);
    if (!c) return NULL;
    if (deflated) {
        z_stream zs = {0};
        if (deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(c);
            return NULL;
        }
        zs.next_in = (Bytef *)d, zs.avail_in = (uInt)n;
        zs.next_out = c, zs.avail_out = (uInt)cn;
        int zr = deflate(&zs, Z_FINISH);
        cn = zs.total_out;
        deflateEnd(&zs);
        if (zr != Z_STREAM_END) {
            free(c);
            return NULL;
        }
    } else if (n) {
        memcpy(c, d, n);
    }
    uint32_t crc = (uint32_t)crc32(0, d, (uInt)n);
    size_t total = 30 + nl + cn + 46 + nl + 22;
    uint8_t *o = calloc(1, total), *p = o;
    if (!o) {
        free(c);
        return NULL;
    }
    hpk_put32(p, 0x04034b50), hpk_put16(p + 4, 20), hpk_put16(p + 8, deflated ? 8 : 0);
    hpk_put32(p + 14, crc), hpk_put32(p + 18, (uint32_t)cn), hpk_put32(p + 22, (uint32_t)n);
    hpk_put16(p + 26, (uint16_t)nl);
    memcpy(p + 30, name, nl);
    memcpy(p + 30 + nl, c, cn);
    free(c);
    uint8_t *cd = p + 30 + nl + cn;
    hpk_put32(cd, 0x02014b50), hpk_put16(cd + 4, 20), hpk_put16(cd + 6, 20), hpk_put16(cd + 10, deflated ? 8 : 0);
    hpk_put32(cd + 16, crc), hpk_put32(cd + 20, (uint32_t)cn), hpk_put32(cd + 24, (uint32_t)n);
    hpk_put16(cd + 28, (uint16_t)nl), hpk_put32(cd + 42, 0);
    memcpy(cd + 46, name, nl);
    uint8_t *end = cd + 46 + nl;
    hpk_put32(end, 0x06054b50), hpk_put16(end + 8, 1), hpk_put16(end + 10, 1);
    hpk_put32(end + 12, (uint32_t)(46 + nl)), hpk_put32(end + 16, (uint32_t)(cd - o));
    *outn = total;
    return o;
}

/* Does libarchive read every entry of the jar whole? hpk_jar_manifest stops
 * judging once it has the manifest, so the oracle holds only for jars with
 * nothing broken after it (a rewrite moves the manifest last). */
static int reads_whole(const uint8_t *d, size_t n)
{
    struct archive *a = archive_read_new();
    if (!a) return 0;
    archive_read_support_format_zip(a);
    int r = archive_read_open_memory(a, d, n);
    struct archive_entry *ae;
    while (r == ARCHIVE_OK && (r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
        char buf[4096];
        la_ssize_t got;
        while ((got = archive_read_data(a, buf, sizeof buf)) > 0) continue;
        if (got < 0) r = ARCHIVE_FATAL;
    }
    archive_read_free(a);
    return r == ARCHIVE_EOF;
}

static int same(const char *a, const char *b) { return a && b ? !strcmp(a, b) : a == b; }

/* Read, rewrite, read the rewrite back. */
static void fuzz_one_jar(const uint8_t *d, size_t n)
{
    static const char *values[] = {"lib/a.jar lib/b.jar",
                                   "lib/some-rather-long-library-name-1.2.3.jar lib/another-long-name-with-"
                                   "caf\xc3\xa9-4.5.6.jar lib/x.jar",
                                   ""};
    struct hpk_err e;
    struct hpk_manifest m;
    if (hpk_jar_manifest(d, n, "fuzz.jar", &m, &e) != 0) return;
    /* The closure rewrites only a Class-Path it read (libarchive, as here):
     * a manifest libarchive did not see (a record marked a directory, say)
     * is never rewritten, and the oracle would compare two readers. */
    int whole = m.class_path && reads_whole(d, n);
    for (size_t k = 0; k < sizeof values / sizeof *values; k++) {
        uint8_t *o;
        size_t on;
        if (hpk_jar_rewrite_class_path(d, n, "fuzz.jar", values[k], &o, &on, &e) != 0) continue;
        struct hpk_manifest r;
        if (!whole) {
            free(o);
            continue;
        }
        if (hpk_jar_manifest(o, on, "rewritten.jar", &r, &e) != 0) {
            fprintf(stderr, "fuzz_jar: a rewritten jar does not read back: %s\n", e.msg);
            abort();
        }
        if (!same(r.class_path, *values[k] ? values[k] : NULL) || !same(r.main_class, m.main_class)) {
            fprintf(stderr, "fuzz_jar: rewrite to '%s' reads back Class-Path '%s', Main-Class '%s' (was '%s')\n",
                    values[k], r.class_path ? r.class_path : "(none)", r.main_class ? r.main_class : "(none)",
                    m.main_class ? m.main_class : "(none)");
            abort();
        }
        hpk_manifest_free(&r);
        free(o);
    }
    hpk_manifest_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 1) return 0;
    int mode = d[0] & 3;
    d++, n--;
    uint8_t *jar = NULL;
    size_t jn = 0;
    if (mode == 0) {
        fuzz_one_jar(d, n);
    } else if (mode == 1 || mode == 2) {
        if ((jar = one_entry_jar("META-INF/MANIFEST.MF", d, n, mode == 2, &jn))) fuzz_one_jar(jar, jn);
    }
    if (mode == 3) jar = one_entry_jar("module-info.class", d, n, 0, &jn);
    char *req = NULL, *mod = hpk_jar_module_name(jar ? jar : d, jar ? jn : n, &req);
    free(mod);
    free(req);
    free(jar);
    return 0;
}

#include "replay.h"
