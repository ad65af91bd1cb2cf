/* server.h: the HTTP/1.1 server (libuv + llhttp), the only code that knows HTTP.
 * One http_server per worker thread, each on its own uv loop with its own SO_REUSEPORT
 * listening socket. Requests are dispatched through a route table; a handler may answer
 * later (after Redis / Kubernetes calls) with http_respond(): the connection holds its
 * parser paused meanwhile, so pipelined requests are answered in order.
 * Limits enforced here: header bytes (431), URL length (414), body bytes (413, read no
 * further), method (405 + Allow), path (404), content type (415), header/body timeout
 * (408), idle keep-alive timeout, max connections (503). Every error body is JSON. */
#ifndef SGW_HTTP_SERVER_H
#define SGW_HTTP_SERVER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/tls.h"
#include "util/arena.h"

typedef struct http_server http_server;
typedef struct http_conn http_conn;

/* At most this many other ce-* headers (extension attributes) are kept per request. */
#define HTTP_CE_MAX_EXT 16

/* An extension attribute's header: the name after "ce-" in lowercase, the value as sent. */
typedef struct http_ce_ext {
    const char *name, *value;
} http_ce_ext;

/* CloudEvents binary mode's attributes (the first ce-* header of each; NULL if absent), as
 * sent: still percent-encoded (the adapter decodes them, src/adapters/cloudevents.c). Every
 * other ce-* header whose name fits the header-name buffer is an extension: the first
 * HTTP_CE_MAX_EXT in ext (arena, NULL until the first), the rest counted in ext_over. */
typedef struct http_ce_headers {
    const char  *specversion, *id, *source, *type, *subject, *time, *dataschema;
    http_ce_ext *ext;
    unsigned     n_ext, ext_over;
} http_ce_headers;

typedef struct http_request {
    arena        arena;            /* freed with the request */
    http_server *server;
    http_conn   *conn;
    const char  *method;           /* "POST" */
    const char  *path;             /* without the query string */
    const char  *query;            /* "" if none */
    const char  *content_type;     /* NULL if absent */
    const char  *authorization;    /* NULL if absent; never log it */
    const char  *user_agent;
    const char  *x_timestamp;      /* the first X-Timestamp header, NULL if none (src/freshness.h) */
    const char  *signature;        /* the first http_limits.signature_header, NULL if none (src/signature.h) */
    const char  *signature_ts;     /* the first http_limits.signature_ts_header, NULL if none */
    char        *body;             /* NUL-terminated copy, body_len bytes */
    size_t       body_len;
    char         request_id[40];
    const char  *route;            /* route pattern, for metrics ("unmatched" for 404) */
    double       start;            /* time_mono_s() at first byte */
    void        *route_data;       /* the route's data pointer */
    http_ce_headers ce;            /* ce-* headers (CloudEvents binary mode) */
    const char  *path_rest;        /* an HTTP_ROUTE_PREFIX route: the path after the prefix; else "" */
    const char  *tls_subject;      /* the verified client certificate's subject (RFC 2253), NULL if none */
    const char  *traceparent;      /* the first traceparent header (W3C Trace Context), NULL if none */
    char         peer[64];         /* the client's address, "1.2.3.4:5678" or "[::1]:5678"; "" if unknown
                                    * (formatted once per connection) */
    bool         audited;          /* the handler wrote the request's audit line (src/audit.h) */
    char         trace_id[33];     /* the request's trace id once the handler knows it, else "" */
} http_request;

typedef void (*http_handler)(http_request *req, void *data);

enum {
    HTTP_ROUTE_JSON_BODY = 1,      /* POST with application/json body, else 415 */
    HTTP_ROUTE_PREFIX = 2,         /* path ends in '/' and matches one more non-empty segment
                                    * (no '/'), handed over as http_request.path_rest */
};

typedef struct http_route {
    const char  *path;
    const char  *method;           /* "GET" or "POST" */
    int          flags;
    http_handler handler;
    void        *data;
} http_route;

