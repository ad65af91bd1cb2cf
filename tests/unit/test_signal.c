/* test_signal.c: the normalised signal's helpers (sig.c), validation and the error table
 * (adapters/common.c), and the utf8/time edge cases the adapters rely on. */
#include "testutil.h"

#include "adapters/adapter.h"
#include "sig.h"
#include "util/arena.h"
#include "util/timeutil.h"
#include "util/utf8.h"
#include "pipeline.h"

/* A signal that passes validation; tests break one field at a time. */
static sig_signal valid_signal(void)
{
    sig_signal s;
    memset(&s, 0, sizeof s);
    s.name = "KubePodCrashLooping";
    s.namespace = "production";
    s.res_namespace = "production";
    s.kind = "Pod";
    s.res_name = "payment-api-7d9f8b6c4-q8w7e";
    s.severity = SEV_CRITICAL;
    sig_fingerprint(&s);
    return s;
}

/* ---- severity and status ---------------------------------------------------------------- */

static void test_severity_parse_is_exact_lowercase_else_warning(void **state)
{
    (void)state;
    assert_int_equal(sig_severity_parse("critical"), SEV_CRITICAL);
    assert_int_equal(sig_severity_parse("warning"), SEV_WARNING);
    assert_int_equal(sig_severity_parse("info"), SEV_INFO);
    assert_int_equal(sig_severity_parse("Critical"), SEV_WARNING);
    assert_int_equal(sig_severity_parse("error"), SEV_WARNING);
    assert_int_equal(sig_severity_parse("critical "), SEV_WARNING);
    assert_int_equal(sig_severity_parse(""), SEV_WARNING);
    assert_int_equal(sig_severity_parse(NULL), SEV_WARNING);
}

static void test_severity_and_status_have_lowercase_names(void **state)
{
    (void)state;
    assert_string_equal(sig_severity_str(SEV_CRITICAL), "critical");
    assert_string_equal(sig_severity_str(SEV_WARNING), "warning");
    assert_string_equal(sig_severity_str(SEV_INFO), "info");
    assert_string_equal(sig_status_str(SIG_FIRING), "firing");
    assert_string_equal(sig_status_str(SIG_RESOLVED), "resolved");
}

/* ---- gateway fingerprint ------------------------------------------------------------------ */

static void test_fingerprint_is_sha256_of_name_namespace_kind_resource(void **state)
{
    (void)state;
    sig_signal s = valid_signal();
    /* printf '%s' 'KubePodCrashLooping:production:Pod:payment-api-7d9f8b6c4-q8w7e' | sha256sum */
    assert_string_equal(s.fingerprint, "147546d9f0ede20a83a6ee1aca2d05a5214386098b102979abb12266d460dc09");
}

static void test_fingerprint_of_cluster_scoped_resource_has_empty_namespace_field(void **state)
{
    (void)state;
    sig_signal s;
    memset(&s, 0, sizeof s);
    s.name = "NodeDiskPressure";
    s.namespace = "";
    s.kind = "Node";
    s.res_name = "worker-3";
    sig_fingerprint(&s);
    /* printf '%s' 'NodeDiskPressure::Node:worker-3' | sha256sum */
    assert_string_equal(s.fingerprint, "40738e9584d7371a873a9afd831d21c0d696a70d4b78ad10e407c5c923ec2f9b");
    s.namespace = NULL;                      /* NULL namespace is the same as "" */
    sig_fingerprint(&s);
    assert_string_equal(s.fingerprint, "40738e9584d7371a873a9afd831d21c0d696a70d4b78ad10e407c5c923ec2f9b");
}

