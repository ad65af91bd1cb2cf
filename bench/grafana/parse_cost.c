/* parse_cost.c: instructions per alert of the Grafana adapter against the Alertmanager
 * adapter's, on 50-alert bodies of about the same size (gen_bodies.py). Run under callgrind:
 *   valgrind --tool=callgrind --toggle-collect=adapter_grafana_parse \
 *            --toggle-collect=adapter_prometheus_parse build/bench/parse_cost AM.json GRAFANA.json
 * and read the inclusive cost of each function (callgrind_annotate --inclusive=yes). */
#include "adapters/adapter.h"
#include "util/arena.h"

#include "../parse_cost.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    size_t al, gl;
    char *am = slurp(argv[1], &al), *gr = slurp(argv[2], &gl);
    if (!am || !gr) return 2;
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
        if (adapter_grafana_parse(gr, gl, 1795729900000LL, &lim, &a, &s, &n, &err) || n != 50) return 1;
        arena_free(&a);
    }
    printf("am %zu bytes, grafana %zu bytes\n", al, gl);
    return 0;
}
