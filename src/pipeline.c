/* pipeline.c: one signal request's state machine; see pipeline.h.
 *
 *   handle ─► auth ─► parse ─► round: decide ─► sink create (CREATE, STORM_CREATE)
 *                                 ▲              └─► commit ─┐
 *                                 └── IN_PROGRESS left: back off, decide again ◄┘
 *                                                  otherwise ─► respond
 * Every seam it calls (auth, store, sink) answers on this worker's loop and never before
 * the call returns, so each step starts the next without re-entry guards.
 * A preq lives in malloc'd memory (not the request arena) because its retry timer must be
 * closed asynchronously after the response was sent. */
#include "pipeline.h"
#include "adapters/adapter.h"
#include "adapters/upstream_target.h"
#include "audit.h"
#include "k8s/target.h"
#include "freshness.h"
#include "metrics.h"
#include "policy.h"
#include "sources.h"
#include "storm_detect.h"
#include "suppress.h"
#include "util/fmt.h"
#include "util/jsonw.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/trace.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What became of one signal. The order of the decided ones is the order their metric
 * outcomes are counted in. */
typedef enum {
    RES_PENDING = 0,     /* undecided: another request still creates it, or time ran out */
    RES_CREATED,
    RES_DUPLICATE,
    RES_AGGREGATED,
    RES_IGNORED,
    RES_FAILED,          /* its RR could not be written */
    RES_RESOLVED,        /* ignored: a resolution closed the dedup window */
    RES_STALE,           /* ignored: older than a recorded resolution */
    RES_REJECTED,        /* kubernaut.ai: out of scope, or its target does not exist */
    RES_SUPPRESSED,      /* a suppress: rule matched it (suppress.h): never stored, no RR */
    RES_COUNT
} result_status;

static const struct {
    const char   *json;      /* "status" of the signal in the reply */
    result_status overall;   /* what it counts as for the request's "status" */
    const char   *outcome;   /* gateway_signals_total{outcome} */
} result_table[RES_COUNT] = {
    [RES_PENDING] = {"pending", RES_PENDING, "failed"},
    [RES_CREATED] = {"created", RES_CREATED, "created"},
    [RES_DUPLICATE] = {"duplicate", RES_DUPLICATE, "duplicate"},
    [RES_AGGREGATED] = {"aggregated", RES_AGGREGATED, "aggregated"},
    [RES_IGNORED] = {"ignored", RES_IGNORED, "ignored"},
    [RES_FAILED] = {"failed", RES_FAILED, "failed"},
    [RES_RESOLVED] = {"ignored", RES_IGNORED, "resolved"},
    [RES_STALE] = {"ignored", RES_IGNORED, "stale"},
    [RES_REJECTED] = {"rejected", RES_IGNORED, "rejected"},
    [RES_SUPPRESSED] = {"suppressed", RES_SUPPRESSED, "suppressed"},
};

/* decided: the store and sink are done with it (neither pending nor failed) */
static inline bool result_decided(result_status st) { return st != RES_PENDING && st != RES_FAILED; }

/* A signal's outcome in the audit trail: the metric's word, and "pending" for an undecided one */
static const char *audit_outcome(result_status st) { return st == RES_PENDING ? "pending" : result_table[st].outcome; }

typedef struct sig_result {
    result_status status;
    const char   *ref;
    int64_t       count;
    bool          is_storm;
    const char   *storm_window;
    const char   *reason;
    const char   *suppressed_by;   /* the suppress: rule's name (the request's config) */
} sig_result;

typedef struct preq {
    http_request *req;
    worker       *w;
    gw_runtime   *rt;
    const config *cfg;
    store_params  sp;
    route_kind    kind;
    const char   *source;
    sig_signal   *sigs;
    size_t        n;
    size_t        admitted;    /* counted in gw->inflight_alerts until preq_done */
    store_item   *items;       /* per signal */
    store_verdict *round_verdict;   /* this round's verdict, 0 = not in this round */
    sig_result   *res;
    rr_spec      *specs;
    bool         *exists;      /* the sink found the RR already there (counts_existing stores) */
    int           targets;     /* kubernaut.ai: owner resolutions not answered yet */
    int           not_found;   /* kubernaut.ai: signals whose target does not exist */
    int           pending;     /* sink creates of this round not answered yet */
    int           fail_status;
    const char   *fail_code;
    const char   *fail_msg;
    int           rounds;
    struct round_ctx *round;   /* the decide round's context: one per request, reused by every round */
    int64_t       deadline;    /* time_mono_ms */
    uv_timer_t    timer;
    bool          timer_init;
    double        t0;
    double        t_commit;
    trace_ctx     trace;       /* the request's W3C trace (util/trace.h) */
    auth_identity caller;      /* who auth said it is (audit trail) */
    /* the answer, kept while audit.required waits for the audit line */
    int           reply_status;
    http_headers  reply_h;
    const char   *reply_body;
    size_t        reply_len;
} preq;

static void round_start(preq *p);
static void finish(preq *p);

/* ---- helpers ---------------------------------------------------------------------- */

static void preq_free_cb(uv_handle_t *h) { free(h->data); }

static void preq_done(preq *p)
{
    atomic_fetch_sub(&p->w->gw->inflight, 1);
    if (p->admitted) atomic_fetch_sub(&p->w->gw->inflight_alerts, (int)p->admitted);
    if (p->timer_init) {
        p->timer.data = p;
        uv_close((uv_handle_t *)&p->timer, preq_free_cb);
    } else {
        free(p);
    }
}

/* ---- the answer and its audit line ---------------------------------------------------- */

static void send_reply(preq *p)
{
    /* the server may go on to a pipelined request inside http_respond: no trace is current
     * for what it logs (util/trace.h), whichever callback of this request got here */
    trace_set_current(NULL);
    http_respond(p->req, p->reply_status, &p->reply_h, p->reply_body, p->reply_len);
    preq_done(p);
}

/* audit.required: the line is written (status 0) or could not be (< 0). An answer that
 * would have gone unaudited becomes a 503: the decision itself is already durable, so the
 * sender's retry is answered as a duplicate. */
static void on_audited(int status, void *ctx)
{
    preq *p = ctx;
    if (status < 0) {
        metrics_add("gateway_requests_rejected_total", "reason=\"audit_unavailable\"", 1);
        p->reply_status = 503;
        p->reply_h = (http_headers){.retry_after = true, .retry_after_s = p->cfg->retry_after_s};
        p->reply_body = http_error_body(p->req, "audit_unavailable",
                                        "the request's audit line could not be written; retry", &p->reply_len);
    }
    send_reply(p);
}

/* The request's one answer (body: in the request's arena, or static): its audit line, then
 * the response, then the request's end. With audit.required a 2xx or 4xx waits until the
 * line is written; a 503 never waits (the sender retries it anyway). */
