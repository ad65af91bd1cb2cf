/* test_cloudevents.c: the CloudEvents adapter (src/adapters/cloudevents.c) in its three modes,
 * the attribute checks of the spec, the mapping of cloudevents.types, and that section's
 * loader (src/config.c). Bodies use single quotes; J() turns them into JSON's. */
#include "testutil.h"

#include <stdio.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "config.h"
#include "pipeline.h"
#include "sig.h"
#include "util/arena.h"

#define NOW 1795729900000LL   /* 2026-11-26T21:51:40Z */

static const adapter_limits LIM = {.max_alerts = 3, .max_payload_bytes = 64 << 10, .max_depth = 64};

typedef struct ctx {
    arena         a;
    config       *cfg;
    adapter_input in;
    sig_signal   *s;
    size_t        n;
    adapter_error err;
} ctx;

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    arena_init(&c->a);
    c->cfg = config_defaults();
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

static const char *J(ctx *c, const char *s)
{
    char *d = arena_strdup(&c->a, s);
    for (char *p = d; *p; p++)
        if (*p == '\'') *p = '"';
    return d;
}

/* in's configuration and content type; the ce-* fields as the caller left them */
static int parse(ctx *c, const char *content_type, const char *single_quoted)
{
    c->in.content_type = content_type;
    c->in.ce_types = c->cfg->ce_types;
    c->in.n_ce_types = c->cfg->n_ce_types;
    const char *body = J(c, single_quoted);
    return adapter_cloudevents_parse(&c->in, body, strlen(body), NOW, &LIM, &c->a, &c->s, &c->n, &c->err);
}

#define STRUCT "application/cloudevents+json"
#define BATCH "application/cloudevents-batch+json"
#define DATA "{'name':'PodCrashLooping','namespace':'prod','resource':{'kind':'Pod','name':'api-1'},'severity':'critical'}"
#define EVENT(type, data) "{'specversion':'1.0','id':'e-1','source':'/src','type':'" type "','data':" data "}"

static void expect_error(ctx *c, int rc, adapter_status st, const char *text)
{
    if (rc != (int)st || !strstr(c->err.message, text))
        fail_msg("expected %d containing \"%s\", got %d: %s", (int)st, text, rc, c->err.message);
    assert_null(c->s);
    assert_int_equal(c->n, 0);
}

static void test_structured_event_maps_its_data(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, STRUCT "; charset=utf-8", EVENT("io.kubernaut.signal", DATA)), 0);
    assert_int_equal(c->n, 1);
    sig_signal *s = &c->s[0];
    assert_string_equal(s->name, "PodCrashLooping");
    assert_string_equal(s->namespace, "prod");
    assert_string_equal(s->kind, "Pod");
    assert_string_equal(s->res_name, "api-1");
    assert_int_equal(s->severity, SEV_CRITICAL);
    assert_int_equal(s->status, SIG_FIRING);
    assert_false(s->ignored);
    assert_string_equal(sig_map_get(&s->annotations, "cloudevents.io/id"), "e-1");
    assert_string_equal(sig_map_get(&s->labels, "kubernaut.io/cloudevent-type"), "io.kubernaut.signal");
    sig_signal same = *s;
    sig_fingerprint(&same);
    assert_string_equal(same.fingerprint, s->fingerprint);
    assert_non_null(s->payload);
}

static void test_resolved_status_resolves(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, STRUCT, EVENT("io.kubernaut.signal", "{'name':'X','resource':{'kind':'Node','name':'n1'},"
                                                                   "'status':'resolved'}")), 0);
    assert_int_equal(c->s[0].status, SIG_RESOLVED);
    assert_string_equal(c->s[0].namespace, "");
}

static void test_binary_mode_reads_ce_headers_percent_decoded(void **state)
{
    ctx *c = *state;
    c->in.ce_specversion = "1.0";
    c->in.ce_id = "e%2D9";
    c->in.ce_source = "/src";
    c->in.ce_type = "io.kubernaut.signal";
    c->in.ce_subject = "caf%C3%A9";
    c->in.ce_time = "2026-11-26T21:50:10Z";
    assert_int_equal(parse(c, "application/json", DATA), 0);
    assert_int_equal(c->n, 1);
    assert_string_equal(sig_map_get(&c->s[0].annotations, "cloudevents.io/id"), "e-9");
    assert_string_equal(sig_map_get(&c->s[0].annotations, "cloudevents.io/subject"), "caf\xc3\xa9");
    assert_int_equal(c->s[0].firing_ms, 1795729810000LL);
}

