/* uvllhttp.c: benchmark peer and sketch of signal-gateway's own HTTP layer — libuv 1.44 + llhttp 8.1
 * (Node.js's parser, compiled from Debian's node-llhttp sources), one loop, the shared handler (handler.c).
 * Keep-alive, in-order pipelining, TCP_NODELAY, SO_REUSEPORT listener, 431/413 limits, idle timeout,
 * and checks for smuggling tricks that Debian's older llhttp lets through (see on_header_field).
 * With -d every reply is deferred to a later loop iteration, the request held with HPE_PAUSED, as the
 * gateway will hold one while its Redis and Kubernetes calls run. Usage: uvllhttp [-d] PORT. */
#include <llhttp.h>
#include <uv.h>

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"

#define MAX_HEADER_BYTES 8192      /* request line + headers; beyond: 431 */
#define MAX_QUEUED_WRITE (1 << 18) /* stop reading while this much reply is unsent (client not reading) */
#define IDLE_TIMEOUT_MS 30000

typedef struct {
    char *base;
    size_t len, cap;
} buf;

typedef struct {
    uv_tcp_t listener;
    llhttp_settings_t settings;
    int defer;
    uint64_t date_at;     /* uv_now() when date was formatted: refreshed at most once a second */
    char date[40];        /* "Date: ...\r\n", required by RFC 9110 from a server with a clock */
    char rbuf[65536];     /* one read buffer per loop: read_cb parses it before returning */
} server;

typedef struct {
    uv_tcp_t tcp;
    uv_timer_t idle, defer; /* defer: stands in for an async Redis/API call completing */
    server *srv;
    llhttp_t parser;
    size_t header_bytes, ext_bytes;
    const char *feed_at;    /* start of the bytes now in llhttp_execute, and whether the bytes fed */
    int last_lf;            /* before them ended in LF: together they tell an obs-fold from a read split */
    char name[20];          /* current header name, enough to recognise Transfer-Encoding */
    size_t name_len, value_len;
    int error_status;       /* 400/413/431 chosen by a callback that stopped the parser */
    int keep_alive, closing, handles_open, paused, read_blocked;
    buf url, body;
    buf out;                /* replies produced during one read, written with one syscall */
    buf rest;               /* input after a held request, parsed once its reply is out */
} conn;

typedef struct {
    uv_write_t req;
    conn *c;
    char data[];
} write_req;

static void *xrealloc(void *p, size_t n)
{
    if ((p = realloc(p, n)) == NULL)
        abort();
    return p;
}

/* Append n bytes (p may point into b itself: on_deferred re-feeds b = rest, which only shrinks). */
static void buf_put(buf *b, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->base = xrealloc(b->base, b->cap);
    }
    memmove(b->base + b->len, p, n);
    b->len += n;
}

static void on_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;

    if (--c->handles_open == 0) {
        free(c->url.base), free(c->body.base), free(c->out.base), free(c->rest.base);
        free(c);
    }
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->idle, on_handle_closed);
    uv_close((uv_handle_t *)&c->defer, on_handle_closed);
}

static const char *server_date(server *srv)
{
    uint64_t now = uv_now(srv->listener.loop);

    if (srv->date[0] == '\0' || now - srv->date_at >= 1000) {
        time_t t = time(NULL);
        struct tm tm;

        strftime(srv->date, sizeof srv->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", gmtime_r(&t, &tm));
        srv->date_at = now;
    }
    return srv->date;
}

static void conn_reply(conn *c, int status, const char *reason, const char *body, size_t len)
{
    char head[200];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n", status,
                     reason, server_date(c->srv), len, c->keep_alive ? "" : "Connection: close\r\n");

    buf_put(&c->out, head, (size_t)n);
    buf_put(&c->out, body, len);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    server *srv = ((conn *)h->data)->srv;

    (void)hint;
    *b = uv_buf_init(srv->rbuf, sizeof srv->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    conn *c = w->c;

    free(w);
    if (status < 0 || (!c->keep_alive && c->tcp.write_queue_size == 0)) {
        conn_close(c);
    } else if (c->read_blocked && c->tcp.write_queue_size < MAX_QUEUED_WRITE / 2) {
        c->read_blocked = 0;
        if (!c->paused && !c->closing)
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
}

/* Send c->out: try the socket at once, queue what it did not take. libuv keeps queued writes in order,
 * and uv_try_write refuses (EAGAIN) while any are queued, so replies never overtake each other. */
static void conn_flush(conn *c)
{
    uv_buf_t b = uv_buf_init(c->out.base, (unsigned)c->out.len);
    int n;

    if (c->out.len == 0 || c->closing)
        return;
    n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN)
        n = 0;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if ((size_t)n < c->out.len) {
        size_t rem = c->out.len - (size_t)n;
        write_req *w = xrealloc(NULL, sizeof *w + rem);

        w->c = c;
        memcpy(w->data, c->out.base + n, rem);
        b = uv_buf_init(w->data, (unsigned)rem);
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
            free(w);
            conn_close(c);
            return;
        }
        if (c->tcp.write_queue_size > MAX_QUEUED_WRITE) {
            c->read_blocked = 1;
            uv_read_stop((uv_stream_t *)&c->tcp);
        }
    } else if (!c->keep_alive) {
        conn_close(c);
    }
    c->out.len = 0;
}

