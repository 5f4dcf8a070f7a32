/*
 * ahead.c - entries decoded one thread ahead of their writer. `hpack
 * extract -o FILE.tar` wrote each file's content into the archive as it
 * decoded it, on one thread: the kernel copying into the output's page
 * cache and the decoding took turns (docs/results.md). Here a second thread
 * decodes and hashes the regular files in table order into a small ring of
 * buffers, reused from piece to piece, while the caller writes the pieces
 * before them; the caller reads them back in the same order.
 */
#define _GNU_SOURCE
#include "hpk_ahead.h"

#include "../layout/hpk_cpus.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Pieces waiting: a zstd frame each (2 MiB, 8 MiB for zstd8m), 1 MiB of
 * another codec, a zstdref entry (handed over whole) cut into pieces of at
 * most PIECE: at most 4 x 8 MiB held. */
enum { SLOTS = 4 };
#define PIECE ((size_t)8 << 20)

struct slot {
    const struct hpk_entry *e;
    uint8_t *buf;
    size_t len, cap;
    int end; /* the entry's last: rc is its decode's result */
    int rc;
};

struct hpk_ahead {
    const struct hpk_artifact *a;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct slot s[SLOTS];
    size_t head, count; /* s[head] the oldest of `count` filled slots */
    int taken;          /* the caller reads s[head] (released at its next call) */
    int stop;           /* the caller is done: the thread stops where it is */
    int done;           /* the thread has filled its last slot */
};

/* The next free slot, once there is one; NULL when told to stop. Under mu.
 * The caller never reads a slot beyond head + count, so the thread fills
 * this one with mu released. */
static struct slot *free_slot(struct hpk_ahead *h)
{
    while (!h->stop && h->count == SLOTS) pthread_cond_wait(&h->cv, &h->mu);
    return h->stop ? NULL : &h->s[(h->head + h->count) % SLOTS];
}

static void publish(struct hpk_ahead *h)
{
    pthread_mutex_lock(&h->mu);
    h->count++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

struct filler {
    struct hpk_ahead *h;
    const struct hpk_entry *e;
    int nomem;
};

static int fill_sink(void *ctx, const uint8_t *buf, size_t len)
{
    struct filler *f = ctx;
    for (size_t n; len; buf += n, len -= n) {
        n = len < PIECE ? len : PIECE;
        pthread_mutex_lock(&f->h->mu);
        struct slot *s = free_slot(f->h);
        pthread_mutex_unlock(&f->h->mu);
        if (!s) return -1;
        if (s->cap < n) {
            uint8_t *nb = realloc(s->buf, n);
            if (!nb) {
                f->nomem = 1;
                return -1;
            }
            s->buf = nb;
            s->cap = n;
        }
        memcpy(s->buf, buf, n);
        s->e = f->e;
        s->len = n;
        s->end = 0;
        publish(f->h);
    }
    return 0;
}

static void *decoder(void *arg)
{
    struct hpk_ahead *h = arg;
    for (uint32_t i = 0; i < h->a->p.count; i++) {
        const struct hpk_entry *e = &h->a->p.entries[i];
        if (!S_ISREG(e->mode)) continue;
        struct filler f = {h, e, 0};
        int rc = hpk_entry_decode(h->a, e, fill_sink, &f);
        if (f.nomem) rc = HPK_E_NOMEM;
        pthread_mutex_lock(&h->mu);
        struct slot *s = free_slot(h);
        pthread_mutex_unlock(&h->mu);
        if (!s) break;
        s->e = e;
        s->len = 0;
        s->end = 1;
        s->rc = rc;
        publish(h);
        if (rc != HPK_OK) break; /* the caller stops at this entry */
    }
    pthread_mutex_lock(&h->mu);
    h->done = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

struct hpk_ahead *hpk_ahead_start(const struct hpk_artifact *a)
{
    if (hpk_cpus() < 2) return NULL;
    struct hpk_ahead *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->a = a;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    /* The signals that remove hpack's temporaries are handled on the main
     * thread (util.c), not on this one. */
    sigset_t all, old;
    sigemptyset(&all);
    sigaddset(&all, SIGINT);
    sigaddset(&all, SIGTERM);
    sigaddset(&all, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = pthread_create(&h->th, NULL, decoder, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    return h;
}

int hpk_ahead_next(struct hpk_ahead *h, const struct hpk_entry *e, const uint8_t **buf, size_t *len, int *rc)
{
    pthread_mutex_lock(&h->mu);
    if (h->taken) {
        h->head = (h->head + 1) % SLOTS;
        h->count--;
        h->taken = 0;
        pthread_cond_broadcast(&h->cv);
    }
    while (h->count == 0 && !h->done) pthread_cond_wait(&h->cv, &h->mu);
    struct slot *s = h->count ? &h->s[h->head] : NULL;
    h->taken = s != NULL;
    pthread_mutex_unlock(&h->mu);
    /* Nothing more, or another entry than the caller's: the caller did
     * not follow the table's order (a bug), or went on past a failure. */
    if (!s || s->e != e) {
        *rc = HPK_E_IO;
        return 0;
    }
    if (s->end) {
        *rc = s->rc;
        return 0;
    }
    *buf = s->buf;
    *len = s->len;
    return 1;
}

void hpk_ahead_stop(struct hpk_ahead *h)
{
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->th, NULL);
    for (int i = 0; i < SLOTS; i++) free(h->s[i].buf);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
