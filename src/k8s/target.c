/* target.c: a signal's owner and scope, as upstream Kubernaut decides them; see target.h.
 * A resolution walks from the resource (or the first Pod its Service selects) up its
 * controller references, then to the owner's label or its namespace's. Each object it looks
 * at comes from a fact, what an earlier read taught about that object, or else from a GET on
 * the worker's Kubernetes client, kept as a fact. Facts and answers share one process-wide
 * table behind a mutex; the same question asked again on the same client while it is being
 * answered waits for that answer instead of walking again. */
#include "k8s/target.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/strmap.h"
#include "util/timeutil.h"
#include "util/trace.h"
#include "util/xalloc.h"

#include <cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* upstream MaxOwnerChainDepth: links of the chain (objects read, here read or known from a
 * fact), the resource's included */
#define MAX_CHAIN_LINKS 5

/* ---- what upstream knows about kinds ------------------------------------------------------- */

/* upstream's kindToGroup (owner_resolver.go, scope/manager.go), every kind at version v1: the
 * kinds it reads. */
typedef struct kind_info {
    const char *kind;
    const char *prefix;      /* the group/version's path */
    const char *plural;
    bool        namespaced;
} kind_info;

static const kind_info kinds[] = {
    {"Pod", "/api/v1", "pods", true},
    {"Node", "/api/v1", "nodes", false},
    {"Service", "/api/v1", "services", true},
    {"ConfigMap", "/api/v1", "configmaps", true},
    {"Secret", "/api/v1", "secrets", true},
    {"Namespace", "/api/v1", "namespaces", false},
    {"PersistentVolume", "/api/v1", "persistentvolumes", false},
    {"ReplicaSet", "/apis/apps/v1", "replicasets", true},
    {"Deployment", "/apis/apps/v1", "deployments", true},
    {"StatefulSet", "/apis/apps/v1", "statefulsets", true},
    {"DaemonSet", "/apis/apps/v1", "daemonsets", true},
    {"Job", "/apis/batch/v1", "jobs", true},
    {"CronJob", "/apis/batch/v1", "cronjobs", true},
};

static const kind_info *kind_lookup(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0) return &kinds[i];
    return NULL;
}

/* upstream's clusterScopedKinds (scope/manager.go): no namespace label is asked for these. */
static const char *const cluster_scoped[] = {
    "Node", "PersistentVolume", "Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass",
    "CustomResourceDefinition", "ClusterOperator", "ClusterVersion", "IngressClass", "PriorityClass",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "CSIDriver", "CSINode",
    "VolumeAttachment", "RuntimeClass", "APIService", "CertificateSigningRequest", "FlowSchema",
    "PriorityLevelConfiguration", "ClusterNetwork", "Infrastructure",
};

static bool is_cluster_scoped(const char *kind)
{
    for (size_t i = 0; i < sizeof cluster_scoped / sizeof cluster_scoped[0]; i++)
        if (strcmp(cluster_scoped[i], kind) == 0) return true;
    return false;
}

/* RFC 1123 label (max 63) or subdomain (max 253): the names the API server accepts for a
 * namespace and for the kinds above; anything else cannot exist, and is never put in a path. */
static bool dns_name_valid(const char *s, size_t max, bool dots)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum) continue;
        if (c != '-' && !(dots && c == '.')) return false;
        if (i == 0 || i == n - 1) return false;
        if (c == '.' && (s[i - 1] == '.' || s[i - 1] == '-' || s[i + 1] == '-')) return false;
    }
    return true;
}

static bool ns_valid(const char *ns) { return dns_name_valid(ns, 63, false); }
static bool name_valid(const char *name) { return dns_name_valid(name, K8S_TARGET_NAME_MAX, true); }

/* ---- reading an object's metadata ---------------------------------------------------------------- */

/* The controller reference of metadata (upstream findControllerOwnerRef: the first with
 * controller: true). false when there is none, or when its kind or name is empty or too
 * long for k8s_target (no object can be named so: the chain ends where it is). */
static bool controller_ref(const cJSON *meta, const char **kind, const char **name)
{
    const cJSON *refs = cJSON_GetObjectItemCaseSensitive(meta, "ownerReferences");
    const cJSON *ref;
    if (!cJSON_IsArray(refs)) return false;
    cJSON_ArrayForEach(ref, refs)
    {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "controller"))) continue;
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(ref, "kind");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(ref, "name");
        if (!cJSON_IsString(k) || !cJSON_IsString(n)) return false;
        size_t kl = strlen(k->valuestring), nl = strlen(n->valuestring);
        if (kl == 0 || kl > K8S_TARGET_KIND_MAX || nl == 0 || nl > K8S_TARGET_NAME_MAX) return false;
        *kind = k->valuestring;
        *name = n->valuestring;
        return true;
    }
    return false;
}

