/* rr_kai.c: the RemediationRequest of upstream Kubernaut's kubernaut.ai/v1alpha1 CRD
 * (deploy/crd/kubernaut.ai/remediationrequests.yaml), field for field; see rr.h. */
#include "sink/rr.h"
#include "util/hash.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#include <cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rr_kai_name(const char *fingerprint, int64_t sequence, char out[64])
{
    char key[96], h[65];
    int n = snprintf(key, sizeof key, "%.64s:%" PRId64, fingerprint, sequence);
    hash_sha256_hex(key, (size_t)n, h);
    snprintf(out, 64, "rr-%.12s-%.8s", fingerprint, h);
}

/* spec.severity is the provider's own value, which SignalProcessing normalises (upstream
 * DD-SEVERITY-001): an alert's severity label, else "unknown"; an Event's type ("Warning",
 * "Error"; our adapter keeps it lower-cased in a label). */
static const char *severity_of(const sig_signal *g, char buf[16])
{
    if (strcmp(g->source, "kubernetes-event") == 0) {
        const char *t = sig_map_get(&g->labels, "kubernaut.io/event-type");
        if (t && *t && strlen(t) < 16) {
            snprintf(buf, 16, "%s", t);
            if (buf[0] >= 'a' && buf[0] <= 'z') buf[0] = (char)(buf[0] - 'a' + 'A');
            return buf;
        }
        return "unknown";
    }
    const char *v = sig_map_get(&g->labels, "severity");
    size_t n = v ? strlen(v) : 0;
    return n >= 1 && n <= 50 ? v : "unknown";
}

/* spec.signalSource: upstream's adapter names */
static const char *source_of(const sig_signal *g)
{
    return strcmp(g->source, "kubernetes-event") == 0 ? "kubernetes-events" : g->source;
}

char *rr_kai_build_json(const rr_spec *s, bool pretty, char ns_out[254], char name_out[64])
{
    const sig_signal *g = s->sig;
    if (s->name) snprintf(name_out, 64, "%s", s->name);
    else rr_kai_name(g->fingerprint, s->sequence, name_out);
    snprintf(ns_out, 254, "%s", s->rr_namespace);

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "apiVersion", "kubernaut.ai/v1alpha1");
    cJSON_AddStringToObject(root, "kind", "RemediationRequest");
    cJSON *meta = cJSON_AddObjectToObject(root, "metadata");
    cJSON_AddStringToObject(meta, "name", name_out);
    cJSON_AddStringToObject(meta, "namespace", ns_out);
    cJSON *labels = cJSON_AddObjectToObject(meta, "labels");
    cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", "signal-gateway");
    cJSON_AddStringToObject(labels, "app.kubernetes.io/component", "remediation");
    cJSON *ann = cJSON_AddObjectToObject(meta, "annotations");
    rr_add_time(ann, "kubernaut.ai/created-at", s->now_ms);
    char seq[24];
    snprintf(seq, sizeof seq, "%" PRId64, s->sequence);
    cJSON_AddStringToObject(ann, "signal-gateway.io/sequence", seq);
    if (s->trace_id && *s->trace_id) cJSON_AddStringToObject(ann, RR_TRACE_ANNOTATION, s->trace_id);

    cJSON *spec = cJSON_AddObjectToObject(root, "spec");
    cJSON_AddStringToObject(spec, "signalFingerprint", g->fingerprint);
    cJSON_AddStringToObject(spec, "signalName", g->name);
    char sev[16];
    cJSON_AddStringToObject(spec, "severity", severity_of(g, sev));
    cJSON_AddStringToObject(spec, "signalType", "alert");
    cJSON_AddStringToObject(spec, "signalSource", source_of(g));
    cJSON_AddStringToObject(spec, "targetType", "kubernetes");
    cJSON *tr = cJSON_AddObjectToObject(spec, "targetResource");
    cJSON_AddStringToObject(tr, "kind", g->kind);
    cJSON_AddStringToObject(tr, "name", g->res_name);
    if (g->res_namespace && *g->res_namespace) cJSON_AddStringToObject(tr, "namespace", g->res_namespace);
    if (g->res_api_version && *g->res_api_version) cJSON_AddStringToObject(tr, "apiVersion", g->res_api_version);
    if (s->cluster_id && *s->cluster_id) cJSON_AddStringToObject(spec, "clusterID", s->cluster_id);
    rr_add_time(spec, "firingTime", g->firing_ms > 0 ? g->firing_ms : g->received_ms);
    rr_add_time(spec, "receivedTime", g->received_ms);
    if (g->labels.n) cJSON_AddItemToObject(spec, "signalLabels", rr_map_json(&g->labels, 63));
    if (g->annotations.n) cJSON_AddItemToObject(spec, "signalAnnotations", rr_map_json(&g->annotations, 262000));

    /* providerData: upstream's JSON text of the namespace and the untruncated labels */
    cJSON *pd = cJSON_CreateObject();
    cJSON_AddStringToObject(pd, "namespace", g->res_namespace ? g->res_namespace : "");
    cJSON_AddItemToObject(pd, "labels", rr_map_json(&g->labels, 0));
    char *pdtext = cJSON_PrintUnformatted(pd);
    cJSON_Delete(pd);
    cJSON_AddStringToObject(spec, "providerData", pdtext);
    cJSON_free(pdtext);
    size_t plen;
    char *payload = sig_payload_dup(g, s->max_payload_bytes, &plen);
    if (payload) {
        cJSON_AddStringToObject(spec, "originalPayload", payload);
        free(payload);
    }
    char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char *out = xstrdup(text);
    cJSON_free(text);
    return out;
}
