/* decide_reply.c: see decide_reply.h. */
#include "state/decide_reply.h"
#include "state/storm_id.h"

#include <limits.h>
#include <string.h>

/* A reply string whose verdict is STORM_CREATE: its resources array follows the strings. */
static bool is_storm_create(const redisReply *e)
{
    return e->type == REDIS_REPLY_STRING && e->len >= 2 && e->str[0] == '0' + STORE_STORM_CREATE && e->str[1] == '|';
}

bool decide_reply_shape_ok(const redisReply *r, size_t n_items)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < n_items) return false;
    size_t windows = 0;
    for (size_t i = 0; i < n_items; i++) windows += is_storm_create(r->element[i]);
    return r->elements == n_items + windows;
}

/* One decimal field, up to the next '|': 0, or STORE_E_PROTOCOL if malformed or out of range. */
static int take_int(const char **p, const char *end, long long *out)
{
    const char *q = *p;
    bool neg = q < end && *q == '-';
    if (neg) q++;
    if (q >= end || *q < '0' || *q > '9') return STORE_E_PROTOCOL;
    const char *digits = q;
    long long v = 0;
    /* 18 digits cannot overflow; a 19th is checked (no division per digit: this runs
     * seven times per alert) */
    for (; q < end && *q >= '0' && *q <= '9' && q - digits < 18; q++) v = v * 10 + (*q - '0');
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        if (v > (LLONG_MAX - (*q - '0')) / 10) return STORE_E_PROTOCOL;
        v = v * 10 + (*q - '0');
    }
    if (q >= end || *q != '|') return STORE_E_PROTOCOL;
    *out = neg ? -v : v;
    *p = q + 1;
    return 0;
}

/* Exactly 13 decimal digits (a record's fixed-width time): 0, or STORE_E_PROTOCOL. */
static int take_digits13(const char *p, long long *out)
{
    long long v = 0;
    for (int k = 0; k < 13; k++) {
        if (p[k] < '0' || p[k] > '9') return STORE_E_PROTOCOL;
        v = v * 10 + (p[k] - '0');
    }
    *out = v;
    return 0;
}

/* Reads reply string e into it; prev (NULL for a part's first item) is the item read
 * before it, whose storm hash it may share. A STORM_CREATE takes the next window (*win) only
 * if take_window. */
static int read_one(const redisReply *r, const redisReply *e, size_t *win, store_item *it, const store_item *prev,
                    bool take_window, arena *a)
{
    if (e->type != REDIS_REPLY_STRING) return STORE_E_PROTOCOL;
    const char *p = e->str, *end = e->str + e->len;
    if (e->len >= 28 && p[0] == 'c') {
        /* decide.lua's fast path: a DUPLICATE answered with its new record,
         * "c<expiry: 13 digits><last: 13 digits>|count|first|lease|lease_end|resolved_firing|ref" */
        long long last, f[5];
        if (take_digits13(p + 14, &last) < 0 || p[27] != '|') return STORE_E_PROTOCOL;
        p += 28;
        for (int k = 0; k < 5; k++)
            if (take_int(&p, end, &f[k]) < 0) return STORE_E_PROTOCOL;
        it->verdict = STORE_DUPLICATE;
        it->count = f[0];
        it->first_seen_ms = f[1];
        it->last_seen_ms = last;
        it->lease = 0;
        it->storm_start_ms = 0;
        it->storm_type = NULL;
        it->ref = p < end ? arena_strndup(a, p, (size_t)(end - p)) : NULL;
        return STORE_OK;
    }
    long long v[6];
    for (int k = 0; k < 6; k++)
        if (take_int(&p, end, &v[k]) < 0) return STORE_E_PROTOCOL;
    const char *bar = memchr(p, '|', (size_t)(end - p));
    if (!bar) return STORE_E_PROTOCOL;
    if (v[0] < STORE_CREATE || v[0] > STORE_STALE) return STORE_E_PROTOCOL;
    it->verdict = (store_verdict)v[0];
    it->count = v[1];
    it->first_seen_ms = v[2];
    it->last_seen_ms = v[3];
    it->lease = (uint64_t)v[4];
    it->storm_start_ms = v[5];
    it->storm_type = bar > p ? arena_strndup(a, p, (size_t)(bar - p)) : NULL;
    /* "" = no ref: only a CREATE keeps the one the caller intended */
    if (bar + 1 < end) it->ref = arena_strndup(a, bar + 1, (size_t)(end - bar - 1));
    else if (it->verdict != STORE_CREATE) it->ref = NULL;
    if (it->storm_type) {
        /* a storm's alerts come together: the window's hash once, not once per alert */
        if (prev && prev->storm_type && prev->storm_start_ms == it->storm_start_ms &&
            prev->name && it->name && strcmp(prev->name, it->name) == 0 && prev->namespace && it->namespace &&
            strcmp(prev->namespace, it->namespace) == 0)
            memcpy(it->storm_hash, prev->storm_hash, sizeof it->storm_hash);
        else
            store_storm_id(it->name, it->namespace, it->storm_start_ms, it->storm_hash);
    }
    if (it->verdict == STORE_STORM_CREATE && take_window) {
        if (*win >= r->elements || !is_storm_create(e)) return STORE_E_PROTOCOL;
        const redisReply *res = r->element[(*win)++];
        if (res->type != REDIS_REPLY_ARRAY) return STORE_E_PROTOCOL;
        it->storm_resources = NULL;
        it->n_storm_resources = 0;
        if (res->elements > 0) {
            it->storm_resources = arena_alloc(a, res->elements * sizeof(char *));
            for (size_t k = 0; k < res->elements; k++) {
                const redisReply *rs = res->element[k];
                if (rs->type == REDIS_REPLY_STRING)
                    it->storm_resources[it->n_storm_resources++] = arena_strndup(a, rs->str, rs->len);
            }
        }
    }
    return STORE_OK;
}

