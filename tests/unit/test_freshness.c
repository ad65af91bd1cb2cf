/* test_freshness.c: upstream Kubernaut's replay checks (src/freshness.c and the adapters'
 * part of them): the X-Timestamp header as Go's strconv.ParseInt reads it, the window with
 * both edges accepted, which check runs for which route and contract, the alerts' startsAt
 * and an Event's times. The clock is never read: every check takes NOW. */
#include "testutil.h"

#include "adapters/adapter.h"
#include "config.h"
#include "freshness.h"
#include "util/arena.h"
#include "util/err.h"
#include "util/xalloc.h"

#define NOW 1796582400000LL      /* 2026-12-06T18:40:00Z */
#define MINUTE 60000LL

static const adapter_limits ON = {.max_alerts = 1000, .max_payload_bytes = 64 << 10, .max_depth = 64,
                                  .fresh = true, .max_age_ms = 5 * MINUTE, .max_skew_ms = 2 * MINUTE};

static config *cfg(const char *freshness, const char *rr_api)
{
    config *c = config_defaults();
    free(c->freshness);
    c->freshness = xstrdup(freshness);
    free(c->rr_api);
    c->rr_api = xstrdup(rr_api);
    return c;
}

#define REMEDIATION "remediation.kubernaut.io/v1alpha1"
#define KUBERNAUT_AI "kubernaut.ai/v1alpha1"

/* "%lld" of NOW/1000 + delta_s */
static const char *header_at(char buf[32], long long delta_s)
{
    snprintf(buf, 32, "%lld", NOW / 1000 + delta_s);
    return buf;
}

static void expect(int rc, const adapter_error *err, int want, const char *needle)
{
    if (rc != want) fail_msg("got %d (%s), want %d", rc, err->message, want);
    if (needle && !strstr(err->message, needle)) fail_msg("\"%s\" does not say \"%s\"", err->message, needle);
}

/* ---- the header ------------------------------------------------------------------------- */

