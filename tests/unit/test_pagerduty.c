/* test_pagerduty.c: the PagerDuty Events API v2 adapter (src/adapters/pagerduty.c): every
 * field, the dedup identity and the generated dedup_key, the default target mapping, each
 * rejection with its errors list; and the source's reply and credential hooks
 * (src/pagerduty_reply.c). Bodies use single quotes; J() turns them into JSON's. */
#include "testutil.h"

#include <stdio.h>

#include "adapters/adapter.h"
#include "config.h"
#include "pagerduty_reply.h"
#include "sig.h"
#include "util/arena.h"
#include "util/hash.h"
#include "util/jsonw.h"

#define NOW 1795729900000LL   /* 2026-11-26T21:51:40Z */
#define RK "0123456789abcdef0123456789abcdef"

static const adapter_limits LIM = {.max_alerts = 3, .max_payload_bytes = 64 << 10, .max_depth = 64};

typedef struct ctx {
    arena         a;
    adapter_input in;
    sig_signal   *s;
    size_t        n;
    adapter_error err;
} ctx;

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    arena_init(&c->a);
    c->in.request_id = "req-1";
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

static const char *J(ctx *c, const char *s)
{
    char *d = arena_strdup(&c->a, s);
    for (char *p = d; *p; p++)
        if (*p == '\'') *p = '"';
    return d;
}

static int parse(ctx *c, const char *single_quoted)
{
    const char *body = J(c, single_quoted);
    c->s = NULL;
    c->n = 0;
    memset(&c->err, 0, sizeof c->err);
    return adapter_pagerduty_parse(&c->in, body, strlen(body), NOW, &LIM, &c->a, &c->s, &c->n, &c->err);
}

#define PAYLOAD "{'summary':'api-1 crash looping','source':'prod/Pod/api-1','severity':'critical'}"
#define TRIGGER(extra, payload) "{'routing_key':'" RK "','event_action':'trigger'" extra ",'payload':" payload "}"

/* rc is st and err.message is exactly the lines (joined by '\n') */
static void expect_errors(ctx *c, int rc, adapter_status st, const char *lines)
{
    if (rc != (int)st || strcmp(c->err.message, lines) != 0)
        fail_msg("expected %d with\n%s\ngot %d with\n%s", (int)st, lines, rc, c->err.message);
    assert_null(c->s);
    assert_int_equal(c->n, 0);
}

static void fp_of(const char *rk, const char *dk, char out[65])
{
    char id[600];
    snprintf(id, sizeof id, "pagerduty:%s:%s", rk, dk);
    hash_sha256_hex(id, strlen(id), out);
}

/* ---- trigger ------------------------------------------------------------------------------ */

static void test_trigger_reads_every_field(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, TRIGGER(",'dedup_key':'k-1','client':'ci','client_url':'https://ci','images':[],'links':[]",
                                      "{'summary':'api-1 crash looping','source':'prod/Pod/api-1','severity':'error',"
                                      "'timestamp':'2026-11-26T21:50:00Z','component':'api','group':'web',"
                                      "'class':'CrashLoop','custom_details':{'restarts':12}}")), 0);
    assert_int_equal(c->n, 1);
    sig_signal *s = &c->s[0];
    assert_string_equal(s->name, "CrashLoop");          /* class names the signal */
    assert_string_equal(s->namespace, "prod");
    assert_string_equal(s->kind, "Pod");
    assert_string_equal(s->res_name, "api-1");
    assert_int_equal(s->severity, SEV_CRITICAL);         /* error is urgent */
    assert_int_equal(s->status, SIG_FIRING);
    assert_false(s->ignored);
    assert_string_equal(s->signal_type, "pagerduty-event");
    assert_string_equal(s->source, "pagerduty");
    assert_int_equal(s->firing_ms, NOW);
    assert_string_equal(sig_map_get(&s->labels, "severity"), "error");
    assert_string_equal(sig_map_get(&s->labels, "component"), "api");
    assert_string_equal(sig_map_get(&s->labels, "group"), "web");
    assert_string_equal(sig_map_get(&s->labels, "class"), "CrashLoop");
    assert_string_equal(sig_map_get(&s->annotations, "summary"), "api-1 crash looping");
    assert_string_equal(sig_map_get(&s->annotations, "pagerduty.com/source"), "prod/Pod/api-1");
    assert_string_equal(sig_map_get(&s->annotations, "pagerduty.com/timestamp"), "2026-11-26T21:50:00Z");
    assert_string_equal(sig_map_get(&s->annotations, "pagerduty.com/dedup-key"), "k-1");
    char fp[65];
    fp_of(RK, "k-1", fp);
    assert_string_equal(s->fingerprint, fp);
    assert_non_null(s->payload);
}

