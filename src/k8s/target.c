/* target.c: a signal's owner and scope, as upstream Kubernaut decides them; see target.h.
 * One resolution is a chain of GETs on the worker's Kubernetes client: (a Service and the
 * Pods it selects,) the resource and its controllers, up to 5 reads; the owner again only
 * when the chain ran out of reads before reading it; its namespace only when the owner has
 * no managed label. The answers go into one process-wide table behind a mutex; the same
 * question asked again on the same client while it is being answered waits for that
 * answer instead of reading the chain again (20 identical alerts: one chain of reads). */
#include "k8s/target.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/strmap.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <assert.h>
#include <cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* upstream MaxOwnerChainDepth: reads of the chain, the resource's included */
#define MAX_CHAIN_READS 5

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

/* ---- the cache ---------------------------------------------------------------------------------------- */

typedef struct centry {
    struct centry *prev, *next;     /* insertion order, oldest first */
    char          *key;
    int            status;
    k8s_target     t;
    int64_t        expires;
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

/* true and the answer when key holds one that has not expired at now. */
static bool cache_get(k8s_target_cache *tc, const char *key, int64_t now, int *status, k8s_target *t)
{
    bool hit = false;
    pthread_mutex_lock(&tc->mu);
    centry *e = strmap_get(&tc->map, key);
    if (e && e->expires > now) {
        *status = e->status;
        *t = e->t;
        hit = true;
    } else if (e) {
        entry_drop(tc, e);
    }
    pthread_mutex_unlock(&tc->mu);
    return hit;
}

/* Keeps an answer; a full table first loses its oldest entry. t may be NULL (not found). */
static void cache_put(k8s_target_cache *tc, const char *key, int status, const k8s_target *t, int64_t now)
{
    int ttl = status == K8S_TARGET_MANAGED ? tc->o.ttl_ms : tc->o.negative_ttl_ms;
    pthread_mutex_lock(&tc->mu);
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
    e->status = status;
    if (t) e->t = *t;
    else memset(&e->t, 0, sizeof e->t);
    e->expires = now + ttl;
    pthread_mutex_unlock(&tc->mu);
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

/* ---- the answers that need no I/O ----------------------------------------------------------------- */

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
    return SGW_E_AGAIN;
}

int k8s_target_try(k8s_target_cache *tc, k8s_client *kc, const char *ns, const char *kind, const char *name,
                   k8s_target *out)
{
    char key[400];
    int r = answer_now(tc, ns ? ns : "", kind, name, out, key);
    if (r == SGW_E_AGAIN && !kc) return SGW_E_UNAVAILABLE;
    return r;
}

/* ---- one resolution ----------------------------------------------------------------------------------- */

typedef struct op {
    k8s_target_cache *tc;
    k8s_client       *kc;
    k8s_target_cb     cb;
    void             *ctx;
    int64_t           deadline;
    char              key[400];
    char              fkey[420];                           /* its in-flight entry's key */
    char              ns[64];
    char              cur_kind[K8S_TARGET_KIND_MAX + 1];   /* the object the chain reads next */
    char              cur_name[K8S_TARGET_NAME_MAX + 1];
    k8s_target        t;                                   /* the owner so far */
    int               reads;                               /* chain reads made */
    int               owner_label;                         /* t's managed label, as managed_label() */
    enum { OWNER_UNREAD, OWNER_READ, OWNER_MISSING } owner_state;
    bool              starting;                            /* inside k8s_target_resolve */
    char              path[2048];                          /* of the request in flight, for the log */
} op;

static void op_finish(op *o, int status)
{
    /* answer_now answers every input that needs no read: a resolution always waits for one */
    assert(!o->starting);
    if (status >= 0 || status == SGW_E_NOTFOUND)
        cache_put(o->tc, o->key, status, status >= 0 ? &o->t : NULL, time_mono_ms());
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

static void get(op *o, k8s_cb cb)
{
    k8s_request(o->kc, "GET", o->path, NULL, NULL, 0, o->deadline, cb, o);
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

static void scope_namespace(op *o);

static void on_namespace(const k8s_response *r, void *ctx)
{
    op *o = ctx;
    if (r->status == 404) {                 /* upstream: not an error, unmanaged */
        finish_scope(o, 0, K8S_SCOPE_NO_NAMESPACE);
        return;
    }
    if (r->status != 200) {
        op_unavailable(o, "scope check: the namespace cannot be read", r);
        return;
    }
    const cJSON *meta;
    cJSON *j = parse_object(o, r, &meta);
    if (!j) return;
    int label = managed_label(meta);
    cJSON_Delete(j);
    if (label < 0) finish_scope(o, 0, K8S_SCOPE_NO_LABEL);
    else finish_scope(o, label, K8S_SCOPE_NAMESPACE);
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
    get(o, on_namespace);
}

static void on_owner_label(const k8s_response *r, void *ctx)
{
    op *o = ctx;
    if (r->status == 200) {
        const cJSON *meta;
        cJSON *j = parse_object(o, r, &meta);
        if (!j) return;
        int label = managed_label(meta);
        cJSON_Delete(j);
        if (label >= 0) {
            finish_scope(o, label, K8S_SCOPE_RESOURCE);
            return;
        }
    } else if (r->status == 0 || r->status >= 500 || r->status == 429) {
        op_unavailable(o, "scope check: the owner cannot be read", r);
        return;
    } else if (r->status != 404) {
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
    /* a chain that ran out of reads names an owner it did not read: read it for its label */
    if (o->owner_state == OWNER_UNREAD && ki && object_path(o, ki, o->t.name)) {
        get(o, on_owner_label);
        return;
    }
    scope_namespace(o);
}

static void chain_step(op *o);

static void on_chain_read(const k8s_response *r, void *ctx)
{
    op *o = ctx;
    if (r->status == 404) {
        if (o->t.hops == 0) {
            op_finish(o, SGW_E_NOTFOUND);    /* the signal's resource itself: upstream drops it */
            return;
        }
        o->owner_state = OWNER_MISSING;      /* the chain ends at the owner the reference names */
        scope_start(o);
        return;
    }
    if (r->status != 200) {
        op_unavailable(o, "owner resolution: the API server did not answer a read", r);
        return;
    }
    const cJSON *meta;
    cJSON *j = parse_object(o, r, &meta);
    if (!j) return;
    const char *kind, *name;
    if (controller_ref(meta, &kind, &name)) {
        set_target(&o->t, kind, name, o->t.hops + 1, 0);
        snprintf(o->cur_kind, sizeof o->cur_kind, "%s", kind);
        snprintf(o->cur_name, sizeof o->cur_name, "%s", name);
        o->owner_state = OWNER_UNREAD;
        cJSON_Delete(j);
        chain_step(o);
        return;
    }
    o->owner_label = managed_label(meta);
    o->owner_state = OWNER_READ;
    cJSON_Delete(j);
    scope_start(o);
}

/* Reads cur_kind/cur_name for its controller reference, while reads are left and the kind
 * is one upstream reads. */
static void chain_step(op *o)
{
    const kind_info *ki = kind_lookup(o->cur_kind);
    if (!ki || o->reads >= MAX_CHAIN_READS) {
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
    o->reads++;
    get(o, on_chain_read);
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
    if (!first) {                            /* no pod: the Service stands for itself */
        cJSON_Delete(j);
        scope_start(o);
        return;
    }
    /* the chain starts again at the pod, as if the signal had named it */
    set_target(&o->t, "Pod", first, 0, 0);
    snprintf(o->cur_kind, sizeof o->cur_kind, "Pod");
    snprintf(o->cur_name, sizeof o->cur_name, "%s", first);
    o->owner_state = OWNER_UNREAD;
    cJSON_Delete(j);
    chain_step(o);
}

static void on_service(const k8s_response *r, void *ctx)
{
    op *o = ctx;
    if (r->status == 404) {
        o->owner_state = OWNER_MISSING;      /* upstream: the Service itself, no error */
        scope_start(o);
        return;
    }
    if (r->status != 200) {
        op_unavailable(o, "owner resolution: the Service cannot be read", r);
        return;
    }
    const cJSON *meta;
    cJSON *j = parse_object(o, r, &meta);
    if (!j) return;
    o->owner_label = managed_label(meta);
    o->owner_state = OWNER_READ;
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "spec"), "selector");
    bool listed = selector_path(o, sel);
    cJSON_Delete(j);
    if (listed) get(o, on_service_pods);
    else scope_start(o);
}

/* ---- start ---------------------------------------------------------------------------------------------- */

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
    o->tc = tc;
    o->kc = kc;
    o->cb = cb;
    o->ctx = ctx;
    o->deadline = time_mono_ms() + tc->o.timeout_ms;
    memcpy(o->key, key, sizeof key);
    snprintf(o->ns, sizeof o->ns, "%s", ns_valid(ns) ? ns : "");
    snprintf(o->cur_kind, sizeof o->cur_kind, "%s", kind);
    snprintf(o->cur_name, sizeof o->cur_name, "%s", name);
    set_target(&o->t, kind, name, 0, 0);
    o->owner_label = -1;
    o->owner_state = OWNER_UNREAD;
    o->starting = true;
    if (strcmp(kind, "Service") != 0) {
        chain_step(o);
    } else if (object_path(o, kind_lookup(kind), name)) {
        get(o, on_service);
    } else {
        o->owner_state = OWNER_MISSING;      /* a name no Service has: its namespace decides */
        scope_start(o);
    }
    o->starting = false;
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
