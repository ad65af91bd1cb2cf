/* redis.c: the Redis state store (store.h): the four store operations as script calls over
 * the worker loop's connection (redis_conn.h), and the batching that sends one loop
 * iteration's decide calls as one FCALL of decide.lua (EVALSHA where functions are refused). */
#include "state/redis.h"
#include "metrics.h"
#include "state/decide_plan.h"
#include "state/decide_reply.h"
#include "state/redis_conn.h"
#include "state/resp.h"
#include "state/storm_id.h"
#include "util/defer.h"
#include "util/log.h"
#include "util/xalloc.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct rstore {
    store              base;
    redis_conn         conn;
    defer_queue       *defer;         /* the worker's: answers known at once, and the batch flush */
    bool               closing;
    int                pending;       /* deferred entries naming this store, and after close the
                                       * connection: the memory goes when it is 0 and closing */
    /* decide calls of this loop iteration, sent as ONE script call from the defer queue */
    struct dentry     *dq;
    size_t             ndq, capdq, dq_items;
    store_params       dq_params;
    int64_t            dq_now;
    bool               flush_queued;  /* a decide_flush waits in the defer queue */
    bool               in_decide;     /* r_decide is on the stack: answers must be deferred */
    int                dq_inflight;   /* decide batches sent, not yet answered */
} rstore;

static void maybe_free(rstore *s);

/* ---- replies ----------------------------------------------------------------------- */

typedef struct op_ctx {
    store_cb    cb;
    void       *ctx;
    arena      *a;            /* claim: where the claimed windows go */
    store_flush **fout;
    size_t      *fn;
} op_ctx;

/* An integer reply, or a string that starts with one: 0, or STORE_E_PROTOCOL. */
static int reply_int(const redisReply *r, long long *out)
{
    if (!r) return STORE_E_PROTOCOL;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    if (r->type == REDIS_REPLY_STRING) {
        char *end;
        *out = strtoll(r->str, &end, 10);
        return end != r->str ? 0 : STORE_E_PROTOCOL;
    }
    return STORE_E_PROTOCOL;
}

static const char *reply_str(const redisReply *r, arena *a)
{
    if (!r || r->type != REDIS_REPLY_STRING) return NULL;
    return arena_strndup(a, r->str, r->len);
}

/* ---- decide, batched -------------------------------------------------------------------
 * Every decide() of one loop iteration (the requests whose bodies arrived together, the
 * rounds whose retry timers fired) goes to Redis as ONE script call from the worker's defer
 * queue (util/defer.h, defer_call_last), which runs in the iteration's check phase once
 * every other deferred callback has run: the requests read in this iteration, whose auth
 * answers wait in the same queue, have all joined the batch by then, and the batch goes out
 * without another wait for events. Up to
 * DECIDE_BATCH_MAX items; the first DECIDE_EAGER_ITEMS may go ahead (the eager flush
 * below). The script's fixed cost (the call, its 13 parameters, its set-up, the reply) is
 * paid once per batch, not once per request. decide.lua is atomic over its whole batch,
 * so the batch decides as if its requests had come as one webhook (the same fingerprint
 * twice: the later one waits, IN_PROGRESS, as it would behind another request's lease).
 * Calls with different parameters (a SIGHUP reload between them) go in different batches.
 * docs/decisions/006-redis-path-layers.md has what batching and the eager flush gain. */

#define DECIDE_BATCH_MAX 1000
#define DECIDE_EAGER_ITEMS 16

typedef struct dentry {
    store_item *items;
    size_t      n;
    arena      *a;
    store_cb    cb;
    void       *ctx;
} dentry;

typedef struct dbatch {
    rstore     *s;
    dentry     *e;
    size_t      ne, n_items;
    size_t      n_sent;    /* items sent: n_items, or fewer when an alert repeats */
    bool        planned;   /* plan holds how the sent items stand for the batch's */
    decide_plan plan;
} dbatch;

