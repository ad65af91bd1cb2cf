/* main.c: command line, configuration, worker threads and process signals.
 * Each worker thread runs one libuv loop with its own SO_REUSEPORT listener; the main
 * thread only waits for signals: SIGTERM/SIGINT drain (stop accepting, finish in-flight
 * requests, up to server.drain_timeout) and exit 0; SIGHUP reloads the configuration. */
#include "admin.h"
#include "gateway.h"
#include "metrics.h"
#include "routes.h"
#include "sink/dir.h"
#include "sink/kubernetes.h"
#include "k8s/informer.h"
#include "k8s/target.h"
#include "state/kube.h"
#include "state/redis.h"
#include "storm_detect.h"
#include "storm_flush.h"
#include "util/cjson_arena.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef SGW_VERSION
#define SGW_VERSION "0.0.0"
#endif
#ifndef SGW_GIT_REV
#define SGW_GIT_REV "unknown"
#endif

typedef struct override {
    const char *key;
    char       *value;
} override;

static override overrides[16];
static size_t   n_overrides;
static const char *config_path;

static gateway  G;

/* Audit lines that may wait for the writer: ~10 s of a worker's peak rate; beyond, a line is
 * a counted failure (and with audit.required a 503), never unbounded memory. */
#define AUDIT_QUEUE_LINES 65536
static worker  *workers;
static int      n_workers;
static uv_loop_t main_loop;
static uv_timer_t drain_timer;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: signal-gateway [--config FILE] [--listen ADDR:PORT] [--metrics-listen ADDR:PORT]\n"
            "         [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]\n"
            "         [--state memory | kubernetes | redis://HOST:PORT[/DB] | redis-sentinel://H1:P1,H2:P2/MASTER]\n"
            "         [--sink dir:PATH | kubernetes] [--kubeconfig FILE] [--auth off|kubernetes|static:FILE]\n"
            "         [--rr-api remediation.kubernaut.io/v1alpha1 | kubernaut.ai/v1alpha1]\n"
            "         [--log-level debug|info|warn|error] [--audit-log FILE|-] [--workers N]\n"
            "         [--check-config] [--version] [--help]\n"
            "\n"
            "With no flags: listens on 127.0.0.1:8080, keeps state in memory and writes each\n"
            "RemediationRequest as a manifest under ./remediationrequests/<namespace>/<name>.json.\n"
            "Every configuration key can also be set in the environment as SGW_<SECTION>_<KEY>\n"
            "(e.g. SGW_DEDUP_TTL=5m). Flags override the environment, which overrides the file.\n"
            "--tls-cert/--tls-key serve the signal listener over TLS (server.tls_cert_file,\n"
            "server.tls_key_file; a rotated pair is picked up without a restart); --tls-client-ca\n"
            "requires client certificates that chain to it (server.tls_client_ca_file).\n");
}

static void add_override(const char *key, const char *value)
{
    if (n_overrides < sizeof overrides / sizeof overrides[0])
        overrides[n_overrides++] = (override){key, xstrdup(value)};
}

/* Loads file + env + flags into a validated runtime, or NULL with err. */
static gw_runtime *load_runtime(char *err, size_t errlen)
{
    config *c = config_load(config_path, NULL, err, errlen);
    if (!c) return NULL;
    for (size_t i = 0; i < n_overrides; i++) {
        if (!strcmp(overrides[i].key, "auth")) {
            const char *v = overrides[i].value;
            int rc;
            if (!strncmp(v, "static:", 7)) {
                rc = config_set(c, "auth.mode", "static", err, errlen);
                if (!rc) rc = config_set(c, "auth.static_file", v + 7, err, errlen);
            } else {
                rc = config_set(c, "auth.mode", v, err, errlen);
            }
            if (rc) goto fail;
            continue;
        }
        if (config_set(c, overrides[i].key, overrides[i].value, err, errlen)) goto fail;
    }
    if (config_validate(c, err, errlen)) goto fail;
    if (strncmp(c->state, "redis", 5) == 0) {
        redis_target t;
        if (redis_target_parse(c->state, &t, err, errlen) < 0) goto fail;
        redis_target_free(&t);
    }
    signature_key *gk = NULL;
    if (*c->grafana_hmac_secret_file &&
        !(gk = signature_key_load(c->grafana_hmac_secret_file, "sources.grafana_hmac_secret_file", err, errlen)))
        goto fail;
    auth *a = auth_new(c, err, errlen);
    if (!a) {
        signature_key_free(gk);
        goto fail;
    }
    gw_runtime *rt = xcalloc(1, sizeof *rt);
    rt->cfg = c;
    rt->auth = a;
    rt->grafana_key = gk;
    return rt;
fail:
    config_free(c);
    return NULL;
}