static void reply(preq *p, int status, const http_headers *h, const char *error, const char *body, size_t len)
{
    p->reply_status = status;
    p->reply_h = h ? *h : (http_headers){0};
    p->reply_body = body;
    p->reply_len = len;
    audit *au = p->w->gw->audit;
    if (!au) {
        send_reply(p);
        return;
    }
    http_request *req = p->req;
    audit_signal *sigs = NULL;
    size_t n = p->res ? p->n : 0;   /* signals are listed once the pipeline gave each a result */
    if (n) {
        sigs = arena_alloc(&req->arena, n * sizeof *sigs);
        for (size_t i = 0; i < n; i++)
            sigs[i] = (audit_signal){p->sigs[i].fingerprint, audit_outcome(p->res[i].status), p->res[i].ref};
    }
    audit_record r = {.time_ms = time_now_ms(), .request_id = req->request_id, .trace_id = p->trace.trace_id,
                      .caller = &p->caller, .peer = req->peer, .source = p->source, .route = req->route,
                      .status = status, .error = error, .signals = sigs, .n = n};
    size_t ll;
    const char *line = audit_format(&r, &req->arena, &ll);
    req->audited = true;
    bool wait = p->cfg->audit_required && status < 500;
    int rc = audit_submit(&p->w->audit_port, line, ll, wait ? on_audited : NULL, p);
    if (!wait) send_reply(p);
    else if (rc < 0) on_audited(rc, p);   /* the queue is full: no callback will come */
}

static void reply_error(preq *p, int status, const char *code, const char *msg, const http_headers *h)
{
    size_t len;
    const char *body = http_error_body(p->req, code, msg, &len);
    reply(p, status, h, code, body, len);
}

/* every 503 carries Retry-After (server.retry_after) */
static void respond_503(preq *p, const char *code, const char *msg)
{
    reply_error(p, 503, code, msg, &(http_headers){.retry_after = true, .retry_after_s = p->cfg->retry_after_s});
}

static void fail(preq *p, const char *code, const char *msg)
{
    if (!p->fail_status) {
        p->fail_status = 503;
        p->fail_code = code;
        p->fail_msg = msg;
    }
}

static void count_outcome(const char *source, const char *outcome, long long n)
{
    char labels[128];
    fmt_cat(labels, sizeof labels, "source=\"", source, "\",outcome=\"", outcome, "\"", (char *)NULL);
    metrics_add("gateway_signals_total", labels, (double)n);
}

/* The source_type label of the families named as upstream Kubernaut names them
 * (docs/operations.md): its values, where our `source` says "kubernetes-event". */
static const char *source_type(const preq *p)
{
    return source_get(p->kind)->source_type;
}

/* gateway_signals_received_total{source_type, severity}: once per severity present. */
static void count_received(const preq *p)
{
    long long n[SEV_INFO + 1] = {0};
    for (size_t i = 0; i < p->n; i++) n[p->sigs[i].severity]++;
    for (int s = SEV_CRITICAL; s <= SEV_INFO; s++) {
        if (!n[s]) continue;
        char labels[96];
        fmt_cat(labels, sizeof labels, "source_type=\"", source_type(p), "\",severity=\"",
                sig_severity_str((sig_severity)s), "\"", (char *)NULL);
        metrics_add("gateway_signals_received_total", labels, (double)n[s]);
    }
}

/* ---- respond ---------------------------------------------------------------------- */

/* What a request's signals came to: counted once per request, so a 50-alert webhook adds
 * each outcome to the metrics once, not 50 times. */
typedef struct tally {
    long long     counts[RES_COUNT];   /* undecided signals count as RES_FAILED */
    result_status overall;             /* the one "overall" of every decided signal */
    bool          mixed;               /* decided signals of different "overall" */
    bool          undecided;
} tally;

static void tally_results(const preq *p, tally *t)
{
    memset(t, 0, sizeof *t);
    t->overall = RES_IGNORED;
    bool any = false;
    for (size_t i = 0; i < p->n; i++) {
        result_status st = p->res[i].status;
        if (result_decided(st)) {
            result_status o = result_table[st].overall;
            if (!any) {
                t->overall = o;
                any = true;
            } else if (o != t->overall) {
                t->mixed = true;
            }
            t->counts[st]++;
        } else {
            t->undecided = true;
            t->counts[RES_FAILED]++;
        }
    }
}

/* The reply, written straight into the request's arena (it goes with it in http_respond):
 * {"status":…,"results":[{…},…][,"error":{"code":…,"message":…}]} */
static void reply_write(preq *p, int code, const tally *t, jsonw *w)
{
    /* The signals and their names (in the parse tree) were read last long before the store
     * answered: under load other requests have evicted them. Asking for all of them first
     * lets the cache misses overlap instead of stalling the writer once per alert: the
     * signals' first two lines (the fingerprints, and the name pointer), then the names. */
    for (size_t i = 0; i < p->n; i++) {
        __builtin_prefetch(&p->sigs[i]);
        __builtin_prefetch((const char *)&p->sigs[i] + 64);
    }
    for (size_t i = 0; i < p->n; i++) __builtin_prefetch(p->sigs[i].name);
    jw_init(w, &p->req->arena, 128 + p->n * 320);
    jw_lit(w, "{");
    jw_kstr(w, false, "status", code == 503 ? "retry" : t->mixed ? "mixed" : result_table[t->overall].json);
    jw_lit(w, ",\"results\":[");
    for (size_t i = 0; i < p->n; i++) {
        const sig_signal *s = &p->sigs[i];
        const sig_result *r = &p->res[i];
        if (i) jw_lit(w, ",");
        /* the fingerprints are hex (sig_fingerprint, 64 digits; Alertmanager's, 16): nothing
         * to measure or escape */
        jw_lit(w, "{\"fingerprint\":\"");
        jw_raw(w, s->fingerprint, 64);
        if (s->am_fingerprint[0]) {
            jw_lit(w, "\",\"alertmanagerFingerprint\":\"");
            jw_raw(w, s->am_fingerprint, 16);
        }
        jw_lit(w, "\"");
        jw_kstr(w, true, "signalName", s->name);
        jw_kstr(w, true, "status", result_table[r->status].json);
        if (r->ref) jw_kstr(w, true, "remediationRequest", r->ref);
        if (r->count) {
            jw_lit(w, ",\"count\":");
            jw_i64(w, r->count);
        }
        jw_lit(w, ",\"isStorm\":");
        jw_bool(w, r->is_storm);
        if (r->storm_window) jw_kstr(w, true, "stormWindow", r->storm_window);
        if (r->reason) jw_kstr(w, true, "reason", r->reason);
        if (r->suppressed_by) jw_kstr(w, true, "suppressedBy", r->suppressed_by);
        jw_lit(w, "}");
    }
    jw_lit(w, "]");
    if (code == 503) {
        jw_lit(w, ",\"error\":{");
        jw_kstr(w, false, "code", p->fail_code ? p->fail_code : "in_progress");
        jw_kstr(w, true, "message",
                p->fail_msg ? p->fail_msg : "another request is still creating this signal's RemediationRequest; retry");
        jw_lit(w, "}");
    }
    jw_lit(w, "}");
}

