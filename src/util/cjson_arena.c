/* cjson_arena.c: see cjson_arena.h. */
#include "util/cjson_arena.h"

#include <cJSON.h>
#include <pthread.h>
#include <stdlib.h>

static _Thread_local arena *cur;

static void *cj_malloc(size_t n)
{
    arena *a = cur;
    return a ? arena_alloc(a, n) : malloc(n);
}

static void cj_free(void *p)
{
    if (!cur) free(p);   /* arena memory goes with the request */
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void install(void)
{
    cJSON_Hooks h = {.malloc_fn = cj_malloc, .free_fn = cj_free};
    cJSON_InitHooks(&h);
}

void cjson_arena_init(void) { pthread_once(&once, install); }

void cjson_arena_enter(arena *a)
{
    cjson_arena_init();
    cur = a;
}

void cjson_arena_leave(void) { cur = NULL; }
