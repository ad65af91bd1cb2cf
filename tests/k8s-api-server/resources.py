# The resource types the test API server serves (built-in ones and those added by
# CustomResourceDefinitions), their discovery documents (/api, /apis, APIResourceList)
# and their `kubectl get` table columns (meta.k8s.io/v1 Table).

import calendar
import time

import validation

VERBS_FULL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
VERBS_NS = ["create", "delete", "get", "list", "patch", "update", "watch"]
VERBS_STATUS = ["get", "patch", "update"]

NAME_COLUMN = {"name": "Name", "type": "string", "format": "name",
               "description": "Name must be unique within a namespace. Is required when creating resources, "
                              "although some resources may allow a client to request the generation of an "
                              "appropriate name automatically. Name is primarily intended for creation "
                              "idempotence and configuration definition. Cannot be updated. More info: "
                              "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
               "priority": 0}
AGE_COLUMN = {"name": "Age", "type": "date", "format": "",
              "description": "CreationTimestamp is a timestamp representing the server time when this object "
                             "was created. It is not guaranteed to be set in happens-before order across "
                             "separate operations. Clients may not set this value. It is represented in "
                             "RFC3339 form and is in UTC.",
              "priority": 0}


def parse_time(ts):
    try:
        return calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        return None


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    minutes = s // 60
    if minutes < 10:
        return "%dm" % minutes if s % 60 == 0 else "%dm%ds" % (minutes, s % 60)
    if minutes < 180:
        return "%dm" % minutes
    hours = s // 3600
    if hours < 8:
        return "%dh" % hours if minutes % 60 == 0 else "%dh%dm" % (hours, minutes % 60)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        return "%dd" % (hours // 24) if hours % 24 == 0 else "%dd%dh" % (hours // 24, hours % 24)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if dy == 0 else "%dy%dd" % (hours // 24 // 365, dy)
    return "%dy" % (hours // 24 // 365)


def age(obj):
    t = parse_time(obj.get("metadata", {}).get("creationTimestamp"))
    return "<unknown>" if t is None else human_duration(time.time() - t)


class Resource:
    def __init__(self, group, version, plural, singular, kind, namespaced, kind_of, verbs=None,
                 short_names=(), categories=(), status=False, schema=None, name_check=None,
                 unconditional_update=True, return_deleted=False, columns=None, cells=None,
                 field_labels=(), served_versions=None):
        self.group, self.version, self.plural, self.singular = group, version, plural, singular
        self.kind, self.list_kind, self.namespaced, self.kind_of = kind, kind + "List", namespaced, kind_of
        self.verbs = list(verbs or VERBS_FULL)
        self.short_names, self.categories = list(short_names), list(categories)
        self.status = status
        self.schema = schema
        self.name_check = name_check or validation.is_dns1123_subdomain
        self.unconditional_update = unconditional_update
        self.return_deleted = return_deleted
        self.columns = columns or [NAME_COLUMN, AGE_COLUMN]
        self.cells = cells or (lambda o: [o["metadata"]["name"], age(o)])
        self.field_labels = {"metadata.name", "metadata.namespace"} | set(field_labels)
        self.custom = kind_of == "custom"

    @property
    def group_version(self):
        return self.version if not self.group else "%s/%s" % (self.group, self.version)

    @property
    def key(self):
        return "%s/%s" % (self.group, self.plural)

    def api_resources(self):
        out = [{"name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
                "kind": self.kind, "verbs": list(self.verbs)}]
        if self.short_names:
            out[0]["shortNames"] = list(self.short_names)
        if self.categories:
            out[0]["categories"] = list(self.categories)
        if self.status:
            out.append({"name": self.plural + "/status", "singularName": "", "namespaced": self.namespaced,
                        "kind": self.kind, "verbs": list(VERBS_STATUS)})
        return out


def _ns_cells(o):
    return [o["metadata"]["name"], (o.get("status") or {}).get("phase", ""), age(o)]


def _cm_cells(o):
    return [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}), age(o)]


