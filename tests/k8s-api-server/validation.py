# Validation for the test API server: object metadata rules (names, labels, annotations)
# with the real apimachinery messages, and a small OpenAPI v3 schema validator used for
# custom resources, plus the RemediationRequest schema TABLE (align it with the CRD here).

import base64
import json
import re

import cel_rules
from apierrors import required, invalid, not_supported, too_long, type_invalid, duplicate

# ---------------------------------------------------------------------------------------
# The RemediationRequest schema (upstream-notes §9.2 / §9.3), as an OpenAPI v3 subset, the
# same shape as the CRD's `openAPIV3Schema`. Supported keywords: type, properties, required,
# enum, pattern, minLength, maxLength, minimum, maximum, format (date-time, byte, duration),
# items, additionalProperties, allOf, nullable, x-kubernetes-preserve-unknown-fields,
# x-kubernetes-list-type: map, x-kubernetes-validations (the rules cel_rules.py knows).
# Unknown fields are pruned (dropped) like a structural CRD schema does, or rejected with
# fieldValidation=Strict.
# ---------------------------------------------------------------------------------------

_TIME = {"type": "string", "format": "date-time"}
_OBJREF = {"type": "object", "properties": {
    "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"},
    "namespace": {"type": "string"}, "uid": {"type": "string"},
    "resourceVersion": {"type": "string"}, "fieldPath": {"type": "string"}}}

REMEDIATION_REQUEST_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["signalFingerprint", "signalName", "severity", "environment", "priority",
                         "signalType", "targetType", "firingTime", "receivedTime", "deduplication"],
            "properties": {
                "signalFingerprint": {"type": "string", "maxLength": 64, "pattern": "^[a-f0-9]{64}$"},
                "signalName": {"type": "string", "maxLength": 253},
                "severity": {"type": "string", "enum": ["critical", "warning", "info"]},
                "environment": {"type": "string", "minLength": 1, "maxLength": 63},
                "priority": {"type": "string", "enum": ["P0", "P1", "P2", "P3"], "pattern": "^P[0-3]$"},
                "signalType": {"type": "string"},
                "signalSource": {"type": "string", "maxLength": 63},
                "targetType": {"type": "string", "enum": ["kubernetes", "aws", "azure", "gcp", "datadog"]},
                "firingTime": _TIME,
                "receivedTime": _TIME,
                "deduplication": {
                    "type": "object",
                    "required": ["isDuplicate", "firstSeen", "lastSeen", "occurrenceCount"],
                    "properties": {
                        "isDuplicate": {"type": "boolean"},
                        "firstSeen": _TIME,
                        "lastSeen": _TIME,
                        "occurrenceCount": {"type": "integer"},
                        "previousRemediationRequestRef": {"type": "string"},
                    },
                },
                "isStorm": {"type": "boolean"},
                "stormType": {"type": "string"},
                "stormWindow": {"type": "string"},
                "stormAlertCount": {"type": "integer"},
                "affectedResources": {"type": "array", "items": {"type": "string"}},
                "signalLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                "signalAnnotations": {"type": "object", "additionalProperties": {"type": "string"}},
                "providerData": {"type": "string", "format": "byte"},
                "originalPayload": {"type": "string", "format": "byte"},
                "timeoutConfig": {"type": "object", "properties": {
                    "remediationProcessingTimeout": {"type": "string"},
                    "aiAnalysisTimeout": {"type": "string"},
                    "workflowExecutionTimeout": {"type": "string"},
                    "overallWorkflowTimeout": {"type": "string"},
                }},
            },
        },
        "status": {
            "type": "object",
            # Status is owned by the RemediationOrchestrator, whose full schema is not in the
            # notes: the known fields are typed, anything else is kept.
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {
                "overallPhase": {"type": "string"},
                "startTime": _TIME,
                "completedAt": _TIME,
                "remediationProcessingRef": _OBJREF,
                "aiAnalysisRef": _OBJREF,
                "workflowExecutionRef": _OBJREF,
                "approvalNotificationSent": {"type": "boolean"},
            },
        },
    },
}

# ---------------------------------------------------------------------------------------
# apimachinery name / label validation (k8s.io/apimachinery/pkg/util/validation)
# ---------------------------------------------------------------------------------------

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"
CONFIGMAP_KEY_FMT = "[-._a-zA-Z0-9]+"