static void test_binary_mode_missing_ce_id_is_named(void **state)
{
    ctx *c = *state;
    c->in.ce_specversion = "1.0";
    c->in.ce_source = "/src";
    c->in.ce_type = "io.kubernaut.signal";
    expect_error(c, parse(c, "application/json", DATA), ADAPTER_E_MISSING, "ce-id is required");
}

static void test_binary_mode_data_must_be_json_for_a_mapped_type(void **state)
{
    ctx *c = *state;
    c->in.ce_specversion = "1.0";
    c->in.ce_id = "1";
    c->in.ce_source = "/src";
    c->in.ce_type = "io.kubernaut.signal";
    expect_error(c, parse(c, "text/plain", "hello"), ADAPTER_E_MEDIA_TYPE, "must be JSON");
    assert_int_equal(pipeline_reject_status(ADAPTER_E_MEDIA_TYPE), 415);
}

static void test_json_without_ce_headers_names_specversion(void **state)
{
    ctx *c = *state;
    expect_error(c, parse(c, "application/json", DATA), ADAPTER_E_MISSING, "ce-specversion is required");
}

static void test_other_content_type_is_415(void **state)
{
    ctx *c = *state;
    expect_error(c, parse(c, "application/xml", "<a/>"), ADAPTER_E_MEDIA_TYPE, "Content-Type must be");
    expect_error(c, parse(c, NULL, "{}"), ADAPTER_E_MEDIA_TYPE, "Content-Type must be");
}

static void test_required_attributes_are_checked_in_order(void **state)
{
    ctx *c = *state;
    expect_error(c, parse(c, STRUCT, "{'id':'1','source':'/s','type':'t'}"), ADAPTER_E_MISSING, "specversion is required");
    expect_error(c, parse(c, STRUCT, "{'specversion':'0.3','id':'1','source':'/s','type':'t'}"), ADAPTER_E_VERSION,
                 "\"0.3\" is not supported");
    expect_error(c, parse(c, STRUCT, "{'specversion':'1.0','id':'','source':'/s','type':'t'}"), ADAPTER_E_MISSING,
                 "id is required");
    expect_error(c, parse(c, STRUCT, "{'specversion':'1.0','id':'1','type':'t'}"), ADAPTER_E_MISSING, "source is required");
    expect_error(c, parse(c, STRUCT, "{'specversion':'1.0','id':'1','source':'/s'}"), ADAPTER_E_MISSING, "type is required");
    expect_error(c, parse(c, STRUCT, "{'specversion':1,'id':'1','source':'/s','type':'t'}"), ADAPTER_E_TYPE,
                 "specversion: expected a string");
    expect_error(c, parse(c, STRUCT, "{'specversion':'1.0','id':'1','source':'/s','type':'t','time':'yesterday'}"),
                 ADAPTER_E_TYPE, "time: \"yesterday\" is not an RFC 3339 timestamp");
}

static void test_unknown_type_is_ignored(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, STRUCT, EVENT("com.example.build", "{'x':[1]}")), 0);
    assert_int_equal(c->n, 1);
    assert_true(c->s[0].ignored);
    assert_false(c->s[0].rejected);
    assert_string_equal(c->s[0].name, "com.example.build");
    assert_non_null(strstr(c->s[0].ignore_reason, "unknown_type"));
    assert_int_equal(c->in.unknown_types, 1);
}

static void test_mapping_errors_name_the_path(void **state)
{
    ctx *c = *state;
    expect_error(c, parse(c, STRUCT, EVENT("io.kubernaut.signal", "{'name':'X','resource':{'kind':'Pod'}}")),
                 ADAPTER_E_MISSING, "data.resource.name is required (the resource of type io.kubernaut.signal)");
    expect_error(c, parse(c, STRUCT, EVENT("io.kubernaut.signal", "{'name':'X','resource':[1]}")), ADAPTER_E_TYPE,
                 "data.resource: expected an object on the way, found an array");
    expect_error(c, parse(c, STRUCT, EVENT("io.kubernaut.signal", "{'name':{'a':1},'resource':{'kind':'P','name':'p'}}")),
                 ADAPTER_E_TYPE, "data.name: expected a string (the name of type io.kubernaut.signal), found an object");
    expect_error(c, parse(c, STRUCT, EVENT("io.kubernaut.signal", "{'name':'X','resource':{'kind':'P','name':'p'},"
                                                                  "'status':'open'}")),
                 ADAPTER_E_TYPE, "\"open\" is not firing or resolved");
    expect_error(c, parse(c, STRUCT, EVENT("io.kubernaut.signal", "'text'")), ADAPTER_E_TYPE, "data: expected a JSON object");
}

