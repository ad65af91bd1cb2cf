/* test_k8s_watch.c: the Kubernetes client's watches (k8s_watch_start): the line splitter on
 * its own, then whole watches over real curl against a scripted HTTP/1.1 server on the same
 * loop (a raw libuv TCP listener that writes its chunks on timers): lines split anywhere
 * between chunks, an error status handed whole, no retry, the idle timeout, cancellation,
 * a line over the limit, a connection that breaks mid-line, and callbacks that never run
 * inside the call that started or cancelled the watch. client.c is included for its static
 * line splitter. */
#include "testutil.h"

#include "k8s/client.c"

#include <uv.h>

/* ---- the line splitter -------------------------------------------------------------------- */

typedef struct lines {
    char        text[8192];   /* the lines, each followed by '|' */
    size_t      n;
    int         count;
    int         stop_after;   /* emit returns false after this many lines; 0 = never */
    const char *last_ptr;
} lines;

static bool collect(const char *line, size_t len, void *ctx)
{
    lines *l = ctx;
    assert_true(l->n + len + 1 < sizeof l->text);
    memcpy(l->text + l->n, line, len);
    l->n += len;
    l->text[l->n++] = '|';
    l->text[l->n] = '\0';
    l->last_ptr = line;
    l->count++;
    return !(l->stop_after && l->count >= l->stop_after);
}

static void test_lines_split_at_every_byte_come_out_whole(void **state)
{
    (void)state;
    const char *body = "{\"a\":1}\n{\"b\":22}\r\n\n{\"c\":333}\n{\"d\":4}";
    size_t n = strlen(body);
    for (size_t cut1 = 0; cut1 <= n; cut1++) {
        for (size_t cut2 = cut1; cut2 <= n; cut2++) {
            linesplit s = {.max = 1024};
            lines l = {0};
            assert_int_equal(linesplit_feed(&s, body, cut1, collect, &l), 0);
            assert_int_equal(linesplit_feed(&s, body + cut1, cut2 - cut1, collect, &l), 0);
            assert_int_equal(linesplit_feed(&s, body + cut2, n - cut2, collect, &l), 0);
            assert_int_equal(linesplit_finish(&s, collect, &l), 0);
            if (strcmp(l.text, "{\"a\":1}|{\"b\":22}|{\"c\":333}|{\"d\":4}|") != 0)
                fail_msg("cuts %zu,%zu: got %s", cut1, cut2, l.text);
            free(s.buf);
        }
    }
}

static void test_a_whole_line_in_a_chunk_is_handed_over_in_place(void **state)
{
    (void)state;
    const char *chunk = "{\"x\":1}\n";
    linesplit s = {.max = 1024};
    lines l = {0};
    assert_int_equal(linesplit_feed(&s, chunk, strlen(chunk), collect, &l), 0);
    assert_ptr_equal(l.last_ptr, chunk);   /* no copy */
    assert_null(s.buf);
    free(s.buf);
}

static void test_a_line_longer_than_the_limit_is_an_error(void **state)
{
    (void)state;
    char big[200];
    memset(big, 'x', sizeof big);
    /* exactly max bytes: fine, over several chunks */
    linesplit s = {.max = 100};
    lines l = {0};
    assert_int_equal(linesplit_feed(&s, big, 60, collect, &l), 0);
    assert_int_equal(linesplit_feed(&s, big, 40, collect, &l), 0);
    assert_int_equal(linesplit_feed(&s, "\n", 1, collect, &l), 0);
    assert_int_equal(l.count, 1);
    assert_int_equal(l.n, 101);
    /* max + 1 without a newline yet, and max + 1 inside one chunk with its newline */
    assert_int_equal(linesplit_feed(&s, big, 60, collect, &l), 0);
    assert_int_equal(linesplit_feed(&s, big, 41, collect, &l), SGW_E_PROTOCOL);
    free(s.buf);
    linesplit s2 = {.max = 100};
    char one[102];
    memset(one, 'y', 101);
    one[101] = '\n';
    assert_int_equal(linesplit_feed(&s2, one, sizeof one, collect, &l), SGW_E_PROTOCOL);
    assert_int_equal(l.count, 1);
    free(s2.buf);
}

static void test_emit_returning_false_stops_the_split(void **state)
{
    (void)state;
    linesplit s = {.max = 100};
    lines l = {.stop_after = 2};
    assert_int_equal(linesplit_feed(&s, "a\nb\nc\nd", 7, collect, &l), 1);
    assert_string_equal(l.text, "a|b|");
    free(s.buf);
}

