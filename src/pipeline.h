/* pipeline.h: one signal request, as a small state machine:
 *   authenticate → parse/normalise → decide (store) → persist (sink) → commit (store)
 *   → [IN_PROGRESS alerts: wait, decide again] → respond.
 * Every 2xx is sent only after the store recorded the decision and every RR it implies
 * exists; anything that could not be made durable answers 503 + Retry-After. */
#ifndef SGW_PIPELINE_H
#define SGW_PIPELINE_H
#include "adapters/adapter.h"
#include "gateway.h"
#include "http/server.h"

/* http handler for the signal routes; data is a route_ctx* (borrowed, the worker's). */
void pipeline_handle(http_request *req, void *data);

/* The audit line of a request to a signal route (req->route_data a route_ctx*) that the
 * server answered itself, before the handler ran (415, 413, a timeout, a broken body), with
 * no caller and no signal; nothing when audit is off. Never waits: no decision was made.
 * trace_id receives the request's trace id (its traceparent's, else a new one) for the log. */
void pipeline_audit_unhandled(const http_request *req, int status, char trace_id[33]);

/* The answer to a body an adapter rejected, from one table: its HTTP status (400, or 413
 * for too many alerts) and the error code of the JSON body ("invalid_json", ...). */
int         pipeline_reject_status(adapter_status st);
const char *pipeline_reject_code(adapter_status st);

#endif
