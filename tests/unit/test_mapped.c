/* test_mapped.c: mapped JSON webhooks: the path reader (util/jpath.c), the `webhooks:`
 * loader's refusals (src/config.c), and the adapter (adapters/mapped.c) on good bodies and
 * on each kind of body it refuses. */
#include "testutil.h"

#include "adapters/adapter.h"
#include "config.h"
#include "util/arena.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/jpath.h"

#include <unistd.h>

#define NOW 1795729900000LL

static const adapter_limits LIM = {.max_alerts = 1000, .max_payload_bytes = 64 << 10, .max_depth = 64};

/* ---- helpers -------------------------------------------------------------------------- */

/* s with ' turned into " (arena a) */
static char *dq(arena *a, const char *single_quoted)
{
    char *d = arena_strdup(a, single_quoted);
    for (char *p = d; *p; p++)
        if (*p == '\'') *p = '"';
    return d;
}

static const cJSON *get(const cJSON *root, const char *path)
{
    jpath p;
    char err[200];
    if (jpath_parse(path, &p, err, sizeof err) != 0) fail_msg("parse %s: %s", path, err);
    const cJSON *v = jpath_get(root, &p);
    jpath_free(&p);
    return v;
}

static config *load(const char *yaml, char *err, size_t errlen)
{
    char path[] = "/tmp/sgw-test-mapped-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    char *envp[] = {NULL};
    err[0] = '\0';
    config *c = config_load(path, envp, err, errlen);
    unlink(path);
    return c;
}

/* yaml must be refused with a message containing want */
static void refused(const char *yaml, const char *want)
{
    char err[512];
    config *c = load(yaml, err, sizeof err);
    if (c) {
        config_free(c);
        fail_msg("accepted: %s", yaml);
    }
    if (!strstr(err, want)) fail_msg("message '%s' does not contain '%s'", err, want);
}

static const char *MAPPING =
    "webhooks:\n"
    "  - name: uptime\n"
    "    alerts: data.alerts\n"
    "    fields:\n"
    "      name: check.name\n"
    "      namespace: target.namespace\n"
    "      kind: target.kind\n"
    "      resource: target.name\n"
    "      severity: level\n"
    "      status: state\n"
    "      starts_at: started\n"
    "      labels: tags\n"
    "      annotations: info\n"
    "    resolved_values: [resolved, OK]\n"
    "  - name: one\n"
    "    fields: {name: alert, kind: kind, resource: res.0, dedup_key: id}\n";

typedef struct ctx {
    arena         a;
    config       *cfg;
    sig_signal   *s;
    size_t        n;
    adapter_error err;
} ctx;

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    arena_init(&c->a);
    char err[512];
    c->cfg = load(MAPPING, err, sizeof err);
    if (!c->cfg) fail_msg("mapping refused: %s", err);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx *c = *state;
    arena_free(&c->a);
    config_free(c->cfg);
    free(c);
    return 0;
}

static int parse(ctx *c, const char *name, const char *body_sq)
{
    const cfg_webhook *m = config_webhook_find(c->cfg, name);
    assert_non_null(m);
    char *b = dq(&c->a, body_sq);
    return adapter_mapped_parse(m, b, strlen(b), NOW, &LIM, &c->a, &c->s, &c->n, &c->err);
}

static void expect_error(ctx *c, int rc, adapter_status st, const char *msg)
{
    assert_int_equal(rc, st);
    assert_int_equal(c->err.status, st);
    if (!strstr(c->err.message, msg)) fail_msg("message '%s' does not contain '%s'", c->err.message, msg);
    assert_null(c->s);
    assert_int_equal(c->n, 0);
}

/* ---- the path reader ------------------------------------------------------------------ */

