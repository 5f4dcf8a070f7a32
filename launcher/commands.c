/*
 * commands.c - the launcher options that report instead of starting the
 * application: --hpack-info (the payload table, hashes and the JVM command
 * line) and --hpack-check (does the carried cache apply on this host: the
 * prediction, then the JVM's own word).
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"
#include "../layout/hpk_hostfit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hpk_start_info(struct hpk_start *c, const char *rootpath)
{
    char full[33];
    hpk_hash_hex(c->a.p.footer.full_hash, full);
    printf("format: %u\nbase hash: %s\nfull hash: %s\n", c->a.p.footer.version, c->cf.base_hex, full);
    printf("runtime: Java %s\nmain class: %s\n", c->cf.launch.runtime_version ? c->cf.launch.runtime_version : "?", c->cf.launch.main);
    if (c->cf.cache)
        printf("startup cache: %.*s (%s, %llu bytes): %s%s\n", (int)c->cf.cache->path_len, c->cf.cache->path,
               c->cf.launch.cache_kind ? c->cf.launch.cache_kind : "?", (unsigned long long)c->cf.cache->size,
               hpk_start_bound(c) ? "bound to base " : "NOT USABLE: ", hpk_start_bound(c) ? c->cf.base_hex : c->cf.cache_why);
    else
        printf("startup cache: none\n");
    struct hpk_fit_result r = {.fit = HPK_FIT_NO};
    if (hpk_start_bound(c)) {
        static const char *const said[] = {"applies", "does not apply", "may apply (the JVM decides)"};
        hpk_launcher_fit(&c->cf, &r);
        printf("on this host: %s: %s\n", said[r.fit], r.why);
    }
    printf("unpack directory: %s/%s\n", rootpath, c->cf.base_hex);
    char **b = hpk_start_argv(c, rootpath, hpk_start_bound(c) && r.fit != HPK_FIT_NO && c->aot != HPK_AOT_OFF, NULL, NULL, 0, NULL);
    printf("exec: ");
    hpk_start_print_argv(stdout, b);
    printf("entries: %u\n", c->a.p.count);
    printf("%-9s %7s %12s %12s %-6s %12s %-32s %s\n", "role", "mode", "size", "stored", "codec", "offset",
           "xxh3-128", "path");
    for (uint32_t i = 0; i < c->a.p.count; i++) {
        const struct hpk_entry *e = &c->a.p.entries[i];
        char h[33];
        hpk_hash_hex(e->hash, h);
        printf("%-9s %07o %12llu %12llu %-6s %12llu %s %.*s\n", hpk_role_name(e->role), e->mode,
               (unsigned long long)e->size, (unsigned long long)e->stored_size, hpk_codec_name(e->codec),
               (unsigned long long)e->offset, h, (int)e->path_len, e->path);
    }
}

/* --hpack-check: for this host, does the carried cache apply? The
 * prediction (the warm path's rule), then the JVM's own check
 * (`-XX:AOTMode=on ... -version`, or -Xshare:on), unless the CPU lacks a
 * feature: that cache's machine code must never run here. Exit 0 when the
 * cache applies, HPK_EXIT_HOSTFIT when it does not (docs/launcher.md 1). */
int hpk_start_check(struct hpk_start *c)
{
    if (!c->cf.cache) {
        printf("startup cache: none; nothing to check\n");
        return HPK_EXIT_HOSTFIT;
    }
    printf("startup cache: %.*s (%s)\n", (int)c->cf.cache->path_len, c->cf.cache->path,
           c->cf.launch.cache_kind ? c->cf.launch.cache_kind : "?");
    if (!hpk_start_bound(c)) {
        printf("bound: no: %s\nverdict: does not apply\n", c->cf.cache_why);
        return HPK_EXIT_HOSTFIT;
    }
    struct hpk_fit_result r;
    hpk_launcher_fit(&c->cf, &r);
    static const char *const said[] = {"applies", "does not apply", "may apply (at a limit; the JVM decides)"};
    printf("predicted: %s: %s\n", said[r.fit], r.why);
    if (hpk_fit_cpu_refused(r.fit, r.reason)) {
        printf("jvm check: not run (the cache's machine code must not meet this CPU)\nverdict: does not apply\n");
        return HPK_EXIT_HOSTFIT;
    }
    char rootpath[4096];
    hpk_start_pin(c, hpk_start_find_tree(c, 1, rootpath, sizeof rootpath));
    enum hpk_aot keep = c->aot;
    c->aot = HPK_AOT_REQUIRE;
    static const char *const version[] = {"-version", NULL}; /* no main class */
    char **v = hpk_start_argv(c, rootpath, 1, NULL, version, 0, NULL);
    c->aot = keep;
    int st = -1;
    char *out = hpk_launcher_capture(c->cf.launch.java, v, &st);
    hpk_exec_line_free(v);
    int ok = out && st == 0;
    const char *w = out ? strstr(out, "Unable to use") : NULL;
    if (!w && out) w = strstr(out, "rror");
    printf("jvm check: %s%.*s\n", ok ? "the JVM maps the cache" : "refused: ",
           ok ? 0 : (int)strcspn(w ? w : "", "\n"), w ? w : "");
    if (r.fit != HPK_FIT_UNSURE && ok != (r.fit == HPK_FIT_YES)) printf("note: the prediction and the JVM disagree; the JVM's word stands\n");
    printf("verdict: %s\n", ok ? "applies" : "does not apply");
    free(out);
    return ok ? 0 : HPK_EXIT_HOSTFIT;
}

