/* test_grafana.c: the Grafana Alerting webhook adapter (adapter_grafana_parse) against the
 * fixtures taken from Grafana's payload (tests/fixtures/README) and hand-written edge cases,
 * and the HMAC signature of src/signature.c against vectors computed with Python's hmac. */
#include "testutil.h"

#include "adapters/adapter.h"
#include "pipeline.h"
#include "signature.h"
#include "util/arena.h"
#include "util/err.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW 1795729900000LL   /* 2026-11-26T21:51:40Z, after the fixtures' startsAt */

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

static int parse_fixture(ctx *c, const char *name)
{
    size_t len;
    char *buf = read_fixture(name, &len);
    int rc = adapter_grafana_parse(buf, len, NOW, &LIM, &c->a, &c->s, &c->n, &c->err);
    /* the signals borrow from the tree in the arena, not from buf */
    free(buf);
    return rc;
}

/* s with ' turned into " */
static int parse_q(ctx *c, const char *single_quoted)
{
    char *d = arena_strdup(&c->a, single_quoted);
    for (char *p = d; *p; p++)
        if (*p == '\'') *p = '"';
    return adapter_grafana_parse(d, strlen(d), NOW, &LIM, &c->a, &c->s, &c->n, &c->err);
}

static void test_firing_fixture_every_field(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse_fixture(c, "grafana-firing.json"), 0);
    assert_int_equal(c->n, 1);
    const sig_signal *s = &c->s[0];
    assert_string_equal(s->name, "PodCrashLooping");
    assert_string_equal(s->namespace, "payments");
    assert_string_equal(s->kind, "Pod");
    assert_string_equal(s->res_name, "api-7d9f8b-x2k4p");
    assert_int_equal(s->severity, SEV_CRITICAL);
    assert_int_equal(s->status, SIG_FIRING);
    assert_string_equal(s->signal_type, "grafana-alert");
    assert_string_equal(s->source, "grafana");
    assert_string_equal(s->am_fingerprint, "fac0861a85de433a");   /* Grafana's, kept */
    assert_int_equal(s->firing_ms, 1795168800000LL);               /* 2026-11-20T10:00:00Z */
    assert_int_equal(s->ends_ms, 0);                               /* Go's zero time */
    assert_string_equal(sig_map_get(&s->labels, "grafana_folder"), "Kubernetes");
    assert_string_equal(sig_map_get(&s->annotations, "summary"), "PodCrashLooping on api-7d9f8b-x2k4p");
    assert_int_equal(strlen(s->fingerprint), 64);
    assert_int_equal(c->err.truncated, 0);
    assert_int_equal(sig_validate(s, &c->err), 0);
}

static void test_resolved_fixture_is_not_firing(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse_fixture(c, "grafana-resolved.json"), 0);
    assert_int_equal(c->n, 1);
    assert_int_equal(c->s[0].status, SIG_RESOLVED);
    assert_int_equal(c->s[0].ends_ms, 1795170600000LL);   /* 2026-11-20T10:30:00Z */
}

static void test_several_alerts_all_returned_in_order(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse_fixture(c, "grafana-several-alerts.json"), 0);
    assert_int_equal(c->n, 3);
    for (size_t i = 0; i < 3; i++) {
        char pod[16];
        snprintf(pod, sizeof pod, "web-%zu", i);
        assert_string_equal(c->s[i].res_name, pod);
        assert_string_equal(c->s[i].kind, "Pod");
        assert_int_equal(c->s[i].severity, SEV_WARNING);
    }
    assert_string_not_equal(c->s[0].fingerprint, c->s[1].fingerprint);
}

static void test_truncated_alerts_reported(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse_fixture(c, "grafana-truncated.json"), 0);
    assert_int_equal(c->n, 2);
    assert_int_equal(c->err.truncated, 8);
    assert_string_equal(c->s[0].namespace, "monitoring");
}

/* the alert's own status wins over the group's, as for Alertmanager */
static void test_mixed_statuses_per_alert(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse_q(c, "{'version':'1','status':'firing','alerts':["
                                "{'status':'firing','labels':{'alertname':'A','namespace':'n','pod':'p1'}},"
                                "{'status':'resolved','labels':{'alertname':'A','namespace':'n','pod':'p2'},"
                                "'endsAt':'2026-11-20T10:30:00Z'}]}"),
                     0);
    assert_int_equal(c->n, 2);
    assert_int_equal(c->s[0].status, SIG_FIRING);
    assert_int_equal(c->s[1].status, SIG_RESOLVED);
}

