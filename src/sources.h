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

typedef struct source_def {
    route_kind      kind;
    const char     *name;          /* gateway_signals_total{source}, logs */
    const char     *source_type;   /* gateway_signals_received_total{source_type} (upstream's values) */
    source_parse_fn parse;
    bool            alerts;        /* an Alertmanager-style body: the kubernaut.ai target is chosen from labels */
    source_parse_req_fn parse_req; /* instead of parse (NULL): the request's adapter_input too */
} source_def;

/* The row of kind (every route_kind has one). */
const source_def *source_get(route_kind kind);

#endif
