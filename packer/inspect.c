/*
 * inspect.c - `hpack inspect ARTIFACT [--json]`: what an artifact holds
 * and what the launcher would do with it (its launch configuration, cache
 * verdict, exec line, closure, entries), read through layout/ as the
 * launcher reads it.
 */
#define _GNU_SOURCE
#include "hpk_build.h"
#include "hpk_cmds.h"
#include "hpk_jsonout.h"
#include "hpk_tune.h"
#include "hpk_verify.h"
#include "../layout/hpk_hostfit.h"
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

static void json_cstr(FILE *f, const char *s)
{
    if (!s) fputs("null", f);
    else hpk_json_str(f, s);
}

/* One member: SEP "KEY": VALUE (a string, or null), or an array of them. */
static void json_kcstr(FILE *f, const char *sep, const char *key, const char *v)
{
    fprintf(f, "%s\"%s\": ", sep, key);
    json_cstr(f, v);
}

static void json_strv(FILE *f, const char **v, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        json_cstr(f, v[i]);
    }
    fputc(']', f);
}

static void json_kstrv(FILE *f, const char *sep, const char *key, const char **v, size_t n)
{
    fprintf(f, "%s\"%s\": ", sep, key);
    json_strv(f, v, n);
}

/* The conditions the cache was trained under (docs/format.md 9.3). */
static void cond_text(FILE *f, const struct hpk_config *in)
{
    struct hpk_cond c;
    char feat[256];
    hpk_cond_from_prov(in->prov, in->prov ? in->prov_len : 0, &c);
    if (!c.gc[0] && c.coops < 0) {
        fprintf(f, "cache applies:  conditions not recorded (trained by an older hpack)\n");
        return;
    }
    hpk_cpufeat_format(&c.cpu, feat, sizeof feat);
    /* (gc, build and the architecture are escaped as they are read:
     * hpk_cond_from_prov) */
    fprintf(f, "cache applies:  GC %s, UseCompressedOops %s, UseCompressedClassPointers %s, ObjectAlignmentInBytes %d, "
               "UseCompactObjectHeaders %s; JVM build %s; CPU %s%s\n",
            c.gc, c.coops > 0 ? "true" : c.coops == 0 ? "false" : "?", c.ccp > 0 ? "true" : c.ccp == 0 ? "false" : "?",
            c.align, c.coh > 0 ? "true" : c.coh == 0 ? "false" : "n/a", c.build[0] ? c.build : "?",
            c.cpu.n ? feat : "not recorded",
            c.code == HPK_CODE_NONE ? " (not needed: no machine code, trained with -XX:-AOTAdapterCaching)" : "");
}

static void cond_json(FILE *f, const struct hpk_config *in)
{
    struct hpk_cond c;
    char feat[256];
    static const char *const tri[] = {"null", "false", "true"};
    hpk_cond_from_prov(in->prov, in->prov ? in->prov_len : 0, &c);
    hpk_cpufeat_format(&c.cpu, feat, sizeof feat);
    fprintf(f, "{\"gc\": ");
    json_cstr(f, c.gc[0] ? c.gc : NULL);
    fprintf(f, ", \"UseCompressedOops\": %s, \"UseCompressedClassPointers\": %s, \"ObjectAlignmentInBytes\": ",
            tri[c.coops + 1], tri[c.ccp + 1]);
    if (c.align > 0) fprintf(f, "%d", c.align);
    else fputs("null", f);
    fprintf(f, ", \"UseCompactObjectHeaders\": %s, \"jvm_build\": ", tri[c.coh + 1]);
    json_cstr(f, c.build[0] ? c.build : NULL);
    fprintf(f, ", \"cpu_features\": ");
    json_cstr(f, c.cpu.n ? feat : NULL);
    fprintf(f, ", \"machine_code\": %s", c.code == HPK_CODE_YES ? "true" : c.code == HPK_CODE_NONE ? "false" : "null");
    fputc('}', f);
}

