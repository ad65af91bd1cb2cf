/* test_adapters.c: the Alertmanager webhook and Kubernetes Event adapters, against the
 * captured fixtures (tests/fixtures) and hand-written edge cases. Bodies are written with
 * single quotes for readability; J() turns them into JSON double quotes. */
#include "testutil.h"

#include <cjson/cJSON.h>

#include "adapters/adapter.h"
#include "adapters/json_util.h"
#include "sig.h"
#include "util/arena.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "pipeline.h"

#define NOW 1795729900000LL                  /* 2026-11-26T21:51:40Z, after the fixtures' startsAt */
#define T_21_50_10 1795729810000LL           /* 2026-11-26T21:50:10Z */
#define T_21_50_23 1795729823000LL           /* 2026-11-26T21:50:23Z */

static const adapter_limits LIM = {.max_alerts = 1000, .max_payload_bytes = 64 << 10, .max_depth = 64};

typedef struct ctx {
    arena         a;
    sig_signal   *s;
    size_t        n;
    adapter_error err;
} ctx;

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    arena_init(&c->a);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    arena_free(&c->a);
    free(c);
    return 0;
}

/* Copy of s with ' turned into ", in the arena. */
static const char *J(ctx *c, const char *s)
{
    char *d = arena_strdup(&c->a, s);
    for (char *p = d; *p; p++)
        if (*p == '\'') *p = '"';
    return d;
}

static int prom_lim(ctx *c, const char *body, size_t len, const adapter_limits *lim)
{
    return adapter_prometheus_parse(body, len, NOW, lim, &c->a, &c->s, &c->n, &c->err);
}

static int prom(ctx *c, const char *single_quoted)
{
    const char *body = J(c, single_quoted);
    return prom_lim(c, body, strlen(body), &LIM);
}

static int event(ctx *c, const char *single_quoted)
{
    const char *body = J(c, single_quoted);
    return adapter_k8s_event_parse(body, strlen(body), NOW, &LIM, &c->a, &c->s, &c->n, &c->err);
}

static int prom_fixture(ctx *c, const char *name)
{
    size_t len;
    char *buf = read_fixture(name, &len);
    int rc = prom_lim(c, buf, len, &LIM);
    free(buf);
    return rc;
}

static int event_fixture(ctx *c, const char *name, char **body, size_t *len)
{
    *body = read_fixture(name, len);
    return adapter_k8s_event_parse(*body, *len, NOW, &LIM, &c->a, &c->s, &c->n, &c->err);
}

/* Asserts a rejection: status, no signals, and a message containing want (if given). */
static void expect_error(ctx *c, int rc, adapter_status st, const char *want)
{
    if (rc != (int)st || c->err.status != st)
        fail_msg("expected %s, got rc=%d status=%s message=\"%s\"", pipeline_reject_code(st), rc,
                 pipeline_reject_code(c->err.status), c->err.message);
    assert_null(c->s);
    assert_int_equal(c->n, 0);
    if (want && !strstr(c->err.message, want))
        fail_msg("message \"%s\" does not contain \"%s\"", c->err.message, want);
}

static void expect_ok(ctx *c, int rc, size_t n)
{
    if (rc != 0) fail_msg("expected success, got %s: %s", pipeline_reject_code(c->err.status), c->err.message);
    assert_int_equal(c->n, n);
    assert_non_null(c->s);
}

#define ONE_ALERT(labels) "{'version':'4','alerts':[{'labels':{" labels "}}]}"

/* ==== Alertmanager fixtures ================================================================ */

static void test_every_alert_of_a_webhook_is_returned(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom_fixture(c, "pod-crashloop-firing-2-alerts.json"), 2);
    const char *pods[] = {"payment-api-7d9f8b6c4-q8w7e", "payment-api-7d9f8b6c4-x2k9p"};
    const char *am[] = {"49691cefe52f24fd", "75cee11fcddfc850"};
    for (size_t i = 0; i < 2; i++) {
        const sig_signal *s = &c->s[i];
        assert_string_equal(s->name, "KubePodCrashLooping");
        assert_string_equal(s->namespace, "production");
        assert_string_equal(s->res_namespace, "production");
        assert_string_equal(s->kind, "Pod");
        assert_string_equal(s->res_name, pods[i]);
        assert_int_equal(s->severity, SEV_CRITICAL);
        assert_int_equal(s->status, SIG_FIRING);
        assert_int_equal(s->firing_ms, T_21_50_10);
        assert_int_equal(s->ends_ms, 0);
        assert_string_equal(s->am_fingerprint, am[i]);
        assert_false(s->ignored);
    }
    assert_string_not_equal(c->s[0].fingerprint, c->s[1].fingerprint);
    /* the second alert's own labels and annotations survive */
    assert_string_equal(sig_map_get(&c->s[1].labels, "prometheus"), "monitoring/k8s");
    assert_null(sig_map_get(&c->s[0].labels, "prometheus"));
    assert_string_equal(sig_map_get(&c->s[1].annotations, "runbook_url"),
                        "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping");
}

static void test_node_alert_fixture_is_cluster_scoped(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom_fixture(c, "node-disk-pressure-firing.json"), 1);
    const sig_signal *s = &c->s[0];
    assert_string_equal(s->name, "NodeDiskPressure");
    assert_string_equal(s->namespace, "");
    assert_string_equal(s->kind, "Node");
    assert_string_equal(s->res_name, "worker-3");
    assert_int_equal(s->severity, SEV_WARNING);
    /* printf '%s' 'NodeDiskPressure::Node:worker-3' | sha256sum */
    assert_string_equal(s->fingerprint, "40738e9584d7371a873a9afd831d21c0d696a70d4b78ad10e407c5c923ec2f9b");
    assert_string_equal(sig_resource_id(s, &c->a), "Node:worker-3");
}

static void test_deployment_alert_fixture_targets_the_deployment(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom_fixture(c, "deployment-memory-firing.json"), 1);
    const sig_signal *s = &c->s[0];
    assert_string_equal(s->name, "HighMemoryUsage");
    assert_string_equal(s->namespace, "staging");
    assert_string_equal(s->kind, "Deployment");
    assert_string_equal(s->res_name, "cart");
    assert_int_equal(s->severity, SEV_WARNING);
    assert_string_equal(sig_map_get(&s->annotations, "summary"), "Deployment staging/cart memory above 90%");
    /* printf '%s' 'HighMemoryUsage:staging:Deployment:cart' | sha256sum */
    assert_string_equal(s->fingerprint, "8479a1e1133402dc08dca5bbd8548c0865a23c1b7fbf62d89076c8706964273e");
}

static void test_resolved_fixture_yields_resolved_signals_with_end_time(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom_fixture(c, "pod-crashloop-resolved.json"), 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(c->s[i].status, SIG_RESOLVED);
        assert_int_equal(c->s[i].firing_ms, T_21_50_10);
        assert_int_equal(c->s[i].ends_ms, T_21_50_23);
        assert_string_equal(c->s[i].name, "KubePodCrashLooping");
    }
    assert_string_equal(c->s[0].res_name, "payment-api-7d9f8b6c4-q8w7e");
    assert_string_equal(c->s[0].am_fingerprint, "49691cefe52f24fd");
}

static void test_oom_storm_fixture_yields_fifty_distinct_signals(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom_fixture(c, "oom-storm-50-alerts.json"), 50);
    for (size_t i = 0; i < 50; i++) {
        const sig_signal *s = &c->s[i];
        char pod[32];
        snprintf(pod, sizeof pod, "checkout-worker-%02zu", i);
        assert_string_equal(s->name, "KubePodOOMKilled");
        assert_string_equal(s->namespace, "checkout");
        assert_string_equal(s->kind, "Pod");
        assert_string_equal(s->res_name, pod);
        assert_int_equal(s->severity, SEV_CRITICAL);
        assert_int_equal(s->status, SIG_FIRING);
        for (size_t j = 0; j < i; j++) assert_string_not_equal(s->fingerprint, c->s[j].fingerprint);
    }
}