static void log_finished(const preq *p, int code, const tally *t)
{
    /* a request that only repeated known signals is routine: debug, as upstream did */
    bool routine = !t->counts[RES_CREATED] && !t->counts[RES_AGGREGATED] && !t->counts[RES_IGNORED] &&
                   !t->counts[RES_RESOLVED] && !t->counts[RES_SUPPRESSED];
    int level = code >= 500 ? LOG_WARN : routine ? LOG_DEBUG : LOG_INFO;
    log_line l;
    if (log_begin(&l, level, code >= 500 ? "signals not fully processed" : "signals processed")) {
        log_str(&l, "request_id", p->req->request_id);
        log_str(&l, "trace_id", p->trace.trace_id);
        log_str(&l, "source", p->source);
        log_int(&l, "alerts", (long long)p->n);
        log_int(&l, "status", code);
        if (p->n == 1) log_str(&l, "fingerprint", p->sigs[0].fingerprint);
        if (p->n == 1 && p->res[0].ref) log_str(&l, "remediation_request", p->res[0].ref);
        if (t->counts[RES_SUPPRESSED]) log_int(&l, "suppressed", t->counts[RES_SUPPRESSED]);
        if (p->n == 1 && p->res[0].suppressed_by) log_str(&l, "suppressed_by", p->res[0].suppressed_by);
        if (p->n == 1 && p->sigs[0].ignored && p->res[0].reason) {   /* what was not recorded, and why */
            log_str(&l, "alertname", p->sigs[0].name);
            log_str(&l, "reason", p->res[0].reason);
        }
        if (p->fail_code) log_str(&l, "error", p->fail_code);
        log_dbl(&l, "duration_ms", (time_mono_s() - p->t0) * 1000);
        log_end(&l);
    }
}

/* The request's answer: 503 while anything is undecided or failed, else 201 if an RR was
 * created, else 202. */
static void finish(preq *p)
{
    tally t;
    tally_results(p, &t);
    int code = p->fail_status || t.undecided ? 503 : t.counts[RES_CREATED] ? 201 : 202;
    for (int k = RES_CREATED; k < RES_COUNT; k++)
        if (t.counts[k]) count_outcome(p->source, result_table[k].outcome, t.counts[k]);
    jsonw w;
    const source_def *src = source_get(p->kind);
    if (src->reply) {
        jw_init(&w, &p->req->arena, 256);
        code = src->reply(code, p->sigs, p->n, p->fail_code ? p->fail_code : "in_progress", p->fail_msg, &w);
    } else {
        reply_write(p, code, &t, &w);
    }
    log_finished(p, code, &t);
    http_headers retry = {.retry_after = true, .retry_after_s = p->cfg->retry_after_s};
    reply(p, code, code == 503 ? &retry : NULL, code == 503 ? (p->fail_code ? p->fail_code : "in_progress") : NULL,
          w.buf, w.len);
}

/* ---- sink --------------------------------------------------------------------------- */

typedef struct sink_op {
    preq  *p;
    size_t idx;
    double t0;
} sink_op;

/* The members of creator's storm follow it: rr_exists when its RR was created or found. */
static void storm_key_match_resolve(preq *p, size_t creator, bool rr_exists, const char *ref)
{
    const store_item *c = &p->items[creator];
    for (size_t j = 0; j < p->n; j++) {
        if (p->round_verdict[j] != STORE_MEMBER) continue;
        const store_item *m = &p->items[j];
        if (strcmp(m->name, c->name) || strcmp(m->namespace, c->namespace)) continue;
        sig_result *r = &p->res[j];
        if (rr_exists) {
            if (r->status != RES_FAILED) r->status = RES_AGGREGATED;   /* a failure stays one */
            r->ref = arena_strdup(&p->req->arena, ref);
            r->count = p->items[creator].count;
            r->is_storm = true;
            r->storm_window = p->res[creator].storm_window;
        } else {
            r->status = RES_FAILED;
        }
    }
}

static void after_commit(int status, void *ctx);

static void after_sink(preq *p)
{
    /* Commit what this round created (or failed to create), in one store call. */
    arena *a = &p->req->arena;
    store_commit *cs = arena_alloc(a, (p->n ? p->n : 1) * sizeof *cs);
    size_t nc = 0;
    for (size_t i = 0; i < p->n; i++) {
        store_verdict v = p->round_verdict[i];
        if (v != STORE_CREATE && v != STORE_STORM_CREATE && v != STORE_MEMBER) continue;
        store_commit *c = &cs[nc++];
        c->fingerprint = p->items[i].fingerprint;
        c->name = p->items[i].name;
        c->namespace = p->items[i].namespace;
        c->verdict = v;
        c->lease = p->items[i].lease;
        c->ok = result_decided(p->res[i].status);
        c->exists = p->exists[i];
        c->ref = p->res[i].ref;
    }
    if (nc == 0) {
        after_commit(STORE_OK, p);
        return;
    }
    p->t_commit = time_mono_s();
    p->w->st->ops->commit(p->w->st, &p->sp, cs, nc, time_now_ms(), after_commit, p);
}

/* kubernaut.ai: storms are detected and reported, never folded (decision 014) */
static void note_storm(preq *p, size_t i)
{
    const sig_signal *s = &p->sigs[i];
    const char *ns = s->namespace ? s->namespace : "";
    if (!storm_detect_note(s->name, ns, time_now_ms(), p->cfg->storm_rate_threshold, p->cfg->storm_rate_window_ms))
        return;
    metrics_add("gateway_storms_detected_total", "storm_type=\"rate\"", 1);
    log_line l;
    if (log_begin(&l, LOG_WARN, "alert storm detected (kubernaut.ai: each signal keeps its own RR)")) {
        log_str(&l, "request_id", p->req->request_id);
        log_str(&l, "trace_id", p->trace.trace_id);
        log_str(&l, "alertname", s->name);
        log_str(&l, "namespace", ns);
        log_int(&l, "threshold", p->cfg->storm_rate_threshold);
        log_end(&l);
    }
}

