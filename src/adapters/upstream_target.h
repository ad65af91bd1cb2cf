/* upstream_target.h: which resource an Alertmanager alert names, by upstream Kubernaut's
 * rules (pkg/gateway/adapters/prometheus_adapter.go extractTargetResource, #184, #1067),
 * for the kubernaut.ai contract; the design's contract keeps gateway.md section 3's order. */
#ifndef SGW_UPSTREAM_TARGET_H
#define SGW_UPSTREAM_TARGET_H
#include "sig.h"

/* Re-picks s->kind, s->res_name and s->res_namespace from s->labels: every label whose key
 * names a kind (deployment, pod, node, ...) and whose value is a Kubernetes name is a
 * candidate, except the scrape target's own labels (job, service, instance, endpoint,
 * container, namespace); controllers (Deployment, StatefulSet, DaemonSet, CronJob) win over
 * other kinds, which win over Pod and Node; ties by kind name. The namespace is
 * exported_namespace before namespace. Nothing found: kind "Unknown", name "unknown".
 * Strings stay borrowed from the labels. */
void upstream_target_pick(sig_signal *s);

#endif
