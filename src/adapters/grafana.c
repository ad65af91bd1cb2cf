/* grafana.c: Grafana Alerting's webhook contact point (payload version "1") → one normalised
 * signal per alert. The body is Alertmanager's v4 shape plus Grafana's members
 * (grafana/alerting receivers/webhook/v1/webhook.go, templates/template_data.go), so the walk
 * is prometheus.c's; this file checks only what Grafana adds. */
#include "adapters/adapter.h"
#include "adapters/am_webhook.h"
#include "adapters/json_util.h"

#include <stdbool.h>
#include <string.h>

/* v is a number, integral, within [lo, 2^53] (the range is checked before the cast: a
 * double outside int64_t's range, 1e308 or inf, is undefined behaviour to convert). */
static bool is_integer(const cJSON *v, double lo)
{
    double d = v->valuedouble;
    return cJSON_IsNumber(v) && d >= lo && d <= 9007199254740992.0 && (double)(int64_t)d == d;
}

/* An integer member within [lo, 2^53]: absent → *out = 0; else ADAPTER_E_TYPE naming it. */
static int int_member(const cJSON *v, const char *name, double lo, int64_t *out, adapter_error *err)
{
    *out = 0;
    if (!v) return ADAPTER_OK;
    if (!is_integer(v, lo))
        return ajson_fail(err, ADAPTER_E_TYPE, "%s: expected an integer%s", name, lo >= 0 ? " >= 0" : "");
    *out = (int64_t)v->valuedouble;
    return ADAPTER_OK;
}

enum { R_TRUNCATED, R_ORG_ID, R_TITLE, R_STATE, R_MESSAGE, R_GROUP_KEY, R_EXTERNAL_URL, R_N };
static const char *const root_fields[R_N] = {"truncatedAlerts", "orgId", "title", "state", "message",
                                             "groupKey", "externalURL"};

static int check_root(const cJSON *root, adapter_error *err)
{
    const cJSON *v[R_N];
    ajson_get_many(root, root_fields, R_N, v);
    int64_t truncated, org;
    int rc;
    if ((rc = int_member(v[R_TRUNCATED], "truncatedAlerts", 0, &truncated, err))) return rc;
    if ((rc = int_member(v[R_ORG_ID], "orgId", -9007199254740992.0, &org, err))) return rc;
    for (int k = R_TITLE; k < R_N; k++) {
        const char *s;
        if ((rc = ajson_string_value(v[k], "", root_fields[k], &s, err))) return rc;
    }
    if (err) err->truncated = truncated;
    return ADAPTER_OK;
}

/* Per alert: the URLs and valueString are strings, values an object of numbers
 * (map[string]float64), orgId an integer. */
enum { A_VALUES, A_VALUE_STRING, A_ORG_ID, A_STRINGS, A_N = A_STRINGS + 5 };
static const char *const alert_fields[A_N] = {"values", "valueString", "orgId", "silenceURL", "dashboardURL",
                                              "panelURL", "generatorURL", "imageURL"};
_Static_assert(A_N <= AM_MAX_EXTRA, "AM_MAX_EXTRA is too small");

static int check_alert(const cJSON *const *v, const char *path, adapter_error *err)
{
    int rc;
    const char *s;
    for (int k = A_STRINGS; k < A_N; k++)
        if ((rc = ajson_string_value(v[k], path, alert_fields[k], &s, err))) return rc;
    if ((rc = ajson_string_value(v[A_VALUE_STRING], path, "valueString", &s, err))) return rc;
    if (v[A_ORG_ID] && !is_integer(v[A_ORG_ID], -9007199254740992.0))
        return ajson_fail(err, ADAPTER_E_TYPE, "%s.orgId: expected an integer", path);
    const cJSON *vals = v[A_VALUES];
    if (vals) {
        if (!cJSON_IsObject(vals)) return ajson_fail(err, ADAPTER_E_TYPE, "%s.values: expected an object", path);
        for (const cJSON *c = vals->child; c; c = c->next)
            if (!cJSON_IsNumber(c))
                return ajson_fail(err, ADAPTER_E_TYPE, "%s.values.%.*s: expected a number", path, AJSON_KEY(c->string));
    }
    return ADAPTER_OK;
}

static const am_flavour grafana = {
    .version = "1", .version_required = true, .body_name = "Grafana webhook",
    .signal_type = "grafana-alert", .source = "grafana",
    .check_root = check_root,
    .extra_alert_fields = alert_fields, .n_extra = A_N, .check_alert = check_alert,
};

int adapter_grafana_parse(const char *body, size_t len, int64_t now_ms,
                          const adapter_limits *lim, arena *a,
                          sig_signal **out, size_t *n, adapter_error *err)
{
    return adapter_am_webhook_parse(&grafana, body, len, now_ms, lim, a, out, n, err);
}
