/* tz.c: TZif (RFC 8536) zone files read into an immutable table: the transition times, the
 * offset in effect after each, and the footer's POSIX TZ rule for times after the last one
 * (Debian's files are "fat", with transitions to 2037, but the rule still covers the rest).
 * The zone file is trusted system data; it is still parsed with every length checked. */
#include "tz.h"
#include "util/err.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_MAX_FILE  (1 << 20)   /* the largest system zone is ~4 KiB */
#define TZ_MAX_TRANS 20000
#define TZ_MAX_TYPES 256

/* The footer's rule: std offset, and when dst_off is in effect (both seconds east). */
typedef struct tz_rule_end {
    char kind;      /* 'J': n 1..365, Feb 29 never counted; 'D': n 0..365; 'M': month.week.day */
    int  n, m, w, d;
    int  time;      /* seconds after local midnight, -167h..167h (RFC 8536's extension) */
} tz_rule_end;

typedef struct tz_rule {
    bool        present, has_dst;
    int32_t     std_off, dst_off;
    tz_rule_end start, end;
} tz_rule;

struct tz_zone {
    char    *name;
    int64_t *at;       /* transition times, strictly ascending */
    int32_t *off;      /* off[i]: the offset from at[i] on */
    size_t   n;
    int32_t  first;    /* before at[0] (or always, with no transitions and no rule) */
    tz_rule  rule;     /* from the last transition on, if present */
};

/* ---- calendar ------------------------------------------------------------------------------ */

static int64_t days_from_civil(int64_t y, int m, int d)   /* days since 1970-01-01 */
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t year_of(int64_t t)   /* the UTC calendar year of t */
{
    int64_t z = (t >= 0 ? t / 86400 : (t - 86399) / 86400) + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    return yoe + era * 400 + (m <= 2);
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* The day (days since the epoch) that e names in year y. */
static int64_t rule_day(const tz_rule_end *e, int64_t y)
{
    if (e->kind == 'J') return days_from_civil(y, 1, 1) + e->n - 1 + (is_leap(y) && e->n >= 60);
    if (e->kind == 'D') return days_from_civil(y, 1, 1) + e->n;
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t d1 = days_from_civil(y, e->m, 1);
    int wd1 = (int)(((d1 + 4) % 7 + 7) % 7);   /* 1970-01-01 was a Thursday */
    int day = 1 + (e->d - wd1 + 7) % 7 + (e->w - 1) * 7;
    int last = dim[e->m - 1] + (e->m == 2 && is_leap(y));
    while (day > last) day -= 7;
    return d1 + day - 1;
}

/* The UTC times DST starts and ends in year y (local times: start in standard time, end in
 * daylight time). */
static void rule_year(const tz_rule *r, int64_t y, int64_t *start, int64_t *end)
{
    *start = rule_day(&r->start, y) * 86400 + r->start.time - r->std_off;
    *end = rule_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
}

/* The rule's offset at t: the last of the start/end events of the years around t decides,
 * which holds whatever their order (southern zones, all-year DST written as two rules). */
static int32_t rule_offset(const tz_rule *r, int64_t t)
{
    if (!r->has_dst) return r->std_off;
    int64_t y = year_of(t + r->std_off), best = INT64_MIN;
    bool dst = false;
    for (int64_t k = y - 1; k <= y + 1; k++) {
        int64_t s, e;
        rule_year(r, k, &s, &e);
        if (s <= t && s > best) best = s, dst = true;
        if (e <= t && e >= best) best = e, dst = false;
    }
    return dst ? r->dst_off : r->std_off;
}

static int64_t rule_next(const tz_rule *r, int64_t t)
{
    if (!r->has_dst) return INT64_MAX;
    int64_t y = year_of(t + r->std_off), best = INT64_MAX;
    for (int64_t k = y - 1; k <= y + 2; k++) {
        int64_t s, e;
        rule_year(r, k, &s, &e);
        if (s > t && s < best) best = s;
        if (e > t && e < best) best = e;
    }
    return best;
}

/* ---- the POSIX TZ string (RFC 8536 section 3.3.1) ------------------------------------------- */

static bool p_name(const char **p)
{
    const char *s = *p;
    if (*s == '<') {
        s++;
        const char *b = s;
        while (*s && *s != '>') {
            if (!(*s == '+' || *s == '-' || (*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') ||
                  (*s >= 'a' && *s <= 'z')))
                return false;
            s++;
        }
        if (*s != '>' || s - b < 3) return false;
        *p = s + 1;
        return true;
    }
    const char *b = s;
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) s++;
    if (s - b < 3) return false;
    *p = s;
    return true;
}

static bool p_num(const char **p, int max, int *out)
{
    const char *s = *p;
    int v = 0;
    if (*s < '0' || *s > '9') return false;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > max) return false;
    }
    *p = s;
    *out = v;
    return true;
}

