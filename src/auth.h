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

/* Who the caller is, as far as the check established it: what the audit trail records
 * (src/audit.h). Never a token or a digest of one. */
typedef enum {
    AUTH_ID_NONE = 0,          /* not established: refused before or by the check */
    AUTH_ID_ANONYMOUS,         /* auth.mode off */
    AUTH_ID_STATIC_TOKEN,      /* name: the token's name in auth.static_file */
    AUTH_ID_KUBERNETES_USER,   /* name: the TokenReview's status.user.username */
    AUTH_ID_CERTIFICATE,       /* name: the client certificate's subject (TLS client auth) */
} auth_id_kind;

#define AUTH_ID_NAME_MAX 256

typedef struct auth_identity {
    auth_id_kind kind;
    char         name[AUTH_ID_NAME_MAX];   /* "" for NONE and ANONYMOUS; cut to fit */
} auth_identity;

/* "none", "anonymous", "static_token", "kubernetes_user", "certificate" */
const char *auth_id_kind_str(auth_id_kind k);

typedef struct auth auth;
/* status: an auth_result, or SGW_E_UNAVAILABLE. */
typedef void (*auth_cb)(int status, void *ctx);

/* Builds the authenticator for c; NULL with a message on error (e.g. unreadable token file). */
auth *auth_new(const config *c, char *err, size_t errlen);
void  auth_free(auth *a);

/* authorization: the raw header value (may be NULL, borrowed for the call). kc: the
 * worker's Kubernetes client (kubernetes mode; else NULL). dq: the worker loop's queue.
 * id (caller-owned, borrowed until cb runs) receives who the caller is before cb runs: the
 * user of a Kubernetes token also when the SubjectAccessReview forbids it; NONE when the
 * token is unknown or the API cannot say. The TokenReview and SubjectAccessReview carry the
 * calling thread's trace_current() (util/trace.h), as it was when this was called.
 * Callbacks: cb runs exactly once, on the worker's loop, and never before this returns
 * (docs/conventions.md): an answer known at once (off, static, a cache hit) goes through dq. */
void auth_check(auth *a, k8s_client *kc, defer_queue *dq, const char *authorization, auth_identity *id,
                auth_cb cb, void *ctx);

/* The same decision when it needs no I/O (off, static, a cached review, no usable token):
 * AUTH_ALLOW, AUTH_UNAUTHENTICATED, AUTH_FORBIDDEN or SGW_E_UNAVAILABLE, returned; or
 * SGW_E_AGAIN when only auth_check can answer (a Kubernetes review to make). Like
 * uv_try_write: a caller that gets an answer goes on at once, while the request's bytes are
 * still in the CPU's cache, instead of waiting for the loop's check phase. id as for
 * auth_check, filled when an answer is returned. */
int auth_try(auth *a, k8s_client *kc, const char *authorization, auth_identity *id);

/* mTLS identities (auth.client_cert_subjects): for a request that carries no bearer token
 * and came with a verified client certificate (subject: its RFC 2253 subject, borrowed).
 * AUTH_ALLOW when the subject is listed, AUTH_FORBIDDEN when it is not, and either way *id
 * (may be NULL) is the certificate; SGW_E_AGAIN when the subject decides nothing (no list
 * configured, or no subject): go on with auth_try. */
int auth_try_client_subject(const auth *a, const char *subject, auth_identity *id);

/* Drops the process-wide review cache (tests, exit). */
void auth_cache_clear(void);

/* Number of tokens loaded (static mode), for the start-up log. */
size_t auth_token_count(const auth *a);

#endif