static void test_path_reads_keys_and_indexes(void **state)
{
    (void)state;
    cJSON *j = cJSON_Parse("{\"data\":{\"alerts\":[{\"name\":\"a\"},{\"name\":\"b\",\"0\":\"zero\"}]},"
                           "\"x\":null,\"k\":\"first\",\"k\":\"last\"}");
    assert_string_equal(get(j, "data.alerts.1.name")->valuestring, "b");
    assert_string_equal(get(j, "data.alerts.0.name")->valuestring, "a");
    assert_string_equal(get(j, "data.alerts.1.0")->valuestring, "zero");   /* digits name a key of an object */
    assert_true(cJSON_IsArray(get(j, "data.alerts")));
    assert_string_equal(get(j, "k")->valuestring, "last");                 /* the last duplicate wins */
    assert_null(get(j, "data.alerts.2"));                                  /* out of range */
    assert_null(get(j, "data.alerts.name"));                               /* a key on an array */
    assert_null(get(j, "data.alerts.0.name.more"));                        /* into a scalar */
    assert_null(get(j, "x"));                                              /* null is absent */
    assert_null(get(j, "Data"));                                           /* keys are exact */
    cJSON_Delete(j);
}

static void test_path_syntax_errors(void **state)
{
    (void)state;
    static const struct {
        const char *path, *msg;
    } bad[] = {
        {"", "empty path"},
        {"a..b", "empty segment"},
        {".a", "empty segment"},
        {"a.", "empty segment"},
        {"a.1234567890", "more than 9 digits"},
        {"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q", "more than 16 segments"},
        {"a\tb", "control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jpath p;
        char err[200] = "";
        if (jpath_parse(bad[i].path, &p, err, sizeof err) != SGW_E_INVALID) fail_msg("accepted '%s'", bad[i].path);
        if (!strstr(err, bad[i].msg)) fail_msg("'%s': message '%s' lacks '%s'", bad[i].path, err, bad[i].msg);
        assert_null(p.text);
    }
    char longp[JPATH_MAX_LEN + 2];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    jpath p;
    char err[200];
    assert_int_equal(jpath_parse(longp, &p, err, sizeof err), SGW_E_INVALID);
    assert_int_equal(jpath_parse("items.0.name", &p, err, sizeof err), 0);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.seg[1].index, 0);
    assert_int_equal(p.seg[0].index, -1);
    jpath_free(&p);
}

/* ---- the mapping's refusals, each naming its key ---------------------------------------- */

static void test_mapping_errors_name_the_key(void **state)
{
    (void)state;
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: k, resource: r, nmae: x}\n", "webhooks[0] (a).fields.nmae: unknown key");
    refused("webhooks:\n  - name: a\n    alert: x\n    fields: {name: n, kind: k, resource: r}\n", "webhooks[0].alert: unknown key");
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: k}\n", "webhooks[0] (a).fields.resource is required");
    refused("webhooks:\n  - name: a\n    fields: {name: n, resource: r}\n", "fields.kind is required");
    refused("webhooks:\n  - name: a\n    fields: {kind: k, resource: r}\n", "fields.name is required");
    refused("webhooks:\n  - name: a\n    fields: {name: 'a..b', kind: k, resource: r}\n", "webhooks[0] (a).fields.name: 'a..b' has an empty segment");
    refused("webhooks:\n  - name: a\n    alerts: 'x.'\n    fields: {name: n, kind: k, resource: r}\n", "webhooks[0].alerts: 'x.' has an empty segment");
    refused("webhooks:\n  - name: a\n    fields: {name: [x], kind: k, resource: r}\n", "fields.name must be a path");
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: k, resource: r}\n"
            "  - name: a\n    fields: {name: n, kind: k, resource: r}\n", "webhooks[1] (a).name: a second webhook of this name");
    refused("webhooks:\n  - name: Bad/Name\n    fields: {name: n, kind: k, resource: r}\n", "webhooks[0].name 'Bad/Name' is not a URL-safe token");
    refused("webhooks:\n  - name: -a\n    fields: {name: n, kind: k, resource: r}\n", "is not a URL-safe token");
    refused("webhooks:\n  - fields: {name: n, kind: k, resource: r}\n", "webhooks[0].name is required");
    refused("webhooks:\n  - name: a\n", "webhooks[0] (a).fields is required");
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: k, resource: r}\n    resolved_values: ok\n", "resolved_values must be a list");
    refused("webhooks:\n  name: a\n", "webhooks must be a list");
    refused("webhooks:\n  - just-a-string\n", "webhooks[0] must be a mapping");
}

