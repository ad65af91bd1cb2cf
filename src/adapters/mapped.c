/* mapped.c: any JSON webhook, read by the mapping its URL names (config `webhooks:`,
 * docs/sources.md): where the alerts are, and the path of each field within an alert.
 * One signal per alert; paths are util/jpath.h's. */
#include "adapters/adapter.h"
#include "adapters/json_util.h"
#include "config.h"
#include "util/hash.h"
#include "util/jpath.h"
#include "util/timeutil.h"
#include "util/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Latest start time taken as Unix seconds: 9999-12-31T23:59:59Z. */
#define MAX_UNIX_S 253402300799.0

/* Where an alert is, for messages: "data.alerts.3." (the list's path and index), or "" for a
 * body that is one alert. */
typedef struct where {
    const char *list;
    long        idx;
} where;

static int fail_at(adapter_error *err, adapter_status st, const where *w, const jpath *p, const char *what,
                   const char *field)
{
    if (w->list)
        return ajson_fail(err, st, "%s.%ld.%s: %s (fields.%s)", w->list, w->idx, p->text, what, field);
    return ajson_fail(err, st, "%s: %s (fields.%s)", p->text, what, field);
}

/* A number as text: integers as such, others in the shortest of %.15g / %.17g that reads
 * back as the same double. */
static const char *number_text(const cJSON *v, arena *a)
{
    double d = v->valuedouble;
    if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && (double)(long long)d == d)
        return arena_printf(a, "%lld", (long long)d);
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", d);
    if (strtod(buf, NULL) != d) snprintf(buf, sizeof buf, "%.17g", d);
    return arena_strdup(a, buf);
}

/* The string (or number, as text) field k of alert al: *out, or NULL when the field is not
 * mapped or (not required) absent. A fixed value (config-checked) is taken as it is. */
static int text_field(const cfg_webhook *m, int k, bool required, const cJSON *al, const where *w, arena *a,
                      const char **out, adapter_error *err)
{
    const jpath *p = &m->field[k];
    *out = m->value[k];
    if (!p->text) return ADAPTER_OK;
    const cJSON *v = jpath_get(al, p);
    const char *field = config_webhook_field_names[k];
    if (!v) return required ? fail_at(err, ADAPTER_E_MISSING, w, p, "missing", field) : ADAPTER_OK;
    if (cJSON_IsString(v)) *out = v->valuestring;
    else if (cJSON_IsNumber(v)) *out = number_text(v, a);
    else if (cJSON_IsObject(v)) return fail_at(err, ADAPTER_E_TYPE, w, p, "an object where a string is needed", field);
    else if (cJSON_IsArray(v)) return fail_at(err, ADAPTER_E_TYPE, w, p, "an array where a string is needed", field);
    else return fail_at(err, ADAPTER_E_TYPE, w, p, "expected a string or a number", field);
    if (required && !**out) return fail_at(err, ADAPTER_E_MISSING, w, p, "empty", field);
    return ADAPTER_OK;
}

/* An object of string or number values (labels, annotations) appended to *m. */
static int map_field(const cfg_webhook *mp, int k, const cJSON *al, const where *w, arena *a, sig_map *m,
                     adapter_error *err)
{
    const jpath *p = &mp->field[k];
    if (!p->text) return ADAPTER_OK;
    const cJSON *v = jpath_get(al, p);
    const char *field = config_webhook_field_names[k];
    if (!v) return ADAPTER_OK;
    if (!cJSON_IsObject(v)) return fail_at(err, ADAPTER_E_TYPE, w, p, "expected an object", field);
    size_t n = 0;
    for (const cJSON *c = v->child; c; c = c->next) n++;
    if (n > AJSON_MAX_LABELS)
        return ajson_fail(err, ADAPTER_E_TYPE, "%s: %zu entries, more than the limit of %d (fields.%s)", p->text, n,
                          AJSON_MAX_LABELS, field);
    sig_kv *items = arena_alloc(a, (m->n + n + 2) * sizeof *items);
    if (m->n) memcpy(items, m->items, m->n * sizeof *items);
    m->items = items;
    for (const cJSON *c = v->child; c; c = c->next) {
        const char *val;
        if (cJSON_IsString(c)) val = c->valuestring;
        else if (cJSON_IsNumber(c)) val = number_text(c, a);
        else if (w->list)
            return ajson_fail(err, ADAPTER_E_TYPE, "%s.%ld.%s.%.*s: expected a string or a number (fields.%s)",
                              w->list, w->idx, p->text, AJSON_KEY(c->string), field);
        else
            return ajson_fail(err, ADAPTER_E_TYPE, "%s.%.*s: expected a string or a number (fields.%s)", p->text,
                              AJSON_KEY(c->string), field);
        m->items[m->n++] = (sig_kv){c->string, val};
    }
    return ADAPTER_OK;
}

