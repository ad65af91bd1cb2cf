/* server.c: HTTP/1.1 on libuv + llhttp (Debian's node-llhttp sources); see server.h.
 *
 * A connection is a small state machine:
 *   READ   parser active; bytes are fed to llhttp straight from the loop's read buffer (and
 *          only what is left after a request's end is kept in conn->in)
 *   BUSY   a complete request was dispatched; parser paused; bytes that arrive meanwhile
 *          are kept (up to BUSY_BUFFER_MAX, then reading stops)
 *   WRITE  the response is being written
 * After the response, a keep-alive connection resumes the parser on whatever pipelined
 * bytes are already buffered, so pipelined requests are answered strictly in order and at
 * most one request per connection is in memory at a time. */
#include "http/server.h"
#include "http/tls.h"
#include "util/err.h"
#include "util/fmt.h"
#include "util/jsonw.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define BUSY_BUFFER_MAX 16384   /* pipelined bytes kept while a request is busy */
#define BUSY_BODY_LEN 78   /* checked by a _Static_assert below */

enum conn_state { ST_READ, ST_BUSY, ST_WRITE, ST_LINGER, ST_CLOSED };

struct http_conn {
    uv_tcp_t         tcp;
    uv_timer_t       timer;
    http_server     *srv;
    llhttp_t         parser;
    enum conn_state  state;
    int              handles;          /* open uv handles; freed at 0 */
    http_conn       *prev, *next;      /* server's connection list */
    /* input not yet parsed */
    char            *in;
    size_t           in_len, in_cap;
    bool             reading;
    bool             in_process;       /* re-entrancy guard for conn_process */
    bool             peer_eof;
    /* the request being parsed */
    http_request    *req;
    bool             in_message;       /* first byte seen, message not complete */
    char             hname[32];
    size_t           hname_len;
    bool             hname_long;
    char            *hval;
    size_t           hval_len, hval_cap;
    size_t           header_bytes;
    char            *url;
    size_t           url_len;
    bool             expect_continue;
    const http_route *route;
    int              early_status;     /* decided at headers: body is discarded */
    const char      *early_code;
    const char      *early_msg;
    char             allow[64];
    int              fail_status;      /* fatal: respond and close (413, 431, 414) */
    const char      *fail_code;
    const char      *fail_msg;
    bool             keep_alive;
    size_t           write_left;       /* bytes queued when the write timer was last armed */
    uint64_t         deadline;         /* loop ms when the current timeout expires; 0 = none */
    uint64_t         timer_due;        /* loop ms the uv timer is armed for (while active) */
    bool             linger;           /* after an error response: drain before closing */
    size_t           body_cap;
    /* llhttp 8.1 predates three upstream fixes; see on_header_value */
    const char      *feed_at;          /* start of the bytes of the current llhttp_execute */
    bool             prev_lf;          /* the previous execute's bytes ended with LF */
    size_t           hval_seen;        /* bytes of the current header value so far */
    size_t           ext_bytes;        /* chunk-extension bytes of this message */
    tls_conn        *tls;              /* NULL: plain TCP */
    char             peer[64];         /* the client's address (http_request.peer) */
};

struct http_server {
    uv_loop_t         *loop;
    uv_tcp_t           listener;
    bool               listening;
    const http_route  *routes;
    size_t             nroutes;
    http_limits        lim;
    http_observer      obs;
    void              *obs_data;
    llhttp_settings_t  settings;
    http_conn         *conns;
    int                nconns;
    bool               draining;
    bool               freeing;          /* free the server when its last handle closed */
    bool               listener_open;    /* the listener handle is not closed yet */
    void             (*drain_cb)(http_server *, void *);
    void              *drain_data;
    char               readbuf[READ_CHUNK];
    uint64_t           rid_prefix;
    uint64_t           rid_counter;
    int                port;
    http_tls          *tls;              /* NULL: plain; else every connection is TLS */
    bool               tls_client_certs;
    char              *plainbuf;         /* TLS: the loop's decrypted bytes, READ_CHUNK */
};

static atomic_int total_conns;

static void server_release(http_server *s)
{
    free(s->plainbuf);
    free(s);
}

int http_total_connections(void) { return atomic_load(&total_conns); }

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* ---- connection lifetime ------------------------------------------------------------ */

static void conn_process(http_conn *c);
static void conn_start_reading(http_conn *c);
static void conn_fail(http_conn *c, int status, const char *code, const char *msg);

static void conn_handle_closed(uv_handle_t *h)
{
    http_conn *c = h->data;
    if (--c->handles > 0) return;
    http_server *s = c->srv;
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nconns--;
    atomic_fetch_sub(&total_conns, 1);
    free(c->in);
    free(c->hval);
    free(c->url);
    tls_conn_free(c->tls);
    free(c);
    if (s->freeing) {
        if (s->nconns == 0 && !s->listener_open) server_release(s);
        return;
    }
    if (s->draining && s->nconns == 0 && s->drain_cb) {
        void (*cb)(http_server *, void *) = s->drain_cb;
        s->drain_cb = NULL;
        cb(s, s->drain_data);
    }
}

static void request_free(http_request *r)
{
    if (!r) return;
    free(r->body);
    arena_free(&r->arena);
    free(r);
}

static void conn_tls_close_notify(http_conn *c);

