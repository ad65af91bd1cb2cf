/* test_tz.c: TZif zone files (tz.c): offsets and their changes from the transition table and
 * from the footer's POSIX rule, names refused, and files that are not TZif or are cut short.
 * The instants below are Debian's `zdump -v -c 2026,2027 <zone>` (and 2050,2051 for the rule).
 * With `--offsets` it reads "zone seconds" lines and prints "zone seconds offset" lines:
 * tests/integration/test_tz.py compares those with Python's zoneinfo. */
#include "testutil.h"

#include <stdio.h>
#include <unistd.h>

#include "tz.h"
#include "util/timeutil.h"

static int64_t at_s(const char *rfc3339)
{
    int64_t ms = 0;
    if (time_parse_rfc3339(rfc3339, strlen(rfc3339), &ms)) fail_msg("bad test time %s", rfc3339);
    return ms / 1000;
}

static tz_zone *must_load(const char *name)
{
    char err[256] = "";
    tz_zone *z = tz_load(name, err, sizeof err);
    if (!z) fail_msg("%s: %s", name, err);
    return z;
}

static void expect_offset(const tz_zone *z, const char *t, int32_t want)
{
    int32_t got = tz_offset(z, at_s(t));
    if (got != want) fail_msg("%s at %s: offset %d, want %d", tz_name(z), t, (int)got, (int)want);
}

static void test_table_offsets_and_changes(void **state)
{
    tz_zone *z = must_load("Europe/Berlin");
    expect_offset(z, "2026-03-29T00:59:59Z", 3600);
    expect_offset(z, "2026-03-29T01:00:00Z", 7200);
    expect_offset(z, "2026-10-25T00:59:59Z", 7200);
    expect_offset(z, "2026-10-25T01:00:00Z", 3600);
    assert_int_equal(tz_next_change(z, at_s("2026-01-01T00:00:00Z")), at_s("2026-03-29T01:00:00Z"));
    assert_int_equal(tz_next_change(z, at_s("2026-03-29T01:00:00Z")), at_s("2026-10-25T01:00:00Z"));
    tz_free(z);
    z = must_load("Asia/Kathmandu");   /* +05:45, no DST since 1986 */
    expect_offset(z, "2026-06-01T00:00:00Z", 5 * 3600 + 45 * 60);
    expect_offset(z, "2040-06-01T00:00:00Z", 5 * 3600 + 45 * 60);   /* the footer's rule */
    tz_free(z);
    z = must_load("UTC");
    expect_offset(z, "2026-06-01T00:00:00Z", 0);
    tz_free(z);
}

static void test_footer_rule_after_the_table(void **state)
{
    tz_zone *z = must_load("Europe/Berlin");   /* Debian's fat files end in 2037 */
    expect_offset(z, "2050-03-27T00:59:59Z", 3600);
    expect_offset(z, "2050-03-27T01:00:00Z", 7200);
    expect_offset(z, "2050-10-30T00:59:59Z", 7200);
    expect_offset(z, "2050-10-30T01:00:00Z", 3600);
    assert_int_equal(tz_next_change(z, at_s("2050-01-01T00:00:00Z")), at_s("2050-03-27T01:00:00Z"));
    assert_int_equal(tz_next_change(z, at_s("2050-03-27T01:00:00Z")), at_s("2050-10-30T01:00:00Z"));
    tz_free(z);
    z = must_load("Australia/Lord_Howe");   /* southern, DST of 30 minutes: <+1030>-10:30<+11>-11,M10.1.0,M4.1.0 */
    expect_offset(z, "2050-04-02T14:59:59Z", 39600);
    expect_offset(z, "2050-04-02T15:00:00Z", 37800);
    expect_offset(z, "2050-10-01T15:29:59Z", 37800);
    expect_offset(z, "2050-10-01T15:30:00Z", 39600);
    expect_offset(z, "2050-12-31T23:00:00Z", 39600);
    assert_int_equal(tz_next_change(z, at_s("2050-06-01T00:00:00Z")), at_s("2050-10-01T15:30:00Z"));
    tz_free(z);
}