static void on_sink(int status, const char *ref, void *ctx)
{
    sink_op *op = ctx;
    preq *p = op->p;
    size_t i = op->idx;
    sig_result *r = &p->res[i];
    const rr_spec *spec = &p->specs[i];
    metrics_observe("gateway_sink_duration_seconds", "op=\"create\"", time_mono_s() - op->t0);
    free(op);
    if (status == SINK_CREATED || status == SINK_EXISTS) {
        r->ref = arena_strdup(&p->req->arena, ref);
        if (status == SINK_CREATED) {
            r->status = RES_CREATED;   /* a storm's first alert creates the aggregated RR */
            char labels[224], env[64], pri[16];
            metrics_label_escape(spec->environment, env, sizeof env);
            metrics_label_escape(spec->priority, pri, sizeof pri);
            snprintf(labels, sizeof labels, "source_type=\"%s\",status=\"created\",environment=\"%s\",priority=\"%s\"",
                     source_type(p), env, pri);
            metrics_add("gateway_crds_created_total", labels, 1);
            if (spec->is_storm) {
                char sl[64];
                snprintf(sl, sizeof sl, "storm_type=\"%s\"", spec->storm_type);
                metrics_add("gateway_storms_detected_total", sl, 1);
            } else if (spec->contract == RR_CONTRACT_KUBERNAUT_AI && p->cfg->storm_enabled) {
                note_storm(p, i);
            }
        } else if (p->w->st->ops->counts_existing) {
            p->exists[i] = true;   /* another replica created it: decided again, and counted */
        } else {
            r->status = RES_DUPLICATE;
            r->reason = "RemediationRequest already exists";
        }
        log_line l;
        if (log_begin(&l, LOG_INFO, status == SINK_CREATED ? "RemediationRequest created" : "RemediationRequest already exists")) {
            log_str(&l, "request_id", p->req->request_id);
            log_str(&l, "trace_id", p->trace.trace_id);
            log_str(&l, "fingerprint", p->sigs[i].fingerprint);
            log_str(&l, "remediation_request", ref);
            log_str(&l, "environment", spec->environment);
            log_str(&l, "priority", spec->priority);
            if (spec->is_storm) {
                log_str(&l, "storm_type", spec->storm_type);
                log_int(&l, "storm_count", (long long)spec->storm_count);
            }
            log_end(&l);
        }
    } else {
        r->status = RES_FAILED;
        metrics_add("gateway_crd_creation_errors_total",
                    status == SINK_E_INVALID ? "error_type=\"invalid\"" : "error_type=\"unavailable\"", 1);
        fail(p, "sink_unavailable", "could not write the RemediationRequest; retry");
    }
    if (spec->is_storm) storm_key_match_resolve(p, i, r->status != RES_FAILED, r->ref);
    if (--p->pending == 0) after_sink(p);
}

static void start_create(preq *p, size_t i, bool storm)
{
    store_item *it = &p->items[i];
    const sig_signal *s = &p->sigs[i];
    rr_spec *spec = &p->specs[i];
    memset(spec, 0, sizeof *spec);
    spec->sig = s;
    spec->contract = config_rr_contract(p->cfg);
    spec->group = p->cfg->rr_group;
    spec->version = p->cfg->rr_version;
    if (spec->contract == RR_CONTRACT_KUBERNAUT_AI) {
        const char *slash = it->ref ? strchr(it->ref, '/') : NULL;
        spec->name = slash ? slash + 1 : NULL;
        spec->rr_namespace = p->w->gw->rr_namespace;
        spec->cluster_id = s->cluster_id ? s->cluster_id : p->cfg->cluster_id;
        spec->sequence = it->sequence > 0 ? it->sequence : 1;
    }
    spec->environment = policy_environment(p->cfg, s->namespace);
    spec->priority = policy_priority(p->cfg, s, spec->environment);
    spec->fallback_namespace = p->cfg->fallback_namespace;
    spec->cfg = p->cfg;
    spec->now_ms = time_now_ms();
    spec->max_payload_bytes = p->cfg->max_payload_bytes;
    if (storm) {
        spec->is_storm = true;
        spec->storm_type = it->storm_type;
        memcpy(spec->storm_hash, it->storm_hash, 65);
        spec->storm_window = arena_strndup(&p->req->arena, it->storm_hash, 16);
        spec->storm_count = it->count;
        spec->resources = it->storm_resources;
        spec->n_resources = it->n_storm_resources;
        p->res[i].is_storm = true;
        p->res[i].storm_window = spec->storm_window;
        p->res[i].count = it->count;
    } else {
        p->res[i].count = 1;
    }
    sink_op *op = xmalloc(sizeof *op);
    op->p = p;
    op->idx = i;
    op->t0 = time_mono_s();
    spec->trace_id = p->trace.trace_id;
    p->pending++;
    trace_set_current(&p->trace);
    p->w->sk->ops->create(p->w->sk, spec, on_sink, op);
    trace_set_current(NULL);
}

/* kubernaut.ai, embedded: the duplicate's count goes into the RR's status before the 202 */
static void on_dedup_written(int status, const char *ref, void *ctx)
{
    sink_op *op = ctx;
    preq *p = op->p;
    metrics_observe("gateway_sink_duration_seconds", "op=\"status\"", time_mono_s() - op->t0);
    if (status < 0 && status != SINK_E_NOTFOUND) {   /* an RR removed by hand: counted in memory */
        p->res[op->idx].status = RES_FAILED;
        fail(p, "sink_unavailable", "could not write the RemediationRequest's status; retry");
    }
    free(op);
    if (--p->pending == 0) after_sink(p);
}

static void start_dedup_write(preq *p, size_t i)
{
    const store_item *it = &p->items[i];
    sink_dedup_update u = {it->ref, it->count, it->first_seen_ms, it->last_seen_ms ? it->last_seen_ms : time_now_ms()};
    sink_op *op = xmalloc(sizeof *op);
    op->p = p;
    op->idx = i;
    op->t0 = time_mono_s();
    p->pending++;
    trace_set_current(&p->trace);
    p->w->sk->ops->update_dedup(p->w->sk, &u, on_dedup_written, op);
    trace_set_current(NULL);
}

/* ---- store rounds --------------------------------------------------------------------- */

typedef struct round_ctx {
    preq       *p;
    size_t     *idx;      /* signal index of each round item */
    store_item *items;
    size_t      n;
    double      t0;
} round_ctx;

