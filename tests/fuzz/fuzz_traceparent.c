/* fuzz_traceparent.c: libFuzzer target for the W3C traceparent reader (util/trace.c): the
 * header comes from any sender. The input, NUL-terminated, is the header's value.
 * Checked: trace_parse accepts exactly what a reference reading of the spec accepts (version
 * 00: 55 characters; another version but ff: at least 55, and '-' after them; lowercase hex
 * fields, ids not all zero; optional spaces and tabs around); what it accepts it copies
 * exactly; trace_begin always gives 32 + 16 lowercase hex ids, never all zero, keeping the
 * trace id of an accepted header; trace_format writes a header trace_parse accepts, with the
 * same trace id and our span as parent. */
#include "fuzz_util.h"
#include "util/err.h"
#include "util/trace.h"

static bool hexlow(const char *s, size_t n, bool nonzero)
{
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
        any |= s[i] != '0';
    }
    return !nonzero || any;
}

/* The spec, read again independently of trace.c. */
static bool reference_valid(const char *h)
{
    size_t b = 0, e = strlen(h);
    while (b < e && (h[b] == ' ' || h[b] == '\t')) b++;
    while (e > b && (h[e - 1] == ' ' || h[e - 1] == '\t')) e--;
    const char *v = h + b;
    size_t n = e - b;
    if (n < 55 || !hexlow(v, 2, false) || (v[0] == 'f' && v[1] == 'f')) return false;
    if (v[0] == '0' && v[1] == '0' && n != 55) return false;
    if (n > 55 && v[55] != '-') return false;
    return v[2] == '-' && v[35] == '-' && v[52] == '-' && hexlow(v + 3, 32, true) && hexlow(v + 36, 16, true) &&
           hexlow(v + 53, 2, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *h = malloc(size + 1);
    if (!h) abort();
    memcpy(h, data, size);
    h[size] = '\0';
    trace_ctx t;
    memset(&t, 0x5a, sizeof t);
    int rc = trace_parse(h, &t);
    bool want = reference_valid(h);
    if ((rc == 0) != want) fuzz_fail("trace_parse %d, the spec says %s: \"%.80s\"", rc, want ? "valid" : "invalid", h);
    if (rc != 0 && rc != SGW_E_INVALID) fuzz_fail("trace_parse returned %d", rc);
    if (rc == 0) {
        const char *v = h;
        while (*v == ' ' || *v == '\t') v++;
        if (memcmp(t.trace_id, v + 3, 32) || t.trace_id[32] || memcmp(t.parent_id, v + 36, 16) || t.parent_id[16])
            fuzz_fail("the ids were not copied exactly: \"%.80s\"", h);
    }
    trace_ctx b;
    trace_begin(h, &b);
    if (!hexlow(b.trace_id, 32, true) || b.trace_id[32] || !hexlow(b.span_id, 16, true) || b.span_id[16])
        fuzz_fail("trace_begin made a bad id: %s %s", b.trace_id, b.span_id);
    if (rc == 0 && strcmp(b.trace_id, t.trace_id) != 0) fuzz_fail("trace_begin dropped a valid trace id");
    char out[TRACE_HEADER_LEN + 1];
    trace_format(&b, out);
    trace_ctx back;
    if (strlen(out) != TRACE_HEADER_LEN || trace_parse(out, &back) != 0 || strcmp(back.trace_id, b.trace_id) ||
        strcmp(back.parent_id, b.span_id))
        fuzz_fail("trace_format wrote a header that does not read back: %s", out);
    free(h);
    return 0;
}
