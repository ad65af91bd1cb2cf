/* test_suppress.c: suppress: rules (suppress.c) and Alertmanager's time intervals
 * (time_interval.c): the matcher syntax, each operator, anchoring, the fields and absent
 * labels, windows and weekly intervals at times the test gives, and the config loader's
 * messages for the suppress: list. */
#include "testutil.h"

#include <unistd.h>

#include "config.h"
#include "suppress.h"
#include "time_interval.h"
#include "util/err.h"
#include "util/timeutil.h"

static int64_t at(const char *rfc3339)
{
    int64_t ms = 0;
    if (time_parse_rfc3339(rfc3339, strlen(rfc3339), &ms)) fail_msg("bad test time %s", rfc3339);
    return ms;
}

static void expect_time(int64_t got, const char *want)
{
    char t[32];
    time_format_rfc3339(got, t);
    if (strcmp(t, want)) fail_msg("time: got %s, want %s", t, want);
}

/* a signal with name, namespace payments, Deployment/api, source prometheus, and labels
 * given as "k=v" strings (sorted here) */
typedef struct test_sig {
    sig_signal s;
    sig_kv     kv[8];
} test_sig;

static void make_sig(test_sig *t, const char *const *labels)
{
    memset(t, 0, sizeof *t);
    t->s.name = "KubePodCrashLooping";
    t->s.namespace = "payments";
    t->s.kind = "Deployment";
    t->s.res_name = "api";
    t->s.source = "prometheus";
    size_t n = 0;
    for (; labels && labels[n] && n < 8; n++) {
        const char *eq = strchr(labels[n], '=');
        t->kv[n].key = strndup(labels[n], (size_t)(eq - labels[n]));
        t->kv[n].value = eq + 1;
    }
    t->s.labels = (sig_map){t->kv, n};
    sig_map_sort_dedup(&t->s.labels);
}

static void free_sig(test_sig *t)
{
    for (size_t i = 0; i < t->s.labels.n; i++) free((char *)t->kv[i].key);
}