/* Run the handler for the complete request in c and queue its reply. */
static void conn_handle(conn *c)
{
    bench_reply r;

    if (c->parser.method != HTTP_POST || c->url.len != sizeof BENCH_PATH - 1 ||
        memcmp(c->url.base, BENCH_PATH, c->url.len) != 0) {
        conn_reply(c, 404, "Not Found", "{\"error\":\"not found\"}", 21);
        return;
    }
    bench_handle(c->body.base, c->body.len, &r);
    conn_reply(c, r.status, r.reason, r.body, r.len);
}

/* Parse input; on a parse error or a broken limit, answer and close. */
static void conn_feed(conn *c, const char *p, size_t n)
{
    llhttp_errno_t err;
    const char *at;

    c->feed_at = p;
    err = llhttp_execute(&c->parser, p, n);
    c->last_lf = n != 0 && p[n - 1] == '\n';
    if (err == HPE_OK)
        return;
    if (!c->keep_alive) { /* bytes after a "Connection: close" request: ignore them, close once answered */
        uv_read_stop((uv_stream_t *)&c->tcp);
        return;
    }
    if (err == HPE_PAUSED) { /* a request is held: keep what follows it, read no more until it is answered */
        at = llhttp_get_error_pos(&c->parser);
        c->rest.len = 0;
        buf_put(&c->rest, at, (size_t)(p + n - at));
        uv_read_stop((uv_stream_t *)&c->tcp);
        return;
    }
    c->keep_alive = 0;
    uv_read_stop((uv_stream_t *)&c->tcp);
    switch (c->error_status) {
    case 413: conn_reply(c, 413, "Content Too Large", "{\"error\":\"body too large\"}", 26); break;
    case 431: conn_reply(c, 431, "Request Header Fields Too Large", "{\"error\":\"headers too large\"}", 29); break;
    default: conn_reply(c, 400, "Bad Request", "{\"error\":\"bad request\"}", 23); break;
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    conn *c = s->data;

    if (n < 0) {
        conn_close(c);
        return;
    }
    uv_timer_again(&c->idle);
    conn_feed(c, b->base, (size_t)n);
    conn_flush(c);
}

/* -d mode: the held request's "async result" arrived: answer it, then parse what was pipelined after it. */
static void on_deferred(uv_timer_t *t)
{
    conn *c = t->data;
    size_t n = c->rest.len;

    conn_handle(c);
    c->paused = 0;
    llhttp_resume(&c->parser);
    c->rest.len = 0; /* conn_feed may refill rest from its own bytes: buf_put uses memmove */
    if (c->keep_alive)
        conn_feed(c, c->rest.base, n);
    if (!c->paused && c->keep_alive && !c->read_blocked && !c->closing)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    conn_flush(c);
}

static int on_message_begin(llhttp_t *p)
{
    conn *c = p->data;

    c->header_bytes = c->ext_bytes = c->name_len = c->value_len = c->url.len = c->body.len = 0;
    return 0;
}

static int fail(conn *c, int status)
{
    c->error_status = status;
    return -1;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;

    if ((c->header_bytes += n) > MAX_HEADER_BYTES)
        return fail(c, 431);
    buf_put(&c->url, at, n);
    return 0;
}

/* Debian 12's llhttp is 8.1.0; this layer makes up for three upstream fixes it predates: obs-fold
 * (rejected from 8.1.2, CVE-2024-27982), an empty Transfer-Encoding read as absent (fixed in 9.4.3),
 * and unbounded chunk extensions (CVE-2024-22019, a limit in Node.js, not in llhttp). */
static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;

    if ((c->header_bytes += n) > MAX_HEADER_BYTES)
        return fail(c, 431);
    if (c->name_len + n <= sizeof c->name)
        memcpy(c->name + c->name_len, at, n);
    c->name_len += n;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;

    if ((c->header_bytes += n) > MAX_HEADER_BYTES)
        return fail(c, 431);
    /* a second span of one value that a read boundary does not explain (or that follows a line end) */
    if (c->value_len != 0 && (at != c->feed_at || c->last_lf))
        return fail(c, 400); /* obs-fold */
    c->value_len += n;
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    conn *c = p->data;

    if (c->value_len == 0 && c->name_len == 17 && strncasecmp(c->name, "transfer-encoding", 17) == 0)
        return fail(c, 400);
    c->name_len = c->value_len = 0;
    return 0;
}

