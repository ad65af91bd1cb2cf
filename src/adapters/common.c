/* common.c: what both adapters share: error reporting, signal validation (spec 3, upstream
 * 4.4) and the strict JSON front end declared in json_util.h. */
#include "adapters/adapter.h"
#include "adapters/json_util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cjson_arena.h"
#include "util/jsonscan.h"
#include "util/timeutil.h"
#include "util/utf8.h"

const adapter_limits ajson_default_limits = {.max_alerts = 1000, .max_payload_bytes = 64 << 10, .max_depth = 64};

/* ---- errors ------------------------------------------------------------------------------ */

int ajson_fail(adapter_error *err, adapter_status st, const char *fmt, ...)
{
    if (!err) return st;
    err->status = st;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (n < 0) {
        err->message[0] = '\0';
    } else if ((size_t)n >= sizeof err->message) {
        /* Field names come from valid UTF-8 input; do not let truncation split a character. */
        size_t len = strlen(err->message);
        size_t keep = utf8_truncate(err->message, len, sizeof err->message - 4);
        memcpy(err->message + keep, "...", 4);
    }
    return st;
}

size_t ajson_key_len(const char *k)
{
    size_t len = strlen(k);
    return utf8_truncate(k, len, AJSON_KEY_MAX);
}

/* ---- freshness --------------------------------------------------------------------------- */

/* ms >= 0 in seconds: "300s", "1.5s", "310.584s". */
static void fmt_span(char out[32], int64_t ms)
{
    int frac = (int)(ms % 1000), digits = 3;
    if (frac == 0) {
        snprintf(out, 32, "%llds", (long long)(ms / 1000));
        return;
    }
    while (frac % 10 == 0) frac /= 10, digits--;
    snprintf(out, 32, "%lld.%0*ds", (long long)(ms / 1000), digits, frac);
}

/* t_ms - now_ms and now_ms - t_ms cannot overflow: both are >= 0 (the parsers clamp earlier
 * times to 0, "absent") and an int64_t holds their difference. */
int adapter_check_freshness(const char *field, const char *shown, int64_t t_ms, int64_t now_ms,
                            const adapter_limits *lim, bool check_age, adapter_error *err)
{
    char when[32], by[32], tol[32];
    if (!shown) {
        time_format_rfc3339(t_ms, when);
        shown = when;
    }
    if (t_ms > now_ms && t_ms - now_ms > lim->max_skew_ms) {
        fmt_span(by, t_ms - now_ms);
        fmt_span(tol, lim->max_skew_ms);
        return ajson_fail(err, ADAPTER_E_FUTURE,
                          "%s: %s is %s in the future, beyond the clock skew tolerance of %s "
                          "(adapters.freshness_clock_skew)", field, shown, by, tol);
    }
    if (check_age && now_ms > t_ms && now_ms - t_ms > lim->max_age_ms) {
        fmt_span(by, now_ms - t_ms);
        fmt_span(tol, lim->max_age_ms);
        return ajson_fail(err, ADAPTER_E_STALE,
                          "%s: %s is %s old, beyond the freshness tolerance of %s (adapters.freshness_tolerance)",
                          field, shown, by, tol);
    }
    return ADAPTER_OK;
}

/* ---- validation -------------------------------------------------------------------------- */

#define K8S_NAME_MAX 253

static bool is_hex64(const char *s)
{
    /* no early exit: 64 predictable steps instead of 128 branches */
    unsigned bad = 0;
    for (int i = 0; i < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        bad |= (unsigned)((unsigned char)(c - '0') > 9) & (unsigned)((unsigned char)(c - 'a') > 5);
    }
    return !bad && s[64] == '\0';
}

int sig_validate(const sig_signal *s, adapter_error *err)
{
    if (!s->name || !*s->name) return ajson_fail(err, ADAPTER_E_MISSING, "signal name is required");
    if (strlen(s->name) > K8S_NAME_MAX)
        return ajson_fail(err, ADAPTER_E_TYPE, "signal name is longer than %d bytes", K8S_NAME_MAX);
    if (!s->kind || !*s->kind) return ajson_fail(err, ADAPTER_E_MISSING, "resource kind is required");
    if (!s->res_name || !*s->res_name)
        return ajson_fail(err, ADAPTER_E_MISSING, "resource name is required (%s)", s->kind);
    if (s->namespace && strlen(s->namespace) > K8S_NAME_MAX)
        return ajson_fail(err, ADAPTER_E_TYPE, "namespace is longer than %d bytes", K8S_NAME_MAX);
    if ((unsigned)s->severity > (unsigned)SEV_INFO)
        return ajson_fail(err, ADAPTER_E_TYPE, "invalid severity %d", (int)s->severity);
    if (!is_hex64(s->fingerprint))
        return ajson_fail(err, ADAPTER_E_TYPE, "fingerprint is not 64 lowercase hex digits");
    return ADAPTER_OK;
}

