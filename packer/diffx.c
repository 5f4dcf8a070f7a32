/*
 * diffx.c - `hpack diff` (entry by entry) and `hpack extract` (tree, tar, zip).
 */
#define _GNU_SOURCE
#include "hpk_ahead.h"
#include "hpk_build.h"
#include "hpk_cmds.h"
#include "hpk_jsonout.h"
#include "hpk_verify.h"
#include "../layout/hpk_tree.h"

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
    if (!v) hpk_oom();
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

/* One reported difference, in path order. `x` is B's entry for added and
 * changed, A's for removed; `old` is A's for changed. A startup cache file
 * takes along the entries that are its bookkeeping (fold_diff). */
enum { ADDED, REMOVED, CHANGED };
static const char *const what_name[] = {"added", "removed", "changed"};

struct change {
    const struct hpk_entry *x, *old;
    int what;         /* ADDED, REMOVED, CHANGED */
    int folded;       /* reported with another change, not by itself */
    size_t inc[8];    /* indexes of the changes folded into this one */
    size_t n_inc;
    char variant[48]; /* a cache file's variant (its provenance's `variant`), or "" */
};

/* "aot" or "cds" when x is a startup cache file (the launcher's rule,
 * launcher/main.c: a regular cache-role entry ending in .aot or .jsa). */
static const char *cache_file_kind(const struct hpk_entry *x)
{
    if (x->role != HPK_ROLE_CACHE || !S_ISREG(x->mode) || x->path_len <= 4) return NULL;
    const char *s = x->path + x->path_len - 4;
    return !memcmp(s, ".aot", 4) ? "aot" : !memcmp(s, ".jsa", 4) ? "cds" : NULL;
}

/* The change of path p[0..len), or -1. Changes are sorted by path, one per path. */
static long find_change(const struct change *v, size_t n, const char *p, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct hpk_entry *x = v[mid].x;
        size_t m = x->path_len < len ? x->path_len : len;
        int c = memcmp(x->path, p, m);
        if (!c) c = (x->path_len > len) - (x->path_len < len);
        if (!c) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static void fold_one(struct change *v, size_t n, size_t into, const char *p, size_t len, int want_dir)
{
    long k = find_change(v, n, p, len);
    if (k < 0 || v[k].folded || v[k].what != v[into].what || v[k].x->role != HPK_ROLE_CACHE ||
        (want_dir ? !S_ISDIR(v[k].x->mode) : !S_ISREG(v[k].x->mode)))
        return;
    /* (a cache file deeper than 7 directories keeps the rest as changes of their own) */
    if (v[into].n_inc == sizeof v[into].inc / sizeof v[into].inc[0]) return;
    v[k].folded = 1;
    v[into].inc[v[into].n_inc++] = (size_t)k;
}

/* Fold into each startup cache file change, of the same kind: its
 * provenance <name>.prov, and, when added or removed, the directories above
 * it added or removed with it (cache/). Companions without a cache file
 * change stay changes of their own. */
static void fold_diff(struct change *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct hpk_entry *x = v[i].x;
        if (v[i].folded || !cache_file_kind(x)) continue;
        if (v[i].what != CHANGED)
            for (size_t l = 0; l < x->path_len; l++)
                if (x->path[l] == '/') fold_one(v, n, i, x->path, l, 1);
        char prov[HPK_PATH_MAX + 8];
        int m = snprintf(prov, sizeof prov, "%.*s.prov", (int)x->path_len - 4, x->path);
        fold_one(v, n, i, prov, (size_t)m, 0);
    }
}

/* The variant a cache file was trained as, from its provenance in the
 * artifact the change shows (docs/format.md 10.1): "" for the default. */
