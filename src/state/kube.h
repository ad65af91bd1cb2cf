/* kube.h: the state store kept in the Kubernetes API (state.url kubernetes, kubernaut.ai
 * contract; docs/decisions/013-state-in-the-api.md). No Redis: what is active comes from
 * the process's RR index (state/rr_index.h, fed by a list+watch cache); the create itself is
 * the lock (every replica names a fingerprint's n-th RR alike); duplicates are counted in the
 * RR's status.deduplication through the /status subresource, several per write, and a
 * DUPLICATE verdict is given only once its count is written. See store.h for the contract.
 *
 * Verdicts it gives: CREATE (item->ref is "ns/name" to create, item->lease its sequence),
 * DUPLICATE (counted), IN_PROGRESS (this process is creating it, or the RR changed under
 * us: decide again), RESOLVED (nothing recorded: an RR's lifecycle is the orchestrator's).
 * Storm verdicts never: the contract has no storm fields. */
#ifndef SGW_STATE_KUBE_H
#define SGW_STATE_KUBE_H
#include <uv.h>

#include "k8s/client.h"
#include "state/rr_index.h"
#include "state/store.h"
#include "util/defer.h"

/* Is the process's RR index complete (the informer's first list done)? 1, or 0 with why. */
typedef int (*store_kube_synced_fn)(void *arg, char *why, size_t cap);

typedef struct store_kube_opts {
    const char *rr_namespace;        /* where the RRs are */
    int         status_interval_ms;  /* at most one status write per RR per interval in the process */
    int         timeout_ms;          /* one status write, conflicts included */
    store_kube_synced_fn synced;
    void       *synced_arg;
} store_kube_opts;

/* A handle for one worker loop (kc, ix, dq borrowed; they outlive it). */
store *store_kube_open(uv_loop_t *loop, k8s_client *kc, rr_index *ix, defer_queue *dq, const store_kube_opts *o);

#endif
