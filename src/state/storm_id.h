/* storm_id.h: a storm window's id, the one both stores give it (memory.c when it opens a
 * window, the Redis store when it reads decide.lua's or claim.lua's window start). The sink
 * names the aggregated RR after it, so every replica and both stores must compute the same
 * bytes: it is defined here only. */
#ifndef SGW_STATE_STORM_ID_H
#define SGW_STATE_STORM_ID_H
#include <stdint.h>

/* SHA-256 hex (64 digits and a NUL into out) of "<name>:<ns>:<start_ms>", the key cut at
 * 1,199 bytes. name and ns are borrowed, never NULL. */
void store_storm_id(const char *name, const char *ns, int64_t start_ms, char out[65]);

#endif
