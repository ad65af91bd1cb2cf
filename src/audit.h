/* audit.h: the audit trail (audit.file, --audit-log): one JSON line per signal request.
 * A worker formats the line (audit_format) and hands a copy to the writer thread
 * (audit_submit), which writes what has queued up in one write(2) and, when asked, confirms
 * each line back to the worker's loop. The trail never holds a token, a signature secret or
 * a body: nothing of them is a field of audit_record. */
#ifndef SGW_AUDIT_H
#define SGW_AUDIT_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"
#include "util/arena.h"

/* ---- the line ------------------------------------------------------------------------- */

typedef struct audit_signal {
    const char *fingerprint;
    const char *outcome;        /* created, duplicate, aggregated, ignored, resolved, stale, rejected,
                                 * failed, pending (pipeline.c's result table) */
    const char *rr;             /* "namespace/name" of its RemediationRequest, or NULL */
} audit_signal;

typedef struct audit_record {
    int64_t              time_ms;       /* wall clock, when the answer was decided */
    const char          *request_id;
    const char          *trace_id;      /* 32 hex */
    const auth_identity *caller;        /* NULL = not established */
    const char          *peer;          /* "ip:port" or "" */
    const char          *source;        /* "prometheus", ... */
    const char          *route;         /* the route pattern */
    int                  status;        /* the HTTP status answered */
    const char          *error;         /* the error code answered, or NULL */
    const audit_signal  *signals;       /* n of them (none when refused before parsing) */
    size_t               n;
} audit_record;

/* The record as one JSON line with its "\n", in a's memory; *len its length:
 * {"time":"<RFC 3339>","request_id":…,"trace_id":…,"caller":{"kind":…,"name":…},"peer":…,
 *  "source":…,"route":…,"status":201[,"error":…],"signals":[{"fingerprint":…,"outcome":…[,"rr":…]}]} */
const char *audit_format(const audit_record *r, arena *a, size_t *len);

/* ---- the writer ----------------------------------------------------------------------- */

typedef struct audit audit;

/* A line confirmed back to a worker: status 0 once write(2) took it whole, SGW_E_IO when the
 * write failed, SGW_E_UNAVAILABLE when it was dropped with the queue full. */
typedef void (*audit_cb)(int status, void *ctx);

/* A worker's side of the trail: caller-owned, embedded in the worker, one per loop. Lines
 * submitted during one loop iteration are gathered here and handed to the writer as one
 * batch before the loop would block (one lock per iteration, not per line); confirmations
 * come back through its async handle. Fields are private. */
typedef struct audit_port {
    audit                *a;
    uv_prepare_t          prep;      /* hands the iteration's batch over */
    uv_async_t            async;     /* the writer's confirmations arrive */
    char                 *buf;       /* the batch: whole lines */
    size_t                len, cap, nlines;
    struct audit_waiter  *waiters;   /* the batch's lines that want a confirmation */
    size_t                nwait, capwait;
    pthread_mutex_t       mu;        /* guards done, n, cap, closed: the writer's side */
    struct audit_waiter  *done;      /* confirmations not yet run on the loop */
    size_t                n, cap_done;
    bool                  closed;
} audit_port;

/* Opens path for appending ("-" = standard output) and starts the writer thread; at most
 * queue_max lines wait for it. NULL with the reason in err. */
audit *audit_open(const char *path, size_t queue_max, char *err, size_t errlen);

/* Writes what is queued, stops the thread, closes the file. The ports must still be open
 * and flushed (audit_port_flush; the writer may confirm to them until it stops): close them
 * after this. */
void audit_free(audit *a);

/* Asks the writer to open the path again before its next write (SIGHUP, after logrotate
 * renamed the file). Any thread; returns at once. */
void audit_reopen(audit *a);

/* The port of a worker on loop, writing to a (borrowed; NULL: audit is off and nothing may be
 * submitted), and its closing (on that loop, after audit_free; confirmations not yet run are
 * dropped). Its handles do not keep the loop alive. */
void audit_port_init(audit_port *p, uv_loop_t *loop, audit *a);
void audit_port_close(audit_port *p);

/* Hands the port's batch to the writer now (the prepare handle does it once per loop
 * iteration; main calls it once the worker's loop has stopped). */
void audit_port_flush(audit_port *p);

/* Queues a copy of line (len bytes, whole lines, borrowed for the call) on port, for the
 * writer at the end of this loop iteration. Without cb nothing comes back. With cb,
 * cb(status, ctx) runs exactly once on port's loop, never before this returns, and the
 * writer is woken for it at once. 0, or SGW_E_UNAVAILABLE when queue_max lines already wait:
 * then the line is dropped, counted as a failure, and cb will not run. */
int audit_submit(audit_port *port, const char *line, size_t len, audit_cb cb, void *ctx);

#endif
