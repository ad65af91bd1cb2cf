/* test_defer.c: the defer queue (util/defer.h): callbacks run on the loop, never inside the
 * call that queued them, in order; what a callback queues runs in the same pass; "last"
 * entries run once every other entry of the pass has, those queued meanwhile included. */
#include "testutil.h"

#include "util/defer.h"

#include <uv.h>

static char order[64];
static size_t norder;
static defer_queue q;

static void mark(int status, void *ctx)
{
    (void)ctx;
    order[norder++] = (char)status;
}

static void mark_and_queue(int status, void *ctx)
{
    mark(status, ctx);
    defer_call(&q, mark, status + 1, NULL);   /* runs in the same pass */
}

static void last_and_queue(int status, void *ctx)
{
    mark(status, ctx);
    defer_call(&q, mark, 'z', NULL);   /* a normal entry queued by a last one: same pass */
}

static void run_once(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_NOWAIT);
}

static void test_callbacks_run_on_the_loop_in_order_never_inside_the_call(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    defer_init(&q, &loop);
    norder = 0;
    defer_call(&q, mark, 'a', NULL);
    defer_call(&q, mark, 'b', NULL);
    assert_int_equal(norder, 0);   /* nothing before the loop runs */
    run_once(&loop);
    order[norder] = '\0';
    assert_string_equal(order, "ab");
    defer_close(&q);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_what_a_callback_queues_runs_in_the_same_pass(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    defer_init(&q, &loop);
    norder = 0;
    defer_call(&q, mark_and_queue, 'a', NULL);
    defer_call(&q, mark, 'x', NULL);
    run_once(&loop);
    order[norder] = '\0';
    assert_string_equal(order, "axb");
    defer_close(&q);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_last_entries_run_after_every_other_of_the_pass(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    defer_init(&q, &loop);
    norder = 0;
    defer_call_last(&q, last_and_queue, 'L', NULL);
    defer_call(&q, mark_and_queue, 'a', NULL);   /* queues 'b' while running */
    defer_call_last(&q, mark, 'M', NULL);
    defer_call(&q, mark, 'x', NULL);
    run_once(&loop);
    order[norder] = '\0';
    /* the normal entries (and 'b', queued by one of them) first; then L, whose 'z' runs
     * before the next last entry */
    assert_string_equal(order, "axbLzM");
    /* the queue is empty after the pass: a new entry starts a new pass */
    norder = 0;
    defer_call(&q, mark, 'n', NULL);
    run_once(&loop);
    order[norder] = '\0';
    assert_string_equal(order, "n");
    defer_close(&q);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A callback queued from a timer runs in that iteration: the idle handle keeps the poll
 * phase from blocking (a 10 s timer elsewhere would otherwise hold it). */
static void on_timer(uv_timer_t *t)
{
    defer_call(&q, mark, 't', NULL);
    uv_close((uv_handle_t *)t, NULL);
}

static void never(uv_timer_t *t) { (void)t; }

static void test_a_callback_queued_from_a_timer_does_not_wait_for_io(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    defer_init(&q, &loop);
    norder = 0;
    uv_timer_t t, idle_long;
    uv_timer_init(&loop, &t);
    uv_timer_init(&loop, &idle_long);
    uv_timer_start(&t, on_timer, 0, 0);
    uv_timer_start(&idle_long, never, 10000, 0);
    uint64_t t0 = uv_hrtime();
    while (norder == 0 && uv_hrtime() - t0 < 5000000000ull) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(norder, 1);
    assert_true(uv_hrtime() - t0 < 2000000000ull);
    uv_close((uv_handle_t *)&idle_long, NULL);
    defer_close(&q);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callbacks_run_on_the_loop_in_order_never_inside_the_call),
        cmocka_unit_test(test_what_a_callback_queues_runs_in_the_same_pass),
        cmocka_unit_test(test_last_entries_run_after_every_other_of_the_pass),
        cmocka_unit_test(test_a_callback_queued_from_a_timer_does_not_wait_for_io),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
