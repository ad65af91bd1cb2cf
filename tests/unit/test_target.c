/* test_target.c: the parts of k8s/target.c that need no API server: the controller reference
 * and the managed label read from metadata JSON, upstream's fingerprint, the process-wide
 * cache (TTLs, the negative TTL, the bound), the answers known without a read, and the
 * callback rule. The resolutions against an API server are in test_target_api.c.
 * The static functions are reached by including the .c file. */
#include "testutil.h"

#include "k8s/target.c"

#include <uv.h>

/* ---- metadata ------------------------------------------------------------------------------ */

static cJSON *meta_of(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    return j;
}

static void expect_ref(const char *meta_json, const char *want_kind, const char *want_name)
{
    cJSON *m = meta_of(meta_json);
    const char *kind = NULL, *name = NULL;
    bool found = controller_ref(m, &kind, &name);
    if (!want_kind) {
        if (found) fail_msg("expected no controller reference in %s, got %s/%s", meta_json, kind, name);
    } else {
        if (!found) fail_msg("expected %s/%s in %s, got none", want_kind, want_name, meta_json);
        assert_string_equal(kind, want_kind);
        assert_string_equal(name, want_name);
    }
    cJSON_Delete(m);
}

static void test_controller_reference_is_the_first_with_controller_true(void **state)
{
    (void)state;
    expect_ref("{\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-7d9f8\","
               "\"uid\":\"1\",\"controller\":true,\"blockOwnerDeletion\":true}]}",
               "ReplicaSet", "web-7d9f8");
    /* a plain owner first, then the controller */
    expect_ref("{\"ownerReferences\":[{\"kind\":\"ConfigMap\",\"name\":\"c\",\"uid\":\"1\"},"
               "{\"kind\":\"Deployment\",\"name\":\"d\",\"uid\":\"2\",\"controller\":false},"
               "{\"kind\":\"StatefulSet\",\"name\":\"db\",\"uid\":\"3\",\"controller\":true}]}",
               "StatefulSet", "db");
    expect_ref("{\"labels\":{\"a\":\"b\"},\"ownerReferences\":[{\"kind\":\"Job\",\"name\":\"j\",\"controller\":true},"
               "{\"kind\":\"CronJob\",\"name\":\"c\",\"controller\":true}]}",
               "Job", "j");
}

static void test_no_controller_reference(void **state)
{
    (void)state;
    expect_ref("{}", NULL, NULL);
    expect_ref("{\"ownerReferences\":[]}", NULL, NULL);
    expect_ref("{\"ownerReferences\":{\"kind\":\"ReplicaSet\",\"name\":\"x\",\"controller\":true}}", NULL, NULL);
    expect_ref("{\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"x\"}]}", NULL, NULL);
    expect_ref("{\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"x\",\"controller\":\"true\"}]}", NULL, NULL);
    expect_ref("{\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"x\",\"controller\":1}]}", NULL, NULL);
    /* a controller reference no object can match ends the chain where it is */
    expect_ref("{\"ownerReferences\":[{\"kind\":\"\",\"name\":\"x\",\"controller\":true}]}", NULL, NULL);
    expect_ref("{\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"controller\":true}]}", NULL, NULL);
    char big[400];
    snprintf(big, sizeof big, "{\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"%0254d\",\"controller\":true}]}",
             0);
    expect_ref(big, NULL, NULL);
}

