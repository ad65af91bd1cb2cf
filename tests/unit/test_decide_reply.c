/* test_decide_reply.c: state/decide_reply.c reads decide.lua's flat reply: the strings of a
 * batch's items, then one resources array per STORM_CREATE. Replies are built by hand
 * (hiredis' redisReply), so malformed ones can be tested too: what Redis sends is input. */
#include "testutil.h"

#include "state/decide_plan.h"
#include "state/decide_reply.h"
#include "state/storm_id.h"
#include "util/hash.h"

#include <stdarg.h>

/* ---- hand-made replies (freed with the test's list) ---------------------------------- */

static redisReply *made[1024];
static size_t nmade;

static redisReply *mk(int type)
{
    redisReply *r = calloc(1, sizeof *r);
    r->type = type;
    made[nmade++] = r;
    return r;
}

static redisReply *str(const char *s)
{
    redisReply *r = mk(REDIS_REPLY_STRING);
    r->str = (char *)s;
    r->len = strlen(s);
    return r;
}

static redisReply *arr(size_t n, ...)
{
    redisReply *r = mk(REDIS_REPLY_ARRAY);
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof *r->element);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < nmade; i++) {
        if (made[i]->type == REDIS_REPLY_ARRAY) free(made[i]->element);
        free(made[i]);
    }
    nmade = 0;
    return 0;
}

static store_item item(const char *name, const char *ref)
{
    return (store_item){.fingerprint = "fp", .name = name, .namespace = "ns", .resource_id = "ns:Pod:p", .ref = ref};
}

/* ---- tests ------------------------------------------------------------------------------- */

/* Two callers in one batch; each STORM_CREATE gets its own window's resources, in order. */
static void test_each_part_reads_its_items_and_its_own_windows(void **state)
{
    (void)state;
    redisReply *r = arr(6, str("1|1|10|10|7|0||"),                      /* A: CREATE, no ref sent back */
                        str("2|3|10|11|8|10|pattern|ns/rr-storm|x"),      /* A: STORM_CREATE; '|' in the ref */
                        str("4|5|9|12|0|0||ns/rr-old"),                  /* B: DUPLICATE */
                        str("2|2|20|20|9|20|rate|ns/rr-b"),              /* B: STORM_CREATE */
                        arr(2, str("ns:Pod:a1"), str("ns:Pod:a2")),      /* A's window */
                        arr(1, str("ns:Pod:b1")));                       /* B's window */
    assert_true(decide_reply_shape_ok(r, 4));
    arena a;
    arena_init(&a);
    store_item A[2] = {item("Crash", "ns/rr-intended"), item("OOM", "ns/rr-intended2")};
    store_item B[2] = {item("Dup", "ns/rr-intended3"), item("Rate", "ns/rr-intended4")};
    size_t win = 4;
    assert_int_equal(decide_reply_part(r, 0, 2, &win, A, &a), STORE_OK);
    assert_int_equal(decide_reply_part(r, 2, 2, &win, B, &a), STORE_OK);
    assert_int_equal(win, 6);

    assert_int_equal(A[0].verdict, STORE_CREATE);
    assert_int_equal(A[0].count, 1);
    assert_int_equal(A[0].lease, 7);
    assert_string_equal(A[0].ref, "ns/rr-intended");   /* a CREATE keeps the intended ref */
    assert_null(A[0].storm_type);
    assert_int_equal(A[1].verdict, STORE_STORM_CREATE);
    assert_int_equal(A[1].count, 3);
    assert_int_equal(A[1].first_seen_ms, 10);
    assert_int_equal(A[1].last_seen_ms, 11);
    assert_int_equal(A[1].storm_start_ms, 10);
    assert_string_equal(A[1].storm_type, "pattern");
    assert_string_equal(A[1].ref, "ns/rr-storm|x");
    assert_int_equal(A[1].n_storm_resources, 2);
    assert_string_equal(A[1].storm_resources[1], "ns:Pod:a2");
    char want[65];
    store_storm_id("OOM", "ns", 10, want);
    assert_string_equal(A[1].storm_hash, want);
    hash_sha256_hex("OOM:ns:10", 9, want);   /* the id is sha256("name:namespace:start") */
    assert_string_equal(A[1].storm_hash, want);

    assert_int_equal(B[0].verdict, STORE_DUPLICATE);
    assert_int_equal(B[0].count, 5);
    assert_string_equal(B[0].ref, "ns/rr-old");
    assert_int_equal(B[1].n_storm_resources, 1);
    assert_string_equal(B[1].storm_resources[0], "ns:Pod:b1");
    assert_string_equal(B[1].storm_type, "rate");
    arena_free(&a);
}

