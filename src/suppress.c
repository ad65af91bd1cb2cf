/* suppress.c: suppression rules compiled from the configuration and matched against
 * signals; see suppress.h. The matcher syntax is Alertmanager's (pkg/labels/parse.go); its
 * regexes are RE2, ours POSIX ERE (regcomp): compiled once here, never per signal. */
#include "suppress.h"
#include "util/err.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

/* ---- matchers ------------------------------------------------------------------------------ */

const char *suppress_field_value(const sig_signal *s, const char *name, bool *is_field)
{
    const char *v = NULL;
    *is_field = true;
    if (!strcmp(name, "namespace")) v = s->namespace;
    else if (!strcmp(name, "kind")) v = s->kind;
    else if (!strcmp(name, "resource")) v = s->res_name;
    else if (!strcmp(name, "source")) v = s->source;
    else *is_field = false, v = sig_map_get(&s->labels, name);
    return v ? v : "";
}

static bool matcher_matches(const suppress_matcher *m, const char *v)
{
    switch (m->op) {
    case SUPPRESS_EQ: return strcmp(v, m->value) == 0;
    case SUPPRESS_NE: return strcmp(v, m->value) != 0;
    case SUPPRESS_RE: return regexec(&m->re, v, 0, NULL, 0) == 0;
    case SUPPRESS_NRE: return regexec(&m->re, v, 0, NULL, 0) != 0;
    }
    return false;
}

static bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
static bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }
static bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* One matcher in s[0..n): name, operator, value (quoted with \" \\ \n escapes, or bare; a
 * spurious escape is a literal backslash, as in Alertmanager). Fills *m (name and value
 * malloc'd; the regex compiled). */
static int parse_matcher(const char *s, size_t n, suppress_matcher *m, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < n && space(s[i])) i++;
    size_t nb = i;
    if (i < n && name_start(s[i]))
        while (i < n && name_char(s[i])) i++;
    size_t ne = i;
    while (i < n && space(s[i])) i++;
    suppress_op op;
    if (ne == nb) goto bad;
    if (i + 1 < n && s[i] == '=' && s[i + 1] == '~') op = SUPPRESS_RE, i += 2;
    else if (i < n && s[i] == '=') op = SUPPRESS_EQ, i += 1;
    else if (i + 1 < n && s[i] == '!' && s[i + 1] == '=') op = SUPPRESS_NE, i += 2;
    else if (i + 1 < n && s[i] == '!' && s[i + 1] == '~') op = SUPPRESS_NRE, i += 2;
    else goto bad;
    while (i < n && space(s[i])) i++;
    size_t ve = n;
    while (ve > i && space(s[ve - 1])) ve--;
    const char *raw = s + i;
    size_t rn = ve - i;
    size_t bad_at;
    if (!utf8_valid(raw, rn, &bad_at))
        return snprintf(err, errlen, "matcher '%.*s': the value is not valid UTF-8", (int)n, s), SGW_E_INVALID;
    bool quoted = rn > 0 && raw[0] == '"';
    if (quoted) raw++, rn--;
    char *val = xcalloc(1, rn + 1);
    size_t vn = 0;
    bool closed = !quoted;
    for (size_t k = 0; k < rn; k++) {
        char c = raw[k];
        if (c == '\\' && k + 1 < rn) {
            char d = raw[++k];
            if (d == 'n') val[vn++] = '\n';
            else if (d == '"' || d == '\\') val[vn++] = d;
            else val[vn++] = '\\', val[vn++] = d;
        } else if (c == '"') {
            if (!quoted || k + 1 < rn) {
                free(val);
                return snprintf(err, errlen, "matcher '%.*s': unescaped '\"' in the value", (int)n, s), SGW_E_INVALID;
            }
            closed = true;
        } else {
            val[vn++] = c;
        }
    }
    if (!closed) {
        free(val);
        return snprintf(err, errlen, "matcher '%.*s': the value's closing '\"' is missing", (int)n, s), SGW_E_INVALID;
    }
    m->name = xstrndup(s + nb, ne - nb);
    m->op = op;
    m->value = val;
    if (op == SUPPRESS_RE || op == SUPPRESS_NRE) {
        size_t pl = vn + 5;
        char *pat = xcalloc(1, pl);
        snprintf(pat, pl, "^(%s)$", val);   /* fully anchored, as Alertmanager's regexes */
        int rc = regcomp(&m->re, pat, REG_EXTENDED | REG_NOSUB);
        free(pat);
        if (rc) {
            char why[128];
            regerror(rc, &m->re, why, sizeof why);
            snprintf(err, errlen, "matcher '%.*s': not a POSIX extended regex: %s", (int)n, s, why);
            free(m->name), free(m->value);
            m->name = m->value = NULL;
            return SGW_E_INVALID;
        }
    }
    return 0;
bad:
    return snprintf(err, errlen, "'%.*s' is not a matcher: label name ([a-zA-Z_:][a-zA-Z0-9_:]*), one of = != =~ !~, "
                                 "value", (int)n, s), SGW_E_INVALID;
}

