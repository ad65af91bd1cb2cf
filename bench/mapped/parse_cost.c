/* parse_cost.c: instructions per alert of the mapped webhook adapter against the
 * Alertmanager adapter's, on 50-alert bodies of the same size (gen_bodies.py), the mapping
 * reading every field (dedup key included). Run under callgrind:
 *   valgrind --tool=callgrind --toggle-collect=adapter_mapped_parse \
 *            --toggle-collect=adapter_prometheus_parse build/bench/mapped_parse_cost AM.json MAPPED.json
 * and read the inclusive cost of each function (callgrind_annotate --inclusive=yes). */
#include "adapters/adapter.h"
#include "config.h"
#include "util/arena.h"
#include "util/jpath.h"

#include "../parse_cost.h"

#include <stdio.h>
#include <stdlib.h>

static void set(jpath *p, const char *s)
{
    char err[128];
    if (jpath_parse(s, p, err, sizeof err)) exit(3);
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    size_t al, ml;
    char *am = slurp(argv[1], &al), *mb = slurp(argv[2], &ml);
    if (!am || !mb) return 2;
    static char *resolved[] = {"resolved"};
    cfg_webhook m = {.name = "bench", .resolved = resolved, .n_resolved = 1};
    set(&m.alerts, "data.alerts");
    set(&m.field[CFG_WH_NAME], "rule");
    set(&m.field[CFG_WH_NAMESPACE], "target.namespace");
    set(&m.field[CFG_WH_KIND], "target.kind");
    set(&m.field[CFG_WH_RESOURCE], "target.name");
    set(&m.field[CFG_WH_SEVERITY], "severity");
    set(&m.field[CFG_WH_STATUS], "state");
    set(&m.field[CFG_WH_STARTS_AT], "started");
    set(&m.field[CFG_WH_LABELS], "labels");
    set(&m.field[CFG_WH_ANNOTATIONS], "annotations");
    set(&m.field[CFG_WH_DEDUP_KEY], "id");
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
        if (adapter_mapped_parse(&m, mb, ml, 1795729900000LL, &lim, &a, &s, &n, &err) || n != 50) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        arena_free(&a);
    }
    printf("am %zu bytes, mapped %zu bytes\n", al, ml);
    return 0;
}
