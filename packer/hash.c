/*
 * hash.c - `hpack hash ARTIFACT [--base | --full]`: print one of the
 * artifact's two hashes (docs/format.md), as the footer records them.
 */
#define _GNU_SOURCE
#include "hpk_cmds.h"
#include "hpk_verify.h"

#include <getopt.h>
#include <stdio.h>

static const char hash_usage[] = "usage: hpack hash ARTIFACT [--base | --full]\n";

int hpk_cmd_hash(int argc, char **argv)
{
    static const struct option opts[] = {{"base", no_argument, NULL, 'b'}, {"full", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int full = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b') full = 0;
        else if (c == 'f') full = 1;
        else return hpk_cmd_usage(hash_usage, c);
    }
    if (argc - optind != 1) return hpk_cmd_usage(hash_usage, '?');
    struct hpk_artifact a;
    int st = hpk_cmd_open(argv[optind], &a);
    if (st) return st;
    char hex[33];
    hpk_hash_hex(full ? a.p.footer.full_hash : a.p.footer.base_hash, hex);
    puts(hex);
    hpk_close_artifact(&a);
    return 0;
}
