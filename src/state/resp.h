/* resp.h: a Redis command written once, as the RESP frame hiredis sends
 * (redisAsyncFormattedCommand), so no argv is copied or re-formatted on the hot path.
 * Integers are written straight into the frame. The buffer is malloc'd; whoever holds
 * the frame frees buf. buf[len] is always a NUL (hiredis reads one byte past a one-word
 * command). */
#ifndef SGW_STATE_RESP_H
#define SGW_STATE_RESP_H
#include <stddef.h>
#include <stdint.h>

#include "util/fmt.h"   /* fmt_u64, fmt_i64 */

typedef struct resp_cmd {
    char  *buf;
    size_t len, cap;
} resp_cmd;

/* "*argc\r\n"; exactly argc arguments must follow. cap_hint: expected frame size. */
void   resp_begin(resp_cmd *c, int argc, size_t cap_hint);
/* One bulk-string argument; returns the offset of its bytes in buf (to patch in place). */
size_t resp_arg(resp_cmd *c, const char *s, size_t n);
size_t resp_str(resp_cmd *c, const char *s);   /* NULL is "" */
/* One bulk-string argument made of n pieces, one after the other; returns as resp_arg. */
size_t resp_parts(resp_cmd *c, const char *const *parts, const size_t *lens, int n);
void   resp_i64(resp_cmd *c, int64_t v);
void   resp_u64(resp_cmd *c, uint64_t v);

#endif
