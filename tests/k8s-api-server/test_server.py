# Tests for the Kubernetes API test server (server.py): each test class starts its own
# server on 127.0.0.1:0 in a temporary directory and checks exact status codes and Status
# objects, then real clients (kubectl, Debian's python3-kubernetes) against it.
# Run with ./run-tests (or: /usr/bin/python3 -m unittest -v test_server, from this folder).

import atexit
import base64
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
PYTHON = "/usr/bin/python3"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
SKIP_REAL_CLIENTS = os.environ.get("K8S_API_SERVER_SKIP_REAL_CLIENTS") == "1"

GROUP = "remediation.kubernaut.io"
RR_BASE = "/apis/remediation.kubernaut.io/v1alpha1"
FP = "5f2b9c0e1d3a4b6c" * 4
TS = "2025-10-28T19:02:47Z"
RFC3339_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CONFLICT_MSG = ('Operation cannot be fulfilled on remediationrequests.remediation.kubernaut.io "%s": the object '
                'has been modified; please apply your changes to the latest version and try again')

AMBIGUOUS_RR_WARNING = ('Warning: short name "rr" could also match lower priority resource '
                        'remediationrequests.kubernaut.ai\n')

_RUNNING = []


@atexit.register
def _kill_leftovers():
    for p in _RUNNING:
        if p.poll() is None:
            p.kill()


def rr_path(ns, name=None, sub=None):
    p = "%s/namespaces/%s/remediationrequests" % (RR_BASE, ns)
    if name:
        p += "/" + name
    if sub:
        p += "/" + sub
    return p


def rr_body(name="rr-5f2b9c0e1d3a4b6c", namespace=None, labels=None, **spec):
    s = {
        "signalFingerprint": FP, "signalName": "HighMemoryUsage", "severity": "critical",
        "environment": "production", "priority": "P0", "signalType": "prometheus-alert",
        "signalSource": "prometheus-adapter", "targetType": "kubernetes",
        "firingTime": "2025-10-22T10:00:00Z", "receivedTime": TS,
        "deduplication": {"isDuplicate": False, "firstSeen": TS, "lastSeen": TS, "occurrenceCount": 1},
        "signalLabels": {"alertname": "HighMemoryUsage", "pod": "payment-api-123"},
    }
    for k, v in spec.items():
        if v is None:
            s.pop(k, None)
        else:
            s[k] = v
    meta = {"name": name} if name else {}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "remediation.kubernaut.io/v1alpha1", "kind": "RemediationRequest",
            "metadata": meta, "spec": s}


class Reply:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<Reply %d %s>" % (self.status, self.raw[:300])


class ServerProcess:
    """One server process, started on port 0, stopped by PID."""

    def __init__(self, workdir, plain=False, tokens=None, extra_args=()):
        self.workdir = workdir
        self.plain = plain
        self.tls_dir = os.path.join(workdir, "tls")
        self.ready = os.path.join(workdir, "ready")
        self.kubeconfig = os.path.join(workdir, "kubeconfig")
        self.log = os.path.join(workdir, "server.log")
        self.tokens = None
        if tokens is not None:
            self.tokens = os.path.join(workdir, "tokens.json")
            with open(self.tokens, "w") as f:
                json.dump({"tokens": tokens}, f)
        self.extra_args = list(extra_args)
        self.proc = None
        self.url = None

    def args(self):
        a = [PYTHON, SERVER, "--listen", "127.0.0.1:0", "--ready-file", self.ready,
             "--kubeconfig-out", self.kubeconfig, "--log-file", self.log]
        a += ["--plain"] if self.plain else ["--tls-dir", self.tls_dir]
        if self.tokens:
            a += ["--tokens", self.tokens]
        return a + self.extra_args

    def start(self, timeout=15.0):
        if os.path.exists(self.ready):
            os.unlink(self.ready)
        self.stdout = open(os.path.join(self.workdir, "stdout"), "w+")
        self.stderr = open(os.path.join(self.workdir, "stderr"), "w+")
        self.proc = subprocess.Popen(self.args(), stdout=self.stdout, stderr=self.stderr)
        _RUNNING.append(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.ready):
                with open(self.ready) as f:
                    self.url = f.read().strip()
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if not self.url:
            self.stop()
            with open(os.path.join(self.workdir, "stderr")) as f:
                raise RuntimeError("server did not start: %s" % f.read())
        u = urllib.parse.urlsplit(self.url)
        self.host, self.port = u.hostname, u.port
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for f in (getattr(self, "stdout", None), getattr(self, "stderr", None)):
            if f:
                f.close()

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.tls_dir, "ca.crt"))
        return ctx

    def connection(self, timeout=10):
        if self.plain:
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.ssl_context())

    def request(self, method, path, body=None, token="admin-token", headers=None, conn=None,
                content_type="application/json"):
        own = conn is None
        conn = conn or self.connection()
        h = {"Accept": "application/json"}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = content_type
        h.update(headers or {})
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            raw = r.read().decode("utf-8", errors="replace")
            return Reply(r.status, r, raw)
        finally:
            if own:
                conn.close()


class ServerTestCase(unittest.TestCase):
    plain = False
    tokens = None
    server_args = ()
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="k8s-api-server-test-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.srv = ServerProcess(cls.tmp, plain=cls.plain, tokens=cls.tokens, extra_args=cls.server_args)
        cls.addClassCleanup(cls.srv.stop)
        cls.srv.start()

    def setUp(self):
        r = self.srv.request("POST", "/_test/reset", token=None)
        self.assertEqual(r.status, 200, r)

    # helpers
    def req(self, *a, **kw):
        return self.srv.request(*a, **kw)

    def ok(self, method, path, body=None, code=None, **kw):
        r = self.req(method, path, body, **kw)
        want = code or {"POST": 201}.get(method, 200)
        self.assertEqual(r.status, want, r)
        return r.json

    def make_ns(self, name, labels=None):
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        if labels:
            body["metadata"]["labels"] = labels
        return self.ok("POST", "/api/v1/namespaces", body)

    def create_rr(self, ns="default", **kw):
        return self.ok("POST", rr_path(ns), rr_body(**kw))

    def assertStatus(self, r, code, reason, message=None, details=None):
        self.assertEqual(r.status, code, r)
        self.assertEqual(r.headers.getheader("Content-Type"), "application/json")
        st = r.json
        self.assertEqual(st["kind"], "Status")
        self.assertEqual(st["apiVersion"], "v1")
        self.assertEqual(st["metadata"], {})
        self.assertEqual(st["status"], "Failure")
        self.assertEqual(st["code"], code)
        self.assertEqual(st["reason"], reason)
        if message is not None:
            self.assertEqual(st["message"], message)
        if details is not None:
            self.assertEqual(st.get("details"), details)
        return st


# ======================================================================================
class DiscoveryTests(ServerTestCase):
    def test_version_is_public_but_bad_token_is_401(self):
        r = self.req("GET", "/version", token=None)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["major"], "1")
        self.assertTrue(r.json["gitVersion"].startswith("v1.32"))
        self.assertStatus(self.req("GET", "/version", token="nope"), 401, "Unauthorized", "Unauthorized")

    def test_healthz(self):
        r = self.req("GET", "/healthz", token=None)
        self.assertEqual((r.status, r.raw), (200, "ok"))

    def test_api_and_core_v1(self):
        r = self.ok("GET", "/api")
        self.assertEqual(r["kind"], "APIVersions")
        self.assertEqual(r["versions"], ["v1"])
        r = self.ok("GET", "/api/v1")
        self.assertEqual((r["kind"], r["apiVersion"], r["groupVersion"]), ("APIResourceList", "v1", "v1"))
        by = {x["name"]: x for x in r["resources"]}
        self.assertEqual(by["namespaces"]["kind"], "Namespace")
        self.assertFalse(by["namespaces"]["namespaced"])
        self.assertEqual(by["configmaps"]["kind"], "ConfigMap")
        self.assertTrue(by["configmaps"]["namespaced"])
        self.assertIn("create", by["configmaps"]["verbs"])

    def test_apis_group_list(self):
        r = self.ok("GET", "/apis")
        self.assertEqual((r["kind"], r["apiVersion"]), ("APIGroupList", "v1"))
        gv = {g["name"]: g for g in r["groups"]}
        for name, version in ((GROUP, "v1alpha1"), ("authentication.k8s.io", "v1"),
                              ("authorization.k8s.io", "v1"), ("apiextensions.k8s.io", "v1")):
            self.assertEqual(gv[name]["preferredVersion"], {"groupVersion": "%s/%s" % (name, version),
                                                            "version": version})
            self.assertIn({"groupVersion": "%s/%s" % (name, version), "version": version}, gv[name]["versions"])
        r = self.ok("GET", "/apis/" + GROUP)
        self.assertEqual((r["kind"], r["name"]), ("APIGroup", GROUP))

    def test_remediation_resource_list(self):
        r = self.ok("GET", RR_BASE)
        self.assertEqual((r["kind"], r["groupVersion"]), ("APIResourceList", GROUP + "/v1alpha1"))
        by = {x["name"]: x for x in r["resources"]}
        rr = by["remediationrequests"]
        self.assertEqual((rr["singularName"], rr["namespaced"], rr["kind"], rr["shortNames"]),
                         ("remediationrequest", True, "RemediationRequest", ["rr"]))
        for v in ("create", "get", "list", "update", "patch", "delete", "watch"):
            self.assertIn(v, rr["verbs"])
        st = by["remediationrequests/status"]
        self.assertEqual(sorted(st["verbs"]), ["get", "patch", "update"])
        for gv, names in (("/apis/authentication.k8s.io/v1", ["tokenreviews"]),
                          ("/apis/authorization.k8s.io/v1", ["subjectaccessreviews"]),
                          ("/apis/apiextensions.k8s.io/v1", ["customresourcedefinitions"])):
            got = [x["name"] for x in self.ok("GET", gv)["resources"]]
            for n in names:
                self.assertIn(n, got)

    def test_aggregated_discovery_request_gets_legacy_json(self):
        accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
        r = self.req("GET", "/apis", headers={"Accept": accept})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.getheader("Content-Type"), "application/json")
        self.assertEqual(r.json["kind"], "APIGroupList")

    def test_openapi_v3_lists_field_validation(self):
        idx = self.ok("GET", "/openapi/v3")
        url = idx["paths"]["apis/%s/v1alpha1" % GROUP]["serverRelativeURL"]
        doc = self.ok("GET", url)
        patch = doc["paths"][RR_BASE + "/namespaces/{namespace}/remediationrequests/{name}"]["patch"]
        self.assertEqual(patch["x-kubernetes-group-version-kind"],
                         {"group": GROUP, "version": "v1alpha1", "kind": "RemediationRequest"})
        self.assertIn("fieldValidation", [p["name"] for p in patch["parameters"]])
        self.assertStatus(self.req("GET", "/openapi/v2"), 404, "NotFound")

    def test_unknown_paths(self):
        self.assertStatus(self.req("GET", "/apis/nope.example.com/v1/things"), 404, "NotFound",
                          "the server could not find the requested resource", {})
        self.assertStatus(self.req("GET", "/apis/nope.example.com/v1"), 404, "NotFound")
        self.assertStatus(self.req("GET", rr_path("default", "x", "scale")), 404, "NotFound")

    def test_unauthenticated_discovery_is_401(self):
        self.assertStatus(self.req("GET", "/apis", token=None), 401, "Unauthorized", "Unauthorized")