static void test_summary_names_the_signal_without_class(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, TRIGGER("", PAYLOAD)), 0);
    assert_string_equal(c->s[0].name, "api-1 crash looping");
}

static void test_severities(void **state)
{
    ctx *c = *state;
    static const struct { const char *v; sig_severity s; } t[] = {
        {"critical", SEV_CRITICAL}, {"error", SEV_CRITICAL}, {"warning", SEV_WARNING}, {"info", SEV_INFO}};
    for (size_t i = 0; i < 4; i++) {
        char body[300];
        snprintf(body, sizeof body, TRIGGER("", "{'summary':'x','source':'ns/Pod/p','severity':'%s'}"), t[i].v);
        assert_int_equal(parse(c, body), 0);
        assert_int_equal(c->s[0].severity, t[i].s);
    }
}

static void test_dedup_key_is_the_identity(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, TRIGGER(",'dedup_key':'same'", PAYLOAD)), 0);
    char a[65];
    memcpy(a, c->s[0].fingerprint, 65);
    /* another summary, target and severity: the same incident */
    assert_int_equal(parse(c, TRIGGER(",'dedup_key':'same'", "{'summary':'other','source':'x/Node/n','severity':'info'}")), 0);
    assert_string_equal(c->s[0].fingerprint, a);
    /* another integration (routing_key): another incident */
    assert_int_equal(parse(c, "{'routing_key':'ffffffffffffffffffffffffffffffff','event_action':'trigger',"
                              "'dedup_key':'same','payload':" PAYLOAD "}"), 0);
    assert_string_not_equal(c->s[0].fingerprint, a);
}