static void expect_name_refused(const char *name, const char *want)
{
    char err[256] = "";
    tz_zone *z = tz_load(name, err, sizeof err);
    if (z) {
        tz_free(z);
        fail_msg("'%s' accepted", name);
    }
    if (!strstr(err, want)) fail_msg("'%s': message '%s' lacks '%s'", name, err, want);
}

static void test_names_outside_the_zone_directory_are_refused(void **state)
{
    expect_name_refused("../../../etc/passwd", "not an IANA time zone name");
    expect_name_refused("Europe/../../etc/passwd", "not an IANA time zone name");
    expect_name_refused("/etc/localtime", "not an IANA time zone name");
    expect_name_refused("Europe/Berlin ", "not an IANA time zone name");
    expect_name_refused("", "not an IANA time zone name");
    expect_name_refused("Europe/Atlantis", "unknown time zone 'Europe/Atlantis'");
    expect_name_refused("Europe", "Europe");   /* a directory: not a zone file */
    expect_name_refused("zone.tab", "not an IANA time zone name");
    expect_name_refused("tzdata.zi", "not an IANA time zone name");
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 16);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void test_not_tzif_or_cut_short_is_refused(void **state)
{
    char err[256];
    size_t n;
    unsigned char *buf = read_all(TZ_DIR "/Australia/Lord_Howe", &n);
    tz_zone *z = tz_parse(buf, n, "whole", err, sizeof err);
    if (!z) fail_msg("the whole file refused: %s", err);
    tz_free(z);
    /* every shorter prefix: the footer's closing newline is the last byte, so none is whole */
    for (size_t k = 0; k < n; k++) {
        unsigned char *cut = malloc(k ? k : 1);   /* its own allocation: ASan sees any overread */
        memcpy(cut, buf, k);
        z = tz_parse(cut, k, "cut", err, sizeof err);
        free(cut);
        if (z) {
        tz_free(z);
        fail_msg("a prefix of %zu of %zu bytes accepted", k, n);
    }
    }
    /* a transition pointing at a type that does not exist; a footer that is not a rule */
    unsigned char *bad = malloc(n);
    memcpy(bad, buf, n);
    memcpy(bad + n - 5, "x0y\n", 4), bad[n - 1] = 0;
    z = tz_parse(bad, n - 1, "footer", err, sizeof err);
    if (z) {
        tz_free(z);
        fail_msg("a bad footer accepted");
    }
    assert_non_null(strstr(err, "footer"));
    free(bad);
    static const unsigned char text[] = "# not a zone file\nEurope/Berlin\n";
    z = tz_parse(text, sizeof text - 1, "text", err, sizeof err);
    assert_null(z);
    assert_non_null(strstr(err, "not a TZif zone file"));
    free(buf);
    char path[] = "/tmp/sgw-tz-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "TZif2", 5), 5);
    close(fd);
    z = tz_load_file(path, "short", err, sizeof err);
    unlink(path);
    assert_null(z);
    assert_non_null(strstr(err, "zone 'short'"));
}

/* "zone seconds" lines in, "zone seconds offset" lines out; a zone is loaded once */
static int offsets_mode(void)
{
    char line[256], name[200] = "", err[256];
    tz_zone *z = NULL;
    long long t;
    while (fgets(line, sizeof line, stdin)) {
        char zn[200];
        if (sscanf(line, "%199s %lld", zn, &t) != 2) continue;
        if (!z || strcmp(zn, name)) {
            tz_free(z);
            if (!(z = tz_load(zn, err, sizeof err))) return fprintf(stderr, "%s\n", err), 1;
            snprintf(name, sizeof name, "%s", zn);
        }
        printf("%s %lld %d\n", zn, t, (int)tz_offset(z, t));
    }
    tz_free(z);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--offsets")) return offsets_mode();
#define T(f) cmocka_unit_test(f)
    const struct CMUnitTest tests[] = {
        T(test_table_offsets_and_changes),
        T(test_footer_rule_after_the_table),
        T(test_names_outside_the_zone_directory_are_refused),
        T(test_not_tzif_or_cut_short_is_refused),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
