/* suppress_http.c: the suppress: rules as JSON; see suppress_http.h. Open like /metrics: it
 * shows configuration, never a signal or a secret (docs/decisions/019-suppression-rules.md).
 *   {"now":…,"suppressions":[{"name","active","matchers":[…],"startsAt","endsAt" |
 *    "timeIntervals":[{"times":[{"start_time","end_time"}],"weekdays":[…],…,"location"}],
 *    "nextChange"?}]} */
#include "suppress_http.h"
#include "gateway.h"
#include "suppress.h"
#include "util/jsonw.h"
#include "util/timeutil.h"

static void time_key(jsonw *w, const char *quoted_key, size_t kn, int64_t ms)
{
    char t[32];
    time_format_rfc3339(ms, t);
    jw_kstr_raw(w, true, quoted_key, kn, t);
}
#define TIME_KEY(w, key, ms) time_key((w), "\"" key "\":", sizeof("\"" key "\":") - 1, (ms))

static void interval_write(jsonw *w, const time_interval *ti)
{
    jw_lit(w, "{");
    for (int f = 0; f < TI_NFIELDS; f++) {
        if (!ti->n[f]) continue;
        jw_str(w, time_interval_field_names[f]);
        jw_lit(w, ":[");
        for (size_t i = 0; i < ti->n[f]; i++) {
            char a[32], b[32];
            time_interval_range_text(ti, (ti_field)f, i, a, sizeof a, b, sizeof b);
            if (i) jw_lit(w, ",");
            if (f == TI_TIMES) {
                jw_lit(w, "{");
                jw_kstr(w, false, "start_time", a);
                jw_kstr(w, true, "end_time", b);
                jw_lit(w, "}");
            } else {
                jw_str(w, a);
            }
        }
        jw_lit(w, "],");
    }
    jw_kstr(w, false, "location", ti->zone ? tz_name(ti->zone) : "UTC");
    jw_lit(w, "}");
}

static void rule_write(jsonw *w, const suppress_rule *r, int64_t now)
{
    jw_lit(w, "{");
    jw_kstr(w, false, "name", r->name);
    jw_lit(w, ",\"active\":");
    jw_bool(w, suppress_rule_active(r, now));
    jw_lit(w, ",\"matchers\":[");
    for (size_t i = 0; i < r->n_written; i++) {
        if (i) jw_lit(w, ",");
        jw_str(w, r->written[i]);
    }
    jw_lit(w, "]");
    if (r->has_window) {
        TIME_KEY(w, "startsAt", r->starts_ms);
        TIME_KEY(w, "endsAt", r->ends_ms);
    } else {
        jw_lit(w, ",\"timeIntervals\":[");
        for (size_t i = 0; i < r->n_iv; i++) {
            if (i) jw_lit(w, ",");
            interval_write(w, &r->iv[i]);
        }
        jw_lit(w, "]");
    }
    int64_t next = suppress_rule_next_change(r, now);
    if (next) TIME_KEY(w, "nextChange", next);
    jw_lit(w, "}");
}

void suppress_http_list(http_request *req, void *data)
{
    worker *wk = data;
    const suppress_set *set = gw_runtime_get(wk->gw)->cfg->suppress;
    int64_t now = time_now_ms();
    jsonw w;
    jw_init(&w, &req->arena, 256 + (set ? set->n * 512 : 0));
    jw_lit(&w, "{");
    char t[32];
    time_format_rfc3339(now, t);
    jw_kstr(&w, false, "now", t);
    jw_lit(&w, ",\"suppressions\":[");
    for (size_t i = 0; set && i < set->n; i++) {
        if (i) jw_lit(&w, ",");
        rule_write(&w, &set->r[i], now);
    }
    jw_lit(&w, "]}");
    http_respond(req, 200, NULL, w.buf, w.len);
}