static int on_chunk_extension(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;

    (void)at;
    return (c->ext_bytes += n) > MAX_HEADER_BYTES ? fail(c, 400) : 0;
}

static int on_headers_complete(llhttp_t *p)
{
    conn *c = p->data;

    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > BENCH_MAX_BODY)
        return fail(c, 413);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    conn *c = p->data;

    if (c->body.len + n > BENCH_MAX_BODY) /* chunked bodies have no Content-Length to check early */
        return fail(c, 413);
    buf_put(&c->body, at, n);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    conn *c = p->data;

    c->keep_alive = llhttp_should_keep_alive(p);
    if (c->srv->defer) {
        c->paused = 1;
        uv_timer_start(&c->defer, on_deferred, 0, 0);
        return HPE_PAUSED;
    }
    conn_handle(c);
    return 0;
}

static void on_idle(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_connection(uv_stream_t *l, int status)
{
    server *srv = l->data;
    conn *c;

    if (status < 0)
        return;
    c = xrealloc(NULL, sizeof *c);
    memset(c, 0, sizeof *c);
    c->srv = srv;
    c->keep_alive = 1;
    uv_tcp_init(l->loop, &c->tcp);
    uv_timer_init(l->loop, &c->idle);
    uv_timer_init(l->loop, &c->defer);
    c->tcp.data = c->idle.data = c->defer.data = c;
    c->handles_open = 3;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &srv->settings);
    c->parser.data = c;
    uv_timer_start(&c->idle, on_idle, IDLE_TIMEOUT_MS, IDLE_TIMEOUT_MS);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* libuv 1.44 has no SO_REUSEPORT flag: make the socket here and hand it to uv_tcp_open, so that one loop
 * per worker thread can each own a listener on the same port. */
static int server_listen(server *srv, uv_loop_t *loop, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd, on = 1, err;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        goto err;
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    if ((err = uv_tcp_open(&srv->listener, fd)) != 0 ||
        (err = uv_listen((uv_stream_t *)&srv->listener, SOMAXCONN, on_connection)) != 0)
        return err;
    return 0;
err:
    close(fd);
    return -1;
}

static void run_loop(void *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
}

int main(int argc, char **argv)
{
    static server srv;
    uv_loop_t loop;
    uv_thread_t worker;

    srv.defer = argc == 3 && strcmp(argv[1], "-d") == 0;
    if (argc != 2 + srv.defer) {
        fprintf(stderr, "usage: %s [-d] PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    llhttp_settings_init(&srv.settings);
    srv.settings.on_message_begin = on_message_begin;
    srv.settings.on_url = on_url;
    srv.settings.on_header_field = on_header_field;
    srv.settings.on_header_value = on_header_value;
    srv.settings.on_header_value_complete = on_header_value_complete;
    srv.settings.on_chunk_extension_name = on_chunk_extension;
    srv.settings.on_chunk_extension_value = on_chunk_extension;
    srv.settings.on_headers_complete = on_headers_complete;
    srv.settings.on_body = on_body;
    srv.settings.on_message_complete = on_message_complete;
    if (uv_loop_init(&loop) != 0 || server_listen(&srv, &loop, atoi(argv[argc - 1])) != 0) {
        perror("listen");
        return 1;
    }
    /* serve from one worker thread, as the gateway will (and as MHD's internal thread does): glibc's
     * malloc costs more off the main thread, and cJSON allocates per node */
    uv_thread_create(&worker, run_loop, &loop);
    uv_thread_join(&worker);
    return 1;
}
