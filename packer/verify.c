/*
 * verify.c - `hpack verify ARTIFACT`: check every byte (entries, table,
 * footer) and the launch configuration as the launcher would, optionally
 * against expected hashes; with --run, that its startup cache applies
 * (verifyrun.c).
 */
#define _GNU_SOURCE
#include "hpk_cmds.h"
#include "hpk_verify.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char verify_usage[] =
    "usage: hpack verify ARTIFACT [--expect-base H] [--expect-full H] [--run [-- ARGS...]]\n";

/* The launch configuration, as the launcher reads it: what the launcher
 * refuses, verify refuses. Every carried cache must be bound too: the
 * launcher would never use one that is not, and a DA1 built by hpack has
 * none such. names: the caches' names when there are several (for --run).
 * Reports on stderr; 0 or HPK_ST_FAIL. */
static int check_config(const char *path, const struct hpk_artifact *a, char names[][64], size_t *n_names)
{
    struct hpk_err e;
    struct hpk_config in;
    if (hpk_artifact_info(a, &in, &e) != 0) {
        fprintf(stderr, "hpack: %s: %s\n", path, e.msg);
        hpk_config_free(&in);
        return HPK_ST_FAIL;
    }
    int st = 0;
    for (size_t i = 0; i < in.n_caches && !st; i++) {
        hpk_config_select(a, &in, i);
        if (in.n_caches > 1) snprintf(names[(*n_names)++], 64, "%s", hpk_config_cache_name(&in));
        if (in.trust != HPK_TRUST_OK) {
            fprintf(stderr, "hpack: %s: startup cache ", path);
            hpk_layout_print_path(stderr, in.cache->path, in.cache->path_len);
            fprintf(stderr, " (%s) is not bound to this payload: %s\n", hpk_config_cache_name(&in), in.cache_why);
            st = HPK_ST_FAIL;
        }
    }
    hpk_config_free(&in);
    return st;
}

int hpk_cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"expect-base", required_argument, NULL, 'b'},
                                         {"expect-full", required_argument, NULL, 'f'},
                                         {"run", no_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    const char *eb = NULL, *ef = NULL;
    int run = 0, c;
    optind = 1;
    /* "+": stop at the first operand, so the app's arguments after ARTIFACT -- stay whole. */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b') eb = optarg;
        else if (c == 'f') ef = optarg;
        else if (c == 'r') run = 1;
        else return hpk_cmd_usage(verify_usage, c);
    }
    if (argc - optind < 1) return hpk_cmd_usage(verify_usage, '?');
    const char *path = argv[optind];
    if (!run && argc - optind > 1) {
        fprintf(stderr, "hpack verify: unexpected argument '%s'\n", argv[optind + 1]);
        return HPK_ST_USAGE;
    }
    struct hpk_err e;
    struct hpk_artifact a;
    int st = hpk_cmd_open(path, &a);
    if (st) return st;
    char base[33], full[33];
    hpk_hash_hex(a.p.footer.base_hash, base);
    hpk_hash_hex(a.p.footer.full_hash, full);
    char names[HPK_CACHES_MAX][64]; /* the caches' names, when there are several */
    size_t n_names = 0;
    st = check_config(path, &a, names, &n_names);
    if (st) {
        hpk_close_artifact(&a);
        return st;
    }
    if (hpk_verify_bytes(&a, &e) != 0) {
        fprintf(stderr, "hpack: %s: %s\n", path, e.msg);
        st = HPK_ST_FAIL;
    } else if (eb && strcmp(eb, base) != 0) {
        fprintf(stderr, "hpack: %s: base hash is %s, expected %s\n", path, base, eb);
        st = HPK_ST_FAIL;
    } else if (ef && strcmp(ef, full) != 0) {
        fprintf(stderr, "hpack: %s: full hash is %s, expected %s\n", path, full, ef);
        st = HPK_ST_FAIL;
    }
    hpk_close_artifact(&a);
    if (st) return st;
    printf("%s: ok: %s base %s full %s\n", path, "every entry, the table and the footer match;", base, full);
    /* Each carried cache run on its own (HPACK_AOT_VARIANT) when there are several. */
    for (size_t i = 0; run && i < (n_names ? n_names : 1); i++) {
        if (hpk_verify_run(path, NULL, n_names ? names[i] : NULL, argc - optind - 1, argv + optind + 1, &e) != 0) {
            fprintf(stderr, "hpack: %s: %s\n", path, e.msg);
            return e.code;
        }
    }
    return 0;
}