_full = lambda f: re.compile("^(?:" + f + ")$")
_DNS1123_LABEL_RE = _full(DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = _full(DNS1123_SUBDOMAIN_FMT)
_QUALIFIED_NAME_RE = _full(QUALIFIED_NAME_FMT)
_LABEL_VALUE_RE = _full(LABEL_VALUE_FMT)
_CONFIGMAP_KEY_RE = _full(CONFIGMAP_KEY_FMT)


def regex_error(msg, fmt, *examples):
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    msg += " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            msg += " or "
        msg += "'" + ex + "', "
    return msg + "regex used for validation is '" + fmt + "')"


def max_len_error(n):
    return "must be no more than %d characters" % n


def is_dns1123_label(v):
    errs = []
    if len(v) > 63:
        errs.append(max_len_error(63))
    if not _DNS1123_LABEL_RE.match(v):
        errs.append(regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                                "characters or '-', and must start and end with an alphanumeric character",
                                DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(v):
    errs = []
    if len(v) > 253:
        errs.append(max_len_error(253))
    if not _DNS1123_SUBDOMAIN_RE.match(v):
        errs.append(regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                "characters, '-' or '.', and must start and end with an alphanumeric character",
                                DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


_QN_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
           "alphanumeric character")


def is_qualified_name(v):
    errs = []
    parts = v.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [("a qualified name " + regex_error(_QN_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
                 + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _QUALIFIED_NAME_RE.match(name):
        errs.append("name part " + regex_error(_QN_MSG, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(v):
    errs = []
    if len(v) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_VALUE_RE.match(v):
        errs.append(regex_error("a valid label must be an empty string or consist of alphanumeric characters, "
                                "'-', '_' or '.', and must start and end with an alphanumeric character",
                                LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def validate_labels(labels, path="metadata.labels"):
    errs = []
    if labels is None:
        return errs
    if not isinstance(labels, dict):
        return [type_invalid(path, _json_type(labels), "%s in body must be of type object: %s"
                             % (path, '"' + _json_type(labels) + '"'))]
    for k, v in labels.items():
        for m in is_qualified_name(k):
            errs.append(invalid(path, k, m))
        if not isinstance(v, str):
            errs.append(invalid(path, v, "label values must be strings"))
            continue
        for m in is_valid_label_value(v):
            errs.append(invalid(path, v, m))
    return errs


TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def validate_annotations(annotations, path="metadata.annotations"):
    errs = []
    if annotations is None:
        return errs
    if not isinstance(annotations, dict):
        return [invalid(path, annotations, "must be an object")]
    total = 0
    for k, v in annotations.items():
        for m in is_qualified_name(k.lower()):
            errs.append(invalid(path, k, m))
        total += len(k) + len(v if isinstance(v, str) else str(v))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_object_meta(meta, name_check):
    """ValidateObjectMeta: name (with the given check), labels, annotations."""
    errs = []
    name = meta.get("name") or ""
    if not name:
        errs.append(required("metadata.name", "name or generateName is required"))
    else:
        for m in name_check(name):
            errs.append(invalid("metadata.name", name, m))
    errs.extend(validate_labels(meta.get("labels")))
    errs.extend(validate_annotations(meta.get("annotations")))
    return errs


def validate_configmap(obj):
    errs = []
    for section in ("data", "binaryData"):
        d = obj.get(section)
        if d is None:
            continue
        if not isinstance(d, dict):
            errs.append(type_invalid(section, _json_type(d), "%s in body must be of type object" % section))
            continue
        for k in d:
            if len(k) > 253:
                errs.append(invalid("%s[%s]" % (section, k), k, max_len_error(253)))
            if not _CONFIGMAP_KEY_RE.match(k):
                errs.append(invalid("%s[%s]" % (section, k), k, regex_error(
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                    CONFIGMAP_KEY_FMT, "key.name", "KEY_NAME", "key-name")))
    return errs


# ---------------------------------------------------------------------------------------
# OpenAPI v3 subset validator (behaves like kube-openapi + apiextensions' conversion to
# field errors: Required, NotSupported for enum, TooLong for maxLength, TypeInvalid for
# type and format, Invalid for everything else).
# ---------------------------------------------------------------------------------------

def _json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|z|[+-]\d{2}:?\d{2})?$")


def is_date_time(s):
    """strfmt.DateTime: RFC 3339 (and the ISO 8601 variants kube-openapi also accepts)."""
    m = _DT_RE.match(s)
    if not m:
        return False
    y, mo, d, h, mi = (int(m.group(i)) for i in range(1, 6))
    sec = int(m.group(6) or 0)
    return 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and sec <= 60


def is_byte(s):
    try:
        base64.b64decode(s, validate=True)
        return True
    except Exception:
        return False


_GO_DURATION_RE = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$")
_STRFMT_DURATION_RE = re.compile(r"(\d+)\s*([A-Za-z\u00b5]+)")
_STRFMT_UNITS = {"ns", "nanosecond", "us", "\u00b5s", "microsecond", "ms", "millisecond", "s", "sec", "second",
                 "m", "min", "minute", "h", "hr", "hour", "d", "day", "w", "wk", "week"}


def is_duration(s):
    """strfmt.IsDuration: Go's time.ParseDuration, or any "<n> <unit>" in the text."""
    if _GO_DURATION_RE.match(s):
        return True
    for _, unit in _STRFMT_DURATION_RE.findall(s):
        unit = unit.lower()
        if unit in _STRFMT_UNITS or unit.rstrip("s") in _STRFMT_UNITS:
            return True
    return False


_FORMATS = {"date-time": is_date_time, "byte": is_byte, "duration": is_duration}


def _type_ok(expected, v):
    t = _json_type(v)
    if expected == "number":
        return t in ("integer", "number")
    if expected == "integer" and t == "number":
        return float(v).is_integer()
    return t == expected


def validate_schema(value, schema, path, errs):
    """Append FieldErrors for `value` against `schema` at `path` (e.g. "spec.severity")."""
    if value is None:
        return
    expected = schema.get("type")
    if expected and not _type_ok(expected, value):
        t = _json_type(value)
        errs.append(type_invalid(path, t, '%s in body must be of type %s: "%s"' % (path, expected, t)))
        return
    for sub in schema.get("allOf") or []:
        validate_schema(value, sub, path, errs)
    if "enum" in schema and value not in schema["enum"]:
        errs.append(not_supported(path, value, schema["enum"]))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append(too_long(path, value, schema["maxLength"]))
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append(invalid(path, value, "%s in body should be at least %d chars long"
                                % (path, schema["minLength"])))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errs.append(invalid(path, value, "%s in body should match '%s'" % (path, schema["pattern"])))
        fmt = schema.get("format")
        if fmt in _FORMATS and not _FORMATS[fmt](value):
            errs.append(type_invalid(path, value, "%s in body must be of type %s: %s"
                                     % (path, fmt, _go_q(value))))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(invalid(path, value, "%s in body should be greater than or equal to %s"
                                % (path, schema["minimum"])))
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(invalid(path, value, "%s in body should be less than or equal to %s"
                                % (path, schema["maximum"])))
    if isinstance(value, dict):
        for r in schema.get("required", []):
            if value.get(r) is None:
                errs.append(required(path + "." + r if path else r))
        props = schema.get("properties", {})
        for k, sub in props.items():
            if k in value:
                validate_schema(value[k], sub, path + "." + k if path else k, errs)
        addl = schema.get("additionalProperties")
        if isinstance(addl, dict):
            for k, v in value.items():
                if k not in props:
                    validate_schema(v, addl, "%s.%s" % (path, k) if path else k, errs)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            validate_schema(item, schema["items"], "%s[%d]" % (path, i), errs)


def validate_list_maps(value, schema, path, errs):
    """x-kubernetes-list-type: map — no two items with the same key fields (structurallisttype)."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        addl = schema.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k) or (addl if isinstance(addl, dict) else None)
            if sub:
                validate_list_maps(v, sub, path + "." + k if path else k, errs)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen = set()
        for i, item in enumerate(value):
            if schema.get("x-kubernetes-list-type") == "map" and keys and isinstance(item, dict):
                kv = tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)
                if kv in seen:
                    errs.append(duplicate("%s[%d]" % (path, i), {k: item.get(k) for k in keys if k in item}))
                seen.add(kv)
            validate_list_maps(item, schema["items"], "%s[%d]" % (path, i), errs)


def _go_q(s):
    return json.dumps(s, ensure_ascii=False)


def prune(value, schema, path, unknown):
    """Drop fields the schema does not declare (structural pruning) and nulls of
    non-nullable fields. Records dropped paths in `unknown`. Returns the pruned value."""
    if isinstance(value, dict) and schema.get("type") == "object":
        if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
            return value
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        out = {}
        for k, v in value.items():
            sub_path = path + "." + k if path else k
            if props is not None and k in props:
                sub = props[k]
            elif isinstance(addl, dict):
                sub = addl
            elif addl is True or schema.get("x-kubernetes-preserve-unknown-fields") or props is None:
                out[k] = v
                continue
            else:
                unknown.append(sub_path)
                continue
            if v is None and not sub.get("nullable"):
                continue
            out[k] = prune(v, sub, sub_path, unknown)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(v, schema["items"], "%s[%d]" % (path, i), unknown) for i, v in enumerate(value)]
    return value


# field errors that stop CEL rules from running (apiextensions' hasBlockingErr)
_BLOCKING = {"FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong", "FieldValueTooMany",
             "FieldValueTypeInvalid"}


def validate_custom_resource(obj, schema, old=None):
    """Validate everything but metadata against an openAPIV3Schema, in the real server's order:
    the OpenAPI schema (errors deduplicated as kube-openapi's Result does), list-map keys,
    then x-kubernetes-validations rules (see cel_rules.py; `old` is the stored object on an
    update). Returns FieldErrors."""
    errs = []
    body = {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}
    sub = dict(schema)
    sub["properties"] = {k: v for k, v in schema.get("properties", {}).items()
                         if k not in ("metadata", "apiVersion", "kind")}
    validate_schema(body, sub, "", errs)
    out, seen = [], set()
    for e in errs:
        if str(e) not in seen:
            seen.add(str(e))
            out.append(e)
    validate_list_maps(body, sub, "", out)
    if cel_rules.has_rules(schema):
        if any(e.type in _BLOCKING for e in out):
            out.append(invalid("<nil>", "null", "some validation rules were not checked because the object was "
                                                "invalid; correct the existing errors to complete validation"))
        else:
            cel_rules.validate(body, None if old is None else
                               {k: v for k, v in old.items() if k not in ("metadata", "apiVersion", "kind")},
                               sub, "", out)
    return out


