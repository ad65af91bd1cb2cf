/* jsonw.c: see jsonw.h. */
#include "util/jsonw.h"
#include "util/fmt.h"
#include "util/jsonscan.h"

#include <string.h>

void jw_init(jsonw *w, arena *a, size_t cap_hint)
{
    w->a = a;
    w->cap = cap_hint < 64 ? 64 : cap_hint;
    w->buf = arena_alloc(a, w->cap);
    w->len = 0;
    w->buf[0] = '\0';
}

static void reserve(jsonw *w, size_t more)
{
    if (w->len + more + 1 <= w->cap) return;
    size_t cap = w->cap * 2;
    while (cap < w->len + more + 1) cap *= 2;
    char *nb = arena_alloc(w->a, cap);   /* the old buffer goes with the arena */
    memcpy(nb, w->buf, w->len + 1);
    w->buf = nb;
    w->cap = cap;
}

void jw_raw(jsonw *w, const char *s, size_t n)
{
    reserve(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}


size_t json_escape_into(char *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t run = json_skip_plain((const unsigned char *)s, n, i);   /* copied as one piece */
        if (run > i) {
            memcpy(out + o, s + i, run - i);
            o += run - i;
            i = run;
            if (i == n) break;
        }
        unsigned char c = (unsigned char)s[i];
        out[o++] = '\\';
        switch (c) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '\b': out[o++] = 'b'; break;
        case '\f': out[o++] = 'f'; break;
        case '\n': out[o++] = 'n'; break;
        case '\r': out[o++] = 'r'; break;
        case '\t': out[o++] = 't'; break;
        default:
            out[o++] = 'u';
            out[o++] = '0';
            out[o++] = '0';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return o;
}

void jw_str(jsonw *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    reserve(w, 6 * n + 2);
    w->buf[w->len++] = '"';
    w->len += json_escape_into(w->buf + w->len, s ? s : "", n);
    w->buf[w->len++] = '"';
    w->buf[w->len] = '\0';
}

void jw_i64(jsonw *w, int64_t v)
{
    reserve(w, 21);
    w->len += fmt_i64(w->buf + w->len, v);
}

void jw_bool(jsonw *w, bool v)
{
    if (v) jw_lit(w, "true");
    else jw_lit(w, "false");
}

void jw_kstr_raw(jsonw *w, bool comma, const char *quoted_key, size_t kn, const char *value)
{
    size_t n = value ? strlen(value) : 0;
    reserve(w, 1 + kn + 6 * n + 2);
    if (comma) w->buf[w->len++] = ',';
    memcpy(w->buf + w->len, quoted_key, kn);
    w->len += kn;
    w->buf[w->len++] = '"';
    w->len += json_escape_into(w->buf + w->len, value ? value : "", n);
    w->buf[w->len++] = '"';
    w->buf[w->len] = '\0';
}
