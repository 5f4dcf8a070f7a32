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
int hpk_tune_and_emit(struct hpk_build *b, struct hpk_snapshot *s, struct hpk_payload_buf *p, struct hpk_perr *e);

/* Split a candidate's options ("-XX:+A -XX:B=1") on blanks into out; -1
 * (with the reason in why) if empty or a word is not a JVM option. */
int hpk_tune_split(const char *opts, struct hpk_strv *out, char *why, size_t whyn);

/* --tuned FILE: the options the recorded choice adds (tune.choice.jvm), in
 * order, appended to out. */
int hpk_tune_read_choice(const char *file, struct hpk_strv *out, struct hpk_perr *e);

/* hpack inspect: the tune.* records of a provenance (the table and the
 * choice) as text lines or a JSON object; JSON null, or no text, when
 * there are none. Returns 1 if there were. */
int hpk_tune_show(FILE *f, const char *prov, size_t len, int json);

/* The robust statistics of the rule (docs/tuning.md), for the unit tests:
 * x (n >= 1) is sorted in place; *median, and *spread relative to it. */
void hpk_tune_stats(double *x, size_t n, double *median, double *spread);

#endif
