/* adapter.h: bytes → normalised signals. Adapters do no I/O; everything they return lives
 * in the caller's arena. One webhook may carry many alerts: all are returned, in order. */
#ifndef SGW_ADAPTER_H
#define SGW_ADAPTER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sig.h"
#include "util/arena.h"

typedef struct adapter_limits {
    size_t max_alerts;            /* alerts per webhook; more → ADAPTER_E_TOO_MANY */
    size_t max_payload_bytes;     /* per-alert originalPayload kept; longer is omitted */
    int    max_depth;             /* JSON nesting depth */
    /* Freshness (set per request by src/freshness.c; no check when fresh is false): a time
     * a body carries (alerts' startsAt, an Event's last/first/eventTime) later than
     * now + max_skew_ms is ADAPTER_E_FUTURE; an Event's older than now - max_age_ms is
     * ADAPTER_E_STALE. Alerts' age is not checked: Alertmanager re-sends a long-firing
     * alert with its original startsAt. */
    bool    fresh;
    int64_t max_age_ms;
    int64_t max_skew_ms;
} adapter_limits;

/* What an adapter found wrong with a body. The pipeline maps each kind to its answer in one
 * table (pipeline_reject_status, pipeline_reject_code); adapters know nothing of HTTP. These
 * are the documented exception to util/err.h's codes (docs/conventions.md, Errors): the
 * caller must tell these failures apart. */
typedef enum {
    ADAPTER_OK = 0,
    ADAPTER_E_JSON = -1,          /* malformed JSON */
    ADAPTER_E_UTF8 = -2,          /* body is not valid UTF-8 */
    ADAPTER_E_MISSING = -3,       /* required field absent */
    ADAPTER_E_TYPE = -4,          /* field of the wrong type / bad value */
    ADAPTER_E_VERSION = -5,       /* unknown webhook payload version */
    ADAPTER_E_EMPTY = -6,         /* alerts[] empty */
    ADAPTER_E_TOO_MANY = -7,      /* more than max_alerts */
    ADAPTER_E_DEPTH = -8,         /* nesting deeper than max_depth */
    ADAPTER_E_STALE = -9,         /* a timestamp older than the freshness tolerance (a replay?) */
    ADAPTER_E_FUTURE = -10,       /* a timestamp later than now + the clock skew tolerance */
    ADAPTER_E_MEDIA_TYPE = -11,   /* a content type the source does not read */
} adapter_status;

typedef struct adapter_error {
    adapter_status status;
    char           message[256];  /* for the operator: names the field, e.g. "alerts[3].labels.pod: expected string" */
    /* Not an error: alerts the sender says it left out of the body (Grafana's
     * truncatedAlerts), set on success; 0 for every other source. */
    int64_t        truncated;
} adapter_error;

/* Alertmanager webhook v4. On success returns 0, *out = array of *n signals (arena). */
int adapter_prometheus_parse(const char *body, size_t len, int64_t now_ms,
                             const adapter_limits *lim, arena *a,
                             sig_signal **out, size_t *n, adapter_error *err);

/* Grafana Alerting's webhook contact point (payload version "1": Alertmanager's v4 shape
 * plus orgId, state, title, message, truncatedAlerts and per alert values, valueString and
 * URLs). As adapter_prometheus_parse; err->truncated = truncatedAlerts on success. */
int adapter_grafana_parse(const char *body, size_t len, int64_t now_ms,
                          const adapter_limits *lim, arena *a,
                          sig_signal **out, size_t *n, adapter_error *err);

/* One core/v1 Event. On success returns 0 and one signal (possibly ignored: Normal). */
int adapter_k8s_event_parse(const char *body, size_t len, int64_t now_ms,
                            const adapter_limits *lim, arena *a,
                            sig_signal **out, size_t *n, adapter_error *err);

/* What a source reads besides the body (sources.h: parse_req): the content type and
 * CloudEvents binary mode's ce-* headers (NULL if absent; percent-encoded as sent), and the
 * configured CloudEvents types. All borrowed for the call. */