/* ---- a scripted HTTP server on the test's loop --------------------------------------------- */

typedef struct step {
    const char *data;   /* written after delay_ms; NULL: close the connection */
    int         delay_ms;
} step;

typedef struct fake {
    uv_tcp_t    listener;
    int         port;
    uv_tcp_t    conn;
    bool        conn_open;
    char        req[8192];
    size_t      rlen;
    bool        answering;
    const step *steps;
    size_t      nsteps, next;
    uv_timer_t  timer;
    int         requests;   /* requests whose headers arrived */
    char        last_target[1024];
} fake;

static void fake_next(fake *f);

static void fake_conn_closed(uv_handle_t *h) { ((fake *)h->data)->conn_open = false; }

static void fake_close_conn(fake *f)
{
    if (f->conn_open && !uv_is_closing((uv_handle_t *)&f->conn)) uv_close((uv_handle_t *)&f->conn, fake_conn_closed);
}

static void fake_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void fake_step(uv_timer_t *t)
{
    fake *f = t->data;
    const step *st = &f->steps[f->next++];
    if (!st->data) {
        fake_close_conn(f);
        return;
    }
    if (f->conn_open && !uv_is_closing((uv_handle_t *)&f->conn)) {
        uv_write_t *w = malloc(sizeof *w);
        uv_buf_t b = uv_buf_init((char *)st->data, (unsigned)strlen(st->data));
        uv_write(w, (uv_stream_t *)&f->conn, &b, 1, fake_written);
    }
    fake_next(f);
}

static void fake_next(fake *f)
{
    if (f->next < f->nsteps) uv_timer_start(&f->timer, fake_step, (uint64_t)f->steps[f->next].delay_ms, 0);
}

static void fake_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    fake *f = h->data;
    (void)sz;
    *b = uv_buf_init(f->req + f->rlen, (unsigned)(sizeof f->req - 1 - f->rlen));
}

static void fake_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    fake *f = s->data;
    (void)b;
    if (n < 0) {
        fake_close_conn(f);
        return;
    }
    f->rlen += (size_t)n;
    f->req[f->rlen] = '\0';
    if (!f->answering && strstr(f->req, "\r\n\r\n")) {
        f->answering = true;
        f->requests++;
        sscanf(f->req, "GET %1023s", f->last_target);
        f->next = 0;
        fake_next(f);
    }
}

static void fake_accept(uv_stream_t *l, int status)
{
    fake *f = l->data;
    assert_int_equal(status, 0);
    assert_false(f->conn_open);   /* one connection at a time is all these tests make */
    uv_tcp_init(l->loop, &f->conn);
    f->conn.data = f;
    f->conn_open = true;
    f->rlen = 0;
    f->answering = false;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&f->conn), 0);
    uv_read_start((uv_stream_t *)&f->conn, fake_alloc, fake_read);
}

static void fake_start(fake *f, uv_loop_t *loop, const step *steps, size_t nsteps)
{
    memset(f, 0, sizeof *f);
    f->steps = steps;
    f->nsteps = nsteps;
    uv_tcp_init(loop, &f->listener);
    f->listener.data = f;
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&f->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->listener, 8, fake_accept), 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&f->listener, (struct sockaddr *)&ss, &len);
    f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void fake_stop(fake *f)
{
    fake_close_conn(f);
    uv_close((uv_handle_t *)&f->listener, NULL);
    uv_close((uv_handle_t *)&f->timer, NULL);
}

/* ---- watches against it ------------------------------------------------------------------- */

typedef struct wctx {
    lines       got;
    int         ends;
    int         result, status;
    char        body[256];
    char        error[256];
    bool        starting;        /* inside k8s_watch_start / k8s_watch_cancel */
    bool        cb_while_starting;
    int         cancel_after;    /* k8s_watch_cancel from on_line after this many lines */
    size_t      big_len;         /* a line over 1 KiB: its length, first and last byte */
    char        big_first, big_last;
    k8s_watch  *w;
} wctx;

static void on_line(const char *line, size_t len, void *ctx)
{
    wctx *x = ctx;
    if (x->starting) x->cb_while_starting = true;
    if (len > 1024) {
        x->big_len = len;
        x->big_first = line[0];
        x->big_last = line[len - 1];
        collect("BIG", 3, &x->got);
    } else {
        collect(line, len, &x->got);
    }
    if (x->cancel_after && x->got.count == x->cancel_after) k8s_watch_cancel(x->w);
}

