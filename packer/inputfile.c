/*
 * inputfile.c - one input file read into a snapshot item: its bytes, their
 * hash and the file's identity (for the re-check and the lock file).
 */
#define _GNU_SOURCE
#include "hpk_inputs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

int hpk_already_compressed(const char *name)
{
    static const char *const sufs[] = {".jar", ".zip", ".gz", ".xz", ".bz2", ".zst", ".png", ".jpg",
                                       ".jpeg", ".gif", ".jmod", ".war", ".ear", NULL};
    for (int i = 0; sufs[i]; i++)
        if (has_suffix(name, sufs[i])) return 1;
    return 0;
}

uint32_t hpk_file_mode(mode_t m) { return S_IFREG | ((m & 0111) ? 0755u : 0644u); }

int hpk_snapshot_file(struct hpk_item *it, const char *file, int status, struct hpk_err *e)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hpk_fail(e, status, "%s: cannot read: %s", file, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hpk_fail(e, status, "%s: not a regular file", file);
    }
    uint8_t *buf = hpk_alloc_big(st.st_size ? (size_t)st.st_size : 1);
    char *source = strdup(file);
    if (!buf || !source) {
        free(buf);
        free(source);
        close(fd);
        return hpk_fail(e, HPK_ST_INTERNAL, "%s: out of memory", file);
    }
    hpk_populate(buf, (size_t)st.st_size);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int saved = r < 0 ? errno : EIO;
            free(buf);
            free(source);
            close(fd);
            return hpk_fail(e, status, "%s: read error: %s", file, strerror(saved));
        }
        got += (size_t)r;
    }
    close(fd);
    it->data = buf;
    it->size = got;
    hpk_hash_bytes(buf, got, it->hash);
    free(it->source);
    it->source = source;
    it->id.dev = st.st_dev;
    it->id.ino = st.st_ino;
    it->id.size = st.st_size;
    it->id.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    it->no_compress = hpk_already_compressed(file);
    return 0;
}
