/* fuzz_http.c: libFuzzer target for the real request path: bytes from a client socket →
 * http/server.c (llhttp) → the routes of main.c → pipeline (auth, adapters, memory store,
 * directory sink) → responses. Each input is one connection: one end of a socketpair is
 * handed to the server with http_server_adopt(), the harness writes the input to the
 * other end, half-closes it and runs the worker's loop until the server closed the
 * connection and every request it started has finished.
 *
 * Input: raw HTTP bytes, optionally preceded by a control header
 *   0xFF, flags, nsplit, split[nsplit]...
 * flags bit 0: authenticate with a static token file ("Bearer fuzz-token" is accepted);
 * flags bit 1: close the client socket right after writing (the client goes away while its
 *              requests are processed) instead of half-closing and reading the answers;
 * flags bit 2: slow client: serve on a second server whose header/request/idle timeouts are
 *              30 ms (its write timeout 2 s), and never half-close: the server must end the connection itself
 *              (408, idle keep-alive close);
 * flags bit 3: small socket buffers and a late reader (reads only when its own write would
 *              block, and at the end): responses leave through uv_write's queue;
 * nsplit (mod 17) chunk sizes (1 + byte) written one at a time, the loop run in between,
 * so the server sees the request in pieces; the rest is written at once. No HTTP request
 * starts with 0xFF, so plain HTTP files are inputs as they are.
 *
 * Both servers use the configuration's defaults except smaller body and header limits (24 KiB,
 * 8 KiB, so that 413 and 431 are within libFuzzer's -max_len) and, for the slow one, the
 * timeouts.
 *
 * Checked: the server ends every connection (no hang after the client's EOF), every
 * response is "HTTP/1.1 NNN Reason" with a known status, a Content-Length that matches,
 * a JSON body that parses (and is valid UTF-8), nothing after "Connection: close"; and the
 * directory sink writes nothing outside its directory (watched with inotify; the sink sits
 * 90 directories deep in a scratch tree so that "../" namespaces cannot leave it).
 * SGW_FUZZ_PRINT=1 prints the responses, SGW_FUZZ_VERBOSE=1 the gateway's log. */
#include "admin.h"
#include "fuzz_util.h"
#include "gateway.h"
#include "metrics.h"
#include "pipeline.h"
#include "routes.h"
#include "sink/dir.h"
#include "state/memory.h"
#include "storm_flush.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SINK_DEPTH    90        /* > 253 / 3 "../" a namespace can hold */
#define HANG_MS       5000      /* an input still running after this long is a hang */
#define LINGER_EOF_MS 1000      /* a lingering connection must close soon after the client's EOF */
#define TOKEN         "fuzz-token"

static gateway    G;
static worker     W;
static gw_runtime rt_off, rt_static;
static uv_timer_t tick;
static http_server *slow_srv;     /* flags bit 2 */
static char       root[PATH_MAX], sinkdir[PATH_MAX];
static int        ino = -1, sink_wd = -1;

static bool   print_responses;  /* SGW_FUZZ_PRINT=1: show what the server answered */
static char  *resp;              /* everything the server sent on this connection */
static size_t resp_len, resp_cap;

static void die_setup(const char *what, const char *err)
{
    fuzz_fail("fuzz_http setup: %s: %s", what, err);
}

static void on_tick(uv_timer_t *t) { (void)t; }   /* bounds every UV_RUN_ONCE to ~1 ms */

static config *fuzz_config(bool static_auth, const char *token_file)
{
    char err[512], sink[PATH_MAX + 8];
    config *c = config_defaults();
    snprintf(sink, sizeof sink, "dir:%s", sinkdir);
    if (config_set(c, "sink.target", sink, err, sizeof err) ||
        config_set(c, "server.processing_timeout", "2s", err, sizeof err) ||
        /* storm RR updates are flushed at the end of every input: make windows due at once */
        config_set(c, "storm.update_interval", "0ms", err, sizeof err) ||
        (static_auth && (config_set(c, "auth.mode", "static", err, sizeof err) ||
                         config_set(c, "auth.static_file", token_file, err, sizeof err))) ||
        config_validate(c, err, sizeof err))
        die_setup("config", err);
    return c;
}

