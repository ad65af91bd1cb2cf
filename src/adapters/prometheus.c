/* prometheus.c: Alertmanager webhook (payload version 4) → one normalised signal per alert,
 * and the same walk for the bodies built on it (am_webhook.h: Grafana's). Every alert is
 * returned (upstream kept only alerts[0]); the first invalid alert rejects the whole webhook,
 * because Alertmanager does not retry a 4xx and a partial accept would hide it. */
#include "adapters/adapter.h"
#include "adapters/am_webhook.h"
#include "adapters/json_util.h"
#include "util/fmt.h"
#include "util/utf8.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The labels the adapter reads: alertname, severity, the namespace labels, then the resource
 * labels in precedence order (the first one with a non-empty value wins, so {pod, node} is a
 * Pod). An empty label counts as absent, as everywhere in Prometheus (upstream 4.2 used
 * presence, which turned {pod:"", node:"w1"} into a 400). */
enum { L_ALERTNAME, L_SEVERITY, L_NAMESPACE, L_EXPORTED_NAMESPACE, L_RESOURCE0, L_N = L_RESOURCE0 + 6 };
static const char *const picked_labels[L_N] = {
    "alertname", "severity", "namespace", "exported_namespace",
    "pod", "deployment", "statefulset", "daemonset", "node", "service",
};
static const char *const resource_kinds[L_N - L_RESOURCE0] = {
    "Pod", "Deployment", "StatefulSet", "DaemonSet", "Node", "Service",
};

/* v[k] = the value of label picked_labels[k] (NULL if absent), in one pass over the labels
 * instead of a binary search per name. m's keys are unique (sig_map_sort_dedup). */
static void pick_labels(const sig_map *m, const char *v[L_N])
{
    for (int k = 0; k < L_N; k++) v[k] = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const char *key = m->items[i].key;
        for (int k = 0; k < L_N; k++)
            if (key[0] == picked_labels[k][0] && strcmp(key, picked_labels[k]) == 0) {
                v[k] = m->items[i].value;
                break;
            }
    }
}

/* The alert members parse_alert reads, found in one walk of its member list. */
enum { F_LABELS, F_ANNOTATIONS, F_STARTS_AT, F_ENDS_AT, F_STATUS, F_FINGERPRINT, F_N };
static const char *const alert_fields[F_N + AM_MAX_EXTRA] = {"labels", "annotations", "startsAt", "endsAt",
                                                             "status", "fingerprint"};

static bool is_hex16(const char *s)
{
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
    }
    return s[16] == '\0';
}

/* Merges two sorted, duplicate-free maps; on equal keys over's value wins (alert values beat
 * the group's common ones, gateway.md 3). Linear; and when base adds no new key (the usual
 * case: commonLabels is a subset of every alert's labels) the result is over itself. */
static sig_map merge_maps(const sig_map *base, const sig_map *over, arena *a)
{
    size_t extra = 0, i = 0, j = 0;
    while (i < base->n) {
        int cmp = j < over->n ? strcmp(base->items[i].key, over->items[j].key) : -1;
        if (cmp < 0) { extra++; i++; }
        else if (cmp > 0) j++;
        else { i++; j++; }
    }
    if (extra == 0) return *over;
    sig_map m = {arena_alloc(a, (over->n + extra) * sizeof(sig_kv)), 0};
    i = j = 0;
    while (i < base->n || j < over->n) {
        int cmp = i >= base->n ? 1 : j >= over->n ? -1 : strcmp(base->items[i].key, over->items[j].key);
        if (cmp < 0) m.items[m.n++] = base->items[i++];
        else if (cmp > 0) m.items[m.n++] = over->items[j++];
        else { m.items[m.n++] = over->items[j++]; i++; }
    }
    return m;
}