static void conn_close(http_conn *c)
{
    if (c->state == ST_CLOSED) return;
    enum conn_state prev = c->state;
    c->state = ST_CLOSED;
    if (c->req) {
        if (prev == ST_BUSY) c->req->conn = NULL;   /* the handler still owns it */
        else request_free(c->req);
        c->req = NULL;
    }
    if (c->tls) conn_tls_close_notify(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void timer_set(http_conn *c, int ms);

static void on_timer(uv_timer_t *t)
{
    http_conn *c = t->data;
    /* timer_set leaves an earlier armed timer running: it may fire before the deadline
     * (re-armed for the rest) or after the timeout was cleared (nothing to do) */
    if (!c->deadline) return;
    uint64_t now = uv_now(t->loop);
    if (now < c->deadline) {
        c->timer_due = c->deadline;
        uv_timer_start(&c->timer, on_timer, c->deadline - now, 0);
        return;
    }
    c->deadline = 0;
    if (c->state == ST_LINGER) {
        conn_close(c);
        return;
    }
    if (c->state == ST_READ && c->in_message) {
        conn_fail(c, 408, "request_timeout", "request not received in time");
        return;
    }
    if (c->state == ST_WRITE) {
        /* write_timeout is a time without progress (as nginx's send_timeout), not a bound
         * on the whole response: a slow reader that keeps reading gets its bytes */
        size_t left = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
        /* or the socket takes bytes now: the loop was not running (a stalled process, a
         * paused VM) and this timer came before the poll that would have written them */
        uv_os_fd_t fd;
        struct pollfd pfd = {.events = POLLOUT};
        bool writable = uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && (pfd.fd = fd, poll(&pfd, 1, 0) == 1) &&
                        (pfd.revents & POLLOUT) && !(pfd.revents & (POLLERR | POLLHUP));
        if (left > 0 && (left < c->write_left || writable)) {
            c->write_left = left;
            timer_set(c, c->srv->lim.write_timeout_ms);
            return;
        }
    }
    conn_close(c);   /* idle keep-alive, or a write that did not drain */
}

/* The connection's one timeout: ms from now, or none (ms <= 0). A request moves it four
 * times (header, request, none, idle); re-arming the uv timer each time would be four
 * timer-heap operations per request, so the uv timer is re-armed only when the new deadline
 * comes before the armed one; otherwise it fires early and on_timer re-arms it for the rest
 * (about once per header_timeout per busy connection). */
static void timer_set(http_conn *c, int ms)
{
    if (ms <= 0) {
        c->deadline = 0;
        return;
    }
    uint64_t d = uv_now(c->timer.loop) + (uint64_t)ms;
    c->deadline = d;
    if (uv_is_active((uv_handle_t *)&c->timer) && c->timer_due <= d) return;
    c->timer_due = d;
    uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
}

/* ---- writing ------------------------------------------------------------------------ */

typedef struct write_req {
    uv_write_t  w;
    http_conn  *c;
    bool        close_after;
    bool        tls_control;      /* TLS bytes outside a response (handshake, alerts) */
    size_t      len;
    char        data[];
} write_req;

static void on_linger_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    http_conn *c = st->data;
    if (n < 0) conn_close(c);   /* EOF or error: the client has read our answer */
}

static void on_linger_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    http_conn *c = h->data;
    buf->base = c->srv->readbuf;
    buf->len = READ_CHUNK;
}

static void on_shutdown(uv_shutdown_t *req, int status) { free(req); }

/* Lingering close (as nginx does): after an error answer the client may still be sending
 * its body; closing with unread input would reset the connection and could destroy our
 * response before it is read. Half-close, discard input for up to 2 s (linger_ms), then close. */
static void conn_linger(http_conn *c)
{
    if (c->peer_eof) {   /* the client already finished sending: nothing to drain */
        conn_close(c);
        return;
    }
    if (c->tls) conn_tls_close_notify(c);
    c->state = ST_LINGER;
    uv_shutdown_t *sr = xmalloc(sizeof *sr);
    if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(sr);
        conn_close(c);
        return;
    }
    if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = true;
    uv_read_start((uv_stream_t *)&c->tcp, on_linger_alloc, on_linger_read);
    timer_set(c, c->srv->lim.linger_ms > 0 ? c->srv->lim.linger_ms : 2000);
}

static void after_response(http_conn *c, bool close_after)
{
    if (c->state == ST_CLOSED || c->state == ST_LINGER) return;
    if (c->linger) {
        conn_linger(c);
        return;
    }
    if (close_after || !c->keep_alive || c->srv->draining) {
        conn_close(c);
        return;
    }
    c->state = ST_READ;
    c->in_message = false;
    llhttp_resume(&c->parser);
    timer_set(c, c->srv->lim.idle_timeout_ms);
    conn_process(c);
}

static void on_write(uv_write_t *w, int status)
{
    write_req *wr = (write_req *)w;
    http_conn *c = wr->c;
    bool close_after = wr->close_after, control = wr->tls_control;
    free(wr);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (!control) after_response(c, close_after);
}

/* Writes a then b (b may be NULL): at once if the socket takes it all (the usual case), else
 * the rest is copied and queued; the callers' buffers are never referenced afterwards. */
static void conn_send2(http_conn *c, const char *a, size_t alen, const char *b, size_t blen, bool close_after)
{
    c->state = ST_WRITE;
    uv_buf_t bufs[2] = {uv_buf_init((char *)a, (unsigned)alen), uv_buf_init((char *)b, (unsigned)blen)};
    size_t len = alen + blen;
    int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, blen ? 2 : 1);
    if (n == (int)len) {
        after_response(c, close_after);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    write_req *wr = xmalloc(sizeof *wr + len - done);
    wr->c = c;
    wr->close_after = close_after;
    wr->tls_control = false;
    wr->len = len - done;
    size_t from_a = done < alen ? alen - done : 0;
    if (from_a) memcpy(wr->data, a + done, from_a);
    size_t b_off = done > alen ? done - alen : 0;
    if (blen > b_off) memcpy(wr->data + from_a, b + b_off, blen - b_off);
    uv_buf_t rest = uv_buf_init(wr->data, (unsigned)wr->len);
    timer_set(c, c->srv->lim.write_timeout_ms);
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &rest, 1, on_write) < 0) {
        free(wr);
        conn_close(c);
        return;
    }
    c->write_left = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
}