static void test_header_parses_like_go_parseint(void **state)
{
    (void)state;
    int64_t v;
    adapter_error err = {0};
    struct { const char *in; int64_t want; } ok[] = {
        {"1796580000", 1796580000}, {"+5", 5}, {"-0", 0}, {"007", 7}, {" 12\t", 12},
        {"9223372036854775807", INT64_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        v = -1;
        expect(freshness_parse_header(ok[i].in, &v, &err), &err, ADAPTER_OK, NULL);
        if (v != ok[i].want) fail_msg("%s: got %lld, want %lld", ok[i].in, (long long)v, (long long)ok[i].want);
    }
    const char *bad[] = {"", " ", "+", "-", "abc", "12a", "1 2", "1_000", "0x10", "1.5", "1e9",
                         "9223372036854775808", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect(freshness_parse_header(bad[i], &v, &err), &err, ADAPTER_E_TYPE, "is not a Unix time in seconds");
    expect(freshness_parse_header("-1", &v, &err), &err, ADAPTER_E_TYPE, "X-Timestamp: -1 is negative");
    expect(freshness_parse_header("-9223372036854775808", &v, &err), &err, ADAPTER_E_TYPE, "is negative");
    /* a value of any bytes is shown as printable ASCII, cut at 40 */
    expect(freshness_parse_header("\x01\xff\"x", &v, &err), &err, ADAPTER_E_TYPE, "\"??\"x\"");
    char longv[100];
    memset(longv, '7', sizeof longv - 2);
    longv[sizeof longv - 2] = 'z';
    longv[sizeof longv - 1] = '\0';
    expect(freshness_parse_header(longv, &v, &err), &err, ADAPTER_E_TYPE, "7777...\" is not");
}

static void test_header_window_accepts_both_edges_and_rejects_one_second_beyond(void **state)
{
    (void)state;
    config *c = cfg("on", REMEDIATION);
    adapter_limits lim = ON;
    adapter_error err = {0};
    char h[32];
    expect(freshness_check(c, ROUTE_PROMETHEUS, header_at(h, 0), NOW, &lim, &err), &err, ADAPTER_OK, NULL);
    expect(freshness_check(c, ROUTE_PROMETHEUS, header_at(h, -300), NOW, &lim, &err), &err, ADAPTER_OK, NULL);
    expect(freshness_check(c, ROUTE_PROMETHEUS, header_at(h, 120), NOW, &lim, &err), &err, ADAPTER_OK, NULL);
    expect(freshness_check(c, ROUTE_PROMETHEUS, header_at(h, -301), NOW, &lim, &err), &err, ADAPTER_E_STALE,
           "X-Timestamp: 1796582099 is 301s old, beyond the freshness tolerance of 300s (adapters.freshness_tolerance)");
    expect(freshness_check(c, ROUTE_PROMETHEUS, header_at(h, 121), NOW, &lim, &err), &err, ADAPTER_E_FUTURE,
           "X-Timestamp: 1796582521 is 121s in the future, beyond the clock skew tolerance of 120s "
           "(adapters.freshness_clock_skew)");
    /* a header checked means no body check (upstream: header first) */
    expect(freshness_check(c, ROUTE_PROMETHEUS, header_at(h, 0), NOW, &lim, &err), &err, ADAPTER_OK, NULL);
    assert_false(lim.fresh);
    /* the far future, past int64 milliseconds, is the future */
    expect(freshness_check(c, ROUTE_PROMETHEUS, "9223372036854775807", NOW, &lim, &err), &err, ADAPTER_E_FUTURE,
           "9223372036854775807 is");
    expect(freshness_check(c, ROUTE_PROMETHEUS, "0", NOW, &lim, &err), &err, ADAPTER_E_STALE, "X-Timestamp: 0 is");
    expect(freshness_check(c, ROUTE_PROMETHEUS, "soon", NOW, &lim, &err), &err, ADAPTER_E_TYPE, NULL);
    config_free(c);
}

static void test_tolerances_come_from_the_config(void **state)
{
    (void)state;
    config *c = cfg("on", REMEDIATION);
    c->freshness_tolerance_ms = 30000;
    c->freshness_clock_skew_ms = 1500;
    adapter_limits lim = ON;
    adapter_error err = {0};
    char h[32];
    expect(freshness_check(c, ROUTE_PROMETHEUS, header_at(h, -30), NOW, &lim, &err), &err, ADAPTER_OK, NULL);
    expect(freshness_check(c, ROUTE_PROMETHEUS, header_at(h, -31), NOW, &lim, &err), &err, ADAPTER_E_STALE,
           "tolerance of 30s");
    expect(freshness_check(c, ROUTE_PROMETHEUS, header_at(h, 2), NOW, &lim, &err), &err, ADAPTER_E_FUTURE,
           "clock skew tolerance of 1.5s");
    expect(freshness_check(c, ROUTE_PROMETHEUS, NULL, NOW, &lim, &err), &err, ADAPTER_OK, NULL);
    assert_true(lim.fresh);
    assert_int_equal(lim.max_age_ms, 30000);
    assert_int_equal(lim.max_skew_ms, 1500);
    config_free(c);
}

/* ---- which checks run ------------------------------------------------------------------- */

static void test_auto_is_on_only_under_kubernaut_ai(void **state)
{
    (void)state;
    struct { const char *mode, *api; bool want; } cases[] = {
        {"auto", REMEDIATION, false}, {"auto", KUBERNAUT_AI, true}, {"on", REMEDIATION, true},
        {"on", KUBERNAUT_AI, true},   {"off", KUBERNAUT_AI, false}, {"off", REMEDIATION, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config *c = cfg(cases[i].mode, cases[i].api);
        if (freshness_enabled(c) != cases[i].want) fail_msg("%s under %s", cases[i].mode, cases[i].api);
        config_free(c);
    }
    config *d = config_defaults();
    assert_string_equal(d->freshness, "auto");
    assert_int_equal(d->freshness_tolerance_ms, 5 * MINUTE);
    assert_int_equal(d->freshness_clock_skew_ms, 2 * MINUTE);
    assert_false(freshness_enabled(d));   /* the default contract keeps today's behaviour */
    config_free(d);
}

static void test_config_keys_are_read_and_validated(void **state)
{
    (void)state;
    char err[512] = "";
    char *envp[] = {"SGW_ADAPTERS_FRESHNESS=on", "SGW_ADAPTERS_FRESHNESS_TOLERANCE=90s",
                    "SGW_ADAPTERS_FRESHNESS_CLOCK_SKEW=0s", NULL};
    config *c = config_load(NULL, envp, err, sizeof err);
    if (!c) fail_msg("%s", err);
    assert_string_equal(c->freshness, "on");
    assert_int_equal(c->freshness_tolerance_ms, 90000);
    assert_int_equal(c->freshness_clock_skew_ms, 0);
    config_free(c);
    char *bad_mode[] = {"SGW_ADAPTERS_FRESHNESS=sometimes", NULL};
    c = config_load(NULL, bad_mode, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(config_validate(c, err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "adapters.freshness must be auto, on or off"));
    config_free(c);
    char *bad_tol[] = {"SGW_ADAPTERS_FRESHNESS_TOLERANCE=500ms", NULL};
    c = config_load(NULL, bad_tol, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(config_validate(c, err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "adapters.freshness_tolerance must be >= 1s"));
    config_free(c);
}

static void test_off_checks_nothing_not_even_a_bad_header(void **state)
{
    (void)state;
    config *c = cfg("auto", REMEDIATION);
    adapter_limits lim = ON;
    adapter_error err = {0};
    expect(freshness_check(c, ROUTE_PROMETHEUS, "garbage", NOW, &lim, &err), &err, ADAPTER_OK, NULL);
    assert_false(lim.fresh);
    expect(freshness_check(c, ROUTE_K8S_EVENT, NULL, NOW, &lim, &err), &err, ADAPTER_OK, NULL);
    assert_false(lim.fresh);
    config_free(c);
}

static void test_events_ignore_the_header_and_an_empty_header_is_none(void **state)
{
    (void)state;
    config *c = cfg("auto", KUBERNAUT_AI);
    adapter_limits lim = ON;
    adapter_error err = {0};
    /* upstream's Event route reads only the body */
    expect(freshness_check(c, ROUTE_K8S_EVENT, "garbage", NOW, &lim, &err), &err, ADAPTER_OK, NULL);
    assert_true(lim.fresh);
    /* Go's Header.Get gives "" for an empty header: the body is checked */
    lim.fresh = false;
    expect(freshness_check(c, ROUTE_PROMETHEUS, "", NOW, &lim, &err), &err, ADAPTER_OK, NULL);
    assert_true(lim.fresh);
    config_free(c);
}

/* ---- the window itself ------------------------------------------------------------------- */

static void test_window_edges_and_messages(void **state)
{
    (void)state;
    adapter_error err = {0};
    expect(adapter_check_freshness("f", NULL, NOW - 5 * MINUTE, NOW, &ON, true, &err), &err, ADAPTER_OK, NULL);
    expect(adapter_check_freshness("f", NULL, NOW + 2 * MINUTE, NOW, &ON, true, &err), &err, ADAPTER_OK, NULL);
    expect(adapter_check_freshness("f", NULL, NOW - 5 * MINUTE - 1, NOW, &ON, true, &err), &err, ADAPTER_E_STALE,
           "f: 2026-12-06T18:34:59Z is 300.001s old");
    expect(adapter_check_freshness("f", NULL, NOW + 2 * MINUTE + 1, NOW, &ON, true, &err), &err, ADAPTER_E_FUTURE,
           "f: 2026-12-06T18:42:00Z is 120.001s in the future");
    /* without check_age, any past time passes */
    expect(adapter_check_freshness("f", NULL, 1, NOW, &ON, false, &err), &err, ADAPTER_OK, NULL);
}

/* ---- the alerts' startsAt ------------------------------------------------------------- */

static int prom(arena *a, const char *starts0, const char *starts1, const adapter_limits *lim, adapter_error *err)
{
    char body[1024];
    char s0[64] = "", s1[64] = "";
    if (starts0) snprintf(s0, sizeof s0, ",\"startsAt\":\"%s\"", starts0);
    if (starts1) snprintf(s1, sizeof s1, ",\"startsAt\":\"%s\"", starts1);
    snprintf(body, sizeof body,
             "{\"version\":\"4\",\"alerts\":["
             "{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\",\"namespace\":\"ns\",\"pod\":\"p0\"}%s},"
             "{\"status\":\"firing\",\"labels\":{\"alertname\":\"A\",\"namespace\":\"ns\",\"pod\":\"p1\"}%s}]}",
             s0, s1);
    sig_signal *s;
    size_t n;
    return adapter_prometheus_parse(body, strlen(body), NOW, lim, a, &s, &n, err);
}

static void test_alerts_startsat_in_the_future_is_refused_an_old_one_is_not(void **state)
{
    (void)state;
    arena a;
    arena_init(&a);
    adapter_error err = {0};
    /* hours old: a long-firing alert re-sent with its original startsAt passes */
    expect(prom(&a, "2026-12-06T10:00:00Z", "2026-12-06T18:42:00Z", &ON, &err), &err, ADAPTER_OK, NULL);
    expect(prom(&a, "2026-12-06T10:00:00Z", "2026-12-06T18:42:01Z", &ON, &err), &err, ADAPTER_E_FUTURE,
           "alerts[1].startsAt: 2026-12-06T18:42:01Z is 121s in the future, beyond the clock skew tolerance of 120s");
    /* one alert without startsAt is fine if another has one; none at all is not */
    expect(prom(&a, NULL, "2026-12-06T18:40:00Z", &ON, &err), &err, ADAPTER_OK, NULL);
    expect(prom(&a, NULL, "0001-01-01T00:00:00Z", &ON, &err), &err, ADAPTER_E_MISSING,
           "alerts[].startsAt: no alert has one");
    /* checks off: today's behaviour */
    adapter_limits off = ON;
    off.fresh = false;
    expect(prom(&a, "2030-01-01T00:00:00Z", NULL, &off, &err), &err, ADAPTER_OK, NULL);
    expect(prom(&a, NULL, NULL, &off, &err), &err, ADAPTER_OK, NULL);
    /* input errors still come first */
    expect(prom(&a, "yesterday", "2030-01-01T00:00:00Z", &ON, &err), &err, ADAPTER_E_TYPE, "alerts[0].startsAt");
    arena_free(&a);
}

/* ---- an Event's times ---------------------------------------------------------------------- */

static int event_of_type(arena *a, const char *type, const char *times, const adapter_limits *lim,
                         adapter_error *err)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"reason\":\"BackOff\",\"type\":\"%s\",\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p\","
             "\"namespace\":\"ns\"},%s}", type, times);
    sig_signal *s;
    size_t n;
    return adapter_k8s_event_parse(body, strlen(body), NOW, lim, a, &s, &n, err);
}

static int event(arena *a, const char *times, const adapter_limits *lim, adapter_error *err)
{
    return event_of_type(a, "Warning", times, lim, err);
}

static void test_event_time_is_last_then_first_then_series_then_event_time(void **state)
{
    (void)state;
    arena a;
    arena_init(&a);
    adapter_error err = {0};
    /* a recurring core/v1 Event: lastTimestamp is what counts */
    expect(event(&a, "\"firstTimestamp\":\"2026-12-06T10:00:00Z\",\"lastTimestamp\":\"2026-12-06T18:35:00Z\"", &ON, &err),
           &err, ADAPTER_OK, NULL);
    expect(event(&a, "\"firstTimestamp\":\"2026-12-06T10:00:00Z\",\"lastTimestamp\":\"2026-12-06T18:34:59Z\"", &ON, &err),
           &err, ADAPTER_E_STALE, "lastTimestamp: 2026-12-06T18:34:59Z is 301s old, beyond the freshness tolerance of 300s");
    expect(event(&a, "\"lastTimestamp\":\"2026-12-06T18:42:01Z\"", &ON, &err), &err, ADAPTER_E_FUTURE,
           "lastTimestamp: 2026-12-06T18:42:01Z is 121s in the future");
    expect(event(&a, "\"firstTimestamp\":\"2026-12-06T18:00:00Z\",\"lastTimestamp\":null", &ON, &err), &err,
           ADAPTER_E_STALE, "firstTimestamp: 2026-12-06T18:00:00Z is 2400s old");
    /* events.k8s.io/v1: series.lastObservedTime, else eventTime */
    expect(event(&a, "\"eventTime\":\"2026-12-06T10:00:00.123456Z\",\"series\":{\"count\":7,"
                     "\"lastObservedTime\":\"2026-12-06T18:39:00.000000Z\"}", &ON, &err), &err, ADAPTER_OK, NULL);
    expect(event(&a, "\"eventTime\":\"2026-12-06T10:00:00.123456Z\"", &ON, &err), &err, ADAPTER_E_STALE,
           "eventTime: 2026-12-06T10:00:00Z is");
    expect(event(&a, "\"eventTime\":\"2026-12-06T18:39:59.5Z\"", &ON, &err), &err, ADAPTER_OK, NULL);
    expect(event(&a, "\"series\":{\"lastObservedTime\":5}", &ON, &err), &err, ADAPTER_E_TYPE,
           "series.lastObservedTime");
    /* none: refused, as upstream */
    expect(event(&a, "\"count\":3", &ON, &err), &err, ADAPTER_E_MISSING,
           "lastTimestamp, firstTimestamp, series.lastObservedTime or eventTime is required");
    /* a Normal Event is checked too (upstream checks before anything) */
    expect(event_of_type(&a, "Normal", "\"lastTimestamp\":\"2026-12-06T18:00:00Z\"", &ON, &err), &err, ADAPTER_E_STALE,
           NULL);
    /* checks off: today's behaviour */
    adapter_limits off = ON;
    off.fresh = false;
    expect(event(&a, "\"lastTimestamp\":\"2020-01-01T00:00:00Z\"", &off, &err), &err, ADAPTER_OK, NULL);
    expect(event(&a, "\"count\":3", &off, &err), &err, ADAPTER_OK, NULL);
    arena_free(&a);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
    const struct CMUnitTest tests[] = {
        T(test_header_parses_like_go_parseint),
        T(test_header_window_accepts_both_edges_and_rejects_one_second_beyond),
        T(test_tolerances_come_from_the_config),
        T(test_auto_is_on_only_under_kubernaut_ai),
        T(test_config_keys_are_read_and_validated),
        T(test_off_checks_nothing_not_even_a_bad_header),
        T(test_events_ignore_the_header_and_an_empty_header_is_none),
        T(test_window_edges_and_messages),
        T(test_alerts_startsat_in_the_future_is_refused_an_old_one_is_not),
        T(test_event_time_is_last_then_first_then_series_then_event_time),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
