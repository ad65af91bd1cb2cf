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

/* Starts connecting at once; returns NULL only for a malformed URL. prefix is borrowed. */
store *store_redis_open(uv_loop_t *loop, const char *url, const char *prefix, int command_timeout_ms,
                        char *err, size_t errlen);

#endif