/* The managed label of metadata (upstream checkLabelValue): 1 "true", 0 "false", -1 absent
 * or any other value. */
static int managed_label(const cJSON *meta)
{
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(meta, "labels");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, K8S_MANAGED_LABEL);
    if (!cJSON_IsString(v)) return -1;
    if (strcmp(v->valuestring, "true") == 0) return 1;
    if (strcmp(v->valuestring, "false") == 0) return 0;
    return -1;
}

/* ---- the cache: answers and facts ------------------------------------------------------------------ */

/* What one read taught about an object: all a walk needs of it. */
typedef struct fact {
    int64_t read_at;                                /* when the read was asked */
    bool    exists;                                 /* false: the API server answered 404 */
    int     label;                                  /* its managed label, as managed_label() */
    char    owner_kind[K8S_TARGET_KIND_MAX + 1];    /* its controller reference; "" for none */
    char    owner_name[K8S_TARGET_NAME_MAX + 1];
} fact;

/* One table holds both kinds of entry, under one bound. Their keys never meet: a question's
 * begins with two digits (make_key), an object's is its API path, which begins with '/'. */
typedef struct centry {
    struct centry *prev, *next;     /* insertion order, oldest first */
    char          *key;
    int64_t        expires;
    union {
        struct {                    /* a question's answer */
            int        status;
            k8s_target t;
        };
        fact f;                     /* an object's fact */
    };
} centry;

/* The callers waiting for a resolution in flight. */
typedef struct waiter {
    k8s_target_cb cb;
    void         *ctx;
} waiter;

typedef struct flight {
    waiter *w;
    size_t  n, cap;
} flight;

struct k8s_target_cache {
    pthread_mutex_t mu;
    strmap          map;            /* key → centry */
    centry         *head, *tail;
    strmap          inflight;       /* "<client> <key>" → flight: one client, so one loop */
    k8s_target_opts o;
};

