/* pagerduty.c: PagerDuty Events API v2 (an event to /v2/enqueue, a change event to
 * /v2/change/enqueue) → one normalised signal.
 * Every field is checked as PagerDuty documents it, and every fault of an event is reported
 * (PagerDuty answers a list of errors); the Kubernetes target comes from the default mapping
 * below (docs/sources.md, "PagerDuty Events v2"). */
#include "adapters/adapter.h"
#include "adapters/json_util.h"
#include "config.h"
#include "util/hash.h"
#include "util/timeutil.h"
#include "util/utf8.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum { PD_ROUTING_KEY_LEN = 32, PD_DEDUP_KEY_MAX = 255, PD_SUMMARY_MAX = 1024, PD_NAME_MAX = 253 };

/* The errors of one event, joined by '\n' into err->message (whole lines only): the reply
 * writer (pagerduty_reply) answers them as PagerDuty's "errors" list. The first fault's kind
 * is the status. */
typedef struct pd_errors {
    adapter_error *err;
    int            status;
    size_t         used;
} pd_errors;

static void pd_err(pd_errors *e, adapter_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pd_err(pd_errors *e, adapter_status st, const char *fmt, ...)
{
    if (!e->status) e->status = st;
    if (!e->err) return;
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    size_t need = len + (e->used ? 1 : 0);
    if (e->used + need >= sizeof e->err->message) return;   /* the list is full: the first ones are kept */
    if (e->used) e->err->message[e->used++] = '\n';
    memcpy(e->err->message + e->used, line, len);
    e->used += len;
    e->err->message[e->used] = '\0';
    e->err->status = e->status;
}

/* A string member: absent or null → NULL; another type → an error, NULL. */
static const char *str_member(const cJSON *o, const char *name, const char *shown, pd_errors *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) return NULL;
    if (!cJSON_IsString(v)) {
        pd_err(e, ADAPTER_E_TYPE, "'%s' must be a string", shown);
        return NULL;
    }
    return v->valuestring;
}

/* name is there and not null (a wrong type is reported by str_member) */
static bool present(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return v && !cJSON_IsNull(v);
}

/* absent, null or "": PagerDuty's "missing or blank" */
static bool blank(const cJSON *o, const char *name, const char *v) { return !present(o, name) || (v && !*v); }

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* ---- the Kubernetes target --------------------------------------------------------------- */

/* custom_details keys that name a resource, in the order they are tried, and their kind */
static const struct { const char *key, *kind; } res_keys[] = {
    {"pod", "Pod"}, {"deployment", "Deployment"}, {"statefulset", "StatefulSet"}, {"daemonset", "DaemonSet"},
    {"node", "Node"}, {"service", "Service"},
};

static const char *cd_string(const cJSON *cd, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cd, key);
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

static const cfg_pagerduty pd_defaults = {"namespace", "kind", "name", true, true};

/* The mapping (pagerduty.* in config; these are the defaults): custom_details.kind + .name
 * (+ .namespace); else the first of custom_details.pod, deployment, statefulset, daemonset,
 * node, service (+ .namespace); else payload.source as "namespace/kind/name" or "kind/name".
 * 0, or -1 when none names one. */
static int target_pick(const cfg_pagerduty *m, const cJSON *cd, const char *source, arena *a, sig_signal *s)
{
    const char *ns = cJSON_IsObject(cd) && *m->namespace_key ? cd_string(cd, m->namespace_key) : NULL;
    if (cJSON_IsObject(cd)) {
        const char *kind = *m->kind_key ? cd_string(cd, m->kind_key) : NULL;
        const char *name = *m->name_key ? cd_string(cd, m->name_key) : NULL;
        if (kind && name) {
            s->kind = kind;
            s->res_name = name;
            s->namespace = ns ? ns : "";
            return 0;
        }
        for (size_t i = 0; m->resource_keys && i < sizeof res_keys / sizeof res_keys[0]; i++) {
            const char *v = cd_string(cd, res_keys[i].key);
            if (!v) continue;
            s->kind = res_keys[i].kind;
            s->res_name = v;
            s->namespace = ns ? ns : "";
            return 0;
        }
    }
    const char *p1 = m->source_target ? strchr(source, '/') : NULL;
    if (!p1) return -1;
    const char *p2 = strchr(p1 + 1, '/');
    if (p2 && !strchr(p2 + 1, '/') && p1 > source && p2 > p1 + 1 && p2[1]) {
        s->namespace = arena_strndup(a, source, (size_t)(p1 - source));
        s->kind = arena_strndup(a, p1 + 1, (size_t)(p2 - p1 - 1));
        s->res_name = p2 + 1;
        return 0;
    }
    if (!p2 && p1 > source && p1[1]) {
        s->namespace = ns ? ns : "";
        s->kind = arena_strndup(a, source, (size_t)(p1 - source));
        s->res_name = p1 + 1;
        return 0;
    }
    return -1;
}