static void on_decided(int status, void *ctx)
{
    round_ctx *rc = ctx;
    preq *p = rc->p;
    metrics_observe("gateway_store_duration_seconds", "op=\"decide\"", time_mono_s() - rc->t0);
    if (status < 0) {
        metrics_add("gateway_store_errors_total", "op=\"decide\"", 1);
        fail(p, "state_store_unavailable", "the state store is unavailable; retry");
        finish(p);
        return;
    }
    memset(p->round_verdict, 0, p->n * sizeof *p->round_verdict);
    for (size_t k = 0; k < rc->n; k++) {
        size_t i = rc->idx[k];
        p->items[i] = rc->items[k];
        p->round_verdict[i] = rc->items[k].verdict;
    }
    for (size_t k = 0; k < rc->n; k++) {
        size_t i = rc->idx[k];
        store_item *it = &p->items[i];
        sig_result *r = &p->res[i];
        switch (it->verdict) {
        case STORE_CREATE: start_create(p, i, false); break;
        case STORE_STORM_CREATE: start_create(p, i, true); break;
        case STORE_MEMBER: break;   /* settled by its STORM_CREATE */
        case STORE_DUPLICATE:
            r->status = RES_DUPLICATE;
            r->ref = it->ref;
            r->count = it->count;
            if (p->w->sk->ops->update_dedup && config_rr_contract(p->cfg) == RR_CONTRACT_KUBERNAUT_AI)
                start_dedup_write(p, i);
            break;
        case STORE_AGGREGATED:
            r->status = RES_AGGREGATED;
            r->ref = it->ref;
            r->count = it->count;
            r->is_storm = true;
            r->storm_window = arena_strndup(&p->req->arena, it->storm_hash, 16);
            break;
        case STORE_IN_PROGRESS: break;
        case STORE_RESOLVED:
            r->status = RES_RESOLVED;
            r->ref = it->ref;
            r->count = it->count;
            r->reason = "resolved: dedup window closed";
            break;
        case STORE_STALE:
            r->status = RES_STALE;
            r->ref = it->ref;
            r->reason = "stale: older than a recorded resolution";
            break;
        }
    }
    /* the sink answers later, never within create(): the last answer commits the round */
    if (p->pending == 0) after_sink(p);
}

static void on_retry_timer(uv_timer_t *t) { round_start(t->data); }

static void after_commit(int status, void *ctx)
{
    preq *p = ctx;
    if (p->t_commit > 0) {
        metrics_observe("gateway_store_duration_seconds", "op=\"commit\"", time_mono_s() - p->t_commit);
        p->t_commit = 0;
    }
    if (status < 0) {
        metrics_add("gateway_store_errors_total", "op=\"commit\"", 1);
        fail(p, "state_store_unavailable", "the state store is unavailable; retry");
    }
    bool waiting = false;
    for (size_t i = 0; i < p->n; i++)
        if (p->res[i].status == RES_PENDING) waiting = true;
    if (!waiting || p->fail_status || time_mono_ms() >= p->deadline || atomic_load(&p->w->gw->draining)) {
        finish(p);
        return;
    }
    /* Another request holds the creation lease: look again shortly (5, 10, 20 … 200 ms). */
    int delay = 5 << (p->rounds < 6 ? p->rounds : 6);
    if (delay > 200) delay = 200;
    if (!p->timer_init) {
        uv_timer_init(&p->w->loop, &p->timer);
        p->timer.data = p;
        p->timer_init = true;
    }
    uv_timer_start(&p->timer, on_retry_timer, (uint64_t)delay, 0);
}

static void round_start(preq *p)
{
    p->rounds++;
    /* in the request's arena, made by the first round and reused by the retry rounds (one
     * round is in flight at a time): a request of 1,000 alerts retrying for its whole
     * processing timeout must not add 200 KiB per round */
    round_ctx *rc = p->round;
    if (!rc) {
        arena *a = &p->req->arena;
        rc = p->round = arena_alloc(a, sizeof *rc);
        rc->p = p;
        rc->idx = arena_alloc(a, (p->n ? p->n : 1) * sizeof *rc->idx);
        rc->items = arena_alloc(a, (p->n ? p->n : 1) * sizeof *rc->items);
    }
    rc->n = 0;
    memset(rc->items, 0, (p->n ? p->n : 1) * sizeof *rc->items);
    memset(p->exists, 0, (p->n ? p->n : 1) * sizeof *p->exists);
    for (size_t i = 0; i < p->n; i++) {
        if (p->res[i].status != RES_PENDING) continue;
        store_item *src = &p->items[i];
        store_item *dst = &rc->items[rc->n];
        dst->fingerprint = src->fingerprint;
        dst->name = src->name;
        dst->namespace = src->namespace;
        dst->resource_id = src->resource_id;
        dst->resolved = src->resolved;
        dst->firing_ms = src->firing_ms;
        dst->ref = src->ref;
        rc->idx[rc->n++] = i;
    }
    rc->t0 = time_mono_s();
    if (rc->n == 0) {
        finish(p);
        return;
    }
    p->w->st->ops->decide(p->w->st, &p->sp, rc->items, rc->n, time_now_ms(), &p->req->arena, on_decided, rc);
}

/* ---- rejected bodies ----------------------------------------------------------------- */

/* Every rejection is final for the sender (4xx), so only input that can never succeed is
 * rejected; 413 tells the operator to split the group, not to fix the payload. */
typedef struct reject_entry {
    adapter_status st;
    int            status;
    const char    *code;
} reject_entry;

static const reject_entry reject_table[] = {
    {ADAPTER_OK, 200, "ok"},
    {ADAPTER_E_JSON, 400, "invalid_json"},
    {ADAPTER_E_UTF8, 400, "invalid_utf8"},
    {ADAPTER_E_MISSING, 400, "missing_field"},
    {ADAPTER_E_TYPE, 400, "invalid_field"},
    {ADAPTER_E_VERSION, 400, "unsupported_version"},
    {ADAPTER_E_EMPTY, 400, "no_alerts"},
    {ADAPTER_E_TOO_MANY, 413, "too_many_alerts"},
    {ADAPTER_E_DEPTH, 400, "too_deep"},
    {ADAPTER_E_STALE, 400, "stale_timestamp"},
    {ADAPTER_E_FUTURE, 400, "future_timestamp"},
    {ADAPTER_E_MEDIA_TYPE, 415, "unsupported_media_type"},
};

/* st's row; a kind the table does not name is a plain bad request */
static const reject_entry *reject_find(adapter_status st)
{
    static const reject_entry other = {0, 400, "invalid_request"};
    for (size_t i = 0; i < sizeof reject_table / sizeof reject_table[0]; i++)
        if (reject_table[i].st == st) return &reject_table[i];
    return &other;
}

int pipeline_reject_status(adapter_status st) { return reject_find(st)->status; }

const char *pipeline_reject_code(adapter_status st) { return reject_find(st)->code; }

/* ---- entry ---------------------------------------------------------------------------- */

/* A 4xx for the request's input: in the source's own shape when it has one (sources.h). */
static void respond_reject(preq *p, int status, const char *code, const char *msg)
{
    const source_def *src = source_get(p->kind);
    if (!src->reply) {
        reply_error(p, status, code, msg, NULL);
        return;
    }
    jsonw w;
    jw_init(&w, &p->req->arena, 256);
    int st = src->reply(status, NULL, 0, code, msg, &w);
    reply(p, st, NULL, code, w.buf, w.len);
}

/* 503 + Retry-After: the signal limit (server.max_inflight_alerts) is reached. */
static void refuse_signals_overload(preq *p)
{
    metrics_add("gateway_requests_rejected_total", "reason=\"overload\"", 1);
    respond_503(p, "overloaded", "too many signals in flight; retry");
}

static void items_start(preq *p);

/* ---- kubernaut.ai targets ------------------------------------------------------------------ */