static void test_a_duplicate_without_a_ref_has_none(void **state)
{
    (void)state;
    redisReply *r = arr(1, str("8|0|0|0|0|0||"));   /* STALE, nothing recorded */
    arena a;
    arena_init(&a);
    store_item it = item("X", "ns/rr-intended");
    size_t win = 1;
    assert_int_equal(decide_reply_part(r, 0, 1, &win, &it, &a), STORE_OK);
    assert_int_equal(it.verdict, STORE_STALE);
    assert_null(it.ref);
    arena_free(&a);
}

/* Not the shape of a batch: refused before any part is read. */
static void test_wrong_shapes_are_refused(void **state)
{
    (void)state;
    assert_false(decide_reply_shape_ok(NULL, 1));
    assert_false(decide_reply_shape_ok(str("1|1|1|1|1|0||"), 1));                     /* not an array */
    assert_false(decide_reply_shape_ok(arr(1, str("4|1|1|1|0|0||")), 2));             /* too few */
    assert_false(decide_reply_shape_ok(arr(1, str("2|1|1|1|1|1|rate|")), 1));         /* its window missing */
    assert_false(decide_reply_shape_ok(arr(3, str("4|1|1|1|0|0||"), arr(0), arr(0)), 1));   /* extra windows */
    assert_true(decide_reply_shape_ok(arr(2, str("2|1|1|1|1|1|rate|"), arr(0)), 1));
    assert_true(decide_reply_shape_ok(arr(0), 0));
}

/* Malformed strings fail their own part only; the next part still gets its own window. */
static void test_a_malformed_part_fails_alone(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",                                   /* empty */
        "4|1|1|1|0|0",                        /* no type/ref separator */
        "4|1|1|1|0||",                        /* a field short */
        "4|x|1|1|0|0||",                      /* not a number */
        "4|99999999999999999999|1|1|0|0||",   /* beyond 64 bits */
        "9|1|1|1|0|0||",                      /* no such verdict */
        "0|1|1|1|0|0||",
        "-4|1|1|1|0|0||",
        "4 |1|1|1|0|0||",
    };
    for (size_t k = 0; k < 2 * sizeof bad / sizeof bad[0]; k++) {
        /* part 1: a STORM_CREATE and the bad string (in both orders); part 2: a STORM_CREATE */
        redisReply *sc = str("2|1|1|1|1|1|rate|ns/a"), *b = str(bad[k / 2]);
        redisReply *r = arr(5, k % 2 ? b : sc, k % 2 ? sc : b, str("2|1|1|1|1|1|rate|ns/b"),
                            arr(1, str("w-a")), arr(1, str("w-b")));
        assert_true(decide_reply_shape_ok(r, 3));
        arena a;
        arena_init(&a);
        store_item p1[2] = {item("A", "ns/a"), item("A", "ns/a2")}, p2[1] = {item("B", "ns/b")};
        size_t win = 3;
        assert_int_equal(decide_reply_part(r, 0, 2, &win, p1, &a), STORE_E_PROTOCOL);
        assert_int_equal(win, 4);   /* past part 1's one window, read or not */
        assert_int_equal(decide_reply_part(r, 2, 1, &win, p2, &a), STORE_OK);
        assert_int_equal(p2[0].n_storm_resources, 1);
        assert_string_equal(p2[0].storm_resources[0], "w-b");
        arena_free(&a);
    }
    /* an integer where a string belongs, and a window that is not an array */
    redisReply *r = arr(2, mk(REDIS_REPLY_INTEGER), str("4|1|1|1|0|0||"));
    arena a;
    arena_init(&a);
    store_item it[2] = {item("A", NULL), item("A", NULL)};
    size_t win = 2;
    assert_int_equal(decide_reply_part(r, 0, 2, &win, it, &a), STORE_E_PROTOCOL);
    r = arr(2, str("2|1|1|1|1|1|rate|"), str("w"));
    win = 1;
    assert_int_equal(decide_reply_part(r, 0, 1, &win, it, &a), STORE_E_PROTOCOL);
    arena_free(&a);
}