static void free_runtimes(gw_runtime *r)
{
    while (r) {
        gw_runtime *next = r->retired;
        auth_free(r->auth);
        signature_key_free(r->grafana_key);
        config_free(r->cfg);
        free(r);
        r = next;
    }
}

/* ---- workers ------------------------------------------------------------------------- */

/* After a burst (a thousand storm webhooks at once) glibc keeps the freed heap mapped: give it
 * back once nothing is in flight, at most every 10 s (a trim of a mostly free heap is
 * about a millisecond; worker 0's timer, so one thread does it). */
static void maybe_trim(worker *w)
{
    static int64_t last_ms;
    int64_t now = time_mono_ms();
    if (now - last_ms < 10000 || atomic_load(&w->gw->inflight) != 0) return;
    last_ms = now;
    malloc_trim(0);
}

static void on_flush_timer(uv_timer_t *t)
{
    storm_flush(t->data);
    maybe_trim(t->data);
}

/* The worker's own handles: after this only the store's, sink's, client's and servers'
 * remain, which main closes once the thread is joined. The storm flush timer must not fire
 * on a store that main has closed. One last storm flush is not awaited: storm state lives
 * in the store. */
static void worker_close_own_handles(worker *w)
{
    if (uv_is_closing((uv_handle_t *)&w->flush_timer)) return;
    uv_timer_stop(&w->flush_timer);
    uv_close((uv_handle_t *)&w->flush_timer, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
}

static void worker_server_drained(http_server *s, void *data)
{
    worker *w = data;
    if (--w->drained > 0) return;
    worker_close_own_handles(w);
    /* every request is answered; the store's, sink's and client's handles (Redis
     * connection, API probes) would keep the loop alive: stop it, and close those from
     * main once the thread is joined (their close functions run the stopped loop) */
    uv_stop(&w->loop);
}

static void on_wake(uv_async_t *a)
{
    worker *w = a->data;
    int stop = atomic_load(&w->stop);
    if (stop == 2) {   /* the drain timed out: stop with requests still in flight */
        worker_close_own_handles(w);
        uv_stop(&w->loop);
        return;
    }
    if (stop == 1 && w->drained == 0) {
        w->drained = w->msrv ? 2 : 1;
        http_server_drain(w->srv, worker_server_drained, w);
        if (w->msrv) http_server_drain(w->msrv, worker_server_drained, w);
    }
}

static void on_log_prepare(uv_prepare_t *p)
{
    (void)p;
    log_flush();
}

/* The worker's log lines are written once per loop iteration (util/log.h log_buffering), so
 * a request's line costs no write(2) of its own. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    log_buffering(true);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    log_buffering(false);
    uv_close((uv_handle_t *)&w->log_prep, NULL);   /* completed by main's last uv_run of this loop */
    return NULL;
}

/* ---- state kept in the API (state.url kubernetes) --------------------------------------- */

/* The list+watch cache's changes into the process's RR index. */
static void on_rr_event(k8s_informer_event ev, const cJSON *obj, void *ctx)
{
    rr_index *x = ctx;
    switch (ev) {
    case K8S_INFORMER_LIST_BEGIN: rr_index_relist_begin(x); break;
    case K8S_INFORMER_LIST_END: rr_index_relist_end(x, k8s_informer_resource_version(G.informer)); break;
    case K8S_INFORMER_LIST_ITEM:
    case K8S_INFORMER_ADDED:
    case K8S_INFORMER_MODIFIED: rr_index_put(x, obj); break;
    case K8S_INFORMER_DELETED: {
        const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
        const cJSON *fp = cJSON_GetObjectItemCaseSensitive(spec, "signalFingerprint");
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
        if (cJSON_IsString(fp) && cJSON_IsString(name)) rr_index_del(x, fp->valuestring, name->valuestring);
        break;
    }
    }
}

