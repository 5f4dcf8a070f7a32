/*
 * hpk_ahead.h - entries decoded one thread ahead of the code that writes
 * them out in order (hpack extract -o FILE.tar|.zip): the decoding and
 * hashing of the next entry overlaps the writing of this one.
 */
#ifndef HPK_AHEAD_H
#define HPK_AHEAD_H

#include "../layout/hpk_artifact.h"

#include <stddef.h>
#include <stdint.h>

struct hpk_ahead;

/* Start decoding, on a thread of its own, every regular file of `a` in
 * table order (hpk_entry_decode: checked as always). NULL when there is
 * no second CPU to use or no memory for it: the caller decodes itself. */
struct hpk_ahead *hpk_ahead_start(const struct hpk_artifact *a);

/* The next piece of the content of regular file `e`, which must be the
 * next regular file in table order: 1 with *buf, *len (valid until the
 * next call), 0 at its end with *rc the decode's result (HPK_OK, or why
 * its content is not what the table says). */
int hpk_ahead_next(struct hpk_ahead *h, const struct hpk_entry *e, const uint8_t **buf, size_t *len, int *rc);

/* Stop the thread (wherever it is) and free everything. */
void hpk_ahead_stop(struct hpk_ahead *h);

#endif
