/* redis_uv.c: see redis_uv.h. */
#include "state/redis_uv.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>

typedef struct ruv {
    redisAsyncContext *ac;       /* NULL once hiredis cleaned up */
    uv_poll_t          poll;
    int                events;   /* UV_READABLE | UV_WRITABLE hiredis asks for */
} ruv;

static void on_poll(uv_poll_t *h, int status, int events)
{
    ruv *p = h->data;
    if (status < 0) {
        /* libuv stopped the handle (POLLERR): let hiredis read the socket's error and
         * disconnect, instead of leaving the connection silent until a command times out;
         * the next hook that changes the events starts the handle again */
        p->events = 0;
        if (p->ac) redisAsyncHandleRead(p->ac);
        return;
    }
    if (p->ac && (events & UV_READABLE)) redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
}

static void set_events(ruv *p, int ev)
{
    p->events = ev;
    if (ev) uv_poll_start(&p->poll, ev, on_poll);
    else uv_poll_stop(&p->poll);
}

static void add_read(void *d) { set_events(d, ((ruv *)d)->events | UV_READABLE); }
static void del_read(void *d) { set_events(d, ((ruv *)d)->events & ~UV_READABLE); }
static void add_write(void *d) { set_events(d, ((ruv *)d)->events | UV_WRITABLE); }
static void del_write(void *d) { set_events(d, ((ruv *)d)->events & ~UV_WRITABLE); }

static void on_close(uv_handle_t *h) { free(h->data); }

static void cleanup(void *d)
{
    ruv *p = d;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->poll, on_close);
}

int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data) return REDIS_ERR;
    ruv *p = calloc(1, sizeof *p);
    if (!p) return REDIS_ERR;
    if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    p->poll.data = p;
    p->ac = ac;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}