/* ---- JSON front end ---------------------------------------------------------------------- */

#define NO_STRING SIZE_MAX

static bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* RFC 8259 number at s[i]: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? . cJSON hands any
 * run of [0-9+-.eE] to strtod, which also takes "01", "1." and "-.5"; Go does not. Returns
 * the offset after the number, or 0 if it is malformed. */
static size_t scan_number(const unsigned char *s, size_t len, size_t i)
{
    if (i < len && s[i] == '-') i++;
    if (i >= len || !is_digit(s[i])) return 0;
    if (s[i] == '0') i++;
    else while (i < len && is_digit(s[i])) i++;
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || !is_digit(s[i])) return 0;
        while (i < len && is_digit(s[i])) i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= len || !is_digit(s[i])) return 0;
        while (i < len && is_digit(s[i])) i++;
    }
    /* "01" would otherwise scan as two numbers; cJSON's strtod reads it as one */
    if (i < len && (is_digit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == '+' || s[i] == '-'))
        return 0;
    return i;
}

/* One pass over the bytes, before cJSON sees them: nesting depth (so a 10,000-deep body costs
 * microseconds, not a recursive parse), raw control bytes (JSON requires them escaped; a raw
 * NUL would truncate a C string), non-JSON bytes outside strings, number syntax, and the
 * ordinal of the first string token holding a \u0000 escape (*nul_string). */
static int prescan(const char *body, size_t len, int max_depth, size_t *nul_string,
                   adapter_error *err)
{
    const unsigned char *s = (const unsigned char *)body;
    int depth = 0;
    size_t strings = 0;
    *nul_string = NO_STRING;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (c == '"') {                                   /* a string token */
            size_t start = i++;
            for (;;) {
                i = json_skip_plain(s, len, i);   /* the common bytes, sixteen at a time */
                if (i >= len) return ajson_fail(err, ADAPTER_E_JSON, "unterminated string at byte offset %zu", start);
                c = s[i];
                if (c == '"') break;
                if (c < 0x20)
                    return ajson_fail(err, ADAPTER_E_JSON, c == 0 ? "NUL byte at byte offset %zu"
                                      : "unescaped control character in a string at byte offset %zu", i);
                if (c == '\\') {
                    if (i + 1 >= len) { i++; continue; }  /* reported as unterminated next turn */
                    if (s[i + 1] == 'u' && *nul_string == NO_STRING && len - i >= 6 &&
                        memcmp(s + i + 2, "0000", 4) == 0)
                        *nul_string = strings;
                    i += 2;                               /* hex digits are ordinary bytes */
                    continue;
                }
                i++;
            }
            strings++;
            i++;
            continue;
        }
        if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return ajson_fail(err, ADAPTER_E_DEPTH, "JSON nesting deeper than %d at byte offset %zu", max_depth, i);
        } else if (c == ']' || c == '}') {
            if (depth > 0) depth--;
        } else if (c == '-' || is_digit(c)) {
            size_t e = scan_number(s, len, i);
            if (!e) return ajson_fail(err, ADAPTER_E_JSON, "invalid number at byte offset %zu", i);
            i = e;
            continue;
        } else if (c < 0x20 && !is_ws(c)) {
            return ajson_fail(err, ADAPTER_E_JSON, c == 0 ? "NUL byte at byte offset %zu"
                              : "unexpected control character at byte offset %zu", i);
        } else if (c >= 0x7f) {
            return ajson_fail(err, ADAPTER_E_JSON, "unexpected byte 0x%02x at byte offset %zu", c, i);
        }
        i++;
    }
    return ADAPTER_OK;
}

/* Finds the n-th string token (keys and string values, document order: cJSON keeps members
 * in input order) to name the field that held a \u0000 escape. */
typedef struct nul_find {
    size_t      target, seen;
    char        path[160];
    size_t      path_len;
    const char *key;          /* set when the NUL is in a member name */
} nul_find;