static void name_variant(struct change *c, const struct hpk_artifact *art)
{
    const struct hpk_entry *x = c->x;
    char prov[HPK_PATH_MAX + 8], *buf = NULL;
    size_t len = 0;
    snprintf(prov, sizeof prov, "%.*s.prov", (int)x->path_len - 4, x->path);
    const struct hpk_entry *pe = hpk_payload_find(&art->p, prov);
    const char *v = NULL;
    if (pe && S_ISREG(pe->mode) && hpk_entry_slurp(art, pe, &buf, &len) == HPK_OK) v = hpk_kv_get(buf, len, "variant");
    snprintf(c->variant, sizeof c->variant, "%s", v ? v : "");
    free(buf);
}

static void text_change(FILE *f, const struct change *v, const struct change *c)
{
    const struct hpk_entry *x = c->x;
    fprintf(f, "%-8s %-9s ", what_name[c->what], hpk_role_name(x->role));
    hpk_layout_print_path(f, x->path, x->path_len);
    const char *kind = cache_file_kind(x);
    if (kind) {
        fprintf(f, "  (startup cache, %s, %s", kind, c->variant[0] ? "variant " : "");
        hpk_layout_print_path(f, c->variant, strlen(c->variant));
        if (c->variant[0]) fputs(", ", f);
        if (c->old && c->old->size != x->size)
            fprintf(f, "%llu -> ", (unsigned long long)c->old->size);
        fprintf(f, "%llu bytes", (unsigned long long)x->size);
        for (size_t k = 0; k < c->n_inc; k++) {
            const struct hpk_entry *y = v[c->inc[k]].x;
            fprintf(f, "%s%s", !k ? "; with " : k + 1 == c->n_inc ? " and " : ", ", S_ISDIR(y->mode) ? "" : "provenance ");
            hpk_layout_print_path(f, y->path, y->path_len);
            if (S_ISDIR(y->mode)) putc('/', f);
        }
        fputc(')', f);
    }
    fputc('\n', f);
}

static void json_change(FILE *f, const struct change *v, const struct change *c)
{
    const struct hpk_entry *x = c->x;
    fprintf(f, "\n    {\"change\": \"%s\", \"path\": ", what_name[c->what]);
    jpath(f, x);
    fprintf(f, ", \"role\": \"%s\"", hpk_role_name(x->role));
    const char *kind = cache_file_kind(x);
    if (kind) {
        fprintf(f, ", \"startup_cache\": \"%s\", \"variant\": ", kind);
        if (c->variant[0]) {
            hpk_json_str(f, c->variant); /* a crafted provenance may name anything */
        } else {
            fputs("null", f);
        }
        fprintf(f, ", \"size\": %llu, \"includes\": [", (unsigned long long)x->size);
        for (size_t k = 0; k < c->n_inc; k++) {
            if (k) fputs(", ", f);
            jpath(f, v[c->inc[k]].x);
        }
        fputc(']', f);
    }
    fputc('}', f);
}

static const char diff_usage[] = "usage: hpack diff A B [--json]\n";

/* A's and B's entries merged in path order: what B adds, what it lacks,
 * what differs (mode, role, size or bytes). Returns the count in v. */
static size_t diff_entries(const struct hpk_artifact *A, const struct hpk_artifact *B, struct change *v)
{
    const struct hpk_entry **a = sorted(&A->p), **b = sorted(&B->p);
    size_t n = 0;
    uint32_t i = 0, j = 0;
    while (i < A->p.count || j < B->p.count) {
        int k = i == A->p.count ? 1 : j == B->p.count ? -1 : ecmp(&a[i], &b[j]);
        if (k < 0) {
            v[n++] = (struct change){.x = a[i], .what = REMOVED};
            i++;
        } else if (k > 0) {
            v[n++] = (struct change){.x = b[j], .what = ADDED};
            j++;
        } else {
            if (a[i]->mode != b[j]->mode || a[i]->role != b[j]->role || a[i]->size != b[j]->size ||
                memcmp(a[i]->hash, b[j]->hash, 16))
                v[n++] = (struct change){.x = b[j], .old = a[i], .what = CHANGED};
            i++;
            j++;
        }
    }
    free(a);
    free(b);
    return n;
}

