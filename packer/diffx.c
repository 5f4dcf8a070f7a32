/*
 * diffx.c - `hpack diff` (entry by entry) and `hpack extract` (tree, tar, zip).
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "hpk_cmds.h"
#include "hpk_verify.h"
#include "../launcher/hpk_launcher.h"

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

static int ecmp(const void *x, const void *y)
{
    const struct hpk_entry *a = *(const struct hpk_entry *const *)x, *b = *(const struct hpk_entry *const *)y;
    size_t n = a->path_len < b->path_len ? a->path_len : b->path_len;
    int c = memcmp(a->path, b->path, n);
    return c ? c : (a->path_len > b->path_len) - (a->path_len < b->path_len);
}

static const struct hpk_entry **sorted(const struct hpk_payload *p)
{
    const struct hpk_entry **v = malloc((p->count + 1) * sizeof *v);
    if (!v) exit(HPK_ST_INTERNAL);
    for (uint32_t i = 0; i < p->count; i++) v[i] = &p->entries[i];
    qsort(v, p->count, sizeof *v, ecmp);
    return v;
}

static void jpath(FILE *f, const struct hpk_entry *x)
{
    fputc('"', f);
    for (size_t i = 0; i < x->path_len; i++) {
        unsigned char c = (unsigned char)x->path[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static const char diff_usage[] = "usage: hpack diff A B [--json]\n";

int hpk_cmd_diff(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') json = 1;
        else {
            fputs(diff_usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (argc - optind != 2) {
        fputs(diff_usage, stderr);
        return 2;
    }
    struct hpk_perr e;
    struct hpk_artifact A, B;
    if (hpk_open_artifact(argv[optind], &A, &e) != 0) {
        fprintf(stderr, "hpack: %s\n", e.msg);
        return 2;
    }
    if (hpk_open_artifact(argv[optind + 1], &B, &e) != 0) {
        fprintf(stderr, "hpack: %s\n", e.msg);
        hpk_close_artifact(&A);
        return 2;
    }
    const struct hpk_entry **a = sorted(&A.p), **b = sorted(&B.p);
    uint32_t i = 0, j = 0;
    size_t added = 0, removed = 0, changed = 0;
    int same_base = !memcmp(A.p.footer.base_hash, B.p.footer.base_hash, 16);
    int same_full = !memcmp(A.p.footer.full_hash, B.p.footer.full_hash, 16);
    FILE *f = stdout;
    if (json) fprintf(f, "{\n  \"changes\": [");
    int first = 1;
    while (i < A.p.count || j < B.p.count) {
        int k = i == A.p.count ? 1 : j == B.p.count ? -1 : ecmp(&a[i], &b[j]);
        const struct hpk_entry *x = k <= 0 ? a[i] : b[j];
        const char *what = NULL;
        if (k < 0) {
            what = "removed";
            removed++;
            i++;
        } else if (k > 0) {
            what = "added";
            added++;
            j++;
        } else {
            if (a[i]->mode != b[j]->mode || a[i]->role != b[j]->role || a[i]->size != b[j]->size ||
                memcmp(a[i]->hash, b[j]->hash, 16)) {
                what = "changed";
                changed++;
            }
            i++;
            j++;
        }
        if (!what) continue;
        if (json) {
            fprintf(f, "%s\n    {\"change\": \"%s\", \"path\": ", first ? "" : ",", what);
            jpath(f, x);
            fprintf(f, ", \"role\": \"%s\"}", hpk_role_name(x->role));
        } else {
            fprintf(f, "%-8s %-9s %.*s\n", what, hpk_role_name(x->role), (int)x->path_len, x->path);
        }
        first = 0;
    }
    char ha[33], hb[33];
    hpk_hash_hex(A.p.footer.base_hash, ha);
    hpk_hash_hex(B.p.footer.base_hash, hb);
    if (json)
        fprintf(f, "%s],\n  \"added\": %zu, \"removed\": %zu, \"changed\": %zu,\n  \"same_base\": %s, \"identical\": %s,\n  \"base_a\": \"%s\", \"base_b\": \"%s\"\n}\n",
                first ? "" : "\n  ", added, removed, changed, same_base ? "true" : "false", same_full ? "true" : "false", ha, hb);
    else
        fprintf(f, "%zu added, %zu removed, %zu changed; base %s (%s%s%s)\n", added, removed, changed,
                same_base ? "same" : "differs", ha, same_base ? "" : " vs ", same_base ? "" : hb);
    free(a);
    free(b);
    hpk_close_artifact(&A);
    hpk_close_artifact(&B);
    return same_full && !added && !removed && !changed ? 0 : 1;
}

/* ---- extract ---- */

