/* rr_index.h: what the process knows of the kubernaut.ai RemediationRequests, by
 * fingerprint: fed by the list+watch cache (k8s/informer) and by the answers to our own
 * writes, read by the kubernetes store's decide. One per process, shared by the workers
 * behind one mutex (the memory store's pattern): every call is short and never blocks on I/O.
 *
 * "Active" follows upstream's lifecycle dedup (pkg/gateway/processing/phase_checker.go): an
 * RR whose status.overallPhase is not terminal (Completed, Failed, TimedOut, Skipped,
 * Cancelled), a terminal one whose completionStatus.outcome is ManualReviewRequired, or
 * the one with the latest routingStatus.nextAllowedExecution still in the future. */
#ifndef SGW_RR_INDEX_H
#define SGW_RR_INDEX_H
#include <stdbool.h>
#include <stdint.h>

struct cJSON;
typedef struct rr_index rr_index;

rr_index *rr_index_new(void);
void      rr_index_free(rr_index *x);

/* An RR object as listed, watched (ADDED, MODIFIED) or answered to one of our writes. A
 * version older than the one held is ignored (resourceVersions compared as the integers
 * etcd makes them; a non-numeric one is taken as newer). Objects without a 64-hex
 * spec.signalFingerprint are ignored. */
void rr_index_put(rr_index *x, const struct cJSON *obj);
/* DELETED, or a 404 on our own read or write. */
void rr_index_del(rr_index *x, const char *fingerprint, const char *name);

/* A relist: every RR not put between begin and end is dropped (deleted meanwhile), but
 * those learnt of after the list's snapshot (our own creates, versions later than list_rv):
 * the watch from list_rv tells of them. list_rv borrowed, "" if unknown. */
void rr_index_relist_begin(rr_index *x);
void rr_index_relist_end(rr_index *x, const char *list_rv);

/* We created name (sequence seq) or found it existing (AlreadyExists, seq unknown: -1):
 * active until the watch or a read says more; no resourceVersion yet. */
void rr_index_note_exists(rr_index *x, const char *fingerprint, const char *name, int64_t seq);

typedef struct rr_lookup {
    bool    active;          /* an RR that makes this signal a duplicate */
    bool    in_progress;     /* not active, and a request of this process is creating it */
    char    name[64];        /* active: its name */
    char    rv[32];          /* active: its resourceVersion, "" = not known yet */
    int64_t count;           /* active: status.deduplication.occurrenceCount (absent: 1) */
    int64_t first_seen_ms;   /* active: firstSeenAt (absent: creationTimestamp) */
    int64_t next_seq;        /* not active: the sequence number of the RR to create */
} rr_lookup;

/* claim_ms > 0: when nothing is active, claim the creation for claim_ms (one creator per
 * process; across processes the create's name is the lock); a live claim of another
 * caller gives in_progress. */
void rr_index_lookup(rr_index *x, const char *fingerprint, int64_t now_ms, int64_t claim_ms, rr_lookup *out);
/* Ends a claim (the create answered, whatever it said). */
void rr_index_release(rr_index *x, const char *fingerprint);

/* One status write per RR in the process at a time, and at most one per interval_ms:
 * true if the caller may write name's status now (it must rr_index_write_end after); false
 * with *wait_ms to try again after, while another worker writes or the interval since the
 * last write has not passed. Two workers of a process writing one RR would only make each
 * other's resourceVersion stale; the interval is what gathers duplicates into one write. */
bool rr_index_write_begin(rr_index *x, const char *fingerprint, const char *name, int64_t now_mono_ms,
                          int64_t interval_ms, int64_t *wait_ms);
void rr_index_write_end(rr_index *x, const char *fingerprint, const char *name, int64_t now_mono_ms);

/* Number of RRs held (for metrics and tests). */
long rr_index_size(rr_index *x);

#endif