/* What the resolution said of signal i (docs/decisions/016-target-owner-and-scope.md):
 * managed → the owner becomes the target and the fingerprint names it; unmanaged → rejected
 * with the label that would opt it in; missing → rejected (upstream drops it); the API
 * unreachable → 503, never a fingerprint the cluster's state would not give. */
static void target_apply(preq *p, size_t i, int status, const k8s_target *t)
{
    sig_signal *s = &p->sigs[i];
    sig_result *r = &p->res[i];
    arena *a = &p->req->arena;
    const char *ns = s->res_namespace ? s->res_namespace : "";
    if (status == K8S_TARGET_MANAGED || status == K8S_TARGET_UNMANAGED) {
        s->kind = arena_strdup(a, t->kind);
        s->res_name = arena_strdup(a, t->name);
        k8s_target_fingerprint(s->cluster_id ? s->cluster_id : p->cfg->cluster_id, ns, s->kind, s->res_name,
                               s->fingerprint);
    }
    if (status == K8S_TARGET_MANAGED) return;
    if (status == SGW_E_UNAVAILABLE) {
        fail(p, "kubernetes_unavailable", "cannot resolve the signal's owner through the Kubernetes API; retry");
        return;
    }
    s->ignored = true;
    r->status = RES_REJECTED;
    if (status == K8S_TARGET_UNMANAGED) {
        char kind[K8S_TARGET_KIND_MAX + 1];
        size_t k = 0;
        for (; s->kind[k] && k < K8S_TARGET_KIND_MAX; k++) kind[k] = (char)(s->kind[k] | 0x20);   /* ASCII lower */
        kind[k] = '\0';
        r->reason = *ns ? arena_printf(a, "unmanaged_resource: %s:%s:%s is not in Kubernaut's scope; to manage it: "
                                          "kubectl label -n %s %s %s %s=true",
                                       ns, s->kind, s->res_name, ns, kind, s->res_name, K8S_MANAGED_LABEL)
                        : arena_printf(a, "unmanaged_resource: %s:%s is not in Kubernaut's scope; to manage it: "
                                          "kubectl label %s %s %s=true",
                                       s->kind, s->res_name, kind, s->res_name, K8S_MANAGED_LABEL);
        metrics_add("gateway_signals_rejected_total", "reason=\"unmanaged_resource\"", 1);
    } else {   /* SGW_E_NOTFOUND, SGW_E_INVALID */
        p->not_found++;
        r->reason = arena_printf(a, "target_not_found: %s%s%s:%s does not exist", ns, *ns ? ":" : "", s->kind, s->res_name);
        metrics_add("gateway_signals_rejected_total", "reason=\"target_not_found\"", 1);
    }
}

/* Every target known: on to the store, unless nothing is left worth deciding. */
static void targets_done(preq *p)
{
    if (p->fail_status) {
        finish(p);
        return;
    }
    size_t live = 0;
    for (size_t i = 0; i < p->n; i++) live += !p->sigs[i].ignored;
    if (live == 0 && p->not_found > 0 && (size_t)p->not_found == p->n) {
        /* every signal names a resource the cluster does not have: retrying cannot help */
        respond_reject(p, 400, "target_not_found", p->res[0].reason);
        return;
    }
    items_start(p);
}

typedef struct target_op {
    preq  *p;
    size_t idx;
} target_op;

static void on_target(int status, const k8s_target *t, void *ctx)
{
    target_op *op = ctx;
    preq *p = op->p;
    target_apply(p, op->idx, status, t);
    free(op);
    if (--p->targets == 0) targets_done(p);
}

/* kubernaut.ai: each signal's target and fingerprint as upstream computes them
 * (pkg/gateway/types/fingerprint.go): the top controller owner through the API, with the
 * process-wide cache; in embedded mode (no API) the resource itself. */
static void targets_start(preq *p)
{
    gateway *g = p->w->gw;
    p->targets = 1;   /* held until every resolution is started */
    for (size_t i = 0; i < p->n; i++) {
        sig_signal *s = &p->sigs[i];
        if (s->ignored) continue;
        if (source_get(p->kind)->alerts) upstream_target_pick(s);
        s->cluster_id = sig_map_get(&s->labels, "cluster");
        if (!g->targets || !p->w->kc) {
            sig_fingerprint_target(s, s->cluster_id ? s->cluster_id : p->cfg->cluster_id);
            continue;
        }
        const char *ns = s->res_namespace ? s->res_namespace : "";
        k8s_target t;
        int st = k8s_target_try(g->targets, p->w->kc, ns, s->kind, s->res_name, &t);
        if (st != SGW_E_AGAIN) {
            target_apply(p, i, st, &t);
            continue;
        }
        target_op *op = xmalloc(sizeof *op);
        op->p = p;
        op->idx = i;
        p->targets++;
        trace_set_current(&p->trace);
        k8s_target_resolve(g->targets, p->w->kc, &p->w->defer, ns, s->kind, s->res_name, on_target, op);
        trace_set_current(NULL);
    }
    if (--p->targets == 0) targets_done(p);   /* all answered from the cache */
}

/* Grafana's webhook signature (sources.grafana_hmac_*; src/signature.h), before the body is
 * parsed: 0, or the reason it is refused (a static string). With a timestamp header, the
 * time must be inside the freshness window (adapters.freshness_tolerance, _clock_skew): a
 * captured delivery cannot be replayed later. */
static const char *signature_refusal(const preq *p, int64_t now_ms)
{
    const signature_key *k = p->rt->grafana_key;
    const http_request *req = p->req;
    if (!req->signature) return "the request carries no signature header (sources.grafana_hmac_header)";
    const char *ts = NULL;
    if (*p->cfg->grafana_hmac_timestamp_header) {
        ts = req->signature_ts;
        if (!ts) return "the request carries no signature timestamp header (sources.grafana_hmac_timestamp_header)";
        int64_t sec = 0;
        const char *d = ts;
        for (; *d >= '0' && *d <= '9' && d - ts < 12; d++) sec = sec * 10 + (*d - '0');
        if (d == ts || *d) return "the signature timestamp is not a Unix time in seconds";
        if (sec * 1000 < now_ms - p->cfg->freshness_tolerance_ms)
            return "the signature timestamp is older than adapters.freshness_tolerance";
        if (sec * 1000 > now_ms + p->cfg->freshness_clock_skew_ms)
            return "the signature timestamp is later than adapters.freshness_clock_skew allows";
    }
    if (signature_verify(k, ts, req->body, req->body_len, req->signature) < 0)
        return "the signature does not match the body";
    return NULL;
}

/* Grafana's truncatedAlerts: alerts its contact point left out (maxAlerts). Nothing of
 * them reaches us, so they are counted and logged once per request for the operator. */