static void test_batch_keeps_the_good_events_and_rejects_the_bad(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, BATCH, "[" EVENT("io.kubernaut.signal", DATA) ",{'specversion':'1.0','source':'/s','type':'t'},"
                                     EVENT("other", "{}") "]"), 0);
    assert_int_equal(c->n, 3);
    assert_false(c->s[0].ignored);
    assert_true(c->s[1].ignored && c->s[1].rejected);
    assert_string_equal(c->s[1].ignore_reason, "invalid_event: [1].id is required (a non-empty string)");
    assert_string_equal(c->s[1].name, "t");
    assert_true(c->s[2].ignored && !c->s[2].rejected);
    assert_int_equal(c->in.invalid_events, 1);
    assert_int_equal(c->in.unknown_types, 1);
    assert_non_null(c->s[0].payload_json);
}

static void test_batch_with_no_valid_event_is_the_first_error(void **state)
{
    ctx *c = *state;
    expect_error(c, parse(c, BATCH, "[{'id':'1'},{'specversion':'2'}]"), ADAPTER_E_MISSING, "[0].specversion is required");
    expect_error(c, parse(c, BATCH, "[]"), ADAPTER_E_EMPTY, "no events");
    expect_error(c, parse(c, BATCH, "{}"), ADAPTER_E_TYPE, "expected a JSON array");
}

static void test_batch_beyond_max_alerts_is_413(void **state)
{
    ctx *c = *state;
    expect_error(c, parse(c, BATCH, "[{},{},{},{}]"), ADAPTER_E_TOO_MANY, "4 events in one batch, more than adapters.max_alerts (3)");
    assert_int_equal(pipeline_reject_status(ADAPTER_E_TOO_MANY), 413);
}

/* ---- extension attributes ------------------------------------------------------------------ */

static void test_structured_extensions_become_labels(void **state)
{
    ctx *c = *state;
    assert_int_equal(parse(c, STRUCT, "{'specversion':'1.0','id':'e-1','source':'/src','type':'io.kubernaut.signal',"
                                      "'traceparent':'00-ab-cd-01','partitionkey':'p1','sampled':true,'rank':7,"
                                      "'ratio':0.5,'obj':{'a':1},'Bad':'x','waytoolongextensionname':'x','gone':null,"
                                      "'data':" DATA "}"), 0);
    sig_signal *s = &c->s[0];
    assert_string_equal(sig_map_get(&s->labels, "cloudevents.io/traceparent"), "00-ab-cd-01");
    assert_string_equal(sig_map_get(&s->labels, "cloudevents.io/partitionkey"), "p1");
    assert_string_equal(sig_map_get(&s->labels, "cloudevents.io/sampled"), "true");
    assert_string_equal(sig_map_get(&s->labels, "cloudevents.io/rank"), "7");
    /* not CloudEvents types (a fraction, an object), not attribute names, null: not kept */
    assert_null(sig_map_get(&s->labels, "cloudevents.io/ratio"));
    assert_null(sig_map_get(&s->labels, "cloudevents.io/obj"));
    assert_null(sig_map_get(&s->labels, "cloudevents.io/Bad"));
    assert_null(sig_map_get(&s->labels, "cloudevents.io/waytoolongextensionname"));
    assert_null(sig_map_get(&s->labels, "cloudevents.io/gone"));
    assert_null(sig_map_get(&s->labels, "cloudevents.io/data"));
    assert_null(sig_map_get(&s->labels, "cloudevents.io/id"));
    assert_int_equal(c->in.ce_ext_dropped, 4);
    sig_signal same = *s;   /* extensions are not part of the fingerprint */
    sig_fingerprint(&same);
    assert_string_equal(same.fingerprint, s->fingerprint);
}

