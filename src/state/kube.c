/* kube.c: the state store kept in the Kubernetes API; see kube.h.
 * Per worker, one writer per RR: duplicates wait in its queue; one merge patch of
 * status.deduplication (with the resourceVersion as precondition) counts all that waited,
 * at most once per status_interval_ms; a 409 re-reads the RR and tries again, an RR gone or
 * no longer active sends its waiters back to decide. */
#include "state/kube.h"
#include "metrics.h"
#include "sink/rr.h"
#include "util/log.h"
#include "util/strmap.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct batch {
    store_cb     cb;
    void        *ctx;
    int          outstanding;   /* duplicates whose count is not written yet, + 1 while deciding */
    int          status;
    rr_index    *ix;
    const char **claimed;       /* CREATE verdicts' fingerprints (the caller's arena) */
    size_t       nclaimed;
} batch;

typedef struct waiter {
    store_item *it;
    batch      *b;
    arena      *a;
    int64_t     deadline;    /* time_mono_ms: still queued then → decided again (the request's
                              * own processing deadline answers 503 from there) */
} waiter;

typedef struct kube_store kube_store;

typedef struct writer {
    kube_store *s;
    char        fp[65];
    char        name[64];
    waiter     *queued;      /* waiting for the next write */
    size_t      nq, capq;
    waiter     *flight;      /* counted by the write in flight */
    size_t      nf, capf;
    bool        inflight;
    bool        token;       /* holds the process's write token for this RR (rr_index) */
    bool        closing;     /* freed: its timer handle is closing, memory goes in its callback */
    int         conflicts;
    int64_t     deadline;    /* time_mono_ms of the flight's end */
    uv_timer_t  timer;
    bool        timer_on;
    bool        rereading;   /* the timer ends a conflict's pause, not an interval */
    char        rv_used[32]; /* the resourceVersion the last write carried */
    bool        reread_once; /* this flight read the RR: go on with what it said */
    uint64_t    rnd;         /* xorshift state for the conflict pauses */
    char        path[512];
} writer;

struct kube_store {
    store        base;
    uv_loop_t   *loop;
    k8s_client  *kc;
    rr_index    *ix;
    defer_queue *dq;
    store_kube_opts o;
    char        *ns;
    strmap       writers;     /* RR name → writer */
};

/* ---- batches ------------------------------------------------------------------------------ */

static void batch_release(batch *b)
{
    if (--b->outstanding > 0) return;
    /* a failed batch is not committed: its creations are not this process's any more */
    for (size_t i = 0; b->status < 0 && i < b->nclaimed; i++) rr_index_release(b->ix, b->claimed[i]);
    b->cb(b->status, b->ctx);
    free(b);
}

static void deferred_batch(int status, void *ctx)
{
    (void)status;
    batch_release(ctx);
}

/* ---- writers ------------------------------------------------------------------------------ */

static void writer_closed(uv_handle_t *h)
{
    writer *w = h->data;
    free(w->queued);
    free(w->flight);
    free(w);
}

/* an idle writer goes: memory follows the RRs being written, not every RR ever seen */
static void writer_maybe_free(writer *w)
{
    /* a write that ends at once (the RR no longer active) runs flight_done inside
     * writer_kick, so this can be reached twice for one writer */
    if (w->closing || w->inflight || w->nq || w->timer_on) return;
    w->closing = true;
    strmap_del(&w->s->writers, w->name);
    uv_close((uv_handle_t *)&w->timer, writer_closed);
}

static void write_step(writer *w);
static void writer_kick(writer *w);
static void on_timer(uv_timer_t *t);

typedef enum { FLIGHT_COUNTED, FLIGHT_REDECIDE, FLIGHT_FAILED } flight_end;

static void flight_done(writer *w, flight_end how, int64_t base, int64_t first_ms, int64_t last_ms)
{
    char ref[600];
    snprintf(ref, sizeof ref, "%s/%s", w->s->ns, w->name);
    for (size_t k = 0; k < w->nf; k++) {
        waiter *wt = &w->flight[k];
        store_item *it = wt->it;
        if (how == FLIGHT_COUNTED) {
            it->verdict = STORE_DUPLICATE;
            it->ref = arena_strdup(wt->a, ref);
            it->count = base + (int64_t)k + 1;
            it->first_seen_ms = first_ms;
            it->last_seen_ms = last_ms;
        } else if (how == FLIGHT_REDECIDE) {
            it->verdict = STORE_IN_PROGRESS;
        } else {
            wt->b->status = STORE_E_UNAVAILABLE;
        }
        batch_release(wt->b);
    }
    w->nf = 0;
    w->inflight = false;
    if (w->token) rr_index_write_end(w->s->ix, w->fp, w->name, time_mono_ms());
    w->token = false;
    if (how == FLIGHT_COUNTED)
        metrics_add("gateway_status_writes_total", "result=\"ok\"", 1);
    else
        metrics_add("gateway_status_writes_total", how == FLIGHT_REDECIDE ? "result=\"redecide\"" : "result=\"failed\"", 1);
    writer_kick(w);
    writer_maybe_free(w);
}