/* decide.lua's fast path answers a DUPLICATE with the record it wrote:
 * "c<expiry: 13 digits><last: 13 digits>|count|first|lease|lease_end|resolved_firing|ref". */
#define X13 "0000000302000"
static void test_a_fast_path_duplicate_is_read_from_its_record(void **state)
{
    (void)state;
    redisReply *r = arr(4, str("c" X13 "0000000002000|42|1000|7|0|0|ns/rr-storm|x"),
                        str("c0000000000030" "0000000000020|3|10|0|0|0|"), str("1|1|50|50|9|0||"),
                        str("c0000000000030" "0000000000020|2|10|0|0|0|ns/rr-2"));
    assert_true(decide_reply_shape_ok(r, 4));
    arena a;
    arena_init(&a);
    store_item it[4] = {item("A", "ns/rr-mine"), item("A", "ns/rr-mine2"), item("B", "ns/rr-new"),
                        item("C", "ns/rr-mine4")};
    it[0].storm_type = "rate";   /* whatever was there is replaced */
    size_t win = 4;
    assert_int_equal(decide_reply_part(r, 0, 4, &win, it, &a), STORE_OK);
    assert_int_equal(it[0].verdict, STORE_DUPLICATE);
    assert_int_equal(it[0].count, 42);
    assert_int_equal(it[0].first_seen_ms, 1000);
    assert_int_equal(it[0].last_seen_ms, 2000);
    assert_int_equal(it[0].lease, 0);
    assert_int_equal(it[0].storm_start_ms, 0);
    assert_null(it[0].storm_type);
    assert_string_equal(it[0].ref, "ns/rr-storm|x");
    assert_int_equal(it[1].verdict, STORE_DUPLICATE);
    assert_int_equal(it[1].count, 3);
    assert_null(it[1].ref);   /* no ref recorded: none, not the caller's */
    assert_int_equal(it[2].verdict, STORE_CREATE);   /* the long form still follows */
    assert_string_equal(it[2].ref, "ns/rr-new");
    assert_int_equal(it[1].first_seen_ms, 10);
    assert_int_equal(it[1].last_seen_ms, 20);
    assert_int_equal(it[3].count, 2);
    assert_string_equal(it[3].ref, "ns/rr-2");
    arena_free(&a);
}

/* ---- a batch whose repeated alerts are sent once (decide_plan.h) ---------------------------- */

static store_item alert(const char *fp, const char *name, const char *ref)
{
    return (store_item){.fingerprint = fp, .name = name, .namespace = "ns", .resource_id = "ns:Pod:p", .ref = ref};
}

/* An alert whose occurrences are all the same goes once, at its first, with their number;
 * one whose occurrences differ (here: one resolved) goes as every one of them. */
static void test_a_plan_sends_a_repeated_alert_once_and_differing_ones_apart(void **state)
{
    (void)state;
    store_item it[8] = {alert("f1", "A", "ns/rr-1"), alert("f2", "B", "ns/rr-2"), alert("f1", "A", "ns/rr-1"),
                        alert("f3", "C", "ns/rr-3"), alert("f2", "B", "ns/rr-2"), alert("f3", "C", "ns/rr-3"),
                        alert("f1", "A", "ns/rr-1"), alert("f4", "D", "ns/rr-4")};
    it[5].resolved = true;   /* f3's two occurrences differ */
    const store_item *all[8];
    for (int i = 0; i < 8; i++) all[i] = &it[i];
    decide_plan pl;
    assert_true(decide_plan_make(&pl, all, 8));
    assert_int_equal(pl.n_sent, 5);   /* f1 (x3), f2 (x2), f3, f3, f4 */
    const uint32_t sent[8] = {0, 1, 0, 2, 1, 3, 0, 4}, rank[8] = {1, 1, 2, 1, 2, 1, 3, 1};
    const uint32_t mult[5] = {3, 2, 1, 1, 1}, first[5] = {0, 1, 3, 5, 7};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pl.sent[i], sent[i]);
        assert_int_equal(pl.rank[i], rank[i]);
    }
    for (int u = 0; u < 5; u++) {
        assert_int_equal(pl.mult[u], mult[u]);
        assert_int_equal(pl.first[u], first[u]);
    }
    decide_plan_free(&pl);

    /* nothing repeats, or only differing occurrences: no plan, every item sent in order */
    it[2].fingerprint = it[4].fingerprint = it[6].fingerprint = "f9";
    it[4].firing_ms = 5;
    it[6].ref = "ns/rr-other";
    assert_false(decide_plan_make(&pl, all, 8));
    assert_null(pl.sent);
    assert_false(decide_plan_make(&pl, all, 1));
}

