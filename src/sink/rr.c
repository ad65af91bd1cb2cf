/* rr.c: the RemediationRequest object (spec section 6); see rr.h. */
#include "sink/rr.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void rr_label_value(const char *value, char out[64])
{
    size_t n = 0;
    for (const char *p = value; *p && n < 63; p++) out[n++] = label_char(*p) ? *p : '_';
    out[n] = '\0';
    /* must begin and end with an alphanumeric character */
    size_t start = 0;
    while (start < n && !alnum(out[start])) start++;
    while (n > start && !alnum(out[n - 1])) n--;
    memmove(out, out + start, n - start);
    out[n - start] = '\0';
}

char *rr_base64(const void *data, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *d = data;
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < len ? (unsigned)d[i + 1] << 8 : 0);
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

void rr_name(const rr_spec *s, char out[64])
{
    if (s->is_storm) snprintf(out, 64, "rr-storm-%.16s", s->storm_hash);
    else snprintf(out, 64, "rr-%.16s", s->sig->fingerprint);
}

const char *rr_namespace(const rr_spec *s, bool force_fallback)
{
    const char *ns = s->sig->namespace;
    /* cluster-scoped, or not a namespace name at all ("..", "a/b"): the fallback */
    if (force_fallback || !sig_namespace_valid(ns)) return s->fallback_namespace;
    return ns;
}

void rr_add_time(cJSON *o, const char *key, int64_t ms)
{
    char ts[32];
    time_format_rfc3339(ms, ts);
    cJSON_AddStringToObject(o, key, ts);
}

static void add_label(cJSON *labels, const char *key, const char *value)
{
    char v[64];
    rr_label_value(value ? value : "", v);
    cJSON_AddStringToObject(labels, key, v);
}

cJSON *rr_map_json(const sig_map *m, size_t max_value)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < m->n; i++) {
        const char *v = m->items[i].value;
        size_t vl = strlen(v);
        size_t keep = max_value ? utf8_truncate(v, vl, max_value) : vl;
        if (keep == vl) {
            cJSON_AddStringToObject(o, m->items[i].key, v);
        } else {
            char *t = xstrndup(v, keep);
            cJSON_AddStringToObject(o, m->items[i].key, t);
            free(t);
        }
    }
    return o;
}

