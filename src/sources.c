/* sources.c: the table of signal sources; see sources.h. */
#include "sources.h"
#include "pagerduty_reply.h"

static const source_def table[ROUTE_KIND_COUNT] = {
    [ROUTE_PROMETHEUS] = {ROUTE_PROMETHEUS, "prometheus", "prometheus", adapter_prometheus_parse, true, NULL},
    [ROUTE_K8S_EVENT] = {ROUTE_K8S_EVENT, "kubernetes-event", "kubernetes-events", adapter_k8s_event_parse, false, NULL},
    [ROUTE_GRAFANA] = {ROUTE_GRAFANA, "grafana", "grafana", adapter_grafana_parse, true, NULL},
    [ROUTE_CLOUDEVENTS] = {ROUTE_CLOUDEVENTS, "cloudevents", "cloudevents", NULL, false, adapter_cloudevents_parse},
    [ROUTE_PAGERDUTY] = {.kind = ROUTE_PAGERDUTY, .name = "pagerduty", .source_type = "pagerduty",
                         .parse_req = adapter_pagerduty_parse, .reply = pagerduty_reply,
                         .credential = pagerduty_credential},
};

const source_def *source_get(route_kind kind) { return &table[kind]; }
