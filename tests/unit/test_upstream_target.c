/* test_upstream_target.c: upstream Kubernaut's choice of an alert's target
 * (src/adapters/upstream_target.c), case by case. */
#include "testutil.h"

#include <string.h>

#include "adapters/upstream_target.h"

static sig_signal pick(sig_kv *kv, size_t n)
{
    sig_signal s;
    memset(&s, 0, sizeof s);
    s.labels.items = kv;
    s.labels.n = n;
    sig_map_sort_dedup(&s.labels);
    upstream_target_pick(&s);
    return s;
}

static void controller_beats_pod_and_scrape_labels_never_count(void **st)
{
    (void)st;
    sig_kv kv[] = {{"alertname", "X"}, {"namespace", "prod"}, {"pod", "ksm-abc"}, {"deployment", "api"},
                   {"job", "kube-state-metrics"}, {"instance", "10.0.0.1:8443"}, {"service", "ksm"},
                   {"container", "c"}, {"endpoint", "http"}};
    sig_signal s = pick(kv, sizeof kv / sizeof kv[0]);
    assert_string_equal(s.kind, "Deployment");
    assert_string_equal(s.res_name, "api");
    assert_string_equal(s.res_namespace, "prod");
}

static void tiers_then_kind_name(void **st)
{
    (void)st;
    sig_kv a[] = {{"pod", "p1"}, {"replicaset", "rs1"}, {"node", "n1"}};
    sig_signal s = pick(a, 3);
    assert_string_equal(s.kind, "ReplicaSet");   /* tier 2 before Pod and Node (tier 3) */
    sig_kv b[] = {{"statefulset", "db"}, {"daemonset", "agent"}};
    s = pick(b, 2);
    assert_string_equal(s.kind, "DaemonSet");    /* same tier: by kind name */
    assert_string_equal(s.res_name, "agent");
}

static void namespaces_and_cluster_scope(void **st)
{
    (void)st;
    sig_kv a[] = {{"namespace", "monitoring"}, {"exported_namespace", "payments"}, {"pod", "api-1"}};
    sig_signal s = pick(a, 3);
    assert_string_equal(s.res_namespace, "payments");   /* upstream: exported_namespace first */
    sig_kv b[] = {{"namespace", "monitoring"}, {"node", "worker-3"}};
    s = pick(b, 2);
    assert_string_equal(s.kind, "Node");
    assert_string_equal(s.res_namespace, "");             /* cluster-scoped */
    sig_kv c[] = {{"pod", "lonely"}};
    s = pick(c, 1);
    assert_string_equal(s.res_namespace, "default");      /* namespaced without a namespace */
}

static void invalid_names_and_nothing(void **st)
{
    (void)st;
    sig_kv a[] = {{"pod", "Not_A_Name"}, {"deployment", "-bad"}, {"node", "ok-node"}};
    sig_signal s = pick(a, 3);
    assert_string_equal(s.kind, "Node");
    assert_string_equal(s.res_name, "ok-node");
    sig_kv b[] = {{"alertname", "Watchdog"}, {"namespace", "monitoring"}, {"job", "x"}};
    s = pick(b, 3);
    assert_string_equal(s.kind, "Unknown");
    assert_string_equal(s.res_name, "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(controller_beats_pod_and_scrape_labels_never_count),
        cmocka_unit_test(tiers_then_kind_name),
        cmocka_unit_test(namespaces_and_cluster_scope),
        cmocka_unit_test(invalid_names_and_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
