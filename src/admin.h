/* admin.h: what the operator and the orchestrator ask of the gateway: /healthz (the process
 * answers), /readyz (every worker can serve), /metrics (the Prometheus text), and the HTTP
 * observer that counts and logs every answered request. */
#ifndef SGW_ADMIN_H
#define SGW_ADMIN_H
#include "gateway.h"
#include "http/server.h"

/* http handlers; data is the worker (borrowed) whose loop serves the request. */
void admin_healthz(http_request *req, void *data);
void admin_readyz(http_request *req, void *data);
void admin_metrics(http_request *req, void *data);

/* http_observer: request metrics and the log line of each error answer. */
void admin_observe(const http_request *req, int status, double seconds, void *data);

#endif