/* Alertmanager computed these fingerprints (FNV-1a 64 over the sorted label set). Remove the
 * field, let the adapter recompute it, and compare with what Alertmanager sent. */
static void test_recomputed_alertmanager_fingerprint_equals_every_fixture_fingerprint(void **state)
{
    ctx *c = *state;
    const char *fixtures[] = {"pod-crashloop-firing-2-alerts.json", "node-disk-pressure-firing.json",
                              "deployment-memory-firing.json", "pod-crashloop-resolved.json",
                              "oom-storm-50-alerts.json"};
    size_t checked = 0;
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        size_t len;
        char *buf = read_fixture(fixtures[f], &len);
        cJSON *doc = cJSON_ParseWithLength(buf, len);
        free(buf);
        assert_non_null(doc);
        cJSON *alerts = cJSON_GetObjectItemCaseSensitive(doc, "alerts");
        size_t na = (size_t)cJSON_GetArraySize(alerts);
        char (*given)[17] = calloc(na, sizeof *given);
        size_t i = 0;
        cJSON *al;
        cJSON_ArrayForEach(al, alerts) {
            const char *fp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(al, "fingerprint"));
            assert_non_null(fp);
            snprintf(given[i++], 17, "%s", fp);
            cJSON_DeleteItemFromObjectCaseSensitive(al, "fingerprint");
        }
        char *stripped = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        int rc = prom_lim(c, stripped, strlen(stripped), &LIM);
        cJSON_free(stripped);
        expect_ok(c, rc, na);
        for (i = 0; i < na; i++) {
            if (strcmp(c->s[i].am_fingerprint, given[i]) != 0)
                fail_msg("%s alerts[%zu]: recomputed %s, Alertmanager sent %s", fixtures[f], i,
                         c->s[i].am_fingerprint, given[i]);
            checked++;
        }
        free(given);
    }
    assert_int_equal(checked, 2 + 1 + 1 + 2 + 50);
}

static void test_fixture_fingerprint_is_sha256_of_known_key(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom_fixture(c, "pod-crashloop-firing-2-alerts.json"), 2);
    /* printf '%s' 'KubePodCrashLooping:production:Pod:payment-api-7d9f8b6c4-q8w7e' | sha256sum */
    assert_string_equal(c->s[0].fingerprint, "147546d9f0ede20a83a6ee1aca2d05a5214386098b102979abb12266d460dc09");
}

/* ==== label merging, resources, namespaces ================================================= */

static void test_alert_labels_override_common_labels(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'commonLabels':{'alertname':'X','severity':'info','team':'payments'},"
                         "'alerts':[{'labels':{'alertname':'X','severity':'critical','pod':'p1','namespace':'n'}},"
                         "{'labels':{'alertname':'X','pod':'p2','namespace':'n'}}]}"),
              2);
    assert_int_equal(c->s[0].severity, SEV_CRITICAL);
    assert_string_equal(sig_map_get(&c->s[0].labels, "severity"), "critical");
    assert_string_equal(sig_map_get(&c->s[0].labels, "team"), "payments");
    assert_int_equal(c->s[1].severity, SEV_INFO);         /* no own severity: the common one */
    assert_int_equal(c->s[0].labels.n, 5);
}

static void test_alert_annotations_override_common_annotations(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'commonAnnotations':{'summary':'group','runbook':'r'},"
                         "'alerts':[{'labels':{'alertname':'X','pod':'p'},'annotations':{'summary':'mine'}}]}"),
              1);
    assert_string_equal(sig_map_get(&c->s[0].annotations, "summary"), "mine");
    assert_string_equal(sig_map_get(&c->s[0].annotations, "runbook"), "r");
}

static void test_merged_labels_are_sorted_with_alert_values_winning(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'commonLabels':{'a':'1','m':'common','z':'3'},"
                         "'alerts':[{'labels':{'n':'x','alertname':'A','m':'own'}},{'labels':{'alertname':'B'}}]}"),
              2);
    const char *keys[] = {"a", "alertname", "m", "n", "z"};
    const sig_map *m = &c->s[0].labels;
    assert_int_equal(m->n, 5);
    for (size_t i = 0; i < m->n; i++) assert_string_equal(m->items[i].key, keys[i]);
    assert_string_equal(sig_map_get(m, "m"), "own");
    assert_string_equal(sig_map_get(m, "z"), "3");
    assert_string_equal(sig_map_get(&c->s[1].labels, "m"), "common");
    assert_int_equal(c->s[1].labels.n, 4);
}

/* N alerts inheriting C common labels would cost N x C: one signal carries at most 512. */
static void test_more_than_512_labels_on_one_signal_is_rejected(void **state)
{
    ctx *c = *state;
    char *body = malloc(32 * 1024);
    for (int total = 512; total <= 513; total++) {
        size_t off = (size_t)sprintf(body, "{\"commonLabels\":{");
        for (int k = 0; k < total - 1; k++) off += (size_t)sprintf(body + off, "%s\"l%03d\":\"v\"", k ? "," : "", k);
        off += (size_t)sprintf(body + off, "},\"alerts\":[{\"labels\":{\"alertname\":\"A\"}}]}");
        int rc = prom_lim(c, body, off, &LIM);
        if (total == 512) {
            expect_ok(c, rc, 1);
            assert_int_equal(c->s[0].labels.n, 512);
        } else {
            expect_error(c, rc, ADAPTER_E_TYPE, "more than the limit of 512");
        }
    }
    free(body);
}

static void test_common_labels_supply_the_alertname_an_alert_lacks(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'commonLabels':{'alertname':'FromCommon'},'alerts':[{'labels':{'pod':'p'}}]}"), 1);
    assert_string_equal(c->s[0].name, "FromCommon");
}

static void test_pod_label_beats_node_label(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, ONE_ALERT("'alertname':'A','node':'worker-1','pod':'api-1','namespace':'prod'")), 1);
    assert_string_equal(c->s[0].kind, "Pod");
    assert_string_equal(c->s[0].res_name, "api-1");
    assert_string_equal(c->s[0].res_namespace, "prod");
}

static void test_resource_labels_follow_documented_precedence(void **state)
{
    ctx *c = *state;
    struct { const char *labels, *kind, *name; } t[] = {
        {"'service':'s','deployment':'d','statefulset':'ss'", "Deployment", "d"},
        {"'service':'s','daemonset':'ds','statefulset':'ss'", "StatefulSet", "ss"},
        {"'node':'n','daemonset':'ds','service':'s'", "DaemonSet", "ds"},
        {"'service':'s','node':'n'", "Node", "n"},
        {"'service':'s','container':'c'", "Service", "s"},
        {"'container':'c','job':'j'", "Unknown", "unknown"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{'alerts':[{'labels':{'alertname':'A',%s}}]}", t[i].labels);
        expect_ok(c, prom(c, body), 1);
        if (strcmp(c->s[0].kind, t[i].kind) || strcmp(c->s[0].res_name, t[i].name))
            fail_msg("labels {%s}: got %s/%s, want %s/%s", t[i].labels, c->s[0].kind, c->s[0].res_name,
                     t[i].kind, t[i].name);
    }
}

/* An empty label is an absent label (Prometheus semantics): {pod:"", node:"worker-1"} targets
 * the Node instead of failing the whole webhook. */
static void test_empty_resource_label_counts_as_absent(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, ONE_ALERT("'alertname':'A','pod':'','node':'worker-1'")), 1);
    assert_string_equal(c->s[0].kind, "Node");
    assert_string_equal(c->s[0].res_name, "worker-1");
    expect_ok(c, prom(c, ONE_ALERT("'alertname':'A','namespace':'','exported_namespace':'team-b','pod':'p'")), 1);
    assert_string_equal(c->s[0].namespace, "team-b");
}

