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
     * before calling it. The "last" entries run once the others are all done, and what
     * they queue runs in the same pass. */
    size_t i = 0, k = 0;
    for (;;) {
        if (i < q->n) {
            defer_entry e = q->items[i++];
            e.cb(e.status, e.ctx);
        } else if (k < q->nlast) {
            defer_entry e = q->last[k++];
            e.cb(e.status, e.ctx);
        } else {
            break;
        }
    }
    q->n = q->nlast = 0;
    q->running = false;
    uv_check_stop(&q->check);
    uv_idle_stop(&q->idle);
}

void defer_init(defer_queue *q, uv_loop_t *loop)
{
    q->items = q->last = NULL;
    q->n = q->cap = q->nlast = q->caplast = 0;
    q->running = false;
    uv_check_init(loop, &q->check);
    uv_idle_init(loop, &q->idle);
    q->check.data = q->idle.data = q;
}

static void push(defer_queue *q, defer_entry **items, size_t *n, size_t *cap, defer_entry e)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *items = xrealloc(*items, *cap * sizeof **items);
    }
    (*items)[(*n)++] = e;
    if (q->n + q->nlast == 1 && !q->running) {
        uv_check_start(&q->check, on_check);
        uv_idle_start(&q->idle, on_idle);
    }
}

void defer_call(defer_queue *q, defer_cb cb, int status, void *ctx)
{
    push(q, &q->items, &q->n, &q->cap, (defer_entry){cb, status, ctx});
}

void defer_call_last(defer_queue *q, defer_cb cb, int status, void *ctx)
{
    push(q, &q->last, &q->nlast, &q->caplast, (defer_entry){cb, status, ctx});
}

void defer_close(defer_queue *q)
{
    free(q->items);
    free(q->last);
    q->items = q->last = NULL;
    q->n = q->cap = q->nlast = q->caplast = 0;
    uv_close((uv_handle_t *)&q->check, NULL);
    uv_close((uv_handle_t *)&q->idle, NULL);
}
