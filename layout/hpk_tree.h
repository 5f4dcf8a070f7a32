/*
 * hpk_tree.h - the contract of an unpacked tree, shared by the launcher
 * (which makes and uses trees), `hpack extract`, `hpack diff` and the
 * JVM command line (layout/config.c): what every host's tree looks like so
 * that a startup cache trained on one host applies on the others.
 */
#ifndef HPK_TREE_H
#define HPK_TREE_H

#include <time.h>

/* Every unpacked file gets this mtime (1980-01-01T00:00:00Z): class path
 * entries' mtimes are recorded in JVM startup caches, so they must be the
 * same on every host. */
#define HPK_FIXED_MTIME ((time_t)315532800)

/* The unpack root is kept open at this descriptor across execve, and the
 * class path is named through it (/proc/self/fd/250/app/x.jar): the same
 * string on every host, which OpenJDK 17's CDS requires. */
#define HPK_TREE_FD 250
#define HPK_TREE_FD_PATH "/proc/self/fd/250"

/* A complete launcher tree holds this file (the base hash and a newline). */
#define HPK_MARKER ".hpack-ok"

#endif
