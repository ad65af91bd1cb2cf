/* fuzz_k8s_event.c: libFuzzer target for the Kubernetes Event adapter
 * (adapter_k8s_event_parse) with the configuration's default limits. Checks the contract
 * of adapter.h on every result: see fuzz_util.h. */
#include "adapters/adapter.h"
#include "fuzz_util.h"
#include "util/arena.h"

#define NOW 1795729900000LL   /* fixed "now", so a run is reproducible */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const adapter_limits lim = {.max_alerts = 1000, .max_payload_bytes = 64 << 10, .max_depth = 64};   /* config_defaults() */
    arena a;
    arena_init(&a);
    sig_signal *out = NULL;
    size_t n = 0;
    adapter_error err;
    memset(&err, 0x5a, sizeof err);
    int rc = adapter_k8s_event_parse((const char *)data, size, NOW, &lim, &a, &out, &n, &err);
    if (rc == 0) {
        if (!out || n != 1) fuzz_fail("success with out=%p n=%zu (expected one signal)", (void *)out, n);
        fuzz_check_signal(&out[0], 0, false, &lim);
        if (strcmp(out[0].signal_type, "kubernetes-event") != 0) fuzz_fail("type %s", out[0].signal_type);
        if (out[0].status != SIG_FIRING) fuzz_fail("an event is not firing");
        /* the payload is the body itself, when it fits */
        if (size <= lim.max_payload_bytes &&
            (!out[0].payload || out[0].payload_len != size || memcmp(out[0].payload, data, size) != 0))
            fuzz_fail("payload is not the body (%zu bytes, payload_len %zu)", size, out[0].payload_len);
    } else {
        fuzz_check_error(rc, &err, out, n);
    }
    arena_free(&a);
    return 0;
}
