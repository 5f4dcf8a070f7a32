/*
 * elfdeps.c - the C library closure of a runtime, from ELF headers
 * (hpk_image.h).
 *
 * Not ldd: ldd runs the dynamic loader on the binary (it executes code of
 * the file it inspects) and answers for this host's configuration. Here
 * each file's program interpreter (PT_INTERP) and DT_NEEDED names are read
 * with libelf; a name the runtime carries itself (libjli.so, libjvm.so, found
 * through $ORIGIN run paths) needs nothing; any other is looked up in the
 * loader's default directories, like the loader does without an ld.so.cache,
 * and its own needs followed in turn.
 */
#define _GNU_SOURCE
#include "hpk_image.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where the loader looks when no ld.so.cache says otherwise (glibc's
 * built-in list for the architecture), and where the image puts each
 * library found there: the same path, so the image needs no cache either. */
static const char *const lib_dirs[] = {
#if defined(__x86_64__)
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
#elif defined(__aarch64__)
    "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
#endif
    "/lib64", "/usr/lib64", "/lib", "/usr/lib",
};

struct strv {
    char **v;
    size_t n;
};

static int strv_has(const struct strv *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], x)) return 1;
    return 0;
}

static void strv_add(struct strv *s, const char *x)
{
    s->v = hpk_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = hpk_xstrdup(x);
}

static void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* PT_INTERP, DT_NEEDED and e_machine of an ELF image; 1 if it is no ELF
 * file (a script, a data file named .so), 0 on success, -1 if malformed. */
static int elf_needs(const uint8_t *data, size_t size, struct strv *needed, char **interp, unsigned *machine)
{
    if (size < 4 || memcmp(data, ELFMAG, SELFMAG) != 0) return 1;
    Elf *elf = elf_memory((char *)data, size);
    if (!elf) return -1;
    int rc = 0;
    GElf_Ehdr eh;
    if (!gelf_getehdr(elf, &eh)) {
        elf_end(elf);
        return -1;
    }
    *machine = eh.e_machine;
    size_t nph = 0;
    if (elf_getphdrnum(elf, &nph) != 0) nph = 0;
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_INTERP) continue;
        if (ph.p_offset >= size || ph.p_filesz == 0 || ph.p_filesz > size - ph.p_offset) {
            rc = -1;
            break;
        }
        if (interp) {
            free(*interp); /* a second PT_INTERP: the last one, as the kernel takes it */
            *interp = strndup((const char *)data + ph.p_offset, ph.p_filesz);
        }
    }
    Elf_Scn *scn = NULL;
    while (rc == 0 && (scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC) continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        if (!d || !sh.sh_entsize) continue;
        size_t n = sh.sh_size / sh.sh_entsize;
        for (size_t i = 0; i < n; i++) {
            GElf_Dyn dyn;
            if (!gelf_getdyn(d, (int)i, &dyn)) break;
            if (dyn.d_tag == DT_NULL) break;
            if (dyn.d_tag != DT_NEEDED) continue;
            const char *name = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
            if (!name) {
                rc = -1;
                break;
            }
            if (!strv_has(needed, name)) strv_add(needed, name);
        }
    }
    elf_end(elf);
    return rc;
}

static int read_all(const char *path, uint8_t **data, size_t *len)
{
    return hpk_read_file(path, data, len);
}

/* The runtime's files worth reading: those in bin/, and shared objects anywhere. */
static int candidate(const struct hpk_entry *x)
{
    if (x->role != HPK_ROLE_RUNTIME || !S_ISREG(x->mode)) return 0;
    char p[HPK_PATH_MAX + 1];
    snprintf(p, sizeof p, "%.*s", (int)x->path_len, x->path);
    const char *base = strrchr(p, '/');
    base = base ? base + 1 : p;
    return !strncmp(p, "runtime/bin/", 12) || strstr(base, ".so") != NULL || !strcmp(base, "jspawnhelper") ||
           !strcmp(base, "jexec");
}

