/* redis.h: the Redis state store (see store.h for the contract, docs/redis-keys.md for the
 * keys and scripts). One handle per worker loop; each keeps its own connection and
 * reconnects by itself. While not connected, every operation fails at once with
 * STORE_E_UNAVAILABLE (→ 503 + Retry-After), so no signal is answered 2xx unrecorded. */
#ifndef SGW_STATE_REDIS_H
#define SGW_STATE_REDIS_H
#include <stdbool.h>
#include <uv.h>

#include "state/store.h"

typedef struct redis_target {
    bool        sentinel;
    char      **hosts;          /* redis: one; sentinel: the sentinels */
    int        *ports;
    int         n_hosts;
    char       *master;         /* sentinel master name */
    char       *password;       /* from redis://:PASSWORD@host… (never logged) */
    int         db;
    const char *prefix;         /* borrowed */
    int         command_timeout_ms;
    int         connect_timeout_ms;
} redis_target;

/* redis://[:password@]HOST[:PORT][/DB]  or  redis-sentinel://[:password@]H1:P1,H2:P2/MASTER[/DB] */
int  redis_target_parse(const char *url, redis_target *t, char *err, size_t errlen);
void redis_target_free(redis_target *t);

/* Starts connecting at once; returns NULL only for a malformed URL. prefix is borrowed. */
store *store_redis_open(uv_loop_t *loop, const char *url, const char *prefix, int command_timeout_ms,
                        char *err, size_t errlen);

#endif