static void test_fingerprint_of_a_long_resource_name_hashes_every_byte(void **state)
{
    (void)state;
    char name[5001];
    memset(name, 'x', 5000);
    name[5000] = '\0';
    sig_signal s;
    memset(&s, 0, sizeof s);
    s.name = "HighMemoryUsage";
    s.namespace = "staging";
    s.kind = "Pod";
    s.res_name = name;
    sig_fingerprint(&s);
    /* python3 -c "import hashlib;print(hashlib.sha256(('HighMemoryUsage:staging:Pod:'+'x'*5000).encode()).hexdigest())" */
    assert_string_equal(s.fingerprint, "214cc41cf258027b27022dd5889c664a56c65b463797b1ac90cd731c0505ab9b");
}

static void test_fingerprint_ignores_severity_labels_and_times(void **state)
{
    (void)state;
    sig_signal a = valid_signal(), b = valid_signal();
    sig_kv kv[] = {{"team", "payments"}};
    b.severity = SEV_INFO;
    b.labels.items = kv;
    b.labels.n = 1;
    b.firing_ms = 12345;
    sig_fingerprint(&b);
    assert_string_equal(a.fingerprint, b.fingerprint);
    b.res_name = "payment-api-7d9f8b6c4-x2k9p";
    sig_fingerprint(&b);
    assert_string_not_equal(a.fingerprint, b.fingerprint);
}

/* ---- Alertmanager fingerprint ------------------------------------------------------------- */

static void test_am_fingerprint_of_empty_label_set_is_fnv_offset_basis(void **state)
{
    (void)state;
    char fp[17];
    sig_map empty = {NULL, 0};
    sig_am_fingerprint(&empty, fp);
    assert_string_equal(fp, "cbf29ce484222325");        /* 14695981039346656037 */
}

static void test_am_fingerprint_equals_alertmanager_for_a_captured_label_set(void **state)
{
    (void)state;
    /* tests/fixtures/node-disk-pressure-firing.json, captured from Alertmanager 0.25 */
    sig_kv kv[] = {{"alertname", "NodeDiskPressure"}, {"node", "worker-3"}, {"severity", "warning"}};
    sig_map m = {kv, 3};
    char fp[17];
    sig_am_fingerprint(&m, fp);
    assert_string_equal(fp, "731f143da3a91b1b");
}

static void test_am_fingerprint_separates_names_from_values(void **state)
{
    (void)state;
    sig_kv a[] = {{"a", "bc"}}, b[] = {{"ab", "c"}};
    sig_map ma = {a, 1}, mb = {b, 1};
    char fa[17], fb[17];
    sig_am_fingerprint(&ma, fa);
    sig_am_fingerprint(&mb, fb);
    assert_string_not_equal(fa, fb);
    assert_int_equal(strlen(fa), 16);
}

/* ---- sorted map --------------------------------------------------------------------------- */

static void test_map_sort_dedup_sorts_by_bytes_and_keeps_last_duplicate(void **state)
{
    (void)state;
    sig_kv kv[] = {{"b", "1"}, {"a", "first"}, {"\xc3\xa9", "e-acute"}, {"B", "upper"}, {"a", "second"},
                   {"c", "x"}, {"a", "third"}};
    sig_map m = {kv, sizeof kv / sizeof kv[0]};
    sig_map_sort_dedup(&m);
    assert_int_equal(m.n, 5);
    const char *keys[] = {"B", "a", "b", "c", "\xc3\xa9"};   /* bytewise: 0xc3 sorts last */
    for (size_t i = 0; i < m.n; i++) assert_string_equal(m.items[i].key, keys[i]);
    assert_string_equal(sig_map_get(&m, "a"), "third");
}