/* ---- TLS: the seam between the socket and the record layer (http/tls.h) ----------------- */

/* Sends the record layer's output that is no response (handshake flights, session tickets,
 * alerts): at once if the socket takes it, else queued (after any response already queued:
 * libuv keeps the order). */
static void conn_tls_flush(http_conn *c)
{
    const char *p;
    size_t n = tls_conn_out(c->tls, &p);
    tls_conn_out_clear(c->tls);
    if (n == 0 || c->state == ST_CLOSED) return;
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w == UV_EAGAIN) w = 0;
    if (w < 0) {
        conn_close(c);
        return;
    }
    if ((size_t)w == n) return;
    write_req *wr = xmalloc(sizeof *wr + n - (size_t)w);
    wr->c = c;
    wr->close_after = false;
    wr->tls_control = true;
    wr->len = n - (size_t)w;
    memcpy(wr->data, p + w, wr->len);
    uv_buf_t rest = uv_buf_init(wr->data, (unsigned)wr->len);
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &rest, 1, on_write) < 0) {
        free(wr);
        conn_close(c);
    }
}

/* close_notify, best effort, before the connection closes (once). */
static void conn_tls_close_notify(http_conn *c)
{
    tls_conn_shutdown(c->tls);
    const char *p;
    size_t n = tls_conn_out(c->tls, &p);
    tls_conn_out_clear(c->tls);
    if (n == 0) return;
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
}

/* A response over TLS: head and body encrypted in one SSL_write when they fit one record,
 * then sent as one write. */
static void conn_tls_write2(http_conn *c, const char *a, size_t alen, const char *b, size_t blen, bool close_after)
{
    char one[16384];   /* TLS's largest record */
    int rc;
    if (blen && alen + blen <= sizeof one) {
        memcpy(one, a, alen);
        memcpy(one + alen, b, blen);
        rc = tls_conn_write(c->tls, one, alen + blen);
    } else {
        rc = tls_conn_write(c->tls, a, alen);
        if (rc == 0) rc = tls_conn_write(c->tls, b, blen);
    }
    const char *p;
    size_t n = tls_conn_out(c->tls, &p);
    tls_conn_out_clear(c->tls);   /* first: sending may answer the next request into c->tls */
    if (rc < 0) {
        c->state = ST_WRITE;
        conn_close(c);
        return;
    }
    conn_send2(c, p, n, NULL, 0, close_after);
}

static void conn_write2(http_conn *c, const char *a, size_t alen, const char *b, size_t blen, bool close_after)
{
    if (c->tls) conn_tls_write2(c, a, alen, b, blen, close_after);
    else conn_send2(c, a, alen, b, blen, close_after);
}

