/* test_k8s_informer.c: the informer's decisions from canned answers, without a server:
 * watch lines (events, bookmarks, ERROR 410 and other errors, lines it cannot use), list
 * pages (pagination, the resourceVersion the watch starts from, the readiness reasons),
 * how a watch's end is followed up, the backoff's bounds, the query encoding, and freeing
 * from inside a callback. client.c and informer.c are included for their static functions; the client is
 * real but pointed at a closed port, and its loop runs only to free everything. */
#include "testutil.h"

#include "k8s/client.c"
#include "k8s/informer.c"

typedef struct rec {
    char text[4096];
    int  n;
    bool free_at_item;         /* k8s_informer_free from the first LIST_ITEM */
    k8s_informer *inf;
} rec;

static const char *ev_name(k8s_informer_event ev)
{
    switch (ev) {
    case K8S_INFORMER_LIST_BEGIN: return "BEGIN";
    case K8S_INFORMER_LIST_ITEM: return "ITEM";
    case K8S_INFORMER_LIST_END: return "END";
    case K8S_INFORMER_ADDED: return "ADDED";
    case K8S_INFORMER_MODIFIED: return "MODIFIED";
    case K8S_INFORMER_DELETED: return "DELETED";
    }
    return "?";
}

static void on_event(k8s_informer_event ev, const cJSON *obj, void *ctx)
{
    rec *r = ctx;
    size_t n = strlen(r->text);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
    snprintf(r->text + n, sizeof r->text - n, "%s%s%s ", ev_name(ev), obj ? ":" : "",
             cJSON_IsString(name) ? name->valuestring : "");
    r->n++;
    if (r->free_at_item && ev == K8S_INFORMER_LIST_ITEM) k8s_informer_free(r->inf);
}

typedef struct fixture {
    uv_loop_t     loop;
    k8s_client   *c;
    k8s_informer *inf;
    rec           r;
} fixture;

static void setup(fixture *f, const k8s_informer_opts *o)
{
    memset(f, 0, sizeof *f);
    uv_loop_init(&f->loop);
    char err[256];
    k8s_config cfg = {.server = "http://127.0.0.1:9"};
    k8s_client_opts co = {.qps = 100, .burst = 100, .timeout_ms = 1000};
    f->c = k8s_client_new(&f->loop, &cfg, &co, err, sizeof err);
    assert_non_null(f->c);
    k8s_informer_opts d = {.path = "/apis/g/v1/namespaces/ns/things", .name = "RR cache"};
    f->inf = k8s_informer_new(f->c, o ? o : &d, on_event, &f->r, err, sizeof err);
    assert_non_null(f->inf);
    f->r.inf = f->inf;
}

static void teardown(fixture *f, bool informer_freed)
{
    if (!informer_freed) k8s_informer_free(f->inf);
    k8s_client_free(f->c);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static int line(fixture *f, const char *l, char *why)
{
    return apply_line(f->inf, l, strlen(l), why, 512);
}

static void test_watch_events_go_to_the_owner_in_order_and_move_the_rv(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    char why[512];
    assert_int_equal(line(&f, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"}}}", why), LINE_OK);
    assert_string_equal(k8s_informer_resource_version(f.inf), "11");
    assert_int_equal(line(&f, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"12\"}}}", why), LINE_OK);
    assert_int_equal(line(&f, "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"13\"}}}", why), LINE_OK);
    assert_string_equal(f.r.text, "ADDED:a MODIFIED:a DELETED:a ");
    assert_string_equal(k8s_informer_resource_version(f.inf), "13");
    k8s_informer_stats st;
    k8s_informer_stats_get(f.inf, &st);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.bookmarks, 0);
    teardown(&f, false);
}

