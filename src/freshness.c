/* freshness.c: see freshness.h. No I/O and no clock: now_ms is the caller's. */
#include "freshness.h"

#include <stdio.h>
#include <string.h>

/* A header value fit for a message: at most 40 bytes, anything but printable ASCII as '?'
 * (a header may carry any byte; the error body is JSON). */
static const char *shown_value(const char *s, size_t n, char out[48])
{
    size_t k = n > 40 ? 40 : n;
    for (size_t i = 0; i < k; i++) out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    memcpy(out + k, n > 40 ? "..." : "", n > 40 ? 4 : 1);
    return out;
}

static int not_a_time(const char *s, size_t n, adapter_error *err)
{
    char v[48];
    err->status = ADAPTER_E_TYPE;
    snprintf(err->message, sizeof err->message, "X-Timestamp: \"%s\" is not a Unix time in seconds",
             shown_value(s, n, v));
    return ADAPTER_E_TYPE;
}

bool freshness_enabled(const config *c)
{
    if (strcmp(c->freshness, "on") == 0) return true;
    return strcmp(c->freshness, "auto") == 0 && config_rr_contract(c) == RR_CONTRACT_KUBERNAUT_AI;
}

int freshness_parse_header(const char *value, int64_t *out, adapter_error *err)
{
    const char *s = value, *e = value + strlen(value);
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    const char *p = s;
    bool neg = false;
    if (p < e && (*p == '+' || *p == '-')) neg = *p++ == '-';
    if (p == e) return not_a_time(s, (size_t)(e - s), err);
    uint64_t v = 0, max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9' || v > (max - (uint64_t)(*p - '0')) / 10) return not_a_time(s, (size_t)(e - s), err);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (neg && v != 0) {
        char shown[48];
        err->status = ADAPTER_E_TYPE;
        snprintf(err->message, sizeof err->message, "X-Timestamp: %s is negative", shown_value(s, (size_t)(e - s), shown));
        return ADAPTER_E_TYPE;
    }
    *out = (int64_t)v;
    return ADAPTER_OK;
}

int freshness_check(const config *c, route_kind kind, const char *x_timestamp, int64_t now_ms,
                    adapter_limits *lim, adapter_error *err)
{
    lim->fresh = false;
    if (!freshness_enabled(c)) return ADAPTER_OK;
    lim->max_age_ms = c->freshness_tolerance_ms;
    lim->max_skew_ms = c->freshness_clock_skew_ms;
    if (kind == ROUTE_PROMETHEUS && x_timestamp && *x_timestamp) {   /* Go: "" is no header */
        int64_t sec;
        int rc = freshness_parse_header(x_timestamp, &sec, err);
        if (rc) return rc;
        char shown[32];
        snprintf(shown, sizeof shown, "%lld", (long long)sec);
        int64_t ms = sec > INT64_MAX / 1000 ? INT64_MAX / 1000 * 1000 : sec * 1000;   /* far future either way */
        return adapter_check_freshness("X-Timestamp", shown, ms, now_ms, lim, true, err);
    }
    lim->fresh = true;
    return ADAPTER_OK;
}