static void list_unlink(k8s_target_cache *tc, centry *e)
{
    if (e->prev) e->prev->next = e->next;
    else tc->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else tc->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_append(k8s_target_cache *tc, centry *e)
{
    e->prev = tc->tail;
    e->next = NULL;
    if (tc->tail) tc->tail->next = e;
    else tc->head = e;
    tc->tail = e;
}

static void entry_drop(k8s_target_cache *tc, centry *e)
{
    list_unlink(tc, e);
    strmap_del(&tc->map, e->key);
    free(e->key);
    free(e);
}

/* The entry of key that has not expired at now, or NULL (an expired one goes). tc->mu held. */
static centry *entry_get(k8s_target_cache *tc, const char *key, int64_t now)
{
    centry *e = strmap_get(&tc->map, key);
    if (e && e->expires <= now) {
        entry_drop(tc, e);
        e = NULL;
    }
    return e;
}

/* The entry of key, made or renewed as the newest; a full table first loses its oldest
 * entry. tc->mu held. */
static centry *entry_put(k8s_target_cache *tc, const char *key)
{
    centry *e = strmap_get(&tc->map, key);
    if (e) {
        list_unlink(tc, e);
    } else {
        if (tc->map.count >= tc->o.max_entries && tc->head) entry_drop(tc, tc->head);
        e = xcalloc(1, sizeof *e);
        e->key = xstrdup(key);
        strmap_put(&tc->map, key, e);
    }
    list_append(tc, e);
    return e;
}

/* true and the answer when key holds one that has not expired at now. */
static bool cache_get(k8s_target_cache *tc, const char *key, int64_t now, int *status, k8s_target *t)
{
    pthread_mutex_lock(&tc->mu);
    centry *e = entry_get(tc, key, now);
    if (e) {
        *status = e->status;
        *t = e->t;
    }
    pthread_mutex_unlock(&tc->mu);
    return e != NULL;
}

/* Keeps an answer for its TTL after learned, the time of the oldest read it rests on. t may
 * be NULL (not found). */
static void cache_put(k8s_target_cache *tc, const char *key, int status, const k8s_target *t, int64_t learned)
{
    int ttl = status == K8S_TARGET_MANAGED ? tc->o.ttl_ms : tc->o.negative_ttl_ms;
    pthread_mutex_lock(&tc->mu);
    centry *e = entry_put(tc, key);
    e->status = status;
    if (t) e->t = *t;
    else memset(&e->t, 0, sizeof e->t);
    e->expires = learned + ttl;
    pthread_mutex_unlock(&tc->mu);
}

/* A fact is kept as long as the longest an answer may rest on it. */
static int64_t fact_ttl(const k8s_target_cache *tc)
{
    return tc->o.ttl_ms > tc->o.negative_ttl_ms ? tc->o.ttl_ms : tc->o.negative_ttl_ms;
}

static void fact_put(k8s_target_cache *tc, const char *path, const fact *f)
{
    pthread_mutex_lock(&tc->mu);
    centry *e = entry_put(tc, path);
    e->f = *f;
    e->expires = f->read_at + fact_ttl(tc);
    pthread_mutex_unlock(&tc->mu);
}

/* true and the fact about the object at path when it was read less than max_age before
 * now, or at or after since (whatever max_age). */
static bool fact_get(k8s_target_cache *tc, const char *path, int64_t now, int64_t max_age, int64_t since, fact *f)
{
    pthread_mutex_lock(&tc->mu);
    centry *e = entry_get(tc, path, now);
    bool ok = e && (e->f.read_at >= since || now - e->f.read_at < max_age);
    if (ok) *f = e->f;
    pthread_mutex_unlock(&tc->mu);
    return ok;
}

k8s_target_cache *k8s_target_cache_new(const k8s_target_opts *o)
{
    k8s_target_cache *tc = xcalloc(1, sizeof *tc);
    if (o) tc->o = *o;
    if (tc->o.ttl_ms <= 0) tc->o.ttl_ms = 30000;
    if (tc->o.negative_ttl_ms <= 0) tc->o.negative_ttl_ms = 5000;
    if (tc->o.max_entries == 0) tc->o.max_entries = 10000;
    if (tc->o.timeout_ms <= 0) tc->o.timeout_ms = 5000;
    pthread_mutex_init(&tc->mu, NULL);
    strmap_init(&tc->map);
    strmap_init(&tc->inflight);
    return tc;
}

void k8s_target_cache_clear(k8s_target_cache *tc)
{
    pthread_mutex_lock(&tc->mu);
    while (tc->head) entry_drop(tc, tc->head);
    pthread_mutex_unlock(&tc->mu);
}

void k8s_target_cache_free(k8s_target_cache *tc)
{
    if (!tc) return;
    k8s_target_cache_clear(tc);
    strmap_free(&tc->map, NULL);
    strmap_free(&tc->inflight, free);     /* empty once every resolution called back */
    pthread_mutex_destroy(&tc->mu);
    free(tc);
}

/* "<len ns><ns><len kind><kind><name>", lengths as two digits: unambiguous for any bytes.
 * A cluster-scoped kind's namespace plays no part in its answer, so it is left out. */
static void make_key(char key[400], const char *ns, const char *kind, const char *name)
{
    if (is_cluster_scoped(kind)) ns = "";
    snprintf(key, 400, "%02zu%s%02zu%s%s", strlen(ns), ns, strlen(kind), kind, name);
}

static void set_target(k8s_target *t, const char *kind, const char *name, int hops, k8s_scope_source scope)
{
    snprintf(t->kind, sizeof t->kind, "%s", kind);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->hops = hops;
    t->scope = scope;
}

/* ---- one resolution: a walk over facts, reading those it lacks -------------------------------------- */

typedef enum { OWNER_UNREAD, OWNER_READ, OWNER_MISSING } owner_state;

typedef struct op op;
/* What learn() found: the fact (r NULL), or the read that did not give one (f NULL). */
typedef void (*fact_use)(op *o, const fact *f, const k8s_response *r);

struct op {
    k8s_target_cache *tc;
    k8s_client       *kc;                                  /* NULL: answer_now's walk, which reads
                                                            * nothing and calls nothing back */
    defer_queue      *dq;
    k8s_target_cb     cb;
    void             *ctx;
    int64_t           deadline;
    int64_t           started;                             /* facts read since are the walk's own */
    int64_t           max_age;                             /* an older fact is read again */
    int64_t           oldest;                              /* the oldest fact used, not its own;
                                                            * INT64_MAX: none */
    int64_t           asked;                               /* when the read in flight was asked */
    fact_use          use;                                 /* what the read in flight is for */
    int               result;                              /* answer_now's walk: SGW_E_AGAIN when
                                                            * it needs a read */
    char              key[400];
    char              fkey[420];                           /* its in-flight entry's key */
    char              ns[64];
    /* where the walk starts: the resource (OWNER_UNREAD), the Pod its Service selects
     * (likewise), or the Service itself, read (with its label) or missing */
    char              start_kind[K8S_TARGET_KIND_MAX + 1];
    char              start_name[K8S_TARGET_NAME_MAX + 1];
    owner_state       start_state;
    int               start_label;
    char              cur_kind[K8S_TARGET_KIND_MAX + 1];   /* the object the chain looks at next */
    char              cur_name[K8S_TARGET_NAME_MAX + 1];
    k8s_target        t;                                   /* the owner so far */
    int               links;                               /* chain links looked at */
    int               owner_label;                         /* t's managed label, as managed_label() */
    owner_state       owner_state;
    bool              starting;                            /* inside k8s_target_resolve */
    bool              traced;
    trace_ctx         trace;                               /* the first asker's (util/trace.h) */
    k8s_cb            step;                                /* the read in flight's handler */
    char              path[2048];                          /* of the object looked at, or the
                                                            * request in flight */
};

static void walk(op *o);

/* Hands the answer to the caller and to those waiting for the same question. */
static void op_deliver(int status, void *ctx)
{
    op *o = ctx;
    pthread_mutex_lock(&o->tc->mu);
    flight *f = strmap_del(&o->tc->inflight, o->fkey);
    pthread_mutex_unlock(&o->tc->mu);
    const k8s_target *t = status >= 0 ? &o->t : NULL;
    o->cb(status, t, o->ctx);
    for (size_t i = 0; f && i < f->n; i++) f->w[i].cb(status, t, f->w[i].ctx);
    if (f) free(f->w);
    free(f);
    free(o);
}

static void op_finish(op *o, int status)
{
    if (status >= 0 || status == SGW_E_NOTFOUND) {
        int ttl = status == K8S_TARGET_MANAGED ? o->tc->o.ttl_ms : o->tc->o.negative_ttl_ms;
        int64_t now = time_mono_ms();
        if (o->oldest <= now - ttl && o->max_age > ttl) {
            /* a fact this answer rests on is older than the answer may be: the walk again,
             * reading such facts anew (once: the second walk's facts are young enough) */
            o->max_age = ttl;
            walk(o);
            return;
        }
        cache_put(o->tc, o->key, status, status >= 0 ? &o->t : NULL, o->oldest < now ? o->oldest : now);
    }
    o->result = status;
    if (!o->kc) return;
    /* every fact was there after all (another worker read them since answer_now looked) */
    if (o->starting) defer_call(o->dq, op_deliver, status, o);
    else op_deliver(status, o);
}

static void finish_scope(op *o, int managed, k8s_scope_source src)
{
    o->t.scope = src;
    op_finish(o, managed ? K8S_TARGET_MANAGED : K8S_TARGET_UNMANAGED);
}

/* The API server did not give an answer we can use: logged once, here, with what it said. */
static void op_unavailable(op *o, const char *what, const k8s_response *r)
{
    log_line l;
    if (log_begin(&l, LOG_ERROR, what)) {
        log_str(&l, "path", o->path);
        log_int(&l, "status", r->status);
        if (r->error) log_str(&l, "error", r->error);
        else log_strn(&l, "body", r->body, r->len > 600 ? 600 : r->len);
        log_int(&l, "attempts", r->attempts);
        log_end(&l);
    }
    op_finish(o, SGW_E_UNAVAILABLE);
}

/* Every read's answer: its handler runs with the trace of the request that asked first
 * current, so that what it logs and the reads it makes carry it. The handler may free o
 * (op_deliver); nothing logs between that and putting the outer trace back. */
static void on_answer(const k8s_response *r, void *ctx)
{
    op *o = ctx;
    const trace_ctx *outer = trace_swap(o->traced ? &o->trace : NULL);
    o->step(r, o);
    trace_set_current(outer);
}

/* GETs o->path; answer_now's walk stops here instead, its result SGW_E_AGAIN. */
static void get(op *o, k8s_cb cb)
{
    if (!o->kc) return;
    o->asked = time_mono_ms();
    o->step = cb;
    k8s_request(o->kc, "GET", o->path, NULL, NULL, 0, o->deadline, on_answer, o);
}

/* The object's path; false when the object cannot exist (a namespaced kind without a valid
 * namespace, or a name no object has). */
static bool object_path(op *o, const kind_info *ki, const char *name)
{
    if (!name_valid(name) || (ki->namespaced && !ns_valid(o->ns))) return false;
    if (ki->namespaced)
        snprintf(o->path, sizeof o->path, "%s/namespaces/%s/%s/%s", ki->prefix, o->ns, ki->plural, name);
    else
        snprintf(o->path, sizeof o->path, "%s/%s/%s", ki->prefix, ki->plural, name);
    return true;
}

/* A response's body parsed, with its metadata; NULL (and the op finished) when unusable. */
static cJSON *parse_object(op *o, const k8s_response *r, const cJSON **meta)
{
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    *meta = j ? cJSON_GetObjectItemCaseSensitive(j, "metadata") : NULL;
    if (!cJSON_IsObject(*meta)) {
        cJSON_Delete(j);
        op_unavailable(o, "owner resolution or scope check: the API server answered a body without metadata", r);
        return NULL;
    }
    return j;
}

/* A read for learn(): kept as a fact when the API server said what the object is. */
static void on_object(const k8s_response *r, void *ctx)
{
    op *o = ctx;
    if (r->status != 200 && r->status != 404) {
        o->use(o, NULL, r);
        return;
    }
    fact f;
    memset(&f, 0, sizeof f);
    f.read_at = o->asked;
    f.label = -1;
    if (r->status == 200) {
        const cJSON *meta;
        cJSON *j = parse_object(o, r, &meta);
        if (!j) return;
        const char *kind, *name;
        f.exists = true;
        f.label = managed_label(meta);
        if (controller_ref(meta, &kind, &name)) {
            snprintf(f.owner_kind, sizeof f.owner_kind, "%s", kind);
            snprintf(f.owner_name, sizeof f.owner_name, "%s", name);
        }
        cJSON_Delete(j);
    }
    fact_put(o->tc, o->path, &f);
    o->use(o, &f, NULL);
}

/* What the object at o->path is: its fact when one is young enough for this walk, else a
 * read; then use(). */
static void learn(op *o, fact_use use)
{
    fact f;
    if (fact_get(o->tc, o->path, time_mono_ms(), o->max_age, o->started, &f)) {
        if (f.read_at < o->started && f.read_at < o->oldest) o->oldest = f.read_at;
        use(o, &f, NULL);
        return;
    }
    o->use = use;
    get(o, on_object);
}

static void scope_namespace(op *o);

static void on_namespace(op *o, const fact *f, const k8s_response *r)
{
    if (!f) {
        op_unavailable(o, "scope check: the namespace cannot be read", r);
        return;
    }
    if (!f->exists) finish_scope(o, 0, K8S_SCOPE_NO_NAMESPACE);   /* upstream: not an error, unmanaged */
    else if (f->label < 0) finish_scope(o, 0, K8S_SCOPE_NO_LABEL);
    else finish_scope(o, f->label, K8S_SCOPE_NAMESPACE);
}

/* The owner has no valid label: its namespace decides. */
static void scope_namespace(op *o)
{
    if (is_cluster_scoped(o->t.kind) || !*o->ns) {
        finish_scope(o, 0, K8S_SCOPE_NO_LABEL);
        return;
    }
    if (!ns_valid(o->ns)) {
        finish_scope(o, 0, K8S_SCOPE_NO_NAMESPACE);
        return;
    }
    snprintf(o->path, sizeof o->path, "/api/v1/namespaces/%s", o->ns);
    learn(o, on_namespace);
}

static void on_owner_label(op *o, const fact *f, const k8s_response *r)
{
    if (f) {
        if (f->exists && f->label >= 0) {
            finish_scope(o, f->label, K8S_SCOPE_RESOURCE);
            return;
        }
    } else if (r->status == 0 || r->status >= 500 || r->status == 429) {
        op_unavailable(o, "scope check: the owner cannot be read", r);
        return;
    } else {
        /* upstream: Forbidden and the like fall through to the namespace, logged */
        log_line l;
        if (log_begin(&l, LOG_WARN, "scope check: the owner's label cannot be read, the namespace decides")) {
            log_str(&l, "path", o->path);
            log_int(&l, "status", r->status);
            log_end(&l);
        }
    }
    scope_namespace(o);
}

/* The owner is settled: its label, else its namespace's. */
static void scope_start(op *o)
{
    if (o->owner_state == OWNER_READ) {
        if (o->owner_label >= 0) finish_scope(o, o->owner_label, K8S_SCOPE_RESOURCE);
        else scope_namespace(o);
        return;
    }
    const kind_info *ki = kind_lookup(o->t.kind);
    /* a chain that ran out of links names an owner it did not look at: look at its label */
    if (o->owner_state == OWNER_UNREAD && ki && object_path(o, ki, o->t.name)) {
        learn(o, on_owner_label);
        return;
    }
    scope_namespace(o);
}

static void chain_step(op *o);

static void on_chain_link(op *o, const fact *f, const k8s_response *r)
{
    if (!f) {
        op_unavailable(o, "owner resolution: the API server did not answer a read", r);
        return;
    }
    if (!f->exists) {
        if (o->t.hops == 0) {
            op_finish(o, SGW_E_NOTFOUND);    /* the signal's resource itself: upstream drops it */
            return;
        }
        o->owner_state = OWNER_MISSING;      /* the chain ends at the owner the reference names */
        scope_start(o);
        return;
    }
    if (*f->owner_kind) {
        set_target(&o->t, f->owner_kind, f->owner_name, o->t.hops + 1, 0);
        snprintf(o->cur_kind, sizeof o->cur_kind, "%s", f->owner_kind);
        snprintf(o->cur_name, sizeof o->cur_name, "%s", f->owner_name);
        o->owner_state = OWNER_UNREAD;
        chain_step(o);
        return;
    }
    o->owner_label = f->label;
    o->owner_state = OWNER_READ;
    scope_start(o);
}

/* Looks at cur_kind/cur_name for its controller reference, while links are left and the
 * kind is one upstream reads. */
static void chain_step(op *o)
{
    const kind_info *ki = kind_lookup(o->cur_kind);
    if (!ki || o->links >= MAX_CHAIN_LINKS) {
        scope_start(o);
        return;
    }
    if (!object_path(o, ki, o->cur_name)) {     /* no object can have this name */
        if (o->t.hops == 0) {
            op_finish(o, SGW_E_NOTFOUND);
            return;
        }
        o->owner_state = OWNER_MISSING;
        scope_start(o);
        return;
    }
    o->links++;
    learn(o, on_chain_link);
}

/* (Re)starts the walk at its start, with no fact used yet. */
static void walk(op *o)
{
    set_target(&o->t, o->start_kind, o->start_name, 0, 0);
    snprintf(o->cur_kind, sizeof o->cur_kind, "%s", o->start_kind);
    snprintf(o->cur_name, sizeof o->cur_name, "%s", o->start_name);
    o->links = 0;
    o->owner_state = o->start_state;
    o->owner_label = o->start_label;
    o->oldest = INT64_MAX;
    if (o->owner_state == OWNER_UNREAD) chain_step(o);
    else scope_start(o);
}

/* ---- a Service: the first Pod its selector matches (upstream resolveServiceToWorkload) ------------- */

/* Appends s to buf (at *off, capacity cap) percent-encoded; false when it does not fit. */
static bool append_escaped(char *buf, size_t cap, size_t *off, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '.' || c == '_' || c == '~';
        if (*off + (plain ? 1 : 3) >= cap) return false;
        if (plain) {
            buf[(*off)++] = (char)c;
        } else {
            buf[(*off)++] = '%';
            buf[(*off)++] = hex[c >> 4];
            buf[(*off)++] = hex[c & 15];
        }
    }
    buf[*off] = '\0';
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The pods path with labelSelector "k=v,..." (keys sorted, as Go's labels.Set.String()),
 * or false when the selector is empty or not a string map (upstream: the Service stands for
 * itself), or has more than 64 labels or does not fit the path buffer (never in practice:
 * logged, and the Service stands for itself too). */
static bool selector_path(op *o, const cJSON *sel)
{
    if (!cJSON_IsObject(sel)) return false;
    size_t n = (size_t)cJSON_GetArraySize(sel), i = 0;
    if (n == 0) return false;
    if (n > 64) {
        log_msg(LOG_WARN, "owner resolution: a Service selector of more than 64 labels is not followed", "path",
                o->path);
        return false;
    }
    const char *keys[64];
    const cJSON *kv;
    cJSON_ArrayForEach(kv, sel)
    {
        if (!cJSON_IsString(kv) || !kv->string) return false;
        keys[i++] = kv->string;
    }
    qsort(keys, n, sizeof keys[0], cmp_str);
    size_t off = (size_t)snprintf(o->path, sizeof o->path, "/api/v1/namespaces/%s/pods?labelSelector=", o->ns);
    for (i = 0; i < n; i++) {
        const char *v = cJSON_GetObjectItemCaseSensitive(sel, keys[i])->valuestring;
        if ((i && !append_escaped(o->path, sizeof o->path, &off, ",")) ||
            !append_escaped(o->path, sizeof o->path, &off, keys[i]) ||
            !append_escaped(o->path, sizeof o->path, &off, "=") || !append_escaped(o->path, sizeof o->path, &off, v)) {
            log_msg(LOG_WARN, "owner resolution: a Service selector too long to follow", "namespace", o->ns);
            return false;
        }
    }
    return true;
}

static void on_service_pods(const k8s_response *r, void *ctx)
{
    op *o = ctx;
    if (r->status != 200) {
        op_unavailable(o, "owner resolution: the Service's pods cannot be listed", r);
        return;
    }
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    const cJSON *items = j ? cJSON_GetObjectItemCaseSensitive(j, "items") : NULL;
    if (!cJSON_IsArray(items)) {
        cJSON_Delete(j);
        op_unavailable(o, "owner resolution: the API server answered a pod list without items", r);
        return;
    }
    const char *first = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it, "metadata"), "name");
        if (cJSON_IsString(n) && strlen(n->valuestring) <= K8S_TARGET_NAME_MAX &&
            (!first || strcmp(n->valuestring, first) < 0))
            first = n->valuestring;
    }
    if (!first) {
        o->start_state = OWNER_READ;         /* no pod: the Service stands for itself */
    } else {
        /* the walk starts at the pod, as if the signal had named it */
        snprintf(o->start_kind, sizeof o->start_kind, "Pod");
        snprintf(o->start_name, sizeof o->start_name, "%s", first);
    }
    cJSON_Delete(j);
    walk(o);
}