static int rr_cache_synced(void *arg, char *why, size_t cap)
{
    gateway *g = arg;
    if (!g->informer) return snprintf(why, cap, "the RemediationRequest cache is stopped"), 0;
    return k8s_informer_synced(g->informer, why, cap);
}

/* Worker 0 runs the process's one list+watch of the RR namespace. */
static int rr_informer_setup(worker *w, char *err, size_t errlen)
{
    G.rrx = rr_index_new();
    char path[256];
    snprintf(path, sizeof path, "/apis/kubernaut.ai/v1alpha1/namespaces/%s/remediationrequests", G.rr_namespace);
    k8s_informer_opts o = {.path = path, .name = "RemediationRequest cache"};
    G.informer = k8s_informer_new(w->kc, &o, on_rr_event, G.rrx, err, errlen);
    if (!G.informer) return SGW_E_INVALID;
    k8s_informer_start(G.informer);
    return 0;
}

/* 0, or a negative code (util/err.h) with the reason in err. */
static int worker_setup(worker *w, const config *c, char *err, size_t errlen)
{
    uv_loop_init(&w->loop);
    defer_init(&w->defer, &w->loop);
    if (G.kcfg) {
        k8s_client_opts ko = {c->k8s_qps, c->k8s_burst, c->k8s_timeout_ms, c->k8s_max_retries, 100,
                              "signal-gateway/" SGW_VERSION};
        /* the rate limit is per process: split it over the workers */
        ko.qps = c->k8s_qps / n_workers;
        ko.burst = c->k8s_burst / n_workers > 0 ? c->k8s_burst / n_workers : 1;
        w->kc = k8s_client_new(&w->loop, G.kcfg, &ko, err, errlen);
        if (!w->kc) return SGW_E_INVALID;
    }
    if (G.mem) {
        w->st = store_memory_open(G.mem, &w->defer);
    } else if (strcmp(c->state, "kubernetes") == 0) {
        if (w->id == 0 && rr_informer_setup(w, err, errlen) < 0) return SGW_E_INVALID;
        store_kube_opts so = {G.rr_namespace, c->status_interval_ms, c->processing_timeout_ms, rr_cache_synced, &G};
        w->st = store_kube_open(&w->loop, w->kc, G.rrx, &w->defer, &so);
    } else {
        w->st = store_redis_open(&w->loop, &w->defer, c->state, c->state_prefix, c->state_timeout_ms, err, errlen);
        if (!w->st) return SGW_E_INVALID;
    }
    if (strcmp(c->sink, "kubernetes") == 0)
        w->sk = sink_kubernetes_open(&w->loop, w->kc, c->rr_group, c->rr_version, c->fallback_namespace,
                                     c->processing_timeout_ms);
    else
        w->sk = sink_dir_open(&w->loop, c->sink + 4, err, errlen);
    if (!w->sk) return SGW_E_INVALID;
    routes_init(w);
    http_limits lim = {
        .max_body_bytes = c->max_body_bytes,
        .max_header_bytes = c->max_header_bytes,
        .max_url_bytes = 8192,
        .header_timeout_ms = c->header_timeout_ms,
        .request_timeout_ms = c->request_timeout_ms,
        .idle_timeout_ms = c->idle_timeout_ms,
        .write_timeout_ms = c->write_timeout_ms,
        .max_connections = c->max_connections,
        .signature_header = c->grafana_hmac_header,
        .signature_ts_header = c->grafana_hmac_timestamp_header,
    };
    w->srv = http_server_new(&w->loop, w->listen_fd, w->routes, w->nroutes, &lim, admin_observe, w, err, errlen);
    if (!w->srv) return SGW_E_IO;
    if (G.tls) http_server_use_tls(w->srv, G.tls, true);
    if (w->metrics_fd >= 0) {
        w->msrv = http_server_new(&w->loop, w->metrics_fd, w->mroutes, w->nmroutes, &lim, admin_observe, w, err, errlen);
        if (!w->msrv) return SGW_E_IO;
        /* a scraper is not asked for a client certificate */
        if (G.tls && c->metrics_tls) http_server_use_tls(w->msrv, G.tls, false);
    }
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    audit_port_init(&w->audit_port, &w->loop, G.audit);
    uv_prepare_init(&w->loop, &w->log_prep);
    uv_prepare_start(&w->log_prep, on_log_prepare);
    uv_unref((uv_handle_t *)&w->log_prep);   /* never what keeps the loop running */
    uv_timer_init(&w->loop, &w->flush_timer);
    w->flush_timer.data = w;
    if (w->id == 0) {
        uint64_t every = (uint64_t)(c->storm_update_interval_ms / 4 > 50 ? c->storm_update_interval_ms / 4 : 50);
        uv_timer_start(&w->flush_timer, on_flush_timer, every, every);
    }
    return 0;
}

