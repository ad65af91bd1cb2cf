/* storm_flush.c: claim due storm windows, rewrite their RRs, report each back; see
 * storm_flush.h. One flush per worker at a time; its claims live in its own arena. */
#include "storm_flush.h"
#include "metrics.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <stdlib.h>

typedef struct flush_ctx {
    worker      *w;
    arena        a;
    store_params sp;
    store_flush *items;
    size_t       n;
    size_t       pending;   /* RR updates and store acknowledgements still to come */
} flush_ctx;

typedef struct flush_op {
    flush_ctx *fc;
    size_t     i;
} flush_op;

static void flush_done(flush_ctx *fc)
{
    fc->w->flushing = false;
    arena_free(&fc->a);
    free(fc);
}

static void on_flushed_ack(int status, void *ctx)
{
    flush_ctx *fc = ctx;
    if (--fc->pending == 0) flush_done(fc);
}

static void on_storm_updated(int status, const char *ref, void *ctx)
{
    flush_op *op = ctx;
    flush_ctx *fc = op->fc;
    store_flush *f = &fc->items[op->i];
    free(op);
    bool ok = status == SINK_UPDATED;
    metrics_add("gateway_storm_updates_total", ok ? "result=\"ok\"" : "result=\"error\"", 1);
    fc->w->st->ops->flushed(fc->w->st, &fc->sp, f, ok, time_now_ms(), on_flushed_ack, fc);
}

static void on_claimed(int status, void *ctx)
{
    flush_ctx *fc = ctx;
    if (status < 0 || fc->n == 0) {
        flush_done(fc);
        return;
    }
    fc->pending = fc->n;
    for (size_t i = 0; i < fc->n; i++) {
        store_flush *f = &fc->items[i];
        sink_storm_update u = {f->ref, f->count, f->resources, f->n_resources, f->last_seen_ms};
        flush_op *op = xmalloc(sizeof *op);
        op->fc = fc;
        op->i = i;
        fc->w->sk->ops->update_storm(fc->w->sk, &u, on_storm_updated, op);
    }
}

void storm_flush(worker *w)
{
    if (w->flushing) return;
    w->flushing = true;
    flush_ctx *fc = xcalloc(1, sizeof *fc);
    fc->w = w;
    arena_init(&fc->a);
    gw_store_params(gw_runtime_get(w->gw)->cfg, &fc->sp);
    w->st->ops->claim_flush(w->st, &fc->sp, time_now_ms(), 64, &fc->a, &fc->items, &fc->n, on_claimed, fc);
}
