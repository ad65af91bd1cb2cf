/* redis_uv.c: see redis_uv.h. */
#include "state/redis_uv.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct ruv {
    redisAsyncContext *ac;           /* NULL once hiredis cleaned up */
    uv_poll_t          poll;
    uv_prepare_t       prep;         /* the deferred write */
    int                events;       /* UV_READABLE | UV_WRITABLE the poll handle watches now */
    bool               reading;      /* hiredis wants readable events */
    bool               poll_write;   /* we want writable events (connecting, or the socket is full) */
    bool               want_write;   /* hiredis has bytes to write */
    bool               in_write;     /* inside on_prepare's redisAsyncHandleWrite */
    int                open;         /* handles not yet closed */
} ruv;

static void on_poll(uv_poll_t *h, int status, int events);

/* Registers what reading and poll_write ask for, only if that differs from what the poll
 * handle watches (each uv_poll_start is an epoll_ctl DEL and ADD in libuv 1.44). */
static void sync_events(ruv *p)
{
    int ev = (p->reading ? UV_READABLE : 0) | (p->poll_write ? UV_WRITABLE : 0);
    if (ev == p->events) return;
    p->events = ev;
    if (!ev) uv_poll_stop(&p->poll);
    else if (uv_poll_start(&p->poll, ev, on_poll) != 0) p->events = 0;   /* retried at the next change */
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    ruv *p = h->data;
    if (status < 0) {
        /* libuv stopped the handle (POLLERR): let hiredis read the socket's error and
         * disconnect, instead of leaving the connection silent until a command times out;
         * what we want stays in reading / poll_write for the next sync_events */
        p->events = 0;
        if (p->ac) redisAsyncHandleRead(p->ac);
        return;
    }
    if (p->ac && (events & UV_READABLE)) redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
}

static void on_prepare(uv_prepare_t *h)
{
    ruv *p = h->data;
    uv_prepare_stop(&p->prep);
    if (!p->ac || !p->want_write) return;
    p->in_write = true;
    redisAsyncHandleWrite(p->ac);   /* calls del_write when everything went out */
    p->in_write = false;
    if (p->ac && p->want_write) {   /* the socket is full: wait for it */
        p->poll_write = true;
        sync_events(p);
    }
}

static void add_read(void *d)
{
    ruv *p = d;
    p->reading = true;
    sync_events(p);
}

static void del_read(void *d)
{
    ruv *p = d;
    p->reading = false;
    sync_events(p);
}

static void add_write(void *d)
{
    ruv *p = d;
    p->want_write = true;
    if (p->in_write || p->poll_write) return;   /* decided after the write / already watched */
    if (!(p->ac->c.flags & REDIS_CONNECTED)) {   /* connecting: writable = connected */
        p->poll_write = true;
        sync_events(p);
    } else {
        /* written just before the loop blocks. (A prepare handle started from a prepare
         * callback runs only at the next iteration: no command is sent from one.) */
        uv_prepare_start(&p->prep, on_prepare);
    }
}

static void del_write(void *d)
{
    ruv *p = d;
    p->want_write = false;
    p->poll_write = false;
    uv_prepare_stop(&p->prep);
    sync_events(p);
}

static void on_close(uv_handle_t *h)
{
    ruv *p = h->data;
    if (--p->open == 0) free(p);
}

static void cleanup(void *d)
{
    ruv *p = d;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->poll, on_close);
    uv_close((uv_handle_t *)&p->prep, on_close);
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
    uv_prepare_init(loop, &p->prep);
    p->poll.data = p->prep.data = p;
    p->open = 2;
    p->ac = ac;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}
