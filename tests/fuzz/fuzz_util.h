/* fuzz_util.h: what the libFuzzer targets share: failing loudly on a broken invariant,
 * switching off the checks of bugs that are known and not fixed yet (SGW_FUZZ_KNOWN), and
 * the invariants every adapter result must hold. See docs/fuzzing.md. */
#ifndef SGW_FUZZ_UTIL_H
#define SGW_FUZZ_UTIL_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/common_interface_defs.h>

#include "pipeline.h"
#include "adapters/adapter.h"
#include "adapters/upstream_target.h"
#include "sig.h"
#include "util/utf8.h"

/* libFuzzer's entry points: every harness defines the first, some the second. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken invariant: print why and abort, so libFuzzer saves the input as a crash. The
 * message also goes out as the sanitizer SUMMARY line, which survives -close_fd_mask=2. */
__attribute__((format(printf, 1, 2), noreturn, unused)) static void fuzz_fail(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(msg, sizeof msg, "FUZZ INVARIANT BROKEN: ");
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", msg);
    __sanitizer_report_error_summary(msg);
    abort();
}

/* True when the check called `name` is switched off: SGW_FUZZ_KNOWN is a comma-separated
 * list of names of known, unfixed bugs (docs/fuzzing.md lists them). Off by default: CI
 * runs every check. Read once. */
__attribute__((unused)) static bool fuzz_known(const char *name)
{
    static const char *known;
    static bool read;
    if (!read) {
        known = getenv("SGW_FUZZ_KNOWN");
        read = true;
    }
    if (!known || !*known) return false;
    size_t nl = strlen(name);
    for (const char *p = known; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == nl && memcmp(p, name, nl) == 0) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

__attribute__((unused)) static bool fuzz_is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return s[n] == '\0';
}

__attribute__((unused)) static void fuzz_check_map(const sig_map *m, const char *what, size_t idx)
{
    if (m->n && !m->items) fuzz_fail("signal %zu: %s has %zu items and no array", idx, what, m->n);
    for (size_t i = 0; i < m->n; i++) {
        if (!m->items[i].key || !m->items[i].value) fuzz_fail("signal %zu: %s[%zu] has a NULL key or value", idx, what, i);
        if (i && strcmp(m->items[i - 1].key, m->items[i].key) >= 0)
            fuzz_fail("signal %zu: %s not sorted/unique at \"%s\", \"%s\"", idx, what, m->items[i - 1].key,
                      m->items[i].key);
    }
}

/* The contract of adapter.h / sig.h for one normalised signal. */
__attribute__((unused)) static void fuzz_check_signal(const sig_signal *s, size_t idx, bool prometheus,
                                                      const adapter_limits *lim)
{
    if (!fuzz_is_lower_hex(s->fingerprint, 64)) fuzz_fail("signal %zu: fingerprint is not 64 lowercase hex", idx);
    if (!s->name || !*s->name) fuzz_fail("signal %zu: empty name", idx);
    if (strlen(s->name) > 253) fuzz_fail("signal %zu: name longer than 253 bytes", idx);
    if (!s->kind || !*s->kind) fuzz_fail("signal %zu: empty kind", idx);
    if (!s->res_name || !*s->res_name) fuzz_fail("signal %zu: empty resource name", idx);
    if (!s->namespace) fuzz_fail("signal %zu: NULL namespace", idx);
    if (strlen(s->namespace) > 253) fuzz_fail("signal %zu: namespace longer than 253 bytes", idx);
    if ((unsigned)s->severity > SEV_INFO) fuzz_fail("signal %zu: severity %d", idx, (int)s->severity);
    if ((unsigned)s->status > SIG_RESOLVED) fuzz_fail("signal %zu: status %d", idx, (int)s->status);
    if (!s->signal_type || !s->source) fuzz_fail("signal %zu: no signal_type/source", idx);
    if (s->payload && s->payload_len > lim->max_payload_bytes)
        fuzz_fail("signal %zu: payload of %zu bytes > max_payload_bytes %zu", idx, s->payload_len, lim->max_payload_bytes);
    if (s->ignored && !s->ignore_reason) fuzz_fail("signal %zu: ignored without a reason", idx);
    if (prometheus) {
        if (!fuzz_is_lower_hex(s->am_fingerprint, 16)) fuzz_fail("signal %zu: am_fingerprint is not 16 lowercase hex", idx);
    } else if (s->am_fingerprint[0]) {
        fuzz_fail("signal %zu: an event has an Alertmanager fingerprint", idx);
    }
    fuzz_check_map(&s->labels, "labels", idx);
    fuzz_check_map(&s->annotations, "annotations", idx);
    /* The fingerprint is a function of name, namespace, kind and resource name only. */
    sig_signal copy = *s;
    memset(copy.fingerprint, 0, sizeof copy.fingerprint);
    sig_fingerprint(&copy);
    if (memcmp(copy.fingerprint, s->fingerprint, sizeof copy.fingerprint) != 0)
        fuzz_fail("signal %zu: fingerprint is not reproducible", idx);
    adapter_error verr;
    if (sig_validate(s, &verr) != 0) fuzz_fail("signal %zu: returned but fails sig_validate: %s", idx, verr.message);
}

