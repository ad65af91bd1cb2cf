# x-kubernetes-validations (CEL) rules of CRD schemas, for the rule texts this server knows —
# the transition rules of upstream Kubernaut's RemediationRequest CRD — with the real
# server's error wording (kube-apiserver 1.32: `<path>: Invalid value: "<schema type>":
# <message>`). There is no CEL interpreter here: a rule whose text is not in RULES is not
# evaluated (README: known differences).
#
# Transition rules (those using oldSelf) run only on updates, and only where both the new
# and the old object have the field (the real server's correlation of map keys); rules on
# list items are not evaluated. Parent rules come before the rules of their children.

from apierrors import invalid


def _self_eq_old(new, old):
    return new == old


def _old_empty_or_eq(new, old):
    return old == "" or new == old


# rule text -> (uses oldSelf, predicate(self, oldSelf) -> bool)
RULES = {
    "self == oldSelf": (True, _self_eq_old),
    "oldSelf == '' || self == oldSelf": (True, _old_empty_or_eq),
}

_MISSING = object()


def has_rules(schema):
    """Whether any x-kubernetes-validations appear in the schema."""
    if not isinstance(schema, dict):
        return False
    if schema.get("x-kubernetes-validations"):
        return True
    subs = list((schema.get("properties") or {}).values())
    for k in ("items", "additionalProperties"):
        if isinstance(schema.get(k), dict):
            subs.append(schema[k])
    subs.extend(schema.get("allOf") or [])
    return any(has_rules(s) for s in subs)


def validate(value, old, schema, path, errs):
    """Append the FieldErrors of failing known rules for `value` (and `old`, None on create)."""
    if value is _MISSING or value is None or not isinstance(schema, dict):
        return
    for rule in schema.get("x-kubernetes-validations") or []:
        known = RULES.get((rule.get("rule") or "").strip())
        if known is None:
            continue
        uses_old, pred = known
        if uses_old and (old is _MISSING or old is None):
            continue
        if not pred(value, old):
            errs.append(invalid(path or "<nil>", schema.get("type", ""),
                                rule.get("message") or "failed rule: %s" % rule.get("rule")))
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        addl = schema.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k) if k in props else (addl if isinstance(addl, dict) else None)
            if sub is None:
                continue
            o = old.get(k, _MISSING) if isinstance(old, dict) else _MISSING
            validate(v, o, sub, path + "." + k if path else k, errs)
