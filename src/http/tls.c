/* tls.c: the TLS context (built, checked, reloaded) and the per-connection record layer;
 * see tls.h.
 * The record layer's BIOs are our own, not BIO_s_mem: input is read straight from the
 * loop's read buffer (no copy in), and output is appended to one buffer per connection that
 * grows to the largest flight and is reused (BIO_s_mem's reset clears its whole buffer with
 * memset, once per response). */
#include "http/tls.h"
#include "util/err.h"
#include "util/xalloc.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Mozilla's "intermediate" TLS 1.2 suites (ECDHE with AEAD only); TLS 1.3 keeps OpenSSL's
 * three suites. */
#define CIPHERS_TLS12                                                                         \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define SUITES_TLS13 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/* What identifies a file's content without reading it: a rotation by symlink swap changes
 * the inode, one by rewrite the size, mtime or ctime. */
typedef struct fstamp {
    int             err;      /* errno of stat, 0 if it answered */
    dev_t           dev;
    ino_t           ino;
    off_t           size;
    struct timespec mtim, ctim;
} fstamp;

enum { F_CERT, F_KEY, F_CA, F_N };

struct http_tls {
    pthread_mutex_t mu;          /* guards cur: taken by each new connection, swapped by reload */
    SSL_CTX        *cur;
    atomic_llong    not_after;
    /* the main thread's alone (new, reload, free) */
    char           *path[F_N];   /* F_CA "" = none */
    fstamp          tried[F_N];  /* the files as they were when last loaded or refused */
};

/* ---- handshake errors by reason ------------------------------------------------------------ */

enum {
    R_PROTOCOL_VERSION, R_NOT_TLS, R_NO_SHARED_CIPHER, R_NO_CLIENT_CERT, R_BAD_CLIENT_CERT, R_NO_ALPN,
    R_PEER_ALERT, R_OTHER, R_N
};
const char *const http_tls_error_reasons[] = {
    "protocol_version", "not_tls", "no_shared_cipher", "no_client_certificate", "bad_client_certificate",
    "no_application_protocol", "peer_alert", "other", NULL,
};
static atomic_ullong handshake_errors[R_N];

uint64_t http_tls_handshake_errors(int reason)
{
    return reason >= 0 && reason < R_N ? atomic_load(&handshake_errors[reason]) : 0;
}

static int error_reason(unsigned long e)
{
    if (ERR_GET_LIB(e) != ERR_LIB_SSL) return R_OTHER;
    int r = ERR_GET_REASON(e);
    switch (r) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW: return R_PROTOCOL_VERSION;
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_UNKNOWN_PROTOCOL: return R_NOT_TLS;
    case SSL_R_NO_SHARED_CIPHER: return R_NO_SHARED_CIPHER;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: return R_NO_CLIENT_CERT;
    case SSL_R_CERTIFICATE_VERIFY_FAILED: return R_BAD_CLIENT_CERT;
    case SSL_R_NO_APPLICATION_PROTOCOL: return R_NO_ALPN;
    default: return r >= SSL_AD_REASON_OFFSET ? R_PEER_ALERT : R_OTHER;
    }
}

/* ---- the context ------------------------------------------------------------------------- */

static int alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *sel;
    unsigned char sellen;
    if (SSL_select_next_proto(&sel, &sellen, ours, sizeof ours - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;   /* as nginx: the client offered no protocol we speak */
    *out = sel;
    *outlen = sellen;
    return SSL_TLSEXT_ERR_OK;
}

/* An encrypted key would make OpenSSL ask for its passphrase on the terminal: refuse it. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) { return 0; }

/* OpenSSL's reason for the last failure, and the queue cleared. */
static const char *ssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(buf, cap, "%s", r ? r : "unknown error");
    ERR_clear_error();
    return buf;
}

static const char *const file_key[F_N] = {"server.tls_cert_file", "server.tls_key_file", "server.tls_client_ca_file"};