static void log_failure(const char *what, const writer *w, const k8s_response *r)
{
    log_line l;
    if (log_begin(&l, LOG_ERROR, what)) {
        log_str(&l, "remediation_request", w->name);
        log_int(&l, "status", r->status);
        if (r->error) log_str(&l, "error", r->error);
        else log_strn(&l, "body", r->body, r->len > 400 ? 400 : r->len);
        log_end(&l);
    }
}

/* a read or write answered with the object: it is the newest we know */
static bool put_answer(writer *w, const k8s_response *r)
{
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    if (j) rr_index_put(w->s->ix, j);
    cJSON_Delete(j);
    return j != NULL;
}

/* A read or write that did not succeed: a 404 (the RR is gone) sends the waiters back to
 * decide; anything else is logged and answered 503. */
static void flight_ends_badly(writer *w, const k8s_response *r, const char *what)
{
    if (r->status == 404) {
        rr_index_del(w->s->ix, w->fp, w->name);
        flight_done(w, FLIGHT_REDECIDE, 0, 0, 0);
    } else {
        log_failure(what, w, r);
        flight_done(w, FLIGHT_FAILED, 0, 0, 0);
    }
}

static void on_get(const k8s_response *r, void *ctx)
{
    writer *w = ctx;
    if (r->status == 200 && put_answer(w, r)) write_step(w);
    else flight_ends_badly(w, r, "RemediationRequest read failed");
}

static void reread(writer *w)
{
    k8s_request(w->s->kc, "GET", w->path, NULL, NULL, 0, w->deadline, on_get, w);
}

typedef struct patch_ctx {
    writer *w;
    int64_t base, first_ms, last_ms;
} patch_ctx;

static void on_patch(const k8s_response *r, void *ctx)
{
    patch_ctx pc = *(patch_ctx *)ctx;
    free(ctx);
    writer *w = pc.w;
    if (r->status == 200) {
        put_answer(w, r);
        flight_done(w, FLIGHT_COUNTED, pc.base, pc.first_ms, pc.last_ms);
    } else if (r->status == 409 && time_mono_ms() < w->deadline) {
        /* another replica (or the orchestrator) wrote it: read it again after a jittered
         * pause, so that writers racing for one RR fall out of step */
        metrics_add("gateway_status_conflicts_total", "", 1);
        w->conflicts++;
        int cap = w->s->o.status_interval_ms > 20 ? w->s->o.status_interval_ms : 20;
        w->rnd ^= w->rnd << 13;
        w->rnd ^= w->rnd >> 7;
        w->rnd ^= w->rnd << 17;
        uint64_t pause = w->rnd % (uint64_t)(cap * (w->conflicts < 4 ? w->conflicts : 4));
        w->rereading = true;
        uv_timer_start(&w->timer, on_timer, pause, 0);
    } else {
        flight_ends_badly(w, r, "RemediationRequest status write failed");
    }
}

/* Writes the flight's count on top of what the index holds, or sends it back to decide
 * when this RR is no longer the fingerprint's active one. */
static void write_step(writer *w)
{
    rr_lookup l;
    rr_index_lookup(w->s->ix, w->fp, time_now_ms(), 0, &l);
    if (!l.active || strcmp(l.name, w->name) != 0) {
        flight_done(w, FLIGHT_REDECIDE, 0, 0, 0);
        return;
    }
    if (!l.rv[0] || (l.first_seen_ms == 0 && !w->reread_once)) {   /* just created: the watch has not told us yet */
        if (w->reread_once && !l.rv[0]) {   /* read, yet not indexed (an object it cannot hold) */
            flight_done(w, FLIGHT_FAILED, 0, 0, 0);
            return;
        }
        w->reread_once = true;
        reread(w);
        return;
    }
    if (l.first_seen_ms == 0) l.first_seen_ms = time_now_ms();
    snprintf(w->rv_used, sizeof w->rv_used, "%s", l.rv);
    patch_ctx *pc = xmalloc(sizeof *pc);
    pc->w = w;
    pc->base = l.count;
    pc->first_ms = l.first_seen_ms;
    pc->last_ms = time_now_ms();
    char first[32], last[32], body[400];
    time_format_rfc3339(pc->first_ms, first);
    time_format_rfc3339(pc->last_ms, last);
    int n = snprintf(body, sizeof body,
                     "{\"metadata\":{\"resourceVersion\":\"%s\"},\"status\":{\"deduplication\":"
                     "{\"firstSeenAt\":\"%s\",\"lastSeenAt\":\"%s\",\"occurrenceCount\":%" PRId64 "}}}",
                     l.rv, first, last, l.count + (int64_t)w->nf);
    k8s_request(w->s->kc, "PATCH", w->path, "application/merge-patch+json", body, (size_t)n, w->deadline, on_patch, pc);
}

