"""state.url kubernetes with the kubernaut.ai contract, against the API test server: the
RRs are the dedup state (list+watch cache), the create is the lock, duplicates are counted
in status.deduplication; several replicas; the RR lifecycle (terminal phase → a new RR,
ManualReviewRequired → suppressed); the owner chain of every workload kind; scope; a
dropped watch, a 410, a deleted RR, a 409 storm, an API server down. Loopback only;
every loop bounded."""
import concurrent.futures
import hashlib
import json
import os
import time
import unittest
import urllib.request

from harness import Gateway, pod_alert, wait_until, webhook
from k8s_harness import ApiServer

KAI = "/apis/kubernaut.ai/v1alpha1"
RRS = KAI + "/namespaces/kubernaut-system/remediationrequests"


def fp_of(ns, kind, name):
    return hashlib.sha256(("%s:%s:%s" % (ns, kind, name)).encode()).hexdigest()


def meta(name, ns, owner=None, labels=None):
    m = {"name": name, "namespace": ns, "labels": labels or {}}
    if owner:
        m["ownerReferences"] = [{"apiVersion": owner[0], "kind": owner[1], "name": owner[2],
                                 "uid": "uid-" + owner[2], "controller": True}]
    return m


POD_SPEC = {"containers": [{"name": "c", "image": "x"}]}
TEMPLATE = {"selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": POD_SPEC}}