static void decide_reply(redisReply *r, const char *err, void *ctx)
{
    dbatch *b = ctx;
    b->s->dq_inflight--;   /* counted in decide_flush, answered or failed here exactly once */
    bool shape_ok = !err && decide_reply_shape_ok(r, b->n_sent);
    if (!err && !shape_ok) log_msg(LOG_ERROR, "redis: unexpected reply to decide", NULL, NULL);
    /* each caller's items are filled before its callback, which may free its request */
    size_t off = 0, win = b->n_sent;
    const decide_plan *pl = &b->plan;
    for (size_t k = 0; k < b->ne; k++) {
        dentry *e = &b->e[k];
        int status = err ? STORE_E_UNAVAILABLE
                   : !shape_ok ? STORE_E_PROTOCOL
                   : b->planned ? decide_reply_part_sent_once(r, pl->sent + off, pl->rank + off, pl->mult, e->n, &win,
                                                              e->items, e->a)
                   : decide_reply_part(r, off, e->n, &win, e->items, e->a);
        if (status == STORE_E_PROTOCOL && shape_ok) log_msg(LOG_ERROR, "redis: unexpected reply to decide", NULL, NULL);
        off += e->n;
        /* a failed eager write (redis_conn_write_now inside r_decide) fails the batch
         * before decide() returns: its answers wait for the defer queue then */
        if (b->s->in_decide) defer_call(b->s->defer, e->cb, status, e->ctx);
        else e->cb(status, e->ctx);
    }
    decide_plan_free(&b->plan);
    free(b->e);
    free(b);
}

/* An item's second argument (decide.lua item_at()): "resolved|firing_ms|len(name)|
 * len(namespace)|len(resource_id)|" then the three and the ref, back to back. One argument
 * instead of six: Redis makes an object and a Lua string for each, about 1 k instructions
 * apiece, and a duplicate needs none of them. decide_plan.c's same_alert() compares exactly
 * these fields (and the fingerprint): change both together. */
static void decide_item_meta(resp_cmd *cmd, const store_item *it)
{
    char head[1 + 1 + 21 + 3 * 21 + 1];
    size_t h = 0;
    head[h++] = it->resolved ? '1' : '0';
    head[h++] = '|';
    h += fmt_i64(head + h, it->firing_ms);
    head[h++] = '|';
    const char *parts[5] = {head, it->name ? it->name : "", it->namespace ? it->namespace : "",
                            it->resource_id ? it->resource_id : "", it->ref ? it->ref : ""};
    size_t lens[5];
    for (int k = 1; k < 5; k++) lens[k] = strlen(parts[k]);
    for (int k = 1; k < 4; k++) {
        h += fmt_u64(head + h, lens[k]);
        head[h++] = '|';
    }
    lens[0] = h;
    resp_parts(cmd, parts, lens, 5);
}

/* Writes batch b's decide call into cmd: FCALL of the function (EVALSHA of the script where
 * functions are refused), the parameters, the callers' sizes, the repeats, then each sent
 * item (docs/redis-keys.md, decide.lua's ARGV). all: the batch's items in order. */
static redis_call decide_encode(rstore *s, const dbatch *b, const store_item *const *all, resp_cmd *cmd)
{
    const store_params *p = &s->dq_params;
    const decide_plan *pl = &b->plan;
    size_t n = b->n_sent;
    redis_call call = redis_conn_begin(&s->conn, cmd, REDIS_SCRIPT_DECIDE, 14 + (int)n * 2, 512 + n * 256);
    resp_i64(cmd, s->dq_now);
    resp_i64(cmd, p->dedup_ttl_ms);
    resp_i64(cmd, p->lease_ms);
    resp_arg(cmd, p->storm_enabled ? "1" : "0", 1);
    resp_i64(cmd, p->rate_threshold);
    resp_i64(cmd, p->rate_window_ms);
    resp_i64(cmd, p->pattern_threshold);
    resp_i64(cmd, p->pattern_window_ms);
    resp_i64(cmd, p->storm_window_ms);
    resp_i64(cmd, p->storm_flag_ttl_ms);
    resp_i64(cmd, p->storm_max_resources);
    resp_i64(cmd, (int64_t)n);
    /* the callers' sizes (of what is sent for each): decide.lua keeps each caller's storm
     * groups apart; an alert sent once belongs to the caller of its first occurrence */
    char *buf = xmalloc((b->ne > n ? b->ne : n) * 22 + 1);
    size_t sl = 0;
    for (size_t k = 0, g = 0; k < b->ne; k++) {
        size_t part = 0;
        for (size_t i = 0; i < b->e[k].n; i++, g++) part += !b->planned || pl->rank[g] == 1;
        if (k) buf[sl++] = ',';
        sl += fmt_u64(buf + sl, part);
    }
    resp_arg(cmd, buf, sl);
    /* the repeats: "i:m,..." (1-based) for every item sent for m > 1 occurrences */
    sl = 0;
    for (size_t u = 0; b->planned && u < n; u++) {
        if (pl->mult[u] < 2) continue;
        if (sl) buf[sl++] = ',';
        sl += fmt_u64(buf + sl, u + 1);
        buf[sl++] = ':';
        sl += fmt_u64(buf + sl, pl->mult[u]);
    }
    resp_arg(cmd, buf, sl);
    free(buf);
    for (size_t u = 0; u < n; u++) {
        const store_item *it = all[b->planned ? pl->first[u] : u];
        resp_str(cmd, it->fingerprint);
        decide_item_meta(cmd, it);
    }
    return call;
}