# ======================================================================================
class RemediationRequestTests(ServerTestCase):
    def test_create_sets_system_fields(self):
        before = int(self.ok("GET", rr_path("default"))["metadata"]["resourceVersion"])
        body = rr_body(namespace=None)
        body["status"] = {"overallPhase": "completed"}
        o = self.ok("POST", rr_path("default"), body)
        m = o["metadata"]
        self.assertEqual((o["apiVersion"], o["kind"]), (GROUP + "/v1alpha1", "RemediationRequest"))
        self.assertEqual((m["name"], m["namespace"], m["generation"]), ("rr-5f2b9c0e1d3a4b6c", "default", 1))
        self.assertRegex(m["uid"], r"^[0-9a-f-]{36}$")
        self.assertRegex(m["creationTimestamp"], RFC3339_SECONDS)
        self.assertGreater(int(m["resourceVersion"]), before)
        self.assertNotIn("status", o)                      # status is dropped on create
        self.assertEqual(o["spec"], body["spec"])
        got = self.ok("GET", rr_path("default", "rr-5f2b9c0e1d3a4b6c"))
        self.assertEqual(got, o)

    def test_resource_versions_increase(self):
        rvs = [int(self.create_rr(name="rr-%d" % i)["metadata"]["resourceVersion"]) for i in range(5)]
        self.assertEqual(rvs, sorted(set(rvs)))

    def test_generate_name(self):
        o = self.ok("POST", rr_path("default"), rr_body(name=None) | {"metadata": {"generateName": "rr-gen-"}})
        self.assertRegex(o["metadata"]["name"], r"^rr-gen-[bcdfghjklmnpqrstvwxz2456789]{5}$")
        self.assertEqual(o["metadata"]["generateName"], "rr-gen-")

    def test_namespace_mismatch_is_400(self):
        self.make_ns("other")
        r = self.req("POST", rr_path("default"), rr_body(namespace="other"))
        self.assertStatus(r, 400, "BadRequest",
                          "the namespace of the provided object does not match the namespace sent on the request")

    def test_already_exists(self):
        self.create_rr()
        r = self.req("POST", rr_path("default"), rr_body())
        self.assertStatus(r, 409, "AlreadyExists",
                          'remediationrequests.remediation.kubernaut.io "rr-5f2b9c0e1d3a4b6c" already exists',
                          {"name": "rr-5f2b9c0e1d3a4b6c", "group": GROUP, "kind": "remediationrequests"})

    def test_missing_namespace_on_create(self):
        r = self.req("POST", rr_path("no-such-ns"), rr_body())
        self.assertStatus(r, 404, "NotFound", 'namespaces "no-such-ns" not found',
                          {"name": "no-such-ns", "kind": "namespaces"})
        # admission runs before validation: an invalid object gets the same answer
        r = self.req("POST", rr_path("no-such-ns"), rr_body(severity="bad"))
        self.assertStatus(r, 404, "NotFound", 'namespaces "no-such-ns" not found')

    def test_get_missing_is_404(self):
        r = self.req("GET", rr_path("default", "rr-missing"))
        self.assertStatus(r, 404, "NotFound", 'remediationrequests.remediation.kubernaut.io "rr-missing" not found',
                          {"name": "rr-missing", "group": GROUP, "kind": "remediationrequests"})
        r = self.req("GET", rr_path("no-such-ns", "rr-missing"))
        self.assertStatus(r, 404, "NotFound", 'remediationrequests.remediation.kubernaut.io "rr-missing" not found')

    def test_list_and_cluster_wide_list(self):
        self.make_ns("production")
        self.create_rr(name="rr-b")
        self.create_rr(name="rr-a")
        self.create_rr(ns="production", name="rr-c")
        lst = self.ok("GET", rr_path("default"))
        self.assertEqual((lst["kind"], lst["apiVersion"]), ("RemediationRequestList", GROUP + "/v1alpha1"))
        self.assertRegex(lst["metadata"]["resourceVersion"], r"^\d+$")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["rr-a", "rr-b"])
        for i in lst["items"]:
            self.assertEqual((i["kind"], i["apiVersion"]), ("RemediationRequest", GROUP + "/v1alpha1"))
        every = self.ok("GET", RR_BASE + "/remediationrequests")
        self.assertEqual([(i["metadata"]["namespace"], i["metadata"]["name"]) for i in every["items"]],
                         [("default", "rr-a"), ("default", "rr-b"), ("production", "rr-c")])

    def test_label_selectors(self):
        self.create_rr(name="rr-1", labels={"sev": "critical", "env": "prod", "team": "a"})
        self.create_rr(name="rr-2", labels={"sev": "warning", "env": "prod"})
        self.create_rr(name="rr-3", labels={"sev": "info"})
        cases = {
            "sev=critical": ["rr-1"], "sev==warning": ["rr-2"], "sev!=critical": ["rr-2", "rr-3"],
            "sev in (critical,warning)": ["rr-1", "rr-2"], "sev notin (critical, warning)": ["rr-3"],
            "team": ["rr-1"], "!team": ["rr-2", "rr-3"], "env=prod,sev!=warning": ["rr-1"],
            "env!=prod": ["rr-3"], "env notin (prod)": ["rr-3"], "missing=x": [],
        }
        for sel, want in cases.items():
            lst = self.ok("GET", rr_path("default") + "?labelSelector=" + urllib.parse.quote(sel))
            self.assertEqual([i["metadata"]["name"] for i in lst["items"]], want, sel)
        r = self.req("GET", rr_path("default") + "?labelSelector=" + urllib.parse.quote("sev in (a"))
        self.assertStatus(r, 400, "BadRequest")

    def test_fingerprint_label_selector(self):
        self.create_rr(name="rr-fp", labels={"kubernaut.io/signal-fingerprint": FP[:63]})
        lst = self.ok("GET", rr_path("default") + "?labelSelector=" +
                      urllib.parse.quote("kubernaut.io/signal-fingerprint=" + FP[:63]))
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["rr-fp"])

    def test_field_selector(self):
        self.create_rr(name="rr-1")
        self.create_rr(name="rr-2")
        lst = self.ok("GET", rr_path("default") + "?fieldSelector=metadata.name%3Drr-2")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["rr-2"])
        lst = self.ok("GET", rr_path("default") + "?fieldSelector=metadata.name!%3Drr-2")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["rr-1"])
        r = self.req("GET", rr_path("default") + "?fieldSelector=spec.severity%3Dcritical")
        self.assertStatus(r, 400, "BadRequest", "field label not supported: spec.severity")

    def test_pagination(self):
        for i in range(5):
            self.create_rr(name="rr-%d" % i)
        names, cont, pages = [], "", 0
        while True:
            q = "?limit=2" + ("&continue=" + urllib.parse.quote(cont) if cont else "")
            lst = self.ok("GET", rr_path("default") + q)
            names += [i["metadata"]["name"] for i in lst["items"]]
            pages += 1
            cont = lst["metadata"].get("continue")
            if not cont:
                break
        self.assertEqual((names, pages), (["rr-%d" % i for i in range(5)], 3))

    def test_update(self):
        o = self.create_rr()
        o["metadata"]["labels"] = {"x": "y"}
        u = self.ok("PUT", rr_path("default", o["metadata"]["name"]), o)
        self.assertEqual(u["metadata"]["labels"], {"x": "y"})
        self.assertGreater(int(u["metadata"]["resourceVersion"]), int(o["metadata"]["resourceVersion"]))
        self.assertEqual(u["metadata"]["generation"], 1)              # metadata-only change
        self.assertEqual((u["metadata"]["uid"], u["metadata"]["creationTimestamp"]),
                         (o["metadata"]["uid"], o["metadata"]["creationTimestamp"]))
        u["spec"]["deduplication"]["occurrenceCount"] = 2
        u["status"] = {"overallPhase": "completed"}                  # ignored by the main resource
        u2 = self.ok("PUT", rr_path("default", o["metadata"]["name"]), u)
        self.assertEqual(u2["metadata"]["generation"], 2)
        self.assertEqual(u2["spec"]["deduplication"]["occurrenceCount"], 2)
        self.assertNotIn("status", u2)
        # a no-op update keeps the resourceVersion
        u3 = self.ok("PUT", rr_path("default", o["metadata"]["name"]), u2)
        self.assertEqual(u3["metadata"]["resourceVersion"], u2["metadata"]["resourceVersion"])

    def test_update_conflict(self):
        o = self.create_rr()
        fresh = json.loads(json.dumps(o))
        fresh["spec"]["priority"] = "P1"
        self.ok("PUT", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), fresh)
        o["spec"]["priority"] = "P2"                                 # stale resourceVersion
        r = self.req("PUT", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), o)
        self.assertStatus(r, 409, "Conflict", CONFLICT_MSG % "rr-5f2b9c0e1d3a4b6c",
                          {"name": "rr-5f2b9c0e1d3a4b6c", "group": GROUP, "kind": "remediationrequests"})
        self.assertEqual(self.ok("GET", rr_path("default", "rr-5f2b9c0e1d3a4b6c"))["spec"]["priority"], "P1")

    def test_update_needs_resource_version(self):
        o = self.create_rr()
        del o["metadata"]["resourceVersion"]
        r = self.req("PUT", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), o)
        st = self.assertStatus(r, 422, "Invalid")
        self.assertEqual(st["details"]["causes"], [{"reason": "FieldValueInvalid", "field": "metadata.resourceVersion",
                                                    "message": "Invalid value: 0x0: must be specified for an update"}])

    def test_update_errors(self):
        o = self.create_rr()
        r = self.req("PUT", rr_path("default", "rr-other"), o)
        self.assertStatus(r, 400, "BadRequest",
                          "the name of the object (rr-5f2b9c0e1d3a4b6c) does not match the name on the URL (rr-other)")
        o2 = rr_body(name="rr-missing")
        o2["metadata"]["resourceVersion"] = "1"
        self.assertStatus(self.req("PUT", rr_path("default", "rr-missing"), o2), 404, "NotFound",
                          'remediationrequests.remediation.kubernaut.io "rr-missing" not found')

    def test_validation_causes(self):
        body = rr_body(name="rr-bad", signalFingerprint="ABC", severity="fatal", priority="P9",
                       targetType="k8s", environment="", signalName="x" * 254, firingTime="yesterday",
                       receivedTime=None, deduplication={"isDuplicate": False, "firstSeen": TS, "lastSeen": TS})
        r = self.req("POST", rr_path("default"), body)
        st = self.assertStatus(r, 422, "Invalid")
        self.assertTrue(st["message"].startswith(
            'RemediationRequest.remediation.kubernaut.io "rr-bad" is invalid: ['), st["message"])
        self.assertEqual((st["details"]["name"], st["details"]["group"], st["details"]["kind"]),
                         ("rr-bad", GROUP, "RemediationRequest"))
        causes = {(c["field"], c["reason"]): c["message"] for c in st["details"]["causes"]}
        self.assertEqual(causes[("spec.signalFingerprint", "FieldValueInvalid")],
                         "Invalid value: \"ABC\": spec.signalFingerprint in body should match '^[a-f0-9]{64}$'")
        self.assertEqual(causes[("spec.severity", "FieldValueNotSupported")],
                         'Unsupported value: "fatal": supported values: "critical", "warning", "info"')
        self.assertIn(("spec.priority", "FieldValueNotSupported"), causes)
        self.assertEqual(causes[("spec.targetType", "FieldValueNotSupported")],
                         'Unsupported value: "k8s": supported values: "kubernetes", "aws", "azure", "gcp", "datadog"')
        self.assertEqual(causes[("spec.environment", "FieldValueInvalid")],
                         'Invalid value: "": spec.environment in body should be at least 1 chars long')
        self.assertEqual(causes[("spec.signalName", "FieldValueTooLong")],
                         "Too long: may not be more than 253 bytes")
        self.assertEqual(causes[("spec.firingTime", "FieldValueTypeInvalid")],
                         'Invalid value: "yesterday": spec.firingTime in body must be of type date-time: "yesterday"')
        self.assertEqual(causes[("spec.receivedTime", "FieldValueRequired")], "Required value")
        self.assertEqual(causes[("spec.deduplication.occurrenceCount", "FieldValueRequired")], "Required value")
        self.assertEqual(self.ok("GET", rr_path("default"))["items"], [])

    def test_required_fields_and_types(self):
        body = rr_body(name="rr-x", signalType=None, severity=5)
        st = self.assertStatus(self.req("POST", rr_path("default"), body), 422, "Invalid")
        self.assertEqual(sorted((c["field"], c["reason"], c["message"]) for c in st["details"]["causes"]), [
            ("spec.severity", "FieldValueTypeInvalid",
             'Invalid value: "integer": spec.severity in body must be of type string: "integer"'),
            ("spec.signalType", "FieldValueRequired", "Required value")])
        st = self.assertStatus(self.req("POST", rr_path("default"), rr_body(environment="e" * 64)), 422, "Invalid")
        self.assertEqual(st["details"]["causes"], [{"reason": "FieldValueTooLong", "field": "spec.environment",
                                                    "message": "Too long: may not be more than 63 bytes"}])

    def test_invalid_names_and_labels(self):
        st = self.assertStatus(self.req("POST", rr_path("default"), rr_body(name="RR_Bad")), 422, "Invalid")
        self.assertEqual(st["details"]["causes"], [{
            "reason": "FieldValueInvalid", "field": "metadata.name",
            "message": "Invalid value: \"RR_Bad\": a lowercase RFC 1123 subdomain must consist of lower case "
                       "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
                       "(e.g. 'example.com', regex used for validation is "
                       "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"}])
        st = self.assertStatus(self.req("POST", rr_path("default"), rr_body(name="a" * 254)), 422, "Invalid")
        self.assertEqual(st["details"]["causes"][0]["message"],
                         'Invalid value: "%s": must be no more than 253 characters' % ("a" * 254))
        self.assertEqual(self.req("POST", rr_path("default"), rr_body(name="a" * 253)).status, 201)
        st = self.assertStatus(self.req("POST", rr_path("default"), rr_body(name="")), 422, "Invalid")
        self.assertEqual(st["details"]["causes"], [{"reason": "FieldValueRequired", "field": "metadata.name",
                                                    "message": "Required value: name or generateName is required"}])
        labels = {"bad key!": "v", "ok": "v" * 64, "ok2": "-bad-", "example.com/fine": "x.y_z-1"}
        st = self.assertStatus(self.req("POST", rr_path("default"), rr_body(name="rr-l", labels=labels)),
                               422, "Invalid")
        causes = st["details"]["causes"]
        self.assertTrue(all(c["field"] == "metadata.labels" and c["reason"] == "FieldValueInvalid" for c in causes))
        msgs = [c["message"] for c in causes]
        self.assertIn("Invalid value: \"bad key!\": name part must consist of alphanumeric characters, '-', '_' "
                      "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                      "'my.name',  or '123-abc', regex used for validation is "
                      "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')", msgs)
        self.assertIn('Invalid value: "%s": must be no more than 63 characters' % ("v" * 64), msgs)
        self.assertEqual(len(causes), 3)

    def test_unknown_fields_pruned_or_strict(self):
        body = rr_body(name="rr-u")
        body["spec"]["bogus"] = 1
        body["extra"] = True
        r = self.req("POST", rr_path("default"), body)
        self.assertEqual(r.status, 201)
        self.assertNotIn("bogus", r.json["spec"])
        self.assertNotIn("extra", r.json)
        self.assertIn('unknown field \\"spec.bogus\\"', r.headers.getheader("Warning"))
        body["metadata"]["name"] = "rr-u2"
        r = self.req("POST", rr_path("default") + "?fieldValidation=Strict", body)
        self.assertStatus(r, 400, "BadRequest")
        self.assertIn('strict decoding error: unknown field "spec.bogus"', r.json["message"])

    def test_merge_patch(self):
        o = self.create_rr(labels={"a": "1", "b": "2"})
        p = {"metadata": {"labels": {"a": None, "c": "3"}}, "spec": {"priority": "P1"}}
        u = self.ok("PATCH", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), p, content_type="application/merge-patch+json")
        self.assertEqual(u["metadata"]["labels"], {"b": "2", "c": "3"})
        self.assertEqual((u["spec"]["priority"], u["metadata"]["generation"]), ("P1", 2))
        self.assertGreater(int(u["metadata"]["resourceVersion"]), int(o["metadata"]["resourceVersion"]))
        # a resourceVersion in the patch is a precondition
        p = {"metadata": {"resourceVersion": o["metadata"]["resourceVersion"]}, "spec": {"priority": "P2"}}
        r = self.req("PATCH", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), p, content_type="application/merge-patch+json")
        self.assertStatus(r, 409, "Conflict", CONFLICT_MSG % "rr-5f2b9c0e1d3a4b6c")
        # a patch that breaks the schema is refused
        r = self.req("PATCH", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), {"spec": {"severity": "loud"}},
                     content_type="application/merge-patch+json")
        self.assertStatus(r, 422, "Invalid")
        r = self.req("PATCH", rr_path("default", "rr-nope"), {"spec": {}}, content_type="application/merge-patch+json")
        self.assertStatus(r, 404, "NotFound")

    def test_json_patch_and_strategic_merge_patch(self):
        self.create_rr()
        ops = [{"op": "replace", "path": "/spec/priority", "value": "P3"},
               {"op": "add", "path": "/metadata/labels", "value": {"k": "v"}}]
        u = self.ok("PATCH", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), ops, content_type="application/json-patch+json")
        self.assertEqual((u["spec"]["priority"], u["metadata"]["labels"]), ("P3", {"k": "v"}))
        r = self.req("PATCH", rr_path("default", "rr-5f2b9c0e1d3a4b6c"),
                     [{"op": "test", "path": "/spec/priority", "value": "P0"}], content_type="application/json-patch+json")
        self.assertStatus(r, 422, "Invalid")
        r = self.req("PATCH", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), {"spec": {"priority": "P1"}},
                     content_type="application/strategic-merge-patch+json")
        self.assertStatus(r, 415, "UnsupportedMediaType",
                          "the body of the request was in an unknown format - accepted media types include: "
                          "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")

    def test_status_subresource(self):
        o = self.create_rr()
        name = o["metadata"]["name"]
        o["status"] = {"overallPhase": "processing", "startTime": TS}
        o["spec"]["priority"] = "P3"                                  # ignored by /status
        s = self.ok("PUT", rr_path("default", name, "status"), o)
        self.assertEqual(s["status"], {"overallPhase": "processing", "startTime": TS})
        self.assertEqual((s["spec"]["priority"], s["metadata"]["generation"]), ("P0", 1))
        s2 = self.ok("PATCH", rr_path("default", name, "status"), {"status": {"overallPhase": "Completed"}},
                     content_type="application/merge-patch+json")
        self.assertEqual(s2["status"], {"overallPhase": "Completed", "startTime": TS})
        self.assertEqual(self.ok("GET", rr_path("default", name, "status"))["status"]["overallPhase"], "Completed")
        # PUT on the main resource keeps the stored status
        s2["status"] = {"overallPhase": "failed"}
        m = self.ok("PUT", rr_path("default", name), s2)
        self.assertEqual(m["status"]["overallPhase"], "Completed")
        # status updates need a fresh resourceVersion too
        r = self.req("PUT", rr_path("default", name, "status"), o)
        self.assertStatus(r, 409, "Conflict", CONFLICT_MSG % name)
        r = self.req("PUT", rr_path("default", name, "status"), dict(s2, status={"startTime": "noon"}))
        st = self.assertStatus(r, 422, "Invalid")
        self.assertEqual(st["details"]["causes"][0]["field"], "status.startTime")

    def test_delete(self):
        o = self.create_rr()
        r = self.ok("DELETE", rr_path("default", "rr-5f2b9c0e1d3a4b6c"))
        self.assertEqual(r, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "details": {"name": "rr-5f2b9c0e1d3a4b6c", "group": GROUP, "kind": "remediationrequests",
                                         "uid": o["metadata"]["uid"]}})
        self.assertStatus(self.req("GET", rr_path("default", "rr-5f2b9c0e1d3a4b6c")), 404, "NotFound")
        self.assertStatus(self.req("DELETE", rr_path("default", "rr-5f2b9c0e1d3a4b6c")), 404, "NotFound",
                          'remediationrequests.remediation.kubernaut.io "rr-5f2b9c0e1d3a4b6c" not found')

    def test_delete_preconditions_and_collection(self):
        o = self.create_rr(name="rr-1", labels={"g": "x"})
        self.create_rr(name="rr-2", labels={"g": "x"})
        self.create_rr(name="rr-3")
        r = self.req("DELETE", rr_path("default", "rr-1"), {"preconditions": {"uid": "wrong"}})
        self.assertStatus(r, 409, "Conflict")
        self.assertIn("Precondition failed: UID in precondition: wrong, UID in object meta: " + o["metadata"]["uid"],
                      r.json["message"])
        lst = self.ok("DELETE", rr_path("default") + "?labelSelector=g%3Dx")
        self.assertEqual(sorted(i["metadata"]["name"] for i in lst["items"]), ["rr-1", "rr-2"])
        self.assertEqual([i["metadata"]["name"] for i in self.ok("GET", rr_path("default"))["items"]], ["rr-3"])

    def test_dry_run(self):
        o = self.ok("POST", rr_path("default") + "?dryRun=All", rr_body())
        self.assertEqual(o["metadata"]["name"], "rr-5f2b9c0e1d3a4b6c")
        self.assertEqual(self.ok("GET", rr_path("default"))["items"], [])

    def test_table_output(self):
        self.create_rr()
        t = self.ok("GET", rr_path("default"),
                    headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
        self.assertEqual((t["kind"], t["apiVersion"]), ("Table", "meta.k8s.io/v1"))
        self.assertEqual([c["name"] for c in t["columnDefinitions"]], ["Name", "Age"])
        self.assertEqual(t["rows"][0]["cells"][0], "rr-5f2b9c0e1d3a4b6c")
        self.assertEqual(t["rows"][0]["object"]["kind"], "PartialObjectMetadata")

    def test_watch(self):
        rv = self.ok("GET", rr_path("default"))["metadata"]["resourceVersion"]
        o = self.create_rr()
        self.ok("DELETE", rr_path("default", o["metadata"]["name"]))
        t0 = time.monotonic()
        r = self.req("GET", rr_path("default") + "?watch=true&timeoutSeconds=1&resourceVersion=" + rv)
        self.assertEqual(r.status, 200)
        events = [json.loads(line) for line in r.raw.splitlines() if line.strip()]
        self.assertEqual([e["type"] for e in events], ["ADDED", "DELETED"])
        self.assertEqual(events[0]["object"]["metadata"]["name"], "rr-5f2b9c0e1d3a4b6c")
        self.assertLess(time.monotonic() - t0, 5)

    def test_wrong_kind_or_version_is_400(self):
        b = rr_body()
        b["apiVersion"] = "remediation.kubernaut.io/v1"
        self.assertStatus(self.req("POST", rr_path("default"), b), 400, "BadRequest",
                          "the API version in the data (remediation.kubernaut.io/v1) does not match the expected "
                          "API version (remediation.kubernaut.io/v1alpha1)")
        b = rr_body()
        del b["kind"]
        self.assertStatus(self.req("POST", rr_path("default"), b), 400, "BadRequest")
        self.assertStatus(self.req("POST", rr_path("default"), b"{not json"), 400, "BadRequest")
        b = rr_body()
        b["metadata"]["resourceVersion"] = "5"
        self.assertStatus(self.req("POST", rr_path("default"), b), 400, "BadRequest",
                          "resourceVersion should not be set on objects to be created")


# ======================================================================================
class NamespaceConfigMapTests(ServerTestCase):
    def test_default_namespaces(self):
        names = [i["metadata"]["name"] for i in self.ok("GET", "/api/v1/namespaces")["items"]]
        self.assertEqual(names, ["default", "kube-node-lease", "kube-public", "kube-system"])

    def test_namespace_lifecycle(self):
        n = self.make_ns("production", {"environment": "production"})
        self.assertEqual((n["kind"], n["apiVersion"], n["status"]), ("Namespace", "v1", {"phase": "Active"}))
        self.assertEqual(n["metadata"]["labels"], {"environment": "production",
                                                   "kubernetes.io/metadata.name": "production"})
        got = self.ok("GET", "/api/v1/namespaces/production")
        self.assertEqual(got["metadata"]["labels"]["environment"], "production")
        lst = self.ok("GET", "/api/v1/namespaces?labelSelector=environment%3Dproduction")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["production"])
        self.assertEqual(lst["kind"], "NamespaceList")
        self.assertStatus(self.req("POST", "/api/v1/namespaces",
                                   {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "production"}}),
                          409, "AlreadyExists", 'namespaces "production" already exists',
                          {"name": "production", "kind": "namespaces"})
        self.assertStatus(self.req("GET", "/api/v1/namespaces/nope"), 404, "NotFound", 'namespaces "nope" not found',
                          {"name": "nope", "kind": "namespaces"})
        self.create_rr(ns="production")
        d = self.ok("DELETE", "/api/v1/namespaces/production")
        self.assertEqual((d["kind"], d["status"]["phase"]), ("Namespace", "Terminating"))
        self.assertStatus(self.req("GET", "/api/v1/namespaces/production"), 404, "NotFound")
        self.assertEqual(self.ok("GET", RR_BASE + "/remediationrequests")["items"], [])

    def test_namespace_name_is_a_dns_label(self):
        r = self.req("POST", "/api/v1/namespaces", {"metadata": {"name": "a.b"}})
        st = self.assertStatus(r, 422, "Invalid")
        self.assertEqual(st["message"], 'Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": a lowercase '
                         "RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
                         "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                         "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")

    def test_configmap_crud(self):
        self.make_ns("kubernaut-system")
        path = "/api/v1/namespaces/kubernaut-system/configmaps"
        cm = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "kubernaut-environment-overrides"}, "data": {"payments": "production"}}
        c = self.ok("POST", path, cm)
        self.assertEqual((c["metadata"]["namespace"], c["data"]), ("kubernaut-system", {"payments": "production"}))
        g = self.ok("GET", path + "/kubernaut-environment-overrides")
        self.assertEqual(g, c)
        g["data"]["staging-apps"] = "staging"
        del g["metadata"]["resourceVersion"]                         # ConfigMaps allow unconditional updates
        u = self.ok("PUT", path + "/kubernaut-environment-overrides", g)
        self.assertEqual(u["data"], {"payments": "production", "staging-apps": "staging"})
        self.assertEqual(self.ok("GET", path)["kind"], "ConfigMapList")
        self.assertEqual(len(self.ok("GET", "/api/v1/configmaps")["items"]), 1)
        p = self.ok("PATCH", path + "/kubernaut-environment-overrides", {"data": {"payments": None}},
                    content_type="application/strategic-merge-patch+json")
        self.assertEqual(p["data"], {"staging-apps": "staging"})
        d = self.ok("DELETE", path + "/kubernaut-environment-overrides")
        self.assertEqual((d["status"], d["details"]["kind"], d["details"]["name"]),
                         ("Success", "configmaps", "kubernaut-environment-overrides"))
        self.assertStatus(self.req("GET", path + "/kubernaut-environment-overrides"), 404, "NotFound",
                          'configmaps "kubernaut-environment-overrides" not found')
        r = self.req("POST", path, {"metadata": {"name": "bad"}, "data": {"a b": "x"}})
        self.assertEqual(self.assertStatus(r, 422, "Invalid")["details"]["causes"][0]["field"], "data[a b]")

    def test_crd_create_and_get(self):
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "remediationrequests.remediation.kubernaut.io"},
               "spec": {"group": GROUP, "scope": "Namespaced",
                        "names": {"plural": "remediationrequests", "singular": "remediationrequest",
                                  "kind": "RemediationRequest", "shortNames": ["rr"]},
                        "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                      "subresources": {"status": {}},
                                      "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
        c = self.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        self.assertEqual([x["type"] for x in c["status"]["conditions"]], ["NamesAccepted", "Established"])
        g = self.ok("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                           "remediationrequests.remediation.kubernaut.io")
        self.assertEqual(g["spec"]["names"]["kind"], "RemediationRequest")
        self.create_rr()                                              # still served with the built-in rules


# ======================================================================================
GATEWAY_USER = "system:serviceaccount:kubernaut-system:gateway"
AUTH_TOKENS = {
    "admin-token": {"username": "admin", "uid": "u-admin", "groups": ["system:masters"], "admin": True},
    "gw-token": {"username": GATEWAY_USER, "uid": "u-gw",
                 "groups": ["system:serviceaccounts", "system:serviceaccounts:kubernaut-system"],
                 "rules": [{"verbs": ["create", "get"], "apiGroups": [GROUP],
                            "resources": ["remediationrequests"], "namespaces": ["*"]},
                           {"verbs": ["get"], "apiGroups": [""], "resources": ["namespaces"]}]},
    "reader-token": {"username": "reader", "uid": "u-reader", "groups": [],
                     "rules": [{"verbs": ["get", "list"], "apiGroups": [GROUP],
                                "resources": ["remediationrequests"], "namespaces": ["team-a"]}]},
    "nobody-token": {"username": "nobody", "uid": "u-nobody", "groups": []},
}


class AuthTests(ServerTestCase):
    tokens = AUTH_TOKENS

    def setUp(self):
        super().setUp()
        self.make_ns("team-a")
        self.make_ns("team-b")

    def test_401(self):
        for token, hdr in ((None, None), ("wrong", None), (None, {"Authorization": "Basic YTpi"}),
                           (None, {"Authorization": "Bearer "})):
            r = self.req("GET", rr_path("default"), token=token, headers=hdr)
            self.assertEqual(r.json, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
            self.assertEqual(r.status, 401)

    def test_rules_allow_and_403(self):
        self.assertEqual(self.req("POST", rr_path("team-b"), rr_body(), token="gw-token").status, 201)
        self.assertEqual(self.req("GET", rr_path("team-b", "rr-5f2b9c0e1d3a4b6c"), token="gw-token").status, 200)
        self.assertEqual(self.req("GET", "/api/v1/namespaces/team-b", token="gw-token").status, 200)
        r = self.req("POST", rr_path("team-a"), rr_body(), token="nobody-token")
        self.assertStatus(r, 403, "Forbidden",
                          'remediationrequests.remediation.kubernaut.io is forbidden: User "nobody" cannot create '
                          'resource "remediationrequests" in API group "remediation.kubernaut.io" in the namespace '
                          '"team-a"', {"group": GROUP, "kind": "remediationrequests"})
        r = self.req("DELETE", rr_path("team-b", "rr-5f2b9c0e1d3a4b6c"), token="gw-token")
        self.assertStatus(r, 403, "Forbidden",
                          'remediationrequests.remediation.kubernaut.io "rr-5f2b9c0e1d3a4b6c" is forbidden: User "%s" '
                          'cannot delete resource "remediationrequests" in API group "remediation.kubernaut.io" in '
                          'the namespace "team-b"' % GATEWAY_USER,
                          {"name": "rr-5f2b9c0e1d3a4b6c", "group": GROUP, "kind": "remediationrequests"})
        r = self.req("PUT", rr_path("team-b", "rr-5f2b9c0e1d3a4b6c", "status"), rr_body(), token="gw-token")
        self.assertIn('cannot update resource "remediationrequests/status"', self.assertStatus(r, 403, "Forbidden")["message"])
        r = self.req("GET", "/api/v1/namespaces", token="gw-token")
        self.assertStatus(r, 403, "Forbidden", 'namespaces is forbidden: User "%s" cannot list resource "namespaces" '
                          'in API group "" at the cluster scope' % GATEWAY_USER)

    def test_namespaced_rules(self):
        self.assertEqual(self.req("GET", rr_path("team-a"), token="reader-token").status, 200)
        r = self.req("GET", rr_path("team-b"), token="reader-token")
        self.assertStatus(r, 403, "Forbidden", 'remediationrequests.remediation.kubernaut.io is forbidden: User '
                          '"reader" cannot list resource "remediationrequests" in API group "remediation.kubernaut.io" '
                          'in the namespace "team-b"')
        self.assertStatus(self.req("GET", RR_BASE + "/remediationrequests", token="reader-token"), 403, "Forbidden")

    def test_discovery_for_any_authenticated_user(self):
        self.assertEqual(self.req("GET", "/apis", token="nobody-token").status, 200)
        self.assertEqual(self.req("GET", RR_BASE, token="nobody-token").status, 200)

    def test_token_review(self):
        path = "/apis/authentication.k8s.io/v1/tokenreviews"
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "gw-token"}}
        r = self.ok("POST", path, body)
        self.assertEqual((r["kind"], r["apiVersion"], r["spec"]), ("TokenReview", "authentication.k8s.io/v1",
                                                                  {"token": "gw-token"}))
        self.assertEqual(r["status"], {"authenticated": True, "user": {
            "username": GATEWAY_USER, "uid": "u-gw",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:kubernaut-system"]}})
        r = self.ok("POST", path, dict(body, spec={"token": "stolen"}))
        self.assertNotIn("authenticated", r["status"])            # false is omitted, as in the real server
        self.assertEqual(r["status"]["user"], {})
        self.assertTrue(r["status"]["error"])
        self.assertStatus(self.req("POST", path, dict(body, spec={})), 400, "BadRequest",
                          "token is required for TokenReview in authentication")
        r = self.req("POST", path, body, token="nobody-token")
        self.assertStatus(r, 403, "Forbidden", 'tokenreviews.authentication.k8s.io is forbidden: User "nobody" cannot '
                          'create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope')

    def sar(self, spec, token="admin-token"):
        return self.ok("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                       {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec},
                       token=token)

    def test_subject_access_review(self):
        ra = {"verb": "create", "group": GROUP, "resource": "remediationrequests"}
        r = self.sar({"user": GATEWAY_USER, "resourceAttributes": dict(ra, namespace="team-a")})
        self.assertEqual((r["kind"], r["apiVersion"]), ("SubjectAccessReview", "authorization.k8s.io/v1"))
        self.assertEqual(r["spec"], {"user": GATEWAY_USER, "resourceAttributes": dict(ra, namespace="team-a")})
        self.assertIs(r["status"]["allowed"], True)
        self.assertTrue(r["status"]["reason"])
        self.assertIs(self.sar({"user": GATEWAY_USER, "resourceAttributes": ra})["status"]["allowed"], True)
        r = self.sar({"user": GATEWAY_USER, "resourceAttributes": dict(ra, verb="delete", namespace="team-a")})
        self.assertEqual(r["status"], {"allowed": False})
        self.assertIs(self.sar({"user": "nobody", "resourceAttributes": ra})["status"]["allowed"], False)
        self.assertIs(self.sar({"user": "stranger", "resourceAttributes": ra})["status"]["allowed"], False)
        self.assertIs(self.sar({"user": "reader", "resourceAttributes": dict(ra, verb="list", namespace="team-a")})
                      ["status"]["allowed"], True)
        self.assertIs(self.sar({"user": "reader", "resourceAttributes": dict(ra, verb="list")})["status"]["allowed"],
                      False)
        self.assertIs(self.sar({"user": "x", "groups": ["system:masters"], "resourceAttributes": ra})
                      ["status"]["allowed"], True)
        self.assertIs(self.sar({"user": "admin", "nonResourceAttributes": {"path": "/metrics", "verb": "get"}})
                      ["status"]["allowed"], True)
        r = self.req("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                     {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                      "spec": {"resourceAttributes": ra}})
        self.assertStatus(r, 422, "Invalid")
        self.assertStatus(self.req("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                   {"spec": {"user": "x", "resourceAttributes": ra}}, token="gw-token"),
                          403, "Forbidden")

    def test_self_subject_access_review_and_impersonation(self):
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"verb": "create", "group": GROUP, "resource": "remediationrequests",
                                                "namespace": "team-a"}}}
        path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        self.assertIs(self.ok("POST", path, body, token="gw-token")["status"]["allowed"], True)
        self.assertIs(self.ok("POST", path, body, token="nobody-token")["status"]["allowed"], False)
        r = self.req("POST", rr_path("team-a"), rr_body(), headers={"Impersonate-User": "nobody"})
        self.assertIn('User "nobody" cannot create', self.assertStatus(r, 403, "Forbidden")["message"])
        r = self.req("GET", "/apis", token="gw-token", headers={"Impersonate-User": "admin"})
        self.assertStatus(r, 403, "Forbidden")


# ======================================================================================
class FaultAndLogTests(ServerTestCase):
    def fault(self, **spec):
        r = self.req("POST", "/_test/faults", spec, token=None)
        self.assertEqual(r.status, 201, r)
        return r.json

    def test_status_fault_with_retry_after(self):
        self.fault(method="POST", path_regex="/remediationrequests$", count=2, action="status", status=503,
                   retry_after=1)
        for _ in range(2):
            r = self.req("POST", rr_path("default"), rr_body())
            st = self.assertStatus(r, 503, "ServiceUnavailable")
            self.assertEqual(r.headers.getheader("Retry-After"), "1")
            self.assertEqual(st["details"], {"retryAfterSeconds": 1})
        self.assertEqual(self.req("POST", rr_path("default"), rr_body()).status, 201)

    def test_429_and_500(self):
        self.fault(count=1, action="status", status=429, retry_after=2)
        self.fault(count=1, action="status", status=500)
        r = self.req("GET", rr_path("default"))
        self.assertStatus(r, 429, "TooManyRequests", "Too many requests, please try again later.")
        self.assertEqual(r.headers.getheader("Retry-After"), "2")
        r = self.req("GET", rr_path("default"))
        self.assertStatus(r, 500, "InternalError")
        self.assertIsNone(r.headers.getheader("Retry-After"))
        self.assertEqual(self.req("GET", rr_path("default")).status, 200)

    def test_fault_matching(self):
        self.fault(method="DELETE", count=1, action="status", status=500)
        self.fault(path_regex="^/api/v1/", count=1, action="status", status=503)
        self.assertEqual(self.req("GET", rr_path("default")).status, 200)   # neither matches
        self.assertEqual(self.req("GET", "/api/v1/namespaces").status, 503)
        self.assertEqual(self.req("GET", "/api/v1/namespaces").status, 200)
        items = self.req("GET", "/_test/faults", token=None).json["items"]
        self.assertEqual([(f["method"], f["remaining"]) for f in items], [("DELETE", 1)])
        self.assertEqual(self.req("DELETE", "/_test/faults", token=None).json, {"cleared": 1})
        self.assertEqual(self.req("DELETE", rr_path("default", "x")).status, 404)
        self.assertEqual(self.req("POST", "/_test/faults", {"action": "explode"}, token=None).status, 400)
        self.assertEqual(self.req("POST", "/_test/faults", {"count": 0}, token=None).status, 400)

    def test_latency(self):
        self.fault(path_regex="remediationrequests", count=1, action="latency", latency_ms=300)
        t0 = time.monotonic()
        self.assertEqual(self.req("GET", rr_path("default")).status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        t0 = time.monotonic()
        self.assertEqual(self.req("GET", rr_path("default")).status, 200)
        self.assertLess(time.monotonic() - t0, 0.3)

    def test_drop(self):
        self.fault(method="POST", count=1, action="drop")
        conn = self.srv.connection()
        try:
            with self.assertRaises((http.client.HTTPException, OSError)):
                self.srv.request("POST", rr_path("default"), rr_body(), conn=conn)
        finally:
            conn.close()
        self.assertEqual(self.ok("GET", rr_path("default"))["items"], [])
        self.assertEqual(self.req("POST", rr_path("default"), rr_body()).status, 201)
        log = self.req("GET", "/_test/requests", token=None).json["items"]
        self.assertEqual([(e["method"], e["status"], e["fault"]) for e in log if e["method"] == "POST"],
                         [("POST", 0, "drop"), ("POST", 201, None)])

    def test_conflict_fault(self):
        o = self.create_rr()
        self.fault(count=1, action="conflict", path_regex="rr-5f2b9c0e1d3a4b6c")
        o["spec"]["priority"] = "P1"
        r = self.req("PUT", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), o)
        self.assertStatus(r, 409, "Conflict", CONFLICT_MSG % "rr-5f2b9c0e1d3a4b6c",
                          {"name": "rr-5f2b9c0e1d3a4b6c", "group": GROUP, "kind": "remediationrequests"})
        self.assertEqual(self.req("PUT", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), o).status, 200)

    def test_conflict_fault_counts_only_updates(self):
        self.fault(count=2, action="conflict")
        o = self.create_rr()                                         # creates and reads are not affected
        self.ok("GET", rr_path("default", "rr-5f2b9c0e1d3a4b6c"))
        r = self.req("PATCH", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), {"spec": {"priority": "P2"}},
                     content_type="application/merge-patch+json")
        self.assertStatus(r, 409, "Conflict")
        self.assertEqual(self.req("PUT", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), o).status, 409)
        self.assertEqual(self.req("PUT", rr_path("default", "rr-5f2b9c0e1d3a4b6c"), o).status, 200)

    def test_queued_faults_apply_in_order(self):
        self.fault(count=1, action="latency", latency_ms=50)
        self.fault(count=1, action="status", status=504)
        self.assertEqual(self.req("GET", "/api/v1/namespaces").status, 200)
        self.assertStatus(self.req("GET", "/api/v1/namespaces"), 504, "Timeout")
        self.assertEqual(self.req("GET", "/api/v1/namespaces").status, 200)

    def test_request_log(self):
        self.req("DELETE", "/_test/requests", token=None)
        self.create_rr()
        self.req("GET", rr_path("default") + "?labelSelector=a%3Db", headers={"User-Agent": "sgw-test/1.0"})
        self.req("GET", "/api/v1/namespaces", token="bad")
        items = self.req("GET", "/_test/requests", token=None).json["items"]
        self.assertEqual([(e["method"], e["path"], e["query"], e["status"], e["user"]) for e in items], [
            ("POST", rr_path("default"), "", 201, "admin"),
            ("GET", rr_path("default"), "labelSelector=a%3Db", 200, "admin"),
            ("GET", "/api/v1/namespaces", "", 401, None)])
        self.assertEqual(items[1]["userAgent"], "sgw-test/1.0")
        self.assertIsInstance(items[0]["ts"], float)
        self.assertEqual(self.req("DELETE", "/_test/requests", token=None).json, {"cleared": 3})
        self.assertEqual(self.req("GET", "/_test/requests", token=None).json, {"items": []})

    def test_reset(self):
        self.create_rr()
        self.fault(count=5, action="status", status=500, path_regex="nothing-matches")
        self.assertEqual(self.req("POST", "/_test/reset", token=None).status, 200)
        self.assertEqual(self.ok("GET", rr_path("default"))["items"], [])
        self.assertEqual(self.req("GET", "/_test/faults", token=None).json["items"], [])
        self.assertEqual(self.req("POST", "/_test/reset", {"defaultNamespaces": False}, token=None).status, 200)
        self.assertEqual(self.ok("GET", "/api/v1/namespaces")["items"], [])


