/* test_http_server.c: the HTTP server's write timeout over a real socket. One end of a
 * socketpair with the smallest send buffer is adopted by the server (as an accepted
 * connection); the test is the client on the other end, on the same loop.
 * write_timeout is a time without progress (found by fuzz_http: a slow reader that kept
 * reading lost a large response after write_timeout in all): a reader that takes much
 * longer than write_timeout, but never stops, gets every byte; one that stops reading is
 * cut off. */
#include "testutil.h"

#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define BIG (256 * 1024)

static char *big_body;

static void big_handler(http_request *req, void *data)
{
    (void)data;
    http_respond_typed(req, 200, "text/plain", NULL, big_body, BIG);
}

/* answers on a timer (the request stays busy meanwhile), with an extra header */
static uv_timer_t late_timer;
static http_request *late_req;
static void late_fire(uv_timer_t *t)
{
    (void)t;
    http_respond(late_req, 503, &(http_headers){.retry_after = true, .retry_after_s = 5}, "{\"late\":true}", 13);
}
static void late_handler(http_request *req, void *data)
{
    (void)data;
    late_req = req;
    uv_timer_start(&late_timer, late_fire, 30, 0);
}

static void ok_handler(http_request *req, void *data)
{
    (void)data;
    http_respond_typed(req, 200, "text/plain", NULL, "ok", 2);
}

static const http_route routes[] = {{"/big", "GET", 0, big_handler, NULL},
                                    {"/late", "GET", 0, late_handler, NULL},
                                    {"/ok", "GET", 0, ok_handler, NULL}};

/* A server on loop with the given limits and every route. */
static http_server *server_new_lim(uv_loop_t *loop, const http_limits *lim)
{
    char err[256];
    int port;
    int lfd = http_listen_socket("127.0.0.1:0", -1, &port, err, sizeof err);
    assert_true(lfd >= 0);
    http_server *srv = http_server_new(loop, lfd, routes, 3, lim, NULL, NULL, err, sizeof err);
    assert_non_null(srv);
    return srv;
}

/* ... with the tests' usual limits (write timeout as given) */
static http_server *server_new(uv_loop_t *loop, int write_timeout_ms)
{
    http_limits lim = {.max_body_bytes = 1 << 20, .max_header_bytes = 8192, .max_url_bytes = 8192,
                       .header_timeout_ms = 5000, .request_timeout_ms = 5000, .idle_timeout_ms = 5000,
                       .write_timeout_ms = write_timeout_ms, .max_connections = 10};
    return server_new_lim(loop, &lim);
}

/* Drains and frees srv, then closes its loop. */
static void server_free(uv_loop_t *loop, http_server *srv)
{
    http_server_drain(srv, NULL, NULL);
    for (int i = 0; i < 1000 && http_server_connections(srv) > 0; i++) uv_run(loop, UV_RUN_NOWAIT);
    http_server_free(srv);
    uv_run(loop, UV_RUN_NOWAIT);
    uv_loop_close(loop);
}

typedef struct client {
    int      fd;
    size_t   got;             /* bytes of the response read so far */
    size_t   want;            /* head + body, once the head is in */
    char     head[512];
    size_t   head_len;
    bool     eof;
    int      reads_left;      /* reads to do; then stop reading (0: never stop) */
    uv_timer_t timer;
} client;

static void on_read_tick(uv_timer_t *t)
{
    client *c = t->data;
    if (c->reads_left == 1) return;   /* stopped reading: the server must give up on us */
    if (c->reads_left > 1) c->reads_left--;
    char buf[4096];
    ssize_t n = read(c->fd, buf, sizeof buf);   /* a little at a time */
    if (n == 0) {
        c->eof = true;
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN) c->eof = true;
        return;
    }
    if (c->head_len < sizeof c->head - 1) {
        size_t k = (size_t)n < sizeof c->head - 1 - c->head_len ? (size_t)n : sizeof c->head - 1 - c->head_len;
        memcpy(c->head + c->head_len, buf, k);
        c->head_len += k;
        c->head[c->head_len] = '\0';
        char *end = strstr(c->head, "\r\n\r\n");
        if (end && !c->want) c->want = (size_t)(end + 4 - c->head) + BIG;
    }
    c->got += (size_t)n;
}

