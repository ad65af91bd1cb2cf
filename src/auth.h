/* auth.h: who may send signals (spec section 7). Modes: off; static (a token file, for
 * embedded use); kubernetes (TokenReview + SubjectAccessReview, cached). The check is
 * asynchronous because the Kubernetes mode calls the API server. */
#ifndef SGW_AUTH_H
#define SGW_AUTH_H
#include <stddef.h>

#include "config.h"
#include "k8s/client.h"

typedef enum {
    AUTH_ALLOW = 0,
    AUTH_UNAUTHENTICATED = 1,   /* no/invalid token → 401 */
    AUTH_FORBIDDEN = 2,         /* valid token, not allowed → 403 */
    AUTH_UNAVAILABLE = 3,       /* cannot decide (API server down) → 503, fail closed */
} auth_result;

typedef struct auth auth;
typedef void (*auth_cb)(auth_result r, void *ctx);

/* Builds the authenticator for c; NULL with a message on error (e.g. unreadable token file). */
auth *auth_new(const config *c, char *err, size_t errlen);
void  auth_free(auth *a);

/* authorization: the raw header value (may be NULL). kc: the worker's Kubernetes client
 * (kubernetes mode; else NULL). cb may run before this returns (cache hit, off, static). */
void auth_check(auth *a, k8s_client *kc, const char *authorization, auth_cb cb, void *ctx);

/* Drops the process-wide review cache (tests, exit). */
void auth_cache_clear(void);

/* Number of tokens loaded (static mode), for the start-up log. */
size_t auth_token_count(const auth *a);

#endif
