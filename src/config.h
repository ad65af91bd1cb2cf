/* config.h: one immutable configuration, from built-in defaults ← YAML file (--config) ←
 * environment (SGW_<SECTION>_<KEY>) ← command-line flags. A reload (SIGHUP) builds a new
 * struct and swaps the pointer; the old one stays valid (it is retired, never freed while
 * the process runs, so a request may keep reading the config it started with). */
#ifndef SGW_CONFIG_H
#define SGW_CONFIG_H
#include <stdbool.h>
#include <stddef.h>

#include "util/jpath.h"

typedef enum { AUTH_OFF = 0, AUTH_STATIC, AUTH_KUBERNETES } cfg_auth_mode;

/* Which RemediationRequest contract the gateway speaks (docs/contracts.md). */
typedef enum {
    RR_CONTRACT_REMEDIATION = 0,   /* remediation.kubernaut.io/v1alpha1: the design (spec/gateway.md) */
    RR_CONTRACT_KUBERNAUT_AI,      /* kubernaut.ai/v1alpha1: upstream Kubernaut v1.x */
} cfg_rr_contract;

typedef struct cfg_kv {
    char *key;
    char *value;
} cfg_kv;

/* One mapped JSON webhook (`webhooks:`, docs/sources.md): where its alerts are and, within
 * an alert, the path of each field. Required: name, kind, resource. */
typedef enum {
    CFG_WH_NAME, CFG_WH_NAMESPACE, CFG_WH_KIND, CFG_WH_RESOURCE, CFG_WH_SEVERITY, CFG_WH_STATUS,
    CFG_WH_STARTS_AT, CFG_WH_LABELS, CFG_WH_ANNOTATIONS, CFG_WH_DEDUP_KEY, CFG_WH_NFIELDS
} cfg_webhook_field;

typedef struct cfg_webhook {
    char   *name;                       /* the URL's <name>: [a-z0-9]([-a-z0-9_]*[a-z0-9])?, at most 63 */
    jpath   alerts;                     /* the list of alerts; unset: the body is one alert */
    jpath   field[CFG_WH_NFIELDS];      /* unset: not mapped (or a fixed value) */
    char   *value[CFG_WH_NFIELDS];      /* a fixed value ({value: x}) instead of a path; NULL: none */
    char  **resolved;                   /* status values that mean resolved (ASCII case-insensitive) */
    size_t  n_resolved;
} cfg_webhook;

/* The YAML key of each field under a webhook's `fields:` (config_webhook_field_names[k]). */
extern const char *const config_webhook_field_names[CFG_WH_NFIELDS];

/* One priority rule: every non-NULL condition must match; first matching rule wins. */
typedef struct cfg_priority_rule {
    char *severity;        /* critical|warning|info, or NULL = any */
    char *environment;     /* or NULL = any */
    char *label;           /* "key=value" on the signal's labels, or NULL */
    char *priority;        /* P0..P3 */
} cfg_priority_rule;

/* cloudevents.types: a CloudEvents type that is a signal, and where each field of its
 * signal comes from (docs/sources.md): a dotted member path into the event's data, an
 * extension attribute ({extension: name}) or a fixed value ({value: x}). Required: name,
 * kind, resource; labels only from data. */
typedef enum {
    CFG_CE_NAME, CFG_CE_KIND, CFG_CE_RESOURCE, CFG_CE_NAMESPACE, CFG_CE_SEVERITY, CFG_CE_STATUS, CFG_CE_LABELS,
    CFG_CE_NFIELDS
} cfg_ce_field;

typedef enum { CFG_CE_FROM_DATA = 0, CFG_CE_FROM_EXTENSION, CFG_CE_FROM_VALUE } cfg_ce_from;

typedef struct cfg_ce_type {
    char         *type;                          /* required */
    char         *field[CFG_CE_NFIELDS];         /* the path, extension name or value; NULL = not mapped */
    unsigned char from[CFG_CE_NFIELDS];          /* cfg_ce_from */
} cfg_ce_type;

/* The YAML key of each field of a cloudevents.types entry (config_ce_field_names[k]). */
extern const char *const config_ce_field_names[CFG_CE_NFIELDS];

/* pagerduty: the custom_details keys of the target (namespace_key "" = none; kind_key and
 * name_key both "" = no kind/name pair), whether the pod/deployment/... keys are read, and
 * whether payload.source is read as namespace/kind/name. */
typedef struct cfg_pagerduty {
    char *namespace_key;
    char *kind_key;
    char *name_key;
    bool  resource_keys;
    bool  source_target;
} cfg_pagerduty;