typedef struct http_limits {
    size_t max_body_bytes;
    size_t max_header_bytes;
    size_t max_url_bytes;
    int    header_timeout_ms;      /* first byte → end of headers */
    int    request_timeout_ms;     /* first byte → end of body */
    int    idle_timeout_ms;        /* keep-alive idle */
    int    write_timeout_ms;
    int    max_connections;        /* per process, over all workers */
    int    linger_ms;              /* lingering close after an error answer; 0 = 2000 */
    /* Headers handed to the handler as http_request.signature / .signature_ts (a webhook's
     * HMAC signature and its timestamp); NULL or "" = not read. Borrowed for the server's life. */
    const char *signature_header;
    const char *signature_ts_header;
} http_limits;

/* Called once per finished response, for metrics and access logs. */
typedef void (*http_observer)(const http_request *req, int status, double seconds, void *data);

/* Opens a listening TCP socket on addr ("127.0.0.1:8080", "[::1]:8080", ":8080") with
 * SO_REUSEPORT, so every worker can open its own on the same port. port_override >= 0
 * replaces the port of addr (used after the first socket resolved port 0).
 * Returns the fd (>= 0) and the bound port, or a negative code (util/err.h) with the reason
 * in err. */
int http_listen_socket(const char *addr, int port_override, int *port_out, char *err, size_t errlen);

/* Creates a server on loop that accepts on listen_fd (takes ownership). routes is borrowed
 * and must outlive the server. Returns NULL and writes a message to err on failure. */
http_server *http_server_new(uv_loop_t *loop, int listen_fd, const http_route *routes,
                             size_t nroutes, const http_limits *lim, http_observer obs,
                             void *obs_data, char *err, size_t errlen);

/* Serves every connection of s over TLS with t's current context (t borrowed: it must
 * outlive s). client_certs false: no client certificate is asked for, whatever t's context
 * says. Call before the loop runs. */
void http_server_use_tls(http_server *s, http_tls *t, bool client_certs);

/* Serves an already-connected stream socket (e.g. one end of a socketpair), as if it had
 * been accepted: for tests and fuzzing of the real request path. Takes ownership of fd.
 * 0, SGW_E_IO (fd is not a stream socket) or SGW_E_UNAVAILABLE (connection limit). */
int http_server_adopt(http_server *s, int fd);

/* Stops accepting and closes idle connections; in-flight requests are still answered.
 * cb runs once every connection is gone. */
void http_server_drain(http_server *s, void (*cb)(http_server *s, void *data), void *data);
void http_server_free(http_server *s);     /* after drain completed */
int  http_server_connections(const http_server *s);
int  http_server_port(const http_server *s);
uv_loop_t *http_server_loop(const http_server *s);

/* The headers a handler may add to a response, beyond those every response carries
 * (Content-Type, Content-Length, X-Request-ID, ...). Zero / NULL fields are left out. */
typedef struct http_headers {
    bool        retry_after;        /* "Retry-After: <retry_after_s>" (every 503 of ours) */
    int         retry_after_s;
    const char *www_authenticate;   /* the challenge of a 401, e.g. "Bearer realm=\"x\"" */
    const char *allow;              /* the methods of a 405, e.g. "POST" */
} http_headers;

/* Sends the response and releases req (do not touch it afterwards). h (borrowed, may be
 * NULL) adds headers; body is borrowed for the call. Safe to call after the client went
 * away. */
void http_respond(http_request *req, int status, const http_headers *h, const char *body, size_t body_len);

/* The same with another Content-Type (e.g. the Prometheus text format). */
void http_respond_typed(http_request *req, int status, const char *content_type, const http_headers *h,
                        const char *body, size_t body_len);

/* Responds {"error":{"code":code,"message":message,"requestId":…}} with the given status. */
void http_respond_error(http_request *req, int status, const char *code, const char *message,
                        const http_headers *h);

/* The body http_respond_error sends, written into req's arena (it goes with req): for a
 * handler that answers later. *len gets its length. */
const char *http_error_body(http_request *req, const char *code, const char *message, size_t *len);

const char *http_status_text(int status);

/* Process-wide count of open connections (for the max_connections limit and metrics). */
int http_total_connections(void);

#endif