static void test_managed_label_values(void **state)
{
    (void)state;
    static const struct { const char *json; int want; } cases[] = {
        {"{\"labels\":{\"kubernaut.ai/managed\":\"true\"}}", 1},
        {"{\"labels\":{\"kubernaut.ai/managed\":\"false\"}}", 0},
        {"{\"labels\":{\"kubernaut.ai/managed\":\"True\"}}", -1},   /* upstream: exact values only */
        {"{\"labels\":{\"kubernaut.ai/managed\":\"\"}}", -1},
        {"{\"labels\":{\"kubernaut.ai/managed\":true}}", -1},
        {"{\"labels\":{\"kubernaut.io/managed\":\"true\"}}", -1},
        {"{\"labels\":null}", -1},
        {"{}", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *m = meta_of(cases[i].json);
        int got = managed_label(m);
        if (got != cases[i].want) fail_msg("%s: label %d, want %d", cases[i].json, got, cases[i].want);
        cJSON_Delete(m);
    }
}

/* ---- names and the fingerprint -------------------------------------------------------------- */

static void test_names_no_object_can_have(void **state)
{
    (void)state;
    assert_true(name_valid("web-7d9f8-x2x4k"));
    assert_true(name_valid("a.b-c.d"));
    assert_true(ns_valid("kube-system"));
    assert_false(ns_valid("a.b"));
    assert_false(ns_valid(""));
    assert_false(name_valid("Web"));
    assert_false(name_valid("-a"));
    assert_false(name_valid("a-"));
    assert_false(name_valid("a..b"));
    assert_false(name_valid("a.-b"));
    assert_false(name_valid("a/b"));
    assert_false(name_valid(".."));
    char n[300];
    memset(n, 'a', 254);
    n[254] = '\0';
    assert_false(name_valid(n));
    n[253] = '\0';
    assert_true(name_valid(n));
}

static void test_fingerprint_is_upstreams(void **state)
{
    (void)state;
    char fp[65];
    k8s_target_fingerprint(NULL, "prod", "Deployment", "payment-api", fp);
    assert_string_equal(fp, "91fce8d5c4949766458bd4bd58859a4fb2e8470ef64ef438c22903744799a9b1");
    k8s_target_fingerprint("", "prod", "Deployment", "payment-api", fp);
    assert_string_equal(fp, "91fce8d5c4949766458bd4bd58859a4fb2e8470ef64ef438c22903744799a9b1");
    k8s_target_fingerprint("c1", "prod", "Deployment", "payment-api", fp);
    assert_string_equal(fp, "f298cf1557c90915101bc47fedbf05a1abcba5a172c315aabd6f742dbf11af84");
    k8s_target_fingerprint(NULL, "", "Node", "w1", fp);            /* ":Node:w1" */
    assert_string_equal(fp, "821e808c276199ed32e345b1f8dbc6c1be6385b19551413a1a1b4617fde5bd06");
    k8s_target_fingerprint(NULL, NULL, "Node", "w1", fp);
    assert_string_equal(fp, "821e808c276199ed32e345b1f8dbc6c1be6385b19551413a1a1b4617fde5bd06");
    char *longname = malloc(2001);
    memset(longname, 'a', 2000);
    longname[2000] = '\0';
    k8s_target_fingerprint(NULL, "prod", "Pod", longname, fp);     /* past the stack buffer */
    assert_string_equal(fp, "9be4c6a86f636a3a39e8c0ecb606c8ebb6d2d82486b97c903f70bc7a65044fb9");
    free(longname);
}

/* ---- the cache -------------------------------------------------------------------------------- */

static k8s_target target(const char *kind, const char *name)
{
    k8s_target t;
    memset(&t, 0, sizeof t);
    set_target(&t, kind, name, 2, K8S_SCOPE_NAMESPACE);
    return t;
}

static void test_cache_keeps_answers_for_their_ttl(void **state)
{
    (void)state;
    k8s_target_opts o = {.ttl_ms = 1000, .negative_ttl_ms = 100};
    k8s_target_cache *tc = k8s_target_cache_new(&o);
    k8s_target d = target("Deployment", "web"), got;
    int st;
    assert_false(cache_get(tc, "k1", 0, &st, &got));
    cache_put(tc, "k1", K8S_TARGET_MANAGED, &d, 5000);
    cache_put(tc, "k2", K8S_TARGET_UNMANAGED, &d, 5000);
    cache_put(tc, "k3", SGW_E_NOTFOUND, NULL, 5000);
    assert_true(cache_get(tc, "k1", 5999, &st, &got));
    assert_int_equal(st, K8S_TARGET_MANAGED);
    assert_string_equal(got.kind, "Deployment");
    assert_string_equal(got.name, "web");
    assert_int_equal(got.hops, 2);
    assert_int_equal(got.scope, K8S_SCOPE_NAMESPACE);
    /* the negative answers (unmanaged, not found) go after the shorter TTL */
    assert_true(cache_get(tc, "k2", 5099, &st, &got));
    assert_int_equal(st, K8S_TARGET_UNMANAGED);
    assert_true(cache_get(tc, "k3", 5099, &st, &got));
    assert_int_equal(st, SGW_E_NOTFOUND);
    assert_false(cache_get(tc, "k2", 5100, &st, &got));
    assert_false(cache_get(tc, "k3", 5100, &st, &got));
    assert_int_equal(tc->map.count, 1);                           /* expired entries dropped on sight */
    assert_false(cache_get(tc, "k1", 6000, &st, &got));
    assert_int_equal(tc->map.count, 0);
    /* a new answer replaces the old one and its expiry */
    cache_put(tc, "k1", K8S_TARGET_UNMANAGED, &d, 7000);
    cache_put(tc, "k1", K8S_TARGET_MANAGED, &d, 7050);
    assert_true(cache_get(tc, "k1", 8049, &st, &got));
    assert_int_equal(st, K8S_TARGET_MANAGED);
    assert_int_equal(tc->map.count, 1);
    k8s_target_cache_clear(tc);
    assert_false(cache_get(tc, "k1", 7100, &st, &got));
    assert_null(tc->head);
    k8s_target_cache_free(tc);
}

static void test_cache_is_bounded_and_loses_its_oldest_entry(void **state)
{
    (void)state;
    k8s_target_opts o = {.max_entries = 3};
    k8s_target_cache *tc = k8s_target_cache_new(&o);
    k8s_target d = target("Pod", "p"), got;
    int st;
    cache_put(tc, "a", K8S_TARGET_MANAGED, &d, 0);
    cache_put(tc, "b", K8S_TARGET_MANAGED, &d, 0);
    cache_put(tc, "c", K8S_TARGET_MANAGED, &d, 0);
    cache_put(tc, "a", K8S_TARGET_MANAGED, &d, 1);                /* renewed: now the newest */
    cache_put(tc, "d", K8S_TARGET_MANAGED, &d, 2);                /* full: "b" goes */
    assert_int_equal(tc->map.count, 3);
    assert_false(cache_get(tc, "b", 3, &st, &got));
    assert_true(cache_get(tc, "a", 3, &st, &got));
    assert_true(cache_get(tc, "c", 3, &st, &got));
    assert_true(cache_get(tc, "d", 3, &st, &got));
    cache_put(tc, "e", K8S_TARGET_MANAGED, &d, 4);                /* then "c" */
    assert_false(cache_get(tc, "c", 5, &st, &got));
    assert_int_equal(tc->map.count, 3);
    k8s_target_cache_free(tc);
}

static void test_cache_defaults(void **state)
{
    (void)state;
    k8s_target_cache *tc = k8s_target_cache_new(NULL);
    assert_int_equal(tc->o.ttl_ms, 30000);
    assert_int_equal(tc->o.negative_ttl_ms, 5000);
    assert_int_equal(tc->o.max_entries, 10000);
    assert_int_equal(tc->o.timeout_ms, 5000);
    k8s_target_cache_free(tc);
}

static void test_cache_is_shared_by_threads(void **state);

/* ---- answers without a read --------------------------------------------------------------------- */

static void expect_now(k8s_target_cache *tc, const char *ns, const char *kind, const char *name, int want,
                       k8s_scope_source want_scope)
{
    k8s_target t;
    memset(&t, 0, sizeof t);
    int got = k8s_target_try(tc, NULL, ns, kind, name, &t);
    if (got != want)
        fail_msg("%s/%s/%s: %s, want %s", ns ? ns : "(null)", kind, name, sgw_strerror(got), sgw_strerror(want));
    if (want >= 0) {
        assert_string_equal(t.kind, kind);
        assert_string_equal(t.name, name);
        assert_int_equal(t.hops, 0);
        assert_int_equal(t.scope, want_scope);
    }
}

static void test_answers_that_need_no_read(void **state)
{
    (void)state;
    k8s_target_cache *tc = k8s_target_cache_new(NULL);
    char longname[300];
    memset(longname, 'a', 254);
    longname[254] = '\0';
    expect_now(tc, "prod", "Pod", "", SGW_E_INVALID, 0);
    expect_now(tc, "prod", "", "x", SGW_E_INVALID, 0);
    expect_now(tc, "prod", "Unknown", longname, SGW_E_INVALID, 0);
    expect_now(tc, "prod", "AVeryLongKindNameThatNoAPIServerWouldEverServeToAnyoneAtAllEver1", "x", SGW_E_INVALID, 0);
    /* a namespaced kind upstream reads, without a namespace or with a name no object has */
    expect_now(tc, "", "Pod", "web-1", SGW_E_NOTFOUND, 0);
    expect_now(tc, NULL, "Deployment", "web", SGW_E_NOTFOUND, 0);
    expect_now(tc, "Prod", "Pod", "web-1", SGW_E_NOTFOUND, 0);
    expect_now(tc, "prod", "Pod", "Web_1", SGW_E_NOTFOUND, 0);
    expect_now(tc, "", "Node", "Worker_1", SGW_E_NOTFOUND, 0);
    /* kinds upstream does not read: unmanaged when there is no namespace to ask */
    expect_now(tc, "", "Unknown", "unknown", K8S_TARGET_UNMANAGED, K8S_SCOPE_NO_LABEL);
    expect_now(tc, "prod", "ClusterRole", "admin", K8S_TARGET_UNMANAGED, K8S_SCOPE_NO_LABEL);
    expect_now(tc, "Not_A_Namespace", "Rollout", "web", K8S_TARGET_UNMANAGED, K8S_SCOPE_NO_NAMESPACE);
    /* a Service outside any namespace stands for itself */
    expect_now(tc, "", "Service", "web", K8S_TARGET_UNMANAGED, K8S_SCOPE_NO_LABEL);
    /* the others need a read: unavailable without a client */
    expect_now(tc, "prod", "Pod", "web-1", SGW_E_UNAVAILABLE, 0);
    expect_now(tc, "prod", "Rollout", "web", SGW_E_UNAVAILABLE, 0);
    expect_now(tc, "prod", "Node", "worker-1", SGW_E_UNAVAILABLE, 0);
    expect_now(tc, "prod", "Service", "Not_A_Name", SGW_E_UNAVAILABLE, 0);   /* its namespace is read */
    k8s_target_cache_free(tc);
}

static void test_try_answers_from_the_cache(void **state)
{
    (void)state;
    k8s_target_cache *tc = k8s_target_cache_new(NULL);
    char key[400];
    make_key(key, "prod", "Pod", "web-1");
    assert_string_equal(key, "04prod03Podweb-1");
    k8s_target d = target("Deployment", "web");
    cache_put(tc, key, K8S_TARGET_MANAGED, &d, time_mono_ms());
    k8s_target t;
    assert_int_equal(k8s_target_try(tc, NULL, "prod", "Pod", "web-1", &t), K8S_TARGET_MANAGED);
    assert_string_equal(t.kind, "Deployment");
    assert_string_equal(t.name, "web");
    /* a cluster-scoped kind's namespace plays no part */
    make_key(key, "prod", "Node", "w1");
    assert_string_equal(key, "0004Nodew1");
    cache_put(tc, key, SGW_E_NOTFOUND, NULL, time_mono_ms());
    assert_int_equal(k8s_target_try(tc, NULL, "other", "Node", "w1", &t), SGW_E_NOTFOUND);
    assert_int_equal(k8s_target_try(tc, NULL, "", "Node", "w1", &t), SGW_E_NOTFOUND);
    k8s_target_cache_free(tc);
}

/* ---- the callback rule ----------------------------------------------------------------------------- */

typedef struct answer {
    int        calls, status;
    k8s_target t;
} answer;

static void on_target(int status, const k8s_target *t, void *ctx)
{
    answer *g = ctx;
    g->calls++;
    g->status = status;
    if (t) g->t = *t;
}

static void test_resolve_answers_on_the_loop_never_inside_the_call(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    defer_queue dq;
    defer_init(&dq, &loop);
    k8s_target_cache *tc = k8s_target_cache_new(NULL);
    answer a = {0}, b = {0}, c = {0};
    k8s_target_resolve(tc, NULL, &dq, "", "Unknown", "unknown", on_target, &a);
    k8s_target_resolve(tc, NULL, &dq, "prod", "Pod", "web-1", on_target, &b);   /* a read, no client */
    k8s_target_resolve(tc, NULL, &dq, "", "Pod", "web-1", on_target, &c);
    assert_int_equal(a.calls + b.calls + c.calls, 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, K8S_TARGET_UNMANAGED);
    assert_string_equal(a.t.kind, "Unknown");
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.status, SGW_E_UNAVAILABLE);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, SGW_E_NOTFOUND);
    defer_close(&dq);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    k8s_target_cache_free(tc);
}

