/* redis.h: the Redis state store (see store.h for the contract, docs/redis-keys.md for the
 * keys and scripts). One handle per worker loop; each keeps its own connection and
 * reconnects by itself (redis_conn.h). While not connected, every operation fails at once with
 * STORE_E_UNAVAILABLE (→ 503 + Retry-After), so no signal is answered 2xx unrecorded. */
#ifndef SGW_STATE_REDIS_H
#define SGW_STATE_REDIS_H
#include <stdbool.h>
#include <uv.h>

#include "state/redis_target.h"   /* redis_target_parse, for checking a URL */
#include "state/store.h"
#include "util/defer.h"

/* Starts connecting at once on loop; returns NULL only for a malformed URL (the reason in
 * err). dq is the loop's defer queue (borrowed; it outlives the store): answers known at
 * once, and the per-iteration decide batch, go through it. prefix is borrowed. */
store *store_redis_open(uv_loop_t *loop, defer_queue *dq, const char *url, const char *prefix,
                        int command_timeout_ms, char *err, size_t errlen);

#endif