/* The Service is not kept as a fact: what it stands for depends on its pods' list. */
static void on_service(const k8s_response *r, void *ctx)
{
    op *o = ctx;
    if (r->status == 404) {
        o->start_state = OWNER_MISSING;      /* upstream: the Service itself, no error */
        walk(o);
        return;
    }
    if (r->status != 200) {
        op_unavailable(o, "owner resolution: the Service cannot be read", r);
        return;
    }
    const cJSON *meta;
    cJSON *j = parse_object(o, r, &meta);
    if (!j) return;
    o->start_label = managed_label(meta);
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "spec"), "selector");
    bool listed = selector_path(o, sel);
    cJSON_Delete(j);
    if (listed) {
        get(o, on_service_pods);
        return;
    }
    o->start_state = OWNER_READ;
    walk(o);
}

/* ---- start ---------------------------------------------------------------------------------------------- */

/* Starts o's walk (tc, kc, key and, with kc, the rest set) for ns/kind/name: the resource,
 * or a Service read first. */
static void op_start(op *o, const char *ns, const char *kind, const char *name)
{
    o->started = time_mono_ms();
    o->deadline = o->started + o->tc->o.timeout_ms;
    o->max_age = fact_ttl(o->tc);
    o->result = SGW_E_AGAIN;
    snprintf(o->ns, sizeof o->ns, "%s", ns_valid(ns) ? ns : "");
    snprintf(o->start_kind, sizeof o->start_kind, "%s", kind);
    snprintf(o->start_name, sizeof o->start_name, "%s", name);
    o->start_state = OWNER_UNREAD;
    o->start_label = -1;
    o->starting = true;
    if (strcmp(kind, "Service") != 0) {
        walk(o);
    } else if (object_path(o, kind_lookup(kind), name)) {
        get(o, on_service);
    } else {
        o->start_state = OWNER_MISSING;      /* a name no Service has: its namespace decides */
        walk(o);
    }
}