static void test_namespace_falls_back_to_exported_namespace(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, ONE_ALERT("'alertname':'A','exported_namespace':'team-a','pod':'p'")), 1);
    assert_string_equal(c->s[0].namespace, "team-a");
    assert_string_equal(c->s[0].res_namespace, "team-a");
    expect_ok(c, prom(c, ONE_ALERT("'alertname':'A','exported_namespace':'team-a','namespace':'monitoring','pod':'p'")), 1);
    assert_string_equal(c->s[0].namespace, "monitoring");
}

static void test_namespace_is_empty_not_default_without_namespace_labels(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, ONE_ALERT("'alertname':'A','pod':'p'")), 1);
    assert_string_equal(c->s[0].namespace, "");
    assert_string_equal(c->s[0].res_namespace, "");
    assert_string_equal(sig_resource_id(&c->s[0], &c->a), "Pod:p");
}

/* ==== status, times, fingerprints, names ===================================================== */

static void test_explicit_status_is_kept(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'alerts':[{'status':'resolved','labels':{'alertname':'A'}},"
                         "{'status':'firing','labels':{'alertname':'A'},'endsAt':'2026-11-26T21:50:23Z'}]}"),
              2);
    assert_int_equal(c->s[0].status, SIG_RESOLVED);
    assert_int_equal(c->s[1].status, SIG_FIRING);          /* stated, so not derived from endsAt */
}

static void test_status_is_derived_from_ends_at_when_absent(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'},'endsAt':'2026-11-26T21:50:23Z'},"
                         "{'labels':{'alertname':'A'},'endsAt':'2026-11-26T22:50:00Z'},"
                         "{'labels':{'alertname':'A'},'endsAt':'0001-01-01T00:00:00Z'},"
                         "{'labels':{'alertname':'A'}}]}"),
              4);
    assert_int_equal(c->s[0].status, SIG_RESOLVED);         /* ended before now */
    assert_int_equal(c->s[1].status, SIG_FIRING);           /* ends in the future */
    assert_int_equal(c->s[2].status, SIG_FIRING);           /* zero time: no end */
    assert_int_equal(c->s[3].status, SIG_FIRING);
}

static void test_go_zero_time_means_absent(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'},'startsAt':'0001-01-01T00:00:00Z',"
                         "'endsAt':'0001-01-01T00:00:00Z'},{'labels':{'alertname':'A'},'startsAt':null}]}"),
              2);
    assert_int_equal(c->s[0].firing_ms, 0);
    assert_int_equal(c->s[0].ends_ms, 0);
    assert_int_equal(c->s[1].firing_ms, 0);
}

static void test_unparsable_or_non_string_times_are_rejected(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'},'startsAt':''}]}"), ADAPTER_E_TYPE,
                 "alerts[0].startsAt");
    expect_error(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'},'endsAt':'yesterday'}]}"), ADAPTER_E_TYPE,
                 "alerts[0].endsAt");
    expect_error(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'},'startsAt':1795729810}]}"), ADAPTER_E_TYPE,
                 "alerts[0].startsAt");
}

static void test_unknown_status_value_is_rejected(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, "{'alerts':[{'status':'pending','labels':{'alertname':'A'}}]}"), ADAPTER_E_TYPE,
                 "alerts[0].status");
    expect_error(c, prom(c, "{'alerts':[{'status':1,'labels':{'alertname':'A'}}]}"), ADAPTER_E_TYPE,
                 "alerts[0].status");
}

static void test_valid_given_am_fingerprint_is_kept_else_recomputed(void **state)
{
    ctx *c = *state;
    /* labels as node-disk-pressure-firing.json, whose Alertmanager fingerprint is 731f143da3a91b1b */
    expect_ok(c, prom(c, "{'alerts':["
                         "{'labels':{'alertname':'NodeDiskPressure','node':'worker-3','severity':'warning'},'fingerprint':'ABCDEF0123456789'},"
                         "{'labels':{'alertname':'NodeDiskPressure','node':'worker-3','severity':'warning'},'fingerprint':'not-a-fingerprint'},"
                         "{'labels':{'alertname':'NodeDiskPressure','node':'worker-3','severity':'warning'},'fingerprint':'731f143da3a91b1'},"
                         "{'labels':{'severity':'warning','node':'worker-3','alertname':'NodeDiskPressure'}}]}"),
              4);
    assert_string_equal(c->s[0].am_fingerprint, "abcdef0123456789");
    assert_string_equal(c->s[1].am_fingerprint, "731f143da3a91b1b");
    assert_string_equal(c->s[2].am_fingerprint, "731f143da3a91b1b");   /* 15 digits: recomputed */
    assert_string_equal(c->s[3].am_fingerprint, "731f143da3a91b1b");   /* label order is irrelevant */
}

static void test_am_fingerprint_uses_the_alerts_own_labels_not_common_ones(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'commonLabels':{'extra':'x'},'alerts':[{'labels':"
                         "{'alertname':'NodeDiskPressure','node':'worker-3','severity':'warning'}}]}"),
              1);
    assert_string_equal(c->s[0].am_fingerprint, "731f143da3a91b1b");
    assert_string_equal(sig_map_get(&c->s[0].labels, "extra"), "x");
}

static void test_missing_or_empty_alertname_is_rejected_naming_the_alert(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'}},{'labels':{'pod':'p'}}]}"), ADAPTER_E_MISSING,
                 "alerts[1].labels.alertname is required");
    expect_error(c, prom(c, ONE_ALERT("'alertname':'','pod':'p'")), ADAPTER_E_MISSING,
                 "alerts[0].labels.alertname is required");
    expect_error(c, prom(c, "{'alerts':[{'annotations':{}}]}"), ADAPTER_E_MISSING, "alerts[0].labels is required");
}

static void test_overlong_alertname_is_rejected(void **state)
{
    ctx *c = *state;
    char body[512], name[255];
    memset(name, 'A', 254);
    name[254] = '\0';
    snprintf(body, sizeof body, ONE_ALERT("'alertname':'%s'"), name);
    expect_error(c, prom(c, body), ADAPTER_E_TYPE, "alerts[0]: signal name is longer than 253 bytes");
}

static void test_unknown_severity_becomes_warning(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'alerts':[{'labels':{'alertname':'A','severity':'Critical'}},"
                         "{'labels':{'alertname':'A','severity':'page'}},{'labels':{'alertname':'A'}},"
                         "{'labels':{'alertname':'A','severity':'info'}}]}"),
              4);
    assert_int_equal(c->s[0].severity, SEV_WARNING);
    assert_int_equal(c->s[1].severity, SEV_WARNING);
    assert_int_equal(c->s[2].severity, SEV_WARNING);
    assert_int_equal(c->s[3].severity, SEV_INFO);
}

static void test_first_invalid_alert_fails_the_whole_webhook(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'}},{'labels':{'alertname':'B'}},"
                            "{'labels':{'alertname':'C','pod':7}}]}"),
                 ADAPTER_E_TYPE, "alerts[2].labels.pod: expected a string");
}

/* ==== signal metadata and payload ========================================================== */

static void test_signal_carries_type_source_received_time_and_its_own_payload(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'receiver':'gw','alerts':[{'labels':{'alertname':'A','pod':'p1'},'generatorURL':'u1'},"
                         "{'labels':{'alertname':'B','pod':'p2'}}]}"),
              2);
    const sig_signal *s = &c->s[0];
    assert_string_equal(s->signal_type, "prometheus-alert");
    assert_string_equal(s->source, "prometheus");
    assert_int_equal(s->received_ms, NOW);
    size_t len;
    char *p0 = sig_payload_dup(s, 65536, &len);
    assert_non_null(p0);
    assert_string_equal(p0, J(c, "{'labels':{'alertname':'A','pod':'p1'},'generatorURL':'u1'}"));
    assert_int_equal(len, strlen(p0));
    char *p1 = sig_payload_dup(&c->s[1], 65536, &len);
    assert_string_equal(p1, J(c, "{'labels':{'alertname':'B','pod':'p2'}}"));
    free(p0);
    free(p1);
}

