/* config.c: defaults, YAML (libfyaml), environment and flag overrides; see config.h.
 * Every scalar key is one row of the `keys` table, so YAML, env and flags share one
 * parser, and an unknown key in the file is an error (a typo must not silently fall back
 * to a default). */
#include "config.h"
#include "suppress.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/yamlguard.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

typedef enum { K_STR, K_INT, K_DUR, K_SIZE, K_BOOL, K_AUTH, K_LOGLEVEL, K_DOUBLE } key_type;

typedef struct key_def {
    const char *name;
    key_type    type;
    size_t      off;
    const char *help;
} key_def;

#define F(field) offsetof(config, field)
static const key_def keys[] = {
    {"server.listen", K_STR, F(listen), "address:port of the signal listener"},
    {"server.metrics_listen", K_STR, F(metrics_listen), "extra listener for /metrics, /healthz, /readyz"},
    {"server.tls_cert_file", K_STR, F(tls_cert_file), "PEM certificate (and chain) of the signal listener; empty: plain HTTP"},
    {"server.tls_key_file", K_STR, F(tls_key_file), "PEM private key of server.tls_cert_file"},
    {"server.tls_client_ca_file", K_STR, F(tls_client_ca_file), "PEM CAs client certificates must chain to; set: client certificates required"},
    {"server.tls_reload_interval", K_DUR, F(tls_reload_interval_ms), "how often the TLS files are checked for a new pair (0: on SIGHUP only)"},
    {"server.metrics_tls", K_BOOL, F(metrics_tls), "serve server.metrics_listen over TLS with the same certificate"},
    {"server.workers", K_INT, F(workers), "event-loop threads (0 = CPUs)"},
    {"server.max_body_bytes", K_SIZE, F(max_body_bytes), "413 above this"},
    {"server.max_header_bytes", K_SIZE, F(max_header_bytes), "431 above this"},
    {"server.max_connections", K_INT, F(max_connections), "open connections per process"},
    {"server.max_inflight", K_INT, F(max_inflight), "requests in processing per process (503 above)"},
    {"server.max_inflight_alerts", K_INT, F(max_inflight_alerts), "alerts in those requests per process (503 above)"},
    {"server.header_timeout", K_DUR, F(header_timeout_ms), "first byte to end of headers"},
    {"server.request_timeout", K_DUR, F(request_timeout_ms), "first byte to end of body"},
    {"server.idle_timeout", K_DUR, F(idle_timeout_ms), "keep-alive idle"},
    {"server.write_timeout", K_DUR, F(write_timeout_ms), "response write"},
    {"server.drain_timeout", K_DUR, F(drain_timeout_ms), "SIGTERM drain limit"},
    {"server.processing_timeout", K_DUR, F(processing_timeout_ms), "decision deadline per request"},
    {"server.retry_after", K_INT, F(retry_after_s), "Retry-After seconds on 503"},
    {"auth.mode", K_AUTH, F(auth_mode), "off | static | kubernetes"},
    {"auth.static_file", K_STR, F(auth_static_file), "file of accepted bearer tokens (one a line)"},
    {"auth.allow_ttl", K_DUR, F(auth_allow_ttl_ms), "cache of allowed tokens"},
    {"auth.deny_ttl", K_DUR, F(auth_deny_ttl_ms), "cache of denied tokens"},
    {"auth.resource_group", K_STR, F(auth_resource_group), "SubjectAccessReview group"},
    {"auth.resource", K_STR, F(auth_resource), "SubjectAccessReview resource"},
    {"auth.verb", K_STR, F(auth_verb), "SubjectAccessReview verb"},
    {"audit.file", K_STR, F(audit_file), "audit trail: one JSON line per signal request (\"-\" = stdout; empty: none; read at start)"},
    {"audit.required", K_BOOL, F(audit_required), "answer 503 when a request's audit line could not be written"},
    {"state.url", K_STR, F(state), "memory | kubernetes | redis://HOST:PORT[/DB] | redis-sentinel://H:P,H:P/MASTER"},
    {"state.prefix", K_STR, F(state_prefix), "Redis key prefix"},
    {"state.timeout", K_DUR, F(state_timeout_ms), "Redis command timeout (then 503)"},
    {"state.status_interval", K_DUR, F(status_interval_ms), "state kubernetes: at most one status write per RR and process per interval"},
    {"sink.target", K_STR, F(sink), "dir:PATH | kubernetes"},
    {"sink.kubeconfig", K_STR, F(kubeconfig), "kubeconfig path (empty: in-cluster)"},
    {"sink.rr_api", K_STR, F(rr_api), "RR contract: remediation.kubernaut.io/v1alpha1 | kubernaut.ai/v1alpha1"},
    {"sink.rr_namespace", K_STR, F(rr_namespace), "kubernaut.ai: namespace of every RR (empty: the gateway's own)"},
    {"sink.cluster_id", K_STR, F(cluster_id), "spec.clusterID; kubernaut.ai: part of the fingerprint"},
    {"sink.group", K_STR, F(rr_group), "RemediationRequest API group"},
    {"sink.version", K_STR, F(rr_version), "RemediationRequest API version"},
    {"sink.fallback_namespace", K_STR, F(fallback_namespace), "namespace for cluster-scoped signals"},
    {"sink.qps", K_DOUBLE, F(k8s_qps), "client-side requests per second to the API server"},
    {"sink.burst", K_INT, F(k8s_burst), "client-side burst to the API server"},
    {"sink.timeout", K_DUR, F(k8s_timeout_ms), "one API call attempt"},
    {"sink.max_retries", K_INT, F(k8s_max_retries), "retries of an API call (429, 5xx, connection errors)"},
    {"sink.serviceaccount_dir", K_STR, F(serviceaccount_dir), "in-cluster token, ca.crt and namespace"},
    {"sink.allow_insecure_tls", K_BOOL, F(allow_insecure_tls), "honour insecure-skip-tls-verify (never in production)"},
    {"dedup.ttl", K_DUR, F(dedup_ttl_ms), "dedup window, refreshed on every duplicate"},
    {"dedup.lease", K_DUR, F(lease_ms), "creation-in-progress lease"},
    {"storm.enabled", K_BOOL, F(storm_enabled), "storm detection on/off"},
    {"storm.rate_threshold", K_INT, F(storm_rate_threshold), "storm when MORE than this many new alerts"},
    {"storm.rate_window", K_DUR, F(storm_rate_window_ms), "sliding window of the rate check"},
    {"storm.pattern_threshold", K_INT, F(storm_pattern_threshold), "storm when MORE distinct resources"},
    {"storm.pattern_window", K_DUR, F(storm_pattern_window_ms), "sliding window of the pattern check"},
    {"storm.window", K_DUR, F(storm_window_ms), "aggregation window of one storm RR"},
    {"storm.flag_ttl", K_DUR, F(storm_flag_ttl_ms), "how long a detected storm stays on"},
    {"storm.update_interval", K_DUR, F(storm_update_interval_ms), "min interval between storm RR updates"},
    {"storm.max_resources", K_INT, F(storm_max_resources), "affectedResources kept per storm RR"},
    {"adapters.max_alerts", K_INT, F(max_alerts), "alerts per webhook (413 above)"},
    {"adapters.max_payload_bytes", K_SIZE, F(max_payload_bytes), "originalPayload kept per alert"},
    {"adapters.max_json_depth", K_INT, F(max_json_depth), "JSON nesting depth (400 above)"},
    {"adapters.freshness", K_STR, F(freshness), "replay checks: auto (kubernaut.ai only) | on | off"},
    {"adapters.freshness_tolerance", K_DUR, F(freshness_tolerance_ms), "oldest X-Timestamp / Event time accepted"},
    {"adapters.freshness_clock_skew", K_DUR, F(freshness_clock_skew_ms), "how far in the future a time may be"},
    {"sources.grafana_hmac_secret_file", K_STR, F(grafana_hmac_secret_file), "Grafana webhook: file of the HMAC secret (empty: signatures not checked)"},
    {"sources.grafana_hmac_header", K_STR, F(grafana_hmac_header), "Grafana webhook: header of the signature (read at start)"},
    {"sources.grafana_hmac_timestamp_header", K_STR, F(grafana_hmac_timestamp_header), "Grafana webhook: header of the signed timestamp (empty: none; read at start)"},
    {"environment.default", K_STR, F(default_environment), "environment when no rule matches"},
    {"priority.default", K_STR, F(default_priority), "priority when no rule matches"},
    {"logging.level", K_LOGLEVEL, F(log_level), "debug | info | warn | error"},
    {"pagerduty.namespace_key", K_STR, F(pagerduty.namespace_key), "PagerDuty: custom_details key of the target's namespace (empty: none)"},
    {"pagerduty.kind_key", K_STR, F(pagerduty.kind_key), "PagerDuty: custom_details key of the target's kind (empty with name_key: none)"},
    {"pagerduty.name_key", K_STR, F(pagerduty.name_key), "PagerDuty: custom_details key of the target's name"},
    {"pagerduty.resource_keys", K_BOOL, F(pagerduty.resource_keys), "PagerDuty: read custom_details pod, deployment, statefulset, daemonset, node, service"},
    {"pagerduty.source_target", K_BOOL, F(pagerduty.source_target), "PagerDuty: read payload.source as namespace/kind/name or kind/name"},
};
#undef F
#define NKEYS (sizeof keys / sizeof keys[0])