/* The answer that reads nothing, or SGW_E_AGAIN with key set. */
static int answer_now(k8s_target_cache *tc, const char *ns, const char *kind, const char *name, k8s_target *out,
                      char key[400])
{
    size_t kl = strlen(kind), nl = strlen(name);
    if (kl == 0 || kl > K8S_TARGET_KIND_MAX || nl == 0 || nl > K8S_TARGET_NAME_MAX) return SGW_E_INVALID;
    const kind_info *ki = kind_lookup(kind);
    bool service = ki && strcmp(kind, "Service") == 0, cluster = is_cluster_scoped(kind), ns_ok = ns_valid(ns);
    /* upstream reads the resource and finds nothing: the signal is dropped */
    if (ki && !service && ((ki->namespaced && !ns_ok) || !name_valid(name))) return SGW_E_NOTFOUND;
    /* nothing to read: an unknown kind has no label upstream reads, a Service outside any
     * namespace stands for itself, and there is no namespace to ask */
    if ((!ki || service) && (cluster || !ns_ok)) {
        set_target(out, kind, name, 0, cluster || !*ns ? K8S_SCOPE_NO_LABEL : K8S_SCOPE_NO_NAMESPACE);
        return K8S_TARGET_UNMANAGED;
    }
    make_key(key, ns, kind, name);
    int status;
    if (cache_get(tc, key, time_mono_ms(), &status, out)) return status;
    /* the facts of earlier reads may answer it: the walk, reading nothing */
    op o;
    memset(&o, 0, sizeof o);
    o.tc = tc;
    memcpy(o.key, key, sizeof o.key);
    op_start(&o, ns, kind, name);
    if (o.result >= 0) *out = o.t;
    return o.result;
}

