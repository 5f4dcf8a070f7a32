/*
 * commands.c - the launcher options that report instead of starting the
 * application: --hpack-info (the payload table, hashes and the JVM command
 * line) and --hpack-check (does a carried cache apply on this host: each
 * cache's prediction, then the JVM's own word on the chosen one).
 */
#define _GNU_SOURCE
#include "hpk_launcher.h"
#include "../layout/hpk_hostfit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One carried cache, as --hpack-info and --hpack-check name it: its path,
 * kind, and for a variant its name and options. */
static void print_cache(const struct hpk_start *c, const char *label)
{
    printf("%s: ", label);
    hpk_layout_print_path(stdout, c->cf.cache->path, c->cf.cache->path_len);
    fputs(" (", stdout);
    hpk_layout_print_text(stdout, c->cf.launch.cache_kind);
    if (c->cf.variant) {
        fputs(", variant ", stdout);
        hpk_layout_print_path(stdout, c->cf.variant, strlen(c->cf.variant));
        for (size_t i = 0; i < c->cf.n_cache_opts; i++) {
            fputs(i ? " " : "; options ", stdout);
            hpk_layout_print_path(stdout, c->cf.cache_opts[i], strlen(c->cf.cache_opts[i]));
        }
    }
    putchar(')');
}

/* What the tree's marker says (layout/marker.c), looked at, not changed. */
static const char *tree_state(const char *rootpath, const char *hex)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", rootpath, hex);
    int t = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (t < 0) return "none";
    enum hpk_marker_state m = hpk_tree_marker(t, hex);
    close(t);
    static const char *const said[] = {
        [HPK_MARKER_BAD] = "incomplete (the next start unpacks it again)",
        [HPK_MARKER_SETTLED] = "settled",
        [HPK_MARKER_THIS_BOOT] = "unpacked in this boot",
        [HPK_MARKER_EARLIER_BOOT] = "unpacked before the machine restarted (the next start checks it)",
    };
    return said[m];
}

/* `p`: every cache judged (hpk_launcher_pick with all); the current cache
 * is the chosen one. */
void hpk_start_info(struct hpk_start *c, const char *rootpath, const struct hpk_pick *p)
{
    char full[33];
    hpk_hash_hex(c->a.p.footer.full_hash, full);
    printf("format: %u\nbase hash: %s\nfull hash: %s\n", c->a.p.footer.version, c->cf.base_hex, full);
    /* The artifact's own values, escaped like its entry names: a crafted
     * one must not forge lines of this report. (The reasons below, which
     * quote a provenance, are escaped where they are made.) */
    fputs("runtime: Java ", stdout);
    hpk_layout_print_text(stdout, c->cf.launch.runtime_version);
    fputs("\nmain class: ", stdout);
    hpk_layout_print_text(stdout, c->cf.launch.main);
    putchar('\n');
    static const char *const said[] = {"applies", "does not apply", "may apply (the JVM decides)"};
    size_t chosen = c->cf.cur;
    for (size_t i = 0; i < c->cf.n_caches; i++) {
        hpk_config_select(&c->a, &c->cf, i);
        fputs("startup cache: ", stdout);
        hpk_layout_print_path(stdout, c->cf.cache->path, c->cf.cache->path_len);
        fputs(" (", stdout);
        hpk_layout_print_text(stdout, c->cf.launch.cache_kind);
        printf(", %llu bytes%s", (unsigned long long)c->cf.cache->size, c->cf.variant ? ", variant " : "");
        if (c->cf.variant) hpk_layout_print_text(stdout, c->cf.variant);
        printf("): %s%s\n", hpk_start_bound(c) ? "bound to base " : "NOT USABLE: ",
               hpk_start_bound(c) ? c->cf.base_hex : c->cf.cache_why);
        if (hpk_start_bound(c) && i < p->n_eval) printf("on this host: %s: %s\n", said[p->r[i].fit], p->r[i].why);
    }
    if (!c->cf.n_caches) printf("startup cache: none\n");
    hpk_config_select(&c->a, &c->cf, chosen);
    if (c->cf.n_caches > 1) {
        fputs("chosen: ", stdout);
        hpk_layout_print_text(stdout, p->idx >= 0 && c->aot != HPK_AOT_OFF ? hpk_config_cache_name(&c->cf) : "none");
        putchar('\n');
    }
    printf("unpack directory: %s/%s\n", rootpath, c->cf.base_hex);
    printf("unpacked tree: %s\n", tree_state(rootpath, c->cf.base_hex));
    for (size_t i = 0; i < c->cf.launch.n_env; i++) { /* as recorded: a start sets it, ${HPACK_*} expanded */
        fputs("env: ", stdout);
        hpk_layout_print_path(stdout, c->cf.launch.env[i], strlen(c->cf.launch.env[i]));
        putchar('\n');
    }
    char **b = hpk_start_argv(c, rootpath, p->idx >= 0 && c->aot != HPK_AOT_OFF, NULL, NULL, 0, NULL);
    printf("exec: ");
    hpk_start_print_argv(stdout, b);
    printf("entries: %u\n", c->a.p.count);
    printf("%-9s %7s %12s %12s %-6s %12s %-32s %s\n", "role", "mode", "size", "stored", "codec", "offset",
           "xxh3-128", "path");
    for (uint32_t i = 0; i < c->a.p.count; i++) {
        const struct hpk_entry *e = &c->a.p.entries[i];
        char h[33];
        hpk_hash_hex(e->hash, h);
        printf("%-9s %07o %12llu %12llu %-6s %12llu %s ", hpk_role_name(e->role), e->mode,
               (unsigned long long)e->size, (unsigned long long)e->stored_size, hpk_codec_name(e->codec),
               (unsigned long long)e->offset, h);
        hpk_layout_print_path(stdout, e->path, e->path_len);
        putchar('\n');
    }
}

