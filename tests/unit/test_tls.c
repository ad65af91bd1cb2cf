/* test_tls.c: the TLS record layer (src/http/tls.c) against an OpenSSL client over memory
 * BIOs (handshakes, refusals counted by reason, client certificate subjects, close_notify,
 * reloads that take a changed pair and keep the old one on a bad pair), and the HTTP server's
 * TLS seam over a socketpair (pipelined requests, a large response through partial writes).
 * Keys and self-signed certificates are made here, into a temp directory. */
#include "testutil.h"

#include "http/server.h"
#include "http/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

static char dir[64];

/* A key and a self-signed certificate (O=org, CN=cn) as PEM files dir/name.{crt,key}. */
static void make_pair(const char *name, const char *org, const char *cn, long serial)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, n);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    char path[128];
    snprintf(path, sizeof path, "%s/%s.crt", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

static const char *file(const char *name)
{
    static char bufs[4][128];
    static int i;
    char *b = bufs[i++ & 3];
    snprintf(b, 128, "%s/%s", dir, name);
    return b;
}

/* Copies dir/from over dir/to (a rotation by rewrite). */
static void copy(const char *from, const char *to)
{
    char a[128], b[128], buf[8192];
    snprintf(a, sizeof a, "%s/%s", dir, from);
    snprintf(b, sizeof b, "%s/%s.tmp", dir, to);
    FILE *in = fopen(a, "r"), *out = fopen(b, "w");
    assert_non_null(in);
    assert_non_null(out);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
    char c[128];
    snprintf(c, sizeof c, "%s/%s", dir, to);
    assert_int_equal(rename(b, c), 0);   /* a new inode: the stamp changes whatever the clock */
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sgw-tls-unit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    make_pair("a", "test", "localhost", 0xA1);
    make_pair("b", "test", "localhost", 0xB2);
    make_pair("client", "test", "client", 0xC3);
    copy("a.crt", "cur.crt");
    copy("a.key", "cur.key");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    static const char *names[] = {"a.crt", "a.key", "b.crt", "b.key", "client.crt", "client.key", "cur.crt", "cur.key"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(file(names[i]));
    rmdir(dir);
    return 0;
}

/* ---- a client over memory BIOs ------------------------------------------------------------ */

typedef struct peer {
    SSL_CTX *ctx;
    SSL     *ssl;
    BIO     *in, *out;   /* the client's: what the server sent / what the client sends */
} peer;

static void peer_init(peer *p, int max_version, const char *cert)
{
    p->ctx = SSL_CTX_new(TLS_client_method());
    if (max_version) {
        SSL_CTX_set_min_proto_version(p->ctx, max_version);
        SSL_CTX_set_max_proto_version(p->ctx, max_version);
        SSL_CTX_set_security_level(p->ctx, 0);
        SSL_CTX_set_cipher_list(p->ctx, "DEFAULT@SECLEVEL=0");
    }
    if (cert) {
        char c[64], k[64];
        snprintf(c, sizeof c, "%s.crt", cert);
        snprintf(k, sizeof k, "%s.key", cert);
        assert_int_equal(SSL_CTX_use_certificate_file(p->ctx, file(c), SSL_FILETYPE_PEM), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(p->ctx, file(k), SSL_FILETYPE_PEM), 1);
    }
    p->ssl = SSL_new(p->ctx);
    p->in = BIO_new(BIO_s_mem());
    p->out = BIO_new(BIO_s_mem());
    SSL_set_bio(p->ssl, p->in, p->out);
    SSL_set_connect_state(p->ssl);
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    SSL_set_alpn_protos(p->ssl, alpn, sizeof alpn - 1);
}

static void peer_free(peer *p)
{
    SSL_free(p->ssl);
    SSL_CTX_free(p->ctx);
    ERR_clear_error();
}

/* Moves the client's output to the server and the server's to the client; returns the
 * server's last tls_conn_read result, plaintext (if any) into plain. */
static int exchange(peer *p, tls_conn *s, char *plain, size_t cap)
{
    char *data;
    long n = BIO_get_mem_data(p->out, &data);
    tls_conn_feed(s, data, (size_t)(n > 0 ? n : 0));
    int r = tls_conn_read(s, plain, cap);
    tls_conn_feed(s, NULL, 0);
    (void)BIO_reset(p->out);
    const char *o;
    size_t on = tls_conn_out(s, &o);
    if (on) BIO_write(p->in, o, (int)on);
    tls_conn_out_clear(s);
    return r;
}

/* Runs the handshake: the server's last read result. */
static int handshake(peer *p, tls_conn *s)
{
    char plain[64];
    int r = TLS_WANT_INPUT;
    for (int i = 0; i < 10 && r == TLS_WANT_INPUT; i++) {
        int c = SSL_do_handshake(p->ssl);
        r = exchange(p, s, plain, sizeof plain);
        if (c == 1 && tls_conn_established(s)) break;
    }
    return r;
}

static http_tls *tls_for(const char *cert, const char *key, const char *ca)
{
    char err[512] = "";
    http_tls_files f = {file(cert), file(key), ca ? file(ca) : NULL};
    http_tls *t = http_tls_new(&f, err, sizeof err);
    if (!t) fail_msg("http_tls_new: %s", err);
    return t;
}

static long served_serial(http_tls *t)
{
    peer p;
    peer_init(&p, 0, NULL);
    tls_conn *s = tls_conn_new(t, true);
    assert_int_equal(handshake(&p, s), TLS_WANT_INPUT);
    long serial = ASN1_INTEGER_get(X509_get0_serialNumber(SSL_get0_peer_certificate(p.ssl)));
    tls_conn_free(s);
    peer_free(&p);
    return serial;
}

/* ---- the record layer ------------------------------------------------------------------------ */

static void test_a_request_and_its_response_cross_the_record_layer(void **state)
{
    (void)state;
    http_tls *t = tls_for("a.crt", "a.key", NULL);
    assert_false(http_tls_client_certs(t));
    peer p;
    peer_init(&p, 0, NULL);
    tls_conn *s = tls_conn_new(t, true);
    assert_int_equal(handshake(&p, s), TLS_WANT_INPUT);
    assert_true(tls_conn_established(s));
    assert_int_equal(SSL_version(p.ssl), TLS1_3_VERSION);
    const unsigned char *alpn;
    unsigned alen;
    SSL_get0_alpn_selected(p.ssl, &alpn, &alen);
    assert_int_equal(alen, 8);
    assert_memory_equal(alpn, "http/1.1", 8);
    assert_null(tls_conn_subject(s));

    static const char req[] = "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(SSL_write(p.ssl, req, sizeof req - 1), (int)sizeof req - 1);
    char plain[256];
    int n = exchange(&p, s, plain, sizeof plain);
    assert_int_equal(n, (int)sizeof req - 1);
    assert_memory_equal(plain, req, sizeof req - 1);

    /* a response larger than one record comes out whole */
    static char big[40000];
    memset(big, 'x', sizeof big);
    assert_int_equal(tls_conn_write(s, big, sizeof big), 0);
    const char *o;
    size_t on = tls_conn_out(s, &o);
    assert_true(on > sizeof big);
    BIO_write(p.in, o, (int)on);
    tls_conn_out_clear(s);
    size_t got = 0;
    char rbuf[16384];
    int k;
    while ((k = SSL_read(p.ssl, rbuf, sizeof rbuf)) > 0) got += (size_t)k;
    assert_int_equal(got, sizeof big);

    /* the client's close_notify ends the stream; ours reaches the client */
    SSL_shutdown(p.ssl);
    assert_int_equal(exchange(&p, s, plain, sizeof plain), TLS_CLOSED);
    tls_conn_shutdown(s);
    on = tls_conn_out(s, &o);
    assert_true(on > 0);
    BIO_write(p.in, o, (int)on);
    tls_conn_out_clear(s);
    assert_int_equal(SSL_read(p.ssl, rbuf, sizeof rbuf), 0);
    assert_int_equal(SSL_get_error(p.ssl, 0), SSL_ERROR_ZERO_RETURN);
    tls_conn_free(s);
    peer_free(&p);
    http_tls_free(t);
}

static void test_old_protocols_and_plain_http_are_refused_and_counted(void **state)
{
    (void)state;
    http_tls *t = tls_for("a.crt", "a.key", NULL);
    int reasons[] = {TLS1_VERSION, TLS1_1_VERSION};
    uint64_t before = http_tls_handshake_errors(0);   /* protocol_version */
    assert_string_equal(http_tls_error_reasons[0], "protocol_version");
    for (int i = 0; i < 2; i++) {
        peer p;
        peer_init(&p, reasons[i], NULL);
        tls_conn *s = tls_conn_new(t, true);
        assert_int_equal(handshake(&p, s), TLS_FAILED);
        assert_false(tls_conn_established(s));
        tls_conn_free(s);
        peer_free(&p);
    }
    assert_int_equal(http_tls_handshake_errors(0), before + 2);

    assert_string_equal(http_tls_error_reasons[1], "not_tls");
    uint64_t plain_before = http_tls_handshake_errors(1);
    tls_conn *s = tls_conn_new(t, true);
    static const char get[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    char out[64];
    tls_conn_feed(s, get, sizeof get - 1);
    assert_int_equal(tls_conn_read(s, out, sizeof out), TLS_FAILED);
    tls_conn_feed(s, NULL, 0);
    assert_int_equal(http_tls_handshake_errors(1), plain_before + 1);
    tls_conn_free(s);
    http_tls_free(t);
}

static void test_client_certificates_are_required_and_give_a_subject(void **state)
{
    (void)state;
    http_tls *t = tls_for("a.crt", "a.key", "client.crt");   /* the self-signed client is its own CA */
    assert_true(http_tls_client_certs(t));
    peer p;
    peer_init(&p, 0, "client");
    tls_conn *s = tls_conn_new(t, true);
    assert_int_equal(handshake(&p, s), TLS_WANT_INPUT);
    assert_true(tls_conn_established(s));
    assert_non_null(tls_conn_subject(s));
    assert_string_equal(tls_conn_subject(s), "CN=client,O=test");
    tls_conn_free(s);
    peer_free(&p);

    assert_string_equal(http_tls_error_reasons[3], "no_client_certificate");
    uint64_t before = http_tls_handshake_errors(3);
    peer_init(&p, 0, NULL);
    s = tls_conn_new(t, true);
    assert_int_equal(handshake(&p, s), TLS_FAILED);
    assert_int_equal(http_tls_handshake_errors(3), before + 1);
    tls_conn_free(s);
    peer_free(&p);

    /* the metrics listener's connections are not asked for one */
    peer_init(&p, 0, NULL);
    s = tls_conn_new(t, false);
    assert_int_equal(handshake(&p, s), TLS_WANT_INPUT);
    assert_true(tls_conn_established(s));
    assert_null(tls_conn_subject(s));
    tls_conn_free(s);
    peer_free(&p);
    http_tls_free(t);
}

static void test_a_reload_takes_a_changed_pair_and_keeps_the_old_one_on_a_bad_pair(void **state)
{
    (void)state;
    copy("a.crt", "cur.crt");
    copy("a.key", "cur.key");
    http_tls *t = tls_for("cur.crt", "cur.key", NULL);
    char err[512] = "";
    assert_int_equal(http_tls_reload(t, NULL, false, err, sizeof err), 0);   /* nothing changed */
    assert_int_equal(served_serial(t), 0xA1);

    /* a connection made before the reload goes on after it, on its own context */
    peer old;
    peer_init(&old, 0, NULL);
    tls_conn *os = tls_conn_new(t, true);
    assert_int_equal(handshake(&old, os), TLS_WANT_INPUT);

    copy("b.crt", "cur.crt");
    copy("b.key", "cur.key");
    assert_int_equal(http_tls_reload(t, NULL, false, err, sizeof err), 1);
    assert_int_equal(served_serial(t), 0xB2);

    copy("a.crt", "cur.crt");   /* A's certificate with B's key */
    int rc = http_tls_reload(t, NULL, false, err, sizeof err);
    assert_true(rc < 0);
    assert_non_null(strstr(err, "does not match"));
    assert_int_equal(served_serial(t), 0xB2);
    assert_int_equal(http_tls_reload(t, NULL, false, err, sizeof err), 0);   /* not tried again */

    unlink(file("cur.key"));   /* a missing file is an error that names it */
    rc = http_tls_reload(t, NULL, false, err, sizeof err);
    assert_true(rc < 0);
    assert_non_null(strstr(err, "server.tls_key_file"));
    copy("a.key", "cur.key");
    assert_int_equal(http_tls_reload(t, NULL, false, err, sizeof err), 1);
    assert_int_equal(served_serial(t), 0xA1);

    static const char req[] = "GET / HTTP/1.1\r\n\r\n";
    char plain[64];
    assert_int_equal(SSL_write(old.ssl, req, sizeof req - 1), (int)sizeof req - 1);
    assert_int_equal(exchange(&old, os, plain, sizeof plain), (int)sizeof req - 1);
    assert_int_equal(ASN1_INTEGER_get(X509_get0_serialNumber(SSL_get0_peer_certificate(old.ssl))), 0xA1);
    tls_conn_free(os);
    peer_free(&old);

    /* new paths (a SIGHUP with another configuration) are taken at once */
    http_tls_files f = {file("b.crt"), file("b.key"), NULL};
    assert_int_equal(http_tls_reload(t, &f, false, err, sizeof err), 1);
    assert_int_equal(served_serial(t), 0xB2);
    http_tls_free(t);
}

/* ---- the server's seam over a socketpair ---------------------------------------------------- */

#define BIG (256 * 1024)
static char *big_body;

static void big_handler(http_request *req, void *data)
{
    (void)data;
    http_respond_typed(req, 200, "text/plain", NULL, big_body, BIG);
}

static void ok_handler(http_request *req, void *data)
{
    (void)data;
    http_respond_typed(req, 200, "text/plain", NULL, "ok", 2);
}

static const http_route routes[] = {{"/big", "GET", 0, big_handler, NULL}, {"/ok", "GET", 0, ok_handler, NULL}};

/* Reads everything the server sends until it closes (or 10 s), running its loop meanwhile. */
static size_t read_all(uv_loop_t *loop, SSL *ssl, char *buf, size_t cap)
{
    size_t n = 0;
    uint64_t t0 = uv_hrtime();
    while (uv_hrtime() - t0 < 10ull * 1000000000ull) {
        int k = SSL_read(ssl, buf + n, (int)(cap - n));
        if (k > 0) {
            n += (size_t)k;
            continue;
        }
        int e = SSL_get_error(ssl, k);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) break;   /* closed */
        uv_run(loop, UV_RUN_NOWAIT);
    }
    return n;
}

static void test_the_server_answers_pipelined_requests_and_a_large_response_over_tls(void **state)
{
    (void)state;
    big_body = malloc(BIG);
    memset(big_body, 'b', BIG);
    http_tls *t = tls_for("a.crt", "a.key", NULL);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char err[256];
    int port;
    int lfd = http_listen_socket("127.0.0.1:0", -1, &port, err, sizeof err);
    assert_true(lfd >= 0);
    http_limits lim = {.max_body_bytes = 1 << 20, .max_header_bytes = 8192, .max_url_bytes = 8192,
                       .header_timeout_ms = 5000, .request_timeout_ms = 5000, .idle_timeout_ms = 5000,
                       .write_timeout_ms = 5000, .max_connections = 10};
    http_server *srv = http_server_new(&loop, lfd, routes, 2, &lim, NULL, NULL, err, sizeof err);
    assert_non_null(srv);
    http_server_use_tls(srv, t, true);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int small = 4096;   /* the large response must wait in the server's write queue */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    assert_int_equal(http_server_adopt(srv, sv[0]), 0);

    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(cctx);
    SSL_set_fd(ssl, sv[1]);
    SSL_set_connect_state(ssl);
    /* three requests in one record: answered in order, the last closes */
    static const char reqs[] = "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n"
                               "GET /big HTTP/1.1\r\nHost: t\r\n\r\n"
                               "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    int w;
    uint64_t t0 = uv_hrtime();
    while ((w = SSL_write(ssl, reqs, sizeof reqs - 1)) <= 0 && uv_hrtime() - t0 < 10ull * 1000000000ull) {
        int e = SSL_get_error(ssl, w);
        assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(w, (int)sizeof reqs - 1);
    size_t cap = BIG + 4096;
    char *got = malloc(cap);
    size_t n = read_all(&loop, ssl, got, cap);
    got[n < cap ? n : cap - 1] = '\0';
    const char *first = strstr(got, "\r\n\r\nok");
    assert_non_null(first);
    const char *second = strstr(first + 6, "Content-Length: 262144\r\n");
    assert_non_null(second);
    const char *body = strstr(second, "\r\n\r\n") + 4;
    size_t bl = 0;
    while (body + bl < got + n && body[bl] == 'b') bl++;
    assert_int_equal(bl, BIG);
    assert_non_null(strstr(body + BIG, "Connection: close"));
    assert_int_equal(memcmp(got + n - 2, "ok", 2), 0);

    SSL_free(ssl);
    SSL_CTX_free(cctx);
    close(sv[1]);
    http_server_drain(srv, NULL, NULL);
    for (int i = 0; i < 1000 && http_server_connections(srv) > 0; i++) uv_run(&loop, UV_RUN_NOWAIT);
    http_server_free(srv);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    http_tls_free(t);
    free(got);
    free(big_body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_request_and_its_response_cross_the_record_layer),
        cmocka_unit_test(test_old_protocols_and_plain_http_are_refused_and_counted),
        cmocka_unit_test(test_client_certificates_are_required_and_give_a_subject),
        cmocka_unit_test(test_a_reload_takes_a_changed_pair_and_keeps_the_old_one_on_a_bad_pair),
        cmocka_unit_test(test_the_server_answers_pipelined_requests_and_a_large_response_over_tls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
