/* memory.h: the embedded, in-process state store (see store.h for the contract).
 * One shared table per process; each worker opens its own handle on it. */
#ifndef SGW_STATE_MEMORY_H
#define SGW_STATE_MEMORY_H
#include "state/store.h"

typedef struct store_memory_shared store_memory_shared;

store_memory_shared *store_memory_shared_new(void);
void                 store_memory_shared_free(store_memory_shared *sh);   /* after every handle closed */
store               *store_memory_open(store_memory_shared *sh);
size_t               store_memory_count(store_memory_shared *sh);         /* live fingerprint records */

#endif
