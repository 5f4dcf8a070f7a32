/*
 * craft.c - write an artifact with an arbitrary, possibly hostile table, to
 * test that the launcher refuses it. The packer would never write one: it
 * validates every path; this tool does not.
 *
 *   craft OUT SPEC...
 *   SPEC: d:PATH          directory (mode 0755)
 *         f:PATH:CONTENT  file (0644), stored
 *         l:PATH:TARGET   symlink
 *         c:PATH:CONTENT  file with the CACHE role wherever PATH is
 *   The role of each entry follows its top directory (runtime, app, hpack,
 *   cache). A valid hpack/launch is added unless a spec names it.
 */
#define _GNU_SOURCE
#include "../../packer/hpk_packer.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint8_t role_of(const char *p)
{
    if (!strncmp(p, "app", 3)) return HPK_ROLE_CLASSPATH;
    if (!strncmp(p, "hpack", 5)) return HPK_ROLE_CONFIG;
    if (!strncmp(p, "cache", 5)) return HPK_ROLE_CACHE;
    return HPK_ROLE_RUNTIME;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: craft OUT SPEC...\n");
        return 2;
    }
    static const char conf[] = "format=1\0java=runtime/bin/java\0main=demo.Main\0cp=app/a.jar\0";
    struct hpk_entry e[256];
    uint8_t *data = calloc(1, 64u << 20);
    size_t end = 0, n = 0;
    int have_conf = 0;
    char *owned[256] = {0};
    for (int i = 2; i < argc && n < 250; i++) {
        char *s = owned[n] = strdup(argv[i]);
        char type = s[0];
        char *path = s + 2, *content = NULL;
        if (type != 'd') {
            content = strchr(path, ':');
            if (content) *content++ = 0;
            else content = "";
        }
        struct hpk_entry *x = &e[n++];
        memset(x, 0, sizeof *x);
        x->path = path;
        x->path_len = (uint16_t)strlen(path);
        x->role = type == 'c' ? HPK_ROLE_CACHE : role_of(path);
        if (!strcmp(path, "hpack/launch")) have_conf = 1;
        if (type == 'd') {
            x->mode = S_IFDIR | 0755;
            continue;
        }
        x->mode = type == 'l' ? (S_IFLNK | 0777) : (S_IFREG | 0644);
        x->size = x->stored_size = strlen(content);
        hpk_hash_bytes(content, x->size, x->hash);
        x->stored_hash = XXH3_64bits(content, x->size);
        if (x->size) {
            x->offset = hpk_align_up(end);
            memcpy(data + x->offset, content, x->size);
            end = x->offset + x->size;
        }
    }
    if (!have_conf) {
        struct hpk_entry *d = &e[n++];
        memset(d, 0, sizeof *d);
        d->path = "hpack";
        d->path_len = 5;
        d->role = HPK_ROLE_CONFIG;
        d->mode = S_IFDIR | 0755;
        struct hpk_entry *x = &e[n++];
        memset(x, 0, sizeof *x);
        x->path = "hpack/launch";
        x->path_len = 12;
        x->role = HPK_ROLE_CONFIG;
        x->mode = S_IFREG | 0644;
        x->size = x->stored_size = sizeof conf - 1;
        hpk_hash_bytes(conf, x->size, x->hash);
        x->stored_hash = XXH3_64bits(conf, x->size);
        x->offset = hpk_align_up(end);
        memcpy(data + x->offset, conf, x->size);
        end = x->offset + x->size;
    }
    size_t toc_off = (end + 7) & ~(size_t)7;
    size_t toc_size = hpk_layout_toc_size(e, (uint32_t)n);
    hpk_layout_toc_encode(e, (uint32_t)n, data + toc_off);
    struct hpk_footer f;
    hpk_layout_footer_make(e, (uint32_t)n, data + toc_off, toc_off, toc_size, &f, data + toc_off + toc_size);
    struct hpk_perr err;
    int rc = hpk_elf_emit(argv[1], data, toc_off + toc_size + HPK_FOOTER_SIZE, &err);
    if (rc != 0) fprintf(stderr, "craft: %s\n", err.msg);
    for (size_t i = 0; i < n; i++)
        if (owned[i]) free(owned[i]);
    free(data);
    return rc ? 1 : 0;
}