static void on_end(const k8s_watch_end *e, void *ctx)
{
    wctx *x = ctx;
    if (x->starting) x->cb_while_starting = true;
    x->ends++;
    x->result = e->result;
    x->status = e->status;
    snprintf(x->body, sizeof x->body, "%.*s", (int)e->len, e->body);
    snprintf(x->error, sizeof x->error, "%s", e->error ? e->error : "");
    x->w = NULL;
}

static k8s_client *client_for(uv_loop_t *loop, int port)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    k8s_config cfg = {.server = url};
    k8s_client_opts o = {.qps = 100, .burst = 10, .timeout_ms = 2000, .max_retries = 3, .backoff_ms = 10};
    k8s_client *c = k8s_client_new(loop, &cfg, &o, err, sizeof err);
    assert_non_null(c);
    return c;
}

/* Runs loop until x's watch ended or 5 s passed. */
static void run_until_end(uv_loop_t *loop, wctx *x)
{
    int64_t deadline = time_mono_ms() + 5000;
    while (x->ends == 0 && time_mono_ms() < deadline) uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(x->ends, 1);
}

static void start(k8s_client *c, wctx *x, const k8s_watch_opts *o)
{
    x->starting = true;
    x->w = k8s_watch_start(c, "/w?watch=true", o, on_line, on_end, x);
    x->starting = false;
}

