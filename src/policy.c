/* policy.c: see policy.h. Rules are few (tens): a linear scan is the clearest and fastest. */
#include "policy.h"

#include <string.h>

const char *policy_environment(const config *c, const char *ns)
{
    for (size_t i = 0; i < c->n_environments; i++)
        if (strcmp(c->environments[i].key, ns ? ns : "") == 0) return c->environments[i].value;
    return c->default_environment;
}

static int label_matches(const sig_signal *s, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq) return 0;
    char key[256];
    size_t kl = (size_t)(eq - kv);
    if (kl >= sizeof key) return 0;
    memcpy(key, kv, kl);
    key[kl] = '\0';
    const char *v = sig_map_get(&s->labels, key);
    return v && strcmp(v, eq + 1) == 0;
}

const char *policy_priority(const config *c, const sig_signal *s, const char *env)
{
    const char *sev = sig_severity_str(s->severity);
    for (size_t i = 0; i < c->n_priority_rules; i++) {
        const cfg_priority_rule *r = &c->priority_rules[i];
        if (r->severity && strcmp(r->severity, sev) != 0) continue;
        if (r->environment && strcmp(r->environment, env) != 0) continue;
        if (r->label && !label_matches(s, r->label)) continue;
        return r->priority;
    }
    return c->default_priority;
}
