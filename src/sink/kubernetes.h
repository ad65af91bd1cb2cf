/* kubernetes.h: the Kubernetes API sink: RemediationRequests created in the API server,
 * storm RRs updated with resourceVersion and conflict retries (see kubernetes.c). */
#ifndef SGW_SINK_KUBERNETES_H
#define SGW_SINK_KUBERNETES_H
#include <uv.h>

#include "k8s/client.h"
#include "sink/sink.h"

/* kc is borrowed (the worker's client, shared with auth). cm_namespace holds the
 * kubernaut-environment-overrides ConfigMap. op_timeout_ms bounds one create/update. */
sink *sink_kubernetes_open(uv_loop_t *loop, k8s_client *kc, const char *group, const char *version,
                           const char *cm_namespace, int op_timeout_ms);

/* Drops the shared namespace/ConfigMap cache (tests; memory at exit). */
void sink_kubernetes_cache_clear(void);

#endif
