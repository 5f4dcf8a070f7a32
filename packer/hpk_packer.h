/*
 * hpk_packer.h - internal API of the `hpack` command.
 *
 * Small modules, one job each: the input services take the snapshot of the
 * inputs (snapshot.c and its readers, hpk_inputs.h), jar.c reads jar
 * manifests, payload.c lays out and compresses a payload, elfout.c writes
 * the launcher plus payload as an ELF file, build.c is the build command,
 * and hpack.c is the command table. Errors travel back as
 * struct hpk_err; only the command that knows the context prints them.
 */
#ifndef HPK_PACKER_H
#define HPK_PACKER_H

#include "../layout/hpk_artifact.h"
#include "../layout/hpk_layout.h"
#include "../layout/hpk_tree.h" /* struct hpk_err, hpk_fail: the one error type */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef HPK_VERSION
#define HPK_VERSION "0.1.0"
#endif

/* Exit statuses of the hpack command (docs/hpack.1 lists them). */
enum hpk_status {
    HPK_ST_OK = 0,
    HPK_ST_FAIL = 1,     /* verification failed, artifacts differ, generic failure */
    HPK_ST_USAGE = 2,    /* bad command line */
    HPK_ST_RUNTIME = 3,  /* --runtime/--jdk is missing or not a Java runtime */
    HPK_ST_CLASSPATH = 4, /* class path entry missing, unreadable or not a jar */
    HPK_ST_MAIN = 5,     /* no main class */
    HPK_ST_OUTPUT = 6,   /* output cannot be written */
    HPK_ST_TRAIN = 7,    /* training failed or its cache does not apply */
    HPK_ST_CHANGED = 8,  /* an input changed (during training, or against --locked) */
    HPK_ST_ARTIFACT = 9, /* an artifact given to inspect/verify/... is unreadable or corrupt */
    HPK_ST_INTERNAL = 10,
};

/* Process-wide options: the only mutable globals. */
extern int hpk_verbose; /* -v: 2, default 1, -q: 0 */
void hpk_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* shown unless -q */
void hpk_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* shown with -v */
void hpk_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Temporaries that must not survive a failure or an interrupt: a file, a
 * directory tree, a child process group (hpk_fork_group; killed). Forget
 * them once done. */
void hpk_tmp_register(const char *path);
void hpk_tmp_register_tree(const char *path);
void hpk_tmp_forget(const char *path);
/* A temporary's bytes on the disk before it is renamed into place (as
 * elfout.c does for artifacts), so that a crash of the machine cannot leave
 * the name over zeros: a file is fsynced; a directory tree (`tree`) has its
 * file system synced (syncfs: one flush for every file of it). 0, or -1
 * with errno. */
int hpk_sync_path(const char *path, int tree);
/* fork() a child in its own process group, registered as above and killed
 * if hpack dies: 0 in the child, its pid in the parent, -1 on failure.
 * hpk_wait_group is waitpid() that forgets the group once it is reaped. */
pid_t hpk_fork_group(void);
pid_t hpk_wait_group(pid_t pid, int *status, int flags);
/* The same, blocking, with the child's resource use (wait4): peak memory. */
struct rusage;
pid_t hpk_wait_group_usage(pid_t pid, int *status, struct rusage *ru);
/* Remove a registered tree and forget it. */
void hpk_tmp_rm_tree(const char *path);
void hpk_tmp_cleanup(void);

/* snapshot.c: the startup cache kind this snapshot's runtime takes ("aot",
 * "cds") or NULL (docs/format.md 9.2, cache.kind). */
struct hpk_snapshot;
const char *hpk_cache_kind(const struct hpk_snapshot *s);

/* ---- memory (util.c): the one policy where a function has no error path:
 * say "out of memory", remove what this run registered (hpk_tmp_cleanup:
 * temporaries, half-written outputs, child process groups), exit 9
 * (HPK_ST_INTERNAL). Functions that do have an error path return one. */
_Noreturn void hpk_oom(void);
void *hpk_xmalloc(size_t n);
void *hpk_xrealloc(void *p, size_t n);
char *hpk_xstrdup(const char *s);
/* The n strings of v with sep between them, malloc'ed. */
char *hpk_xjoin(const char *const *v, size_t n, const char *sep);
/* Room for one more in the array v of n elements of `size` bytes, *cap
 * allocated (doubled when full, `first` at first): v, or its new place, or
 * NULL when out of memory (v and *cap untouched). For lists whose adder
 * returns an error. */
