/* pipeline.h: one signal request, as a small state machine:
 *   authenticate → parse/normalise → decide (store) → persist (sink) → commit (store)
 *   → [IN_PROGRESS alerts: wait, decide again] → respond.
 * Every 2xx is sent only after the store recorded the decision and every RR it implies
 * exists; anything that could not be made durable answers 503 + Retry-After. */
#ifndef SGW_PIPELINE_H
#define SGW_PIPELINE_H
#include "gateway.h"
#include "http/server.h"

/* http handler for the signal routes; data is a route_ctx*. */
void pipeline_handle(http_request *req, void *data);

/* GET /healthz, /readyz, /metrics; data is the worker. */
void pipeline_healthz(http_request *req, void *data);
void pipeline_readyz(http_request *req, void *data);
void pipeline_metrics(http_request *req, void *data);

/* The worker's route tables: w->routes (signals, health, metrics) and w->mroutes (the
 * separate metrics listener: health and metrics only). main.c and the fuzz harness both
 * serve exactly these. */
void pipeline_routes(worker *w);

/* Storm RR updates: claims due windows and rewrites their RRs (worker 0's timer). */
void pipeline_flush_storms(worker *w);

/* HTTP observer: request metrics and access log. */
void pipeline_observe(const http_request *req, int status, double seconds, void *data);

#endif