static void test_payload_over_the_limit_is_omitted(void **state)
{
    ctx *c = *state;
    const char *body = J(c, "{'alerts':[{'labels':{'alertname':'A','pod':'p'}},"
                            "{'labels':{'alertname':'A','pod':'a-much-longer-pod-name-that-does-not-fit'}}]}");
    size_t first = strlen(J(c, "{'labels':{'alertname':'A','pod':'p'}}"));
    adapter_limits lim = LIM;
    lim.max_payload_bytes = first;                 /* exactly the first alert: kept */
    expect_ok(c, prom_lim(c, body, strlen(body), &lim), 2);
    size_t len = 99;
    char *p0 = sig_payload_dup(&c->s[0], lim.max_payload_bytes, &len);
    assert_non_null(p0);
    assert_int_equal(len, first);
    assert_null(sig_payload_dup(&c->s[1], lim.max_payload_bytes, &len));
    assert_int_equal(len, 0);
    free(p0);
}

/* ==== malformed input ======================================================================= */

static void test_malformed_json_is_rejected(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, "{'alerts':["), ADAPTER_E_JSON, NULL);
    expect_error(c, prom(c, "{'alerts':[{'labels':{'alertname':'A',}}]}"), ADAPTER_E_JSON, NULL);
    expect_error(c, prom(c, "{alerts:[]}"), ADAPTER_E_JSON, NULL);
    expect_error(c, prom(c, ""), ADAPTER_E_JSON, "empty body");
    expect_error(c, prom(c, "   "), ADAPTER_E_JSON, NULL);
    expect_error(c, prom(c, ONE_ALERT("'alertname':'\\ud800'")), ADAPTER_E_JSON, NULL);     /* lone surrogate */
    expect_error(c, prom(c, ONE_ALERT("'alertname':'\\x41'")), ADAPTER_E_JSON, NULL);       /* bad escape */
    expect_error(c, prom(c, "\xef\xbb\xbf{'alerts':[]}"), ADAPTER_E_JSON, NULL);             /* BOM */
}

static void test_trailing_garbage_is_rejected_but_trailing_whitespace_is_not(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, ONE_ALERT("'alertname':'A'") " x"), ADAPTER_E_JSON, "after the JSON value");
    expect_error(c, prom(c, ONE_ALERT("'alertname':'A'") "{}"), ADAPTER_E_JSON, "after the JSON value");
    expect_error(c, prom(c, ONE_ALERT("'alertname':'A'") "\x01"), ADAPTER_E_JSON, NULL);
    expect_ok(c, prom(c, " \t\r\n" ONE_ALERT("'alertname':'A'") " \t\r\n"), 1);
}

static void test_invalid_utf8_is_rejected_with_its_offset(void **state)
{
    ctx *c = *state;
    /* {'version':'4','alerts':[{'labels':{'alertname':' is 49 bytes: the bad byte is at 49 */
    expect_error(c, prom(c, ONE_ALERT("'alertname':'\xff'")), ADAPTER_E_UTF8, "byte offset 49");
    expect_error(c, prom(c, ONE_ALERT("'alertname':'\xc0\xaf'")), ADAPTER_E_UTF8, "byte offset 49");  /* overlong */
    expect_error(c, prom(c, ONE_ALERT("'alertname':'\xed\xa0\x80'")), ADAPTER_E_UTF8, "byte offset 49"); /* surrogate */
    expect_error(c, prom(c, ONE_ALERT("'alertname':'\xf4\x90\x80\x80'")), ADAPTER_E_UTF8, NULL);  /* > U+10FFFF */
    expect_ok(c, prom(c, ONE_ALERT("'alertname':'\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80'")), 1);
    assert_string_equal(c->s[0].name, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

static void test_escaped_nul_is_rejected_naming_the_field(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, ONE_ALERT("'alertname':'A','pod':'p\\u0000q'")), ADAPTER_E_TYPE,
                 "alerts[0].labels.pod: NUL character");
    expect_error(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'},'generatorURL':'\\u0000'}]}"), ADAPTER_E_TYPE,
                 "alerts[0].generatorURL: NUL character");
    expect_error(c, prom(c, ONE_ALERT("'alertname':'A','po\\u0000d':'p'")), ADAPTER_E_TYPE,
                 "alerts[0].labels.po: NUL character (\\u0000) in a field name");
    /* a deep path of long multi-byte keys is cut short without splitting a character */
    char key[81] = "", body[512];
    for (int k = 0; k < 40; k++) strcat(key, "\xc3\xa9");
    snprintf(body, sizeof body, "{'alerts':[{'labels':{'alertname':'A'},'%s':{'%s':{'%s':'\\u0000'}}}]}", key, key, key);
    expect_error(c, prom(c, body), ADAPTER_E_TYPE, "NUL character");
    assert_true(utf8_valid(c->err.message, strlen(c->err.message), NULL));
    assert_non_null(strstr(c->err.message, "alerts[0].\xc3\xa9"));
    /* an escaped backslash followed by the text u0000 is not a NUL */
    expect_ok(c, prom(c, ONE_ALERT("'alertname':'A\\\\u0000'")), 1);
    assert_string_equal(c->s[0].name, "A\\u0000");
}

static void test_raw_nul_and_control_bytes_are_rejected(void **state)
{
    ctx *c = *state;
    const char body[] = "{\"alerts\":[{\"labels\":{\"alertname\":\"A\0B\"}}]}";
    expect_error(c, prom_lim(c, body, sizeof body - 1, &LIM), ADAPTER_E_JSON, "NUL byte at byte offset 36");
    const char body2[] = "{\"alerts\":[]}\0";
    expect_error(c, prom_lim(c, body2, sizeof body2 - 1, &LIM), ADAPTER_E_JSON, "NUL byte");
    expect_error(c, prom(c, ONE_ALERT("'alertname':'line\nbreak'")), ADAPTER_E_JSON, "control character");
    expect_error(c, prom(c, "{'alerts':\x01[]}"), ADAPTER_E_JSON, "control character");
}

/* The pre-scan skips plain string bytes eight at a time: a control byte, quote or backslash
 * at any position of a long value (every offset in an 8-byte word, both sides of a word
 * edge, the last bytes before the closing quote) is still found. */
static void test_special_bytes_are_found_at_every_offset_of_a_long_string(void **state)
{
    ctx *c = *state;
    for (size_t at = 0; at < 40; at++) {
        char value[41], body[256];
        memset(value, 'v', 40);
        value[40] = '\0';
        /* a raw control byte: rejected, with its offset */
        value[at] = '\x1f';
        snprintf(body, sizeof body, "{\"alerts\":[{\"labels\":{\"alertname\":\"%s\"}}]}", value);
        size_t off = (size_t)(strstr(body, "\x1f") - body);
        char want[64];
        snprintf(want, sizeof want, "control character in a string at byte offset %zu", off);
        expect_error(c, prom_lim(c, body, strlen(body), &LIM), ADAPTER_E_JSON, want);
        /* an escaped quote there and an escaped backslash at the end: accepted, decoded */
        char json_value[64];
        size_t o = 0;
        for (size_t k = 0; k < 40; k++) {
            if (k == at) json_value[o++] = '\\';
            json_value[o++] = k == at ? '"' : 'v';
        }
        json_value[o++] = '\\';
        json_value[o++] = '\\';
        json_value[o] = '\0';
        snprintf(body, sizeof body, "{\"alerts\":[{\"labels\":{\"alertname\":\"%s\"}}]}", json_value);
        expect_ok(c, prom_lim(c, body, strlen(body), &LIM), 1);
        assert_int_equal(strlen(c->s[0].name), 41);
        assert_int_equal(c->s[0].name[at], '"');
        assert_int_equal(c->s[0].name[40], '\\');
        /* a quote that ends the string early: the rest is not JSON */
        memset(value, 'v', 40);
        value[at] = '"';
        snprintf(body, sizeof body, "{\"alerts\":[{\"labels\":{\"alertname\":\"%s\"}}]}", value);
        expect_error(c, prom_lim(c, body, strlen(body), &LIM), ADAPTER_E_JSON, NULL);
    }
}

