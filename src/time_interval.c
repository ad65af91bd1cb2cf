/* time_interval.c: Alertmanager's time_interval, parsed and evaluated; see time_interval.h.
 * The ranges and their checks are Alertmanager's (timeinterval.go): inclusive ranges,
 * times [start, end) within one day, negative days of the month counted from its end and
 * clamped to the month. */
#include "time_interval.h"
#include "util/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *const time_interval_field_names[TI_NFIELDS] = {"times", "weekdays", "days_of_month", "months", "years"};

static const char *const weekday_names[7] = {"sunday", "monday", "tuesday", "wednesday",
                                             "thursday", "friday", "saturday"};
static const char *const month_names[12] = {"january", "february", "march", "april", "may", "june", "july",
                                            "august", "september", "october", "november", "december"};

/* One end of a range in s[0..n): a name of names[] (index + base), or a decimal integer
 * with an optional '-' when signed. 0, or SGW_E_INVALID. */
static int range_end(const char *s, size_t n, const char *const *names, int nnames, int base, bool numbers,
                     bool is_signed, int *out)
{
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n == 0) return SGW_E_INVALID;
    for (int i = 0; i < nnames; i++)
        if (strlen(names[i]) == n && strncasecmp(s, names[i], n) == 0) return *out = i + base, 0;
    if (!numbers) return SGW_E_INVALID;
    size_t i = 0;
    bool neg = false;
    if (is_signed && s[0] == '-') neg = true, i++;
    if (i == n || n - i > 6) return SGW_E_INVALID;
    int v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return SGW_E_INVALID;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

int time_interval_add(time_interval *ti, ti_field f, const char *text, char *err, size_t errlen)
{
    if (f == TI_TIMES || f >= TI_NFIELDS) return snprintf(err, errlen, "not a list of ranges"), SGW_E_INVALID;
    if (ti->n[f] >= TI_MAX_RANGES)
        return snprintf(err, errlen, "more than %d ranges", TI_MAX_RANGES), SGW_E_INVALID;
    const char *colon = strchr(text, ':');
    size_t n1 = colon ? (size_t)(colon - text) : strlen(text);
    const char *s2 = colon ? colon + 1 : text;
    size_t n2 = colon ? strlen(s2) : n1;
    const char *const *names = f == TI_WEEKDAYS ? weekday_names : f == TI_MONTHS ? month_names : NULL;
    int nnames = f == TI_WEEKDAYS ? 7 : f == TI_MONTHS ? 12 : 0;
    int base = f == TI_MONTHS ? 1 : 0;
    bool numbers = f != TI_WEEKDAYS, is_signed = f == TI_DAYS_OF_MONTH;
    ti_range r;
    if (range_end(text, n1, names, nnames, base, numbers, is_signed, &r.begin) ||
        range_end(s2, n2, names, nnames, base, numbers, is_signed, &r.end)) {
        static const char *const want[TI_NFIELDS] = {
            "", "a weekday name (sunday..saturday) or a range of them (monday:friday)",
            "a day of the month (1..31, or -31..-1 from its end) or a range of them (1:5, -3:-1)",
            "a month (january..december or 1..12) or a range of them (january:march)",
            "a year or a range of years (2026:2027)"};
        return snprintf(err, errlen, "'%s' is not %s", text, want[f]), SGW_E_INVALID;
    }
    switch (f) {
    case TI_DAYS_OF_MONTH: {
        if (r.begin == 0 || r.begin < -31 || r.begin > 31 || r.end == 0 || r.end < -31 || r.end > 31)
            return snprintf(err, errlen, "'%s': a day of the month is 1..31 or -31..-1", text), SGW_E_INVALID;
        if (r.begin < 0 && r.end > 0)
            return snprintf(err, errlen, "'%s': the end day must be negative if the start day is", text), SGW_E_INVALID;
        /* begin <= end in a month of 28 days, the shortest: never a range that is always empty */
        int cb = r.begin < 0 ? 28 + r.begin : r.begin, ce = r.end < 0 ? 28 + r.end : r.end;
        if (cb > ce) return snprintf(err, errlen, "'%s': the end day is before the start day", text), SGW_E_INVALID;
        break;
    }
    case TI_MONTHS:
        if (r.begin < 1 || r.begin > 12 || r.end < 1 || r.end > 12)
            return snprintf(err, errlen, "'%s': a month is 1..12", text), SGW_E_INVALID;
        /* fall through */
    default:
        if (r.begin > r.end)
            return snprintf(err, errlen, "'%s': the end of the range is before its start", text), SGW_E_INVALID;
        if (f == TI_YEARS && (r.begin < 1 || r.end > 9999))
            return snprintf(err, errlen, "'%s': a year is 1..9999", text), SGW_E_INVALID;
        break;
    }
    ti->r[f][ti->n[f]++] = r;
    return 0;
}