/* ---- signals --------------------------------------------------------------------------- */

static void on_drain_timeout(uv_timer_t *t)
{
    log_msg(LOG_WARN, "drain timeout: stopping with requests still in flight", NULL, NULL);
    for (int i = 0; i < n_workers; i++) {
        atomic_store(&workers[i].stop, 2);
        uv_async_send(&workers[i].wake);
    }
}

static uv_signal_t sig_term, sig_int, sig_hup;
static uv_timer_t  tls_timer;   /* server.tls_reload_interval: looks for a rotated pair */

static http_tls_files tls_files(const config *c)
{
    return (http_tls_files){c->tls_cert_file, c->tls_key_file, c->tls_client_ca_file};
}

/* The certificate new connections get: its file and notAfter (a warning when it has
 * expired: clients will refuse it). */
static void log_tls_certificate(const config *c, const char *msg)
{
    int64_t na = http_tls_not_after(G.tls);
    bool expired = na <= time_now_ms() / 1000;
    log_line l;
    if (log_begin(&l, expired ? LOG_WARN : LOG_INFO, expired ? "TLS certificate has expired" : msg)) {
        log_str(&l, "cert", c->tls_cert_file);
        log_int(&l, "not_after", (long long)na);
        log_end(&l);
    }
}

/* Looks for new TLS files (force: load them even if they look unchanged) on the main
 * thread, off the workers' loops: new connections get a new pair that loads and matches;
 * one that does not is logged and counted, and the current one stays. */
static void tls_reload(const config *c, bool force)
{
    char err[512];
    http_tls_files f = tls_files(c);
    int rc = http_tls_reload(G.tls, &f, force, err, sizeof err);
    if (rc == 0) return;
    if (rc < 0) {
        metrics_add("gateway_tls_reloads_total", "result=\"error\"", 1);
        log_msg(LOG_ERROR, "TLS certificate reload failed; keeping the current one", "error", err);
        return;
    }
    metrics_add("gateway_tls_reloads_total", "result=\"ok\"", 1);
    log_tls_certificate(c, "TLS certificate reloaded");
}

static void on_tls_timer(uv_timer_t *t)
{
    tls_reload(gw_runtime_get(&G)->cfg, false);
}

static void on_term(uv_signal_t *h, int signum)
{
    if (atomic_exchange(&G.draining, true)) return;
    log_line l;
    if (log_begin(&l, LOG_INFO, "draining")) {
        log_str(&l, "signal", signum == SIGINT ? "SIGINT" : "SIGTERM");
        log_int(&l, "in_flight", atomic_load(&G.inflight));
        log_end(&l);
    }
    for (int i = 0; i < n_workers; i++) {
        atomic_store(&workers[i].stop, 1);
        uv_async_send(&workers[i].wake);
    }
    const config *c = gw_runtime_get(&G)->cfg;
    uv_timer_start(&drain_timer, on_drain_timeout, (uint64_t)c->drain_timeout_ms, 0);
    uv_signal_stop(&sig_term);
    uv_signal_stop(&sig_int);
    uv_signal_stop(&sig_hup);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_hup, NULL);
    uv_timer_stop(&tls_timer);
    uv_close((uv_handle_t *)&tls_timer, NULL);
}