static void matcher_free(suppress_matcher *m)
{
    if (m->op == SUPPRESS_RE || m->op == SUPPRESS_NRE) regfree(&m->re);
    free(m->name);
    free(m->value);
}

int suppress_rule_matchers(suppress_rule *r, const char *text, char *err, size_t errlen)
{
    /* Alertmanager's ParseMatchers: optional braces, matchers split at commas outside
     * quotes, a trailing comma allowed */
    const char *s = text;
    size_t n = strlen(s);
    while (n && space(*s)) s++, n--;
    while (n && space(s[n - 1])) n--;
    if (n && s[0] == '{') s++, n--;
    if (n && s[n - 1] == '}') n--;
    size_t first = r->n_m;
    bool in_quotes = false, escaped = false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? s[i] : ',';
        if (i < n && c == '"' && !escaped) in_quotes = !in_quotes;
        escaped = i < n && c == '\\' && !escaped;
        if (c != ',' || (in_quotes && i < n)) continue;
        size_t len = i - start;
        const char *tok = s + start;
        start = i + 1;
        if (i == n) {   /* the last piece: empty (after a trailing comma) is no matcher */
            size_t k = 0;
            while (k < len && space(tok[k])) k++;
            if (k == len) break;
        }
        suppress_matcher m = {0};
        if (parse_matcher(tok, len, &m, err, errlen)) {
            while (r->n_m > first) matcher_free(&r->m[--r->n_m]);
            return SGW_E_INVALID;
        }
        r->m = xrealloc(r->m, (r->n_m + 1) * sizeof *r->m);
        r->m[r->n_m++] = m;
    }
    if (r->n_m == first) return snprintf(err, errlen, "'%s' holds no matcher", text), SGW_E_INVALID;
    r->written = xrealloc(r->written, (r->n_written + 1) * sizeof *r->written);
    r->written[r->n_written++] = xstrdup(text);
    return 0;
}

/* ---- rules --------------------------------------------------------------------------------- */

suppress_set *suppress_set_new(void) { return xcalloc(1, sizeof(suppress_set)); }

void suppress_set_free(suppress_set *set)
{
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) {
        suppress_rule *r = &set->r[i];
        free(r->name);
        for (size_t k = 0; k < r->n_written; k++) free(r->written[k]);
        free(r->written);
        for (size_t k = 0; k < r->n_m; k++) matcher_free(&r->m[k]);
        free(r->m);
        free(r->iv);
    }
    for (size_t i = 0; i < set->n_zones; i++) tz_free(set->zones[i]);
    free(set->zones);
    free(set->r);
    free(set);
}

/* A rule name is a metric label value and a log field: 1..63 of [A-Za-z0-9], '-', '_' and
 * '.' inside */
static bool rule_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !((c == '-' || c == '_' || c == '.') && i > 0 && i < n - 1)) return false;
    }
    return true;
}

