/* test_log.c: util/log.c's per-thread buffering (log_buffering / log_flush), and the
 * current trace's id on the lines of the thread that set it. The log fd is
 * one end of a SOCK_SEQPACKET pair, which keeps the boundaries of every write(2): each
 * message received is one write, so the tests see how lines were grouped. */
#include "testutil.h"

#include "util/log.h"
#include "util/trace.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static int sp[2];

static int setup(void **state)
{
    (void)state;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) != 0) return -1;
    int big = 1 << 20;
    setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    fcntl(sp[1], F_SETFL, O_NONBLOCK);
    log_set_fd(sp[0]);
    log_set_level(LOG_INFO);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_buffering(false);
    log_set_fd(2);
    close(sp[0]);
    close(sp[1]);
    return 0;
}

/* the next write(2) received, NUL-terminated; 0 = nothing written */
static size_t next_write(char *buf, size_t cap)
{
    ssize_t n = recv(sp[1], buf, cap - 1, 0);
    if (n < 0) {
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        n = 0;
    }
    buf[n] = '\0';
    return (size_t)n;
}

static void log_numbered(int i, size_t pad)
{
    char filler[1024];
    memset(filler, 'x', pad);
    filler[pad] = '\0';
    log_line l;
    assert_true(log_begin(&l, LOG_INFO, "request"));
    log_int(&l, "i", i);
    log_str(&l, "pad", filler);
    log_end(&l);
}

/* every line of a write is a whole JSON object; returns how many, checking they are
 * numbered from *next on */
static int check_lines(char *buf, int *next)
{
    int lines = 0;
    for (char *line = buf, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);   /* a write ends at a line's end */
        *nl = '\0';
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        assert_int_equal(cJSON_GetObjectItem(o, "i")->valueint, *next);
        cJSON_Delete(o);
        (*next)++;
        lines++;
    }
    return lines;
}

static void test_unbuffered_lines_are_written_one_by_one(void **state)
{
    (void)state;
    char buf[8192];
    int next = 0;
    log_numbered(0, 10);
    log_numbered(1, 10);
    assert_true(next_write(buf, sizeof buf) > 0);
    assert_int_equal(check_lines(buf, &next), 1);
    assert_true(next_write(buf, sizeof buf) > 0);
    assert_int_equal(check_lines(buf, &next), 1);
    assert_int_equal(next_write(buf, sizeof buf), 0);
}

static void test_buffered_lines_wait_for_the_flush_and_go_out_together(void **state)
{
    (void)state;
    char buf[8192];
    int next = 0;
    log_buffering(true);
    for (int i = 0; i < 5; i++) log_numbered(i, 10);
    assert_int_equal(next_write(buf, sizeof buf), 0);   /* nothing before the flush */
    log_flush();
    assert_true(next_write(buf, sizeof buf) > 0);
    assert_int_equal(check_lines(buf, &next), 5);       /* one write, in order */
    assert_int_equal(next_write(buf, sizeof buf), 0);
    log_flush();                                        /* nothing pending: no write */
    assert_int_equal(next_write(buf, sizeof buf), 0);
    log_numbered(5, 10);
    log_buffering(false);                               /* turning it off flushes */
    assert_true(next_write(buf, sizeof buf) > 0);
    assert_int_equal(check_lines(buf, &next), 1);
    log_numbered(6, 10);                                /* and lines go out at once again */
    assert_true(next_write(buf, sizeof buf) > 0);
    assert_int_equal(check_lines(buf, &next), 1);
}

static void test_buffered_writes_are_whole_lines_of_at_most_pipe_buf(void **state)
{
    (void)state;
    char buf[16384];
    int next = 0, lines = 0, writes = 0;
    log_buffering(true);
    for (int i = 0; i < 100; i++) log_numbered(i, 300 + (size_t)(i * 37) % 600);
    log_numbered(100, 1000);
    log_flush();
    size_t n;
    while ((n = next_write(buf, sizeof buf)) > 0) {
        assert_true(n <= LOG_BATCH_MAX);
        lines += check_lines(buf, &next);
        writes++;
    }
    assert_int_equal(lines, 101);
    assert_int_equal(next, 101);
    assert_true(writes > 1 && writes < 101 / 2);   /* grouped, but never over the bound */
}

static void test_an_error_line_goes_out_at_once_with_what_came_before(void **state)
{
    (void)state;
    char buf[8192];
    int next = 0;
    log_buffering(true);
    log_numbered(0, 10);
    log_numbered(1, 10);
    assert_int_equal(next_write(buf, sizeof buf), 0);
    log_line l;
    assert_true(log_begin(&l, LOG_ERROR, "failed"));
    log_int(&l, "i", 2);
    log_end(&l);
    assert_true(next_write(buf, sizeof buf) > 0);   /* no log_flush needed */
    assert_non_null(strstr(buf, "\"level\":\"error\""));
    assert_int_equal(check_lines(buf, &next), 3);
}

static void *other_thread(void *arg)
{
    (void)arg;
    log_numbered(1, 10);   /* this thread never asked for buffering */
    return NULL;
}

static void test_buffering_is_per_thread(void **state)
{
    (void)state;
    char buf[8192];
    log_buffering(true);
    log_numbered(0, 10);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, NULL);
    int next = 1;
    assert_true(next_write(buf, sizeof buf) > 0);   /* the other thread's line, written at once */
    assert_int_equal(check_lines(buf, &next), 1);
    assert_int_equal(next_write(buf, sizeof buf), 0);
    log_flush();
    next = 0;
    assert_true(next_write(buf, sizeof buf) > 0);
    assert_int_equal(check_lines(buf, &next), 1);
}

/* ---- the current trace's id -------------------------------------------------------------- */