static void on_hup(uv_signal_t *h, int signum)
{
    char err[512];
    gw_runtime *old = gw_runtime_get(&G);
    gw_runtime *rt = load_runtime(err, sizeof err);
    if (!rt) {
        metrics_add("gateway_config_reloads_total", "result=\"error\"", 1);
        log_msg(LOG_ERROR, "configuration reload failed; keeping the current one", "error", err);
        return;
    }
    const config *o = old->cfg, *n = rt->cfg;
    if (strcmp(o->rr_api, n->rr_api) != 0) {
        /* read by every request (fingerprints, names, what the sink writes), and the store,
         * the sink and their validation were chosen for the old one: it cannot wait */
        free_runtimes(rt);
        metrics_add("gateway_config_reloads_total", "result=\"error\"", 1);
        log_msg(LOG_ERROR, "configuration reload failed; keeping the current one", "error",
                "sink.rr_api changes need a restart");
        return;
    }
    if (strcmp(o->listen, n->listen) || strcmp(o->state, n->state) || strcmp(o->sink, n->sink) ||
        strcmp(o->metrics_listen, n->metrics_listen) || strcmp(o->rr_namespace, n->rr_namespace))
        log_msg(LOG_WARN, "listen, metrics_listen, state, sink and sink.rr_namespace changes need a restart; ignored until then",
                NULL, NULL);
    if (strcmp(o->audit_file, n->audit_file) != 0)
        log_msg(LOG_WARN, "audit.file changes need a restart; the current file is reopened", "audit_file", o->audit_file);
    if (G.audit) audit_reopen(G.audit);   /* logrotate renamed it: the writer opens the path again */
    rt->retired = old;
    atomic_store(&G.rt, rt);
    if (G.tls && *n->tls_cert_file) {
        tls_reload(n, true);
        if (n->tls_reload_interval_ms != o->tls_reload_interval_ms) {
            uv_timer_stop(&tls_timer);
            if (n->tls_reload_interval_ms > 0)
                uv_timer_start(&tls_timer, on_tls_timer, (uint64_t)n->tls_reload_interval_ms,
                               (uint64_t)n->tls_reload_interval_ms);
        }
    } else if (!G.tls != !*n->tls_cert_file || n->metrics_tls != o->metrics_tls) {
        log_msg(LOG_WARN, "turning TLS on or off (server.tls_cert_file, server.metrics_tls) needs a restart; ignored "
                          "until then", NULL, NULL);
    }
    log_set_level(n->log_level);
    metrics_add("gateway_config_reloads_total", "result=\"ok\"", 1);
    log_msg(LOG_INFO, "configuration reloaded", "source", n->source);
}

/* ---- main ----------------------------------------------------------------------------- */

/* parse_flags's answer when the gateway should go on and start (not an exit status) */
enum { FLAGS_RUN = -1 };

/* The command line into overrides; FLAGS_RUN to go on, else the exit status (--version,
 * --help, a usage error). */
static int parse_flags(int argc, char **argv, bool *check_only)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"metrics-listen", required_argument, NULL, 'm'},
        {"tls-cert", required_argument, NULL, 'T'},
        {"tls-key", required_argument, NULL, 'Y'},
        {"tls-client-ca", required_argument, NULL, 'A'},
        {"state", required_argument, NULL, 's'},
        {"sink", required_argument, NULL, 'k'},
        {"kubeconfig", required_argument, NULL, 'K'},
        {"rr-api", required_argument, NULL, 'R'},
        {"auth", required_argument, NULL, 'a'},
        {"log-level", required_argument, NULL, 'L'},
        {"audit-log", required_argument, NULL, 'U'},
        {"workers", required_argument, NULL, 'w'},
        {"check-config", no_argument, NULL, 'C'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config_path = optarg; break;
        case 'l': add_override("server.listen", optarg); break;
        case 'm': add_override("server.metrics_listen", optarg); break;
        case 'T': add_override("server.tls_cert_file", optarg); break;
        case 'Y': add_override("server.tls_key_file", optarg); break;
        case 'A': add_override("server.tls_client_ca_file", optarg); break;
        case 's': add_override("state.url", optarg); break;
        case 'k': add_override("sink.target", optarg); break;
        case 'K': add_override("sink.kubeconfig", optarg); break;
        case 'R': add_override("sink.rr_api", optarg); break;
        case 'a': add_override("auth", optarg); break;
        case 'L': add_override("logging.level", optarg); break;
        case 'U': add_override("audit.file", optarg); break;
        case 'w': add_override("server.workers", optarg); break;
        case 'C': *check_only = true; break;
        case 'V': printf("signal-gateway %s (%s)\n", SGW_VERSION, SGW_GIT_REV); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "signal-gateway: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return FLAGS_RUN;
}