suppress_rule *suppress_rule_add(suppress_set *set, const char *name, char *err, size_t errlen)
{
    if (!rule_name_valid(name))
        return snprintf(err, errlen, "'%s' is not a rule name (1..63 of A-Z a-z 0-9, and '-' '_' '.' inside)", name),
               NULL;
    for (size_t i = 0; i < set->n; i++)
        if (!strcmp(set->r[i].name, name))
            return snprintf(err, errlen, "'%s': a second rule of this name", name), NULL;
    set->r = xrealloc(set->r, (set->n + 1) * sizeof *set->r);
    suppress_rule *r = &set->r[set->n++];
    memset(r, 0, sizeof *r);
    r->name = xstrdup(name);
    return r;
}

int suppress_rule_window(suppress_rule *r, const char *starts_at, const char *ends_at, char *err, size_t errlen)
{
    int64_t s, e;
    if (!starts_at || !ends_at)
        return snprintf(err, errlen, "%s is missing: a window has both starts_at and ends_at",
                        !starts_at ? "starts_at" : "ends_at"), SGW_E_INVALID;
    if (time_parse_rfc3339(starts_at, strlen(starts_at), &s))
        return snprintf(err, errlen, "starts_at '%s' is not an RFC 3339 time", starts_at), SGW_E_INVALID;
    if (time_parse_rfc3339(ends_at, strlen(ends_at), &e))
        return snprintf(err, errlen, "ends_at '%s' is not an RFC 3339 time", ends_at), SGW_E_INVALID;
    if (e <= s) return snprintf(err, errlen, "ends_at is not after starts_at"), SGW_E_INVALID;
    r->has_window = true;
    r->starts_ms = s;
    r->ends_ms = e;
    return 0;
}

int suppress_set_zone(suppress_set *set, const char *name, const tz_zone **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!strcmp(name, "UTC")) return 0;
    if (!strcmp(name, "Local"))
        return snprintf(err, errlen, "'Local' is not supported: name the zone (such as Europe/Berlin)"),
               SGW_E_INVALID;
    for (size_t i = 0; i < set->n_zones; i++)
        if (!strcmp(tz_name(set->zones[i]), name)) return *out = set->zones[i], 0;
    tz_zone *z = tz_load(name, err, errlen);
    if (!z) return SGW_E_INVALID;
    set->zones = xrealloc(set->zones, (set->n_zones + 1) * sizeof *set->zones);
    set->zones[set->n_zones++] = z;
    *out = z;
    return 0;
}

time_interval *suppress_rule_interval(suppress_rule *r)
{
    r->iv = xrealloc(r->iv, (r->n_iv + 1) * sizeof *r->iv);
    memset(&r->iv[r->n_iv], 0, sizeof *r->iv);
    return &r->iv[r->n_iv++];
}

int suppress_rule_check(const suppress_rule *r, char *err, size_t errlen)
{
    if (r->n_m == 0) return snprintf(err, errlen, "matchers is required"), SGW_E_INVALID;
    bool selective = false;
    for (size_t i = 0; i < r->n_m && !selective; i++) selective = !matcher_matches(&r->m[i], "");
    if (!selective)
        return snprintf(err, errlen, "matchers: every one matches the empty string, so the rule would suppress "
                                     "every signal; add one that does not (e.g. alertname=~\".+\")"), SGW_E_INVALID;
    if (r->has_window && r->n_iv)
        return snprintf(err, errlen, "time_intervals: a rule has starts_at/ends_at or time_intervals, not both"),
               SGW_E_INVALID;
    if (!r->has_window && !r->n_iv)
        return snprintf(err, errlen, "starts_at/ends_at or time_intervals is required"), SGW_E_INVALID;
    return 0;
}

/* ---- asking -------------------------------------------------------------------------------- */

/* utc: now_ms's UTC fields, computed once by the caller; an interval with a location gets
 * its own zone's. */
static bool intervals_contain(const suppress_rule *r, int64_t now_ms, const ti_when *utc)
{
    for (size_t i = 0; i < r->n_iv; i++) {
        const time_interval *ti = &r->iv[i];
        ti_when local;
        if (ti->zone) time_interval_when_in(ti->zone, now_ms, &local);
        if (time_interval_contains(ti, ti->zone ? &local : utc)) return true;
    }
    return false;
}

