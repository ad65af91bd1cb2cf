/* cjson_arena.h: cJSON allocations taken from a request's arena.
 * cJSON's allocation hooks are process-wide; the arena is per thread and set only between
 * cjson_arena_enter and cjson_arena_leave. Inside that window every cJSON node, string and
 * print buffer of this thread is bump-allocated from the arena and lives until the arena
 * is freed (cJSON_Delete / cJSON_free are no-ops for them); so the window must hold only
 * trees that die with the request: no cJSON object may cross its edges. Outside it cJSON
 * uses malloc/free as usual. */
#ifndef SGW_CJSON_ARENA_H
#define SGW_CJSON_ARENA_H
#include "util/arena.h"

/* Installs the hooks once; main() calls it before any thread starts (enter does too). */
void cjson_arena_init(void);
void cjson_arena_enter(arena *a);
void cjson_arena_leave(void);

#endif
