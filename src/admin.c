/* admin.c: /healthz, /readyz, /metrics and the request observer; see admin.h.
 * /readyz runs on any worker's loop and reads every worker's store and sink readiness:
 * their ready ops read only what the owners publish for other threads (util/health.h,
 * atomics). */
#include "admin.h"
#include "metrics.h"
#include "pipeline.h"
#include "state/rr_index.h"
#include "util/fmt.h"
#include "util/log.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void admin_healthz(http_request *req, void *data)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    http_respond(req, 200, NULL, ok, sizeof ok - 1);
}

void admin_readyz(http_request *req, void *data)
{
    worker *w = data;
    char why[256] = "";
    const char *reason = NULL;
    /* ready only when every worker's store and sink are: a load balancer must not send
     * requests to a replica one of whose loops would answer 503 */
    if (atomic_load(&w->gw->draining)) reason = "shutting down";
    for (int i = 0; !reason && i < w->gw->n_workers; i++) {
        worker *o = &w->gw->workers[i];
        if (!o->st->ops->ready(o->st, why, sizeof why)) reason = why;
        else if (!o->sk->ops->ready(o->sk, why, sizeof why)) reason = why;
    }
    if (reason) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "not ready");
        cJSON_AddStringToObject(o, "reason", reason);
        char *body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        http_respond(req, 503, &(http_headers){.retry_after = true, .retry_after_s = 1}, body, strlen(body));
        cJSON_free(body);
        return;
    }
    char body[160];
    int n = snprintf(body, sizeof body, "{\"status\":\"ready\",\"state\":\"%s\",\"sink\":\"%s\"}", w->st->ops->name,
                     w->sk->ops->name);
    http_respond(req, 200, NULL, body, (size_t)n);
}

void admin_metrics(http_request *req, void *data)
{
    worker *w = data;
    metrics_set("gateway_http_requests_in_flight", "", atomic_load(&w->gw->inflight));
    metrics_set("gateway_signals_in_flight", "", atomic_load(&w->gw->inflight_alerts));
    metrics_set("gateway_http_connections", "", http_total_connections());
    if (w->gw->rrx) metrics_set("gateway_rr_cache_objects", "", (double)rr_index_size(w->gw->rrx));
    if (w->gw->tls) {
        for (int i = 0; http_tls_error_reasons[i]; i++) {
            uint64_t n = http_tls_handshake_errors(i);
            char labels[64];
            if (!n) continue;   /* a reason shows once it happened */
            snprintf(labels, sizeof labels, "reason=\"%s\"", http_tls_error_reasons[i]);
            metrics_set("gateway_tls_handshake_errors_total", labels, (double)n);
        }
        metrics_set("gateway_tls_certificate_expiry_timestamp_seconds", "", (double)http_tls_not_after(w->gw->tls));
    }
    size_t len;
    char *text = metrics_render(&len);
    http_respond_typed(req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text, len);
    free(text);
}

void admin_observe(const http_request *req, int status, double seconds, void *data)
{
    /* upstream Kubernaut's label names (endpoint, method, status); the endpoint is the route
     * pattern, so a scan of random paths makes one series, "unmatched" */
    char route[128], method[32], labels[240];
    metrics_label_escape(req->route ? req->route : "unmatched", route, sizeof route);
    metrics_label_escape(req->method ? req->method : "", method, sizeof method);
    char num[24];
    fmt_i64(num, status);
    fmt_cat(labels, sizeof labels, "endpoint=\"", route, "\",method=\"", method, "\",status=\"", num, "\"",
            (char *)NULL);
    /* a request to a signal route the server answered itself still leaves its audit line */
    worker *w = data;
    const route_ctx *rc = req->route_data;
    char trace_id[33];
    snprintf(trace_id, sizeof trace_id, "%s", req->trace_id);
    if (rc && rc >= &w->rc[0] && rc < &w->rc[ROUTE_KIND_COUNT] && !req->audited)
        pipeline_audit_unhandled(req, status, trace_id);
    metrics_add("gateway_http_requests_total", labels, 1);
    metrics_observe("gateway_http_request_duration_seconds", labels, seconds);
    if (status >= 400) {
        log_line l;
        if (log_begin(&l, status >= 500 ? LOG_WARN : LOG_INFO, "request answered with an error")) {
            log_str(&l, "request_id", req->request_id);
            if (trace_id[0]) log_str(&l, "trace_id", trace_id);
            log_str(&l, "method", req->method ? req->method : "");
            log_str(&l, "path", req->path ? req->path : "");
            log_int(&l, "status", status);
            log_dbl(&l, "duration_ms", seconds * 1000);
            log_end(&l);
        }
    }
}