/* The batch could not be sent: its callers fail, from the defer queue (never inside the
 * decide() that may have started the flush). */
static void decide_failed_deferred(int status, void *ctx)
{
    dbatch *b = ctx;
    rstore *s = b->s;
    decide_reply(NULL, "connection lost", b);
    s->pending--;
    maybe_free(s);
}

static void decide_fail(rstore *s, dbatch *b)
{
    s->pending++;
    defer_call(s->defer, decide_failed_deferred, STORE_E_UNAVAILABLE, b);
}

/* Sends the queued decide calls as one script call. */
static void decide_flush(rstore *s)
{
    if (!s->ndq) return;
    dbatch *b = xcalloc(1, sizeof *b);
    b->s = s;
    b->e = s->dq;
    b->ne = s->ndq;
    b->n_items = s->dq_items;
    s->dq = NULL;
    s->ndq = s->capdq = s->dq_items = 0;
    s->dq_inflight++;
    if (!redis_conn_ready(&s->conn)) {   /* lost since the calls were queued */
        decide_fail(s, b);
        return;
    }
    /* an alert several requests carry goes once (decide_plan.h); the batch's items in order */
    const store_item **all = xmalloc(b->n_items * sizeof *all);
    for (size_t k = 0, g = 0; k < b->ne; k++)
        for (size_t i = 0; i < b->e[k].n; i++) all[g++] = &b->e[k].items[i];
    b->planned = decide_plan_make(&b->plan, all, b->n_items);
    b->n_sent = b->planned ? b->plan.n_sent : b->n_items;
    resp_cmd cmd;
    redis_call call = decide_encode(s, b, all, &cmd);
    free(all);
    metrics_observe("gateway_redis_decide_batch_requests", "", (double)b->ne);
    /* decide is timed by the pipeline, for every store (op NULL) */
    if (redis_conn_send(&s->conn, &cmd, &call, NULL, decide_reply, b) < 0) decide_fail(s, b);
}

/* The eager flush: once DECIDE_EAGER_ITEMS alerts wait and Redis has no decide batch of
 * ours in hand, the batch goes out now and its bytes are written at once, so Redis works on
 * it while this iteration goes on reading requests (otherwise everything read in one
 * iteration waits for one write at the next poll, and gateway and Redis take turns instead
 * of overlapping). With a batch already in flight the rest waits for the iteration's end
 * as before, so under heavy load batches stay large and Redis' cost per alert does not grow.
 * The write is never made from inside a hiredis callback (redis_conn_write_now): a failed
 * write frees the context there. */
static void decide_flush_now(rstore *s)
{
    decide_flush(s);
    redis_conn_write_now(&s->conn);
}

static void on_flush_deferred(int status, void *ctx)
{
    rstore *s = ctx;
    s->flush_queued = false;
    if (!s->closing) decide_flush(s);
    s->pending--;
    maybe_free(s);
}

static bool params_equal(const store_params *a, const store_params *b)
{
    return a->dedup_ttl_ms == b->dedup_ttl_ms && a->lease_ms == b->lease_ms && a->storm_enabled == b->storm_enabled &&
           a->rate_threshold == b->rate_threshold && a->rate_window_ms == b->rate_window_ms &&
           a->pattern_threshold == b->pattern_threshold && a->pattern_window_ms == b->pattern_window_ms &&
           a->storm_window_ms == b->storm_window_ms && a->storm_flag_ttl_ms == b->storm_flag_ttl_ms &&
           a->storm_max_resources == b->storm_max_resources;
}

