/* test_http_routes.c: the HTTP server's routing of a prefix route (HTTP_ROUTE_PREFIX, the
 * mapped webhooks' /api/v1/signals/webhook/<name>) and its collection of CloudEvents ce-*
 * headers (the fixed attributes and the bounded list of extensions), over a real socket:
 * one end of a socketpair adopted by the server, the test the client on the same loop. */
#include "testutil.h"

#include "http/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define PREFIX "/api/v1/signals/webhook/"

/* The prefix route's handler, as the pipeline's: the name it was handed, or a 404 naming it
 * when it is not one it knows ("uptime"). */
static void webhook_handler(http_request *req, void *data)
{
    (void)data;
    if (strcmp(req->path_rest, "uptime") != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "no webhook named '%s'", req->path_rest);
        http_respond_error(req, 404, "unknown_webhook", msg, NULL);
        return;
    }
    char body[128];
    int n = snprintf(body, sizeof body, "rest=%s", req->path_rest);
    http_respond_typed(req, 200, "text/plain", NULL, body, (size_t)n);
}

/* Writes back what the server collected of the ce-* headers. */
static void ce_handler(http_request *req, void *data)
{
    (void)data;
    char body[2048];
    size_t n = (size_t)snprintf(body, sizeof body, "id=%s type=%s n_ext=%u over=%u", req->ce.id ? req->ce.id : "-",
                                req->ce.type ? req->ce.type : "-", req->ce.n_ext, req->ce.ext_over);
    for (unsigned i = 0; i < req->ce.n_ext && n < sizeof body; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, " %s=%s", req->ce.ext[i].name, req->ce.ext[i].value);
    if (!req->ce.ext) n += (size_t)snprintf(body + n, sizeof body - n, " ext=NULL");
    http_respond_typed(req, 200, "text/plain", NULL, body, n < sizeof body ? n : sizeof body - 1);
}

static const http_route routes[] = {{PREFIX, "POST", HTTP_ROUTE_PREFIX, webhook_handler, NULL},
                                    {"/ce", "POST", 0, ce_handler, NULL}};

/* Sends one request (Connection: close) to a fresh server and returns its whole answer
 * (static buffer). */
static const char *exchange(const char *request)
{
    static char got[8192];
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    http_limits lim = {.max_body_bytes = 1 << 16, .max_header_bytes = 8192, .max_url_bytes = 8192,
                       .header_timeout_ms = 5000, .request_timeout_ms = 5000, .idle_timeout_ms = 5000,
                       .write_timeout_ms = 5000, .max_connections = 10};
    char err[256];
    int port;
    int lfd = http_listen_socket("127.0.0.1:0", -1, &port, err, sizeof err);
    assert_true(lfd >= 0);
    http_server *srv = http_server_new(&loop, lfd, routes, 2, &lim, NULL, NULL, err, sizeof err);
    assert_non_null(srv);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    assert_int_equal(http_server_adopt(srv, sv[0]), 0);
    assert_int_equal(write(sv[1], request, strlen(request)), (ssize_t)strlen(request));
    size_t n = 0;
    uint64_t t0 = uv_hrtime();
    while (uv_hrtime() - t0 < 10ull * 1000000000ull) {
        uv_run(&loop, UV_RUN_NOWAIT);
        struct pollfd pf = {.fd = sv[1], .events = POLLIN};
        poll(&pf, 1, 5);
        ssize_t k = read(sv[1], got + n, sizeof got - 1 - n);
        if (k == 0) break;
        if (k > 0) n += (size_t)k;
    }
    got[n] = '\0';
    close(sv[1]);
    http_server_drain(srv, NULL, NULL);
    for (int i = 0; i < 1000 && http_server_connections(srv) > 0; i++) uv_run(&loop, UV_RUN_NOWAIT);
    http_server_free(srv);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    return got;
}