# ======================================================================================
class ConcurrencyTests(ServerTestCase):
    def test_100_concurrent_keepalive_clients(self):
        n_clients, per_client = 100, 3
        barrier = threading.Barrier(n_clients, timeout=20)
        results, errors = [], []
        lock = threading.Lock()

        def client(i):
            conn = self.srv.connection(timeout=20)
            try:
                conn.connect()
                sock = conn.sock
                barrier.wait()
                for j in range(per_client):
                    r = self.srv.request("POST", rr_path("default"), rr_body(name="rr-c%03d-%d" % (i, j)), conn=conn)
                    with lock:
                        results.append((r.status, r.json["metadata"]["resourceVersion"] if r.status == 201 else r.raw,
                                        conn.sock is sock, r.headers.getheader("Connection")))
            except Exception as e:                              # noqa: BLE001 - reported below
                with lock:
                    errors.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), n_clients * per_client)
        self.assertEqual({s for s, _, _, _ in results}, {201})
        self.assertTrue(all(same for _, _, same, _ in results), "a connection was not kept alive")
        self.assertEqual({c for _, _, _, c in results}, {None})
        rvs = [rv for _, rv, _, _ in results]
        self.assertEqual(len(set(rvs)), len(rvs))
        self.assertEqual(len(self.ok("GET", rr_path("default"))["items"]), n_clients * per_client)
        self.assertLess(time.monotonic() - t0, 30)