struct cfg_ce_type;
typedef struct adapter_input {
    const char *content_type;
    const char *ce_specversion, *ce_id, *ce_source, *ce_type, *ce_subject, *ce_time, *ce_dataschema;
    const struct cfg_ce_type *ce_types;
    size_t      n_ce_types;
    size_t      unknown_types;    /* out: events of a type no entry maps (ignored) */
    size_t      invalid_events;   /* out: events of a batch rejected on their own */
    const char *request_id;       /* PagerDuty: seeds a generated dedup_key */
    bool        resolve_ignored;  /* PagerDuty: kubernaut.ai/v1alpha1 records no resolution */
    const struct cfg_pagerduty *pd;   /* PagerDuty: the target mapping (NULL: the defaults) */
    /* CloudEvents binary mode's other ce-* headers (extension attributes: key the name after
     * "ce-" in lowercase, value percent-encoded as sent), and how many more the HTTP layer
     * did not keep. */
    const sig_kv *ce_ext;
    size_t      n_ce_ext, ce_ext_over;
    size_t      ce_ext_dropped;   /* out: extension attributes of accepted events not kept */
} adapter_input;

/* CloudEvents 1.0 over HTTP: binary, structured or batch mode, by in->content_type. Every
 * event becomes a signal: of a mapped type, read from its data; of another type, ignored
 * ("unknown_type"); an invalid event of a batch that has a valid one, rejected (sig
 * rejected, its reason in ignore_reason). A single invalid event, or a batch with no valid
 * one, is the error. On success returns 0, *out = array of *n signals (arena). */
int adapter_cloudevents_parse(adapter_input *in, const char *body, size_t len, int64_t now_ms,
                              const adapter_limits *lim, arena *a, sig_signal **out, size_t *n,
                              adapter_error *err);

/* Any JSON webhook, read by the mapping m (config `webhooks:`, borrowed; docs/sources.md):
 * one signal per alert of the list m->alerts names, or the body as one alert. A required
 * field missing is ADAPTER_E_MISSING, a value of the wrong type (an object or an array where
 * a string is needed) ADAPTER_E_TYPE, each naming the path. As adapter_prometheus_parse. */
struct cfg_webhook;
int adapter_mapped_parse(const struct cfg_webhook *m, const char *body, size_t len, int64_t now_ms,
                         const adapter_limits *lim, arena *a, sig_signal **out, size_t *n, adapter_error *err);
/* PagerDuty Events API v2: one event (trigger, acknowledge, resolve). Every fault of the
 * event is reported: err->message holds them one a line ('\n'), PagerDuty's "errors" list.
 * A trigger without dedup_key gets one (32 hex digits from in->request_id and the body),
 * kept in the signal's annotation pagerduty.com/dedup-key; an acknowledge is ignored. */
int adapter_pagerduty_parse(adapter_input *in, const char *body, size_t len, int64_t now_ms,
                            const adapter_limits *lim, arena *a, sig_signal **out, size_t *n,
                            adapter_error *err);

/* PagerDuty Change Events (/v2/change/enqueue): routing_key, payload.summary (required),
 * payload.source, payload.timestamp checked as adapter_pagerduty_parse checks them; on
 * success one signal, ignored (a change is not an alert; docs/sources.md), named by the
 * summary, that the pipeline counts and logs and records nowhere. */
int adapter_pagerduty_change_parse(adapter_input *in, const char *body, size_t len, int64_t now_ms,
                                   const adapter_limits *lim, arena *a, sig_signal **out, size_t *n,
                                   adapter_error *err);

/* The freshness window of lim for the time t_ms (ms since the epoch) of `field`: 0 if t_ms
 * is at most now_ms + lim->max_skew_ms and, with check_age, at least now_ms - lim->max_age_ms
 * (both edges accepted); else ADAPTER_E_FUTURE or ADAPTER_E_STALE with a message naming
 * field, its value (`shown`, or t_ms in RFC 3339 when shown is NULL; borrowed) and the
 * tolerance's configuration key. Pure: now_ms is the caller's. */
int adapter_check_freshness(const char *field, const char *shown, int64_t t_ms, int64_t now_ms,
                            const adapter_limits *lim, bool check_age, adapter_error *err);

/* Checks a normalised signal (spec 3/4.4); 0 or ADAPTER_E_MISSING/ADAPTER_E_TYPE with message. */
int sig_validate(const sig_signal *s, adapter_error *err);

#endif
