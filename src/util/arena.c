/* arena.c: chunked bump allocator; see arena.h. Large requests get a chunk of their own. */
#include "util/arena.h"
#include "util/xalloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 4096
#define ARENA_BIG (32 * 1024)
#define ARENA_GROW_AT (32 * 1024)

struct arena_chunk {
    arena_chunk *next;
    size_t       cap;
    _Alignas(16) unsigned char data[];
};

/* Each thread keeps up to CACHE_MAX freed standard chunks for its next requests: a request
 * otherwise cost a malloc and a free of 4 KiB (and, now and then, glibc's
 * malloc_consolidate). At most 128 KiB per thread; given back when the thread ends. */
#define CACHE_MAX 32

static __thread arena_chunk *cache;
static __thread int cached;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_drop(void *unused)
{
    (void)unused;
    while (cache) {
        arena_chunk *n = cache->next;
        free(cache);
        cache = n;
    }
    cached = 0;
}

static void cache_init(void) { pthread_key_create(&cache_key, cache_drop); }

static arena_chunk *chunk_new(size_t cap)
{
    if (cap == ARENA_CHUNK && cache) {
        arena_chunk *c = cache;
        cache = c->next;
        cached--;
        return c;
    }
    return xmalloc(sizeof(arena_chunk) + cap);
}

static void chunk_free(arena_chunk *c)
{
    if (c->cap == ARENA_CHUNK && cached < CACHE_MAX) {
        if (!cached) {   /* the thread's first: make sure its cache is dropped when it ends */
            pthread_once(&cache_once, cache_init);
            pthread_setspecific(cache_key, (void *)1);
        }
        c->next = cache;
        cache = c;
        cached++;
        return;
    }
    free(c);
}

void arena_init(arena *a)
{
    a->head = NULL;
    a->used = 0;
    a->cur = a->end = NULL;
}

void arena_free(arena *a)
{
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *n = c->next;
        chunk_free(c);
        c = n;
    }
    a->head = NULL;
    a->used = 0;
    a->cur = a->end = NULL;
}

/* n is already rounded to 16 and does not fit the head chunk's free part [cur, end). */
void *arena_alloc_slow(arena *a, size_t n)
{
    /* a request past 32 KiB (a storm webhook: ~150 KiB) takes 32 KiB chunks: 12 mallocs
     * instead of 37, and fewer, denser blocks to walk while other requests run */
    size_t std = a->used >= ARENA_GROW_AT ? ARENA_BIG : ARENA_CHUNK;
    size_t cap = n > std / 2 ? n : std;
    arena_chunk *nc = chunk_new(cap);
    nc->cap = cap;
    a->used += n;
    if (a->head && cap == n) {        /* big block: keep the current chunk as the head */
        nc->next = a->head->next;
        a->head->next = nc;
        return nc->data;
    }
    nc->next = a->head;
    a->head = nc;
    a->cur = nc->data + n;
    a->end = nc->data + cap;
    return nc->data;
}

void *arena_calloc(arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *arena_strdup(arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(arena *a, const char *fmt, ...)
{
    /* one pass when the text fits in the current chunk (the usual case: short ids) */
    va_list ap;
    if (a->end - a->cur > 16) {
        size_t room = (size_t)(a->end - a->cur);
        char *d = (char *)a->cur;
        va_start(ap, fmt);
        int n = vsnprintf(d, room, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            size_t used = ((size_t)n + 1 + 15) & ~(size_t)15;   /* <= room: both are multiples of 16 */
            a->cur += used;
            a->used += used;
            return d;
        }
    }
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *d = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

char *arena_cat(arena *a, ...)
{
    va_list ap;
    size_t n = 0;
    va_start(ap, a);
    for (const char *s; (s = va_arg(ap, const char *));) n += strlen(s);
    va_end(ap);
    char *d = arena_alloc(a, n + 1), *o = d;
    va_start(ap, a);
    for (const char *s; (s = va_arg(ap, const char *));) {
        size_t l = strlen(s);
        memcpy(o, s, l);
        o += l;
    }
    va_end(ap);
    *o = '\0';
    return d;
}
