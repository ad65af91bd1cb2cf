/* decide_plan.h: which items of a decide batch go to Redis. An alert that several requests
 * of one loop iteration carry (the same fingerprint, and every occurrence the same: resolved
 * or not, firing time, name, namespace, resource, ref) is sent once, at its first occurrence,
 * with the number of its occurrences (decide.lua's repeats argument); decide_reply.c gives
 * each occurrence what it would have got sent apart. An alert whose occurrences differ is
 * sent as every one of them, each in its place. */
#ifndef SGW_STATE_DECIDE_PLAN_H
#define SGW_STATE_DECIDE_PLAN_H
#include <stddef.h>
#include <stdint.h>

#include "state/store.h"

typedef struct decide_plan {
    size_t    n_sent;   /* items sent (== the batch's when nothing repeats) */
    uint32_t *sent;     /* per batch item: the index, among those sent, of the one that stands for it */
    uint32_t *rank;     /* per batch item: which of its alert's occurrences it is, from 1 */
    uint32_t *mult;     /* per sent item: the occurrences it stands for */
    uint32_t *first;    /* per sent item: its batch index */
} decide_plan;

/* Plans a batch of n items (items[i]: the i-th in batch order). Returns false, with the
 * plan empty, when no alert repeats (then every item is sent, in order). */
bool decide_plan_make(decide_plan *pl, const store_item *const *items, size_t n);
void decide_plan_free(decide_plan *pl);

#endif
