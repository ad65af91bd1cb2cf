/* arena.h: a per-request bump allocator (h2o's pool idea).
 * Everything a request parses or builds lives in its arena and is released in one
 * arena_free() when the response is done; nothing on the hot path frees field by field.
 * Not thread-safe: an arena belongs to one request on one loop. */
#ifndef SGW_ARENA_H
#define SGW_ARENA_H
#include <stddef.h>

typedef struct arena_chunk arena_chunk;
typedef struct arena {
    arena_chunk   *head;       /* newest chunk first */
    size_t         used;       /* bytes handed out, for metrics and limits */
    unsigned char *cur, *end;  /* the free part of the head chunk */
} arena;

void  arena_init(arena *a);
void  arena_free(arena *a);                       /* releases every allocation */
void *arena_alloc_slow(arena *a, size_t n);       /* arena_alloc when the head chunk is full */

/* 16-byte aligned, never NULL. Inline: a request makes ~100 of these (every cJSON node). */
static inline void *arena_alloc(arena *a, size_t n)
{
    n = ((n ? n : 1) + 15) & ~(size_t)15;   /* 0 bytes still get a distinct, non-NULL block */
    if ((size_t)(a->end - a->cur) >= n) {
        void *p = a->cur;
        a->cur += n;
        a->used += n;
        return p;
    }
    return arena_alloc_slow(a, n);
}
void *arena_calloc(arena *a, size_t n);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_strdup(arena *a, const char *s);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The strings up to a NULL, concatenated (no printf: for ids built on every request). */
char *arena_cat(arena *a, ...) __attribute__((sentinel));

#endif