static time_t fixed_time(void)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (s && *s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (!*end && v >= 0) return (time_t)v;
    }
    return HPK_FIXED_MTIME;
}

struct asink {
    struct archive *ar;
};

static int archive_sink(void *ctx, const uint8_t *buf, size_t len)
{
    struct asink *s = ctx;
    return archive_write_data(s->ar, buf, len) == (la_ssize_t)len ? 0 : -1;
}

static int extract_archive(const struct hpk_artifact *a, const char *out, int zip, struct hpk_perr *e)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    struct archive *ar = archive_write_new();
    if (zip) {
        archive_write_set_format_zip(ar);
        archive_write_set_options(ar, "zip:compression=deflate,zip:experimental");
    } else {
        archive_write_set_format_pax_restricted(ar);
    }
    if (archive_write_open_filename(ar, tmp) != ARCHIVE_OK) {
        hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
        archive_write_free(ar);
        return -1;
    }
    hpk_tmp_register(tmp);
    time_t t = fixed_time();
    int rc = 0;
    for (uint32_t i = 0; i < a->p.count && rc == 0; i++) {
        const struct hpk_entry *x = &a->p.entries[i];
        struct archive_entry *ae = archive_entry_new();
        char p[HPK_PATH_MAX + 2];
        snprintf(p, sizeof p, "%.*s%s", (int)x->path_len, x->path, S_ISDIR(x->mode) && zip ? "/" : "");
        archive_entry_set_pathname(ae, p);
        archive_entry_set_mode(ae, x->mode);
        archive_entry_set_mtime(ae, t, 0);
        archive_entry_set_uid(ae, 0);
        archive_entry_set_gid(ae, 0);
        char *target = NULL;
        if (S_ISLNK(x->mode)) {
            size_t n;
            if (hpk_entry_slurp(a, x, &target, &n) != HPK_OK) rc = hpk_perr_set(e, HPK_ST_ARTIFACT, "entry %s: corrupt", p);
            else archive_entry_set_symlink(ae, target);
            archive_entry_set_size(ae, 0);
        } else {
            archive_entry_set_size(ae, S_ISREG(x->mode) ? (la_int64_t)x->size : 0);
        }
        if (rc == 0 && archive_write_header(ar, ae) != ARCHIVE_OK)
            rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
        if (rc == 0 && S_ISREG(x->mode)) {
            struct asink s = {ar};
            int r = hpk_entry_decode(a, x, archive_sink, &s);
            if (r != HPK_OK) rc = hpk_perr_set(e, r == HPK_E_SINK ? HPK_ST_OUTPUT : HPK_ST_ARTIFACT, "entry %s: %s", p,
                                               r == HPK_E_SINK ? archive_error_string(ar) : hpk_layout_strerror(r));
        }
        free(target);
        archive_entry_free(ae);
    }
    if (archive_write_close(ar) != ARCHIVE_OK && rc == 0) rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
    archive_write_free(ar);
    if (rc == 0 && rename(tmp, out) != 0) rc = hpk_perr_set(e, HPK_ST_OUTPUT, "%s: %s", out, strerror(errno));
    if (rc != 0) unlink(tmp);
    hpk_tmp_forget(tmp);
    return rc;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static const char extract_usage[] = "usage: hpack extract ARTIFACT -o DIR | -o FILE.tar | -o FILE.zip\n";

int hpk_cmd_extract(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o') out = optarg;
        else {
            fputs(extract_usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : HPK_ST_USAGE;
        }
    }
    if (argc - optind != 1 || !out) {
        fputs(extract_usage, stderr);
        return HPK_ST_USAGE;
    }
    struct hpk_perr e;
    struct hpk_artifact a;
    if (hpk_open_artifact(argv[optind], &a, &e) != 0) {
        fprintf(stderr, "hpack: %s\n", e.msg);
        return HPK_ST_ARTIFACT;
    }
    int rc = 0;
    if (has_suffix(out, ".tar") || has_suffix(out, ".zip")) {
        if (extract_archive(&a, out, has_suffix(out, ".zip"), &e) != 0) rc = -1;
    } else {
        struct hpk_err le;
        if (hpk_extract_dir(&a, out, &le) != 0) rc = hpk_perr_set(&e, HPK_ST_OUTPUT, "%s", le.msg);
    }
    hpk_close_artifact(&a);
    if (rc != 0) {
        fprintf(stderr, "hpack: %s\n", e.msg);
        return e.status;
    }
    return 0;
}