/* ---- the event ----------------------------------------------------------------------------- */

static void add(sig_map *m, const char *key, const char *value)
{
    if (!value) return;
    m->items[m->n].key = key;
    m->items[m->n].value = value;
    m->n++;
}

/* PagerDuty's four severities on ours: error is urgent, so critical */
static sig_severity severity_of(const char *v)
{
    return !strcmp(v, "critical") || !strcmp(v, "error") ? SEV_CRITICAL : !strcmp(v, "info") ? SEV_INFO : SEV_WARNING;
}

/* PagerDuty's timestamps are ISO 8601: RFC 3339, and also its own examples' offset without a
 * colon ("2015-07-17T08:42:58.315+0000"), rewritten here to "+00:00" for the RFC 3339 parser. */
static int pd_time_parse(const char *ts, int64_t *ms)
{
    size_t n = strlen(ts);
    if (time_parse_rfc3339(ts, n, ms) == 0) return 0;
    char buf[64];
    const char *o = n >= 5 ? ts + n - 5 : ts;
    if (n < 5 || n >= sizeof buf - 1 || (o[0] != '+' && o[0] != '-') || strspn(o + 1, "0123456789") != 4) return -1;
    memcpy(buf, ts, n - 2);
    buf[n - 2] = ':';
    memcpy(buf + n - 1, ts + n - 2, 2);
    return time_parse_rfc3339(buf, n + 1, ms) == 0 ? 0 : -1;
}

/* The payload of a trigger: every field checked, then the signal's name, target, severity,
 * labels and annotations. ferr: scratch for the freshness check's message. */
static void payload_read(const adapter_input *in, const cJSON *pl, int64_t now_ms, const adapter_limits *lim,
                         arena *a, sig_signal *s, pd_errors *e, adapter_error *ferr)
{
    const char *summary = str_member(pl, "summary", "payload.summary", e);
    const char *source = str_member(pl, "source", "payload.source", e);
    const char *sev = str_member(pl, "severity", "payload.severity", e);
    const char *ts = str_member(pl, "timestamp", "payload.timestamp", e);
    const char *component = str_member(pl, "component", "payload.component", e);
    const char *group = str_member(pl, "group", "payload.group", e);
    const char *class = str_member(pl, "class", "payload.class", e);
    const cJSON *cd = cJSON_GetObjectItemCaseSensitive(pl, "custom_details");
    if (blank(pl, "summary", summary)) {
        pd_err(e, ADAPTER_E_MISSING, "'payload.summary' is missing or blank");
    } else if (summary && utf8_chars(summary) > PD_SUMMARY_MAX) {
        pd_err(e, ADAPTER_E_TYPE, "Length of 'payload.summary' is too long (should be at most %d characters)",
               PD_SUMMARY_MAX);
    }
    if (blank(pl, "source", source))
        pd_err(e, ADAPTER_E_MISSING, "'payload.source' is missing or blank");
    if (blank(pl, "severity", sev))
        pd_err(e, ADAPTER_E_MISSING, "'payload.severity' is missing or blank");
    else if (sev && strcmp(sev, "critical") && strcmp(sev, "error") && strcmp(sev, "warning") && strcmp(sev, "info"))
        pd_err(e, ADAPTER_E_TYPE, "'payload.severity' is invalid (expected critical, error, warning or info)");
    int64_t t_ms = 0;
    if (ts && pd_time_parse(ts, &t_ms) != 0)
        pd_err(e, ADAPTER_E_TYPE, "'payload.timestamp' is not a valid ISO 8601 timestamp");
    else if (ts && lim->fresh && adapter_check_freshness("payload.timestamp", ts, t_ms, now_ms, lim, false, ferr))
        pd_err(e, ferr->status, "%s", ferr->message);
    if (e->status) return;
    const cfg_pagerduty *m = in && in->pd ? in->pd : &pd_defaults;
    if (target_pick(m, cd, source, a, s) != 0) {
        pd_err(e, ADAPTER_E_MISSING, "the event names no Kubernetes resource: set payload.custom_details.kind and "
                                     ".name (or .pod, .deployment, ...) or payload.source as namespace/kind/name");
        return;
    }
    const char *name = class && *class ? class : summary;
    s->name = arena_strndup(a, name, utf8_truncate(name, strlen(name), PD_NAME_MAX));
    s->severity = severity_of(sev);
    s->firing_ms = now_ms;
    s->labels.items = arena_alloc(a, 4 * sizeof *s->labels.items);
    add(&s->labels, "severity", sev);
    add(&s->labels, "component", component);
    add(&s->labels, "group", group);
    add(&s->labels, "class", class);
    sig_map_sort_dedup(&s->labels);
    s->annotations.items = arena_alloc(a, 4 * sizeof *s->annotations.items);
    add(&s->annotations, "summary", summary);
    add(&s->annotations, "pagerduty.com/source", source);
    add(&s->annotations, "pagerduty.com/timestamp", ts);
}

