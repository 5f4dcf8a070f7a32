/*
 * elfout.c - write an artifact: the launcher ELF, its section header table,
 * then the payload as the .hpack section, page-aligned, last in the file.
 *
 * The launcher is built with a one-byte placeholder .hpack section (so the
 * name is already in .shstrtab and no string table has to grow or move).
 * We copy the launcher with libelf under ELF_F_LAYOUT: every section keeps
 * its offset, the program headers are unchanged (the payload is in no
 * segment, so the kernel never maps it), the section header table follows
 * the launcher's last section, and .hpack is placed at the first page
 * boundary after that table.
 *
 * Why the table before the payload, and .hpack written by libelf as an
 * empty SHT_NOBITS section then patched to SHT_PROGBITS and its size: so
 * the payload can be written while it is still being compressed, after
 * libelf is done. libelf writes every byte up to the end of what it lays
 * out (it fills a NOBITS range that lies before the section header table
 * with zeros, and truncates the file to its own end: measured), so the
 * payload must come after all of it and be written by us. Then writing
 * and writeback overlap compression instead of following it
 * (docs/results.md). The output is checked with readelf, objcopy and strip
 * in tests.
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

/* Write the launcher and its section header table to fd; the .hpack header
 * is left as an empty NOBITS section at o->payload_off (hpk_elf_commit
 * makes it the payload). */
static int write_prefix(int fd, struct hpk_elf_out *o, struct hpk_err *e)
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
    eh.e_shoff = (end + 7) & ~(uint64_t)7;
    o->payload_off = hpk_align_up(eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize);
    o->hdr_off = 0;
    s = NULL;
    while ((s = elf_nextscn(in, s))) {
        GElf_Shdr sh;
        gelf_getshdr(s, &sh);
        Elf_Scn *ns = elf_newscn(out);
        Elf_Data *nd = ns ? elf_newdata(ns) : NULL;
        if (!nd) goto libelf_error;
        const char *name = elf_strptr(in, shstrndx, sh.sh_name);
        if (name && strcmp(name, HPK_SECTION_NAME) == 0 && !(sh.sh_flags & SHF_ALLOC) && !o->hdr_off) {
            o->hdr_off = eh.e_shoff + (uint64_t)elf_ndxscn(ns) * eh.e_shentsize;
            sh.sh_type = SHT_NOBITS;
            sh.sh_offset = o->payload_off;
            sh.sh_size = 0;
            sh.sh_addralign = HPK_ALIGN;
            nd->d_buf = NULL;
            nd->d_size = 0;
        } else {
            Elf_Data *d = elf_rawdata(s, NULL);
            nd->d_buf = d ? d->d_buf : NULL;
            nd->d_size = sh.sh_type == SHT_NOBITS ? sh.sh_size : d ? d->d_size : 0;
        }
        nd->d_align = 1;
        nd->d_type = ELF_T_BYTE;
        nd->d_off = 0;
        nd->d_version = EV_CURRENT;
        if (!gelf_update_shdr(ns, &sh)) goto libelf_error;
    }
    if (!o->hdr_off || eh.e_shentsize != 64) {
        hpk_fail(e, HPK_ST_INTERNAL, "embedded launcher has no placeholder %s section", HPK_SECTION_NAME);
        goto done;
    }
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(in, (int)i, &ph) || !gelf_update_phdr(out, (int)i, &ph)) goto libelf_error;
    }
    if (!gelf_update_ehdr(out, &eh)) goto libelf_error;
    errno = 0;
    if (elf_update(out, ELF_C_WRITE) < 0) {
        /* libelf says "I/O error"; errno says which. */
        hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", o->out, errno ? strerror(errno) : elf_errmsg(-1));
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

int hpk_elf_open(const char *out, struct hpk_elf_out *o, struct hpk_err *e)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->out = out;
    if (elf_version(EV_CURRENT) == EV_NONE) return hpk_fail(e, HPK_ST_INTERNAL, "libelf too old");
    if (hpk_output_check(out, "output", e) != 0) return -1;
    char *copy = strdup(out);
    if (!copy) return hpk_fail(e, HPK_ST_INTERNAL, "out of memory");
    snprintf(o->tmp, sizeof o->tmp, "%s/.hpack-tmp.XXXXXX", dirname(copy));
    free(copy);
    if ((o->fd = mkstemp(o->tmp)) < 0) {
        *o->tmp = 0;
        return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write to its directory: %s", out, strerror(errno));
    }
    hpk_tmp_register(o->tmp);
    if (write_prefix(o->fd, o, e) != 0) {
        hpk_elf_abort(o);
        return -1;
    }
    return 0;
}

