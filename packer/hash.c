/*
 * hash.c - `hpack hash ARTIFACT [--base | --full]`: print one of the
 * artifact's two hashes (docs/format.md), as the footer records them.
 */
#define _GNU_SOURCE
#include "hpk_cmds.h"
#include "hpk_verify.h"

#include <getopt.h>
#include <stdio.h>

int hpk_cmd_hash(int argc, char **argv)
{
    static const struct option opts[] = {{"base", no_argument, NULL, 'b'}, {"full", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int full = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b') full = 0;
        else if (c == 'f') full = 1;
        else {
            fputs("usage: hpack hash ARTIFACT [--base | --full]\n", c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : HPK_ST_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs("usage: hpack hash ARTIFACT [--base | --full]\n", stderr);
        return HPK_ST_USAGE;
    }
    struct hpk_perr e;
    struct hpk_artifact a;
    if (hpk_open_artifact(argv[optind], &a, &e) != 0) {
        fprintf(stderr, "hpack: %s\n", e.msg);
        return HPK_ST_ARTIFACT;
    }
    char hex[33];
    hpk_hash_hex(full ? a.p.footer.full_hash : a.p.footer.base_hash, hex);
    puts(hex);
    hpk_close_artifact(&a);
    return 0;
}
