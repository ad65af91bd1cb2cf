/* test_metrics.c: the per-thread metric shards (src/metrics.c) add up to exact totals in
 * the exposition, whatever thread made the updates; gauges are set, not summed; series keep
 * their creation order; metrics_free starts over (thread shards are made again). */
#include "testutil.h"

#include "metrics.h"

#include <pthread.h>

#define THREADS 4
#define UPDATES 20000

static void *updater(void *arg)
{
    long t = (long)(intptr_t)arg;
    for (int i = 0; i < UPDATES; i++) {
        metrics_add("gateway_signals_total", "source=\"prometheus\",outcome=\"duplicate\"", 1);
        metrics_observe("gateway_store_duration_seconds", "op=\"decide\"", 0.003);
        if (i % 1000 == 0) metrics_set("gateway_http_connections", "", (double)(t * 1000 + i));
    }
    return NULL;
}

/* The value of the exposition line that starts with `prefix` followed by a space. */
static double value_of(const char *text, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, pl) == 0 && p[pl] == ' ') return strtod(p + pl + 1, NULL);
    fail_msg("no line %s", prefix);
    return -1;
}

static void test_updates_from_many_threads_add_up_exactly(void **state)
{
    (void)state;
    metrics_init();
    metrics_add("gateway_requests_rejected_total", "reason=\"overload\"", 2);   /* the main thread's shard */
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++) assert_int_equal(pthread_create(&th[t], NULL, updater, (void *)(intptr_t)t), 0);
    char *mid = NULL;
    size_t len;
    mid = metrics_render(&len);   /* a scrape while they run: no deadlock, well-formed */
    assert_non_null(strstr(mid, "# TYPE gateway_requests_rejected_total counter"));
    free(mid);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    metrics_add("gateway_requests_rejected_total", "reason=\"overload\"", 3);
    char *text = metrics_render(&len);
    assert_int_equal(strlen(text), len);
    assert_true(value_of(text, "gateway_signals_total{source=\"prometheus\",outcome=\"duplicate\"}") == THREADS * UPDATES);
    assert_true(value_of(text, "gateway_store_duration_seconds_count{op=\"decide\"}") == THREADS * UPDATES);
    assert_true(value_of(text, "gateway_store_duration_seconds_bucket{op=\"decide\",le=\"0.005\"}") == THREADS * UPDATES);
    assert_true(value_of(text, "gateway_store_duration_seconds_bucket{op=\"decide\",le=\"0.0025\"}") == 0);
    double sum = value_of(text, "gateway_store_duration_seconds_sum{op=\"decide\"}");
    assert_true(sum > 0.003 * THREADS * UPDATES * 0.999 && sum < 0.003 * THREADS * UPDATES * 1.001);
    assert_true(value_of(text, "gateway_requests_rejected_total{reason=\"overload\"}") == 5);
    /* a gauge is the last value set by any thread, not a sum over threads */
    double g = value_of(text, "gateway_http_connections");
    assert_true(g >= 19000 && g <= 3 * 1000 + 19000);
    assert_true((long)g % 1000 == 0);
    free(text);

    /* after metrics_free everything starts from nothing, in every thread */
    metrics_free();
    metrics_add("gateway_signals_total", "source=\"prometheus\",outcome=\"created\"", 1);
    text = metrics_render(&len);
    assert_null(strstr(text, "outcome=\"duplicate\""));
    assert_true(value_of(text, "gateway_signals_total{source=\"prometheus\",outcome=\"created\"}") == 1);
    free(text);
    metrics_free();
}

static void test_series_keep_their_creation_order(void **state)
{
    (void)state;
    metrics_add("gateway_auth_total", "result=\"forbidden\"", 1);
    metrics_add("gateway_auth_total", "result=\"allowed\"", 1);
    metrics_add("gateway_auth_total", "result=\"forbidden\"", 1);
    size_t len;
    char *text = metrics_render(&len);
    const char *f = strstr(text, "gateway_auth_total{result=\"forbidden\"} 2");
    const char *a = strstr(text, "gateway_auth_total{result=\"allowed\"} 1");
    assert_non_null(f);
    assert_non_null(a);
    assert_true(f < a);
    const char *help = strstr(text, "# HELP gateway_auth_total ");
    assert_non_null(help);
    assert_null(strstr(help + 1, "# HELP gateway_auth_total "));   /* one family header */
    free(text);
    metrics_free();
}

/* Each thread remembers its recently used series (metrics.c's cache): many series through
 * the same few slots, labels from one reused buffer whose content changes, long labels
 * that are never cached, and a metrics_free in between all still count exactly. */
static void test_series_cache_never_mixes_series_up(void **state)
{
    (void)state;
    enum { SERIES = 100, PASSES = 7 };
    char labels[256];
    for (int round = 0; round < 2; round++) {
        for (int pass = 0; pass < PASSES; pass++)
            for (int i = 0; i < SERIES; i++) {
                snprintf(labels, sizeof labels, "endpoint=\"/r%d\",method=\"POST\",status=\"%d\"", i % 10, 200 + i / 10);
                metrics_add("gateway_http_requests_total", labels, 1);
                metrics_observe("gateway_http_request_duration_seconds", labels, 0.001 * (i % 10));
            }
        char long_labels[200];
        memset(long_labels, 'x', sizeof long_labels);
        memcpy(long_labels, "reason=\"", 8);
        memcpy(long_labels + sizeof long_labels - 2, "\"", 2);
        long_labels[sizeof long_labels - 1] = '\0';
        for (int k = 0; k < 3; k++) metrics_add("gateway_requests_rejected_total", long_labels, 1);
        size_t len;
        char *text = metrics_render(&len);
        for (int i = 0; i < SERIES; i++) {
            char line[128];
            snprintf(line, sizeof line, "gateway_http_requests_total{endpoint=\"/r%d\",method=\"POST\",status=\"%d\"}", i % 10, 200 + i / 10);
            assert_true(value_of(text, line) == PASSES);
            snprintf(line, sizeof line, "gateway_http_request_duration_seconds_count{endpoint=\"/r%d\",method=\"POST\",status=\"%d\"}", i % 10,
                     200 + i / 10);
            assert_true(value_of(text, line) == PASSES);
        }
        char want[256];
        snprintf(want, sizeof want, "gateway_requests_rejected_total{%s}", long_labels);
        assert_true(value_of(text, want) == 3);
        free(text);
        metrics_free();   /* the second round starts from nothing: no cached series survives */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_updates_from_many_threads_add_up_exactly),
        cmocka_unit_test(test_series_keep_their_creation_order),
        cmocka_unit_test(test_series_cache_never_mixes_series_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