static void free_overrides(void)
{
    for (size_t i = 0; i < n_overrides; i++) free(overrides[i].value);
}

/* Connections are file descriptors: take the hard limit, and say if it is too low. */
static void raise_nofile_limit(const config *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)c->max_connections + 256) {
        log_line fl;
        if (log_begin(&fl, LOG_WARN, "file descriptor limit is below server.max_connections + 256")) {
            log_int(&fl, "nofile", (long long)rl.rlim_cur);
            log_int(&fl, "max_connections", c->max_connections);
            log_end(&fl);
        }
    }
}

/* Where the Kubernetes API is, when the sink or auth uses it: G.kcfg. 0, or a negative code
 * with the reason in err (main prefixes it with "kubernetes: "). */
static int kubernetes_setup(const config *c, char *err, size_t errlen)
{
    if (strcmp(c->sink, "kubernetes") != 0 && c->auth_mode != AUTH_KUBERNETES) return 0;
    G.kcfg = xcalloc(1, sizeof *G.kcfg);
    int rc = k8s_config_resolve(c->kubeconfig, c->serviceaccount_dir, NULL, G.kcfg, err, errlen);
    if (rc < 0) return rc;   /* the reason is in err */
    if (G.kcfg->insecure && !c->allow_insecure_tls) {
        snprintf(err, errlen, "the kubeconfig sets insecure-skip-tls-verify; refusing "
                              "without sink.allow_insecure_tls: true");
        return SGW_E_INVALID;
    }
    if (G.kcfg->insecure)
        log_msg(LOG_WARN, "TLS VERIFICATION OF THE KUBERNETES API IS OFF (sink.allow_insecure_tls): "
                          "anyone on the path can impersonate the API server", "server", G.kcfg->server);
    log_line kl;
    if (log_begin(&kl, LOG_INFO, "kubernetes API")) {
        log_str(&kl, "server", G.kcfg->server);
        log_str(&kl, "context", G.kcfg->context);
        log_str(&kl, "auth", G.kcfg->cert_pem ? "client certificate" : G.kcfg->token_file ? "token file" : "token");
        log_end(&kl);
    }
    return 0;
}

/* kubernaut.ai: every RR in one namespace: sink.rr_namespace, else the gateway's own (the
 * service account's or the kubeconfig context's), else upstream's kubernaut-system. */
static void rr_namespace_setup(const config *c)
{
    const char *ns = *c->rr_namespace ? c->rr_namespace
                     : G.kcfg && G.kcfg->namespace && config_valid_namespace(G.kcfg->namespace) ? G.kcfg->namespace
                                                                                           : "kubernaut-system";
    snprintf(G.rr_namespace, sizeof G.rr_namespace, "%s", ns);
}

/* Opens every worker's listening sockets and handles (not yet running): 0, or a negative
 * code with the reason in err. *port and *mport: the ports bound (mport -1 without a
 * metrics listener). */