static int parse_alert(const am_flavour *fl, const char *const *names, const cJSON *al, size_t i,
                       const sig_map *common_labels, const sig_map *common_annotations, int64_t now_ms,
                       const adapter_limits *lim, arena *a, sig_signal *s, adapter_error *err)
{
    char path[48];
    int rc;
    char num[24];
    fmt_u64(num, i);
    fmt_cat(path, sizeof path, "alerts[", num, "]", (char *)NULL);
    if (!cJSON_IsObject(al)) return ajson_fail(err, ADAPTER_E_TYPE, "%s: expected an object", path);

    const cJSON *f[F_N + AM_MAX_EXTRA];
    ajson_get_many(al, names, F_N + fl->n_extra, f);
    if (fl->n_extra && (rc = fl->check_alert(f + F_N, path, err))) return rc;
    if (!f[F_LABELS]) return ajson_fail(err, ADAPTER_E_MISSING, "%s.labels is required", path);
    sig_map own, annotations;
    if ((rc = ajson_string_map(f[F_LABELS], path, "labels", a, &own, err))) return rc;
    sig_map_sort_dedup(&own);
    if ((rc = ajson_string_map(f[F_ANNOTATIONS], path, "annotations", a, &annotations, err))) return rc;

    int64_t starts, ends;
    if ((rc = ajson_time_value(f[F_STARTS_AT], path, "startsAt", &starts, err))) return rc;
    if ((rc = ajson_time_value(f[F_ENDS_AT], path, "endsAt", &ends, err))) return rc;

    const char *status;
    if ((rc = ajson_string_value(f[F_STATUS], path, "status", &status, err))) return rc;
    if (!status) s->status = ends && ends <= now_ms ? SIG_RESOLVED : SIG_FIRING;
    else if (strcmp(status, "firing") == 0) s->status = SIG_FIRING;
    else if (strcmp(status, "resolved") == 0) s->status = SIG_RESOLVED;
    else return ajson_fail(err, ADAPTER_E_TYPE, "%s.status: \"%.*s\" is neither firing nor resolved", path,
                           (int)utf8_truncate(status, strlen(status), 32), status);

    const char *fp;
    if ((rc = ajson_string_value(f[F_FINGERPRINT], path, "fingerprint", &fp, err))) return rc;
    if (fp && is_hex16(fp)) {
        for (int k = 0; k < 16; k++) {
            char c = fp[k];
            s->am_fingerprint[k] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
        }
        s->am_fingerprint[16] = '\0';
    } else {
        sig_am_fingerprint(&own, s->am_fingerprint);   /* over the alert's own labels, like Alertmanager */
    }

    /* Alert values override the group's common ones (gateway.md 3; upstream had it backwards). */
    sig_map_sort_dedup(&annotations);
    s->labels = merge_maps(common_labels, &own, a);
    s->annotations = merge_maps(common_annotations, &annotations, a);
    if (s->labels.n > AJSON_MAX_LABELS || s->annotations.n > AJSON_MAX_LABELS)
        return ajson_fail(err, ADAPTER_E_TYPE, "%s: %zu labels and %zu annotations, more than the limit of %d each",
                          path, s->labels.n, s->annotations.n, AJSON_MAX_LABELS);

    const char *lv[L_N];
    pick_labels(&s->labels, lv);
    s->name = lv[L_ALERTNAME];
    if (!s->name || !*s->name) return ajson_fail(err, ADAPTER_E_MISSING, "%s.labels.alertname is required", path);
    s->severity = sig_severity_parse(lv[L_SEVERITY]);

    const char *ns = lv[L_NAMESPACE];
    if (!ns || !*ns) ns = lv[L_EXPORTED_NAMESPACE];
    s->namespace = ns ? ns : "";                       /* "" = cluster-scoped, not "default" */
    s->res_namespace = s->namespace;
    s->kind = "Unknown";
    s->res_name = "unknown";
    for (int k = L_RESOURCE0; k < L_N; k++) {
        if (lv[k] && *lv[k]) {
            s->kind = resource_kinds[k - L_RESOURCE0];
            s->res_name = lv[k];
            break;
        }
    }

    s->firing_ms = starts;
    s->ends_ms = ends;
    s->received_ms = now_ms;
    s->signal_type = fl->signal_type;
    s->source = fl->source;
    s->payload_json = al;                              /* printed only if an RR is made */
    sig_fingerprint(s);

    adapter_error verr;
    if ((rc = sig_validate(s, &verr))) return ajson_fail(err, (adapter_status)rc, "%s: %s", path, verr.message);
    return ADAPTER_OK;
}

/* Upstream Kubernaut's body check of a webhook without X-Timestamp
 * (pkg/gateway/middleware/alertmanager_freshness.go): at least one alert has a startsAt, and
 * none is beyond the clock skew tolerance in the future. Old startsAt values pass: a
 * long-firing alert is re-sent with its original one, and dedup handles repeats. */
