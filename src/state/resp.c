/* resp.c: a command's arguments; see resp.h. */
#include "state/resp.h"
#include "util/xalloc.h"

#include <string.h>

static void reserve(resp_cmd *c, size_t more)
{
    if (c->len + more <= c->cap) return;
    size_t cap = c->cap ? c->cap : 256;
    while (cap < c->len + more) cap *= 2;
    c->buf = xrealloc(c->buf, cap);
    c->cap = cap;
}

void resp_begin(resp_cmd *c, int argc, size_t cap_hint)
{
    c->buf = NULL;
    c->len = c->cap = 0;
    reserve(c, cap_hint > 32 ? cap_hint : 32);
    c->argc = 0;
    c->nmax = argc > 0 ? argc : 1;
    c->off = xmalloc((size_t)c->nmax * sizeof *c->off);
    c->lens = xmalloc((size_t)c->nmax * sizeof *c->lens);
}

size_t resp_parts(resp_cmd *c, const char *const *parts, const size_t *lens, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) total += lens[i];
    reserve(c, total);
    if (c->argc == c->nmax) {
        c->nmax *= 2;
        c->off = xrealloc(c->off, (size_t)c->nmax * sizeof *c->off);
        c->lens = xrealloc(c->lens, (size_t)c->nmax * sizeof *c->lens);
    }
    size_t at = c->len;
    for (int i = 0; i < n; i++) {
        if (lens[i]) memcpy(c->buf + c->len, parts[i], lens[i]);
        c->len += lens[i];
    }
    c->off[c->argc] = at;
    c->lens[c->argc] = total;
    c->argc++;
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
