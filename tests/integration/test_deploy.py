"""The deployment files (deploy/): a base and one overlay per RemediationRequest contract
(overlays/remediation.kubernaut.io, the default that deploy/kustomization.yaml applies, and
overlays/kubernaut.ai); each overlay builds with kubectl kustomize into the expected objects,
its ConfigMap passes --check-config and its RBAC grants exactly what its contract needs.
Every manifest parses and names itself; the CRD is
accepted by the API test server (through kubectl) and its openAPIV3Schema accepts every
RemediationRequest the REAL gateway writes (single alerts, Kubernetes Events, a
cluster-scoped signal, a storm RR as created and as rewritten) under a strict validator of
the OpenAPI subset the CRD uses, and rejects broken ones; the CRD agrees with the API test
server's schema table except for the listed, deliberate differences; the Deployment's
security settings and probes, the exact RBAC grants, Service / ServiceMonitor / PDB wiring,
the ConfigMap's config (checked by the real binary's --check-config), the alert rules
(promtool, and only metrics src/metrics.c exports), docs/operations.md (every metric family,
an Alertmanager example amtool accepts) and the Containerfile's package lists. Loopback only;
processes stopped by PID through the harness classes."""
import base64
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

from harness import ROOT, Gateway, fixture, pod_alert, webhook
from k8s_harness import ApiServer

sys.path.insert(0, os.path.join(ROOT, "tests", "k8s-api-server"))
import validation  # noqa: E402  (the API test server's RR schema table)

DEPLOY = os.path.join(ROOT, "deploy")
RELEASE = os.path.join(ROOT, "build", "signal-gateway")
CRD_FILE = os.path.join(DEPLOY, "crd", "remediation.kubernaut.io", "remediationrequests.yaml")
CRD_NAME = "remediationrequests.remediation.kubernaut.io"
KAI_CRD_FILE = os.path.join(DEPLOY, "crd", "kubernaut.ai", "remediationrequests.yaml")
KAI_CRD_NAME = "remediationrequests.kubernaut.ai"
# contract → overlay directory; the first is the default (deploy/kustomization.yaml)
OVERLAYS = {"remediation.kubernaut.io": os.path.join(DEPLOY, "overlays", "remediation.kubernaut.io"),
            "kubernaut.ai": os.path.join(DEPLOY, "overlays", "kubernaut.ai")}
NS = "kubernaut-system"
# What every overlay builds from the base: (kind, name, namespace).
BASE_OBJECTS = {("Namespace", NS, ""), ("ServiceAccount", "signal-gateway", NS),
                ("ClusterRole", "signal-gateway-sender", ""), ("ConfigMap", "signal-gateway-config", NS),
                ("Deployment", "signal-gateway", NS), ("Service", "signal-gateway", NS),
                ("PodDisruptionBudget", "signal-gateway", NS), ("ServiceMonitor", "signal-gateway", NS),
                ("PrometheusRule", "signal-gateway", NS)}
OVERLAY_OBJECTS = {
    "remediation.kubernaut.io": BASE_OBJECTS | {
        ("CustomResourceDefinition", CRD_NAME, ""),
        ("ClusterRole", "signal-gateway", ""), ("ClusterRoleBinding", "signal-gateway", ""),
        ("Role", "signal-gateway-environment-overrides", NS),
        ("RoleBinding", "signal-gateway-environment-overrides", NS)},
    "kubernaut.ai": BASE_OBJECTS | {
        ("CustomResourceDefinition", KAI_CRD_NAME, ""),
        ("ClusterRole", "signal-gateway", ""), ("ClusterRoleBinding", "signal-gateway", ""),
        ("Role", "signal-gateway-remediationrequests", NS),
        ("RoleBinding", "signal-gateway-remediationrequests", NS)},
}
# The gateway's grants per contract: (namespace or "*", group, resource, verb, resourceNames).
CLUSTER_AUTH = {("*", "authentication.k8s.io", "tokenreviews", "create", ()),
                ("*", "authorization.k8s.io", "subjectaccessreviews", "create", ())}
GRANTS = {
    "remediation.kubernaut.io": CLUSTER_AUTH | {
        ("*", "remediation.kubernaut.io", "remediationrequests", "create", ()),
        ("*", "remediation.kubernaut.io", "remediationrequests", "get", ()),
        ("*", "remediation.kubernaut.io", "remediationrequests", "update", ()),
        ("*", "", "namespaces", "get", ()),
        (NS, "", "configmaps", "get", ("kubernaut-environment-overrides",))},
    "kubernaut.ai": CLUSTER_AUTH | {
        (NS, "kubernaut.ai", "remediationrequests", v, ()) for v in ("get", "list", "watch", "create")} | {
        (NS, "kubernaut.ai", "remediationrequests/status", v, ()) for v in ("get", "patch", "update")} | {
        ("*", "", "pods", "get", ()), ("*", "", "pods", "list", ()),
        ("*", "", "services", "get", ()), ("*", "", "nodes", "get", ()),
        ("*", "", "persistentvolumes", "get", ()), ("*", "", "configmaps", "get", ()),
        ("*", "apps", "replicasets", "get", ()), ("*", "apps", "deployments", "get", ()),
        ("*", "apps", "statefulsets", "get", ()), ("*", "apps", "daemonsets", "get", ()),
        ("*", "batch", "jobs", "get", ()), ("*", "batch", "cronjobs", "get", ()),
        # the scope label of a namespace: read by get, cached (upstream watches them all)
        ("*", "", "namespaces", "get", ())},
}
# The keys the kubernaut.ai overlay's config.yaml changes in the base's (None: removed).
KAI_CONFIG_CHANGES = {("state", "url"): "kubernetes", ("state", "prefix"): None,
                      ("sink", "rr_api"): "kubernaut.ai/v1alpha1"}
SA = ("kubernaut-system", "signal-gateway")
POD_LABELS = {"app.kubernetes.io/name": "signal-gateway", "app.kubernetes.io/component": "gateway"}

# Where deploy/crd-remediationrequest.yaml deliberately differs from
# tests/k8s-api-server/validation.py REMEDIATION_REQUEST_SCHEMA (descriptions ignored):
# (path, keyword, CRD value, table value).
KNOWN_DIFFERENCES = {
    ("status.overallPhase", "enum",
     json.dumps(["pending", "processing", "analyzing", "executing", "completed", "failed"]), "null"),
}


def load_docs(path):
    """The YAML documents of a file, empty ones (a leading `---`) left out."""
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def one_doc(name):
    """The one document of deploy/<name>."""
    docs = load_docs(os.path.join(DEPLOY, name))
    assert len(docs) == 1, (name, len(docs))
    return docs[0]


