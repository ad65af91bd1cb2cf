/* fuzz_mapped.c: libFuzzer target for the mapped JSON webhook adapter
 * (adapter_mapped_parse) under three mappings, chosen by the body's length: a list of alerts
 * with every field but the dedup key (length 0 mod 4), the same list with a fixed kind,
 * namespace and severity ({value: ...}; 2 mod 4), and one alert per body with a dedup key
 * (odd). Checks the contract of adapter.h on every result: see fuzz_util.h. */
#include "adapters/adapter.h"
#include "config.h"
#include "fuzz_util.h"
#include "util/arena.h"
#include "util/hash.h"
#include "util/jpath.h"

#define NOW 1795729900000LL   /* fixed "now", so a run is reproducible */

static cfg_webhook maps[3];
static char *resolved[] = {"resolved", "ok"};

static void set(cfg_webhook *m, int k, const char *path)
{
    char err[200];
    if (jpath_parse(path, k < 0 ? &m->alerts : &m->field[k], err, sizeof err)) fuzz_fail("mapping %s: %s", path, err);
}

static void init(void)
{
    cfg_webhook *l = &maps[0], *o = &maps[1];
    l->name = "list";
    set(l, -1, "data.alerts");
    set(l, CFG_WH_NAME, "name");
    set(l, CFG_WH_NAMESPACE, "target.namespace");
    set(l, CFG_WH_KIND, "target.kind");
    set(l, CFG_WH_RESOURCE, "target.name");
    set(l, CFG_WH_SEVERITY, "labels.severity");
    set(l, CFG_WH_STATUS, "state");
    set(l, CFG_WH_STARTS_AT, "started");
    set(l, CFG_WH_LABELS, "labels");
    set(l, CFG_WH_ANNOTATIONS, "annotations");
    o->name = "one";
    set(o, CFG_WH_NAME, "alert.0");
    set(o, CFG_WH_KIND, "kind");
    set(o, CFG_WH_RESOURCE, "res.name");
    set(o, CFG_WH_NAMESPACE, "ns");
    set(o, CFG_WH_DEDUP_KEY, "id");
    set(o, CFG_WH_STATUS, "status");
    set(o, CFG_WH_STARTS_AT, "time");
    set(o, CFG_WH_LABELS, "tags");
    l->resolved = o->resolved = resolved;
    l->n_resolved = o->n_resolved = 2;
    cfg_webhook *f = &maps[2];
    f->name = "fixed";
    set(f, -1, "data.alerts");
    set(f, CFG_WH_NAME, "name");
    set(f, CFG_WH_RESOURCE, "target.name");
    set(f, CFG_WH_STATUS, "state");
    set(f, CFG_WH_LABELS, "labels");
    f->value[CFG_WH_KIND] = "Deployment";
    f->value[CFG_WH_NAMESPACE] = "shop";
    f->value[CFG_WH_SEVERITY] = "Critical";
    f->resolved = resolved;
    f->n_resolved = 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const adapter_limits lim = {.max_alerts = 1000, .max_payload_bytes = 64 << 10, .max_depth = 64};   /* config_defaults() */
    static int ready;
    if (!ready) {
        init();
        ready = 1;
    }
    const cfg_webhook *m = size & 1 ? &maps[1] : size & 2 ? &maps[2] : &maps[0];
    arena a;
    arena_init(&a);
    sig_signal *out = NULL;
    size_t n = 0;
    adapter_error err;
    memset(&err, 0x5a, sizeof err);   /* the parser must set what it reports */
    int rc = adapter_mapped_parse(m, (const char *)data, size, NOW, &lim, &a, &out, &n, &err);
    if (rc == 0) {
        if (!out || n == 0) fuzz_fail("success with no signal (out=%p n=%zu)", (void *)out, n);
        if (n > lim.max_alerts) fuzz_fail("success with %zu alerts > max_alerts", n);
        if (m == &maps[1] && n != 1) fuzz_fail("one alert per body, %zu signals", n);
        for (size_t i = 0; i < n; i++) {
            sig_signal c = out[i];
            /* a dedup key (mapping "one"): name:namespace:kind:resource:dedup_key; the label is
             * ours when the key is mapped and present, else may be the body's own */
            const char *dk = sig_map_get(&c.labels, "dedup_key");
            sig_signal plain = c;
            sig_fingerprint(&plain);
            if (strcmp(plain.fingerprint, c.fingerprint) != 0) {
                if (m != &maps[1] || !dk) fuzz_fail("signal %zu: fingerprint is neither form", i);
                char *j = arena_cat(&a, c.name, ":", c.namespace, ":", c.kind, ":", c.res_name, ":", dk, (char *)NULL);
                char fp[65];
                hash_sha256_hex(j, strlen(j), fp);
                if (strcmp(fp, c.fingerprint) != 0) fuzz_fail("signal %zu: fingerprint with dedup key", i);
                c = plain;   /* fuzz_check_signal checks the keyless form */
            }
            fuzz_check_signal(&c, i, false, &lim);
            if (c.ignored) fuzz_fail("signal %zu: an alert is marked ignored", i);
            if (m == &maps[2] && (strcmp(c.kind, "Deployment") || strcmp(c.namespace, "shop") ||
                                  c.severity != SEV_CRITICAL || strcmp(sig_map_get(&c.labels, "severity"), "Critical")))
                fuzz_fail("signal %zu: a fixed value not taken (%s/%s)", i, c.namespace, c.kind);
            if (strcmp(c.signal_type, "webhook") != 0) fuzz_fail("signal %zu: type %s", i, c.signal_type);
            if (strncmp(c.source, "webhook/", 8) != 0 || strcmp(c.source + 8, m->name) != 0)
                fuzz_fail("signal %zu: source %s", i, c.source);
            size_t plen;
            char *pl = sig_payload_dup(&c, lim.max_payload_bytes, &plen);
            if (pl) {
                size_t bad;
                if (plen > lim.max_payload_bytes || strlen(pl) != plen) fuzz_fail("signal %zu: payload length", i);
                if (!utf8_valid(pl, plen, &bad)) fuzz_fail("signal %zu: payload is not UTF-8", i);
                if (pl[0] != '{' || pl[plen - 1] != '}') fuzz_fail("signal %zu: payload is not an object", i);
                free(pl);
            }
        }
    } else {
        fuzz_check_error(rc, &err, out, n);
    }
    arena_free(&a);
    return 0;
}