/* A small interim write outside a response (100 Continue). */
static void conn_write_interim(http_conn *c, const char *data, size_t len)
{
    if (c->tls) {
        if (tls_conn_write(c->tls, data, len) == 0) conn_tls_flush(c);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
}

/* The head, without printf (it runs for every response). Returns its length, or cap if
 * it does not fit (the caller retries without h). */
static size_t format_response(char *out, size_t cap, int status, const char *ctype, const char *rid,
                              bool keep_alive, const http_headers *h, size_t body_len)
{
    const char *parts[24];   /* 21 at most: see the PART/LIT calls below */
    size_t lens[24], np = 0;
    char code[24], clen[24], retry[24];
#define PART(str, n) (parts[np] = (str), lens[np++] = (n))
#define LIT(str) PART(str, sizeof(str) - 1)
    LIT("HTTP/1.1 ");
    size_t cl = fmt_u64(code, (uint64_t)(status < 0 ? 0 : status));
    code[cl++] = ' ';
    PART(code, cl);
    const char *text = http_status_text(status);
    PART(text, strlen(text));
    LIT("\r\nContent-Type: ");
    PART(ctype, strlen(ctype));
    LIT("\r\nContent-Length: ");
    PART(clen, fmt_u64(clen, body_len));
    LIT("\r\nX-Request-ID: ");
    PART(rid, strlen(rid));
    LIT("\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n");
    if (!keep_alive) LIT("Connection: close\r\n");
    if (h && h->retry_after) {
        LIT("Retry-After: ");
        PART(retry, fmt_i64(retry, h->retry_after_s));
        LIT("\r\n");
    }
    if (h && h->www_authenticate) {
        LIT("WWW-Authenticate: ");
        PART(h->www_authenticate, strlen(h->www_authenticate));
        LIT("\r\n");
    }
    if (h && h->allow) {
        LIT("Allow: ");
        PART(h->allow, strlen(h->allow));
        LIT("\r\n");
    }
    LIT("\r\n");
#undef LIT
#undef PART
    size_t n = 0;
    for (size_t i = 0; i < np; i++) {
        if (lens[i] >= cap - n) return cap;
        memcpy(out + n, parts[i], lens[i]);
        n += lens[i];
    }
    return n;
}

void http_respond(http_request *req, int status, const http_headers *h, const char *body, size_t len)
{
    http_respond_typed(req, status, "application/json", h, body, len);
}

void http_respond_typed(http_request *req, int status, const char *ctype, const http_headers *h,
                        const char *body, size_t len)
{
    http_conn *c = req->conn;
    http_server *s = req->server;
    if (s->obs) s->obs(req, status, time_mono_s() - req->start, s->obs_data);
    if (!c || c->state == ST_CLOSED) {   /* client gone: nothing to send to */
        request_free(req);
        return;
    }
    c->req = NULL;
    bool keep = c->keep_alive && !s->draining;
    char head[1024];
    size_t hl = format_response(head, sizeof head, status, ctype, req->request_id, keep, h, len);
    if (hl >= sizeof head) hl = format_response(head, sizeof head, status, ctype, req->request_id, keep, NULL, len);
    /* body may live in req's arena: written (or copied) before req is freed */
    conn_write2(c, head, hl, body, len, !keep);
    request_free(req);
}

const char *http_error_body(http_request *req, const char *code, const char *message, size_t *len)
{
    jsonw w;
    jw_init(&w, &req->arena, 160 + (message ? strlen(message) : 0));
    jw_lit(&w, "{\"error\":{");
    jw_kstr(&w, false, "code", code);
    jw_kstr(&w, true, "message", message ? message : "");
    jw_kstr(&w, true, "requestId", req->request_id);
    jw_lit(&w, "}}");
    *len = w.len;
    return w.buf;
}

void http_respond_error(http_request *req, int status, const char *code, const char *message,
                        const http_headers *h)
{
    size_t len;
    const char *body = http_error_body(req, code, message, &len);
    http_respond(req, status, h, body, len);   /* the body goes with the arena */
}

/* ---- requests ----------------------------------------------------------------------- */

static void new_request_id(http_server *s, char out[40])
{
    fmt_hex(out, s->rid_prefix, 16);
    fmt_hex(out + 16, ++s->rid_counter & 0xffffffffULL, 8);
}

static http_request *request_new(http_conn *c)
{
    http_request *r = xcalloc(1, sizeof *r);
    arena_init(&r->arena);
    r->server = c->srv;
    r->conn = c;
    r->query = "";
    r->start = time_mono_s();
    memcpy(r->peer, c->peer, sizeof r->peer);
    new_request_id(c->srv, r->request_id);
    if (c->tls) {
        const char *subject = tls_conn_subject(c->tls);
        if (subject) r->tls_subject = arena_strdup(&r->arena, subject);   /* the request may outlive c */
    }
    return r;
}

/* A fatal request error: answer and close (the rest of the input cannot be trusted). */
static void conn_fail(http_conn *c, int status, const char *code, const char *msg)
{
    if (c->state != ST_READ) return;
    if (!c->req) c->req = request_new(c);
    http_request *r = c->req;
    if (!r->route) r->route = c->route ? c->route->path : "unmatched";
    if (!r->method) r->method = llhttp_method_name(llhttp_get_method(&c->parser));
    c->keep_alive = false;
    c->linger = true;
    c->state = ST_BUSY;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    http_respond_error(r, status, code, msg, NULL);
}

static int on_message_begin(llhttp_t *p)
{
    http_conn *c = p->data;
    c->in_message = true;
    c->req = request_new(c);
    c->hname_len = 0;
    c->hname_long = false;
    c->hval_len = 0;
    c->header_bytes = 0;
    c->url_len = 0;
    c->expect_continue = false;
    c->route = NULL;
    c->early_status = 0;
    c->fail_status = 0;
    c->allow[0] = '\0';
    c->body_cap = 0;
    c->hval_seen = 0;
    c->ext_bytes = 0;
    timer_set(c, c->srv->lim.header_timeout_ms);
    return 0;
}

static int set_fail(http_conn *c, int status, const char *code, const char *msg)
{
    c->fail_status = status;
    c->fail_code = code;
    c->fail_msg = msg;
    return HPE_USER;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    if (c->url_len + len > c->srv->lim.max_url_bytes)
        return set_fail(c, 414, "uri_too_long", "request target too long");
    c->url = xrealloc(c->url, c->url_len + len + 1);
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    c->url[c->url_len] = '\0';
    return 0;
}

static int count_header(http_conn *c, size_t len)
{
    c->header_bytes += len;
    if (c->header_bytes > c->srv->lim.max_header_bytes)
        return set_fail(c, 431, "headers_too_large", "request header fields too large");
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    if (count_header(c, len)) return HPE_USER;
    if (c->hname_len + len >= sizeof c->hname) {
        c->hname_long = true;   /* not a header we care about */
        return 0;
    }
    memcpy(c->hname + c->hname_len, at, len);
    c->hname_len += len;
    return 0;
}

/* Debian 12's llhttp is 8.1.0. It predates three fixes, made up for here
 * (docs/decisions/001-http-server.md): obs-fold line continuations
 * (rejected upstream from 8.1.2, CVE-2024-27982) arrive as a second span of one value that
 * no read boundary explains; an empty Transfer-Encoding is read as absent (fixed in 9.4.3);
 * chunk extensions are unbounded (CVE-2024-22019). All three are a 400. */
static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    if (count_header(c, len)) return HPE_USER;
    if (c->hval_seen != 0 && (at != c->feed_at || c->prev_lf))
        return set_fail(c, 400, "bad_request", "obsolete header line folding");
    c->hval_seen += len;
    if (c->hname_long) return 0;
    if (c->hval_len + len + 1 > c->hval_cap) {
        c->hval_cap = (c->hval_len + len + 1) * 2;
        c->hval = xrealloc(c->hval, c->hval_cap);
    }
    memcpy(c->hval + c->hval_len, at, len);
    c->hval_len += len;
    return 0;
}

static int on_chunk_extension(llhttp_t *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    c->ext_bytes += len;
    if (c->ext_bytes > c->srv->lim.max_header_bytes)
        return set_fail(c, 400, "bad_request", "chunk extensions too long");
    return 0;
}

/* name is the configured header want (NULL or "": none) */
static bool is_header(const char *name, const char *want)
{
    return want && *want && strcasecmp(name, want) == 0;
}

/* A ce-* header (name after "ce-"): the attributes binary mode needs, the first of each;
 * any other is an extension attribute, kept while there is room (http_ce_headers). */