static void test_generated_dedup_key(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, TRIGGER("", PAYLOAD)), 0);
    const char *k1 = sig_map_get(&c->s[0].annotations, "pagerduty.com/dedup-key");
    assert_non_null(k1);
    assert_int_equal(strlen(k1), 32);
    for (const char *p = k1; *p; p++) assert_true((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
    char fp[65];
    fp_of(RK, k1, fp);
    assert_string_equal(c->s[0].fingerprint, fp);
    /* the same body in another request: another key (PagerDuty's: a new incident) */
    c->in.request_id = "req-2";
    assert_int_equal(parse(c, TRIGGER("", PAYLOAD)), 0);
    assert_string_not_equal(sig_map_get(&c->s[0].annotations, "pagerduty.com/dedup-key"), k1);
    /* "" is absent */
    assert_int_equal(parse(c, TRIGGER(",'dedup_key':''", PAYLOAD)), 0);
    assert_int_equal(strlen(sig_map_get(&c->s[0].annotations, "pagerduty.com/dedup-key")), 32);
}

static void test_dedup_key_of_255_characters(void **state)
{
    ctx *c = *state;
    char key[256 * 2 + 1] = {0}, body[1200];
    for (int i = 0; i < 255; i++) memcpy(key + 2 * i, "\xc3\xa9", 2);   /* 255 characters, 510 bytes */
    snprintf(body, sizeof body, TRIGGER(",'dedup_key':'%s'", PAYLOAD), key);
    assert_int_equal(parse(c, body), 0);
    assert_string_equal(sig_map_get(&c->s[0].annotations, "pagerduty.com/dedup-key"), key);
    strcat(key, "x");
    snprintf(body, sizeof body, TRIGGER(",'dedup_key':'%s'", PAYLOAD), key);
    expect_errors(c, parse(c, body), ADAPTER_E_TYPE,
                  "Length of 'dedup_key' is too long (should be at most 255 characters)");
}

/* ---- the target ---------------------------------------------------------------------------- */

static void expect_target(ctx *c, const char *payload_sq, const char *ns, const char *kind, const char *name)
{
    char body[600];
    snprintf(body, sizeof body, TRIGGER("", "%s"), payload_sq);
    int rc = parse(c, body);
    if (rc) fail_msg("%s: %d %s", payload_sq, rc, c->err.message);
    assert_string_equal(c->s[0].namespace, ns);
    assert_string_equal(c->s[0].kind, kind);
    assert_string_equal(c->s[0].res_name, name);
}

static void test_target_mapping(void **state)
{
    ctx *c = *state;
    expect_target(c, "{'summary':'x','source':'prod/Pod/api-1','severity':'info',"
                     "'custom_details':{'namespace':'ops','kind':'StatefulSet','name':'db'}}", "ops", "StatefulSet", "db");
    expect_target(c, "{'summary':'x','source':'host-1','severity':'info','custom_details':{'namespace':'ops','pod':'p-1',"
                     "'deployment':'d'}}", "ops", "Pod", "p-1");
    expect_target(c, "{'summary':'x','source':'host-1','severity':'info','custom_details':{'deployment':'d'}}", "",
                  "Deployment", "d");
    for (int i = 0; i < 4; i++) {
        static const char *const k[] = {"statefulset", "daemonset", "node", "service"};
        static const char *const kind[] = {"StatefulSet", "DaemonSet", "Node", "Service"};
        char p[200];
        snprintf(p, sizeof p, "{'summary':'x','source':'h','severity':'info','custom_details':{'%s':'r'}}", k[i]);
        expect_target(c, p, "", kind[i], "r");
    }
    /* kind without name: not a target; source is */
    expect_target(c, "{'summary':'x','source':'prod/Deployment/api','severity':'info','custom_details':{'kind':'Pod'}}",
                  "prod", "Deployment", "api");
    expect_target(c, "{'summary':'x','source':'Node/worker-3','severity':'info'}", "", "Node", "worker-3");
    expect_target(c, "{'summary':'x','source':'Node/worker-3','severity':'info','custom_details':'text'}", "", "Node",
                  "worker-3");
}

static void test_no_target_is_rejected(void **state)
{
    ctx *c = *state;
    static const char *const sources[] = {"host-1", "a/b/c/d", "/Pod/x", "ns//x", "ns/Pod/", "Pod/"};
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        char body[400];
        snprintf(body, sizeof body, TRIGGER("", "{'summary':'x','source':'%s','severity':'info'}"), sources[i]);
        int rc = parse(c, body);
        if (rc != ADAPTER_E_MISSING || !strstr(c->err.message, "names no Kubernetes resource"))
            fail_msg("%s: %d %s", sources[i], rc, c->err.message);
    }
}

static void test_configured_mapping(void **state)
{
    ctx *c = *state;
    char err[300];
    config *cfg = config_defaults();
    assert_int_equal(config_set(cfg, "pagerduty.namespace_key", "k8s_namespace", err, sizeof err), 0);
    assert_int_equal(config_set(cfg, "pagerduty.kind_key", "k8s_kind", err, sizeof err), 0);
    assert_int_equal(config_set(cfg, "pagerduty.name_key", "k8s_name", err, sizeof err), 0);
    assert_int_equal(config_validate(cfg, err, sizeof err), 0);
    c->in.pd = &cfg->pagerduty;
    expect_target(c, "{'summary':'x','source':'a/Pod/b','severity':'info','custom_details':{'k8s_namespace':'ops',"
                     "'k8s_kind':'Deployment','k8s_name':'web','kind':'Pod','name':'p','namespace':'x'}}",
                  "ops", "Deployment", "web");
    /* the default keys are no longer read; pod is (resource_keys), with the configured namespace key */
    expect_target(c, "{'summary':'x','source':'h','severity':'info','custom_details':{'kind':'Pod','name':'p',"
                     "'pod':'p-2','k8s_namespace':'ops'}}", "ops", "Pod", "p-2");
    assert_int_equal(config_set(cfg, "pagerduty.resource_keys", "false", err, sizeof err), 0);
    expect_target(c, "{'summary':'x','source':'a/Node/n','severity':'info','custom_details':{'pod':'p-2'}}", "a", "Node",
                  "n");
    assert_int_equal(config_set(cfg, "pagerduty.source_target", "false", err, sizeof err), 0);
    assert_int_equal(parse(c, TRIGGER("", "{'summary':'x','source':'a/Node/n','severity':'info'}")), ADAPTER_E_MISSING);
    config_free(cfg);
}

