# Request semantics of the test API server: routing of /api and /apis paths, discovery,
# authentication and authorization, and create/get/list/watch/update/patch/delete with
# the behaviour of a real kube-apiserver (resourceVersion, generation, status subresource,
# admission order, error Status objects), plus TokenReview and SubjectAccessReview.

import base64
import copy
import json
import random
import threading
import time
import urllib.parse
import uuid

import apierrors as E
import auth
import crd_schema
import patches
import protobuf
import resources
import workloads
import validation
import watch as watches
from k8s_selectors import LabelSelector, FieldSelector
from store import Store

SERVER_VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-k8s-api-test-server",
    "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64",
}

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

OBJECT_META_FIELDS = {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
                      "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "labels", "annotations", "ownerReferences", "finalizers", "managedFields"}

PATCH_TYPES_CUSTOM = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
PATCH_TYPES_BUILTIN = ["application/json-patch+json", "application/merge-patch+json",
                       "application/strategic-merge-patch+json", "application/apply-patch+yaml"]
MAX_BODY = 3 * 1024 * 1024
GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"
PUBLIC_PATHS = {"/version", "/healthz", "/livez", "/readyz"}


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Request:
    def __init__(self, method, path, raw_query, headers, body):
        self.method = method
        self.path = path
        self.raw_query = raw_query
        self.query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.user = None

    def q(self, name, default=""):
        v = self.query.get(name)
        return v[0] if v else default

    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()


class Response:
    def __init__(self, code, obj=None, raw=None, content_type="application/json", headers=None, stream=None):
        self.code = code
        self.obj = obj
        self.raw = raw
        self.content_type = content_type
        self.headers = headers or {}
        self.stream = stream          # iterator of JSON-able watch events

    def body(self):
        if self.raw is not None:
            return self.raw if isinstance(self.raw, bytes) else self.raw.encode()
        return json.dumps(self.obj, separators=(",", ":"), ensure_ascii=False).encode()


class RequestInfo:
    def __init__(self):
        self.resource_request = False
        self.group = ""
        self.version = ""
        self.resource = ""
        self.subresource = ""
        self.namespace = ""
        self.name = ""
        self.verb = ""
        self.watch = False


def parse_request_info(method, path, query):
    info = RequestInfo()
    parts = [p for p in path.split("/") if p != ""]
    if not parts or parts[0] not in ("api", "apis"):
        return info
    if parts[0] == "api":
        if len(parts) < 3:
            return info
        info.version, rest = parts[1], parts[2:]
    else:
        if len(parts) < 4:
            return info
        info.group, info.version, rest = parts[1], parts[2], parts[3:]
    info.resource_request = True
    if rest and rest[0] == "watch":            # the deprecated /watch/ path prefix
        info.watch = True
        rest = rest[1:]
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        info.namespace = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    if not rest:
        info.resource = ""
        return info
    info.resource = rest[0]
    if len(rest) > 1:
        info.name = rest[1]
    if len(rest) > 2:
        info.subresource = rest[2]
    if len(rest) > 3:
        info.subresource = "/".join(rest[2:])
    if info.watch:
        info.verb = "watch"
    elif method in ("GET", "HEAD"):
        # no name: list, or watch when the watch parameter is true (a name ignores it)
        info.verb = "get" if info.name else ("watch" if query_bool(query, "watch") else "list")
        info.watch = info.verb == "watch"
    elif method == "POST":
        info.verb = "create"
    elif method == "PUT":
        info.verb = "update"
    elif method == "PATCH":
        info.verb = "patch"
    elif method == "DELETE":
        info.verb = "delete" if info.name else "deletecollection"
    else:
        info.verb = method.lower()
    return info


def query_bool(query, name):
    """A boolean query parameter as apimachinery converts it (Convert_Slice_string_To_bool):
    absent -> False; "0" or "false" in any case -> False; anything else, "" too -> True."""
    v = query.get(name)
    if not v:
        return False
    return not (v[0] == "0" or v[0].lower() == "false")


def request_log_fields(method, path, raw_query):
    """What /_test/requests records of a request's RequestInfo: the verb as the apiserver's
    audit log and RBAC see it (get, list, watch, create, update, patch, delete,
    deletecollection; the lower-case method for non-resource paths) and the resource."""
    info = parse_request_info(method, path.rstrip("/") or "/", urllib.parse.parse_qs(raw_query, keep_blank_values=True))
    if not info.resource_request:
        return {"verb": method.lower(), "apiGroup": None, "resource": None, "subresource": None,
                "namespace": None, "name": None}
    return {"verb": info.verb or method.lower(), "apiGroup": info.group, "resource": info.resource,
            "subresource": info.subresource or None, "namespace": info.namespace or None,
            "name": info.name or None}


def parse_accept(header):
    """-> list of (type, params) in order of preference."""
    out = []
    for part in (header or "").split(","):
        bits = [b.strip() for b in part.split(";")]
        if not bits[0]:
            continue
        params = {}
        for b in bits[1:]:
            if "=" in b:
                k, v = b.split("=", 1)
                params[k.strip()] = v.strip()
        out.append((bits[0].lower(), params))
    return out


def negotiate(req):
    """Returns 'json', 'table', 'partial' for what the client accepts first, or raises 406."""
    accepts = parse_accept(req.headers.get("Accept"))
    if not accepts:
        return "json"
    for mt, params in accepts:
        if mt not in ("application/json", "*/*", "application/*"):
            continue
        as_ = params.get("as")
        if not as_:
            return "json"
        if params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            if as_ == "Table":
                return "table"
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return "partial"
    raise E.not_acceptable(["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"])


class API:
    def __init__(self, tokens, faults, bookmark_interval=1.0, disabled_groups=()):
        self.tokens = tokens
        self.faults = faults
        self.store = Store()
        self.watches = watches.Hub(self.store, bookmark_interval)
        self.disabled_groups = tuple(disabled_groups)
        self.registry = resources.Registry(self.disabled_groups)
        self.reg_lock = threading.Lock()
        self.seed(default_namespaces=True)

    # ------------------------------------------------------------------ state
    def seed(self, default_namespaces=True):
        if not default_namespaces:
            return
        res = self.registry.get("", "v1", "namespaces")
        with self.store.lock:
            for ns in DEFAULT_NAMESPACES:
                if not self.store.get(res.key, "", ns):
                    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
                    self._prepare_create(res, obj)
                    self._system_fields(obj)
                    self.store.put(res.key, "", ns, obj, created=True)

    def reset(self, default_namespaces=True):
        with self.store.lock:
            self.store.clear()
            with self.reg_lock:
                self.registry = resources.Registry(self.disabled_groups)
        self.seed(default_namespaces)

    # ------------------------------------------------------------------ auth
    def authenticate(self, req):
        """Sets req.user. Raises 401 for a bad or missing token (except public paths without one)."""
        h = req.headers.get("Authorization")
        if h is None:
            if req.path in PUBLIC_PATHS:
                return None
            raise E.unauthorized()
        if not h.startswith("Bearer ") or not h[7:].strip():
            raise E.unauthorized()
        user = self.tokens.lookup(h[7:].strip())
        if user is None:
            raise E.unauthorized()
        req.user = user
        as_user = req.headers.get("Impersonate-User")
        if as_user:
            req.user = self._impersonate(user, as_user, req.headers.get_all("Impersonate-Group") or [])
        return req.user

    def _impersonate(self, user, as_user, as_groups):
        """Impersonate-User / Impersonate-Group (kubectl --as/--as-group)."""
        attrs = {"verb": "impersonate", "group": "", "resource": "users", "name": as_user,
                 "namespace": "", "subresource": "", "resource_request": True}
        allowed, _ = auth.authorize(user, user.groups, attrs)
        if not allowed:
            raise E.forbidden("users", "", as_user, auth.forbidden_text(user.username, attrs))
        known = self.tokens.by_username(as_user)
        spec = {"username": as_user, "groups": list(as_groups) + ["system:authenticated"]}
        if known is not None:
            spec.update(uid=known.uid, admin=known.admin, rules=known.rules)
            if not as_groups:
                spec["groups"] = known.groups
        return auth.User(None, spec)

    def authorize(self, req, info):
        if req.user is None:
            return
        attrs = {"verb": info.verb, "group": info.group, "resource": info.resource,
                 "subresource": info.subresource, "namespace": info.namespace, "name": info.name,
                 "resource_request": True}
        if info.group == "authorization.k8s.io" and info.resource == "selfsubjectaccessreviews":
            return                         # system:basic-user: every authenticated user may ask
        allowed, _ = auth.authorize(req.user, req.user.groups, attrs)
        if not allowed:
            raise E.forbidden(info.resource, info.group, info.name,
                              auth.forbidden_text(req.user.username, attrs))

    # ------------------------------------------------------------------ routing
    def handle(self, req):
        path = req.path.rstrip("/") or "/"
        if len(req.body) > MAX_BODY:
            return Response(413, E.APIError(413, "RequestEntityTooLarge",
                                            "Request entity too large: limit is %d" % MAX_BODY).status())
        if path in ("/healthz", "/livez", "/readyz"):
            return Response(200, raw="ok", content_type="text/plain; charset=utf-8")
        if path == "/version":
            return Response(200, dict(SERVER_VERSION))
        if path == "/openapi/v3" or path.startswith("/openapi/v3/"):
            return self.openapi_v3(req, path)
        if path.startswith("/openapi/"):
            raise E.path_not_found()           # no OpenAPI v2: kubectl uses v3
        info = parse_request_info(req.method, path, req.query)
        if not info.resource_request:
            return self.discovery(req, path)
        if req.method not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
            raise E.method_not_allowed()
        with self.reg_lock:
            res = self.registry.get(info.group, info.version, info.resource)
        if res is None or (info.subresource and not (info.subresource == "status" and res.status)):
            raise E.path_not_found()
        # namespaces/NAME is the namespace object itself (cluster-scoped)
        if res.plural == "namespaces":
            ns_for_store = ""
            if info.namespace and not info.name:
                info.name = info.namespace
                info.verb = {"list": "get", "deletecollection": "delete"}.get(info.verb, info.verb)
        else:
            ns_for_store = info.namespace
            if info.namespace and not res.namespaced:
                raise E.path_not_found()
        self.authorize(req, info)
        if info.verb not in res.verbs and not (info.subresource and info.verb in resources.VERBS_STATUS):
            raise E.method_not_allowed()
        if res.kind_of in ("tokenreview", "subjectaccessreview", "selfsubjectaccessreview"):
            return self.review(req, res)
        ns = ns_for_store
        if info.verb in ("create", "update", "patch", "delete", "deletecollection") \
                and res.namespaced and not ns:
            raise E.method_not_allowed()
        if info.verb == "get":
            return self.get(req, res, ns, info.name)
        if info.verb == "list":
            return self.list(req, res, ns)
        if info.verb == "watch":
            return self.watch(req, res, ns, info.name)
        if info.verb == "create":
            if info.name:
                raise E.method_not_allowed()
            return self.create(req, res, ns)
        if info.verb == "update":
            if not info.name:
                raise E.method_not_allowed()
            return self.update(req, res, ns, info.name, info.subresource)
        if info.verb == "patch":
            if not info.name:
                raise E.method_not_allowed()
            return self.patch(req, res, ns, info.name, info.subresource)
        if info.verb == "delete":
            if info.subresource:
                raise E.method_not_allowed()
            return self.delete(req, res, ns, info.name)
        if info.verb == "deletecollection":
            return self.delete_collection(req, res, ns)
        raise E.method_not_allowed()

    def discovery(self, req, path):
        with self.reg_lock:
            reg = self.registry
            if path == "/api":
                return Response(200, reg.api_versions())
            if path == "/apis":
                return Response(200, reg.api_group_list())
            parts = path.strip("/").split("/")
            if parts[0] == "api" and len(parts) == 2:
                doc = reg.api_resource_list("", parts[1])
            elif parts[0] == "apis" and len(parts) == 2:
                g = reg.api_group(parts[1])
                doc = dict(kind="APIGroup", apiVersion="v1", **g) if g else None
            elif parts[0] == "apis" and len(parts) == 3:
                doc = reg.api_resource_list(parts[1], parts[2])
            else:
                doc = None
        if doc is None:
            raise E.path_not_found()
        if req.method not in ("GET", "HEAD"):
            raise E.method_not_allowed()
        return Response(200, doc)

    def openapi_v3(self, req, path):
        if req.method not in ("GET", "HEAD"):
            raise E.method_not_allowed()
        with self.reg_lock:
            if path == "/openapi/v3":
                return Response(200, resources.openapi_v3_index(self.registry))
            parts = path[len("/openapi/v3/"):].split("/")
            doc = None
            if len(parts) == 2 and parts[0] == "api":
                doc = resources.openapi_v3_doc(self.registry, "", parts[1])
            elif len(parts) == 3 and parts[0] == "apis":
                doc = resources.openapi_v3_doc(self.registry, parts[1], parts[2])
        if doc is None:
            raise E.path_not_found()
        return Response(200, doc)

    # ------------------------------------------------------------------ helpers
    def _decode(self, req, res, allow_yaml=True):
        ct = req.content_type()
        if ct == "application/vnd.kubernetes.protobuf":
            try:
                obj, _ = protobuf.decode(req.body)
            except (protobuf.ProtobufError, UnicodeDecodeError) as e:
                raise E.APIError(415, "UnsupportedMediaType", str(e))
            return obj
        if ct and ct not in ("application/json", "application/yaml", "text/yaml", "*/*"):
            raise E.unsupported_media_type(["application/json", "application/yaml",
                                            "application/vnd.kubernetes.protobuf"])
        try:
            obj = json.loads(req.body.decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError) as e:
            if ct in ("application/yaml", "text/yaml"):
                raise E.bad_request("the test API server only understands YAML written as JSON: %s" % e)
            raise E.bad_request("the object provided is unrecognized (must be of type %s): "
                                "couldn't get version/kind; json parse error: %s" % (res.kind, e))
        return obj

    def _check_type(self, res, obj):
        if not isinstance(obj, dict):
            raise E.bad_request("the object provided is unrecognized (must be of type %s): "
                                "couldn't get version/kind; json parse error: json: cannot unmarshal %s "
                                "into Go value of type struct" % (res.kind, type(obj).__name__))
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if res.custom and not kind:
            raise E.bad_request("Object 'Kind' is missing in '%s'" % json.dumps(obj, separators=(",", ":")))
        if av and av != res.group_version:
            raise E.bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                                % (av, res.group_version))
        if kind and kind != res.kind:
            raise E.bad_request("%s in version \"%s\" cannot be handled as a %s: the kind in the data (%s) "
                                "does not match the expected kind (%s)" % (kind, res.version, res.kind, kind, res.kind))
        obj["apiVersion"], obj["kind"] = res.group_version, res.kind
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = meta = {}
        if not isinstance(meta, dict):
            raise E.bad_request("%s in version \"%s\" cannot be handled as a %s: json: cannot unmarshal "
                                "into ObjectMeta" % (res.kind, res.version, res.kind))
        workloads.check_owner_reference_types(res, meta)

    def _prune(self, req, res, obj):
        """Drop undeclared fields; fieldValidation=Strict rejects them, Warn warns."""
        unknown = []
        meta = obj["metadata"]
        for k in list(meta):
            if k not in OBJECT_META_FIELDS:
                unknown.append("metadata." + k)
                del meta[k]
        if res.custom and res.schema:
            pruned = validation.prune({k: v for k, v in obj.items() if k != "metadata"}, res.schema, "", unknown)
            pruned["metadata"] = meta
            obj.clear()
            obj.update(pruned)
        mode = req.q("fieldValidation", "Warn" if res.custom else "Ignore")
        headers = {}
        if unknown:
            if mode == "Strict":
                raise E.bad_request("%s in version \"%s\" cannot be handled as a %s: strict decoding error: %s"
                                    % (res.kind, res.version, res.kind,
                                       ", ".join('unknown field "%s"' % u for u in unknown)))
            if mode == "Warn":
                headers["Warning"] = ['299 - "unknown field \\"%s\\""' % u for u in unknown]
        return headers

    def _check_namespace(self, obj, ns):
        got = obj["metadata"].get("namespace") or ""
        if got == ns:
            return
        if not got:
            obj["metadata"]["namespace"] = ns
            return
        if not ns:
            obj["metadata"].pop("namespace", None)
            return
        raise E.bad_request("the namespace of the provided object does not match the namespace sent on the request")

    def _system_fields(self, obj):
        m = obj["metadata"]
        m["uid"] = str(uuid.uuid4())
        m["creationTimestamp"] = now_rfc3339()
        for k in ("selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
            m.pop(k, None)

    def _prepare_create(self, res, obj):
        m = obj["metadata"]
        if res.kind_of == "namespace":
            m.setdefault("labels", {})["kubernetes.io/metadata.name"] = m.get("name", "")
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        elif res.custom:
            if res.status:
                obj.pop("status", None)
            m["generation"] = 1
        elif res.kind_of == "crd":
            m["generation"] = 1
            obj["status"] = self._crd_status(obj)
        elif res.kind_of == workloads.WORKLOAD:
            workloads.prepare_create(res, obj)
        m.pop("managedFields", None)

    def _crd_status(self, obj):
        spec = obj.get("spec") or {}
        names = dict(spec.get("names") or {})
        if names.get("kind"):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        t = now_rfc3339()
        stored = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
        return {"conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": t, "reason": "NoConflicts",
             "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": t, "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted"}],
            "acceptedNames": names, "storedVersions": stored}

    def _validate(self, res, obj, old=None):
        errs = validation.validate_object_meta(obj["metadata"], res.name_check)
        errs.extend(workloads.validate_owner_references(obj["metadata"]))
        if res.custom and res.schema:
            errs.extend(validation.validate_custom_resource(obj, res.schema, old))
        elif res.kind_of == "configmap":
            errs.extend(validation.validate_configmap(obj))
        elif res.kind_of == "crd":
            errs.extend(self._validate_crd(obj))
        if errs:
            raise E.invalid_object(res.kind, res.group, obj["metadata"].get("name", ""), errs)

    def _validate_crd(self, obj):
        errs = []
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        for f, v in (("spec.group", spec.get("group")), ("spec.names.plural", names.get("plural")),
                     ("spec.names.kind", names.get("kind"))):
            if not v:
                errs.append(E.required(f))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            errs.append(E.not_supported("spec.scope", spec.get("scope", ""), ["Cluster", "Namespaced"]))
        if not spec.get("versions"):
            errs.append(E.invalid("spec.versions", None, "must have exactly one version marked as storage version"))
        name = obj["metadata"].get("name", "")
        if names.get("plural") and spec.get("group") and name != "%s.%s" % (names["plural"], spec["group"]):
            errs.append(E.invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"))
        return errs

    def _namespace_exists(self, ns):
        return self.store.get("/namespaces", "", ns) is not None

    def _generate_name(self, prefix):
        if len(prefix) > 58:
            prefix = prefix[:58]
        return prefix + "".join(random.choice(GENERATE_CHARS) for _ in range(5))

    def _after_commit(self, res, obj, deleted=False):
        """Keep the served resources in step with stored CustomResourceDefinitions."""
        if res.kind_of != "crd":
            return
        spec = obj.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        with self.reg_lock:
            if (group in self.registry.builtin_groups) or not group or not plural:
                return
            self.registry.remove_group_resource(group, plural)
            if deleted:
                for (rk, ns, name) in [k for k in self.store.objects if k[0] == "%s/%s" % (group, plural)]:
                    self.store.delete(rk, ns, name)
            else:
                for r in crd_schema.resources_from_crd(obj):
                    self.registry.add(r)

    @staticmethod
    def _dry_run(req, body=None):
        if "All" in req.query.get("dryRun", []):
            return True
        return isinstance(body, dict) and "All" in (body.get("dryRun") or [])

    # ------------------------------------------------------------------ reads
    def _render(self, req, res, obj):
        mode = negotiate(req)
        if mode == "table":
            return self._table(req, res, [obj], None)
        if mode == "partial":
            return self._partial(obj)
        return obj

    @staticmethod
    def _partial(obj):
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": copy.deepcopy(obj["metadata"])}

    def _table(self, req, res, objs, list_meta):
        include = req.q("includeObject", "Metadata")
        rows = []
        for o in objs:
            row = {"cells": res.cells(o)}
            if include == "Object":
                row["object"] = o
            elif include != "None":
                row["object"] = self._partial(o)
            rows.append(row)
        t = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta or {}}
        if not req.q("noHeaders") == "true":
            t["columnDefinitions"] = res.columns
        t["rows"] = rows
        return t

    def get(self, req, res, ns, name):
        with self.store.lock:
            obj = self.store.get(res.key, ns, name)
            if obj is None:
                raise E.not_found(res.plural, res.group, name)
            obj = copy.deepcopy(obj)
        return Response(200, self._render(req, res, obj))

    def _selectors(self, req, res):
        return (LabelSelector(req.q("labelSelector")),
                FieldSelector(req.q("fieldSelector"), res.field_labels))

    def list(self, req, res, ns):
        """A list: the current state, or the state at a past resourceVersion for
        resourceVersionMatch=Exact and for continue tokens (pinned to the first page's)."""
        mode = negotiate(req)
        labels, fields = self._selectors(req, res)
        limit = req.q("limit")
        try:
            limit = int(limit) if limit else 0
        except ValueError:
            raise E.bad_request("limit: Invalid value: %s" % limit)
        rv_param, match, cont = req.q("resourceVersion"), req.q("resourceVersionMatch"), req.q("continue")
        errs = list_option_errors(req, watch=False)
        if errs:
            raise E.invalid_object("ListOptions", "meta.k8s.io", "", errs)
        start, token_rv = None, None
        if cont:
            try:
                token = json.loads(base64.urlsafe_b64decode(cont.encode()).decode())
                start, token_rv = tuple(token["start"]), int(token["rv"])
            except Exception:
                raise E.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                    "(version meta.k8s.io/v1)")
        want = None
        if rv_param not in ("", "0") and not cont:
            want = _parse_rv(rv_param)
        store = self.store
        with store.lock:
            if cont and 0 < token_rv < store.compacted:
                err = E.APIError(410, "Expired", CONTINUE_EXPIRED)
                err.list_meta = {"continue": _continue_token(-1, start)}
                raise err
            at = store.rv
            if cont and token_rv > 0:
                at = token_rv
            elif want is not None and match == "Exact":
                if want < store.compacted:
                    raise E.APIError(410, "Expired", "The resourceVersion for the provided list is too old.")
                if want > store.rv:
                    raise too_large_rv(want, store.rv)
                at = want
            elif want is not None and want > store.rv:
                # NotOlderThan: the watch cache waits (3 s) to catch up with the revision
                deadline = time.monotonic() + 3.0
                while store.rv < want and time.monotonic() < deadline:
                    store.cond.wait(deadline - time.monotonic())
                if store.rv < want:
                    raise too_large_rv(want, store.rv)
                at = store.rv
            objs = store.snapshot(res.key, ns or None, at) if at != store.rv else \
                [copy.deepcopy(o) for o in store.list(res.key, ns or None)]
        items = [o for o in objs if labels.matches(o["metadata"].get("labels")) and fields.matches(o)]
        if start:
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start]
        rv = str(at)
        meta = {"resourceVersion": rv}
        if limit > 0 and len(items) > limit:
            last = items[limit - 1]["metadata"]
            meta["continue"] = _continue_token(at, [last.get("namespace", ""), last["name"]])
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if mode == "table":
            return Response(200, self._table(req, res, items, meta))
        if mode == "partial":
            return Response(200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                                  "metadata": meta, "items": [self._partial(o) for o in items]})
        return Response(200, {"kind": res.list_kind, "apiVersion": res.group_version, "metadata": meta,
                              "items": items})

    def watch(self, req, res, ns, name):
        """A watch (watch.py): a chunked stream of {"type","object"} events until timeoutSeconds."""
        mode = negotiate(req)
        labels, fields = self._selectors(req, res)
        try:
            timeout = float(req.q("timeoutSeconds") or 1800)
        except ValueError:
            raise E.bad_request("timeoutSeconds: invalid value")
        errs = list_option_errors(req, watch=True)
        if errs:
            raise E.invalid_object("ListOptions", "meta.k8s.io", "", errs)
        rv_param = req.q("resourceVersion")
        bookmarks = query_bool(req.query, "allowWatchBookmarks")
        send_initial = query_bool(req.query, "sendInitialEvents") if "sendInitialEvents" in req.query else None
        since = _parse_rv(rv_param) if rv_param not in ("", "0") else None
        store = self.store

        def matches(o):
            m = o["metadata"]
            return ((not ns or m.get("namespace", "") == ns) and (not name or m["name"] == name)
                    and labels.matches(m.get("labels")) and fields.matches(o))

        def render(o, bookmark=False):
            if mode == "table":
                if bookmark:
                    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": dict(o["metadata"]),
                            "columnDefinitions": None, "rows": None}
                return self._table(req, res, [o], {"resourceVersion": o["metadata"]["resourceVersion"]})
            if mode == "partial":
                return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": copy.deepcopy(o["metadata"])}
            return o

        with store.lock:
            if since is not None and not send_initial and since < store.compacted:
                # the watch cache answers 200 and one ERROR event, not an HTTP 410
                return Response(200, stream=watches.error_stream(watches.expired_status(
                    "too old resource version: %d (%d)" % (since, store.compacted))))
            initial = []
            if since is None or send_initial:
                if send_initial is not False:
                    initial = [copy.deepcopy(o) for o in store.list(res.key, ns or None) if matches(o)]
                since = store.rv
        info = {"resource": res.key, "namespace": ns or None, "name": name or None, "query": req.raw_query}
        return Response(200, stream=self.watches.stream(res, since, initial, matches, render, timeout, bookmarks,
                                                        bool(send_initial), info))

    # ------------------------------------------------------------------ writes
    def create(self, req, res, ns, body=None, code=201):
        if body is None:
            body = self._decode(req, res)
        self._check_type(res, body)
        obj = body
        warn = self._prune(req, res, obj)
        self._check_namespace(obj, ns)
        meta = obj["metadata"]
        if meta.get("resourceVersion"):
            raise E.bad_request("resourceVersion should not be set on objects to be created")
        # NamespaceLifecycle admission runs before validation and storage
        if res.namespaced and not self._namespace_exists(ns):
            raise E.not_found("namespaces", "", ns)
        self._prepare_create(res, obj)
        self._system_fields(obj)
        dry = self._dry_run(req)
        with self.store.lock:
            for _attempt in range(8):
                if not meta.get("name") and meta.get("generateName"):
                    meta["name"] = self._generate_name(meta["generateName"])
                    if res.kind_of == "namespace":
                        meta["labels"]["kubernetes.io/metadata.name"] = meta["name"]
                    generated = True
                else:
                    generated = False
                self._validate(res, obj)
                if self.store.get(res.key, ns, meta["name"]) is None:
                    break
                if not generated:
                    raise E.already_exists(res.plural, res.group, meta["name"])
                meta["name"] = ""
            else:
                raise E.already_exists(res.plural, res.group, meta["name"])
            if dry:
                return Response(code, obj, headers=warn)
            self.store.put(res.key, ns, meta["name"], obj, created=True)
            out = copy.deepcopy(obj)
            self._after_commit(res, out)
        return Response(code, out, headers=warn)

    def _commit_update(self, req, res, ns, name, new, sub, unconditional):
        """The shared tail of PUT and PATCH: preconditions, faults, strategy, validation, storage."""
        self._check_type(res, new)
        warn = self._prune(req, res, new)
        self._check_namespace(new, ns)
        meta = new["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise E.bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                % (meta["name"], name))
        meta["name"] = name
        with self.store.lock:
            old = self.store.get(res.key, ns, name)
            if old is None:
                raise E.not_found(res.plural, res.group, name)
            rv = meta.get("resourceVersion") or ""
            if not rv:
                if not unconditional:
                    raise E.invalid_object(res.kind, res.group, name,
                                           [E.invalid("metadata.resourceVersion", "0x0",
                                                      "must be specified for an update")])
            else:
                try:
                    int(rv)
                except ValueError:
                    raise E.bad_request("invalid resource version: %s" % rv)
                if rv != old["metadata"]["resourceVersion"]:
                    raise E.conflict(res.plural, res.group, name)
            if meta.get("uid") and meta["uid"] != old["metadata"]["uid"]:
                raise E.conflict(res.plural, res.group, name,
                                 "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                 % (meta["uid"], old["metadata"]["uid"]))
            if self.faults.take(req.method, req.path, conflict=True):
                raise E.conflict(res.plural, res.group, name)
            new = self._prepare_update(res, new, old, sub)
            self._validate(res, new, old)
            same = _without_rv(new) == _without_rv(old)
            if same or self._dry_run(req):
                return Response(200, copy.deepcopy(old if same else new), headers=warn)
            self.store.put(res.key, ns, name, new, created=False)
            out = copy.deepcopy(new)
            self._after_commit(res, out)
        return Response(200, out, headers=warn)

    def _prepare_update(self, res, new, old, sub):
        om = old["metadata"]
        if sub == "status":
            # a status update changes .status only
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is not None:
                new["status"] = status
            else:
                new.pop("status", None)
        else:
            if res.status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            if res.kind_of == "namespace":
                new["spec"] = copy.deepcopy(old.get("spec", {}))
                new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = om["name"]
        nm = new["metadata"]
        nm["uid"] = om["uid"]
        nm["creationTimestamp"] = om["creationTimestamp"]
        nm["namespace"] = om.get("namespace")
        if nm["namespace"] is None:
            nm.pop("namespace")
        nm["resourceVersion"] = om["resourceVersion"]
        nm.pop("managedFields", None)
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            nm.pop(k, None)
        if "generation" in om:
            nm["generation"] = om["generation"]
            if _non_meta(new) != _non_meta(old) and sub != "status":
                nm["generation"] = om["generation"] + 1
        else:
            nm.pop("generation", None)
        if not nm.get("generateName"):
            nm.pop("generateName", None)
        return new

    def update(self, req, res, ns, name, sub):
        body = self._decode(req, res)
        if not isinstance(body, dict):
            self._check_type(res, body)
        return self._commit_update(req, res, ns, name, body, sub, res.unconditional_update)

    def patch(self, req, res, ns, name, sub):
        ct = req.content_type()
        accepted = PATCH_TYPES_CUSTOM if res.custom else PATCH_TYPES_BUILTIN
        if ct not in accepted:
            raise E.unsupported_media_type(accepted)
        try:
            p = json.loads(req.body.decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError) as e:
            if ct == "application/apply-patch+yaml":
                raise E.bad_request("the test API server only understands apply bodies written as JSON: %s" % e)
            raise E.bad_request("error decoding patch: %s" % e)
        with self.store.lock:
            cur = self.store.get(res.key, ns, name)
            if cur is None:
                if ct == "application/apply-patch+yaml" and not sub:
                    if not isinstance(p, dict):
                        raise E.bad_request("apply patch must be an object")
                    p.setdefault("metadata", {})
                    if isinstance(p["metadata"], dict):
                        if p["metadata"].get("name", name) != name:
                            raise E.bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                                % (p["metadata"]["name"], name))
                        p["metadata"]["name"] = name
                    return self.create(req, res, ns, body=p, code=201)
                raise E.not_found(res.plural, res.group, name)
            cur = copy.deepcopy(cur)
        if ct == "application/merge-patch+json" or ct == "application/strategic-merge-patch+json":
            if not isinstance(p, dict):
                raise E.bad_request("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                                    % type(p).__name__)
            new = patches.merge_patch(cur, p)
        elif ct == "application/json-patch+json":
            new = patches.json_patch(cur, p)
        else:
            if not isinstance(p, dict):
                raise E.bad_request("apply patch must be an object")
            new = patches.apply_merge(cur, p)
            # apply does not carry a resourceVersion precondition unless the body sets one
            if not (p.get("metadata") or {}).get("resourceVersion"):
                new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        if not isinstance(new, dict):
            raise E.APIError(422, "Invalid", "the patched object is not a JSON object")
        if isinstance(new.get("metadata"), dict) and "resourceVersion" not in new["metadata"]:
            # a patch that removes resourceVersion is still applied to the current object
            new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        return self._commit_update(req, res, ns, name, new, sub, True)

    def _delete_options(self, req):
        if not req.body.strip() or req.content_type() == "application/vnd.kubernetes.protobuf":
            return {}
        try:
            opts = json.loads(req.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise E.bad_request("error decoding DeleteOptions: %s" % e)
        if not isinstance(opts, dict):
            raise E.bad_request("DeleteOptions must be an object")
        return opts

    def delete(self, req, res, ns, name):
        opts = self._delete_options(req)
        pre = opts.get("preconditions") or {}
        with self.store.lock:
            cur = self.store.get(res.key, ns, name)
            if cur is None:
                raise E.not_found(res.plural, res.group, name)
            m = cur["metadata"]
            if pre.get("uid") and pre["uid"] != m["uid"]:
                raise E.conflict(res.plural, res.group, name,
                                 "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                 % (pre["uid"], m["uid"]))
            if pre.get("resourceVersion") and pre["resourceVersion"] != m["resourceVersion"]:
                raise E.conflict(res.plural, res.group, name,
                                 "Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in "
                                 "object meta: %s" % (pre["resourceVersion"], m["resourceVersion"]))
            if self._dry_run(req, opts):
                out = copy.deepcopy(cur)
            else:
                if res.kind_of == "namespace":
                    for key in [k for k in self.store.objects if k[1] == name]:
                        self.store.delete(*key)
                out = self.store.delete(res.key, ns, name)
                self._after_commit(res, out, deleted=True)
        if res.return_deleted:
            out["metadata"]["deletionTimestamp"] = now_rfc3339()
            if res.kind_of == "namespace":
                out["status"] = {"phase": "Terminating"}
            return Response(200, out)
        details = {"name": name}
        if res.group:
            details["group"] = res.group
        details["kind"] = res.plural
        details["uid"] = out["metadata"]["uid"]
        return Response(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "details": details})

    def delete_collection(self, req, res, ns):
        labels, fields = self._selectors(req, res)
        dry = self._dry_run(req, self._delete_options(req))
        with self.store.lock:
            victims = [o for o in self.store.list(res.key, ns or None)
                       if labels.matches(o["metadata"].get("labels")) and fields.matches(o)]
            out = []
            for o in victims:
                m = o["metadata"]
                out.append(copy.deepcopy(o) if dry else self.store.delete(res.key, m.get("namespace", ""), m["name"]))
            rv = str(self.store.rv)
        return Response(200, {"kind": res.list_kind, "apiVersion": res.group_version,
                              "metadata": {"resourceVersion": rv}, "items": out})

    # ------------------------------------------------------------------ reviews
    def review(self, req, res):
        body = self._decode(req, res)
        self._check_type(res, body)
        spec = body.get("spec")
        if not isinstance(spec, dict):
            spec = {}
        out = {"kind": res.kind, "apiVersion": res.group_version, "metadata": {"creationTimestamp": None},
               "spec": spec}
        if res.kind_of == "tokenreview":
            token = spec.get("token") or ""
            if not token:
                raise E.bad_request("token is required for TokenReview in authentication")
            user = self.tokens.lookup(token)
            if user is None:
                out["status"] = {"user": {}, "error": "[invalid bearer token, token lookup failed]"}
            else:
                out["status"] = {"authenticated": True, "user": user.info()}
                if spec.get("audiences"):
                    out["status"]["audiences"] = list(spec["audiences"])
            return Response(201, out)
        # (self)subjectaccessreview
        ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        errs = []
        if res.kind_of == "subjectaccessreview" and not spec.get("user") and not spec.get("groups"):
            errs.append(E.invalid("spec.user", spec.get("user", ""), "at least one of user or group must be specified"))
        if (ra is None) == (nra is None):
            errs.append(E.invalid("spec.resourceAttributes", "", "exactly one of nonResourceAttributes or "
                                  "resourceAttributes must be specified"))
        if errs:
            raise E.invalid_object(res.kind, res.group, "", errs)
        if ra is not None:
            attrs = {"verb": ra.get("verb", ""), "group": ra.get("group", ""), "resource": ra.get("resource", ""),
                     "subresource": ra.get("subresource", ""), "namespace": ra.get("namespace", ""),
                     "name": ra.get("name", ""), "resource_request": True}
        else:
            attrs = {"verb": nra.get("verb", ""), "path": nra.get("path", ""), "resource_request": False}
        if res.kind_of == "subjectaccessreview":
            user = self.tokens.by_username(spec.get("user", ""))
            groups = spec.get("groups") or []
        else:
            user = req.user
            groups = user.groups if user else []
            spec = dict(spec)
            out["spec"] = spec
        allowed, reason = auth.authorize(user, groups, attrs)
        out["status"] = {"allowed": allowed}
        if reason:
            out["status"]["reason"] = reason
        return Response(201, out)


CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list result. You can "
                    "start a new list without the continue parameter, or use the continue token in this response "
                    "to retrieve the remainder of the results. Continuing with the provided token results in an "
                    "inconsistent list - objects that were created, modified, or deleted between the time the "
                    "first chunk was returned and now may show up in the list.")


def _continue_token(rv, start):
    """An opaque continue token: the list's revision (-1: the latest) and the last key."""
    return base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": list(start)}).encode()).decode()


def _parse_rv(v):
    try:
        n = int(v)
    except ValueError:
        n = -1
    if n < 0:
        raise E.bad_request("invalid resource version: %s" % v)
    return n


def too_large_rv(want, current):
    """storage.NewTooLargeResourceVersionError: 504 Timeout, retry after 1 s."""
    return E.APIError(504, "Timeout", "Timeout: Too large resource version: %d, current: %d" % (want, current),
                      {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                       "retryAfterSeconds": 1})


def list_option_errors(req, watch):
    """metainternalversion validation.ValidateListOptions (WatchList enabled)."""
    errs = []
    match, rv, cont = req.q("resourceVersionMatch"), req.q("resourceVersion"), req.q("continue")
    initial = "sendInitialEvents" in req.query
    path = "resourceVersionMatch"
    if watch:
        if initial and match != "NotOlderThan":
            errs.append(E.forbidden_field(path, "sendInitialEvents requires setting resourceVersionMatch to "
                                                "NotOlderThan"))
        if match:
            if not initial:
                errs.append(E.forbidden_field(path, "resourceVersionMatch is forbidden for watch unless "
                                                    "sendInitialEvents is provided"))
            if match != "NotOlderThan":
                errs.append(E.not_supported(path, match, ["NotOlderThan"]))
            if cont:
                errs.append(E.forbidden_field(path, "resourceVersionMatch is forbidden when continue is provided"))
        return errs
    if match:
        if not rv:
            errs.append(E.forbidden_field(path, "resourceVersionMatch is forbidden unless resourceVersion is "
                                                "provided"))
        if cont:
            errs.append(E.forbidden_field(path, "resourceVersionMatch is forbidden when continue is provided"))
        if match not in ("Exact", "NotOlderThan"):
            errs.append(E.not_supported(path, match, ["Exact", "NotOlderThan", ""]))
        if match == "Exact" and rv == "0":
            errs.append(E.forbidden_field(path, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if initial:
        errs.append(E.forbidden_field("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return errs


def _without_rv(o):
    o = copy.deepcopy(o)
    o["metadata"].pop("resourceVersion", None)
    return o


def _non_meta(o):
    return {k: v for k, v in o.items() if k != "metadata"}
