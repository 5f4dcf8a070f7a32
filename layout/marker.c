/*
 * marker.c - the .hpack-ok marker that makes an unpacked tree usable, and
 * what it says about the tree's bytes surviving a crash of the machine.
 *
 * The launcher writes a tree without fsync: a first start that waited for
 * the disk to take the whole tree would lose its point (docs/launcher.md
 * section 12). After a power failure shortly after, the file system may
 * have kept names, sizes and the rename that published the tree but not
 * all of the data; the warm path reads no file content, so such a tree
 * would be used as it is. So the marker says which boot wrote the tree:
 *
 *   "<base hex>\n"               (33 bytes) settled: its bytes are known to
 *                                be on disk (hpack install syncs them, an
 *                                image layer is a file of its own) or were
 *                                read back and checked after a restart
 *                                (and every marker of launchers before
 *                                this form: taken as settled)
 *   "<base hex>\nboot <id>\n"    (75 bytes) written in the boot whose
 *                                /proc/sys/kernel/random/boot_id is <id>
 *
 * In the boot that wrote a tree the page cache holds what was written, so
 * the warm path's checks hold as before. In any later boot the machine may
 * have crashed in between: the first start hashes the tree's files against
 * the payload's content hashes once and settles the marker, or unpacks the
 * tree again (launcher/tree.c). The warm path
 * tells the forms apart by the size it already gets from fstatat: a
 * settled tree costs no extra call, a tree of this boot six (two files of
 * one read each).
 */
#define _GNU_SOURCE
#include "hpk_unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BOOT_PREFIX "boot "
#define MARKER_TMP HPK_MARKER ".tmp"

int hpk_boot_id(char id[HPK_BOOT_ID_LEN + 1])
{
    char buf[HPK_BOOT_ID_LEN + 2];
    ssize_t n = -1;
#ifdef HPK_TEST_HOOKS
    /* Test builds only: a restart without restarting the machine. */
    const char *t = getenv("HPACK_TEST_BOOT_ID");
    if (t) {
        n = (ssize_t)strlen(t);
        if (n > HPK_BOOT_ID_LEN) return -1;
        memcpy(buf, t, (size_t)n);
        buf[n++] = '\n';
    }
#endif
    if (n < 0) {
        int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -1;
        n = read(fd, buf, sizeof buf);
        close(fd);
    }
    /* A UUID in its text form and a newline: anything else is no boot id. */
    if (n != HPK_BOOT_ID_LEN + 1 || buf[HPK_BOOT_ID_LEN] != '\n') return -1;
    for (int i = 0; i < HPK_BOOT_ID_LEN; i++)
        if (!((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f') || buf[i] == '-')) return -1;
    memcpy(id, buf, HPK_BOOT_ID_LEN);
    id[HPK_BOOT_ID_LEN] = 0;
    return 0;
}

enum hpk_marker_state hpk_marker_state(int tree, const char *hex, const struct stat *st)
{
    if (!S_ISREG(st->st_mode)) return HPK_MARKER_BAD;
    if (st->st_size == HPK_MARKER_SETTLED_SIZE) return HPK_MARKER_SETTLED; /* content not compared, as before */
    if (st->st_size != HPK_MARKER_BOOT_SIZE) return HPK_MARKER_BAD;
    char buf[HPK_MARKER_BOOT_SIZE + 1], id[HPK_BOOT_ID_LEN + 1];
    /* O_NONBLOCK: a FIFO put there since the fstatat (by whoever may
     * write the tree, which the caller may not have checked yet) must not
     * hang the start; read from it gives nothing, so not a marker. (A link
     * is not followed; a device node takes a privilege that could do
     * worse.) No fstat: the warm path of this boot stays at six calls. */
    int fd = openat(tree, HPK_MARKER, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return HPK_MARKER_BAD;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    const char *b = buf + 33;
    if (n != HPK_MARKER_BOOT_SIZE || memcmp(buf, hex, 32) || buf[32] != '\n' ||
        memcmp(b, BOOT_PREFIX, sizeof BOOT_PREFIX - 1) || buf[HPK_MARKER_BOOT_SIZE - 1] != '\n')
        return HPK_MARKER_BAD;
    b += sizeof BOOT_PREFIX - 1;
    /* No boot id to compare with: as if the machine had restarted. */
    if (hpk_boot_id(id) != 0 || memcmp(b, id, HPK_BOOT_ID_LEN)) return HPK_MARKER_EARLIER_BOOT;
    return HPK_MARKER_THIS_BOOT;
}

enum hpk_marker_state hpk_tree_marker(int tree, const char *hex)
{
    struct stat st;
    return fstatat(tree, HPK_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0 ? hpk_marker_state(tree, hex, &st) : HPK_MARKER_BAD;
}

int hpk_marker_write(int tree, const char *hex, enum hpk_mark how, struct hpk_err *err)
{
    char buf[HPK_MARKER_BOOT_SIZE], id[HPK_BOOT_ID_LEN + 1];
    size_t n = HPK_MARKER_SETTLED_SIZE;
    memcpy(buf, hex, 32);
    buf[32] = '\n';
    /* A host that shows no boot id gets the bytes synced instead. */
    if (how == HPK_MARK_BOOT && hpk_boot_id(id) != 0) how = HPK_MARK_SYNC;
    if (how == HPK_MARK_BOOT) {
        memcpy(buf + 33, BOOT_PREFIX, sizeof BOOT_PREFIX - 1);
        memcpy(buf + 33 + sizeof BOOT_PREFIX - 1, id, HPK_BOOT_ID_LEN);
        buf[HPK_MARKER_BOOT_SIZE - 1] = '\n';
        n = HPK_MARKER_BOOT_SIZE;
    }
    /* Everything the tree holds reaches the disk before a marker that says
     * so; syncfs, not an fsync per file: one flush of the device. */
    if (how == HPK_MARK_SYNC && syncfs(tree) != 0)
        return hpk_fail(err, HPK_EXIT_UNPACK, "cannot sync the unpacked tree: %s", strerror(errno));
    /* Written aside and renamed over: a start reading the marker sees the
     * old one or the new one. The callers hold the tree's lock or own a
     * tree nobody else sees yet, so one temporary name serves. */
    int fd = openat(tree, MARKER_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    /* fchmod: 0644 whatever the umask (a store tree is read by every user,
     * and an image's bytes must not depend on it). */
    int r = fd < 0 || write(fd, buf, n) != (ssize_t)n || fchmod(fd, 0644) != 0 ||
            futimens(fd, hpk_fixed_times) != 0 || (how == HPK_MARK_SYNC && fsync(fd) != 0);
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && !r) {
        r = 1;
        e = errno;
    }
    if (!r && renameat(tree, MARKER_TMP, tree, HPK_MARKER) != 0) {
        r = 1;
        e = errno;
    }
    if (!r && how == HPK_MARK_SYNC && fsync(tree) != 0) {
        r = 1;
        e = errno;
    }
    if (r) {
        unlinkat(tree, MARKER_TMP, 0);
        return hpk_fail(err, HPK_EXIT_UNPACK, "cannot write %s: %s", HPK_MARKER, strerror(e));
    }
    return 0;
}