# ======================================================================================
class CommandLineTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="k8s-api-server-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start(self, **kw):
        srv = ServerProcess(self.tmp, **kw)
        self.addCleanup(srv.stop)
        return srv.start()

    def test_plain_mode_ready_file_and_stdout(self):
        srv = self.start(plain=True)
        self.assertRegex(srv.url, r"^http://127\.0\.0\.1:\d+$")
        self.assertEqual(srv.request("GET", "/version").status, 200)
        with open(srv.kubeconfig) as f:
            kc = json.load(f)
        self.assertEqual(kc["clusters"][0]["cluster"], {"server": srv.url})
        srv.stop()
        self.assertEqual(srv.proc.returncode, 0)
        with open(os.path.join(self.tmp, "stdout")) as f:
            self.assertEqual(f.read().strip(), srv.url)

    def test_tls_material_is_reused_and_kubeconfig(self):
        srv = self.start()
        self.assertRegex(srv.url, r"^https://127\.0\.0\.1:\d+$")
        with open(os.path.join(srv.tls_dir, "ca.crt"), "rb") as f:
            ca = f.read()
        with open(srv.kubeconfig) as f:
            kc = json.load(f)
        self.assertEqual(base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]), ca)
        self.assertEqual(kc["users"][0]["user"], {"token": "admin-token"})
        self.assertEqual(kc["current-context"], kc["contexts"][0]["name"])
        # the certificate is valid for localhost too
        ctx = ssl.create_default_context(cafile=os.path.join(srv.tls_dir, "ca.crt"))
        c = http.client.HTTPSConnection("localhost", srv.port, context=ctx, timeout=5)
        c.request("GET", "/healthz")
        self.assertEqual(c.getresponse().status, 200)
        c.close()
        srv.stop()
        srv2 = self.start()
        with open(os.path.join(srv2.tls_dir, "ca.crt"), "rb") as f:
            self.assertEqual(f.read(), ca)
        self.assertEqual(srv2.request("GET", "/healthz").status, 200)

    def test_kubeconfig_uses_first_admin_token_from_file(self):
        srv = self.start(plain=True, tokens={"t-user": {"username": "u"}, "t-admin": {"username": "a", "admin": True}})
        with open(srv.kubeconfig) as f:
            self.assertEqual(json.load(f)["users"][0]["user"], {"token": "t-admin"})
        self.assertEqual(srv.request("GET", "/api", token="admin-token").status, 401)
        self.assertEqual(srv.request("GET", "/api", token="t-admin").status, 200)

    def test_bad_tokens_file(self):
        path = os.path.join(self.tmp, "tokens.json")
        with open(path, "w") as f:
            f.write("{not json")
        r = subprocess.run([PYTHON, SERVER, "--plain", "--tokens", path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=15)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--tokens", r.stderr)


# ======================================================================================
RR_YAML = """apiVersion: remediation.kubernaut.io/v1alpha1
kind: RemediationRequest
metadata:
  name: rr-5f2b9c0e1d3a4b6c
  namespace: production
  labels:
    app.kubernetes.io/managed-by: signal-gateway
    kubernaut.io/severity: critical
  annotations:
    kubernaut.io/created-at: "2025-10-28T19:02:47Z"
spec:
  signalFingerprint: %s
  signalName: HighMemoryUsage
  severity: critical
  environment: production
  priority: P0
  signalType: prometheus-alert
  signalSource: prometheus-adapter
  targetType: kubernetes
  firingTime: "2025-10-22T10:00:00Z"
  receivedTime: "2025-10-28T19:02:47Z"
  deduplication: {isDuplicate: false, firstSeen: "2025-10-28T19:02:47Z", lastSeen: "2025-10-28T19:02:47Z", occurrenceCount: 1}
""" % FP

CRD_YAML = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


@unittest.skipIf(SKIP_REAL_CLIENTS, "K8S_API_SERVER_SKIP_REAL_CLIENTS=1")
class KubectlTests(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(KUBECTL, os.X_OK):
            raise RuntimeError("kubectl not found at %s (set K8S_API_SERVER_SKIP_REAL_CLIENTS=1 to skip)" % KUBECTL)
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.make_ns("production")
        self.manifest = os.path.join(self.tmp, "rr.yaml")
        with open(self.manifest, "w") as f:
            f.write(RR_YAML)

    def kubectl(self, *args, stdin=None):
        env = dict(os.environ, HOME=self.tmp, KUBECONFIG=self.srv.kubeconfig)
        r = subprocess.run([KUBECTL, "--kubeconfig", self.srv.kubeconfig, "--cache-dir",
                            os.path.join(self.tmp, "kubectl-cache"), "--request-timeout=10s"] + list(args),
                           input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=30,
                           text=True)
        return r.returncode, r.stdout, r.stderr

    def test_create_get_list_delete(self):
        rc, out, err = self.kubectl("create", "-f", self.manifest)
        self.assertEqual((rc, out.strip(), err), (0, "remediationrequest.remediation.kubernaut.io/rr-5f2b9c0e1d3a4b6c "
                                                     "created", ""))
        rc, out, err = self.kubectl("get", "remediationrequest", "rr-5f2b9c0e1d3a4b6c", "-n", "production", "-o", "json")
        self.assertEqual((rc, err), (0, ""))
        o = json.loads(out)
        self.assertEqual((o["kind"], o["metadata"]["namespace"], o["spec"]["signalFingerprint"], o["spec"]["priority"]),
                         ("RemediationRequest", "production", FP, "P0"))
        self.assertEqual(o["metadata"]["labels"]["kubernaut.io/severity"], "critical")
        self.assertRegex(o["metadata"]["resourceVersion"], r"^\d+$")
        rc, out, err = self.kubectl("get", "rr", "-n", "production", "-l", "kubernaut.io/severity=critical",
                                    "-o", "name")
        # both groups serve "rr" (as on a cluster with both CRDs): kubectl takes the first in /apis and warns
        self.assertEqual((rc, out.strip(), err), (0, "remediationrequest.remediation.kubernaut.io/rr-5f2b9c0e1d3a4b6c",
                                                  AMBIGUOUS_RR_WARNING))
        rc, out, err = self.kubectl("get", "rr", "-n", "production", "-l", "kubernaut.io/severity in (warning,info)")
        self.assertEqual((rc, out, err), (0, "", AMBIGUOUS_RR_WARNING + "No resources found in production namespace.\n"))
        rc, out, err = self.kubectl("get", "remediationrequests", "-n", "production")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "AGE"])
        self.assertEqual(lines[1].split()[0], "rr-5f2b9c0e1d3a4b6c")
        rc, out, err = self.kubectl("get", "rr", "-A", "--show-labels")
        self.assertEqual(out.splitlines()[0].split(), ["NAMESPACE", "NAME", "AGE", "LABELS"])
        rc, out, err = self.kubectl("delete", "-f", self.manifest)
        self.assertEqual((rc, out.strip(), err), (0, 'remediationrequest.remediation.kubernaut.io '
                                                     '"rr-5f2b9c0e1d3a4b6c" deleted', ""))
        rc, out, err = self.kubectl("get", "rr", "rr-5f2b9c0e1d3a4b6c", "-n", "production")
        self.assertEqual(rc, 1)
        self.assertIn('Error from server (NotFound): remediationrequests.remediation.kubernaut.io '
                      '"rr-5f2b9c0e1d3a4b6c" not found', err)

    def test_create_twice_shows_status_error(self):
        self.assertEqual(self.kubectl("create", "-f", self.manifest)[0], 0)
        rc, out, err = self.kubectl("create", "-f", self.manifest)
        self.assertNotEqual(rc, 0)
        self.assertIn("Error from server (AlreadyExists)", err)
        self.assertIn('remediationrequests.remediation.kubernaut.io "rr-5f2b9c0e1d3a4b6c" already exists', err)

    def test_invalid_object_shows_causes(self):
        with open(self.manifest, "w") as f:
            f.write(RR_YAML.replace("severity: critical\n  environment", "severity: fatal\n  environment"))
        rc, out, err = self.kubectl("create", "-f", self.manifest)
        self.assertNotEqual(rc, 0)
        self.assertIn('The RemediationRequest "rr-5f2b9c0e1d3a4b6c" is invalid', err)
        self.assertIn('spec.severity: Unsupported value: "fatal"', err)

    def test_apply_twice_and_missing_namespace(self):
        rc, out, err = self.kubectl("apply", "-f", self.manifest)
        self.assertEqual((rc, out.strip(), err), (0, "remediationrequest.remediation.kubernaut.io/rr-5f2b9c0e1d3a4b6c "
                                                     "created", ""))
        with open(self.manifest, "w") as f:
            f.write(RR_YAML.replace("priority: P0", "priority: P1"))
        rc, out, err = self.kubectl("apply", "-f", self.manifest)
        self.assertEqual((rc, out.strip(), err), (0, "remediationrequest.remediation.kubernaut.io/rr-5f2b9c0e1d3a4b6c "
                                                     "configured", ""))
        got = self.ok("GET", rr_path("production", "rr-5f2b9c0e1d3a4b6c"))
        self.assertEqual((got["spec"]["priority"], got["metadata"]["generation"]), ("P1", 2))
        with open(self.manifest, "w") as f:
            f.write(RR_YAML.replace("namespace: production", "namespace: ghost"))
        rc, out, err = self.kubectl("create", "-f", self.manifest)
        self.assertNotEqual(rc, 0)
        self.assertIn('namespaces "ghost" not found', err)

    def test_typed_commands_namespace_configmap_can_i(self):
        # these kubectl commands send protobuf bodies
        rc, out, err = self.kubectl("create", "namespace", "kubernaut-system")
        self.assertEqual((rc, out.strip(), err), (0, "namespace/kubernaut-system created", ""))
        rc, out, err = self.kubectl("label", "namespace", "kubernaut-system", "environment=production")
        self.assertEqual(rc, 0, err)
        ns = self.ok("GET", "/api/v1/namespaces/kubernaut-system")
        self.assertEqual(ns["metadata"]["labels"]["environment"], "production")
        rc, out, err = self.kubectl("create", "configmap", "kubernaut-environment-overrides", "-n", "kubernaut-system",
                                    "--from-literal=payments=production")
        self.assertEqual(rc, 0, err)
        cm = self.ok("GET", "/api/v1/namespaces/kubernaut-system/configmaps/kubernaut-environment-overrides")
        self.assertEqual(cm["data"], {"payments": "production"})
        self.assertNotIn("generateName", cm["metadata"])
        rc, out, err = self.kubectl("auth", "can-i", "create", "remediationrequests", "-n", "production")
        self.assertEqual((rc, out.strip()), (0, "yes"))
        rc, out, err = self.kubectl("get", "ns", "kubernaut-system")
        self.assertEqual(out.splitlines()[0].split(), ["NAME", "STATUS", "AGE"])
        self.assertEqual(out.splitlines()[1].split()[:2], ["kubernaut-system", "Active"])

    def test_apply_crd_and_api_resources(self):
        path = os.path.join(self.tmp, "crd.yaml")
        with open(path, "w") as f:
            f.write(CRD_YAML)
        rc, out, err = self.kubectl("apply", "-f", path)
        self.assertEqual((rc, out.strip(), err), (0, "customresourcedefinition.apiextensions.k8s.io/widgets.example.com "
                                                     "created", ""))
        rc, out, err = self.kubectl("get", "crd", "widgets.example.com", "-o", "jsonpath={.spec.group}")
        self.assertEqual((rc, out), (0, "example.com"))
        rc, out, err = self.kubectl("api-resources", "--api-group", GROUP)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines()[1].split(), ["remediationrequests", "rr", GROUP + "/v1alpha1", "true",
                                                       "RemediationRequest"])


