/* strmap.c: see strmap.h. hash_table64 hashing, power-of-two buckets, grows at load 1. */
#include "util/strmap.h"
#include "util/hash.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct strmap_entry {
    strmap_entry *next;
    void         *value;
    size_t        hash;
    char          key[];
};

void strmap_init(strmap *m)
{
    m->nbuckets = 64;
    m->buckets = xcalloc(m->nbuckets, sizeof *m->buckets);
    m->count = 0;
}

void strmap_free(strmap *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        strmap_entry *e = m->buckets[i];
        while (e) {
            strmap_entry *n = e->next;
            if (free_value) free_value(e->value);
            free(e);
            e = n;
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    m->count = m->nbuckets = 0;
}

static size_t hkey(const char *k) { return (size_t)hash_table64(k, strlen(k)); }

void *strmap_get(const strmap *m, const char *key)
{
    size_t h = hkey(key);
    for (strmap_entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0) return e->value;
    return NULL;
}

static void grow(strmap *m)
{
    size_t nb = m->nbuckets * 2;
    strmap_entry **b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < m->nbuckets; i++) {
        strmap_entry *e = m->buckets[i];
        while (e) {
            strmap_entry *n = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = n;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
}

void strmap_put(strmap *m, const char *key, void *value)
{
    size_t h = hkey(key);
    for (strmap_entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0) {
            e->value = value;
            return;
        }
    if (m->count + 1 > m->nbuckets) grow(m);
    size_t kl = strlen(key);
    strmap_entry *e = xmalloc(sizeof *e + kl + 1);
    memcpy(e->key, key, kl + 1);
    e->hash = h;
    e->value = value;
    e->next = m->buckets[h & (m->nbuckets - 1)];
    m->buckets[h & (m->nbuckets - 1)] = e;
    m->count++;
}

void *strmap_del(strmap *m, const char *key)
{
    size_t h = hkey(key);
    strmap_entry **pp = &m->buckets[h & (m->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        strmap_entry *e = *pp;
        if (e->hash == h && strcmp(e->key, key) == 0) {
            void *v = e->value;
            *pp = e->next;
            free(e);
            m->count--;
            return v;
        }
    }
    return NULL;
}

void strmap_sweep(strmap *m, int (*fn)(const char *, void *, void *), void *ctx)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        strmap_entry **pp = &m->buckets[i];
        while (*pp) {
            strmap_entry *e = *pp;
            if (fn(e->key, e->value, ctx)) {
                *pp = e->next;
                free(e);
                m->count--;
            } else {
                pp = &e->next;
            }
        }
    }
}
