/* k8s_event.c: one core/v1 Event → one normalised signal. Warning and Error events become
 * signals; Normal events are normalised too but marked ignored (answered 202 "ignored").
 * Checks run in upstream's order so the first error a client sees is the same. */
#include "adapters/adapter.h"
#include "adapters/json_util.h"
#include "util/utf8.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/timeutil.h"

/* Reasons that are critical whatever the event type (upstream 4.3). */
static const char *const critical_reasons[] = {
    "OOMKilled", "NodeNotReady", "FailedScheduling", "Evicted", "FailedMount", "NetworkNotReady",
};

static bool critical_reason(const char *reason)
{
    for (size_t i = 0; i < sizeof critical_reasons / sizeof critical_reasons[0]; i++)
        if (strcmp(reason, critical_reasons[i]) == 0) return true;
    return false;
}

static const char *ascii_lower(arena *a, const char *s)
{
    char *d = arena_strdup(a, s);
    for (char *p = d; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    return d;
}

/* A required non-empty string member: absent, null or "" → ADAPTER_E_MISSING. */
static int required_string(const cJSON *obj, const char *name, const char *path, const char **out,
                           adapter_error *err)
{
    int rc = ajson_opt_string(obj, name, path, out, err);
    if (rc) return rc;
    if (!*out || !**out) {
        char f[64];
        return ajson_fail(err, ADAPTER_E_MISSING, "%s is required", ajson_field(f, sizeof f, path, name));
    }
    return ADAPTER_OK;
}

static int optional_object(const cJSON *obj, const char *name, const cJSON **out, adapter_error *err)
{
    *out = ajson_get(obj, name);
    if (*out && !cJSON_IsObject(*out)) return ajson_fail(err, ADAPTER_E_TYPE, "%s: expected an object", name);
    return ADAPTER_OK;
}

static void add(sig_map *m, const char *key, const char *value)
{
    m->items[m->n].key = key;
    m->items[m->n].value = value;
    m->n++;
}

static const char *rfc3339(arena *a, int64_t ms)
{
    char buf[32];
    time_format_rfc3339(ms, buf);
    return arena_strdup(a, buf);
}

/* Upstream Kubernaut's body check of an Event (pkg/gateway/middleware/event_freshness.go):
 * its most recent time, lastTimestamp, else firstTimestamp, must be within the freshness
 * tolerance of now and not beyond the clock skew tolerance ahead. Upstream stops there and
 * refuses an Event with neither, which is every Event written through events.k8s.io/v1:
 * for those we take the same two in that API's terms, series.lastObservedTime (a recurring
 * Event's latest), else eventTime. */
static int check_freshness(const cJSON *root, int64_t first, int64_t last, int64_t event_time, int64_t now_ms,
                           const adapter_limits *lim, adapter_error *err)
{
    if (last) return adapter_check_freshness("lastTimestamp", NULL, last, now_ms, lim, true, err);
    if (first) return adapter_check_freshness("firstTimestamp", NULL, first, now_ms, lim, true, err);
    const cJSON *series;
    int64_t observed;
    int rc;
    if ((rc = optional_object(root, "series", &series, err))) return rc;
    if ((rc = ajson_opt_time(series, "lastObservedTime", "series", &observed, err))) return rc;
    if (observed) return adapter_check_freshness("series.lastObservedTime", NULL, observed, now_ms, lim, true, err);
    if (event_time) return adapter_check_freshness("eventTime", NULL, event_time, now_ms, lim, true, err);
    return ajson_fail(err, ADAPTER_E_MISSING, "lastTimestamp, firstTimestamp, series.lastObservedTime or eventTime "
                                              "is required by the freshness check (adapters.freshness)");
}

static int parse_event(const cJSON *root, const char *body, size_t len, int64_t now_ms,
                       const adapter_limits *lim, arena *a, sig_signal *s, adapter_error *err)
{
    int rc;
    if (!cJSON_IsObject(root)) return ajson_fail(err, ADAPTER_E_TYPE, "body: expected a JSON object (core/v1 Event)");

    /* Upstream order: reason → involvedObject.kind → involvedObject.name → type. */
    const char *reason, *kind, *name, *ns, *type;
    const cJSON *io;
    if ((rc = required_string(root, "reason", "", &reason, err))) return rc;
    if ((rc = optional_object(root, "involvedObject", &io, err))) return rc;
    if ((rc = required_string(io, "kind", "involvedObject", &kind, err))) return rc;
    if ((rc = required_string(io, "name", "involvedObject", &name, err))) return rc;
    if ((rc = ajson_opt_string(io, "namespace", "involvedObject", &ns, err))) return rc;
    if ((rc = ajson_opt_string(root, "type", "", &type, err))) return rc;
    if (!type) type = "";
    if (strcmp(type, "Normal") == 0) {
        s->ignored = true;
        s->ignore_reason = "normal event";
        s->severity = SEV_WARNING;
    } else if (strcmp(type, "Warning") == 0) {
        s->severity = SEV_WARNING;
    } else if (strcmp(type, "Error") == 0) {
        s->severity = SEV_CRITICAL;
    } else {
        return ajson_fail(err, ADAPTER_E_TYPE, "type: unsupported event type \"%.*s\" (expected Warning or Error)",
                          (int)utf8_truncate(type, strlen(type), 32), type);
    }
    if (critical_reason(reason)) s->severity = SEV_CRITICAL;

    /* Optional fields: wrong types are still errors (Go's decoder rejects them too). */
    const cJSON *src, *meta;
    const char *message, *component = NULL, *host = NULL;
    if ((rc = ajson_opt_string(root, "message", "", &message, err))) return rc;
    if ((rc = optional_object(root, "source", &src, err))) return rc;
    if ((rc = ajson_opt_string(src, "component", "source", &component, err))) return rc;
    if ((rc = ajson_opt_string(src, "host", "source", &host, err))) return rc;
    /* Events written through events.k8s.io/v1 leave source empty and fill these instead. */
    if (!component || !*component)
        if ((rc = ajson_opt_string(root, "reportingComponent", "", &component, err))) return rc;
    if (!host || !*host)
        if ((rc = ajson_opt_string(root, "reportingInstance", "", &host, err))) return rc;

    long long count = 0;
    const cJSON *cv = ajson_get(root, "count");
    if (cv) {
        double d = cv->valuedouble;        /* int32 in core/v1; range checked before the cast */
        if (!cJSON_IsNumber(cv) || !(d >= -2147483648.0 && d <= 2147483647.0) || (double)(long long)d != d)
            return ajson_fail(err, ADAPTER_E_TYPE, "count: expected an integer");
        count = (long long)d;
    }

    int64_t first, last, event_time;
    if ((rc = ajson_opt_time(root, "firstTimestamp", "", &first, err))) return rc;
    if ((rc = ajson_opt_time(root, "lastTimestamp", "", &last, err))) return rc;
    if ((rc = ajson_opt_time(root, "eventTime", "", &event_time, err))) return rc;   /* MicroTime */
    if (lim->fresh && (rc = check_freshness(root, first, last, event_time, now_ms, lim, err))) return rc;

    sig_map meta_labels;
    if ((rc = optional_object(root, "metadata", &meta, err))) return rc;
    if ((rc = ajson_string_map(ajson_get(meta, "labels"), "metadata", "labels", a, &meta_labels, err))) return rc;
    if (meta_labels.n > AJSON_MAX_LABELS)
        return ajson_fail(err, ADAPTER_E_TYPE, "metadata.labels: %zu labels, more than the limit of %d",
                          meta_labels.n, AJSON_MAX_LABELS);

    /* Our labels come last so they win over an Event's own label of the same name. */
    s->labels.items = arena_alloc(a, (meta_labels.n + 3) * sizeof *s->labels.items);
    s->labels.n = 0;
    for (size_t i = 0; i < meta_labels.n; i++) add(&s->labels, meta_labels.items[i].key, meta_labels.items[i].value);
    if (component && *component) add(&s->labels, "kubernaut.io/event-source", arena_strdup(a, component));
    add(&s->labels, "kubernaut.io/event-type", ascii_lower(a, type));
    add(&s->labels, "kubernaut.io/resource-kind", ascii_lower(a, kind));
    sig_map_sort_dedup(&s->labels);

    s->firing_ms = first ? first : event_time;
    s->annotations.items = arena_alloc(a, 5 * sizeof *s->annotations.items);
    s->annotations.n = 0;
    if (message && *message) add(&s->annotations, "kubernaut.io/event-message", arena_strdup(a, message));
    if (count > 0) add(&s->annotations, "kubernaut.io/event-count", arena_printf(a, "%lld", count));
    if (host && *host) add(&s->annotations, "kubernaut.io/source-host", arena_strdup(a, host));
    /* first-timestamp is the firing time: firstTimestamp, or eventTime when only that is set. */
    if (s->firing_ms) add(&s->annotations, "kubernaut.io/first-timestamp", rfc3339(a, s->firing_ms));
    if (last) add(&s->annotations, "kubernaut.io/last-timestamp", rfc3339(a, last));
    sig_map_sort_dedup(&s->annotations);

    s->am_fingerprint[0] = '\0';
    s->name = arena_strdup(a, reason);
    s->kind = arena_strdup(a, kind);
    s->res_name = arena_strdup(a, name);
    s->namespace = ns ? arena_strdup(a, ns) : "";
    s->res_namespace = s->namespace;
    s->ends_ms = 0;
    s->received_ms = now_ms;
    s->status = SIG_FIRING;
    s->signal_type = "kubernetes-event";
    s->source = "kubernetes-event";
    if (len <= lim->max_payload_bytes) {
        s->payload = arena_strndup(a, body, len);
        s->payload_len = len;
    }
    sig_fingerprint(s);
    return sig_validate(s, err);
}

int adapter_k8s_event_parse(const char *body, size_t len, int64_t now_ms,
                            const adapter_limits *lim, arena *a,
                            sig_signal **out, size_t *n, adapter_error *err)
{
    cJSON *root;
    int rc = ajson_begin(body, len, &lim, a, out, n, err, &root);
    if (rc) {
        ajson_end(root);
        return rc;
    }
    sig_signal *s = arena_calloc(a, sizeof *s);
    rc = parse_event(root, body, len, now_ms, lim, a, s, err);
    ajson_end(root);
    if (rc) return rc;
    *out = s;
    *n = 1;
    return ADAPTER_OK;
}