static void test_mapping_config_is_validated(void **state)
{
    (void)state;
    static const struct { const char *key, *value, *msg; } t[] = {
        {"pagerduty.namespace_key", "a.b", "pagerduty.namespace_key 'a.b' must be a custom_details member name"},
        {"pagerduty.kind_key", "", "pagerduty.kind_key and pagerduty.name_key are set together"},
        {"pagerduty.name_key", "x y", "pagerduty.name_key 'x y' must be"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char err[300] = "";
        config *cfg = config_defaults();
        assert_int_equal(config_set(cfg, t[i].key, t[i].value, err, sizeof err), 0);
        int rc = config_validate(cfg, err, sizeof err);
        if (rc != SGW_E_INVALID || !strstr(err, t[i].msg)) fail_msg("%s=%s: %d %s", t[i].key, t[i].value, rc, err);
        config_free(cfg);
    }
    char err[300] = "";
    config *cfg = config_defaults();
    assert_int_equal(config_set(cfg, "pagerduty.kind_key", "", err, sizeof err), 0);
    assert_int_equal(config_set(cfg, "pagerduty.name_key", "", err, sizeof err), 0);
    assert_int_equal(config_set(cfg, "pagerduty.namespace_key", "", err, sizeof err), 0);
    assert_int_equal(config_validate(cfg, err, sizeof err), 0);
    assert_int_equal(config_set(cfg, "pagerduty.resource_keys", "false", err, sizeof err), 0);
    assert_int_equal(config_set(cfg, "pagerduty.source_target", "false", err, sizeof err), 0);
    assert_int_equal(config_validate(cfg, err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "no event could name its target"));
    config_free(cfg);
}

/* ---- acknowledge, resolve ------------------------------------------------------------------ */

static void test_acknowledge_is_ignored(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, "{'routing_key':'" RK "','event_action':'acknowledge','dedup_key':'k-1'}"), 0);
    assert_true(c->s[0].ignored);
    assert_non_null(strstr(c->s[0].ignore_reason, "acknowledged"));
    char fp[65];
    fp_of(RK, "k-1", fp);
    assert_string_equal(c->s[0].fingerprint, fp);
}

static void test_resolve_closes_the_dedup_key(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, "{'routing_key':'" RK "','event_action':'resolve','dedup_key':'k-1'}"), 0);
    sig_signal *s = &c->s[0];
    assert_int_equal(s->status, SIG_RESOLVED);
    assert_false(s->ignored);
    assert_int_equal(s->firing_ms, 0);
    char fp[65];
    fp_of(RK, "k-1", fp);
    assert_string_equal(s->fingerprint, fp);
    assert_string_equal(sig_map_get(&s->annotations, "pagerduty.com/dedup-key"), "k-1");
    /* a payload on a resolve is not read */
    assert_int_equal(parse(c, "{'routing_key':'" RK "','event_action':'resolve','dedup_key':'k-1','payload':3}"), 0);
    /* kubernaut.ai records no resolution */
    c->in.resolve_ignored = true;
    assert_int_equal(parse(c, "{'routing_key':'" RK "','event_action':'resolve','dedup_key':'k-1'}"), 0);
    assert_true(c->s[0].ignored);
}

/* ---- rejections ---------------------------------------------------------------------------- */