@unittest.skipIf(SKIP_REAL_CLIENTS, "K8S_API_SERVER_SKIP_REAL_CLIENTS=1")
class PythonKubernetesTests(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            import kubernetes  # noqa: F401
        except ImportError as e:
            raise RuntimeError("Debian's python3-kubernetes is needed (apt-get install python3-kubernetes): %s" % e)

    def client(self):
        from kubernetes import client, config
        cfg = client.Configuration()
        config.load_kube_config(config_file=self.srv.kubeconfig, client_configuration=cfg)
        api = client.ApiClient(cfg)
        self.addCleanup(api.close)
        self.addCleanup(api.rest_client.pool_manager.clear)
        return client, api

    def test_custom_objects(self):
        client, api = self.client()
        co = client.CustomObjectsApi(api)
        body = rr_body(labels={"kubernaut.io/severity": "critical"})
        o = co.create_namespaced_custom_object(GROUP, "v1alpha1", "default", "remediationrequests", body)
        self.assertEqual(o["metadata"]["generation"], 1)
        g = co.get_namespaced_custom_object(GROUP, "v1alpha1", "default", "remediationrequests", "rr-5f2b9c0e1d3a4b6c")
        self.assertEqual(g["spec"]["signalFingerprint"], FP)
        lst = co.list_namespaced_custom_object(GROUP, "v1alpha1", "default", "remediationrequests",
                                               label_selector="kubernaut.io/severity=critical")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["rr-5f2b9c0e1d3a4b6c"])
        p = co.patch_namespaced_custom_object(GROUP, "v1alpha1", "default", "remediationrequests",
                                              "rr-5f2b9c0e1d3a4b6c", {"spec": {"priority": "P2"}})
        self.assertEqual((p["spec"]["priority"], p["metadata"]["generation"]), ("P2", 2))
        s = co.patch_namespaced_custom_object_status(GROUP, "v1alpha1", "default", "remediationrequests",
                                                     "rr-5f2b9c0e1d3a4b6c", {"status": {"overallPhase": "pending"}})
        self.assertEqual(s["status"], {"overallPhase": "pending"})
        with self.assertRaises(client.exceptions.ApiException) as cm:
            co.create_namespaced_custom_object(GROUP, "v1alpha1", "default", "remediationrequests", body)
        self.assertEqual(cm.exception.status, 409)
        self.assertEqual(cm.exception.reason, "Conflict")
        st = json.loads(cm.exception.body)
        self.assertEqual((st["reason"], st["details"]["name"]), ("AlreadyExists", "rr-5f2b9c0e1d3a4b6c"))
        co.delete_namespaced_custom_object(GROUP, "v1alpha1", "default", "remediationrequests", "rr-5f2b9c0e1d3a4b6c")
        with self.assertRaises(client.exceptions.ApiException) as cm:
            co.get_namespaced_custom_object(GROUP, "v1alpha1", "default", "remediationrequests", "rr-5f2b9c0e1d3a4b6c")
        self.assertEqual(cm.exception.status, 404)

    def test_core_v1(self):
        client, api = self.client()
        core = client.CoreV1Api(api)
        ns = core.read_namespace("default")
        self.assertEqual((ns.metadata.name, ns.status.phase), ("default", "Active"))
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
            name="production", labels={"environment": "production"})))
        self.assertEqual(core.read_namespace("production").metadata.labels["environment"], "production")
        core.create_namespaced_config_map("production", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="cm1"), data={"a": "b"}))
        self.assertEqual(core.read_namespaced_config_map("cm1", "production").data, {"a": "b"})
        with self.assertRaises(client.exceptions.ApiException) as cm:
            core.read_namespace("ghost")
        self.assertEqual(cm.exception.status, 404)

    def test_token_review_and_sar(self):
        client, api = self.client()
        authn = client.AuthenticationV1Api(api)
        tr = authn.create_token_review(client.V1TokenReview(spec=client.V1TokenReviewSpec(token="admin-token")))
        self.assertTrue(tr.status.authenticated)
        self.assertEqual(tr.status.user.username, "admin")
        tr = authn.create_token_review(client.V1TokenReview(spec=client.V1TokenReviewSpec(token="nope")))
        self.assertFalse(tr.status.authenticated)
        authz = client.AuthorizationV1Api(api)
        sar = authz.create_subject_access_review(client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
            user="admin", resource_attributes=client.V1ResourceAttributes(
                verb="create", group=GROUP, resource="remediationrequests", namespace="default"))))
        self.assertTrue(sar.status.allowed)


def load_tests(loader, tests, pattern):
    """Adds the workload kinds' tests (test_workloads.py, beside workloads.py) to a whole run."""
    import test_workloads
    tests.addTests(loader.loadTestsFromModule(test_workloads))
    return tests

# ======================================================================================
# kubernaut.ai/v1alpha1 RemediationRequests (upstream Kubernaut's CRD), watches, request log

AI_GROUP = "kubernaut.ai"
AI_BASE = "/apis/kubernaut.ai/v1alpha1"
FP2 = "0123456789abcdef" * 4
NIL_CAUSE = {"reason": "FieldValueInvalid", "field": "<nil>",
             "message": 'Invalid value: "null": some validation rules were not checked because the object was '
                        'invalid; correct the existing errors to complete validation'}
AI_CONFLICT_MSG = ('Operation cannot be fulfilled on remediationrequests.kubernaut.ai "%s": the object has been '
                   'modified; please apply your changes to the latest version and try again')
AI_COLUMNS = ["Name", "Phase", "Outcome", "Alert", "RCA Target", "Workflow", "Confidence", "Age", "Cluster",
              "Source", "Signal NS", "Signal Target", "RCA NS"]


def ai_path(ns=None, name=None, sub=None):
    p = AI_BASE + ("/namespaces/%s" % ns if ns else "") + "/remediationrequests"
    if name:
        p += "/" + name
    if sub:
        p += "/" + sub
    return p


def ai_body(name="rr-ai-1", fp=FP, labels=None, **spec):
    s = {"signalFingerprint": fp, "signalName": "HighMemoryUsage", "severity": "critical", "signalType": "alert",
         "signalSource": "prometheus-adapter", "targetType": "kubernetes", "firingTime": "2025-10-22T10:00:00Z",
         "receivedTime": TS, "targetResource": {"kind": "Pod", "name": "payment-api-123", "namespace": "production"},
         "signalLabels": {"alertname": "HighMemoryUsage"}}
    for k, v in spec.items():
        if v is None:
            s.pop(k, None)
        else:
            s[k] = v
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "kubernaut.ai/v1alpha1", "kind": "RemediationRequest", "metadata": meta, "spec": s}


