/* utf8.h: strict UTF-8 validation (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
 * cJSON does not validate UTF-8, so every request body passes through here first. */
#ifndef SGW_UTF8_H
#define SGW_UTF8_H
#include <stdbool.h>
#include <stddef.h>

/* Returns true if s[0..len) is valid UTF-8; on false, *bad_offset is the first bad byte. */
bool utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Length of the longest prefix of s[0..len) that is at most max bytes and does not end
 * inside a multi-byte sequence (s must be valid UTF-8). Used to truncate label values. */
size_t utf8_truncate(const char *s, size_t len, size_t max);

#endif
