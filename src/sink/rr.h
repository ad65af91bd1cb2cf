/* rr.h: builds the RemediationRequest object of spec section 6 (as JSON, which is also
 * valid YAML and what both sinks send or write). Pure: no I/O. */
#ifndef SGW_RR_H
#define SGW_RR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sig.h"

/* The annotation that names the trace of the request that created the RR (W3C trace id,
 * 32 hex digits): both contracts. */
#define RR_TRACE_ANNOTATION "signal-gateway.io/trace-id"

typedef struct rr_spec {
    const sig_signal *sig;        /* the signal (for a storm RR: the one that opened it) */
    int          contract;        /* cfg_rr_contract: which object to build */
    const char  *name;            /* the store's name for it (kubernaut.ai); NULL = rr_name */
    const char  *rr_namespace;    /* kubernaut.ai: every RR's namespace */
    const char  *cluster_id;      /* kubernaut.ai: spec.clusterID ("" = the local cluster) */
    int64_t      sequence;        /* kubernaut.ai: the fingerprint's RR number (annotation) */
    const char  *group, *version; /* remediation.kubernaut.io / v1alpha1 */
    const char  *environment;
    const char  *priority;
    const char  *fallback_namespace;
    const void  *cfg;             /* the request's config (const config *): the Kubernetes
                                   * sink re-classifies environment and priority with it */
    int64_t      now_ms;
    size_t       max_payload_bytes;
    const char  *trace_id;        /* the creating request's W3C trace id (annotation), or NULL */
    /* storm RR */
    bool         is_storm;
    const char  *storm_type;
    const char  *storm_window;    /* window id */
    char         storm_hash[65];
    int64_t      storm_count;
    const char **resources;
    size_t       n_resources;
} rr_spec;

/* The RR's name: "rr-<16 hex of the fingerprint>" or "rr-storm-<16 hex of the storm hash>". */
void rr_name(const rr_spec *s, char out[64]);

/* The namespace the RR goes to: the signal's, or the fallback when it has none or
 * force_fallback (the signal's namespace does not exist). */
const char *rr_namespace(const rr_spec *s, bool force_fallback);

/* Returns the object as malloc'd JSON text (pretty when pretty), and its namespace/name. */
char *rr_build_json(const rr_spec *s, bool force_fallback, bool pretty, char ns_out[254], char name_out[64]);

/* The kubernaut.ai/v1alpha1 object (upstream Kubernaut's CRD, docs/contracts.md): the RR
 * goes to s->rr_namespace under s->name; no storm fields, no dedup in the spec. Same
 * return convention as rr_build_json. */
char *rr_kai_build_json(const rr_spec *s, bool pretty, char ns_out[254], char name_out[64]);

/* kubernaut.ai RR name: "rr-<first 12 hex of the fingerprint>-<8 hex>", upstream's form,
 * where the 8 hex digits are SHA-256("<fingerprint>:<sequence>")'s first: every replica
 * names the fingerprint's n-th RR alike, so the create itself is the lock. */
void rr_kai_name(const char *fingerprint, int64_t sequence, char out[64]);

/* Shared by the two contracts' builders (cJSON objects): an RFC 3339 time under key, and
 * a label map with each value cut at a UTF-8 boundary to max_value bytes (0 = whole). */
struct cJSON;
void rr_add_time(struct cJSON *o, const char *key, int64_t ms);
struct cJSON *rr_map_json(const sig_map *m, size_t max_value);

/* Makes value a valid Kubernetes label value (<= 63, [A-Za-z0-9._-], alphanumeric at both
 * ends), replacing invalid characters with '_' and trimming; writes to out (64 bytes). */
void rr_label_value(const char *value, char out[64]);

/* Base64 (standard alphabet, padded) of data; malloc'd. */
char *rr_base64(const void *data, size_t len);

#endif