static void ce_header(http_request *r, const char *name, const char *v, size_t vl)
{
    static const struct {
        const char *name;
        size_t      off;
    } attrs[] = {
        {"specversion", offsetof(http_ce_headers, specversion)}, {"id", offsetof(http_ce_headers, id)},
        {"source", offsetof(http_ce_headers, source)},           {"type", offsetof(http_ce_headers, type)},
        {"subject", offsetof(http_ce_headers, subject)},         {"time", offsetof(http_ce_headers, time)},
        {"dataschema", offsetof(http_ce_headers, dataschema)},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        if (strcasecmp(name, attrs[i].name) != 0) continue;
        const char **slot = (const char **)((char *)&r->ce + attrs[i].off);
        if (!*slot) *slot = arena_strndup(&r->arena, v, vl);
        return;
    }
    if (strcasecmp(name, "datacontenttype") == 0) return;   /* binary mode's is Content-Type */
    if (r->ce.n_ext == HTTP_CE_MAX_EXT) {
        r->ce.ext_over++;
        return;
    }
    if (!r->ce.ext) r->ce.ext = arena_alloc(&r->arena, HTTP_CE_MAX_EXT * sizeof *r->ce.ext);
    char *n = arena_strdup(&r->arena, name);
    for (char *q = n; *q; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
    r->ce.ext[r->ce.n_ext++] = (http_ce_ext){n, arena_strndup(&r->arena, v, vl)};
}

static int on_header_value_complete(llhttp_t *p)
{
    http_conn *c = p->data;
    http_request *r = c->req;
    if (c->hval_seen == 0 && !c->hname_long && c->hname_len == 17 && strncasecmp(c->hname, "transfer-encoding", 17) == 0)
        return set_fail(c, 400, "bad_request", "empty Transfer-Encoding");
    c->hval_seen = 0;
    if (!c->hname_long) {
        c->hname[c->hname_len] = '\0';
        const char *v = c->hval ? c->hval : "";
        size_t vl = c->hval_len;
        if (c->hname_len > 3 && (c->hname[0] | 0x20) == 'c' && (c->hname[1] | 0x20) == 'e' && c->hname[2] == '-')
            ce_header(r, c->hname + 3, v, vl);
        else if (strcasecmp(c->hname, "content-type") == 0)
            r->content_type = arena_strndup(&r->arena, v, vl);
        else if (strcasecmp(c->hname, "authorization") == 0)
            r->authorization = arena_strndup(&r->arena, v, vl);
        else if (strcasecmp(c->hname, "user-agent") == 0)
            r->user_agent = arena_strndup(&r->arena, v, vl);
        else if (strcasecmp(c->hname, "x-timestamp") == 0 && !r->x_timestamp)   /* the first, as Go's Header.Get */
            r->x_timestamp = arena_strndup(&r->arena, v, vl);
        else if (strcasecmp(c->hname, "traceparent") == 0 && !r->traceparent && vl <= 512)
            r->traceparent = arena_strndup(&r->arena, v, vl);
        else if (is_header(c->hname, c->srv->lim.signature_header) && !r->signature)
            r->signature = arena_strndup(&r->arena, v, vl);
        else if (is_header(c->hname, c->srv->lim.signature_ts_header) && !r->signature_ts)
            r->signature_ts = arena_strndup(&r->arena, v, vl);
        else if (strcasecmp(c->hname, "expect") == 0 && vl == 12 && strncasecmp(v, "100-continue", 12) == 0)
            c->expect_continue = true;
        else if (strcasecmp(c->hname, "x-request-id") == 0 && vl > 0 && vl < 40) {
            bool ok = true;
            for (size_t i = 0; i < vl; i++) {
                char ch = v[i];
                if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      ch == '-' || ch == '_' || ch == '.'))
                    ok = false;
            }
            if (ok) {
                memcpy(r->request_id, v, vl);
                r->request_id[vl] = '\0';
            }
        }
    }
    c->hname_len = 0;
    c->hname_long = false;
    c->hval_len = 0;
    return 0;
}

/* application/json, optionally with parameters (charset=utf-8). */
static bool is_json_type(const char *ct)
{
    if (!ct) return false;
    while (*ct == ' ' || *ct == '\t') ct++;
    if (strncasecmp(ct, "application/json", 16) != 0) return false;
    char after = ct[16];
    return after == '\0' || after == ';' || after == ' ' || after == '\t';
}

/* Whether route rt serves path: the rest of the path after an HTTP_ROUTE_PREFIX route's
 * prefix (one non-empty segment), "" for an exact match, NULL for none. Borrowed from path. */
static const char *route_match(const http_route *rt, const char *path)
{
    if (!(rt->flags & HTTP_ROUTE_PREFIX)) return strcmp(rt->path, path) == 0 ? "" : NULL;
    size_t n = strlen(rt->path);
    if (strncmp(rt->path, path, n) != 0 || path[n] == '\0' || strchr(path + n, '/')) return NULL;
    return path + n;
}

