/* auth.h: who may send signals (spec section 7). Modes: off; static (a token file, for
 * embedded use); kubernetes (TokenReview + SubjectAccessReview, cached). The check is
 * asynchronous because the Kubernetes mode calls the API server. */
#ifndef SGW_AUTH_H
#define SGW_AUTH_H
#include <stddef.h>

#include "config.h"
#include "k8s/client.h"
#include "util/defer.h"
#include "util/err.h"

/* The answer of a check: a non-negative result, or SGW_E_UNAVAILABLE (util/err.h) when it
 * cannot be decided (the API server is down) → 503, failing closed. */
typedef enum {
    AUTH_ALLOW = 0,
    AUTH_UNAUTHENTICATED = 1,   /* no/invalid token → 401 */
    AUTH_FORBIDDEN = 2,         /* valid token, not allowed → 403 */
} auth_result;

typedef struct auth auth;
/* status: an auth_result, or SGW_E_UNAVAILABLE. */
typedef void (*auth_cb)(int status, void *ctx);

/* Builds the authenticator for c; NULL with a message on error (e.g. unreadable token file). */
auth *auth_new(const config *c, char *err, size_t errlen);
void  auth_free(auth *a);

/* authorization: the raw header value (may be NULL, borrowed for the call). kc: the
 * worker's Kubernetes client (kubernetes mode; else NULL). dq: the worker loop's queue.
 * Callbacks: cb runs exactly once, on the worker's loop, and never before this returns
 * (docs/conventions.md): an answer known at once (off, static, a cache hit) goes through dq. */
void auth_check(auth *a, k8s_client *kc, defer_queue *dq, const char *authorization, auth_cb cb, void *ctx);

/* The same decision when it needs no I/O (off, static, a cached review, no usable token):
 * AUTH_ALLOW, AUTH_UNAUTHENTICATED, AUTH_FORBIDDEN or SGW_E_UNAVAILABLE, returned; or
 * SGW_E_AGAIN when only auth_check can answer (a Kubernetes review to make). Like
 * uv_try_write: a caller that gets an answer goes on at once, while the request's bytes are
 * still in the CPU's cache, instead of waiting for the loop's check phase. */
int auth_try(auth *a, k8s_client *kc, const char *authorization);

/* mTLS identities (auth.client_cert_subjects): for a request that carries no bearer token
 * and came with a verified client certificate (subject: its RFC 2253 subject, borrowed).
 * AUTH_ALLOW when the subject is listed, AUTH_FORBIDDEN when it is not; SGW_E_AGAIN when
 * the subject decides nothing (no list configured, or no subject): go on with auth_try. */
int auth_try_client_subject(const auth *a, const char *subject);

/* Drops the process-wide review cache (tests, exit). */
void auth_cache_clear(void);

/* Number of tokens loaded (static mode), for the start-up log. */
size_t auth_token_count(const auth *a);

#endif