void *hpk_grow(void *v, size_t *cap, size_t n, size_t size, size_t first);

/* A private directory ${TMPDIR:-/tmp}/hpack-WHAT.XXXXXX (hpk_tmpdir's rule),
 * registered for removal on exit or interrupt (hpk_tmp_cleanup). */
int hpk_mkdtemp(char *out, size_t n, const char *what, struct hpk_err *e);

/* A growable list of owned strings. */
struct hpk_strv {
    char **v;
    size_t n;
};
void hpk_strv_push(struct hpk_strv *v, const char *s); /* copies s */
int hpk_strv_has(const struct hpk_strv *v, const char *s);
void hpk_strv_free(struct hpk_strv *v);
/* qsort's comparator for an array of strings: bytewise (strcmp). */
int hpk_str_cmp(const void *a, const void *b);

double hpk_now(void);
/* "12.3 MB" or "45.6 kB", for the build's messages. */
void hpk_human_size(char *buf, size_t n, double bytes);
/* malloc for a buffer about to be filled whole (a big input file): asks
 * for transparent huge pages from 2 MiB on. Free with free(). */
void *hpk_alloc_big(size_t n);
/* Map the pages of [p, p+n) now, in one call, rather than a fault per page
 * as it is filled (a page fault costs tens of microseconds on some virtual
 * machines: docs/results.md). An advice: older kernels refuse it. */
void hpk_populate(void *p, size_t n);
/* A long step (jlink, reading, compressing, training, verifying): a spinner
 * on a terminal, plain lines otherwise; hpk_step_end() closes it. */
