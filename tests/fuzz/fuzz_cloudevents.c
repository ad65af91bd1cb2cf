/* fuzz_cloudevents.c: libFuzzer target for the CloudEvents adapter (adapter_cloudevents_parse)
 * with the configuration's default limits and two mapped types. The first byte picks the
 * mode: structured, batch, or binary with a fixed header set (a mapped type, an unknown one,
 * headers that need percent-decoding, extension headers some of which are not kept); its
 * high bit turns the freshness check on. The rest
 * is the body. Checks the contract of adapter.h on every result: see fuzz_util.h. */
#include "adapters/adapter.h"
#include "config.h"
#include "fuzz_util.h"
#include "util/arena.h"

#define NOW 1795729900000LL   /* fixed "now", so a run is reproducible */

/* The second type reads its namespace and severity from extension attributes and has a
 * fixed kind: the adapter's {extension: ...} and {value: ...} forms. */
static cfg_ce_type types[] = {
    {"io.kubernaut.signal", {"name", "resource.kind", "resource.name", "namespace", "severity", "status", "labels"}, {0}},
    {"com.example.alert",
     {"alert.name", "Deployment", "target.name", "k8sns", "level", "state", NULL},
     {CFG_CE_FROM_DATA, CFG_CE_FROM_VALUE, CFG_CE_FROM_DATA, CFG_CE_FROM_EXTENSION, CFG_CE_FROM_EXTENSION,
      CFG_CE_FROM_EXTENSION, 0}},
};

/* Binary mode's extension headers (as the HTTP layer hands them: lowercase names, values
 * percent-encoded), some beyond the adapter's limits. */
static const sig_kv exts[] = {
    {"k8sns", "prod"}, {"level", "crit%69cal"}, {"state", "resolved"}, {"traceparent", "00-0af7651916cd43dd-01"},
    {"waytoolongextensionname", "x"}, {"bad-name", "y"}, {"nul", "a%00b"}, {"k8sns", "second"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    adapter_limits lim = {.max_alerts = 1000, .max_payload_bytes = 64 << 10, .max_depth = 64};   /* config_defaults() */
    if (data[0] & 0x80) lim = (adapter_limits){lim.max_alerts, lim.max_payload_bytes, lim.max_depth, true,
                                               5 * 60 * 1000, 2 * 60 * 1000};
    adapter_input in = {.ce_types = types, .n_ce_types = 2};
    switch (data[0] & 0x7f) {
    case 0: in.content_type = "application/cloudevents+json"; break;
    case 1: in.content_type = "application/cloudevents-batch+json; charset=utf-8"; break;
    case 2:
        in = (adapter_input){.content_type = "application/json", .ce_specversion = "1.0", .ce_id = "e-1",
                             .ce_source = "/src", .ce_type = "io.kubernaut.signal", .ce_subject = "sub%20ject",
                             .ce_time = "2026-11-26T21:50:10Z", .ce_types = types, .n_ce_types = 2,
                             .ce_ext = exts + 3, .n_ce_ext = 2};
        break;
    case 3:
        in = (adapter_input){.content_type = "text/plain", .ce_specversion = "1.0", .ce_id = "%e2%82%ac",
                             .ce_source = "/src", .ce_type = "com.example.alert", .ce_dataschema = "%zz",
                             .ce_types = types, .n_ce_types = 2, .ce_ext = exts, .n_ce_ext = 8, .ce_ext_over = 1};
        break;
    case 4:
        in = (adapter_input){.content_type = "application/vnd.x+json", .ce_specversion = "1.0", .ce_id = "e-2",
                             .ce_source = "/src", .ce_type = "com.example.other", .ce_time = "bad time",
                             .ce_types = types, .n_ce_types = 2};
        break;
    case 5:
        in = (adapter_input){.content_type = "application/json", .ce_specversion = "1.0", .ce_id = "e-3",
                             .ce_source = "/src", .ce_type = "com.example.alert", .ce_types = types, .n_ce_types = 2,
                             .ce_ext = exts, .n_ce_ext = 8};
        break;
    default: in.content_type = "application/json"; break;
    }
    arena a;
    arena_init(&a);
    sig_signal *out = NULL;
    size_t n = 0;
    adapter_error err;
    memset(&err, 0x5a, sizeof err);   /* the parser must set what it reports */
    int rc = adapter_cloudevents_parse(&in, (const char *)data + 1, size - 1, NOW, &lim, &a, &out, &n, &err);
    if (rc == 0) {
        if (!out || n == 0) fuzz_fail("success with no signal (out=%p n=%zu)", (void *)out, n);
        if (n > lim.max_alerts) fuzz_fail("success with %zu events > max_alerts", n);
        size_t live = 0, unknown = 0, rejected = 0;
        for (size_t i = 0; i < n; i++) {
            fuzz_check_signal(&out[i], i, false, &lim);
            if (out[i].rejected && !out[i].ignored) fuzz_fail("signal %zu: rejected but not ignored", i);
            live += !out[i].ignored;
            rejected += out[i].rejected;
            /* extension labels within their limits (the type without data labels) */
            const char *type = sig_map_get(&out[i].labels, "kubernaut.io/cloudevent-type");
            size_t ext = 0;
            for (size_t j = 0; type && !strcmp(type, "com.example.alert") && j < out[i].labels.n; j++) {
                const sig_kv *kv = &out[i].labels.items[j];
                if (strncmp(kv->key, "cloudevents.io/", 15) != 0) continue;
                size_t nl = strlen(kv->key + 15);
                if (++ext > 16 || nl == 0 || nl > 20 || strspn(kv->key + 15, "abcdefghijklmnopqrstuvwxyz0123456789") != nl ||
                    strlen(kv->value) > 256)
                    fuzz_fail("signal %zu: extension label %s beyond the limits", i, kv->key);
            }
            unknown += out[i].ignored && !out[i].rejected;
            size_t plen;
            char *pl = sig_payload_dup(&out[i], lim.max_payload_bytes, &plen);
            if (pl) {
                size_t bad;
                if (plen > lim.max_payload_bytes || strlen(pl) != plen) fuzz_fail("signal %zu: payload length", i);
                if (!utf8_valid(pl, plen, &bad)) fuzz_fail("signal %zu: payload is not UTF-8", i);
                free(pl);
            }
        }
        if (unknown != in.unknown_types) fuzz_fail("unknown_types %zu, %zu signals of unknown type", in.unknown_types, unknown);
        if (rejected != in.invalid_events) fuzz_fail("invalid_events %zu, %zu rejected", in.invalid_events, rejected);
        if (rejected == n) fuzz_fail("success with every event rejected");
        (void)live;
    } else {
        fuzz_check_error(rc, &err, out, n);
    }
    arena_free(&a);
    return 0;
}