static void test_map_sort_dedup_is_stable_for_large_maps(void **state)
{
    (void)state;
    /* 200 items, 50 distinct keys, each seen 4 times in reverse key order: merge-sort path. */
    enum { N = 200 };
    sig_kv kv[N];
    char keys[50][8], vals[N][8];
    for (int k = 0; k < 50; k++) snprintf(keys[k], sizeof keys[k], "k%02d", 49 - k);
    for (int i = 0; i < N; i++) {
        snprintf(vals[i], sizeof vals[i], "v%d", i);
        kv[i].key = keys[i % 50];
        kv[i].value = vals[i];
    }
    sig_map m = {kv, N};
    sig_map_sort_dedup(&m);
    assert_int_equal(m.n, 50);
    for (size_t i = 1; i < m.n; i++) assert_true(strcmp(m.items[i - 1].key, m.items[i].key) < 0);
    /* key "k00" is keys[49]: items 49, 99, 149, 199; the last (199) wins */
    assert_string_equal(sig_map_get(&m, "k00"), "v199");
    assert_string_equal(sig_map_get(&m, "k49"), "v150");
}

static void test_map_get_finds_every_key_and_null_for_absent(void **state)
{
    (void)state;
    sig_kv kv[] = {{"alertname", "A"}, {"namespace", ""}, {"pod", "p"}, {"severity", "info"}};
    sig_map m = {kv, 4};
    assert_string_equal(sig_map_get(&m, "alertname"), "A");
    assert_string_equal(sig_map_get(&m, "namespace"), "");
    assert_string_equal(sig_map_get(&m, "pod"), "p");
    assert_string_equal(sig_map_get(&m, "severity"), "info");
    assert_null(sig_map_get(&m, "node"));
    assert_null(sig_map_get(&m, ""));
    assert_null(sig_map_get(&m, "zzz"));
    sig_map empty = {NULL, 0};
    assert_null(sig_map_get(&empty, "pod"));
    assert_null(sig_map_get(NULL, "pod"));
}

/* ---- resource id -------------------------------------------------------------------------- */

static void test_resource_id_has_namespace_unless_cluster_scoped(void **state)
{
    (void)state;
    arena a;
    arena_init(&a);
    sig_signal s = valid_signal();
    assert_string_equal(sig_resource_id(&s, &a), "production:Pod:payment-api-7d9f8b6c4-q8w7e");
    s.namespace = s.res_namespace = "";
    s.kind = "Node";
    s.res_name = "worker-3";
    assert_string_equal(sig_resource_id(&s, &a), "Node:worker-3");
    arena_free(&a);
}

/* ---- validation --------------------------------------------------------------------------- */

static void test_valid_signal_passes_validation(void **state)
{
    (void)state;
    sig_signal s = valid_signal();
    adapter_error err = {0};
    assert_int_equal(sig_validate(&s, &err), ADAPTER_OK);
    s.namespace = "";                         /* cluster-scoped is fine */
    assert_int_equal(sig_validate(&s, &err), ADAPTER_OK);
}

static void test_validation_requires_name_kind_and_resource_name(void **state)
{
    (void)state;
    adapter_error err;
    sig_signal s = valid_signal();
    s.name = "";
    assert_int_equal(sig_validate(&s, &err), ADAPTER_E_MISSING);
    assert_non_null(strstr(err.message, "name"));
    s = valid_signal();
    s.name = NULL;
    assert_int_equal(sig_validate(&s, &err), ADAPTER_E_MISSING);
    s = valid_signal();
    s.kind = "";
    assert_int_equal(sig_validate(&s, &err), ADAPTER_E_MISSING);
    assert_non_null(strstr(err.message, "kind"));
    s = valid_signal();
    s.res_name = "";
    assert_int_equal(sig_validate(&s, &err), ADAPTER_E_MISSING);
    assert_non_null(strstr(err.message, "resource name"));
}

