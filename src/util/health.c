/* health.c: see health.h. */
#include "util/health.h"

#include <stdio.h>

void health_init(health *h, const char *why)
{
    atomic_init(&h->ready, false);
    pthread_mutex_init(&h->mu, NULL);
    snprintf(h->why, sizeof h->why, "%s", why ? why : "not ready");
}

void health_destroy(health *h) { pthread_mutex_destroy(&h->mu); }

void health_set(health *h, bool ready, const char *why)
{
    /* the owner is the only writer: an unchanged "ready" needs no lock */
    if (ready && atomic_load_explicit(&h->ready, memory_order_relaxed)) return;
    pthread_mutex_lock(&h->mu);
    if (!ready) snprintf(h->why, sizeof h->why, "%s", why ? why : "not ready");
    atomic_store_explicit(&h->ready, ready, memory_order_release);
    pthread_mutex_unlock(&h->mu);
}

int health_get(health *h, char *why, size_t cap)
{
    if (atomic_load_explicit(&h->ready, memory_order_acquire)) return 1;
    pthread_mutex_lock(&h->mu);
    int ready = atomic_load_explicit(&h->ready, memory_order_relaxed);
    if (!ready && cap) snprintf(why, cap, "%s", h->why);
    pthread_mutex_unlock(&h->mu);
    return ready;
}