static void note_truncated(const preq *p, int64_t truncated)
{
    metrics_add("gateway_grafana_truncated_alerts_total", "", (double)truncated);
    log_line l;
    if (log_begin(&l, LOG_WARN, "webhook truncated by the sender")) {
        log_str(&l, "request_id", p->req->request_id);
        log_str(&l, "trace_id", p->trace.trace_id);
        log_str(&l, "source", p->source);
        log_int(&l, "truncated_alerts", truncated);
        log_int(&l, "alerts", (int64_t)p->n);
        log_end(&l);
    }
}

/* A source that reads the request's headers and its own configuration (CloudEvents). */
static int parse_req(preq *p, const source_def *src, int64_t now, const adapter_limits *lim, adapter_error *err)
{
    const http_request *req = p->req;
    sig_kv ext[HTTP_CE_MAX_EXT];
    for (unsigned i = 0; i < req->ce.n_ext; i++) ext[i] = (sig_kv){req->ce.ext[i].name, req->ce.ext[i].value};
    adapter_input in = {.content_type = req->content_type,
                        .ce_specversion = req->ce.specversion, .ce_id = req->ce.id, .ce_source = req->ce.source,
                        .ce_type = req->ce.type, .ce_subject = req->ce.subject, .ce_time = req->ce.time,
                        .ce_dataschema = req->ce.dataschema,
                        .ce_types = p->cfg->ce_types, .n_ce_types = p->cfg->n_ce_types,
                        .request_id = req->request_id,
                        .resolve_ignored = config_rr_contract(p->cfg) == RR_CONTRACT_KUBERNAUT_AI,
                        .pd = &p->cfg->pagerduty,
                        .ce_ext = ext, .n_ce_ext = req->ce.n_ext, .ce_ext_over = req->ce.ext_over};
    int rc = src->parse_req(&in, req->body, req->body_len, now, lim, &p->req->arena, &p->sigs, &p->n, err);
    if (in.unknown_types)
        metrics_add("gateway_cloudevents_ignored_total", "reason=\"unknown_type\"", (double)in.unknown_types);
    if (in.invalid_events)
        metrics_add("gateway_cloudevents_ignored_total", "reason=\"invalid_event\"", (double)in.invalid_events);
    if (in.ce_ext_dropped) metrics_add("gateway_cloudevents_extensions_dropped_total", "", (double)in.ce_ext_dropped);
    return rc;
}

/* suppress: rules (suppress.h), before the store and the kubernaut.ai target lookup: a
 * matching signal, firing or resolved, is answered "suppressed" and goes no further. The
 * fields matched are the adapter's (the resource as sent, not its owner). Counted per rule,
 * once per run of signals suppressed by the same rule. */
static void suppress_signals(preq *p, int64_t now)
{
    const suppress_rule *run = NULL;
    long long n = 0;
    for (size_t i = 0; i <= p->n; i++) {
        const suppress_rule *r = NULL;
        if (i < p->n && !p->sigs[i].ignored && (r = suppress_match(p->cfg->suppress, &p->sigs[i], now))) {
            p->sigs[i].ignored = true;
            p->res[i].status = RES_SUPPRESSED;
            p->res[i].suppressed_by = r->name;
        }
        if (run && (r != run || i == p->n)) {
            char labels[96];   /* a rule name is 1..63 of [A-Za-z0-9._-]: nothing to escape */
            fmt_cat(labels, sizeof labels, "rule=\"", run->name, "\"", (char *)NULL);
            metrics_add("gateway_suppressed_signals_total", labels, (double)n);
            run = NULL;
            n = 0;
        }
        if (r) run = r, n++;
    }
}

static void start(preq *p)
{
    http_request *req = p->req;
    const config *c = p->cfg;
    if (p->kind == ROUTE_GRAFANA && p->rt->grafana_key) {
        const char *why = signature_refusal(p, time_now_ms());
        if (why) {
            metrics_add("gateway_requests_rejected_total", "reason=\"invalid_signature\"", 1);
            reply_error(p, 401, "invalid_signature", why, NULL);
            return;
        }
    }
    /* Already at the signal limit: any request with an alert would cross it, so it is
     * refused before its body is parsed. Parsing is most of a webhook's cost, and under an
     * overload it must go to the requests that will be admitted. */
    if (atomic_load(&p->w->gw->inflight_alerts) >= c->max_inflight_alerts) {
        refuse_signals_overload(p);
        return;
    }
    const cfg_webhook *wh = NULL;
    if (p->kind == ROUTE_WEBHOOK && !(wh = config_webhook_find(c, req->path_rest))) {
        metrics_add("gateway_requests_rejected_total", "reason=\"unknown_webhook\"", 1);
        char msg[160];
        snprintf(msg, sizeof msg, "no webhook named '%.*s' in the configuration (webhooks:)",
                 (int)utf8_truncate(req->path_rest, strlen(req->path_rest), 63), req->path_rest);
        reply_error(p, 404, "unknown_webhook", msg, NULL);
        return;
    }
    adapter_limits lim = {.max_alerts = c->max_alerts, .max_payload_bytes = c->max_payload_bytes,
                          .max_depth = c->max_json_depth};
    adapter_error err = {0};
    int64_t now = time_now_ms();
    int rc = freshness_check(c, p->kind, req->x_timestamp, now, &lim, &err);
    const source_def *src = source_get(p->kind);
    if (rc == 0 && wh)
        rc = adapter_mapped_parse(wh, req->body, req->body_len, now, &lim, &req->arena, &p->sigs, &p->n, &err);
    else if (rc == 0 && src->parse)
        rc = src->parse(req->body, req->body_len, now, &lim, &req->arena, &p->sigs, &p->n, &err);
    else if (rc == 0)
        rc = parse_req(p, src, now, &lim, &err);
    if (rc != 0) {
        const char *code = pipeline_reject_code(err.status);
        char labels[96];
        snprintf(labels, sizeof labels, "reason=\"%s\"", code);
        metrics_add("gateway_requests_rejected_total", labels, 1);
        log_line l;
        if (log_begin(&l, LOG_INFO, "signal rejected")) {
            log_str(&l, "request_id", req->request_id);
            log_str(&l, "trace_id", p->trace.trace_id);
            log_str(&l, "source", p->source);
            log_str(&l, "code", code);
            log_str(&l, "error", err.message);
            log_end(&l);
        }
        respond_reject(p, pipeline_reject_status(err.status), code, err.message);
        return;
    }
    if (err.truncated > 0) note_truncated(p, err.truncated);
    /* Admission by signals, not only requests: 1,000 storm webhooks of 50 alerts are 50,000
     * decisions queued on Redis, enough to cross its command timeout and fail them all.
     * Above the limit: 503 + Retry-After now, cheaply. A request is always admitted when
     * nothing else is in flight, so one webhook of max_alerts alerts always gets through. */
    int before = atomic_fetch_add(&p->w->gw->inflight_alerts, (int)p->n);
    p->admitted = p->n;
    if (before > 0 && before + (long long)p->n > c->max_inflight_alerts) {
        refuse_signals_overload(p);
        return;
    }
    count_received(p);
    p->res = arena_calloc(&req->arena, (p->n ? p->n : 1) * sizeof *p->res);
    if (c->suppress) suppress_signals(p, now);
    if (config_rr_contract(c) == RR_CONTRACT_KUBERNAUT_AI) targets_start(p);
    else items_start(p);
}