static int on_headers_complete(llhttp_t *p)
{
    http_conn *c = p->data;
    http_server *s = c->srv;
    http_request *r = c->req;
    const char *url = c->url ? c->url : "/";
    const char *q = strchr(url, '?');
    size_t plen = q ? (size_t)(q - url) : strlen(url);
    r->path = arena_strndup(&r->arena, url, plen);
    r->query = q ? arena_strdup(&r->arena, q + 1) : "";
    r->method = llhttp_method_name(llhttp_get_method(p));
    timer_set(c, s->lim.request_timeout_ms);

    const http_route *match = NULL, *known = NULL;
    size_t allow_n = 0;
    c->allow[0] = '\0';
    r->path_rest = "";
    for (size_t i = 0; i < s->nroutes; i++) {
        const http_route *rt = &s->routes[i];
        const char *rest = route_match(rt, r->path);
        if (!rest) continue;
        known = rt;
        if (strcmp(rt->method, r->method) == 0) {
            match = rt;
            r->path_rest = rest;
            break;
        }
        allow_n += (size_t)snprintf(c->allow + allow_n, sizeof c->allow - allow_n, "%s%s",
                                    allow_n ? ", " : "", rt->method);
        if (allow_n >= sizeof c->allow) allow_n = sizeof c->allow - 1;
    }
    if (!match) {
        bool path_known = c->allow[0] != '\0';
        /* a prefix route's pattern, not the path: the metric's label values stay bounded */
        r->route = !path_known ? "unmatched" : known->flags & HTTP_ROUTE_PREFIX ? known->path : arena_strdup(&r->arena, r->path);
        c->early_status = path_known ? 405 : 404;
        c->early_code = path_known ? "method_not_allowed" : "not_found";
        c->early_msg = path_known ? "method not allowed on this path" : "no such endpoint";
    } else {
        c->route = match;
        r->route = match->path;
        r->route_data = match->data;
        if (match->flags & HTTP_ROUTE_JSON_BODY) {
            if (!is_json_type(r->content_type)) {
                c->early_status = 415;
                c->early_code = "unsupported_media_type";
                c->early_msg = "Content-Type must be application/json";
            }
        }
    }
    /* Body size: refuse before reading any of it. */
    uint64_t cl = p->content_length;
    if ((p->flags & F_CONTENT_LENGTH) && cl > s->lim.max_body_bytes)
        return set_fail(c, 413, "payload_too_large", "request body exceeds max_body_bytes");
    if (!c->early_status && (p->flags & F_CONTENT_LENGTH)) {
        c->body_cap = (size_t)cl;
        r->body = xmalloc(c->body_cap + 1);
    }
    if (c->expect_continue && !c->early_status) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        conn_write_interim(c, cont, sizeof cont - 1);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    http_conn *c = p->data;
    http_request *r = c->req;
    if (r->body_len + len > c->srv->lim.max_body_bytes)
        return set_fail(c, 413, "payload_too_large", "request body exceeds max_body_bytes");
    if (c->early_status) {    /* discarded, but still counted against the limit */
        r->body_len += len;
        return 0;
    }
    if (r->body_len + len + 1 > c->body_cap + 1 || !r->body) {
        size_t ncap = c->body_cap ? c->body_cap : 4096;
        while (ncap < r->body_len + len) ncap *= 2;
        if (ncap > c->srv->lim.max_body_bytes) ncap = c->srv->lim.max_body_bytes;
        r->body = xrealloc(r->body, ncap + 1);
        c->body_cap = ncap;
    }
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    http_conn *c = p->data;
    c->keep_alive = llhttp_should_keep_alive(p) != 0;
    c->in_message = false;
    return HPE_PAUSED;
}

/* Dispatches the request whose message just completed. */
static void conn_dispatch(http_conn *c)
{
    http_request *r = c->req;
    c->state = ST_BUSY;
    timer_set(c, 0);
    if (c->early_status) {
        if (c->early_status == 405) {
            http_headers hdr = {.allow = c->allow};
            if (r->body) {
                free(r->body);
                r->body = NULL;
            }
            r->body_len = 0;
            http_respond_error(r, 405, c->early_code, c->early_msg, &hdr);
        } else {
            free(r->body);
            r->body = NULL;
            r->body_len = 0;
            http_respond_error(r, c->early_status, c->early_code, c->early_msg, NULL);
        }
        return;
    }
    if (!r->body) r->body = xmalloc(1);
    r->body[r->body_len] = '\0';
    c->route->handler(r, c->route->data);
}

/* Keeps the len bytes at data (not inside c->in) as c->in's contents. */
static void conn_keep(http_conn *c, const char *data, size_t len)
{
    c->in_len = len;
    if (!len) return;
    if (len > c->in_cap) {
        c->in_cap = len;
        c->in = xrealloc(c->in, c->in_cap);
    }
    memcpy(c->in, data, len);
}

/* Between requests: reading, no message begun, nothing buffered. */
static bool conn_idle(const http_conn *c)
{
    return c->state == ST_READ && !c->in_message && c->in_len == 0;
}

/* Feeds the parser until it needs more bytes or a request is busy: from c->in (data NULL),
 * or from the len bytes at data, the loop's read buffer, when nothing was buffered; then only
 * what is left after a request's end is copied into c->in (a request that came whole in one
 * read is never copied). */
static void conn_process_from(http_conn *c, const char *data, size_t len)
{
    if (c->in_process) return;
    c->in_process = true;
    if (!data) {
        data = c->in;
        len = c->in_len;
    }
    while (c->state == ST_READ && len > 0) {
        c->feed_at = data;
        llhttp_errno_t e = llhttp_execute(&c->parser, data, len);
        c->prev_lf = data[len - 1] == '\n';
        if (e == HPE_OK) {
            c->in_len = len = 0;
            break;
        }
        if (e == HPE_PAUSED) {
            const char *pos = llhttp_get_error_pos(&c->parser);
            size_t used = pos ? (size_t)(pos - data) : len;
            if (data == c->in) {
                memmove(c->in, c->in + used, len - used);
                c->in_len = len - used;
            } else {
                conn_keep(c, data + used, len - used);   /* the read buffer is the loop's */
            }
            conn_dispatch(c);   /* may respond synchronously → state back to READ */
            data = c->in;       /* read after the handler: whatever it did to c->in */
            len = c->in_len;
            continue;
        }
        if (c->fail_status) conn_fail(c, c->fail_status, c->fail_code, c->fail_msg);
        else conn_fail(c, 400, "bad_request", llhttp_get_error_reason(&c->parser));
        c->in_len = len = 0;
        break;
    }
    if (c->state == ST_READ) {
        /* while draining, a connection back at idle (nothing buffered, no message begun:
         * bytes that were no request, such as a stray CRLF) closes as an idle one would */
        if (c->peer_eof || (c->srv->draining && conn_idle(c))) {
            conn_close(c);
        } else {
            conn_start_reading(c);
        }
    }
    c->in_process = false;
}

