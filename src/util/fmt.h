/* fmt.h: integers as text without printf (the hot paths format a dozen numbers per request;
 * vsnprintf costs ~1,000 instructions a call). */
#ifndef SGW_UTIL_FMT_H
#define SGW_UTIL_FMT_H
#include <stddef.h>
#include <stdint.h>

/* Decimal digits of v into out (at least 21 bytes, NUL-terminated); returns the length. */
size_t fmt_u64(char *out, uint64_t v);
size_t fmt_i64(char *out, int64_t v);
/* v as exactly `digits` lower-case hex digits (the low 4*digits bits), NUL-terminated. */
size_t fmt_hex(char *out, uint64_t v, int digits);

/* Concatenates the strings up to a NULL into out (cut to cap-1 bytes, NUL-terminated);
 * returns the length. For metric label sets and headers on the hot path. */
size_t fmt_cat(char *out, size_t cap, ...) __attribute__((sentinel));

#endif
