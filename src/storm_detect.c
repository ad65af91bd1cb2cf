/* storm_detect.c: storms detected, never folded; see storm_detect.h. */
#include "storm_detect.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct key_state {
    int64_t *t;              /* ring of the last threshold+1 creation times */
    size_t   cap, n, head;
    int64_t  flagged_until;  /* a storm was reported; again only after this */
} key_state;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static strmap table;
static bool table_init;

static void key_free(void *v)
{
    key_state *k = v;
    free(k->t);
    free(k);
}

bool storm_detect_note(const char *name, const char *namespace, int64_t now_ms, int threshold, int64_t window_ms)
{
    if (threshold < 1) return false;
    size_t nl = strlen(name), sl = strlen(namespace);
    char *key = xmalloc(nl + sl + 2);
    memcpy(key, name, nl);
    key[nl] = '\x1f';   /* neither a label value nor a namespace holds it */
    memcpy(key + nl + 1, namespace, sl + 1);
    pthread_mutex_lock(&mu);
    if (!table_init) {
        strmap_init(&table);
        table_init = true;
    }
    key_state *k = strmap_get(&table, key);
    if (!k || k->cap != (size_t)threshold + 1) {
        if (k) key_free(strmap_del(&table, key));
        k = xcalloc(1, sizeof *k);
        k->cap = (size_t)threshold + 1;
        k->t = xcalloc(k->cap, sizeof *k->t);
        strmap_put(&table, key, k);
    }
    k->t[k->head] = now_ms;
    k->head = (k->head + 1) % k->cap;
    if (k->n < k->cap) k->n++;
    /* full ring: its oldest entry is the one head points at now */
    bool storm = k->n == k->cap && now_ms - k->t[k->head] <= window_ms && now_ms >= k->flagged_until;
    if (storm) k->flagged_until = now_ms + window_ms;
    pthread_mutex_unlock(&mu);
    free(key);
    return storm;
}

void storm_detect_clear(void)
{
    pthread_mutex_lock(&mu);
    if (table_init) strmap_free(&table, key_free);
    table_init = false;
    pthread_mutex_unlock(&mu);
}