/* The JVM command line the launcher would run, with $HPACK_CACHE_DIR for
 * the unpack root: the launcher's own builder (layout/config.c). */
static char **exec_line(const struct hpk_config *in)
{
    char tree[64];
    snprintf(tree, sizeof tree, "$HPACK_CACHE_DIR/%s", in->base_hex);
    struct hpk_exec_spec sp = {.tree = tree, .cache = in->cache && in->trust == HPK_TRUST_OK};
    char **v = hpk_exec_line(in, &sp);
    if (!v) {
        hpk_oom();
    }
    return v;
}

/* hpack/closure (docs/format.md 9.4): each manifest Class-Path entry and
 * how it resolves inside the tree; each jar whose manifest was rewritten. */
static void closure_list(const struct hpk_artifact *a, FILE *f, int json)
{
    const struct hpk_entry *x = hpk_payload_find(&a->p, "hpack/closure");
    char *buf = NULL;
    size_t len = 0, pos = 0, kl;
    const char *k, *v;
    if (!x || hpk_entry_slurp(a, x, &buf, &len) != HPK_OK) {
        if (json) fputs("[]", f);
        return;
    }
    static const char *const names[] = {"jar", "entry", "status", "from", "path"};
    if (json) fputs("[", f);
    else fputs("\nclass path closure (manifest Class-Path entries, hpack/closure):\n", f);
    int n = 0;
    while (hpk_kv_next(buf, len, &pos, &k, &kl, &v) == 1) {
        const char *fl[5] = {0};
        size_t fn[5] = {0};
        int nf = 0;
        for (const char *p = v; nf < 5; nf++) {
            const char *t = strchr(p, '\t');
            fl[nf] = p;
            fn[nf] = t ? (size_t)(t - p) : strlen(p);
            if (!t) {
                nf++;
                break;
            }
            p = t + 1;
        }
        int entry = kl == 5 && !memcmp(k, "entry", 5) && nf == 5, rw = kl == 9 && !memcmp(k, "rewritten", 9) && nf == 2;
        if (!entry && !rw) continue;
        if (json) {
            fprintf(f, "%s\n    {", n++ ? "," : "");
            for (int i = 0; i < nf; i++) {
                fprintf(f, "%s\"%s\": ", i ? ", " : "", rw ? (i ? "input_xxh3_128" : "rewritten_jar") : names[i]);
                hpk_json_strn(f, fl[i], fn[i]);
            }
            fputc('}', f);
        } else if (entry) {
            /* jar: entry -> path (status, from source); manifest text is a third party's */
            static const int order[] = {0, 1, 4, 2, 3};
            static const char *const sep[] = {"  ", ": ", " -> ", " (", ", from "};
            for (int i = 0; i < 5; i++) {
                fputs(sep[i], f);
                hpk_layout_print_path(f, fl[order[i]], fn[order[i]]);
            }
            fputs(")\n", f);
        } else {
            fputs("  ", f);
            hpk_layout_print_path(f, fl[0], fn[0]);
            fputs(": manifest Class-Path rewritten by hpack (input jar xxh3-128 ", f);
            hpk_layout_print_path(f, fl[1], fn[1]);
            fputs(")\n", f);
        }
    }
    if (json) fputs(n ? "\n  ]" : "]", f);
    free(buf);
}

/* One carried cache (the current one of `in`) as a JSON object. */
static void cache_json(FILE *f, const struct hpk_config *in)
{
    fprintf(f, "{\"path\": ");
    hpk_json_strn(f, in->cache->path, in->cache->path_len);
    fprintf(f, ", \"size\": %llu, \"kind\": ", (unsigned long long)in->cache->size);
    json_cstr(f, in->prov_kind);
    json_kcstr(f, ", ", "variant", in->variant);
    json_kstrv(f, ", ", "options", in->cache_opts, in->n_cache_opts);
    json_kcstr(f, ", ", "trained_base_hash", in->prov_base);
    json_kcstr(f, ", ", "runtime_version", in->prov_runtime);
    fprintf(f, ", \"bound\": %s, \"conditions\": ", (in->trust == HPK_TRUST_OK) ? "true" : "false");
    cond_json(f, in);
    fprintf(f, ", \"tune\": ");
    hpk_tune_show(f, in->prov, in->prov ? in->prov_len : 0, 1);
    fputc('}', f);
}