static void r_decide(store *st, const store_params *p, store_item *items, size_t n, int64_t now, arena *a,
                     store_cb cb, void *ctx)
{
    rstore *s = (rstore *)st;
    if (!redis_conn_ready(&s->conn) || s->closing) {
        defer_call(s->defer, cb, STORE_E_UNAVAILABLE, ctx);
        return;
    }
    if (s->ndq && (!params_equal(&s->dq_params, p) || s->dq_items + n > DECIDE_BATCH_MAX)) decide_flush(s);
    if (!s->ndq) {
        s->dq_params = *p;
        s->dq_now = now;
        if (!s->flush_queued) {
            s->flush_queued = true;
            s->pending++;
            defer_call_last(s->defer, on_flush_deferred, 0, s);
        }
    }
    if (now > s->dq_now) s->dq_now = now;
    if (s->ndq == s->capdq) {
        s->capdq = s->capdq ? s->capdq * 2 : 8;
        s->dq = xrealloc(s->dq, s->capdq * sizeof *s->dq);
    }
    s->dq[s->ndq++] = (dentry){items, n, a, cb, ctx};
    s->dq_items += n;
    if (s->dq_items >= DECIDE_EAGER_ITEMS && s->dq_inflight == 0) {
        s->in_decide = true;
        decide_flush_now(s);
        s->in_decide = false;
    }
}

static void simple_reply(redisReply *r, const char *err, void *ctx)
{
    op_ctx *o = ctx;
    store_cb cb = o->cb;
    void *uctx = o->ctx;
    free(o);
    cb(err ? STORE_E_UNAVAILABLE : STORE_OK, uctx);
}

static void r_commit(store *st, const store_params *p, const store_commit *items, size_t n, int64_t now, store_cb cb,
                     void *ctx)
{
    rstore *s = (rstore *)st;
    if (!redis_conn_ready(&s->conn)) {
        defer_call(s->defer, cb, STORE_E_UNAVAILABLE, ctx);
        return;
    }
    resp_cmd cmd;
    redis_call call = redis_conn_begin(&s->conn, &cmd, REDIS_SCRIPT_COMMIT, 3 + (int)n * 7, 256 + n * 192);
    resp_i64(&cmd, now);
    resp_i64(&cmd, p->dedup_ttl_ms);
    resp_i64(&cmd, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        resp_str(&cmd, items[i].fingerprint);
        resp_str(&cmd, items[i].name);
        resp_str(&cmd, items[i].namespace);
        resp_i64(&cmd, items[i].verdict);
        resp_u64(&cmd, items[i].lease);
        resp_arg(&cmd, items[i].ok ? "1" : "0", 1);
        resp_str(&cmd, items[i].ref);
    }
    op_ctx *o = xcalloc(1, sizeof *o);
    o->cb = cb;
    o->ctx = ctx;
    /* commit is timed by the pipeline, for every store (op NULL) */
    if (redis_conn_send(&s->conn, &cmd, &call, NULL, simple_reply, o) < 0) {
        free(o);
        defer_call(s->defer, cb, STORE_E_UNAVAILABLE, ctx);
    }
}

static void claim_reply(redisReply *r, const char *err, void *ctx)
{
    op_ctx *o = ctx;
    int status = STORE_OK;
    *o->fout = NULL;
    *o->fn = 0;
    if (err || !r || r->type != REDIS_REPLY_ARRAY) {
        status = err ? STORE_E_UNAVAILABLE : STORE_E_PROTOCOL;
        goto out;
    }
    store_flush *out = arena_calloc(o->a, (r->elements ? r->elements : 1) * sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        long long cnt, ls, start, lease;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 9 || reply_int(e->element[3], &cnt) < 0 ||
            reply_int(e->element[4], &ls) < 0 || reply_int(e->element[6], &start) < 0 ||
            reply_int(e->element[7], &lease) < 0)
            continue;
        store_flush *f = &out[n++];
        f->name = reply_str(e->element[0], o->a);
        f->namespace = reply_str(e->element[1], o->a);
        f->ref = reply_str(e->element[2], o->a);
        f->count = cnt;
        f->last_seen_ms = ls;
        f->storm_type = reply_str(e->element[5], o->a);
        f->lease = (uint64_t)lease;
        store_storm_id(f->name ? f->name : "", f->namespace ? f->namespace : "", start, f->storm_hash);
        redisReply *res = e->element[8];
        f->resources = arena_alloc(o->a, (res->elements ? res->elements : 1) * sizeof(char *));
        for (size_t k = 0; k < res->elements; k++) {
            const char *rs = reply_str(res->element[k], o->a);
            if (rs) f->resources[f->n_resources++] = rs;
        }
        if (!f->name || !f->namespace || !f->ref) n--;
    }
    *o->fout = out;
    *o->fn = n;