static void test_each_rejection_and_its_errors(void **state)
{
    ctx *c = *state;
    static const struct { const char *body; adapter_status st; const char *errors; } t[] = {
        {"[]", ADAPTER_E_TYPE, "Event object must be a JSON object"},
        {"{'event_action':'trigger','payload':" PAYLOAD "}", ADAPTER_E_MISSING, "'routing_key' is missing or blank"},
        {"{'routing_key':null,'event_action':'trigger','payload':" PAYLOAD "}", ADAPTER_E_MISSING,
         "'routing_key' is missing or blank"},
        {"{'routing_key':'','event_action':'trigger','payload':" PAYLOAD "}", ADAPTER_E_MISSING,
         "'routing_key' is missing or blank"},
        {"{'routing_key':7,'event_action':'trigger','payload':" PAYLOAD "}", ADAPTER_E_TYPE,
         "'routing_key' must be a string"},
        {"{'routing_key':'short','event_action':'trigger','payload':" PAYLOAD "}", ADAPTER_E_TYPE,
         "Length of 'routing_key' is incorrect (should be 32 characters)"},
        {"{'routing_key':'" RK "','payload':" PAYLOAD "}", ADAPTER_E_MISSING, "'event_action' is missing or blank"},
        {"{'routing_key':'" RK "','event_action':'','payload':" PAYLOAD "}", ADAPTER_E_MISSING,
         "'event_action' is missing or blank"},
        {"{'routing_key':'" RK "','event_action':'Trigger','payload':" PAYLOAD "}", ADAPTER_E_TYPE,
         "'event_action' is invalid (expected trigger, acknowledge or resolve)"},
        {"{'routing_key':'" RK "','event_action':true,'payload':" PAYLOAD "}", ADAPTER_E_TYPE,
         "'event_action' must be a string"},
        {TRIGGER(",'dedup_key':5", PAYLOAD), ADAPTER_E_TYPE, "'dedup_key' must be a string"},
        {"{'routing_key':'" RK "','event_action':'acknowledge'}", ADAPTER_E_MISSING,
         "'dedup_key' is missing or blank (required for acknowledge and resolve)"},
        {"{'routing_key':'" RK "','event_action':'resolve','dedup_key':''}", ADAPTER_E_MISSING,
         "'dedup_key' is missing or blank (required for acknowledge and resolve)"},
        {"{'routing_key':'" RK "','event_action':'trigger'}", ADAPTER_E_MISSING, "'payload' is missing or blank"},
        {TRIGGER("", "'text'"), ADAPTER_E_TYPE, "'payload' must be an object"},
        {TRIGGER("", "{'source':'ns/Pod/p','severity':'info'}"), ADAPTER_E_MISSING, "'payload.summary' is missing or blank"},
        {TRIGGER("", "{'summary':'','source':'ns/Pod/p','severity':'info'}"), ADAPTER_E_MISSING,
         "'payload.summary' is missing or blank"},
        {TRIGGER("", "{'summary':1,'source':'ns/Pod/p','severity':'info'}"), ADAPTER_E_TYPE,
         "'payload.summary' must be a string"},
        {TRIGGER("", "{'summary':'x','severity':'info'}"), ADAPTER_E_MISSING, "'payload.source' is missing or blank"},
        {TRIGGER("", "{'summary':'x','source':[],'severity':'info'}"), ADAPTER_E_TYPE, "'payload.source' must be a string"},
        {TRIGGER("", "{'summary':'x','source':'ns/Pod/p'}"), ADAPTER_E_MISSING, "'payload.severity' is missing or blank"},
        {TRIGGER("", "{'summary':'x','source':'ns/Pod/p','severity':'high'}"), ADAPTER_E_TYPE,
         "'payload.severity' is invalid (expected critical, error, warning or info)"},
        {TRIGGER("", "{'summary':'x','source':'ns/Pod/p','severity':'info','timestamp':'yesterday'}"), ADAPTER_E_TYPE,
         "'payload.timestamp' is not a valid ISO 8601 timestamp"},
        {TRIGGER("", "{'summary':'x','source':'ns/Pod/p','severity':'info','component':1}"), ADAPTER_E_TYPE,
         "'payload.component' must be a string"},
        {TRIGGER("", "{'summary':'x','source':'ns/Pod/p','severity':'info','group':{}}"), ADAPTER_E_TYPE,
         "'payload.group' must be a string"},
        {TRIGGER("", "{'summary':'x','source':'ns/Pod/p','severity':'info','class':false}"), ADAPTER_E_TYPE,
         "'payload.class' must be a string"},
        /* every fault of the event, in order; the first one's kind is the status */
        {"{'routing_key':'short','event_action':'trigger','payload':{'severity':'high'}}", ADAPTER_E_TYPE,
         "Length of 'routing_key' is incorrect (should be 32 characters)\n'payload.summary' is missing or blank\n"
         "'payload.source' is missing or blank\n'payload.severity' is invalid (expected critical, error, warning or info)"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc = parse(c, t[i].body);
        if (rc != (int)t[i].st || strcmp(c->err.message, t[i].errors) != 0)
            fail_msg("[%zu] %s: expected %d\n%s\ngot %d\n%s", i, t[i].body, (int)t[i].st, t[i].errors, rc, c->err.message);
        assert_null(c->s);
    }
}

static void test_summary_of_1024_characters(void **state)
{
    ctx *c = *state;
    char summary[1026] = {0}, body[1400];
    memset(summary, 'a', 1024);
    snprintf(body, sizeof body, TRIGGER("", "{'summary':'%s','source':'ns/Pod/p','severity':'info'}"), summary);
    assert_int_equal(parse(c, body), 0);
    assert_int_equal(strlen(c->s[0].name), 253);   /* a signal name's limit */
    summary[1024] = 'a';
    snprintf(body, sizeof body, TRIGGER("", "{'summary':'%s','source':'ns/Pod/p','severity':'info'}"), summary);
    expect_errors(c, parse(c, body), ADAPTER_E_TYPE,
                  "Length of 'payload.summary' is too long (should be at most 1024 characters)");
}

static void test_malformed_json(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, "{'routing_key':"), ADAPTER_E_JSON);
    assert_int_equal(parse(c, ""), ADAPTER_E_JSON);
}