/* The names being followed, from the runtime's files to the host's. */
struct deps {
    struct strv carried;   /* file names the runtime provides itself */
    struct strv queue;     /* names needed, in the order found (breadth first) */
    struct strv essential; /* needed by bin/java, libjvm.so, libjli.so or the launcher: must be found */
    struct strv interps;   /* program interpreters (the loader) */
    struct strv reals;     /* real paths of the files taken */
    struct strv dests;     /* and where each is in the image */
};

static void deps_free(struct deps *d)
{
    struct strv *all[] = {&d->carried, &d->queue, &d->essential, &d->interps, &d->reals, &d->dests};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) strv_free(all[i]);
}

/* One ELF file's needs queued (essential too if core); its loader noted. */
static void note_needs(struct deps *d, const struct strv *needs, const char *interp, int core, int skip_carried)
{
    if (interp && !strv_has(&d->interps, interp)) strv_add(&d->interps, interp);
    for (size_t k = 0; k < needs->n; k++) {
        if (skip_carried && strv_has(&d->carried, needs->v[k])) continue;
        if (!strv_has(&d->queue, needs->v[k])) strv_add(&d->queue, needs->v[k]);
        if (core && !strv_has(&d->essential, needs->v[k])) strv_add(&d->essential, needs->v[k]);
    }
}

/* What the runtime's ELF files need that it does not carry; c->machine
 * from bin/java. */
static int runtime_needs(const struct hpk_artifact *a, const char *java, struct deps *d, struct hpk_closure *c,
                         struct hpk_err *e)
{
    /* Names the runtime provides itself. */
    for (uint32_t i = 0; i < a->p.count; i++) {
        const struct hpk_entry *x = &a->p.entries[i];
        if (x->role != HPK_ROLE_RUNTIME || S_ISDIR(x->mode)) continue;
        char p[HPK_PATH_MAX + 1];
        snprintf(p, sizeof p, "%.*s", (int)x->path_len, x->path);
        const char *b = strrchr(p, '/');
        if (!strv_has(&d->carried, b ? b + 1 : p)) strv_add(&d->carried, b ? b + 1 : p);
    }
    int have_java = 0;
    c->machine = 0;
    for (uint32_t i = 0; i < a->p.count; i++) {
        const struct hpk_entry *x = &a->p.entries[i];
        if (!candidate(x)) continue;
        char p[HPK_PATH_MAX + 1];
        snprintf(p, sizeof p, "%.*s", (int)x->path_len, x->path);
        char *data;
        size_t len;
        int r = hpk_entry_slurp(a, x, &data, &len);
        if (r != HPK_OK) return hpk_fail(e, HPK_ST_ARTIFACT, "entry %s: %s", p, hpk_layout_strerror(r));
        struct strv needs = {0};
        char *interp = NULL;
        unsigned machine = 0;
        r = elf_needs((const uint8_t *)data, len, &needs, &interp, &machine);
        free(data);
        if (r == 0) {
            int is_java = !strcmp(p, java);
            if (is_java) have_java = 1, c->machine = machine;
            note_needs(d, &needs, interp, is_java || strstr(p, "/libjvm.so") || strstr(p, "/libjli.so"), 1);
        }
        strv_free(&needs);
        free(interp);
        if (r < 0) return hpk_fail(e, HPK_ST_ARTIFACT, "%s: malformed ELF file", p);
    }
    if (!have_java) return hpk_fail(e, HPK_ST_ARTIFACT, "%s: not an ELF executable", java);
    return 0;
}

/* The artifact's own launcher: static, needing nothing, except in
 * SANITIZE=1 builds (the sanitizer runtimes). Read through its fd. */
static void launcher_needs(int exe_fd, struct deps *d)
{
    Elf *elf = elf_begin(exe_fd, ELF_C_READ_MMAP, NULL);
    size_t n = 0;
    char *img = elf ? elf_rawfile(elf, &n) : NULL;
    struct strv needs = {0};
    char *interp = NULL;
    unsigned machine = 0;
    if (img && elf_needs((const uint8_t *)img, n, &needs, &interp, &machine) == 0) note_needs(d, &needs, interp, 1, 0);
    strv_free(&needs);
    free(interp);
    if (elf) elf_end(elf);
}

