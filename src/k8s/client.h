/* client.h: asynchronous Kubernetes REST calls over libcurl's multi interface, driven by
 * the worker's libuv loop (no blocking call on the loop). One client per worker: its
 * connections are reused (HTTP/2 multiplexed when the server offers it). Client-side rate
 * limit: a token bucket (QPS, burst). Retries: 429 (honouring Retry-After), 500/502/503/504
 * and connection errors, with jittered exponential backoff, at most max_retries times and
 * never past the request's deadline.
 * Callbacks: a request's callback runs exactly once, on the client's loop, and never before
 * k8s_request returns (docs/conventions.md).
 * Watches (k8s_watch_start): one long GET whose body is handed over line by line; no retry,
 * no per-attempt timeout, an optional idle timeout; the owner decides what comes next. */
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

/* Closes connections and cancels pending requests (their callbacks run now, with status 0)
 * and watches (on_end runs now, with K8S_WATCH_E_CANCELLED). */
void k8s_client_free(k8s_client *c);

/* Starts a request; path begins with "/" (e.g. "/api/v1/namespaces/x"). body may be NULL.
 * When the calling thread has a current trace (util/trace.h trace_current), the request
 * carries it as a W3C traceparent header, with the trace's span id as parent.
 * deadline_ms (time_mono_ms) bounds waiting for the rate limiter and retries; 0 = none.
 * cb runs exactly once, on the loop, never before this returns. */
void k8s_request(k8s_client *c, const char *method, const char *path, const char *content_type,
                 const char *body, size_t len, int64_t deadline_ms, k8s_cb cb, void *ctx);

/* ---- watches ---------------------------------------------------------------------------- */

typedef struct k8s_watch k8s_watch;

/* How a watch ended (k8s_watch_end.result): 0 when the server closed a 2xx stream (the
 * watch's timeoutSeconds, usually), else the reason, one a kind of its own so that the owner
 * can choose between watching again, listing again, and backing off. */
enum {
    K8S_WATCH_EOF = 0,
    K8S_WATCH_E_STATUS = -1,     /* a non-2xx answer: status and body (its Status object) */
    K8S_WATCH_E_TRANSPORT = -2,  /* no connection, or it broke (error says how) */
    K8S_WATCH_E_IDLE = -3,       /* no byte for idle_timeout_ms: a hung watch */
    K8S_WATCH_E_TOO_LONG = -4,   /* a line longer than max_line */
    K8S_WATCH_E_CANCELLED = -5,  /* k8s_watch_cancel, or k8s_client_free */
};

typedef struct k8s_watch_end {
    int         result;         /* K8S_WATCH_EOF or a K8S_WATCH_E_* code */
    int         status;         /* HTTP status, 0 when none came */
    const char *body;           /* a non-2xx answer's body (its first 64 KiB), else ""; NUL-terminated */
    size_t      len;
    const char *error;          /* one sentence for anything but K8S_WATCH_EOF, else NULL */
} k8s_watch_end;

typedef struct k8s_watch_opts {
    int    idle_timeout_ms;     /* no byte (headers included) for this long ends the watch with
                                   K8S_WATCH_E_IDLE; 0 = never */
    size_t max_line;            /* longest line kept; 0 = 4 MiB */
} k8s_watch_opts;

/* One line of a 2xx body, without its "\n" (and a "\r" before it); empty lines are skipped.
 * line is borrowed, valid during the call, and not NUL-terminated. The callback may call
 * k8s_watch_cancel (no line follows), start requests and watches; not k8s_client_free. */
typedef void (*k8s_watch_line_cb)(const char *line, size_t len, void *ctx);
/* Runs exactly once, last; e is borrowed for the call. The watch handle is gone when it
 * returns. The callback may start requests and watches; not k8s_client_free. */
typedef void (*k8s_watch_end_cb)(const k8s_watch_end *e, void *ctx);

/* Starts a GET on path (with its query: "?watch=true&resourceVersion=..."; copied) whose 2xx
 * body is delivered line by line to on_line, then on_end; a non-2xx answer is not split
 * into lines but handed whole (64 KiB at most) to on_end. It takes one token of the rate
 * limiter when it starts, is never retried, and has no overall timeout: only the connect
 * timeout and o->idle_timeout_ms (o may be NULL: defaults). A line that outgrows max_line
 * ends the watch (K8S_WATCH_E_TOO_LONG). Neither callback runs before this returns; both
 * run on the client's loop. Returns the handle for k8s_watch_cancel, owned by the client and
 * valid until on_end returns. */
k8s_watch *k8s_watch_start(k8s_client *c, const char *path, const k8s_watch_opts *o, k8s_watch_line_cb on_line,
                           k8s_watch_end_cb on_end, void *ctx);

/* Stops w: no line is delivered after this returns, and on_end runs once, later, from the
 * loop, with K8S_WATCH_E_CANCELLED (never inside this call). A no-op once w's end is on its
 * way. Callable from on_line; not after on_end returned. */
void k8s_watch_cancel(k8s_watch *w);

/* The loop c runs on (for the timers of code built on watches). */
uv_loop_t *k8s_client_loop(k8s_client *c);

/* 1 if the last request reached the API server (any HTTP status), 0 if it failed to, with
 * the reason in why. Safe to call from any thread (util/health.h). */
int k8s_client_reachable(k8s_client *c, char *why, size_t cap);

#endif
