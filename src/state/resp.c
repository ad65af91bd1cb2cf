/* resp.c: RESP command frames; see resp.h. */
#include "state/resp.h"
#include "util/xalloc.h"

#include <string.h>

/* Room for `more` bytes and the NUL that always follows the frame: hiredis'
 * redisAsyncFormattedCommand looks at the byte after the command name to see whether an
 * argument follows, which for a one-word command ("ROLE") is the byte after the frame (an
 * uninitialised read without the NUL, or one past the buffer when it was full). */
static void reserve(resp_cmd *c, size_t more)
{
    if (c->len + more + 1 <= c->cap) return;
    size_t cap = c->cap ? c->cap : 256;
    while (cap < c->len + more + 1) cap *= 2;
    c->buf = xrealloc(c->buf, cap);
    c->cap = cap;
}

static void put(resp_cmd *c, const void *p, size_t n)
{
    reserve(c, n);
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    c->buf[c->len] = '\0';
}

void resp_begin(resp_cmd *c, int argc, size_t cap_hint)
{
    c->buf = NULL;
    c->len = c->cap = 0;
    reserve(c, cap_hint > 32 ? cap_hint : 32);
    char num[24];
    c->buf[c->len++] = '*';
    size_t n = fmt_u64(num, (uint64_t)(argc < 0 ? 0 : argc));
    put(c, num, n);
    put(c, "\r\n", 2);
}

size_t resp_parts(resp_cmd *c, const char *const *parts, const size_t *lens, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) total += lens[i];
    char num[24];
    size_t k = fmt_u64(num, total);
    reserve(c, 1 + k + 2 + total + 2);
    c->buf[c->len++] = '$';
    memcpy(c->buf + c->len, num, k);
    c->len += k;
    c->buf[c->len++] = '\r';
    c->buf[c->len++] = '\n';
    size_t at = c->len;
    for (int i = 0; i < n; i++) {
        if (lens[i]) memcpy(c->buf + c->len, parts[i], lens[i]);
        c->len += lens[i];
    }
    c->buf[c->len++] = '\r';
    c->buf[c->len++] = '\n';
    c->buf[c->len] = '\0';
    return at;
}

size_t resp_arg(resp_cmd *c, const char *s, size_t n) { return resp_parts(c, &s, &n, 1); }

size_t resp_str(resp_cmd *c, const char *s) { return resp_arg(c, s ? s : "", s ? strlen(s) : 0); }

void resp_i64(resp_cmd *c, int64_t v)
{
    char num[24];
    resp_arg(c, num, fmt_i64(num, v));
}

void resp_u64(resp_cmd *c, uint64_t v)
{
    char num[24];
    resp_arg(c, num, fmt_u64(num, v));
}
