/* auth.c: see auth.h.
 * static: tokens are kept only as SHA-256 digests and compared in constant time.
 * kubernetes: TokenReview (authentication.k8s.io/v1), then SubjectAccessReview
 * (authorization.k8s.io/v1) for the configured verb/group/resource. Results are cached
 * per process by the token's SHA-256 (allowed: auth.allow_ttl, denied: auth.deny_ttl; at
 * most 10,000 entries). When the API server cannot answer, the result is SGW_E_UNAVAILABLE
 * (→ 503), never "allowed": fail closed. The token itself is never logged or stored.
 * Identity (auth_identity): a static token's name is the `name:` before it on its line
 * (a name of [A-Za-z0-9._-], at most 63 characters), else "line-N"; a Kubernetes token's,
 * the TokenReview's username, cached with the result. */
#include "auth.h"
#include "metrics.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/strmap.h"
#include "util/timeutil.h"
#include "util/trace.h"
#include "util/xalloc.h"

#include <cJSON.h>
#include <errno.h>
#include <nettle/memops.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define AUTH_CACHE_MAX 10000

struct auth {
    cfg_auth_mode mode;
    char        (*digests)[65];
    char        (*names)[64];   /* each token's name, for the audit trail */
    size_t        n;
    int           allow_ttl_ms, deny_ttl_ms, timeout_ms;
    char         *group, *resource, *verb;
    char        **subjects;      /* auth.client_cert_subjects */
    size_t        n_subjects;
};

/* ---- the review cache -------------------------------------------------------------------- */

typedef struct cache_entry {
    int         result;   /* an auth_result */
    int64_t     expires;
    char        user[AUTH_ID_NAME_MAX];   /* the TokenReview's username, "" if none */
} cache_entry;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static strmap cache;
static bool   cache_init;

static int sweep_expired(const char *k, void *v, void *ctx)
{
    if (((cache_entry *)v)->expires <= *(int64_t *)ctx) {
        free(v);
        return 1;
    }
    return 0;
}

static bool cache_get(const char *digest, int *out, char user[AUTH_ID_NAME_MAX])
{
    bool hit = false;
    pthread_mutex_lock(&cache_mu);
    if (cache_init) {
        cache_entry *e = strmap_get(&cache, digest);
        if (e && e->expires > time_mono_ms()) {
            *out = e->result;
            memcpy(user, e->user, AUTH_ID_NAME_MAX);
            hit = true;
        }
    }
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static void cache_put(const char *digest, int r, int ttl_ms, const char *user)
{
    pthread_mutex_lock(&cache_mu);
    if (!cache_init) {
        strmap_init(&cache);
        cache_init = true;
    }
    int64_t now = time_mono_ms();
    if (cache.count >= AUTH_CACHE_MAX) strmap_sweep(&cache, sweep_expired, &now);
    if (cache.count < AUTH_CACHE_MAX) {
        cache_entry *e = strmap_get(&cache, digest);
        if (!e) {
            e = xmalloc(sizeof *e);
            strmap_put(&cache, digest, e);
        }
        e->result = r;
        e->expires = now + ttl_ms;
        snprintf(e->user, sizeof e->user, "%s", user);
    }
    pthread_mutex_unlock(&cache_mu);
}

void auth_cache_clear(void)
{
    pthread_mutex_lock(&cache_mu);
    if (cache_init) strmap_free(&cache, free);
    cache_init = false;
    pthread_mutex_unlock(&cache_mu);
}

/* ---- construction -------------------------------------------------------------------------- */

/* The length of line's "name:" prefix (without the colon), or 0 when it has none: a name is
 * 1 to 63 of [A-Za-z0-9._-] followed by ':' and a token (spaces after the ':' are skipped). A bearer token
 * is token68 (RFC 6750), which has no ':', so a file of bare tokens reads as before. */
static size_t token_name_len(const char *line)
{
    size_t n = 0;
    while (n < 64 && ((line[n] >= 'a' && line[n] <= 'z') || (line[n] >= 'A' && line[n] <= 'Z') ||
                      (line[n] >= '0' && line[n] <= '9') || line[n] == '.' || line[n] == '_' || line[n] == '-'))
        n++;
    if (n < 1 || n > 63 || line[n] != ':') return 0;
    const char *t = line + n + 1;
    while (*t == ' ' || *t == '\t') t++;
    return *t ? n : 0;   /* "name:" alone is a token, not a name without one */
}

/* 0, or a negative code (util/err.h) with the reason in err. */
static int load_tokens(auth *a, const char *path, char *err, size_t errlen)
{
    struct stat st;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "auth.static_file %s: %s", path, strerror(errno));
        return SGW_E_IO;
    }
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0007)) {
        snprintf(err, errlen, "auth.static_file %s is readable by others (mode %o): chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        fclose(f);
        return SGW_E_INVALID;
    }
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = '\0';
        char *t = line;
        while (*t == ' ' || *t == '\t') t++;
        lineno++;
        if (!*t || *t == '#') continue;
        a->digests = xrealloc(a->digests, (a->n + 1) * sizeof *a->digests);
        a->names = xrealloc(a->names, (a->n + 1) * sizeof *a->names);
        size_t nl = token_name_len(t);
        if (nl) {
            memcpy(a->names[a->n], t, nl);
            a->names[a->n][nl] = '\0';
            t += nl + 1;
            while (*t == ' ' || *t == '\t') t++;   /* "name: token" reads as "name:token" */
        } else {
            snprintf(a->names[a->n], sizeof a->names[a->n], "line-%d", lineno);
        }
        hash_sha256_hex(t, strlen(t), a->digests[a->n++]);
    }
    explicit_bzero(line, sizeof line);
    fclose(f);
    if (a->n == 0) {
        snprintf(err, errlen, "auth.static_file %s holds no token", path);
        return SGW_E_INVALID;
    }
    return 0;
}