static const cfg_priority_rule default_rules[] = {
    {"critical", "production", NULL, "P0"},
    {"critical", NULL, "team=platform-engineering", "P0"},
    {"critical", "staging", NULL, "P1"},
    {"warning", "production", NULL, "P1"},
    {"critical", "development", NULL, "P2"},
    {"warning", "staging", NULL, "P2"},
    {"warning", "development", NULL, "P2"},
    {"info", NULL, NULL, "P3"},
};

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

config *config_defaults(void)
{
    config *c = xcalloc(1, sizeof *c);
    c->source = xstrdup("");
    c->listen = xstrdup("127.0.0.1:8080");
    c->metrics_listen = xstrdup("");
    c->tls_cert_file = xstrdup("");
    c->tls_key_file = xstrdup("");
    c->tls_client_ca_file = xstrdup("");
    c->tls_reload_interval_ms = 5000;
    c->workers = 0;
    c->max_body_bytes = 1 << 20;
    c->max_header_bytes = 16 << 10;
    c->max_connections = 10000;
    c->max_inflight = 4096;
    c->max_inflight_alerts = 10000;
    c->header_timeout_ms = 10000;
    c->request_timeout_ms = 30000;
    c->idle_timeout_ms = 120000;
    c->write_timeout_ms = 30000;
    c->drain_timeout_ms = 30000;
    c->processing_timeout_ms = 15000;
    c->retry_after_s = 5;
    c->auth_mode = AUTH_OFF;
    c->auth_static_file = xstrdup("");
    c->audit_file = xstrdup("");
    c->auth_allow_ttl_ms = 30000;
    c->auth_deny_ttl_ms = 5000;
    c->auth_resource_group = xstrdup("remediation.kubernaut.io");
    c->auth_resource = xstrdup("remediationrequests");
    c->auth_verb = xstrdup("create");
    c->state = xstrdup("memory");
    c->state_prefix = xstrdup("sgw:");
    c->state_timeout_ms = 2000;
    c->status_interval_ms = 100;
    c->sink = xstrdup("dir:./remediationrequests");
    c->kubeconfig = xstrdup("");
    c->rr_api = xstrdup("remediation.kubernaut.io/v1alpha1");
    c->rr_namespace = xstrdup("");
    c->cluster_id = xstrdup("");
    c->rr_group = xstrdup("remediation.kubernaut.io");
    c->rr_version = xstrdup("v1alpha1");
    c->fallback_namespace = xstrdup("kubernaut-system");
    c->k8s_qps = 50;
    c->k8s_burst = 100;
    c->k8s_timeout_ms = 10000;
    c->k8s_max_retries = 3;
    c->serviceaccount_dir = xstrdup("/var/run/secrets/kubernetes.io/serviceaccount");
    c->allow_insecure_tls = false;
    c->dedup_ttl_ms = 5 * 60000;
    c->lease_ms = 10000;
    c->storm_enabled = true;
    c->storm_rate_threshold = 10;
    c->storm_rate_window_ms = 60000;
    c->storm_pattern_threshold = 5;
    c->storm_pattern_window_ms = 120000;
    c->storm_window_ms = 60000;
    c->storm_flag_ttl_ms = 5 * 60000;
    c->storm_update_interval_ms = 1000;
    c->storm_max_resources = 200;
    c->max_alerts = 1000;
    c->max_payload_bytes = 64 << 10;
    c->max_json_depth = 64;
    c->freshness = xstrdup("auto");
    c->freshness_tolerance_ms = 5 * 60 * 1000;     /* upstream Kubernaut's, both */
    c->freshness_clock_skew_ms = 2 * 60 * 1000;
    c->grafana_hmac_secret_file = xstrdup("");
    c->grafana_hmac_header = xstrdup("X-Grafana-Alerting-Signature");   /* Grafana's default */
    c->grafana_hmac_timestamp_header = xstrdup("");
    c->default_environment = xstrdup("unknown");
    c->default_priority = xstrdup("P2");
    c->n_priority_rules = sizeof default_rules / sizeof default_rules[0];
    c->priority_rules = xcalloc(c->n_priority_rules, sizeof *c->priority_rules);
    for (size_t i = 0; i < c->n_priority_rules; i++) {
        c->priority_rules[i].severity = dup_or_null(default_rules[i].severity);
        c->priority_rules[i].environment = dup_or_null(default_rules[i].environment);
        c->priority_rules[i].label = dup_or_null(default_rules[i].label);
        c->priority_rules[i].priority = dup_or_null(default_rules[i].priority);
    }
    c->n_ce_types = 1;
    c->ce_types = xcalloc(1, sizeof *c->ce_types);
    c->ce_types[0] = (cfg_ce_type){xstrdup("io.kubernaut.signal"),
                                   {xstrdup("name"), xstrdup("resource.kind"), xstrdup("resource.name"),
                                    xstrdup("namespace"), xstrdup("severity"), xstrdup("status"), xstrdup("labels")},
                                   {0}};
    c->log_level = LOG_INFO;
    c->pagerduty = (cfg_pagerduty){xstrdup("namespace"), xstrdup("kind"), xstrdup("name"), true, true};
    return c;
}

static void free_webhooks(config *c);

static void free_rules(config *c)
{
    for (size_t i = 0; i < c->n_priority_rules; i++) {
        free(c->priority_rules[i].severity);
        free(c->priority_rules[i].environment);
        free(c->priority_rules[i].label);
        free(c->priority_rules[i].priority);
    }
    free(c->priority_rules);
    c->priority_rules = NULL;
    c->n_priority_rules = 0;
}

static void free_ce_type(cfg_ce_type *t)
{
    free(t->type);
    for (int k = 0; k < CFG_CE_NFIELDS; k++) free(t->field[k]);
}

static void free_ce_types(config *c)
{
    for (size_t i = 0; i < c->n_ce_types; i++) free_ce_type(&c->ce_types[i]);
    free(c->ce_types);
    c->ce_types = NULL;
    c->n_ce_types = 0;
}

void config_free(config *c)
{
    if (!c) return;
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type == K_STR) free(*(char **)((char *)c + keys[i].off));
    free(c->source);
    for (size_t i = 0; i < c->n_client_cert_subjects; i++) free(c->client_cert_subjects[i]);
    free(c->client_cert_subjects);
    for (size_t i = 0; i < c->n_environments; i++) {
        free(c->environments[i].key);
        free(c->environments[i].value);
    }
    free(c->environments);
    free_rules(c);
    free_ce_types(c);
    free_webhooks(c);
    suppress_set_free(c->suppress);
    free(c);
}

int config_parse_duration_ms(const char *s, int *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0) return SGW_E_INVALID;
    double mult;
    if (*end == '\0' || strcmp(end, "s") == 0) mult = 1000;
    else if (strcmp(end, "ms") == 0) mult = 1;
    else if (strcmp(end, "m") == 0) mult = 60000;
    else if (strcmp(end, "h") == 0) mult = 3600000;
    else return SGW_E_INVALID;
    double ms = v * mult;
    if (ms > 2147483647.0) return SGW_E_INVALID;
    *out = (int)ms;
    return 0;
}

int config_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || s[0] == '-') return SGW_E_INVALID;
    unsigned long long mult = 1;
    if (*end == '\0' || strcmp(end, "B") == 0) mult = 1;
    else if (strcasecmp(end, "KiB") == 0 || strcasecmp(end, "K") == 0 || strcasecmp(end, "KB") == 0) mult = 1024;
    else if (strcasecmp(end, "MiB") == 0 || strcasecmp(end, "M") == 0 || strcasecmp(end, "MB") == 0) mult = 1024 * 1024;
    else return SGW_E_INVALID;
    if (v > (1ULL << 40) / mult) return SGW_E_INVALID;
    *out = (size_t)(v * mult);
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcmp(s, "1")) *out = true;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") || !strcmp(s, "0")) *out = false;
    else return SGW_E_INVALID;
    return 0;
}

static const key_def *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
}

