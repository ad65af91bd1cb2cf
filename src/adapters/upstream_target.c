/* upstream_target.c: upstream Kubernaut's choice of an alert's target; see upstream_target.h. */
#include "adapters/upstream_target.h"

#include <string.h>

/* The label keys upstream's discovery registry maps to a kind (singular resource names of
 * the core, apps, batch, autoscaling and policy groups), with upstream's tiers. Discovery
 * finds more on a cluster with CRDs; these are the ones an alert about a workload names. */
static const struct {
    const char *label, *kind;
    int         tier;
} kinds[] = {
    {"deployment", "Deployment", 1},
    {"statefulset", "StatefulSet", 1},
    {"daemonset", "DaemonSet", 1},
    {"cronjob", "CronJob", 1},
    {"deploymentconfig", "DeploymentConfig", 1},
    {"replicaset", "ReplicaSet", 2},
    {"job", "Job", 2},   /* reserved below: Prometheus' scrape job, never a target */
    {"persistentvolumeclaim", "PersistentVolumeClaim", 2},
    {"persistentvolume", "PersistentVolume", 2},
    {"configmap", "ConfigMap", 2},
    {"secret", "Secret", 2},
    {"horizontalpodautoscaler", "HorizontalPodAutoscaler", 2},
    {"poddisruptionbudget", "PodDisruptionBudget", 2},
    {"replicationcontroller", "ReplicationController", 2},
    {"pod", "Pod", 3},
    {"node", "Node", 3},
};

static bool reserved(const char *k)
{
    static const char *const r[] = {"job", "service", "instance", "endpoint", "container", "namespace"};
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (strcmp(k, r[i]) == 0) return true;
    return false;
}

/* upstream's isValidK8sName: a DNS-1123 subdomain (lower case, digits, '-', '.', at most
 * 253, alphanumeric at both ends) */
static bool k8s_name(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 253) return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !((c == '-' || c == '.') && i > 0 && i < n - 1)) return false;
    }
    return true;
}

void upstream_target_pick(sig_signal *s)
{
    const char *ns = sig_map_get(&s->labels, "exported_namespace");
    if (!ns || !k8s_name(ns)) ns = sig_map_get(&s->labels, "namespace");
    if (ns && !k8s_name(ns)) ns = NULL;
    int best = -1;
    for (size_t i = 0; i < s->labels.n; i++) {
        const sig_kv *kv = &s->labels.items[i];
        if (reserved(kv->key) || !k8s_name(kv->value)) continue;
        for (int k = 0; k < (int)(sizeof kinds / sizeof kinds[0]); k++) {
            if (strcmp(kv->key, kinds[k].label) != 0) continue;
            if (best < 0 || kinds[k].tier < kinds[best].tier ||
                (kinds[k].tier == kinds[best].tier && strcmp(kinds[k].kind, kinds[best].kind) < 0)) {
                best = k;
                s->res_name = kv->value;
            }
            break;
        }
    }
    s->kind = best >= 0 ? kinds[best].kind : "Unknown";
    if (best < 0) s->res_name = "unknown";
    /* cluster-scoped kinds have no namespace; a namespaced one without any: upstream's "default" */
    bool cluster_scoped = best >= 0 && (strcmp(kinds[best].kind, "Node") == 0 || strcmp(kinds[best].kind, "PersistentVolume") == 0);
    s->res_namespace = cluster_scoped ? "" : ns ? ns : "default";
}