static const char *post(const char *path, const char *headers)
{
    static char req[4096];
    snprintf(req, sizeof req,
             "POST %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%sContent-Type: application/json\r\n"
             "Content-Length: 2\r\n\r\n{}",
             path, headers);
    return exchange(req);
}

#define expect_in(got, want)                                                                      \
    do {                                                                                          \
        if (!strstr((got), (want))) fail_msg("expected \"%s\" in the answer:\n%s", (want), (got)); \
    } while (0)

static void test_prefix_route_hands_over_the_name_segment(void **state)
{
    (void)state;
    const char *got = post(PREFIX "uptime", "");
    expect_in(got, "HTTP/1.1 200 OK\r\n");
    expect_in(got, "\r\n\r\nrest=uptime");
    got = post(PREFIX "uptime?x=1", "");   /* the query is not part of the name */
    expect_in(got, "rest=uptime");
}

static void test_prefix_route_empty_or_deeper_segment_is_not_matched(void **state)
{
    (void)state;
    static const char *const paths[] = {PREFIX, PREFIX "uptime/", PREFIX "uptime/x", PREFIX "/uptime",
                                        "/api/v1/signals/webhook", "/api/v1/signals/webhookuptime"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const char *got = post(paths[i], "");
        if (!strstr(got, "HTTP/1.1 404 Not Found\r\n") || !strstr(got, "\"code\":\"not_found\""))
            fail_msg("%s: expected the router's 404, got:\n%s", paths[i], got);
    }
}

static void test_prefix_route_unknown_name_is_a_404_naming_it(void **state)
{
    (void)state;
    const char *got = post(PREFIX "nope", "");
    expect_in(got, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n");
    expect_in(got, "{\"error\":{\"code\":\"unknown_webhook\",\"message\":\"no webhook named 'nope'\"");
}

static void test_ce_headers_fixed_attributes_and_extensions(void **state)
{
    (void)state;
    const char *got = post("/ce", "ce-id: e-1\r\nCE-Type: t.x\r\nce-id: second\r\nCe-TraceParent: 00-ab\r\n"
                                  "ce-datacontenttype: text/plain\r\nce-k8sns: prod%20a\r\n");
    expect_in(got, "id=e-1 type=t.x n_ext=2 over=0 traceparent=00-ab k8sns=prod%20a");
}

static void test_ce_extensions_are_bounded(void **state)
{
    (void)state;
    char h[2048] = "";
    size_t n = 0;
    for (int i = 0; i < HTTP_CE_MAX_EXT + 3; i++) n += (size_t)snprintf(h + n, sizeof h - n, "ce-ext%d: v%d\r\n", i, i);
    const char *got = post("/ce", h);
    char want[64];
    snprintf(want, sizeof want, "n_ext=%d over=3 ext0=v0 ", HTTP_CE_MAX_EXT);
    expect_in(got, want);
    snprintf(want, sizeof want, " ext%d=v%d", HTTP_CE_MAX_EXT - 1, HTTP_CE_MAX_EXT - 1);
    expect_in(got, want);
    snprintf(want, sizeof want, " ext%d=", HTTP_CE_MAX_EXT);
    if (strstr(got, want)) fail_msg("an extension beyond the limit was kept:\n%s", got);
}

static void test_no_ce_headers_no_extension_list(void **state)
{
    (void)state;
    const char *got = post("/ce", "X-Other: 1\r\ncex: 2\r\n");
    expect_in(got, "id=- type=- n_ext=0 over=0 ext=NULL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_route_hands_over_the_name_segment),
        cmocka_unit_test(test_prefix_route_empty_or_deeper_segment_is_not_matched),
        cmocka_unit_test(test_prefix_route_unknown_name_is_a_404_naming_it),
        cmocka_unit_test(test_ce_headers_fixed_attributes_and_extensions),
        cmocka_unit_test(test_ce_extensions_are_bounded),
        cmocka_unit_test(test_no_ce_headers_no_extension_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