/* The store's items from the signals; then the first decide round. */
static void items_start(preq *p)
{
    http_request *req = p->req;
    const config *c = p->cfg;
    arena *a = &req->arena;
    p->items = arena_calloc(a, (p->n ? p->n : 1) * sizeof *p->items);
    p->specs = arena_calloc(a, (p->n ? p->n : 1) * sizeof *p->specs);
    p->round_verdict = arena_calloc(a, (p->n ? p->n : 1) * sizeof *p->round_verdict);
    p->exists = arena_calloc(a, (p->n ? p->n : 1) * sizeof *p->exists);
    for (size_t i = 0; i < p->n; i++) {
        const sig_signal *s = &p->sigs[i];
        if (s->ignored) {
            if (p->res[i].status != RES_PENDING) continue;   /* rejected by its target, or suppressed */
            p->res[i].status = s->rejected ? RES_REJECTED : RES_IGNORED;
            p->res[i].reason = s->ignore_reason ? s->ignore_reason : "ignored";
            continue;
        }
        store_item *it = &p->items[i];
        it->fingerprint = s->fingerprint;
        it->name = s->name;
        it->namespace = s->namespace ? s->namespace : "";
        it->resource_id = sig_resource_id(s, a);
        it->resolved = s->status == SIG_RESOLVED;
        it->firing_ms = s->firing_ms;
        if (config_rr_contract(c) == RR_CONTRACT_KUBERNAUT_AI) {
            char name[64];   /* a store that names RRs (kube.c) replaces it */
            rr_kai_name(s->fingerprint, 1, name);
            it->ref = arena_cat(a, p->w->gw->rr_namespace, "/", name, (char *)NULL);
            continue;
        }
        const char *ns = sig_namespace_valid(s->namespace) ? s->namespace : c->fallback_namespace;
        char short_fp[17];
        size_t fl = strnlen(s->fingerprint, 16);
        memcpy(short_fp, s->fingerprint, fl);
        short_fp[fl] = '\0';
        it->ref = arena_cat(a, ns, "/rr-", short_fp, (char *)NULL);
    }
    round_start(p);
}

static void on_auth(int status, void *ctx)
{
    preq *p = ctx;
    char labels[48];
    const char *result = status == AUTH_ALLOW             ? "allowed"
                         : status == AUTH_UNAUTHENTICATED ? "unauthenticated"
                         : status == AUTH_FORBIDDEN       ? "forbidden"
                                                          : "unavailable";
    fmt_cat(labels, sizeof labels, "result=\"", result, "\"", (char *)NULL);
    metrics_add("gateway_auth_total", labels, 1);
    switch (status) {
    case AUTH_ALLOW:
        start(p);
        return;
    case AUTH_UNAUTHENTICATED:
        reply_error(p, 401, "unauthorized", "a valid bearer token is required",
                    &(http_headers){.www_authenticate = "Bearer realm=\"signal-gateway\""});
        break;
    case AUTH_FORBIDDEN:
        reply_error(p, 403, "forbidden", "this identity may not create RemediationRequests", NULL);
        break;
    default:   /* SGW_E_UNAVAILABLE: fail closed */
        respond_503(p, "auth_unavailable", "cannot verify the token now; retry");
        break;
    }
}

void pipeline_handle(http_request *req, void *data)
{
    route_ctx *rc = data;
    worker *w = rc->w;
    gw_runtime *rt = gw_runtime_get(w->gw);
    const config *c = rt->cfg;
    /* counted at once, so that every answer, refusals included, ends in preq_done */
    int inflight = atomic_fetch_add(&w->gw->inflight, 1) + 1;
    preq *p = xcalloc(1, sizeof *p);
    p->req = req;
    p->w = w;
    p->rt = rt;
    p->cfg = c;
    p->kind = rc->kind;
    p->source = source_get(rc->kind)->name;
    p->t0 = time_mono_s();
    trace_begin(req->traceparent, &p->trace);
    memcpy(req->trace_id, p->trace.trace_id, sizeof req->trace_id);
    if (atomic_load(&w->gw->draining)) {
        metrics_add("gateway_requests_rejected_total", "reason=\"shutting_down\"", 1);
        respond_503(p, "shutting_down", "the gateway is shutting down; retry");
        return;
    }
    if (inflight > c->max_inflight) {
        metrics_add("gateway_requests_rejected_total", "reason=\"overload\"", 1);
        respond_503(p, "overloaded", "too many requests in flight; retry");
        return;
    }
    p->deadline = time_mono_ms() + c->processing_timeout_ms;
    gw_store_params(c, &p->sp);
    /* a source whose body carries the sender's token (PagerDuty's routing_key) */
    const char *authz = req->authorization;
    const source_def *src = source_get(rc->kind);
    if (!authz && src->credential && c->auth_mode == AUTH_STATIC)
        authz = src->credential(req->body, req->body_len, c->max_json_depth, &req->arena);
    /* no bearer token: a verified client certificate's subject may be the identity */
    int r = authz ? SGW_E_AGAIN : auth_try_client_subject(rt->auth, req->tls_subject, &p->caller);
    if (r == SGW_E_AGAIN) r = auth_try(rt->auth, w->kc, authz, &p->caller);
    if (r == SGW_E_AGAIN) {
        trace_set_current(&p->trace);
        auth_check(rt->auth, w->kc, &w->defer, authz, &p->caller, on_auth, p);
        trace_set_current(NULL);
    } else {
        on_auth(r, p);   /* known now: go on while the body is still in the cache */
    }
}

void pipeline_audit_unhandled(const http_request *req, int status, char trace_id[33])
{
    const route_ctx *rc = req->route_data;
    worker *w = rc->w;
    trace_ctx t;
    trace_begin(req->traceparent, &t);
    memcpy(trace_id, t.trace_id, 33);
    audit *au = w->gw->audit;
    if (!au || req->audited) return;
    auth_identity none = {AUTH_ID_NONE, ""};
    audit_record r = {.time_ms = time_now_ms(), .request_id = req->request_id, .trace_id = t.trace_id,
                      .caller = &none, .peer = req->peer, .source = source_get(rc->kind)->name, .route = req->route,
                      .status = status};
    arena a;
    arena_init(&a);
    size_t len;
    const char *line = audit_format(&r, &a, &len);
    (void)audit_submit(&w->audit_port, line, len, NULL, NULL);   /* a full queue is counted there */
    arena_free(&a);
}
