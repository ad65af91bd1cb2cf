/* sources.c: the table of signal sources; see sources.h. */
#include "sources.h"
#include "pagerduty_reply.h"

static const source_def table[ROUTE_KIND_COUNT] = {
    /* rows name their fields: a field added later (reply, credential) is NULL in the others */
    [ROUTE_PROMETHEUS] = {.kind = ROUTE_PROMETHEUS, .name = "prometheus", .source_type = "prometheus",
                          .parse = adapter_prometheus_parse, .alerts = true},
    [ROUTE_K8S_EVENT] = {.kind = ROUTE_K8S_EVENT, .name = "kubernetes-event", .source_type = "kubernetes-events",
                         .parse = adapter_k8s_event_parse},
    [ROUTE_GRAFANA] = {.kind = ROUTE_GRAFANA, .name = "grafana", .source_type = "grafana",
                       .parse = adapter_grafana_parse, .alerts = true},
    [ROUTE_CLOUDEVENTS] = {.kind = ROUTE_CLOUDEVENTS, .name = "cloudevents", .source_type = "cloudevents",
                           .parse_req = adapter_cloudevents_parse},
    /* no parse: the body is read by the mapping the URL names (pipeline.c, adapter_mapped_parse) */
    [ROUTE_WEBHOOK] = {.kind = ROUTE_WEBHOOK, .name = "webhook", .source_type = "webhook"},
    [ROUTE_PAGERDUTY] = {.kind = ROUTE_PAGERDUTY, .name = "pagerduty", .source_type = "pagerduty",
                         .parse_req = adapter_pagerduty_parse, .reply = pagerduty_reply,
                         .credential = pagerduty_credential},
    /* change events: answered as PagerDuty does, never a signal (docs/sources.md) */
    [ROUTE_PAGERDUTY_CHANGE] = {.kind = ROUTE_PAGERDUTY_CHANGE, .name = "pagerduty-change",
                                .source_type = "pagerduty-change", .parse_req = adapter_pagerduty_change_parse,
                                .reply = pagerduty_change_reply, .credential = pagerduty_credential},
};

const source_def *source_get(route_kind kind) { return &table[kind]; }