static void conn_process(http_conn *c) { conn_process_from(c, NULL, 0); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    http_conn *c = h->data;
    buf->base = c->srv->readbuf;   /* shared per loop: consumed before the callback returns */
    buf->len = READ_CHUNK;
}

/* The peer closed its side (EOF, or TLS close_notify). */
static void conn_peer_eof(http_conn *c)
{
    if (c->state == ST_READ) conn_close(c);
    else c->peer_eof = true;
}

/* n > 0 bytes of HTTP from the peer, at data (the loop's buffer: kept only by copying). */
static void conn_bytes(http_conn *c, const char *data, size_t n)
{
    if (c->state == ST_READ && c->in_len == 0 && !c->in_process) {
        conn_process_from(c, data, n);
        return;
    }
    if (c->in_len + n > c->in_cap) {
        c->in_cap = c->in_len + n;
        c->in = xrealloc(c->in, c->in_cap);
    }
    memcpy(c->in + c->in_len, data, n);
    c->in_len += n;
    if (c->state != ST_READ) {
        /* pipelined bytes while busy: keep them. Reading goes on while a request is in
         * flight (stopping and restarting it cost an epoll_ctl per request); it stops only
         * once BUSY_BUFFER_MAX bytes wait, until the response is out. */
        if (c->in_len >= BUSY_BUFFER_MAX && c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
        return;
    }
    conn_process(c);
}

/* Ciphertext from the peer: every record it completes is decrypted and handed on as bytes
 * (a busy connection keeps them, as it keeps plain pipelined bytes: at most one read's
 * worth beyond BUSY_BUFFER_MAX); then what the record layer has to say goes out. A failed
 * handshake was counted by the record layer; its alert is sent, then the connection closes. */
static void conn_tls_read(http_conn *c, const char *data, size_t len)
{
    http_server *s = c->srv;
    bool was_established = tls_conn_established(c->tls);
    tls_conn_feed(c->tls, data, len);
    int k;
    while ((k = tls_conn_read(c->tls, s->plainbuf, READ_CHUNK)) > 0) {
        conn_bytes(c, s->plainbuf, (size_t)k);
        if (c->state == ST_CLOSED || c->state == ST_LINGER) break;
    }
    tls_conn_feed(c->tls, NULL, 0);   /* data is the loop's: never read after this call */
    if (c->state == ST_CLOSED) return;
    if (!was_established && tls_conn_established(c->tls) && c->state == ST_READ && !c->in_message)
        timer_set(c, s->lim.idle_timeout_ms);
    conn_tls_flush(c);
    if (k == TLS_CLOSED) conn_peer_eof(c);
    else if (k == TLS_FAILED) conn_close(c);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    http_conn *c = st->data;
    if (n == 0) return;
    if (n < 0) {
        conn_peer_eof(c);
        return;
    }
    if (c->tls) conn_tls_read(c, buf->base, (size_t)n);
    else conn_bytes(c, buf->base, (size_t)n);
}

static void conn_start_reading(http_conn *c)
{
    if (!c->reading && c->state == ST_READ) {
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        c->reading = true;
    }
}

/* ---- accepting ---------------------------------------------------------------------- */

/* Sets up a connection around an initialised c->tcp: 0, or SGW_E_UNAVAILABLE when the
 * connection limit refused it (it has been answered 503 and closed). */
/* c->peer: the client's address, once per connection (every request copies it). */
static void conn_peer(http_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "";
    c->peer[0] = '\0';
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        snprintf(c->peer, sizeof c->peer, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof ip);
        snprintf(c->peer, sizeof c->peer, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    }
}

static int conn_begin(http_server *s, http_conn *c, int total)
{
    uv_tcp_nodelay(&c->tcp, 1);
    conn_peer(c);
    if (s->lim.max_connections > 0 && total > s->lim.max_connections) {
#define BUSY_BODY "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"connection limit reached\"}}"
#define STR_(x) #x
#define STR(x) STR_(x)
        static const char busy[] =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            "Retry-After: 1\r\nConnection: close\r\nContent-Length: " STR(BUSY_BODY_LEN) "\r\n\r\n" BUSY_BODY;
        _Static_assert(sizeof BUSY_BODY - 1 == BUSY_BODY_LEN, "BUSY_BODY_LEN must be the body's length");
        uv_buf_t b = uv_buf_init((char *)busy, sizeof busy - 1);
        if (!s->tls) uv_try_write((uv_stream_t *)&c->tcp, &b, 1);   /* TLS: no handshake for a refusal */
        conn_close(c);
        return SGW_E_UNAVAILABLE;
    }
    if (s->tls && !(c->tls = tls_conn_new(s->tls, s->tls_client_certs))) {
        conn_close(c);
        return SGW_E_UNAVAILABLE;
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
    c->parser.data = c;
    c->state = ST_READ;
    /* a handshake must be done within the header timeout, as a request's headers */
    timer_set(c, s->tls ? s->lim.header_timeout_ms : s->lim.idle_timeout_ms);
    conn_start_reading(c);
    return 0;
}

static http_conn *conn_new(http_server *s, int *total)
{
    http_conn *c = xcalloc(1, sizeof *c);
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    *total = atomic_fetch_add(&total_conns, 1) + 1;
    return c;
}

static void on_connection(uv_stream_t *ls, int status)
{
    http_server *s = ls->data;
    if (status < 0) return;
    int total;
    http_conn *c = conn_new(s, &total);
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    (void)conn_begin(s, c, total);   /* a refused connection was answered and closed there */
}

int http_server_adopt(http_server *s, int fd)
{
    int total;
    http_conn *c = conn_new(s, &total);
    int rc = uv_tcp_open(&c->tcp, fd);
    if (rc < 0) {
        conn_close(c);
        return SGW_E_IO;
    }
    return conn_begin(s, c, total);
}

int http_listen_socket(const char *addr, int port_override, int *port_out, char *err, size_t errlen)
{
    char host[256];
    int port = 0;
    const char *colon = strrchr(addr, ':');
    if (!colon) {
        snprintf(err, errlen, "listen address %s: expected HOST:PORT", addr);
        return SGW_E_INVALID;
    }
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host) hl = sizeof host - 1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    char *end;
    long pv = strtol(colon + 1, &end, 10);
    if (*end || pv < 0 || pv > 65535 || end == colon + 1) {
        snprintf(err, errlen, "listen address %s: bad port", addr);
        return SGW_E_INVALID;
    }
    port = port_override >= 0 ? port_override : (int)pv;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strlen(h) - 1] = '\0';
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (h[0] == '\0' || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "*") == 0) {
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons((uint16_t)port);
        sl = sizeof *sin;
    } else if (strcmp(h, "localhost") == 0 || inet_pton(AF_INET, h, &sin->sin_addr) == 1) {
        if (strcmp(h, "localhost") == 0) sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sl = sizeof *sin;
    } else if (inet_pton(AF_INET6, h, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        sl = sizeof *sin6;
    } else {
        snprintf(err, errlen, "listen address %s: host must be an IP address", addr);
        return SGW_E_INVALID;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return SGW_E_IO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
        snprintf(err, errlen, "listen on %s: %s", addr, strerror(errno));
        close(fd);
        return SGW_E_IO;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &bl);
    *port_out = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                 : ((struct sockaddr_in6 *)&bound)->sin6_port);
    return fd;
}

