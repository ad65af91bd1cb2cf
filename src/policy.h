/* policy.h: environment classification and priority assignment (spec section 6).
 * Embedded mode classifies from the config's namespace → environment map; the Kubernetes
 * mode adds namespace labels and the ConfigMap override in front of it. */
#ifndef SGW_POLICY_H
#define SGW_POLICY_H
#include "config.h"
#include "sig.h"

/* The environment of a namespace from the config map, else the default ("unknown"). */
const char *policy_environment(const config *c, const char *namespace);

/* First matching rule of c->priority_rules, else c->default_priority. */
const char *policy_priority(const config *c, const sig_signal *s, const char *environment);

#endif