/* PagerDuty's own examples write the offset without a colon (ISO 8601's basic form) */
static void test_timestamp_offset_without_colon(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, TRIGGER("", "{'summary':'x','source':'ns/Pod/p','severity':'info',"
                                          "'timestamp':'2015-07-17T08:42:58.315+0000'}")), 0);
    assert_string_equal(sig_map_get(&c->s[0].annotations, "pagerduty.com/timestamp"), "2015-07-17T08:42:58.315+0000");
    assert_int_equal(parse(c, TRIGGER("", "{'summary':'x','source':'ns/Pod/p','severity':'info',"
                                          "'timestamp':'2015-07-17T08:42:58-0130'}")), 0);
    static const char *const bad[] = {"2015-07-17T08:42:58+000", "2015-07-17T08:42:58+00000", "2015-07-17T08:42:58+2400",
                                      "2015-07-17T08:42:58+0a00", "+0000", "2015-07-17T08:42:58"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[300];
        snprintf(body, sizeof body, TRIGGER("", "{'summary':'x','source':'ns/Pod/p','severity':'info','timestamp':'%s'}"),
                 bad[i]);
        if (parse(c, body) != ADAPTER_E_TYPE) fail_msg("%s was accepted", bad[i]);
        assert_string_equal(c->err.message, "'payload.timestamp' is not a valid ISO 8601 timestamp");
    }
}

/* ---- change events ------------------------------------------------------------------------- */

static int parse_change(ctx *c, const char *single_quoted)
{
    const char *body = J(c, single_quoted);
    c->s = NULL;
    c->n = 0;
    memset(&c->err, 0, sizeof c->err);
    return adapter_pagerduty_change_parse(&c->in, body, strlen(body), NOW, &LIM, &c->a, &c->s, &c->n, &c->err);
}

/* PagerDuty's documented example */
#define CHANGE "{'routing_key':'" RK "','payload':{'summary':'Build Success: Increase snapshot create timeout',"   \
               "'timestamp':'2020-07-17T08:42:58.315+0000','source':'acme-build-pipeline',"                          \
               "'custom_details':{'build_state':'passed','build_number':'2'}},"                                      \
               "'links':[{'href':'https://acme.pagerduty.dev/build/2','text':'View'}]}"