int hpk_elf_write(void *ctx, const uint8_t *buf, size_t len, uint64_t off)
{
    struct hpk_elf_out *o = ctx;
    off_t at = (off_t)(o->payload_off + off);
    for (size_t done = 0; done < len;) {
        ssize_t w = pwrite(o->fd, buf + done, len - done, at + (off_t)done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? errno : EIO;
        done += (size_t)w;
    }
    /* Start writing these pages to disk now (asynchronous): the fsync at
     * the end then waits for the last of them only. Small writes are left
     * to the fsync. An advice: a file system that refuses it leaves it all
     * to the fsync. */
    if (len >= (1u << 20)) sync_file_range(o->fd, at, (off_t)len, SYNC_FILE_RANGE_WRITE);
    /* And commit what was written every HPK_SYNC_EVERY bytes: on ext4 the
     * cost of an fsync grows with the blocks allocated since the last one
     * (on this project's virtual machine 73 ms for a 128 MB file written
     * in 4 MB steps, 18 ms when fdatasync had run every 32 MB). For a
     * streamed payload it runs on the writer thread, while the other
     * threads compress, instead of after everything (docs/results.md). */
    o->unsynced += len;
    if (o->unsynced >= HPK_SYNC_EVERY) {
        o->unsynced = 0;
        if (fdatasync(o->fd) != 0) return errno ? errno : EIO;
    }
    return 0;
}

void hpk_elf_abort(struct hpk_elf_out *o)
{
    if (o->fd >= 0) close(o->fd);
    o->fd = -1;
    if (*o->tmp) {
        unlink(o->tmp);
        hpk_tmp_forget(o->tmp);
        *o->tmp = 0;
    }
}

int hpk_elf_commit(struct hpk_elf_out *o, uint64_t plen, struct hpk_err *e)
{
    /* The .hpack header becomes the payload's: SHT_PROGBITS (sh_type at
     * byte 4 of an Elf64_Shdr) of plen bytes (sh_size at byte 32). The
     * format is little-endian (docs/format.md section 1). */
    uint8_t type[4], size[8];
    hpk_put32(type, SHT_PROGBITS);
    hpk_put64(size, plen);
    mode_t um = umask(0);
    umask(um);
    int r = 0;
    errno = 0;
    if (pwrite(o->fd, type, 4, (off_t)o->hdr_off + 4) != 4 || pwrite(o->fd, size, 8, (off_t)o->hdr_off + 32) != 8 ||
        fchmod(o->fd, 0777 & ~um) != 0 || fsync(o->fd) != 0)
        r = hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", o->out, strerror(errno ? errno : EIO));
    if (close(o->fd) != 0 && r == 0) r = hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", o->out, strerror(errno));
    o->fd = -1;
    if (r == 0 && rename(o->tmp, o->out) != 0) r = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", o->out, strerror(errno));
    if (r != 0) unlink(o->tmp);
    hpk_tmp_forget(o->tmp);
    *o->tmp = 0;
    return r;
}

int hpk_elf_emit(const char *out, const uint8_t *payload, size_t plen, struct hpk_err *e)
{
    struct hpk_elf_out o;
    if (hpk_elf_open(out, &o, e) != 0) return -1;
    int err = hpk_elf_write(&o, payload, plen, 0);
    if (err) {
        hpk_elf_abort(&o);
        return hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", out, strerror(err));
    }
    return hpk_elf_commit(&o, plen, e);
}
