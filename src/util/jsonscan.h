/* jsonscan.h: the one byte scan both JSON directions need: inside a string, '"', '\\' and
 * control characters (< 0x20) are the bytes that end a plain run. The adapters' pre-scan
 * (adapters/common.c) stops at them to check escapes; the reply writer (util/jsonw.c)
 * escapes them. Sixteen bytes per step with SSE2 (every x86-64 has it). */
#ifndef SGW_UTIL_JSONSCAN_H
#define SGW_UTIL_JSONSCAN_H
#include <stddef.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static inline int json_special(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

/* The first offset at or after i holding a special byte, or len. */
static inline size_t json_skip_plain(const unsigned char *s, size_t len, size_t i)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
    for (; i + 16 <= len; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                                   _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x));   /* x <= 0x1f, unsigned */
        unsigned mask = (unsigned)_mm_movemask_epi8(hit);
        if (mask) return i + (size_t)__builtin_ctz(mask);
    }
#endif
    while (i < len && !json_special(s[i])) i++;
    return i;
}

#endif
