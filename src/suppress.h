/* suppress.h: maintenance windows and silences (`suppress:`, docs/configuration.md): rules
 * of Alertmanager matchers and a time (a fixed window or weekly intervals), compiled once
 * when the configuration is loaded, and the question a request asks of them: which rule,
 * if any, suppresses this signal now. A set is immutable once built (it lives in the
 * config, swapped whole on SIGHUP), so every worker reads it without a lock. */
#ifndef SGW_SUPPRESS_H
#define SGW_SUPPRESS_H
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sig.h"
#include "time_interval.h"

typedef enum { SUPPRESS_EQ, SUPPRESS_NE, SUPPRESS_RE, SUPPRESS_NRE } suppress_op;

/* One matcher: a label (or one of the fields namespace, kind, resource, source), an
 * operator and a value; a regex is anchored at both ends, as in Alertmanager. */
typedef struct suppress_matcher {
    char       *name;
    suppress_op op;
    char       *value;
    regex_t     re;          /* SUPPRESS_RE, SUPPRESS_NRE: "^(value)$", POSIX ERE */
} suppress_matcher;

typedef struct suppress_rule {
    char             *name;         /* [A-Za-z0-9] with '-', '_', '.' inside; 1..63 */
    char            **written;      /* the matchers: list as written in the file */
    size_t            n_written;
    suppress_matcher *m;            /* every one must match */
    size_t            n_m;
    bool              has_window;
    int64_t           starts_ms, ends_ms;   /* the window: [starts_at, ends_at) */
    time_interval    *iv;           /* or weekly intervals: active in any of them */
    size_t            n_iv;
} suppress_rule;

typedef struct suppress_set {
    suppress_rule *r;
    size_t         n;
    tz_zone      **zones;   /* the `location`s the rules name, each loaded once; owned */
    size_t         n_zones;
} suppress_set;

/* The matcher names that read the signal's own fields, not its labels: a label of the same
 * name is not reachable by a matcher (fields first; docs/configuration.md). */
const char *suppress_field_value(const sig_signal *s, const char *name, bool *is_field);

/* ---- building (config.c, at load) --------------------------------------------------------- */

suppress_set *suppress_set_new(void);
void          suppress_set_free(suppress_set *set);   /* NULL is fine */

/* A new rule named name at the end of set; NULL with err if the name is not of the allowed
 * characters or another rule has it. The rule is borrowed from set, valid until the next add. */
suppress_rule *suppress_rule_add(suppress_set *set, const char *name, char *err, size_t errlen);

/* One string of `matchers:` (Alertmanager's: `a="b"`, `a!~"x|y"`, `a=b`, or several
 * separated by ',' with optional braces `{a="b", c=~"d"}`), parsed and compiled into r.
 * 0, or SGW_E_INVALID with the reason in err (a bad regex: regcomp's message). */
int suppress_rule_matchers(suppress_rule *r, const char *text, char *err, size_t errlen);

/* The window: starts_at and ends_at as RFC 3339 (either may be NULL: then err says it is
 * missing). 0, or SGW_E_INVALID with err. */
int suppress_rule_window(suppress_rule *r, const char *starts_at, const char *ends_at, char *err, size_t errlen);

/* A new, empty weekly interval of r, to fill with time_interval_add*: borrowed from r, valid
 * until the next one is added. An empty interval holds every time (Alertmanager's). */
time_interval *suppress_rule_interval(suppress_rule *r);

/* The zone for an interval's `location`: NULL (and 0) for "UTC"; otherwise the zone named,
 * loaded from the system's zone files the first time set is asked for it and shared by every
 * rule of set after that (borrowed from set). "Local" is refused: the process's zone in a
 * container is rarely the one meant. SGW_E_INVALID with err if the name is not a zone. */
int suppress_set_zone(suppress_set *set, const char *name, const tz_zone **out, char *err, size_t errlen);

/* What a rule needs once all its keys are read: a matcher that does not match the empty
 * string (Alertmanager's rule for silences: never "everything"), and exactly one of a window
 * or intervals. 0, or SGW_E_INVALID with err naming the key. */
int suppress_rule_check(const suppress_rule *r, char *err, size_t errlen);

/* ---- asking (pipeline.c, per signal) ------------------------------------------------------ */

/* true if r's time holds now_ms. */
bool suppress_rule_active(const suppress_rule *r, int64_t now_ms);

/* true if every matcher of r matches s (an absent label is the empty string). */
bool suppress_rule_matches(const suppress_rule *r, const sig_signal *s);

/* The first rule of set, in file order, active at now_ms whose matchers match s; NULL when
 * none does (or set is NULL). Borrowed from set. */
const suppress_rule *suppress_match(const suppress_set *set, const sig_signal *s, int64_t now_ms);

/* The next time after now_ms at which r turns active or inactive, within the next 400 days;
 * 0 if it does not change in them. */
int64_t suppress_rule_next_change(const suppress_rule *r, int64_t now_ms);

#endif