static size_t path_append(nul_find *f, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static size_t path_append(nul_find *f, size_t at, const char *fmt, ...)
{
    if (at >= sizeof f->path - 1) return at;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(f->path + at, sizeof f->path - at, fmt, ap);
    va_end(ap);
    if (n < 0) return at;
    size_t end = at + (size_t)n;
    if (end < sizeof f->path) return end;
    /* Cut short: drop a trailing partial UTF-8 sequence (the text itself is valid UTF-8). */
    const unsigned char *p = (const unsigned char *)f->path;
    end = sizeof f->path - 1;
    size_t lead = end;
    while (lead > 0 && (p[lead - 1] & 0xC0) == 0x80) lead--;
    if (lead > 0 && p[lead - 1] >= 0xC0) {
        size_t need = p[lead - 1] >= 0xF0 ? 4 : p[lead - 1] >= 0xE0 ? 3 : 2;
        if (end - (lead - 1) < need) end = lead - 1;
    }
    f->path[end] = '\0';
    return end;
}

static bool find_string(const cJSON *node, nul_find *f, size_t plen)
{
    if (cJSON_IsString(node)) {
        if (f->seen++ == f->target) { f->path_len = plen; return true; }
        return false;
    }
    size_t idx = 0;
    bool obj = cJSON_IsObject(node);
    if (!obj && !cJSON_IsArray(node)) return false;
    for (const cJSON *c = node->child; c; c = c->next, idx++) {
        size_t n;
        if (obj) {
            if (f->seen++ == f->target) { f->path_len = plen; f->key = c->string; return true; }
            n = path_append(f, plen, plen ? ".%.*s" : "%.*s", AJSON_KEY(c->string));
        } else {
            n = path_append(f, plen, "[%zu]", idx);
        }
        if (find_string(c, f, n)) return true;
    }
    return false;
}

int ajson_parse(const char *body, size_t len, int max_depth, cJSON **root, adapter_error *err)
{
    *root = NULL;
    if (max_depth <= 0 || max_depth > CJSON_NESTING_LIMIT) max_depth = CJSON_NESTING_LIMIT;
    if (!body || len == 0) return ajson_fail(err, ADAPTER_E_JSON, "empty body");
    size_t bad = 0;
    if (!utf8_valid(body, len, &bad))
        return ajson_fail(err, ADAPTER_E_UTF8, "body is not valid UTF-8 (byte offset %zu)", bad);
    size_t nul_string;
    int rc = prescan(body, len, max_depth, &nul_string, err);
    if (rc) return rc;

    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!doc) {
        size_t off = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
        return ajson_fail(err, ADAPTER_E_JSON, "malformed JSON near byte offset %zu", off);
    }
    for (size_t i = (size_t)(end - body); i < len; i++) {
        if (!is_ws((unsigned char)body[i])) {
            cJSON_Delete(doc);
            return ajson_fail(err, ADAPTER_E_JSON, "unexpected data after the JSON value at byte offset %zu", i);
        }
    }
    if (nul_string != NO_STRING) {
        nul_find f = {.target = nul_string};
        if (find_string(doc, &f, 0)) {
            f.path[f.path_len] = '\0';
            if (f.key)
                ajson_fail(err, ADAPTER_E_TYPE, "%s%s%.*s: NUL character (\\u0000) in a field name is not allowed",
                           f.path, f.path_len ? "." : "", AJSON_KEY(f.key));
            else
                ajson_fail(err, ADAPTER_E_TYPE, "%s: NUL character (\\u0000) is not allowed",
                           f.path_len ? f.path : "body");
        } else {
            ajson_fail(err, ADAPTER_E_TYPE, "NUL character (\\u0000) is not allowed");
        }
        cJSON_Delete(doc);
        return ADAPTER_E_TYPE;
    }
    *root = doc;
    return ADAPTER_OK;
}

static bool ascii_case_eq(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x == y) {              /* the usual case: the same byte, no folding */
            if (!x) return true;
            continue;
        }
        if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
        if (x != y) return false;
    }
}

const cJSON *ajson_get(const cJSON *obj, const char *name)
{
    const cJSON *found;
    ajson_get_many(obj, &name, 1, &found);
    return found;
}

void ajson_get_many(const cJSON *obj, const char *const *names, size_t n, const cJSON **out)
{
    for (size_t k = 0; k < n; k++) out[k] = NULL;
    if (!cJSON_IsObject(obj)) return;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (!c->string) continue;
        unsigned char first = (unsigned char)c->string[0] | 0x20;   /* ASCII letters: either case */
        for (size_t k = 0; k < n; k++)
            if (((unsigned char)names[k][0] | 0x20) == first && ascii_case_eq(c->string, names[k])) out[k] = c;
    }
    for (size_t k = 0; k < n; k++)
        if (cJSON_IsNull(out[k])) out[k] = NULL;
}