def builtin_resources():
    from workloads import workload_resources   # Pods, apps/v1, batch/v1 ...; it imports this module
    return [
        Resource("", "v1", "namespaces", "namespace", "Namespace", False, "namespace",
                 verbs=VERBS_NS, short_names=["ns"], status=True, name_check=validation.is_dns1123_label,
                 return_deleted=True, field_labels=["status.phase"],
                 columns=[NAME_COLUMN, {"name": "Status", "type": "string", "format": "",
                                        "description": "The status of the namespace", "priority": 0},
                          AGE_COLUMN], cells=_ns_cells),
        Resource("", "v1", "configmaps", "configmap", "ConfigMap", True, "configmap", short_names=["cm"],
                 columns=[NAME_COLUMN, {"name": "Data", "type": "string", "format": "",
                                        "description": "", "priority": 0}, AGE_COLUMN],
                 cells=_cm_cells),
        Resource("remediation.kubernaut.io", "v1alpha1", "remediationrequests", "remediationrequest",
                 "RemediationRequest", True, "custom", short_names=["rr"], status=True,
                 schema=validation.REMEDIATION_REQUEST_SCHEMA, unconditional_update=False),
        Resource("authentication.k8s.io", "v1", "tokenreviews", "tokenreview", "TokenReview", False,
                 "tokenreview", verbs=["create"]),
        Resource("authorization.k8s.io", "v1", "subjectaccessreviews", "subjectaccessreview",
                 "SubjectAccessReview", False, "subjectaccessreview", verbs=["create"]),
        Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview",
                 "SelfSubjectAccessReview", False, "selfsubjectaccessreview", verbs=["create"]),
        Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
                 "CustomResourceDefinition", False, "crd", short_names=["crd", "crds"], categories=["api-extensions"],
                 status=True, columns=[NAME_COLUMN, {"name": "Created At", "type": "date", "format": "",
                                                     "description": AGE_COLUMN["description"], "priority": 0}],
                 cells=lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp", "")]),
    ] + workload_resources()


class Registry:
    """The set of served resources, keyed by (group, version, plural). `disabled_groups`
    are built-in groups not served (as on a cluster without their CRD)."""

    def __init__(self, disabled_groups=()):
        import crd_schema              # it builds on this module
        self.by_gvr = {}
        self.builtin_groups = []
        for r in builtin_resources() + crd_schema.builtin_crd_resources():
            if r.group in disabled_groups:
                continue
            self.add(r)
            if r.group and r.group not in self.builtin_groups:
                self.builtin_groups.append(r.group)

    def add(self, r):
        self.by_gvr[(r.group, r.version, r.plural)] = r

    def remove_group_resource(self, group, plural):
        for k in [k for k in self.by_gvr if k[0] == group and k[2] == plural]:
            del self.by_gvr[k]

    def get(self, group, version, plural):
        return self.by_gvr.get((group, version, plural))

    def group_versions(self):
        """{group: [versions]} in serving order (built-in groups first)."""
        out = {}
        for (g, v, _), r in self.by_gvr.items():
            out.setdefault(g, [])
            if v not in out[g]:
                out[g].append(v)
        return out

    def resources_in(self, group, version):
        return [r for (g, v, _), r in self.by_gvr.items() if g == group and v == version]

    # ---- discovery documents ----
    def api_versions(self):
        return {"kind": "APIVersions", "apiVersion": "v1", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}

    def api_group(self, group):
        versions = self.group_versions().get(group)
        if not versions:
            return None
        vs = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in versions]
        return {"name": group, "versions": vs, "preferredVersion": vs[0]}

    def api_group_list(self):
        groups = [g for g in self.group_versions() if g]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self.api_group(g) for g in groups]}

    def api_resource_list(self, group, version):
        rs = self.resources_in(group, version)
        if not rs:
            return None
        res = []
        for r in sorted(rs, key=lambda r: r.plural):
            res.extend(r.api_resources())
        gv = version if not group else "%s/%s" % (group, version)
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}


