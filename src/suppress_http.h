/* suppress_http.h: GET /api/v1/suppressions: the suppress: rules of the current
 * configuration, as written, and whether each is active now (docs/operations.md). */
#ifndef SGW_SUPPRESS_HTTP_H
#define SGW_SUPPRESS_HTTP_H
#include "http/server.h"

/* http handler; data is the worker (borrowed) whose loop serves the request. */
void suppress_http_list(http_request *req, void *data);

#endif