/* The report: each change not folded into another, then the counts and the
 * two base hashes. 0 when A and B are the same bytes, else 1 (as diff(1)). */
static int report_diff(FILE *f, const struct hpk_artifact *A, const struct hpk_artifact *B, const struct change *v,
                       size_t n, int json)
{
    size_t added = 0, removed = 0, changed = 0;
    int same_base = !memcmp(A->p.footer.base_hash, B->p.footer.base_hash, 16);
    int same_full = !memcmp(A->p.footer.full_hash, B->p.footer.full_hash, 16);
    if (json) fprintf(f, "{\n  \"changes\": [");
    int first = 1;
    for (size_t k = 0; k < n; k++) {
        if (v[k].folded) continue;
        *(v[k].what == ADDED ? &added : v[k].what == REMOVED ? &removed : &changed) += 1;
        if (json) {
            if (!first) fputc(',', f);
            json_change(f, v, &v[k]);
        } else {
            text_change(f, v, &v[k]);
        }
        first = 0;
    }
    char ha[33], hb[33];
    hpk_hash_hex(A->p.footer.base_hash, ha);
    hpk_hash_hex(B->p.footer.base_hash, hb);
    if (json)
        fprintf(f, "%s],\n  \"added\": %zu, \"removed\": %zu, \"changed\": %zu,\n  \"same_base\": %s, \"identical\": %s,\n  \"base_a\": \"%s\", \"base_b\": \"%s\"\n}\n",
                first ? "" : "\n  ", added, removed, changed, same_base ? "true" : "false", same_full ? "true" : "false", ha, hb);
    else
        fprintf(f, "%zu added, %zu removed, %zu changed; base %s (%s%s%s)\n", added, removed, changed,
                same_base ? "same" : "differs", ha, same_base ? "" : " vs ", same_base ? "" : hb);
    return same_full && !added && !removed && !changed ? 0 : 1;
}

