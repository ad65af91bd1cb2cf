/* decide_plan.c: see decide_plan.h. */
#include "state/decide_plan.h"
#include "util/hash.h"
#include "util/xalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool streq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* what redis.c's decide_item_meta() sends of an item (with its fingerprint): two items equal
 * in all of it are one alert to decide.lua, so it is sent once for both */
static bool same_alert(const store_item *a, const store_item *b)
{
    return a->resolved == b->resolved && a->firing_ms == b->firing_ms && streq(a->name, b->name) &&
           streq(a->namespace, b->namespace) && streq(a->resource_id, b->resource_id) && streq(a->ref, b->ref);
}

bool decide_plan_make(decide_plan *pl, const store_item *const *items, size_t n)
{
    memset(pl, 0, sizeof *pl);
    if (n < 2) return false;
    size_t cap = 4;
    while (cap < 2 * n) cap *= 2;
    /* one block: tab (open addressing over the batch), then per item head (its fingerprint's
     * first occurrence), and per head count, seen (occurrences so far) and mixed */
    uint32_t *tab = xmalloc(cap * sizeof *tab + n * (3 * sizeof(uint32_t) + sizeof(bool)));
    uint32_t *head = tab + cap, *count = head + n, *seen = count + n;
    bool *mixed = (bool *)(seen + n), repeats = false;
    memset(tab, 0xff, cap * sizeof *tab);
    memset(count, 0, n * (2 * sizeof(uint32_t) + sizeof(bool)));
    for (size_t i = 0; i < n; i++) {
        const char *fp = items[i]->fingerprint ? items[i]->fingerprint : "";
        /* the first 16 hex digits are 64 bits of SHA-256: enough to spread the table */
        size_t h = (size_t)hash_table64(fp, strnlen(fp, 16)) & (cap - 1);
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
    bool sent_once = false;
    if (repeats) {
        pl->sent = xmalloc(4 * n * sizeof *pl->sent);   /* one block for the four (decide_plan_free) */
        pl->rank = pl->sent + n;
        pl->mult = pl->rank + n;
        pl->first = pl->mult + n;
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
    }
    free(tab);
    if (!sent_once) decide_plan_free(pl);
    return sent_once;
}

void decide_plan_free(decide_plan *pl)
{
    free(pl->sent);   /* the block of all four */
    memset(pl, 0, sizeof *pl);
}
