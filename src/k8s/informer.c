/* informer.c: list+watch for one collection; see informer.h.
 *
 * One thing is out at a time: a list page, a watch, or the timer before the next of them.
 * A list's pages are kept until the last one came, then handed over in one go
 * (LIST_BEGIN, LIST_ITEM..., LIST_END, within one loop callback); the watch starts from the
 * first page's resourceVersion (a real server serves every page from that snapshot; a
 * server that does not can only repeat events, never lose them). Each event moves the
 * resourceVersion on; a watch that ends normally is started again from it; a 410 (as an
 * HTTP status or an ERROR event) lists again; anything else waits a jittered backoff and
 * watches again from the same resourceVersion.
 * Freeing: k8s_informer_free marks the informer closing and cancels what it can; the memory
 * goes when the last of its list request, its watch and its timer has come back
 * (maybe_release), so that no callback of the client ever finds it freed. */
#include "k8s/informer.h"
#include "util/err.h"
#include "util/health.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define RV_MAX   128            /* an etcd revision is 20 digits; the string is opaque */
#define URL_MAX  4096           /* the client's URL buffer */

/* what a watch line decided (apply_line) */
enum { LINE_OK = 0, LINE_RELIST = 1, LINE_RETRY = 2 };

typedef enum { NEXT_LIST, NEXT_WATCH } next_step;

struct k8s_informer {
    k8s_client       *c;
    uv_timer_t        timer;          /* the wait before the next list or watch */
    next_step         next;
    k8s_informer_cb   cb;
    void             *ctx;
    char             *path;
    char             *selectors;      /* "&labelSelector=...&fieldSelector=..." encoded, or "" */
    char             *name;
    k8s_informer_opts o;              /* numbers only: the strings are the fields above */
    char              rv[RV_MAX];     /* where the next watch starts */
    /* the list in progress */
    bool              list_out;       /* a page request is out */
    char              list_rv[RV_MAX];
    char             *cont;           /* the next page's continue token */
    cJSON            *items;          /* the pages' items so far; NULL before the first page */
    bool              listed;         /* a complete list was delivered */
    /* the watch */
    k8s_watch        *watch;
    int64_t           watch_t0;
    uint64_t          watch_lines;    /* events and bookmarks it delivered */
    int               after_watch;    /* LINE_RELIST / LINE_RETRY: what a line decided */
    char              watch_err[256];
    int               fails;          /* consecutive failures: the backoff's exponent */
    uint64_t          seed;
    health            synced;
    _Atomic uint64_t  n_lists, n_relists, n_watches, n_events, n_bookmarks, n_errors;
    int               depth;          /* inside the owner's callback */
    bool              started, closing, timer_closed;
};

static void list_page(k8s_informer *inf);
static void watch_start(k8s_informer *inf);

/* ---- helpers -------------------------------------------------------------------------------- */

static uint64_t next_random(k8s_informer *inf)
{
    inf->seed ^= inf->seed << 13;
    inf->seed ^= inf->seed >> 7;
    inf->seed ^= inf->seed << 17;
    return inf->seed;
}

static void count(_Atomic uint64_t *n) { atomic_fetch_add_explicit(n, 1, memory_order_relaxed); }

/* The delay before the next try after inf->fails consecutive failures: drawn from
 * [base/2, base], base = backoff_ms doubling per failure, at most backoff_max_ms. */
static uint64_t backoff(k8s_informer *inf)
{
    int shift = inf->fails > 1 ? inf->fails - 1 : 0;
    if (shift > 16) shift = 16;
    int64_t base = (int64_t)inf->o.backoff_ms << shift;
    if (base > inf->o.backoff_max_ms) base = inf->o.backoff_max_ms;
    return (uint64_t)(base / 2) + next_random(inf) % (uint64_t)(base / 2 + 1);
}

/* Appends "&key=" and value percent-encoded (all but RFC 3986's unreserved characters). */
static void query_add(char *out, size_t cap, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(out);
    int k = snprintf(out + n, cap > n ? cap - n : 0, "&%s=", key);
    if (k < 0 || (size_t)k >= cap - n) return;
    n += (size_t)k;
    for (const unsigned char *p = (const unsigned char *)value; *p && n + 4 < cap; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~') {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
}

/* obj.metadata.resourceVersion, or NULL when absent, empty or too long */
static const char *object_rv(const cJSON *obj)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
    if (!cJSON_IsString(rv) || !rv->valuestring[0] || strlen(rv->valuestring) >= RV_MAX) return NULL;
    return rv->valuestring;
}