static void test_a_bookmark_moves_the_rv_and_nothing_else(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    char why[512];
    snprintf(f.inf->rv, sizeof f.inf->rv, "5");
    assert_int_equal(line(&f, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Thing\",\"metadata\":{\"resourceVersion\":\"900\","
                              "\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}", why), LINE_OK);
    assert_string_equal(k8s_informer_resource_version(f.inf), "900");
    assert_int_equal(f.r.n, 0);
    k8s_informer_stats st;
    k8s_informer_stats_get(f.inf, &st);
    assert_int_equal(st.bookmarks, 1);
    assert_int_equal(st.events, 0);
    assert_int_equal(f.inf->watch_lines, 1);   /* progress: the watch is alive */
    teardown(&f, false);
}

static void test_an_error_event_410_asks_for_a_relist_others_for_a_retry(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    char why[512];
    snprintf(f.inf->rv, sizeof f.inf->rv, "5");
    assert_int_equal(line(&f, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                              "\"message\":\"too old resource version: 5 (80)\",\"reason\":\"Expired\",\"code\":410}}", why),
                     LINE_RELIST);
    assert_non_null(strstr(why, "410"));
    assert_non_null(strstr(why, "too old resource version"));
    assert_int_equal(line(&f, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500,\"message\":\"etcd\"}}", why),
                     LINE_RETRY);
    assert_non_null(strstr(why, "code 500: etcd"));
    assert_string_equal(k8s_informer_resource_version(f.inf), "5");
    assert_int_equal(f.r.n, 0);
    teardown(&f, false);
}

static void test_lines_it_cannot_use_ask_for_a_retry_and_deliver_nothing(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    char why[512];
    snprintf(f.inf->rv, sizeof f.inf->rv, "5");
    static const char *bad[] = {
        "not json",
        "{\"type\":\"ADDED\"}",
        "{\"type\":\"ADDED\",\"object\":[]}",
        "{\"type\":7,\"object\":{}}",
        "{\"type\":\"SYNC\",\"object\":{\"metadata\":{\"resourceVersion\":\"6\"}}}",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",
        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"\"}}}",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":6}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        if (line(&f, bad[i], why) != LINE_RETRY) fail_msg("line %zu not refused: %s", i, bad[i]);
        assert_true(why[0] != '\0');
    }
    assert_int_equal(f.r.n, 0);
    assert_string_equal(k8s_informer_resource_version(f.inf), "5");
    teardown(&f, false);
}

static k8s_response resp(int status, const char *body)
{
    return (k8s_response){.status = status, .body = body, .len = strlen(body), .attempts = 1,
                          .error = status ? NULL : "Couldn't connect to server"};
}

static void test_list_pages_are_delivered_once_whole_then_the_watch_starts(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    char why[256];
    assert_int_equal(k8s_informer_synced(f.inf, why, sizeof why), 0);
    assert_string_equal(why, "RR cache not synced: not listed yet");
    f.inf->list_out = true;
    k8s_response r1 = resp(200, "{\"kind\":\"ThingList\",\"metadata\":{\"resourceVersion\":\"40\",\"continue\":\"tok+/=\"},"
                                "\"items\":[{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"3\"}},"
                                "{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"7\"}}]}");
    on_list(&r1, f.inf);
    assert_int_equal(f.r.n, 0);              /* nothing before the last page */
    assert_true(f.inf->list_out);            /* the next page was asked for */
    assert_string_equal(f.inf->cont, "tok+/=");
    k8s_response r2 = resp(200, "{\"metadata\":{\"resourceVersion\":\"41\"},"
                                "\"items\":[{\"metadata\":{\"name\":\"c\",\"resourceVersion\":\"41\"}}]}");
    on_list(&r2, f.inf);
    assert_string_equal(f.r.text, "BEGIN ITEM:a ITEM:b ITEM:c END ");
    assert_string_equal(k8s_informer_resource_version(f.inf), "40");   /* the first page's */
    assert_int_equal(k8s_informer_synced(f.inf, why, sizeof why), 1);
    assert_non_null(f.inf->watch);
    k8s_informer_stats st;
    k8s_informer_stats_get(f.inf, &st);
    assert_int_equal(st.lists, 1);
    assert_int_equal(st.watches, 1);
    assert_int_equal(st.errors, 0);
    teardown(&f, false);
}