int k8s_target_try(k8s_target_cache *tc, k8s_client *kc, const char *ns, const char *kind, const char *name,
                   k8s_target *out)
{
    char key[400];
    int r = answer_now(tc, ns ? ns : "", kind, name, out, key);
    if (r == SGW_E_AGAIN && !kc) return SGW_E_UNAVAILABLE;
    return r;
}

typedef struct hit {
    k8s_target_cb cb;
    void         *ctx;
    k8s_target    t;
} hit;

static void deliver(int status, void *ctx)
{
    hit *h = ctx;
    h->cb(status, status >= 0 ? &h->t : NULL, h->ctx);
    free(h);
}

void k8s_target_resolve(k8s_target_cache *tc, k8s_client *kc, defer_queue *dq, const char *ns, const char *kind,
                        const char *name, k8s_target_cb cb, void *ctx)
{
    if (!ns) ns = "";
    hit *h = xcalloc(1, sizeof *h);
    char key[400];
    int r = answer_now(tc, ns, kind, name, &h->t, key);
    if (r == SGW_E_AGAIN && !kc) r = SGW_E_UNAVAILABLE;
    if (r != SGW_E_AGAIN) {
        h->cb = cb;
        h->ctx = ctx;
        defer_call(dq, deliver, r, h);
        return;
    }
    free(h);
    /* the same question in flight on this client: wait for its answer */
    char fkey[420];
    snprintf(fkey, sizeof fkey, "%p %s", (void *)kc, key);
    pthread_mutex_lock(&tc->mu);
    flight *f = strmap_get(&tc->inflight, fkey);
    if (f) {
        if (f->n == f->cap) {
            f->cap = f->cap ? 2 * f->cap : 4;
            f->w = xrealloc(f->w, f->cap * sizeof *f->w);
        }
        f->w[f->n++] = (waiter){cb, ctx};
        pthread_mutex_unlock(&tc->mu);
        return;
    }
    strmap_put(&tc->inflight, fkey, xcalloc(1, sizeof(flight)));
    pthread_mutex_unlock(&tc->mu);
    op *o = xcalloc(1, sizeof *o);
    memcpy(o->fkey, fkey, sizeof fkey);
    memcpy(o->key, key, sizeof key);
    o->tc = tc;
    o->kc = kc;
    o->dq = dq;
    o->cb = cb;
    o->ctx = ctx;
    const trace_ctx *cur = trace_current();
    if (cur) {
        o->trace = *cur;
        o->traced = true;
    }
    op_start(o, ns, kind, name);
    o->starting = false;                     /* (an answer found at once waits in dq meanwhile) */
}

/* ---- the fingerprint ------------------------------------------------------------------------------------ */

void k8s_target_fingerprint(const char *cluster, const char *ns, const char *kind, const char *name, char out[65])
{
    const char *parts[4] = {cluster, ns, kind, name};
    int first = cluster && *cluster ? 0 : 1;
    size_t total = 0;
    for (int i = first; i < 4; i++) {
        if (!parts[i]) parts[i] = "";
        total += strlen(parts[i]) + 1;
    }
    char stackbuf[1024];
    char *buf = total <= sizeof stackbuf ? stackbuf : xmalloc(total);
    size_t off = 0;
    for (int i = first; i < 4; i++) {
        if (i > first) buf[off++] = ':';
        size_t l = strlen(parts[i]);
        memcpy(buf + off, parts[i], l);
        off += l;
    }
    hash_sha256_hex(buf, off, out);
    if (buf != stackbuf) free(buf);
}
