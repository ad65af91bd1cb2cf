/* fmt.c: see fmt.h. */
#include "util/fmt.h"

#include <stdarg.h>
#include <string.h>

size_t fmt_u64(char *out, uint64_t v)
{
    static const char pairs[201] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    if (v < 10) {   /* RESP lengths and counts: mostly one or two digits */
        out[0] = (char)('0' + v);
        out[1] = '\0';
        return 1;
    }
    char tmp[20];
    size_t at = sizeof tmp;   /* written from the end, two digits per division */
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        tmp[--at] = pairs[d + 1];
        tmp[--at] = pairs[d];
    }
    if (v >= 10) {
        tmp[--at] = pairs[v * 2 + 1];
        tmp[--at] = pairs[v * 2];
    } else {
        tmp[--at] = (char)('0' + v);
    }
    size_t n = sizeof tmp - at;
    memcpy(out, tmp + at, n);
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
