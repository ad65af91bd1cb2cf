/* redis_uv.h: hiredis' event hooks on a libuv loop, as hiredis' adapters/libuv.h makes them
 * (a uv_poll handle watching what hiredis asks for; a write goes out at the next writable
 * event), except that a poll error is handed to hiredis, which reads the socket's error and
 * disconnects, where the adapter ignores it. Hooks that changed the poll handle only when its
 * events changed and wrote before the loop blocked won less than 5 % end to end
 * (docs/decisions/006-redis-path-layers.md). */
#ifndef SGW_STATE_REDIS_UV_H
#define SGW_STATE_REDIS_UV_H
#include <hiredis/async.h>
#include <uv.h>

/* As redisLibuvAttach: REDIS_OK, or REDIS_ERR (already attached, or out of handles). */
int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