int config_set(config *c, const char *name, const char *value, char *err, size_t errlen)
{
    const key_def *k = find_key(name);
    if (!k) {
        snprintf(err, errlen, "unknown configuration key '%s'", name);
        return SGW_E_INVALID;
    }
    void *field = (char *)c + k->off;
    switch (k->type) {
    case K_STR:
        free(*(char **)field);
        *(char **)field = xstrdup(value);
        return 0;
    case K_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (end == value || *end || errno || v < 0 || v > 1000000000) break;
        if (k->off == offsetof(config, max_alerts)) *(size_t *)field = (size_t)v;
        else *(int *)field = (int)v;
        return 0;
    }
    case K_DUR:
        if (config_parse_duration_ms(value, (int *)field) == 0) return 0;
        break;
    case K_SIZE:
        if (config_parse_size(value, (size_t *)field) == 0) return 0;
        break;
    case K_BOOL:
        if (parse_bool(value, (bool *)field) == 0) return 0;
        break;
    case K_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (end == value || *end || errno || v <= 0 || v > 100000) break;
        *(double *)field = v;
        return 0;
    }
    case K_AUTH:
        if (!strcmp(value, "off")) *(cfg_auth_mode *)field = AUTH_OFF;
        else if (!strcmp(value, "static")) *(cfg_auth_mode *)field = AUTH_STATIC;
        else if (!strcmp(value, "kubernetes")) *(cfg_auth_mode *)field = AUTH_KUBERNETES;
        else break;
        return 0;
    case K_LOGLEVEL: {
        int lv = log_level_parse(value);
        if (lv < 0) break;
        *(int *)field = lv;
        return 0;
    }
    }
    snprintf(err, errlen, "%s: invalid value '%s' (%s)", name, value, k->help);
    return SGW_E_INVALID;
}

/* ---- YAML ----------------------------------------------------------------------------- */

static char *scalar_dup(struct fy_node *n)
{
    size_t len = 0;
    const char *s = fy_node_get_scalar(n, &len);
    return s ? xstrndup(s, len) : NULL;
}

static void node_where(struct fy_node *n, const char *file, char *buf, size_t cap)
{
    /* only scalars carry a token with a position in libfyaml 0.7; others name the file */
    struct fy_token *t = n && fy_node_get_type(n) == FYNT_SCALAR ? fy_node_get_scalar_token(n) : NULL;
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
    if (m) snprintf(buf, cap, "%s:%d:%d", file, m->line + 1, m->column + 1);
    else snprintf(buf, cap, "%s", file);
}

static int load_environments(config *c, struct fy_node *map, const char *file, char *err, size_t errlen)
{
    char where[300];
    if (fy_node_get_type(map) != FYNT_MAPPING) {
        node_where(map, file, where, sizeof where);
        snprintf(err, errlen, "%s: environment.namespaces must be a mapping of namespace: environment", where);
        return SGW_E_INVALID;
    }
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        if (!k || !v || fy_node_get_type(k) != FYNT_SCALAR || fy_node_get_type(v) != FYNT_SCALAR) {
            node_where(v ? v : k, file, where, sizeof where);
            snprintf(err, errlen, "%s: environment.namespaces values must be strings", where);
            return SGW_E_INVALID;
        }
        c->environments = xrealloc(c->environments, (c->n_environments + 1) * sizeof *c->environments);
        c->environments[c->n_environments].key = scalar_dup(k);
        c->environments[c->n_environments].value = scalar_dup(v);
        c->n_environments++;
    }
    return 0;
}

static int load_rules(config *c, struct fy_node *seq, const char *file, char *err, size_t errlen)
{
    char where[300];
    if (fy_node_get_type(seq) != FYNT_SEQUENCE) {
        node_where(seq, file, where, sizeof where);
        snprintf(err, errlen, "%s: priority.rules must be a list", where);
        return SGW_E_INVALID;
    }
    free_rules(c);
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &it))) {
        node_where(item, file, where, sizeof where);
        if (fy_node_get_type(item) != FYNT_MAPPING) {
            snprintf(err, errlen, "%s: each priority rule is a mapping", where);
            return SGW_E_INVALID;
        }
        cfg_priority_rule r = {0};
        void *it2 = NULL;
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(item, &it2))) {
            char *k = scalar_dup(fy_node_pair_key(p));
            struct fy_node *vn = fy_node_pair_value(p);
            char *v = vn && fy_node_get_type(vn) == FYNT_SCALAR ? scalar_dup(vn) : NULL;
            char **slot = NULL;
            if (k && !strcmp(k, "severity")) slot = &r.severity;
            else if (k && !strcmp(k, "environment")) slot = &r.environment;
            else if (k && !strcmp(k, "label")) slot = &r.label;
            else if (k && !strcmp(k, "priority")) slot = &r.priority;
            if (!slot || !v) {
                snprintf(err, errlen, "%s: priority rule key '%s' (allowed: severity, environment, label, priority; string values)",
                         where, k ? k : "?");
                free(k);
                free(v);
                free(r.severity), free(r.environment), free(r.label), free(r.priority);
                return SGW_E_INVALID;
            }
            free(*slot);
            *slot = v;
            free(k);
        }
        if (!r.priority) {
            snprintf(err, errlen, "%s: priority rule without 'priority'", where);
            free(r.severity), free(r.environment), free(r.label);
            return SGW_E_INVALID;
        }
        c->priority_rules = xrealloc(c->priority_rules, (c->n_priority_rules + 1) * sizeof r);
        c->priority_rules[c->n_priority_rules++] = r;
    }
    return 0;
}

/* auth.client_cert_subjects: a list of client certificate subjects, each exactly as
 * RFC 2253 prints it ("CN=alertmanager,O=monitoring"). */
static int load_subjects(config *c, struct fy_node *seq, const char *file, char *err, size_t errlen)
{
    char where[300];
    node_where(seq, file, where, sizeof where);
    if (fy_node_get_type(seq) != FYNT_SEQUENCE) {
        snprintf(err, errlen, "%s: auth.client_cert_subjects must be a list of subjects", where);
        return SGW_E_INVALID;
    }
    void *it = NULL;
    struct fy_node *item;
    for (size_t i = 0; (item = fy_node_sequence_iterate(seq, &it)); i++) {
        node_where(item, file, where, sizeof where);
        char *v = fy_node_get_type(item) == FYNT_SCALAR ? scalar_dup(item) : NULL;
        if (!v || !*v || strlen(v) > 1024) {
            snprintf(err, errlen, "%s: auth.client_cert_subjects[%zu] must be a subject of 1..1024 characters",
                     where, i);
            free(v);
            return SGW_E_INVALID;
        }
        c->client_cert_subjects =
            xrealloc(c->client_cert_subjects, (c->n_client_cert_subjects + 1) * sizeof *c->client_cert_subjects);
        c->client_cert_subjects[c->n_client_cert_subjects++] = v;
    }
    return 0;
}

/* A data path of cloudevents.types: member names joined by '.', none empty, at most 8. */
static bool ce_path_valid(const char *p)
{
    size_t seg = 0, segs = 1;
    if (strlen(p) > 256) return false;
    for (; *p; p++) {
        if (*p == '.') {
            if (seg == 0) return false;
            seg = 0;
            segs++;
        } else {
            seg++;
        }
    }
    return seg > 0 && segs <= 8;
}

/* A CloudEvents attribute name as the spec allows it (a-z, 0-9), at most 20 characters
 * (the spec's recommendation; the adapter keeps no longer extension). */
static bool ce_ext_name_valid(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789");
    return n > 0 && n <= 20 && s[n] == '\0';
}

/* Why a fixed value (`{value: x}`) of the field `field` is refused, or NULL: a required text
 * of 1..253 bytes without control bytes; a namespace is a DNS label, a severity one of
 * critical, warning, info (a webhook's in any case), a CloudEvents status firing or resolved. */
static const char *fixed_value_refusal(const char *field, const char *v, bool ce)
{
    size_t n = strlen(v);
    if (n == 0 || n > 253) return "a fixed value is 1..253 bytes";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) return "a fixed value has no control bytes";
    if (!strcmp(field, "namespace")) {
        size_t ok = strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-");
        if (ok != n || n > 63 || v[0] == '-' || v[n - 1] == '-')
            return "a fixed namespace is a DNS label (a-z, 0-9, '-'; at most 63)";
    }
    int (*cmp)(const char *, const char *) = ce ? strcmp : strcasecmp;   /* as each adapter reads it */
    if (!strcmp(field, "severity") && cmp(v, "critical") && cmp(v, "warning") && cmp(v, "info"))
        return ce ? "a fixed severity is critical, warning or info" : "a fixed severity is critical, warning or info (any case)";
    if (ce && !strcmp(field, "status") && strcmp(v, "firing") && strcmp(v, "resolved"))
        return "a fixed status is firing or resolved";
    return NULL;
}

/* A field given as a mapping of one key instead of a path: {value: x} (*from
 * CFG_CE_FROM_VALUE) or, with ext_ok, {extension: name} (CFG_CE_FROM_EXTENSION); *out the
 * scalar (owned by the caller). NULL, or why the node is not one. */