auth *auth_new(const config *c, char *err, size_t errlen)
{
    auth *a = xcalloc(1, sizeof *a);
    a->mode = c->auth_mode;
    a->allow_ttl_ms = c->auth_allow_ttl_ms;
    a->deny_ttl_ms = c->auth_deny_ttl_ms;
    a->timeout_ms = c->processing_timeout_ms;
    a->group = xstrdup(c->auth_resource_group);
    a->resource = xstrdup(c->auth_resource);
    a->verb = xstrdup(c->auth_verb);
    a->n_subjects = c->n_client_cert_subjects;
    a->subjects = xcalloc(a->n_subjects ? a->n_subjects : 1, sizeof *a->subjects);
    for (size_t i = 0; i < a->n_subjects; i++) a->subjects[i] = xstrdup(c->client_cert_subjects[i]);
    if (a->mode == AUTH_STATIC && load_tokens(a, c->auth_static_file, err, errlen) < 0) {
        auth_free(a);
        return NULL;
    }
    return a;
}

void auth_free(auth *a)
{
    if (!a) return;
    free(a->digests);
    free(a->names);
    free(a->group);
    free(a->resource);
    free(a->verb);
    for (size_t i = 0; i < a->n_subjects; i++) free(a->subjects[i]);
    free(a->subjects);
    free(a);
}

size_t auth_token_count(const auth *a) { return a->n; }

/* A subject is an exact string: the client certificate was verified against
 * server.tls_client_ca_file before it got here, so the subject is not a secret to compare
 * in constant time. */
int auth_try_client_subject(const auth *a, const char *subject, auth_identity *id)
{
    if (!subject || a->n_subjects == 0) return SGW_E_AGAIN;
    /* the subject is the caller either way: a refused one is audited by name too */
    if (id) {
        id->kind = AUTH_ID_CERTIFICATE;
        snprintf(id->name, sizeof id->name, "%s", subject);
    }
    for (size_t i = 0; i < a->n_subjects; i++)
        if (strcmp(a->subjects[i], subject) == 0) return AUTH_ALLOW;
    return AUTH_FORBIDDEN;
}

/* ---- Kubernetes reviews ---------------------------------------------------------------------- */

typedef struct review {
    auth          *a;
    k8s_client    *kc;
    char           digest[65];
    auth_identity *id;
    char           user[AUTH_ID_NAME_MAX];   /* the TokenReview's username */
    trace_ctx      trace;                    /* the request's, for both reviews */
    bool           traced;
    auth_cb        cb;
    void          *ctx;
    int64_t        deadline;
} review;

static void set_identity(auth_identity *id, auth_id_kind kind, const char *name)
{
    if (!id) return;
    id->kind = kind;
    snprintf(id->name, sizeof id->name, "%s", name);
}