static void test_an_empty_list_is_a_complete_list(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    f.inf->list_out = true;
    k8s_response r = resp(200, "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":null}");
    on_list(&r, f.inf);
    assert_string_equal(f.r.text, "BEGIN END ");
    assert_string_equal(k8s_informer_resource_version(f.inf), "9");
    teardown(&f, false);
}

static void test_a_404_list_says_the_crd_may_be_missing_and_waits_long(void **state)
{
    (void)state;
    k8s_informer_opts o = {.path = "/apis/kubernaut.ai/v1alpha1/namespaces/ns/remediationrequests",
                           .notfound_retry_ms = 7000};
    fixture f;
    setup(&f, &o);
    f.inf->list_out = true;
    k8s_response r = resp(404, "{\"kind\":\"Status\",\"code\":404,\"message\":\"the server could not find the requested resource\"}");
    on_list(&r, f.inf);
    char why[256];
    assert_int_equal(k8s_informer_synced(f.inf, why, sizeof why), 0);
    assert_string_equal(why, "the API server does not serve /apis/kubernaut.ai/v1alpha1/namespaces/ns/remediationrequests: "
                             "is the CRD installed?");
    assert_int_equal(f.inf->next, NEXT_LIST);
    assert_int_equal(uv_timer_get_due_in(&f.inf->timer), 7000);
    assert_int_equal(f.r.n, 0);
    teardown(&f, false);
}

static void test_other_list_failures_give_the_reason_and_back_off(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    char why[256];
    f.inf->list_out = true;
    k8s_response r = resp(500, "{\"kind\":\"Status\",\"code\":500,\"message\":\"etcdserver: leader changed\"}");
    on_list(&r, f.inf);
    assert_int_equal(k8s_informer_synced(f.inf, why, sizeof why), 0);
    assert_string_equal(why, "RR cache not synced: list: HTTP 500: etcdserver: leader changed");
    uint64_t d1 = uv_timer_get_due_in(&f.inf->timer);
    assert_true(d1 >= 100 && d1 <= 200);
    f.inf->list_out = true;
    k8s_response r0 = resp(0, "");
    on_list(&r0, f.inf);
    assert_int_equal(k8s_informer_synced(f.inf, why, sizeof why), 0);
    assert_string_equal(why, "RR cache not synced: list: Couldn't connect to server");
    uint64_t d2 = uv_timer_get_due_in(&f.inf->timer);
    assert_true(d2 >= 200 && d2 <= 400);
    f.inf->list_out = true;
    k8s_response rbad = resp(200, "{\"items\":[]}");
    on_list(&rbad, f.inf);
    assert_int_equal(k8s_informer_synced(f.inf, why, sizeof why), 0);
    assert_non_null(strstr(why, "not a list with a resourceVersion"));
    k8s_informer_stats st;
    k8s_informer_stats_get(f.inf, &st);
    assert_int_equal(st.errors, 3);
    assert_int_equal(st.lists, 0);
    /* a failure of a page after the first starts the list again from its first page */
    f.inf->list_out = true;
    k8s_response p1 = resp(200, "{\"metadata\":{\"resourceVersion\":\"40\",\"continue\":\"x\"},\"items\":[{\"metadata\":{\"name\":\"a\"}}]}");
    on_list(&p1, f.inf);
    k8s_response gone = resp(410, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"continue expired\"}");
    on_list(&gone, f.inf);
    assert_null(f.inf->items);
    assert_null(f.inf->cont);
    assert_int_equal(f.inf->next, NEXT_LIST);
    assert_int_equal(f.r.n, 0);
    teardown(&f, false);
}

static void test_synced_stays_true_when_a_later_list_fails(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    f.inf->list_out = true;
    k8s_response ok = resp(200, "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[]}");
    on_list(&ok, f.inf);
    f.inf->list_out = true;
    k8s_response bad = resp(503, "{}");
    on_list(&bad, f.inf);
    char why[256];
    assert_int_equal(k8s_informer_synced(f.inf, why, sizeof why), 1);
    teardown(&f, false);
}