/* The fingerprint must be exactly 64 lowercase hex digits: every position is checked. */
static void test_validation_checks_every_fingerprint_digit(void **state)
{
    (void)state;
    adapter_error err;
    sig_signal s = valid_signal();
    assert_int_equal(sig_validate(&s, &err), ADAPTER_OK);
    static const char bad[] = {'A', 'g', '/', ':', '`', 'G', ' ', '\0'};
    for (int i = 0; i < 64; i++)
        for (size_t k = 0; k < sizeof bad; k++) {
            s = valid_signal();
            s.fingerprint[i] = bad[k];
            if (sig_validate(&s, &err) != ADAPTER_E_TYPE) fail_msg("accepted 0x%02x at %d", bad[k], i);
        }
    s = valid_signal();
    s.fingerprint[64] = 'a';   /* 65 digits: no terminator where it belongs */
    assert_int_equal(sig_validate(&s, &err), ADAPTER_E_TYPE);
    static const char good[] = "0123456789abcdef";
    for (int i = 0; i < 64; i++) s.fingerprint[i] = good[(i * 7) % 16];
    s.fingerprint[64] = '\0';
    assert_int_equal(sig_validate(&s, &err), ADAPTER_OK);
}

static void test_validation_limits_name_and_namespace_to_253_bytes(void **state)
{
    (void)state;
    char n253[254], n254[255];
    memset(n253, 'a', 253);
    n253[253] = '\0';
    memset(n254, 'a', 254);
    n254[254] = '\0';
    adapter_error err;
    sig_signal s = valid_signal();
    s.name = n253;
    sig_fingerprint(&s);
    assert_int_equal(sig_validate(&s, &err), ADAPTER_OK);
    s.name = n254;
    assert_int_equal(sig_validate(&s, &err), ADAPTER_E_TYPE);
    s = valid_signal();
    s.namespace = n253;
    assert_int_equal(sig_validate(&s, &err), ADAPTER_OK);
    s.namespace = n254;
    assert_int_equal(sig_validate(&s, &err), ADAPTER_E_TYPE);
    assert_non_null(strstr(err.message, "namespace"));
}

static void test_validation_requires_a_64_hex_fingerprint(void **state)
{
    (void)state;
    adapter_error err;
    sig_signal s = valid_signal();
    s.fingerprint[0] = '\0';
    assert_int_equal(sig_validate(&s, &err), ADAPTER_E_TYPE);
    s = valid_signal();
    s.fingerprint[10] = 'G';
    assert_int_equal(sig_validate(&s, &err), ADAPTER_E_TYPE);
    s = valid_signal();
    s.fingerprint[10] = 'A';                  /* uppercase is not what we emit */
    assert_int_equal(sig_validate(&s, &err), ADAPTER_E_TYPE);
}

static void test_error_codes_and_http_statuses(void **state)
{
    (void)state;
    struct { adapter_status st; const char *code; int http; } t[] = {
        {ADAPTER_E_JSON, "invalid_json", 400},          {ADAPTER_E_UTF8, "invalid_utf8", 400},
        {ADAPTER_E_MISSING, "missing_field", 400},      {ADAPTER_E_TYPE, "invalid_field", 400},
        {ADAPTER_E_VERSION, "unsupported_version", 400}, {ADAPTER_E_EMPTY, "no_alerts", 400},
        {ADAPTER_E_TOO_MANY, "too_many_alerts", 413},   {ADAPTER_E_DEPTH, "too_deep", 400},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_string_equal(pipeline_reject_code(t[i].st), t[i].code);
        assert_int_equal(pipeline_reject_status(t[i].st), t[i].http);
    }
}

/* ---- utf8 --------------------------------------------------------------------------------- */

static void test_utf8_truncate_never_splits_a_character(void **state)
{
    (void)state;
    const char *s = "ab\xc3\xa9" "c\xe2\x82\xac" "d\xf0\x9f\x98\x80";  /* a b é c € d 😀 : 13 bytes */
    size_t len = strlen(s);
    assert_int_equal(len, 13);
    assert_int_equal(utf8_truncate(s, len, 13), 13);     /* fits: unchanged */
    assert_int_equal(utf8_truncate(s, len, 100), 13);
    assert_int_equal(utf8_truncate(s, len, 0), 0);
    assert_int_equal(utf8_truncate(s, len, 2), 2);       /* boundary before é */
    assert_int_equal(utf8_truncate(s, len, 3), 2);       /* inside é */
    assert_int_equal(utf8_truncate(s, len, 4), 4);       /* right after é */
    assert_int_equal(utf8_truncate(s, len, 6), 5);       /* inside € (starts at 5) */
    assert_int_equal(utf8_truncate(s, len, 7), 5);
    assert_int_equal(utf8_truncate(s, len, 8), 8);
    assert_int_equal(utf8_truncate(s, len, 10), 9);      /* inside 😀 (starts at 9) */
    assert_int_equal(utf8_truncate(s, len, 12), 9);
    assert_int_equal(utf8_truncate("", 0, 0), 0);
}