/* starts_at: an RFC 3339 string, or Unix seconds as a number or a string of digits. */
static int time_field(const cfg_webhook *m, const cJSON *al, const where *w, int64_t *ms, adapter_error *err)
{
    const jpath *p = &m->field[CFG_WH_STARTS_AT];
    *ms = 0;
    if (!p->text) return ADAPTER_OK;
    const cJSON *v = jpath_get(al, p);
    if (!v) return ADAPTER_OK;
    double sec = -1;
    if (cJSON_IsNumber(v)) {
        sec = v->valuedouble;
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t len = strlen(s), digits = strspn(s, "0123456789");
        if (len > 0 && digits == len && len <= 12) {
            sec = strtod(s, NULL);
        } else {
            int64_t t;
            if (time_parse_rfc3339(s, len, &t) != 0)
                return fail_at(err, ADAPTER_E_TYPE, w, p, "not an RFC 3339 time or Unix seconds", "starts_at");
            *ms = t > 0 ? t : 0;
            return ADAPTER_OK;
        }
    } else {
        return fail_at(err, ADAPTER_E_TYPE, w, p, "expected an RFC 3339 string or Unix seconds", "starts_at");
    }
    if (!(sec >= 0 && sec <= MAX_UNIX_S))
        return fail_at(err, ADAPTER_E_TYPE, w, p, "Unix seconds out of range", "starts_at");
    *ms = (int64_t)(sec * 1000.0);
    return ADAPTER_OK;
}

static const char *ascii_lower(arena *a, const char *s)
{
    size_t n = strlen(s);
    char *o = arena_strndup(a, s, n);
    for (size_t i = 0; i < n; i++)
        if (o[i] >= 'A' && o[i] <= 'Z') o[i] = (char)(o[i] - 'A' + 'a');
    return o;
}

/* The design contract's fingerprint with a dedup key: SHA-256 hex of
 * "name:namespace:kind:resource:dedup_key" (sig_fingerprint's key, the dedup key appended). */
static void fingerprint_with_key(sig_signal *s, const char *key, arena *a)
{
    const char *j = arena_cat(a, s->name, ":", s->namespace, ":", s->kind, ":", s->res_name, ":", key, (char *)NULL);
    hash_sha256_hex(j, strlen(j), s->fingerprint);
}

