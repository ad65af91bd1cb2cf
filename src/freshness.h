/* freshness.h: upstream Kubernaut's replay checks of a signal request (its
 * pkg/gateway/middleware timestamp.go, alertmanager_freshness.go, event_freshness.go), run
 * by the pipeline before it parses a body. On by default only under the kubernaut.ai
 * contract (adapters.freshness: auto); see docs/decisions/015-freshness-checks.md. */
#ifndef SGW_FRESHNESS_H
#define SGW_FRESHNESS_H
#include <stdbool.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "config.h"
#include "gateway.h"

/* Whether c turns the checks on: adapters.freshness on, or auto under kubernaut.ai. */
bool freshness_enabled(const config *c);

/* The checks of one request to a route of kind, as upstream wires them:
 * - Alertmanager webhooks: an X-Timestamp header (x_timestamp, borrowed; NULL or empty if
 *   none), when sent, must be a Unix time in seconds no older than
 *   adapters.freshness_tolerance and no later than now + adapters.freshness_clock_skew, and
 *   the body is not checked; without it the adapter checks the alerts' startsAt (lim).
 * - Kubernetes Events: no header; the adapter checks the Event's time, both ways (lim).
 * Returns 0, having set lim's freshness fields for the adapter, or an adapter_status with
 * the message in err (ADAPTER_E_STALE, ADAPTER_E_FUTURE, ADAPTER_E_TYPE for a header that is
 * not a Unix time). With the checks off, returns 0 and leaves lim->fresh false. */
int freshness_check(const config *c, route_kind kind, const char *x_timestamp, int64_t now_ms,
                    adapter_limits *lim, adapter_error *err);

/* X-Timestamp's value as upstream reads it (Go's strconv.ParseInt after the header's
 * surrounding blanks): 0 and the seconds in *out, or ADAPTER_E_TYPE with the reason in err
 * (not a base-10 int64, or negative). Exposed for the unit tests. */
int freshness_parse_header(const char *value, int64_t *out, adapter_error *err);

#endif
