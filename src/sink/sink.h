/* sink.h: where RemediationRequests go. Implementations: dir.c (one manifest per file,
 * embedded mode) and kubernetes.c (the API server). A sink handle belongs to one worker loop.
 * Callbacks: every operation's callback runs exactly once, on that loop, and never before
 * the call that started it returns (docs/conventions.md). */
#ifndef SGW_SINK_H
#define SGW_SINK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sink/rr.h"
#include "util/err.h"

/* A callback's status: an outcome (> 0) or a negative code of util/err.h, named here for
 * what it means to a sink's caller. Callers compare with these names or test < 0. */
enum {
    SINK_CREATED = 1,            /* the RR was created */
    SINK_EXISTS = 2,             /* AlreadyExists: an RR of that name is there: a duplicate */
    SINK_UPDATED = 3,
    SINK_E_UNAVAILABLE = SGW_E_UNAVAILABLE,   /* try again later → 503 */
    SINK_E_INVALID = SGW_E_INVALID,           /* the API rejected the object (422): logged, → 503 (our bug) */
    SINK_E_NOTFOUND = SGW_E_NOTFOUND,         /* update of an RR that is gone */
};

typedef struct sink sink;
/* ref: "namespace/name" of the RR (valid during the callback). */
typedef void (*sink_cb)(int status, const char *ref, void *ctx);

typedef struct sink_storm_update {
    const char  *ref;            /* "namespace/name" */
    int64_t      count;
    const char **resources;
    size_t       n_resources;
    int64_t      last_seen_ms;
} sink_storm_update;

/* kubernaut.ai: a duplicate's count, written into the RR's status.deduplication. */
typedef struct sink_dedup_update {
    const char *ref;             /* "namespace/name" */
    int64_t     count;
    int64_t     first_seen_ms, last_seen_ms;
} sink_dedup_update;

typedef struct sink_ops {
    const char *name;
    /* Creates the RR described by spec (borrowed until the callback). A sink that
     * classifies on its own (Kubernetes: namespace labels, ConfigMap) writes the final
     * environment and priority into spec->environment / spec->priority before the
     * callback; those strings are valid until the callback returns. */
    void (*create)(sink *s, rr_spec *spec, sink_cb cb, void *ctx);
    /* kubernaut.ai with a store that does not write status itself (embedded mode): writes
     * status.deduplication; NULL when the store does (state.url kubernetes). Several
     * updates of one RR may be written as one: each callback runs once a count at least
     * as high as its own is durable. */
    void (*update_dedup)(sink *s, const sink_dedup_update *u, sink_cb cb, void *ctx);
    /* Rewrites a storm RR's count, affected resources and lastSeen. */
    void (*update_storm)(sink *s, const sink_storm_update *u, sink_cb cb, void *ctx);
    int  (*ready)(sink *s, char *why, size_t cap);   /* 1 ready, 0 not (why) */
    void (*close)(sink *s);
} sink_ops;

struct sink {
    const sink_ops *ops;
};

#endif
