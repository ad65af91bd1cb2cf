/* fmt.c: see fmt.h. */
#include "util/fmt.h"

#include <stdarg.h>
#include <string.h>

size_t fmt_u64(char *out, uint64_t v)
{
    char tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

size_t fmt_i64(char *out, int64_t v)
{
    if (v >= 0) return fmt_u64(out, (uint64_t)v);
    out[0] = '-';
    return 1 + fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);   /* INT64_MIN too */
}

size_t fmt_hex(char *out, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--, v >>= 4) out[i] = hex[v & 15];
    out[digits] = '\0';
    return (size_t)digits;
}

size_t fmt_cat(char *out, size_t cap, ...)
{
    va_list ap;
    va_start(ap, cap);
    size_t n = 0;
    for (const char *s; (s = va_arg(ap, const char *));) {
        size_t l = strlen(s);
        if (l > cap - 1 - n) l = cap - 1 - n;
        memcpy(out + n, s, l);
        n += l;
    }
    va_end(ap);
    out[n] = '\0';
    return n;
}
