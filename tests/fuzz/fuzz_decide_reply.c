/* fuzz_decide_reply.c: libFuzzer target for the reading of decide.lua's reply
 * (state/decide_reply.c): what Redis sends is input, and since session 7 a dedup record's
 * bytes after its count reach the gateway as the script stored them (docs/redis-keys.md, "A
 * damaged record"). The input is a whole reply:
 *   byte 0            the number of items, 1 + byte % 8
 *   the rest          elements separated by '\n': "[a,b,..." an array of strings (a window's
 *                     resources), "#" an integer reply, "~" a nil reply, anything else a
 *                     string (as hiredis makes them: len bytes and a NUL after them)
 * decide_reply_shape_ok() is asked first, as redis.c does; if it accepts, the items are read
 * in two parts (as two callers of one batch). Checked on every result: a part read well has
 * a valid verdict for every item, a storm hash of 64 hex wherever there is a storm type, and
 * its windows' resources; either way the window index stays inside the reply.
 * Then the same reply is read as a batch whose alerts repeat (redis.c's decide_plan): item u
 * stands for 1-3 occurrences (from the input's bytes), in rounds (every item's first
 * occurrence, then the seconds, ...), read in two parts: besides the checks above, a
 * DUPLICATE's occurrences count up by one to the reply's count, an occurrence after the
 * first of a creating verdict waits (IN_PROGRESS), and every window is taken once. */
#include "fuzz_util.h"
#include "state/decide_reply.h"
#include "util/arena.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ELEMENTS 256

static redisReply *mk(int type)
{
    redisReply *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->type = type;
    return r;
}

static redisReply *mkstr(const uint8_t *p, size_t len)
{
    redisReply *r = mk(REDIS_REPLY_STRING);
    r->str = malloc(len + 1);
    if (!r->str) abort();
    memcpy(r->str, p, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static void drop(redisReply *r)
{
    if (!r) return;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) drop(r->element[i]);
        free(r->element);
    }
    free(r->str);
    free(r);
}

/* An array of the pieces of [p, p + len) between the separators, each made by make(). */
static redisReply *split(const uint8_t *p, size_t len, uint8_t sep, redisReply *(*make)(const uint8_t *, size_t))
{
    redisReply *r = mk(REDIS_REPLY_ARRAY);
    r->element = calloc(MAX_ELEMENTS, sizeof *r->element);
    if (!r->element) abort();
    size_t start = 0;
    for (size_t i = 0; len && i <= len && r->elements < MAX_ELEMENTS; i++)
        if (i == len || p[i] == sep) {
            r->element[r->elements++] = make(p + start, i - start);
            start = i + 1;
        }
    return r;
}

static redisReply *element(const uint8_t *p, size_t len)
{
    if (len == 1 && p[0] == '#') {
        redisReply *r = mk(REDIS_REPLY_INTEGER);
        r->integer = 2;
        return r;
    }
    if (len == 1 && p[0] == '~') return mk(REDIS_REPLY_NIL);
    if (len == 0 || p[0] != '[') return mkstr(p, len);
    return split(p + 1, len - 1, ',', mkstr);
}

static bool hex64(const char *h)
{
    for (int i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return false;
    return h[64] == '\0';
}

static void check_part(int rc, const redisReply *r, const store_item *it, size_t n, size_t win_before, size_t win)
{
    if (win < win_before || win > r->elements) fuzz_fail("window index %zu (was %zu, %zu elements)", win, win_before, r->elements);
    if (rc != STORE_OK) {
        if (rc != STORE_E_PROTOCOL) fuzz_fail("rc %d", rc);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (it[i].verdict < STORE_CREATE || it[i].verdict > STORE_STALE) fuzz_fail("item %zu: verdict %d", i, (int)it[i].verdict);
        if (it[i].storm_type && !hex64(it[i].storm_hash)) fuzz_fail("item %zu: storm type without a hash", i);
        if (it[i].verdict == STORE_STORM_CREATE) {
            if (it[i].n_storm_resources && !it[i].storm_resources) fuzz_fail("item %zu: resources missing", i);
            for (size_t k = 0; k < it[i].n_storm_resources; k++)
                if (!it[i].storm_resources[k]) fuzz_fail("item %zu: resource %zu NULL", i, k);
        }
        if (it[i].ref) (void)strlen(it[i].ref);
        if (it[i].storm_type) (void)strlen(it[i].storm_type);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t n_items = 1 + data[0] % 8;
    redisReply *r = split(data + 1, size - 1, '\n', element);
    if (decide_reply_shape_ok(r, n_items)) {
        arena a;
        arena_init(&a);
        store_item it[8];
        for (size_t i = 0; i < n_items; i++)
            it[i] = (store_item){.fingerprint = "fp", .name = i % 2 ? "B" : "A", .namespace = "ns",
                                 .resource_id = "ns:Pod:p", .ref = "ns/rr-mine"};
        size_t first = n_items / 2, win = n_items;
        size_t before = win;
        int rc = decide_reply_part(r, 0, first, &win, it, &a);
        check_part(rc, r, it, first, before, win);
        before = win;
        rc = decide_reply_part(r, first, n_items - first, &win, it + first, &a);
        check_part(rc, r, it + first, n_items - first, before, win);
        if (win != r->elements) fuzz_fail("%zu windows read of %zu elements", win, r->elements);

        uint32_t mult[8], sent[24], rank[24];
        size_t n = 0;
        for (size_t u = 0; u < n_items; u++) mult[u] = 1 + data[(u + 1) % size] % 3;
        for (uint32_t round = 1; round <= 3; round++)
            for (size_t u = 0; u < n_items; u++)
                if (round <= mult[u]) {
                    sent[n] = (uint32_t)u;
                    rank[n++] = round;
                }
        store_item b[24];
        for (size_t i = 0; i < n; i++)
            b[i] = (store_item){.fingerprint = "fp", .name = "A", .namespace = "ns", .resource_id = "ns:Pod:p",
                                .ref = "ns/rr-mine"};
        size_t half = n / 2;
        win = n_items;
        before = win;
        int rc1 = decide_reply_part_sent_once(r, sent, rank, mult, half, &win, b, &a);
        check_part(rc1, r, b, half, before, win);
        before = win;
        int rc2 = decide_reply_part_sent_once(r, sent + half, rank + half, mult, n - half, &win, b + half, &a);
        check_part(rc2, r, b + half, n - half, before, win);
        if (win != r->elements) fuzz_fail("repeats: %zu windows read of %zu elements", win, r->elements);
        for (size_t i = 0; i < n; i++) {
            if ((i < half ? rc1 : rc2) != STORE_OK) continue;
            store_verdict v = b[i].verdict;
            if (rank[i] > 1 && v != STORE_DUPLICATE && v != STORE_RESOLVED && v != STORE_STALE && v != STORE_IN_PROGRESS)
                fuzz_fail("repeats: occurrence %u of item %u is %d", rank[i], sent[i], (int)v);
            for (size_t j = 0; j < i; j++)   /* an earlier occurrence of the same item, read well */
                if (sent[j] == sent[i] && (j < half ? rc1 : rc2) == STORE_OK && v == STORE_DUPLICATE &&
                    b[j].verdict == STORE_DUPLICATE && b[i].count - b[j].count != (int64_t)(rank[i] - rank[j]))
                    fuzz_fail("repeats: counts %lld then %lld", (long long)b[j].count, (long long)b[i].count);
        }
        arena_free(&a);
    }
    drop(r);
    return 0;
}
