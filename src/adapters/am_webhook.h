/* am_webhook.h: the Alertmanager webhook walk (prometheus.c) shared by the bodies built on
 * Alertmanager's shape. A flavour names what differs: the version string, the names the
 * signals carry, and the extra members checked at the top and in each alert (Grafana's). */
#ifndef SGW_ADAPTERS_AM_WEBHOOK_H
#define SGW_ADAPTERS_AM_WEBHOOK_H
#include <cjson/cJSON.h>
#include <stdbool.h>

#include "adapters/adapter.h"

#define AM_MAX_EXTRA 10   /* extra alert members a flavour may check */

typedef struct am_flavour {
    const char *version;            /* the body's "version" */
    bool        version_required;   /* absent is a 400 (Alertmanager: absent is accepted) */
    const char *body_name;          /* for messages: "Alertmanager webhook" */
    const char *signal_type;        /* sig_signal.signal_type, .source (static strings) */
    const char *source;
    /* Checks the top-level members beyond Alertmanager's (root borrowed); 0 or an
     * ADAPTER_E_* with err set; may set err->truncated. NULL: none. */
    int (*check_root)(const cJSON *root, adapter_error *err);
    /* Checks each alert's extra members: v[k] = the member extra_alert_fields[k] names, NULL
     * if absent (found in the same walk as the alert's own members); path "alerts[i]". */
    const char *const *extra_alert_fields;
    size_t      n_extra;            /* at most AM_MAX_EXTRA */
    int (*check_alert)(const cJSON *const *v, const char *path, adapter_error *err);
} am_flavour;

/* The webhook of flavour fl (borrowed) → signals, as adapter_prometheus_parse. */
int adapter_am_webhook_parse(const am_flavour *fl, const char *body, size_t len, int64_t now_ms,
                             const adapter_limits *lim, arena *a, sig_signal **out, size_t *n, adapter_error *err);

#endif
