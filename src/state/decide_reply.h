/* decide_reply.h: decide.lua's flat reply (docs/redis-keys.md) read into store_items. Apart
 * from redis.c so that the reading of what Redis sends is tested on its own, malformed
 * replies included (tests/unit/test_decide_reply.c builds them by hand). */
#ifndef SGW_STATE_DECIDE_REPLY_H
#define SGW_STATE_DECIDE_REPLY_H
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/store.h"
#include "util/arena.h"

/* The reply of a batch of n_items: an array of their n_items strings, then exactly one
 * array per STORM_CREATE string (its window's resources), so no caller can read another's. */
bool decide_reply_shape_ok(const redisReply *r, size_t n_items);

/* Reads one caller's part, the strings [off, off+n), into items (strings in a): each
 * "verdict|count|first|last|lease|storm_start|type|ref". *win is the index of the next
 * resources array; it moves past this part's STORM_CREATE arrays whether or not the part
 * reads well. STORE_OK or STORE_E_PROTOCOL. r must have passed decide_reply_shape_ok. */
int decide_reply_part(const redisReply *r, size_t off, size_t n, size_t *win, store_item *items, arena *a);

/* A storm window's id: SHA-256 hex of "<name>:<namespace>:<start_ms>". */
void decide_storm_hash(const char *name, const char *ns, int64_t start_ms, char out[65]);

#endif