static void test_mapping_loaded(void **state)
{
    ctx *c = *state;
    assert_int_equal(c->cfg->n_webhooks, 2);
    const cfg_webhook *u = config_webhook_find(c->cfg, "uptime"), *o = config_webhook_find(c->cfg, "one");
    assert_string_equal(u->alerts.text, "data.alerts");
    assert_int_equal(u->n_resolved, 2);
    assert_null(o->alerts.text);
    assert_int_equal(o->n_resolved, 1);                     /* the default */
    assert_string_equal(o->resolved[0], "resolved");
    assert_null(config_webhook_find(c->cfg, "nope"));
}

/* ---- the adapter ------------------------------------------------------------------------- */

static void test_list_of_alerts(void **state)
{
    ctx *c = *state;
    int rc = parse(c, "uptime",
                   "{'data':{'alerts':["
                   "{'check':{'name':'HttpDown'},'target':{'namespace':'shop','kind':'Deployment','name':'web'},"
                   "'level':'Critical','state':'firing','started':'2026-11-30T10:00:00Z','tags':{'team':'a','n':3.5,'i':2},"
                   "'info':{'summary':'down'}},"
                   "{'check':{'name':'HttpDown'},'target':{'kind':'Node','name':'n1'},'state':'ok','started':1795729000}]}}");
    assert_int_equal(rc, 0);
    assert_int_equal(c->n, 2);
    sig_signal *s = &c->s[0];
    assert_string_equal(s->name, "HttpDown");
    assert_string_equal(s->namespace, "shop");
    assert_string_equal(s->kind, "Deployment");
    assert_string_equal(s->res_name, "web");
    assert_int_equal(s->severity, SEV_CRITICAL);
    assert_int_equal(s->status, SIG_FIRING);
    assert_int_equal(s->firing_ms, 1796032800000LL);
    assert_string_equal(sig_map_get(&s->labels, "n"), "3.5");
    assert_string_equal(sig_map_get(&s->labels, "i"), "2");
    assert_string_equal(sig_map_get(&s->labels, "severity"), "Critical");
    assert_null(sig_map_get(&s->labels, "dedup_key"));
    assert_string_equal(sig_map_get(&s->annotations, "summary"), "down");
    assert_string_equal(s->signal_type, "webhook");
    assert_string_equal(s->source, "webhook/uptime");
    sig_signal k = *s;
    sig_fingerprint(&k);
    assert_string_equal(k.fingerprint, s->fingerprint);     /* no dedup key: the design's fingerprint */
    s = &c->s[1];
    assert_string_equal(s->namespace, "");                  /* cluster-scoped */
    assert_int_equal(s->status, SIG_RESOLVED);              /* "ok" matches OK, case-insensitively */
    assert_int_equal(s->severity, SEV_WARNING);             /* not mapped in the body */
    assert_int_equal(s->firing_ms, 1795729000000LL);        /* Unix seconds */
}

static void test_one_alert_per_body_with_dedup_key(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, "one", "{'alert':'DiskFull','kind':'Node','res':['n1'],'id':42}"), 0);
    assert_int_equal(c->n, 1);
    sig_signal *s = &c->s[0];
    assert_string_equal(s->res_name, "n1");
    assert_string_equal(sig_map_get(&s->labels, "dedup_key"), "42");
    char fp[65];
    const char *key = "DiskFull::Node:n1:42";
    hash_sha256_hex(key, strlen(key), fp);
    assert_string_equal(s->fingerprint, fp);
    assert_string_equal(s->source, "webhook/one");
}