static size_t run_client(int write_timeout_ms, int reads_before_stopping, double *seconds)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    http_server *srv = server_new(&loop, write_timeout_ms);

    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int one = 1;   /* the kernel's minimum: the response must wait in the server's write queue */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof one);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &one, sizeof one);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    assert_int_equal(http_server_adopt(srv, sv[0]), 0);
    static const char req[] = "GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_int_equal(write(sv[1], req, sizeof req - 1), (ssize_t)(sizeof req - 1));

    client c = {.fd = sv[1], .reads_left = reads_before_stopping};
    uv_timer_init(&loop, &c.timer);
    c.timer.data = &c;
    uv_timer_start(&c.timer, on_read_tick, 2, 2);   /* ~4 KiB every 2 ms: far slower than the server */
    uint64_t t0 = uv_hrtime();
    while (!c.eof && (uv_hrtime() - t0) < 20ull * 1000000000ull && !(c.want && c.got >= c.want) &&
           !(c.reads_left == 1 && http_server_connections(srv) == 0))   /* stopped, and cut off */
        uv_run(&loop, UV_RUN_ONCE);
    *seconds = (double)(uv_hrtime() - t0) / 1e9;
    size_t body = c.want && c.got >= c.want - BIG ? c.got - (c.want - BIG) : 0;

    uv_timer_stop(&c.timer);
    uv_close((uv_handle_t *)&c.timer, NULL);
    close(sv[1]);
    server_free(&loop, srv);
    return body;
}

static void test_a_reader_that_keeps_reading_gets_everything_past_write_timeout(void **state)
{
    (void)state;
    double secs;
    size_t body = run_client(50, 0, &secs);
    assert_int_equal(body, BIG);
    assert_true(secs > 0.05);   /* longer than write_timeout in all, by construction */
}

static void test_a_reader_that_stops_is_cut_off_after_write_timeout(void **state)
{
    (void)state;
    double secs;
    size_t body = run_client(50, 5, &secs);   /* 4 reads, then silence */
    assert_true(body < BIG);
    assert_true(secs < 5.0);                   /* closed by the server, not by our 20 s bound */
}


/* A response head with every optional part (Connection: close and an extra header: 13
 * pieces; fuzz_http found the head builder sized for 12), and pipelined requests that
 * arrive while the first is busy: kept, then answered in order. */
static void test_heads_with_every_part_and_requests_pipelined_while_busy(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &late_timer);
    http_server *srv = server_new(&loop, 5000);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    assert_int_equal(http_server_adopt(srv, sv[0]), 0);
    /* the first request is busy for 30 ms; the second arrives (and is read) meanwhile */
    static const char r1[] = "GET /late HTTP/1.1\r\nHost: t\r\n\r\n";
    static const char r2[] = "GET /late HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_int_equal(write(sv[1], r1, sizeof r1 - 1), (ssize_t)(sizeof r1 - 1));
    for (int i = 0; i < 5; i++) uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(write(sv[1], r2, sizeof r2 - 1), (ssize_t)(sizeof r2 - 1));
    char got[4096];
    size_t n = 0;
    bool eof = false;
    uint64_t t0 = uv_hrtime();
    while (!eof && uv_hrtime() - t0 < 10ull * 1000000000ull) {
        uv_run(&loop, UV_RUN_ONCE);
        ssize_t k = read(sv[1], got + n, sizeof got - 1 - n);
        if (k == 0) eof = true;
        else if (k > 0) n += (size_t)k;
    }
    got[n] = '\0';
    assert_true(eof);   /* closed after the second (Connection: close) */
    const char *second = strstr(got + 1, "HTTP/1.1 503");
    assert_non_null(second);
    assert_int_equal(strncmp(got, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 13\r\nX-Request-ID: ", 87), 0);
    /* keep-alive: no Connection header; then the extra header and the body */
    assert_non_null(strstr(got, "Cache-Control: no-store\r\nRetry-After: 5\r\n\r\n{\"late\":true}HTTP/1.1 503"));
    assert_non_null(strstr(second, "Cache-Control: no-store\r\nConnection: close\r\nRetry-After: 5\r\n\r\n{\"late\":true}"));
    assert_int_equal((size_t)(strstr(second, "{\"late\":true}") + 13 - got), n);
    close(sv[1]);
    uv_close((uv_handle_t *)&late_timer, NULL);
    server_free(&loop, srv);
}

/* Runs loop until the client end fd sees EOF (or 10 s); returns the seconds it took and
 * appends what was read to buf. */
static double read_until_eof(uv_loop_t *loop, int fd, char *buf, size_t cap, size_t *n)
{
    uint64_t t0 = uv_hrtime();
    while (uv_hrtime() - t0 < 10ull * 1000000000ull) {
        uv_run(loop, UV_RUN_ONCE);
        ssize_t k = read(fd, buf + *n, cap - 1 - *n);
        if (k == 0) break;
        if (k > 0) *n += (size_t)k;
    }
    buf[*n] = '\0';
    return (double)(uv_hrtime() - t0) / 1e9;
}

/* A connection adopted by srv and left idle (reading, nothing received); returns the
 * client's end, non-blocking. */
static int idle_client(uv_loop_t *loop, http_server *srv)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    assert_int_equal(http_server_adopt(srv, sv[0]), 0);
    for (int i = 0; i < 5; i++) uv_run(loop, UV_RUN_NOWAIT);
    return sv[1];
}

/* A request that has arrived but is not read yet when the drain starts (SIGTERM just after
 * the client sent it) is answered, and the connection then closed: the drain closes only
 * connections with nothing to read. Without the check, the client got EOF and no answer. */