static int workers_setup(const config *c, int *port, int *mport, char *err, size_t errlen)
{
    n_workers = c->workers > 0 ? c->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_workers < 1) n_workers = 1;
    if (n_workers > 64) n_workers = 64;
    workers = xcalloc((size_t)n_workers, sizeof *workers);
    G.workers = workers;
    G.n_workers = n_workers;
    *port = *mport = -1;
    for (int i = 0; i < n_workers; i++) {
        worker *w = &workers[i];
        w->gw = &G;
        w->id = i;
        w->metrics_fd = -1;
        w->listen_fd = http_listen_socket(c->listen, i == 0 ? -1 : *port, port, err, errlen);
        if (w->listen_fd < 0) return w->listen_fd;
        if (i == 0 && *c->metrics_listen) {
            w->metrics_fd = http_listen_socket(c->metrics_listen, -1, mport, err, errlen);
            if (w->metrics_fd < 0) return w->metrics_fd;
        }
        int rc = worker_setup(w, c, err, errlen);
        if (rc < 0) return rc;
    }
    return 0;
}

static void log_listening(const config *c, int port, int mport)
{
    log_line l;
    if (log_begin(&l, LOG_INFO, "listening")) {
        log_str(&l, "version", SGW_VERSION);
        log_str(&l, "listen", c->listen);
        log_int(&l, "port", port);
        if (mport >= 0) log_int(&l, "metrics_port", mport);
        log_int(&l, "workers", n_workers);
        log_str(&l, "state", G.mem ? "memory" : G.rrx ? "kubernetes" : (c->state[5] == '-' ? "redis-sentinel" : "redis"));
        log_str(&l, "rr_api", c->rr_api);
        log_str(&l, "sink", c->sink);
        log_str(&l, "auth", c->auth_mode == AUTH_OFF ? "off" : c->auth_mode == AUTH_STATIC ? "static" : "kubernetes");
        if (*c->source) log_str(&l, "config", c->source);
        log_str(&l, "tls", !G.tls ? "off" : *c->tls_client_ca_file ? "client certificates required" : "on");
        log_end(&l);
    }
}

/* Process signals are handled from here on, and the workers run. */
static void start_serving(void)
{
    uv_loop_init(&main_loop);
    uv_timer_init(&main_loop, &drain_timer);
    uv_signal_init(&main_loop, &sig_term);
    uv_signal_init(&main_loop, &sig_int);
    uv_signal_init(&main_loop, &sig_hup);
    uv_signal_start(&sig_term, on_term, SIGTERM);
    uv_signal_start(&sig_int, on_term, SIGINT);
    uv_signal_start(&sig_hup, on_hup, SIGHUP);
    uv_timer_init(&main_loop, &tls_timer);
    const config *c = gw_runtime_get(&G)->cfg;
    if (G.tls && c->tls_reload_interval_ms > 0)
        uv_timer_start(&tls_timer, on_tls_timer, (uint64_t)c->tls_reload_interval_ms,
                       (uint64_t)c->tls_reload_interval_ms);
    for (int i = 0; i < n_workers; i++) pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
}

/* The main thread's loop: process signals until a drain was asked for, then the drain
 * timer until every worker has finished. It ends when draining closed the signal handles
 * and the timer fired or was no longer needed; workers are joined first. */
static void serve_until_drained(void)
{
    while (uv_run(&main_loop, UV_RUN_ONCE)) {
        if (atomic_load(&G.draining)) break;
    }
    for (int i = 0; i < n_workers; i++) {
        /* wait for each worker, while still serving the drain timer */
        while (pthread_tryjoin_np(workers[i].thread, NULL) != 0) uv_run(&main_loop, UV_RUN_NOWAIT), usleep(2000);
    }
    uv_timer_stop(&drain_timer);
    uv_close((uv_handle_t *)&drain_timer, NULL);
    uv_run(&main_loop, UV_RUN_DEFAULT);
    uv_loop_close(&main_loop);
}

