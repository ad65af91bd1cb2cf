/* sources.h: the signal sources, one row each: the route kind, the names it goes by in
 * logs and metrics, and its adapter. Adding a source is a row here, a route in routes.c
 * and an adapter under adapters/ (docs/sources.md). */
#ifndef SGW_SOURCES_H
#define SGW_SOURCES_H
#include <stddef.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "gateway.h"

typedef int (*source_parse_fn)(const char *body, size_t len, int64_t now_ms, const adapter_limits *lim, arena *a,
                               sig_signal **out, size_t *n, adapter_error *err);

/* A source that reads more than the body (content type, headers, its configuration). */
typedef int (*source_parse_req_fn)(adapter_input *in, const char *body, size_t len, int64_t now_ms,
                                   const adapter_limits *lim, arena *a, sig_signal **out, size_t *n,
                                   adapter_error *err);

/* A source that answers in its sender's shape (PagerDuty). code: the pipeline's answer (201,
 * 202, 503, or a rejection's 4xx); for 4xx and 503 err_code/err_message say why (the
 * adapter's message for a rejection; borrowed). sigs: the request's signals (none for a
 * rejection). Writes the body into w (jw_init'ed by the caller, arena-backed) and returns
 * the HTTP status to send. */
struct jsonw;
typedef int (*source_reply_fn)(int code, const sig_signal *sigs, size_t n, const char *err_code,
                               const char *err_message, struct jsonw *w);

/* A credential the body carries (PagerDuty's routing_key), as an Authorization header value
 * ("Bearer …", in a), or NULL when it has none. body: borrowed; max_depth: the JSON limit. */
typedef const char *(*source_credential_fn)(const char *body, size_t len, int max_depth, arena *a);

typedef struct source_def {
    route_kind      kind;
    const char     *name;          /* gateway_signals_total{source}, logs */
    const char     *source_type;   /* gateway_signals_received_total{source_type} (upstream's values) */
    source_parse_fn parse;
    bool            alerts;        /* an Alertmanager-style body: the kubernaut.ai target is chosen from labels */
    source_parse_req_fn parse_req; /* instead of parse (NULL): the request's adapter_input too */
    source_reply_fn reply;         /* the source's own reply body, or NULL: the project's */
    source_credential_fn credential;   /* auth.mode static, no Authorization header: the body's token, or NULL */
} source_def;

/* The row of kind (every route_kind has one). */
const source_def *source_get(route_kind kind);

#endif
