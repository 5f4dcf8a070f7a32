/*
 * tunetable.c - what `hpack build --tune` leaves (docs/tuning.md): the
 * table printed, the table and the choice as tune.* records (docs/format.md
 * 9.3) in the chosen DA1's provenance and in OUT.tuned, both written
 * through temporary names; and hpack inspect's view of those records.
 * The search itself, which fills the table, is tune.c.
 */
#define _GNU_SOURCE
#include "hpk_tune_int.h"
#include "hpk_jsonout.h"
#include "../layout/hpk_kv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void hpk_tune_opts_text(const struct hpk_strv *o, char *buf, size_t n)
{
    size_t l = 0;
    buf[0] = 0;
    for (size_t i = 0; i < o->n && l < n; i++) {
        char *q = hpk_quote_arg(o->v[i]);
        l += (size_t)snprintf(buf + l, n - l, "%s%s", i ? " " : "", q);
        free(q);
    }
}

/* A measured candidate's verdict: chosen, the default, faster (beyond the
 * noise, but not the fastest), within noise, slower (docs/tuning.md). */
static const char *verdict(const struct hpk_tune *t, size_t i)
{
    const struct hpk_tune_cand *c = &t->c[i], *d = &t->c[0];
    double margin = d->spread > 0.01 ? d->spread : 0.01;
    return i == t->win ? "chosen" : i == 0 ? "default" : i == t->unconfirmed ? "not confirmed"
         : c->median < d->median * (1 - margin) ? "faster"
         : c->median < d->median ? "within noise" : "slower";
}

/* The table and the choice as records (docs/format.md 9.3, tune.*): into
 * the winner's provenance (NUL-ended) and the .tuned file (lines). */
static void records(const struct hpk_tune *t, char **buf, size_t *len)
{
    char v[2048], o[1024];
    const char *goal = t->b->tune == HPK_TUNE_SERVER ? "server" : "startup";
    hpk_kv_add(buf, len, "tune.goal", goal);
    snprintf(v, sizeof v, "%d", t->rounds);
    hpk_kv_add(buf, len, "tune.rounds", v);
    snprintf(v, sizeof v, "%.4f", t->c[0].spread);
    hpk_kv_add(buf, len, "tune.spread", v);
    for (size_t i = 0; i < t->n; i++) {
        const struct hpk_tune_cand *c = &t->c[i];
        char key[32];
        hpk_tune_opts_text(&c->opts, o, sizeof o);
        snprintf(key, sizeof key, "tune.%zu", i);
        if (*c->out)
            snprintf(v, sizeof v, "%s\t-\t-\t-\t0\t%s\t%s", c->name, c->out, o);
        else
            snprintf(v, sizeof v, "%s\t%.6f\t%.6f\t%.6f\t%zu\t%s\t%s", c->name, c->median, c->lo, c->hi, c->nt,
                     verdict(t, i), o);
        hpk_kv_add(buf, len, key, v);
    }
    hpk_kv_add(buf, len, "tune.choice", t->c[t->win].name);
    hpk_tune_opts_text(&t->c[t->win].opts, o, sizeof o);
    hpk_kv_add(buf, len, "tune.choice.jvm", o);
}

/* How far apart the trainings of one option set came out: the spread of
 * their medians (fastest to slowest, relative to the fastest). */
static void training_spread(const struct hpk_tune *t)
{
    if (t->b->train_runs < 2) return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->c[i].run != 1 || t->c[i].given) continue;
        double lo = 0, hi = 0;
        int n = 0;
        for (size_t k = 0; k < t->n; k++) {
            const struct hpk_tune_cand *c = &t->c[k];
            if (c->set != i || *c->out || !c->nt) continue;
            if (!n || c->median < lo) lo = c->median;
            if (!n || c->median > hi) hi = c->median;
            n++;
        }
        if (n >= 2)
            printf("training spread: %s: medians %.3f-%.3f s over %d trainings (%.1f%%)\n", t->c[i].name, lo, hi, n,
                   100 * (hi - lo) / lo);
    }
}

