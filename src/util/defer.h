/* defer.h: callbacks that must not run before the call that started them returns (libuv's
 * rule; docs/conventions.md), for implementations that know the answer at once (the memory
 * store, an auth cache hit). One queue per loop; it runs its entries in the loop's check
 * phase, so a call made while the loop polled gets its callback in the same iteration,
 * without another wait for events. */
#ifndef SGW_DEFER_H
#define SGW_DEFER_H
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef void (*defer_cb)(int status, void *ctx);

typedef struct defer_entry {
    defer_cb cb;
    int      status;
    void    *ctx;
} defer_entry;

/* Caller-owned and embedded (a worker's); the fields are private. */
typedef struct defer_queue {
    uv_check_t   check;     /* runs the queue; active only while it holds entries */
    uv_idle_t    idle;      /* active with check: the poll phase must not block meanwhile */
    defer_entry *items;     /* grown on demand and reused: no allocation per call */
    size_t       n, cap;
    defer_entry *last;      /* defer_call_last's entries, likewise */
    size_t       nlast, caplast;
    bool         running;
} defer_queue;

/* Initialises q on loop. */
void defer_init(defer_queue *q, uv_loop_t *loop);

/* Queues cb(status, ctx) to run on q's loop in its next check phase. A callback queued by
 * a callback that q is running runs in the same pass. */
void defer_call(defer_queue *q, defer_cb cb, int status, void *ctx);

/* Queues cb(status, ctx) to run once every other entry of the same pass has run, those
 * queued while it runs included: for work that gathers what the other callbacks of the
 * iteration add (the Redis store's decide batch). */
void defer_call_last(defer_queue *q, defer_cb cb, int status, void *ctx);

/* Closes q's handles (q must stay valid until the loop ran their close callbacks). Entries
 * still queued are dropped: close the queue after everything that could queue one. */
void defer_close(defer_queue *q);

#endif
