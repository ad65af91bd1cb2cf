# Patch formats for the test API server: JSON merge patch (RFC 7386), JSON patch
# (RFC 6902) and the simple deep merge used for server-side apply bodies.

import copy

from apierrors import APIError, bad_request


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def apply_merge(target, applied):
    """Server-side apply approximation: like a merge patch, without null deletion."""
    if not isinstance(applied, dict) or not isinstance(target, dict):
        return copy.deepcopy(applied)
    out = dict(target)
    for k, v in applied.items():
        out[k] = apply_merge(out.get(k), v)
    return out


def _unprocessable(msg):
    return APIError(422, "Invalid", msg)


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise _unprocessable('invalid JSON pointer "%s"' % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container, tok, for_add=False):
    if tok == "-" and for_add:
        return len(container)
    try:
        i = int(tok)
    except ValueError:
        raise _unprocessable('invalid array index "%s"' % tok)
    limit = len(container) if for_add else len(container) - 1
    if i < 0 or i > limit:
        raise _unprocessable("array index out of bounds: %d" % i)
    return i


def _parent(doc, parts, op):
    cur = doc
    for tok in parts[:-1]:
        if isinstance(cur, dict):
            if tok not in cur:
                raise _unprocessable("doc is missing path: %s" % ("/" + "/".join(parts)))
            cur = cur[tok]
        elif isinstance(cur, list):
            cur = cur[_index(cur, tok)]
        else:
            raise _unprocessable("doc is missing path: %s" % ("/" + "/".join(parts)))
    return cur


def _get(doc, parts):
    cur = doc
    for tok in parts:
        if isinstance(cur, dict) and tok in cur:
            cur = cur[tok]
        elif isinstance(cur, list):
            cur = cur[_index(cur, tok)]
        else:
            raise _unprocessable("doc is missing path: %s" % ("/" + "/".join(parts)))
    return cur


def _remove(doc, parts):
    par = _parent(doc, parts, "remove")
    last = parts[-1]
    if isinstance(par, dict):
        if last not in par:
            raise _unprocessable("unable to remove nonexistent key: %s: missing value" % last)
        return par.pop(last)
    if isinstance(par, list):
        return par.pop(_index(par, last))
    raise _unprocessable("doc is missing path")


def _add(doc, parts, value):
    if not parts:
        return value
    par = _parent(doc, parts, "add")
    last = parts[-1]
    if isinstance(par, dict):
        par[last] = value
    elif isinstance(par, list):
        par.insert(_index(par, last, for_add=True), value)
    else:
        raise _unprocessable("doc is missing path")
    return doc


def json_patch(doc, ops):
    """RFC 6902 on a deep copy of doc."""
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise bad_request("invalid JSON patch operation: %r" % (op,))
        kind = op["op"]
        parts = _pointer(op.get("path", ""))
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            if not parts:
                doc = copy.deepcopy(op.get("value"))
                continue
            _get(doc, parts)  # must exist
            par = _parent(doc, parts, "replace")
            if isinstance(par, list):
                par[_index(par, parts[-1])] = copy.deepcopy(op.get("value"))
            else:
                par[parts[-1]] = copy.deepcopy(op.get("value"))
        elif kind == "move":
            src = _pointer(op.get("from", ""))
            value = _remove(doc, src)
            doc = _add(doc, parts, value)
        elif kind == "copy":
            src = _pointer(op.get("from", ""))
            doc = _add(doc, parts, copy.deepcopy(_get(doc, src)))
        elif kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise _unprocessable("testing value %s failed: test failed" % op.get("path"))
        else:
            raise bad_request("Unexpected kind: %s" % kind)
    return doc
