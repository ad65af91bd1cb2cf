/* health.h: a component's readiness and its reason, written by the thread that owns the
 * component (a worker's store or sink) and read from any thread (/readyz). The flag is an
 * atomic so that the owner's "still ready" calls on the hot path cost one load; the reason
 * is copied under a mutex, taken only when the state changes or is read. */
#ifndef SGW_HEALTH_H
#define SGW_HEALTH_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct health {
    atomic_bool     ready;
    pthread_mutex_t mu;
    char            why[256];   /* the reason it is not ready; guarded by mu */
} health;

/* Starts not ready, with reason why (copied). */
void health_init(health *h, const char *why);
void health_destroy(health *h);

/* Owner thread only. why (copied, may be NULL when ready) is the reason when not ready. */
void health_set(health *h, bool ready, const char *why);

/* Any thread: 1 if ready; 0 with the reason copied into why (cap bytes, NUL-terminated). */
int health_get(health *h, char *why, size_t cap);

#endif