/* dedup_key absent on a trigger: PagerDuty makes one; ours is 32 hex digits of
 * sha256(request id, body), unique per request and reproducible from the log. */
static const char *dedup_generate(const adapter_input *in, const char *body, size_t len, arena *a)
{
    const char *rid = in && in->request_id ? in->request_id : "";
    size_t rl = strlen(rid);
    char *buf = arena_alloc(a, rl + 1 + len);
    memcpy(buf, rid, rl);
    buf[rl] = ':';
    memcpy(buf + rl + 1, body, len);
    char hex[65];
    hash_sha256_hex(buf, rl + 1 + len, hex);
    return arena_strndup(a, hex, 32);
}

/* routing_key: a string of exactly 32 characters (alert and change events alike) */
static const char *routing_key_read(const cJSON *root, pd_errors *e)
{
    const char *rk = str_member(root, "routing_key", "routing_key", e);
    if (blank(root, "routing_key", rk))
        pd_err(e, ADAPTER_E_MISSING, "'routing_key' is missing or blank");
    else if (rk && strlen(rk) != PD_ROUTING_KEY_LEN)
        pd_err(e, ADAPTER_E_TYPE, "Length of 'routing_key' is incorrect (should be %d characters)",
               PD_ROUTING_KEY_LEN);
    return rk;
}

