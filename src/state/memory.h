/* memory.h: the embedded, in-process state store (see store.h for the contract).
 * One shared table per process; each worker opens its own handle on it. */
#ifndef SGW_STATE_MEMORY_H
#define SGW_STATE_MEMORY_H
#include "state/store.h"
#include "util/defer.h"

typedef struct store_memory_shared store_memory_shared;

store_memory_shared *store_memory_shared_new(void);
void                 store_memory_shared_free(store_memory_shared *sh);   /* after every handle closed */
/* A handle for one worker loop; its callbacks run from dq (borrowed, that loop's queue,
 * which must outlive the handle). */
store               *store_memory_open(store_memory_shared *sh, defer_queue *dq);
size_t               store_memory_count(store_memory_shared *sh);         /* live fingerprint records */

#endif
