/* fuzz_pagerduty.c: libFuzzer target for the PagerDuty Events API v2 adapter: every input
 * goes to both of its parsers (adapter_pagerduty_parse, adapter_pagerduty_change_parse) with
 * the configuration's default limits, and through the source's reply and credential hooks.
 * Byte 0: bit 0 sets resolve_ignored (kubernaut.ai), the high bit turns the freshness check
 * on; the rest is the body. Checks the contract of adapter.h on every result (fuzz_util.h),
 * that a change event is always an ignored signal, and that every reply is valid JSON. */
#include "adapters/adapter.h"
#include "fuzz_util.h"
#include "pagerduty_reply.h"
#include "util/arena.h"
#include "util/jsonw.h"

#include <cjson/cJSON.h>

#define NOW 1795729900000LL   /* fixed "now", so a run is reproducible */

static void check_reply(arena *a, source_reply_fn reply, int code, const sig_signal *s, size_t n, const char *msg,
                        int want)
{
    jsonw w;
    jw_init(&w, a, 64);
    int st = reply(code, s, n, "x", msg, &w);
    if (st != want) fuzz_fail("reply to %d: status %d, expected %d", code, st, want);
    cJSON *j = cJSON_ParseWithLength(w.buf, w.len);
    if (!j) fuzz_fail("reply to %d is not JSON: %s", code, w.buf);
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    adapter_limits lim = {.max_alerts = 1000, .max_payload_bytes = 64 << 10, .max_depth = 64};   /* config_defaults() */
    if (data[0] & 0x80) lim = (adapter_limits){lim.max_alerts, lim.max_payload_bytes, lim.max_depth, true,
                                               5 * 60 * 1000, 2 * 60 * 1000};
    adapter_input in = {.request_id = "fuzz-1", .resolve_ignored = data[0] & 1};
    arena a;
    arena_init(&a);
    sig_signal *out = NULL;
    size_t n = 0;
    adapter_error err;
    memset(&err, 0x5a, sizeof err);   /* the parser must set what it reports */
    const char *body = (const char *)data + 1;
    int rc = adapter_pagerduty_parse(&in, body, size - 1, NOW, &lim, &a, &out, &n, &err);
    if (rc == 0) {
        if (!out || n != 1) fuzz_fail("success with %zu signals (out=%p)", n, (void *)out);
        /* the fingerprint is the dedup identity, sha256("pagerduty:" routing_key ":" dedup_key),
         * not the target's: the rest of the contract is checked on a copy with the target's */
        if (!fuzz_is_lower_hex(out[0].fingerprint, 64)) fuzz_fail("fingerprint is not 64 lowercase hex");
        sig_signal t = out[0];
        sig_fingerprint(&t);
        fuzz_check_signal(&t, 0, false, &lim);
        const char *dk = sig_map_get(&out[0].annotations, "pagerduty.com/dedup-key");
        if (!dk || !*dk) fuzz_fail("success without a dedup key");
        check_reply(&a, pagerduty_reply, 201, out, 1, NULL, 202);
        check_reply(&a, pagerduty_reply, 503, out, 1, "retry", 503);
    } else {
        fuzz_check_error(rc, &err, out, n);
        check_reply(&a, pagerduty_reply, 400, NULL, 0, err.message, 400);
    }
    /* the same bytes as a change event (/v2/change/enqueue) */
    out = NULL;
    n = 0;
    memset(&err, 0x5a, sizeof err);
    rc = adapter_pagerduty_change_parse(&in, body, size - 1, NOW, &lim, &a, &out, &n, &err);
    if (rc == 0) {
        if (!out || n != 1) fuzz_fail("change: success with %zu signals (out=%p)", n, (void *)out);
        if (!out[0].ignored) fuzz_fail("change: a change event became a signal");
        if (!fuzz_is_lower_hex(out[0].fingerprint, 64)) fuzz_fail("change: fingerprint is not 64 lowercase hex");
        sig_signal t = out[0];
        sig_fingerprint(&t);
        fuzz_check_signal(&t, 0, false, &lim);
        if (sig_map_get(&out[0].annotations, "pagerduty.com/dedup-key")) fuzz_fail("change: a dedup key");
        check_reply(&a, pagerduty_change_reply, 202, out, 1, NULL, 202);
    } else {
        fuzz_check_error(rc, &err, out, n);
        check_reply(&a, pagerduty_change_reply, 400, NULL, 0, err.message, 400);
    }
    const char *cred = pagerduty_credential(body, size - 1, lim.max_depth, &a);
    if (cred && strncmp(cred, "Bearer ", 7) != 0) fuzz_fail("credential without Bearer");
    arena_free(&a);
    return 0;
}
