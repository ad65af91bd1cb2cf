/* target.h: what a signal's Kubernetes resource stands for, decided as upstream Kubernaut's
 * gateway decides it: the top controller owner that the fingerprint names (Pod → ReplicaSet →
 * Deployment, Pod → Job → CronJob, ...), and whether that owner is in Kubernaut's scope (the
 * label kubernaut.ai/managed on it, else on its namespace), through the Kubernetes API.
 *
 * Owner resolution (upstream pkg/gateway/adapters/owner_resolver.go, ResolveTopLevelOwner):
 *  - a kind outside the lookup table (Pod, Node, Service, ConfigMap, Secret, Namespace,
 *    PersistentVolume, ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob) is its
 *    own owner, read nothing;
 *  - a Service stands for the first Pod, by name, that its spec.selector matches (none, no
 *    selector, or no Service: the Service itself);
 *  - otherwise the object is read and its ownerReference with controller: true followed, at
 *    most 5 objects; the last reference found is the owner;
 *  - the signal's resource itself missing is SGW_E_NOTFOUND (upstream drops the signal); an
 *    owner missing further up ends the chain at that owner, as named by the reference.
 * Scope (upstream pkg/shared/scope/manager.go, IsManagedResource), on the owner:
 *  - its label kubernaut.ai/managed "true" or "false" decides (any other value counts as none);
 *  - else, for a namespaced owner, its namespace's label; a namespace without it, or missing:
 *    unmanaged; a cluster-scoped owner (or no namespace) without it: unmanaged.
 * Where upstream would answer differently after an API failure (a 5xx, a timeout, a refused
 * read), this module answers SGW_E_UNAVAILABLE instead: never a fingerprint or a scope that
 * the API server's state would not give.
 * Cache (one table per process, shared by the workers behind one mutex, max_entries at most,
 * oldest out): what each read taught about an object (its controller reference and managed
 * label, or that it does not exist; a namespace's label) and each question's answer. A
 * resolution reads only the objects it has no recent enough fact about: a new pod of a
 * known Deployment costs one read. An answer is given at most its TTL (ttl_ms managed,
 * negative_ttl_ms unmanaged or not found) after the oldest read it rests on, as if its whole
 * chain had been read then: a label or reference changed shows within the TTL of the answer
 * it changes. */
#ifndef SGW_K8S_TARGET_H
#define SGW_K8S_TARGET_H
#include <stddef.h>

#include "k8s/client.h"
#include "util/defer.h"
#include "util/err.h"

#define K8S_TARGET_KIND_MAX 63      /* bytes; longer kinds are SGW_E_INVALID */
#define K8S_TARGET_NAME_MAX 253     /* a DNS-1123 subdomain's limit; longer names are SGW_E_INVALID */
#define K8S_MANAGED_LABEL "kubernaut.ai/managed"

/* A resolution's answer (status >= 0). */
enum {
    K8S_TARGET_MANAGED = 0,     /* in scope: the signal goes on */
    K8S_TARGET_UNMANAGED = 1,   /* out of scope: upstream answers 200 "rejected" */
};

/* Where the scope answer came from. */
typedef enum {
    K8S_SCOPE_RESOURCE = 0,     /* the owner's own label */
    K8S_SCOPE_NAMESPACE = 1,    /* its namespace's label */
    K8S_SCOPE_NO_LABEL = 2,     /* neither has a valid one, or a cluster-scoped owner has none */
    K8S_SCOPE_NO_NAMESPACE = 3, /* the namespace does not exist */
} k8s_scope_source;

typedef struct k8s_target {
    char             kind[K8S_TARGET_KIND_MAX + 1];   /* the owner's kind ("Deployment") */
    char             name[K8S_TARGET_NAME_MAX + 1];   /* its name; its namespace is the signal's */
    int              hops;                            /* controller references followed */
    k8s_scope_source scope;
} k8s_target;

typedef struct k8s_target_opts {
    int    ttl_ms;              /* a managed answer rests on reads this recent; default 30000 */
    int    negative_ttl_ms;     /* an unmanaged or not-found answer; default 5000 */
    size_t max_entries;         /* answers and facts; when full, the oldest goes; default 10000 */
    int    timeout_ms;          /* the deadline of one resolution's calls (k8s_request's: the rate
                                 * limiter and retries; an attempt in flight ends at the client's
                                 * own timeout); default 5000, upstream's lookup timeout */
} k8s_target_opts;

/* status: K8S_TARGET_MANAGED or K8S_TARGET_UNMANAGED with t set; SGW_E_NOTFOUND (the
 * resource does not exist), SGW_E_INVALID (a kind or name no object can have) or
 * SGW_E_UNAVAILABLE (the API server did not answer, answered 5xx, or refused a read: 503)
 * with t NULL. t is valid during the callback. */
typedef void (*k8s_target_cb)(int status, const k8s_target *t, void *ctx);

typedef struct k8s_target_cache k8s_target_cache;

/* The process-wide cache, shared by every worker (one mutex). o may be NULL (defaults); a
 * field left 0 takes its default. */
k8s_target_cache *k8s_target_cache_new(const k8s_target_opts *o);
/* After every resolution using tc has called back. */
void k8s_target_cache_free(k8s_target_cache *tc);
void k8s_target_cache_clear(k8s_target_cache *tc);

/* The answer when it needs no I/O (a cached one, one that facts from earlier reads give, an
 * input no object can have, a kind that reads nothing and a namespace that needs no read),
 * with *out set for the statuses >= 0;
 * SGW_E_AGAIN when only k8s_target_resolve can answer; SGW_E_UNAVAILABLE when I/O is needed
 * and kc is NULL. Like auth_try: a caller with an answer goes on at once.
 * ns: "" for none; kind, name: the signal's resource. All borrowed for the call. */
int k8s_target_try(k8s_target_cache *tc, k8s_client *kc, const char *ns, const char *kind, const char *name,
                   k8s_target *out);

/* The same decision, reading the API server through kc (the worker's client) when needed.
 * ns, kind, name are copied. cb runs exactly once, on kc's loop, never before this returns:
 * an answer known at once goes through dq (the worker loop's queue). Answers with status
 * >= 0 and SGW_E_NOTFOUND are cached as above, and the reads that answered 200 or 404 as
 * facts; a resolution asked again on the same kc while it is in flight waits for its
 * answer. */
void k8s_target_resolve(k8s_target_cache *tc, k8s_client *kc, defer_queue *dq, const char *ns, const char *kind,
                        const char *name, k8s_target_cb cb, void *ctx);

/* Upstream's cluster-aware fingerprint (pkg/gateway/types/fingerprint.go,
 * CalculateClusterAwareFingerprint): lowercase hex SHA-256 of "cluster:ns:kind:name", or of
 * "ns:kind:name" when cluster is NULL or "" (ns "" stays an empty field: ":Node:w1"). */
void k8s_target_fingerprint(const char *cluster, const char *ns, const char *kind, const char *name, char out[65]);

#endif
