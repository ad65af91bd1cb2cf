# Decoding of Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf)
# for the few built-in kinds kubectl's typed commands send that way (`kubectl create
# namespace`, `kubectl create configmap`, `kubectl auth can-i`), into the JSON form.
# Field numbers are those of k8s.io/api's generated.proto files.

import base64
import time

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def fields(buf):
    """-> list of (field number, wire type, value) where value is int or bytes."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v, i = bytes(buf[i:i + n]), i + n
            if i > len(buf):
                raise ProtobufError("truncated field")
        elif wt == 5:
            v, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        else:
            raise ProtobufError("unsupported wire type %d" % wt)
        out.append((num, wt, v))
    return out


# message schemas: {field number: (json name, type)}; a type is "string", "bytes", "int",
# "bool", "time", ("repeated", type), ("map", value type) or a nested schema dict.
TIME = "time"
OWNER_REF = {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"), 5: ("apiVersion", "string"),
             6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
OBJECT_META = {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
               4: ("selfLink", "string"), 5: ("uid", "string"), 6: ("resourceVersion", "string"),
               7: ("generation", "int"), 8: ("creationTimestamp", TIME), 9: ("deletionTimestamp", TIME),
               10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", ("map", "string")),
               12: ("annotations", ("map", "string")), 13: ("ownerReferences", ("repeated", OWNER_REF)),
               14: ("finalizers", ("repeated", "string"))}
RESOURCE_ATTRS = {1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"),
                  4: ("version", "string"), 5: ("resource", "string"), 6: ("subresource", "string"),
                  7: ("name", "string")}
NON_RESOURCE_ATTRS = {1: ("path", "string"), 2: ("verb", "string")}
EXTRA_VALUE = {1: ("items", ("repeated", "string"))}

KINDS = {
    "Namespace": {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("finalizers", ("repeated", "string"))}),
                  3: ("status", {1: ("phase", "string")})},
    "ConfigMap": {1: ("metadata", OBJECT_META), 2: ("data", ("map", "string")),
                  3: ("binaryData", ("map", "bytes")), 4: ("immutable", "bool")},
    "SelfSubjectAccessReview": {1: ("metadata", OBJECT_META),
                                2: ("spec", {1: ("resourceAttributes", RESOURCE_ATTRS),
                                             2: ("nonResourceAttributes", NON_RESOURCE_ATTRS)})},
    "SubjectAccessReview": {1: ("metadata", OBJECT_META),
                            2: ("spec", {1: ("resourceAttributes", RESOURCE_ATTRS),
                                         2: ("nonResourceAttributes", NON_RESOURCE_ATTRS),
                                         3: ("user", "string"), 4: ("groups", ("repeated", "string")),
                                         5: ("extra", ("map", EXTRA_VALUE)), 6: ("uid", "string")})},
    "TokenReview": {1: ("metadata", OBJECT_META),
                    2: ("spec", {1: ("token", "string"), 2: ("audiences", ("repeated", "string"))})},
}


def _scalar(t, wt, v):
    if t == "string":
        return v.decode("utf-8")
    if t == "bytes":
        return base64.b64encode(v).decode()
    if t == "int":
        return v - (1 << 64) if v >= 1 << 63 else v
    if t == "bool":
        return bool(v)
    if t == TIME:
        secs = 0
        for n, _, x in fields(v):
            if n == 1:
                secs = x
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(secs))
    if isinstance(t, dict):
        return decode_message(v, t)
    raise ProtobufError("bad schema type %r" % (t,))


def decode_message(buf, schema):
    out = {}
    for num, wt, v in fields(buf):
        if num not in schema:
            continue
        name, t = schema[num]
        if isinstance(t, tuple) and t[0] == "repeated":
            out.setdefault(name, []).append(_scalar(t[1], wt, v))
        elif isinstance(t, tuple) and t[0] == "map":
            key, val = "", None
            for n2, wt2, v2 in fields(v):
                if n2 == 1:
                    key = v2.decode("utf-8")
                elif n2 == 2:
                    val = _scalar(t[1], wt2, v2)
            if val is None:
                val = "" if t[1] in ("string", "bytes") else {}
            if isinstance(t[1], dict) and set(val) == {"items"}:
                val = val["items"]             # ExtraValue is a list on the JSON side
            out.setdefault(name, {})[key] = val
        else:
            val = _scalar(t, wt, v)
            if val in ("", 0, False) and not isinstance(t, dict):
                continue                       # proto2 writes zero values; JSON omits them
            out[name] = val
    return out


def decode(body):
    """Decodes an enveloped object. Returns (json object, kind)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf envelope")
    api_version = kind = ""
    raw = b""
    for num, wt, v in fields(body[len(MAGIC):]):
        if num == 1:
            for n2, _, v2 in fields(v):
                if n2 == 1:
                    api_version = v2.decode()
                elif n2 == 2:
                    kind = v2.decode()
        elif num == 2:
            raw = v
    if kind not in KINDS:
        raise ProtobufError("the test API server cannot decode %s from protobuf" % (kind or "this object"))
    obj = decode_message(raw, KINDS[kind])
    obj = dict([("apiVersion", api_version), ("kind", kind)] + list(obj.items()))
    return obj, kind
