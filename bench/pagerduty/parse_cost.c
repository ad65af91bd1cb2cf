/* parse_cost.c: instructions per alert of the PagerDuty Events v2 adapter against the
 * Alertmanager adapter's at the same body size: a PagerDuty event is one alert per request,
 * so the peer is a one-alert Alertmanager webhook of the same length (gen_bodies.py); the
 * 50-alert webhook shows the Alertmanager adapter's per-alert cost when a request carries
 * many. run.sh builds it and runs it under callgrind once per wrapper below
 * (--toggle-collect=pd_event, am_one or am_fifty: each one adapter call, inclusive).
 * Each body is parsed for ROUNDS alerts (AM50 ROUNDS / 50 times). */
#include "adapters/adapter.h"
#include "util/arena.h"

#include "../parse_cost.h"

#include <stdio.h>
#include <stdlib.h>

enum { ROUNDS = 1000 };

static const adapter_limits lim = {.max_alerts = 1000, .max_payload_bytes = 64 << 10, .max_depth = 64};

/* one adapter call each, for callgrind's --toggle-collect; the arena is outside the count */
__attribute__((noinline)) static int am_one(const char *b, size_t l, arena *a)
{
    sig_signal *s;
    size_t n;
    adapter_error err;
    return adapter_prometheus_parse(b, l, 1795729900000LL, &lim, a, &s, &n, &err) || n != 1;
}

__attribute__((noinline)) static int am_fifty(const char *b, size_t l, arena *a)
{
    sig_signal *s;
    size_t n;
    adapter_error err;
    return adapter_prometheus_parse(b, l, 1795729900000LL, &lim, a, &s, &n, &err) || n != 50;
}

__attribute__((noinline)) static int pd_event(const char *b, size_t l, arena *a)
{
    adapter_input in = {.request_id = "bench-1"};
    sig_signal *s;
    size_t n;
    adapter_error err;
    return adapter_pagerduty_parse(&in, b, l, 1795729900000LL, &lim, a, &s, &n, &err) || n != 1 || s->ignored;
}

int main(int argc, char **argv)
{
    if (argc != 4) return 2;
    size_t l1, lp, l50;
    char *am1 = slurp(argv[1], &l1), *pd = slurp(argv[2], &lp), *am50 = slurp(argv[3], &l50);
    if (!am1 || !pd || !am50) return 2;
    for (int i = 0; i < ROUNDS; i++) {
        arena a;
        arena_init(&a);
        if (am_one(am1, l1, &a)) return 1;
        arena_free(&a);
        arena_init(&a);
        if (pd_event(pd, lp, &a)) return 1;
        arena_free(&a);
        if (i % 50) continue;
        arena_init(&a);
        if (am_fifty(am50, l50, &a)) return 1;
        arena_free(&a);
    }
    printf("am1 %zu bytes, pagerduty %zu bytes, am50 %zu bytes\n", l1, lp, l50);
    return 0;
}
