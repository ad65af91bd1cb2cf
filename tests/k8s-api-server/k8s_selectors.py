# Label and field selectors for the test API server, with the semantics of
# k8s.io/apimachinery/pkg/labels and pkg/fields: `=`, `==`, `!=`, `in (...)`, `notin (...)`,
# `key`, `!key`, `>`/`<` for labels; `=`, `==`, `!=` on supported fields.

from apierrors import bad_request
from validation import is_qualified_name, is_valid_label_value

_SPECIAL = set(" \t\n,()=!<>")


def _tokens(s):
    i, n = 0, len(s)
    out = []
    while i < n:
        c = s[i]
        if c in " \t\n":
            i += 1
        elif c in ",()":
            out.append(c)
            i += 1
        elif s.startswith("==", i) or s.startswith("!=", i):
            out.append(s[i:i + 2])
            i += 2
        elif c in "=!<>":
            out.append(c)
            i += 1
        else:
            j = i
            while j < n and s[j] not in _SPECIAL:
                j += 1
            out.append(("id", s[i:j]))
            i = j
    return out


def _desc(tok):
    return tok[1] if isinstance(tok, tuple) else tok


class LabelSelector:
    """Parsed label selector: a list of (key, op, values)."""

    def __init__(self, text):
        self.text = text or ""
        self.reqs = self._parse(self.text)

    @staticmethod
    def _parse(text):
        toks = _tokens(text)
        reqs = []
        i = 0

        def err(msg):
            raise bad_request("unable to parse requirement: " + msg)

        def expect_id(j, what):
            if j >= len(toks) or not isinstance(toks[j], tuple):
                found = _desc(toks[j]) if j < len(toks) else "end of string"
                raise bad_request("found '%s', expected: %s" % (found, what))
            return toks[j][1]

        while i < len(toks):
            neg = False
            if toks[i] == "!":
                neg = True
                i += 1
            key = expect_id(i, "!, identifier, or 'end of string'")
            i += 1
            for m in is_qualified_name(key):
                err('key: Invalid value: "%s": %s' % (key, m))
            if neg:
                reqs.append((key, "!", []))
            elif i >= len(toks) or toks[i] == ",":
                reqs.append((key, "exists", []))
            else:
                op = toks[i]
                if isinstance(op, tuple) and op[1] in ("in", "notin"):
                    op = op[1]
                    i += 1
                    if i >= len(toks) or toks[i] != "(":
                        raise bad_request("found '%s', expected: '('" % (_desc(toks[i]) if i < len(toks) else "end of string"))
                    i += 1
                    values = []
                    while True:
                        if i < len(toks) and isinstance(toks[i], tuple):
                            values.append(toks[i][1])
                            i += 1
                        elif i < len(toks) and toks[i] in (",", ")"):
                            values.append("")      # empty value in a set, e.g. "in (a,)"
                        if i < len(toks) and toks[i] == ",":
                            i += 1
                            continue
                        if i < len(toks) and toks[i] == ")":
                            i += 1
                            break
                        raise bad_request("found '%s', expected: ',', or ')'"
                                          % (_desc(toks[i]) if i < len(toks) else "end of string"))
                    if values == [""]:
                        values = []
                    if not values:
                        err("for 'in', 'notin' operators, values set can't be empty")
                elif op in ("=", "==", "!=", ">", "<"):
                    i += 1
                    if i < len(toks) and isinstance(toks[i], tuple):
                        values = [toks[i][1]]
                        i += 1
                    else:
                        values = [""]
                    if op in (">", "<"):
                        try:
                            int(values[0])
                        except ValueError:
                            err("for 'Gt', 'Lt' operators, the value must be an integer")
                else:
                    raise bad_request("found '%s', expected: in, notin, =, ==, !=, gt, lt" % _desc(op))
                for v in values:
                    for m in is_valid_label_value(v):
                        err('values[0][%s]: Invalid value: "%s": %s' % (key, v, m))
                reqs.append((key, {"==": "="}.get(op, op), values))
            if i < len(toks):
                if toks[i] != ",":
                    raise bad_request("found '%s', expected: ',' or 'end of string'" % _desc(toks[i]))
                i += 1
        return reqs

    def matches(self, labels):
        labels = labels or {}
        for key, op, values in self.reqs:
            has = key in labels
            v = labels.get(key)
            if op == "exists" and not has:
                return False
            if op == "!" and has:
                return False
            if op in ("=", "in") and (not has or v not in values):
                return False
            if op in ("!=", "notin") and has and v in values:
                return False
            if op in (">", "<"):
                try:
                    iv = int(v)
                except (TypeError, ValueError):
                    return False
                if op == ">" and not iv > int(values[0]):
                    return False
                if op == "<" and not iv < int(values[0]):
                    return False
        return True


def _split_unescaped(s, sep):
    parts, cur, i = [], "", 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            cur += s[i:i + 2]
            i += 2
            continue
        if s[i] == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += s[i]
        i += 1
    parts.append(cur)
    return parts


def _unescape(s):
    out, i = "", 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out += s[i + 1]
            i += 2
        else:
            out += s[i]
            i += 1
    return out


class FieldSelector:
    """fields.ParseSelector + the per-resource field label conversion check."""

    def __init__(self, text, supported):
        self.reqs = []
        text = text or ""
        if not text.strip():
            return
        for term in _split_unescaped(text, ","):
            term = term.strip()
            if not term:
                continue
            for op in ("!=", "==", "="):
                idx = term.find(op)
                if idx > 0:
                    field, value = term[:idx].strip(), _unescape(term[idx + len(op):])
                    op = "=" if op == "==" else op
                    break
            else:
                raise bad_request("invalid selector: '%s'; can't understand '%s'" % (text, term))
            if field not in supported:
                raise bad_request("field label not supported: %s" % field)
            self.reqs.append((field, op, value))

    def matches(self, obj):
        for field, op, value in self.reqs:
            cur = obj
            for p in field.split("."):
                cur = cur.get(p) if isinstance(cur, dict) else None
            if (op == "=") != (_field_text(cur) == value):
                return False
        return True


def _field_text(v):
    """A field's value as a field selector sees it (fmt.Sprint; "" when absent)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
