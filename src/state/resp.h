/* resp.h: a Redis command's arguments, collected in one buffer and sent with
 * redisAsyncCommandArgv (hiredis formats the RESP frame). Integers are written as decimal
 * arguments. The buffers are malloc'd; whoever holds the command frees buf, off and lens. */
#ifndef SGW_STATE_RESP_H
#define SGW_STATE_RESP_H
#include <stddef.h>
#include <stdint.h>

#include "util/fmt.h"   /* fmt_u64, fmt_i64 */

typedef struct resp_cmd {
    char   *buf;          /* the arguments' bytes, one after the other */
    size_t  len, cap;
    size_t *off, *lens;   /* argument i: buf + off[i], lens[i] bytes */
    int     argc, nmax;
} resp_cmd;

/* Starts a command of argc arguments. cap_hint: expected size of their bytes. */
void   resp_begin(resp_cmd *c, int argc, size_t cap_hint);
/* One argument; returns the offset of its bytes in buf (to patch in place). */
size_t resp_arg(resp_cmd *c, const char *s, size_t n);
size_t resp_str(resp_cmd *c, const char *s);   /* NULL is "" */
/* One argument made of n pieces, one after the other; returns as resp_arg. */
size_t resp_parts(resp_cmd *c, const char *const *parts, const size_t *lens, int n);
void   resp_i64(resp_cmd *c, int64_t v);
void   resp_u64(resp_cmd *c, uint64_t v);

#endif
