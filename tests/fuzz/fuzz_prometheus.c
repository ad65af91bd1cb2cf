/* fuzz_prometheus.c: libFuzzer target for the Alertmanager webhook adapter
 * (adapter_prometheus_parse) with the configuration's default limits, and the kubernaut.ai
 * contract's target choice (upstream_target_pick) on what it parsed. Checks the contract
 * of adapter.h on every result: see fuzz_util.h. */
#include "adapters/adapter.h"
#include "adapters/upstream_target.h"
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
    memset(&err, 0x5a, sizeof err);   /* the parser must set what it reports */
    int rc = adapter_prometheus_parse((const char *)data, size, NOW, &lim, &a, &out, &n, &err);
    if (rc == 0) {
        if (!out || n == 0) fuzz_fail("success with no signal (out=%p n=%zu)", (void *)out, n);
        if (n > lim.max_alerts) fuzz_fail("success with %zu alerts > max_alerts", n);
        for (size_t i = 0; i < n; i++) fuzz_check_alert(&out[i], i, &lim, "prometheus", "prometheus-alert");
    } else {
        fuzz_check_error(rc, &err, out, n);
    }
    arena_free(&a);
    return 0;
}
