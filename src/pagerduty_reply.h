/* pagerduty_reply.h: the PagerDuty source's answers in PagerDuty's own shape and its
 * routing_key as a credential (the source table's reply and credential hooks, sources.h). */
#ifndef SGW_PAGERDUTY_REPLY_H
#define SGW_PAGERDUTY_REPLY_H
#include "sources.h"

/* source_reply_fn: 201 and 202 → 202 {"status":"success","message":"Event processed",
 * "dedup_key":…}; a rejection → its status with {"status":"invalid event","message":"Event
 * object is invalid","errors":[…]} (the adapter's lines); 503 → 503 {"status":"retry",
 * "message":…,"errors":[code]}. */
int pagerduty_reply(int code, const sig_signal *sigs, size_t n, const char *err_code, const char *err_message,
                    struct jsonw *w);

/* The same for change events (/v2/change/enqueue): success is 202 {"status":"success",
 * "message":"Change event processed"} (PagerDuty's answer; no dedup_key). */
int pagerduty_change_reply(int code, const sig_signal *sigs, size_t n, const char *err_code,
                           const char *err_message, struct jsonw *w);

/* source_credential_fn: "Bearer <routing_key>" when the body is a JSON object with a
 * routing_key string (no other check: the adapter checks the event after auth), else NULL. */
const char *pagerduty_credential(const char *body, size_t len, int max_depth, arena *a);

#endif