/* [+-]hh[:mm[:ss]] as seconds, hh at most maxh */
static bool p_hms(const char **p, int maxh, int *out)
{
    const char *s = *p;
    int sign = 1, h, m = 0, sec = 0;
    if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
    if (!p_num(&s, maxh, &h)) return false;
    if (*s == ':') {
        s++;
        if (!p_num(&s, 59, &m)) return false;
        if (*s == ':') {
            s++;
            if (!p_num(&s, 59, &sec)) return false;
        }
    }
    *p = s;
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
}

static bool p_rule_end(const char **p, tz_rule_end *e)
{
    const char *s = *p;
    if (*s == 'J') {
        s++;
        e->kind = 'J';
        if (!p_num(&s, 365, &e->n) || e->n < 1) return false;
    } else if (*s == 'M') {
        s++;
        e->kind = 'M';
        if (!p_num(&s, 12, &e->m) || e->m < 1 || *s++ != '.' || !p_num(&s, 5, &e->w) || e->w < 1 || *s++ != '.' ||
            !p_num(&s, 6, &e->d))
            return false;
    } else {
        e->kind = 'D';
        if (!p_num(&s, 365, &e->n)) return false;
    }
    e->time = 2 * 3600;
    if (*s == '/') {
        s++;
        if (!p_hms(&s, 167, &e->time)) return false;
    }
    *p = s;
    return true;
}

static bool parse_rule(const char *s, tz_rule *r)
{
    int off;
    memset(r, 0, sizeof *r);
    if (!p_name(&s) || !p_hms(&s, 24, &off)) return false;
    r->std_off = -off;   /* POSIX counts west of Greenwich as positive */
    r->present = true;
    if (!*s) return true;
    if (!p_name(&s)) return false;
    r->dst_off = r->std_off + 3600;
    if (*s && *s != ',') {
        if (!p_hms(&s, 24, &off)) return false;
        r->dst_off = -off;
    }
    if (*s++ != ',' || !p_rule_end(&s, &r->start) || *s++ != ',' || !p_rule_end(&s, &r->end) || *s) return false;
    r->has_dst = true;
    return true;
}

/* ---- TZif ---------------------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

typedef struct tzif_hdr {
    int      version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_hdr;

static bool read_hdr(const unsigned char *p, size_t n, tzif_hdr *h)
{
    if (n < 44 || memcmp(p, "TZif", 4) != 0) return false;
    h->version = p[4] == 0 ? 1 : p[4] - '0';
    if (h->version < 1 || h->version > 9) return false;
    h->isutcnt = be32(p + 20), h->isstdcnt = be32(p + 24), h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32), h->typecnt = be32(p + 36), h->charcnt = be32(p + 40);
    return true;
}

static size_t block_len(const tzif_hdr *h, size_t tsize)
{
    return (size_t)h->timecnt * tsize + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt +
           (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static tz_zone *fail(tz_zone *z, char *err, size_t errlen, const char *name, const char *why)
{
    snprintf(err, errlen, "zone '%s': %s", name, why);
    tz_free(z);
    return NULL;
}

tz_zone *tz_parse(const unsigned char *data, size_t n, const char *name, char *err, size_t errlen)
{
    tzif_hdr h;
    if (!read_hdr(data, n, &h)) return fail(NULL, err, errlen, name, "not a TZif zone file");
    if (h.timecnt > TZ_MAX_TRANS || h.typecnt == 0 || h.typecnt > TZ_MAX_TYPES || h.charcnt == 0 ||
        h.charcnt > 4096 || h.leapcnt > 1000 || (h.isutcnt && h.isutcnt != h.typecnt) ||
        (h.isstdcnt && h.isstdcnt != h.typecnt))
        return fail(NULL, err, errlen, name, "TZif header counts out of range");
    size_t pos = 44, tsize = 4;
    if (n - pos < block_len(&h, 4)) return fail(NULL, err, errlen, name, "TZif file truncated");
    if (h.version >= 2) {   /* skip the 32-bit block: the 64-bit one that follows is complete */
        pos += block_len(&h, 4);
        if (!read_hdr(data + pos, n - pos, &h)) return fail(NULL, err, errlen, name, "TZif second header missing");
        if (h.timecnt > TZ_MAX_TRANS || h.typecnt == 0 || h.typecnt > TZ_MAX_TYPES || h.charcnt == 0 ||
            h.charcnt > 4096 || h.leapcnt > 1000 || (h.isutcnt && h.isutcnt != h.typecnt) ||
            (h.isstdcnt && h.isstdcnt != h.typecnt))
            return fail(NULL, err, errlen, name, "TZif header counts out of range");
        pos += 44;
        tsize = 8;
        if (n - pos < block_len(&h, 8)) return fail(NULL, err, errlen, name, "TZif file truncated");
    }
    if (h.leapcnt) return fail(NULL, err, errlen, name, "zone files with leap seconds (right/...) are not supported");
    const unsigned char *times = data + pos, *idx = times + (size_t)h.timecnt * tsize, *types = idx + h.timecnt;
    int32_t toff[TZ_MAX_TYPES];
    for (uint32_t i = 0; i < h.typecnt; i++) {
        int32_t o = (int32_t)be32(types + 6 * i);
        if (o < -89999 || o > 93599 || types[6 * i + 4] > 1 || types[6 * i + 5] >= h.charcnt)
            return fail(NULL, err, errlen, name, "TZif local time type out of range");
        toff[i] = o;
    }
    tz_zone *z = xcalloc(1, sizeof *z);
    z->name = xstrdup(name);
    z->n = h.timecnt;
    z->at = xmalloc((z->n ? z->n : 1) * sizeof *z->at);
    z->off = xmalloc((z->n ? z->n : 1) * sizeof *z->off);
    z->first = toff[0];
    for (size_t i = 0; i < z->n; i++) {
        z->at[i] = tsize == 8 ? be64(times + 8 * i) : (int64_t)(int32_t)be32(times + 4 * i);
        if (i && z->at[i] <= z->at[i - 1]) return fail(z, err, errlen, name, "TZif transition times not ascending");
        if (idx[i] >= h.typecnt) return fail(z, err, errlen, name, "TZif transition type out of range");
        z->off[i] = toff[idx[i]];
    }
    pos += block_len(&h, tsize);
    if (h.version >= 2) {   /* footer: "\n<POSIX TZ string>\n"; an empty string means no rule */
        if (pos >= n || data[pos] != '\n') return fail(z, err, errlen, name, "TZif footer missing");
        const unsigned char *nl = memchr(data + pos + 1, '\n', n - pos - 1);
        if (!nl || nl - (data + pos + 1) > 255) return fail(z, err, errlen, name, "TZif footer not terminated");
        char rule[256];
        size_t rl = (size_t)(nl - (data + pos + 1));
        memcpy(rule, data + pos + 1, rl);
        rule[rl] = 0;
        if (rl && !parse_rule(rule, &z->rule))
            return fail(z, err, errlen, name, "TZif footer is not a POSIX TZ rule this reader knows");
    }
    return z;
}

