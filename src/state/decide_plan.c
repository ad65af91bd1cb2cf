/* decide_plan.c: see decide_plan.h. */
#include "state/decide_plan.h"
#include "util/xalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool streq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* what decide_item_meta() sends of an item, and its fingerprint: sent once for both */
static bool same_alert(const store_item *a, const store_item *b)
{
    return a->resolved == b->resolved && a->firing_ms == b->firing_ms && streq(a->name, b->name) &&
           streq(a->namespace, b->namespace) && streq(a->resource_id, b->resource_id) && streq(a->ref, b->ref);
}

/* the first 16 bytes of a fingerprint (64 hex digits: 64 bits of SHA-256), FNV-1a */
static uint64_t fp_hash(const char *fp)
{
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < 16 && fp[i]; i++) h = (h ^ (unsigned char)fp[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

bool decide_plan_make(decide_plan *pl, const store_item *const *items, size_t n)
{
    memset(pl, 0, sizeof *pl);
    if (n < 2) return false;
    size_t cap = 4;
    while (cap < 2 * n) cap *= 2;
    /* head[i]: the first occurrence of item i's fingerprint; count and mixed: per head */
    uint32_t *tab = xmalloc(cap * sizeof *tab), *head = xmalloc(n * sizeof *head);
    uint32_t *count = xcalloc(n, sizeof *count);
    bool *mixed = xcalloc(n, sizeof *mixed), repeats = false;
    memset(tab, 0xff, cap * sizeof *tab);
    for (size_t i = 0; i < n; i++) {
        const char *fp = items[i]->fingerprint ? items[i]->fingerprint : "";
        size_t h = (size_t)fp_hash(fp) & (cap - 1);
        while (tab[h] != UINT32_MAX && !streq(items[tab[h]]->fingerprint, fp)) h = (h + 1) & (cap - 1);
        if (tab[h] == UINT32_MAX) tab[h] = (uint32_t)i;
        uint32_t hd = tab[h];
        head[i] = hd;
        count[hd]++;
        if (hd != i) {
            repeats = true;
            if (!mixed[hd] && !same_alert(items[hd], items[i])) mixed[hd] = true;
        }
    }
    free(tab);
    bool sent_once = false;
    if (repeats) {
        pl->sent = xmalloc(n * sizeof *pl->sent);
        pl->rank = xmalloc(n * sizeof *pl->rank);
        pl->mult = xmalloc(n * sizeof *pl->mult);
        pl->first = xmalloc(n * sizeof *pl->first);
        uint32_t *seen = xcalloc(n, sizeof *seen);   /* per head: its occurrences so far */
        for (size_t i = 0; i < n; i++) {
            uint32_t hd = head[i];
            if (hd == i || mixed[hd]) {
                pl->sent[i] = (uint32_t)pl->n_sent;
                pl->rank[i] = 1;
                pl->mult[pl->n_sent] = mixed[hd] ? 1 : count[hd];
                pl->first[pl->n_sent++] = (uint32_t)i;
                seen[hd] = 1;
            } else {
                pl->sent[i] = pl->sent[hd];
                pl->rank[i] = ++seen[hd];
                sent_once = true;
            }
        }
        free(seen);
    }
    free(head);
    free(count);
    free(mixed);
    if (!sent_once) decide_plan_free(pl);
    return sent_once;
}

void decide_plan_free(decide_plan *pl)
{
    free(pl->sent);
    free(pl->rank);
    free(pl->mult);
    free(pl->first);
    memset(pl, 0, sizeof *pl);
}
