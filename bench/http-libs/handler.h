/* handler.h: the one request handler the three benchmark servers share, so that only their HTTP layer
 * differs: parse an Alertmanager webhook with cJSON, count its alerts, build the ~59-byte JSON reply. */
#ifndef BENCH_HANDLER_H
#define BENCH_HANDLER_H

#include <stddef.h>

#define BENCH_PATH "/api/v1/signals/prometheus"
#define BENCH_MAX_BODY (1u << 20) /* bodies above 1 MiB get 413 (all three servers) */

typedef struct {
    int status;         /* 202, or 400 when the body is not an Alertmanager webhook */
    const char *reason; /* "Accepted" / "Bad Request" */
    size_t len;         /* bytes used in body */
    char body[96];
} bench_reply;

/* Handle one webhook. body/len are borrowed (need not be NUL-terminated; body may be NULL when len is 0);
 * the reply is written to *out. Never fails: bad input yields a 400 reply. */
void bench_handle(const char *body, size_t len, bench_reply *out);

#endif
