/* mhd.c: benchmark peer — the shared handler (handler.c) on Debian's libmicrohttpd 0.9.75 with
 * MHD_USE_EPOLL_INTERNAL_THREAD (one internal epoll thread serves every connection).
 * Usage: mhd PORT (listens on 127.0.0.1). For bench/http-libs/run.sh only. The body is collected from
 * the upload-data callback; MHD has no body-size limit of its own, so this file enforces 413. */
#include <microhttpd.h>

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"

/* One body buffer per connection, reused by each of its requests (as uvllhttp does; h2o recycles its pool):
 * a fresh 4 KiB malloc per request made glibc consolidate its fastbins every time (~9 k instructions). */
typedef struct {
    char *buf;
    size_t len, cap;
    int too_big;
} request;

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    request *r = *socket_context;

    (void)cls, (void)c;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof *r);
    } else if (r != NULL) {
        free(r->buf);
        free(r);
    }
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body, size_t len)
{
    struct MHD_Response *res = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (res == NULL)
        return MHD_NO;
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    ret = MHD_queue_response(c, status, res);
    MHD_destroy_response(res);
    return ret;
}

/* Called once when the headers are in (*con_cls NULL), once per body chunk, and once at the end. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls)
{
    request *r = *con_cls;
    bench_reply out;

    (void)cls, (void)version;
    if (r == NULL) { /* headers are in, no body yet: refuse an announced oversize body at once */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if ((r = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT)->socket_context) == NULL)
            return MHD_NO;
        r->len = 0, r->too_big = 0;
        *con_cls = r;
        if (cl != NULL && strtoull(cl, NULL, 10) > BENCH_MAX_BODY)
            return reply(c, MHD_HTTP_CONTENT_TOO_LARGE, "{\"error\":\"body too large\"}", 26);
        return MHD_YES;
    }
    if (*data_size != 0) {
        if (r->len + *data_size > BENCH_MAX_BODY) {
            r->too_big = 1; /* keep draining; answer 413 at the end */
        } else {
            if (r->len + *data_size > r->cap) {
                size_t cap = r->cap ? r->cap : 4096;
                char *p;
                while (cap < r->len + *data_size)
                    cap *= 2;
                if ((p = realloc(r->buf, cap)) == NULL)
                    return MHD_NO;
                r->buf = p, r->cap = cap;
            }
            memcpy(r->buf + r->len, data, *data_size);
            r->len += *data_size;
        }
        *data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0 || strcmp(url, BENCH_PATH) != 0)
        return reply(c, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}", 21);
    if (r->too_big)
        return reply(c, MHD_HTTP_CONTENT_TOO_LARGE, "{\"error\":\"body too large\"}", 26);
    bench_handle(r->buf, r->len, &out);
    return reply(c, (unsigned)out.status, out.body, out.len);
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct MHD_Daemon *d;
    sigset_t set;
    int sig;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* block SIGTERM/SIGINT before MHD starts its thread, so main can sigwait() and stop cleanly */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    sa.sin_port = htons((uint16_t)atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,  /* default ~1020 */
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, /* seconds idle */
                         MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "MHD_start_daemon failed\n");
        return 1;
    }
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