typedef struct config {
    char  *source;                     /* file it came from, or "" */
    /* server */
    char  *listen;                     /* "127.0.0.1:8080" */
    char  *metrics_listen;             /* "" = /metrics on the main listener only */
    char  *tls_cert_file;              /* "" = plain HTTP */
    char  *tls_key_file;
    char  *tls_client_ca_file;         /* "" = no client certificates asked for */
    int    tls_reload_interval_ms;     /* files checked for a rotation; 0 = on SIGHUP only */
    bool   metrics_tls;                /* the metrics listener over TLS too (no client certificate) */
    int    workers;                    /* event-loop threads; 0 = number of CPUs */
    size_t max_body_bytes;
    size_t max_header_bytes;
    int    max_connections;
    int    max_inflight;               /* requests being processed, per process → 503 */
    int    max_inflight_alerts;        /* signals (alerts) in those requests, per process → 503 */
    int    header_timeout_ms;
    int    request_timeout_ms;
    int    idle_timeout_ms;
    int    write_timeout_ms;
    int    drain_timeout_ms;
    int    processing_timeout_ms;      /* a request still undecided after this → 503 */
    int    retry_after_s;              /* Retry-After on 503 */
    /* auth */
    cfg_auth_mode auth_mode;
    char  *auth_static_file;
    int    auth_allow_ttl_ms;
    int    auth_deny_ttl_ms;
    char  *auth_resource_group;
    char  *auth_resource;
    char  *auth_verb;
    char **client_cert_subjects;       /* auth.client_cert_subjects: RFC 2253 subjects allowed */
    size_t n_client_cert_subjects;
    /* audit trail (src/audit.h) */
    char  *audit_file;                 /* "" = none, "-" = standard output */
    bool   audit_required;             /* a line not written turns the answer into a 503 */
    /* state */
    char  *state;                      /* "memory" | "kubernetes" | redis://… | redis-sentinel://… */
    char  *state_prefix;
    int    state_timeout_ms;           /* Redis command timeout */
    int    status_interval_ms;         /* state kubernetes: one status write per RR per interval */
    /* sink */
    char  *sink;                       /* "dir:PATH" | "kubernetes" */
    char  *kubeconfig;
    char  *rr_api;                     /* the RR contract: "group/version" (config_rr_contract) */
    char  *rr_group;                   /* the remediation.kubernaut.io contract's group/version */
    char  *rr_version;
    char  *rr_namespace;               /* kubernaut.ai RRs live here; "" = the gateway's namespace */
    char  *cluster_id;                 /* spec.clusterID and part of the kubernaut.ai fingerprint */
    char  *fallback_namespace;
    double k8s_qps;                    /* client-side rate limit to the API server */
    int    k8s_burst;
    int    k8s_timeout_ms;             /* per API call attempt */
    int    k8s_max_retries;
    char  *serviceaccount_dir;         /* in-cluster token, ca.crt, namespace */
    bool   allow_insecure_tls;         /* honour insecure-skip-tls-verify (loud) */
    /* dedup */
    int    dedup_ttl_ms;
    int    lease_ms;
    /* storm */
    bool   storm_enabled;
    int    storm_rate_threshold;
    int    storm_rate_window_ms;
    int    storm_pattern_threshold;
    int    storm_pattern_window_ms;
    int    storm_window_ms;
    int    storm_flag_ttl_ms;
    int    storm_update_interval_ms;
    int    storm_max_resources;
    /* adapters */
    size_t max_alerts;
    size_t max_payload_bytes;
    int    max_json_depth;
    char  *freshness;                  /* "auto" | "on" | "off" (src/freshness.h) */
    int    freshness_tolerance_ms;     /* oldest X-Timestamp / Event time accepted */
    int    freshness_clock_skew_ms;    /* latest time accepted: now + this */
    /* sources: Grafana's webhook signature (src/signature.h) */
    char  *grafana_hmac_secret_file;   /* "" = not checked */
    char  *grafana_hmac_header;
    char  *grafana_hmac_timestamp_header;   /* "" = the signature covers the body alone */
    /* environment classification: namespace → environment */
    cfg_kv *environments;
    size_t  n_environments;
    char   *default_environment;
    /* priority */
    cfg_priority_rule *priority_rules;
    size_t             n_priority_rules;
    char              *default_priority;
    /* cloudevents.types (replaces the built-in io.kubernaut.signal mapping) */
    cfg_ce_type       *ce_types;
    size_t             n_ce_types;
    /* logging */
    int    log_level;
    /* mapped JSON webhooks (webhooks:) */
    cfg_webhook *webhooks;
    size_t       n_webhooks;
    /* pagerduty: where an event names its Kubernetes target (docs/sources.md) */
    cfg_pagerduty pagerduty;
    /* suppress: maintenance windows and silences, compiled (src/suppress.h); NULL = none */
    struct suppress_set *suppress;
} config;

/* Built-in defaults (the embedded mode of spec section 9). */
config *config_defaults(void);

/* Loads path (NULL = none) over the defaults, then the environment (envp-style array, NULL
 * = environ). Returns NULL with a message in err (file:line:column where known). */
config *config_load(const char *path, char *const *envp, char *err, size_t errlen);

/* Sets one key by its dotted name ("dedup.ttl"); used for flags and env. Returns 0, or
 * SGW_E_INVALID with a message in err (an unknown key or a value it does not take). */
int config_set(config *c, const char *key, const char *value, char *err, size_t errlen);

/* Checks cross-field rules; 0, or SGW_E_INVALID with a message in err. */
int config_validate(const config *c, char *err, size_t errlen);

void config_free(config *c);

/* The mapped webhook named name, or NULL. Borrowed from c. */
const cfg_webhook *config_webhook_find(const config *c, const char *name);

/* true if e can be an environment: a non-empty Kubernetes label value (≤ 63 chars). */
bool config_valid_environment(const char *e);

/* The RR contract named by sink.rr_api (validated by config_validate). */
cfg_rr_contract config_rr_contract(const config *c);

/* true if ns is a Kubernetes namespace name (RFC 1123 label, at most 63). */
bool config_valid_namespace(const char *ns);

/* Duration "250ms", "30s", "5m", "1h" → ms; size "1MiB", "512KiB", "1048576" → bytes.
 * Each returns 0, or SGW_E_INVALID when s is not one (out is then untouched). */
int config_parse_duration_ms(const char *s, int *out);
int config_parse_size(const char *s, size_t *out);

/* Writes the effective configuration as YAML-compatible "key: value" lines (no secrets). */
void config_dump(const config *c, char *out, size_t cap);

#endif