/* Reads n items; item i from reply string off + i, or, with sent (a batch whose repeated
 * alerts were sent once), from string sent[i], of whose mult[sent[i]] occurrences it is the
 * rank[i]-th (decide_reply.h). */
static int read_part(const redisReply *r, size_t off, const uint32_t *sent, const uint32_t *rank,
                     const uint32_t *mult, size_t n, size_t *win, store_item *items, arena *a)
{
    size_t win0 = *win;
    int rc = STORE_OK;
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        store_item *it = &items[i];
        const char *own_ref = it->ref;
        size_t u = sent ? sent[i] : off + i;
        uint32_t k = sent ? rank[i] : 1, m = sent ? mult[u] : 1;
        /* only the first occurrence takes a STORM_CREATE's window */
        rc = read_one(r, r->element[u], win, it, i ? &items[i - 1] : NULL, k == 1, a);
        if (rc != STORE_OK) break;
        store_verdict v = it->verdict;
        if (k > 1 && (v == STORE_CREATE || v == STORE_STORM_CREATE || v == STORE_MEMBER || v == STORE_AGGREGATED)) {
            /* behind the first occurrence's creation, as a separate item would have been
             * (decide.lua: "6|0|0|0|0|0||<its ref>") */
            it->verdict = STORE_IN_PROGRESS;
            it->count = it->first_seen_ms = it->last_seen_ms = 0;
            it->lease = 0;
            it->storm_start_ms = 0;
            it->storm_type = NULL;
            it->ref = own_ref && *own_ref ? own_ref : NULL;
        } else if (v == STORE_DUPLICATE && m > 1) {
            /* every occurrence its own count: the reply carries the count after the last, so
             * it is at least the number of occurrences */
            if (it->count < (int64_t)m) rc = STORE_E_PROTOCOL;
            else it->count -= (int64_t)m - (int64_t)k;
        }
    }
    if (rc != STORE_OK) {   /* the next part's arrays start after all of this part's */
        *win = win0;
        for (size_t i = 0; i < n; i++)
            *win += (!sent || rank[i] == 1) && is_storm_create(r->element[sent ? sent[i] : off + i]);
    }
    return rc;
}

int decide_reply_part(const redisReply *r, size_t off, size_t n, size_t *win, store_item *items, arena *a)
{
    return read_part(r, off, NULL, NULL, NULL, n, win, items, a);
}

int decide_reply_part_sent_once(const redisReply *r, const uint32_t *sent, const uint32_t *rank, const uint32_t *mult,
                                size_t n, size_t *win, store_item *items, arena *a)
{
    return read_part(r, 0, sent, rank, mult, n, win, items, a);
}
