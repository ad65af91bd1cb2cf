/* test_config.c: defaults, YAML, environment overrides, validation, durations and sizes;
 * and the default priority rules of spec section 6 (policy.c). */
#include "testutil.h"

#include <unistd.h>

#include "config.h"
#include "util/err.h"
#include "policy.h"

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/sgw-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_defaults_are_the_embedded_mode(void **state)
{
    config *c = config_defaults();
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_string_equal(c->state, "memory");
    assert_string_equal(c->sink, "dir:./remediationrequests");
    assert_int_equal(c->auth_mode, AUTH_OFF);
    assert_int_equal(c->dedup_ttl_ms, 300000);
    assert_int_equal(c->lease_ms, 10000);
    assert_int_equal(c->storm_rate_threshold, 10);
    assert_int_equal(c->storm_pattern_threshold, 5);
    assert_int_equal(c->max_body_bytes, 1 << 20);
    assert_string_equal(c->fallback_namespace, "kubernaut-system");
    char err[256];
    assert_int_equal(config_validate(c, err, sizeof err), 0);
    config_free(c);
}

static void test_durations_and_sizes_parse(void **state)
{
    int ms;
    assert_int_equal(config_parse_duration_ms("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(config_parse_duration_ms("30s", &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(config_parse_duration_ms("5m", &ms), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(config_parse_duration_ms("1.5s", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(config_parse_duration_ms("12", &ms), 0);
    assert_int_equal(ms, 12000);
    assert_int_equal(config_parse_duration_ms("5 minutes", &ms), SGW_E_INVALID);
    assert_int_equal(config_parse_duration_ms("-1s", &ms), SGW_E_INVALID);
    assert_int_equal(config_parse_duration_ms("1000h", &ms), SGW_E_INVALID);   /* overflows int ms */
    size_t sz;
    assert_int_equal(config_parse_size("1MiB", &sz), 0);
    assert_int_equal(sz, 1048576);
    assert_int_equal(config_parse_size("512KiB", &sz), 0);
    assert_int_equal(sz, 524288);
    assert_int_equal(config_parse_size("4096", &sz), 0);
    assert_int_equal(sz, 4096);
    assert_int_equal(config_parse_size("1GiB", &sz), SGW_E_INVALID);
    assert_int_equal(config_parse_size("-5", &sz), SGW_E_INVALID);
}

static void test_yaml_file_sets_keys_maps_and_rules(void **state)
{
    char *p = write_tmp("server:\n  listen: 0.0.0.0:9000\n  max_body_bytes: 512KiB\n"
                        "dedup:\n  ttl: 2m\n"
                        "storm:\n  enabled: false\n  rate_threshold: 3\n"
                        "environment:\n  default: dev\n  namespaces:\n    payments: production\n    qa: staging\n"
                        "priority:\n  default: P3\n  rules:\n"
                        "    - {severity: critical, environment: production, priority: P0}\n"
                        "    - {label: team=sre, priority: P1}\n");
    char *envp[] = {NULL};
    char err[512] = "";
    config *c = config_load(p, envp, err, sizeof err);
    assert_non_null(c);
    assert_string_equal(c->listen, "0.0.0.0:9000");
    assert_int_equal(c->max_body_bytes, 524288);
    assert_int_equal(c->dedup_ttl_ms, 120000);
    assert_false(c->storm_enabled);
    assert_int_equal(c->storm_rate_threshold, 3);
    assert_int_equal(c->n_environments, 2);
    assert_string_equal(policy_environment(c, "payments"), "production");
    assert_string_equal(policy_environment(c, "qa"), "staging");
    assert_string_equal(policy_environment(c, "other"), "dev");
    assert_int_equal(c->n_priority_rules, 2);   /* the file's rules replace the defaults */
    assert_int_equal(config_validate(c, err, sizeof err), 0);
    config_free(c);
    unlink(p);
    free(p);
}

static void test_unknown_key_is_an_error_with_position(void **state)
{
    char *p = write_tmp("server:\n  listen: 127.0.0.1:1\n  lisen: typo\n");
    char *envp[] = {NULL};
    char err[512] = "";
    config *c = config_load(p, envp, err, sizeof err);
    assert_null(c);
    assert_non_null(strstr(err, "server.lisen"));
    assert_non_null(strstr(err, ":3:"));   /* line 3 */
    unlink(p);
    free(p);
}

static void test_bad_value_is_an_error(void **state)
{
    char *p = write_tmp("dedup:\n  ttl: soon\n");
    char *envp[] = {NULL};
    char err[512] = "";
    assert_null(config_load(p, envp, err, sizeof err));
    assert_non_null(strstr(err, "dedup.ttl"));
    unlink(p);
    free(p);
}

static void test_environment_overrides_the_file(void **state)
{
    char *p = write_tmp("dedup:\n  ttl: 2m\n");
    char *envp[] = {"SGW_DEDUP_TTL=45s", "SGW_SERVER_LISTEN=127.0.0.1:7000", "UNRELATED=1", NULL};
    char err[512] = "";
    config *c = config_load(p, envp, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(c->dedup_ttl_ms, 45000);
    assert_string_equal(c->listen, "127.0.0.1:7000");
    config_free(c);
    char *bad[] = {"SGW_STORM_RATE_THRESHOLD=lots", NULL};
    assert_null(config_load(p, bad, err, sizeof err));
    assert_non_null(strstr(err, "SGW_STORM_RATE_THRESHOLD"));
    unlink(p);
    free(p);
}

static void test_validation_rejects_inconsistent_settings(void **state)
{
    char err[256];
    config *c = config_defaults();
    assert_int_equal(config_set(c, "auth.mode", "static", err, sizeof err), 0);
    assert_int_equal(config_validate(c, err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "auth.static_file"));
    config_free(c);
    c = config_defaults();
    assert_int_equal(config_set(c, "state.url", "postgres://x", err, sizeof err), 0);
    assert_int_equal(config_validate(c, err, sizeof err), SGW_E_INVALID);
    config_free(c);
    c = config_defaults();
    assert_int_equal(config_set(c, "sink.target", "dir:", err, sizeof err), 0);
    assert_int_equal(config_validate(c, err, sizeof err), SGW_E_INVALID);
    config_free(c);
    c = config_defaults();
    assert_int_equal(config_set(c, "auth.mode", "maybe", err, sizeof err), SGW_E_INVALID);
    config_free(c);
    c = config_defaults();   /* an environment becomes spec.environment and a label value */
    assert_int_equal(config_set(c, "environment.default", "", err, sizeof err), 0);
    assert_int_equal(config_validate(c, err, sizeof err), SGW_E_INVALID);
    assert_non_null(strstr(err, "environment.default"));
    config_free(c);
    assert_true(config_valid_environment("production"));
    assert_true(config_valid_environment("eu-west.prod_1"));
    assert_false(config_valid_environment("-prod"));
    assert_false(config_valid_environment("prod env"));
    assert_false(config_valid_environment("a234567890123456789012345678901234567890123456789012345678901234"));
}

static sig_signal sig_with(sig_severity sev, const char *team)
{
    static sig_kv kv[1];
    sig_signal s;
    memset(&s, 0, sizeof s);
    s.severity = sev;
    if (team) {
        kv[0] = (sig_kv){"team", team};
        s.labels = (sig_map){kv, 1};
    }
    return s;
}

/* The TLS keys and auth.client_cert_subjects: read from YAML, and each inconsistent set
 * refused with the key it is about. */
static void test_tls_keys_and_client_subjects(void **state)
{
    char err[512];
    char *p = write_tmp("server:\n  tls_cert_file: /c.pem\n  tls_key_file: /k.pem\n"
                        "  tls_client_ca_file: /ca.pem\n  tls_reload_interval: 2s\n"
                        "auth:\n  mode: static\n  static_file: /t\n"
                        "  client_cert_subjects:\n    - \"CN=alertmanager,O=monitoring\"\n    - CN=grafana\n");
    config *c = config_load(p, (char *[]){NULL}, err, sizeof err);
    assert_non_null(c);
    assert_string_equal(c->tls_cert_file, "/c.pem");
    assert_string_equal(c->tls_client_ca_file, "/ca.pem");
    assert_int_equal(c->tls_reload_interval_ms, 2000);
    assert_false(c->metrics_tls);
    assert_int_equal(c->n_client_cert_subjects, 2);
    assert_string_equal(c->client_cert_subjects[0], "CN=alertmanager,O=monitoring");
    assert_string_equal(c->client_cert_subjects[1], "CN=grafana");
    assert_int_equal(config_validate(c, err, sizeof err), 0);
    static const struct {
        const char *key, *value, *says;
    } bad[] = {
        {"server.tls_key_file", "", "server.tls_cert_file is set without server.tls_key_file"},
        {"server.tls_reload_interval", "50ms", "server.tls_reload_interval"},
        {"server.metrics_tls", "true", "server.metrics_tls needs"},
        {"server.tls_client_ca_file", "", "auth.client_cert_subjects needs server.tls_client_ca_file"},
        {"auth.mode", "off", "auth.client_cert_subjects needs auth.mode static or kubernetes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config *d = config_load(p, (char *[]){NULL}, err, sizeof err);
        assert_non_null(d);
        assert_int_equal(config_set(d, bad[i].key, bad[i].value, err, sizeof err), 0);
        assert_int_equal(config_validate(d, err, sizeof err), SGW_E_INVALID);
        if (!strstr(err, bad[i].says)) fail_msg("%s=%s: '%s' does not say '%s'", bad[i].key, bad[i].value, err, bad[i].says);
        config_free(d);
    }
    config_free(c);
    unlink(p);
    free(p);
    p = write_tmp("auth:\n  client_cert_subjects: CN=x\n");
    assert_null(config_load(p, (char *[]){NULL}, err, sizeof err));
    assert_non_null(strstr(err, "auth.client_cert_subjects must be a list"));
    unlink(p);
    free(p);
}

static void test_default_priority_rules_of_the_spec(void **state)
{
    config *c = config_defaults();
    struct { sig_severity sev; const char *env, *team, *want; } cases[] = {
        {SEV_CRITICAL, "production", NULL, "P0"},
        {SEV_CRITICAL, "unknown", "platform-engineering", "P0"},
        {SEV_CRITICAL, "staging", NULL, "P1"},
        {SEV_WARNING, "production", NULL, "P1"},
        {SEV_CRITICAL, "development", NULL, "P2"},
        {SEV_WARNING, "staging", NULL, "P2"},
        {SEV_WARNING, "development", NULL, "P2"},
        {SEV_INFO, "production", NULL, "P3"},
        {SEV_INFO, "unknown", NULL, "P3"},
        {SEV_CRITICAL, "unknown", NULL, "P2"},
        {SEV_WARNING, "canary", NULL, "P2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sig_signal s = sig_with(cases[i].sev, cases[i].team);
        const char *got = policy_priority(c, &s, cases[i].env);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu (%d, %s, team=%s): got %s, want %s", i, cases[i].sev, cases[i].env,
                     cases[i].team ? cases[i].team : "-", got, cases[i].want);
    }
    config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_the_embedded_mode),
        cmocka_unit_test(test_durations_and_sizes_parse),
        cmocka_unit_test(test_yaml_file_sets_keys_maps_and_rules),
        cmocka_unit_test(test_unknown_key_is_an_error_with_position),
        cmocka_unit_test(test_bad_value_is_an_error),
        cmocka_unit_test(test_environment_overrides_the_file),
        cmocka_unit_test(test_validation_rejects_inconsistent_settings),
        cmocka_unit_test(test_tls_keys_and_client_subjects),
        cmocka_unit_test(test_default_priority_rules_of_the_spec),
    };
    return cmocka_run_group_tests_name("config_policy", tests, NULL, NULL);
}