static void watch_ended(fixture *f, int result, int status, const char *body)
{
    k8s_watch_end e = {.result = result, .status = status, .body = body, .len = strlen(body), .error = "boom"};
    f->inf->watch = NULL;
    on_watch_end(&e, f->inf);
}

static void test_how_a_watch_end_is_followed_up(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    snprintf(f.inf->rv, sizeof f.inf->rv, "50");
    k8s_informer_stats st;
    /* a normal end after some progress: watch again at once */
    f.inf->watch_lines = 3;
    watch_ended(&f, K8S_WATCH_EOF, 200, "");
    assert_non_null(f.inf->watch);
    k8s_informer_stats_get(f.inf, &st);
    assert_int_equal(st.watches, 1);
    assert_int_equal(st.errors, 0);
    k8s_watch_cancel(f.inf->watch);
    /* a normal end at once with nothing: no progress, wait */
    f.inf->watch_lines = 0;
    f.inf->watch_t0 = time_mono_ms();
    watch_ended(&f, K8S_WATCH_EOF, 200, "");
    assert_null(f.inf->watch);
    assert_int_equal(f.inf->next, NEXT_WATCH);
    assert_true(uv_is_active((uv_handle_t *)&f.inf->timer));
    /* transport, idle, too long, other statuses: back off, then watch again */
    int kinds[] = {K8S_WATCH_E_TRANSPORT, K8S_WATCH_E_IDLE, K8S_WATCH_E_TOO_LONG, K8S_WATCH_E_STATUS};
    for (size_t i = 0; i < 4; i++) {
        watch_ended(&f, kinds[i], kinds[i] == K8S_WATCH_E_STATUS ? 500 : 0, "");
        assert_int_equal(f.inf->next, NEXT_WATCH);
    }
    k8s_informer_stats_get(f.inf, &st);
    assert_int_equal(st.errors, 5);
    assert_int_equal(st.relists, 0);
    assert_string_equal(k8s_informer_resource_version(f.inf), "50");
    /* HTTP 410: list again */
    watch_ended(&f, K8S_WATCH_E_STATUS, 410, "{\"kind\":\"Status\",\"code\":410,\"message\":\"too old\"}");
    assert_int_equal(f.inf->next, NEXT_LIST);
    /* an ERROR 410 line: on_line asked for a relist and cancelled the watch */
    f.inf->after_watch = LINE_RELIST;
    watch_ended(&f, K8S_WATCH_E_CANCELLED, 200, "");
    assert_int_equal(f.inf->next, NEXT_LIST);
    k8s_informer_stats_get(f.inf, &st);
    assert_int_equal(st.relists, 2);
    /* a cancel that the informer did not ask for (the client was freed): nothing follows */
    uv_timer_stop(&f.inf->timer);
    watch_ended(&f, K8S_WATCH_E_CANCELLED, 0, "");
    assert_false(uv_is_active((uv_handle_t *)&f.inf->timer));
    assert_null(f.inf->watch);
    teardown(&f, false);
}

static void test_the_first_relist_is_at_once_repeated_ones_back_off(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    f.inf->fails = 0;
    watch_ended(&f, K8S_WATCH_E_STATUS, 410, "");
    assert_int_equal(uv_timer_get_due_in(&f.inf->timer), 0);
    watch_ended(&f, K8S_WATCH_E_STATUS, 410, "");
    assert_true(uv_timer_get_due_in(&f.inf->timer) >= 100);
    teardown(&f, false);
}

static void test_backoff_doubles_within_jitter_up_to_the_cap(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    for (int i = 0; i < 200; i++) {
        f.inf->fails = 1;
        uint64_t d = backoff(f.inf);
        assert_true(d >= 100 && d <= 200);
        f.inf->fails = 3;
        d = backoff(f.inf);
        assert_true(d >= 400 && d <= 800);
        f.inf->fails = 40;
        d = backoff(f.inf);
        assert_true(d >= 2500 && d <= 5000);
    }
    teardown(&f, false);
}