void hpk_tune_print_table(const struct hpk_tune *t)
{
    printf("tune (%s, %d rounds, alternated; the default's spread %.1f%%):\n",
           t->b->tune == HPK_TUNE_SERVER ? "server: time to ready plus the workload" : "startup: the whole run", t->rounds,
           100 * t->c[0].spread);
    printf("  %-18s %10s %21s %8s  %-13s %s\n", "candidate", "median", "range", "speedup", "verdict", "options");
    for (size_t i = 0; i < t->n; i++) {
        const struct hpk_tune_cand *c = &t->c[i];
        char o[1024], range[64];
        hpk_tune_opts_text(&c->opts, o, sizeof o);
        if (*c->out) {
            printf("  %-18s %10s %21s %8s  %-13s %s\n", c->name, "-", "-", "-", "out", *o ? o : "(none)");
            printf("  %-18s   %s\n", "", c->out);
            continue;
        }
        snprintf(range, sizeof range, "%.3f-%.3f s", c->lo, c->hi);
        if (c->given) snprintf(o, sizeof o, "(--with-cache %s)", c->given);
        printf("  %-18s %8.3f s %21s %7.2fx  %-13s %s\n", c->name, c->median, range, t->c[0].median / c->median,
               verdict(t, i), *o ? o : "(none)");
    }
    char o[1024];
    hpk_tune_opts_text(&t->c[t->win].opts, o, sizeof o);
    if (t->win)
        printf("chosen: %s%s%s%s: %.2fx the default's speed, beyond its spread of %.1f%%\n", t->c[t->win].name,
               *o ? " (" : "", o, *o ? ")" : "", t->c[0].median / t->c[t->win].median, 100 * t->c[0].spread);
    else if (t->unconfirmed)
        printf("chosen: the default (%s won the search, not the confirmation)\n", t->c[t->unconfirmed].name);
    else
        printf("chosen: the default (no candidate beat it by more than its spread of %.1f%%)\n", 100 * t->c[0].spread);
    if (t->conf_rounds)
        printf("confirmation: %s %.3f s, the default %.3f s (spread %.1f%%), %d more rounds each: %.2fx, %s\n",
               t->c[t->win ? t->win : t->unconfirmed].name, t->conf_win, t->conf_def, 100 * t->conf_spread,
               t->conf_rounds, t->conf_def / t->conf_win, t->win ? "confirmed" : "not confirmed");
    training_spread(t);
    fflush(stdout);
}

/* Write text to PATH through a temporary name (registered: an interrupt
 * leaves neither); the caller renames it. */