/* Every field decide.lua is sent makes two occurrences different. */
static void test_a_plan_compares_every_field_that_is_sent(void **state)
{
    (void)state;
    for (int field = 0; field < 7; field++) {
        store_item a = alert("f1", "A", "ns/rr-1"), b = alert("f1", "A", "ns/rr-1");
        switch (field) {
        case 0: b.resolved = true; break;
        case 1: b.firing_ms = 1; break;
        case 2: b.name = "B"; break;
        case 3: b.namespace = ""; break;
        case 4: b.resource_id = "ns:Pod:q"; break;
        case 5: b.ref = "ns/rr-2"; break;
        case 6: b.namespace = NULL; break;   /* sent as "": not "ns" */
        }
        const store_item *all[2] = {&a, &b};
        decide_plan pl;
        assert_false(decide_plan_make(&pl, all, 2));
        decide_plan_free(&pl);
    }
    /* NULL and "" are both sent as "": the same */
    store_item a = alert("f1", "A", "ns/rr-1"), b = alert("f1", "A", "ns/rr-1");
    a.namespace = NULL;
    b.namespace = "";
    const store_item *all[2] = {&a, &b};
    decide_plan pl;
    assert_true(decide_plan_make(&pl, all, 2));   /* both sent as "" */
    decide_plan_free(&pl);
}

/* Reading the replies back: a DUPLICATE's occurrences count up to the reply's count; the
 * occurrences after the first of an alert the first creates wait (IN_PROGRESS, their own
 * ref, no window taken); other outcomes are the first's; each part keeps its own windows. */