static void test_urls_carry_the_rv_bookmarks_timeout_and_encoded_selectors(void **state)
{
    (void)state;
    k8s_informer_opts o = {.path = "/api/v1/configmaps", .label_selector = "app in (a,b),!x",
                           .field_selector = "metadata.name=n1", .watch_timeout_s = 10};
    fixture f;
    setup(&f, &o);
    assert_string_equal(f.inf->selectors, "&labelSelector=app%20in%20%28a%2Cb%29%2C%21x&fieldSelector=metadata.name%3Dn1");
    snprintf(f.inf->rv, sizeof f.inf->rv, "77");
    watch_start(f.inf);
    const char *url = f.inf->watch->r.path;
    int t = 0;
    assert_int_equal(sscanf(url, "/api/v1/configmaps?watch=true&allowWatchBookmarks=true&timeoutSeconds=%d", &t), 1);
    assert_true(t >= 10 && t < 20);
    assert_non_null(strstr(url, "&resourceVersion=77&labelSelector=app%20in"));
    assert_int_equal(f.inf->watch->idle_ms, t * 1000 + 60000);
    teardown(&f, false);
}

static void test_a_bad_path_is_refused(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256];
    k8s_config cfg = {.server = "http://127.0.0.1:9"};
    k8s_client_opts co = {0};
    k8s_client *c = k8s_client_new(&loop, &cfg, &co, err, sizeof err);
    assert_null(k8s_informer_new(c, &(k8s_informer_opts){.path = "api/v1/x"}, on_event, NULL, err, sizeof err));
    assert_null(k8s_informer_new(c, &(k8s_informer_opts){.path = "/api/v1/x?watch=1"}, on_event, NULL, err, sizeof err));
    assert_non_null(strstr(err, "path"));
    k8s_client_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_freeing_from_a_callback_stops_delivery(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    f.r.free_at_item = true;
    f.inf->list_out = true;
    k8s_response r = resp(200, "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[{\"metadata\":{\"name\":\"a\"}},"
                               "{\"metadata\":{\"name\":\"b\"}}]}");
    on_list(&r, f.inf);
    assert_string_equal(f.r.text, "BEGIN ITEM:a ");
    /* the informer's memory goes when the loop has closed its timer (LeakSanitizer checks) */
    teardown(&f, true);
}

static void test_free_with_a_list_out_waits_for_its_answer(void **state)
{
    (void)state;
    fixture f;
    setup(&f, NULL);
    k8s_informer_start(f.inf);
    assert_true(f.inf->list_out);
    assert_int_equal(f.r.n, 0);   /* nothing inside start */
    k8s_informer_free(f.inf);
    /* the client's free answers the list ("client closed"); the informer goes after it */
    teardown(&f, true);
    assert_int_equal(f.r.n, 0);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_events_go_to_the_owner_in_order_and_move_the_rv),
        cmocka_unit_test(test_a_bookmark_moves_the_rv_and_nothing_else),
        cmocka_unit_test(test_an_error_event_410_asks_for_a_relist_others_for_a_retry),
        cmocka_unit_test(test_lines_it_cannot_use_ask_for_a_retry_and_deliver_nothing),
        cmocka_unit_test(test_list_pages_are_delivered_once_whole_then_the_watch_starts),
        cmocka_unit_test(test_an_empty_list_is_a_complete_list),
        cmocka_unit_test(test_a_404_list_says_the_crd_may_be_missing_and_waits_long),
        cmocka_unit_test(test_other_list_failures_give_the_reason_and_back_off),
        cmocka_unit_test(test_synced_stays_true_when_a_later_list_fails),
        cmocka_unit_test(test_how_a_watch_end_is_followed_up),
        cmocka_unit_test(test_the_first_relist_is_at_once_repeated_ones_back_off),
        cmocka_unit_test(test_backoff_doubles_within_jitter_up_to_the_cap),
        cmocka_unit_test(test_urls_carry_the_rv_bookmarks_timeout_and_encoded_selectors),
        cmocka_unit_test(test_a_bad_path_is_refused),
        cmocka_unit_test(test_freeing_from_a_callback_stops_delivery),
        cmocka_unit_test(test_free_with_a_list_out_waits_for_its_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