class KubeState(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = ApiServer()

    @classmethod
    def tearDownClass(cls):
        cls.api.stop()

    def setUp(self):
        self.api.reset()
        self.api.namespace("kubernaut-system")
        self.api.namespace("production", {"kubernaut.ai/managed": "true"})
        self.api.namespace("sandbox")

    # ---- helpers ---------------------------------------------------------------------------

    def create(self, path, obj):
        st, body = self.api.call("POST", path, obj)
        self.assertEqual(st, 201, body)
        return body

    def deployment_pod(self, dep, pod, ns="production"):
        """Deployment dep ← ReplicaSet dep-rs ← Pod pod."""
        st, _ = self.api.call("GET", "/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, dep))
        if st == 404:
            self.create("/apis/apps/v1/namespaces/%s/deployments" % ns,
                        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(dep, ns), "spec": TEMPLATE})
            self.create("/apis/apps/v1/namespaces/%s/replicasets" % ns,
                        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                         "metadata": meta(dep + "-rs", ns, ("apps/v1", "Deployment", dep)), "spec": TEMPLATE})
        self.create("/api/v1/namespaces/%s/pods" % ns,
                    {"apiVersion": "v1", "kind": "Pod",
                     "metadata": meta(pod, ns, ("apps/v1", "ReplicaSet", dep + "-rs")), "spec": POD_SPEC})

    def gateway(self, workers=2, config="", **kw):
        cfg = "sink:\n  rr_namespace: kubernaut-system\n" + config
        g = Gateway(cfg, args=["--sink", "kubernetes", "--kubeconfig", self.api.kubeconfig, "--state", "kubernetes",
                               "--rr-api", "kubernaut.ai/v1alpha1"], workers=workers, **kw)
        self.addCleanup(g.stop)
        return g

    def rrs(self):
        st, body = self.api.call("GET", RRS)
        self.assertEqual(st, 200, body)
        return body["items"]

    def set_status(self, name, status):
        st, body = self.api.call("PATCH", RRS + "/" + name + "/status", {"status": status},
                                 ctype="application/merge-patch+json")
        self.assertEqual(st, 200, body)

    @staticmethod
    def count(rr):
        return ((rr.get("status") or {}).get("deduplication") or {}).get("occurrenceCount", 1)

    def fire(self, g, pod, name="KubePodCrashLooping", ns="production"):
        # under the many-replica loads a write can wait its turn behind conflicts and the
        # client-side rate limit for seconds (never past server.processing_timeout, 15 s)
        c = g.conn(timeout=30)
        try:
            return g.alert(webhook([pod_alert(name, pod, ns=ns)]), conn=c)
        finally:
            c.close()

    # ---- tests -----------------------------------------------------------------------------

    def test_owner_fingerprint_and_status_counts(self):
        self.deployment_pod("payment-api", "payment-api-rs-x1")
        self.deployment_pod("payment-api", "payment-api-rs-x2")
        g = self.gateway()
        r = self.fire(g, "payment-api-rs-x1")
        self.assertEqual(r.status, 201, r.body)
        res = json.loads(r.body)["results"][0]
        fp = fp_of("production", "Deployment", "payment-api")
        self.assertEqual(res["fingerprint"], fp)
        # another pod of the same Deployment is the same signal
        r = self.fire(g, "payment-api-rs-x2")
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(json.loads(r.body)["results"][0]["count"], 2)
        rrs = self.rrs()
        self.assertEqual(len(rrs), 1)
        rr = rrs[0]
        self.assertEqual(rr["spec"]["targetResource"], {"kind": "Deployment", "name": "payment-api",
                                                        "namespace": "production"})
        self.assertEqual(rr["spec"]["signalFingerprint"], fp)
        self.assertEqual(rr["metadata"]["generation"], 1, "the spec was written after create")
        self.assertEqual(rr["status"]["deduplication"]["occurrenceCount"], 2)
        # every count write went through /status with a resourceVersion precondition
        writes = [q for q in self.api.requests() if q["method"] in ("PUT", "PATCH") and "remediationrequests" in q["path"]]
        self.assertTrue(writes)
        self.assertTrue(all(q["path"].endswith("/status") for q in writes), writes)

    def test_three_replicas_thousand_requests_ten_fingerprints(self):
        pods = []
        for k in range(10):
            self.deployment_pod("svc-%d" % k, "svc-%d-pod" % k)
            pods.append("svc-%d-pod" % k)
        gws = [self.gateway() for _ in range(3)]

        def send(i):
            g = gws[i % 3]
            r = self.fire(g, pods[i % 10])
            return r.status, json.loads(r.body)

        with concurrent.futures.ThreadPoolExecutor(48) as ex:
            out = list(ex.map(send, range(1000)))
        codes = [c for c, _ in out]
        self.assertEqual(sorted(set(codes)) and [c for c in codes if c not in (201, 202)], [], codes)
        self.assertEqual(codes.count(201), 10)
        rrs = self.rrs()
        self.assertEqual(len(rrs), 10, [r["metadata"]["name"] for r in rrs])
        self.assertEqual(len({r["spec"]["signalFingerprint"] for r in rrs}), 10)
        self.assertEqual(sum(self.count(r) for r in rrs), 1000)
        # each answer's count is the count its write made durable: no two alike per RR
        per_rr = {}
        for _, body in out:
            res = body["results"][0]
            per_rr.setdefault(res["remediationRequest"], []).append(res["count"])
        for ref, counts in per_rr.items():
            self.assertEqual(sorted(counts), list(range(1, len(counts) + 1)), ref)

    def test_terminal_phase_new_rr_nonterminal_duplicate(self):
        self.deployment_pod("api", "api-pod")
        g = self.gateway()
        self.assertEqual(self.fire(g, "api-pod").status, 201)
        first = self.rrs()[0]["metadata"]["name"]
        self.set_status(first, {"overallPhase": "Executing"})
        time.sleep(0.3)
        r = self.fire(g, "api-pod")
        self.assertEqual(r.status, 202, r.body)
        self.set_status(first, {"overallPhase": "Completed"})
        r = wait_until(lambda: (lambda x: x if x.status == 201 else None)(self.fire(g, "api-pod")), timeout=10,
                       what="a new RR after the first one completed")
        second = json.loads(r.body)["results"][0]["remediationRequest"].split("/")[1]
        self.assertNotEqual(second, first)
        fp = fp_of("production", "Deployment", "api")
        self.assertEqual(second, "rr-%s-%s" % (fp[:12], hashlib.sha256((fp + ":2").encode()).hexdigest()[:8]))
        self.assertEqual(self.fire(g, "api-pod").status, 202)
        names = sorted(x["metadata"]["name"] for x in self.rrs())
        self.assertEqual(names, sorted([first, second]))

    def test_manual_review_suppresses_new_rrs(self):
        self.deployment_pod("db", "db-pod")
        g = self.gateway()
        self.assertEqual(self.fire(g, "db-pod").status, 201)
        name = self.rrs()[0]["metadata"]["name"]
        self.set_status(name, {"overallPhase": "Failed", "completionStatus": {"outcome": "ManualReviewRequired"}})
        time.sleep(0.5)
        for _ in range(3):
            r = self.fire(g, "db-pod")
            self.assertEqual(r.status, 202, r.body)
        self.assertEqual(len(self.rrs()), 1)

    def test_every_owner_kind(self):
        ns = "production"
        self.deployment_pod("web", "web-pod")
        self.create("/apis/apps/v1/namespaces/%s/statefulsets" % ns,
                    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta("kafka", ns),
                     "spec": dict(TEMPLATE, serviceName="kafka")})
        self.create("/api/v1/namespaces/%s/pods" % ns, {"apiVersion": "v1", "kind": "Pod", "spec": POD_SPEC,
                    "metadata": meta("kafka-0", ns, ("apps/v1", "StatefulSet", "kafka"))})
        self.create("/apis/apps/v1/namespaces/%s/daemonsets" % ns,
                    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta("agent", ns), "spec": TEMPLATE})
        self.create("/api/v1/namespaces/%s/pods" % ns, {"apiVersion": "v1", "kind": "Pod", "spec": POD_SPEC,
                    "metadata": meta("agent-abc", ns, ("apps/v1", "DaemonSet", "agent"))})
        self.create("/apis/batch/v1/namespaces/%s/cronjobs" % ns,
                    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("backup", ns),
                     "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": POD_SPEC}}}}})
        self.create("/apis/batch/v1/namespaces/%s/jobs" % ns,
                    {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": POD_SPEC}},
                     "metadata": meta("backup-123", ns, ("batch/v1", "CronJob", "backup"))})
        self.create("/api/v1/namespaces/%s/pods" % ns, {"apiVersion": "v1", "kind": "Pod", "spec": POD_SPEC,
                    "metadata": meta("backup-123-xyz", ns, ("batch/v1", "Job", "backup-123"))})
        self.create("/api/v1/namespaces/%s/pods" % ns, {"apiVersion": "v1", "kind": "Pod", "spec": POD_SPEC,
                    "metadata": meta("lonely", ns)})
        g = self.gateway()
        want = {"web-pod": ("Deployment", "web"), "kafka-0": ("StatefulSet", "kafka"),
                "agent-abc": ("DaemonSet", "agent"), "backup-123-xyz": ("CronJob", "backup"),
                "lonely": ("Pod", "lonely")}
        for pod, (kind, name) in want.items():
            r = self.fire(g, pod)
            self.assertEqual(r.status, 201, r.body)
            self.assertEqual(json.loads(r.body)["results"][0]["fingerprint"], fp_of(ns, kind, name), pod)
        targets = sorted((x["spec"]["targetResource"]["kind"], x["spec"]["targetResource"]["name"]) for x in self.rrs())
        self.assertEqual(targets, sorted(want.values()))

    def test_scope_and_missing_targets(self):
        self.deployment_pod("tool", "tool-pod", ns="sandbox")   # namespace without the label
        g = self.gateway()
        r = self.fire(g, "tool-pod", ns="sandbox")
        self.assertEqual(r.status, 202, r.body)
        res = json.loads(r.body)["results"][0]
        self.assertEqual(res["status"], "rejected")
        self.assertIn("kubectl label -n sandbox deployment tool kubernaut.ai/managed=true", res["reason"])
        r = self.fire(g, "no-such-pod")
        self.assertEqual(r.status, 400, r.body)
        err = json.loads(r.body)["error"]
        self.assertEqual(err["code"], "target_not_found")
        self.assertIn("production:Pod:no-such-pod", err["message"])
        r = self.fire(g, "p", ns="no-such-namespace")
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(self.rrs(), [])
        m = g.get("/metrics").body.decode()
        self.assertIn('gateway_signals_rejected_total{reason="unmanaged_resource"} 1', m)

    def test_deleted_rr_then_new_one_with_next_name(self):
        self.deployment_pod("api", "api-pod")
        g = self.gateway()
        self.assertEqual(self.fire(g, "api-pod").status, 201)
        name = self.rrs()[0]["metadata"]["name"]
        st, _ = self.api.call("DELETE", RRS + "/" + name)
        self.assertEqual(st, 200)
        r = wait_until(lambda: (lambda x: x if x.status == 201 else None)(self.fire(g, "api-pod")), timeout=10,
                       what="a new RR after the active one was deleted")
        again = json.loads(r.body)["results"][0]["remediationRequest"].split("/")[1]
        self.assertNotEqual(again, name, "the deleted RR's name was taken again")
        self.assertEqual(len(self.rrs()), 1)

    def test_rr_completed_while_duplicates_wait_for_the_interval(self):
        # a duplicate waits for the status interval behind a slow write; the RR turns
        # terminal meanwhile: the interval's timer finds it inactive and sends the waiter back
        # to decide (the writer goes idle and is freed, once), and a new RR is created
        self.deployment_pod("api", "api-pod")
        g = self.gateway(workers=1, config="state:\n  status_interval: 1500ms\n")
        self.assertEqual(self.fire(g, "api-pod").status, 201)
        first = self.rrs()[0]["metadata"]["name"]
        self.api.fault(method="PATCH", path_regex="/status$", count=1, action="latency", latency_ms=600)
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            slow = ex.submit(self.fire, g, "api-pod")      # its write takes 600 ms
            time.sleep(0.3)
            queued = ex.submit(self.fire, g, "api-pod")    # waits for it, then for the interval
            self.assertEqual(slow.result(timeout=30).status, 202)
            self.set_status(first, {"overallPhase": "Completed"})
            r = queued.result(timeout=30)
        self.assertEqual(r.status, 201, r.body)
        self.assertNotEqual(json.loads(r.body)["results"][0]["remediationRequest"].split("/")[1], first)
        # the process is still there and still answers
        self.assertEqual(self.fire(g, "api-pod").status, 202)
        self.assertEqual(g.get("/healthz").status, 200)

    def test_failed_count_write_leaves_no_creation_claimed(self):
        # one webhook: a duplicate whose status write fails (503 to the sender) and a new
        # signal this process had claimed the creation of; the retry of the new one alone
        # creates its RR at once, not after dedup.lease
        self.deployment_pod("old", "old-pod")
        self.deployment_pod("new", "new-pod")
        g = self.gateway(workers=1)
        self.assertEqual(self.fire(g, "old-pod").status, 201)
        self.api.fault(method="PATCH", path_regex="/status$", count=1, action="status", status=422)
        r = g.alert(webhook([pod_alert("KubePodCrashLooping", "old-pod"), pod_alert("KubePodCrashLooping", "new-pod")]),
                    conn=g.conn(timeout=30))
        self.assertEqual(r.status, 503, r.body)
        t0 = time.time()
        r = self.fire(g, "new-pod")
        self.assertEqual(r.status, 201, r.body)
        self.assertLess(time.time() - t0, 3, "the failed batch's creation claim was left to expire")

    def test_status_writes_at_most_once_per_interval(self):
        # state.status_interval bounds the status writes of one RR per worker, also when the
        # writer had nothing queued at its last write's end
        self.deployment_pod("api", "api-pod")
        g = self.gateway(workers=1, config="state:\n  status_interval: 1s\n")
        self.assertEqual(self.fire(g, "api-pod").status, 201)
        self.api.clear_requests()
        self.assertEqual(self.fire(g, "api-pod").status, 202)   # written at once
        with concurrent.futures.ThreadPoolExecutor(5) as ex:   # within the interval: one write
            codes = [f.result(timeout=30).status for f in [ex.submit(self.fire, g, "api-pod") for _ in range(5)]]
        self.assertEqual(codes, [202] * 5)
        writes = [q for q in self.api.requests() if q["method"] == "PATCH" and q["path"].endswith("/status")]
        self.assertEqual(len(writes), 2, writes)
        self.assertEqual(self.count(self.rrs()[0]), 7)

    def test_conflicts_on_status_are_retried(self):
        self.deployment_pod("api", "api-pod")
        g = self.gateway(workers=1)
        self.assertEqual(self.fire(g, "api-pod").status, 201)
        self.api.fault(method="PATCH", path_regex="/status$", count=4, action="conflict")
        for k in range(3):
            r = self.fire(g, "api-pod")
            self.assertEqual(r.status, 202, r.body)
            self.assertEqual(json.loads(r.body)["results"][0]["count"], k + 2)
        self.assertEqual(self.count(self.rrs()[0]), 4)
        self.assertGreaterEqual(float(self.metric_value(g, "gateway_status_conflicts_total")), 4)

    def metric_value(self, g, name):
        for line in g.get("/metrics").body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return line.rsplit(" ", 1)[1]
        return "0"

    def test_watch_dropped_and_expired_under_load(self):
        pods = []
        for k in range(5):
            self.deployment_pod("w-%d" % k, "w-%d-pod" % k)
            pods.append("w-%d-pod" % k)
        gws = [self.gateway(), self.gateway()]
        faults = iter(["/_test/watch/drop", "/_test/watch/expire", "/_test/watch/drop", "/_test/watch/expire"])

        def send(i):
            if i % 100 == 50:
                path = next(faults, None)
                if path:
                    self.api.call("POST", path, {}, token=None)
            r = self.fire(gws[i % 2], pods[i % 5])
            return r.status

        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            codes = list(ex.map(send, range(400)))
        self.assertEqual([c for c in codes if c not in (201, 202)], [])
        self.assertEqual(codes.count(201), 5)
        rrs = self.rrs()
        self.assertEqual(len(rrs), 5)
        self.assertEqual(sum(self.count(r) for r in rrs), 400)

    def test_api_server_down_is_503_and_recovers(self):
        self.deployment_pod("api", "api-pod")
        g = self.gateway()
        self.assertEqual(self.fire(g, "api-pod").status, 201)
        self.api.fault(method=None, path_regex="remediationrequests", count=200, action="status", status=503)
        r = self.fire(g, "api-pod")
        self.assertEqual(r.status, 503, r.body)
        self.assertIn("retry-after", r.headers)
        self.api.clear_faults()
        r = wait_until(lambda: (lambda x: x if x.status == 202 else None)(self.fire(g, "api-pod")), timeout=15,
                       what="a duplicate once the API server answers again")
        self.assertEqual(json.loads(r.body)["results"][0]["count"], 2)

    def test_not_ready_until_cache_synced(self):
        self.api.fault(method="GET", path_regex="/kubernaut-system/remediationrequests$", count=1, action="latency",
                       latency_ms=2500)
        g = self.gateway(wait_ready=False)
        r = g.get("/readyz")
        self.assertEqual(r.status, 503, r.body)
        self.assertIn("RemediationRequest cache", r.body.decode())
        self.deployment_pod("api", "api-pod")
        self.assertEqual(self.fire(g, "api-pod").status, 503)
        wait_until(lambda: g.get("/readyz").status == 200, timeout=15, what="ready once listed")
        self.assertEqual(self.fire(g, "api-pod").status, 201)

    def test_owner_lookup_failure_is_503_never_another_fingerprint(self):
        self.deployment_pod("api", "api-pod")
        g = self.gateway()
        self.api.fault(method="GET", path_regex="/pods/api-pod$", count=50, action="status", status=500)
        r = self.fire(g, "api-pod")
        self.assertEqual(r.status, 503, r.body)
        self.assertEqual(json.loads(r.body)["error"]["code"], "kubernetes_unavailable")
        self.assertEqual(self.rrs(), [], "an RR was made with a fingerprint the cluster would not give")
        self.api.clear_faults()
        r = self.fire(g, "api-pod")
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(json.loads(r.body)["results"][0]["fingerprint"], fp_of("production", "Deployment", "api"))

    def test_hung_watch_counts_stay_exact(self):
        self.deployment_pod("api", "api-pod")
        g1, g2 = self.gateway(), self.gateway()
        self.assertEqual(self.fire(g1, "api-pod").status, 201)
        wait_until(lambda: self.fire(g2, "api-pod").status == 202, timeout=10, what="the second replica sees the RR")
        st, _ = self.api.call("POST", "/_test/watch/hang", {"seconds": 3}, token=None)
        self.assertEqual(st, 200)
        codes = [self.fire((g1, g2)[i % 2], "api-pod").status for i in range(30)]
        self.assertEqual(codes, [202] * 30)
        self.assertEqual(self.count(self.rrs()[0]), 32)
        self.assertEqual(len(self.rrs()), 1)