static int event_read(adapter_input *in, const cJSON *root, const char *body, size_t len, int64_t now_ms,
                      const adapter_limits *lim, arena *a, sig_signal *s, adapter_error *err)
{
    pd_errors e = {err, 0, 0};
    adapter_error ferr = {0};
    if (!cJSON_IsObject(root)) {
        pd_err(&e, ADAPTER_E_TYPE, "Event object must be a JSON object");
        return e.status;
    }
    const char *rk = routing_key_read(root, &e);
    const char *action = str_member(root, "event_action", "event_action", &e);
    const char *dedup = str_member(root, "dedup_key", "dedup_key", &e);
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(root, "payload");
    int act = -1;   /* 0 trigger, 1 acknowledge, 2 resolve */
    if (blank(root, "event_action", action))
        pd_err(&e, ADAPTER_E_MISSING, "'event_action' is missing or blank");
    else if (action)
        act = !strcmp(action, "trigger") ? 0 : !strcmp(action, "acknowledge") ? 1 : !strcmp(action, "resolve") ? 2 : -1;
    if (action && *action && act < 0)
        pd_err(&e, ADAPTER_E_TYPE, "'event_action' is invalid (expected trigger, acknowledge or resolve)");
    if (dedup && utf8_chars(dedup) > PD_DEDUP_KEY_MAX)
        pd_err(&e, ADAPTER_E_TYPE, "Length of 'dedup_key' is too long (should be at most %d characters)",
               PD_DEDUP_KEY_MAX);
    if ((act == 1 || act == 2) && blank(root, "dedup_key", dedup))
        pd_err(&e, ADAPTER_E_MISSING, "'dedup_key' is missing or blank (required for acknowledge and resolve)");
    s->signal_type = "pagerduty-event";
    s->source = "pagerduty";
    s->received_ms = now_ms;
    s->status = act == 2 ? SIG_RESOLVED : SIG_FIRING;
    s->severity = SEV_WARNING;
    if (act == 0) {
        if (!pl || cJSON_IsNull(pl)) pd_err(&e, ADAPTER_E_MISSING, "'payload' is missing or blank");
        else if (!cJSON_IsObject(pl)) pd_err(&e, ADAPTER_E_TYPE, "'payload' must be an object");
        else payload_read(in, pl, now_ms, lim, a, s, &e, &ferr);
    }
    if (e.status) return e.status;
    if (!dedup || !*dedup) dedup = dedup_generate(in, body, len, a);
    if (act != 0) {
        /* acknowledge and resolve carry no payload: the dedup key is all they name */
        s->name = act == 1 ? "pagerduty-acknowledge" : "pagerduty-resolve";
        s->kind = "PagerDutyIncident";
        s->res_name = arena_strndup(a, dedup, utf8_truncate(dedup, strlen(dedup), PD_NAME_MAX));
        s->namespace = "";
        s->annotations.items = arena_alloc(a, 2 * sizeof *s->annotations.items);
    }
    s->res_namespace = s->namespace;
    add(&s->annotations, "pagerduty.com/dedup-key", dedup);
    sig_map_sort_dedup(&s->annotations);
    /* The dedup identity: sha256("pagerduty:" routing_key ":" dedup_key), as PagerDuty
     * deduplicates per integration (docs/sources.md). */
    char *id = arena_cat(a, "pagerduty:", rk, ":", dedup, (char *)NULL);
    hash_sha256_hex(id, strlen(id), s->fingerprint);
    if (act == 1) {
        s->ignored = true;
        s->ignore_reason = "acknowledged: nothing recorded (an acknowledgement is not a signal)";
    } else if (act == 2 && in && in->resolve_ignored) {
        s->ignored = true;
        s->ignore_reason = "resolved: kubernaut.ai/v1alpha1 records no resolution";
    }
    if (len <= lim->max_payload_bytes) {
        s->payload = arena_strndup(a, body, len);
        s->payload_len = len;
    }
    return sig_validate(s, err);
}

typedef int (*read_one_fn)(adapter_input *in, const cJSON *root, const char *body, size_t len, int64_t now_ms,
                           const adapter_limits *lim, arena *a, sig_signal *s, adapter_error *err);

/* A body of one event (both of PagerDuty's APIs): its JSON tree, then read_one into one signal. */
static int parse_one(read_one_fn read_one, adapter_input *in, const char *body, size_t len, int64_t now_ms,
                     const adapter_limits *lim, arena *a, sig_signal **out, size_t *n, adapter_error *err)
{
    cJSON *root = NULL;
    int rc = ajson_begin(body, len, &lim, a, out, n, err, &root);
    if (rc == 0) {
        sig_signal *s = arena_calloc(a, sizeof *s);
        rc = read_one(in, root, body, len, now_ms, lim, a, s, err);
        if (rc == 0) {
            *out = s;
            *n = 1;
        }
    }
    ajson_end(root);
    return rc;
}

int adapter_pagerduty_parse(adapter_input *in, const char *body, size_t len, int64_t now_ms,
                            const adapter_limits *lim, arena *a, sig_signal **out, size_t *n, adapter_error *err)
{
    return parse_one(event_read, in, body, len, now_ms, lim, a, out, n, err);
}