/* A program interpreter the image may take from the host: a dynamic
 * loader's name (ld*.so*) right in one of the library directories, the
 * path plain (no ".", ".." or empty component). A runtime's file names the
 * host path the image copies: anything else (/etc/shadow, say) is refused,
 * not copied into the image. */
static int interp_ok(const char *p)
{
    const char *base = strrchr(p, '/');
    if (!base || strncmp(base + 1, "ld", 2) || !strstr(base + 1, ".so")) return 0;
    for (size_t k = 0; k < sizeof lib_dirs / sizeof *lib_dirs; k++) {
        size_t n = strlen(lib_dirs[k]);
        if ((size_t)(base - p) == n && !strncmp(p, lib_dirs[k], n)) return 1;
    }
    return 0;
}

/* The loaders, at their exact paths: ELF files of the runtime's machine. */
static int take_interps(struct deps *d, struct hpk_closure *c, struct hpk_err *e)
{
    for (size_t i = 0; i < d->interps.n; i++) {
        if (!interp_ok(d->interps.v[i]))
            return hpk_fail(e, HPK_ST_ARTIFACT, "the runtime names %s as its program interpreter: not a dynamic "
                            "loader in the library directories (such as /lib64/ld-linux-x86-64.so.2)", d->interps.v[i]);
        char *real = realpath(d->interps.v[i], NULL);
        if (!real)
            return hpk_fail(e, HPK_ST_RUNTIME, "the runtime's program interpreter %s is not on this host: %s",
                                d->interps.v[i], strerror(errno));
        uint8_t *data;
        size_t len;
        if (read_all(real, &data, &len) != 0) {
            int rc = hpk_fail(e, HPK_ST_RUNTIME, "%s: %s", real, strerror(errno));
            free(real);
            return rc;
        }
        struct strv none = {0};
        unsigned m = 0;
        int r = elf_needs(data, len, &none, NULL, &m);
        strv_free(&none);
        if (r != 0 || m != c->machine) {
            free(data);
            int rc = hpk_fail(e, HPK_ST_RUNTIME, "%s (the runtime's program interpreter %s): not an ELF file of the "
                              "runtime's machine", real, d->interps.v[i]);
            free(real);
            return rc;
        }
        struct hpk_litem *it = hpk_litems_add_p(c->out, d->interps.v[i] + 1, S_IFREG | 0755);
        it->data = it->owned = data;
        it->size = len;
        strv_add(&d->reals, real);
        strv_add(&d->dests, d->interps.v[i]);
        c->n_libs++;
        free(real);
    }
    return 0;
}

/* `name` in the loader's default directories, of our machine: its path,
 * bytes and needs; 0, or -1 if not there. */
static int find_lib(const char *name, unsigned machine, char *path, size_t pn, uint8_t **data, size_t *len,
                    struct strv *needs)
{
    /* A name with a '/' is a path to the loader (relative to the working
     * directory): no library of these directories, and never a host file
     * outside them taken into the image. */
    if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) return -1;
    for (size_t d = 0; d < sizeof lib_dirs / sizeof *lib_dirs; d++) {
        snprintf(path, pn, "%s/%s", lib_dirs[d], name);
        unsigned m = 0;
        if (access(path, R_OK) != 0 || read_all(path, data, len) != 0) continue;
        struct strv nn = {0};
        if (elf_needs(*data, *len, &nn, NULL, &m) == 0 && m == machine) {
            *needs = nn;
            return 0;
        }
        strv_free(&nn);
        free(*data);
        *data = NULL;
    }
    return -1;
}

/* One library found at path into the image: a link to a file taken under
 * another name already, else the file. */