int hpk_cmd_diff(int argc, char **argv)
{
    int json, st = hpk_cmd_json_args(argc, argv, diff_usage, 2, &json);
    if (st >= 0) return st;
    /* Trouble is 2, as diff(1)'s: not the artifact commands' HPK_ST_ARTIFACT. */
    struct hpk_artifact A, B;
    if (hpk_cmd_open(argv[optind], &A) != 0) return 2;
    if (hpk_cmd_open(argv[optind + 1], &B) != 0) {
        hpk_close_artifact(&A);
        return 2;
    }
    struct change *v = calloc((size_t)A.p.count + B.p.count + 1, sizeof *v);
    if (!v) hpk_oom();
    size_t n = diff_entries(&A, &B, v);
    fold_diff(v, n);
    for (size_t k = 0; k < n; k++)
        if (!v[k].folded && cache_file_kind(v[k].x)) name_variant(&v[k], v[k].what == REMOVED ? &A : &B);
    int rc = report_diff(stdout, &A, &B, v, n, json);
    free(v);
    hpk_close_artifact(&A);
    hpk_close_artifact(&B);
    return rc;
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

/* Write the archive to a temporary beside `out`, renamed into place only when
 * complete: on any error nothing is left. Links obey the launcher's rule
 * (hpk_entry_link_check): an archive never holds a link the launcher refuses. */
static int extract_archive(const struct hpk_artifact *a, const char *src, const char *out, int zip, struct hpk_err *e)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", out) >= (int)sizeof tmp)
        return hpk_fail(e, HPK_ST_OUTPUT, "%s: path too long", out);
    /* mkstemp: O_CREAT|O_EXCL under a fresh name, never through a name
     * another user planted beside the output. */
    int fd = mkstemp(tmp);
    if (fd < 0) return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", out, strerror(errno));
    hpk_tmp_register(tmp);
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    struct archive *ar = archive_write_new();
    if (!ar) hpk_oom();
    if (zip) {
        archive_write_set_format_zip(ar);
        archive_write_set_options(ar, "zip:compression=deflate,zip:experimental");
    } else {
        archive_write_set_format_pax_restricted(ar);
    }
    /* Written in 1 MiB blocks, not libarchive's 10 KiB: a system call per
     * 10 KiB cost a third of the time of a 145 MB tree (docs/results.md).
     * The same bytes: on a regular file archive_write_open_fd pads the last
     * block to nothing (bytes_in_last_block 1) whatever the block size. */
    archive_write_set_bytes_per_block(ar, 1 << 20);
    if (archive_write_open_fd(ar, fd) != ARCHIVE_OK) {
        hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
        archive_write_free(ar);
        close(fd);
        unlink(tmp);
        hpk_tmp_forget(tmp);
        return -1;
    }
    time_t t = fixed_time();
    int rc = 0;
    /* The files' contents decoded on a second CPU while this thread
     * writes the archive (ahead.c); NULL: decoded here. */
    struct hpk_ahead *ahead = hpk_ahead_start(a);
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
            int r = hpk_entry_slurp(a, x, &target, &n);
            if (r != HPK_OK)
                rc = hpk_fail(e, HPK_ST_ARTIFACT, "%s: entry %s: %s", src, p, hpk_layout_strerror(r));
            else if ((r = hpk_entry_link_check(a, x, target, n)) != HPK_LINK_OK)
                rc = hpk_fail(e, HPK_ST_ARTIFACT, "%s: symlink %s points outside the tree%s", src, p,
                                  r == HPK_LINK_THROUGH ? " (through another symlink)" : "");
            else
                archive_entry_set_symlink(ae, target);
            archive_entry_set_size(ae, 0);
        } else {
            archive_entry_set_size(ae, S_ISREG(x->mode) ? (la_int64_t)x->size : 0);
        }
        if (rc == 0 && archive_write_header(ar, ae) != ARCHIVE_OK)
            rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
        if (rc == 0 && S_ISREG(x->mode)) {
            int r = HPK_OK;
            if (ahead) {
                const uint8_t *b;
                size_t n;
                while (hpk_ahead_next(ahead, x, &b, &n, &r))
                    if (archive_write_data(ar, b, n) != (la_ssize_t)n) {
                        r = HPK_E_SINK;
                        break;
                    }
            } else {
                struct asink s = {ar};
                r = hpk_entry_decode(a, x, archive_sink, &s);
            }
            if (r != HPK_OK) rc = hpk_fail(e, r == HPK_E_SINK ? HPK_ST_OUTPUT : HPK_ST_ARTIFACT, "entry %s: %s", p,
                                               r == HPK_E_SINK ? archive_error_string(ar) : hpk_layout_strerror(r));
        }
        free(target);
        archive_entry_free(ae);
    }
    hpk_ahead_stop(ahead);
    if (archive_write_close(ar) != ARCHIVE_OK && rc == 0) rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, archive_error_string(ar));
    archive_write_free(ar);
    if (close(fd) != 0 && rc == 0) rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, strerror(errno));
    if (rc == 0 && rename(tmp, out) != 0) rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, strerror(errno));
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
        else return hpk_cmd_usage(extract_usage, c);
    }
    if (argc - optind != 1 || !out) return hpk_cmd_usage(extract_usage, '?');
    struct hpk_artifact a;
    int rc = hpk_cmd_open(argv[optind], &a);
    if (rc) return rc;
    struct hpk_err e;
    if (has_suffix(out, ".tar") || has_suffix(out, ".zip")) {
        if (extract_archive(&a, argv[optind], out, has_suffix(out, ".zip"), &e) != 0) rc = -1;
    } else {
        struct hpk_err le;
        if (hpk_extract_dir(&a, out, &le) != 0) rc = hpk_fail(&e, HPK_ST_OUTPUT, "%s", le.msg);
    }
    hpk_close_artifact(&a);
    if (rc != 0) {
        fprintf(stderr, "hpack: %s\n", e.msg);
        return e.code;
    }
    return 0;
}
