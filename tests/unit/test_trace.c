/* test_trace.c: W3C traceparent (util/trace.h): version 00 read exactly, later versions by
 * their first four fields, every invalid form refused (case, zeros, lengths, separators,
 * version ff), new ids random and well formed, the header we send, the thread's current trace. */
#include "testutil.h"

#include "util/err.h"
#include "util/trace.h"

#include <pthread.h>

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PID "00f067aa0ba902b7"

static bool is_lower_hex(const char *s, size_t n)
{
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static void test_version_00_is_read(void **state)
{
    (void)state;
    trace_ctx t;
    assert_int_equal(trace_parse("00-" TID "-" PID "-01", &t), 0);
    assert_string_equal(t.trace_id, TID);
    assert_string_equal(t.parent_id, PID);
    assert_int_equal(t.flags, 1);
    assert_int_equal(trace_parse(" \t00-" TID "-" PID "-00 ", &t), 0);   /* optional white space */
    assert_int_equal(t.flags, 0);
}

static void test_invalid_headers_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL,
        "",
        "00",
        "00-" TID "-" PID "-0",                                    /* 54 */
        "00-" TID "-" PID "-011",                                  /* 56: version 00 is exact */
        "00-" TID "-" PID "-01-extra",
        "ff-" TID "-" PID "-01",                                   /* version ff is invalid */
        "0A-" TID "-" PID "-01",                                   /* uppercase version */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" PID "-01",          /* uppercase trace id */
        "00-" TID "-00F067AA0BA902B7-01",                          /* uppercase parent id */
        "00-" TID "-" PID "-0A",                                   /* uppercase flags */
        "00-00000000000000000000000000000000-" PID "-01",          /* all-zero trace id */
        "00-" TID "-0000000000000000-01",                          /* all-zero parent id */
        "00_" TID "-" PID "-01",
        "00-" TID "_" PID "-01",
        "00-" TID "-" PID "_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-" PID "-01",          /* not hex */
        "0-" TID "-" PID "-01x",
        "cc-" TID "-" PID "-01extra",                              /* a later version: '-' after the fields */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        trace_ctx t;
        if (trace_parse(bad[i], &t) != SGW_E_INVALID) fail_msg("accepted: %s", bad[i] ? bad[i] : "(null)");
    }
}

static void test_later_versions_are_read_by_their_first_four_fields(void **state)
{
    (void)state;
    trace_ctx t;
    assert_int_equal(trace_parse("cc-" TID "-" PID "-09", &t), 0);
    assert_string_equal(t.trace_id, TID);
    assert_int_equal(trace_parse("cc-" TID "-" PID "-01-what-the-future-holds", &t), 0);
    assert_string_equal(t.parent_id, PID);
    char out[TRACE_HEADER_LEN + 1];
    assert_int_equal(trace_parse("cc-" TID "-" PID "-09", &t), 0);
    trace_begin("cc-" TID "-" PID "-09", &t);
    trace_format(&t, out);
    assert_string_equal(out + 52, "-01");   /* of a later version's flags, only sampled */
    assert_memory_equal(out, "00-" TID "-", 36);
}

static void test_begin_keeps_the_trace_and_makes_our_span(void **state)
{
    (void)state;
    trace_ctx t;
    trace_begin("00-" TID "-" PID "-01", &t);
    assert_string_equal(t.trace_id, TID);
    assert_string_equal(t.parent_id, PID);
    assert_true(is_lower_hex(t.span_id, 16));
    assert_string_not_equal(t.span_id, PID);
    char out[TRACE_HEADER_LEN + 1];
    trace_format(&t, out);
    assert_int_equal(strlen(out), TRACE_HEADER_LEN);
    assert_memory_equal(out, "00-" TID "-", 36);
    assert_memory_equal(out + 36, t.span_id, 16);
    assert_string_equal(out + 52, "-01");
    {   /* our header reads back, our span its parent */
        trace_ctx back;
        assert_int_equal(trace_parse(out, &back), 0);
        assert_string_equal(back.parent_id, t.span_id);
    }
}

static void test_absent_or_invalid_header_starts_a_new_random_trace(void **state)
{
    (void)state;
    trace_ctx a, b, c;
    trace_begin(NULL, &a);
    trace_begin("00-" TID "-" PID "-0", &b);   /* invalid: a new trace, not this one */
    trace_begin(NULL, &c);
    for (const trace_ctx *t = &a; t; t = t == &a ? &b : t == &b ? &c : NULL) {
        assert_true(is_lower_hex(t->trace_id, 32));
        assert_true(is_lower_hex(t->span_id, 16));
        assert_string_equal(t->parent_id, "");
        assert_int_equal(t->flags, 0);
        assert_string_not_equal(t->trace_id, "00000000000000000000000000000000");
    }
    assert_string_not_equal(b.trace_id, TID);
    assert_string_not_equal(a.trace_id, b.trace_id);
    assert_string_not_equal(a.trace_id, c.trace_id);
    assert_string_not_equal(a.span_id, c.span_id);
}

static void *current_elsewhere(void *arg)
{
    *(const trace_ctx **)arg = trace_current();
    return NULL;
}

static void test_the_current_trace_belongs_to_the_thread(void **state)
{
    (void)state;
    trace_ctx t;
    trace_begin(NULL, &t);
    assert_null(trace_current());
    trace_set_current(&t);
    assert_ptr_equal(trace_current(), &t);
    const trace_ctx *seen = &t;
    pthread_t th;
    pthread_create(&th, NULL, current_elsewhere, &seen);
    pthread_join(th, NULL);
    assert_null(seen);
    trace_set_current(NULL);
    assert_null(trace_current());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_00_is_read),
        cmocka_unit_test(test_invalid_headers_are_refused),
        cmocka_unit_test(test_later_versions_are_read_by_their_first_four_fields),
        cmocka_unit_test(test_begin_keeps_the_trace_and_makes_our_span),
        cmocka_unit_test(test_absent_or_invalid_header_starts_a_new_random_trace),
        cmocka_unit_test(test_the_current_trace_belongs_to_the_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