static void take_lib(struct deps *d, struct hpk_closure *c, const char *path, uint8_t *data, size_t len)
{
    char *real = realpath(path, NULL);
    const char *same = NULL;
    for (size_t k = 0; real && k < d->reals.n && !same; k++)
        if (!strcmp(d->reals.v[k], real)) same = d->dests.v[k];
    if (hpk_litems_has(c->out, path + 1)) {
        free(data);
    } else if (same) {
        /* One file needed by two names (the loader by its path and by its
         * soname): a link, not a second copy. */
        struct hpk_litem *it = hpk_litems_add_p(c->out, path + 1, S_IFLNK | 0777);
        it->target = strdup(same);
        free(data);
    } else {
        struct hpk_litem *it = hpk_litems_add_p(c->out, path + 1, S_IFREG | 0755);
        it->data = it->owned = data;
        it->size = len;
        strv_add(&d->reals, real ? real : path);
        strv_add(&d->dests, path);
        c->n_libs++;
    }
    free(real);
}

/* Every needed name, breadth first; what a library needs is queued. */
static int take_libs(struct deps *d, struct hpk_closure *c, const char *java, struct hpk_err *e)
{
    for (size_t q = 0; q < d->queue.n; q++) {
        const char *name = d->queue.v[q];
        char path[4096];
        uint8_t *data = NULL;
        size_t len = 0;
        struct strv needs = {0};
        if (find_lib(name, c->machine, path, sizeof path, &data, &len, &needs) != 0) {
            if (strv_has(&d->essential, name))
                return hpk_fail(e, HPK_ST_RUNTIME, "%s needs %s, which is not in this host's library directories",
                                    java, name);
            /* libgcc_s: optional; fontconfig: hpk_image_fonts says what its absence costs. */
            if (strcmp(name, "libgcc_s.so.1") && strcmp(name, HPK_FONTCONFIG_LIB))
                hpk_warn("the runtime needs %s, which is not on this host: left out of the image (the library that "
                         "needs it cannot load there)",
                         name);
            continue;
        }
        take_lib(d, c, path, data, len);
        if (!strcmp(name, HPK_FONTCONFIG_LIB)) c->fontconfig = 1;
        note_needs(d, &needs, NULL, strv_has(&d->essential, name), 1);
        strv_free(&needs);
    }
    return 0;
}

int hpk_closure_build(const struct hpk_artifact *a, int exe_fd, const char *java, struct hpk_closure *c,
                      struct hpk_err *e)
{
    if (elf_version(EV_CURRENT) == EV_NONE) return hpk_fail(e, HPK_ST_INTERNAL, "libelf: %s", elf_errmsg(-1));
    struct deps d;
    memset(&d, 0, sizeof d);
    int rc = runtime_needs(a, java, &d, c, e);
    if (rc == 0 && exe_fd >= 0) launcher_needs(exe_fd, &d);
    if (rc == 0 && c->machine != EM_X86_64 && c->machine != EM_AARCH64)
        rc = hpk_fail(e, HPK_ST_ARTIFACT, "%s: ELF machine %u: only x86-64 and aarch64 images are made", java,
                          c->machine);
    c->arch = c->machine == EM_AARCH64 ? "arm64" : "amd64";
    if (c->arch_only) {
        strv_free(&d.queue);
        strv_free(&d.interps);
    }
    /* glibc loads libgcc_s itself (dlopen) to unwind a cancelled or exiting
     * thread: no DT_NEEDED names it. Taken when the host has it. */
    if (rc == 0 && !strv_has(&d.queue, "libgcc_s.so.1")) strv_add(&d.queue, "libgcc_s.so.1");
    /* java.desktop's font manager loads fontconfig by name to find fonts;
     * without it the first text measured throws ("Fontconfig head is
     * null"). Its own needs (freetype, expat) follow as any library's. */
    c->font_manager = strv_has(&d.carried, "libfontmanager.so");
    c->fontconfig = 0;
    if (rc == 0 && !c->arch_only && c->font_manager && c->want_fontconfig && !strv_has(&d.queue, HPK_FONTCONFIG_LIB))
        strv_add(&d.queue, HPK_FONTCONFIG_LIB);
    if (rc == 0) rc = take_interps(&d, c, e);
    if (rc == 0) rc = take_libs(&d, c, java, e);
    deps_free(&d);
    return rc;
}