static void test_the_occurrences_of_an_alert_sent_once_get_what_they_would_apart(void **state)
{
    (void)state;
    /* sent: 0 f1 DUPLICATE x3 (fast form, count 12 after the last), 1 f2 STORM_CREATE x2,
     * 2 f3 RESOLVED x2, 3 f4 STORM_CREATE x1, 4 f5 DUPLICATE x2 (long form, count 7) */
    redisReply *r = arr(7, str("c" X13 "0000000002000|12|1000|0|0|0|ns/rr-d"), str("2|1|50|50|9|50|rate|ns/rr-s"),
                        str("7|4|10|20|0|0||ns/rr-r"), str("2|2|50|50|9|50|rate|ns/rr-s2"), str("4|7|5|50|0|0||ns/rr-e"),
                        arr(1, str("ns:Pod:a")), arr(2, str("ns:Pod:a"), str("ns:Pod:b")));
    assert_true(decide_reply_shape_ok(r, 5));
    /* caller A: f1 f2 f1 f3; caller B: f2 f1 f3 f4 f5 f5 */
    store_item A[4] = {alert("f1", "X", "ns/rr-a0"), alert("f2", "S", "ns/rr-a1"), alert("f1", "X", "ns/rr-a0"),
                       alert("f3", "R", "ns/rr-a3")};
    store_item B[6] = {alert("f2", "S", "ns/rr-a1"), alert("f1", "X", "ns/rr-a0"), alert("f3", "R", "ns/rr-a3"),
                       alert("f4", "S", "ns/rr-b3"), alert("f5", "E", "ns/rr-b4"), alert("f5", "E", "ns/rr-b4")};
    const uint32_t sent[10] = {0, 1, 0, 2, 1, 0, 2, 3, 4, 4}, rank[10] = {1, 1, 2, 1, 2, 3, 2, 1, 1, 2};
    const uint32_t mult[5] = {3, 2, 2, 1, 2};
    arena a;
    arena_init(&a);
    size_t win = 5;
    assert_int_equal(decide_reply_part_sent_once(r, sent, rank, mult, 4, &win, A, &a), STORE_OK);
    assert_int_equal(win, 6);   /* f2's window, taken by its first occurrence */
    assert_int_equal(decide_reply_part_sent_once(r, sent + 4, rank + 4, mult, 6, &win, B, &a), STORE_OK);
    assert_int_equal(win, 7);
    /* f1: 10, 11, 12 in batch order (A0, A2, B1) */
    assert_int_equal(A[0].verdict, STORE_DUPLICATE);
    assert_int_equal(A[0].count, 10);
    assert_int_equal(A[2].count, 11);
    assert_int_equal(B[1].verdict, STORE_DUPLICATE);
    assert_int_equal(B[1].count, 12);
    assert_int_equal(B[1].first_seen_ms, 1000);
    assert_string_equal(B[1].ref, "ns/rr-d");
    /* f2: A's creates the storm, B's waits with its own ref */
    assert_int_equal(A[1].verdict, STORE_STORM_CREATE);
    assert_int_equal(A[1].n_storm_resources, 1);
    assert_int_equal(B[0].verdict, STORE_IN_PROGRESS);
    assert_int_equal(B[0].count, 0);
    assert_int_equal(B[0].lease, 0);
    assert_null(B[0].storm_type);
    assert_string_equal(B[0].ref, "ns/rr-a1");
    /* f3: both RESOLVED, as the first */
    assert_int_equal(A[3].verdict, STORE_RESOLVED);
    assert_int_equal(B[2].verdict, STORE_RESOLVED);
    assert_int_equal(B[2].count, 4);
    assert_string_equal(B[2].ref, "ns/rr-r");
    /* f4: its own window (the second array) */
    assert_int_equal(B[3].verdict, STORE_STORM_CREATE);
    assert_int_equal(B[3].n_storm_resources, 2);
    /* f5: long-form DUPLICATE, 6 then 7 */
    assert_int_equal(B[4].count, 6);
    assert_int_equal(B[5].count, 7);
    assert_int_equal(B[5].verdict, STORE_DUPLICATE);

    /* a malformed part fails alone, and the next part still finds its window */
    redisReply *bad = arr(3, str("2|1|50|50|9|50|rate|ns/rr-s"), str("4|x"), arr(0));
    store_item C[2] = {alert("f1", "S", "ns/rr-1"), alert("f2", "T", "ns/rr-2")};
    store_item D[1] = {alert("f1", "S", "ns/rr-1")};
    const uint32_t s2[3] = {0, 1, 0}, r2[3] = {1, 1, 2}, m2[2] = {2, 1};
    win = 2;
    assert_int_equal(decide_reply_part_sent_once(bad, s2, r2, m2, 2, &win, C, &a), STORE_E_PROTOCOL);
    assert_int_equal(win, 3);   /* past C's window: f1's first occurrence was C's */
    assert_int_equal(decide_reply_part_sent_once(bad, s2 + 2, r2 + 2, m2, 1, &win, D, &a), STORE_OK);
    assert_int_equal(D[0].verdict, STORE_IN_PROGRESS);
    arena_free(&a);
}

/* (found by review) the rule for later occurrences follows the verdict as read, however it is
 * written ("01" is CREATE); a DUPLICATE whose count is below its occurrences is no record's. */
static void test_later_occurrences_follow_the_verdict_as_read(void **state)
{
    (void)state;
    redisReply *r = arr(2, str("01|1|5|5|9|0||"), str("4|1|5|6|0|0||ns/rr-d"));
    store_item it[4] = {alert("f1", "A", "ns/rr-1"), alert("f1", "A", "ns/rr-1"), alert("f2", "B", "ns/rr-2"),
                        alert("f2", "B", "ns/rr-2")};
    const uint32_t sent[4] = {0, 0, 1, 1}, rank[4] = {1, 2, 1, 2}, mult[2] = {2, 2};
    arena a;
    arena_init(&a);
    size_t win = 2;
    assert_int_equal(decide_reply_part_sent_once(r, sent, rank, mult, 2, &win, it, &a), STORE_OK);
    assert_int_equal(it[0].verdict, STORE_CREATE);
    assert_int_equal(it[1].verdict, STORE_IN_PROGRESS);
    assert_string_equal(it[1].ref, "ns/rr-1");
    /* count 1 for 2 occurrences */
    assert_int_equal(decide_reply_part_sent_once(r, sent + 2, rank + 2, mult, 2, &win, it + 2, &a), STORE_E_PROTOCOL);
    assert_int_equal(win, 2);
    arena_free(&a);
}

