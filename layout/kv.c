/*
 * kv.c - the NUL-terminated key=value records of hpack's config entries.
 */
#include "hpk_kv.h"
#include "hpk_layout.h"

#include <stdlib.h>
#include <string.h>

int hpk_kv_next(const char *buf, size_t len, size_t *pos, const char **key, size_t *key_len,
                const char **value)
{
    if (*pos >= len) return 0;
    const char *rec = buf + *pos;
    const char *end = memchr(rec, 0, len - *pos);
    if (!end) return -1;
    const char *eq = memchr(rec, '=', (size_t)(end - rec));
    if (!eq || eq == rec) return -1;
    for (const char *k = rec; k < eq; k++) {
        char c = *k;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return -1;
    }
    *key = rec;
    *key_len = (size_t)(eq - rec);
    *value = eq + 1;
    *pos = (size_t)(end - buf) + 1;
    return 1;
}

const char *hpk_kv_get(const char *buf, size_t len, const char *key)
{
    size_t pos = 0, kl;
    const char *k, *v;
    while (hpk_kv_next(buf, len, &pos, &k, &kl, &v) == 1)
        if (kl == strlen(key) && memcmp(k, key, kl) == 0) return v;
    return NULL;
}

static int push(const char ***arr, size_t *n, const char *v)
{
    const char **a = realloc(*arr, (*n + 1) * sizeof *a);
    if (!a) return -1;
    a[(*n)++] = v;
    *arr = a;
    return 0;
}

static int key_is(const char *k, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(k, name, n) == 0;
}

int hpk_launch_decode(const char *buf, size_t len, struct hpk_launch *l)
{
    memset(l, 0, sizeof *l);
    size_t pos = 0, kl;
    const char *k, *v;
    int r;
    const char *format = NULL;
    while ((r = hpk_kv_next(buf, len, &pos, &k, &kl, &v)) == 1) {
        int bad = 0;
        /* Singular keys may appear once: two answers to one question are corruption. */
        if (key_is(k, kl, "format")) bad = format ? -1 : (format = v, 0);
        else if (key_is(k, kl, "java")) bad = l->java ? -1 : (l->java = v, 0);
        else if (key_is(k, kl, "main")) bad = l->main ? -1 : (l->main = v, 0);
        else if (key_is(k, kl, "runtime.version")) bad = l->runtime_version ? -1 : (l->runtime_version = v, 0);
        /* Keys that are not part of the rule of 9.1: the first counts. */
        else if (key_is(k, kl, "cache.kind")) l->cache_kind = l->cache_kind ? l->cache_kind : v;
        else if (key_is(k, kl, "launcher.version")) l->launcher_version = l->launcher_version ? l->launcher_version : v;
        else if (key_is(k, kl, "heal")) l->heal = l->heal ? l->heal : v;
        else if (key_is(k, kl, "cp")) bad = push(&l->cp, &l->n_cp, v);
        else if (key_is(k, kl, "jvm")) bad = push(&l->jvm, &l->n_jvm, v);
        else if (key_is(k, kl, "arg")) bad = push(&l->arg, &l->n_arg, v);
        else if (key_is(k, kl, "env")) bad = !hpk_launch_env_ok(v) || push(&l->env, &l->n_env, v);
        if (bad) { r = -1; break; }
    }
    /* A later format of this entry is not for this reader to guess at. */
    if (format && strcmp(format, "1") != 0) r = -1;
    if (r < 0 || !l->java || !l->main || !*l->main || l->n_cp == 0 ||
        !hpk_layout_path_ok(l->java, strlen(l->java))) {
        hpk_launch_free(l);
        return -1;
    }
    for (size_t i = 0; i < l->n_cp; i++)
        if (!hpk_launch_cp_ok(l->cp[i])) {
            hpk_launch_free(l);
            return -1;
        }
    return 0;
}

int hpk_launch_cp_ok(const char *v)
{
    const char *last = strrchr(v, '/');
    last = last ? last + 1 : v;
    return hpk_layout_path_ok(v, strlen(v)) && !strchr(v, ':') && strcmp(last, "*") != 0;
}

const char *hpk_launch_env_why(const char *v)
{
    size_t n = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
    if (n == 0 || v[n] != '=' || (v[0] >= '0' && v[0] <= '9'))
        return "expected NAME=VALUE, NAME a variable's name ([A-Za-z_][A-Za-z0-9_]*)";
    if (!strncmp(v, "HPACK_", 6)) return "HPACK_* are the launcher's own variables";
    static const char *const jvm[] = {"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS"};
    for (size_t i = 0; i < sizeof jvm / sizeof *jvm; i++)
        if (strlen(jvm[i]) == n && !strncmp(v, jvm[i], n))
            return "the JVM takes options from it, which the startup cache is not trained with: use --jvm-opt";
    if (strlen(v) >= HPK_ENV_MAX) return "128 KiB or longer: the kernel passes no variable that long, and every start would fail";
    return NULL;
}

void hpk_launch_free(struct hpk_launch *l)
{
    free(l->env);
    free(l->cp);
    free(l->jvm);
    free(l->arg);
    memset(l, 0, sizeof *l);
}
