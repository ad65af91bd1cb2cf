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
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="k8s-api-server-test-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.srv = ServerProcess(cls.tmp, plain=cls.plain, tokens=cls.tokens)
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