def kubectl_table(lines):
    """kubectl's printed table -> [{HEADER: cell}], cut at the header's column starts
    (kubectl prints a null cell as nothing)."""
    head = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:(?<=  )|^)\S", head)]
    names = [head[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
    return [{n: ln[a:b].strip() if b else ln[a:].strip() for n, a, b in zip(names, starts, starts[1:] + [None])}
            for ln in lines[1:]]


def causes(st):
    return sorted((c["field"], c["reason"], c["message"]) for c in st["details"]["causes"])


class WatchStream:
    """A raw watch request, read by a thread into a queue so that every wait is bounded.
    Items: ("event", dict), ("end", None) after the final chunk, ("error", exception)."""

    def __init__(self, srv, path, token="admin-token", accept="application/json"):
        import queue
        self.q = queue.Queue()
        self.conn = srv.connection(timeout=30)
        self.conn.request("GET", path, headers={"Authorization": "Bearer " + token, "Accept": accept})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = self.resp.headers
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        # read1, not readline: readline hides a missing final chunk (IncompleteRead) as EOF
        buf = b""
        try:
            while True:
                data = self.resp.read1(65536)
                if not data:
                    self.q.put(("end", None) if not buf.strip() else ("error", ValueError("partial line %r" % buf)))
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        self.q.put(("event", json.loads(line)))
        except Exception as e:           # noqa: BLE001 - handed to the test
            self.q.put(("error", e))

    def next(self, timeout=5.0):
        """The next item, or ("timeout", None) after `timeout` seconds."""
        import queue
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return ("timeout", None)

    def event(self, timeout=5.0, skip_bookmarks=True):
        while True:
            kind, v = self.next(timeout)
            if kind != "event":
                raise AssertionError("expected a watch event, got %s %r" % (kind, v))
            if not (skip_bookmarks and v["type"] == "BOOKMARK"):
                return v

    def close(self):
        try:
            self.conn.sock.shutdown(2)
        except (OSError, AttributeError):
            pass
        self.conn.close()
        self.thread.join(5)


class KubernautAiTests(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.make_ns("production")

    def create(self, ns="production", **kw):
        return self.ok("POST", ai_path(ns), ai_body(**kw))

    def test_discovery(self):
        groups = [g["name"] for g in self.ok("GET", "/apis")["groups"]]
        self.assertIn(AI_GROUP, groups)
        self.assertLess(groups.index(GROUP), groups.index(AI_GROUP))
        self.assertEqual(self.ok("GET", "/apis/kubernaut.ai")["preferredVersion"],
                         {"groupVersion": "kubernaut.ai/v1alpha1", "version": "v1alpha1"})
        rl = self.ok("GET", AI_BASE)
        self.assertEqual(rl["groupVersion"], "kubernaut.ai/v1alpha1")
        self.assertEqual(rl["resources"], [
            {"name": "remediationrequests", "singularName": "remediationrequest", "namespaced": True,
             "kind": "RemediationRequest", "verbs": ["create", "delete", "deletecollection", "get", "list", "patch",
                                                     "update", "watch"], "shortNames": ["rr"]},
            {"name": "remediationrequests/status", "singularName": "", "namespaced": True,
             "kind": "RemediationRequest", "verbs": ["get", "patch", "update"]}])

    def test_create_drops_status_and_sets_system_fields(self):
        b = ai_body()
        b["status"] = {"overallPhase": "Completed"}
        o = self.ok("POST", ai_path("production"), b)
        self.assertNotIn("status", o)
        m = o["metadata"]
        self.assertEqual((m["namespace"], m["generation"]), ("production", 1))
        self.assertRegex(m["resourceVersion"], r"^\d+$")
        self.assertEqual(o["spec"]["targetResource"]["kind"], "Pod")
        got = self.ok("GET", ai_path("production", "rr-ai-1"))
        self.assertEqual(got, o)
        self.assertStatus(self.req("POST", ai_path("production"), ai_body()), 409, "AlreadyExists",
                          'remediationrequests.kubernaut.ai "rr-ai-1" already exists',
                          {"name": "rr-ai-1", "group": AI_GROUP, "kind": "remediationrequests"})

    def test_schema_validation(self):
        b = ai_body(fp="XYZ", targetType="vmware", signalName=None, severity="x" * 51,
                    firingTime="yesterday", targetResource={"kind": "Pod"})
        st = self.assertStatus(self.req("POST", ai_path("production"), b), 422, "Invalid")
        self.assertEqual(st["details"]["name"], "rr-ai-1")
        self.assertEqual(st["details"]["kind"], "RemediationRequest")
        self.assertTrue(st["message"].startswith('RemediationRequest.kubernaut.ai "rr-ai-1" is invalid: ['))
        self.assertEqual(causes(st), sorted([
            ("spec.signalName", "FieldValueRequired", "Required value"),
            ("spec.targetResource.name", "FieldValueRequired", "Required value"),
            ("spec.targetType", "FieldValueNotSupported", 'Unsupported value: "vmware": supported values: '
             '"kubernetes", "aws", "azure", "gcp", "datadog"'),
            ("spec.signalFingerprint", "FieldValueInvalid",
             'Invalid value: "XYZ": spec.signalFingerprint in body should match \'^[a-f0-9]{64}$\''),
            ("spec.severity", "FieldValueTooLong", "Too long: may not be more than 50 bytes"),
            ("spec.firingTime", "FieldValueTypeInvalid",
             'Invalid value: "yesterday": spec.firingTime in body must be of type date-time: "yesterday"'),
            (NIL_CAUSE["field"], NIL_CAUSE["reason"], NIL_CAUSE["message"])]))
        # one error: no "[...]" around it; a minLength error does not block the CEL rules
        st = self.assertStatus(self.req("POST", ai_path("production"), ai_body(severity="")), 422, "Invalid")
        self.assertEqual(st["message"], 'RemediationRequest.kubernaut.ai "rr-ai-1" is invalid: '
                                        'spec.severity: Invalid value: "": spec.severity in body should be at least '
                                        '1 chars long')
        st = self.assertStatus(self.req("POST", ai_path("production"), ai_body(targetResource=None)), 422, "Invalid")
        self.assertEqual(causes(st), sorted([("spec.targetResource", "FieldValueRequired", "Required value"),
                                             (NIL_CAUSE["field"], NIL_CAUSE["reason"], NIL_CAUSE["message"])]))

    def test_unknown_fields_pruned_or_strict(self):
        b = ai_body(priority="P0", environment="production")
        r = self.req("POST", ai_path("production"), b)
        self.assertEqual(r.status, 201, r)
        self.assertNotIn("priority", r.json["spec"])
        self.assertEqual(sorted(r.headers.headers.get_all("Warning")), ['299 - "unknown field \\"spec.environment\\""',
                                                        '299 - "unknown field \\"spec.priority\\""'])
        r = self.req("POST", ai_path("production") + "?fieldValidation=Strict", ai_body(name="rr-ai-2", priority="P0"))
        self.assertStatus(r, 400, "BadRequest", 'RemediationRequest in version "v1alpha1" cannot be handled as a '
                                                'RemediationRequest: strict decoding error: unknown field '
                                                '"spec.priority"')

    def test_status_subresource_merge_patch_with_resource_version(self):
        o = self.create()
        rv = o["metadata"]["resourceVersion"]
        dedup = {"firstSeenAt": TS, "lastSeenAt": "2025-10-28T19:07:47Z", "occurrenceCount": 3}
        patch = {"metadata": {"resourceVersion": rv}, "status": {"deduplication": dedup}}
        s = self.ok("PATCH", ai_path("production", "rr-ai-1", "status"), patch,
                    content_type="application/merge-patch+json")
        self.assertEqual(s["status"], {"deduplication": dedup})
        self.assertEqual(s["metadata"]["generation"], 1)
        self.assertGreater(int(s["metadata"]["resourceVersion"]), int(rv))
        # the same precondition again is stale: 409 with the real message
        r = self.req("PATCH", ai_path("production", "rr-ai-1", "status"), patch,
                     content_type="application/merge-patch+json")
        self.assertStatus(r, 409, "Conflict", AI_CONFLICT_MSG % "rr-ai-1",
                          {"name": "rr-ai-1", "group": AI_GROUP, "kind": "remediationrequests"})
        # /status ignores spec; the main resource ignores status
        s2 = self.ok("PATCH", ai_path("production", "rr-ai-1", "status"),
                     {"spec": {"signalName": "Other"}, "status": {"overallPhase": "Processing"}},
                     content_type="application/merge-patch+json")
        self.assertEqual((s2["spec"]["signalName"], s2["status"]["overallPhase"]), ("HighMemoryUsage", "Processing"))
        m = self.ok("PATCH", ai_path("production", "rr-ai-1"),
                    {"metadata": {"labels": {"team": "a"}}, "status": {"overallPhase": "Failed"}},
                    content_type="application/merge-patch+json")
        self.assertEqual((m["status"]["overallPhase"], m["metadata"]["generation"]), ("Processing", 1))
        self.assertEqual(self.ok("GET", ai_path("production", "rr-ai-1", "status"))["status"]["deduplication"], dedup)
        # PUT on /status needs the fresh resourceVersion too
        stale = dict(o, status={"overallPhase": "Completed"})
        self.assertStatus(self.req("PUT", ai_path("production", "rr-ai-1", "status"), stale), 409, "Conflict")
        cur = self.ok("GET", ai_path("production", "rr-ai-1"))
        cur["status"]["overallPhase"] = "Completed"
        self.assertEqual(self.ok("PUT", ai_path("production", "rr-ai-1", "status"), cur)["status"]["overallPhase"],
                         "Completed")

    def test_status_validation(self):
        self.create()
        sp = lambda st: self.req("PATCH", ai_path("production", "rr-ai-1", "status"), {"status": st},
                                 content_type="application/merge-patch+json")
        st = self.assertStatus(sp({"overallPhase": "Done"}), 422, "Invalid")
        self.assertEqual([c[:2] for c in causes(st)], [("<nil>", "FieldValueInvalid"),
                                                       ("status.overallPhase", "FieldValueNotSupported")])
        st = self.assertStatus(sp({"completionStatus": {"failurePhase": "Nowhere"}}), 422, "Invalid")
        self.assertEqual([c[:2] for c in causes(st)],          # allOf repeats the enum: one error
                         [("<nil>", "FieldValueInvalid"),
                          ("status.completionStatus.failurePhase", "FieldValueNotSupported")])
        st = self.assertStatus(sp({"timeoutConfig": {"global": "an hour"}}), 422, "Invalid")
        self.assertEqual(causes(st), [(NIL_CAUSE["field"], NIL_CAUSE["reason"], NIL_CAUSE["message"]),
                                      ("status.timeoutConfig.global", "FieldValueTypeInvalid",
                                       'Invalid value: "an hour": status.timeoutConfig.global in body must be of '
                                       'type duration: "an hour"')])
        self.assertEqual(sp({"timeoutConfig": {"global": "1h30m", "analyzing": "10 minutes"}}).status, 200)
        cond = {"type": "Ready", "status": "True", "reason": "Ok", "message": "", "lastTransitionTime": TS}
        st = self.assertStatus(sp({"conditions": [cond, dict(cond, status="False")]}), 422, "Invalid")
        self.assertEqual(causes(st), [("status.conditions[1]", "FieldValueDuplicate",
                                       'Duplicate value: map[string]interface {}{"type":"Ready"}')])
        self.assertEqual(sp({"conditions": [cond]}).status, 200)

    def test_cel_transition_rules(self):
        o = self.create()
        r = self.req("PATCH", ai_path("production", "rr-ai-1"), {"spec": {"signalFingerprint": FP2}},
                     content_type="application/merge-patch+json")
        st = self.assertStatus(r, 422, "Invalid")
        self.assertEqual(st["message"], 'RemediationRequest.kubernaut.ai "rr-ai-1" is invalid: [spec: Invalid value: '
                                        '"object": spec is immutable after creation (ADR-001), spec.signalFingerprint: '
                                        'Invalid value: "string": signalFingerprint is immutable]')
        r = self.req("PATCH", ai_path("production", "rr-ai-1"), {"spec": {"signalName": "Other"}},
                     content_type="application/merge-patch+json")
        self.assertEqual(causes(self.assertStatus(r, 422, "Invalid")),
                         [("spec", "FieldValueInvalid",
                           'Invalid value: "object": spec is immutable after creation (ADR-001)')])
        # metadata and an unchanged spec are fine; the generation stays
        o["metadata"]["labels"] = {"team": "a"}
        u = self.ok("PUT", ai_path("production", "rr-ai-1"), o)
        self.assertEqual((u["metadata"]["labels"], u["metadata"]["generation"]), ({"team": "a"}, 1))
        # status.operatorAudit.preRemediationSpecHash: settable once
        sp = lambda h: self.req("PATCH", ai_path("production", "rr-ai-1", "status"),
                                {"status": {"operatorAudit": {"preRemediationSpecHash": h}}},
                                content_type="application/merge-patch+json")
        self.assertEqual(sp("").status, 200)
        self.assertEqual(sp("abc").status, 200)
        self.assertEqual(sp("abc").status, 200)
        self.assertEqual(causes(self.assertStatus(sp("def"), 422, "Invalid")),
                         [("status.operatorAudit.preRemediationSpecHash", "FieldValueInvalid",
                           'Invalid value: "string": preRemediationSpecHash is immutable once set')])

    def test_table_uses_printer_columns(self):
        self.create(clusterID="hub-1")
        self.ok("PATCH", ai_path("production", "rr-ai-1", "status"),
                {"status": {"overallPhase": "Analyzing", "workflowSelection": {"confidence": "0.97"}}},
                content_type="application/merge-patch+json")
        t = self.ok("GET", ai_path("production"),
                    headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
        cols = t["columnDefinitions"]
        self.assertEqual([c["name"] for c in cols], AI_COLUMNS)
        self.assertEqual(cols[1], {"name": "Phase", "type": "string", "format": "", "priority": 0,
                                   "description": "Custom resource definition column (in JSONPath format): "
                                                  ".status.overallPhase"})
        self.assertEqual([c["priority"] for c in cols], [0] * 8 + [1] * 5)
        cells = t["rows"][0]["cells"]
        self.assertEqual(cells[:7], ["rr-ai-1", "Analyzing", None, "HighMemoryUsage", None, None, "0.97"])
        self.assertRegex(cells[7], r"^\d+s$")
        self.assertEqual(cells[8:], ["hub-1", "prometheus-adapter", "production", None, None])
        self.assertEqual(t["rows"][0]["object"]["metadata"]["name"], "rr-ai-1")

    def test_field_selectors_from_selectable_fields(self):
        self.create(name="a", fp=FP, severity="critical", clusterID="hub-1")
        self.create(name="b", fp=FP2, severity="warning")
        self.create(name="c", ns="default", fp=FP2, severity="warning", signalType="event")
        names = lambda q, ns="production": [i["metadata"]["name"] for i in
                                            self.ok("GET", ai_path(ns) + "?fieldSelector=" + urllib.parse.quote(q))["items"]]
        self.assertEqual(names("spec.signalFingerprint=" + FP), ["a"])
        self.assertEqual(names("spec.signalFingerprint==" + FP2), ["b"])
        self.assertEqual(names("spec.signalFingerprint!=" + FP), ["b"])
        self.assertEqual(names("spec.signalFingerprint=%s,spec.signalType=event" % FP2, None), ["c"])
        self.assertEqual(names("spec.severity=warning", None), ["c", "b"])       # namespace, then name
        self.assertEqual(names("spec.clusterID="), ["b"])                         # absent selects as ""
        self.assertEqual(names("spec.clusterID=hub-1,metadata.name=a"), ["a"])
        self.assertEqual(names("metadata.namespace=default", None), ["c"])
        for bad in ("spec.priority=P0", "spec.targetType=kubernetes", "status.overallPhase=Pending"):
            self.assertStatus(self.req("GET", ai_path("production") + "?fieldSelector=" + bad), 400, "BadRequest",
                              "field label not supported: " + bad.split("=")[0])
        # the old group still only has metadata fields
        self.assertStatus(self.req("GET", rr_path("default") + "?fieldSelector=spec.signalFingerprint%3D" + FP),
                          400, "BadRequest", "field label not supported: spec.signalFingerprint")

    def test_list_resource_version_match_and_options(self):
        o = self.create(name="a")
        rv_a = o["metadata"]["resourceVersion"]
        self.create(name="b")
        self.ok("DELETE", ai_path("production", "a"))
        lst = self.ok("GET", ai_path("production") + "?resourceVersionMatch=Exact&resourceVersion=" + rv_a)
        self.assertEqual(([i["metadata"]["name"] for i in lst["items"]], lst["metadata"]["resourceVersion"]),
                         (["a"], rv_a))
        self.assertEqual([i["metadata"]["name"] for i in self.ok("GET", ai_path("production"))["items"]], ["b"])
        inv = lambda q, field, reason, msg: self.assertEqual(causes(self.assertStatus(
            self.req("GET", ai_path("production") + "?" + q), 422, "Invalid")), [(field, reason, msg)])
        inv("resourceVersionMatch=Exact", "resourceVersionMatch", "FieldValueForbidden",
            "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")
        inv("resourceVersionMatch=Exact&resourceVersion=0", "resourceVersionMatch", "FieldValueForbidden",
            'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
        inv("resourceVersionMatch=Newest&resourceVersion=1", "resourceVersionMatch", "FieldValueNotSupported",
            'Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""')
        inv("sendInitialEvents=true", "sendInitialEvents", "FieldValueForbidden",
            "Forbidden: sendInitialEvents is forbidden for list")
        st = self.assertStatus(self.req("GET", ai_path("production") + "?resourceVersionMatch=Exact"), 422, "Invalid")
        self.assertEqual(st["message"], 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                                        'resourceVersionMatch is forbidden unless resourceVersion is provided')
        self.assertEqual(st["details"], {"group": "meta.k8s.io", "kind": "ListOptions", "causes": st["details"]["causes"]})
        cur = int(self.ok("GET", ai_path("production"))["metadata"]["resourceVersion"])
        r = self.req("GET", ai_path("production") + "?resourceVersionMatch=Exact&resourceVersion=%d" % (cur + 50))
        self.assertStatus(r, 504, "Timeout", "Timeout: Too large resource version: %d, current: %d" % (cur + 50, cur),
                          {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                           "retryAfterSeconds": 1})
        # after a compaction an old revision is gone: 410
        self.ok("POST", "/_test/watch/expire", code=200, token=None)
        self.assertStatus(self.req("GET", ai_path("production") + "?resourceVersionMatch=Exact&resourceVersion=" + rv_a),
                          410, "Expired", "The resourceVersion for the provided list is too old.")
        # NotOlderThan an old revision is the current state
        self.assertEqual(len(self.ok("GET", ai_path("production") + "?resourceVersion=" + rv_a)["items"]), 1)

    def test_continue_is_pinned_and_expires(self):
        for n in ("a", "b", "c"):
            self.create(name=n)
        p1 = self.ok("GET", ai_path("production") + "?limit=1")
        self.assertEqual((len(p1["items"]), p1["metadata"]["remainingItemCount"]), (1, 2))
        self.ok("DELETE", ai_path("production", "b"))
        self.create(name="bb")
        p2 = self.ok("GET", ai_path("production") + "?limit=5&continue=" + p1["metadata"]["continue"])
        # the first page's snapshot: b still there, bb not yet
        self.assertEqual([i["metadata"]["name"] for i in p2["items"]], ["b", "c"])
        self.assertEqual(p2["metadata"]["resourceVersion"], p1["metadata"]["resourceVersion"])
        self.ok("POST", "/_test/watch/expire", code=200, token=None)
        r = self.req("GET", ai_path("production") + "?limit=5&continue=" + p1["metadata"]["continue"])
        self.assertEqual(r.status, 410, r)
        st = r.json
        self.assertEqual((st["kind"], st["status"], st["reason"], st["code"], list(st["metadata"])),
                         ("Status", "Failure", "Expired", 410, ["continue"]))
        self.assertTrue(st["message"].startswith("The provided continue parameter is too old to display a consistent "
                                                 "list result. You can start a new list without the continue "
                                                 "parameter, or use the continue token in this response"))
        p3 = self.ok("GET", ai_path("production") + "?limit=5&continue=" + st["metadata"]["continue"])
        self.assertEqual([i["metadata"]["name"] for i in p3["items"]], ["bb", "c"])       # latest, after "a"

    def test_disabled_group_is_not_served(self):
        srv = ServerProcess(tempfile.mkdtemp(prefix="k8s-api-server-test-", dir=self.tmp), plain=True,
                            extra_args=["--disable-group", GROUP])
        srv.start()
        self.addCleanup(srv.stop)
        self.assertEqual(srv.request("GET", "/apis/%s/v1alpha1" % GROUP).status, 404)
        self.assertEqual(srv.request("GET", "/apis/%s/v1alpha1/namespaces/default/remediationrequests" % GROUP).status,
                         404)
        self.assertNotIn(GROUP, [g["name"] for g in srv.request("GET", "/apis").json["groups"]])
        self.assertEqual(srv.request("GET", ai_path("default")).status, 200)


class WatchTests(ServerTestCase):
    server_args = ("--watch-bookmark-interval", "0.3")

    def setUp(self):
        super().setUp()
        self.make_ns("production")
        self.streams = []

    def tearDown(self):
        for w in self.streams:
            w.close()

    def watch(self, query, ns="production", **kw):
        w = WatchStream(self.srv, ai_path(ns) + "?" + query, **kw)
        self.streams.append(w)
        self.assertEqual(w.status, 200)
        return w

    def create(self, name="rr-ai-1", **kw):
        return self.ok("POST", ai_path("production"), ai_body(name=name, **kw))

    def wait_open(self, n):
        for _ in range(200):
            if len(self.ok("GET", "/_test/watch", token=None)["items"]) == n:
                return
            time.sleep(0.02)
        self.fail("expected %d open watches" % n)

    def current_rv(self):
        return self.ok("GET", ai_path("production"))["metadata"]["resourceVersion"]

    def test_events_from_resource_version(self):
        rv = self.current_rv()
        w = self.watch("watch=true&timeoutSeconds=10&resourceVersion=" + rv)
        o = self.create()
        e = w.event()
        self.assertEqual((e["type"], e["object"]), ("ADDED", o))
        s = self.ok("PATCH", ai_path("production", "rr-ai-1", "status"),
                    {"metadata": {"resourceVersion": o["metadata"]["resourceVersion"]},
                     "status": {"deduplication": {"occurrenceCount": 2}}},
                    content_type="application/merge-patch+json")
        e = w.event()
        self.assertEqual((e["type"], e["object"]), ("MODIFIED", s))
        self.ok("DELETE", ai_path("production", "rr-ai-1"))
        e = w.event()
        self.assertEqual(e["type"], "DELETED")
        self.assertGreater(int(e["object"]["metadata"]["resourceVersion"]), int(s["metadata"]["resourceVersion"]))
        self.assertEqual(w.next(0.2), ("timeout", None))      # no bookmarks unless asked for

    def test_initial_state_and_timeout(self):
        self.create()
        t0 = time.monotonic()
        w = self.watch("watch=1&timeoutSeconds=1")
        self.assertEqual(w.event()["type"], "ADDED")
        self.assertEqual(w.next(3), ("end", None))
        self.assertLess(time.monotonic() - t0, 2.5)

    def test_bookmarks(self):
        o = self.create()
        w = self.watch("watch=true&allowWatchBookmarks=true&timeoutSeconds=30&resourceVersion=" +
                       o["metadata"]["resourceVersion"])
        t0 = time.monotonic()
        e = w.event(skip_bookmarks=False, timeout=2)
        self.assertEqual(e, {"type": "BOOKMARK", "object": {"kind": "RemediationRequest",
                                                            "apiVersion": "kubernaut.ai/v1alpha1",
                                                            "metadata": {"resourceVersion": self.current_rv()}}})
        self.assertLess(time.monotonic() - t0, 1.0)
        # writes to other resources move the bookmark's revision on
        self.ok("POST", "/api/v1/namespaces/production/configmaps",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}})
        rv = self.current_rv()
        for _ in range(10):
            e = w.event(skip_bookmarks=False, timeout=2)
            self.assertEqual(e["type"], "BOOKMARK")
            if e["object"]["metadata"]["resourceVersion"] == rv:
                break
        else:
            self.fail("no bookmark at %s" % rv)
        # a watch that times out within 2 s gets none (bookmarks stop 2 s before the deadline)
        w2 = self.watch("watch=true&allowWatchBookmarks=true&timeoutSeconds=1")
        self.assertEqual(w2.event()["type"], "ADDED")
        self.assertEqual(w2.next(3), ("end", None))

    def test_watch_list_initial_events_end_bookmark(self):
        self.create()
        w = self.watch("watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
        self.assertEqual(w.event()["object"]["metadata"]["name"], "rr-ai-1")
        b = w.event(skip_bookmarks=False)
        self.assertEqual(b["object"]["metadata"], {"resourceVersion": self.current_rv(),
                                                   "annotations": {"k8s.io/initial-events-end": "true"}})
        r = self.req("GET", ai_path("production") + "?watch=true&sendInitialEvents=true")
        self.assertEqual(causes(self.assertStatus(r, 422, "Invalid")),
                         [("resourceVersionMatch", "FieldValueForbidden",
                           "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")])

    def test_too_old_resource_version_is_an_error_event(self):
        rv = self.create()["metadata"]["resourceVersion"]
        self.create(name="rr-ai-2")
        exp = self.ok("POST", "/_test/watch/expire", code=200, token=None)
        w = self.watch("watch=true&resourceVersion=" + rv)
        self.assertEqual(w.event(), {"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "too old resource version: %s (%s)" % (rv, exp["resourceVersion"]),
            "reason": "Expired", "code": 410}})
        self.assertEqual(w.next(), ("end", None))
        # from the current revision it works
        w2 = self.watch("watch=true&timeoutSeconds=5&resourceVersion=" + self.current_rv())
        self.create(name="rr-ai-3")
        self.assertEqual(w2.event()["object"]["metadata"]["name"], "rr-ai-3")

    def test_expire_open_watches(self):
        w = self.watch("watch=true&timeoutSeconds=30&resourceVersion=" + self.current_rv())
        self.wait_open(1)
        self.assertEqual(self.ok("POST", "/_test/watch/expire", code=200, token=None)["expired"], 1)
        e = w.event()
        self.assertEqual((e["type"], e["object"]["code"], e["object"]["reason"], e["object"]["message"]),
                         ("ERROR", 410, "Expired", "The resourceVersion for the provided watch is too old."))
        self.assertEqual(w.next(), ("end", None))
        self.wait_open(0)

    def test_drop_open_watches(self):
        w = self.watch("watch=true&timeoutSeconds=30&resourceVersion=" + self.current_rv())
        self.wait_open(1)
        self.assertEqual(self.ok("POST", "/_test/watch/drop", code=200, token=None), {"dropped": 1})
        kind, err = w.next()
        self.assertEqual(kind, "error")                  # no final chunk: the client sees a broken stream
        self.assertIsInstance(err, (http.client.IncompleteRead, ConnectionError, OSError))
        self.wait_open(0)

    def test_hang_open_watches(self):
        w = self.watch("watch=true&allowWatchBookmarks=true&timeoutSeconds=30&resourceVersion=" + self.current_rv())
        self.wait_open(1)
        self.assertEqual(self.ok("POST", "/_test/watch/hang", {"seconds": 1.2}, code=200, token=None), {"hung": 1, "seconds": 1.2})
        t0 = time.monotonic()
        self.create()
        self.assertEqual(w.next(0.7), ("timeout", None))        # neither the event nor bookmarks
        w2 = self.watch("watch=true&timeoutSeconds=30&resourceVersion=0")        # new watches are not hung
        self.assertEqual(w2.event(timeout=1)["type"], "ADDED")
        e = w.event(timeout=3)
        self.assertEqual((e["type"], e["object"]["metadata"]["name"]), ("ADDED", "rr-ai-1"))
        self.assertGreater(time.monotonic() - t0, 1.0)
        self.assertEqual(self.req("POST", "/_test/watch/hang", {"seconds": 0}, token=None).status, 400)

    def test_selectors_see_objects_enter_and_leave(self):
        w = self.watch("watch=true&timeoutSeconds=30&labelSelector=team%3Da&resourceVersion=" + self.current_rv())
        self.create(labels={"team": "a"})
        self.create(name="rr-ai-2", labels={"team": "b"})
        self.assertEqual(w.event()["type"], "ADDED")
        p = self.ok("PATCH", ai_path("production", "rr-ai-1"), {"metadata": {"labels": {"team": "b"}}},
                    content_type="application/merge-patch+json")
        e = w.event()
        self.assertEqual((e["type"], e["object"]["metadata"]["labels"], e["object"]["metadata"]["resourceVersion"]),
                         ("DELETED", {"team": "a"}, p["metadata"]["resourceVersion"]))
        self.ok("PATCH", ai_path("production", "rr-ai-2"), {"metadata": {"labels": {"team": "a"}}},
                content_type="application/merge-patch+json")
        e = w.event()
        self.assertEqual((e["type"], e["object"]["metadata"]["name"]), ("ADDED", "rr-ai-2"))

    def test_field_selector_watch(self):
        w = self.watch("watch=true&timeoutSeconds=30&fieldSelector=spec.signalFingerprint%3D" + FP2 +
                       "&resourceVersion=" + self.current_rv())
        self.create(name="x", fp=FP)
        self.create(name="y", fp=FP2)
        self.assertEqual(w.event()["object"]["metadata"]["name"], "y")
        self.assertEqual(w.next(0.3), ("timeout", None))
        r = self.req("GET", ai_path("production") + "?watch=true&fieldSelector=spec.priority%3DP0")
        self.assertStatus(r, 400, "BadRequest", "field label not supported: spec.priority")

    def test_named_get_with_watch_parameter_is_a_get(self):
        o = self.create()
        self.assertEqual(self.ok("GET", ai_path("production", "rr-ai-1") + "?watch=true"), o)
        w = WatchStream(self.srv, AI_BASE + "/watch/namespaces/production/remediationrequests/rr-ai-1?timeoutSeconds=1")
        self.streams.append(w)
        self.assertEqual(w.event()["object"], o)

    def test_request_log_counts_verbs(self):
        rv = self.current_rv()
        self.ok("DELETE", "/_test/requests", token=None)
        w = self.watch("watch=true&allowWatchBookmarks=true&timeoutSeconds=30&resourceVersion=" + rv)
        o = self.create()
        w.event()
        self.ok("GET", ai_path("production", "rr-ai-1"))
        self.ok("GET", ai_path("production") + "?fieldSelector=spec.signalFingerprint%3D" + FP)
        self.ok("PATCH", ai_path("production", "rr-ai-1", "status"),
                {"metadata": {"resourceVersion": o["metadata"]["resourceVersion"]}, "status": {"overallPhase": "Pending"}},
                content_type="application/merge-patch+json")
        self.ok("PUT", ai_path("production", "rr-ai-1"), self.ok("GET", ai_path("production", "rr-ai-1")))
        self.ok("DELETE", ai_path("production", "rr-ai-1"))
        self.ok("DELETE", ai_path("production"))
        self.ok("GET", "/apis")
        time.sleep(0.7)                                          # bookmarks flow; the watch is logged once
        items = self.ok("GET", "/_test/requests", token=None)["items"]
        got = [(i["method"], i["verb"], i["resource"], i["subresource"], i["status"]) for i in items]
        self.assertEqual(got, [
            ("GET", "watch", "remediationrequests", None, 200), ("POST", "create", "remediationrequests", None, 201),
            ("GET", "get", "remediationrequests", None, 200), ("GET", "list", "remediationrequests", None, 200),
            ("PATCH", "patch", "remediationrequests", "status", 200), ("GET", "get", "remediationrequests", None, 200),
            ("PUT", "update", "remediationrequests", None, 200), ("DELETE", "delete", "remediationrequests", None, 200),
            ("DELETE", "deletecollection", "remediationrequests", None, 200), ("GET", "get", None, None, 200)])
        self.assertEqual(items[0]["query"], "watch=true&allowWatchBookmarks=true&timeoutSeconds=30&resourceVersion=" + rv)
        self.assertEqual((items[0]["apiGroup"], items[0]["namespace"], items[1]["name"]),
                         (AI_GROUP, "production", None))
        self.assertEqual(items[2]["name"], "rr-ai-1")
        verbs = {}
        for i in items:
            verbs[i["verb"]] = verbs.get(i["verb"], 0) + 1
        self.assertEqual(verbs, {"watch": 1, "create": 1, "get": 3, "list": 1, "patch": 1, "update": 1, "delete": 1,
                                 "deletecollection": 1})


class MiniYamlTests(unittest.TestCase):
    def test_matches_pyyaml_on_the_crds(self):
        try:
            import yaml
        except ImportError:
            if SKIP_REAL_CLIENTS:
                self.skipTest("python3-yaml missing")
            raise
        sys.path.insert(0, HERE)
        import mini_yaml
        root = os.path.normpath(os.path.join(HERE, "..", ".."))
        paths = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, "deploy")) for f in fs
                 if f.endswith(".yaml")]
        self.assertIn(os.path.join(root, "deploy", "crd", "kubernaut.ai", "remediationrequests.yaml"), paths)
        for p in paths:
            with open(p, encoding="utf-8") as f:
                text = f.read()
            self.assertEqual([d for d in mini_yaml.load_all(text) if d is not None],
                             [d for d in yaml.safe_load_all(text) if d is not None], p)
        for text in ['a: "x\\ty \\U0001F3DB\n  folded"', "a: 'it''s'\nb: |-\n  l1\n\n  l2\nc: >\n  f1\n  f2\n\n  f3\n",
                     "- a: 1\n  b: [1, {c: d}, 'e']\n- - x\n  - y\n", "k:\n- 1 # c\n- {}\nl: x\n",
                     "a: yes\nb: 'yes'\nc: 1.5\nd: ~\n"]:
            self.assertEqual(mini_yaml.load(text), yaml.safe_load(text), text)