static int write_tmp(const char *tmp, const char *text, size_t n, struct hpk_err *e)
{
    hpk_tmp_register(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", tmp, strerror(errno));
    int ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    ok &= close(fd) == 0;
    return ok ? 0 : hpk_fail(e, HPK_ST_OUTPUT, "%s: cannot write: %s", tmp, strerror(errno));
}

/* The winner, for good: its DA0 (the same bytes as measured: the layout is
 * a function of the snapshot), its cache with the table appended to the
 * provenance, verified once more, by train.c's one DA1 writer; the table
 * to OUT.tuned through a temporary name too. */
int hpk_tune_write(struct hpk_tune *t, struct hpk_payload_buf *p, const char *cache, struct hpk_err *e)
{
    struct hpk_build *b = t->b;
    char *rec = NULL, *text = NULL;
    size_t rl = 0;
    records(t, &rec, &rl);
    text = hpk_xmalloc(rl + 1);
    memcpy(text, rec, rl);
    for (size_t i = 0; i < rl; i++)
        if (!text[i]) text[i] = '\n';
    char ttmp[4200], tuned[4200];
    const char *slash = strrchr(b->output, '/');
    snprintf(ttmp, sizeof ttmp, "%.*s.hpack-tuned.%ld", slash ? (int)(slash - b->output + 1) : 0, b->output, (long)getpid());
    snprintf(tuned, sizeof tuned, "%s.tuned", b->output);
    /* OUT.tuned is ready before OUT is renamed into place, and renamed
     * after it: a failure leaves neither. */
    int r = write_tmp(ttmp, text, rl, e);
    if (r == 0) {
        hpk_note("tune: writing the chosen DA1 (%s)", t->c[t->win].name);
        r = hpk_da1_write(b, t->s, p, cache, rec, rl, b->output, NULL, e);
    }
    if (r == 0 && rename(ttmp, tuned) != 0) {
        r = hpk_fail(e, HPK_ST_OUTPUT, "%s: %s", tuned, strerror(errno));
        unlink(b->output);
    }
    unlink(ttmp);
    hpk_tmp_forget(ttmp);
    free(rec);
    free(text);
    return r;
}

/* ---- hpack inspect: the table and the choice from a provenance ---- */

/* Options as a JSON list: split as they were written (hpk_tune_opts_text). */
static void json_opts(FILE *f, const char *s, size_t n)
{
    char *copy = hpk_xmalloc(n + 1), why[200];
    memcpy(copy, s, n);
    copy[n] = 0;
    struct hpk_strv w = {0};
    hpk_split_quoted(copy, &w, why, sizeof why); /* what we wrote reads back; anything else, as far as it goes */
    fputc('[', f);
    for (size_t i = 0; i < w.n; i++) {
        if (i) fputs(", ", f);
        hpk_json_strn(f, w.v[i], strlen(w.v[i]));
    }
    fputc(']', f);
    hpk_strv_free(&w);
    free(copy);
}

/* s (n bytes) escaped, then blanks up to `width` columns (one a byte: the
 * names and verdicts hpack writes are ASCII). */
static void pad_text(FILE *f, const char *s, size_t n, size_t width)
{
    char t[HPK_PATH_TEXT_MAX];
    hpk_layout_path_text(t, sizeof t, s, n < HPK_PATH_MAX ? n : HPK_PATH_MAX);
    fprintf(f, "%-*s", (int)width, t);
}

/* One tune.N record (name, median, min, max, runs, verdict, options:
 * TAB-separated; median "-" for a candidate that was out) as a JSON object
 * or a line of the text. */
static void show_cand(FILE *f, const char *v, int first, int json)
{
    const char *fld[7] = {0};
    size_t fl[7] = {0};
    const char *p = v;
    for (int k = 0; k < 7; k++) {
        fld[k] = p;
        fl[k] = k < 6 ? strcspn(p, "\t") : strlen(p);
        p += fl[k];
        if (*p == '\t') p++;
    }
    int out = fl[1] == 1 && fld[1][0] == '-';
    if (json) {
        fprintf(f, "%s{\"name\": ", first ? "" : ", ");
        hpk_json_strn(f, fld[0], fl[0]);
        if (out) fputs(", \"median\": null, \"min\": null, \"max\": null, \"runs\": 0, \"verdict\": \"out\", \"note\": ", f);
        else fprintf(f, ", \"median\": %g, \"min\": %g, \"max\": %g, \"runs\": %d, \"verdict\": ", strtod(fld[1], NULL),
                     strtod(fld[2], NULL), strtod(fld[3], NULL), atoi(fld[4]));
        hpk_json_strn(f, fld[5], fl[5]);
        fputs(", \"jvm\": ", f);
        json_opts(f, fld[6], fl[6]);
        fputc('}', f);
    } else {
        /* the artifact's values, escaped (hpk_layout_print_path), padded as %-Ns would */
        fputs("                ", f);
        pad_text(f, fld[0], fl[0], 18);
        fputc(' ', f);
        if (out) {
            fprintf(f, "%-30s ", "out");
            hpk_layout_print_path(f, fld[6], fl[6]);
            fputs(": ", f);
            hpk_layout_print_path(f, fld[5], fl[5]);
        } else {
            fprintf(f, "%8.3f s  ", strtod(fld[1], NULL));
            pad_text(f, fld[5], fl[5], 13);
            fputc(' ', f);
            if (fl[6]) hpk_layout_print_path(f, fld[6], fl[6]);
            else fputs("(none)", f);
        }
        fputc('\n', f);
    }
}

int hpk_tune_show(FILE *f, const char *prov, size_t len, int json)
{
    const char *goal = prov ? hpk_kv_get(prov, len, "tune.goal") : NULL;
    if (!goal) {
        if (json) fputs("null", f);
        return 0;
    }
    const char *rounds = hpk_kv_get(prov, len, "tune.rounds"), *spread = hpk_kv_get(prov, len, "tune.spread");
    const char *choice = hpk_kv_get(prov, len, "tune.choice"), *cjvm = hpk_kv_get(prov, len, "tune.choice.jvm");
    if (!rounds) rounds = "0";
    if (!spread) spread = "0";
    if (!choice) choice = "?";
    if (!cjvm) cjvm = "";
    if (json) {
        fputs("{\"goal\": ", f);
        hpk_json_strn(f, goal, strlen(goal));
        fprintf(f, ", \"rounds\": %d, \"spread\": %g, \"choice\": ", atoi(rounds), strtod(spread, NULL));
        hpk_json_strn(f, choice, strlen(choice));
        fputs(", \"choice_jvm\": ", f);
        json_opts(f, cjvm, strlen(cjvm));
        fputs(", \"candidates\": [", f);
    } else {
        /* the artifact's values, escaped (hpk_layout_print_text) */
        fputs("tuned:          ", f);
        hpk_layout_print_text(f, goal);
        fprintf(f, ", %d rounds; chosen: ", atoi(rounds));
        hpk_layout_print_text(f, choice);
        if (*cjvm) {
            fputs(" (", f);
            hpk_layout_print_text(f, cjvm);
            fputc(')', f);
        }
        fprintf(f, " (the default's spread %.1f%%)\n", 100 * strtod(spread, NULL));
    }
    for (int i = 0;; i++) {
        char key[32];
        snprintf(key, sizeof key, "tune.%d", i);
        const char *v = hpk_kv_get(prov, len, key);
        if (!v) break;
        show_cand(f, v, i == 0, json);
    }
    if (json) fputs("]}", f);
    return 1;
}
