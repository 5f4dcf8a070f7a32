/*
 * artifacts.c - opening artifacts for the packer's commands (inspect, hash,
 * verify, diff, extract, image, install) and for training's own check of
 * DA1: layout/'s reader and config with errors worded for a command line.
 * Kept apart from the commands so that training and the commands do not
 * depend on each other.
 */
#define _GNU_SOURCE
#include "hpk_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hpk_open_artifact(const char *path, struct hpk_artifact *a, struct hpk_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hpk_fail(e, HPK_ST_ARTIFACT, "%s: %s", path, strerror(errno));
    int r = hpk_artifact_open(fd, a);
    if (r == HPK_OK) r = hpk_artifact_map(a);
    if (r != HPK_OK) {
        hpk_artifact_close(a);
        close(fd);
        return hpk_fail(e, HPK_ST_ARTIFACT, "%s: %s%s%s", path, hpk_layout_strerror(r), a->err_path[0] ? ": " : "",
                            a->err_path);
    }
    return 0;
}

int hpk_cmd_usage(const char *usage, int c)
{
    fputs(usage, c == 'h' ? stdout : stderr);
    return c == 'h' ? 0 : HPK_ST_USAGE;
}

int hpk_cmd_json_args(int argc, char **argv, const char *usage, int operands, int *json)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int c;
    *json = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') *json = 1;
        else return hpk_cmd_usage(usage, c);
    }
    return argc - optind != operands ? hpk_cmd_usage(usage, '?') : -1;
}

int hpk_cmd_open(const char *path, struct hpk_artifact *a)
{
    struct hpk_err e;
    if (hpk_open_artifact(path, a, &e) == 0) return 0;
    fprintf(stderr, "hpack: %s\n", e.msg);
    return HPK_ST_ARTIFACT;
}

int hpk_cmd_fail(const char *cmd, const struct hpk_err *e)
{
    fprintf(stderr, "hpack: %s: %s\n", cmd, e->msg);
    return e->code;
}

void hpk_close_artifact(struct hpk_artifact *a)
{
    int fd = a->fd;
    hpk_artifact_close(a);
    if (fd >= 0) close(fd);
}

int hpk_artifact_info(const struct hpk_artifact *a, struct hpk_config *in, struct hpk_err *e)
{
    int r = hpk_config_load(a, in);
    if (r == HPK_E_TOC_RECORD) return hpk_fail(e, HPK_ST_ARTIFACT, "no valid hpack/launch entry");
    if (r != HPK_OK) return hpk_fail(e, HPK_ST_ARTIFACT, "hpack/launch: %s", hpk_layout_strerror(r));
    return 0;
}

/* Every byte of the payload is accounted for: entry data by its hash, the
 * gaps between entries must be zero, the table and footer by their sums. */
int hpk_verify_bytes(const struct hpk_artifact *a, struct hpk_err *e)
{
    const uint8_t *base = a->map + a->map_skew;
    uint64_t pos = 0;
    for (uint32_t i = 0; i < a->p.count; i++) {
        const struct hpk_entry *x = &a->p.entries[i];
        if (S_ISDIR(x->mode)) continue;
        int r = hpk_entry_decode(a, x, NULL, NULL);
        if (r != HPK_OK)
            return hpk_fail(e, HPK_ST_FAIL, "entry %.*s: %s", (int)x->path_len, x->path, hpk_layout_strerror(r));
        if (!x->stored_size) continue;
        for (uint64_t k = pos; k < x->offset; k++)
            if (base[k])
                return hpk_fail(e, HPK_ST_FAIL, "padding before entry %.*s (offset %llu) is not zero", (int)x->path_len,
                                    x->path, (unsigned long long)k);
        pos = x->offset + x->stored_size;
    }
    for (uint64_t k = pos; k < a->p.footer.toc_offset; k++)
        if (base[k]) return hpk_fail(e, HPK_ST_FAIL, "padding before the table (offset %llu) is not zero", (unsigned long long)k);
    return 0;
}