/* a set of one rule with the given matchers, always active (a window around everything) */
static suppress_set *rule_of(const char *matchers, char *err, size_t errlen)
{
    suppress_set *set = suppress_set_new();
    suppress_rule *r = suppress_rule_add(set, "r", err, errlen);
    if (suppress_rule_matchers(r, matchers, err, errlen) ||
        suppress_rule_window(r, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", err, errlen)) {
        suppress_set_free(set);
        return NULL;
    }
    return set;
}

static bool matches(const char *matchers, const char *const *labels)
{
    char err[256] = "";
    suppress_set *set = rule_of(matchers, err, sizeof err);
    if (!set) fail_msg("'%s' refused: %s", matchers, err);
    test_sig t;
    make_sig(&t, labels);
    bool m = suppress_rule_matches(&set->r[0], &t.s);
    free_sig(&t);
    suppress_set_free(set);
    return m;
}

static void refused(const char *matchers, const char *want)
{
    char err[256] = "";
    suppress_set *set = rule_of(matchers, err, sizeof err);
    if (set) fail_msg("'%s' accepted", matchers);
    if (!strstr(err, want)) fail_msg("'%s': message '%s' lacks '%s'", matchers, err, want);
}

static void test_matcher_syntax_accepts_alertmanagers_forms(void **state)
{
    const char *const l[] = {"team=db", "msg=a,b", "q=say \"hi\"\\", "nl=x\ny", NULL};
    assert_true(matches("team=\"db\"", l));
    assert_true(matches("team=db", l));                     /* unquoted */
    assert_true(matches("  team  =  \"db\"  ", l));          /* spaces around each token */
    assert_true(matches("{team=\"db\", alertname=~\"Kube.*\"}", NULL) == false);   /* no team label */
    assert_true(matches("{team=\"db\", msg=~\"a,.*\"}", l));   /* a comma inside quotes */
    assert_true(matches("team=db,", l));                     /* a trailing comma */
    assert_true(matches("q=\"say \\\"hi\\\"\\\\\"", l));      /* \" and \\ escapes */
    assert_true(matches("nl=\"x\\ny\"", l));                 /* \n */
    char err[256];
    suppress_set *sp = rule_of("team=\"d\\b\"", err, sizeof err);   /* a spurious escape stays a backslash */
    assert_string_equal(sp->r[0].m[0].value, "d\\b");
    suppress_set_free(sp);
    suppress_set *set = rule_of("{a=\"1\", b!=\"2\", c=~\"3\", d!~\"4\"}", err, sizeof err);
    assert_non_null(set);
    const suppress_rule *r = &set->r[0];
    assert_int_equal(r->n_m, 4);
    assert_int_equal(r->n_written, 1);
    assert_string_equal(r->written[0], "{a=\"1\", b!=\"2\", c=~\"3\", d!~\"4\"}");
    static const suppress_op ops[] = {SUPPRESS_EQ, SUPPRESS_NE, SUPPRESS_RE, SUPPRESS_NRE};
    for (int i = 0; i < 4; i++) assert_int_equal(r->m[i].op, ops[i]);
    assert_string_equal(r->m[2].name, "c");
    assert_string_equal(r->m[2].value, "3");
    suppress_set_free(set);
}

static void test_matcher_syntax_refuses_what_alertmanager_refuses(void **state)
{
    refused("1team=db", "is not a matcher");
    refused("team~db", "is not a matcher");
    refused("=db", "is not a matcher");
    refused("team=\"db", "closing '\"' is missing");
    refused("team=d\"b", "unescaped '\"'");
    refused("team=\"d\"b\"", "unescaped '\"'");
    refused("a=b,,c=d", "is not a matcher");   /* an empty matcher between commas */
    refused("{}", "holds no matcher");
    refused("", "holds no matcher");
    refused("a=\"\xff\"", "not valid UTF-8");
    /* a regex regcomp refuses: its message, naming the matcher */
    refused("team=~\"(\"", "not a POSIX extended regex");
    refused("team=~\"a{2,1}\"", "not a POSIX extended regex");
}

static void test_each_operator_and_full_anchoring(void **state)
{
    const char *const l[] = {"alertname=DiskFull", "severity=warning", NULL};
    assert_true(matches("alertname=\"DiskFull\"", l));
    assert_false(matches("alertname=\"Disk\"", l));
    assert_true(matches("alertname!=\"Disk\"", l));
    assert_false(matches("alertname!=\"DiskFull\"", l));
    assert_true(matches("alertname=~\"Disk.*\"", l));
    assert_false(matches("alertname=~\"Disk\"", l));          /* anchored at the end */
    assert_false(matches("alertname=~\"Full\"", l));          /* and at the start */
    assert_true(matches("alertname=~\"Mem|DiskFull\"", l));   /* the alternation is grouped: ^(a|b)$ */
    assert_false(matches("alertname=~\"Mem|Disk\"", l));
    assert_true(matches("alertname!~\"Mem.*\"", l));
    assert_false(matches("alertname!~\"Disk.*\"", l));
    assert_true(matches("severity=~\"warning|critical\", alertname=DiskFull", l));
    assert_false(matches("severity=~\"warning|critical\", alertname=Other", l));   /* all must match */
}

static void test_absent_label_is_the_empty_string(void **state)
{
    const char *const l[] = {"alertname=DiskFull", NULL};
    assert_true(matches("alertname=DiskFull, team=\"\"", l));
    assert_false(matches("alertname=DiskFull, team!=\"\"", l));
    assert_true(matches("alertname=DiskFull, team!=\"db\"", l));
    assert_true(matches("alertname=DiskFull, team=~\"db|\"", l));
    assert_false(matches("alertname=DiskFull, team=~\".+\"", l));
}

static void test_fields_come_before_labels_of_the_same_name(void **state)
{
    /* the signal: namespace payments, Deployment api, source prometheus; labels that
     * claim otherwise are not what a matcher of these names reads */
    const char *const l[] = {"namespace=other", "kind=Pod", "resource=api-1", "source=grafana", NULL};
    assert_true(matches("namespace=payments", l));
    assert_false(matches("namespace=other", l));
    assert_true(matches("kind=Deployment, resource=api, source=prometheus", l));
    assert_false(matches("kind=Pod", l));
    assert_false(matches("resource=\"api-1\"", l));
    assert_false(matches("source=grafana", l));
    /* a cluster-scoped signal: namespace is "" */
    test_sig t;
    make_sig(&t, NULL);
    t.s.namespace = NULL;
    char err[256];
    suppress_set *set = rule_of("namespace=\"\", kind=Deployment", err, sizeof err);
    assert_true(suppress_rule_matches(&set->r[0], &t.s));
    suppress_set_free(set);
}

static void test_a_rule_must_not_match_everything(void **state)
{
    char err[256] = "";
    suppress_set *set = suppress_set_new();
    suppress_rule *r = suppress_rule_add(set, "r", err, sizeof err);
    assert_int_equal(suppress_rule_matchers(r, "severity!=\"critical\", team=~\".*\"", err, sizeof err), 0);
    assert_int_equal(suppress_rule_window(r, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", err, sizeof err), 0);
    assert_int_equal(suppress_rule_check(r, err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "every one matches the empty string"));
    assert_int_equal(suppress_rule_matchers(r, "namespace=payments", err, sizeof err), 0);
    assert_int_equal(suppress_rule_check(r, err, sizeof err), 0);
    assert_int_equal(r->n_written, 2);
    suppress_set_free(set);
}

static void test_rule_names_are_a_safe_charset_and_unique(void **state)
{
    char err[256] = "";
    suppress_set *set = suppress_set_new();
    assert_non_null(suppress_rule_add(set, "db-maintenance_2.night", err, sizeof err));
    assert_null(suppress_rule_add(set, "db-maintenance_2.night", err, sizeof err));
    assert_non_null(strstr(err, "a second rule of this name"));
    static const char *const bad[] = {"", "a\"b", "a b", "-a", "a-", "näme",
                                      "a234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (suppress_rule_add(set, bad[i], err, sizeof err)) fail_msg("name '%s' accepted", bad[i]);
        assert_non_null(strstr(err, "is not a rule name"));
    }
    assert_int_equal(set->n, 1);
    suppress_set_free(set);
}

static void test_window_is_start_inclusive_end_exclusive(void **state)
{
    char err[256] = "";
    suppress_set *set = suppress_set_new();
    suppress_rule *r = suppress_rule_add(set, "w", err, sizeof err);
    assert_int_equal(suppress_rule_matchers(r, "namespace=payments", err, sizeof err), 0);
    assert_int_equal(suppress_rule_window(r, "2026-12-06T22:00:00Z", "2026-12-07T00:00:00+01:00", err, sizeof err), 0);
    assert_int_equal(suppress_rule_check(r, err, sizeof err), 0);
    test_sig t;
    make_sig(&t, NULL);
    assert_false(suppress_rule_active(r, at("2026-12-06T21:59:59.999Z")));   /* not yet */
    assert_true(suppress_rule_active(r, at("2026-12-06T22:00:00Z")));
    assert_true(suppress_rule_active(r, at("2026-12-06T22:59:59.999Z")));
    assert_false(suppress_rule_active(r, at("2026-12-06T23:00:00Z")));       /* ends_at: expired */
    assert_ptr_equal(suppress_match(set, &t.s, at("2026-12-06T22:30:00Z")), r);
    assert_null(suppress_match(set, &t.s, at("2026-12-07T10:00:00Z")));
    expect_time(suppress_rule_next_change(r, at("2026-12-06T12:00:00Z")), "2026-12-06T22:00:00Z");
    expect_time(suppress_rule_next_change(r, at("2026-12-06T22:30:00Z")), "2026-12-06T23:00:00Z");
    assert_int_equal(suppress_rule_next_change(r, at("2026-12-07T00:00:00Z")), 0);
    /* refused windows */
    assert_int_equal(suppress_rule_window(r, "2026-12-06T22:00:00Z", "2026-12-06T22:00:00Z", err, sizeof err),
                     SGW_E_INVALID);
    assert_non_null(strstr(err, "ends_at is not after starts_at"));
    assert_int_equal(suppress_rule_window(r, "tonight", "2026-12-06T22:00:00Z", err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "starts_at 'tonight'"));
    assert_int_equal(suppress_rule_window(r, NULL, "2026-12-06T22:00:00Z", err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "starts_at is missing"));
    free_sig(&t);
    suppress_set_free(set);
}

static bool in(const time_interval *ti, const char *when)
{
    ti_when w;
    time_interval_when(at(when), &w);
    return time_interval_contains(ti, &w);
}

static void add(time_interval *ti, ti_field f, const char *text)
{
    char err[256];
    if (time_interval_add(ti, f, text, err, sizeof err)) fail_msg("'%s' refused: %s", text, err);
}

static void add_refused(ti_field f, const char *text, const char *want)
{
    time_interval ti = {0};
    char err[256] = "";
    if (!time_interval_add(&ti, f, text, err, sizeof err)) fail_msg("'%s' accepted", text);
    if (!strstr(err, want)) fail_msg("'%s': message '%s' lacks '%s'", text, err, want);
}

static void test_times_are_start_inclusive_end_exclusive_within_a_day(void **state)
{
    time_interval ti = {0};
    char err[256];
    assert_int_equal(time_interval_add_times(&ti, "09:00", "17:00", err, sizeof err), 0);
    assert_false(in(&ti, "2026-12-07T08:59:59Z"));
    assert_true(in(&ti, "2026-12-07T09:00:00Z"));
    assert_true(in(&ti, "2026-12-07T16:59:59Z"));
    assert_false(in(&ti, "2026-12-07T17:00:00Z"));
    /* until midnight: 24:00 is the one hour 24 */
    assert_int_equal(time_interval_add_times(&ti, "22:00", "24:00", err, sizeof err), 0);
    assert_true(in(&ti, "2026-12-07T23:59:59Z"));
    assert_false(in(&ti, "2026-12-08T00:00:00Z"));
    /* ranges never wrap midnight (Alertmanager's rule) */
    assert_int_equal(time_interval_add_times(&ti, "22:00", "02:00", err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "never wraps midnight"));
    assert_int_equal(time_interval_add_times(&ti, "10:00", "10:00", err, sizeof err), SGW_E_INVALID);
    static const char *const bad[] = {"24:01", "9:00", "09:60", "25:00", "09-00", "", "0900 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!time_interval_add_times(&ti, bad[i], "23:00", err, sizeof err)) fail_msg("'%s' accepted", bad[i]);
    assert_int_equal(time_interval_add_times(&ti, NULL, "23:00", err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "both required"));
}

static void test_weekday_ranges(void **state)
{
    time_interval ti = {0};
    add(&ti, TI_WEEKDAYS, "Monday:friday");   /* names are case-insensitive */
    assert_true(in(&ti, "2026-12-07T00:00:00Z"));    /* Monday */
    assert_true(in(&ti, "2026-12-11T23:59:59Z"));    /* Friday */
    assert_false(in(&ti, "2026-12-12T00:00:00Z"));   /* Saturday */
    assert_false(in(&ti, "2026-12-06T12:00:00Z"));   /* Sunday */
    time_interval we = {0};
    add(&we, TI_WEEKDAYS, "saturday");
    add(&we, TI_WEEKDAYS, "sunday");
    assert_true(in(&we, "2026-12-06T12:00:00Z"));
    assert_true(in(&we, "2026-12-12T12:00:00Z"));
    assert_false(in(&we, "2026-12-07T12:00:00Z"));
    /* a range does not wrap the week: Sunday is day 0 (Alertmanager's order) */
    add_refused(TI_WEEKDAYS, "saturday:sunday", "end of the range is before its start");
    add_refused(TI_WEEKDAYS, "funday", "is not a weekday name");
    add_refused(TI_WEEKDAYS, "1", "is not a weekday name");
}

static void test_days_of_month_with_negatives_clamped_to_the_month(void **state)
{
    time_interval last = {0};
    add(&last, TI_DAYS_OF_MONTH, "-1");
    assert_true(in(&last, "2026-11-30T12:00:00Z"));
    assert_false(in(&last, "2026-11-29T12:00:00Z"));
    assert_true(in(&last, "2026-12-31T12:00:00Z"));
    assert_true(in(&last, "2028-02-29T12:00:00Z"));    /* a leap year */
    assert_false(in(&last, "2028-02-28T12:00:00Z"));
    assert_true(in(&last, "2027-02-28T12:00:00Z"));
    time_interval range = {0};
    add(&range, TI_DAYS_OF_MONTH, "-3:-1");
    add(&range, TI_DAYS_OF_MONTH, "1:2");
    assert_true(in(&range, "2026-11-28T00:00:00Z"));
    assert_false(in(&range, "2026-11-27T23:59:59Z"));
    assert_true(in(&range, "2026-12-02T00:00:00Z"));
    assert_false(in(&range, "2026-12-03T00:00:00Z"));
    time_interval d31 = {0};
    add(&d31, TI_DAYS_OF_MONTH, "31");   /* not in a month of 30 days */
    assert_false(in(&d31, "2026-11-30T12:00:00Z"));
    assert_true(in(&d31, "2026-12-31T12:00:00Z"));
    time_interval whole = {0};
    add(&whole, TI_DAYS_OF_MONTH, "1:-1");
    assert_true(in(&whole, "2026-02-28T12:00:00Z"));
    assert_true(in(&whole, "2026-02-01T00:00:00Z"));
    add_refused(TI_DAYS_OF_MONTH, "0", "1..31 or -31..-1");
    add_refused(TI_DAYS_OF_MONTH, "32", "1..31 or -31..-1");
    add_refused(TI_DAYS_OF_MONTH, "-32", "1..31 or -31..-1");
    add_refused(TI_DAYS_OF_MONTH, "-5:3", "must be negative");
    add_refused(TI_DAYS_OF_MONTH, "5:1", "before the start day");
    add_refused(TI_DAYS_OF_MONTH, "-1:-3", "before the start day");
    add_refused(TI_DAYS_OF_MONTH, "first", "is not a day of the month");
}

static void test_months_and_years(void **state)
{
    time_interval q1 = {0};
    add(&q1, TI_MONTHS, "January:march");
    add(&q1, TI_MONTHS, "12");
    assert_true(in(&q1, "2026-01-01T00:00:00Z"));
    assert_true(in(&q1, "2026-03-31T23:59:59Z"));
    assert_false(in(&q1, "2026-04-01T00:00:00Z"));
    assert_true(in(&q1, "2026-12-15T00:00:00Z"));
    time_interval num = {0};
    add(&num, TI_MONTHS, "2:3");
    assert_true(in(&num, "2026-02-15T00:00:00Z"));
    assert_false(in(&num, "2026-01-15T00:00:00Z"));
    add_refused(TI_MONTHS, "march:january", "before its start");
    add_refused(TI_MONTHS, "13", "a month is 1..12");
    add_refused(TI_MONTHS, "0", "a month is 1..12");
    add_refused(TI_MONTHS, "smarch", "is not a month");
    time_interval y = {0};
    add(&y, TI_YEARS, "2026:2027");
    assert_true(in(&y, "2026-01-01T00:00:00Z"));
    assert_true(in(&y, "2027-12-31T23:59:59Z"));
    assert_false(in(&y, "2028-01-01T00:00:00Z"));
    assert_false(in(&y, "2025-12-31T23:59:59Z"));
    add_refused(TI_YEARS, "2027:2026", "before its start");
    add_refused(TI_YEARS, "-2026", "is not a year");
    /* every field together: the business hours of Q1 2027's weekdays */
    time_interval all = {0};
    char err[256];
    assert_int_equal(time_interval_add_times(&all, "09:00", "17:00", err, sizeof err), 0);
    add(&all, TI_WEEKDAYS, "monday:friday");
    add(&all, TI_MONTHS, "january:march");
    add(&all, TI_YEARS, "2027");
    assert_true(in(&all, "2027-02-03T10:00:00Z"));    /* a Wednesday */
    assert_false(in(&all, "2027-02-06T10:00:00Z"));   /* a Saturday */
    assert_false(in(&all, "2027-02-03T18:00:00Z"));
    assert_false(in(&all, "2026-02-04T10:00:00Z"));
    assert_false(in(&all, "2027-04-07T10:00:00Z"));
}

static void test_ranges_per_field_are_bounded(void **state)
{
    time_interval ti = {0};
    for (int i = 0; i < TI_MAX_RANGES; i++) add(&ti, TI_YEARS, "2026");
    char err[256];
    assert_int_equal(time_interval_add(&ti, TI_YEARS, "2026", err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "more than"));
}

static void test_weekly_rule_first_match_and_next_change(void **state)
{
    char err[256] = "";
    suppress_set *set = suppress_set_new();
    suppress_rule *biz = suppress_rule_add(set, "business-hours", err, sizeof err);
    assert_int_equal(suppress_rule_matchers(biz, "namespace=payments", err, sizeof err), 0);
    time_interval *ti = suppress_rule_interval(biz);
    assert_int_equal(time_interval_add_times(ti, "09:00", "17:00", err, sizeof err), 0);
    add(ti, TI_WEEKDAYS, "monday:friday");
    assert_int_equal(suppress_rule_check(biz, err, sizeof err), 0);
    suppress_rule *all = suppress_rule_add(set, "all-week", err, sizeof err);
    assert_int_equal(suppress_rule_matchers(all, "kind=Deployment", err, sizeof err), 0);
    suppress_rule_interval(all);   /* an empty interval: always */
    assert_int_equal(suppress_rule_check(all, err, sizeof err), 0);
    biz = &set->r[0];   /* the add moved the rules */
    test_sig t;
    make_sig(&t, NULL);
    /* both match: the first in file order answers while it is active */
    assert_ptr_equal(suppress_match(set, &t.s, at("2026-12-07T10:00:00Z")), biz);
    assert_ptr_equal(suppress_match(set, &t.s, at("2026-12-07T18:00:00Z")), all);
    t.s.kind = "StatefulSet";
    assert_null(suppress_match(set, &t.s, at("2026-12-07T18:00:00Z")));
    assert_null(suppress_match(NULL, &t.s, at("2026-12-07T18:00:00Z")));
    expect_time(suppress_rule_next_change(biz, at("2026-12-07T08:59:30Z")), "2026-12-07T09:00:00Z");
    expect_time(suppress_rule_next_change(biz, at("2026-12-07T09:00:00Z")), "2026-12-07T17:00:00Z");
    expect_time(suppress_rule_next_change(biz, at("2026-12-11T17:00:00Z")), "2026-12-14T09:00:00Z");   /* Fri → Mon */
    assert_int_equal(suppress_rule_next_change(all, at("2026-12-07T10:00:00Z")), 0);   /* never changes */
    free_sig(&t);
    suppress_set_free(set);
}

/* Europe/Berlin: CET (+1) to CEST (+2) at 2026-03-29T01:00Z, back at 2026-10-25T01:00Z; both Sundays */
static void test_interval_in_a_location_across_dst_changes(void **state)
{
    char err[256] = "";
    suppress_set *set = suppress_set_new();
    suppress_rule *r = suppress_rule_add(set, "sunday-night", err, sizeof err);
    assert_int_equal(suppress_rule_matchers(r, "namespace=payments", err, sizeof err), 0);
    time_interval *ti = suppress_rule_interval(r);
    assert_int_equal(time_interval_add_times(ti, "01:00", "03:30", err, sizeof err), 0);
    add(ti, TI_WEEKDAYS, "sunday");
    if (suppress_set_zone(set, "Europe/Berlin", &ti->zone, err, sizeof err)) fail_msg("%s", err);
    const tz_zone *berlin = ti->zone;
    suppress_rule *d = suppress_rule_add(set, "sunday", err, sizeof err);
    assert_int_equal(suppress_rule_matchers(d, "namespace=payments", err, sizeof err), 0);
    ti = suppress_rule_interval(d);
    add(ti, TI_WEEKDAYS, "sunday");
    assert_int_equal(suppress_set_zone(set, "Europe/Berlin", &ti->zone, err, sizeof err), 0);
    assert_ptr_equal(ti->zone, berlin);   /* one zone table per set, shared */
    assert_int_equal(set->n_zones, 1);
    r = &set->r[0];
    /* a week before the change: 01:00..03:30 CET is 00:00..02:30Z */
    assert_false(suppress_rule_active(r, at("2026-03-21T23:59:59Z")));
    assert_true(suppress_rule_active(r, at("2026-03-22T00:00:00Z")));
    assert_true(suppress_rule_active(r, at("2026-03-22T02:29:59Z")));
    assert_false(suppress_rule_active(r, at("2026-03-22T02:30:00Z")));
    expect_time(suppress_rule_next_change(r, at("2026-03-22T01:00:00Z")), "2026-03-22T02:30:00Z");
    /* spring forward: 01:00 CET is 00:00Z, 03:30 CEST is 01:30Z (02:00..03:00 never happens) */
    expect_time(suppress_rule_next_change(r, at("2026-03-22T02:30:00Z")), "2026-03-29T00:00:00Z");
    assert_true(suppress_rule_active(r, at("2026-03-29T01:00:00Z")));
    assert_true(suppress_rule_active(r, at("2026-03-29T01:29:59Z")));
    assert_false(suppress_rule_active(r, at("2026-03-29T01:30:00Z")));
    assert_false(suppress_rule_active(r, at("2026-03-29T02:00:00Z")));   /* in UTC it would be active */
    expect_time(suppress_rule_next_change(r, at("2026-03-29T00:30:00Z")), "2026-03-29T01:30:00Z");
    expect_time(suppress_rule_next_change(r, at("2026-03-29T01:30:00Z")), "2026-04-04T23:00:00Z");
    /* fall back: 01:00 CEST is 23:00Z the day before, 03:30 CET is 02:30Z; the offset change
     * at 01:00Z inside the window changes nothing */
    assert_true(suppress_rule_active(r, at("2026-10-24T23:00:00Z")));
    assert_true(suppress_rule_active(r, at("2026-10-25T01:00:00Z")));
    expect_time(suppress_rule_next_change(r, at("2026-10-24T23:30:00Z")), "2026-10-25T02:30:00Z");
    /* the weekday is Berlin's: Saturday 23:30Z is Sunday 00:30 CET */
    test_sig t;
    make_sig(&t, NULL);
    assert_ptr_equal(suppress_match(set, &t.s, at("2026-03-21T23:30:00Z")), &set->r[1]);
    assert_null(suppress_match(set, &t.s, at("2026-03-21T22:59:59Z")));
    expect_time(suppress_rule_next_change(&set->r[1], at("2026-03-21T12:00:00Z")), "2026-03-21T23:00:00Z");
    expect_time(suppress_rule_next_change(&set->r[1], at("2026-03-21T23:00:00Z")), "2026-03-22T23:00:00Z");
    expect_time(suppress_rule_next_change(&set->r[1], at("2026-03-22T23:00:00Z")), "2026-03-28T23:00:00Z");
    /* that Sunday is 23 hours long: it ends at Monday 00:00 CEST */
    expect_time(suppress_rule_next_change(&set->r[1], at("2026-03-28T23:00:00Z")), "2026-03-29T22:00:00Z");
    free_sig(&t);
    /* UTC is no zone; Local and unknown names are refused */
    const tz_zone *z = berlin;
    assert_int_equal(suppress_set_zone(set, "UTC", &z, err, sizeof err), 0);
    assert_null(z);
    assert_int_equal(suppress_set_zone(set, "Local", &z, err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "'Local' is not supported"));
    assert_int_equal(suppress_set_zone(set, "Mars/Olympus_Mons", &z, err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "unknown time zone 'Mars/Olympus_Mons'"));
    assert_int_equal(set->n_zones, 1);
    suppress_set_free(set);
}

/* ---- the config's suppress: list -------------------------------------------------------------- */

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/sgw-test-suppress-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static config *load(const char *yaml, char *err, size_t errlen)
{
    char *p = write_tmp(yaml);
    char *envp[] = {NULL};
    config *c = config_load(p, envp, err, errlen);
    unlink(p);
    free(p);
    return c;
}

static void test_config_loads_windows_and_intervals(void **state)
{
    char err[512] = "";
    config *c = load("suppress:\n"
                     "  - name: db-maintenance\n"
                     "    matchers:\n"
                     "      - namespace=\"payments\"\n"
                     "      - '{alertname=~\"Postgres.*\", severity!=\"critical\"}'\n"
                     "    starts_at: 2026-12-06T22:00:00Z\n"
                     "    ends_at: 2026-12-07T02:00:00Z\n"
                     "  - name: nightly\n"
                     "    matchers: [kind=CronJob]\n"
                     "    time_intervals:\n"
                     "      - times: [{start_time: '00:00', end_time: '06:00'}]\n"
                     "        weekdays: [monday:friday]\n"
                     "        location: UTC\n"
                     "      - days_of_month: ['-1']\n"
                     "        location: America/New_York\n"
                     "      - weekdays: [saturday]\n"
                     "        location: America/New_York\n",
                     err, sizeof err);
    if (!c) fail_msg("refused: %s", err);
    assert_non_null(c->suppress);
    assert_int_equal(c->suppress->n, 2);
    const suppress_rule *a = &c->suppress->r[0], *b = &c->suppress->r[1];
    assert_string_equal(a->name, "db-maintenance");
    assert_int_equal(a->n_m, 3);
    assert_true(a->has_window);
    assert_int_equal(a->starts_ms, at("2026-12-06T22:00:00Z"));
    assert_int_equal(b->n_iv, 3);
    assert_null(b->iv[0].zone);
    assert_non_null(b->iv[1].zone);
    assert_ptr_equal(b->iv[1].zone, b->iv[2].zone);
    assert_string_equal(tz_name(b->iv[1].zone), "America/New_York");
    assert_int_equal(b->iv[0].n[TI_TIMES], 1);
    assert_int_equal(b->iv[0].n[TI_WEEKDAYS], 1);
    assert_int_equal(b->iv[1].n[TI_DAYS_OF_MONTH], 1);
    assert_int_equal(config_validate(c, err, sizeof err), 0);
    char dump[4096];
    config_dump(c, dump, sizeof dump);
    assert_non_null(strstr(dump, "suppress[0]: name=db-maintenance"));
    assert_non_null(strstr(dump, "suppress[1]: name=nightly"));
    assert_non_null(strstr(dump, "time_intervals=3 (UTC America/New_York America/New_York)"));
    config_free(c);
    /* no suppress: section, no rules */
    c = load("dedup:\n  ttl: 2m\n", err, sizeof err);
    assert_null(c->suppress);
    config_free(c);
}

static void expect_refused(const char *yaml, const char *want1, const char *want2)
{
    char err[512] = "";
    config *c = load(yaml, err, sizeof err);
    if (c) fail_msg("accepted:\n%s", yaml);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err, want1, want2 ? want2 : "");
}

#define WINDOW "    starts_at: 2026-12-06T22:00:00Z\n    ends_at: 2026-12-07T02:00:00Z\n"

static void test_config_refuses_a_bad_rule_naming_entry_and_key(void **state)
{
    expect_refused("suppress:\n  - name: a\n    matchers: [x=y]\n" WINDOW "  - name: bad-re\n    matchers: ['x=~\"(\"']\n" WINDOW,
                   "suppress[1] (bad-re).matchers[0]", "not a POSIX extended regex");
    expect_refused("suppress:\n  - name: t\n    matchers: [x=y]\n    time_intervals:\n"
                   "      - times: [{start_time: '25:00', end_time: '26:00'}]\n",
                   "suppress[0] (t).time_intervals[0].times[0]", "HH:MM");
    expect_refused("suppress:\n  - name: both\n    matchers: [x=y]\n" WINDOW "    time_intervals: [{weekdays: [monday]}]\n",
                   "suppress[0] (both).time_intervals", "not both");
    expect_refused("suppress:\n  - name: a\n    matchers: [x=y]\n" WINDOW "  - name: a\n    matchers: [x=z]\n" WINDOW,
                   "suppress[1].name", "a second rule of this name");
    expect_refused("suppress:\n  - name: tz\n    matchers: [x=y]\n    time_intervals: [{location: Europe/Atlantis}]\n",
                   "suppress[0] (tz).time_intervals[0].location", "unknown time zone 'Europe/Atlantis'");
    expect_refused("suppress:\n  - name: tz\n    matchers: [x=y]\n    time_intervals: [{location: ../../etc/passwd}]\n",
                   "suppress[0] (tz).time_intervals[0].location", "not an IANA time zone name");
    expect_refused("suppress:\n  - name: tz\n    matchers: [x=y]\n    time_intervals: [{location: /etc/localtime}]\n",
                   "suppress[0] (tz).time_intervals[0].location", "not an IANA time zone name");
    expect_refused("suppress:\n  - name: tz\n    matchers: [x=y]\n    time_intervals: [{location: Local}]\n",
                   "suppress[0] (tz).time_intervals[0].location", "'Local' is not supported");
    expect_refused("suppress:\n  - name: tz\n    matchers: [x=y]\n    time_intervals: [{location: [Europe/Berlin]}]\n",
                   "suppress[0] (tz).time_intervals[0].location", "must be a time zone name");
    expect_refused("suppress:\n  - name: wd\n    matchers: [x=y]\n    time_intervals: [{weekdays: [someday]}]\n",
                   "suppress[0] (wd).time_intervals[0].weekdays[0]", "is not a weekday name");
    expect_refused("suppress:\n  - name: w\n    matchers: [x=y]\n    starts_at: soon\n    ends_at: 2026-12-07T02:00:00Z\n",
                   "suppress[0] (w)", "starts_at 'soon' is not an RFC 3339 time");
    expect_refused("suppress:\n  - name: w\n    matchers: [x=y]\n    ends_at: 2026-12-07T02:00:00Z\n",
                   "suppress[0] (w)", "starts_at is missing");
    expect_refused("suppress:\n  - name: none\n    matchers: [x=y]\n", "suppress[0] (none)",
                   "starts_at/ends_at or time_intervals is required");
    expect_refused("suppress:\n  - name: nom\n" WINDOW, "suppress[0] (nom).matchers is required", NULL);
    expect_refused("suppress:\n  - name: all\n    matchers: ['x!=y']\n" WINDOW, "suppress[0] (all).matchers",
                   "every one matches the empty string");
    expect_refused("suppress:\n  - matchers: [x=y]\n" WINDOW, "suppress[0].name", "is required");
    expect_refused("suppress:\n  - name: k\n    matchers: [x=y]\n    until: tomorrow\n" WINDOW, "suppress[0] (k).until",
                   "unknown key");
    expect_refused("suppress:\n  - name: k\n    matchers: x=y\n" WINDOW, "suppress[0] (k).matchers", "must be a list");
    expect_refused("suppress:\n  name: k\n", "suppress must be a list", NULL);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
    const struct CMUnitTest tests[] = {
        T(test_matcher_syntax_accepts_alertmanagers_forms),
        T(test_matcher_syntax_refuses_what_alertmanager_refuses),
        T(test_each_operator_and_full_anchoring),
        T(test_absent_label_is_the_empty_string),
        T(test_fields_come_before_labels_of_the_same_name),
        T(test_a_rule_must_not_match_everything),
        T(test_rule_names_are_a_safe_charset_and_unique),
        T(test_window_is_start_inclusive_end_exclusive),
        T(test_times_are_start_inclusive_end_exclusive_within_a_day),
        T(test_weekday_ranges),
        T(test_days_of_month_with_negatives_clamped_to_the_month),
        T(test_months_and_years),
        T(test_ranges_per_field_are_bounded),
        T(test_weekly_rule_first_match_and_next_change),
        T(test_interval_in_a_location_across_dst_changes),
        T(test_config_loads_windows_and_intervals),
        T(test_config_refuses_a_bad_rule_naming_entry_and_key),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
