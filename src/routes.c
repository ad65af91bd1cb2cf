/* routes.c: the URL table; see routes.h. */
#include "routes.h"
#include "admin.h"
#include "pipeline.h"

typedef enum { DATA_PROMETHEUS, DATA_K8S_EVENT, DATA_WORKER } route_data;

static const struct {
    const char  *path, *method;
    int          flags;
    http_handler handler;
    route_data   data;
    bool         metrics_listener;   /* served on server.metrics_listen too */
} route_table[] = {
    {"/api/v1/signals/prometheus", "POST", HTTP_ROUTE_JSON_BODY, pipeline_handle, DATA_PROMETHEUS, false},
    {"/webhook/prometheus", "POST", HTTP_ROUTE_JSON_BODY, pipeline_handle, DATA_PROMETHEUS, false},
    {"/api/v1/signals/kubernetes-event", "POST", HTTP_ROUTE_JSON_BODY, pipeline_handle, DATA_K8S_EVENT, false},
    {"/healthz", "GET", 0, admin_healthz, DATA_WORKER, true},
    {"/readyz", "GET", 0, admin_readyz, DATA_WORKER, true},
    {"/metrics", "GET", 0, admin_metrics, DATA_WORKER, true},
};

#define N_ROUTES (sizeof route_table / sizeof route_table[0])
_Static_assert(N_ROUTES <= sizeof ((worker *)0)->routes / sizeof(http_route), "worker.routes is too small");

void routes_init(worker *w)
{
    w->rc_prom = (route_ctx){w, ROUTE_PROMETHEUS};
    w->rc_event = (route_ctx){w, ROUTE_K8S_EVENT};
    w->nroutes = w->nmroutes = 0;
    size_t mcap = sizeof w->mroutes / sizeof w->mroutes[0];
    for (size_t i = 0; i < N_ROUTES; i++) {
        void *data = route_table[i].data == DATA_PROMETHEUS ? (void *)&w->rc_prom
                   : route_table[i].data == DATA_K8S_EVENT  ? (void *)&w->rc_event
                                                            : (void *)w;
        http_route r = {route_table[i].path, route_table[i].method, route_table[i].flags, route_table[i].handler, data};
        w->routes[w->nroutes++] = r;
        if (route_table[i].metrics_listener && w->nmroutes < mcap) w->mroutes[w->nmroutes++] = r;
    }
}