class CrdNotInstalled(unittest.TestCase):
    """An API server that does not serve kubernaut.ai: a clear reason in /readyz and the log,
    every signal 503 (retried by the sender), no crash."""

    def test_clear_error_not_a_crash(self):
        api = ApiServer(extra_args=["--disable-group", "kubernaut.ai"])
        try:
            api.namespace("kubernaut-system")
            api.namespace("production", {"kubernaut.ai/managed": "true"})
            st, body = api.call("POST", "/api/v1/namespaces/production/pods", {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "production"}, "spec": POD_SPEC})
            self.assertEqual(st, 201, body)
            g = Gateway("sink:\n  rr_namespace: kubernaut-system\n",
                        args=["--sink", "kubernetes", "--kubeconfig", api.kubeconfig, "--state", "kubernetes",
                              "--rr-api", "kubernaut.ai/v1alpha1"], wait_ready=False)
            try:
                r = wait_until(lambda: (lambda x: x if "CRD" in x.body.decode() else None)(g.get("/readyz")),
                               timeout=10, what="/readyz naming the missing CRD")
                self.assertEqual(r.status, 503)
                self.assertIn("is the CRD installed?", r.body.decode())
                r = g.alert(webhook([pod_alert("A", "p")]))
                self.assertEqual(r.status, 503, r.body)
                self.assertIn("retry-after", r.headers)
                self.assertIn("is the CRD installed?", g.logs())
                self.assertIsNone(g.proc.poll())
            finally:
                self.assertEqual(g.stop(), 0, g.logs())
        finally:
            api.stop()


if __name__ == "__main__":
    unittest.main()
