/* defer.c: see defer.h. */
#include "util/defer.h"
#include "util/xalloc.h"

#include <stdlib.h>

static void on_idle(uv_idle_t *h) { (void)h; }

static void on_check(uv_check_t *h)
{
    defer_queue *q = h->data;
    q->running = true;
    /* q->n grows when a callback queues another; q->items may move then: copy each entry
     * before calling it */
    for (size_t i = 0; i < q->n; i++) {
        defer_entry e = q->items[i];
        e.cb(e.status, e.ctx);
    }
    q->n = 0;
    q->running = false;
    uv_check_stop(&q->check);
    uv_idle_stop(&q->idle);
}

void defer_init(defer_queue *q, uv_loop_t *loop)
{
    q->items = NULL;
    q->n = q->cap = 0;
    q->running = false;
    uv_check_init(loop, &q->check);
    uv_idle_init(loop, &q->idle);
    q->check.data = q->idle.data = q;
}

void defer_call(defer_queue *q, defer_cb cb, int status, void *ctx)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->items = xrealloc(q->items, q->cap * sizeof *q->items);
    }
    q->items[q->n++] = (defer_entry){cb, status, ctx};
    if (q->n == 1 && !q->running) {
        uv_check_start(&q->check, on_check);
        uv_idle_start(&q->idle, on_idle);
    }
}

void defer_close(defer_queue *q)
{
    free(q->items);
    q->items = NULL;
    q->n = q->cap = 0;
    uv_close((uv_handle_t *)&q->check, NULL);
    uv_close((uv_handle_t *)&q->idle, NULL);
}