static void on_timer(uv_timer_t *t)
{
    writer *w = t->data;
    if (w->rereading) {
        /* the watch has usually brought the write that beat us by now: no read needed */
        w->rereading = false;
        rr_lookup l;
        rr_index_lookup(w->s->ix, w->fp, time_now_ms(), 0, &l);
        if (l.active && strcmp(l.name, w->name) == 0 && l.rv[0] && strcmp(l.rv, w->rv_used) != 0) write_step(w);
        else reread(w);
        return;
    }
    w->timer_on = false;
    writer_kick(w);
    writer_maybe_free(w);
}

/* Starts a write when one is due: nothing in flight, someone waiting, no other worker of
 * the process writing this RR, and the interval since the process's last write of it over
 * (a lone duplicate goes at once). */
/* Queued waiters past their deadline (the interval or another worker's write kept them
 * waiting that long) go back to decide, so no decide outlives server.processing_timeout by
 * more than one flight. */
static void expire_queued(writer *w, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < w->nq; i++) {
        waiter *wt = &w->queued[i];
        if (wt->deadline > now) {
            w->queued[k++] = *wt;
            continue;
        }
        wt->it->verdict = STORE_IN_PROGRESS;
        /* released from the loop, not here: its callback may decide again into this writer */
        defer_call(w->s->dq, deferred_batch, 0, wt->b);
    }
    w->nq = k;
}

static void writer_kick(writer *w)
{
    if (w->inflight || w->nq == 0 || w->timer_on) return;
    expire_queued(w, time_mono_ms());
    if (w->nq == 0) return;
    int64_t now = time_mono_ms(), wait;
    if (!rr_index_write_begin(w->s->ix, w->fp, w->name, now, w->s->o.status_interval_ms, &wait)) {
        w->timer_on = true;
        uv_timer_start(&w->timer, on_timer, (uint64_t)(wait > 0 ? wait : 1), 0);
        return;
    }
    w->token = true;
    waiter *t = w->flight;   /* swap the queues: the flight takes what waited */
    size_t tc = w->capf;
    w->flight = w->queued;
    w->nf = w->nq;
    w->capf = w->capq;
    w->queued = t;
    w->capq = tc;
    w->nq = 0;
    w->inflight = true;
    w->conflicts = 0;
    w->reread_once = false;
    w->deadline = now + w->s->o.timeout_ms;
    for (size_t i = 0; i < w->nf; i++)
        if (w->flight[i].deadline < w->deadline) w->deadline = w->flight[i].deadline;
    write_step(w);
}

static writer *writer_for(kube_store *s, const char *fp, const char *name)
{
    writer *w = strmap_get(&s->writers, name);
    if (w) return w;
    w = xcalloc(1, sizeof *w);
    w->s = s;
    /* replicas racing for one RR must not draw the same pauses */
    w->rnd = ((uint64_t)uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)w) | 1;
    snprintf(w->fp, sizeof w->fp, "%s", fp);
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->path, sizeof w->path, "/apis/kubernaut.ai/v1alpha1/namespaces/%s/remediationrequests/%s/status", s->ns, name);
    uv_timer_init(s->loop, &w->timer);
    w->timer.data = w;
    strmap_put(&s->writers, name, w);
    return w;
}

static writer *enqueue(kube_store *s, const char *fp, const char *name, store_item *it, batch *b, arena *a)
{
    writer *w = writer_for(s, fp, name);
    if (w->nq == w->capq) {
        w->capq = w->capq ? 2 * w->capq : 8;
        w->queued = xrealloc(w->queued, w->capq * sizeof *w->queued);
    }
    w->queued[w->nq++] = (waiter){it, b, a, time_mono_ms() + s->o.timeout_ms};
    b->outstanding++;
    return w;
}

/* ---- the store operations ---------------------------------------------------------------- */