static const char *field_form(struct fy_node *v, bool ext_ok, int *from, char **out)
{
    *out = NULL;
    if (fy_node_mapping_item_count(v) != 1)
        return ext_ok ? "must be a path, {value: <text>} or {extension: <name>}" : "must be a path or {value: <text>}";
    struct fy_node_pair *p = fy_node_mapping_get_by_index(v, 0);
    char *k = scalar_dup(fy_node_pair_key(p));
    struct fy_node *vn = fy_node_pair_value(p);
    const char *why = NULL;
    if (k && !strcmp(k, "value")) *from = CFG_CE_FROM_VALUE;
    else if (k && ext_ok && !strcmp(k, "extension")) *from = CFG_CE_FROM_EXTENSION;
    else why = ext_ok ? "must be a path, {value: <text>} or {extension: <name>}" : "must be a path or {value: <text>}";
    free(k);
    if (!why && !(vn && fy_node_get_type(vn) == FYNT_SCALAR && (*out = scalar_dup(vn))))
        why = *from == CFG_CE_FROM_VALUE ? "{value: ...} must be a string" : "{extension: ...} must be a string";
    return why;
}

const char *const config_ce_field_names[CFG_CE_NFIELDS] = {
    "name", "kind", "resource", "namespace", "severity", "status", "labels",
};

/* One key of a cloudevents.types entry into t; NULL or why it is refused. */
static const char *ce_type_key(cfg_ce_type *t, const char *k, struct fy_node *vn)
{
    if (!strcmp(k, "type")) {
        char *v = vn && fy_node_get_type(vn) == FYNT_SCALAR ? scalar_dup(vn) : NULL;
        if (!v || !*v) return free(v), "must be a non-empty string";
        free(t->type);
        t->type = v;
        return NULL;
    }
    int f = 0;
    while (f < CFG_CE_NFIELDS && strcmp(k, config_ce_field_names[f]) != 0) f++;
    if (f == CFG_CE_NFIELDS)
        return "unknown key (allowed: type, name, kind, resource, namespace, severity, status, labels)";
    int from = CFG_CE_FROM_DATA;
    char *v = NULL;
    const char *why = NULL;
    if (vn && fy_node_get_type(vn) == FYNT_MAPPING) {
        why = field_form(vn, true, &from, &v);
        if (!why && f == CFG_CE_LABELS) why = "must be a path into data (an object of strings)";
        else if (!why && from == CFG_CE_FROM_EXTENSION && !ce_ext_name_valid(v))
            why = "{extension: ...} must be an attribute name: a-z, 0-9, at most 20";
        else if (!why && from == CFG_CE_FROM_VALUE) why = fixed_value_refusal(k, v, true);
    } else {
        v = vn && fy_node_get_type(vn) == FYNT_SCALAR ? scalar_dup(vn) : NULL;
        if (!v || !*v) why = "must be a non-empty string";
        else if (!ce_path_valid(v)) why = "must be a path into data: member names joined by '.', at most 8";
    }
    if (why) return free(v), why;
    free(t->field[f]);
    t->field[f] = v;
    t->from[f] = (unsigned char)from;
    return NULL;
}

/* cloudevents.types: a list of mappings, each a type and where its fields come from;
 * replaces the built-in mapping. Every error names the entry and its key. */
static int load_ce_types(config *c, struct fy_node *seq, const char *file, char *err, size_t errlen)
{
    char where[300];
    if (fy_node_get_type(seq) != FYNT_SEQUENCE) {
        node_where(seq, file, where, sizeof where);
        snprintf(err, errlen, "%s: cloudevents.types must be a list", where);
        return SGW_E_INVALID;
    }
    free_ce_types(c);
    void *it = NULL;
    struct fy_node *item;
    for (size_t i = 0; (item = fy_node_sequence_iterate(seq, &it)); i++) {
        node_where(item, file, where, sizeof where);
        if (fy_node_get_type(item) != FYNT_MAPPING) {
            snprintf(err, errlen, "%s: cloudevents.types[%zu] must be a mapping", where, i);
            return SGW_E_INVALID;
        }
        cfg_ce_type t = {0};
        void *it2 = NULL;
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(item, &it2))) {
            char *k = scalar_dup(fy_node_pair_key(p));
            struct fy_node *vn = fy_node_pair_value(p);
            const char *why = k ? ce_type_key(&t, k, vn) : "unknown key";
            if (why) {
                node_where(vn ? vn : fy_node_pair_key(p), file, where, sizeof where);
                snprintf(err, errlen, "%s: cloudevents.types[%zu].%s %s", where, i, k ? k : "?", why);
                free(k);
                free_ce_type(&t);
                return SGW_E_INVALID;
            }
            free(k);
        }
        const char *missing = !t.type                       ? "type"
                              : !t.field[CFG_CE_NAME]       ? "name"
                              : !t.field[CFG_CE_KIND]       ? "kind"
                              : !t.field[CFG_CE_RESOURCE]   ? "resource"
                                                            : NULL;
        for (size_t j = 0; !missing && j < c->n_ce_types; j++)
            if (!strcmp(c->ce_types[j].type, t.type)) missing = "type";
        if (missing) {
            node_where(item, file, where, sizeof where);
            if (t.type && !strcmp(missing, "type"))
                snprintf(err, errlen, "%s: cloudevents.types[%zu].type '%s' is listed twice", where, i, t.type);
            else
                snprintf(err, errlen, "%s: cloudevents.types[%zu].%s is required", where, i, missing);
            free_ce_type(&t);
            return SGW_E_INVALID;
        }
        c->ce_types = xrealloc(c->ce_types, (c->n_ce_types + 1) * sizeof t);
        c->ce_types[c->n_ce_types++] = t;
    }
    return 0;
}

/* true if the file holds nothing but blank lines and comments (libfyaml rejects that) */
/* ---- webhooks: mapped JSON webhooks (docs/sources.md) ----------------------------------- */

const char *const config_webhook_field_names[CFG_WH_NFIELDS] = {
    "name", "namespace", "kind", "resource", "severity", "status",
    "starts_at", "labels", "annotations", "dedup_key",
};

static void free_webhook(cfg_webhook *w)
{
    free(w->name);
    jpath_free(&w->alerts);
    for (int k = 0; k < CFG_WH_NFIELDS; k++) jpath_free(&w->field[k]), free(w->value[k]);
    for (size_t i = 0; i < w->n_resolved; i++) free(w->resolved[i]);
    free(w->resolved);
}

static void free_webhooks(config *c)
{
    for (size_t i = 0; i < c->n_webhooks; i++) free_webhook(&c->webhooks[i]);
    free(c->webhooks);
    c->webhooks = NULL;
    c->n_webhooks = 0;
}

/* A URL-safe token: lowercase letters, digits, '-' and '_', starting and ending with a
 * letter or digit, at most 63 bytes. */
static bool webhook_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && !((ch == '-' || ch == '_') && i > 0 && i < n - 1)) return false;
    }
    return true;
}

const cfg_webhook *config_webhook_find(const config *c, const char *name)
{
    for (size_t i = 0; i < c->n_webhooks; i++)
        if (strcmp(c->webhooks[i].name, name) == 0) return &c->webhooks[i];
    return NULL;
}

/* One scalar into a path; the message names key (the dotted name of the setting). */
static int webhook_path(struct fy_node *v, const char *file, const char *key, jpath *out, char *err, size_t errlen)
{
    char where[300], msg[300];
    node_where(v, file, where, sizeof where);
    if (!v || fy_node_get_type(v) != FYNT_SCALAR)
        return snprintf(err, errlen, "%s: %s must be a path (a string)", where, key), SGW_E_INVALID;
    char *s = scalar_dup(v);
    int rc = jpath_parse(s ? s : "", out, msg, sizeof msg);
    if (rc) snprintf(err, errlen, "%s: %s: %s", where, key, msg);
    free(s);
    return rc;
}