/* The Status object's message in a non-2xx body, else "" */
static void status_message(const char *body, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    if (cJSON_IsString(m)) snprintf(out, cap, ": %s", m->valuestring);
    cJSON_Delete(j);
}

static void deliver(k8s_informer *inf, k8s_informer_event ev, const cJSON *obj)
{
    if (inf->closing) return;
    inf->depth++;
    inf->cb(ev, obj, inf->ctx);
    inf->depth--;
}

static void release(k8s_informer *inf)
{
    health_destroy(&inf->synced);
    cJSON_Delete(inf->items);
    free(inf->cont);
    free(inf->path);
    free(inf->selectors);
    free(inf->name);
    free(inf);
}

/* Frees inf once it is closing and nothing of it is out. Every entry point from the loop
 * ends with this, and touches inf no more. */
static void maybe_release(k8s_informer *inf)
{
    if (inf->closing && inf->depth == 0 && !inf->watch && !inf->list_out && inf->timer_closed) release(inf);
}

static void on_timer(uv_timer_t *t)
{
    k8s_informer *inf = t->data;
    if (inf->next == NEXT_LIST) list_page(inf);
    else watch_start(inf);
}

static void schedule(k8s_informer *inf, next_step next, uint64_t delay_ms)
{
    inf->next = next;
    uv_timer_start(&inf->timer, on_timer, delay_ms, 0);
}

/* ---- listing -------------------------------------------------------------------------------- */

static void list_reset(k8s_informer *inf)
{
    cJSON_Delete(inf->items);
    inf->items = NULL;
    free(inf->cont);
    inf->cont = NULL;
    inf->list_rv[0] = '\0';
}

/* A page failed: the list starts again from its first page after a delay. */
static void list_failed(k8s_informer *inf, const char *reason, bool not_served)
{
    count(&inf->n_errors);
    inf->fails++;
    list_reset(inf);
    char why[512];
    if (not_served) snprintf(why, sizeof why, "the API server does not serve %s: is the CRD installed?", inf->path);
    else snprintf(why, sizeof why, "%s not synced: list: %s", inf->name, reason);
    if (!inf->listed) health_set(&inf->synced, false, why);
    log_line l;
    if (log_begin(&l, inf->fails == 1 ? LOG_WARN : LOG_DEBUG, "kubernetes list failed")) {
        log_str(&l, "path", inf->path);
        log_str(&l, "error", not_served ? why : reason);
        log_end(&l);
    }
    schedule(inf, NEXT_LIST, not_served ? (uint64_t)inf->o.notfound_retry_ms : backoff(inf));
}

/* The last page came: the whole list goes to the owner, then the watch starts. */
static void list_done(k8s_informer *inf)
{
    cJSON *items = inf->items;
    inf->items = NULL;
    free(inf->cont);
    inf->cont = NULL;
    memcpy(inf->rv, inf->list_rv, sizeof inf->rv);
    int n = cJSON_GetArraySize(items);
    deliver(inf, K8S_INFORMER_LIST_BEGIN, NULL);
    for (const cJSON *it = items ? items->child : NULL; it && !inf->closing; it = it->next)
        deliver(inf, K8S_INFORMER_LIST_ITEM, it);
    deliver(inf, K8S_INFORMER_LIST_END, NULL);
    cJSON_Delete(items);
    count(&inf->n_lists);
    inf->fails = 0;
    log_line l;
    if (log_begin(&l, inf->listed ? LOG_DEBUG : LOG_INFO, "kubernetes cache listed")) {
        log_str(&l, "path", inf->path);
        log_int(&l, "items", n);
        log_str(&l, "resourceVersion", inf->rv);
        log_end(&l);
    }
    inf->listed = true;
    health_set(&inf->synced, true, NULL);
    if (!inf->closing) watch_start(inf);
}

