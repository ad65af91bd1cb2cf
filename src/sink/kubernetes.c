/* kubernetes.c: the Kubernetes API sink (spec section 6).
 *
 * create:  environment ← namespace label `environment` (GET namespace, cached 30 s)
 *                      ← ConfigMap override <fallback ns>/kubernaut-environment-overrides (cached)
 *                      ← the config's namespace map ← default;  priority from the rules;
 *          POST the RR. 201 → created. 409 AlreadyExists → GET it → a duplicate.
 *          404 `namespaces "x" not found` → the fallback namespace, with origin labels.
 * update:  GET → set stormAlertCount / affectedResources / lastSeen → PUT with the
 *          resourceVersion read; 409 Conflict → read again and retry (≤ 5, jittered
 *          backoff from 10 ms).
 * Transport failures, 429 and 5xx are retried inside the client; what still fails is
 * SINK_E_UNAVAILABLE (→ 503 to the sender, who retries). The namespace cache is shared by
 * all workers (one mutex); a probe every few seconds keeps readiness true to the API. */
#include "sink/kubernetes.h"
#include "config.h"
#include "metrics.h"
#include "policy.h"
#include "util/health.h"
#include "util/log.h"
#include "util/strmap.h"
#include "util/timeutil.h"
#include "util/trace.h"
#include "util/xalloc.h"

#include <cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_CACHE_TTL_MS 30000
#define CM_NAME "kubernaut-environment-overrides"

/* ---- the shared namespace / ConfigMap cache ------------------------------------------------ */

typedef struct ns_entry {
    int     exists;        /* 1 yes, 0 no, -1 unknown (lookup failed) */
    char   *env;           /* label value or NULL */
    int64_t expires;
} ns_entry;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static strmap ns_cache;
static bool   ns_cache_init;
static strmap cm_env;          /* namespace → environment from the override ConfigMap */
static int64_t cm_expires;
static bool   cm_known;

static void ns_entry_free(void *p)
{
    ns_entry *e = p;
    if (!e) return;
    free(e->env);
    free(e);
}

static void cache_init_locked(void)
{
    if (!ns_cache_init) {
        strmap_init(&ns_cache);
        strmap_init(&cm_env);
        ns_cache_init = true;
    }
}