static int webhook_fields(cfg_webhook *w, struct fy_node *map, const char *file, const char *at, char *err,
                          size_t errlen)
{
    char where[300], key[400];
    node_where(map, file, where, sizeof where);
    if (fy_node_get_type(map) != FYNT_MAPPING)
        return snprintf(err, errlen, "%s: %s.fields must be a mapping", where, at), SGW_E_INVALID;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        char *k = scalar_dup(fy_node_pair_key(p));
        int f = 0;
        while (f < CFG_WH_NFIELDS && !(k && strcmp(k, config_webhook_field_names[f]) == 0)) f++;
        snprintf(key, sizeof key, "%s.fields.%s", at, k ? k : "?");
        free(k);
        if (f == CFG_WH_NFIELDS) {
            node_where(fy_node_pair_key(p), file, where, sizeof where);
            return snprintf(err, errlen, "%s: %s: unknown key (allowed: name, namespace, kind, resource, severity, "
                                         "status, starts_at, labels, annotations, dedup_key)", where, key),
                   SGW_E_INVALID;
        }
        jpath_free(&w->field[f]);
        free(w->value[f]);
        w->value[f] = NULL;
        struct fy_node *v = fy_node_pair_value(p);
        if (v && fy_node_get_type(v) == FYNT_MAPPING) {   /* {value: x}: the same for every alert */
            int from;
            const char *why = field_form(v, false, &from, &w->value[f]);
            if (!why && (f == CFG_WH_STARTS_AT || f == CFG_WH_LABELS || f == CFG_WH_ANNOTATIONS))
                why = "a fixed value is only for name, namespace, kind, resource, severity, status, dedup_key";
            if (!why) why = fixed_value_refusal(config_webhook_field_names[f], w->value[f], false);
            if (why) {
                node_where(v, file, where, sizeof where);
                return snprintf(err, errlen, "%s: %s: %s", where, key, why), SGW_E_INVALID;
            }
            continue;
        }
        if (webhook_path(v, file, key, &w->field[f], err, errlen)) return SGW_E_INVALID;
    }
    static const cfg_webhook_field required[] = {CFG_WH_NAME, CFG_WH_KIND, CFG_WH_RESOURCE};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!w->field[required[i]].text && !w->value[required[i]])
            return snprintf(err, errlen, "%s: %s.fields.%s is required", where, at,
                            config_webhook_field_names[required[i]]), SGW_E_INVALID;
    return 0;
}

static int webhook_resolved(cfg_webhook *w, struct fy_node *v, const char *file, const char *at, char *err,
                            size_t errlen)
{
    char where[300];
    node_where(v, file, where, sizeof where);
    if (!v || fy_node_get_type(v) != FYNT_SEQUENCE)
        return snprintf(err, errlen, "%s: %s.resolved_values must be a list of strings", where, at), SGW_E_INVALID;
    for (size_t i = 0; i < w->n_resolved; i++) free(w->resolved[i]);
    w->n_resolved = 0;
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(v, &it))) {
        char *s = fy_node_get_type(item) == FYNT_SCALAR ? scalar_dup(item) : NULL;
        if (!s || !*s || strlen(s) > 63) {
            free(s);
            return snprintf(err, errlen, "%s: %s.resolved_values: each value is a string of 1..63 bytes", where, at),
                   SGW_E_INVALID;
        }
        w->resolved = xrealloc(w->resolved, (w->n_resolved + 1) * sizeof *w->resolved);
        w->resolved[w->n_resolved++] = s;
    }
    return 0;
}

/* One list item of webhooks:, into *w (zeroed by the caller, freed by it on failure). */
static int load_webhook(config *c, cfg_webhook *w, struct fy_node *item, size_t idx, const char *file, char *err,
                        size_t errlen)
{
    char where[300], at[96];
    snprintf(at, sizeof at, "webhooks[%zu]", idx);
    node_where(item, file, where, sizeof where);
    if (fy_node_get_type(item) != FYNT_MAPPING)
        return snprintf(err, errlen, "%s: %s must be a mapping", where, at), SGW_E_INVALID;
    struct fy_node *fields = NULL;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(item, &it))) {
        struct fy_node *kn = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        char *k = scalar_dup(kn);
        int rc = 0;
        node_where(v ? v : kn, file, where, sizeof where);
        if (k && !strcmp(k, "name")) {
            free(w->name);
            w->name = v && fy_node_get_type(v) == FYNT_SCALAR ? scalar_dup(v) : NULL;
            if (!w->name || !webhook_name_valid(w->name))
            {
                snprintf(err, errlen, "%s: %s.name '%s' is not a URL-safe token (a-z, 0-9, '-', '_'; 1..63; "
                                      "starts and ends with a letter or digit)", where, at, w->name ? w->name : "?");
                rc = SGW_E_INVALID;
            }
        } else if (k && !strcmp(k, "alerts")) {
            char key[128];
            snprintf(key, sizeof key, "%s.alerts", at);
            jpath_free(&w->alerts);
            rc = webhook_path(v, file, key, &w->alerts, err, errlen);
        } else if (k && !strcmp(k, "fields")) {
            fields = v;
        } else if (k && !strcmp(k, "resolved_values")) {
            rc = webhook_resolved(w, v, file, at, err, errlen);
        } else {
            node_where(kn, file, where, sizeof where);
            snprintf(err, errlen, "%s: %s.%s: unknown key (allowed: name, alerts, fields, resolved_values)", where,
                     at, k ? k : "?");
            rc = SGW_E_INVALID;
        }
        free(k);
        if (rc) return rc;
    }
    node_where(item, file, where, sizeof where);
    if (!w->name) return snprintf(err, errlen, "%s: %s.name is required", where, at), SGW_E_INVALID;
    snprintf(at, sizeof at, "webhooks[%zu] (%s)", idx, w->name);
    if (config_webhook_find(c, w->name))
        return snprintf(err, errlen, "%s: %s.name: a second webhook of this name", where, at), SGW_E_INVALID;
    if (!fields) return snprintf(err, errlen, "%s: %s.fields is required", where, at), SGW_E_INVALID;
    if (webhook_fields(w, fields, file, at, err, errlen)) return SGW_E_INVALID;
    if (w->n_resolved == 0) {
        w->resolved = xcalloc(1, sizeof *w->resolved);
        w->resolved[w->n_resolved++] = xstrdup("resolved");
    }
    return 0;
}

static int load_webhooks(config *c, struct fy_node *seq, const char *file, char *err, size_t errlen)
{
    char where[300];
    node_where(seq, file, where, sizeof where);
    if (!seq || fy_node_get_type(seq) != FYNT_SEQUENCE)
        return snprintf(err, errlen, "%s: webhooks must be a list of mappings", where), SGW_E_INVALID;
    free_webhooks(c);
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, &it))) {
        cfg_webhook w = {0};
        if (load_webhook(c, &w, item, c->n_webhooks, file, err, errlen)) {
            free_webhook(&w);
            return SGW_E_INVALID;
        }
        c->webhooks = xrealloc(c->webhooks, (c->n_webhooks + 1) * sizeof w);
        c->webhooks[c->n_webhooks++] = w;
    }
    return 0;
}

/* ---- suppress: maintenance windows and silences (src/suppress.h) ------------------------- */

/* SGW_E_INVALID, with the message in err */
__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return SGW_E_INVALID;
}

/* The scalars of a list, each handed to add(); the message names at (the key). */
static int suppress_list(struct fy_node *seq, const char *file, const char *at, void *obj,
                         int (*add)(void *obj, int field, const char *v, char *err, size_t errlen), int field,
                         char *err, size_t errlen)
{
    char where[300], msg[300];
    node_where(seq, file, where, sizeof where);
    if (!seq || fy_node_get_type(seq) != FYNT_SEQUENCE)
        return snprintf(err, errlen, "%s: %s must be a list of strings", where, at), SGW_E_INVALID;
    void *it = NULL;
    struct fy_node *item;
    for (size_t i = 0; (item = fy_node_sequence_iterate(seq, &it)); i++) {
        node_where(item, file, where, sizeof where);
        char *v = fy_node_get_type(item) == FYNT_SCALAR ? scalar_dup(item) : NULL;
        int rc = v ? add(obj, field, v, msg, sizeof msg) : SGW_E_INVALID;
        if (rc) snprintf(err, errlen, "%s: %s[%zu]: %s", where, at, i, v ? msg : "must be a string");
        free(v);
        if (rc) return rc;
    }
    return 0;
}

static int add_matchers(void *r, int field, const char *v, char *err, size_t errlen)
{
    return suppress_rule_matchers(r, v, err, errlen);
}

static int add_range(void *ti, int field, const char *v, char *err, size_t errlen)
{
    return time_interval_add(ti, (ti_field)field, v, err, errlen);
}

/* The scalar value of key k in mapping map (malloc'd), or NULL if absent or not a scalar. */
static char *map_scalar(struct fy_node *map, const char *k)
{
    struct fy_node *v = fy_node_mapping_lookup_by_string(map, k, FY_NT);
    return v && fy_node_get_type(v) == FYNT_SCALAR ? scalar_dup(v) : NULL;
}