static void test_change_event_is_read_and_ignored(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse_change(c, CHANGE), 0);
    assert_int_equal(c->n, 1);
    sig_signal *s = &c->s[0];
    assert_true(s->ignored);
    assert_non_null(strstr(s->ignore_reason, "change_event"));
    assert_string_equal(s->name, "Build Success: Increase snapshot create timeout");
    assert_string_equal(s->signal_type, "pagerduty-change");
    assert_string_equal(s->source, "pagerduty");
    assert_int_equal(s->severity, SEV_INFO);
    assert_string_equal(sig_map_get(&s->annotations, "summary"), "Build Success: Increase snapshot create timeout");
    assert_string_equal(sig_map_get(&s->annotations, "pagerduty.com/source"), "acme-build-pipeline");
    assert_string_equal(sig_map_get(&s->annotations, "pagerduty.com/timestamp"), "2020-07-17T08:42:58.315+0000");
    assert_null(sig_map_get(&s->annotations, "pagerduty.com/dedup-key"));
    assert_non_null(s->payload);
    /* the same body in another request is another change: the request id is in the fingerprint */
    char fp[65];
    memcpy(fp, s->fingerprint, sizeof fp);
    c->in.request_id = "req-2";
    assert_int_equal(parse_change(c, CHANGE), 0);
    assert_string_not_equal(c->s[0].fingerprint, fp);
    /* only the summary is required; a long one is cut to a signal name's limit */
    char summary[1025] = {0}, body[1400];
    memset(summary, 'a', 1024);
    snprintf(body, sizeof body, "{'routing_key':'" RK "','payload':{'summary':'%s'}}", summary);
    assert_int_equal(parse_change(c, body), 0);
    assert_int_equal(strlen(c->s[0].name), 253);
    assert_null(sig_map_get(&c->s[0].annotations, "pagerduty.com/source"));
}