/* Counts and times up to 2^63-1 are read exactly (18 digits unchecked, the 19th checked);
 * 2^63 and beyond fail. */
static void test_integers_are_read_up_to_int64_max(void **state)
{
    (void)state;
    redisReply *r = arr(3, str("4|9223372036854775807|123456789012345678|1000000000000000000|0|0||r"),
                        str("c" X13 "9999999999999|999999999999999999|0|3|4|5|"),
                        str("4|-9223372036854775807|1|1|0|0||"));
    arena a;
    arena_init(&a);
    store_item it[3] = {item("A", NULL), item("A", NULL), item("A", NULL)};
    size_t win = 3;
    assert_int_equal(decide_reply_part(r, 0, 3, &win, it, &a), STORE_OK);
    assert_true(it[0].count == INT64_MAX);
    assert_true(it[0].first_seen_ms == 123456789012345678LL);
    assert_true(it[0].last_seen_ms == 1000000000000000000LL);
    assert_true(it[1].count == 999999999999999999LL);
    assert_true(it[1].last_seen_ms == 9999999999999LL);
    assert_true(it[2].count == -INT64_MAX);
    static const char *const over[] = {"4|9223372036854775808|1|1|0|0||", "4|10000000000000000000|1|1|0|0||",
                                       "c" X13 X13 "|1|2|3|4|92233720368547758070|"};
    for (size_t k = 0; k < sizeof over / sizeof over[0]; k++) {
        redisReply *o = arr(1, str(over[k]));
        store_item one[1] = {item("A", NULL)};
        win = 1;
        if (decide_reply_part(o, 0, 1, &win, one, &a) != STORE_E_PROTOCOL) fail_msg("accepted: %s", over[k]);
    }
    arena_free(&a);
}

/* A record form that is cut short or overflows fails its part, as the long form does. */
static void test_a_malformed_record_reply_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "c|", "c" X13 X13 "|1|2|3|4|5", "c" X13 X13 "|1|2|3|4|x|ref", "c" X13 X13 "|99999999999999999999|2|3|4|5|r",
        "c" X13 X13 "|1|2|3|4|", "c" X13 "000000000002x|1|2|3|4|5|r", "c" X13 X13 "x1|2|3|4|5|r",
        "c" X13 "000000000002", "c|42|1000|2000|302000|7|0|0|ns/rr-storm",   /* the form before session 7 */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        redisReply *r = arr(1, str(bad[k]));
        assert_true(decide_reply_shape_ok(r, 1));
        arena a;
        arena_init(&a);
        store_item it[1] = {item("A", NULL)};
        size_t win = 1;
        if (decide_reply_part(r, 0, 1, &win, it, &a) != STORE_E_PROTOCOL) fail_msg("accepted: %s", bad[k]);
        arena_free(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_each_part_reads_its_items_and_its_own_windows, teardown),
        cmocka_unit_test_teardown(test_a_duplicate_without_a_ref_has_none, teardown),
        cmocka_unit_test_teardown(test_wrong_shapes_are_refused, teardown),
        cmocka_unit_test_teardown(test_a_malformed_part_fails_alone, teardown),
        cmocka_unit_test_teardown(test_a_fast_path_duplicate_is_read_from_its_record, teardown),
        cmocka_unit_test_teardown(test_a_malformed_record_reply_is_refused, teardown),
        cmocka_unit_test_teardown(test_integers_are_read_up_to_int64_max, teardown),
        cmocka_unit_test_teardown(test_a_plan_sends_a_repeated_alert_once_and_differing_ones_apart, teardown),
        cmocka_unit_test_teardown(test_a_plan_compares_every_field_that_is_sent, teardown),
        cmocka_unit_test_teardown(test_the_occurrences_of_an_alert_sent_once_get_what_they_would_apart, teardown),
        cmocka_unit_test_teardown(test_later_occurrences_follow_the_verdict_as_read, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