/* Returns 1 and fills exists/env (malloc'd or NULL) on a fresh hit. */
static int ns_cache_get(const char *ns, int *exists, char **env)
{
    int hit = 0;
    pthread_mutex_lock(&cache_mu);
    cache_init_locked();
    ns_entry *e = strmap_get(&ns_cache, ns);
    if (e && e->expires > time_mono_ms()) {
        *exists = e->exists;
        *env = e->env ? xstrdup(e->env) : NULL;
        hit = 1;
    }
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static void ns_cache_put(const char *ns, int exists, const char *env)
{
    pthread_mutex_lock(&cache_mu);
    cache_init_locked();
    ns_entry *e = strmap_get(&ns_cache, ns);
    if (!e) {
        e = xcalloc(1, sizeof *e);
        strmap_put(&ns_cache, ns, e);
    }
    free(e->env);
    e->env = env ? xstrdup(env) : NULL;
    e->exists = exists;
    e->expires = time_mono_ms() + (exists < 0 ? 2000 : NS_CACHE_TTL_MS);
    pthread_mutex_unlock(&cache_mu);
}

static int cm_get(const char *ns, char **env)
{
    int hit = 0;
    pthread_mutex_lock(&cache_mu);
    cache_init_locked();
    if (cm_known && cm_expires > time_mono_ms()) {
        const char *v = strmap_get(&cm_env, ns);
        *env = v ? xstrdup(v) : NULL;
        hit = 1;
    }
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static void cm_put(const cJSON *data, bool ok)
{
    pthread_mutex_lock(&cache_mu);
    cache_init_locked();
    strmap_free(&cm_env, free);
    strmap_init(&cm_env);
    const cJSON *it;
    cJSON_ArrayForEach(it, data)
    {
        if (!cJSON_IsString(it)) continue;
        if (config_valid_environment(it->valuestring)) strmap_put(&cm_env, it->string, xstrdup(it->valuestring));
        else log_msg(LOG_WARN, "environment override ConfigMap: value is not a valid environment; ignored", "namespace",
                     it->string);
    }
    cm_known = true;
    cm_expires = time_mono_ms() + (ok ? NS_CACHE_TTL_MS : 2000);
    pthread_mutex_unlock(&cache_mu);
}

void sink_kubernetes_cache_clear(void)
{
    pthread_mutex_lock(&cache_mu);
    if (ns_cache_init) {
        strmap_free(&ns_cache, ns_entry_free);
        strmap_free(&cm_env, free);
        ns_cache_init = false;
    }
    cm_known = false;
    pthread_mutex_unlock(&cache_mu);
}

/* ---- the sink --------------------------------------------------------------------------- */

typedef struct k8s_sink {
    sink        base;
    uv_loop_t  *loop;
    k8s_client *kc;
    char       *group, *version;
    char       *cm_namespace;
    int         op_timeout_ms;
    uv_timer_t  probe;
    bool        probing;
    health      health;        /* the /version probe's answer, read by /readyz from any worker */
} k8s_sink;

typedef enum { OP_NS, OP_CM, OP_CREATE, OP_GET_EXISTING } create_step;

typedef struct create_op {
    k8s_sink   *s;
    rr_spec     spec;       /* copy; strings borrowed from the caller until cb */
    sink_cb     cb;
    void       *ctx;
    rr_spec    *caller;     /* gets the final environment and priority */
    char       *env;        /* malloc'd */
    int         ns_exists;
    bool        fallback;
    char        ns[254], name[64];
    int64_t     deadline;
    double      t0;
    trace_ctx   trace;      /* the creating request's (util/trace.h), for every call of the op */
    bool        traced;
    k8s_cb      step;       /* the answer's handler, run by on_answer */
} create_op;

/* Every answer of op's calls: its handler runs with the request's trace current, so that
 * what it logs, the calls it makes and the caller's callback all carry it. The handler may
 * free op (create_done); nothing logs between that and putting the outer trace back. */
static void on_answer(const k8s_response *r, void *ctx)
{
    create_op *op = ctx;
    const trace_ctx *outer = trace_swap(op->traced ? &op->trace : NULL);
    op->step(r, op);
    trace_set_current(outer);
}

/* k8s_request for op: the request's traceparent on each of its API calls, those made from
 * a callback included. */
static void op_request(create_op *op, const char *method, const char *path, const char *ctype, const char *body,
                       k8s_cb cb)
{
    const trace_ctx *outer = trace_swap(op->traced ? &op->trace : NULL);
    op->step = cb;
    k8s_request(op->s->kc, method, path, ctype, body, body ? strlen(body) : 0, op->deadline, on_answer, op);
    trace_set_current(outer);
}

static void create_post(create_op *op);
static void fetch_cm(create_op *op);

static void create_done(create_op *op, int status, const char *ns, const char *name)
{
    char ref[330];
    snprintf(ref, sizeof ref, "%s/%s", ns, name);
    metrics_observe("gateway_sink_duration_seconds", "op=\"k8s_create\"", time_mono_s() - op->t0);
    if (op->spec.environment) {   /* classified: tell the caller (valid until cb returns) */
        op->caller->environment = op->spec.environment;
        op->caller->priority = op->spec.priority;
    }
    op->cb(status, ref, op->ctx);
    free(op->env);
    free(op);
}

static char *rr_path(const k8s_sink *s, const char *ns, const char *name)
{
    size_t n = strlen(s->group) + strlen(s->version) + strlen(ns) + (name ? strlen(name) : 0) + 64;
    char *p = xmalloc(n);
    if (name) snprintf(p, n, "/apis/%s/%s/namespaces/%s/remediationrequests/%s", s->group, s->version, ns, name);
    else snprintf(p, n, "/apis/%s/%s/namespaces/%s/remediationrequests", s->group, s->version, ns);
    return p;
}

static void log_api_error(const char *what, const k8s_response *r)
{
    log_line l;
    if (log_begin(&l, LOG_ERROR, what)) {
        log_int(&l, "status", r->status);
        if (r->error) log_str(&l, "error", r->error);
        else log_strn(&l, "body", r->body, r->len > 600 ? 600 : r->len);
        log_int(&l, "attempts", r->attempts);
        log_end(&l);
    }
}

/* A 404 Status about the namespace itself (not about the RR). */
static bool namespace_missing(const k8s_response *r)
{
    if (r->status != 404) return false;
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    const cJSON *d = j ? cJSON_GetObjectItemCaseSensitive(j, "details") : NULL;
    const cJSON *k = d ? cJSON_GetObjectItemCaseSensitive(d, "kind") : NULL;
    bool yes = cJSON_IsString(k) && strcmp(k->valuestring, "namespaces") == 0;
    cJSON_Delete(j);
    return yes;
}

static const char *status_reason(const k8s_response *r, char *buf, size_t cap)
{
    buf[0] = '\0';
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    const cJSON *rs = j ? cJSON_GetObjectItemCaseSensitive(j, "reason") : NULL;
    if (cJSON_IsString(rs)) snprintf(buf, cap, "%s", rs->valuestring);
    cJSON_Delete(j);
    return buf;
}

static void on_get_existing(const k8s_response *r, void *ctx)
{
    create_op *op = ctx;
    if (r->status == 200) {
        create_done(op, SINK_EXISTS, op->ns, op->name);
        return;
    }
    log_api_error("RemediationRequest exists but cannot be read", r);
    create_done(op, SINK_E_UNAVAILABLE, op->ns, op->name);
}

static void on_post(const k8s_response *r, void *ctx)
{
    create_op *op = ctx;
    k8s_sink *s = op->s;
    char reason[64];
    if (r->status == 201 || r->status == 200) {
        create_done(op, SINK_CREATED, op->ns, op->name);
        return;
    }
    if (r->status == 409 && strcmp(status_reason(r, reason, sizeof reason), "AlreadyExists") == 0) {
        char *path = rr_path(s, op->ns, op->name);
        op_request(op, "GET", path, NULL, NULL, on_get_existing);
        free(path);
        return;
    }
    if (namespace_missing(r) && !op->fallback) {
        ns_cache_put(op->spec.sig->namespace, 0, NULL);
        op->fallback = true;
        log_msg(LOG_INFO, "namespace not found: RemediationRequest goes to the fallback namespace", "namespace",
                op->spec.sig->namespace);
        create_post(op);
        return;
    }
    if (r->status == 422 || r->status == 400) {
        log_api_error("the API server rejected the RemediationRequest", r);
        create_done(op, SINK_E_INVALID, op->ns, op->name);
        return;
    }
    log_api_error("RemediationRequest create failed", r);
    create_done(op, SINK_E_UNAVAILABLE, op->ns, op->name);
}

static void create_post(create_op *op)
{
    k8s_sink *s = op->s;
    const config *cfg = op->spec.cfg;
    if (!op->env) op->env = xstrdup(policy_environment(cfg, op->spec.sig->namespace));
    const char *env = op->env;
    op->spec.environment = env;
    op->spec.priority = policy_priority(cfg, op->spec.sig, env);
    bool fallback = op->fallback || op->ns_exists == 0;
    op->fallback = fallback;
    char *json = rr_build_json(&op->spec, fallback, false, op->ns, op->name);
    char *path = rr_path(s, op->ns, NULL);
    op_request(op, "POST", path, "application/json", json, on_post);
    free(path);
    free(json);
}

static void after_env(create_op *op)
{
    if (op->env) {
        create_post(op);
        return;
    }
    char *env = NULL;
    if (cm_get(op->spec.sig->namespace, &env)) {
        op->env = env;
        create_post(op);
        return;
    }
    fetch_cm(op);   /* its answer is cached for every namespace */
}

static void on_cm(const k8s_response *r, void *ctx)
{
    create_op *op = ctx;
    cJSON *j = r->status == 200 ? cJSON_ParseWithLength(r->body, r->len) : NULL;
    const cJSON *data = j ? cJSON_GetObjectItemCaseSensitive(j, "data") : NULL;
    cm_put(data, r->status == 200 || r->status == 404);
    cJSON_Delete(j);
    char *env = NULL;
    if (cm_get(op->spec.sig->namespace, &env)) op->env = env;
    create_post(op);
}

static void fetch_cm(create_op *op)
{
    k8s_sink *s = op->s;
    char path[512];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/configmaps/%s", s->cm_namespace, CM_NAME);
    op_request(op, "GET", path, NULL, NULL, on_cm);
}

static void on_ns(const k8s_response *r, void *ctx)
{
    create_op *op = ctx;
    const char *ns = op->spec.sig->namespace;
    if (r->status == 200) {
        cJSON *j = cJSON_ParseWithLength(r->body, r->len);
        const cJSON *md = j ? cJSON_GetObjectItemCaseSensitive(j, "metadata") : NULL;
        const cJSON *lb = md ? cJSON_GetObjectItemCaseSensitive(md, "labels") : NULL;
        const cJSON *env = lb ? cJSON_GetObjectItemCaseSensitive(lb, "environment") : NULL;
        const char *e = cJSON_IsString(env) && config_valid_environment(env->valuestring) ? env->valuestring : NULL;
        ns_cache_put(ns, 1, e);
        op->ns_exists = 1;
        op->env = e ? xstrdup(e) : NULL;
        cJSON_Delete(j);
    } else if (r->status == 404) {
        ns_cache_put(ns, 0, NULL);
        op->ns_exists = 0;
    } else {
        /* cannot classify now (RBAC, outage): try the create anyway; it tells us the rest */
        ns_cache_put(ns, -1, NULL);
        op->ns_exists = -1;
    }
    after_env(op);
}

/* kubernaut.ai: one POST into the RR namespace. No namespace look-up or classification
 * (SignalProcessing owns environment and priority in that contract), and AlreadyExists
 * needs no read: the name is the store's lock, and the store counts the duplicate. */
static void on_kai_post(const k8s_response *r, void *ctx)
{
    create_op *op = ctx;
    char reason[64];
    if (r->status == 201 || r->status == 200) {
        create_done(op, SINK_CREATED, op->ns, op->name);
    } else if (r->status == 409 && strcmp(status_reason(r, reason, sizeof reason), "AlreadyExists") == 0) {
        create_done(op, SINK_EXISTS, op->ns, op->name);
    } else if (r->status == 422 || r->status == 400) {
        log_api_error("the API server rejected the RemediationRequest", r);
        create_done(op, SINK_E_INVALID, op->ns, op->name);
    } else {
        log_api_error("RemediationRequest create failed", r);
        create_done(op, SINK_E_UNAVAILABLE, op->ns, op->name);
    }
}

static void kai_create(create_op *op)
{
    char *json = rr_kai_build_json(&op->spec, false, op->ns, op->name);
    char path[512];
    snprintf(path, sizeof path, "/apis/kubernaut.ai/v1alpha1/namespaces/%s/remediationrequests", op->ns);
    op_request(op, "POST", path, "application/json", json, on_kai_post);
    free(json);
}

static void k_create(sink *sk, rr_spec *spec, sink_cb cb, void *ctx)
{
    k8s_sink *s = (k8s_sink *)sk;
    create_op *op = xcalloc(1, sizeof *op);
    op->s = s;
    op->spec = *spec;
    op->spec.environment = NULL;   /* set when classified */
    op->caller = spec;
    op->cb = cb;
    op->ctx = ctx;
    op->t0 = time_mono_s();
    op->deadline = time_mono_ms() + s->op_timeout_ms;
    const trace_ctx *tc = trace_current();
    if (tc) {
        op->trace = *tc;
        op->traced = true;
    }
    if (spec->contract == RR_CONTRACT_KUBERNAUT_AI) {
        kai_create(op);
        return;
    }
    const char *ns = spec->sig->namespace;
    if (!sig_namespace_valid(ns)) {   /* cluster-scoped or not a namespace: the fallback */
        op->ns_exists = 0;
        after_env(op);
        return;
    }
    char *env = NULL;
    if (ns_cache_get(ns, &op->ns_exists, &env)) {
        op->env = env;
        after_env(op);
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s", ns);
    op_request(op, "GET", path, NULL, NULL, on_ns);
}

/* ---- storm updates ----------------------------------------------------------------------- */

typedef struct update_op {
    k8s_sink *s;
    sink_cb   cb;
    void     *ctx;
    char      ref[330];
    char     *path;
    int64_t   count;
    char    **resources;
    size_t    n_resources;
    int64_t   last_seen_ms;
    int       conflicts;
    int64_t   deadline;
    uv_timer_t timer;
    bool      timer_init;
} update_op;

static void update_get(update_op *op);

static void update_free_cb(uv_handle_t *h) { free(h->data); }

static void update_done(update_op *op, int status)
{
    op->cb(status, op->ref, op->ctx);
    free(op->path);
    for (size_t i = 0; i < op->n_resources; i++) free(op->resources[i]);
    free(op->resources);
    if (op->timer_init) {
        op->timer.data = op;
        uv_close((uv_handle_t *)&op->timer, update_free_cb);
    } else {
        free(op);
    }
}

static void on_retry(uv_timer_t *t) { update_get(t->data); }

static void on_put(const k8s_response *r, void *ctx)
{
    update_op *op = ctx;
    if (r->status == 200) {
        update_done(op, SINK_UPDATED);
        return;
    }
    if (r->status == 409 && op->conflicts < 5) {
        /* someone else updated it in between: read again, after 10, 20, 40 … ms ± jitter */
        int base = 10 << op->conflicts;
        op->conflicts++;
        int delay = base / 2 + rand() % (base / 2 + 1);
        if (!op->timer_init) {
            uv_timer_init(op->s->loop, &op->timer);
            op->timer.data = op;
            op->timer_init = true;
        }
        uv_timer_start(&op->timer, on_retry, (uint64_t)delay, 0);
        return;
    }
    log_api_error("storm RemediationRequest update failed", r);
    update_done(op, r->status == 404 ? SINK_E_NOTFOUND : SINK_E_UNAVAILABLE);
}

static void on_update_get(const k8s_response *r, void *ctx)
{
    update_op *op = ctx;
    if (r->status != 200) {
        if (r->status != 404) log_api_error("storm RemediationRequest read failed", r);
        update_done(op, r->status == 404 ? SINK_E_NOTFOUND : SINK_E_UNAVAILABLE);
        return;
    }
    cJSON *root = cJSON_ParseWithLength(r->body, r->len);
    cJSON *spec = root ? cJSON_GetObjectItemCaseSensitive(root, "spec") : NULL;
    if (!cJSON_IsObject(spec)) {
        cJSON_Delete(root);
        update_done(op, SINK_E_INVALID);
        return;
    }
    /* counts only grow: never overwrite a newer count with an older snapshot */
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(spec, "stormAlertCount");
    if (cJSON_IsNumber(cur) && cur->valuedouble >= (double)op->count) {
        cJSON_Delete(root);
        update_done(op, SINK_UPDATED);
        return;
    }
    cJSON *cnt = cJSON_CreateNumber((double)op->count);
    if (cJSON_GetObjectItemCaseSensitive(spec, "stormAlertCount")) cJSON_ReplaceItemInObjectCaseSensitive(spec, "stormAlertCount", cnt);
    else cJSON_AddItemToObject(spec, "stormAlertCount", cnt);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < op->n_resources; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(op->resources[i]));
    if (cJSON_GetObjectItemCaseSensitive(spec, "affectedResources")) cJSON_ReplaceItemInObjectCaseSensitive(spec, "affectedResources", arr);
    else cJSON_AddItemToObject(spec, "affectedResources", arr);
    cJSON *dd = cJSON_GetObjectItemCaseSensitive(spec, "deduplication");
    if (cJSON_IsObject(dd)) {
        char ts[32];
        time_format_rfc3339(op->last_seen_ms, ts);
        cJSON_ReplaceItemInObjectCaseSensitive(dd, "lastSeen", cJSON_CreateString(ts));
        cJSON_ReplaceItemInObjectCaseSensitive(dd, "occurrenceCount", cJSON_CreateNumber((double)op->count));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(root, "status");   /* main resource PUT ignores it anyway */
    char *body = cJSON_PrintUnformatted(root);   /* carries metadata.resourceVersion as read */
    cJSON_Delete(root);
    k8s_request(op->s->kc, "PUT", op->path, "application/json", body, strlen(body), op->deadline, on_put, op);
    cJSON_free(body);
}

static void update_get(update_op *op)
{
    k8s_request(op->s->kc, "GET", op->path, NULL, NULL, 0, op->deadline, on_update_get, op);
}

static void k_update_storm(sink *sk, const sink_storm_update *u, sink_cb cb, void *ctx)
{
    k8s_sink *s = (k8s_sink *)sk;
    update_op *op = xcalloc(1, sizeof *op);
    op->s = s;
    op->cb = cb;
    op->ctx = ctx;
    snprintf(op->ref, sizeof op->ref, "%s", u->ref);
    char ns[254];
    const char *slash = strchr(u->ref, '/');
    snprintf(ns, sizeof ns, "%.*s", slash ? (int)(slash - u->ref) : 0, u->ref);
    op->path = rr_path(s, ns, slash ? slash + 1 : u->ref);
    op->count = u->count;
    op->n_resources = u->n_resources;
    op->resources = xcalloc(u->n_resources ? u->n_resources : 1, sizeof *op->resources);
    for (size_t i = 0; i < u->n_resources; i++) op->resources[i] = xstrdup(u->resources[i]);
    op->last_seen_ms = u->last_seen_ms;
    op->deadline = time_mono_ms() + s->op_timeout_ms;
    update_get(op);
}

/* ---- readiness -------------------------------------------------------------------------- */

static void on_probe(const k8s_response *r, void *ctx)
{
    k8s_sink *s = ctx;
    s->probing = false;
    if (r->status == 200) {
        health_set(&s->health, true, NULL);
        return;
    }
    char why[256];
    if (r->status) snprintf(why, sizeof why, "kubernetes API /version answered %d", r->status);
    else snprintf(why, sizeof why, "kubernetes API unreachable: %s", r->error ? r->error : "?");
    health_set(&s->health, false, why);
}

static void probe_tick(uv_timer_t *t)
{
    k8s_sink *s = t->data;
    if (s->probing) return;
    s->probing = true;
    k8s_request(s->kc, "GET", "/version", NULL, NULL, 0, time_mono_ms() + 3000, on_probe, s);
}

static int k_ready(sink *sk, char *why, size_t cap) { return health_get(&((k8s_sink *)sk)->health, why, cap); }

static void probe_closed(uv_handle_t *h)
{
    k8s_sink *s = h->data;
    health_destroy(&s->health);
    free(s->group);
    free(s->version);
    free(s->cm_namespace);
    free(s);
}

static void k_close(sink *sk)
{
    k8s_sink *s = (k8s_sink *)sk;
    uv_timer_stop(&s->probe);
    uv_close((uv_handle_t *)&s->probe, probe_closed);   /* frees s once closed */
}

static const sink_ops k8s_ops = {
    .name = "kubernetes",
    .create = k_create,
    .update_storm = k_update_storm,
    .ready = k_ready,
    .close = k_close,
};

sink *sink_kubernetes_open(uv_loop_t *loop, k8s_client *kc, const char *group, const char *version,
                           const char *cm_namespace, int op_timeout_ms)
{
    k8s_sink *s = xcalloc(1, sizeof *s);
    s->base.ops = &k8s_ops;
    s->loop = loop;
    s->kc = kc;
    s->group = xstrdup(group);
    s->version = xstrdup(version);
    s->cm_namespace = xstrdup(cm_namespace);
    s->op_timeout_ms = op_timeout_ms > 0 ? op_timeout_ms : 15000;
    health_init(&s->health, "kubernetes API not reached yet");
    uv_timer_init(loop, &s->probe);
    s->probe.data = s;
    uv_timer_start(&s->probe, probe_tick, 0, 5000);
    return &s->base;
}