tz_zone *tz_load_file(const char *path, const char *name, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "zone '%s': %s: %s", name, path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = xmalloc(TZ_MAX_FILE);
    size_t n = fread(buf, 1, TZ_MAX_FILE, f);
    bool bad = ferror(f) || (n == TZ_MAX_FILE);
    fclose(f);
    tz_zone *z = bad ? fail(NULL, err, errlen, name, "zone file unreadable or too large")
                     : tz_parse(buf, n, name, err, errlen);
    free(buf);
    return z;
}

tz_zone *tz_load(const char *name, char *err, size_t errlen)
{
    size_t len = strlen(name);
    bool ok = len > 0 && len < 200 && name[0] != '/' && !strstr(name, "..");
    for (size_t i = 0; ok && i < len; i++) {
        char c = name[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '_' ||
             c == '+' || c == '-';
    }
    if (!ok) {
        snprintf(err, errlen, "'%s' is not an IANA time zone name (such as Europe/Berlin)", name);
        return NULL;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/%s", TZ_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "unknown time zone '%s' (no file %s; is the tzdata package installed?)", name, path);
        return NULL;
    }
    fclose(f);
    return tz_load_file(path, name, err, errlen);
}

void tz_free(tz_zone *z)
{
    if (!z) return;
    free(z->name);
    free(z->at);
    free(z->off);
    free(z);
}

const char *tz_name(const tz_zone *z) { return z->name; }

/* index of the last transition at or before t, or -1 */
static ptrdiff_t last_at(const tz_zone *z, int64_t t)
{
    size_t lo = 0, hi = z->n;   /* first index with at > t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t) lo = mid + 1;
        else hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

int32_t tz_offset(const tz_zone *z, int64_t t)
{
    if (z->n == 0) return z->rule.present ? rule_offset(&z->rule, t) : z->first;
    ptrdiff_t i = last_at(z, t);
    if (i < 0) return z->first;
    if ((size_t)i == z->n - 1 && z->rule.present) return rule_offset(&z->rule, t);
    return z->off[i];
}

int64_t tz_next_change(const tz_zone *z, int64_t t)
{
    ptrdiff_t i = z->n ? last_at(z, t) : -1;
    if (z->n && (size_t)(i + 1) < z->n) return z->at[i + 1];
    return z->rule.present ? rule_next(&z->rule, t) : INT64_MAX;
}