static void make_runtime(gw_runtime *rt, config *c)
{
    char err[512];
    rt->cfg = c;
    rt->auth = auth_new(c, err, sizeof err);
    if (!rt->auth) die_setup("auth_new", err);
}

static void rm_tree_below(const char *dir);

/* Scratch trees of fuzz_http processes that died (a crash skips atexit) are removed. */
static void remove_stale_trees(const char *base)
{
    DIR *d = opendir(base);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid;
        if (sscanf(e->d_name, "sgw-fuzz-http.%d.", &pid) != 1 || pid <= 0) continue;
        if (kill(pid, 0) == 0 || errno != ESRCH) continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", base, e->d_name);
        rm_tree_below(p);
        rmdir(p);
    }
    closedir(d);
}

/* Scratch tree: root/d/d/.../d/rr (the sink) and root/tokens; every directory above the
 * sink is watched for creations, the sink itself too (to know when to empty it). */
static void make_tree(char *token_file, size_t cap)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    remove_stale_trees(base);
    snprintf(root, sizeof root, "%s/sgw-fuzz-http.%d.XXXXXX", base, (int)getpid());
    if (!mkdtemp(root)) die_setup("mkdtemp", strerror(errno));
    ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino < 0) die_setup("inotify_init1", strerror(errno));
    size_t n = (size_t)snprintf(sinkdir, sizeof sinkdir, "%s", root);
    for (int i = 0; i <= SINK_DEPTH; i++) {
        if (inotify_add_watch(ino, sinkdir, IN_CREATE | IN_MOVED_TO) < 0) die_setup("inotify_add_watch", strerror(errno));
        n += (size_t)snprintf(sinkdir + n, sizeof sinkdir - n, i < SINK_DEPTH ? "/d" : "/rr");
        if (mkdir(sinkdir, 0755) < 0) die_setup("mkdir", strerror(errno));
    }
    sink_wd = inotify_add_watch(ino, sinkdir, IN_CREATE | IN_MOVED_TO);
    if (sink_wd < 0) die_setup("inotify_add_watch", strerror(errno));
    snprintf(token_file, cap, "%s/tokens", root);
    int fd = open(token_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, TOKEN "\n", sizeof TOKEN) != (ssize_t)sizeof TOKEN) die_setup("token file", strerror(errno));
    close(fd);
    char buf[8192];
    while (read(ino, buf, sizeof buf) > 0) {}   /* the tree's own creations */
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag;
    if (f->level > 0) remove(path);
    return 0;
}

