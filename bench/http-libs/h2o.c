/* h2o.c: benchmark peer — the shared handler (handler.c) on Debian's libh2o-evloop 2.2.5, h2o's own event
 * loop, one worker thread. Usage: h2o PORT (listens on 127.0.0.1). For bench/http-libs/run.sh only.
 * h2o 2.2 buffers the whole request body (req->entity) before calling the handler. */
#define H2O_USE_EPOLL 1 /* Debian's libh2o-evloop.pc omits this: without it h2o.h assumes libuv structs */
#include <h2o.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "handler.h"

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    static h2o_generator_t generator = {NULL, NULL};
    bench_reply r;
    h2o_iovec_t buf;

    (void)self;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) ||
        !h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT(BENCH_PATH)))
        return -1; /* not ours: h2o answers 404 */
    bench_handle(req->entity.base, req->entity.len, &r);
    req->res.status = r.status;
    req->res.reason = r.reason;
    req->res.content_length = r.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    buf = h2o_strdup(&req->pool, r.body, r.len); /* the pool lives until the response is sent */
    h2o_start_response(req, &generator);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;

    if (err != NULL || (sock = h2o_evloop_socket_accept(listener)) == NULL)
        return;
    h2o_accept(&accept_ctx, sock);
}

static int listen_on(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd, on = 1;
    h2o_socket_t *sock;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, SOMAXCONN) != 0)
        return -1;
    sock = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(sock, on_accept);
    return 0;
}

static void *run_loop(void *arg)
{
    (void)arg;
    while (h2o_evloop_run(ctx.loop, INT32_MAX) == 0)
        ;
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t worker;
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    h2o_handler_t *handler;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    h2o_config_init(&config);
    config.max_request_entity_size = BENCH_MAX_BODY;
    host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    path = h2o_config_register_path(host, "/", 0);
    handler = h2o_create_handler(path, sizeof *handler);
    handler->on_req = on_req;

    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;
    if (listen_on(atoi(argv[1])) != 0) {
        perror("listen");
        return 1;
    }
    /* serve from one worker thread, as the gateway will (and as MHD's internal thread does) */
    pthread_create(&worker, NULL, run_loop, NULL);
    pthread_join(worker, NULL);
    return 1;
}