def crd_schema():
    return load_docs(CRD_FILE)[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def configmap_config():
    return one_doc("base/configmap.yaml")["data"]["config.yaml"]


_built = {}


def kustomize(path):
    """The objects `kubectl kustomize path` builds (cached per path)."""
    if path not in _built:
        home = tempfile.mkdtemp(prefix="sgw-kustomize-")
        try:
            rc, out, err = kubectl(None, home, "kustomize", path)
        finally:
            shutil.rmtree(home, True)
        assert rc == 0, (path, err)
        _built[path] = [d for d in yaml.safe_load_all(out) if d is not None]
    return copy.deepcopy(_built[path])


def built(contract, kind, name):
    """The one object of that kind and name an overlay builds."""
    found = [d for d in kustomize(OVERLAYS[contract]) if (d["kind"], d["metadata"]["name"]) == (kind, name)]
    assert len(found) == 1, (contract, kind, name, len(found))
    return found[0]


def built_config(contract):
    return built(contract, "ConfigMap", "signal-gateway-config")["data"]["config.yaml"]


def kustomization_files(directory, seen=None):
    """Every file a kustomization directory builds from, following its resources into other
    directories: resources, patches given by path, and generators' files."""
    seen = set() if seen is None else seen
    k = load_docs(os.path.join(directory, "kustomization.yaml"))[0]
    files = set()
    for r in k.get("resources", []):
        path = os.path.normpath(os.path.join(directory, r))
        if os.path.isdir(path):
            if path not in seen:
                seen.add(path)
                files |= kustomization_files(path, seen)
        else:
            files.add(path)
    for g in k.get("configMapGenerator", []) + k.get("secretGenerator", []):
        files |= {os.path.normpath(os.path.join(directory, f.split("=", 1)[-1])) for f in g.get("files", [])}
    for p in k.get("patches", []):
        if "path" in p:
            files.add(os.path.normpath(os.path.join(directory, p["path"])))
    return files


def deploy_yaml_files():
    return sorted(glob.glob(os.path.join(DEPLOY, "**", "*.yaml"), recursive=True))


def rbac_grants(docs):
    """What the RBAC among docs grants the gateway's service account:
    {(namespace or "*", group, resource, verb, resourceNames)}."""
    roles = {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d
             for d in docs if d["kind"] in ("ClusterRole", "Role")}
    grants = set()
    for b in docs:
        if b["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if not any(s["kind"] == "ServiceAccount" and (s["namespace"], s["name"]) == SA for s in b["subjects"]):
            continue
        ns = b["metadata"].get("namespace", "") if b["kind"] == "RoleBinding" else ""
        rk = b["roleRef"]["kind"]
        role = roles[(rk, ns if rk == "Role" else "", b["roleRef"]["name"])]
        scope = ns or "*"
        for r in role["rules"]:
            for g in r["apiGroups"]:
                for res in r["resources"]:
                    for v in r["verbs"]:
                        grants.add((scope, g, res, v, tuple(r.get("resourceNames", []))))
    return grants


def duration_s(v):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", str(v).strip())
    assert m, v
    n = int(m.group(1))
    return {"ms": n / 1000, "s": n, None: n, "m": n * 60, "h": n * 3600}[m.group(2)]


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("SGW_")}


def metric_families():
    with open(os.path.join(ROOT, "src", "metrics.c")) as f:
        fams = re.findall(r'^\s*\{"(gateway_[a-z_]+)", M_', f.read(), re.M)
    assert len(fams) >= 10, fams
    return fams


# Kubernetes fields newer than python3-kubernetes 22.6 (the Kubernetes 1.22 API) that the
# manifests use on purpose: (kind, path as a regular expression).
K8S_MODEL_GAPS = {
    ("PodDisruptionBudget", r"spec\.unhealthyPodEvictionPolicy"),   # policy/v1, Kubernetes 1.27
    # upstream's kubernaut.ai CRD: CEL rules (apiextensions v1, 1.25) and selectable fields (1.32)
    ("CustomResourceDefinition", r"spec\.versions\[\d+\]\.schema\.openAPIV3Schema\..*\.x-kubernetes-validations"),
    ("CustomResourceDefinition", r"spec\.versions\[\d+\]\.selectableFields"),
}


def model_gap(kind, path):
    return any(k == kind and re.fullmatch(p, path) for k, p in K8S_MODEL_GAPS)


def unknown_k8s_fields(obj, model, path=""):
    """Fields of `obj` that the Kubernetes API model `model` (python3-kubernetes) does not
    have, or of the wrong JSON type: catches typos no server is here to reject."""
    from kubernetes import client
    cls = getattr(client, model)
    by_json = {v: k for k, v in cls.attribute_map.items()}
    out = []
    for key, val in obj.items():
        p = path + "." + key if path else key
        if key not in by_json:
            out.append(p)
        elif model == "V1JSONSchemaProps" and key in ("items", "additionalProperties") and isinstance(val, dict):
            out += unknown_k8s_fields(val, model, p)
        else:
            out += _k8s_type_errors(val, cls.openapi_types[by_json[key]], p)
    return out


def _k8s_type_errors(val, t, p):
    if t.startswith("list["):
        if not isinstance(val, list):
            return [p + ": not a list"]
        return [e for i, v in enumerate(val) for e in _k8s_type_errors(v, t[5:-1], "%s[%d]" % (p, i))]
    if t.startswith("dict("):
        if not isinstance(val, dict):
            return [p + ": not a map"]
        inner = t[t.index(",") + 1:-1].strip()
        return [e for k, v in val.items() for e in _k8s_type_errors(v, inner, p + "." + k)]
    simple = {"str": str, "datetime": str, "bool": bool, "int": int, "float": (int, float)}
    if t in simple:
        ok = isinstance(val, simple[t]) and not (t in ("int", "float") and isinstance(val, bool))
        return [] if ok else ["%s: want %s" % (p, t)]
    if t == "object":
        return []
    if not isinstance(val, dict):
        return [p + ": want an object"]
    return unknown_k8s_fields(val, t, p)


# ---------------------------------------------------------------------------------------
# A strict validator for the OpenAPI v3 subset the CRD uses. Unknown keywords in the schema
# are errors (so a constraint can never be silently ignored), and so are fields the schema
# does not declare (what kubectl's fieldValidation=Strict does).
# ---------------------------------------------------------------------------------------

KEYWORDS = {"type", "description", "properties", "required", "enum", "pattern", "minLength", "maxLength",
            "format", "items", "additionalProperties", "x-kubernetes-preserve-unknown-fields"}
TYPES = {"object", "array", "string", "integer", "number", "boolean"}
FORMATS = {"date-time", "byte"}
RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
B64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


def schema_problems(s, path="", out=None):
    """Keywords outside the subset, unknown types/formats, and nodes without a type
    (a structural schema needs one everywhere)."""
    out = [] if out is None else out
    for k in s:
        if k not in KEYWORDS:
            out.append("%s: unsupported keyword %r" % (path or "<root>", k))
    if s.get("type") not in TYPES:
        out.append("%s: type %r" % (path or "<root>", s.get("type")))
    if "format" in s and s["format"] not in FORMATS:
        out.append("%s: format %r" % (path, s["format"]))
    for r in s.get("required", []):
        if r not in s.get("properties", {}):
            out.append("%s: required %r is not a property" % (path, r))
    for k, sub in s.get("properties", {}).items():
        schema_problems(sub, path + "." + k if path else k, out)
    if isinstance(s.get("additionalProperties"), dict):
        schema_problems(s["additionalProperties"], path + ".*", out)
    if "items" in s:
        schema_problems(s["items"], path + "[]", out)
    return out


def _type_ok(t, v):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool) or (isinstance(v, float) and v.is_integer())
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return False