static void test_version_must_be_1(void **state)
{
    ctx *c = *state;
    const char *bodies[] = {
        "{'version':'4','alerts':[{'labels':{'alertname':'A'}}]}",
        "{'alerts':[{'labels':{'alertname':'A'}}]}",
        "{'version':1,'alerts':[{'labels':{'alertname':'A'}}]}",
    };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(parse_q(c, bodies[i]), ADAPTER_E_VERSION);
        assert_non_null(strstr(c->err.message, "version"));
        assert_int_equal(pipeline_reject_status(c->err.status), 400);
        assert_string_equal(pipeline_reject_code(c->err.status), "unsupported_version");
        assert_null(c->s);
    }
}

static void test_wrong_types_name_the_field(void **state)
{
    ctx *c = *state;
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{'version':'1','truncatedAlerts':'8','alerts':[{'labels':{'alertname':'A'}}]}", "truncatedAlerts"},
        {"{'version':'1','truncatedAlerts':-1,'alerts':[{'labels':{'alertname':'A'}}]}", "truncatedAlerts"},
        {"{'version':'1','truncatedAlerts':1.5,'alerts':[{'labels':{'alertname':'A'}}]}", "truncatedAlerts"},
        {"{'version':'1','orgId':'1','alerts':[{'labels':{'alertname':'A'}}]}", "orgId"},
        {"{'version':'1','title':5,'alerts':[{'labels':{'alertname':'A'}}]}", "title"},
        {"{'version':'1','state':[],'alerts':[{'labels':{'alertname':'A'}}]}", "state"},
        {"{'version':'1','message':{},'alerts':[{'labels':{'alertname':'A'}}]}", "message"},
        {"{'version':'1','alerts':[{'labels':{'alertname':'A'},'values':{'B':'4'}}]}", "alerts[0].values.B"},
        {"{'version':'1','alerts':[{'labels':{'alertname':'A'},'values':[1]}]}", "alerts[0].values"},
        {"{'version':'1','alerts':[{'labels':{'alertname':'A'},'valueString':1}]}", "alerts[0].valueString"},
        {"{'version':'1','alerts':[{'labels':{'alertname':'A'},'silenceURL':1}]}", "alerts[0].silenceURL"},
        {"{'version':'1','alerts':[{'labels':{'alertname':'A'},'dashboardURL':1}]}", "alerts[0].dashboardURL"},
        {"{'version':'1','alerts':[{'labels':{'alertname':'A'},'panelURL':true}]}", "alerts[0].panelURL"},
        {"{'version':'1','alerts':[{'labels':{'alertname':'A'},'generatorURL':1}]}", "alerts[0].generatorURL"},
        {"{'version':'1','alerts':[{'labels':{'alertname':'A'},'orgId':'x'}]}", "alerts[0].orgId"},
        {"{'version':'1','alerts':[{'labels':{'alertname':'A'},'orgId':1e308}]}", "alerts[0].orgId"},
        {"{'version':'1','truncatedAlerts':1e308,'alerts':[{'labels':{'alertname':'A'}}]}", "truncatedAlerts"},
        {"{'version':'1','alerts':[{'labels':{'alertname':'A'},'status':'pending'}]}", "alerts[0].status"},
        {"{'version':'1','alerts':[{'labels':{'alertname':1}}]}", "alerts[0].labels.alertname"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse_q(c, cases[i].body);
        if (rc != ADAPTER_E_TYPE || !strstr(c->err.message, cases[i].field))
            fail_msg("case %zu: rc %d, message \"%s\", want the field %s", i, rc, c->err.message, cases[i].field);
        assert_int_equal(pipeline_reject_status(c->err.status), 400);
    }
}

static void test_missing_and_empty(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse_q(c, "{'version':'1'}"), ADAPTER_E_MISSING);
    assert_int_equal(parse_q(c, "{'version':'1','alerts':[]}"), ADAPTER_E_EMPTY);
    assert_int_equal(parse_q(c, "{'version':'1','alerts':[{'labels':{'pod':'p'}}]}"), ADAPTER_E_MISSING);
    assert_non_null(strstr(c->err.message, "alertname"));
    assert_int_equal(parse_q(c, "[1]"), ADAPTER_E_TYPE);
    assert_non_null(strstr(c->err.message, "Grafana"));
}

/* null members are absent (Go's encoding/json), values may be empty, numbers of any kind */
static void test_nulls_and_values_accepted(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse_q(c, "{'version':'1','truncatedAlerts':null,'orgId':null,'alerts':[{'labels':"
                                "{'alertname':'A'},'values':{'B':1e300,'C':-0.5},'valueString':null}]}"),
                     0);
    assert_int_equal(c->err.truncated, 0);
    assert_string_equal(c->s[0].namespace, "");
}