/* One entry of time_intervals: Alertmanager's time_interval, its location a zone of set. */
static int suppress_interval(suppress_set *set, suppress_rule *r, struct fy_node *item, const char *file, const char *at, char *err,
                             size_t errlen)
{
    char where[300], key[400], msg[300];
    node_where(item, file, where, sizeof where);
    if (fy_node_get_type(item) != FYNT_MAPPING)
        return snprintf(err, errlen, "%s: %s must be a mapping", where, at), SGW_E_INVALID;
    time_interval *ti = suppress_rule_interval(r);
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(item, &it))) {
        struct fy_node *kn = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        char *k = scalar_dup(kn);
        snprintf(key, sizeof key, "%s.%s", at, k ? k : "?");
        node_where(v ? v : kn, file, where, sizeof where);
        int rc = 0, f = 0;
        while (f < TI_NFIELDS && !(k && !strcmp(k, time_interval_field_names[f]))) f++;
        if (k && !strcmp(k, "location")) {
            char *loc = v && fy_node_get_type(v) == FYNT_SCALAR ? scalar_dup(v) : NULL;
            if (!loc)
                rc = bad(err, errlen, "%s: %s must be a time zone name (such as Europe/Berlin, or UTC)", where, key);
            else if (suppress_set_zone(set, loc, &ti->zone, msg, sizeof msg))
                rc = bad(err, errlen, "%s: %s: %s", where, key, msg);
            free(loc);
        } else if (f == TI_TIMES) {
            if (!v || fy_node_get_type(v) != FYNT_SEQUENCE) {
                rc = bad(err, errlen, "%s: %s must be a list of {start_time, end_time}", where, key);
            } else {
                void *it2 = NULL;
                struct fy_node *tn;
                for (size_t i = 0; !rc && (tn = fy_node_sequence_iterate(v, &it2)); i++) {
                    node_where(tn, file, where, sizeof where);
                    char *s = NULL, *e = NULL;
                    bool ok = fy_node_get_type(tn) == FYNT_MAPPING && fy_node_mapping_item_count(tn) <= 2;
                    if (ok) s = map_scalar(tn, "start_time"), e = map_scalar(tn, "end_time");
                    if (!ok || time_interval_add_times(ti, s, e, msg, sizeof msg))
                        rc = bad(err, errlen, "%s: %s[%zu]: %s", where, key, i,
                                 ok ? msg : "must be a mapping of start_time and end_time");
                    free(s), free(e);
                }
            }
        } else if (f < TI_NFIELDS) {
            rc = suppress_list(v, file, key, ti, add_range, f, err, errlen);
        } else {
            node_where(kn, file, where, sizeof where);
            rc = bad(err, errlen, "%s: %s: unknown key (allowed: times, weekdays, days_of_month, months, years, "
                     "location)", where, key);
        }
        free(k);
        if (rc) return rc;
    }
    return 0;
}

/* One entry of suppress:, added to set. Every error names the entry and its key. */
static int suppress_entry(suppress_set *set, struct fy_node *item, size_t idx, const char *file, char *err,
                          size_t errlen)
{
    char where[300], at[128], key[300], msg[300];
    snprintf(at, sizeof at, "suppress[%zu]", idx);
    node_where(item, file, where, sizeof where);
    if (fy_node_get_type(item) != FYNT_MAPPING)
        return snprintf(err, errlen, "%s: %s must be a mapping", where, at), SGW_E_INVALID;
    char *name = map_scalar(item, "name");
    suppress_rule *r = name ? suppress_rule_add(set, name, msg, sizeof msg) : NULL;
    if (!r) {
        snprintf(err, errlen, "%s: %s.name: %s", where, at, name ? msg : "is required (a string)");
        free(name);
        return SGW_E_INVALID;
    }
    snprintf(at, sizeof at, "suppress[%zu] (%s)", idx, name);
    free(name);
    char *starts = NULL, *ends = NULL;
    int rc = 0;
    void *it = NULL;
    struct fy_node_pair *p;
    while (!rc && (p = fy_node_mapping_iterate(item, &it))) {
        struct fy_node *kn = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        char *k = scalar_dup(kn);
        snprintf(key, sizeof key, "%s.%s", at, k ? k : "?");
        node_where(v ? v : kn, file, where, sizeof where);
        bool scalar = v && fy_node_get_type(v) == FYNT_SCALAR;
        if (k && !strcmp(k, "name")) {
            /* read first, to name the entry in every message */
        } else if (k && !strcmp(k, "matchers")) {
            rc = suppress_list(v, file, key, r, add_matchers, 0, err, errlen);
        } else if (k && (!strcmp(k, "starts_at") || !strcmp(k, "ends_at")) && scalar) {
            char **slot = k[0] == 's' ? &starts : &ends;
            free(*slot);
            *slot = scalar_dup(v);
        } else if (k && !strcmp(k, "time_intervals") && v && fy_node_get_type(v) == FYNT_SEQUENCE) {
            void *it2 = NULL;
            struct fy_node *tn;
            for (size_t i = 0; !rc && (tn = fy_node_sequence_iterate(v, &it2)); i++) {
                char ti_at[340];
                snprintf(ti_at, sizeof ti_at, "%s[%zu]", key, i);
                rc = suppress_interval(set, r, tn, file, ti_at, err, errlen);
            }
        } else {
            node_where(kn, file, where, sizeof where);
            rc = bad(err, errlen, "%s: %s: unknown key or wrong type (allowed: name, matchers: a list, starts_at, "
                     "ends_at: RFC 3339 strings, time_intervals: a list)", where, key);
        }
        free(k);
    }
    node_where(item, file, where, sizeof where);
    if (!rc && (starts || ends) && suppress_rule_window(r, starts, ends, msg, sizeof msg))
        rc = bad(err, errlen, "%s: %s: %s", where, at, msg);
    if (!rc && suppress_rule_check(r, msg, sizeof msg))
        rc = bad(err, errlen, "%s: %s.%s", where, at, msg);
    free(starts), free(ends);
    return rc;
}

static int load_suppress(config *c, struct fy_node *seq, const char *file, char *err, size_t errlen)
{
    char where[300];
    node_where(seq, file, where, sizeof where);
    if (!seq || fy_node_get_type(seq) != FYNT_SEQUENCE)
        return snprintf(err, errlen, "%s: suppress must be a list of rules", where), SGW_E_INVALID;
    suppress_set_free(c->suppress);
    c->suppress = suppress_set_new();
    void *it = NULL;
    struct fy_node *item;
    for (size_t i = 0; (item = fy_node_sequence_iterate(seq, &it)); i++)
        if (suppress_entry(c->suppress, item, i, file, err, errlen)) return SGW_E_INVALID;
    return 0;
}

static bool yaml_is_empty(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[4096];
    bool empty = true;
    while (empty && fgets(line, sizeof line, f)) {
        const char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (*p && *p != '#') empty = false;
    }
    fclose(f);
    return empty;
}

static int load_yaml(config *c, const char *path, char *err, size_t errlen)
{
    int grc = yaml_guard_file(path, err, errlen);
    if (grc < 0) return grc;
    if (yaml_is_empty(path)) return 0;
    struct fy_parse_cfg pcfg = {.flags = FYPCF_DEFAULT_DOC};
    struct fy_document *doc = fy_document_build_from_file(&pcfg, path);
    if (!doc) {
        FILE *f = fopen(path, "r");
        if (!f) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return SGW_E_IO;
        }
        fclose(f);
        snprintf(err, errlen, "%s: not valid YAML (see the parser message above)", path);
        return SGW_E_INVALID;
    }
    int rc = SGW_E_INVALID;
    char where[300];
    struct fy_node *root = fy_document_root(doc);
    if (!root) {   /* empty file: defaults */
        rc = 0;
        goto out;
    }
    if (fy_node_get_type(root) != FYNT_MAPPING) {
        snprintf(err, errlen, "%s: top level must be a mapping of sections", path);
        goto out;
    }
    void *it = NULL;
    struct fy_node_pair *sp;
    while ((sp = fy_node_mapping_iterate(root, &it))) {
        struct fy_node *sk = fy_node_pair_key(sp), *sv = fy_node_pair_value(sp);
        char *section = sk ? scalar_dup(sk) : NULL;
        node_where(sv ? sv : sk, path, where, sizeof where);
        if (section && (!strcmp(section, "webhooks") || !strcmp(section, "suppress"))) {   /* the lists */
            int wr = section[0] == 'w' ? load_webhooks(c, sv, path, err, errlen)
                                       : load_suppress(c, sv, path, err, errlen);
            free(section);
            if (wr) goto out;
            continue;
        }
        if (!section || !sv || fy_node_get_type(sv) != FYNT_MAPPING) {
            snprintf(err, errlen, "%s: section '%s' must be a mapping", where, section ? section : "?");
            free(section);
            goto out;
        }
        void *it2 = NULL;
        struct fy_node_pair *kp;
        while ((kp = fy_node_mapping_iterate(sv, &it2))) {
            struct fy_node *kk = fy_node_pair_key(kp), *kv = fy_node_pair_value(kp);
            char *key = kk ? scalar_dup(kk) : NULL;
            char name[256];
            snprintf(name, sizeof name, "%s.%s", section, key ? key : "?");
            free(key);
            node_where(kv ? kv : kk, path, where, sizeof where);
            int r;
            if (!strcmp(name, "cloudevents.types") && kv) {
                r = load_ce_types(c, kv, path, err, errlen);
            } else if (!strcmp(name, "auth.client_cert_subjects") && kv) {
                r = load_subjects(c, kv, path, err, errlen);
            } else if (!strcmp(name, "environment.namespaces") && kv) {
                r = load_environments(c, kv, path, err, errlen);
            } else if (!strcmp(name, "priority.rules") && kv) {
                r = load_rules(c, kv, path, err, errlen);
            } else if (!kv || fy_node_get_type(kv) != FYNT_SCALAR) {
                snprintf(err, errlen, "%s: %s must be a scalar", where, name);
                r = SGW_E_INVALID;
            } else {
                char *val = scalar_dup(kv);
                char msg[400];
                r = config_set(c, name, val, msg, sizeof msg);
                if (r) snprintf(err, errlen, "%s: %s", where, msg);
                free(val);
            }
            if (r) {
                free(section);
                goto out;
            }
        }
        free(section);
    }
    rc = 0;