/* The contract of a failed parse: a known status that maps to 400 or 413, a message that
 * names the problem (bounded, NUL-terminated; valid UTF-8 because it is sent in JSON). */
__attribute__((unused)) static void fuzz_check_error(int rc, const adapter_error *err, sig_signal *out, size_t n)
{
    if (rc >= 0 || rc < ADAPTER_E_MEDIA_TYPE) fuzz_fail("parse returned %d, not an adapter_status", rc);
    if ((int)err->status != rc) fuzz_fail("parse returned %d but err.status is %d", rc, (int)err->status);
    int http = pipeline_reject_status(err->status);
    if (http != 400 && http != 413 && http != 415) fuzz_fail("error %d maps to HTTP %d", rc, http);
    if (http == 415 && rc != ADAPTER_E_MEDIA_TYPE) fuzz_fail("error %d maps to 415", rc);
    if (http == 413 && rc != ADAPTER_E_TOO_MANY) fuzz_fail("error %d maps to 413", rc);
    const char *code = pipeline_reject_code(err->status);
    if (!code || !strcmp(code, "ok") || !strcmp(code, "invalid_request")) fuzz_fail("error %d has code %s", rc, code);
    if (out || n) fuzz_fail("failed parse left out=%p n=%zu", (void *)out, n);
    size_t ml = strnlen(err->message, sizeof err->message);
    if (ml == sizeof err->message) fuzz_fail("error message is not NUL-terminated");
    if (ml == 0) fuzz_fail("error %d (%s) has an empty message", rc, code);
    size_t bad;
    if (!fuzz_known("utf8-msg") && !utf8_valid(err->message, ml, &bad))
        fuzz_fail("error message is not valid UTF-8 at byte %zu: %s", bad, err->message);
}


/* One alert of an Alertmanager-shaped webhook (Alertmanager, Grafana): the signal contract,
 * its source and type, its payload (valid UTF-8 JSON object, bounded), and the kubernaut.ai
 * contract's target choice on the same untrusted labels. */
__attribute__((unused)) static void fuzz_check_alert(const sig_signal *s, size_t i, const adapter_limits *lim,
                                                     const char *source, const char *type)
{
    fuzz_check_signal(s, i, true, lim);
    if (s->ignored) fuzz_fail("signal %zu: an alert is marked ignored", i);
    if (strcmp(s->source, source) != 0) fuzz_fail("signal %zu: source %s", i, s->source);
    if (strcmp(s->signal_type, type) != 0) fuzz_fail("signal %zu: type %s", i, s->signal_type);
    size_t plen;
    char *pl = sig_payload_dup(s, lim->max_payload_bytes, &plen);
    if (pl) {
        size_t bad;
        if (plen > lim->max_payload_bytes || strlen(pl) != plen) fuzz_fail("signal %zu: payload length", i);
        if (!utf8_valid(pl, plen, &bad)) fuzz_fail("signal %zu: payload is not UTF-8", i);
        if (pl[0] != '{' || pl[plen - 1] != '}') fuzz_fail("signal %zu: payload is not an object", i);
        free(pl);
    }
    sig_signal t = *s;
    upstream_target_pick(&t);
    if (!t.kind || !t.res_name || !t.res_namespace) fuzz_fail("signal %zu: upstream target unset", i);
    if (strcmp(t.kind, "Unknown") != 0 && (!*t.res_name || strlen(t.res_name) > 253))
        fuzz_fail("signal %zu: upstream target name '%s'", i, t.res_name);
}

#endif
