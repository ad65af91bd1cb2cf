/* parse_cost.c: instructions per event of the CloudEvents adapter (batch mode, the default
 * io.kubernaut.signal mapping) against the Alertmanager adapter's, on bodies of about the
 * same size (gen_bodies.py). Run under callgrind, as bench/grafana/parse_cost.c:
 *   valgrind --tool=callgrind --toggle-collect=adapter_cloudevents_parse \
 *            --toggle-collect=adapter_prometheus_parse build/bench/ce_parse_cost AM.json CE.json */
#include "adapters/adapter.h"
#include "config.h"
#include "util/arena.h"

#include "../parse_cost.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    size_t al, cl;
    char *am = slurp(argv[1], &al), *ce = slurp(argv[2], &cl);
    if (!am || !ce) return 2;
    config *c = config_defaults();
    adapter_limits lim = {.max_alerts = 1000, .max_payload_bytes = 64 << 10, .max_depth = 64};
    for (int i = 0; i < 20; i++) {
        arena a;
        sig_signal *s;
        size_t n;
        adapter_error err;
        arena_init(&a);
        if (adapter_prometheus_parse(am, al, 1795729900000LL, &lim, &a, &s, &n, &err) || n != 50) return 1;
        arena_free(&a);
        arena_init(&a);
        adapter_input in = {.content_type = "application/cloudevents-batch+json", .ce_types = c->ce_types,
                            .n_ce_types = c->n_ce_types};
        if (adapter_cloudevents_parse(&in, ce, cl, 1795729900000LL, &lim, &a, &s, &n, &err) || n != 50) {
            fprintf(stderr, "cloudevents: %s (n=%zu)\n", err.message, n);
            return 1;
        }
        arena_free(&a);
    }
    config_free(c);
    printf("am %zu bytes, cloudevents %zu bytes\n", al, cl);
    return 0;
}
