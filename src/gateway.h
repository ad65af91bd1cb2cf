/* gateway.h: the process-wide runtime shared by the worker threads, and one worker.
 * The config + authenticator pair is immutable and swapped as one pointer on SIGHUP; a
 * request reads it once at its start and keeps using that pair (old ones are retired, not
 * freed, until exit). */
#ifndef SGW_GATEWAY_H
#define SGW_GATEWAY_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "audit.h"
#include "auth.h"
#include "config.h"
#include "http/server.h"
#include "k8s/client.h"
#include "k8s/kubeconfig.h"
#include "signature.h"
#include "sink/sink.h"
#include "state/memory.h"
#include "state/store.h"
#include "util/defer.h"

typedef struct gw_runtime {
    config            *cfg;
    auth              *auth;
    signature_key     *grafana_key;  /* sources.grafana_hmac_secret_file's, or NULL: not checked */
    struct gw_runtime *retired;     /* previous runtimes, freed at exit */
} gw_runtime;

typedef struct gateway {
    _Atomic(gw_runtime *) rt;
    atomic_int            inflight;
    atomic_int            inflight_alerts;   /* signals of the requests in flight (admission) */
    atomic_bool           draining;
    store_memory_shared  *mem;      /* embedded state (NULL in Redis mode) */
    k8s_config           *kcfg;     /* API server connection (NULL if neither sink nor auth use it) */
    struct rr_index      *rrx;      /* kubernaut.ai RRs by fingerprint (state.url kubernetes), or NULL */
    struct k8s_informer  *informer; /* feeds rrx: list+watch on worker 0's loop, or NULL */
    struct k8s_target_cache *targets;   /* kubernaut.ai with the API: owners and scope, or NULL */
    char                  rr_namespace[64];   /* kubernaut.ai: where every RR goes */
    http_tls             *tls;      /* the listeners' TLS context (server.tls_cert_file), or NULL */
    struct audit         *audit;    /* the audit trail's writer (audit.file), or NULL */
    struct worker        *workers;  /* all of them, for /readyz */
    int                   n_workers;
} gateway;

typedef enum {
    ROUTE_PROMETHEUS,
    ROUTE_K8S_EVENT,
    ROUTE_GRAFANA,
    ROUTE_CLOUDEVENTS,
    ROUTE_WEBHOOK,        /* mapped JSON webhooks: /api/v1/signals/webhook/<name> */
    ROUTE_PAGERDUTY,
    ROUTE_PAGERDUTY_CHANGE,   /* PagerDuty change events: /v2/change/enqueue */
    ROUTE_KIND_COUNT
} route_kind;   /* sources.c: a row each */

typedef struct worker worker;

typedef struct route_ctx {
    worker     *w;
    route_kind  kind;
} route_ctx;

struct worker {
    gateway     *gw;
    int          id;
    uv_loop_t    loop;
    defer_queue  defer;             /* the loop's deferred callbacks (memory store, auth) */
    pthread_t    thread;
    store       *st;
    sink        *sk;
    k8s_client  *kc;                /* NULL unless the Kubernetes sink or auth is on */
    http_server *srv;
    http_server *msrv;              /* metrics listener (worker 0 only), or NULL */
    int          listen_fd, metrics_fd;
    uv_async_t   wake;              /* drain / stop requests from the main thread */
    uv_timer_t   flush_timer;       /* storm RR updates (worker 0; storm_flush.h) */
    uv_prepare_t log_prep;          /* writes the iteration's log lines before the loop blocks */
    audit_port   audit_port;        /* the audit writer's confirmations (audit.required) */
    bool         flushing;          /* a storm flush is running */
    route_ctx    rc[ROUTE_KIND_COUNT];   /* each source's routes' data */
    http_route   routes[16];        /* what the listener serves (routes.h) */
    size_t       nroutes;
    http_route   mroutes[8];        /* what the metrics listener serves */
    size_t       nmroutes;
    int          drained;           /* servers fully drained */
    atomic_int   stop;              /* 1 = drain requested */
};

static inline gw_runtime *gw_runtime_get(gateway *g) { return atomic_load(&g->rt); }

/* The store's parameters from a config, for each call (a reload applies to the next one). */
static inline void gw_store_params(const config *c, store_params *sp)
{
    sp->dedup_ttl_ms = c->dedup_ttl_ms;
    sp->lease_ms = c->lease_ms;
    /* kubernaut.ai's RR has no storm fields: storms are detected, never folded (decision 014) */
    sp->storm_enabled = c->storm_enabled && config_rr_contract(c) == RR_CONTRACT_REMEDIATION;
    sp->rate_threshold = c->storm_rate_threshold;
    sp->rate_window_ms = c->storm_rate_window_ms;
    sp->pattern_threshold = c->storm_pattern_threshold;
    sp->pattern_window_ms = c->storm_pattern_window_ms;
    sp->storm_window_ms = c->storm_window_ms;
    sp->storm_flag_ttl_ms = c->storm_flag_ttl_ms;
    sp->storm_update_interval_ms = c->storm_update_interval_ms;
    sp->storm_max_resources = c->storm_max_resources;
}

#endif