/* ---- a Service's selector as a query ------------------------------------------------------------- */

static void test_service_selector_path_sorted_and_escaped(void **state)
{
    (void)state;
    op o;
    memset(&o, 0, sizeof o);
    snprintf(o.ns, sizeof o.ns, "shop");
    cJSON *sel = cJSON_Parse("{\"tier\":\"front\",\"app.kubernetes.io/name\":\"web\"}");
    assert_true(selector_path(&o, sel));
    assert_string_equal(o.path, "/api/v1/namespaces/shop/pods?labelSelector="
                                "app.kubernetes.io%2Fname%3Dweb%2Ctier%3Dfront");
    cJSON_Delete(sel);
    sel = cJSON_Parse("{}");
    assert_false(selector_path(&o, sel));
    cJSON_Delete(sel);
    sel = cJSON_Parse("{\"a\":1}");
    assert_false(selector_path(&o, sel));
    cJSON_Delete(sel);
    assert_false(selector_path(&o, NULL));
}

/* ---- threads ----------------------------------------------------------------------------------------- */

typedef struct worker_arg {
    k8s_target_cache *tc;
    int               id;
} worker_arg;

static void *hammer(void *p)
{
    worker_arg *w = p;
    k8s_target d = target("Deployment", "web"), got;
    char key[32];
    int st;
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "k%d", (i * 7 + w->id) % 300);
        if (i % 3 == 0) cache_put(w->tc, key, K8S_TARGET_MANAGED, &d, i);
        else cache_get(w->tc, key, i, &st, &got);
    }
    return NULL;
}