static void test_utf8_valid_rejects_overlongs_surrogates_and_truncation(void **state)
{
    (void)state;
    size_t off = 99;
    assert_true(utf8_valid("plain ascii \xc3\xa9 \xf4\x8f\xbf\xbf", 19, &off));   /* U+10FFFF ok */
    assert_false(utf8_valid("ab\xc0\xaf", 4, &off));          /* overlong '/' */
    assert_int_equal(off, 2);
    assert_false(utf8_valid("a\xe0\x80\xaf", 4, &off));       /* 3-byte overlong */
    assert_int_equal(off, 1);
    assert_false(utf8_valid("xyz\xed\xa0\x80", 6, &off));     /* U+D800 surrogate */
    assert_int_equal(off, 3);
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4, &off));    /* > U+10FFFF */
    assert_int_equal(off, 0);
    assert_false(utf8_valid("abcdefghij\xe2\x82", 12, &off)); /* truncated at the end */
    assert_int_equal(off, 10);
    assert_false(utf8_valid("\x80", 1, &off));                /* stray continuation */
    assert_false(utf8_valid("\xff", 1, &off));
}

/* ---- time --------------------------------------------------------------------------------- */

static int64_t parse_ok(const char *s)
{
    int64_t ms = 0;
    assert_int_equal(time_parse_rfc3339(s, strlen(s), &ms), 0);
    return ms;
}

static void assert_time_rejected(const char *s)
{
    int64_t ms = 0;
    if (time_parse_rfc3339(s, strlen(s), &ms) == 0) fail_msg("\"%s\" was accepted as %lld", s, (long long)ms);
}

static void test_time_parse_accepts_rfc3339_with_fraction_and_offset(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("2026-11-26T21:50:10Z"), 1795729810000LL);
    assert_int_equal(parse_ok("2026-11-26t21:50:10z"), 1795729810000LL);
    assert_int_equal(parse_ok("2026-11-26T21:50:10.123Z"), 1795729810123LL);
    assert_int_equal(parse_ok("2026-11-26T21:50:10.123456Z"), 1795729810123LL);    /* MicroTime */
    assert_int_equal(parse_ok("2026-11-26T21:50:10.999999999Z"), 1795729810999LL);  /* truncated, not rounded */
    assert_int_equal(parse_ok("2026-11-26T23:50:10+02:00"), 1795729810000LL);
    assert_int_equal(parse_ok("2026-11-26T16:20:10-05:30"), 1795729810000LL);
    assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), 1709164800000LL);           /* leap day */
    assert_int_equal(parse_ok("1969-12-31T23:59:59.5Z"), -500);
}

static void test_time_parse_treats_go_zero_time_as_negative(void **state)
{
    (void)state;
    assert_true(parse_ok("0001-01-01T00:00:00Z") < 0);
}