static void rm_tree_below(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void remove_all(void)
{
    rm_tree_below(root);
    rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char err[512], token_file[PATH_MAX];
    signal(SIGPIPE, SIG_IGN);
    /* Log everything (attacker data goes through log_str's escaping), but to /dev/null. */
    log_set_level(LOG_DEBUG);
    if (!getenv("SGW_FUZZ_VERBOSE")) log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
    print_responses = getenv("SGW_FUZZ_PRINT") != NULL;
    metrics_init();
    make_tree(token_file, sizeof token_file);
    atexit(remove_all);
    make_runtime(&rt_off, fuzz_config(false, NULL));
    make_runtime(&rt_static, fuzz_config(true, token_file));
    atomic_store(&G.rt, &rt_off);
    const config *c = rt_off.cfg;

    /* as main.c's worker_setup, with a memory store made fresh for every input */
    W.gw = &G;
    W.id = 0;
    W.metrics_fd = -1;
    uv_loop_init(&W.loop);
    defer_init(&W.defer, &W.loop);
    W.sk = sink_dir_open(&W.loop, c->sink + 4, err, sizeof err);
    if (!W.sk) die_setup("sink_dir_open", err);
    routes_init(&W);   /* the routes main.c serves */
    http_limits lim = {
        .max_body_bytes = 24 << 10,
        .max_header_bytes = 8 << 10,
        .max_url_bytes = 8192,
        .header_timeout_ms = c->header_timeout_ms,
        .request_timeout_ms = c->request_timeout_ms,
        .idle_timeout_ms = c->idle_timeout_ms,
        .write_timeout_ms = c->write_timeout_ms,
        .max_connections = c->max_connections,
    };
    int port;
    int lfd = http_listen_socket("127.0.0.1:0", -1, &port, err, sizeof err);   /* never connected to */
    if (lfd < 0) die_setup("http_listen_socket", err);
    W.srv = http_server_new(&W.loop, lfd, W.routes, W.nroutes, &lim, admin_observe, &W, err, sizeof err);
    if (!W.srv) die_setup("http_server_new", err);
    lim.header_timeout_ms = lim.request_timeout_ms = lim.idle_timeout_ms = 30;
    /* Not 30 ms for writes: the client is this same thread, so when the process is not
     * scheduled for 30 ms (a loaded machine, nice 19) the client has "not read for 30 ms"
     * and a large response was cut, a false finding (long run 2). The cut-off of a reader
     * that stops is tested in tests/unit/test_http_server.c. */
    lim.write_timeout_ms = 2000;
    /* and a lingering close of 5 ms, not 2 s: the slow client never closes, so each of its
     * error answers would otherwise keep the input running for the whole linger */
    lim.linger_ms = 5;
    lfd = http_listen_socket("127.0.0.1:0", -1, &port, err, sizeof err);
    if (lfd < 0) die_setup("http_listen_socket", err);
    slow_srv = http_server_new(&W.loop, lfd, W.routes, W.nroutes, &lim, admin_observe, &W, err, sizeof err);
    if (!slow_srv) die_setup("http_server_new", err);
    uv_timer_init(&W.loop, &tick);
    return 0;
}

/* ---- the client side ------------------------------------------------------------------- */

/* Reads what the server sent; returns true once the server closed its end. */
static bool drain(int fd)
{
    for (;;) {
        if (resp_cap - resp_len < 65536) {
            resp_cap = resp_cap ? resp_cap * 2 : 262144;
            resp = realloc(resp, resp_cap);
        }
        ssize_t r = read(fd, resp + resp_len, resp_cap - resp_len);
        if (r > 0) {
            resp_len += (size_t)r;
            continue;
        }
        if (r == 0) return true;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return false;
        return true;   /* ECONNRESET: closed too */
    }
}

static void step(int64_t deadline, const char *what)
{
    uv_run(&W.loop, UV_RUN_ONCE);
    if (time_mono_ms() > deadline)
        fuzz_fail("hang: %s after %d ms (connections %d, in flight %d)", what, HANG_MS,
                  http_server_connections(W.srv) + http_server_connections(slow_srv), atomic_load(&G.inflight));
}

/* ---- lingering connections --------------------------------------------------------------- */

/* A connection the server half-closed (its stream is no longer writable) is lingering:
 * server.c reads and discards the client's input until EOF, then closes. */
static size_t nlingering;

static void find_lingering(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (h->type == UV_TCP && h != (uv_handle_t *)&tick && !uv_is_closing(h) && h->data != W.srv && h->data != slow_srv &&
        !uv_is_writable((uv_stream_t *)h))
        nlingering++;
}

static bool any_lingering(void)
{
    nlingering = 0;
    uv_walk(&W.loop, find_lingering, NULL);
    return nlingering > 0;
}

static const char *find_crlfcrlf(const char *s, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (s[i] == '\r' && s[i + 1] == '\n' && s[i + 2] == '\r' && s[i + 3] == '\n') return s + i;
    return NULL;
}

/* Header value of name in head[0..n) (the status line excluded), or NULL. */
static const char *header(const char *head, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (const char *p = head; p && p < head + n;) {
        const char *eol = memmem(p, (size_t)(head + n - p), "\r\n", 2);
        const char *end = eol ? eol : head + n;
        if ((size_t)(end - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (v < end && *v == ' ') v++;
            *vlen = (size_t)(end - v);
            return v;
        }
        p = eol ? eol + 2 : NULL;
    }
    return NULL;
}

static void check_responses(const char *b, size_t len, bool complete)
{
    size_t off = 0;
    bool closed = false;
    while (off < len) {
        const char *r = b + off;
        size_t left = len - off;
        if (closed) fuzz_fail("response after a \"Connection: close\" response: %.40s", r);
        if (left < 9 || memcmp(r, "HTTP/1.1 ", 9) != 0) {
            if (!complete && left < 9 && memcmp(r, "HTTP/1.1 ", left) == 0) return;
            fuzz_fail("response does not start with \"HTTP/1.1 \": %.40s", r);
        }
        const char *he = find_crlfcrlf(r, left);
        if (!he) {
            if (!complete) return;
            fuzz_fail("response head not terminated: %.80s", r);
        }
        size_t hl = (size_t)(he - r);
        if (hl < 13 || r[9] < '1' || r[9] > '5' || r[10] < '0' || r[10] > '9' || r[11] < '0' || r[11] > '9' || r[12] != ' ')
            fuzz_fail("bad status line: %.40s", r);
        int status = (r[9] - '0') * 100 + (r[10] - '0') * 10 + (r[11] - '0');
        const char *eol = memmem(r, hl + 2, "\r\n", 2);
        if (eol < r + 13) fuzz_fail("bad status line: %.40s", r);
        if ((size_t)(eol - (r + 13)) == 7 && memcmp(r + 13, "Unknown", 7) == 0)
            fuzz_fail("status %d has no reason phrase in http_status_text", status);
        if (status == 100) {   /* interim: no headers, no body */
            off += hl + 4;
            continue;
        }
        const char *h = eol + 2;
        size_t hn = (size_t)(he - h);
        size_t vl;
        const char *cl = header(h, hn, "Content-Length", &vl);
        if (!cl) fuzz_fail("%d response without Content-Length", status);
        char *end;
        char num[32];
        snprintf(num, sizeof num, "%.*s", (int)(vl < 31 ? vl : 31), cl);
        unsigned long long blen = strtoull(num, &end, 10);
        if (end == num || *end) fuzz_fail("bad Content-Length \"%s\"", num);
        size_t body_off = hl + 4;
        if (blen > left - body_off) {
            if (!complete) return;
            fuzz_fail("%d response: Content-Length %llu but only %zu bytes follow", status, blen, left - body_off);
        }
        const char *body = r + body_off;
        const char *ct = header(h, hn, "Content-Type", &vl);
        if (!ct) fuzz_fail("%d response without Content-Type", status);
        if (vl >= 16 && strncmp(ct, "application/json", 16) == 0) {
            size_t bad;
            if (!fuzz_known("utf8-msg") && !utf8_valid(body, (size_t)blen, &bad))
                fuzz_fail("%d response: JSON body is not valid UTF-8 at byte %zu: %.*s", status, bad, (int)blen, body);
            cJSON *j = cJSON_ParseWithLength(body, (size_t)blen);
            if (!j) fuzz_fail("%d response: body is not JSON: %.*s", status, (int)blen, body);
            if (status >= 400 && !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "error")) &&
                !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "status")))
                fuzz_fail("%d response without an error object: %.*s", status, (int)blen, body);
            cJSON_Delete(j);
        }
        const char *conn = header(h, hn, "Connection", &vl);
        if (conn && vl == 5 && strncasecmp(conn, "close", 5) == 0) closed = true;
        off += body_off + (size_t)blen;
    }
}