static void test_cache_is_shared_by_threads(void **state)
{
    (void)state;
    k8s_target_opts o = {.max_entries = 100, .ttl_ms = 50};
    k8s_target_cache *tc = k8s_target_cache_new(&o);
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){tc, i};
        pthread_create(&th[i], NULL, hammer, &args[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    assert_true(tc->map.count <= 100);
    size_t n = 0;
    for (centry *e = tc->head; e; e = e->next) n++;
    assert_int_equal(n, tc->map.count);
    k8s_target_cache_free(tc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_controller_reference_is_the_first_with_controller_true),
        cmocka_unit_test(test_no_controller_reference),
        cmocka_unit_test(test_managed_label_values),
        cmocka_unit_test(test_names_no_object_can_have),
        cmocka_unit_test(test_fingerprint_is_upstreams),
        cmocka_unit_test(test_cache_keeps_answers_for_their_ttl),
        cmocka_unit_test(test_cache_is_bounded_and_loses_its_oldest_entry),
        cmocka_unit_test(test_cache_defaults),
        cmocka_unit_test(test_cache_is_shared_by_threads),
        cmocka_unit_test(test_answers_that_need_no_read),
        cmocka_unit_test(test_try_answers_from_the_cache),
        cmocka_unit_test(test_resolve_answers_on_the_loop_never_inside_the_call),
        cmocka_unit_test(test_service_selector_path_sorted_and_escaped),
    };
    return cmocka_run_group_tests_name("k8s_target", tests, NULL, NULL);
}