static void test_non_standard_numbers_are_rejected(void **state)
{
    ctx *c = *state;
#define WITH_ALERT ",'alerts':[{'labels':{'alertname':'A'}}]}"
    expect_error(c, prom(c, "{'truncatedAlerts':01" WITH_ALERT), ADAPTER_E_JSON, "invalid number");
    expect_error(c, prom(c, "{'truncatedAlerts':1." WITH_ALERT), ADAPTER_E_JSON, "invalid number");
    expect_error(c, prom(c, "{'truncatedAlerts':-.5" WITH_ALERT), ADAPTER_E_JSON, "invalid number");
    expect_error(c, prom(c, "{'truncatedAlerts':1e" WITH_ALERT), ADAPTER_E_JSON, "invalid number");
    expect_error(c, prom(c, "{'truncatedAlerts':+1" WITH_ALERT), ADAPTER_E_JSON, NULL);
    expect_ok(c, prom(c, "{'truncatedAlerts':-0.5e+3" WITH_ALERT), 1);
    expect_ok(c, prom(c, "{'truncatedAlerts':0" WITH_ALERT), 1);
#undef WITH_ALERT
}

static void test_wrong_types_are_rejected_naming_the_field(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, "{'alerts':{}}"), ADAPTER_E_TYPE, "alerts: expected an array");
    expect_error(c, prom(c, "{'alerts':[{'labels':[]}]}"), ADAPTER_E_TYPE, "alerts[0].labels: expected an object");
    expect_error(c, prom(c, ONE_ALERT("'alertname':'A','pod':{'name':'p'}")), ADAPTER_E_TYPE,
                 "alerts[0].labels.pod: expected a string");
    expect_error(c, prom(c, ONE_ALERT("'alertname':'A','replicas':3")), ADAPTER_E_TYPE,
                 "alerts[0].labels.replicas: expected a string");
    expect_error(c, prom(c, ONE_ALERT("'alertname':null")), ADAPTER_E_TYPE, "alerts[0].labels.alertname");
    expect_error(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'},'annotations':{'summary':true}}]}"),
                 ADAPTER_E_TYPE, "alerts[0].annotations.summary: expected a string");
    expect_error(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'},'annotations':'x'}]}"), ADAPTER_E_TYPE,
                 "alerts[0].annotations: expected an object");
    expect_error(c, prom(c, "{'commonLabels':{'team':1},'alerts':[{'labels':{'alertname':'A'}}]}"), ADAPTER_E_TYPE,
                 "commonLabels.team: expected a string");
    expect_error(c, prom(c, "{'commonAnnotations':[],'alerts':[{'labels':{'alertname':'A'}}]}"), ADAPTER_E_TYPE,
                 "commonAnnotations: expected an object");
    expect_error(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'},'fingerprint':12}]}"), ADAPTER_E_TYPE,
                 "alerts[0].fingerprint: expected a string");
}

static void test_top_level_must_be_an_object(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, "[]"), ADAPTER_E_TYPE, "expected a JSON object");
    expect_error(c, prom(c, "null"), ADAPTER_E_TYPE, "expected a JSON object");
    expect_error(c, prom(c, "'alerts'"), ADAPTER_E_TYPE, "expected a JSON object");
}

static void test_missing_alerts_is_rejected(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, "{'version':'4','receiver':'gw'}"), ADAPTER_E_MISSING, "alerts is required");
    expect_error(c, prom(c, "{'alerts':null}"), ADAPTER_E_MISSING, "alerts is required");
    expect_error(c, prom(c, "{}"), ADAPTER_E_MISSING, "alerts is required");
}

static void test_empty_alerts_is_rejected(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, "{'version':'4','alerts':[]}"), ADAPTER_E_EMPTY, "alerts is empty");
}

static void test_non_object_alert_is_rejected(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'}},'oops']}"), ADAPTER_E_TYPE,
                 "alerts[1]: expected an object");
    expect_error(c, prom(c, "{'alerts':[null]}"), ADAPTER_E_TYPE, "alerts[0]: expected an object");
}

static void test_unsupported_version_is_rejected(void **state)
{
    ctx *c = *state;
    expect_error(c, prom(c, "{'version':'3','alerts':[{'labels':{'alertname':'A'}}]}"), ADAPTER_E_VERSION, "\"3\"");
    expect_error(c, prom(c, "{'version':4,'alerts':[{'labels':{'alertname':'A'}}]}"), ADAPTER_E_VERSION, "version");
    assert_int_equal(pipeline_reject_status(c->err.status), 400);
    expect_ok(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'}}]}"), 1);      /* absent is fine */
}

static void test_too_many_alerts_is_rejected_with_413(void **state)
{
    ctx *c = *state;
    const char *body = J(c, "{'alerts':[{'labels':{'alertname':'A'}},{'labels':{'alertname':'B'}},"
                            "{'labels':{'alertname':'C'}}]}");
    adapter_limits lim = LIM;
    lim.max_alerts = 2;
    expect_error(c, prom_lim(c, body, strlen(body), &lim), ADAPTER_E_TOO_MANY, "limit of 2");
    assert_int_equal(pipeline_reject_status(c->err.status), 413);
    assert_string_equal(pipeline_reject_code(c->err.status), "too_many_alerts");
    lim.max_alerts = 3;
    expect_ok(c, prom_lim(c, body, strlen(body), &lim), 3);
}

static void test_depth_10000_is_rejected_quickly(void **state)
{
    ctx *c = *state;
    enum { D = 10000 };
    char *body = malloc(2 * D + 1);
    memset(body, '[', D);
    memset(body + D, ']', D);
    body[2 * D] = '\0';
    double t0 = time_mono_s();
    int rc = prom_lim(c, body, 2 * D, &LIM);
    double took = time_mono_s() - t0;
    expect_error(c, rc, ADAPTER_E_DEPTH, "deeper than 64");
    if (took > 0.05) fail_msg("depth rejection took %.3f s", took);
    /* also under a limit above cJSON's own (1000): still ours, still too_deep */
    adapter_limits lim = LIM;
    lim.max_depth = 100000;
    expect_error(c, prom_lim(c, body, 2 * D, &lim), ADAPTER_E_DEPTH, NULL);
    free(body);
}

static void test_depth_at_the_limit_is_accepted_and_one_deeper_is_not(void **state)
{
    ctx *c = *state;
    /* body object (1) > alerts array (2) > alert object (3) > extra nest of 3 → depth 6 */
    const char *body = J(c, "{'alerts':[{'labels':{'alertname':'A'},'x':[[[]]]}]}");
    adapter_limits lim = LIM;
    lim.max_depth = 6;
    expect_ok(c, prom_lim(c, body, strlen(body), &lim), 1);
    lim.max_depth = 5;
    expect_error(c, prom_lim(c, body, strlen(body), &lim), ADAPTER_E_DEPTH, NULL);
    /* brackets inside strings do not count */
    body = J(c, "{'alerts':[{'labels':{'alertname':'[[[[[[[[{{{{{{'}}]}");
    lim.max_depth = 4;
    expect_ok(c, prom_lim(c, body, strlen(body), &lim), 1);
}

static void test_100kb_label_value_is_accepted(void **state)
{
    ctx *c = *state;
    enum { V = 100 * 1024 };
    char *body = malloc(V + 128);
    int n = snprintf(body, 128, "{\"alerts\":[{\"labels\":{\"alertname\":\"A\",\"description\":\"");
    memset(body + n, 'v', V);
    strcpy(body + n + V, "\"}}]}");
    expect_ok(c, prom_lim(c, body, strlen(body), &LIM), 1);
    assert_int_equal(strlen(sig_map_get(&c->s[0].labels, "description")), V);
    assert_null(c->s[0].payload);                        /* over 64 KiB: omitted */
    free(body);
}

static void test_10000_alerts_are_accepted_at_max_alerts_10000(void **state)
{
    ctx *c = *state;
    enum { N = 10000 };
    size_t cap = (size_t)N * 96 + 64, off = 0;
    char *body = malloc(cap);
    off += (size_t)snprintf(body + off, cap - off, "{\"version\":\"4\",\"alerts\":[");
    for (int i = 0; i < N; i++)
        off += (size_t)snprintf(body + off, cap - off,
                                "%s{\"labels\":{\"alertname\":\"Storm\",\"namespace\":\"ns\",\"pod\":\"pod-%05d\"}}",
                                i ? "," : "", i);
    off += (size_t)snprintf(body + off, cap - off, "]}");
    adapter_limits lim = LIM;
    lim.max_alerts = N;
    expect_ok(c, prom_lim(c, body, off, &lim), N);
    assert_string_equal(c->s[N - 1].res_name, "pod-09999");
    assert_string_equal(c->s[0].res_name, "pod-00000");
    lim.max_alerts = N - 1;
    expect_error(c, prom_lim(c, body, off, &lim), ADAPTER_E_TOO_MANY, NULL);
    free(body);
}

/* Go's encoding/json matches struct field names case-insensitively (upstream 17); label
 * names are map keys and stay exact. */
static void test_field_names_match_case_insensitively_like_go(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'Version':'4','ALERTS':[{'Labels':{'alertname':'A','Pod':'p'},'Status':'resolved'}]}"), 1);
    assert_int_equal(c->s[0].status, SIG_RESOLVED);
    assert_string_equal(c->s[0].kind, "Unknown");        /* 'Pod' is not the label 'pod' */
    assert_string_equal(sig_map_get(&c->s[0].labels, "Pod"), "p");
}