static void review_end(review *rv, int r, bool cacheable)
{
    if (cacheable) cache_put(rv->digest, r, r == AUTH_ALLOW ? rv->a->allow_ttl_ms : rv->a->deny_ttl_ms, rv->user);
    if (r == AUTH_ALLOW || r == AUTH_FORBIDDEN) set_identity(rv->id, AUTH_ID_KUBERNETES_USER, rv->user);
    rv->cb(r, rv->ctx);
    free(rv);
}

static void api_unavailable(review *rv, const char *what, const k8s_response *r)
{
    log_line l;
    if (log_begin(&l, LOG_ERROR, what)) {
        log_int(&l, "status", r->status);
        if (r->error) log_str(&l, "error", r->error);
        log_end(&l);
    }
    review_end(rv, SGW_E_UNAVAILABLE, false);
}

static void sar_answered(const k8s_response *r, review *rv)
{
    if (r->status != 201 && r->status != 200) {
        api_unavailable(rv, "SubjectAccessReview failed: failing closed", r);
        return;
    }
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    const cJSON *st = j ? cJSON_GetObjectItemCaseSensitive(j, "status") : NULL;
    const cJSON *allowed = st ? cJSON_GetObjectItemCaseSensitive(st, "allowed") : NULL;
    bool ok = cJSON_IsTrue(allowed);   /* absent = false (Go omits false) */
    cJSON_Delete(j);
    review_end(rv, ok ? AUTH_ALLOW : AUTH_FORBIDDEN, true);
}

/* Each answer is handled with the request's trace current (util/trace.h): what it logs, the
 * SubjectAccessReview it makes and the caller's callback carry it. review_end frees rv;
 * nothing logs between that and putting the outer trace back. */
static void on_sar(const k8s_response *r, void *ctx)
{
    review *rv = ctx;
    const trace_ctx *outer = trace_swap(rv->traced ? &rv->trace : NULL);
    sar_answered(r, rv);
    trace_set_current(outer);
}

static void token_review_answered(const k8s_response *r, review *rv)
{
    if (r->status != 201 && r->status != 200) {
        api_unavailable(rv, "TokenReview failed: failing closed", r);
        return;
    }
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    const cJSON *st = j ? cJSON_GetObjectItemCaseSensitive(j, "status") : NULL;
    const cJSON *authd = st ? cJSON_GetObjectItemCaseSensitive(st, "authenticated") : NULL;
    if (!cJSON_IsTrue(authd)) {
        cJSON_Delete(j);
        review_end(rv, AUTH_UNAUTHENTICATED, true);
        return;
    }
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(st, "user");
    const cJSON *name = user ? cJSON_GetObjectItemCaseSensitive(user, "username") : NULL;
    const cJSON *uid = user ? cJSON_GetObjectItemCaseSensitive(user, "uid") : NULL;
    if (cJSON_IsString(name)) snprintf(rv->user, sizeof rv->user, "%s", name->valuestring);
    const cJSON *groups = user ? cJSON_GetObjectItemCaseSensitive(user, "groups") : NULL;
    cJSON *sar = cJSON_CreateObject();
    cJSON_AddStringToObject(sar, "apiVersion", "authorization.k8s.io/v1");
    cJSON_AddStringToObject(sar, "kind", "SubjectAccessReview");
    cJSON *spec = cJSON_AddObjectToObject(sar, "spec");
    cJSON_AddStringToObject(spec, "user", cJSON_IsString(name) ? name->valuestring : "");
    if (cJSON_IsString(uid)) cJSON_AddStringToObject(spec, "uid", uid->valuestring);
    if (cJSON_IsArray(groups)) cJSON_AddItemToObject(spec, "groups", cJSON_Duplicate(groups, 1));
    cJSON *ra = cJSON_AddObjectToObject(spec, "resourceAttributes");
    cJSON_AddStringToObject(ra, "group", rv->a->group);
    cJSON_AddStringToObject(ra, "resource", rv->a->resource);
    cJSON_AddStringToObject(ra, "verb", rv->a->verb);
    char *body = cJSON_PrintUnformatted(sar);
    cJSON_Delete(sar);
    cJSON_Delete(j);
    k8s_request(rv->kc, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "application/json", body,
                strlen(body), rv->deadline, on_sar, rv);
    cJSON_free(body);
}

static void on_token_review(const k8s_response *r, void *ctx)
{
    review *rv = ctx;
    const trace_ctx *outer = trace_swap(rv->traced ? &rv->trace : NULL);
    token_review_answered(r, rv);
    trace_set_current(outer);
}

