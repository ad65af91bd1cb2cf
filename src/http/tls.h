/* tls.h: TLS for the HTTP listeners, on the worker loops without blocking: OpenSSL 3 over
 * two memory BIOs per connection, fed from libuv reads and drained into libuv writes
 * (docs/decisions/017-tls-on-the-loops.md). Two parts:
 *   http_tls   the process's current context (certificate, key, optional client CA): built
 *              and reloaded on the main thread, taken by each new connection; a connection
 *              keeps the context it started with, so a reload never touches an open one
 *   tls_conn   one connection's record layer: ciphertext in, plaintext out, and back
 * TLS 1.2 and 1.3 only, a modern cipher list, ALPN http/1.1. */
#ifndef SGW_HTTP_TLS_H
#define SGW_HTTP_TLS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_tls http_tls;
typedef struct tls_conn tls_conn;

/* The files of a context; client_ca NULL or "" = no client certificates asked for.
 * Borrowed for the call. */
typedef struct http_tls_files {
    const char *cert;        /* PEM: the certificate, then its chain */
    const char *key;         /* PEM private key */
    const char *client_ca;   /* PEM: the CAs a client certificate must chain to */
} http_tls_files;

/* Builds the first context from f. NULL with the reason in err (which names the file). */
http_tls *http_tls_new(const http_tls_files *f, char *err, size_t errlen);

/* After every connection and server using t is gone. */
void http_tls_free(http_tls *t);

/* Checks the files (stat, following symlinks: device, inode, size, mtime, ctime) and, when
 * one changed or force is set, builds a new context from them: new connections take it.
 * f: the files to use from now on (NULL = the same as before). Blocking file I/O: call it
 * off the worker loops (main's timer and SIGHUP). Returns 0 (nothing changed), 1 (a new
 * context is in use) or a negative code (util/err.h) with the reason in err: the current
 * context stays in use, and the same files are not tried again until one of them changes
 * (or force). */
int http_tls_reload(http_tls *t, const http_tls_files *f, bool force, char *err, size_t errlen);

/* Whether the current context asks for client certificates (a client_ca was given). */
bool http_tls_client_certs(const http_tls *t);

/* The current certificate's notAfter, in seconds since the epoch. */
int64_t http_tls_not_after(const http_tls *t);

/* Handshakes refused since start, by reason: the reasons' names (NULL-terminated, for the
 * metric's label) and each count. */
extern const char *const http_tls_error_reasons[];
uint64_t http_tls_handshake_errors(int reason);

/* ---- one connection ---------------------------------------------------------------------- */

/* Outcomes of tls_conn_read besides a count of plaintext bytes. */
enum { TLS_WANT_INPUT = 0, TLS_CLOSED = -1, TLS_FAILED = -2 };

/* A server-side connection on the current context of t (t borrowed: it must outlive the
 * connection). client_certs false: no client certificate is asked for, whatever the
 * context says (the metrics listener). NULL only if OpenSSL cannot allocate. */
tls_conn *tls_conn_new(http_tls *t, bool client_certs);
void      tls_conn_free(tls_conn *c);

/* Ciphertext read from the peer (copied). */
void tls_conn_feed(tls_conn *c, const char *data, size_t len);

/* Plaintext into out (cap bytes): the count (> 0); TLS_WANT_INPUT when the bytes fed so
 * far hold no more (the handshake may have produced output: see tls_conn_out); TLS_CLOSED
 * at the peer's close_notify; TLS_FAILED on a fatal error (a refused handshake is counted
 * by reason; an alert for the peer may wait in the output). */
int tls_conn_read(tls_conn *c, char *out, size_t cap);

/* Encrypts len bytes into the output; 0 or TLS_FAILED. */
int tls_conn_write(tls_conn *c, const char *data, size_t len);

/* Queues a close_notify alert in the output (after a completed handshake; else nothing). */
void tls_conn_shutdown(tls_conn *c);

/* The ciphertext waiting to be sent: its length, *p pointing at it. tls_conn_out_clear
 * empties the output; the bytes at *p stay valid until the next write into c (so a caller
 * may clear first, then send, even if sending writes into c again). */
size_t tls_conn_out(tls_conn *c, const char **p);
void   tls_conn_out_clear(tls_conn *c);

/* Whether the handshake is complete. */
bool tls_conn_established(const tls_conn *c);

/* The verified client certificate's subject (RFC 2253), or NULL when there is none.
 * Borrowed from c. */
const char *tls_conn_subject(const tls_conn *c);

#endif
