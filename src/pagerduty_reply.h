/* pagerduty_reply.h: the PagerDuty source's answers in PagerDuty's own shape (the source
 * table's reply hook, sources.h). */
#ifndef SGW_PAGERDUTY_REPLY_H
#define SGW_PAGERDUTY_REPLY_H
#include "sources.h"

/* source_reply_fn: 201 and 202 → 202 {"status":"success","message":"Event processed",
 * "dedup_key":…}; a rejection → its status with {"status":"invalid event","message":"Event
 * object is invalid","errors":[…]} (the adapter's lines); 503 → 503 {"status":"retry",
 * "message":…,"errors":[code]}. */
int pagerduty_reply(int code, const sig_signal *sigs, size_t n, const char *err_code, const char *err_message,
                    struct jsonw *w);

#endif