bool suppress_rule_active(const suppress_rule *r, int64_t now_ms)
{
    if (r->has_window) return now_ms >= r->starts_ms && now_ms < r->ends_ms;
    ti_when w;
    time_interval_when(now_ms, &w);
    return intervals_contain(r, now_ms, &w);
}

bool suppress_rule_matches(const suppress_rule *r, const sig_signal *s)
{
    for (size_t i = 0; i < r->n_m; i++) {
        bool is_field;
        if (!matcher_matches(&r->m[i], suppress_field_value(s, r->m[i].name, &is_field))) return false;
    }
    return true;
}

const suppress_rule *suppress_match(const suppress_set *set, const sig_signal *s, int64_t now_ms)
{
    if (!set) return NULL;
    ti_when w;
    bool have_when = false;
    for (size_t i = 0; i < set->n; i++) {
        const suppress_rule *r = &set->r[i];
        bool active;
        if (r->has_window) {
            active = now_ms >= r->starts_ms && now_ms < r->ends_ms;
        } else {
            if (!have_when) time_interval_when(now_ms, &w), have_when = true;
            active = intervals_contain(r, now_ms, &w);
        }
        if (active && suppress_rule_matches(r, s)) return r;
    }
    return NULL;
}

/* The first time after t at which interval ti's state may change: the next of the candidate
 * minutes of the day (cand[0..nc), ascending, cand[0] == 0) in its zone's local time, or the
 * zone's next offset change, whichever comes first. */
static int64_t next_candidate(const time_interval *ti, const short *cand, int nc, int64_t t)
{
    int64_t s = t >= 0 ? t / 1000 : (t - 999) / 1000;
    int64_t off = ti->zone ? tz_offset(ti->zone, s) * 1000LL : 0;
    int64_t local = t + off;
    int64_t day = (local >= 0 ? local / DAY_MS : (local - DAY_MS + 1) / DAY_MS) * DAY_MS;
    int lo = 0, hi = nc;   /* the first candidate after local, by bisection */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (day + cand[mid] * 60000LL > local) hi = mid;
        else lo = mid + 1;
    }
    int64_t next = (lo < nc ? day + cand[lo] * 60000LL : day + DAY_MS) - off;   /* or the next local midnight */
    if (ti->zone) {
        int64_t z = tz_next_change(ti->zone, s);
        if (z != INT64_MAX && z * 1000 < next) next = z * 1000;
    }
    return next;
}

int64_t suppress_rule_next_change(const suppress_rule *r, int64_t now_ms)
{
    if (r->has_window) return now_ms < r->starts_ms ? r->starts_ms : now_ms < r->ends_ms ? r->ends_ms : 0;
    /* The state changes only at a local day's start, at a times range's ends (the same local
     * minutes of every day), or where a zone's offset changes. From now on, the earliest such
     * time of any interval is tested, until one differs from now. */
    unsigned char is_cand[1440] = {0};
    is_cand[0] = 1;
    for (size_t i = 0; i < r->n_iv; i++)
        for (size_t k = 0; k < r->iv[i].n[TI_TIMES]; k++) {
            const ti_range *t = &r->iv[i].r[TI_TIMES][k];
            is_cand[t->begin] = 1;
            if (t->end < 1440) is_cand[t->end] = 1;
        }
    short cand[1440];
    int nc = 0;
    for (int m = 0; m < 1440; m++)
        if (is_cand[m]) cand[nc++] = (short)m;
    bool now_active = suppress_rule_active(r, now_ms);
    int64_t t = now_ms, limit = now_ms + 400 * DAY_MS;
    while (t <= limit) {
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < r->n_iv; i++) {
            int64_t c = next_candidate(&r->iv[i], cand, nc, t);
            if (c < next) next = c;
        }
        if (next > limit) break;
        if (suppress_rule_active(r, next) != now_active) return next;
        t = next;
    }
    return 0;
}