void hpk_step_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hpk_step_end(void);
/* Rename the running step (a new phase of it); a plain line off a terminal. */
void hpk_step_update(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Close the step without a "done" line (it failed, or the caller says more). */
void hpk_step_abort(void);

/* ---- the snapshot of the inputs (snapshot.c; read by inputfile.c,
 * treewalk.c, archive.c, runtime.c: hpk_inputs.h) ---- */

/* One entry to be packed. Content is held in memory from the moment it is
 * read: everything after the snapshot works from these bytes, never from the
 * input paths again (an input rewritten meanwhile cannot leak in). */
struct hpk_item {
    char *path;     /* entry path in the payload */
    uint32_t mode;  /* S_IFREG|0644/0755, S_IFDIR|0755, S_IFLNK|0777 */
    uint8_t role;
    uint8_t *data;  /* content (file bytes or symlink target); NULL for dirs */
    size_t size;
    uint8_t hash[16];
    char *source;   /* input file it was read from (for messages, re-checks and locks) */
    struct stat_id {
        dev_t dev;
        ino_t ino;
        off_t size;
        int64_t mtime_ns;
        int64_t ctime_ns;
    } id;
    int no_compress; /* already compressed, its name says (.gz, .png, ...): stored */
    int rewritten;   /* a jar whose manifest Class-Path hpack rewrote (closure.c) */
    uint8_t input_hash[16]; /* then: the hash of the input's bytes, which recheck compares */
    int mapped;      /* data is a read-only mapping of `source` (inputfile.c), not malloc'ed */
    int hash_later;  /* hash not computed yet (hpk_snapshot_file_unhashed; hpk_snapshot_hash_rest; the
                        payload computes those still left and writes them back) */
    int has_hash64;  /* a mapped file stored as it is: hash64 is the XXH3-64 of its bytes (its entry's
                        stored_hash), taken with `hash`; cleared when its data goes (hpk_item_data_free) */
    uint64_t hash64;
};

struct hpk_snapshot {
    struct hpk_item *items;
    size_t n, cap;
    char *runtime_root;  /* realpath of --runtime */
    char *java_version;  /* JAVA_VERSION from release */
    char *runtime_version; /* JAVA_RUNTIME_VERSION, else JAVA_VERSION */
    int java_major;
    int has_base_cds;    /* lib/server/classes.jsa present */
    /* Archives read as inputs (a JDK tarball, an app distribution):
     * re-hashed whole by recheck. */
#define HPK_MAX_ARCHIVES 4
    char *archives[HPK_MAX_ARCHIVES];
    uint8_t archive_hash[HPK_MAX_ARCHIVES][16];
    int n_archives;
    /* The path index of hpk_snapshot_find (snapshot.c): slots of item
     * index + 1 (0: empty), items[0..ix_n) entered. Appends are entered
     * as found; whoever reorders or removes items calls
     * hpk_snapshot_reindex. */
    size_t *ix, ix_cap, ix_n;
    /* Set by a build that hands this snapshot to the zstd payload: a
     * mapped file to be compressed is left unhashed (hash_later) by
     * hpk_snapshot_hash_rest, and the payload hashes it from the bytes it
     * compresses, so its 300 MB are read once, not twice (payload.c). */
    int hash_in_payload;
};

/* Where a tree read from a directory or an archive goes in the payload. */
struct hpk_tree_dst {
    const char *root;   /* set by the reader: the directory read */
    const char *prefix; /* top-level entry directory: "runtime" or "app" */
    uint8_t role;
    int status;         /* exit status for errors about this input */
};

void hpk_snapshot_free(struct hpk_snapshot *s);
struct hpk_item *hpk_snapshot_add(struct hpk_snapshot *s, const char *path, uint32_t mode, uint8_t role);
int hpk_snapshot_has(const struct hpk_snapshot *s, const char *path);
struct hpk_item *hpk_snapshot_find(struct hpk_snapshot *s, const char *path); /* NULL if none */
/* Hash every item still unhashed, those the payload would hash included
 * (hash_in_payload): for what needs the hashes before the payload is made
 * (hpack build --locked). */
void hpk_snapshot_hash_all(struct hpk_snapshot *s);
/* After items were reordered or removed (not needed after appends). */
void hpk_snapshot_reindex(struct hpk_snapshot *s);
/* Follow `path` (below the tree `prefix`/) through the snapshot's symlink
 * items, as the kernel would inside the tree. Returns the item it names,
 * with its path below prefix in `out`, or NULL when the walk leaves the
 * tree, loops, or names nothing. */
struct hpk_item *hpk_snapshot_follow(struct hpk_snapshot *s, const char *prefix, const char *path, char *out,
                                     size_t outn);
/* Read a runtime directory into runtime/...; handles symlinks (docs/format.md). */
int hpk_snapshot_runtime(struct hpk_snapshot *s, const char *dir, struct hpk_err *e);
/* Read a directory into dst->prefix/... (symlink rule of docs/format.md:
 * links out of the tree or through another link are materialised). */
int hpk_snapshot_tree(struct hpk_snapshot *s, const char *dir, const struct hpk_tree_dst *dst, struct hpk_err *e);
/* The same from a tar, tar.gz or zip read in memory with libarchive and
 * decoded once (archive.c). Its one top directory, if every member lies in
 * one, is stripped and named in `top`; need_top makes its absence an error
 * (a JDK tarball). */
int hpk_snapshot_archive(struct hpk_snapshot *s, const char *file, const struct hpk_tree_dst *dst, int need_top,
                         char *top, size_t topn, struct hpk_err *e);
/* Read one input file into an item (content, hash, identity). Large files
 * that have not changed for a while are mapped instead of read (see
 * inputfile.c); hpk_item_unchanged then checks, once the payload is
 * made, that none of them changed under the mapping. */
int hpk_snapshot_file(struct hpk_item *it, const char *file, int status_on_error, struct hpk_err *e);
/* fonts.c: the DejaVu core set (Debian's fonts-dejavu-core: sans, sans
 * mono and serif, regular and bold) where Debian puts it. */
#define HPK_DEJAVU_DIR "/usr/share/fonts/truetype/dejavu"
#define HPK_DEJAVU_N 6
extern const char *const hpk_dejavu_fonts[HPK_DEJAVU_N];
/* A runtime with java.desktop's font manager and no font configuration of
 * its own gets the DejaVu set in runtime/lib/fonts and a
 * lib/fontconfig.properties naming them: the JDK's fallback where the
 * host's fontconfig has no fonts. A host without the fonts: a warning. */
int hpk_snapshot_fonts(struct hpk_snapshot *s, struct hpk_err *e);
/* Whether an item is one hpk_snapshot_fonts added (a lock made
 * without them names them in its refusal). */
int hpk_fonts_entry(const struct hpk_item *it);
/* Release an item's content, mapped or malloc'ed; data becomes NULL. */
void hpk_item_data_free(struct hpk_item *it);
/* A mapped input still the file it was (inode, size, mtime, ctime), else
 * HPK_ST_CHANGED naming it; 0 for an item read into memory. The payload
 * checks every item it compressed (payload.c). */
int hpk_item_unchanged(const struct hpk_item *it, struct hpk_err *e);
/* A mapped item's file opened for read(2), checked to be the file mapped
 * (device, inode, size); -1 if not mapped or not that file. Reading it so
 * beats reading the mapping on a virtual machine (inputfile.c). */
int hpk_item_open(const struct hpk_item *it);
/* The same from a tarball or zip holding one Java home under one top
 * directory, read with libarchive without unpacking it to disk. */
int hpk_snapshot_runtime_archive(struct hpk_snapshot *s, const char *file, struct hpk_err *e);
/* The major Java version in HOME/release (JAVA_VERSION), 0 if unknown. */
int hpk_release_major(const char *home);
/* Re-read every input and compare with the snapshot; names the first change. */
int hpk_snapshot_recheck(const struct hpk_snapshot *s, struct hpk_err *e);
void hpk_hash_bytes(const void *buf, size_t len, uint8_t out[16]);

/* ---- jars (jar.c) ---- */
struct hpk_manifest {
    char *main_class;
    char *class_path; /* space-separated URLs relative to the jar, as written */
    int is_signed;    /* has META-INF/X.SF: its manifest is covered by a signature */
};
/* Parse the manifest of an in-memory jar; also checks it is a readable zip. */
int hpk_jar_manifest(const uint8_t *data, size_t size, const char *name, struct hpk_manifest *m,
                     struct hpk_err *e);
void hpk_manifest_free(struct hpk_manifest *m);
/* A copy of the jar whose manifest main section has Class-Path `value`
 * (dropped if empty) instead of the one it has; every other entry's bytes
 * unchanged. Not for signed jars (their signature covers the manifest). */
int hpk_jar_rewrite_class_path(const uint8_t *data, size_t size, const char *name, const char *value, uint8_t **out,
                               size_t *outn, struct hpk_err *e);

/* Whether an in-memory jar's central directory lists `entry` (or
 * META-INF/versions/<N>/entry): 1, 0, or -1 when it cannot tell (not a
 * zip, zip64, damaged). */
int hpk_jar_lists(const uint8_t *data, size_t size, const char *entry);

/* The module a jar declares (its module-info.class, else its manifest's
 * Automatic-Module-Name), malloc'ed; NULL if none. With a module-info,
 * *requires (if asked) is the comma list of the modules it requires. */
char *hpk_jar_module_name(const uint8_t *data, size_t size, char **requires);

/* ---- payloads (payload.c) ---- */
/* --compress zstd:N|zlib:N|none: how compressible files are stored.
 * Default zstd level: measured, docs/format.md 10.5. */
#define HPK_ZSTD_LEVEL 3
#define HPK_ZLIB_LEVEL 4
/* From this zstd level on, files larger than one 2 MiB frame are written
 * in 8 MiB frames (codec zstd8m): zstd searches a 4 MiB window from level
 * 9 and an 8 MiB one from 17, which 2 MiB frames would cut short
 * (docs/format.md 10.5). */
#define HPK_ZSTD_LARGE_LEVEL 9
struct hpk_compress {
    int codec; /* HPK_CODEC_ZSTD (zstd8m follows from the level), HPK_CODEC_ZLIB or HPK_CODEC_STORED (none) */
    int level;
};
/* Process-wide option, set by `hpack build --compress`: the DA1 cache
 * entries are compressed as DA0's files were. */
extern struct hpk_compress hpk_compress_opt;
/* Parse "zstd", "zstd:N" (1-19), "zlib", "zlib:N" (1-9) or "none"; -1 if bad. */
int hpk_compress_parse(const char *spec, struct hpk_compress *out);

/* Where a payload's bytes go while it is made: len bytes of it, at payload
 * offset off; returns 0 or an errno. */
typedef int (*hpk_payload_sink_fn)(void *ctx, const uint8_t *buf, size_t len, uint64_t off);
struct hpk_payload_buf {
    /* Payload offset x is at data[x - base] (hpk_payload_at). base stays
     * 0 unless the payload is streamed: then what the sink has been handed
     * is dropped from the front, so the buffer holds a window of tens of
     * MB, not the whole payload (fresh pages cost, docs/results.md). */
    uint8_t *data;
    size_t base;
    size_t len, cap;
    struct hpk_entry *entries;
    char **paths; /* owned copies of entry paths */
    uint32_t count;
    size_t data_end;
    uint8_t base_hash[16], full_hash[16];
    /* hpk_payload_stream: the sink, and the end of what was handed to it
     * (every byte before, some of them twice; the rest, table and footer
     * included, is the caller's to write: data + flushed .. data + len). */
    hpk_payload_sink_fn sink;
    void *sink_ctx;
    int sink_err; /* an errno from the sink, or 0 */
    size_t flushed;
};

static inline uint8_t *hpk_payload_at(const struct hpk_payload_buf *p, size_t off) { return p->data + (off - p->base); }

/* Lay out and compress items in order, then write table and footer. An
 * item still unhashed (hash_later) is hashed from the bytes compressed,
 * and its hash written back (hash_later cleared). */
int hpk_payload_build(struct hpk_payload_buf *p, struct hpk_item *items, size_t n, struct hpk_err *e);
/* The same, handing the data laid down to `sink` while the rest is still
 * compressed, so the output is written (and its writeback started) during
 * compression rather than after it. The bytes are those of
 * hpk_payload_build, but p then holds only what the caller has left to
 * write (hpk_payload_at(p, p->flushed), up to p->len): big stored files
 * were written from their inputs, never copied, and what the sink was
 * handed is gone, so p cannot be appended to (hpk_payload_append). */
int hpk_payload_stream(struct hpk_payload_buf *p, struct hpk_item *items, size_t n, hpk_payload_sink_fn sink,
                       void *ctx, struct hpk_err *e);
/* Append items (the cache) after the existing entries' data, rewriting only
 * the table and footer: every earlier entry keeps its bytes and offset. */
int hpk_payload_append(struct hpk_payload_buf *p, struct hpk_item *items, size_t n, struct hpk_err *e);
void hpk_payload_buf_free(struct hpk_payload_buf *p);

/* ---- ELF output (elfout.c) ---- */
extern const uint8_t hpk_launcher_start[], hpk_launcher_end[];
/* Write launcher + payload as `out` atomically (temporary name, then rename). */
int hpk_elf_emit(const char *out, const uint8_t *payload, size_t plen, struct hpk_err *e);
/* The same in steps, for a payload written while it is made: open writes
 * the launcher and its section header table to a temporary file next to
 * `out`; hpk_elf_write puts payload bytes at their place (a sink for
 * hpk_payload_stream), starts their writeback and commits them every
 * HPK_SYNC_EVERY bytes (an fsync's cost grows with what it commits);
 * commit records the payload's size in the .hpack header, syncs and
 * renames; abort removes the temporary file. After open, exactly one of
 * commit and abort. */
struct hpk_elf_out {
    int fd;
    const char *out;
    char tmp[4096];
    uint64_t payload_off; /* file offset of the payload */
    uint64_t hdr_off;     /* file offset of the .hpack section header */
    uint64_t unsynced;    /* bytes written since the last fdatasync (hpk_elf_write) */
};
/* hpk_elf_write commits the file's data every this many bytes. */
#define HPK_SYNC_EVERY (32u << 20)
int hpk_elf_open(const char *out, struct hpk_elf_out *o, struct hpk_err *e);
int hpk_elf_write(void *o, const uint8_t *buf, size_t len, uint64_t off);
int hpk_elf_commit(struct hpk_elf_out *o, uint64_t plen, struct hpk_err *e);
void hpk_elf_abort(struct hpk_elf_out *o);
/* Before the long steps: can OUT (the `what`: "output", "lock") be written?
 * The same checks again when it is, but a user should not wait a jlink and a
 * training run to learn of a typo. */
int hpk_output_check(const char *out, const char *what, struct hpk_err *e);
/* Read a whole file into memory. */
int hpk_read_file(const char *path, uint8_t **data, size_t *len);

#endif