static void test_body_errors(void **state)
{
    ctx *c = *state;
    expect_error(c, parse(c, "uptime", "{'data':{}}"), ADAPTER_E_MISSING, "data.alerts: missing");
    c->s = NULL;
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':{'a':1}}}"), ADAPTER_E_TYPE, "data.alerts: expected an array");
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':[]}}"), ADAPTER_E_EMPTY, "data.alerts is empty");
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':[1]}}"), ADAPTER_E_TYPE, "data.alerts.0: expected an object");
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':[{'check':{'name':'x'},'target':{'kind':'Pod'}}]}}"),
                 ADAPTER_E_MISSING, "data.alerts.0.target.name: missing (fields.resource)");
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':[{'check':{'name':{'a':1}},'target':{'kind':'Pod','name':'p'}}]}}"),
                 ADAPTER_E_TYPE, "data.alerts.0.check.name: an object where a string is needed (fields.name)");
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':[{'check':{'name':'x'},'target':{'kind':['Pod'],'name':'p'}}]}}"),
                 ADAPTER_E_TYPE, "data.alerts.0.target.kind: an array where a string is needed (fields.kind)");
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':[{'check':{'name':'x'},'target':{'kind':'Pod','name':true}}]}}"),
                 ADAPTER_E_TYPE, "expected a string or a number (fields.resource)");
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':[{'check':{'name':''},'target':{'kind':'Pod','name':'p'}}]}}"),
                 ADAPTER_E_MISSING, "data.alerts.0.check.name: empty");
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':[{'check':{'name':'x'},'target':{'kind':'Pod','name':'p'},'tags':[1]}]}}"),
                 ADAPTER_E_TYPE, "data.alerts.0.tags: expected an object (fields.labels)");
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':[{'check':{'name':'x'},'target':{'kind':'Pod','name':'p'},'tags':{'t':{}}}]}}"),
                 ADAPTER_E_TYPE, "data.alerts.0.tags.t: expected a string or a number (fields.labels)");
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':[{'check':{'name':'x'},'target':{'kind':'Pod','name':'p'},'started':'yesterday'}]}}"),
                 ADAPTER_E_TYPE, "data.alerts.0.started: not an RFC 3339 time or Unix seconds (fields.starts_at)");
    expect_error(c, parse(c, "uptime", "{'data':{'alerts':[{'check':{'name':'x'},'target':{'kind':'Pod','name':'p'},'started':-5}]}}"),
                 ADAPTER_E_TYPE, "Unix seconds out of range");
    expect_error(c, parse(c, "one", "[1]"), ADAPTER_E_TYPE, "the body: expected a JSON object (one alert)");
    expect_error(c, parse(c, "one", "{'alert':'a','kind':'Node'}"), ADAPTER_E_MISSING, "res.0: missing (fields.resource)");
    expect_error(c, parse(c, "one", "{'alert':'a','kind':'Node','res':['n'],'id':{}}"), ADAPTER_E_TYPE,
                 "id: an object where a string is needed (fields.dedup_key)");
    expect_error(c, parse(c, "one", "{'alert':'a',"), ADAPTER_E_JSON, "");
}

/* ---- fixed values ({value: x}) --------------------------------------------------------- */

