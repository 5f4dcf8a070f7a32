/*
 * craft.c - write an artifact with an arbitrary, possibly hostile table, to
 * test that the launcher refuses it. The packer would never write one: it
 * validates every path; this tool does not.
 *
 *   craft OUT SPEC...
 *   craft OUT @FILE     the specs, one a line (more than the command line holds)
 *   SPEC: d:PATH          directory (mode 0755)
 *         f:PATH:CONTENT  file (0644), stored
 *         l:PATH:TARGET   symlink
 *         c:PATH:CONTENT  file with the CACHE role wherever PATH is
 *         p:PATH:CONTENT  the same, each '|' in CONTENT a NUL (a provenance's records)
 *         D:PATH          directory of mode 0777, F:PATH:CONTENT file of mode 0666
 *         C:VALUE         hpack/launch with this one cp value (any bytes but NUL)
 *         M:VALUE         hpack/launch with this main class (any bytes but NUL), cp=app/a.jar
 *   The role of each entry follows its top directory (runtime, app, hpack,
 *   cache). A valid hpack/launch (cp=app/a.jar) is added unless a spec names it.
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

struct table {
    struct hpk_entry e[4096];
    size_t n;
    uint8_t *data; /* entry data, 4096-aligned */
    size_t end;
};

/* Append one entry; `content` NULL makes a directory. Stored, no checks. */
static void add(struct table *t, const char *path, uint32_t mode, uint8_t role, const char *content, size_t len)
{
    struct hpk_entry *x = &t->e[t->n++];
    memset(x, 0, sizeof *x);
    x->path = path;
    x->path_len = (uint16_t)strlen(path);
    x->role = role;
    x->mode = mode;
    if (!content) return;
    x->size = x->stored_size = len;
    hpk_hash_bytes(content, len, x->hash);
    x->stored_hash = XXH3_64bits(content, len);
    if (len) {
        x->offset = hpk_align_up(t->end);
        memcpy(t->data + x->offset, content, len);
        t->end = x->offset + len;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: craft OUT SPEC...\n");
        return 2;
    }
    static const char conf[] = "format=1\0java=runtime/bin/java\0main=demo.Main\0cp=app/a.jar\0";
    static struct table tb;
    tb.data = calloc(1, 64u << 20);
    int have_conf = 0;
    static char *owned[4096];
    if (argc == 3 && argv[2][0] == '@') { /* specs from a file, one a line */
        FILE *sf = fopen(argv[2] + 1, "r");
        if (!sf) {
            perror(argv[2] + 1);
            return 2;
        }
        static char *lines[4096];
        int n = 2;
        char *l = NULL;
        size_t cap = 0;
        ssize_t len;
        lines[0] = argv[0];
        lines[1] = argv[1];
        while (n < 4096 && (len = getline(&l, &cap, sf)) > 0) {
            if (l[len - 1] == '\n') l[len - 1] = 0;
            lines[n++] = strdup(l);
        }
        free(l);
        fclose(sf);
        argc = n;
        argv = lines;
    }
    static char cpconf[8192];
    for (int i = 2; i < argc && tb.n < 4090; i++) {
        if ((argv[i][0] == 'C' || argv[i][0] == 'M') && argv[i][1] == ':') {
            /* the same length: the last key's value follows */
            static const char cp_last[] = "format=1\0java=runtime/bin/java\0main=demo.Main\0cp=";
            static const char main_last[] = "format=1\0java=runtime/bin/java\0cp=app/a.jar\0main=";
            _Static_assert(sizeof cp_last == sizeof main_last, "one length");
            const char *head = argv[i][0] == 'C' ? cp_last : main_last;
            size_t hl = sizeof cp_last - 1, vl = strnlen(argv[i] + 2, sizeof cpconf - hl - 1);
            memcpy(cpconf, head, hl);
            memcpy(cpconf + hl, argv[i] + 2, vl);
            cpconf[hl + vl] = 0;
            add(&tb, "hpack", S_IFDIR | 0755, HPK_ROLE_CONFIG, NULL, 0);
            add(&tb, "hpack/launch", S_IFREG | 0644, HPK_ROLE_CONFIG, cpconf, hl + vl + 1);
            have_conf = 1;
            continue;
        }
        char *s = owned[tb.n] = strdup(argv[i]);
        char type = s[0];
        char *path = s + 2, *content = NULL;
        if (type != 'd' && type != 'D') {
            content = strchr(path, ':');
            if (content) *content++ = 0;
            else content = "";
        }
        if (!strcmp(path, "hpack/launch")) have_conf = 1;
        uint32_t mode = type == 'd' ? S_IFDIR | 0755 : type == 'D' ? S_IFDIR | 0777 : type == 'l' ? S_IFLNK | 0777
                      : type == 'F' ? S_IFREG | 0666 : S_IFREG | 0644;
        size_t clen = content ? strlen(content) : 0;
        if (type == 'p')
            for (char *q = content; (q = strchr(q, '|'));) *q++ = 0;
        add(&tb, path, mode, type == 'c' || type == 'p' ? HPK_ROLE_CACHE : role_of(path), content, clen);
    }
    if (!have_conf) {
        add(&tb, "hpack", S_IFDIR | 0755, HPK_ROLE_CONFIG, NULL, 0);
        add(&tb, "hpack/launch", S_IFREG | 0644, HPK_ROLE_CONFIG, conf, sizeof conf - 1);
    }
    struct hpk_entry *e = tb.e;
    size_t n = tb.n, end = tb.end;
    uint8_t *data = tb.data;
    size_t toc_off = (end + 7) & ~(size_t)7;
    size_t toc_size = hpk_layout_toc_size(e, (uint32_t)n);
    hpk_layout_toc_encode(e, (uint32_t)n, data + toc_off);
    struct hpk_footer f;
    hpk_layout_footer_make(e, (uint32_t)n, data + toc_off, toc_off, toc_size, &f, data + toc_off + toc_size);
    struct hpk_err err;
    int rc = hpk_elf_emit(argv[1], data, toc_off + toc_size + HPK_FOOTER_SIZE, &err);
    if (rc != 0) fprintf(stderr, "craft: %s\n", err.msg);
    for (size_t i = 0; i < n; i++)
        if (owned[i]) free(owned[i]);
    free(data);
    return rc ? 1 : 0;
}