def _date_time_ok(v):
    m = RFC3339.match(v)
    if not m:
        return False
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    return 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and sec <= 60


def validate(value, s, path="", errs=None):
    errs = [] if errs is None else errs
    where = path or "<root>"
    if not _type_ok(s["type"], value):
        errs.append("%s: want %s, got %r" % (where, s["type"], type(value).__name__))
        return errs
    if "enum" in s and value not in s["enum"]:
        errs.append("%s: %r not in %r" % (where, value, s["enum"]))
    if isinstance(value, str):
        if "maxLength" in s and len(value) > s["maxLength"]:
            errs.append("%s: longer than %d" % (where, s["maxLength"]))
        if "minLength" in s and len(value) < s["minLength"]:
            errs.append("%s: shorter than %d" % (where, s["minLength"]))
        if "pattern" in s and not re.search(s["pattern"], value):
            errs.append("%s: %r does not match %s" % (where, value[:80], s["pattern"]))
        fmt = s.get("format")
        if fmt == "date-time" and not _date_time_ok(value):
            errs.append("%s: %r is not an RFC 3339 date-time" % (where, value))
        if fmt == "byte":
            if not B64.match(value):
                errs.append("%s: not standard base64" % where)
            else:
                base64.b64decode(value, validate=True)
    if isinstance(value, dict):
        for r in s.get("required", []):
            if value.get(r) is None:
                errs.append("%s.%s: required" % (where, r))
        props = s.get("properties", {})
        addl = s.get("additionalProperties")
        for k, v in value.items():
            sub = path + "." + k if path else k
            if k in props:
                if path == "" and k == "metadata":
                    continue   # ObjectMeta: validated by the API server, not the schema
                validate(v, props[k], sub, errs)
            elif isinstance(addl, dict):
                validate(v, addl, sub, errs)
            elif not s.get("x-kubernetes-preserve-unknown-fields"):
                errs.append("%s: unknown field" % sub)
    if isinstance(value, list):
        for i, item in enumerate(value):
            validate(item, s["items"], "%s[%d]" % (path, i), errs)
    return errs


def schema_diff(a, b, path="", out=None):
    """Differences between two schemas, keyword by keyword (descriptions ignored)."""
    out = set() if out is None else out
    for k in sorted((set(a) | set(b)) - {"description", "properties", "additionalProperties", "items"}):
        if a.get(k) != b.get(k):
            out.add((path, k, json.dumps(a.get(k)), json.dumps(b.get(k))))
    pa, pb = a.get("properties", {}), b.get("properties", {})
    for k in sorted(set(pa) | set(pb)):
        sub = path + "." + k if path else k
        if k not in pa or k not in pb:
            out.add((sub, "<property>", json.dumps(k in pa), json.dumps(k in pb)))
        else:
            schema_diff(pa[k], pb[k], sub, out)
    for k, suffix in (("additionalProperties", ".*"), ("items", "[]")):
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            schema_diff(a[k], b[k], path + suffix, out)
        elif a.get(k) != b.get(k):
            out.add((path, k, json.dumps(a.get(k)), json.dumps(b.get(k))))
    return out


def kubectl(api, home, *args):
    exe = shutil.which("kubectl")
    assert exe, "kubectl is required (scripts/setup installs kubernetes-client)"
    cmd = [exe, "--request-timeout=10s"]
    if api is not None:
        cmd += ["--kubeconfig", api.kubeconfig, "--cache-dir", os.path.join(home, "cache")]
    p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, HOME=home))
    return p.returncode, p.stdout, p.stderr


# ---------------------------------------------------------------------------------------
# Static checks of the files
# ---------------------------------------------------------------------------------------