/* ajson_get_many (parse_alert's one walk over an alert's members) keeps ajson_get's Go rules
 * for every name at once: either case, the last match wins (a later null makes it absent), names
 * sharing a first letter (status/startsAt) do not mix, an absent name and a non-object are NULL. */
static void test_many_fields_are_found_in_one_pass_with_go_rules(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{\"startsAt\":\"b\",\"Status\":\"a\",\"labels\":1,\"x\":2,\"LABELS\":3,"
                           "\"STATUS\":null,\"sTaRtSaT\":\"c\",\"statusx\":4}");
    assert_non_null(o);
    const char *const names[] = {"status", "startsAt", "labels", "missing", "x"};
    const cJSON *f[5];
    ajson_get_many(o, names, 5, f);
    assert_null(f[0]);                                   /* "Status", then null: absent */
    assert_string_equal(f[1]->valuestring, "c");         /* the last spelling wins */
    assert_int_equal(f[2]->valueint, 3);
    assert_null(f[3]);
    assert_int_equal(f[4]->valueint, 2);
    for (size_t k = 0; k < 5; k++) assert_ptr_equal(ajson_get(o, names[k]), f[k]);
    cJSON *arr = cJSON_Parse("[{\"status\":1}]");
    f[0] = o;
    ajson_get_many(arr, names, 1, f);
    assert_null(f[0]);
    cJSON_Delete(arr);
    cJSON_Delete(o);
}

static void test_duplicate_keys_last_one_wins(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'alerts':[{'labels':{'alertname':'A'}}],"
                         "'alerts':[{'labels':{'alertname':'B','pod':'first','pod':'second'},'status':'firing','status':'resolved'}]}"),
              1);
    assert_string_equal(c->s[0].name, "B");
    assert_string_equal(c->s[0].res_name, "second");
    assert_int_equal(c->s[0].labels.n, 2);
    assert_int_equal(c->s[0].status, SIG_RESOLVED);
}

static void test_null_optional_fields_are_absent(void **state)
{
    ctx *c = *state;
    expect_ok(c, prom(c, "{'version':null,'commonLabels':null,'commonAnnotations':null,'alerts':[{'labels':"
                         "{'alertname':'A'},'annotations':null,'status':null,'fingerprint':null,'endsAt':null}]}"),
              1);
    assert_int_equal(c->s[0].annotations.n, 0);
    assert_int_equal(c->s[0].status, SIG_FIRING);
    assert_int_equal(strlen(c->s[0].am_fingerprint), 16);
}

/* ==== Kubernetes Events ====================================================================== */

static void test_oomkilled_warning_event_is_a_critical_pod_signal(void **state)
{
    ctx *c = *state;
    char *body;
    size_t len;
    int rc = event_fixture(c, "k8s-event-pod-oomkilled-warning.json", &body, &len);
    expect_ok(c, rc, 1);
    const sig_signal *s = &c->s[0];
    assert_false(s->ignored);
    assert_string_equal(s->name, "OOMKilled");
    assert_int_equal(s->severity, SEV_CRITICAL);          /* Warning, but OOMKilled is critical */
    assert_string_equal(s->namespace, "production");
    assert_string_equal(s->res_namespace, "production");
    assert_string_equal(s->kind, "Pod");
    assert_string_equal(s->res_name, "payment-api-7d9f8b6c4-q8w7e");
    assert_int_equal(s->status, SIG_FIRING);
    assert_int_equal(s->firing_ms, T_21_50_10);
    assert_int_equal(s->ends_ms, 0);
    assert_int_equal(s->received_ms, NOW);
    assert_string_equal(s->signal_type, "kubernetes-event");
    assert_string_equal(s->source, "kubernetes-event");
    assert_string_equal(s->am_fingerprint, "");
    /* printf '%s' 'OOMKilled:production:Pod:payment-api-7d9f8b6c4-q8w7e' | sha256sum */
    assert_string_equal(s->fingerprint, "34a4ec0e1c16cce8d2b2a934b7e35407c975fc6de4c2eb7da0861c86e2a40707");

    assert_int_equal(s->labels.n, 3);
    assert_string_equal(sig_map_get(&s->labels, "kubernaut.io/event-source"), "kubelet");
    assert_string_equal(sig_map_get(&s->labels, "kubernaut.io/event-type"), "warning");
    assert_string_equal(sig_map_get(&s->labels, "kubernaut.io/resource-kind"), "pod");
    assert_int_equal(s->annotations.n, 5);
    assert_string_equal(sig_map_get(&s->annotations, "kubernaut.io/event-message"),
                        "Container api was OOM killed (memory limit 512Mi)");
    assert_string_equal(sig_map_get(&s->annotations, "kubernaut.io/event-count"), "3");
    assert_string_equal(sig_map_get(&s->annotations, "kubernaut.io/source-host"), "worker-3");
    assert_string_equal(sig_map_get(&s->annotations, "kubernaut.io/first-timestamp"), "2026-11-26T21:50:10Z");
    assert_string_equal(sig_map_get(&s->annotations, "kubernaut.io/last-timestamp"), "2026-11-26T21:52:40Z");

    assert_int_equal(s->payload_len, len);                /* the whole Event, byte for byte */
    assert_memory_equal(s->payload, body, len);
    free(body);
}

static void test_warning_event_with_only_event_time_is_a_warning_signal(void **state)
{
    ctx *c = *state;
    char *body;
    size_t len;
    int rc = event_fixture(c, "k8s-event-pod-backoff-eventtime.json", &body, &len);
    free(body);
    expect_ok(c, rc, 1);
    const sig_signal *s = &c->s[0];
    assert_string_equal(s->name, "BackOff");
    assert_int_equal(s->severity, SEV_WARNING);
    assert_int_equal(s->firing_ms, T_21_50_10 + 123);    /* eventTime, a MicroTime */
    assert_string_equal(sig_map_get(&s->labels, "kubernaut.io/event-source"), "kubelet");   /* reportingComponent */
    assert_string_equal(sig_map_get(&s->annotations, "kubernaut.io/source-host"), "worker-2");
    assert_string_equal(sig_map_get(&s->annotations, "kubernaut.io/first-timestamp"), "2026-11-26T21:50:10Z");
    assert_null(sig_map_get(&s->annotations, "kubernaut.io/last-timestamp"));
    assert_null(sig_map_get(&s->annotations, "kubernaut.io/event-count"));
}