static void test_time_parse_rejects_malformed_timestamps(void **state)
{
    (void)state;
    assert_time_rejected("");
    assert_time_rejected("yesterday");
    assert_time_rejected("2026-11-26T21:50:10");          /* no zone */
    assert_time_rejected("2026-11-26");
    assert_time_rejected("2026-11-26T21:50:10ZZ");        /* trailing data */
    assert_time_rejected("2026-11-26T21:50:10.Z");        /* empty fraction */
    assert_time_rejected("2026-11-26T21:50:10.1234567890Z");
    assert_time_rejected("2026-13-01T00:00:00Z");
    assert_time_rejected("2026-00-01T00:00:00Z");
    assert_time_rejected("2026-11-00T00:00:00Z");
    assert_time_rejected("2026-11-32T00:00:00Z");
    assert_time_rejected("2026-11-26T24:00:00Z");
    assert_time_rejected("2026-11-26T21:60:00Z");
    assert_time_rejected("2026-11-26T21:50:10+2:00");
    assert_time_rejected("2026-11-26T21:50:10+02:60");
    assert_time_rejected("2026/11/26T21:50:10Z");
    assert_time_rejected("+2026-11-26T21:50:10Z");
}

/* Days are checked against the month's length (leap years included). */
static void test_time_parse_rejects_days_past_the_end_of_the_month(void **state)
{
    (void)state;
    int64_t ms;
    const char *bad[] = {"2026-02-29T00:00:00Z", "2026-02-31T00:00:00Z", "2026-04-31T00:00:00Z",
                         "2100-02-29T00:00:00Z", "2026-01-01T00:00:60Z"};
    const char *good = "2028-02-29T00:00:00Z";
    assert_int_equal(time_parse_rfc3339(good, strlen(good), &ms), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (time_parse_rfc3339(bad[i], strlen(bad[i]), &ms) == 0) fail_msg("\"%s\" was accepted", bad[i]);
    }
}

static void test_time_format_round_trips_seconds(void **state)
{
    (void)state;
    char buf[32];
    time_format_rfc3339(1795729810123LL, buf);
    assert_string_equal(buf, "2026-11-26T21:50:10Z");
    assert_int_equal(parse_ok(buf), 1795729810000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_severity_parse_is_exact_lowercase_else_warning),
        cmocka_unit_test(test_severity_and_status_have_lowercase_names),
        cmocka_unit_test(test_fingerprint_is_sha256_of_name_namespace_kind_resource),
        cmocka_unit_test(test_fingerprint_of_cluster_scoped_resource_has_empty_namespace_field),
        cmocka_unit_test(test_fingerprint_of_a_long_resource_name_hashes_every_byte),
        cmocka_unit_test(test_fingerprint_ignores_severity_labels_and_times),
        cmocka_unit_test(test_am_fingerprint_of_empty_label_set_is_fnv_offset_basis),
        cmocka_unit_test(test_am_fingerprint_equals_alertmanager_for_a_captured_label_set),
        cmocka_unit_test(test_am_fingerprint_separates_names_from_values),
        cmocka_unit_test(test_map_sort_dedup_sorts_by_bytes_and_keeps_last_duplicate),
        cmocka_unit_test(test_map_sort_dedup_is_stable_for_large_maps),
        cmocka_unit_test(test_map_get_finds_every_key_and_null_for_absent),
        cmocka_unit_test(test_resource_id_has_namespace_unless_cluster_scoped),
        cmocka_unit_test(test_valid_signal_passes_validation),
        cmocka_unit_test(test_validation_requires_name_kind_and_resource_name),
        cmocka_unit_test(test_validation_checks_every_fingerprint_digit),
        cmocka_unit_test(test_validation_limits_name_and_namespace_to_253_bytes),
        cmocka_unit_test(test_validation_requires_a_64_hex_fingerprint),
        cmocka_unit_test(test_error_codes_and_http_statuses),
        cmocka_unit_test(test_utf8_truncate_never_splits_a_character),
        cmocka_unit_test(test_utf8_valid_rejects_overlongs_surrogates_and_truncation),
        cmocka_unit_test(test_time_parse_accepts_rfc3339_with_fraction_and_offset),
        cmocka_unit_test(test_time_parse_treats_go_zero_time_as_negative),
        cmocka_unit_test(test_time_parse_rejects_malformed_timestamps),
        cmocka_unit_test(test_time_parse_rejects_days_past_the_end_of_the_month),
        cmocka_unit_test(test_time_format_round_trips_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
