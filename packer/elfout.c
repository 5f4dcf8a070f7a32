/*
 * elfout.c - write an artifact: the launcher ELF with its .hpack section
 * holding the payload, placed page-aligned after everything else.
 *
 * The launcher is built with a one-byte placeholder .hpack section (so the
 * name is already in .shstrtab and no string table has to grow or move).
 * We copy the launcher with libelf under ELF_F_LAYOUT: every section keeps
 * its offset, the program headers are unchanged (the payload is in no
 * segment, so the kernel never maps it), .hpack moves to the first page
 * boundary past the end of the launcher and the section header table
 * follows it. The output is checked with readelf, objcopy and strip in tests.
 */
#define _GNU_SOURCE
#include "hpk_packer.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hpk_read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    int bad = !b || ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return -1;
    }
    *data = b;
    *len = n;
    return 0;
}

static int write_elf(int fd, const uint8_t *payload, size_t plen, struct hpk_err *e)
{
    size_t llen = (size_t)(hpk_launcher_end - hpk_launcher_start);
    char *img = malloc(llen);
    if (!img) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    memcpy(img, hpk_launcher_start, llen);
    int rc = -1;
    Elf *in = elf_memory(img, llen), *out = NULL;
    GElf_Ehdr eh;
    size_t shstrndx, nph;
    if (!in || !gelf_getehdr(in, &eh) || elf_getshdrstrndx(in, &shstrndx) != 0 || elf_getphdrnum(in, &nph) != 0) {
        hpk_fail(e, HPK_ST_INTERNAL, "embedded launcher is not a valid ELF file: %s", elf_errmsg(-1));
        goto done;
    }
    if (!(out = elf_begin(fd, ELF_C_WRITE, NULL)) || !gelf_newehdr(out, gelf_getclass(in)) ||
        (nph && !gelf_newphdr(out, nph)))
        goto libelf_error;
    elf_flagelf(out, ELF_C_SET, ELF_F_LAYOUT);

    /* End of everything the launcher occupies in the file. */
    uint64_t end = eh.e_phoff + (uint64_t)nph * eh.e_phentsize;
    Elf_Scn *s = NULL;
    while ((s = elf_nextscn(in, s))) {
        GElf_Shdr sh;
        gelf_getshdr(s, &sh);
        if (sh.sh_type != SHT_NOBITS && sh.sh_offset + sh.sh_size > end) end = sh.sh_offset + sh.sh_size;
    }
    uint64_t payload_off = hpk_align_up(end);
    int found = 0;
    s = NULL;
    while ((s = elf_nextscn(in, s))) {
        GElf_Shdr sh;
        gelf_getshdr(s, &sh);
        Elf_Scn *ns = elf_newscn(out);
        Elf_Data *nd = ns ? elf_newdata(ns) : NULL;
        if (!nd) goto libelf_error;
        const char *name = elf_strptr(in, shstrndx, sh.sh_name);
        if (name && strcmp(name, HPK_SECTION_NAME) == 0 && !(sh.sh_flags & SHF_ALLOC)) {
            found = 1;
            sh.sh_offset = payload_off;
            sh.sh_size = plen;
            sh.sh_addralign = HPK_ALIGN;
            nd->d_buf = (void *)payload;
            nd->d_size = plen;
            nd->d_align = 1;
        } else {
            Elf_Data *d = elf_rawdata(s, NULL);
            nd->d_buf = d ? d->d_buf : NULL;
            nd->d_size = sh.sh_type == SHT_NOBITS ? sh.sh_size : d ? d->d_size : 0;
            nd->d_align = 1;
        }
        nd->d_type = ELF_T_BYTE;
        nd->d_off = 0;
        nd->d_version = EV_CURRENT;
        if (!gelf_update_shdr(ns, &sh)) goto libelf_error;
    }
    if (!found) {
        hpk_fail(e, HPK_ST_INTERNAL, "embedded launcher has no placeholder %s section", HPK_SECTION_NAME);
        goto done;
    }
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(in, (int)i, &ph) || !gelf_update_phdr(out, (int)i, &ph)) goto libelf_error;
    }
    eh.e_shoff = (payload_off + plen + 7) & ~(uint64_t)7;
    if (!gelf_update_ehdr(out, &eh)) goto libelf_error;
    if (elf_update(out, ELF_C_WRITE) < 0) {
        hpk_fail(e, HPK_ST_OUTPUT, "cannot write the artifact: %s", elf_errmsg(-1));
        goto done;
    }
    rc = 0;
    goto done;
libelf_error:
    hpk_fail(e, HPK_ST_INTERNAL, "libelf: %s", elf_errmsg(-1));
done:
    if (out) elf_end(out);
    if (in) elf_end(in);
    free(img);
    return rc;
}

int hpk_output_check(const char *out, const char *what, struct hpk_err *e)
{
    char *copy = strdup(out);
    if (!copy) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    const char *dir = dirname(copy);
    struct stat st;
    int rc = 0;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s directory %s does not exist", out, what, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write to %s directory %s: %s", out, what, dir, strerror(errno));
    else if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
        rc = hpk_fail(e, HPK_ST_OUTPUT, "%s: is a directory; give the %s file's path", out, what);
    free(copy);
    return rc;
}

int hpk_elf_emit(const char *out, const uint8_t *payload, size_t plen, struct hpk_err *e)
{
    if (elf_version(EV_CURRENT) == EV_NONE) return hpk_fail(e, HPK_ST_INTERNAL, "libelf too old");
    if (hpk_output_check(out, "output", e) != 0) return -1;
    char *copy = strdup(out), *dir = dirname(copy);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.hpack-tmp.XXXXXX", dir);
    free(copy);
    int fd = mkstemp(tmp);
    if (fd < 0) return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write to its directory: %s", out, strerror(errno));
    hpk_tmp_register(tmp);
    mode_t um = umask(0);
    umask(um);
    int r = write_elf(fd, payload, plen, e);
    if (r == 0 && (fchmod(fd, 0777 & ~um) != 0 || fsync(fd) != 0))
        r = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, strerror(errno));
    if (close(fd) != 0 && r == 0) r = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, strerror(errno));
    if (r == 0 && rename(tmp, out) != 0) r = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", out, strerror(errno));
    if (r != 0) unlink(tmp);
    hpk_tmp_forget(tmp);
    return r;
}