char *rr_build_json(const rr_spec *s, bool force_fallback, bool pretty, char ns_out[254], char name_out[64])
{
    const sig_signal *g = s->sig;
    const char *ns = rr_namespace(s, force_fallback);
    bool fallback = ns != g->namespace || !g->namespace || !*g->namespace;
    rr_name(s, name_out);
    snprintf(ns_out, 254, "%s", ns);

    cJSON *root = cJSON_CreateObject();
    char apiver[256];
    snprintf(apiver, sizeof apiver, "%s/%s", s->group, s->version);
    cJSON_AddStringToObject(root, "apiVersion", apiver);
    cJSON_AddStringToObject(root, "kind", "RemediationRequest");

    cJSON *meta = cJSON_AddObjectToObject(root, "metadata");
    cJSON_AddStringToObject(meta, "name", name_out);
    cJSON_AddStringToObject(meta, "namespace", ns);
    cJSON *labels = cJSON_AddObjectToObject(meta, "labels");
    cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", "signal-gateway");
    cJSON_AddStringToObject(labels, "app.kubernetes.io/component", "remediation");
    add_label(labels, "kubernaut.io/signal-type", g->signal_type);
    char fp63[64];
    snprintf(fp63, sizeof fp63, "%.63s", s->is_storm ? s->storm_hash : g->fingerprint);
    cJSON_AddStringToObject(labels, "kubernaut.io/signal-fingerprint", fp63);
    add_label(labels, "kubernaut.io/severity", sig_severity_str(g->severity));
    add_label(labels, "kubernaut.io/priority", s->priority);
    add_label(labels, "kubernaut.io/environment", s->environment);
    if (s->is_storm) cJSON_AddStringToObject(labels, "kubernaut.io/storm", "true");
    if (fallback) {
        if (g->namespace && *g->namespace) add_label(labels, "kubernaut.io/origin-namespace", g->namespace);
        cJSON_AddStringToObject(labels, "kubernaut.io/cluster-scoped", "true");
    }
    cJSON *ann = cJSON_AddObjectToObject(meta, "annotations");
    rr_add_time(ann, "kubernaut.io/created-at", s->now_ms);
    if (s->trace_id && *s->trace_id) cJSON_AddStringToObject(ann, RR_TRACE_ANNOTATION, s->trace_id);
    if (g->am_fingerprint[0] && !s->is_storm)
        cJSON_AddStringToObject(ann, "kubernaut.io/alertmanager-fingerprint", g->am_fingerprint);
    if (fallback && g->namespace && *g->namespace)
        cJSON_AddStringToObject(ann, "kubernaut.io/origin-namespace", g->namespace);

    cJSON *spec = cJSON_AddObjectToObject(root, "spec");
    cJSON_AddStringToObject(spec, "signalFingerprint", s->is_storm ? s->storm_hash : g->fingerprint);
    cJSON_AddStringToObject(spec, "signalName", g->name);
    cJSON_AddStringToObject(spec, "severity", sig_severity_str(g->severity));
    cJSON_AddStringToObject(spec, "environment", s->environment);
    cJSON_AddStringToObject(spec, "priority", s->priority);
    cJSON_AddStringToObject(spec, "signalType", g->signal_type);
    cJSON_AddStringToObject(spec, "signalSource", g->source);
    cJSON_AddStringToObject(spec, "targetType", "kubernetes");
    rr_add_time(spec, "firingTime", g->firing_ms > 0 ? g->firing_ms : g->received_ms);
    rr_add_time(spec, "receivedTime", g->received_ms);
    cJSON *dd = cJSON_AddObjectToObject(spec, "deduplication");
    cJSON_AddBoolToObject(dd, "isDuplicate", 0);
    rr_add_time(dd, "firstSeen", s->now_ms);
    rr_add_time(dd, "lastSeen", s->now_ms);
    cJSON_AddNumberToObject(dd, "occurrenceCount", s->is_storm ? (double)s->storm_count : 1);
    cJSON_AddBoolToObject(spec, "isStorm", s->is_storm);
    if (s->is_storm) {
        cJSON_AddStringToObject(spec, "stormType", s->storm_type ? s->storm_type : "rate");
        cJSON_AddStringToObject(spec, "stormWindow", s->storm_window ? s->storm_window : "");
        cJSON_AddNumberToObject(spec, "stormAlertCount", (double)s->storm_count);
        cJSON *arr = cJSON_AddArrayToObject(spec, "affectedResources");
        for (size_t i = 0; i < s->n_resources; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(s->resources[i]));
    }
    cJSON_AddItemToObject(spec, "signalLabels", rr_map_json(&g->labels, 63));
    cJSON_AddItemToObject(spec, "signalAnnotations", rr_map_json(&g->annotations, 262000));

    /* providerData: base64 JSON of namespace, resource and the untruncated labels */
    cJSON *pd = cJSON_CreateObject();
    cJSON_AddStringToObject(pd, "namespace", g->namespace ? g->namespace : "");
    cJSON *res = cJSON_AddObjectToObject(pd, "resource");
    cJSON_AddStringToObject(res, "kind", g->kind);
    cJSON_AddStringToObject(res, "name", g->res_name);
    cJSON_AddStringToObject(res, "namespace", g->res_namespace ? g->res_namespace : "");
    cJSON_AddItemToObject(pd, "labels", rr_map_json(&g->labels, 0));
    char *pdtext = cJSON_PrintUnformatted(pd);
    cJSON_Delete(pd);
    char *pd64 = rr_base64(pdtext, strlen(pdtext));
    cJSON_AddStringToObject(spec, "providerData", pd64);
    free(pd64);
    cJSON_free(pdtext);
    size_t plen;
    char *payload = s->is_storm ? NULL : sig_payload_dup(g, s->max_payload_bytes, &plen);
    if (payload) {
        char *op = rr_base64(payload, plen);
        cJSON_AddStringToObject(spec, "originalPayload", op);
        free(op);
        free(payload);
    }
    char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char *out = xstrdup(text);
    cJSON_free(text);
    return out;
}