class DeployFilesTests(unittest.TestCase):
    def test_every_manifest_parses_and_has_apiversion_kind_and_name(self):
        files = deploy_yaml_files()
        names = {os.path.relpath(f, DEPLOY) for f in files}
        for want in ("kustomization.yaml", "base/kustomization.yaml", "base/namespace.yaml",
                     "base/serviceaccount.yaml", "base/sender-rbac.yaml", "base/configmap.yaml",
                     "base/deployment.yaml", "base/service.yaml", "base/servicemonitor.yaml", "base/pdb.yaml",
                     "base/prometheusrule.yaml", "crd/remediation.kubernaut.io/remediationrequests.yaml",
                     "crd/kubernaut.ai/remediationrequests.yaml", "overlays/remediation.kubernaut.io/kustomization.yaml",
                     "overlays/remediation.kubernaut.io/rbac.yaml", "overlays/kubernaut.ai/kustomization.yaml",
                     "overlays/kubernaut.ai/rbac.yaml", "overlays/kubernaut.ai/config.yaml"):
            self.assertIn(want, names)
        self.assertTrue(os.path.isfile(os.path.join(DEPLOY, "Containerfile")))
        gateway_configs = {os.path.join(OVERLAYS["kubernaut.ai"], "config.yaml")}
        for f in files:
            if f in gateway_configs:
                continue
            docs = load_docs(f)
            self.assertTrue(docs, f)
            for d in docs:
                self.assertIsInstance(d, dict, "%s: a non-mapping document" % f)
                self.assertTrue(d.get("apiVersion"), f)
                self.assertTrue(d.get("kind"), f)
                if d["kind"] != "Kustomization":
                    self.assertTrue((d.get("metadata") or {}).get("name"),
                                    "%s: %s without metadata.name" % (f, d["kind"]))

    def test_core_manifests_use_only_known_fields_of_the_right_types(self):
        checked = set()
        for f in deploy_yaml_files():
            if os.path.basename(f) in ("kustomization.yaml", "config.yaml"):
                continue
            for d in load_docs(f):
                group = d["apiVersion"].rsplit("/", 1)[0] if "/" in d["apiVersion"] else ""
                if group.endswith("coreos.com"):
                    continue   # no python3-kubernetes model for these
                bad = unknown_k8s_fields(d, "V1" + d["kind"])
                bad = [b for b in bad if not model_gap(d["kind"], b)]
                self.assertEqual(bad, [], "%s: %s" % (os.path.relpath(f, DEPLOY), d["kind"]))
                checked.add(d["kind"])
        self.assertLessEqual({"CustomResourceDefinition", "Deployment", "Service", "ClusterRole", "RoleBinding",
                              "PodDisruptionBudget", "ConfigMap", "Namespace", "ServiceAccount"}, checked)
        # the checker finds a typo
        d = copy.deepcopy(one_doc("base/deployment.yaml"))
        d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
        self.assertEqual(unknown_k8s_fields(d, "V1Deployment"),
                         ["spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"])

    def test_every_file_is_built_by_a_kustomization_but_the_examples(self):
        used = set()
        for k in glob.glob(os.path.join(DEPLOY, "**", "kustomization.yaml"), recursive=True):
            used |= kustomization_files(os.path.dirname(k))
        on_disk = {f for f in deploy_yaml_files()
                   if os.path.basename(f) != "kustomization.yaml" and not f.endswith(".example.yaml")}
        self.assertEqual(on_disk - used, set(), "files no kustomization uses")
        self.assertEqual(used - on_disk, set(), "files a kustomization names that are not there")
        # each overlay builds from the base, its contract's CRD and its own files, nothing else
        for contract, path in OVERLAYS.items():
            mine = kustomization_files(path)
            self.assertEqual({os.path.relpath(f, DEPLOY).split(os.sep)[0] for f in mine}, {"base", "crd", "overlays"})
            self.assertEqual({f for f in mine if "/crd/" in f},
                             {os.path.join(DEPLOY, "crd", contract, "remediationrequests.yaml")}, contract)
            self.assertEqual({f for f in mine if "/overlays/" in f and not f.startswith(path + os.sep)}, set())

    def test_each_overlay_builds_exactly_the_expected_objects(self):
        for contract, path in OVERLAYS.items():
            objs = kustomize(path)
            got = [(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace", "")) for d in objs]
            self.assertEqual(len(got), len(set(got)), contract)
            self.assertEqual(set(got), OVERLAY_OBJECTS[contract], contract)
            # every object carries the component's labels (the CRD's are upstream's own)
            for d in objs:
                if d["kind"] not in ("Namespace", "CustomResourceDefinition"):
                    self.assertEqual(d["metadata"]["labels"].get("app.kubernetes.io/name"), "signal-gateway",
                                     (contract, d["kind"], d["metadata"]["name"]))
            # the built CRD is the file, unchanged
            crd = next(d for d in objs if d["kind"] == "CustomResourceDefinition")
            self.assertEqual(crd, load_docs(os.path.join(DEPLOY, "crd", contract, "remediationrequests.yaml"))[0])
        # deploy/ itself is the default contract's overlay
        self.assertEqual(kustomize(DEPLOY), kustomize(OVERLAYS["remediation.kubernaut.io"]))
        # the overlays differ only where the contracts do
        same = ["Namespace", "ServiceAccount", "Service", "PodDisruptionBudget", "ServiceMonitor", "PrometheusRule"]
        for kind in same:
            self.assertEqual(built("remediation.kubernaut.io", kind, "signal-gateway" if kind != "Namespace" else NS),
                             built("kubernaut.ai", kind, "signal-gateway" if kind != "Namespace" else NS), kind)
        self.assertEqual(built("remediation.kubernaut.io", "ClusterRole", "signal-gateway-sender"),
                         built("kubernaut.ai", "ClusterRole", "signal-gateway-sender"))
        old, new = (built(c, "Deployment", "signal-gateway") for c in OVERLAYS)
        env = old["spec"]["template"]["spec"]["containers"][0].pop("env")
        self.assertEqual([e["name"] for e in env], ["SGW_STATE_URL"])
        self.assertEqual(new["spec"]["template"]["spec"]["containers"][0].pop("env"), [])
        self.assertEqual(old, new)

    def test_kubernaut_ai_config_is_the_base_config_with_the_contract_keys_changed(self):
        base = yaml.safe_load(configmap_config())
        kai = yaml.safe_load(built_config("kubernaut.ai"))
        with open(os.path.join(OVERLAYS["kubernaut.ai"], "config.yaml")) as f:
            self.assertEqual(built_config("kubernaut.ai"), f.read())
        for (section, key), value in KAI_CONFIG_CHANGES.items():
            self.assertEqual(kai[section].get(key), value, (section, key))
            kai[section].pop(key, None)
            base[section].pop(key, None)
        self.assertEqual(kai, base, "deploy/overlays/kubernaut.ai/config.yaml drifted from the base's")
        self.assertEqual(built_config("remediation.kubernaut.io"), configmap_config())
        # the ConfigMap keeps the base's metadata
        self.assertEqual(built("kubernaut.ai", "ConfigMap", "signal-gateway-config")["metadata"],
                         one_doc("base/configmap.yaml")["metadata"])

    def test_crd_identity_subresource_and_printer_columns(self):
        crd = load_docs(CRD_FILE)[0]
        self.assertEqual((crd["apiVersion"], crd["kind"], crd["metadata"]["name"]),
                         ("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME))
        s = crd["spec"]
        self.assertEqual((s["group"], s["scope"]), ("remediation.kubernaut.io", "Namespaced"))
        n = s["names"]
        self.assertEqual((n["plural"], n["singular"], n["kind"], n["shortNames"]),
                         ("remediationrequests", "remediationrequest", "RemediationRequest", ["rr"]))
        self.assertEqual(len(s["versions"]), 1)
        v = s["versions"][0]
        self.assertEqual((v["name"], v["served"], v["storage"], v["subresources"]), ("v1alpha1", True, True, {"status": {}}))
        cols = [(c["name"], c["type"], c["jsonPath"]) for c in v["additionalPrinterColumns"]]
        self.assertEqual(cols, [
            ("Signal", "string", ".spec.signalName"), ("Severity", "string", ".spec.severity"),
            ("Priority", "string", ".spec.priority"), ("Environment", "string", ".spec.environment"),
            ("Storm", "boolean", ".spec.isStorm"), ("Count", "integer", ".spec.deduplication.occurrenceCount"),
            ("Age", "date", ".metadata.creationTimestamp")])
        # every printer column points at a declared field
        schema = v["schema"]["openAPIV3Schema"]
        for _, typ, jp in cols[:-1]:
            node = schema
            for part in jp.strip(".").split("."):
                node = node["properties"][part]
            self.assertEqual(node["type"], typ, jp)

    def test_crd_schema_is_structural_and_uses_only_the_validated_subset(self):
        self.assertEqual(schema_problems(crd_schema()), [])
        spec = crd_schema()["properties"]["spec"]
        self.assertEqual(set(spec["required"]), {"signalFingerprint", "signalName", "severity", "environment", "priority",
                                                 "signalType", "targetType", "firingTime", "receivedTime",
                                                 "deduplication"})
        p = spec["properties"]
        self.assertEqual(p["providerData"].get("format"), "byte")
        self.assertEqual(p["originalPayload"].get("format"), "byte")
        self.assertEqual(p["affectedResources"], {"type": "array", "items": {"type": "string"},
                                                  "description": p["affectedResources"]["description"]})
        for m in ("signalLabels", "signalAnnotations"):
            self.assertEqual(p[m]["additionalProperties"], {"type": "string"})
        status = crd_schema()["properties"]["status"]
        self.assertTrue(status["x-kubernetes-preserve-unknown-fields"])
        self.assertIn("completed", status["properties"]["overallPhase"]["enum"])

    def test_crd_schema_agrees_with_the_api_test_server_table(self):
        diff = schema_diff(crd_schema(), validation.REMEDIATION_REQUEST_SCHEMA)
        self.assertEqual(diff - KNOWN_DIFFERENCES, set(), "new differences between the CRD and the table")
        self.assertEqual(KNOWN_DIFFERENCES - diff, set(), "a listed difference is gone: update KNOWN_DIFFERENCES")

    def test_kubernaut_ai_crd_identity(self):
        docs = load_docs(KAI_CRD_FILE)
        self.assertEqual(len(docs), 1)
        crd = docs[0]
        self.assertEqual((crd["apiVersion"], crd["kind"], crd["metadata"]["name"]),
                         ("apiextensions.k8s.io/v1", "CustomResourceDefinition", KAI_CRD_NAME))
        s = crd["spec"]
        self.assertEqual((s["group"], s["scope"], s["names"]["kind"], s["names"]["plural"]),
                         ("kubernaut.ai", "Namespaced", "RemediationRequest", "remediationrequests"))
        v = [v for v in s["versions"] if v["storage"]]
        self.assertEqual([(x["name"], x["served"], x["subresources"]) for x in v], [("v1alpha1", True, {"status": {}})])

    def test_deployment_security_probes_config_and_spread(self):
        d = one_doc("base/deployment.yaml")
        self.assertEqual((d["kind"], d["metadata"]["namespace"]), ("Deployment", "kubernaut-system"))
        spec = d["spec"]
        self.assertEqual(spec["replicas"], 3)
        self.assertEqual(spec["selector"]["matchLabels"], POD_LABELS)
        pod = spec["template"]["spec"]
        self.assertLessEqual(POD_LABELS.items(), spec["template"]["metadata"]["labels"].items())
        self.assertEqual(pod["serviceAccountName"], SA[1])
        self.assertNotEqual(pod.get("automountServiceAccountToken"), False)   # in-cluster token
        psc = pod["securityContext"]
        self.assertEqual((psc["runAsNonRoot"], psc["runAsUser"], psc["seccompProfile"]["type"]),
                         (True, 65532, "RuntimeDefault"))
        self.assertEqual(len(pod["containers"]), 1)
        c = pod["containers"][0]
        sc = c["securityContext"]
        self.assertEqual((sc["runAsNonRoot"], sc["runAsUser"], sc["allowPrivilegeEscalation"],
                          sc["readOnlyRootFilesystem"], sc["capabilities"], sc["seccompProfile"]["type"]),
                         (True, 65532, False, True, {"drop": ["ALL"]}, "RuntimeDefault"))
        self.assertNotIn("add", sc["capabilities"])
        self.assertFalse(sc.get("privileged", False))
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports, {"http": 8080, "metrics": 9090})

        def probe(p):
            port = p["httpGet"]["port"]
            return p["httpGet"]["path"], ports.get(port, port)
        self.assertEqual(probe(c["livenessProbe"]), ("/healthz", 8080))
        self.assertEqual(probe(c["readinessProbe"]), ("/readyz", 8080))
        for k in ("requests", "limits"):
            self.assertTrue(c["resources"][k].get("cpu") and c["resources"][k].get("memory"), k)
        # the config: ConfigMap volume mounted where --config points
        args = c.get("args", []) + c.get("command", [])
        self.assertIn("--config", args)
        cfg_path = args[args.index("--config") + 1]
        self.assertEqual(cfg_path, "/etc/signal-gateway/config.yaml")
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        vols = {v["name"]: v for v in pod["volumes"]}
        found = False
        for name, m in mounts.items():
            cm = vols[name].get("configMap")
            if cm and cfg_path == os.path.join(m["mountPath"], m.get("subPath") or "config.yaml"):
                self.assertEqual(cm["name"], one_doc("base/configmap.yaml")["metadata"]["name"])
                self.assertTrue(m.get("readOnly"))
                found = True
        self.assertTrue(found, "no ConfigMap mounted at " + cfg_path)
        # drain: the grace period outlasts server.drain_timeout; no preStop needed
        drain = yaml.safe_load(configmap_config())["server"]["drain_timeout"]
        self.assertGreater(pod["terminationGracePeriodSeconds"], duration_s(drain))
        self.assertNotIn("preStop", c.get("lifecycle", {}))
        # spread over nodes / zones
        tsc = {t["topologyKey"] for t in pod.get("topologySpreadConstraints", [])}
        aff = pod.get("affinity", {}).get("podAntiAffinity", {})
        self.assertTrue("kubernetes.io/hostname" in tsc or aff)
        for t in pod.get("topologySpreadConstraints", []):
            self.assertEqual(t["labelSelector"]["matchLabels"], POD_LABELS)
        # the image is the one the base's kustomization.yaml sets, in every overlay
        images = {i["name"]: "%s:%s" % (i["newName"], i["newTag"]) for i in one_doc("base/kustomization.yaml")["images"]}
        self.assertIn(c["image"].rsplit(":", 1)[0], images)
        for contract in OVERLAYS:
            got = built(contract, "Deployment", "signal-gateway")["spec"]["template"]["spec"]["containers"][0]
            self.assertEqual(got["image"], images[c["image"].rsplit(":", 1)[0]], contract)

    def test_rbac_grants_exactly_what_each_contract_needs(self):
        for contract in OVERLAYS:
            docs = kustomize(OVERLAYS[contract])
            self.assertEqual(rbac_grants(docs), GRANTS[contract], contract)
            # the senders' role: create remediationrequests, nothing else, bound to nobody here
            sender = built(contract, "ClusterRole", "signal-gateway-sender")
            self.assertEqual(sender["rules"], [{"apiGroups": ["remediation.kubernaut.io"],
                                                "resources": ["remediationrequests"], "verbs": ["create"]}])
            self.assertFalse([b for b in docs if b.get("roleRef", {}).get("name") == "signal-gateway-sender"])
        # the kubernaut.ai RRs are granted only in the namespace they all live in: sink.rr_namespace,
        # empty in the overlay's config = the gateway's own (its ServiceAccount's)
        self.assertEqual(yaml.safe_load(built_config("kubernaut.ai"))["sink"].get("rr_namespace", ""), "")
        self.assertEqual({g[0] for g in GRANTS["kubernaut.ai"] if g[1] == "kubernaut.ai"}, {SA[0]})
        # the checker is really checking: a wider verb is seen
        docs = kustomize(OVERLAYS["kubernaut.ai"])
        role = next(d for d in docs if d["kind"] == "Role")
        role["rules"][0]["verbs"].append("delete")
        self.assertIn((NS, "kubernaut.ai", "remediationrequests", "delete", ()), rbac_grants(docs))
        sa = one_doc("base/serviceaccount.yaml")
        self.assertEqual((sa["kind"], sa["metadata"]["namespace"], sa["metadata"]["name"]), ("ServiceAccount",) + SA)

    def test_service_servicemonitor_pdb_and_namespace_wiring(self):
        svc = one_doc("base/service.yaml")
        self.assertEqual(svc["spec"]["selector"], POD_LABELS)
        ports = {p["name"]: (p["port"], p["targetPort"]) for p in svc["spec"]["ports"]}
        self.assertEqual(ports, {"http": (8080, "http"), "metrics": (9090, "metrics")})
        sm = one_doc("base/servicemonitor.yaml")
        self.assertEqual((sm["apiVersion"], sm["kind"]), ("monitoring.coreos.com/v1", "ServiceMonitor"))
        self.assertLessEqual(sm["spec"]["selector"]["matchLabels"].items(), svc["metadata"]["labels"].items())
        self.assertEqual([e["port"] for e in sm["spec"]["endpoints"]], ["metrics"])
        self.assertEqual(sm["spec"]["endpoints"][0].get("path", "/metrics"), "/metrics")
        pdb = one_doc("base/pdb.yaml")
        self.assertEqual((pdb["apiVersion"], pdb["kind"]), ("policy/v1", "PodDisruptionBudget"))
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], POD_LABELS)
        self.assertEqual(pdb["spec"].get("maxUnavailable"), 1)
        self.assertEqual(one_doc("base/namespace.yaml")["metadata"]["name"], "kubernaut-system")
        for f in ("serviceaccount.yaml", "configmap.yaml", "deployment.yaml", "service.yaml", "servicemonitor.yaml",
                  "pdb.yaml", "prometheusrule.yaml"):
            self.assertEqual(one_doc("base/" + f)["metadata"]["namespace"], "kubernaut-system", f)

    def test_prometheusrule_passes_promtool_and_uses_real_metrics(self):
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is required (scripts/setup installs prometheus)")
        pr = one_doc("base/prometheusrule.yaml")
        self.assertEqual((pr["apiVersion"], pr["kind"]), ("monitoring.coreos.com/v1", "PrometheusRule"))
        tmp = tempfile.mkdtemp(prefix="sgw-rules-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "rules.yaml")
        with open(path, "w") as f:
            yaml.safe_dump({"groups": pr["spec"]["groups"]}, f)
        p = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        families = metric_families()
        used = set()
        for g in pr["spec"]["groups"]:
            for r in g["rules"]:
                used |= set(re.findall(r"\b(gateway_[a-z_]+)", r["expr"]))
        self.assertTrue(used)
        for m in used:
            base = m if m in families else re.sub(r"_(bucket|sum|count)$", "", m)
            self.assertIn(base, families, "the rules use a metric the gateway does not export")

    def test_operations_doc_covers_every_metric_and_a_valid_alertmanager_config(self):
        with open(os.path.join(ROOT, "docs", "operations.md")) as f:
            doc = f.read()
        for fam in metric_families():
            self.assertIn("`%s`" % fam, doc, "docs/operations.md does not describe " + fam)
        blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
        am = [b for b in blocks if "webhook_configs" in b]
        self.assertEqual(len(am), 1)
        cfg = yaml.safe_load(am[0])
        whs = [w for r in cfg["receivers"] for w in r.get("webhook_configs", [])]
        self.assertEqual(len(whs), 1)
        wh = whs[0]
        self.assertEqual(wh["url"], "http://signal-gateway.kubernaut-system:8080/api/v1/signals/prometheus")
        self.assertIs(wh["send_resolved"], True)
        self.assertEqual(wh["http_config"]["authorization"]["credentials_file"],
                         "/var/run/secrets/kubernetes.io/serviceaccount/token")
        max_alerts = yaml.safe_load(configmap_config())["adapters"]["max_alerts"]
        self.assertTrue(wh["max_alerts"] == 0 or wh["max_alerts"] <= max_alerts)
        amtool = shutil.which("amtool")
        self.assertIsNotNone(amtool, "amtool is required (scripts/setup installs prometheus-alertmanager)")
        tmp = tempfile.mkdtemp(prefix="sgw-am-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "alertmanager.yml")
        with open(path, "w") as f:
            f.write(am[0])
        p = subprocess.run([amtool, "check-config", path], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def check_config(self, text):
        """--check-config of the real binary on text: (exit code, {key: effective value}, output)."""
        tmp = tempfile.mkdtemp(prefix="sgw-deploy-cfg-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "config.yaml")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([RELEASE, "--check-config", "--config", path], capture_output=True, text=True,
                           timeout=20, env=clean_env())
        eff = dict(line.split(": ", 1) for line in p.stdout.splitlines()[1:] if ": " in line)
        return p.returncode, eff, p.stdout + p.stderr

    def test_each_overlays_configmap_config_passes_check_config(self):
        self.assertTrue(os.access(RELEASE, os.X_OK), "build/signal-gateway is missing: run make")
        for contract in OVERLAYS:
            rc, eff, out = self.check_config(built_config(contract))
            self.assertEqual(rc, 0, out)
            self.assertEqual(eff["server.listen"], '"0.0.0.0:8080"')
            self.assertEqual(eff["server.metrics_listen"], '"0.0.0.0:9090"')
            self.assertEqual(eff["sink.target"], '"kubernetes"')
            self.assertEqual(eff["sink.kubeconfig"], '""')
            self.assertEqual(eff["auth.mode"], "kubernetes")
            self.assertEqual(eff["sink.allow_insecure_tls"], "false")
            self.assertEqual(eff["sink.rr_api"], '"%s/v1alpha1"' % contract)
            self.assertEqual(eff["adapters.freshness"], '"auto"')   # upstream's replay checks under kubernaut.ai only
            if contract == "kubernaut.ai":
                self.assertEqual(eff["state.url"], '"kubernetes"')
                self.assertEqual(eff["sink.rr_namespace"], '""')   # the gateway's own namespace
            else:
                self.assertRegex(eff["state.url"], r'^"redis(-sentinel)?://')
            # the checker is really checking: the same file with a typo'd key is refused
            self.assertIn("allow_insecure_tls:", built_config(contract))
            rc, _, out = self.check_config(built_config(contract).replace("allow_insecure_tls:", "alow_insecure_tls:"))
            self.assertEqual(rc, 2, out)
        # and state.url kubernetes without the kubernetes sink is refused
        text = built_config("kubernaut.ai").replace("target: kubernetes", "target: dir:/tmp/rr")
        rc, _, out = self.check_config(text)
        self.assertEqual(rc, 2, out)

    def test_containerfile_packages_user_and_entrypoint(self):
        with open(os.path.join(DEPLOY, "Containerfile")) as f:
            text = f.read()
        logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
        preamble, *stages = re.split(r"^FROM\s+", logical, flags=re.M)
        self.assertEqual(len(stages), 2)
        # the bases are build arguments (scripts/image passes a local bookworm base when no
        # registry answers) whose defaults are Debian 12's images
        self.assertEqual(dict(re.findall(r"(?m)^ARG (\w+)=(\S+)\s*$", preamble)),
                         {"BUILD_IMAGE": "debian:12", "RUNTIME_IMAGE": "debian:12-slim"})
        self.assertTrue(stages[0].startswith("${BUILD_IMAGE} AS build"), stages[0][:40])
        self.assertTrue(stages[1].startswith("${RUNTIME_IMAGE}\n"), stages[1][:40])

        def apt_packages(stage):
            out = set()
            for m in re.finditer(r"apt-get install ([^&\n]+)", stage):
                out |= {w for w in m.group(1).split() if not w.startswith("-")}
            return out
        with open(os.path.join(ROOT, "scripts", "setup")) as f:
            build = set(re.search(r'^BUILD="([^"]*)"', f.read(), re.M | re.S).group(1).split())
        self.assertEqual(apt_packages(stages[0]), build)
        runtime = apt_packages(stages[1])
        self.assertEqual(runtime, {"libuv1", "libcjson1", "libfyaml0", "libssl3", "libnettle8", "libhiredis0.14",
                                   "libcurl4", "ca-certificates", "tzdata"})
        self.assertRegex(stages[1], r"(?m)^USER 65532(:65532)?\s*$")
        self.assertRegex(stages[1], r"(?m)^WORKDIR /var/lib/signal-gateway\s*$")
        self.assertIn("install -d -o 65532 -g 65532 -m 0750 /var/lib/signal-gateway", stages[1])
        self.assertRegex(stages[1], r'(?m)^ENTRYPOINT \["/usr/local/bin/signal-gateway"\]\s*$')
        self.assertIn("COPY --from=build /src/build/signal-gateway /usr/local/bin/signal-gateway", stages[1])
        # the runtime packages provide every shared library the binary needs (Debian 12 here too)
        self.assertTrue(os.access(RELEASE, os.X_OK), "build/signal-gateway is missing: run make")
        dyn = subprocess.run(["readelf", "-d", RELEASE], capture_output=True, text=True, timeout=20).stdout
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn)
        self.assertTrue(needed)
        cache = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, timeout=20).stdout
        for lib in needed:
            m = re.search(r"^\s*%s \(libc6,x86-64[^)]*\) => (\S+)" % re.escape(lib), cache, re.M)
            self.assertIsNotNone(m, lib)
            owner = ""
            for cand in (m.group(1), os.path.realpath(m.group(1))):   # usrmerge: /lib ↔ /usr/lib
                for path in (cand, cand[4:] if cand.startswith("/usr/") else "/usr" + cand):
                    owner = owner or subprocess.run(["dpkg", "-S", path], capture_output=True, text=True,
                                                    timeout=20).stdout.split(":")[0]
            self.assertIn(owner, runtime | {"libc6"}, lib)
        # the build stage's COPY set is everything `make build/signal-gateway` needs
        ctx = tempfile.mkdtemp(prefix="sgw-ctx-")
        self.addCleanup(shutil.rmtree, ctx, True)
        copies = re.findall(r"(?m)^COPY (?!--from)(.+)$", stages[0])
        self.assertTrue(copies)
        for line in copies:   # Docker semantics, relative to WORKDIR
            *srcs, dest = line.split()
            for src in srcs:
                s = os.path.join(ROOT, src.rstrip("/"))
                if os.path.isdir(s):
                    shutil.copytree(s, os.path.join(ctx, dest), dirs_exist_ok=True)
                elif dest.endswith("/") or len(srcs) > 1:
                    os.makedirs(os.path.join(ctx, dest), exist_ok=True)
                    shutil.copy(s, os.path.join(ctx, dest, os.path.basename(s)))
                else:
                    os.makedirs(os.path.dirname(os.path.join(ctx, dest)), exist_ok=True)
                    shutil.copy(s, os.path.join(ctx, dest))
        p = subprocess.run(["make", "-n", "GIT_REV=test", "build/signal-gateway"], cwd=ctx, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertIn("-o build/signal-gateway", p.stdout)


# ---------------------------------------------------------------------------------------
# Against the API test server and the real gateway
# ---------------------------------------------------------------------------------------

EVENT_FIXTURES = ["k8s-event-deployment-error.json", "k8s-event-node-not-ready.json",
                  "k8s-event-pod-backoff-eventtime.json", "k8s-event-pod-oomkilled-warning.json"]
ALERT_FIXTURES = ["pod-crashloop-firing-2-alerts.json", "deployment-memory-firing.json",
                  "node-disk-pressure-firing.json"]


class CrdAgainstGatewayAndApiServerTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.home = tempfile.mkdtemp(prefix="sgw-deploy-")
        cls.api = ApiServer()
        try:
            cls.gw = Gateway()   # embedded default: memory state, manifests in gw.rr_dir, auth off
        except Exception:
            cls.api.stop()
            raise
        try:
            cls.schema = crd_schema()
            for name in ALERT_FIXTURES:
                r = cls.gw.alert(fixture(name))
                assert r.status == 201, (name, r)
            for name in EVENT_FIXTURES:
                r = cls.gw.post("/api/v1/signals/kubernetes-event", fixture(name))
                assert r.status == 201, (name, r)
            r = cls.gw.alert(fixture("oom-storm-50-alerts.json"))
            assert r.status == 201 and r.json["results"][0]["isStorm"], r
            cls.storm_ref = r.json["results"][0]["remediationRequest"]
            cls.storm_file = os.path.join(cls.gw.rr_dir, cls.storm_ref + ".json")
            with open(cls.storm_file) as f:
                cls.storm_created = json.load(f)
            # five more pods: folded into the storm RR, which the flush timer rewrites
            more = webhook([pod_alert("KubePodOOMKilled", "checkout-worker-x%d" % i, ns="checkout")
                            for i in range(5)])
            r = cls.gw.alert(more)
            assert r.status == 202, r
            deadline = time.time() + 10
            cls.storm_updated = None
            while time.time() < deadline:
                with open(cls.storm_file) as f:
                    rr = json.load(f)
                if rr["spec"].get("stormAlertCount") == 55:
                    cls.storm_updated = rr
                    break
                time.sleep(0.1)
            assert cls.storm_updated, "the storm RR was not rewritten with count 55"
            cls.rrs = cls.gw.rrs()
        except Exception:
            cls.gw.stop()
            cls.api.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.api.stop()
        shutil.rmtree(cls.home, True)

    def kubectl(self, *args):
        return kubectl(self.api, self.home, *args)

    def apply_built(self, contract, kinds):
        """kubectl apply of the objects of these kinds an overlay builds (the API test server
        serves Namespaces, ConfigMaps and CRDs, not Deployments or RBAC)."""
        path = os.path.join(self.home, "%s-%s.yaml" % (contract, "-".join(kinds)))
        with open(path, "w") as f:
            yaml.safe_dump_all([d for d in kustomize(OVERLAYS[contract]) if d["kind"] in kinds], f)
        return self.kubectl("apply", "-f", path)

    def test_kubectl_applies_each_overlays_crd_and_gets_it_back(self):
        for contract, name, path in (("remediation.kubernaut.io", CRD_NAME, CRD_FILE),
                                     ("kubernaut.ai", KAI_CRD_NAME, KAI_CRD_FILE)):
            rc, out, err = self.apply_built(contract, ["CustomResourceDefinition"])
            self.assertEqual(rc, 0, err)
            self.assertIn(name, out)
            rc, out, err = self.kubectl("get", "crd", name, "-o", "json")
            self.assertEqual(rc, 0, err)
            got = json.loads(out)
            want = load_docs(path)[0]
            self.assertEqual(got["metadata"]["name"], name)
            self.assertEqual(got["spec"]["group"], want["spec"]["group"])
            self.assertEqual(got["spec"]["names"]["kind"], "RemediationRequest")
            self.assertEqual(got["spec"]["versions"], want["spec"]["versions"])
            conds = {c["type"]: c["status"] for c in got["status"]["conditions"]}
            self.assertEqual(conds.get("Established"), "True", contract)
        # the file itself too, as the docs tell an operator to apply it
        rc, _, err = self.kubectl("apply", "-f", CRD_FILE)
        self.assertEqual(rc, 0, err)

    def test_each_overlays_namespace_and_configmap_apply(self):
        for contract in OVERLAYS:
            rc, _, err = self.apply_built(contract, ["Namespace", "ConfigMap"])
            self.assertEqual(rc, 0, err)
            st, cm = self.api.call("GET", "/api/v1/namespaces/kubernaut-system/configmaps/signal-gateway-config")
            self.assertEqual(st, 200)
            self.assertEqual(cm["data"]["config.yaml"], built_config(contract), contract)

    def test_every_rr_the_gateway_wrote_validates_against_the_crd(self):
        kinds = {(rr["spec"]["signalType"], rr["spec"]["isStorm"], rr["metadata"]["namespace"]) for rr in self.rrs}
        self.assertIn(("prometheus-alert", False, "production"), kinds)
        self.assertIn(("kubernetes-event", False, "production"), kinds)
        self.assertIn(("kubernetes-event", False, "kubernaut-system"), kinds)   # Node: cluster-scoped
        self.assertIn(("prometheus-alert", True, "checkout"), kinds)
        self.assertGreaterEqual(len(self.rrs), 8)
        for rr in self.rrs:
            name = rr["metadata"]["name"]
            self.assertEqual(validate(rr, self.schema), [], name)
            # spec section 6: timestamps UTC RFC 3339 with second precision
            s = rr["spec"]
            for t in (s["firingTime"], s["receivedTime"], s["deduplication"]["firstSeen"], s["deduplication"]["lastSeen"]):
                self.assertRegex(t, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", name)
            self.assertEqual(validation.validate_custom_resource(rr, validation.REMEDIATION_REQUEST_SCHEMA), [], name)

    def test_storm_rr_validates_as_created_and_as_rewritten(self):
        for rr, count in ((self.storm_created, 50), (self.storm_updated, 55)):
            self.assertEqual(validate(rr, self.schema), [])
            s = rr["spec"]
            self.assertTrue(s["isStorm"])
            self.assertEqual((s["stormAlertCount"], s["deduplication"]["occurrenceCount"]), (count, count))
            self.assertEqual(len(s["affectedResources"]), count)
            self.assertTrue(rr["metadata"]["name"].startswith("rr-storm-"))
            self.assertEqual(rr["metadata"]["labels"]["kubernaut.io/storm"], "true")

    def test_kubectl_applies_what_the_gateway_wrote(self):
        for ns in sorted(os.listdir(self.gw.rr_dir)):
            self.api.namespace(ns)
        snapshot = os.path.join(self.home, "rrs")
        shutil.rmtree(snapshot, True)
        shutil.copytree(self.gw.rr_dir, snapshot)
        rc, out, err = self.kubectl("apply", "-R", "-f", snapshot)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.kubectl("get", "rr", "-A", "-o", "json")
        self.assertEqual(rc, 0, err)
        got = {(x["metadata"]["namespace"], x["metadata"]["name"]) for x in json.loads(out)["items"]}
        want = {(rr["metadata"]["namespace"], rr["metadata"]["name"]) for rr in self.rrs}
        self.assertLessEqual(want, got)

    def test_the_crd_rejects_broken_rrs_like_the_api_server_does(self):
        base = next(rr for rr in self.rrs if not rr["spec"]["isStorm"] and rr["spec"].get("originalPayload"))
        self.assertEqual(validate(base, self.schema), [])

        def drop(path):
            def f(o):
                *head, last = path
                for k in head:
                    o = o[k]
                del o[last]
            return f

        def put(path, value):
            def f(o):
                *head, last = path
                for k in head:
                    o = o[k]
                o[last] = value
            return f
        cases = {
            "fingerprint not 64 hex": put(("spec", "signalFingerprint"), "ABC"),
            "severity outside the enum": put(("spec", "severity"), "urgent"),
            "priority outside the enum": put(("spec", "priority"), "P4"),
            "empty environment": put(("spec", "environment"), ""),
            "environment too long": put(("spec", "environment"), "e" * 64),
            "signal name too long": put(("spec", "signalName"), "n" * 254),
            "target type": put(("spec", "targetType"), "openstack"),
            "firingTime missing": drop(("spec", "firingTime")),
            "firingTime not a date-time": put(("spec", "firingTime"), "yesterday"),
            "deduplication.occurrenceCount missing": drop(("spec", "deduplication", "occurrenceCount")),
            "occurrenceCount a string": put(("spec", "deduplication", "occurrenceCount"), "1"),
            "label value not a string": put(("spec", "signalLabels", "alertname"), 5),
            "providerData not base64": put(("spec", "providerData"), "not base64!"),
            "affectedResources not strings": put(("spec", "affectedResources"), [1]),
            "isStorm a string": put(("spec", "isStorm"), "yes"),
            "unknown spec field": put(("spec", "fingerPrint"), "x"),
        }
        self.api.namespace(base["metadata"]["namespace"])
        for i, (what, mutate) in enumerate(sorted(cases.items())):
            rr = copy.deepcopy(base)
            mutate(rr)
            rr["metadata"] = {"name": "rr-broken-%d" % i, "namespace": base["metadata"]["namespace"]}
            self.assertTrue(validate(rr, self.schema), "the CRD accepts: " + what)
            st, body = self.api.call("POST", "/apis/remediation.kubernaut.io/v1alpha1/namespaces/%s/remediationrequests"
                                     "?fieldValidation=Strict" % rr["metadata"]["namespace"], rr)
            self.assertIn(st, (400, 422), "the API test server accepts %s: %s" % (what, body))


if __name__ == "__main__":
    unittest.main()
