/* routes.c: the URL table; see routes.h. */
#include "routes.h"
#include "admin.h"
#include "pipeline.h"
#include "suppress_http.h"

/* a source's routes carry its route_kind; the others, the worker */
enum { DATA_WORKER = -1 };

static const struct {
    const char  *path, *method;
    int          flags;
    http_handler handler;
    int          data;               /* a route_kind, or DATA_WORKER */
    bool         metrics_listener;   /* served on server.metrics_listen too */
} route_table[] = {
    {"/api/v1/signals/prometheus", "POST", HTTP_ROUTE_JSON_BODY, pipeline_handle, ROUTE_PROMETHEUS, false},
    {"/webhook/prometheus", "POST", HTTP_ROUTE_JSON_BODY, pipeline_handle, ROUTE_PROMETHEUS, false},
    {"/api/v1/signals/kubernetes-event", "POST", HTTP_ROUTE_JSON_BODY, pipeline_handle, ROUTE_K8S_EVENT, false},
    {"/api/v1/signals/grafana", "POST", HTTP_ROUTE_JSON_BODY, pipeline_handle, ROUTE_GRAFANA, false},
    {"/api/v1/signals/cloudevents", "POST", 0, pipeline_handle, ROUTE_CLOUDEVENTS, false},
    {"/api/v1/signals/webhook/", "POST", HTTP_ROUTE_JSON_BODY | HTTP_ROUTE_PREFIX, pipeline_handle, ROUTE_WEBHOOK, false},
    {"/api/v1/signals/pagerduty", "POST", HTTP_ROUTE_JSON_BODY, pipeline_handle, ROUTE_PAGERDUTY, false},
    {"/v2/enqueue", "POST", HTTP_ROUTE_JSON_BODY, pipeline_handle, ROUTE_PAGERDUTY, false},
    {"/api/v1/signals/pagerduty/change", "POST", HTTP_ROUTE_JSON_BODY, pipeline_handle, ROUTE_PAGERDUTY_CHANGE, false},
    {"/v2/change/enqueue", "POST", HTTP_ROUTE_JSON_BODY, pipeline_handle, ROUTE_PAGERDUTY_CHANGE, false},
    {"/healthz", "GET", 0, admin_healthz, DATA_WORKER, true},
    {"/readyz", "GET", 0, admin_readyz, DATA_WORKER, true},
    {"/metrics", "GET", 0, admin_metrics, DATA_WORKER, true},
    {"/api/v1/suppressions", "GET", 0, suppress_http_list, DATA_WORKER, true},
};

#define N_ROUTES (sizeof route_table / sizeof route_table[0])
_Static_assert(N_ROUTES <= sizeof ((worker *)0)->routes / sizeof(http_route), "worker.routes is too small");

void routes_init(worker *w)
{
    for (int k = 0; k < ROUTE_KIND_COUNT; k++) w->rc[k] = (route_ctx){w, (route_kind)k};
    w->nroutes = w->nmroutes = 0;
    size_t mcap = sizeof w->mroutes / sizeof w->mroutes[0];
    for (size_t i = 0; i < N_ROUTES; i++) {
        void *data = route_table[i].data == DATA_WORKER ? (void *)w : (void *)&w->rc[route_table[i].data];
        http_route r = {route_table[i].path, route_table[i].method, route_table[i].flags, route_table[i].handler, data};
        w->routes[w->nroutes++] = r;
        if (route_table[i].metrics_listener && w->nmroutes < mcap) w->mroutes[w->nmroutes++] = r;
    }
}