/* The JVM's own word on the cache the current settings pass (the carried
 * current one, or c->local_cache): `-XX:AOTMode=on ... -version`, or
 * -Xshare:on. Prints it; 1 if the JVM maps it. */
static int jvm_check(struct hpk_start *c, const struct hpk_fit_result *r)
{
    char rootpath[4096];
    hpk_start_pin(c, hpk_start_find_tree(c, c->local_cache == NULL ? HPK_TREE_CACHE : 0, rootpath, sizeof rootpath));
    hpk_start_env(c, rootpath); /* the JVM's word in a start's environment */
    if (c->tree_lacks & HPK_TREE_CACHE) { /* a read-only root (tree.c): nothing for the JVM to map */
        printf("jvm check: not run: the cache is not in %s/%s, and the cache directory is read-only\n", rootpath,
               c->cf.base_hex);
        return 0;
    }
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
    if (r->fit != HPK_FIT_UNSURE && ok != (r->fit == HPK_FIT_YES)) printf("note: the prediction and the JVM disagree; the JVM's word stands\n");
    free(out);
    return ok;
}

/* The host-local cache (heal.c): where it is, whether it applies; 1 if it
 * may be passed. */
static int check_local(struct hpk_start *c, struct hpk_heal *h)
{
    hpk_heal_init(c, h);
    if (!h->on) {
        printf("host-local cache: none (%s)\n", h->off_why);
        return 0;
    }
    int ok = hpk_heal_look(c, h);
    if (!h->present) printf("host-local cache: none yet (%s; healing records one on the next start)\n", h->why);
    else printf("host-local cache: %s/cache\npredicted: %s: %s\n", h->path, ok ? "applies" : "does not apply", h->why);
    return ok;
}

/* --hpack-check: for this host, does a startup cache apply? Each carried
 * cache's prediction (the warm path's rule) and the host-local one's, then
 * the JVM's own check of the one a start would pass, or of the default
 * when none would be (`-XX:AOTMode=on ... -version`, or -Xshare:on),
 * unless the CPU lacks a feature: that cache's machine code must never run
 * here. Exit 0 when a cache applies, HPK_EXIT_HOSTFIT when none does
 * (docs/launcher.md 1). */
int hpk_start_check(struct hpk_start *c)
{
    struct hpk_heal h;
    struct hpk_pick p;
    memset(&p, 0, sizeof p);
    p.idx = -1;
    if (c->cf.cache) hpk_launcher_pick(&c->a, &c->cf, 1, &p);
    else printf("startup cache: none carried\n");
    static const char *const said[] = {"applies", "does not apply", "may apply (at a limit; the JVM decides)"};
    size_t chosen = c->cf.cur;
    for (size_t i = 0; i < c->cf.n_caches; i++) {
        hpk_config_select(&c->a, &c->cf, i);
        print_cache(c, "startup cache");
        putchar('\n');
        if (!p.bound[i]) printf("bound: no: %s\n", c->cf.cache_why);
        else printf("predicted: %s: %s\n", said[p.r[i].fit], p.r[i].why);
    }
    hpk_config_select(&c->a, &c->cf, chosen);
    int local = p.idx < 0 && check_local(c, &h);
    if (local) {
        printf("chosen: host-local\n");
        hpk_heal_pin(c, &h);
        c->local_cache = HPK_HEAL_CACHE_PATH;
        int ok = jvm_check(c, &h.fit);
        printf("verdict: %s\n", ok ? "applies" : "does not apply");
        return ok ? 0 : HPK_EXIT_HOSTFIT;
    }
    if (c->cf.n_caches > 1) {
        if (p.idx >= 0) print_cache(c, "chosen");
        else printf("chosen: none; the JVM checks the default");
        putchar('\n');
    }
    if (!c->cf.cache || !hpk_start_bound(c)) {
        printf("verdict: does not apply\n");
        return HPK_EXIT_HOSTFIT;
    }
    if (p.idx < 0 && hpk_fit_cpu_refused(p.r[chosen].fit, p.r[chosen].reason)) {
        printf("jvm check: not run (the cache's machine code must not meet this CPU)\nverdict: does not apply\n");
        return HPK_EXIT_HOSTFIT;
    }
    int ok = jvm_check(c, &p.r[chosen]);
    printf("verdict: %s\n", ok ? "applies" : "does not apply");
    return ok ? 0 : HPK_EXIT_HOSTFIT;
}