const char *ajson_field(char *buf, size_t n, const char *path, const char *name)
{
    /* path "." key, cut to n-1 bytes at a character boundary (no printf: this runs for
     * every field an adapter reads) */
    size_t pl = path ? strlen(path) : 0, kl = ajson_key_len(name), o = 0;
    if (n == 0) return buf;
    const char *parts[3] = {path, ".", name};
    size_t lens[3] = {pl, pl ? 1 : 0, kl};
    for (int i = 0; i < 3; i++) {
        size_t room = n - 1 - o, l = lens[i];
        if (l > room) l = utf8_truncate(parts[i], lens[i], room);
        if (l) memcpy(buf + o, parts[i], l);
        o += l;
        if (l < lens[i]) break;
    }
    buf[o] = '\0';
    return buf;
}

int ajson_string_value(const cJSON *v, const char *path, const char *name, const char **out, adapter_error *err)
{
    *out = NULL;
    if (!v) return ADAPTER_OK;
    if (!cJSON_IsString(v)) {
        char f[128];
        return ajson_fail(err, ADAPTER_E_TYPE, "%s: expected a string", ajson_field(f, sizeof f, path, name));
    }
    *out = v->valuestring;
    return ADAPTER_OK;
}

int ajson_opt_string(const cJSON *obj, const char *name, const char *path, const char **out,
                     adapter_error *err)
{
    return ajson_string_value(ajson_get(obj, name), path, name, out, err);
}

int ajson_time_value(const cJSON *v, const char *path, const char *name, int64_t *ms, adapter_error *err)
{
    char f[128];
    *ms = 0;
    if (!v) return ADAPTER_OK;
    if (!cJSON_IsString(v))
        return ajson_fail(err, ADAPTER_E_TYPE, "%s: expected an RFC 3339 timestamp string",
                          ajson_field(f, sizeof f, path, name));
    int64_t t;
    if (time_parse_rfc3339(v->valuestring, strlen(v->valuestring), &t) != 0)
        return ajson_fail(err, ADAPTER_E_TYPE, "%s: \"%.*s\" is not an RFC 3339 timestamp",
                          ajson_field(f, sizeof f, path, name),
                          (int)utf8_truncate(v->valuestring, strlen(v->valuestring), 40), v->valuestring);
    *ms = t > 0 ? t : 0;      /* Go's zero time (year 1) means "not set" */
    return ADAPTER_OK;
}

int ajson_opt_time(const cJSON *obj, const char *name, const char *path, int64_t *ms,
                   adapter_error *err)
{
    return ajson_time_value(ajson_get(obj, name), path, name, ms, err);
}

int ajson_string_map(const cJSON *obj, const char *path, const char *name, arena *a, sig_map *out,
                     adapter_error *err)
{
    out->items = NULL;
    out->n = 0;
    if (!obj || cJSON_IsNull(obj)) return ADAPTER_OK;
    char f[128];
    if (!cJSON_IsObject(obj))
        return ajson_fail(err, ADAPTER_E_TYPE, "%s: expected an object", ajson_field(f, sizeof f, path, name));
    size_t n = 0;
    for (const cJSON *c = obj->child; c; c = c->next) n++;
    if (n == 0) return ADAPTER_OK;
    sig_kv *items = arena_alloc(a, n * sizeof *items);
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return ajson_fail(err, ADAPTER_E_TYPE, "%s.%.*s: expected a string", ajson_field(f, sizeof f, path, name),
                              AJSON_KEY(c->string));
        items[i].key = c->string;          /* the tree is in the arena too: no copies */
        items[i].value = c->valuestring;
        i++;
    }
    out->items = items;
    out->n = n;
    return ADAPTER_OK;
}

void ajson_end(cJSON *root)
{
    (void)root;   /* arena-allocated: nothing to free node by node */
    cjson_arena_leave();
}

int ajson_begin(const char *body, size_t len, const adapter_limits **lim, arena *a, sig_signal **out, size_t *n,
                adapter_error *err, cJSON **root)
{
    cjson_arena_enter(a);
    if (!*lim) *lim = &ajson_default_limits;
    *out = NULL;
    *n = 0;
    if (err) {
        err->status = ADAPTER_OK;
        err->message[0] = '\0';
        err->truncated = 0;
    }
    return ajson_parse(body, len, (*lim)->max_depth, root, err);
}
