/* redis_uv.h: hiredis' event hooks on a libuv loop, without hiredis' adapters/libuv.h churn.
 * That adapter calls uv_poll_start whenever hiredis adds or drops write interest and after
 * every write (each call an epoll_ctl DEL and ADD in libuv), so every batch sent to Redis
 * cost several system calls. Here, once connected, a pending write is made by a uv_prepare
 * callback just before the loop would block (or at once by the caller, redisAsyncHandleWrite),
 * and the poll handle is changed only when its events really change: it watches for
 * writable only while the socket is full, and while connecting (hiredis learns that the
 * connection is up from the first writable event). */
#ifndef SGW_STATE_REDIS_UV_H
#define SGW_STATE_REDIS_UV_H
#include <hiredis/async.h>
#include <uv.h>

/* As redisLibuvAttach: REDIS_OK, or REDIS_ERR (already attached, or out of handles). */
int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