out:
    fy_document_destroy(doc);
    return rc;
}

static int load_env(config *c, char *const *envp, char *err, size_t errlen)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char var[128] = "SGW_";
        size_t n = 4;
        for (const char *p = keys[i].name; *p && n < sizeof var - 1; p++)
            var[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
        var[n] = '\0';
        for (char *const *e = envp; *e; e++) {
            if (strncmp(*e, var, n) == 0 && (*e)[n] == '=') {
                char msg[400];
                if (config_set(c, keys[i].name, *e + n + 1, msg, sizeof msg)) {
                    snprintf(err, errlen, "environment %s: %s", var, msg);
                    return SGW_E_INVALID;
                }
            }
        }
    }
    return 0;
}

config *config_load(const char *path, char *const *envp, char *err, size_t errlen)
{
    config *c = config_defaults();
    if (path && *path) {
        free(c->source);
        c->source = xstrdup(path);
        if (load_yaml(c, path, err, errlen)) goto fail;
    }
    if (load_env(c, envp ? envp : environ, err, errlen)) goto fail;
    return c;
fail:
    config_free(c);
    return NULL;
}

/* config_validate admits exactly two values, which differ in their first byte: this runs
 * per signal on the hot path */
cfg_rr_contract config_rr_contract(const config *c)
{
    return c->rr_api[0] == 'k' ? RR_CONTRACT_KUBERNAUT_AI : RR_CONTRACT_REMEDIATION;
}

