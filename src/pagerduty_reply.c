/* pagerduty_reply.c: PagerDuty Events API v2's reply bodies for the PagerDuty source; see
 * pagerduty_reply.h. The status codes are PagerDuty's (202, 400) except 503, which keeps
 * the gateway's meaning (retry, with Retry-After). */
#include "pagerduty_reply.h"
#include "adapters/json_util.h"
#include "util/jsonw.h"

#include <string.h>

/* err_message's lines as a JSON array of strings (pagerduty.c writes one fault a line) */
static void errors_write(jsonw *w, const char *msg)
{
    jw_lit(w, ",\"errors\":[");
    const char *p = msg ? msg : "";
    bool first = true;
    while (*p) {
        size_t n = strcspn(p, "\n");
        if (n) {
            if (!first) jw_lit(w, ",");
            /* jw_str wants a NUL-terminated string; a line is under the message's 256 bytes */
            char line[256];
            if (n >= sizeof line) n = sizeof line - 1;
            memcpy(line, p, n);
            line[n] = '\0';
            jw_str(w, line);
            first = false;
        }
        p += n;
        if (*p) p++;
    }
    jw_lit(w, "]");
}

/* change: a change event's success, which has no dedup_key */
static int reply(bool change, int code, const sig_signal *sigs, size_t n, const char *err_code,
                 const char *err_message, jsonw *w)
{
    jw_lit(w, "{");
    if (code == 201 || code == 202) {
        jw_kstr(w, false, "status", "success");
        jw_kstr(w, true, "message", change ? "Change event processed" : "Event processed");
        const char *dk = n && !change ? sig_map_get(&sigs[0].annotations, "pagerduty.com/dedup-key") : NULL;
        if (dk) jw_kstr(w, true, "dedup_key", dk);
        jw_lit(w, "}");
        return 202;
    }
    if (code == 503) {
        jw_kstr(w, false, "status", "retry");
        jw_kstr(w, true, "message", err_message ? err_message : "the event could not be recorded now; retry");
        jw_lit(w, ",\"errors\":[");
        jw_str(w, err_code ? err_code : "in_progress");
        jw_lit(w, "]}");
        return 503;
    }
    jw_kstr(w, false, "status", "invalid event");
    jw_kstr(w, true, "message", "Event object is invalid");
    errors_write(w, err_message);
    jw_lit(w, "}");
    return code;
}

int pagerduty_reply(int code, const sig_signal *sigs, size_t n, const char *err_code, const char *err_message,
                    jsonw *w)
{
    return reply(false, code, sigs, n, err_code, err_message, w);
}

int pagerduty_change_reply(int code, const sig_signal *sigs, size_t n, const char *err_code,
                           const char *err_message, jsonw *w)
{
    return reply(true, code, sigs, n, err_code, err_message, w);
}

const char *pagerduty_credential(const char *body, size_t len, int max_depth, arena *a)
{
    cJSON *root = NULL;
    if (ajson_parse(body, len, max_depth, &root, NULL) != 0) return NULL;
    const cJSON *rk = cJSON_GetObjectItemCaseSensitive(root, "routing_key");
    const char *out = cJSON_IsString(rk) && *rk->valuestring && !strpbrk(rk->valuestring, " \t\r\n")
                          ? arena_cat(a, "Bearer ", rk->valuestring, (char *)NULL)
                          : NULL;
    cJSON_Delete(root);
    return out;
}
