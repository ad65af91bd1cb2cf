/* trace.h: W3C Trace Context (https://www.w3.org/TR/trace-context/): a request's traceparent
 * read or made, and written again with this gateway's span id for the calls it makes on the
 * request's behalf. No I/O and no HTTP: the server hands over the header's value. */
#ifndef SGW_TRACE_H
#define SGW_TRACE_H
#include <stdbool.h>
#include <stdint.h>

#define TRACE_HEADER_LEN 55   /* "00-" 32 hex "-" 16 hex "-" 2 hex */

typedef struct trace_ctx {
    char    trace_id[33];     /* 32 lowercase hex digits, never all zero */
    char    parent_id[17];    /* the caller's span id; "" when the trace was made here */
    char    span_id[17];      /* this gateway's span for the request */
    uint8_t flags;            /* trace-flags as received (bit 0: sampled); 0 for a new trace */
} trace_ctx;

/* Reads a traceparent header value (borrowed; NULL = absent) into t: 0, or SGW_E_INVALID
 * (util/err.h) when it is not one. Version 00 must be exactly 55 characters; a later
 * version (not ff) is read by its first four fields, and whatever follows them must start
 * with '-'. Hex must be lowercase; an all-zero trace id or parent id is invalid. Leading and
 * trailing spaces and tabs (HTTP's optional white space) are ignored. t->span_id is left
 * "" for trace_begin. */
int trace_parse(const char *header, trace_ctx *t);

/* The request's trace: header's when it parses, else a new random trace id; in both cases
 * a new random span id of our own. */
void trace_begin(const char *header, trace_ctx *t);

/* "00-<trace_id>-<span_id>-<flags>", NUL-terminated: the header for the calls this gateway
 * makes for the request (its span becomes their parent). */
void trace_format(const trace_ctx *t, char out[TRACE_HEADER_LEN + 1]);

/* The trace the calling thread is doing work for (a worker loop runs one callback at a
 * time), or NULL: set around a call that may reach the Kubernetes API, which copies it into
 * the request it starts (k8s/client.c), and around code that logs for one request: every
 * log line written meanwhile carries its trace_id (util/log.h). t is borrowed until it is
 * replaced: whoever frees t must have put the previous one back (or NULL) first, or at
 * least before anything logs again. trace_swap sets t and returns the one it replaces, for
 * putting it back. */
void             trace_set_current(const trace_ctx *t);
const trace_ctx *trace_current(void);
const trace_ctx *trace_swap(const trace_ctx *t);

#endif