static void test_fixed_values_are_taken_for_every_alert(void **state)
{
    ctx *c = *state;
    char err[512];
    config *fixed = load("webhooks:\n  - name: ci\n    alerts: jobs\n    fields:\n      name: job\n"
                         "      kind: {value: Deployment}\n      namespace: {value: shop}\n      resource: app\n"
                         "      severity: {value: Critical}\n      dedup_key: {value: ci-pipeline}\n", err, sizeof err);
    if (!fixed) fail_msg("refused: %s", err);
    const cfg_webhook *m = config_webhook_find(fixed, "ci");
    char *b = dq(&c->a, "{'jobs':[{'job':'BuildFailed','app':'web'},{'job':'BuildFailed','app':'api','kind':'Pod'}]}");
    int rc = adapter_mapped_parse(m, b, strlen(b), NOW, &LIM, &c->a, &c->s, &c->n, &c->err);
    if (rc) fail_msg("rc %d: %s", rc, c->err.message);
    assert_int_equal(c->n, 2);
    for (size_t i = 0; i < 2; i++) {
        sig_signal *s = &c->s[i];
        assert_string_equal(s->kind, "Deployment");           /* the body's own "kind" is not read */
        assert_string_equal(s->namespace, "shop");
        assert_int_equal(s->severity, SEV_CRITICAL);
        assert_string_equal(sig_map_get(&s->labels, "severity"), "Critical");
        assert_string_equal(sig_map_get(&s->labels, "dedup_key"), "ci-pipeline");
    }
    assert_string_equal(c->s[1].res_name, "api");
    char fp[65];
    const char *key = "BuildFailed:shop:Deployment:web:ci-pipeline";
    hash_sha256_hex(key, strlen(key), fp);
    assert_string_equal(c->s[0].fingerprint, fp);
    config_free(fixed);
}

static void test_fixed_value_refusals_name_the_key(void **state)
{
    (void)state;
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: {value: ''}, resource: r}\n",
            "webhooks[0] (a).fields.kind: a fixed value is 1..253 bytes");
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: {valu: Pod}, resource: r}\n",
            "fields.kind: must be a path or {value: <text>}");
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: {value: Pod, extra: 1}, resource: r}\n",
            "fields.kind: must be a path or {value: <text>}");
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: {extension: k}, resource: r}\n",
            "fields.kind: must be a path or {value: <text>}");
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: {value: [Pod]}, resource: r}\n",
            "fields.kind: {value: ...} must be a string");
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: k, resource: r, labels: {value: x}}\n",
            "fields.labels: a fixed value is only for name, namespace, kind, resource, severity, status, dedup_key");
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: k, resource: r, namespace: {value: Shop}}\n",
            "fields.namespace: a fixed namespace is a DNS label");
    refused("webhooks:\n  - name: a\n    fields: {name: n, kind: k, resource: r, severity: {value: high}}\n",
            "fields.severity: a fixed severity is critical, warning or info");
}

static void test_too_many_alerts(void **state)
{
    ctx *c = *state;
    adapter_limits lim = LIM;
    lim.max_alerts = 2;
    const cfg_webhook *m = config_webhook_find(c->cfg, "uptime");
    char *b = dq(&c->a, "{'data':{'alerts':[{},{},{}]}}");
    int rc = adapter_mapped_parse(m, b, strlen(b), NOW, &lim, &c->a, &c->s, &c->n, &c->err);
    expect_error(c, rc, ADAPTER_E_TOO_MANY, "3 alerts, more than adapters.max_alerts (2)");
}

static void test_future_start_refused_when_fresh(void **state)
{
    ctx *c = *state;
    adapter_limits lim = LIM;
    lim.fresh = true;
    lim.max_age_ms = 300000;
    lim.max_skew_ms = 120000;
    const cfg_webhook *m = config_webhook_find(c->cfg, "uptime");
    char *b = dq(&c->a, "{'data':{'alerts':[{'check':{'name':'x'},'target':{'kind':'Pod','name':'p'},'started':1895729900}]}}");
    int rc = adapter_mapped_parse(m, b, strlen(b), NOW, &lim, &c->a, &c->s, &c->n, &c->err);
    expect_error(c, rc, ADAPTER_E_FUTURE, "started");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_path_reads_keys_and_indexes),
        T(test_path_syntax_errors),
        T(test_mapping_errors_name_the_key),
        T(test_mapping_loaded),
        T(test_list_of_alerts),
        T(test_one_alert_per_body_with_dedup_key),
        T(test_body_errors),
        T(test_fixed_values_are_taken_for_every_alert),
        T(test_fixed_value_refusals_name_the_key),
        T(test_too_many_alerts),
        T(test_future_start_refused_when_fresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
