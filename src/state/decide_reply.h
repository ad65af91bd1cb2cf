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

/* decide_reply_part for a batch whose repeated alerts were sent once (redis.c decide_flush):
 * item i of the part was sent as reply string sent[i], which stands for mult[sent[i]]
 * occurrences, of which item i is the rank[i]-th (1-based, in batch order). A DUPLICATE gets
 * its own count (the reply's count is the last occurrence's); an occurrence after the first
 * of an alert the first creates (CREATE, STORM_CREATE, MEMBER, AGGREGATED) is IN_PROGRESS
 * with its own ref, as it would have been sent apart; any other outcome is the first's. */
int decide_reply_part_sent_once(const redisReply *r, const uint32_t *sent, const uint32_t *rank, const uint32_t *mult,
                                size_t n, size_t *win, store_item *items, arena *a);

#endif