# ---- OpenAPI v3 (only what clients use to learn that the server validates fields) ----

def openapi_v3_index(registry):
    """/openapi/v3: the discovery of per-group-version documents."""
    paths = {}
    for g, versions in registry.group_versions().items():
        for v in versions:
            p = "api/%s" % v if not g else "apis/%s/%s" % (g, v)
            paths[p] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (p, _doc_hash(registry, g, v))}
    return {"paths": paths}


def _doc_hash(registry, group, version):
    import hashlib
    names = ",".join(sorted(r.plural + ":" + r.kind for r in registry.resources_in(group, version)))
    return hashlib.sha256(names.encode()).hexdigest()[:32].upper()


def openapi_v3_doc(registry, group, version):
    """A minimal OpenAPI 3 document for one group/version: the operations of each resource,
    tagged with x-kubernetes-group-version-kind and listing the fieldValidation parameter
    (kubectl reads that to leave field validation to the server). No schemas."""
    rs = registry.resources_in(group, version)
    if not rs:
        return None
    prefix = "/api/%s" % version if not group else "/apis/%s/%s" % (group, version)
    qp = lambda n: {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    paths = {}
    for r in rs:
        gvk = {"group": group, "version": version, "kind": r.kind}
        base = prefix + ("/namespaces/{namespace}/" if r.namespaced else "/") + r.plural
        ok = {"200": {"description": "OK"}}
        body = lambda types: {"content": {t: {"schema": {"type": "object"}} for t in types}}
        if r.kind_of in ("tokenreview", "subjectaccessreview", "selfsubjectaccessreview"):
            paths[base] = {"post": {"operationId": "create" + r.kind, "x-kubernetes-action": "post",
                                    "x-kubernetes-group-version-kind": gvk,
                                    "parameters": [qp("dryRun"), qp("fieldManager"), qp("fieldValidation")],
                                    "requestBody": body(["*/*"]), "responses": ok}}
            continue
        patch_types = ["application/json-patch+json", "application/merge-patch+json",
                       "application/apply-patch+yaml"]
        paths[base] = {
            "get": {"operationId": "list" + r.kind, "x-kubernetes-action": "list",
                    "x-kubernetes-group-version-kind": gvk, "responses": ok},
            "post": {"operationId": "create" + r.kind, "x-kubernetes-action": "post",
                     "x-kubernetes-group-version-kind": gvk,
                     "parameters": [qp("dryRun"), qp("fieldManager"), qp("fieldValidation")],
                     "requestBody": body(["*/*"]), "responses": ok},
        }
        item = base + "/{name}"
        paths[item] = {
            "get": {"operationId": "read" + r.kind, "x-kubernetes-action": "get",
                    "x-kubernetes-group-version-kind": gvk, "responses": ok},
            "put": {"operationId": "replace" + r.kind, "x-kubernetes-action": "put",
                    "x-kubernetes-group-version-kind": gvk,
                    "parameters": [qp("dryRun"), qp("fieldManager"), qp("fieldValidation")],
                    "requestBody": body(["*/*"]), "responses": ok},
            "patch": {"operationId": "patch" + r.kind, "x-kubernetes-action": "patch",
                      "x-kubernetes-group-version-kind": gvk,
                      "parameters": [qp("dryRun"), qp("fieldManager"), qp("fieldValidation"), qp("force")],
                      "requestBody": body(patch_types), "responses": ok},
            "delete": {"operationId": "delete" + r.kind, "x-kubernetes-action": "delete",
                       "x-kubernetes-group-version-kind": gvk, "responses": ok},
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0-k8s-api-test-server"},
            "paths": paths, "components": {"schemas": {}}}