static void test_binary_extensions_are_decoded_and_bounded(void **state)
{
    ctx *c = *state;
    char big[300];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sig_kv ext[] = {{"traceparent", "00%2Dab"}, {"k8sns", "prod"}, {"k8sns", "second"}, {"long", big},
                    {"bad-name", "x"}, {"nul", "a%00b"}};
    c->in.ce_specversion = "1.0";
    c->in.ce_id = "1";
    c->in.ce_source = "/src";
    c->in.ce_type = "io.kubernaut.signal";
    c->in.ce_ext = ext;
    c->in.n_ce_ext = sizeof ext / sizeof ext[0];
    c->in.ce_ext_over = 2;   /* headers the HTTP layer did not keep */
    assert_int_equal(parse(c, "application/json", DATA), 0);
    sig_signal *s = &c->s[0];
    assert_string_equal(sig_map_get(&s->labels, "cloudevents.io/traceparent"), "00-ab");
    assert_string_equal(sig_map_get(&s->labels, "cloudevents.io/k8sns"), "prod");   /* the first wins */
    assert_null(sig_map_get(&s->labels, "cloudevents.io/long"));
    assert_null(sig_map_get(&s->labels, "cloudevents.io/bad-name"));
    assert_null(sig_map_get(&s->labels, "cloudevents.io/nul"));
    assert_int_equal(c->in.ce_ext_dropped, 5);   /* long, bad-name, nul and the 2 over */
}

static void test_at_most_16_extensions_per_event(void **state)
{
    ctx *c = *state;
    char ev[2048];
    size_t n = (size_t)snprintf(ev, sizeof ev, "{'specversion':'1.0','id':'e','source':'/s','type':'io.kubernaut.signal'");
    for (int i = 0; i < 20; i++) n += (size_t)snprintf(ev + n, sizeof ev - n, ",'x%d':'v'", i);
    snprintf(ev + n, sizeof ev - n, ",'data':%s}", DATA);
    assert_int_equal(parse(c, STRUCT, ev), 0);
    size_t kept = 0;
    for (size_t i = 0; i < c->s[0].labels.n; i++) kept += strncmp(c->s[0].labels.items[i].key, "cloudevents.io/", 15) == 0;
    assert_int_equal(kept, 16);
    assert_int_equal(c->in.ce_ext_dropped, 4);
    assert_non_null(sig_map_get(&c->s[0].labels, "cloudevents.io/x15"));
    assert_null(sig_map_get(&c->s[0].labels, "cloudevents.io/x16"));
}

/* A configured type that reads extension attributes and has a fixed kind. */
#define EXT_TYPES "cloudevents:\n  types:\n    - type: com.example.node\n      name: alert\n" \
                  "      kind: {value: Node}\n      resource: {extension: nodename}\n" \
                  "      severity: {extension: level}\n      status: {extension: state}\n"

static config *load(const char *yaml, char *err, size_t errlen);

static void test_mapping_reads_extensions_and_fixed_values(void **state)
{
    ctx *c = *state;
    char err[512] = "";
    config *cfg = load(EXT_TYPES, err, sizeof err);
    if (!cfg) fail_msg("%s", err);
    config_free(c->cfg);
    c->cfg = cfg;
    assert_int_equal(parse(c, STRUCT, "{'specversion':'1.0','id':'e','source':'/s','type':'com.example.node',"
                                      "'nodename':'node-3','level':'critical','data':{'alert':'NodeNotReady'}}"), 0);
    sig_signal *s = &c->s[0];
    assert_string_equal(s->kind, "Node");
    assert_string_equal(s->res_name, "node-3");
    assert_string_equal(s->namespace, "");
    assert_int_equal(s->severity, SEV_CRITICAL);
    assert_int_equal(s->status, SIG_FIRING);
    assert_string_equal(sig_map_get(&s->labels, "cloudevents.io/nodename"), "node-3");
    c->s = NULL;
    /* binary mode: the same from ce-* headers */
    sig_kv ext[] = {{"nodename", "node%2D4"}, {"state", "resolved"}};
    c->in = (adapter_input){.ce_specversion = "1.0", .ce_id = "1", .ce_source = "/s", .ce_type = "com.example.node",
                            .ce_ext = ext, .n_ce_ext = 2};
    assert_int_equal(parse(c, "application/json", "{'alert':'NodeNotReady'}"), 0);
    assert_string_equal(c->s[0].res_name, "node-4");
    assert_int_equal(c->s[0].status, SIG_RESOLVED);
    c->s = NULL;
    c->n = 0;
    c->in = (adapter_input){.ce_specversion = "1.0", .ce_id = "1", .ce_source = "/s", .ce_type = "com.example.node"};
    expect_error(c, parse(c, "application/json", "{'alert':'NodeNotReady'}"), ADAPTER_E_MISSING,
                 "ce-nodename is required (the resource of type com.example.node: an extension attribute");
    c->in = (adapter_input){0};
    expect_error(c, parse(c, BATCH, "[{'specversion':'1.0','id':'e','source':'/s','type':'com.example.node',"
                                    "'data':{'alert':'A'},'nodename':'n','state':'gone'}]"),
                 ADAPTER_E_TYPE, "[0].state: \"gone\" is not firing or resolved");
}

