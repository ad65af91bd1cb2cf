/* store.h: the state store seam (spec sections 4 and 5): dedup windows, creation leases,
 * resolutions, storm detection and storm windows. Implementations: memory.c (embedded,
 * one process) and redis.c (shared by replicas). A store handle belongs to one worker loop.
 *
 * The contract, for a whole webhook at once:
 *   decide()  ONE atomic step per batch (Redis: one script call) that classifies every
 *             alert and records what that classification implies (counts, leases, folds).
 *   commit()  after the sink ran: records created RR references, or releases the leases of
 *             creations that failed (so a retry can create them, with no duplicate).
 * Verdicts:
 *   CREATE        first sight; this request holds the creation lease → create RR, commit.
 *   STORM_CREATE  a storm window opened; this request creates the aggregated RR, commit.
 *   MEMBER        folded into the storm window this same batch opened (depends on its
 *                 STORM_CREATE); committed with it.
 *   DUPLICATE     counted (count, first/last seen, TTL refreshed); ref is the RR.
 *   AGGREGATED    folded into an existing storm RR; its count grew.
 *   IN_PROGRESS   another request holds the lease; nothing recorded: decide again shortly.
 *   RESOLVED      resolution recorded, dedup window closed.
 *   STALE         a firing alert older than a recorded resolution: ignored.
 * Callbacks: every operation's callback runs exactly once, on the handle's loop, and never
 * before the call that started it returns (docs/conventions.md); an implementation that
 * knows the answer at once defers it (util/defer.h). */
#ifndef SGW_STORE_H
#define SGW_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"
#include "util/err.h"

typedef enum {
    STORE_CREATE = 1,
    STORE_STORM_CREATE,
    STORE_MEMBER,
    STORE_DUPLICATE,
    STORE_AGGREGATED,
    STORE_IN_PROGRESS,
    STORE_RESOLVED,
    STORE_STALE,
} store_verdict;

/* A store's callbacks get 0 or one of these (util/err.h's codes under the seam's names). */
enum {
    STORE_OK = SGW_OK,
    STORE_E_UNAVAILABLE = SGW_E_UNAVAILABLE,   /* backend down / timed out → 503 */
    STORE_E_PROTOCOL = SGW_E_PROTOCOL,         /* unexpected reply → 503, logged */
};

typedef struct store_params {   /* from the current config, per call (SIGHUP-safe) */
    int64_t dedup_ttl_ms;
    int64_t lease_ms;
    bool    storm_enabled;
    int     rate_threshold;
    int64_t rate_window_ms;
    int     pattern_threshold;
    int64_t pattern_window_ms;
    int64_t storm_window_ms;
    int64_t storm_flag_ttl_ms;
    int64_t storm_update_interval_ms;
    int     storm_max_resources;
} store_params;

typedef struct store_item {
    /* in */
    const char   *fingerprint;    /* 64 hex */
    const char   *name;           /* signal name */
    const char   *namespace;      /* "" = cluster-scoped */
    const char   *resource_id;    /* "ns:Kind:name" */
    bool          resolved;
    int64_t       firing_ms;      /* 0 = unknown */
    const char   *ref;            /* in: intended "ns/name" for CREATE; out: the RR's ref */
    /* out */
    store_verdict verdict;
    int64_t       count;          /* occurrences (dedup) or alerts in the storm window */
    int64_t       first_seen_ms, last_seen_ms;
    uint64_t      lease;          /* CREATE / STORM_CREATE / MEMBER: for commit */
    int64_t       sequence;       /* CREATE by a store that names RRs (kube.c): the
                                   * fingerprint's RR number; 0 = the store does not */
    /* storm (STORM_CREATE, MEMBER, AGGREGATED) */
    const char   *storm_type;     /* "rate" | "pattern" */
    char          storm_hash[65]; /* SHA-256 hex of name, namespace and window start */
    int64_t       storm_start_ms;
    const char  **storm_resources;   /* STORM_CREATE: snapshot after the batch (arena) */
    size_t        n_storm_resources;
} store_item;

typedef struct store_commit {
    const char *fingerprint;
    const char *name, *namespace;   /* storm key, for STORM_CREATE */
    store_verdict verdict;          /* CREATE, STORM_CREATE or MEMBER */
    uint64_t    lease;
    bool        ok;                 /* RR exists now (created or AlreadyExists) */
    bool        exists;             /* AlreadyExists, with a store that counts it (counts_existing) */
    const char *ref;                /* final "ns/name" (after namespace fallback) */
} store_commit;

/* A storm RR whose count changed since it was last written; claimed for one writer. */
typedef struct store_flush {
    const char  *name, *namespace;
    const char  *ref;
    char         storm_hash[65];
    int64_t      count;
    int64_t      last_seen_ms;
    const char  *storm_type;
    const char **resources;
    size_t       n_resources;
    uint64_t     lease;
} store_flush;

typedef struct store store;
typedef void (*store_cb)(int status, void *ctx);

typedef struct store_ops {
    const char *name;
    /* An RR that already exists (the sink's AlreadyExists) is a duplicate this store must
     * count: the pipeline commits it with exists set and decides the signal again. */
    bool counts_existing;
    void (*decide)(store *s, const store_params *p, store_item *items, size_t n, int64_t now_ms,
                   arena *a, store_cb cb, void *ctx);
    void (*commit)(store *s, const store_params *p, const store_commit *items, size_t n,
                   int64_t now_ms, store_cb cb, void *ctx);
    /* Claims up to max storm windows due for an RR update; *out in arena a. */
    void (*claim_flush)(store *s, const store_params *p, int64_t now_ms, size_t max, arena *a,
                        store_flush **out, size_t *n, store_cb cb, void *ctx);
    void (*flushed)(store *s, const store_params *p, const store_flush *f, bool ok, int64_t now_ms,
                    store_cb cb, void *ctx);
    /* 1 ready; 0 not ready with a reason. */
    int (*ready)(store *s, char *why, size_t cap);
    void (*close)(store *s);
} store_ops;

struct store {
    const store_ops *ops;
};

#endif