out:
    {
        store_cb cb = o->cb;
        void *uctx = o->ctx;
        free(o);
        cb(status, uctx);
    }
}

static void r_claim_flush(store *st, const store_params *p, int64_t now, size_t max, arena *a, store_flush **out,
                          size_t *n, store_cb cb, void *ctx)
{
    rstore *s = (rstore *)st;
    *out = NULL;
    *n = 0;
    if (!redis_conn_ready(&s->conn)) {
        defer_call(s->defer, cb, STORE_E_UNAVAILABLE, ctx);
        return;
    }
    resp_cmd cmd;
    redis_call call = redis_conn_begin(&s->conn, &cmd, REDIS_SCRIPT_CLAIM, 4, 256);
    resp_i64(&cmd, now);
    resp_i64(&cmd, p->storm_update_interval_ms);
    resp_i64(&cmd, p->lease_ms);
    resp_i64(&cmd, (int64_t)max);
    op_ctx *o = xcalloc(1, sizeof *o);
    *o = (op_ctx){.cb = cb, .ctx = ctx, .a = a, .fout = out, .fn = n};
    if (redis_conn_send(&s->conn, &cmd, &call, "claim", claim_reply, o) < 0) {
        free(o);
        defer_call(s->defer, cb, STORE_E_UNAVAILABLE, ctx);
    }
}

static void r_flushed(store *st, const store_params *p, const store_flush *f, bool ok, int64_t now, store_cb cb,
                      void *ctx)
{
    rstore *s = (rstore *)st;
    if (!redis_conn_ready(&s->conn)) {
        defer_call(s->defer, cb, STORE_E_UNAVAILABLE, ctx);
        return;
    }
    resp_cmd cmd;
    redis_call call = redis_conn_begin(&s->conn, &cmd, REDIS_SCRIPT_FLUSHED, 6, 256);
    resp_i64(&cmd, now);
    resp_str(&cmd, f->name);
    resp_str(&cmd, f->namespace);
    resp_u64(&cmd, f->lease);
    resp_arg(&cmd, ok ? "1" : "0", 1);
    resp_i64(&cmd, f->count);
    op_ctx *o = xcalloc(1, sizeof *o);
    o->cb = cb;
    o->ctx = ctx;
    if (redis_conn_send(&s->conn, &cmd, &call, "flushed", simple_reply, o) < 0) {
        free(o);
        defer_call(s->defer, cb, STORE_E_UNAVAILABLE, ctx);
    }
}

static int r_ready(store *st, char *why, size_t cap) { return redis_conn_health(&((rstore *)st)->conn, why, cap); }

static void maybe_free(rstore *s)
{
    if (!s->closing || s->pending > 0) return;
    free(s);
}

static void conn_closed(redis_conn *c)
{
    rstore *s = (rstore *)((char *)c - offsetof(rstore, conn));
    s->pending--;
    maybe_free(s);
}

/* Starts closing; the memory goes once the connection is closed and the defer queue has
 * run every entry naming this store (the caller runs the loop until it is empty, then
 * closes the queue). */
static void r_close(store *st)
{
    rstore *s = (rstore *)st;
    s->closing = true;
    s->pending++;      /* the connection */
    decide_flush(s);   /* queued decides are sent, and fail as the connection closes, or fail now */
    redis_conn_close(&s->conn, conn_closed);
}

static const store_ops redis_ops = {
    .name = "redis",
    .decide = r_decide,
    .commit = r_commit,
    .claim_flush = r_claim_flush,
    .flushed = r_flushed,
    .ready = r_ready,
    .close = r_close,
};

store *store_redis_open(uv_loop_t *loop, defer_queue *dq, const char *url, const char *prefix,
                        int command_timeout_ms, char *err, size_t errlen)
{
    rstore *s = xcalloc(1, sizeof *s);
    if (redis_conn_init(loop, &s->conn, url, prefix, command_timeout_ms, err, errlen) < 0) {
        free(s);
        return NULL;
    }
    s->base.ops = &redis_ops;
    s->defer = dq;
    return &s->base;
}
