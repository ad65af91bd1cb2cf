/* fuzz_config.c: libFuzzer target for the configuration loader: config_load (libfyaml) +
 * config_validate + config_dump + config_free. The input is a YAML file, optionally
 * followed by NUL-separated environment entries ("SGW_DEDUP_TTL=5m"): YAML cannot hold a
 * raw NUL, so the split loses nothing. The file is a memfd read through /proc/self/fd/N.
 * libFuzzer's leak check catches anything config_free misses. */
#include "config.h"
#include "suppress.h"
#include "util/err.h"
#include "fuzz_util.h"
#include "fuzz_yaml.h"

#include <sys/mman.h>
#include <unistd.h>

static int memfd = -1;
static char path[64];

static void write_file(const char *data, size_t n)
{
    if (ftruncate(memfd, 0) < 0 || (n && pwrite(memfd, data, n, 0) != (ssize_t)n)) fuzz_fail("memfd write failed");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    memfd = memfd_create("sgw-fuzz-config", MFD_CLOEXEC);
    if (memfd < 0) fuzz_fail("memfd_create failed");
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    /* libfyaml prints every parse error to stderr: scripts/fuzz runs this target with
     * -close_fd_mask=2, which keeps libFuzzer's and the sanitizers' reports (and
     * fuzz_fail's SUMMARY line) on a copy of stderr. */
    /* Self-test: the file really reaches the loader (a harness that fuzzes nothing but the
     * defaults would run happily forever). */
    static const char probe[] = "server:\n  workers: 3\n";
    write_file(probe, sizeof probe - 1);
    char err[512], *envp[] = {NULL};
    config *c = config_load(path, envp, err, sizeof err);
    if (!c || c->workers != 3) fuzz_fail("harness self-test: config_load did not read %s (%s)", path, c ? "" : err);
    config_free(c);
    return 0;
}

/* What a loaded suppress: list promises (suppress_rule_check), and its evaluation on a
 * signal at a few times, which must not fault whatever the rules are. */
static void check_suppress(const suppress_set *set)
{
    if (!set) return;
    sig_kv kv[] = {{"alertname", "PostgresDown"}, {"severity", "warning"}, {"team", ""}};
    sig_signal s = {.name = "PostgresDown", .namespace = "payments", .kind = "Deployment", .res_name = "db",
                    .source = "prometheus", .labels = {kv, 3}};
    static const int64_t times[] = {0, 1796594400000, 1796608799999, 4102444800000};
    for (size_t i = 0; i < set->n; i++) {
        const suppress_rule *r = &set->r[i];
        if (!r->name || !*r->name || r->n_m == 0 || r->n_written == 0) fuzz_fail("suppress[%zu] lacks a name or matchers", i);
        if (r->has_window == (r->n_iv > 0)) fuzz_fail("suppress[%zu] has both or neither window kind", i);
        if (r->has_window && r->ends_ms <= r->starts_ms) fuzz_fail("suppress[%zu] window ends before it starts", i);
        (void)suppress_rule_matches(r, &s);
        if (r->n_iv <= 4) {   /* bounded: up to 400 days of candidate minutes per call */
            int64_t next = suppress_rule_next_change(r, times[1]);
            if (next && next <= times[1]) fuzz_fail("suppress[%zu] next change is not after now", i);
            if (next && suppress_rule_active(r, next) == suppress_rule_active(r, times[1]))
                fuzz_fail("suppress[%zu] next change changes nothing", i);
        }
        for (size_t k = 0; k < r->n_iv; k++) {   /* a location is UTC (NULL) or a zone the set owns */
            size_t z = 0;
            while (r->iv[k].zone && z < set->n_zones && set->zones[z] != r->iv[k].zone) z++;
            if (r->iv[k].zone && z == set->n_zones) fuzz_fail("suppress[%zu] interval %zu: a zone the set does not own", i, k);
        }
    }
    for (size_t k = 0; k < sizeof times / sizeof times[0]; k++) {
        const suppress_rule *m = suppress_match(set, &s, times[k]);
        if (m && (m < set->r || m >= set->r + set->n)) fuzz_fail("suppress_match returned a foreign rule");
        if (m && !suppress_rule_active(m, times[k])) fuzz_fail("suppress_match returned an inactive rule");
    }
}

static bool yaml_precheck(const char *s, size_t n)
{
    size_t bad;
    if (!utf8_valid(s, n, &bad) || memchr(s, '\t', n)) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '%' && (i == 0 || s[i - 1] == '\n' || s[i - 1] == '\r')) return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *yaml_end = memchr(data, '\0', size);
    size_t ylen = yaml_end ? (size_t)(yaml_end - (const char *)data) : size;
    /* Known bugs "libfyaml": libfyaml 0.7.12 (Debian 12) loops forever on invalid UTF-8 in a
     * directive ("%\xa6") and crashes on a tab after a complex key ("? a:\t:"); see
     * docs/fuzzing.md. Skip the inputs a pre-check in config.c would refuse (not UTF-8, a
     * tab, a directive line), so that fuzzing goes on in our code. */
    if (fuzz_known("libfyaml") && !yaml_precheck((const char *)data, ylen)) return 0;
    write_file((const char *)data, ylen);

    /* environment: NUL-separated entries after the YAML, at most 16 */
    char *envbuf = NULL;
    char *envp[17];
    size_t ne = 0;
    if (yaml_end) {
        size_t elen = size - ylen - 1;
        envbuf = malloc(elen + 1);
        memcpy(envbuf, yaml_end + 1, elen);
        envbuf[elen] = '\0';
        for (char *p = envbuf; p < envbuf + elen && ne < 16; p += strlen(p) + 1) envp[ne++] = p;
    }
    envp[ne] = NULL;

    char err[512];
    err[0] = '\0';
    config *c = config_load(path, envp, err, sizeof err);
    if (!c) {
        if (!err[0]) fuzz_fail("config_load failed without a message");
        if (!memchr(err, '\0', sizeof err)) fuzz_fail("error message not terminated");
    } else {
        char verr[512];
        verr[0] = '\0';
        int rc = config_validate(c, verr, sizeof verr);
        if (rc != 0 && rc != SGW_E_INVALID) fuzz_fail("config_validate returned %d", rc);
        if (rc && !verr[0]) fuzz_fail("config_validate failed without a message");
        if (rc == 0) {
            /* what a validated config promises to the rest of the gateway */
            if (!c->listen || !*c->listen || !c->sink || !c->state) fuzz_fail("validated config lacks listen/sink/state");
            if (c->max_alerts < 1 || c->max_json_depth < 4) fuzz_fail("validated config has max_alerts/depth out of range");
            if (!c->default_priority || !c->default_environment) fuzz_fail("validated config lacks defaults");
            for (size_t i = 0; i < c->n_environments; i++)
                if (!c->environments[i].key || !c->environments[i].value) fuzz_fail("environment %zu has a NULL", i);
            for (size_t i = 0; i < c->n_priority_rules; i++)
                if (!c->priority_rules[i].priority) fuzz_fail("priority rule %zu lacks a priority", i);
            check_suppress(c->suppress);
        }
        static char dump[65536];
        config_dump(c, dump, sizeof dump);
        if (!memchr(dump, '\0', sizeof dump)) fuzz_fail("config_dump did not terminate its output");
        config_free(c);
    }
    free(envbuf);
    fuzz_yaml_check_balanced();
    return 0;
}