static void finish_all(uv_loop_t *loop, k8s_client *c, fake *f)
{
    k8s_client_free(c);
    if (f) fake_stop(f);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

#define HDR200 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"

static void test_watch_lines_split_across_chunks_then_eof(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const step steps[] = {
        {HDR200, 0},
        {"5\r\n{\"a\":\r\n", 20},
        {"b\r\n1}\n{\"b\":2}\n\r\n", 20},
        {"6\r\n{\"c\":3\r\n", 20},
        {"2\r\n}\n\r\n0\r\n\r\n", 20},
    };
    fake f;
    fake_start(&f, &loop, steps, 5);
    k8s_client *c = client_for(&loop, f.port);
    wctx x = {0};
    start(c, &x, NULL);
    run_until_end(&loop, &x);
    assert_false(x.cb_while_starting);
    assert_string_equal(x.got.text, "{\"a\":1}|{\"b\":2}|{\"c\":3}|");
    assert_int_equal(x.result, K8S_WATCH_EOF);
    assert_int_equal(x.status, 200);
    assert_string_equal(x.error, "");
    assert_string_equal(f.last_target, "/w?watch=true");
    finish_all(&loop, c, &f);
}

static void test_watch_large_line_in_many_chunks(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* a 150 KB line in 15 chunks of 10 000 bytes, then a small one */
    enum { PART = 10000, NPART = 15 };
    static char parts[NPART][PART + 32];
    static step steps[NPART + 2];
    steps[0] = (step){HDR200, 0};
    for (int i = 0; i < NPART; i++) {
        int n = snprintf(parts[i], sizeof parts[i], "%x\r\n", PART);
        memset(parts[i] + n, i == 0 ? '[' : 'x', PART);
        if (i == NPART - 1) parts[i][n + PART - 1] = '\n';
        memcpy(parts[i] + n + PART, "\r\n", 3);
        steps[i + 1] = (step){parts[i], i % 3 == 0 ? 5 : 0};
    }
    steps[NPART + 1] = (step){"4\r\n{ }\n\r\n0\r\n\r\n", 5};
    fake f;
    fake_start(&f, &loop, steps, NPART + 2);
    k8s_client *c = client_for(&loop, f.port);
    wctx x = {0};
    start(c, &x, &(k8s_watch_opts){.max_line = 200000});
    run_until_end(&loop, &x);
    assert_int_equal(x.result, K8S_WATCH_EOF);
    assert_string_equal(x.got.text, "BIG|{ }|");
    assert_int_equal(x.big_len, PART * NPART - 1);
    assert_int_equal(x.big_first, '[');
    assert_int_equal(x.big_last, 'x');
    finish_all(&loop, c, &f);
}

static void test_watch_error_status_is_handed_whole_and_not_retried(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const step steps[] = {
        {"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n"
         "{\"kind\":\"Status\",\"code\":503}\n{\"x\"}",
         0},
    };
    fake f;
    fake_start(&f, &loop, steps, 1);
    k8s_client *c = client_for(&loop, f.port);
    wctx x = {0};
    start(c, &x, NULL);
    run_until_end(&loop, &x);
    assert_int_equal(x.result, K8S_WATCH_E_STATUS);
    assert_int_equal(x.status, 503);
    assert_string_equal(x.body, "{\"kind\":\"Status\",\"code\":503}\n{\"x\"}");
    assert_int_equal(x.got.count, 0);   /* an error's body is not lines */
    assert_int_equal(f.requests, 1);    /* 503 is retried for requests, never for a watch */
    finish_all(&loop, c, &f);
}

static void test_watch_idle_timeout_ends_a_hung_watch(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const step steps[] = {{HDR200, 0}, {"8\r\n{\"a\":1}\n\r\n", 50}};   /* then nothing */
    fake f;
    fake_start(&f, &loop, steps, 2);
    k8s_client *c = client_for(&loop, f.port);
    wctx x = {0};
    int64_t t0 = time_mono_ms();
    start(c, &x, &(k8s_watch_opts){.idle_timeout_ms = 150});
    run_until_end(&loop, &x);
    int64_t took = time_mono_ms() - t0;
    assert_int_equal(x.result, K8S_WATCH_E_IDLE);
    assert_string_equal(x.got.text, "{\"a\":1}|");
    assert_non_null(strstr(x.error, "150 ms"));
    if (took < 190 || took > 2000) fail_msg("idle end after %lld ms, expected 150 ms after the last byte (at 50 ms)", (long long)took);
    finish_all(&loop, c, &f);
}

static void test_watch_idle_timeout_covers_the_wait_for_headers(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const step steps[] = {{HDR200, 1000}};
    fake f;
    fake_start(&f, &loop, steps, 1);
    k8s_client *c = client_for(&loop, f.port);
    wctx x = {0};
    start(c, &x, &(k8s_watch_opts){.idle_timeout_ms = 100});
    run_until_end(&loop, &x);
    assert_int_equal(x.result, K8S_WATCH_E_IDLE);
    assert_int_equal(x.status, 0);
    finish_all(&loop, c, &f);
}

static void test_watch_cancel_from_on_line_delivers_no_more_lines(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const step steps[] = {{HDR200, 0}, {"6\r\n1\n2\n3\n\r\n", 0}, {"2\r\n4\n\r\n", 300}};
    fake f;
    fake_start(&f, &loop, steps, 3);
    k8s_client *c = client_for(&loop, f.port);
    wctx x = {.cancel_after = 2};
    start(c, &x, NULL);
    run_until_end(&loop, &x);
    assert_int_equal(x.result, K8S_WATCH_E_CANCELLED);
    assert_string_equal(x.got.text, "1|2|");
    finish_all(&loop, c, &f);
}

static void test_watch_cancel_before_it_runs_ends_later_not_inside(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const step steps[] = {{HDR200, 0}};
    fake f;
    fake_start(&f, &loop, steps, 1);
    k8s_client *c = client_for(&loop, f.port);
    wctx x = {0};
    start(c, &x, NULL);
    x.starting = true;
    k8s_watch_cancel(x.w);
    k8s_watch_cancel(x.w);   /* twice: a no-op */
    x.starting = false;
    assert_int_equal(x.ends, 0);
    run_until_end(&loop, &x);
    assert_false(x.cb_while_starting);
    assert_int_equal(x.result, K8S_WATCH_E_CANCELLED);
    assert_int_equal(f.requests, 0);   /* it never left the queue */
    finish_all(&loop, c, &f);
}

static void test_watch_cancel_while_streaming(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const step steps[] = {{HDR200, 0}, {"2\r\n1\n\r\n", 0}};   /* then silence */
    fake f;
    fake_start(&f, &loop, steps, 2);
    k8s_client *c = client_for(&loop, f.port);
    wctx x = {0};
    start(c, &x, NULL);
    int64_t deadline = time_mono_ms() + 3000;
    while (x.got.count == 0 && time_mono_ms() < deadline) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(x.got.count, 1);
    x.starting = true;
    k8s_watch_cancel(x.w);
    x.starting = false;
    run_until_end(&loop, &x);
    assert_false(x.cb_while_starting);
    assert_int_equal(x.result, K8S_WATCH_E_CANCELLED);
    finish_all(&loop, c, &f);
}

static void test_watch_line_over_the_limit_ends_it(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const step steps[] = {{HDR200, 0}, {"2\r\nok\r\n", 0}, {"4\r\n\nabc\r\n", 0}, {"40\r\n"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", 10}};
    fake f;
    fake_start(&f, &loop, steps, 4);
    k8s_client *c = client_for(&loop, f.port);
    wctx x = {0};
    start(c, &x, &(k8s_watch_opts){.max_line = 32});
    run_until_end(&loop, &x);
    assert_int_equal(x.result, K8S_WATCH_E_TOO_LONG);
    assert_string_equal(x.got.text, "ok|");
    assert_non_null(strstr(x.error, "longer than 32 bytes"));
    finish_all(&loop, c, &f);
}

static void test_watch_broken_mid_line_is_a_transport_error(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const step steps[] = {{HDR200, 0}, {"c\r\n{\"a\":1}\n{\"b\"\r\n", 0}, {NULL, 30}};
    fake f;
    fake_start(&f, &loop, steps, 3);
    k8s_client *c = client_for(&loop, f.port);
    wctx x = {0};
    start(c, &x, NULL);
    run_until_end(&loop, &x);
    assert_int_equal(x.result, K8S_WATCH_E_TRANSPORT);
    assert_string_equal(x.got.text, "{\"a\":1}|");   /* the half line is not delivered */
    assert_true(x.error[0] != '\0');
    finish_all(&loop, c, &f);
}

static void test_watch_connection_refused(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fake f;
    fake_start(&f, &loop, NULL, 0);
    int port = f.port;
    fake_stop(&f);   /* the port is closed again */
    uv_run(&loop, UV_RUN_NOWAIT);
    k8s_client *c = client_for(&loop, port);
    wctx x = {0};
    start(c, &x, NULL);
    run_until_end(&loop, &x);
    assert_false(x.cb_while_starting);
    assert_int_equal(x.result, K8S_WATCH_E_TRANSPORT);
    assert_int_equal(x.status, 0);
    char why[256];
    assert_int_equal(k8s_client_reachable(c, why, sizeof why), 0);
    finish_all(&loop, c, NULL);
}

static void test_watch_takes_one_rate_limiter_token(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const step steps[] = {{HDR200, 0}, {"2\r\n1\n\r\n0\r\n\r\n", 0}};
    fake f;
    fake_start(&f, &loop, steps, 2);
    k8s_client *c = client_for(&loop, f.port);
    c->o.qps = 0.001;   /* no refill during the test */
    double before = c->tokens;
    wctx x = {0};
    start(c, &x, NULL);
    run_until_end(&loop, &x);
    assert_int_equal(x.result, K8S_WATCH_EOF);
    assert_true(before - c->tokens > 0.99 && before - c->tokens < 1.01);
    finish_all(&loop, c, &f);
}

static void test_client_free_ends_a_running_watch_as_cancelled(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static const step steps[] = {{HDR200, 0}};
    fake f;
    fake_start(&f, &loop, steps, 1);
    k8s_client *c = client_for(&loop, f.port);
    wctx x = {0};
    start(c, &x, NULL);
    int64_t deadline = time_mono_ms() + 3000;
    while (f.requests == 0 && time_mono_ms() < deadline) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(f.requests, 1);
    k8s_client_free(c);
    assert_int_equal(x.ends, 1);
    assert_int_equal(x.result, K8S_WATCH_E_CANCELLED);
    assert_string_equal(x.error, "client closed");
    fake_stop(&f);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_split_at_every_byte_come_out_whole),
        cmocka_unit_test(test_a_whole_line_in_a_chunk_is_handed_over_in_place),
        cmocka_unit_test(test_a_line_longer_than_the_limit_is_an_error),
        cmocka_unit_test(test_emit_returning_false_stops_the_split),
        cmocka_unit_test(test_watch_lines_split_across_chunks_then_eof),
        cmocka_unit_test(test_watch_large_line_in_many_chunks),
        cmocka_unit_test(test_watch_error_status_is_handed_whole_and_not_retried),
        cmocka_unit_test(test_watch_idle_timeout_ends_a_hung_watch),
        cmocka_unit_test(test_watch_idle_timeout_covers_the_wait_for_headers),
        cmocka_unit_test(test_watch_cancel_from_on_line_delivers_no_more_lines),
        cmocka_unit_test(test_watch_cancel_before_it_runs_ends_later_not_inside),
        cmocka_unit_test(test_watch_cancel_while_streaming),
        cmocka_unit_test(test_watch_line_over_the_limit_ends_it),
        cmocka_unit_test(test_watch_broken_mid_line_is_a_transport_error),
        cmocka_unit_test(test_watch_connection_refused),
        cmocka_unit_test(test_watch_takes_one_rate_limiter_token),
        cmocka_unit_test(test_client_free_ends_a_running_watch_as_cancelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