/* The jlink options recorded in hpack/launch (hpack build --jdk), in
 * order; malloc'ed array of pointers into the configuration, *n of them. */
static const char **jlink_options(const struct hpk_config *in, size_t *n)
{
    size_t pos = 0, kl, cap = 0;
    const char *k, *val, **v = NULL;
    *n = 0;
    while (hpk_kv_next(in->conf, in->conf_len, &pos, &k, &kl, &val) == 1) {
        if (kl != 5 || memcmp(k, "jlink", 5) != 0) continue;
        if (*n == cap) v = hpk_xrealloc(v, (cap = cap ? 2 * cap : 8) * sizeof *v);
        v[(*n)++] = val;
    }
    return v;
}

/* What both forms show, worked out once. */
struct view {
    const char *path;
    const struct hpk_artifact *a;
    struct hpk_config *in; /* its current cache is changed while listing them, and put back */
    char **ex; /* the exec line */
    size_t exn;
    const char **jl; /* the jlink options (hpack build --jdk) */
    size_t njl;
    char base[33], full[33];
};

/* One JSON object: the artifact, its payload, launch configuration, cache,
 * closure, exec line and every entry. */
static void inspect_json(FILE *f, const struct view *v)
{
    const struct hpk_launch *l = &v->in->launch;
    json_kcstr(f, "{\n  ", "artifact", v->path);
    fprintf(f, ",\n  \"format_version\": %u,\n  \"base_hash\": \"%s\",\n  \"full_hash\": \"%s\",\n", v->a->p.footer.version, v->base, v->full);
    fprintf(f, "  \"payload\": {\"offset\": %llu, \"size\": %llu, \"toc_offset\": %llu, \"toc_size\": %llu, \"data_end\": %llu, \"entry_count\": %u},\n",
            (unsigned long long)v->a->sec_off, (unsigned long long)v->a->sec_size, (unsigned long long)v->a->p.footer.toc_offset,
            (unsigned long long)v->a->p.footer.toc_size, (unsigned long long)v->a->p.footer.data_end, v->a->p.count);
    json_kcstr(f, "  ", "launcher_version", v->in->launch.launcher_version);
    json_kcstr(f, ",\n  ", "runtime_version", l->runtime_version);
    json_kcstr(f, ",\n  ", "main_class", l->main);
    json_kstrv(f, ",\n  ", "class_path", l->cp, l->n_cp);
    json_kstrv(f, ",\n  ", "jvm_options", l->jvm, l->n_jvm);
    json_kstrv(f, ",\n  ", "args", l->arg, l->n_arg);
    json_kstrv(f, ",\n  ", "env", l->env, l->n_env);
    json_kcstr(f, ",\n  ", "modules", hpk_kv_get(v->in->conf, v->in->conf_len, "modules"));
    json_kstrv(f, ",\n  ", "jlink_options", v->jl, v->njl);
    json_kcstr(f, ",\n  ", "cache_kind", v->in->launch.cache_kind);
    fprintf(f, ",\n  \"heal\": %s", v->in->launch.heal && !strcmp(v->in->launch.heal, "on") ? "true" : "false");
    /* "cache": the default (the first); "caches": every one, in the
     * order the launcher tries them. */
    fprintf(f, ",\n  \"cache\": ");
    if (!v->in->cache) fputs("null", f);
    else cache_json(f, v->in);
    fprintf(f, ",\n  \"caches\": [");
    for (size_t i = 0; i < v->in->n_caches; i++) {
        hpk_config_select(v->a, v->in, i);
        fputs(i ? ",\n    " : "\n    ", f);
        cache_json(f, v->in);
    }
    fputs(v->in->n_caches ? "\n  ]" : "]", f);
    hpk_config_select(v->a, v->in, 0);
    fprintf(f, ",\n  \"closure\": ");
    closure_list(v->a, f, 1);
    json_kstrv(f, ",\n  ", "exec", (const char **)v->ex, v->exn);
    fprintf(f, ",\n  \"entries\": [\n");
    for (uint32_t i = 0; i < v->a->p.count; i++) {
        const struct hpk_entry *x = &v->a->p.entries[i];
        char h[33];
        hpk_hash_hex(x->hash, h);
        fprintf(f, "    {\"path\": ");
        hpk_json_strn(f, x->path, x->path_len);
        fprintf(f, ", \"role\": \"%s\", \"type\": \"%s\", \"mode\": \"%04o\", \"size\": %llu, \"stored_size\": %llu, \"codec\": \"%s\", \"offset\": %llu, \"xxh3_128\": \"%s\"}%s\n",
                hpk_role_name(x->role), S_ISDIR(x->mode) ? "dir" : S_ISLNK(x->mode) ? "symlink" : "file",
                x->mode & 07777, (unsigned long long)x->size, (unsigned long long)x->stored_size,
                hpk_codec_name(x->codec), (unsigned long long)x->offset, h, i + 1 < v->a->p.count ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

/* The same, for a reader. */
static void inspect_text(FILE *f, const struct view *v)
{
    const struct hpk_launch *l = &v->in->launch;
    /* The artifact's own values, escaped like its entry names: a crafted
     * one must not forge lines of the listing. */
    fprintf(f, "artifact:       %s\nformat:         %u (launcher ", v->path, v->a->p.footer.version);
    hpk_layout_print_text(f, l->launcher_version);
    fprintf(f, ")\nbase hash:      %s\nfull hash:      %s\n", v->base, v->full);
    fprintf(f, "payload:        %llu bytes at file offset %llu; table %llu bytes at %llu; %u entries\n",
            (unsigned long long)v->a->sec_size, (unsigned long long)v->a->sec_off, (unsigned long long)v->a->p.footer.toc_size,
            (unsigned long long)v->a->p.footer.toc_offset, v->a->p.count);
    fputs("runtime:        Java ", f);
    hpk_layout_print_text(f, l->runtime_version);
    fputs("\nmain class:     ", f);
    hpk_layout_print_text(f, l->main);
    fputc('\n', f);
    const char *mods = hpk_kv_get(v->in->conf, v->in->conf_len, "modules");
    if (mods) {
        fputs("modules:        ", f);
        hpk_layout_print_text(f, mods);
        fputs(" (jlinked by hpack)\n", f);
    }
    for (size_t i = 0; i < v->njl; i++) {
        fputs(i ? " " : "jlink options:  ", f);
        hpk_layout_print_path(f, v->jl[i], strlen(v->jl[i]));
    }
    if (v->njl) fputc('\n', f);
    if (v->in->launch.heal && !strcmp(v->in->launch.heal, "on"))
        fprintf(f, "healing:        on (hpack build --heal; HPACK_HEAL=off turns it off)\n");
    for (size_t i = 0; i < v->in->n_caches; i++) {
        hpk_config_select(v->a, v->in, i);
        fputs("startup cache:  ", f);
        hpk_layout_print_path(f, v->in->cache->path, v->in->cache->path_len);
        fprintf(f, ", %llu bytes, ", (unsigned long long)v->in->cache->size);
        hpk_layout_print_text(f, v->in->prov_kind);
        fputs(", trained for base ", f);
        hpk_layout_print_text(f, v->in->prov_base);
        fputs(" with Java ", f);
        hpk_layout_print_text(f, v->in->prov_runtime);
        fprintf(f, ": %s\n",
                (v->in->trust == HPK_TRUST_OK) ? "bound to this payload" : "NOT bound to this payload (the launcher refuses it)");
        if (v->in->variant) {
            fputs("cache variant:  ", f);
            hpk_layout_print_path(f, v->in->variant, strlen(v->in->variant));
            fputs(", tried after the default; run with", f);
            for (size_t k = 0; k < v->in->n_cache_opts; k++) {
                fputc(' ', f);
                hpk_layout_print_path(f, v->in->cache_opts[k], strlen(v->in->cache_opts[k]));
            }
            fputc('\n', f);
        }
        cond_text(f, v->in);
        hpk_tune_show(f, v->in->prov, v->in->prov ? v->in->prov_len : 0, 0);
    }
    hpk_config_select(v->a, v->in, 0);
    if (!v->in->cache) {
        fputs("startup cache:  none (", f);
        hpk_layout_print_text(f, l->cache_kind ? l->cache_kind : "this runtime cannot make one");
        fputs(")\n", f);
    }
    for (size_t i = 0; i < l->n_env; i++) { /* set by the launcher, ${HPACK_*} expanded as in the exec line */
        fputs("env:            ", f);
        hpk_layout_print_path(f, l->env[i], strlen(l->env[i]));
        fputc('\n', f);
    }
    fprintf(f, "exec:          ");
    for (size_t i = 0; i < v->exn; i++) {
        fputc(' ', f);
        hpk_layout_print_path(f, v->ex[i], strlen(v->ex[i]));
    }
    fputs(" \"$@\"\n", f);
    closure_list(v->a, f, 0);
    fprintf(f, "\n%-9s %-7s %5s %12s %12s %-6s %12s %-32s %s\n", "role", "type", "mode", "size", "stored",
            "codec", "offset", "xxh3-128", "path");
    for (uint32_t i = 0; i < v->a->p.count; i++) {
        const struct hpk_entry *x = &v->a->p.entries[i];
        char h[33];
        hpk_hash_hex(x->hash, h);
        fprintf(f, "%-9s %-7s %04o %12llu %12llu %-6s %12llu %s ", hpk_role_name(x->role),
                S_ISDIR(x->mode) ? "dir" : S_ISLNK(x->mode) ? "symlink" : "file", x->mode & 07777,
                (unsigned long long)x->size, (unsigned long long)x->stored_size, hpk_codec_name(x->codec),
                (unsigned long long)x->offset, h);
        hpk_layout_print_path(f, x->path, x->path_len);
        putc('\n', f);
    }
}

static const char inspect_usage[] = "usage: hpack inspect ARTIFACT [--json]\n";

int hpk_cmd_inspect(int argc, char **argv)
{
    int json, st = hpk_cmd_json_args(argc, argv, inspect_usage, 1, &json);
    if (st >= 0) return st;
    const char *path = argv[optind];
    struct hpk_err e;
    struct hpk_artifact a;
    struct hpk_config in;
    if (hpk_open_artifact(path, &a, &e) != 0 || hpk_artifact_info(&a, &in, &e) != 0) {
        char shown[HPK_PATH_TEXT_MAX]; /* the path as hpk_fail wrote it in e.msg */
        hpk_layout_path_text(shown, sizeof shown, path, strlen(path));
        int named = e.msg[0] == '/' || strstr(e.msg, shown);
        fprintf(stderr, "hpack: %s%s%s\n", named ? "" : shown, named ? "" : ": ", e.msg);
        return HPK_ST_ARTIFACT;
    }
    struct view v = {.path = path, .a = &a, .in = &in, .ex = exec_line(&in)};
    while (v.ex[v.exn]) v.exn++;
    v.jl = jlink_options(&in, &v.njl);
    hpk_hash_hex(a.p.footer.base_hash, v.base);
    hpk_hash_hex(a.p.footer.full_hash, v.full);
    if (json) inspect_json(stdout, &v);
    else inspect_text(stdout, &v);
    char **ex = v.ex;
    hpk_exec_line_free(ex);
    free(v.jl);
    hpk_config_free(&in);
    hpk_close_artifact(&a);
    return 0;
}