static void test_error_event_is_critical_and_keeps_the_events_own_labels(void **state)
{
    ctx *c = *state;
    char *body;
    size_t len;
    int rc = event_fixture(c, "k8s-event-deployment-error.json", &body, &len);
    free(body);
    expect_ok(c, rc, 1);
    const sig_signal *s = &c->s[0];
    assert_string_equal(s->name, "ProgressDeadlineExceeded");
    assert_int_equal(s->severity, SEV_CRITICAL);
    assert_string_equal(s->kind, "Deployment");
    assert_string_equal(s->res_name, "cart");
    assert_string_equal(s->namespace, "staging");
    assert_string_equal(sig_map_get(&s->labels, "team"), "platform-engineering");
    assert_string_equal(sig_map_get(&s->labels, "kubernaut.io/event-type"), "error");   /* ours beat the Event's */
    assert_string_equal(sig_map_get(&s->labels, "kubernaut.io/resource-kind"), "deployment");
    assert_string_equal(sig_map_get(&s->annotations, "kubernaut.io/event-message"),
                        "Deployment \"cart\" has timed out progressing.");
    /* printf '%s' 'ProgressDeadlineExceeded:staging:Deployment:cart' | sha256sum */
    assert_string_equal(s->fingerprint, "240a39c751e007663707182bac59d2911ec711661cd2fc8ce0a13b67df3c3469");
}

static void test_normal_event_is_ignored_but_fully_normalised(void **state)
{
    ctx *c = *state;
    char *body;
    size_t len;
    int rc = event_fixture(c, "k8s-event-pod-scheduled-normal.json", &body, &len);
    free(body);
    expect_ok(c, rc, 1);
    const sig_signal *s = &c->s[0];
    assert_true(s->ignored);
    assert_string_equal(s->ignore_reason, "normal event");
    assert_string_equal(s->name, "Scheduled");
    assert_string_equal(s->kind, "Pod");
    assert_string_equal(s->res_name, "checkout-worker-00");
    assert_int_equal(strlen(s->fingerprint), 64);
    assert_int_equal(s->firing_ms, 1795729798412LL);      /* eventTime 21:49:58.412337 */
    assert_string_equal(sig_map_get(&s->labels, "kubernaut.io/event-type"), "normal");
    assert_string_equal(sig_map_get(&s->labels, "kubernaut.io/event-source"), "default-scheduler");
    adapter_error err;
    assert_int_equal(sig_validate(s, &err), ADAPTER_OK);
}

static void test_cluster_scoped_node_event(void **state)
{
    ctx *c = *state;
    char *body;
    size_t len;
    int rc = event_fixture(c, "k8s-event-node-not-ready.json", &body, &len);
    free(body);
    expect_ok(c, rc, 1);
    const sig_signal *s = &c->s[0];
    assert_string_equal(s->name, "NodeNotReady");
    assert_int_equal(s->severity, SEV_CRITICAL);
    assert_string_equal(s->namespace, "");                /* not the Event's own "default" */
    assert_string_equal(s->kind, "Node");
    assert_string_equal(s->res_name, "worker-3");
    assert_string_equal(sig_resource_id(s, &c->a), "Node:worker-3");
    /* printf '%s' 'NodeNotReady::Node:worker-3' | sha256sum */
    assert_string_equal(s->fingerprint, "afa22f7ad904b063e7398bfe9cce7318d003406c508d8302ec17dc408b9031f3");
    assert_string_equal(sig_map_get(&s->labels, "kubernaut.io/event-source"), "node-controller");
    assert_null(sig_map_get(&s->annotations, "kubernaut.io/source-host"));   /* host and instance empty */
    assert_string_equal(sig_map_get(&s->annotations, "kubernaut.io/event-count"), "1");
}

#define EV(type_and_more) "{'reason':'BackOff','involvedObject':{'kind':'Pod','name':'p','namespace':'ns'}" type_and_more "}"

static void test_event_type_decides_severity_or_rejection(void **state)
{
    ctx *c = *state;
    expect_ok(c, event(c, EV(",'type':'Warning'")), 1);
    assert_int_equal(c->s[0].severity, SEV_WARNING);
    expect_ok(c, event(c, EV(",'type':'Error'")), 1);
    assert_int_equal(c->s[0].severity, SEV_CRITICAL);
    expect_ok(c, event(c, EV(",'type':'Normal'")), 1);
    assert_true(c->s[0].ignored);
    expect_error(c, event(c, EV(",'type':'Info'")), ADAPTER_E_TYPE, "unsupported event type \"Info\"");
    expect_error(c, event(c, EV(",'type':'warning'")), ADAPTER_E_TYPE, "unsupported event type");
    expect_error(c, event(c, EV("")), ADAPTER_E_TYPE, "unsupported event type");
    expect_error(c, event(c, EV(",'type':''")), ADAPTER_E_TYPE, "unsupported event type");
    expect_error(c, event(c, EV(",'type':3")), ADAPTER_E_TYPE, "type: expected a string");
}

static void test_critical_reasons_are_critical_whatever_the_type(void **state)
{
    ctx *c = *state;
    const char *reasons[] = {"OOMKilled", "NodeNotReady", "FailedScheduling", "Evicted", "FailedMount",
                             "NetworkNotReady"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{'reason':'%s','type':'Warning','involvedObject':{'kind':'Pod','name':'p'}}",
                 reasons[i]);
        expect_ok(c, event(c, body), 1);
        if (c->s[0].severity != SEV_CRITICAL) fail_msg("%s is not critical", reasons[i]);
    }
    expect_ok(c, event(c, "{'reason':'Unhealthy','type':'Warning','involvedObject':{'kind':'Pod','name':'p'}}"), 1);
    assert_int_equal(c->s[0].severity, SEV_WARNING);
}

static void test_event_required_fields_are_checked_in_upstream_order(void **state)
{
    ctx *c = *state;
    expect_error(c, event(c, "{'type':'Bogus'}"), ADAPTER_E_MISSING, "reason is required");
    expect_error(c, event(c, "{'reason':'','involvedObject':{'kind':'Pod','name':'p'},'type':'Warning'}"),
                 ADAPTER_E_MISSING, "reason is required");
    expect_error(c, event(c, "{'reason':'R','type':'Bogus'}"), ADAPTER_E_MISSING, "involvedObject.kind is required");
    expect_error(c, event(c, "{'reason':'R','involvedObject':{'name':'p'},'type':'Bogus'}"), ADAPTER_E_MISSING,
                 "involvedObject.kind is required");
    expect_error(c, event(c, "{'reason':'R','involvedObject':{'kind':'Pod'},'type':'Bogus'}"), ADAPTER_E_MISSING,
                 "involvedObject.name is required");
    expect_error(c, event(c, "{'reason':'R','involvedObject':{'kind':'Pod','name':''},'type':'Bogus'}"),
                 ADAPTER_E_MISSING, "involvedObject.name is required");
    expect_error(c, event(c, "{'reason':'R','involvedObject':{'kind':'Pod','name':'p'},'type':'Bogus'}"),
                 ADAPTER_E_TYPE, "unsupported event type");
    expect_error(c, event(c, "{'reason':7,'involvedObject':{'kind':'Pod','name':'p'},'type':'Warning'}"),
                 ADAPTER_E_TYPE, "reason: expected a string");
    expect_error(c, event(c, "{'reason':'R','involvedObject':'Pod/p','type':'Warning'}"), ADAPTER_E_TYPE,
                 "involvedObject: expected an object");
}

