/*
 * hpk_tune.h - `hpack build --train --tune`: the JVM options chosen by
 * measurement (tune.c). docs/tuning.md describes the search and its rule.
 */
#ifndef HPK_TUNE_H
#define HPK_TUNE_H

#include "hpk_build.h"

#include <stdio.h>

/* AUTO: --tune without a goal, until the options are checked (server with
 * --train-ready, else startup). */
enum { HPK_TUNE_NONE, HPK_TUNE_STARTUP, HPK_TUNE_SERVER, HPK_TUNE_AUTO };

/* Defaults of --tune-rounds and --tune-time. */
#define HPK_TUNE_ROUNDS 5
#define HPK_TUNE_TIME 600.0

/* DA0 is in p (sealed), built with b's own options: train it and every
 * candidate, measure them on the training workload, and write the winner
 * as b->output (and the table as b->output + ".tuned"). p is appended to. */
int hpk_tune_and_emit(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_payload_buf *p, struct hpk_err *e);

/* Split a candidate's options ("-XX:+A '-Dk=a b'") into out, quoted as a
 * shell would (hpk_split_quoted); -1 (with the reason in why) if a quote is
 * not closed, there are none, or one is not a JVM option (or holds a
 * control character). */
int hpk_tune_split(const char *opts, struct hpk_strv *out, char *why, size_t whyn);

/* --tuned FILE: the options the recorded choice adds (tune.choice.jvm), in
 * order, appended to out. */
int hpk_tune_read_choice(const char *file, struct hpk_strv *out, struct hpk_err *e);

/* hpack inspect: the tune.* records of a provenance (the table and the
 * choice) as text lines or a JSON object; JSON null, or no text, when
 * there are none. Returns 1 if there were. */
int hpk_tune_show(FILE *f, const char *prov, size_t len, int json);

/* tuneheap.c: the peak heap use (kB) in a GC log written with
 * HPK_TUNE_HEAP_LOG (0 if it says nothing: an unknown collector); and the
 * xms-peak candidate's option for it ("-Xms32m": rounded up to 16 MB). */
#define HPK_TUNE_HEAP_LOG "-Xlog:gc*:file=\"%s\":tags"
long hpk_tune_heap_peak_kb(const char *log, size_t len);
void hpk_tune_xms(long peak_kb, char *buf, size_t n);

/* The robust statistics of the rule (docs/tuning.md), for the unit tests:
 * x (n >= 1) is sorted in place; *median, and *spread relative to it. */
void hpk_tune_stats(double *x, size_t n, double *median, double *spread);

#endif
