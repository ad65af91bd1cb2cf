# Kubernetes API errors for the test API server: builds `Status` objects with the
# same reasons, codes, details and message texts as k8s.io/apimachinery/pkg/api/errors
# and k8s.io/apimachinery/pkg/util/validation/field, so clients see real-looking errors.

import json


class APIError(Exception):
    """An error that is answered with a metav1.Status body."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.list_meta = None          # Status.metadata (e.g. a continue token on 410)

    def status(self):
        st = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.list_meta or {}),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            st["details"] = self.details
        st["code"] = self.code
        return st


def qualified(resource, group):
    """schema.GroupResource.String(): "resource.group", or "resource" for the core group."""
    return resource if not group else "%s.%s" % (resource, group)


def _details(name=None, group=None, kind=None, **extra):
    d = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    d.update(extra)
    return d


def not_found(resource, group, name):
    return APIError(404, "NotFound", '%s "%s" not found' % (qualified(resource, group), name),
                    _details(name, group, resource))


def already_exists(resource, group, name):
    return APIError(409, "AlreadyExists", '%s "%s" already exists' % (qualified(resource, group), name),
                    _details(name, group, resource))


CONFLICT_TEXT = "the object has been modified; please apply your changes to the latest version and try again"


def conflict(resource, group, name, text=CONFLICT_TEXT):
    return APIError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s'
                    % (qualified(resource, group), name, text), _details(name, group, resource))


def bad_request(message):
    return APIError(400, "BadRequest", message)


def unauthorized():
    return APIError(401, "Unauthorized", "Unauthorized")


def forbidden(resource, group, name, reason_text):
    if not resource:
        msg = "forbidden: %s" % reason_text
    elif name:
        msg = '%s "%s" is forbidden: %s' % (qualified(resource, group), name, reason_text)
    else:
        msg = "%s is forbidden: %s" % (qualified(resource, group), reason_text)
    return APIError(403, "Forbidden", msg, _details(name, group, resource))


def path_not_found():
    return APIError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed():
    return APIError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource", {})


def unsupported_media_type(accepted):
    return APIError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    + ", ".join(accepted))


def not_acceptable(accepted):
    return APIError(406, "NotAcceptable",
                    "only the following media types are accepted: " + ", ".join(accepted))


def internal_error(text):
    return APIError(500, "InternalError", "Internal error occurred: %s" % text,
                    {"causes": [{"message": text}]})


def method_not_supported(resource, group, verb):
    return APIError(405, "MethodNotAllowed",
                    '%s is not supported on resources of kind "%s"' % (verb, qualified(resource, group)),
                    _details(None, group, resource))


# reason and default message for an HTTP code, as apierrors.NewGenericServerResponse does.
GENERIC_REASONS = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "Unauthorized"),
    403: ("Forbidden", "forbidden"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    406: ("NotAcceptable", "the server was unable to respond with a content type that the client supports"),
    409: ("Conflict", "the server reported a conflict"),
    410: ("Expired", "the resource version is too old"),
    413: ("RequestEntityTooLarge", "the request entity is too large"),
    415: ("UnsupportedMediaType", "the server was unable to respond with a content type that the client supports"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected fault"),
    502: ("InternalError", "the server reported a bad gateway"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request"),
}


def generic(code, retry_after=None, message=None):
    reason, default_msg = GENERIC_REASONS.get(code, ("", "unknown error (HTTP %d)" % code))
    details = None
    headers = {}
    if retry_after is not None:
        details = {"retryAfterSeconds": int(retry_after)}
        headers["Retry-After"] = str(int(retry_after))
    return APIError(code, reason, message or default_msg, details, headers)


# ---- field errors (k8s.io/apimachinery/pkg/util/validation/field) ----

FIELD_TYPES = {
    "FieldValueRequired": "Required value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueTooLong": "Too long",
    "FieldValueTypeInvalid": "Invalid value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueForbidden": "Forbidden",
}

_OMIT = object()


def go_quote(s):
    """Go's %q for a string (close enough: JSON escaping)."""
    return json.dumps(s, ensure_ascii=False)


def _go_value(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, dict):            # %#v of a map[string]interface{}
        return "map[string]interface {}{%s}" % ", ".join(
            "%s:%s" % (go_quote(k), _go_value(v[k])) for k in sorted(v))
    return json.dumps(v, separators=(",", ":"), sort_keys=True)


class FieldError:
    def __init__(self, type_, field, value=_OMIT, detail=""):
        self.type = type_
        self.field = field
        self.value = value
        self.detail = detail

    def body(self):
        label = FIELD_TYPES[self.type]
        if self.type in ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong") \
                or self.value is _OMIT:
            s = label
        elif self.value == "0x0":          # the real server prints an unset uint64 RV as 0x0
            s = "%s: 0x0" % label
        else:
            s = "%s: %s" % (label, _go_value(self.value))
        if self.detail:
            s += ": " + self.detail
        return s

    def __str__(self):
        return "%s: %s" % (self.field, self.body())


def required(field, detail=""):
    return FieldError("FieldValueRequired", field, _OMIT, detail)


def invalid(field, value, detail):
    return FieldError("FieldValueInvalid", field, value, detail)


def not_supported(field, value, allowed):
    return FieldError("FieldValueNotSupported", field, value,
                      "supported values: " + ", ".join(go_quote(a) for a in allowed))


def too_long(field, value, max_len):
    return FieldError("FieldValueTooLong", field, value,
                      "may not be more than %d %s" % (max_len, "byte" if max_len == 1 else "bytes"))


def duplicate(field, value):
    return FieldError("FieldValueDuplicate", field, value)


def forbidden_field(field, detail):
    return FieldError("FieldValueForbidden", field, _OMIT, detail)


def type_invalid(field, value, detail):
    return FieldError("FieldValueTypeInvalid", field, value, detail)


def invalid_object(kind, group, name, errs):
    """apierrors.NewInvalid: 422 with details.causes[]."""
    qkind = kind if not group else "%s.%s" % (kind, group)
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errs]
    if not errs:
        msg = '%s "%s" is invalid' % (qkind, name)
    elif len(errs) == 1:
        msg = '%s "%s" is invalid: %s' % (qkind, name, errs[0])
    else:
        msg = '%s "%s" is invalid: [%s]' % (qkind, name, ", ".join(str(e) for e in errs))
    return APIError(422, "Invalid", msg, _details(name, group, kind, causes=causes))
