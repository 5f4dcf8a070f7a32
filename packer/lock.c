/*
 * lock.c - `hpack build --lock FILE` records every input with its hash;
 * `--locked FILE` refuses to build when any input differs, naming it.
 *
 * The lock lists payload entries, not input paths: the same inputs copied
 * elsewhere still match, and what is compared is exactly what would be
 * packed (content hash, size, mode, role). Format, one record per line:
 *
 *   hpack-lock 1
 *   <xxh3-128 hex> <size> <mode octal> <role> <entry path> [<- <input file>]
 *
 * The input file after "<-" is informative (for the message) and ignored
 * when comparing. Lines are sorted by entry path; the file ends with a
 * newline. Entry paths never contain a newline (hpack refuses those).
 */
#define _GNU_SOURCE
#include "hpk_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int has_newline(const char *s) { return strchr(s, '\n') != NULL; }

static char *line_of(const struct hpk_item *it)
{
    char hex[33], *l;
    static const uint8_t zero[16];
    hpk_hash_hex(S_ISDIR(it->mode) ? zero : it->hash, hex);
    if (asprintf(&l, "%s %zu %o %s %s", hex, S_ISDIR(it->mode) ? (size_t)0 : it->size, it->mode,
                 hpk_role_name(it->role), it->path) < 0)
        return NULL;
    return l;
}

int hpk_lock_write(const struct hpk_snapshot *s, const char *file, struct hpk_err *e)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", file);
    /* mkstemp: O_CREAT|O_EXCL under a fresh name, never through a name
     * another user planted beside the output (then renamed into place). */
    int fd = mkstemp(tmp);
    if (fd < 0) return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", file, strerror(errno));
    hpk_tmp_register(tmp);
    mode_t um = umask(0);
    umask(um);
    FILE *f = fchmod(fd, 0666 & ~um) == 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        hpk_tmp_forget(tmp);
        return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", file, strerror(saved));
    }
    fprintf(f, "hpack-lock 1\n");
    for (size_t i = 0; i < s->n; i++) {
        const struct hpk_item *it = &s->items[i];
        if (has_newline(it->path) || (it->source && has_newline(it->source))) continue;
        char *l = line_of(it);
        if (!l) break;
        if (it->source) fprintf(f, "%s <- %s\n", l, it->source);
        else fprintf(f, "%s\n", l);
        free(l);
    }
    int bad = ferror(f) | fclose(f);
    if (bad || hpk_sync_path(tmp, 0) != 0 || rename(tmp, file) != 0) {
        unlink(tmp);
        hpk_tmp_forget(tmp);
        return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", file, strerror(errno));
    }
    hpk_tmp_forget(tmp);
    return 0;
}

/* The entry path of a lock line (the 5th field, before " <- "). */
static const char *lock_path(char *line)
{
    char *p = line;
    for (int i = 0; i < 4 && p; i++) {
        p = strchr(p, ' ');
        if (p) p++;
    }
    if (!p) return NULL;
    char *arrow = strstr(p, " <- ");
    if (arrow) *arrow = 0;
    return p;
}

int hpk_lock_check(const struct hpk_snapshot *s, const char *file, struct hpk_err *e)
{
    FILE *f = fopen(file, "r");
    if (!f) return hpk_fail(e, HPK_ST_USAGE, "%s: cannot read the lock file: %s", file, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n <= 0 || strcmp(line, "hpack-lock 1\n") != 0) {
        free(line);
        fclose(f);
        return hpk_fail(e, HPK_ST_USAGE, "%s: not an hpack lock file (version 1)", file);
    }
    char *seen = calloc(s->n + 1, 1);
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        char *full = strdup(line);
        const char *path = lock_path(line);
        if (!path) {
            rc = hpk_fail(e, HPK_ST_USAGE, "%s: malformed line: %s", file, full);
            free(full);
            break;
        }
        size_t i;
        for (i = 0; i < s->n; i++)
            if (!strcmp(s->items[i].path, path)) break;
        if (i == s->n) {
            rc = hpk_fail(e, HPK_ST_CHANGED, "%s: input %s is locked but no longer given", file, path);
        } else {
            seen[i] = 1;
            char *now = line_of(&s->items[i]);
            char *arrow = strstr(full, " <- ");
            if (arrow) *arrow = 0;
            if (!now || strcmp(now, full) != 0)
                rc = hpk_fail(e, HPK_ST_CHANGED, "%s: input %s%s%s differs from the lock (%s)", file,
                                  s->items[i].source ? s->items[i].source : path, s->items[i].source ? " for " : "",
                                  s->items[i].source ? path : "", now ? now : "?");
            free(now);
        }
        free(full);
    }
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        const struct hpk_item *it = &s->items[i];
        if (seen[i] || has_newline(it->path)) continue;
        const char *why = hpk_fonts_entry(it)
                              ? ": added by --fonts auto, the default (--fonts none builds without the fallback fonts)"
                              : "";
        rc = it->source ? hpk_fail(e, HPK_ST_CHANGED, "%s: input %s (%s) is not in the lock%s", file, it->source,
                                   it->path, why)
                        : hpk_fail(e, HPK_ST_CHANGED, "%s: entry %s is not in the lock%s", file, it->path, why);
    }
    free(seen);
    free(line);
    fclose(f);
    return rc;
}