/* One page's answer (200): its items are kept; 0, or SGW_E_PROTOCOL with the reason. */
static int list_take_page(k8s_informer *inf, const char *body, size_t len, char *why, size_t cap)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(j, "metadata");
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
    const cJSON *cont = cJSON_GetObjectItemCaseSensitive(md, "continue");
    cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
    if (!cJSON_IsObject(j) || !cJSON_IsString(rv) || !rv->valuestring[0] || strlen(rv->valuestring) >= RV_MAX ||
        !(cJSON_IsArray(items) || cJSON_IsNull(items) || !items)) {
        snprintf(why, cap, "the answer is not a list with a resourceVersion");
        cJSON_Delete(j);
        return SGW_E_PROTOCOL;
    }
    if (!inf->items) {
        inf->items = cJSON_CreateArray();
        snprintf(inf->list_rv, sizeof inf->list_rv, "%s", rv->valuestring);
    }
    while (cJSON_IsArray(items) && items->child) cJSON_AddItemToArray(inf->items, cJSON_DetachItemViaPointer(items, items->child));
    free(inf->cont);
    inf->cont = cJSON_IsString(cont) && cont->valuestring[0] ? xstrdup(cont->valuestring) : NULL;
    cJSON_Delete(j);
    return 0;
}

static void on_list(const k8s_response *r, void *ctx)
{
    k8s_informer *inf = ctx;
    inf->list_out = false;
    if (inf->closing) {
        maybe_release(inf);
        return;
    }
    char why[512];
    if (r->status == 200) {
        if (list_take_page(inf, r->body, r->len, why, sizeof why) < 0) list_failed(inf, why, false);
        else if (inf->cont) list_page(inf);
        else list_done(inf);
    } else if (r->status == 404) {
        list_failed(inf, "404", true);
    } else if (r->status == 0) {
        list_failed(inf, r->error ? r->error : "no answer", false);
    } else {
        char msg[300];
        status_message(r->body, r->len, msg, sizeof msg);
        snprintf(why, sizeof why, "HTTP %d%s", r->status, msg);
        list_failed(inf, why, false);
    }
    maybe_release(inf);
}

static void list_page(k8s_informer *inf)
{
    char url[URL_MAX];
    snprintf(url, sizeof url, "%s?limit=%d", inf->path, inf->o.page_size);
    if (inf->cont) query_add(url, sizeof url, "continue", inf->cont);
    size_t n = strlen(url);
    snprintf(url + n, sizeof url - n, "%s", inf->selectors);
    inf->list_out = true;
    k8s_request(inf->c, "GET", url, NULL, NULL, 0, 0, on_list, inf);
}

/* ---- watching ------------------------------------------------------------------------------- */

/* One watch line: an event goes to the owner, a bookmark moves the resourceVersion. Returns
 * LINE_OK, or LINE_RELIST (the resourceVersion is gone) or LINE_RETRY (a line we cannot
 * use: watch again from the last good resourceVersion) with the reason in why. */
static int apply_line(k8s_informer *inf, const char *line, size_t len, char *why, size_t cap)
{
    cJSON *j = cJSON_ParseWithLength(line, len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(j, "object");
    int ret = LINE_OK;
    if (!cJSON_IsString(type) || !cJSON_IsObject(obj)) {
        snprintf(why, cap, "watch: a line that is not an event {type, object}");
        ret = LINE_RETRY;
        goto out;
    }
    const char *t = type->valuestring;
    if (strcmp(t, "ERROR") == 0) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
        int c = cJSON_IsNumber(code) ? code->valueint : 0;
        snprintf(why, cap, "watch: ERROR event, code %d: %s", c, cJSON_IsString(msg) ? msg->valuestring : "");
        ret = c == 410 ? LINE_RELIST : LINE_RETRY;
        goto out;
    }
    k8s_informer_event ev = K8S_INFORMER_ADDED;
    bool bookmark = strcmp(t, "BOOKMARK") == 0;
    if (strcmp(t, "ADDED") == 0) ev = K8S_INFORMER_ADDED;
    else if (strcmp(t, "MODIFIED") == 0) ev = K8S_INFORMER_MODIFIED;
    else if (strcmp(t, "DELETED") == 0) ev = K8S_INFORMER_DELETED;
    else if (!bookmark) {
        snprintf(why, cap, "watch: an event of unknown type \"%.40s\"", t);
        ret = LINE_RETRY;
        goto out;
    }
    const char *rv = object_rv(obj);
    if (!rv) {
        snprintf(why, cap, "watch: a %s event without metadata.resourceVersion", t);
        ret = LINE_RETRY;
        goto out;
    }
    snprintf(inf->rv, sizeof inf->rv, "%s", rv);
    inf->watch_lines++;
    if (bookmark) {
        count(&inf->n_bookmarks);
    } else {
        count(&inf->n_events);
        deliver(inf, ev, obj);
    }
out:
    cJSON_Delete(j);
    return ret;
}