/* ---- check ------------------------------------------------------------------------------------- */

/* The bearer token of header h, trimmed: its length in *tl, or NULL when h carries none
 * (or one longer than 8 KiB). */
static const char *bearer_token(const char *h, size_t *tl)
{
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
    const char *tok = h + 7;
    while (*tok == ' ') tok++;
    size_t n = strlen(tok);
    while (n > 0 && tok[n - 1] == ' ') n--;
    if (n == 0 || n > 8192) return NULL;
    *tl = n;
    return tok;
}

const char *auth_id_kind_str(auth_id_kind k)
{
    switch (k) {
    case AUTH_ID_ANONYMOUS: return "anonymous";
    case AUTH_ID_STATIC_TOKEN: return "static_token";
    case AUTH_ID_KUBERNETES_USER: return "kubernetes_user";
    case AUTH_ID_CERTIFICATE: return "certificate";
    default: return "none";
    }
}

/* The answer that needs no I/O, else SGW_E_AGAIN; d gets the token's digest when there is
 * a token, id who the caller is when the answer is known. */
static int try_digest(auth *a, k8s_client *kc, const char *h, char d[65], auth_identity *id)
{
    set_identity(id, AUTH_ID_NONE, "");
    if (a->mode == AUTH_OFF) {
        set_identity(id, AUTH_ID_ANONYMOUS, "");
        return AUTH_ALLOW;
    }
    size_t tl;
    const char *tok = bearer_token(h, &tl);
    if (!tok) return AUTH_UNAUTHENTICATED;
    hash_sha256_hex(tok, tl, d);
    if (a->mode == AUTH_STATIC) {
        /* every digest compared, in constant time: which one matched is kept without a branch */
        size_t match = 0;
        int found = 0;
        for (size_t i = 0; i < a->n; i++) {
            int eq = memeql_sec(d, a->digests[i], 64);
            match |= i & ((size_t)0 - (size_t)(eq & !found));
            found |= eq;
        }
        if (!found) return AUTH_UNAUTHENTICATED;
        set_identity(id, AUTH_ID_STATIC_TOKEN, a->names[match]);
        return AUTH_ALLOW;
    }
    int cached;
    char user[AUTH_ID_NAME_MAX];
    if (cache_get(d, &cached, user)) {
        metrics_add("gateway_auth_cache_hits_total", "", 1);
        if (cached == AUTH_ALLOW || cached == AUTH_FORBIDDEN) set_identity(id, AUTH_ID_KUBERNETES_USER, user);
        return cached;
    }
    if (!kc) return SGW_E_UNAVAILABLE;
    return SGW_E_AGAIN;
}

int auth_try(auth *a, k8s_client *kc, const char *h, auth_identity *id)
{
    char d[65];
    return try_digest(a, kc, h, d, id);
}

void auth_check(auth *a, k8s_client *kc, defer_queue *dq, const char *h, auth_identity *id, auth_cb cb, void *ctx)
{
    char d[65];
    int r = try_digest(a, kc, h, d, id);
    if (r != SGW_E_AGAIN) {
        defer_call(dq, cb, r, ctx);
        return;
    }
    size_t tl;
    const char *tok = bearer_token(h, &tl);   /* there is one: try_digest needed a review */
    review *rv = xcalloc(1, sizeof *rv);
    rv->a = a;
    rv->kc = kc;
    memcpy(rv->digest, d, 65);
    rv->id = id;
    rv->cb = cb;
    rv->ctx = ctx;
    const trace_ctx *tc = trace_current();
    if (tc) {
        rv->trace = *tc;
        rv->traced = true;
    }
    rv->deadline = time_mono_ms() + a->timeout_ms;
    cJSON *tr = cJSON_CreateObject();
    cJSON_AddStringToObject(tr, "apiVersion", "authentication.k8s.io/v1");
    cJSON_AddStringToObject(tr, "kind", "TokenReview");
    cJSON *spec = cJSON_AddObjectToObject(tr, "spec");
    char *tokcopy = xstrndup(tok, tl);
    cJSON_AddStringToObject(spec, "token", tokcopy);
    explicit_bzero(tokcopy, tl);
    free(tokcopy);
    char *body = cJSON_PrintUnformatted(tr);
    cJSON_Delete(tr);
    k8s_request(kc, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", "application/json", body, strlen(body),
                rv->deadline, on_token_review, rv);
    explicit_bzero(body, strlen(body));
    cJSON_free(body);
}
