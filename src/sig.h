/* sig.h: the normalised signal every adapter produces (spec section 3), its fingerprint
 * and its validation. All strings are borrowed from the request arena. */
#ifndef SGW_SIG_H
#define SGW_SIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

typedef struct sig_kv {
    const char *key;
    const char *value;
} sig_kv;

typedef struct sig_map {          /* sorted by key, keys unique */
    sig_kv *items;
    size_t  n;
} sig_map;

typedef enum { SIG_FIRING = 0, SIG_RESOLVED = 1 } sig_status;
typedef enum { SEV_CRITICAL = 0, SEV_WARNING = 1, SEV_INFO = 2 } sig_severity;

typedef struct sig_signal {
    char         fingerprint[65];      /* hex SHA-256 of "name:namespace:kind:name" */
    char         am_fingerprint[17];   /* Alertmanager's FNV-1a 64 (given or recomputed); "" for events */
    const char  *name;                 /* alertname / event reason */
    sig_severity severity;
    const char  *namespace;            /* "" = cluster-scoped */
    const char  *kind;                 /* target resource */
    const char  *res_name;
    const char  *res_namespace;
    const char  *res_api_version;      /* the target's "group/version" when known, else NULL */
    const char  *cluster_id;           /* kubernaut.ai: its "cluster" label, else NULL (config's) */
    sig_map      labels;
    sig_map      annotations;
    int64_t      firing_ms;            /* startsAt / firstTimestamp; 0 = absent */
    int64_t      received_ms;
    int64_t      ends_ms;              /* 0 = absent */
    sig_status   status;
    const char  *signal_type;          /* "prometheus-alert" | "kubernetes-event" */
    const char  *source;               /* adapter name */
    const char  *payload;              /* this alert's original JSON, may be NULL ... */
    size_t       payload_len;
    const struct cJSON *payload_json;  /* ... or its parsed form (in the request arena), printed
                                        * only when an RR is made: see sig_payload_dup */
    bool         ignored;              /* e.g. a Normal event: answered 202 "ignored" */
    bool         rejected;             /* ignored, and answered "rejected": an invalid event of a batch */
    const char  *ignore_reason;
} sig_signal;

/* The alert's original JSON as a malloc'd, NUL-terminated string of at most max bytes
 * (*len set), or NULL if there is none or it is longer. A webhook's alerts are kept parsed
 * and printed here, when an RR needs them: a duplicate never pays for it. */
char *sig_payload_dup(const sig_signal *s, size_t max, size_t *len);

const char *sig_severity_str(sig_severity s);
const char *sig_status_str(sig_status s);

/* Maps a severity label to the enum: exact lowercase critical|warning|info, else warning. */
sig_severity sig_severity_parse(const char *s);

/* Fills s->fingerprint from name, namespace, kind and res_name. */
void sig_fingerprint(sig_signal *s);

/* kubernaut.ai: fills s->fingerprint as upstream Kubernaut does, from the target alone:
 * SHA-256 hex of "cluster:namespace:Kind:name", without "cluster:" when cluster is empty. */
void sig_fingerprint_target(sig_signal *s, const char *cluster);

/* Alertmanager / Prometheus label-set fingerprint (FNV-1a 64 over sorted name/value pairs,
 * each followed by 0xff), as 16 lowercase hex digits. */
void sig_am_fingerprint(const sig_map *labels, char out[17]);

/* "namespace:Kind:name", or "Kind:name" when cluster-scoped; arena-allocated. */
const char *sig_resource_id(const sig_signal *s, arena *a);

/* true if ns is a Kubernetes namespace name (RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?,
 * at most 63). Anything else (e.g. "..", "a/b") is never used as a namespace or a path. */
bool sig_namespace_valid(const char *ns);

/* Looks a key up in a sorted map; NULL if absent. */
const char *sig_map_get(const sig_map *m, const char *key);

/* Sorts m by key; on duplicate keys the LAST occurrence wins (JSON object semantics). */
void sig_map_sort_dedup(sig_map *m);

#endif