#define TP_ID "4bf92f3577b34da6a3ce929d0e0e4736"
#define TP    "00-" TP_ID "-00f067aa0ba902b7-01"

static int occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* the next line written, parsed; the raw text in buf */
static cJSON *next_line(char *buf, size_t cap)
{
    assert_true(next_write(buf, cap) > 0);
    cJSON *o = cJSON_Parse(buf);
    assert_non_null(o);
    return o;
}

static void test_a_line_carries_the_current_trace_once(void **state)
{
    (void)state;
    char buf[8192];
    trace_ctx t;
    trace_begin(TP, &t);
    trace_set_current(&t);
    log_msg(LOG_INFO, "for the request", "k", "v");
    trace_set_current(NULL);
    cJSON *o = next_line(buf, sizeof buf);
    assert_int_equal(occurrences(buf, "\"trace_id\""), 1);
    assert_string_equal(cJSON_GetObjectItem(o, "trace_id")->valuestring, TP_ID);
    assert_string_equal(cJSON_GetObjectItem(o, "k")->valuestring, "v");
    cJSON_Delete(o);
}

static void test_a_line_without_a_current_trace_has_none(void **state)
{
    (void)state;
    char buf[8192];
    trace_ctx t;
    trace_begin(TP, &t);
    trace_set_current(&t);
    trace_set_current(NULL);
    log_msg(LOG_INFO, "not for a request", "k", "v");
    assert_true(next_write(buf, sizeof buf) > 0);
    assert_null(strstr(buf, "trace_id"));
}

static void test_a_line_that_names_its_trace_keeps_it_and_only_it(void **state)
{
    (void)state;
    char buf[8192];
    trace_ctx t;
    trace_begin(TP, &t);
    const trace_ctx *outer = trace_swap(&t);
    assert_null(outer);
    log_line l;
    assert_true(log_begin(&l, LOG_INFO, "the pipeline's own"));
    log_str(&l, "trace_id", "0123456789abcdef0123456789abcdef");
    log_end(&l);
    assert_ptr_equal(trace_swap(outer), &t);
    cJSON *o = next_line(buf, sizeof buf);
    assert_int_equal(occurrences(buf, "\"trace_id\""), 1);
    assert_string_equal(cJSON_GetObjectItem(o, "trace_id")->valuestring, "0123456789abcdef0123456789abcdef");
    cJSON_Delete(o);
}

static void test_a_truncated_line_still_carries_the_trace(void **state)
{
    (void)state;
    char buf[8192], big[6000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    trace_ctx t;
    trace_begin(TP, &t);
    trace_set_current(&t);
    log_msg(LOG_INFO, "long", "pad", big);
    trace_set_current(NULL);
    assert_true(next_write(buf, sizeof buf) > 0);
    assert_true(strlen(buf) <= sizeof ((log_line *)0)->buf);
    assert_int_equal(occurrences(buf, ",\"trace_id\":\"" TP_ID "\""), 1);
    assert_non_null(strstr(buf, ",\"truncated\":true}\n"));
    cJSON *j = cJSON_Parse(buf);   /* still one JSON object: the value cut and closed */
    assert_non_null(j);
    const char *pad = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "pad"));
    assert_non_null(pad);
    assert_true(strlen(pad) > 3000 && strncmp(pad, big, strlen(pad)) == 0);
    cJSON_Delete(j);
}

/* Cut anywhere, a line is JSON: values of escapes and multi-byte characters cut at every
 * length around the limit, then fields after the cut left out whole. */
static void test_a_cut_line_is_always_json(void **state)
{
    (void)state;
    char buf[8192], val[5000];
    static const char unit[] = "\xc3\xa9\"\\\n\x01\xe2\x82\xac";   /* é " \ newline ^A € */
    for (size_t len = 3900; len < 4100; len++) {
        size_t n = 0;
        while (n + sizeof unit - 1 < len) memcpy(val + n, unit, sizeof unit - 1), n += sizeof unit - 1;
        val[n] = '\0';
        log_line l;
        assert_true(log_begin(&l, LOG_INFO, "cut"));
        log_str(&l, "v", val);
        log_int(&l, "after", 42);
        log_str(&l, "trace_id", "0123");
        log_end(&l);
        assert_true(next_write(buf, sizeof buf) > 0);
        cJSON *j = cJSON_Parse(buf);
        assert_non_null(j);
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "v"));
        assert_non_null(v);
        assert_int_equal(strncmp(v, val, strlen(v)), 0);   /* a prefix, whole characters */
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "truncated")));
        assert_null(cJSON_GetObjectItemCaseSensitive(j, "after"));
        cJSON_Delete(j);
    }
}

static void *log_plain(void *arg)
{
    (void)arg;
    log_msg(LOG_INFO, "another thread", NULL, NULL);
    return NULL;
}

static void test_the_current_trace_is_the_threads_own(void **state)
{
    (void)state;
    char buf[8192];
    trace_ctx t;
    trace_begin(TP, &t);
    trace_set_current(&t);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, log_plain, NULL), 0);
    pthread_join(th, NULL);
    trace_set_current(NULL);
    assert_true(next_write(buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "another thread"));
    assert_null(strstr(buf, "trace_id"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unbuffered_lines_are_written_one_by_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered_lines_wait_for_the_flush_and_go_out_together, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered_writes_are_whole_lines_of_at_most_pipe_buf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_error_line_goes_out_at_once_with_what_came_before, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffering_is_per_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_line_carries_the_current_trace_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_line_without_a_current_trace_has_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_line_that_names_its_trace_keeps_it_and_only_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_truncated_line_still_carries_the_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_cut_line_is_always_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_current_trace_is_the_threads_own, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