bool config_valid_namespace(const char *ns)
{
    size_t n = strlen(ns);
    if (n == 0 || n > 63 || ns[0] == '-' || ns[n - 1] == '-') return false;
    for (size_t i = 0; i < n; i++)
        if (!((ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9') || ns[i] == '-')) return false;
    return true;
}

/* An environment becomes spec.environment (1..63 chars) and a label value: it must be a
 * valid Kubernetes label value and not empty. */
bool config_valid_environment(const char *e)
{
    size_t n = e ? strlen(e) : 0;
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = e[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && !((ch == '-' || ch == '_' || ch == '.') && i > 0 && i < n - 1)) return false;
    }
    return true;
}

static bool valid_priority(const char *p)
{
    return p && strlen(p) == 2 && p[0] == 'P' && p[1] >= '0' && p[1] <= '3';
}

/* A custom_details key of the pagerduty section: "" or 1..63 of [A-Za-z0-9_-] (a member
 * name, not a path). */
static bool pd_key_valid(const char *k)
{
    size_t n = strlen(k);
    return n <= 63 && strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int pagerduty_validate(const cfg_pagerduty *p, char *err, size_t errlen)
{
    static const char *const names[] = {"pagerduty.namespace_key", "pagerduty.kind_key", "pagerduty.name_key"};
    const char *v[] = {p->namespace_key, p->kind_key, p->name_key};
    for (int i = 0; i < 3; i++)
        if (!pd_key_valid(v[i]))
            return snprintf(err, errlen, "%s '%s' must be a custom_details member name: up to 63 of A-Z a-z 0-9 _ -",
                            names[i], v[i]), SGW_E_INVALID;
    if (!*p->kind_key != !*p->name_key)
        return snprintf(err, errlen, "pagerduty.kind_key and pagerduty.name_key are set together (both empty: no "
                                     "kind/name pair)"), SGW_E_INVALID;
    if (!*p->kind_key && !p->resource_keys && !p->source_target)
        return snprintf(err, errlen, "pagerduty: kind_key/name_key empty, resource_keys and source_target false: no "
                                     "event could name its target"), SGW_E_INVALID;
    return 0;
}

static int tls_validate(const config *c, char *err, size_t errlen)
{
    bool cert = *c->tls_cert_file, key = *c->tls_key_file;
    if (cert != key)
        return snprintf(err, errlen, "%s is set without %s: both or neither",
                        cert ? "server.tls_cert_file" : "server.tls_key_file",
                        cert ? "server.tls_key_file" : "server.tls_cert_file"), SGW_E_INVALID;
    if (*c->tls_client_ca_file && !cert)
        return snprintf(err, errlen, "server.tls_client_ca_file needs server.tls_cert_file and "
                                     "server.tls_key_file"), SGW_E_INVALID;
    if (c->metrics_tls && (!cert || !*c->metrics_listen))
        return snprintf(err, errlen, "server.metrics_tls needs server.tls_cert_file, server.tls_key_file and "
                                     "server.metrics_listen"), SGW_E_INVALID;
    if (c->tls_reload_interval_ms != 0 && c->tls_reload_interval_ms < 100)
        return snprintf(err, errlen, "server.tls_reload_interval must be 0 (SIGHUP only) or >= 100ms"), SGW_E_INVALID;
    if (c->n_client_cert_subjects && !*c->tls_client_ca_file)
        return snprintf(err, errlen, "auth.client_cert_subjects needs server.tls_client_ca_file (no client "
                                     "certificate is verified without it)"), SGW_E_INVALID;
    if (c->n_client_cert_subjects && c->auth_mode == AUTH_OFF)
        return snprintf(err, errlen, "auth.client_cert_subjects needs auth.mode static or kubernetes (with "
                                     "auth.mode off every request is allowed)"), SGW_E_INVALID;
    return 0;
}

int config_validate(const config *c, char *err, size_t errlen)
{
    int rc;
    if (!*c->listen) return snprintf(err, errlen, "server.listen is required"), SGW_E_INVALID;
    if (c->max_body_bytes < 1024) return snprintf(err, errlen, "server.max_body_bytes must be >= 1KiB"), SGW_E_INVALID;
    if (c->max_header_bytes < 1024) return snprintf(err, errlen, "server.max_header_bytes must be >= 1KiB"), SGW_E_INVALID;
    if (c->max_alerts < 1) return snprintf(err, errlen, "adapters.max_alerts must be >= 1"), SGW_E_INVALID;
    if (c->max_inflight < 1 || c->max_inflight_alerts < 1)
        return snprintf(err, errlen, "server.max_inflight and server.max_inflight_alerts must be >= 1"), SGW_E_INVALID;
    if (c->max_json_depth < 4 || c->max_json_depth > 1000)
        return snprintf(err, errlen, "adapters.max_json_depth must be 4..1000"), SGW_E_INVALID;
    if (strcmp(c->freshness, "auto") != 0 && strcmp(c->freshness, "on") != 0 && strcmp(c->freshness, "off") != 0)
        return snprintf(err, errlen, "adapters.freshness must be auto, on or off"), SGW_E_INVALID;
    if (c->freshness_tolerance_ms < 1000)
        return snprintf(err, errlen, "adapters.freshness_tolerance must be >= 1s"), SGW_E_INVALID;
    if (c->dedup_ttl_ms < 1000) return snprintf(err, errlen, "dedup.ttl must be >= 1s"), SGW_E_INVALID;
    if (c->lease_ms < 100) return snprintf(err, errlen, "dedup.lease must be >= 100ms"), SGW_E_INVALID;
    if (c->storm_window_ms < 1000 || c->storm_flag_ttl_ms < c->storm_window_ms)
        return snprintf(err, errlen, "storm.window must be >= 1s and storm.flag_ttl >= storm.window"), SGW_E_INVALID;
    if (c->storm_rate_window_ms < 1000 || c->storm_pattern_window_ms < 1000)
        return snprintf(err, errlen, "storm.rate_window and storm.pattern_window must be >= 1s"), SGW_E_INVALID;
    if (c->storm_max_resources < 1) return snprintf(err, errlen, "storm.max_resources must be >= 1"), SGW_E_INVALID;
    if (strcmp(c->state, "memory") != 0 && strcmp(c->state, "kubernetes") != 0 &&
        strncmp(c->state, "redis://", 8) != 0 && strncmp(c->state, "redis-sentinel://", 17) != 0)
        return snprintf(err, errlen, "state.url must be memory, kubernetes, redis://… or redis-sentinel://…"), SGW_E_INVALID;
    if (c->status_interval_ms < 0 || c->status_interval_ms > 10000)
        return snprintf(err, errlen, "state.status_interval must be 0..10s"), SGW_E_INVALID;
    if (strcmp(c->rr_api, "remediation.kubernaut.io/v1alpha1") != 0 && strcmp(c->rr_api, "kubernaut.ai/v1alpha1") != 0)
        return snprintf(err, errlen, "sink.rr_api must be remediation.kubernaut.io/v1alpha1 or kubernaut.ai/v1alpha1"), SGW_E_INVALID;
    if (*c->rr_namespace && !config_valid_namespace(c->rr_namespace))
        return snprintf(err, errlen, "sink.rr_namespace '%s' is not a namespace name", c->rr_namespace), SGW_E_INVALID;
    if (strlen(c->cluster_id) > 253)
        return snprintf(err, errlen, "sink.cluster_id is longer than 253 characters"), SGW_E_INVALID;
    if (strcmp(c->rr_api, "kubernaut.ai/v1alpha1") == 0 && strcmp(c->sink, "kubernetes") == 0 &&
        strcmp(c->state, "kubernetes") != 0)
        return snprintf(err, errlen, "sink.rr_api kubernaut.ai/v1alpha1 with the kubernetes sink needs state.url "
                                     "kubernetes: a duplicate is one while its RR is active, which only the RRs "
                                     "themselves tell"), SGW_E_INVALID;
    if (strcmp(c->state, "kubernetes") == 0 && strcmp(c->rr_api, "kubernaut.ai/v1alpha1") != 0)
        return snprintf(err, errlen, "state.url kubernetes keeps the dedup state in kubernaut.ai RRs' status: it needs "
                                     "sink.rr_api kubernaut.ai/v1alpha1"), SGW_E_INVALID;
    if (strcmp(c->state, "kubernetes") == 0 && strcmp(c->sink, "kubernetes") != 0)
        return snprintf(err, errlen, "state.url kubernetes keeps dedup state in the RRs: it needs sink.target kubernetes"), SGW_E_INVALID;
    if (strncmp(c->sink, "dir:", 4) != 0 && strcmp(c->sink, "kubernetes") != 0)
        return snprintf(err, errlen, "sink.target must be dir:PATH or kubernetes"), SGW_E_INVALID;
    if (strncmp(c->sink, "dir:", 4) == 0 && c->sink[4] == '\0')
        return snprintf(err, errlen, "sink.target dir: needs a path"), SGW_E_INVALID;
    if (*c->grafana_hmac_secret_file && !*c->grafana_hmac_header)
        return snprintf(err, errlen, "sources.grafana_hmac_secret_file needs sources.grafana_hmac_header"), SGW_E_INVALID;
    if ((rc = pagerduty_validate(&c->pagerduty, err, errlen))) return rc;
    if ((rc = tls_validate(c, err, errlen))) return rc;
    if (c->audit_required && !*c->audit_file)
        return snprintf(err, errlen, "audit.required needs audit.file (or --audit-log)"), SGW_E_INVALID;
    if (c->auth_mode == AUTH_STATIC && !*c->auth_static_file)
        return snprintf(err, errlen, "auth.mode static needs auth.static_file"), SGW_E_INVALID;
    if (!config_valid_environment(c->default_environment))
        return snprintf(err, errlen, "environment.default must be a Kubernetes label value of 1..63 characters"), SGW_E_INVALID;
    for (size_t i = 0; i < c->n_environments; i++)
        if (!config_valid_environment(c->environments[i].value))
            return snprintf(err, errlen, "environment.namespaces.%s: '%s' is not a Kubernetes label value of 1..63 characters",
                            c->environments[i].key, c->environments[i].value), SGW_E_INVALID;
    if (!valid_priority(c->default_priority))
        return snprintf(err, errlen, "priority.default must be P0..P3"), SGW_E_INVALID;
    for (size_t i = 0; i < c->n_priority_rules; i++) {
        const cfg_priority_rule *r = &c->priority_rules[i];
        if (!valid_priority(r->priority))
            return snprintf(err, errlen, "priority.rules[%zu].priority must be P0..P3", i), SGW_E_INVALID;
        if (r->severity && strcmp(r->severity, "critical") && strcmp(r->severity, "warning") &&
            strcmp(r->severity, "info"))
            return snprintf(err, errlen, "priority.rules[%zu].severity must be critical, warning or info", i), SGW_E_INVALID;
        if (r->label && !strchr(r->label, '='))
            return snprintf(err, errlen, "priority.rules[%zu].label must be key=value", i), SGW_E_INVALID;
    }
    return 0;
}

void config_dump(const config *c, char *out, size_t cap)
{
    size_t n = 0;
#define OUT(...) do { int w_ = snprintf(out + n, n < cap ? cap - n : 0, __VA_ARGS__); if (w_ > 0) n += (size_t)w_; } while (0)
    for (size_t i = 0; i < NKEYS; i++) {
        const void *f = (const char *)c + keys[i].off;
        switch (keys[i].type) {
        case K_STR: {
            const char *v = *(char *const *)f;
            const char *at = strchr(v, '@'), *scheme = strstr(v, "://");
            if (at && scheme && scheme < at)   /* never print a password from a URL */
                OUT("%s: \"%.*s***%s\"\n", keys[i].name, (int)(scheme + 3 - v), v, at);
            else
                OUT("%s: \"%s\"\n", keys[i].name, v);
            break;
        }
        case K_INT:
            if (keys[i].off == offsetof(config, max_alerts)) OUT("%s: %zu\n", keys[i].name, *(const size_t *)f);
            else OUT("%s: %d\n", keys[i].name, *(const int *)f);
            break;
        case K_DUR: OUT("%s: %dms\n", keys[i].name, *(const int *)f); break;
        case K_SIZE: OUT("%s: %zu\n", keys[i].name, *(const size_t *)f); break;
        case K_BOOL: OUT("%s: %s\n", keys[i].name, *(const bool *)f ? "true" : "false"); break;
        case K_DOUBLE: OUT("%s: %g\n", keys[i].name, *(const double *)f); break;
        case K_AUTH: {
            static const char *m[] = {"off", "static", "kubernetes"};
            OUT("%s: %s\n", keys[i].name, m[*(const cfg_auth_mode *)f]);
            break;
        }
        case K_LOGLEVEL: {
            static const char *m[] = {"debug", "info", "warn", "error"};
            OUT("%s: %s\n", keys[i].name, m[*(const int *)f & 3]);
            break;
        }
        }
    }
    for (size_t i = 0; i < c->n_client_cert_subjects; i++)
        OUT("auth.client_cert_subjects[%zu]: \"%s\"\n", i, c->client_cert_subjects[i]);
    for (size_t i = 0; i < c->n_environments; i++)
        OUT("environment.namespaces.%s: \"%s\"\n", c->environments[i].key, c->environments[i].value);
    for (size_t i = 0; i < c->n_priority_rules; i++) {
        const cfg_priority_rule *r = &c->priority_rules[i];
        OUT("priority.rules[%zu]: severity=%s environment=%s label=%s -> %s\n", i, r->severity ? r->severity : "*",
            r->environment ? r->environment : "*", r->label ? r->label : "*", r->priority);
    }
    for (size_t i = 0; i < c->n_webhooks; i++) {
        const cfg_webhook *w = &c->webhooks[i];
        OUT("webhooks[%zu]: name=%s alerts=%s", i, w->name, w->alerts.text ? w->alerts.text : "(the body)");
        for (int k = 0; k < CFG_WH_NFIELDS; k++)
            if (w->field[k].text) OUT(" %s=%s", config_webhook_field_names[k], w->field[k].text);
            else if (w->value[k]) OUT(" %s={value: %s}", config_webhook_field_names[k], w->value[k]);
        OUT(" resolved_values=");
        for (size_t j = 0; j < w->n_resolved; j++) OUT("%s%s", j ? "," : "", w->resolved[j]);
        OUT("\n");
    }
    for (size_t i = 0; c->suppress && i < c->suppress->n; i++) {
        const suppress_rule *r = &c->suppress->r[i];
        OUT("suppress[%zu]: name=%s matchers=", i, r->name);
        for (size_t j = 0; j < r->n_written; j++) OUT("%s%s", j ? " ; " : "", r->written[j]);
        if (r->has_window) {
            char a[32], b[32];
            time_format_rfc3339(r->starts_ms, a);
            time_format_rfc3339(r->ends_ms, b);
            OUT(" window=%s..%s\n", a, b);
        } else {
            OUT(" time_intervals=%zu (", r->n_iv);
            for (size_t k = 0; k < r->n_iv; k++) OUT("%s%s", k ? " " : "", r->iv[k].zone ? tz_name(r->iv[k].zone) : "UTC");
            OUT(")\n");
        }
    }
#undef OUT
}