http_server *http_server_new(uv_loop_t *loop, int fd, const http_route *routes, size_t nroutes,
                             const http_limits *lim, http_observer obs, void *obs_data, char *err,
                             size_t errlen)
{
    http_server *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->routes = routes;
    s->nroutes = nroutes;
    s->lim = *lim;
    s->obs = obs;
    s->obs_data = obs_data;
    if (getrandom(&s->rid_prefix, sizeof s->rid_prefix, 0) != sizeof s->rid_prefix)
        s->rid_prefix = (uint64_t)time_now_ms() ^ (uint64_t)(uintptr_t)s;
    llhttp_settings_init(&s->settings);
    s->settings.on_message_begin = on_message_begin;
    s->settings.on_url = on_url;
    s->settings.on_header_field = on_header_field;
    s->settings.on_header_value = on_header_value;
    s->settings.on_header_value_complete = on_header_value_complete;
    s->settings.on_headers_complete = on_headers_complete;
    s->settings.on_body = on_body;
    s->settings.on_message_complete = on_message_complete;
    s->settings.on_chunk_extension_name = on_chunk_extension;
    s->settings.on_chunk_extension_value = on_chunk_extension;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    int rc = uv_tcp_open(&s->listener, fd);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "listen: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&s->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        server_release(s);
        return NULL;
    }
    struct sockaddr_storage bound;
    int bl = sizeof bound;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &bl);
    s->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                               : ((struct sockaddr_in6 *)&bound)->sin6_port);
    s->listening = true;
    s->listener_open = true;
    return s;
}

void http_server_use_tls(http_server *s, http_tls *t, bool client_certs)
{
    s->tls = t;
    s->tls_client_certs = client_certs;
    if (!s->plainbuf) s->plainbuf = xmalloc(READ_CHUNK);
}

int http_server_port(const http_server *s) { return s->port; }
int http_server_connections(const http_server *s) { return s->nconns; }
uv_loop_t *http_server_loop(const http_server *s) { return s->loop; }

static void listener_closed(uv_handle_t *h)
{
    http_server *s = h->data;
    s->listener_open = false;
    if (s->freeing && s->nconns == 0) server_release(s);
}

/* Whether bytes the client sent wait in the socket, not yet read. */
static bool conn_has_unread(http_conn *c)
{
    uv_os_fd_t fd;
    int pending = 0;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) return false;
    return ioctl(fd, FIONREAD, &pending) == 0 && pending > 0;
}

void http_server_drain(http_server *s, void (*cb)(http_server *, void *), void *data)
{
    s->draining = true;
    s->drain_cb = cb;
    s->drain_data = data;
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, listener_closed);
        s->listening = false;
    }
    /* Idle connections go now; busy ones close after their response (keep-alive off). A
     * connection whose next request already waits in the socket is not idle: it is read
     * and answered (a sender that posted just before SIGTERM gets its answer, not EOF). */
    for (http_conn *c = s->conns, *n; c; c = n) {
        n = c->next;
        if (conn_idle(c) && !conn_has_unread(c)) conn_close(c);
    }
    if (s->nconns == 0 && s->drain_cb) {
        s->drain_cb = NULL;
        cb(s, data);
    }
}

/* Closes what is left (only after a forced stop); the memory goes when libuv has closed
 * the last connection, so run the loop afterwards. */
void http_server_free(http_server *s)
{
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, listener_closed);
        s->listening = false;
    }
    s->freeing = true;
    if (s->nconns == 0 && !s->listener_open) {
        server_release(s);
        return;
    }
    for (http_conn *c = s->conns; c; c = c->next) conn_close(c);
}