@unittest.skipIf(SKIP_REAL_CLIENTS, "K8S_API_SERVER_SKIP_REAL_CLIENTS=1")
class KubectlKubernautAiTests(ServerTestCase):
    # a cluster with only upstream's CRD: "rr" is unambiguous
    server_args = ("--disable-group", GROUP)
    kubectl = KubectlTests.kubectl

    @classmethod
    def setUpClass(cls):
        if not os.access(KUBECTL, os.X_OK):
            raise RuntimeError("kubectl not found at %s (set K8S_API_SERVER_SKIP_REAL_CLIENTS=1 to skip)" % KUBECTL)
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.make_ns("production")
        self.ok("POST", ai_path("production"), ai_body(name="rr-a", clusterID="hub-1"))
        self.ok("POST", ai_path("production"), ai_body(name="rr-b", fp=FP2, severity="warning"))
        self.ok("PATCH", ai_path("production", "rr-a", "status"), {"status": {"overallPhase": "Executing"}},
                content_type="application/merge-patch+json")

    def test_get_prints_printer_columns(self):
        rc, out, err = self.kubectl("get", "rr", "-A")
        self.assertEqual((rc, err), (0, ""))
        rows = kubectl_table(out.splitlines())
        self.assertEqual(list(rows[0]), ["NAMESPACE", "NAME", "PHASE", "OUTCOME", "ALERT", "RCA TARGET", "WORKFLOW",
                                         "CONFIDENCE", "AGE"])
        self.assertRegex(rows[0].pop("AGE"), r"^\d+s$")
        self.assertEqual(rows[0], {"NAMESPACE": "production", "NAME": "rr-a", "PHASE": "Executing", "OUTCOME": "",
                                   "ALERT": "HighMemoryUsage", "RCA TARGET": "", "WORKFLOW": "", "CONFIDENCE": ""})
        self.assertEqual((rows[1]["NAME"], rows[1]["PHASE"], rows[1]["ALERT"]), ("rr-b", "", "HighMemoryUsage"))
        rc, out, err = self.kubectl("get", "remediationrequests.kubernaut.ai", "-n", "production", "-o", "wide")
        self.assertEqual(rc, 0, err)
        rows = kubectl_table(out.splitlines())
        self.assertEqual(list(rows[0])[-5:], ["CLUSTER", "SOURCE", "SIGNAL NS", "SIGNAL TARGET", "RCA NS"])
        self.assertEqual((rows[0]["CLUSTER"], rows[0]["SOURCE"], rows[0]["SIGNAL NS"], rows[1]["CLUSTER"]),
                         ("hub-1", "prometheus-adapter", "production", ""))

    def test_field_selector(self):
        rc, out, err = self.kubectl("get", "rr", "-n", "production", "--field-selector",
                                    "spec.signalFingerprint=" + FP2, "-o", "name")
        self.assertEqual((rc, out, err), (0, "remediationrequest.kubernaut.ai/rr-b\n", ""))
        rc, out, err = self.kubectl("get", "rr", "-A", "--field-selector", "spec.severity!=warning", "-o", "name")
        self.assertEqual((rc, out), (0, "remediationrequest.kubernaut.ai/rr-a\n"))
        rc, out, err = self.kubectl("get", "rr", "-n", "production", "--field-selector", "spec.priority=P0")
        self.assertEqual(rc, 1)
        self.assertTrue(err.startswith("Error from server (BadRequest): "), err)
        self.assertTrue(err.rstrip().endswith("field label not supported: spec.priority"), err)

    def test_patch_status_subresource(self):
        rc, out, err = self.kubectl("patch", "rr", "rr-b", "-n", "production", "--subresource=status", "--type=merge",
                                    "-p", '{"status":{"deduplication":{"occurrenceCount":4}}}')
        self.assertEqual((rc, out.strip(), err), (0, "remediationrequest.kubernaut.ai/rr-b patched", ""))
        o = self.ok("GET", ai_path("production", "rr-b"))
        self.assertEqual((o["status"], o["metadata"]["generation"]), ({"deduplication": {"occurrenceCount": 4}}, 1))
        rc, out, err = self.kubectl("patch", "rr", "rr-b", "-n", "production", "--type=merge",
                                    "-p", '{"spec":{"signalName":"Other"}}')
        self.assertEqual(rc, 1)
        self.assertIn('The RemediationRequest "rr-b" is invalid: spec: Invalid value: "object": spec is immutable '
                      'after creation (ADR-001)', err)

    def test_watch(self):
        import queue
        env = dict(os.environ, HOME=self.tmp, KUBECONFIG=self.srv.kubeconfig)
        p = subprocess.Popen([KUBECTL, "--kubeconfig", self.srv.kubeconfig, "--cache-dir",
                              os.path.join(self.tmp, "kubectl-cache"), "get", "remediationrequests.kubernaut.ai",
                              "-n", "production", "-w", "--request-timeout=20s"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        _RUNNING.append(p)
        self.addCleanup(p.stderr.close)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.wait, 10)
        self.addCleanup(p.kill)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(ln) for ln in p.stdout], daemon=True).start()

        def line():
            try:
                return lines.get(timeout=10).rstrip("\n")
            except queue.Empty:
                self.fail("kubectl printed nothing for 10 s")
        head = line()
        self.assertEqual(head.split()[:3], ["NAME", "PHASE", "OUTCOME"])
        row = lambda: kubectl_table([head, line()])[0]
        r = row()
        self.assertEqual((r["NAME"], r["PHASE"], r["ALERT"]), ("rr-a", "Executing", "HighMemoryUsage"))
        r = row()
        self.assertEqual((r["NAME"], r["PHASE"]), ("rr-b", ""))
        for _ in range(100):                     # kubectl's watch request is open
            if self.ok("GET", "/_test/watch", token=None)["items"]:
                break
            time.sleep(0.05)
        self.ok("PATCH", ai_path("production", "rr-b", "status"), {"status": {"overallPhase": "Completed"}},
                content_type="application/merge-patch+json")
        r = row()
        self.assertEqual((r["NAME"], r["PHASE"]), ("rr-b", "Completed"))
        self.ok("POST", ai_path("production"), ai_body(name="rr-c"))
        r = row()
        self.assertEqual((r["NAME"], r["PHASE"], r["ALERT"]), ("rr-c", "", "HighMemoryUsage"))
        watches = [i for i in self.ok("GET", "/_test/requests", token=None)["items"] if i["verb"] == "watch"]
        self.assertEqual(len(watches), 1)
        self.assertIn("watch=true", watches[0]["query"])