static SSL_CTX *ctx_build(char *const path[F_N], int64_t *not_after, char *err, size_t errlen)
{
    char why[256];
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS context: %s", ssl_reason(why, sizeof why));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    /* resumption by tickets only (stateless: no session cache shared, and locked, by every
     * worker); with a verified client certificate a session must be tied to this server */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"signal-gateway", 14);
    if (SSL_CTX_set_cipher_list(ctx, CIPHERS_TLS12) != 1 || SSL_CTX_set_ciphersuites(ctx, SUITES_TLS13) != 1) {
        snprintf(err, errlen, "TLS cipher list: %s", ssl_reason(why, sizeof why));
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, path[F_CERT]) != 1) {
        snprintf(err, errlen, "%s %s: %s", file_key[F_CERT], path[F_CERT], ssl_reason(why, sizeof why));
        goto fail;
    }
    /* loading the key already compares it with the certificate (X509_R_KEY_VALUES_MISMATCH);
     * SSL_CTX_check_private_key says so again for any path that would not */
    if (SSL_CTX_use_PrivateKey_file(ctx, path[F_KEY], SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
        snprintf(err, errlen, "%s %s: %s", file_key[F_KEY], path[F_KEY], ssl_reason(why, sizeof why));
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "%s %s does not match the certificate of %s %s", file_key[F_KEY], path[F_KEY],
                 file_key[F_CERT], path[F_CERT]);
        goto fail;
    }
    if (*path[F_CA]) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(path[F_CA]);
        if (!names || SSL_CTX_load_verify_locations(ctx, path[F_CA], NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            snprintf(err, errlen, "%s %s: %s", file_key[F_CA], path[F_CA],
                     names ? ssl_reason(why, sizeof why) : "no CA certificate in it");
            ERR_clear_error();
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);   /* takes names */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    struct tm tm;
    X509 *x = SSL_CTX_get0_certificate(ctx);
    if (!x || ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
        snprintf(err, errlen, "%s %s: cannot read the certificate's notAfter", file_key[F_CERT], path[F_CERT]);
        goto fail;
    }
    *not_after = (int64_t)timegm(&tm);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static void stamp_files(char *const path[F_N], fstamp out[F_N])
{
    memset(out, 0, F_N * sizeof *out);
    for (int i = 0; i < F_N; i++) {
        struct stat st;
        if (!*path[i]) continue;
        if (stat(path[i], &st) != 0) {
            out[i].err = errno;
            continue;
        }
        out[i].dev = st.st_dev;
        out[i].ino = st.st_ino;
        out[i].size = st.st_size;
        out[i].mtim = st.st_mtim;
        out[i].ctim = st.st_ctim;
    }
}

static bool stamps_equal(const fstamp a[F_N], const fstamp b[F_N])
{
    for (int i = 0; i < F_N; i++) {
        if (a[i].err != b[i].err || a[i].dev != b[i].dev || a[i].ino != b[i].ino || a[i].size != b[i].size ||
            a[i].mtim.tv_sec != b[i].mtim.tv_sec || a[i].mtim.tv_nsec != b[i].mtim.tv_nsec ||
            a[i].ctim.tv_sec != b[i].ctim.tv_sec || a[i].ctim.tv_nsec != b[i].ctim.tv_nsec)
            return false;
    }
    return true;
}

/* Stores f's paths in t; whether they differ from those it had. */
static bool set_paths(http_tls *t, const http_tls_files *f)
{
    const char *p[F_N] = {f->cert ? f->cert : "", f->key ? f->key : "", f->client_ca ? f->client_ca : ""};
    bool changed = false;
    for (int i = 0; i < F_N; i++) {
        if (t->path[i] && strcmp(t->path[i], p[i]) == 0) continue;
        free(t->path[i]);
        t->path[i] = xstrdup(p[i]);
        changed = true;
    }
    return changed;
}

/* A stat failure as the load's error: it names the key and the file. */
static int stat_error(const http_tls *t, const fstamp s[F_N], char *err, size_t errlen)
{
    for (int i = 0; i < F_N; i++) {
        if (!s[i].err) continue;
        snprintf(err, errlen, "%s %s: %s", file_key[i], t->path[i], strerror(s[i].err));
        return SGW_E_IO;
    }
    return 0;
}

http_tls *http_tls_new(const http_tls_files *f, char *err, size_t errlen)
{
    http_tls *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    set_paths(t, f);
    stamp_files(t->path, t->tried);
    int64_t na = 0;
    if (stat_error(t, t->tried, err, errlen) < 0 || !(t->cur = ctx_build(t->path, &na, err, errlen))) {
        http_tls_free(t);
        return NULL;
    }
    atomic_store(&t->not_after, na);
    return t;
}

void http_tls_free(http_tls *t)
{
    if (!t) return;
    SSL_CTX_free(t->cur);
    for (int i = 0; i < F_N; i++) free(t->path[i]);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int http_tls_reload(http_tls *t, const http_tls_files *f, bool force, char *err, size_t errlen)
{
    if (f && set_paths(t, f)) force = true;
    fstamp now[F_N];
    stamp_files(t->path, now);
    if (!force && stamps_equal(now, t->tried)) return 0;
    memcpy(t->tried, now, sizeof now);
    int rc = stat_error(t, now, err, errlen);
    if (rc < 0) return rc;
    int64_t na = 0;
    SSL_CTX *ctx = ctx_build(t->path, &na, err, errlen);
    if (!ctx) return SGW_E_INVALID;
    pthread_mutex_lock(&t->mu);
    SSL_CTX *old = t->cur;
    t->cur = ctx;
    pthread_mutex_unlock(&t->mu);
    SSL_CTX_free(old);   /* each connection on it holds its own reference */
    atomic_store(&t->not_after, na);
    return 1;
}

bool http_tls_client_certs(const http_tls *t)
{
    pthread_mutex_lock((pthread_mutex_t *)&t->mu);
    bool on = (SSL_CTX_get_verify_mode(t->cur) & SSL_VERIFY_PEER) != 0;
    pthread_mutex_unlock((pthread_mutex_t *)&t->mu);
    return on;
}

int64_t http_tls_not_after(const http_tls *t) { return atomic_load(&((http_tls *)t)->not_after); }

/* ---- the BIOs -------------------------------------------------------------------------- */

struct tls_conn {
    SSL        *ssl;
    const char *in;          /* ciphertext fed and not yet read by OpenSSL (the loop's buffer) */
    size_t      in_len;
    char       *out;         /* ciphertext to send */
    size_t      out_len, out_cap;
    bool        established;
    char       *subject;     /* the verified client certificate's, or NULL */
};

static int bio_in_read(BIO *b, char *buf, int len)
{
    tls_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (c->in_len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = (size_t)len < c->in_len ? (size_t)len : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (int)n;
}

static int bio_out_write(BIO *b, const char *data, int len)
{
    tls_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0) return 0;
    if (c->out_len + (size_t)len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + (size_t)len) cap *= 2;
        c->out = xrealloc(c->out, cap);
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, (size_t)len);
    c->out_len += (size_t)len;
    return len;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    tls_conn *c = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return c ? (long)c->in_len : 0;
    case BIO_CTRL_WPENDING: return c ? (long)c->out_len : 0;
    default: return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_in_method, *bio_out_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void bio_methods_init(void)
{
    bio_in_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sgw tls in");
    BIO_meth_set_read(bio_in_method, bio_in_read);
    BIO_meth_set_ctrl(bio_in_method, bio_ctrl);
    BIO_meth_set_create(bio_in_method, bio_create);
    bio_out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sgw tls out");
    BIO_meth_set_write(bio_out_method, bio_out_write);
    BIO_meth_set_ctrl(bio_out_method, bio_ctrl);
    BIO_meth_set_create(bio_out_method, bio_create);
}

/* ---- one connection ------------------------------------------------------------------------ */

/* SSL_get_error reads the thread's error queue, which must be empty before each I/O call;
 * clearing it takes ~800 instructions (16 slots), looking at it a tenth of that, and it is
 * empty unless something failed (this file clears it after each failure; another library
 * on the thread, libcurl, may not). */
static void err_empty(void)
{
    if (ERR_peek_error()) ERR_clear_error();
}

tls_conn *tls_conn_new(http_tls *t, bool client_certs)
{
    pthread_once(&bio_once, bio_methods_init);
    pthread_mutex_lock(&t->mu);
    SSL_CTX *ctx = t->cur;
    SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&t->mu);
    SSL *ssl = SSL_new(ctx);   /* holds its own reference to ctx */
    SSL_CTX_free(ctx);
    BIO *rb = ssl ? BIO_new(bio_in_method) : NULL;
    BIO *wb = rb ? BIO_new(bio_out_method) : NULL;
    if (!wb) {
        BIO_free(rb);
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    tls_conn *c = xcalloc(1, sizeof *c);
    c->ssl = ssl;
    BIO_set_data(rb, c);
    BIO_set_data(wb, c);
    SSL_set_bio(ssl, rb, wb);   /* the SSL owns both */
    SSL_set_accept_state(ssl);
    if (!client_certs) SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    return c;
}

void tls_conn_free(tls_conn *c)
{
    if (!c) return;
    SSL_free(c->ssl);
    free(c->out);
    free(c->subject);
    free(c);
}

void tls_conn_feed(tls_conn *c, const char *data, size_t len)
{
    c->in = data;
    c->in_len = len;
}

/* The verified client certificate's subject as RFC 2253, kept for the connection's requests. */
static void keep_subject(tls_conn *c)
{
    X509 *peer = SSL_get0_peer_certificate(c->ssl);
    if (!peer || SSL_get_verify_result(c->ssl) != X509_V_OK) return;
    if (!(SSL_get_verify_mode(c->ssl) & SSL_VERIFY_PEER)) return;
    BIO *m = BIO_new(BIO_s_mem());
    if (!m) return;
    if (X509_NAME_print_ex(m, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) >= 0) {
        char *p;
        long n = BIO_get_mem_data(m, &p);
        if (n > 0) c->subject = xstrndup(p, (size_t)n);
    }
    BIO_free(m);
}

int tls_conn_read(tls_conn *c, char *out, size_t cap)
{
    /* every byte fed was read and nothing waits inside the SSL: SSL_read would only say so */
    if (c->established && c->in_len == 0 && !SSL_has_pending(c->ssl)) return TLS_WANT_INPUT;
    err_empty();
    int n = SSL_read(c->ssl, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (!c->established && SSL_is_init_finished(c->ssl)) {
        c->established = true;
        keep_subject(c);
    }
    if (n > 0) return n;
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ: return TLS_WANT_INPUT;
    case SSL_ERROR_ZERO_RETURN: return TLS_CLOSED;
    default:
        if (!c->established) atomic_fetch_add(&handshake_errors[error_reason(ERR_peek_last_error())], 1);
        ERR_clear_error();
        return TLS_FAILED;
    }
}

int tls_conn_write(tls_conn *c, const char *data, size_t len)
{
    if (len == 0) return 0;
    if (len > INT32_MAX) return TLS_FAILED;
    err_empty();
    int n = SSL_write(c->ssl, data, (int)len);   /* the output BIO takes everything */
    if (n == (int)len) return 0;
    ERR_clear_error();
    return TLS_FAILED;
}

void tls_conn_shutdown(tls_conn *c)
{
    if (!c->established || (SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN)) return;
    err_empty();
    SSL_shutdown(c->ssl);
    err_empty();
}

size_t tls_conn_out(tls_conn *c, const char **p)
{
    *p = c->out;
    return c->out_len;
}

void tls_conn_out_clear(tls_conn *c) { c->out_len = 0; }

bool tls_conn_established(const tls_conn *c) { return c->established; }

const char *tls_conn_subject(const tls_conn *c) { return c->subject; }