static void on_watch_line(const char *line, size_t len, void *ctx)
{
    k8s_informer *inf = ctx;
    if (inf->closing || inf->after_watch) return;
    char why[512];
    int act = apply_line(inf, line, len, why, sizeof why);
    if (act == LINE_OK) {
        inf->fails = 0;
    } else if (!inf->closing) {
        inf->after_watch = act;
        snprintf(inf->watch_err, sizeof inf->watch_err, "%s", why);
        k8s_watch_cancel(inf->watch);   /* on_watch_end acts on after_watch */
    }
    /* no maybe_release: the watch is out until on_watch_end */
}

static void watch_failed(k8s_informer *inf, const char *why)
{
    count(&inf->n_errors);
    inf->fails++;
    log_line l;
    if (log_begin(&l, inf->fails == 1 ? LOG_INFO : LOG_DEBUG, "kubernetes watch failed")) {
        log_str(&l, "path", inf->path);
        log_str(&l, "resourceVersion", inf->rv);
        log_str(&l, "error", why);
        log_end(&l);
    }
    schedule(inf, NEXT_WATCH, backoff(inf));
}

static void relist(k8s_informer *inf, const char *why)
{
    count(&inf->n_relists);
    log_line l;
    if (log_begin(&l, LOG_INFO, "kubernetes watch: resourceVersion gone, listing again")) {
        log_str(&l, "path", inf->path);
        log_str(&l, "resourceVersion", inf->rv);
        log_str(&l, "error", why);
        log_end(&l);
    }
    /* at once the first time; a server that keeps answering 410 is backed off from */
    inf->fails++;
    schedule(inf, NEXT_LIST, inf->fails == 1 ? 0 : backoff(inf));
}

static void on_watch_end(const k8s_watch_end *e, void *ctx)
{
    k8s_informer *inf = ctx;
    inf->watch = NULL;
    int after = inf->after_watch;
    inf->after_watch = 0;
    if (inf->closing || (e->result == K8S_WATCH_E_CANCELLED && !after)) {
        maybe_release(inf);   /* closing, or the client was freed: nothing more to do */
        return;
    }
    char why[512];
    if (after == LINE_RELIST) {
        relist(inf, inf->watch_err);
    } else if (after == LINE_RETRY) {
        watch_failed(inf, inf->watch_err);
    } else if (e->result == K8S_WATCH_E_STATUS && e->status == 410) {
        char msg[300];
        status_message(e->body, e->len, msg, sizeof msg);
        snprintf(why, sizeof why, "watch: HTTP 410%s", msg);
        relist(inf, why);
    } else if (e->result == K8S_WATCH_EOF) {
        /* the server's timeoutSeconds: watch on at once, unless it ended with nothing at all
         * almost at once, which is no progress and waits like a failure */
        if (inf->watch_lines > 0 || time_mono_ms() - inf->watch_t0 >= 1000) watch_start(inf);
        else watch_failed(inf, "watch: the server ended it at once");
    } else if (e->result == K8S_WATCH_E_STATUS) {
        char msg[300];
        status_message(e->body, e->len, msg, sizeof msg);
        snprintf(why, sizeof why, "watch: HTTP %d%s", e->status, msg);
        watch_failed(inf, why);
    } else {
        snprintf(why, sizeof why, "watch: %s", e->error ? e->error : "failed");
        watch_failed(inf, why);
    }
    maybe_release(inf);
}

static void watch_start(k8s_informer *inf)
{
    int t = inf->o.watch_timeout_s + (int)(next_random(inf) % (uint64_t)inf->o.watch_timeout_s);
    char url[URL_MAX];
    snprintf(url, sizeof url, "%s?watch=true&allowWatchBookmarks=true&timeoutSeconds=%d", inf->path, t);
    query_add(url, sizeof url, "resourceVersion", inf->rv);
    size_t n = strlen(url);
    snprintf(url + n, sizeof url - n, "%s", inf->selectors);
    k8s_watch_opts wo = {
        .idle_timeout_ms = inf->o.idle_timeout_ms < 0    ? 0
                           : inf->o.idle_timeout_ms == 0 ? t * 1000 + 60000
                                                         : inf->o.idle_timeout_ms,
    };
    inf->watch_t0 = time_mono_ms();
    inf->watch_lines = 0;
    inf->after_watch = 0;
    count(&inf->n_watches);
    inf->watch = k8s_watch_start(inf->c, url, &wo, on_watch_line, on_watch_end, inf);
}