@unittest.skipIf(SKIP_REAL_CLIENTS, "K8S_API_SERVER_SKIP_REAL_CLIENTS=1")
class PythonKubernetesWatchTests(ServerTestCase):
    server_args = ("--watch-bookmark-interval", "0.3")
    client = PythonKubernetesTests.client

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            import kubernetes  # noqa: F401
        except ImportError as e:
            raise RuntimeError("Debian's python3-kubernetes is needed (apt-get install python3-kubernetes): %s" % e)

    def setUp(self):
        super().setUp()
        self.make_ns("production")

    def co(self):
        client, api = self.client()
        return client, client.CustomObjectsApi(api)

    def run_bounded(self, fn, timeout=15):
        """Runs fn in a thread; returns its result or raises its exception; fails after timeout."""
        out = {}

        def run():
            try:
                out["value"] = fn()
            except BaseException as e:      # noqa: BLE001 - re-raised below
                out["error"] = e
        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            self.fail("still running after %s s" % timeout)
        if "error" in out:
            raise out["error"]
        return out.get("value")

    def test_watch_stream_added_modified_and_bookmarks(self):
        from kubernetes import watch
        client, co = self.co()
        lst = co.list_namespaced_custom_object(AI_GROUP, "v1alpha1", "production", "remediationrequests",
                                               field_selector="spec.signalFingerprint=" + FP)
        self.assertEqual(lst["items"], [])
        w = watch.Watch()
        events = []

        def consume():
            for e in w.stream(co.list_namespaced_custom_object, AI_GROUP, "v1alpha1", "production",
                              "remediationrequests", resource_version=lst["metadata"]["resourceVersion"],
                              field_selector="spec.signalFingerprint=" + FP, allow_watch_bookmarks=True,
                              timeout_seconds=10):
                events.append((e["type"], e["raw_object"]))
                if [t for t, _ in events if t != "BOOKMARK"] == ["ADDED", "MODIFIED"] and events[-1][0] == "BOOKMARK":
                    w.stop()
        t = threading.Thread(target=consume, daemon=True)
        t.start()
        for _ in range(100):
            if self.ok("GET", "/_test/watch", token=None)["items"]:
                break
            time.sleep(0.05)
        o = co.create_namespaced_custom_object(AI_GROUP, "v1alpha1", "production", "remediationrequests", ai_body())
        co.create_namespaced_custom_object(AI_GROUP, "v1alpha1", "production", "remediationrequests",
                                           ai_body(name="other", fp=FP2))
        s = co.patch_namespaced_custom_object_status(
            AI_GROUP, "v1alpha1", "production", "remediationrequests", "rr-ai-1",
            {"metadata": {"resourceVersion": o["metadata"]["resourceVersion"]},
             "status": {"deduplication": {"occurrenceCount": 2, "lastSeenAt": TS}}})
        t.join(10)
        self.assertFalse(t.is_alive())
        typed = [(t, obj) for t, obj in events if t != "BOOKMARK"]
        self.assertEqual(typed, [("ADDED", o), ("MODIFIED", s)])
        bm = [obj for t, obj in events if t == "BOOKMARK"]
        self.assertEqual(bm[-1]["kind"], "RemediationRequest")
        self.assertGreaterEqual(int(bm[-1]["metadata"]["resourceVersion"]), int(s["metadata"]["resourceVersion"]))
        self.assertEqual(w.resource_version, s["metadata"]["resourceVersion"])
        # a stale precondition on /status: 409
        with self.assertRaises(client.exceptions.ApiException) as cm:
            co.patch_namespaced_custom_object_status(AI_GROUP, "v1alpha1", "production", "remediationrequests",
                                                     "rr-ai-1", {"metadata": {"resourceVersion": o["metadata"]
                                                                              ["resourceVersion"]},
                                                                 "status": {"overallPhase": "Pending"}})
        self.assertEqual(cm.exception.status, 409)

    def test_expired_watch_raises_410(self):
        from kubernetes import watch
        client, co = self.co()
        o = co.create_namespaced_custom_object(AI_GROUP, "v1alpha1", "production", "remediationrequests", ai_body())
        co.patch_namespaced_custom_object_status(AI_GROUP, "v1alpha1", "production", "remediationrequests", "rr-ai-1",
                                                 {"status": {"overallPhase": "Pending"}})
        self.ok("POST", "/_test/watch/expire", code=200, token=None)
        rv = o["metadata"]["resourceVersion"]          # older than the compacted history

        def stream(**kw):
            return list(watch.Watch().stream(co.list_namespaced_custom_object, AI_GROUP, "v1alpha1", "production",
                                             "remediationrequests", resource_version=rv, **kw))
        for kw in ({"timeout_seconds": 5}, {}):             # without a timeout the client retries once first
            with self.assertRaises(client.exceptions.ApiException) as cm:
                self.run_bounded(lambda: stream(**kw))
            self.assertEqual(cm.exception.status, 410)
            self.assertTrue(cm.exception.reason.startswith("Expired: too old resource version: %s (" % rv),
                            cm.exception.reason)
        # re-list and watch from there: events again
        lst = co.list_namespaced_custom_object(AI_GROUP, "v1alpha1", "production", "remediationrequests")
        self.assertEqual(len(lst["items"]), 1)
        w = watch.Watch()

        def first():
            for e in w.stream(co.list_namespaced_custom_object, AI_GROUP, "v1alpha1", "production",
                              "remediationrequests", resource_version=lst["metadata"]["resourceVersion"],
                              timeout_seconds=5):
                w.stop()
                return e["type"], e["raw_object"]["metadata"]["name"]
        t = threading.Thread(target=lambda: self.__dict__.update(result=first()), daemon=True)
        t.start()
        for _ in range(100):
            if self.ok("GET", "/_test/watch", token=None)["items"]:
                break
            time.sleep(0.05)
        co.create_namespaced_custom_object(AI_GROUP, "v1alpha1", "production", "remediationrequests",
                                           ai_body(name="rr-ai-2"))
        t.join(10)
        self.assertEqual(self.__dict__.get("result"), ("ADDED", "rr-ai-2"))

    def test_open_watch_expired_by_the_server(self):
        from kubernetes import watch
        client, co = self.co()
        lst = co.list_namespaced_custom_object(AI_GROUP, "v1alpha1", "production", "remediationrequests")

        def stream():
            return list(watch.Watch().stream(co.list_namespaced_custom_object, AI_GROUP, "v1alpha1", "production",
                                             "remediationrequests", timeout_seconds=20,
                                             resource_version=lst["metadata"]["resourceVersion"]))
        out = {}
        t = threading.Thread(target=lambda: out.update(r=self._catch(stream)), daemon=True)
        t.start()
        for _ in range(100):
            if self.ok("GET", "/_test/watch", token=None)["items"]:
                break
            time.sleep(0.05)
        self.ok("POST", "/_test/watch/expire", code=200, token=None)
        t.join(10)
        self.assertFalse(t.is_alive())
        err = out["r"]
        self.assertIsInstance(err, client.exceptions.ApiException)
        self.assertEqual((err.status, err.reason), (410, "Expired: The resourceVersion for the provided watch is "
                                                         "too old."))

    @staticmethod
    def _catch(fn):
        try:
            return fn()
        except Exception as e:       # noqa: BLE001 - inspected by the test
            return e


def main():
    prog = unittest.main(module=__name__, exit=False, verbosity=2, argv=[sys.argv[0]] + sys.argv[1:])
    r = prog.result
    failed = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
    skipped = len(r.skipped)
    passed = r.testsRun - failed - skipped
    print("k8s_api_server: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(0 if r.wasSuccessful() and r.testsRun > 0 else 1)


if __name__ == "__main__":
    main()