/* Reads the inotify events of this input: a creation above the sink is an escape. Returns
 * true if the sink got new entries (it is emptied then). */
static bool check_tree(void)
{
    bool sink_used = false;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t r = read(ino, buf, sizeof buf);
        if (r <= 0) break;
        for (char *p = buf; p < buf + r;) {
            struct inotify_event *e = (struct inotify_event *)p;
            p += sizeof *e + e->len;
            if (e->wd == sink_wd || (e->mask & IN_Q_OVERFLOW)) {
                sink_used = true;
                continue;
            }
            if (e->len && !strcmp(e->name, "tokens")) continue;
            if (!fuzz_known("ns-traversal"))
                fuzz_fail("the directory sink wrote outside its directory: \"%s\" was created %s",
                          e->len ? e->name : "?", "in a parent of the sink directory (namespace with \"..\"?)");
            /* known bug: undo it (find the entry by name in every parent) */
            char path[PATH_MAX];
            size_t n = (size_t)snprintf(path, sizeof path, "%s", root);
            for (int i = 0; i <= SINK_DEPTH && e->len; i++) {
                char victim[PATH_MAX];
                snprintf(victim, sizeof victim, "%s/%s", path, e->name);
                if (strcmp(e->name, i < SINK_DEPTH ? "d" : "rr") != 0) {
                    struct stat st;
                    if (lstat(victim, &st) == 0) {
                        if (S_ISDIR(st.st_mode)) {
                            rm_tree_below(victim);
                            rmdir(victim);
                        } else {
                            unlink(victim);
                        }
                    }
                }
                n += (size_t)snprintf(path + n, sizeof path - n, i < SINK_DEPTH ? "/d" : "/rr");
            }
        }
    }
    return sink_used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned flags = 0;
    size_t splits[16], nsplit = 0;
    if (size >= 3 && data[0] == 0xFF) {
        flags = data[1];
        nsplit = data[2] % 17;
        if (nsplit > size - 3) nsplit = size - 3;
        for (size_t i = 0; i < nsplit; i++) splits[i] = 1 + (size_t)data[3 + i];
        data += 3 + nsplit;
        size -= 3 + nsplit;
    }
    bool abrupt = flags & 2, slow = flags & 4, late_reader = flags & 8;
    http_server *srv = slow ? slow_srv : W.srv;

    atomic_store(&G.rt, (flags & 1) ? &rt_static : &rt_off);
    G.mem = store_memory_shared_new();
    W.st = store_memory_open(G.mem, &W.defer);
    resp_len = 0;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) fuzz_fail("socketpair: %s", strerror(errno));
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    if (late_reader) {   /* the kernel's minimum: a response of a few KiB needs several writes */
        int one = 1;
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof one);
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &one, sizeof one);
    }
    int rc = http_server_adopt(srv, sv[0]);
    if (rc < 0) fuzz_fail("http_server_adopt: %s", sgw_strerror(rc));
    uv_timer_start(&tick, on_tick, 1, 1);
    int64_t deadline = time_mono_ms() + HANG_MS;

    /* write the input, in the chunks the control header asked for */
    bool server_closed = false;
    size_t off = 0, chunk = 0;
    while (off < size && !server_closed) {
        size_t want = chunk < nsplit ? splits[chunk] : size - off;
        if (want > size - off) want = size - off;
        ssize_t w = write(sv[1], data + off, want);
        if (w > 0) {
            off += (size_t)w;
            if ((size_t)w == want) chunk++;
            else if (chunk < nsplit) splits[chunk] -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            break;   /* EPIPE: the server closed the connection (e.g. after a 400) */
        }
        step(deadline, "writing the request");
        if (!late_reader || w < 0) server_closed = drain(sv[1]);
    }

    /* The client is done: the server must answer what it can and close the connection (a
     * slow client sends nothing more, but does not close: the server's timeouts must). */
    if (abrupt) close(sv[1]);
    else if (!slow) shutdown(sv[1], SHUT_WR);
    int64_t eof_at = time_mono_ms();
    while (!(abrupt || server_closed) || http_server_connections(srv) > 0 || atomic_load(&G.inflight) > 0) {
        step(deadline, abrupt ? "server still has the connection after the client closed it"
                       : slow ? "server did not time the silent client out"
                              : "server did not close the connection after the client's EOF");
        if (!abrupt && !server_closed) server_closed = drain(sv[1]);
        if (!slow && !fuzz_known("linger-eof") && any_lingering()) {
            if (time_mono_ms() - eof_at > LINGER_EOF_MS)
                fuzz_fail("a lingering connection ignored the client's EOF for %d ms (server.c stops the "
                          "linger read it just started: see docs/fuzzing.md, linger-eof)", LINGER_EOF_MS);
        }
    }
    if (!abrupt) close(sv[1]);

    /* storm RR updates for the windows this input opened (worker 0's timer in main.c) */
    storm_flush(&W);
    while (W.flushing) step(deadline, "storm flush did not finish");
    uv_timer_stop(&tick);
    uv_run(&W.loop, UV_RUN_NOWAIT);   /* close callbacks of the requests' timers */
    uv_run(&W.loop, UV_RUN_NOWAIT);

    if (print_responses) fprintf(stderr, "---- %zu bytes of responses\n%.*s\n----\n", resp_len, (int)resp_len, resp);
    check_responses(resp, resp_len, !abrupt);

    W.st->ops->close(W.st);
    W.st = NULL;
    store_memory_shared_free(G.mem);
    G.mem = NULL;
    if (check_tree()) rm_tree_below(sinkdir);
    return 0;
}