static void test_drain_answers_a_request_already_in_the_socket(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    http_server *srv = server_new(&loop, 5000);
    int cfd = idle_client(&loop, srv);
    static const char rq[] = "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(write(cfd, rq, sizeof rq - 1), (ssize_t)(sizeof rq - 1));
    http_server_drain(srv, NULL, NULL);   /* before the loop has read it */
    char got[4096];
    size_t n = 0;
    read_until_eof(&loop, cfd, got, sizeof got, &n);
    assert_int_equal(strncmp(got, "HTTP/1.1 200 OK\r\n", 17), 0);
    assert_non_null(strstr(got, "Connection: close\r\n"));
    assert_int_equal(http_server_connections(srv), 0);
    close(cfd);
    server_free(&loop, srv);
}

static int drained_calls;
static void on_drained(http_server *s, void *data)
{
    (void)s;
    (void)data;
    drained_calls++;
}

/* Bytes in the socket that are no request (a CRLF between requests, which HTTP allows and
 * llhttp skips) keep a connection from being closed as idle when the drain starts; once
 * read, the connection is idle again and must close, or the drain waits for the idle
 * timeout (here 5 s) instead of ending at once. */
static void test_drain_closes_a_connection_whose_unread_bytes_were_no_request(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    http_server *srv = server_new(&loop, 5000);
    int cfd = idle_client(&loop, srv);
    assert_int_equal(write(cfd, "\r\n", 2), 2);
    drained_calls = 0;
    http_server_drain(srv, on_drained, NULL);
    uint64_t t0 = uv_hrtime();
    while (!drained_calls && uv_hrtime() - t0 < 2000000000ull) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(drained_calls, 1);
    assert_int_equal(http_server_connections(srv), 0);
    close(cfd);
    server_free(&loop, srv);
}

/* The connection's timeouts move on every request (header, request, none, idle) and the
 * uv timer is only re-armed when a deadline comes earlier than the armed one: a short
 * header timeout after a long idle one must still fire on time, and a long idle timeout
 * after a short header one must not fire early. */
static void test_timeouts_fire_on_time_as_a_connection_moves_between_them(void **state)
{
    (void)state;
    http_limits lim = {.max_body_bytes = 1 << 20, .max_header_bytes = 8192, .max_url_bytes = 8192,
                       .header_timeout_ms = 150, .request_timeout_ms = 5000, .idle_timeout_ms = 600,
                       .write_timeout_ms = 5000, .max_connections = 10};
    static const char full[] = "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n";
    static const char partial[] = "GET /ok HTTP/1.1\r\nHost: t\r\n";
    for (int round = 0; round < 2; round++) {
        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        http_server *srv = server_new_lim(&loop, &lim);
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
        assert_int_equal(http_server_adopt(srv, sv[0]), 0);
        char got[4096] = "";
        size_t n = 0;
        /* a request answered: the idle timeout (600 ms) is armed */
        assert_int_equal(write(sv[1], full, sizeof full - 1), (ssize_t)(sizeof full - 1));
        for (int i = 0; i < 100 && !strstr(got, "\r\n\r\nok"); i++) {
            uv_run(&loop, UV_RUN_NOWAIT);
            ssize_t k = read(sv[1], got + n, sizeof got - 1 - n);
            if (k > 0) n += (size_t)k;
            got[n] = '\0';
        }
        assert_non_null(strstr(got, "HTTP/1.1 200"));
        if (round == 0) {
            /* then half a request: the header timeout (150 ms from now) comes first */
            assert_int_equal(write(sv[1], partial, sizeof partial - 1), (ssize_t)(sizeof partial - 1));
            double secs = read_until_eof(&loop, sv[1], got, sizeof got, &n);
            assert_non_null(strstr(got, "HTTP/1.1 408"));
            assert_true(secs >= 0.12 && secs < 0.55);  /* not at the idle timeout's 600 ms */
        } else {
            /* nothing more: closed at the idle timeout, not at the header timeout's 150 ms
             * that was armed when the request began */
            size_t before = n;
            double secs = read_until_eof(&loop, sv[1], got, sizeof got, &n);
            assert_int_equal(n, before);                /* closed without a response */
            assert_true(secs >= 0.5 && secs < 3.0);
        }
        close(sv[1]);
        server_free(&loop, srv);
    }
}

int main(void)
{
    big_body = malloc(BIG);
    memset(big_body, 'x', BIG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_reader_that_keeps_reading_gets_everything_past_write_timeout),
        cmocka_unit_test(test_a_reader_that_stops_is_cut_off_after_write_timeout),
        cmocka_unit_test(test_heads_with_every_part_and_requests_pipelined_while_busy),
        cmocka_unit_test(test_timeouts_fire_on_time_as_a_connection_moves_between_them),
        cmocka_unit_test(test_drain_answers_a_request_already_in_the_socket),
        cmocka_unit_test(test_drain_closes_a_connection_whose_unread_bytes_were_no_request),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(big_body);
    return rc;
}
