/* client.h: asynchronous Kubernetes REST calls over libcurl's multi interface, driven by
 * the worker's libuv loop (no blocking call on the loop). One client per worker: its
 * connections are reused (HTTP/2 multiplexed when the server offers it). Client-side rate
 * limit: a token bucket (QPS, burst). Retries: 429 (honouring Retry-After), 500/502/503/504
 * and connection errors, with jittered exponential backoff, at most max_retries times and
 * never past the request's deadline.
 * Callbacks: a request's callback runs exactly once, on the client's loop, and never before
 * k8s_request returns (docs/conventions.md). */
#ifndef SGW_K8S_CLIENT_H
#define SGW_K8S_CLIENT_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "k8s/kubeconfig.h"

typedef struct k8s_client k8s_client;

typedef struct k8s_client_opts {
    double qps;                 /* 50 */
    int    burst;               /* 100 */
    int    timeout_ms;          /* per attempt, 10000 */
    int    max_retries;         /* 3 */
    int    backoff_ms;          /* first backoff, 100 */
    const char *user_agent;
} k8s_client_opts;

typedef struct k8s_response {
    int         status;         /* HTTP status, or 0 when no response (see error) */
    const char *body;           /* NUL-terminated, valid during the callback */
    size_t      len;
    int         attempts;
    const char *error;          /* transport error text when status == 0 */
} k8s_response;

typedef void (*k8s_cb)(const k8s_response *r, void *ctx);

/* cfg is copied. NULL with a message on error. */
k8s_client *k8s_client_new(uv_loop_t *loop, const k8s_config *cfg, const k8s_client_opts *o, char *err, size_t errlen);

/* Closes connections and cancels pending requests (their callbacks run with status 0). */
void k8s_client_free(k8s_client *c);

/* Starts a request; path begins with "/" (e.g. "/api/v1/namespaces/x"). body may be NULL.
 * deadline_ms (time_mono_ms) bounds waiting for the rate limiter and retries; 0 = none.
 * cb runs exactly once, on the loop, never before this returns. */
void k8s_request(k8s_client *c, const char *method, const char *path, const char *content_type,
                 const char *body, size_t len, int64_t deadline_ms, k8s_cb cb, void *ctx);

/* 1 if the last request reached the API server (any HTTP status), 0 if it failed to, with
 * the reason in why. Safe to call from any thread (util/health.h). */
int k8s_client_reachable(k8s_client *c, char *why, size_t cap);

#endif