static void k_decide(store *st, const store_params *p, store_item *items, size_t n, int64_t now_ms, arena *a,
                     store_cb cb, void *ctx)
{
    kube_store *s = (kube_store *)st;
    batch *b = xcalloc(1, sizeof *b);
    b->cb = cb;
    b->ctx = ctx;
    b->outstanding = 1;   /* released below, after every item is queued */
    char why[160];
    if (!s->o.synced(s->o.synced_arg, why, sizeof why)) {
        b->status = STORE_E_UNAVAILABLE;   /* what is active is not known yet: never guess */
        defer_call(s->dq, deferred_batch, 0, b);
        return;
    }
    writer **touched = arena_alloc(a, (n ? n : 1) * sizeof *touched);
    size_t nt = 0;
    b->ix = s->ix;
    b->claimed = arena_alloc(a, (n ? n : 1) * sizeof *b->claimed);
    for (size_t i = 0; i < n; i++) {
        store_item *it = &items[i];
        rr_lookup l;
        rr_index_lookup(s->ix, it->fingerprint, now_ms, it->resolved ? 0 : p->lease_ms, &l);
        if (it->resolved) {
            /* the RR's lifecycle is the orchestrator's: a resolution records nothing */
            it->verdict = STORE_RESOLVED;
            it->ref = l.active ? arena_printf(a, "%s/%s", s->ns, l.name) : NULL;
            it->count = l.active ? l.count : 0;
        } else if (l.active) {
            it->verdict = STORE_DUPLICATE;   /* confirmed (or turned back) by the write */
            writer *w = enqueue(s, it->fingerprint, l.name, it, b, a);
            if (w->nq == 1) touched[nt++] = w;
        } else if (l.in_progress) {
            it->verdict = STORE_IN_PROGRESS;
        } else {
            char name[64];
            rr_kai_name(it->fingerprint, l.next_seq, name);
            it->verdict = STORE_CREATE;
            it->ref = arena_printf(a, "%s/%s", s->ns, name);
            it->lease = (uint64_t)l.next_seq;
            b->claimed[b->nclaimed++] = it->fingerprint;
            it->sequence = l.next_seq;
            it->count = 1;
        }
    }
    /* the batch's duplicates queued first, so that one write counts them all; b holds a
     * reference until the deferred release, so no callback runs before this returns */
    for (size_t k = 0; k < nt; k++) writer_kick(touched[k]);
    defer_call(s->dq, deferred_batch, 0, b);
}

static void k_commit(store *st, const store_params *p, const store_commit *items, size_t n, int64_t now_ms,
                     store_cb cb, void *ctx)
{
    kube_store *s = (kube_store *)st;
    for (size_t i = 0; i < n; i++) {
        const store_commit *c = &items[i];
        const char *slash = c->ref ? strchr(c->ref, '/') : NULL;
        if ((c->ok || c->exists) && slash) rr_index_note_exists(s->ix, c->fingerprint, slash + 1, (int64_t)c->lease);
        rr_index_release(s->ix, c->fingerprint);
    }
    defer_call(s->dq, cb, STORE_OK, ctx);
}

/* storms are never folded in this contract: nothing to flush */
static void k_claim_flush(store *st, const store_params *p, int64_t now_ms, size_t max, arena *a, store_flush **out,
                          size_t *n, store_cb cb, void *ctx)
{
    *out = NULL;
    *n = 0;
    defer_call(((kube_store *)st)->dq, cb, STORE_OK, ctx);
}

static void k_flushed(store *st, const store_params *p, const store_flush *f, bool ok, int64_t now_ms, store_cb cb,
                      void *ctx)
{
    defer_call(((kube_store *)st)->dq, cb, STORE_OK, ctx);
}

static int k_ready(store *st, char *why, size_t cap)
{
    kube_store *s = (kube_store *)st;
    return s->o.synced(s->o.synced_arg, why, cap);
}

static int close_one(const char *key, void *value, void *ctx)
{
    writer *w = value;
    uv_close((uv_handle_t *)&w->timer, writer_closed);
    return 1;
}

static void k_close(store *st)
{
    kube_store *s = (kube_store *)st;
    strmap_sweep(&s->writers, close_one, NULL);
    strmap_free(&s->writers, NULL);
    free(s->ns);
    free(s);
}

static const store_ops kube_ops = {
    .name = "kubernetes",
    .counts_existing = true,
    .decide = k_decide,
    .commit = k_commit,
    .claim_flush = k_claim_flush,
    .flushed = k_flushed,
    .ready = k_ready,
    .close = k_close,
};

store *store_kube_open(uv_loop_t *loop, k8s_client *kc, rr_index *ix, defer_queue *dq, const store_kube_opts *o)
{
    kube_store *s = xcalloc(1, sizeof *s);
    s->base.ops = &kube_ops;
    s->loop = loop;
    s->kc = kc;
    s->ix = ix;
    s->dq = dq;
    s->o = *o;
    s->ns = xstrdup(o->rr_namespace);
    strmap_init(&s->writers);
    return &s->base;
}