static void test_change_event_rejections(void **state)
{
    ctx *c = *state;
    static const struct { const char *body; adapter_status st; const char *errors; } t[] = {
        {"[]", ADAPTER_E_TYPE, "Event object must be a JSON object"},
        {"{'payload':{'summary':'x'}}", ADAPTER_E_MISSING, "'routing_key' is missing or blank"},
        {"{'routing_key':'short','payload':{'summary':'x'}}", ADAPTER_E_TYPE,
         "Length of 'routing_key' is incorrect (should be 32 characters)"},
        {"{'routing_key':'" RK "','event_action':'trigger','payload':{'summary':'x'}}", ADAPTER_E_TYPE,
         "'event_action' is not a field of a change event (alert events go to /v2/enqueue)"},
        {"{'routing_key':'" RK "'}", ADAPTER_E_MISSING, "'payload' is missing or blank"},
        {"{'routing_key':'" RK "','payload':[1]}", ADAPTER_E_TYPE, "'payload' must be an object"},
        {"{'routing_key':'" RK "','payload':{}}", ADAPTER_E_MISSING, "'payload.summary' is missing or blank"},
        {"{'routing_key':'" RK "','payload':{'summary':''}}", ADAPTER_E_MISSING, "'payload.summary' is missing or blank"},
        {"{'routing_key':'" RK "','payload':{'summary':3}}", ADAPTER_E_TYPE, "'payload.summary' must be a string"},
        {"{'routing_key':'" RK "','payload':{'summary':'x','source':{}}}", ADAPTER_E_TYPE,
         "'payload.source' must be a string"},
        {"{'routing_key':'" RK "','payload':{'summary':'x','timestamp':'now'}}", ADAPTER_E_TYPE,
         "'payload.timestamp' is not a valid ISO 8601 timestamp"},
        {"{'routing_key':7,'payload':{'timestamp':1}}", ADAPTER_E_TYPE,
         "'routing_key' must be a string\n'payload.timestamp' must be a string\n"
         "'payload.summary' is missing or blank"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc = parse_change(c, t[i].body);
        if (rc != (int)t[i].st || strcmp(c->err.message, t[i].errors) != 0)
            fail_msg("[%zu] %s: expected %d\n%s\ngot %d\n%s", i, t[i].body, (int)t[i].st, t[i].errors, rc, c->err.message);
        assert_null(c->s);
    }
    char summary[1026] = {0}, body[1400];
    memset(summary, 'a', 1025);
    snprintf(body, sizeof body, "{'routing_key':'" RK "','payload':{'summary':'%s'}}", summary);
    expect_errors(c, parse_change(c, body), ADAPTER_E_TYPE,
                  "Length of 'payload.summary' is too long (should be at most 1024 characters)");
    assert_int_equal(parse_change(c, "{'routing_key':"), ADAPTER_E_JSON);
}

/* ---- the reply and credential hooks -------------------------------------------------------- */

static const char *reply(ctx *c, int code, const sig_signal *s, size_t n, const char *ecode, const char *emsg, int *st)
{
    jsonw w;
    jw_init(&w, &c->a, 64);
    *st = pagerduty_reply(code, s, n, ecode, emsg, &w);
    return w.buf;
}

static void test_reply_shapes(void **state)
{
    ctx *c = *state;
    int st;
    assert_int_equal(parse(c, TRIGGER(",'dedup_key':'k \\\"1\\\"'", PAYLOAD)), 0);
    assert_string_equal(reply(c, 201, c->s, 1, NULL, NULL, &st),
                        "{\"status\":\"success\",\"message\":\"Event processed\",\"dedup_key\":\"k \\\"1\\\"\"}");
    assert_int_equal(st, 202);
    assert_string_equal(reply(c, 202, c->s, 1, NULL, NULL, &st),
                        "{\"status\":\"success\",\"message\":\"Event processed\",\"dedup_key\":\"k \\\"1\\\"\"}");
    assert_int_equal(st, 202);
    assert_string_equal(reply(c, 400, NULL, 0, "invalid_field", "a\n'b' \"c\"", &st),
                        "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\","
                        "\"errors\":[\"a\",\"'b' \\\"c\\\"\"]}");
    assert_int_equal(st, 400);
    assert_string_equal(reply(c, 413, NULL, 0, "too_many_alerts", "", &st),
                        "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\",\"errors\":[]}");
    assert_int_equal(st, 413);
    assert_string_equal(reply(c, 503, c->s, 1, "store_unavailable", "retry later", &st),
                        "{\"status\":\"retry\",\"message\":\"retry later\",\"errors\":[\"store_unavailable\"]}");
    assert_int_equal(st, 503);
}

static void test_change_reply_shapes(void **state)
{
    ctx *c = *state;
    int st;
    jsonw w;
    assert_int_equal(parse_change(c, CHANGE), 0);
    jw_init(&w, &c->a, 64);
    assert_int_equal(pagerduty_change_reply(202, c->s, 1, NULL, NULL, &w), 202);
    assert_string_equal(w.buf, "{\"status\":\"success\",\"message\":\"Change event processed\"}");
    jw_init(&w, &c->a, 64);
    st = pagerduty_change_reply(400, NULL, 0, "missing_field", "'payload' is missing or blank", &w);
    assert_int_equal(st, 400);
    assert_string_equal(w.buf, "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\","
                               "\"errors\":[\"'payload' is missing or blank\"]}");
    jw_init(&w, &c->a, 64);
    assert_int_equal(pagerduty_change_reply(503, NULL, 0, "draining", "later", &w), 503);
    assert_string_equal(w.buf, "{\"status\":\"retry\",\"message\":\"later\",\"errors\":[\"draining\"]}");
}

static void test_credential_is_the_routing_key(void **state)
{
    ctx *c = *state;
    const char *b = J(c, "{'routing_key':'" RK "','event_action':'trigger'}");
    assert_string_equal(pagerduty_credential(b, strlen(b), 64, &c->a), "Bearer " RK);
    static const char *const none[] = {"{'event_action':'trigger'}", "{'routing_key':5}", "{'routing_key':''}",
                                       "{'routing_key':'a b'}", "[1]", "{"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        b = J(c, none[i]);
        assert_null(pagerduty_credential(b, strlen(b), 64, &c->a));
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_trigger_reads_every_field),
        T(test_summary_names_the_signal_without_class),
        T(test_severities),
        T(test_dedup_key_is_the_identity),
        T(test_generated_dedup_key),
        T(test_dedup_key_of_255_characters),
        T(test_target_mapping),
        T(test_no_target_is_rejected),
        T(test_configured_mapping),
        T(test_mapping_config_is_validated),
        T(test_acknowledge_is_ignored),
        T(test_resolve_closes_the_dedup_key),
        T(test_each_rejection_and_its_errors),
        T(test_summary_of_1024_characters),
        T(test_malformed_json),
        T(test_timestamp_offset_without_colon),
        T(test_change_event_is_read_and_ignored),
        T(test_change_event_rejections),
        T(test_reply_shapes),
        T(test_change_reply_shapes),
        T(test_credential_is_the_routing_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