/* ---- change events (/v2/change/enqueue) ----------------------------------------------------- */

/* A change event (a deploy, a config change): checked as PagerDuty documents it, then one
 * ignored signal that names it (docs/sources.md: a change is context, not a problem). Its
 * fingerprint, sha256("pagerduty-change:" request id ":" body), only identifies it in the log. */
static int change_read(adapter_input *in, const cJSON *root, const char *body, size_t len, int64_t now_ms,
                       const adapter_limits *lim, arena *a, sig_signal *s, adapter_error *err)
{
    pd_errors e = {err, 0, 0};
    if (!cJSON_IsObject(root)) {
        pd_err(&e, ADAPTER_E_TYPE, "Event object must be a JSON object");
        return e.status;
    }
    routing_key_read(root, &e);
    /* an alert event sent here by mistake would otherwise be answered 202 and lost */
    if (cJSON_GetObjectItemCaseSensitive(root, "event_action"))
        pd_err(&e, ADAPTER_E_TYPE, "'event_action' is not a field of a change event (alert events go to /v2/enqueue)");
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(root, "payload");
    const char *summary = NULL, *source = NULL, *ts = NULL;
    if (!pl || cJSON_IsNull(pl)) {
        pd_err(&e, ADAPTER_E_MISSING, "'payload' is missing or blank");
    } else if (!cJSON_IsObject(pl)) {
        pd_err(&e, ADAPTER_E_TYPE, "'payload' must be an object");
    } else {
        summary = str_member(pl, "summary", "payload.summary", &e);
        source = str_member(pl, "source", "payload.source", &e);
        ts = str_member(pl, "timestamp", "payload.timestamp", &e);
        if (blank(pl, "summary", summary))
            pd_err(&e, ADAPTER_E_MISSING, "'payload.summary' is missing or blank");
        else if (summary && utf8_chars(summary) > PD_SUMMARY_MAX)
            pd_err(&e, ADAPTER_E_TYPE, "Length of 'payload.summary' is too long (should be at most %d characters)",
                   PD_SUMMARY_MAX);
        int64_t t_ms;
        if (ts && pd_time_parse(ts, &t_ms) != 0)
            pd_err(&e, ADAPTER_E_TYPE, "'payload.timestamp' is not a valid ISO 8601 timestamp");
    }
    if (e.status) return e.status;
    const char *rid = in && in->request_id ? in->request_id : "";
    const char *pre = arena_cat(a, "pagerduty-change:", rid, ":", (char *)NULL);
    size_t k = strlen(pre);
    char *id = arena_alloc(a, k + len);
    memcpy(id, pre, k);
    memcpy(id + k, body, len);
    hash_sha256_hex(id, k + len, s->fingerprint);
    s->signal_type = "pagerduty-change";
    s->source = "pagerduty";
    s->received_ms = now_ms;
    s->firing_ms = now_ms;
    s->status = SIG_FIRING;
    s->severity = SEV_INFO;
    s->name = arena_strndup(a, summary, utf8_truncate(summary, strlen(summary), PD_NAME_MAX));
    s->kind = "PagerDutyChange";
    s->res_name = arena_strndup(a, s->fingerprint, 32);
    s->namespace = s->res_namespace = "";
    s->annotations.items = arena_alloc(a, 3 * sizeof *s->annotations.items);
    add(&s->annotations, "summary", summary);
    add(&s->annotations, "pagerduty.com/source", source);
    add(&s->annotations, "pagerduty.com/timestamp", ts);
    sig_map_sort_dedup(&s->annotations);
    s->ignored = true;
    s->ignore_reason = "change_event: a change is not an alert; logged and counted, nothing recorded";
    if (len <= lim->max_payload_bytes) {
        s->payload = arena_strndup(a, body, len);
        s->payload_len = len;
    }
    return sig_validate(s, err);
}

int adapter_pagerduty_change_parse(adapter_input *in, const char *body, size_t len, int64_t now_ms,
                                   const adapter_limits *lim, arena *a, sig_signal **out, size_t *n,
                                   adapter_error *err)
{
    return parse_one(change_read, in, body, len, now_ms, lim, a, out, n, err);
}
