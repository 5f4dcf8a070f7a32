/*
 * hpk_tune_int.h - the state of one `hpack build --tune` search, shared by
 * the files of the tune module only (not a public API: hpk_tune.h is):
 * tune.c (the search: candidates, rounds, medians, the decision),
 * tunetable.c (the table, the tune.* records, the chosen DA1 and
 * OUT.tuned written; hpack inspect's view of them), tuneopts.c (the
 * options: a candidate's, --tuned's, which flag an option sets).
 */
#ifndef HPK_TUNE_INT_H
#define HPK_TUNE_INT_H

#include "hpk_tune.h"

#define HPK_TUNE_MAX_CANDS 32
#define HPK_TUNE_MAX_RUNS 64

struct hpk_tune_cand {
    char name[32];
    struct hpk_strv opts;       /* added before the user's --jvm-opts */
    char da1[600];              /* its trained, verified DA1 in the work directory */
    double t[HPK_TUNE_MAX_RUNS]; /* measured times, seconds */
    size_t nt;
    double median, spread, lo, hi;
    char out[300];      /* why it left the search; "" while in it */
    const char *given;  /* --with-cache A --with-cache B: its cache (no training) */
    int run;            /* --train-runs: which training of its option set (1, 2, ...) */
    size_t set;         /* the candidate of run 1 with the same options */
};

struct hpk_tune {
    struct hpk_build *b;
    struct hpk_snapshot *s;
    char work[512];
    struct hpk_tune_cand c[HPK_TUNE_MAX_CANDS];
    size_t n;
    double t0, deadline;
    long peak_kb; /* the default DA1's peak heap use (its first run's GC log, tuneheap.c), kB */
    int rounds;   /* rounds measured */
    size_t win;   /* the chosen candidate (0: the default) */
    /* The confirmation (tune.c confirm): the search's winner and the
     * default measured again; `unconfirmed` is the winner it dropped (0:
     * none), conf_* its medians and rounds (0 rounds: not run). */
    size_t unconfirmed;
    double conf_def, conf_win, conf_spread;
    int conf_rounds;
};

/* tunetable.c */
/* Options as one line: blank-separated, an option with a blank or a
 * quote quoted (argfile.c's hpk_quote_arg; hpk_split_quoted reads it back). */
void hpk_tune_opts_text(const struct hpk_strv *o, char *buf, size_t n);
/* The table and the choice, on standard output; then, with --train-runs,
 * the spread of each option set's trainings. */
void hpk_tune_print_table(const struct hpk_tune *t);
/* The chosen DA1: the winner's DA0 in p, its CACHE; its provenance followed
 * by the tune.* records; written as b->output with OUT.tuned beside it. */
int hpk_tune_write(struct hpk_tune *t, struct hpk_payload_buf *p, const char *cache, struct hpk_err *e);

/* tuneopts.c */
/* Which of the user's --jvm-opts sets a flag one of OPTS sets (the
 * candidate then measures nothing the user would ship); NULL if none. */
const char *hpk_tune_user_sets(const struct hpk_build *b, const struct hpk_strv *opts);

#endif
