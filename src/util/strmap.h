/* strmap.h: a chained hash map from NUL-terminated string keys to pointers. Keys are
 * copied; values are owned by the caller. Not thread-safe. */
#ifndef SGW_STRMAP_H
#define SGW_STRMAP_H
#include <stddef.h>

typedef struct strmap_entry strmap_entry;
typedef struct strmap {
    strmap_entry **buckets;
    size_t         nbuckets;
    size_t         count;
} strmap;

void   strmap_init(strmap *m);
void   strmap_free(strmap *m, void (*free_value)(void *));
void  *strmap_get(const strmap *m, const char *key);
void   strmap_put(strmap *m, const char *key, void *value);   /* replaces */
void  *strmap_del(strmap *m, const char *key);                /* returns the value */
/* Calls fn for every entry; if fn returns 1 the entry is removed (its value is the
 * caller's to free inside fn). */
void   strmap_sweep(strmap *m, int (*fn)(const char *key, void *value, void *ctx), void *ctx);

#endif