static int check_freshness(const sig_signal *sigs, size_t n, int64_t now_ms, const adapter_limits *lim,
                           adapter_error *err)
{
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (!sigs[i].firing_ms) continue;
        any = true;
        char field[48], num[24];
        fmt_u64(num, i);
        fmt_cat(field, sizeof field, "alerts[", num, "].startsAt", (char *)NULL);
        int rc = adapter_check_freshness(field, NULL, sigs[i].firing_ms, now_ms, lim, false, err);
        if (rc) return rc;
    }
    if (!any)
        return ajson_fail(err, ADAPTER_E_MISSING,
                          "alerts[].startsAt: no alert has one, and the freshness check needs it (adapters.freshness)");
    return ADAPTER_OK;
}

static int parse_webhook(const am_flavour *fl, const cJSON *root, int64_t now_ms, const adapter_limits *lim,
                         arena *a, sig_signal **out, size_t *n, adapter_error *err)
{
    int rc;
    if (!cJSON_IsObject(root))
        return ajson_fail(err, ADAPTER_E_TYPE, "body: expected a JSON object (%s)", fl->body_name);

    const cJSON *ver = ajson_get(root, "version");
    if (!ver && fl->version_required)
        return ajson_fail(err, ADAPTER_E_VERSION, "version is required (expected \"%s\")", fl->version);
    if (ver && !cJSON_IsString(ver))
        return ajson_fail(err, ADAPTER_E_VERSION, "version: expected the string \"%s\"", fl->version);
    if (ver && strcmp(ver->valuestring, fl->version) != 0)
        return ajson_fail(err, ADAPTER_E_VERSION, "version: unsupported webhook version \"%.*s\" (expected \"%s\")",
                          (int)utf8_truncate(ver->valuestring, strlen(ver->valuestring), 16), ver->valuestring,
                          fl->version);
    if (fl->check_root && (rc = fl->check_root(root, err))) return rc;

    const cJSON *alerts = ajson_get(root, "alerts");
    if (!alerts) return ajson_fail(err, ADAPTER_E_MISSING, "alerts is required");
    if (!cJSON_IsArray(alerts)) return ajson_fail(err, ADAPTER_E_TYPE, "alerts: expected an array");
    size_t count = 0;
    for (const cJSON *c = alerts->child; c; c = c->next) count++;
    if (count == 0) return ajson_fail(err, ADAPTER_E_EMPTY, "alerts is empty");
    if (count > lim->max_alerts)
        return ajson_fail(err, ADAPTER_E_TOO_MANY, "%zu alerts in one webhook, more than the limit of %zu",
                          count, lim->max_alerts);

    sig_map common_labels, common_annotations;
    if ((rc = ajson_string_map(ajson_get(root, "commonLabels"), "", "commonLabels", a, &common_labels, err))) return rc;
    if ((rc = ajson_string_map(ajson_get(root, "commonAnnotations"), "", "commonAnnotations", a, &common_annotations, err)))
        return rc;
    sig_map_sort_dedup(&common_labels);
    sig_map_sort_dedup(&common_annotations);

    const char *names[F_N + AM_MAX_EXTRA];
    memcpy(names, alert_fields, F_N * sizeof names[0]);
    for (size_t k = 0; k < fl->n_extra && k < AM_MAX_EXTRA; k++) names[F_N + k] = fl->extra_alert_fields[k];
    sig_signal *sigs = arena_calloc(a, count * sizeof *sigs);
    size_t i = 0;
    for (const cJSON *al = alerts->child; al; al = al->next, i++)
        if ((rc = parse_alert(fl, names, al, i, &common_labels, &common_annotations, now_ms, lim, a, &sigs[i], err)))
            return rc;
    if (lim->fresh && (rc = check_freshness(sigs, count, now_ms, lim, err))) return rc;
    *out = sigs;
    *n = count;
    return ADAPTER_OK;
}

int adapter_am_webhook_parse(const am_flavour *fl, const char *body, size_t len, int64_t now_ms,
                             const adapter_limits *lim, arena *a, sig_signal **out, size_t *n, adapter_error *err)
{
    cJSON *root;
    int rc = ajson_begin(body, len, &lim, a, out, n, err, &root);
    if (rc) {
        ajson_end(root);
        return rc;
    }
    rc = parse_webhook(fl, root, now_ms, lim, a, out, n, err);
    ajson_end(root);
    if (rc) {
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static const am_flavour alertmanager = {
    .version = "4", .body_name = "Alertmanager webhook",
    .signal_type = "prometheus-alert", .source = "prometheus",
};

int adapter_prometheus_parse(const char *body, size_t len, int64_t now_ms,
                             const adapter_limits *lim, arena *a,
                             sig_signal **out, size_t *n, adapter_error *err)
{
    return adapter_am_webhook_parse(&alertmanager, body, len, now_ms, lim, a, out, n, err);
}