/* HMAC-SHA256 vectors computed independently:
 *   python3 -c "import hmac,hashlib;print(hmac.new(b'secret',b'test message',hashlib.sha256).hexdigest())"
 *   python3 -c "import hmac,hashlib;print(hmac.new(b'secret',b'1700000000:test message',hashlib.sha256).hexdigest())"
 *   python3 -c "import hmac,hashlib;print(hmac.new(b'key',b'',hashlib.sha256).hexdigest())" */
#define V_PLAIN "3bcebf43c85d20bba6e3b6ba278af1d2ba3ab0d57de271b0ad30b833e851c5a6"
#define V_TS    "36fa366a807205a13fc507ea4413374566ad5808c7ca7653f94d121fe5e64c2d"
#define V_EMPTY "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0"

static void test_signature_vectors(void **state)
{
    (void)state;
    signature_key *k = signature_key_new("secret", 6);
    char out[65];
    signature_compute(k, NULL, "test message", 12, out);
    assert_string_equal(out, V_PLAIN);
    signature_compute(k, "1700000000", "test message", 12, out);
    assert_string_equal(out, V_TS);
    assert_int_equal(signature_verify(k, NULL, "test message", 12, V_PLAIN), 0);
    assert_int_equal(signature_verify(k, "1700000000", "test message", 12, V_TS), 0);
    signature_key_free(k);
    k = signature_key_new("key", 3);
    assert_int_equal(signature_verify(k, NULL, "", 0, V_EMPTY), 0);
    signature_key_free(k);
}

static void test_signature_refusals(void **state)
{
    (void)state;
    signature_key *k = signature_key_new("secret", 6);
    char upper[65];
    strcpy(upper, V_PLAIN);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 32);
    assert_int_equal(signature_verify(k, NULL, "test message", 12, upper), 0);    /* hex of either case */
    assert_int_equal(signature_verify(k, NULL, "test messagE", 12, V_PLAIN), SGW_E_INVALID);   /* body changed */
    assert_int_equal(signature_verify(k, "1700000001", "test message", 12, V_TS), SGW_E_INVALID);
    assert_int_equal(signature_verify(k, "1700000000", "test message", 12, V_PLAIN), SGW_E_INVALID);
    assert_int_equal(signature_verify(k, NULL, "test message", 12, NULL), SGW_E_INVALID);
    assert_int_equal(signature_verify(k, NULL, "test message", 12, ""), SGW_E_INVALID);
    assert_int_equal(signature_verify(k, NULL, "test message", 12, V_PLAIN "00"), SGW_E_INVALID);
    char bad[65];
    strcpy(bad, V_PLAIN);
    bad[10] = 'g';
    assert_int_equal(signature_verify(k, NULL, "test message", 12, bad), SGW_E_INVALID);
    signature_key_free(k);
}

static void test_secret_file_refused_when_readable(void **state)
{
    (void)state;
    char path[] = "/tmp/sgw-grafana-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "secret\n", 7), 7);
    close(fd);
    char err[256];
    assert_int_equal(chmod(path, 0640), 0);
    assert_null(signature_key_load(path, "sources.grafana_hmac_secret_file", err, sizeof err));
    assert_non_null(strstr(err, "sources.grafana_hmac_secret_file"));
    assert_int_equal(chmod(path, 0600), 0);
    signature_key *k = signature_key_load(path, "sources.grafana_hmac_secret_file", err, sizeof err);
    assert_non_null(k);   /* the trailing newline is not part of the secret */
    assert_int_equal(signature_verify(k, NULL, "test message", 12, V_PLAIN), 0);
    signature_key_free(k);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "\n", 1), 1);
    close(fd);
    assert_null(signature_key_load(path, "sources.grafana_hmac_secret_file", err, sizeof err));
    assert_non_null(strstr(err, "no secret"));
    unlink(path);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_firing_fixture_every_field),
        T(test_resolved_fixture_is_not_firing),
        T(test_several_alerts_all_returned_in_order),
        T(test_truncated_alerts_reported),
        T(test_mixed_statuses_per_alert),
        T(test_version_must_be_1),
        T(test_wrong_types_name_the_field),
        T(test_missing_and_empty),
        T(test_nulls_and_values_accepted),
        T(test_signature_vectors),
        T(test_signature_refusals),
        T(test_secret_file_refused_when_readable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