static int parse_alert(const cfg_webhook *m, const cJSON *al, const where *w, int64_t now_ms,
                       const adapter_limits *lim, arena *a, sig_signal *s, adapter_error *err)
{
    const char *v[CFG_WH_NFIELDS] = {0};
    static const bool required[CFG_WH_NFIELDS] = {[CFG_WH_NAME] = true, [CFG_WH_KIND] = true,
                                                  [CFG_WH_RESOURCE] = true};
    static const int texts[] = {CFG_WH_NAME, CFG_WH_NAMESPACE, CFG_WH_KIND, CFG_WH_RESOURCE,
                                CFG_WH_SEVERITY, CFG_WH_STATUS, CFG_WH_DEDUP_KEY};
    int rc;
    if (!cJSON_IsObject(al)) {
        if (w->list) return ajson_fail(err, ADAPTER_E_TYPE, "%s.%ld: expected an object (an alert)", w->list, w->idx);
        return ajson_fail(err, ADAPTER_E_TYPE, "the body: expected a JSON object (one alert)");
    }
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if ((rc = text_field(m, texts[i], required[texts[i]], al, w, a, &v[texts[i]], err))) return rc;
    if ((rc = time_field(m, al, w, &s->firing_ms, err))) return rc;
    s->labels = (sig_map){0};
    s->annotations = (sig_map){0};
    if ((rc = map_field(m, CFG_WH_LABELS, al, w, a, &s->labels, err))) return rc;
    if ((rc = map_field(m, CFG_WH_ANNOTATIONS, al, w, a, &s->annotations, err))) return rc;
    /* our labels last, so they win over the body's own of the same name */
    if (!s->labels.items) s->labels.items = arena_alloc(a, 2 * sizeof *s->labels.items);
    if (v[CFG_WH_SEVERITY]) s->labels.items[s->labels.n++] = (sig_kv){"severity", v[CFG_WH_SEVERITY]};
    if (v[CFG_WH_DEDUP_KEY]) s->labels.items[s->labels.n++] = (sig_kv){"dedup_key", v[CFG_WH_DEDUP_KEY]};
    sig_map_sort_dedup(&s->labels);
    sig_map_sort_dedup(&s->annotations);

    s->name = v[CFG_WH_NAME];
    s->kind = v[CFG_WH_KIND];
    s->res_name = v[CFG_WH_RESOURCE];
    s->namespace = v[CFG_WH_NAMESPACE] ? v[CFG_WH_NAMESPACE] : "";
    s->res_namespace = s->namespace;
    s->severity = v[CFG_WH_SEVERITY] ? sig_severity_parse(ascii_lower(a, v[CFG_WH_SEVERITY])) : SEV_WARNING;
    s->status = SIG_FIRING;
    if (v[CFG_WH_STATUS])
        for (size_t i = 0; i < m->n_resolved; i++)
            if (strcasecmp(v[CFG_WH_STATUS], m->resolved[i]) == 0) s->status = SIG_RESOLVED;
    s->am_fingerprint[0] = '\0';
    s->received_ms = now_ms;
    s->ends_ms = 0;
    s->signal_type = "webhook";
    s->source = arena_cat(a, "webhook/", m->name, (char *)NULL);
    s->payload_json = al;   /* printed only if an RR is made */
    if (v[CFG_WH_DEDUP_KEY]) fingerprint_with_key(s, v[CFG_WH_DEDUP_KEY], a);
    else sig_fingerprint(s);
    if (lim->fresh && s->firing_ms &&
        (rc = adapter_check_freshness(m->field[CFG_WH_STARTS_AT].text, NULL, s->firing_ms, now_ms, lim, false, err)))
        return rc;
    return sig_validate(s, err);
}

static int parse_mapped(const cfg_webhook *m, const cJSON *root, int64_t now_ms, const adapter_limits *lim,
                        arena *a, sig_signal **out, size_t *n, adapter_error *err)
{
    where w = {NULL, 0};
    if (!m->alerts.text) {
        sig_signal *s = arena_calloc(a, sizeof *s);
        int rc = parse_alert(m, root, &w, now_ms, lim, a, s, err);
        if (rc) return rc;
        *out = s;
        *n = 1;
        return ADAPTER_OK;
    }
    const cJSON *list = jpath_get(root, &m->alerts);
    if (!list) return ajson_fail(err, ADAPTER_E_MISSING, "%s: missing (alerts)", m->alerts.text);
    if (!cJSON_IsArray(list)) return ajson_fail(err, ADAPTER_E_TYPE, "%s: expected an array of alerts (alerts)", m->alerts.text);
    size_t count = 0;
    for (const cJSON *c = list->child; c; c = c->next) count++;
    if (count == 0) return ajson_fail(err, ADAPTER_E_EMPTY, "%s is empty", m->alerts.text);
    if (count > lim->max_alerts)
        return ajson_fail(err, ADAPTER_E_TOO_MANY, "%s: %zu alerts, more than adapters.max_alerts (%zu)",
                          m->alerts.text, count, lim->max_alerts);
    sig_signal *sigs = arena_calloc(a, count * sizeof *sigs);
    w.list = m->alerts.text;
    for (const cJSON *c = list->child; c; c = c->next, w.idx++) {
        int rc = parse_alert(m, c, &w, now_ms, lim, a, &sigs[w.idx], err);
        if (rc) return rc;
    }
    *out = sigs;
    *n = count;
    return ADAPTER_OK;
}

int adapter_mapped_parse(const struct cfg_webhook *m, const char *body, size_t len, int64_t now_ms,
                         const adapter_limits *lim, arena *a, sig_signal **out, size_t *n, adapter_error *err)
{
    cJSON *root;
    int rc = ajson_begin(body, len, &lim, a, out, n, err, &root);
    if (rc == 0) rc = parse_mapped(m, root, now_ms, lim, a, out, n, err);
    if (rc) {
        *out = NULL;
        *n = 0;
    }
    ajson_end(root);
    return rc;
}