/* ---- lifetime ------------------------------------------------------------------------------- */

k8s_informer *k8s_informer_new(k8s_client *c, const k8s_informer_opts *o, k8s_informer_cb cb, void *ctx, char *err,
                               size_t errlen)
{
    if (!o->path || o->path[0] != '/' || strchr(o->path, '?') || strlen(o->path) > 1024) {
        snprintf(err, errlen, "informer: the path must start with \"/\", hold no query and be at most 1024 bytes");
        return NULL;
    }
    k8s_informer *inf = xcalloc(1, sizeof *inf);
    inf->c = c;
    inf->cb = cb;
    inf->ctx = ctx;
    inf->o = *o;
    inf->o.path = inf->o.label_selector = inf->o.field_selector = inf->o.name = NULL;
    if (inf->o.page_size <= 0) inf->o.page_size = 500;
    if (inf->o.watch_timeout_s <= 0) inf->o.watch_timeout_s = 300;
    if (inf->o.backoff_ms <= 0) inf->o.backoff_ms = 200;
    if (inf->o.backoff_max_ms <= 0) inf->o.backoff_max_ms = 5000;
    if (inf->o.backoff_max_ms < inf->o.backoff_ms) inf->o.backoff_max_ms = inf->o.backoff_ms;
    if (inf->o.notfound_retry_ms <= 0) inf->o.notfound_retry_ms = 30000;
    inf->path = xstrdup(o->path);
    char sel[2048] = "";
    if (o->label_selector && o->label_selector[0]) query_add(sel, sizeof sel, "labelSelector", o->label_selector);
    if (o->field_selector && o->field_selector[0]) query_add(sel, sizeof sel, "fieldSelector", o->field_selector);
    inf->selectors = xstrdup(sel);
    if (o->name) {
        inf->name = xstrdup(o->name);
    } else {
        size_t n = strlen(o->path) + 16;
        inf->name = xmalloc(n);
        snprintf(inf->name, n, "cache of %s", o->path);
    }
    char why[512];
    snprintf(why, sizeof why, "%s not synced: not listed yet", inf->name);
    health_init(&inf->synced, why);
    if (getrandom(&inf->seed, sizeof inf->seed, 0) != sizeof inf->seed || !inf->seed) inf->seed = 0x9e3779b97f4a7c15ULL;
    uv_timer_init(k8s_client_loop(c), &inf->timer);
    inf->timer.data = inf;
    return inf;
}

void k8s_informer_start(k8s_informer *inf)
{
    if (inf->started || inf->closing) return;
    inf->started = true;
    list_page(inf);   /* k8s_request answers from the loop, never inside this call */
}

static void timer_closed(uv_handle_t *h)
{
    k8s_informer *inf = h->data;
    inf->timer_closed = true;
    maybe_release(inf);
}

void k8s_informer_free(k8s_informer *inf)
{
    if (!inf || inf->closing) return;
    inf->closing = true;
    if (inf->watch) k8s_watch_cancel(inf->watch);
    uv_close((uv_handle_t *)&inf->timer, timer_closed);
}

int k8s_informer_synced(k8s_informer *inf, char *why, size_t cap) { return health_get(&inf->synced, why, cap); }

void k8s_informer_stats_get(k8s_informer *inf, k8s_informer_stats *out)
{
    out->lists = atomic_load_explicit(&inf->n_lists, memory_order_relaxed);
    out->relists = atomic_load_explicit(&inf->n_relists, memory_order_relaxed);
    out->watches = atomic_load_explicit(&inf->n_watches, memory_order_relaxed);
    out->events = atomic_load_explicit(&inf->n_events, memory_order_relaxed);
    out->bookmarks = atomic_load_explicit(&inf->n_bookmarks, memory_order_relaxed);
    out->errors = atomic_load_explicit(&inf->n_errors, memory_order_relaxed);
}

const char *k8s_informer_resource_version(const k8s_informer *inf) { return inf->rv; }