/* Every worker's handles closed and their loops run empty, then what the process shares. */
static void shutdown_all(void)
{
    /* the workers' last batches, then every line queued is written; the ports stay open
     * until the writer has stopped */
    for (int i = 0; i < n_workers; i++)
        if (G.audit) audit_port_flush(&workers[i].audit_port);
    audit_free(G.audit);
    G.audit = NULL;
    for (int i = 0; i < n_workers; i++) {
        worker *w = &workers[i];
        audit_port_close(&w->audit_port);
        /* the informer before its client; the client first of the rest: failing its
         * pending calls may still touch the sink and store */
        if (i == 0) {
            k8s_informer_free(G.informer);
            G.informer = NULL;
        }
        if (w->kc) k8s_client_free(w->kc);
        w->sk->ops->close(w->sk);
        w->st->ops->close(w->st);
        if (w->srv) http_server_free(w->srv);
        if (w->msrv) http_server_free(w->msrv);
        uv_run(&w->loop, UV_RUN_DEFAULT);   /* runs the close callbacks and what is still deferred */
        defer_close(&w->defer);              /* last: the closes above may still defer a callback */
        uv_run(&w->loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&w->loop) != 0) log_msg(LOG_WARN, "a worker loop still had handles at exit", NULL, NULL);
    }
    free(workers);
    store_memory_shared_free(G.mem);
    rr_index_free(G.rrx);
    k8s_target_cache_free(G.targets);
    if (G.kcfg) {
        k8s_config_free(G.kcfg);
        free(G.kcfg);
    }
    sink_kubernetes_cache_clear();
    storm_detect_clear();
    auth_cache_clear();
    http_tls_free(G.tls);   /* after every connection on it is gone */
    free_runtimes(gw_runtime_get(&G));
    free_overrides();
    metrics_free();
}

int main(int argc, char **argv)
{
    bool check_only = false;
    int rc = parse_flags(argc, argv, &check_only);
    if (rc != FLAGS_RUN) return rc;
    char err[512];
    gw_runtime *rt = load_runtime(err, sizeof err);
    if (!rt) {
        fprintf(stderr, "signal-gateway: configuration error: %s\n", err);
        free_overrides();
        return 2;
    }
    if (*rt->cfg->tls_cert_file) {   /* the pair must load and match, also for --check-config */
        http_tls_files f = tls_files(rt->cfg);
        G.tls = http_tls_new(&f, err, sizeof err);
        if (!G.tls) {
            fprintf(stderr, "signal-gateway: configuration error: %s\n", err);
            free_runtimes(rt);
            free_overrides();
            return 2;
        }
    }
    if (check_only) {
        http_tls_free(G.tls);
        char dump[16384];
        config_dump(rt->cfg, dump, sizeof dump);
        printf("configuration OK%s%s\n%s", *rt->cfg->source ? ": " : "", rt->cfg->source, dump);
        free_runtimes(rt);
        free_overrides();
        return 0;
    }
    const config *c = rt->cfg;
    log_set_level(c->log_level);
    signal(SIGPIPE, SIG_IGN);
    cjson_arena_init();   /* cJSON allocation hooks, before any thread uses cJSON */
    raise_nofile_limit(c);
    metrics_init();
    char bl[96];
    snprintf(bl, sizeof bl, "version=\"%s\",revision=\"%s\"", SGW_VERSION, SGW_GIT_REV);
    metrics_set("gateway_build_info", bl, 1);
    atomic_store(&G.rt, rt);
    if (strcmp(c->state, "memory") == 0) G.mem = store_memory_shared_new();
    if (kubernetes_setup(c, err, sizeof err) < 0) {
        fprintf(stderr, "signal-gateway: kubernetes: %s\n", err);
        return 2;
    }
    rr_namespace_setup(c);
    if (*c->audit_file && !(G.audit = audit_open(c->audit_file, AUDIT_QUEUE_LINES, err, sizeof err))) {
        fprintf(stderr, "signal-gateway: %s\n", err);
        return 1;
    }
    if (config_rr_contract(c) == RR_CONTRACT_KUBERNAUT_AI && G.kcfg) G.targets = k8s_target_cache_new(NULL);
    int port, mport;
    if (workers_setup(c, &port, &mport, err, sizeof err) < 0) {
        fprintf(stderr, "signal-gateway: %s\n", err);
        return 1;
    }
    start_serving();
    log_listening(c, port, mport);
    if (G.tls) log_tls_certificate(c, "TLS certificate loaded");   /* after start_serving: a test may send SIGHUP on this line */
    serve_until_drained();
    shutdown_all();
    log_msg(LOG_INFO, "stopped", NULL, NULL);
    return 0;
}