/* "HH:MM", 00:00..23:59 or 24:00, as minutes of the day; -1 if it is not one */
static int parse_hhmm(const char *s)
{
    if (strlen(s) != 5 || s[2] != ':') return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9')) return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
    return h * 60 + m;
}

int time_interval_add_times(time_interval *ti, const char *start, const char *end, char *err, size_t errlen)
{
    if (ti->n[TI_TIMES] >= TI_MAX_RANGES)
        return snprintf(err, errlen, "more than %d ranges", TI_MAX_RANGES), SGW_E_INVALID;
    int b = start ? parse_hhmm(start) : -1, e = end ? parse_hhmm(end) : -1;
    if (b < 0 || e < 0)
        return snprintf(err, errlen, "start_time and end_time are both required, each HH:MM from 00:00 to 24:00"),
               SGW_E_INVALID;
    if (b >= e)
        return snprintf(err, errlen, "start_time %s is not before end_time %s (a range never wraps midnight: "
                                     "write two, the second from 00:00)", start, end), SGW_E_INVALID;
    ti->r[TI_TIMES][ti->n[TI_TIMES]++] = (ti_range){b, e};
    return 0;
}

void time_interval_when(int64_t ms, ti_when *w) { time_interval_when_in(NULL, ms, w); }

void time_interval_when_in(const tz_zone *zone, int64_t ms, ti_when *w)
{
    int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    if (zone) s += tz_offset(zone, s);   /* local time, then read as if it were UTC */
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);   /* no process time zone, no shared state */
    w->year = tm.tm_year + 1900;
    w->month = tm.tm_mon + 1;
    w->mday = tm.tm_mday;
    w->wday = tm.tm_wday;
    w->minute = tm.tm_hour * 60 + tm.tm_min;
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (w->year % 4 == 0 && w->year % 100 != 0) || w->year % 400 == 0;
    w->days_in_month = dim[tm.tm_mon] + (tm.tm_mon == 1 && leap);
}

static bool in_ranges(const ti_range *r, size_t n, int v)
{
    for (size_t i = 0; i < n; i++)
        if (v >= r[i].begin && v <= r[i].end) return true;
    return false;
}

static int clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

bool time_interval_contains(const time_interval *ti, const ti_when *w)
{
    if (ti->n[TI_TIMES]) {
        bool in = false;
        for (size_t i = 0; i < ti->n[TI_TIMES] && !in; i++)
            in = w->minute >= ti->r[TI_TIMES][i].begin && w->minute < ti->r[TI_TIMES][i].end;
        if (!in) return false;
    }
    if (ti->n[TI_DAYS_OF_MONTH]) {
        int dim = w->days_in_month;
        bool in = false;
        for (size_t i = 0; i < ti->n[TI_DAYS_OF_MONTH] && !in; i++) {
            const ti_range *r = &ti->r[TI_DAYS_OF_MONTH][i];
            int b = r->begin < 0 ? dim + r->begin + 1 : r->begin;
            int e = r->end < 0 ? dim + r->end + 1 : r->end;
            if (b > dim) continue;   /* "31" in a month of 30 days: not there */
            b = clamp(b, -dim, dim);
            e = clamp(e, -dim, dim);
            in = w->mday >= b && w->mday <= e;
        }
        if (!in) return false;
    }
    if (ti->n[TI_WEEKDAYS] && !in_ranges(ti->r[TI_WEEKDAYS], ti->n[TI_WEEKDAYS], w->wday)) return false;
    if (ti->n[TI_MONTHS] && !in_ranges(ti->r[TI_MONTHS], ti->n[TI_MONTHS], w->month)) return false;
    if (ti->n[TI_YEARS] && !in_ranges(ti->r[TI_YEARS], ti->n[TI_YEARS], w->year)) return false;
    return true;
}

static void one_end(ti_field f, int v, char *out, size_t cap)
{
    if (f == TI_WEEKDAYS && v >= 0 && v < 7) snprintf(out, cap, "%s", weekday_names[v]);
    else if (f == TI_MONTHS && v >= 1 && v <= 12) snprintf(out, cap, "%s", month_names[v - 1]);
    else if (f == TI_TIMES) snprintf(out, cap, "%02d:%02d", v / 60, v % 60);
    else snprintf(out, cap, "%d", v);
}

void time_interval_range_text(const time_interval *ti, ti_field f, size_t i, char *out, size_t cap, char *out2,
                              size_t cap2)
{
    const ti_range *r = &ti->r[f][i];
    if (f == TI_TIMES) {
        one_end(f, r->begin, out, cap);
        if (out2) one_end(f, r->end, out2, cap2);
        return;
    }
    char b[16], e[16];
    one_end(f, r->begin, b, sizeof b);
    one_end(f, r->end, e, sizeof e);
    if (r->begin == r->end) snprintf(out, cap, "%s", b);
    else snprintf(out, cap, "%s:%s", b, e);
}
