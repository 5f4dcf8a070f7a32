/*
 * util.c - messages, errors and the temporary-file registry of the packer.
 */
#define _GNU_SOURCE
#include "hpk_packer.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

int hpk_verbose = 1;

/* ---- progress: one step at a time ----
 * On a terminal, a spinner with the step's name and elapsed time redraws
 * itself on stderr from a small thread; elsewhere (logs, CI), and with -v
 * (whose explanations would be drawn over), a step is one plain line when
 * it starts and one when it ends. -q silences both. */
static struct {
    pthread_t th;
    int running;
    volatile int stop;
    char name[200];
    double t0;
    pthread_mutex_t mu;
} step = {.mu = PTHREAD_MUTEX_INITIALIZER};


int hpk_perr_set(struct hpk_perr *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->status = status;
    return -1;
}

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void hpk_note(const char *fmt, ...)
{
    if (hpk_verbose < 1) return;
    hpk_step_end();
    va_list ap;
    va_start(ap, fmt);
    vmsg("hpack: ", fmt, ap);
    va_end(ap);
}

void hpk_info(const char *fmt, ...)
{
    if (hpk_verbose < 2) return;
    va_list ap;
    va_start(ap, fmt);
    vmsg("hpack: ", fmt, ap);
    va_end(ap);
}

void hpk_warn(const char *fmt, ...)
{
    hpk_step_end();
    va_list ap;
    va_start(ap, fmt);
    vmsg("hpack: warning: ", fmt, ap);
    va_end(ap);
}

double hpk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A fixed-size registry: a build has a handful of temporaries at a time.
 * The signal handler only calls unlink(), which is async-signal-safe. */
#define TMP_MAX_FILES 16
static char tmp_paths[TMP_MAX_FILES][4096];
static volatile sig_atomic_t tmp_used[TMP_MAX_FILES];

static void on_signal(int sig)
{
    step.stop = 1;
    hpk_tmp_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

void hpk_tmp_register(const char *path)
{
    static int installed;
    if (!installed) {
        installed = 1;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
    }
    for (int i = 0; i < TMP_MAX_FILES; i++)
        if (!tmp_used[i]) {
            snprintf(tmp_paths[i], sizeof tmp_paths[i], "%s", path);
            tmp_used[i] = 1;
            return;
        }
}

void hpk_tmp_forget(const char *path)
{
    for (int i = 0; i < TMP_MAX_FILES; i++)
        if (tmp_used[i] && strcmp(tmp_paths[i], path) == 0) tmp_used[i] = 0;
}

void hpk_tmp_cleanup(void)
{
    for (int i = 0; i < TMP_MAX_FILES; i++)
        if (tmp_used[i]) {
            unlink(tmp_paths[i]);
            tmp_used[i] = 0;
        }
}

static void *spin(void *arg)
{
    (void)arg;
    static const char frames[] = "|/-\\";
    for (unsigned k = 0; !step.stop; k++) {
        pthread_mutex_lock(&step.mu);
        fprintf(stderr, "\r\033[K%c %s  %.1f s", frames[k % 4], step.name, hpk_now() - step.t0);
        fflush(stderr);
        pthread_mutex_unlock(&step.mu);
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

void hpk_step_begin(const char *fmt, ...)
{
    if (hpk_verbose < 1) return;
    hpk_step_end();
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(step.name, sizeof step.name, fmt, ap);
    va_end(ap);
    step.t0 = hpk_now();
    const char *term = getenv("TERM");
    if (hpk_verbose == 1 && isatty(2) && term && strcmp(term, "dumb") != 0) {
        step.stop = 0;
        step.running = pthread_create(&step.th, NULL, spin, NULL) == 0;
    } else {
        fprintf(stderr, "hpack: %s ...\n", step.name);
    }
}

void hpk_step_update(const char *fmt, ...)
{
    if (hpk_verbose < 1 || !step.name[0]) return;
    pthread_mutex_lock(&step.mu);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(step.name, sizeof step.name, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&step.mu);
    if (!step.running) fprintf(stderr, "hpack: %s ...\n", step.name);
}

static void step_stop(void)
{
    if (step.running) {
        step.stop = 1;
        pthread_join(step.th, NULL);
        step.running = 0;
        fprintf(stderr, "\r\033[K");
    }
}

void hpk_step_end(void)
{
    if (!step.name[0]) return;
    step_stop();
    if (hpk_verbose >= 1) fprintf(stderr, "hpack: %s: done in %.1f s\n", step.name, hpk_now() - step.t0);
    step.name[0] = 0;
}

void hpk_step_abort(void)
{
    if (!step.name[0]) return;
    step_stop();
    step.name[0] = 0;
}