static void test_event_malformed_or_non_object_body_is_rejected(void **state)
{
    ctx *c = *state;
    expect_error(c, event(c, "{'reason':'R',"), ADAPTER_E_JSON, NULL);
    expect_error(c, event(c, ""), ADAPTER_E_JSON, NULL);
    expect_error(c, event(c, "[]"), ADAPTER_E_TYPE, "expected a JSON object");
    expect_error(c, event(c, EV(",'type':'Warning'") "x"), ADAPTER_E_JSON, NULL);
    expect_error(c, event(c, "{'reason':'\xc0\x80','involvedObject':{'kind':'Pod','name':'p'},'type':'Warning'}"),
                 ADAPTER_E_UTF8, NULL);
    expect_error(c, event(c, EV(",'type':'Warning','message':'a\\u0000b'")), ADAPTER_E_TYPE, "message: NUL");
}

static void test_event_payload_is_the_whole_body_and_bounded(void **state)
{
    ctx *c = *state;
    const char *body = J(c, EV(",'type':'Warning'"));
    size_t len = strlen(body);
    adapter_limits lim = LIM;
    lim.max_payload_bytes = len;
    expect_ok(c, adapter_k8s_event_parse(body, len, NOW, &lim, &c->a, &c->s, &c->n, &c->err), 1);
    assert_string_equal(c->s[0].payload, body);
    assert_int_equal(c->s[0].payload_len, len);
    lim.max_payload_bytes = len - 1;
    expect_ok(c, adapter_k8s_event_parse(body, len, NOW, &lim, &c->a, &c->s, &c->n, &c->err), 1);
    assert_null(c->s[0].payload);
    assert_int_equal(c->s[0].payload_len, 0);
}

static void test_event_optional_fields_of_the_wrong_type_are_rejected(void **state)
{
    ctx *c = *state;
    expect_error(c, event(c, EV(",'type':'Warning','count':1.5")), ADAPTER_E_TYPE, "count: expected an integer");
    expect_error(c, event(c, EV(",'type':'Warning','count':'3'")), ADAPTER_E_TYPE, "count: expected an integer");
    expect_error(c, event(c, EV(",'type':'Warning','count':1e300")), ADAPTER_E_TYPE, "count");
    expect_error(c, event(c, EV(",'type':'Warning','firstTimestamp':'soon'")), ADAPTER_E_TYPE, "firstTimestamp");
    expect_error(c, event(c, EV(",'type':'Warning','lastTimestamp':5")), ADAPTER_E_TYPE, "lastTimestamp");
    expect_error(c, event(c, EV(",'type':'Warning','message':['m']")), ADAPTER_E_TYPE, "message: expected a string");
    expect_error(c, event(c, EV(",'type':'Warning','source':'kubelet'")), ADAPTER_E_TYPE, "source: expected an object");
    expect_error(c, event(c, EV(",'type':'Warning','metadata':{'labels':{'a':1}}")), ADAPTER_E_TYPE,
                 "metadata.labels.a: expected a string");
    expect_error(c, event(c, "{'reason':'R','involvedObject':{'kind':'Pod','name':'p','namespace':1},'type':'Warning'}"),
                 ADAPTER_E_TYPE, "involvedObject.namespace: expected a string");
}

static void test_event_annotations_are_omitted_when_empty_or_zero(void **state)
{
    ctx *c = *state;
    expect_ok(c, event(c, EV(",'type':'Warning','message':'','count':0,'source':{'component':'','host':''},"
                             "'firstTimestamp':'0001-01-01T00:00:00Z','lastTimestamp':null")),
              1);
    const sig_signal *s = &c->s[0];
    assert_int_equal(s->annotations.n, 0);
    assert_int_equal(s->firing_ms, 0);
    assert_null(sig_map_get(&s->labels, "kubernaut.io/event-source"));
    assert_int_equal(s->labels.n, 2);                     /* event-type and resource-kind only */
    assert_string_equal(s->namespace, "ns");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_alert_of_a_webhook_is_returned),
        T(test_node_alert_fixture_is_cluster_scoped),
        T(test_deployment_alert_fixture_targets_the_deployment),
        T(test_resolved_fixture_yields_resolved_signals_with_end_time),
        T(test_oom_storm_fixture_yields_fifty_distinct_signals),
        T(test_recomputed_alertmanager_fingerprint_equals_every_fixture_fingerprint),
        T(test_fixture_fingerprint_is_sha256_of_known_key),
        T(test_alert_labels_override_common_labels),
        T(test_alert_annotations_override_common_annotations),
        T(test_merged_labels_are_sorted_with_alert_values_winning),
        T(test_more_than_512_labels_on_one_signal_is_rejected),
        T(test_common_labels_supply_the_alertname_an_alert_lacks),
        T(test_pod_label_beats_node_label),
        T(test_resource_labels_follow_documented_precedence),
        T(test_empty_resource_label_counts_as_absent),
        T(test_namespace_falls_back_to_exported_namespace),
        T(test_namespace_is_empty_not_default_without_namespace_labels),
        T(test_explicit_status_is_kept),
        T(test_status_is_derived_from_ends_at_when_absent),
        T(test_go_zero_time_means_absent),
        T(test_unparsable_or_non_string_times_are_rejected),
        T(test_unknown_status_value_is_rejected),
        T(test_valid_given_am_fingerprint_is_kept_else_recomputed),
        T(test_am_fingerprint_uses_the_alerts_own_labels_not_common_ones),
        T(test_missing_or_empty_alertname_is_rejected_naming_the_alert),
        T(test_overlong_alertname_is_rejected),
        T(test_unknown_severity_becomes_warning),
        T(test_first_invalid_alert_fails_the_whole_webhook),
        T(test_signal_carries_type_source_received_time_and_its_own_payload),
        T(test_payload_over_the_limit_is_omitted),
        T(test_malformed_json_is_rejected),
        T(test_trailing_garbage_is_rejected_but_trailing_whitespace_is_not),
        T(test_invalid_utf8_is_rejected_with_its_offset),
        T(test_escaped_nul_is_rejected_naming_the_field),
        T(test_raw_nul_and_control_bytes_are_rejected),
        T(test_special_bytes_are_found_at_every_offset_of_a_long_string),
        T(test_non_standard_numbers_are_rejected),
        T(test_wrong_types_are_rejected_naming_the_field),
        T(test_top_level_must_be_an_object),
        T(test_missing_alerts_is_rejected),
        T(test_empty_alerts_is_rejected),
        T(test_non_object_alert_is_rejected),
        T(test_unsupported_version_is_rejected),
        T(test_too_many_alerts_is_rejected_with_413),
        T(test_depth_10000_is_rejected_quickly),
        T(test_depth_at_the_limit_is_accepted_and_one_deeper_is_not),
        T(test_100kb_label_value_is_accepted),
        T(test_10000_alerts_are_accepted_at_max_alerts_10000),
        T(test_field_names_match_case_insensitively_like_go),
        T(test_many_fields_are_found_in_one_pass_with_go_rules),
        T(test_duplicate_keys_last_one_wins),
        T(test_null_optional_fields_are_absent),
        T(test_oomkilled_warning_event_is_a_critical_pod_signal),
        T(test_warning_event_with_only_event_time_is_a_warning_signal),
        T(test_error_event_is_critical_and_keeps_the_events_own_labels),
        T(test_normal_event_is_ignored_but_fully_normalised),
        T(test_cluster_scoped_node_event),
        T(test_event_type_decides_severity_or_rejection),
        T(test_critical_reasons_are_critical_whatever_the_type),
        T(test_event_required_fields_are_checked_in_upstream_order),
        T(test_event_malformed_or_non_object_body_is_rejected),
        T(test_event_payload_is_the_whole_body_and_bounded),
        T(test_event_optional_fields_of_the_wrong_type_are_rejected),
        T(test_event_annotations_are_omitted_when_empty_or_zero),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