/* ---- cloudevents.types --------------------------------------------------------------------- */

static config *load(const char *yaml, char *err, size_t errlen)
{
    char path[] = "/tmp/sgw-ce-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    char *envp[] = {NULL};
    config *c = config_load(path, envp, err, errlen);
    unlink(path);
    return c;
}

static void test_config_types_replace_the_default(void **state)
{
    (void)state;
    char err[512] = "";
    config *c = load("cloudevents:\n  types:\n    - type: com.example.alert\n      name: alert.name\n"
                     "      kind: target.kind\n      resource: target.name\n      severity: level\n", err, sizeof err);
    if (!c) fail_msg("%s", err);
    assert_int_equal(c->n_ce_types, 1);
    assert_string_equal(c->ce_types[0].type, "com.example.alert");
    assert_string_equal(c->ce_types[0].field[CFG_CE_RESOURCE], "target.name");
    assert_int_equal(c->ce_types[0].from[CFG_CE_RESOURCE], CFG_CE_FROM_DATA);
    assert_null(c->ce_types[0].field[CFG_CE_NAMESPACE]);
    config_free(c);
}

static void test_config_errors_name_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"cloudevents:\n  types:\n    - type: a\n      name: n\n      kind: k\n", "cloudevents.types[0].resource is required"},
        {"cloudevents:\n  types:\n    - type: a\n      name: n\n      kind: k\n      resource: r\n      colour: x\n",
         "cloudevents.types[0].colour unknown key"},
        {"cloudevents:\n  types:\n    - type: a\n      name: n..x\n      kind: k\n      resource: r\n",
         "cloudevents.types[0].name must be a path"},
        {"cloudevents:\n  types:\n    - {type: a, name: n, kind: k, resource: r}\n    - {type: a, name: n, kind: k, resource: r}\n",
         "cloudevents.types[1].type 'a' is listed twice"},
        {"cloudevents:\n  types: {}\n", "cloudevents.types must be a list"},
        {"cloudevents:\n  types:\n    - {type: a, name: n, kind: {value: ''}, resource: r}\n",
         "cloudevents.types[0].kind a fixed value is 1..253 bytes"},
        {"cloudevents:\n  types:\n    - {type: a, name: n, kind: k, resource: {extension: Node-Name}}\n",
         "cloudevents.types[0].resource {extension: ...} must be an attribute name"},
        {"cloudevents:\n  types:\n    - {type: a, name: n, kind: k, resource: {ext: x}}\n",
         "cloudevents.types[0].resource must be a path, {value: <text>} or {extension: <name>}"},
        {"cloudevents:\n  types:\n    - {type: a, name: n, kind: k, resource: r, labels: {extension: x}}\n",
         "cloudevents.types[0].labels must be a path into data"},
        {"cloudevents:\n  types:\n    - {type: a, name: n, kind: k, resource: r, severity: {value: Critical}}\n",
         "cloudevents.types[0].severity a fixed severity is critical, warning or info"},
        {"cloudevents:\n  types:\n    - {type: a, name: n, kind: k, resource: r, status: {value: open}}\n",
         "cloudevents.types[0].status a fixed status is firing or resolved"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        config *c = load(cases[i].yaml, err, sizeof err);
        if (c || !strstr(err, cases[i].want)) fail_msg("case %zu: want \"%s\", got %s", i, cases[i].want, c ? "success" : err);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_structured_event_maps_its_data),
        T(test_resolved_status_resolves),
        T(test_binary_mode_reads_ce_headers_percent_decoded),
        T(test_binary_mode_missing_ce_id_is_named),
        T(test_binary_mode_data_must_be_json_for_a_mapped_type),
        T(test_json_without_ce_headers_names_specversion),
        T(test_other_content_type_is_415),
        T(test_required_attributes_are_checked_in_order),
        T(test_unknown_type_is_ignored),
        T(test_mapping_errors_name_the_path),
        T(test_batch_keeps_the_good_events_and_rejects_the_bad),
        T(test_batch_with_no_valid_event_is_the_first_error),
        T(test_batch_beyond_max_alerts_is_413),
        T(test_structured_extensions_become_labels),
        T(test_binary_extensions_are_decoded_and_bounded),
        T(test_at_most_16_extensions_per_event),
        T(test_mapping_reads_extensions_and_fixed_values),
        T(test_config_types_replace_the_default),
        T(test_config_errors_name_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
