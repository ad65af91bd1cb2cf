"""Cluster mode against the project's Kubernetes API test server: RemediationRequests in
the API, TokenReview/SubjectAccessReview auth with its cache, environment classification,
namespace fallback, AlreadyExists, injected faults (500, 429 + Retry-After, dropped
connections, persistent failure → 503 and a clean retry), storm RR updates under forced
409 conflicts, 100 concurrent unique alerts, readiness, and kubectl reading the result."""
import json
import os
import shutil
import subprocess
import threading
import time
import unittest

from harness import Gateway, fixture, pod_alert, webhook
from k8s_harness import ApiServer

AM = {"Authorization": "Bearer am-token"}


class KubernetesModeTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = ApiServer()

    @classmethod
    def tearDownClass(cls):
        cls.api.stop()

    def setUp(self):
        self.api.reset()
        self.api.namespace("kubernaut-system")
        self.api.namespace("production", {"environment": "production"})
        self.api.namespace("checkout", {"environment": "staging"})

    def gw(self, config="", auth=True, **kw):
        args = ["--sink", "kubernetes", "--kubeconfig", self.api.kubeconfig]
        if auth:
            args += ["--auth", "kubernetes"]
        g = Gateway(config, args=args, **kw)
        self.addCleanup(g.stop)
        return g

    def wait_ready(self, g, want=200, timeout=15):
        deadline = time.time() + timeout
        r = None
        while time.time() < deadline:
            r = g.get("/readyz")
            if r.status == want:
                return r
            time.sleep(0.1)
        self.fail("readyz never became %d: %r" % (want, r))

    # ---- creation ---------------------------------------------------------------------

    def test_alert_becomes_an_rr_in_the_api_with_environment_from_the_namespace_label(self):
        g = self.gw()
        r = g.alert(fixture("pod-crashloop-firing-2-alerts.json"), headers=AM)
        self.assertEqual(r.status, 201, r)
        items = self.api.rrs("production")
        self.assertEqual(len(items), 2)
        rr = items[0]
        self.assertEqual(rr["metadata"]["labels"]["kubernaut.io/environment"], "production")
        self.assertEqual(rr["metadata"]["labels"]["kubernaut.io/priority"], "P0")
        self.assertEqual(rr["metadata"]["labels"]["app.kubernetes.io/managed-by"], "signal-gateway")
        self.assertEqual(rr["spec"]["environment"], "production")
        self.assertTrue(rr["metadata"]["resourceVersion"])
        names = {x["metadata"]["name"] for x in items}
        self.assertEqual(names, {x["remediationRequest"].split("/")[1] for x in r.json["results"]})
        # duplicate: counted, no new RR
        r = g.alert(fixture("pod-crashloop-firing-2-alerts.json"), headers=AM)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(len(self.api.rrs("production")), 2)

    def test_configmap_override_classifies_unlabelled_namespaces(self):
        self.api.namespace("payments")
        self.api.configmap("kubernaut-system", "kubernaut-environment-overrides", {"payments": "production"})
        g = self.gw()
        r = g.alert(webhook([pod_alert("PayDown", "pay-1", ns="payments")]), headers=AM)
        self.assertEqual(r.status, 201, r)
        rr = self.api.rrs("payments")[0]
        self.assertEqual(rr["spec"]["environment"], "production")
        self.assertEqual(rr["spec"]["priority"], "P0")

    def test_missing_namespace_falls_back_with_origin_labels(self):
        g = self.gw()
        r = g.alert(webhook([pod_alert("Ghost", "g-1", ns="does-not-exist")]), headers=AM)
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.json["results"][0]["remediationRequest"].startswith("kubernaut-system/"), r)
        rr = self.api.rrs("kubernaut-system")[0]
        self.assertEqual(rr["metadata"]["labels"]["kubernaut.io/origin-namespace"], "does-not-exist")
        self.assertEqual(rr["metadata"]["labels"]["kubernaut.io/cluster-scoped"], "true")

    def test_existing_rr_of_that_name_is_a_duplicate(self):
        g = self.gw()
        body = webhook([pod_alert("Pre", "pre-1")])
        r = g.alert(body, headers=AM)
        self.assertEqual(r.status, 201)
        ref = r.json["results"][0]["remediationRequest"]
        # a second gateway with empty state sees the RR in the API: AlreadyExists → duplicate
        g2 = self.gw()
        r = g2.alert(body, headers=AM)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["results"][0]["status"], "duplicate")
        self.assertEqual(r.json["results"][0]["remediationRequest"], ref)
        self.assertEqual(len(self.api.rrs("production")), 1)

    def test_in_cluster_service_account_and_token_rotation(self):
        import tempfile
        sa = tempfile.mkdtemp(prefix="sgw-sa-")
        with open(os.path.join(sa, "token"), "w") as f:
            f.write("gateway-sa-token\n")
        shutil.copy(os.path.join(self.api.dir, "tls", "ca.crt"), os.path.join(sa, "ca.crt"))
        with open(os.path.join(sa, "namespace"), "w") as f:
            f.write("kubernaut-system\n")
        port = self.api.url.rsplit(":", 1)[1]
        g = Gateway(args=["--sink", "kubernetes"],
                    env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port,
                         "SGW_SINK_SERVICEACCOUNT_DIR": sa, "KUBECONFIG": ""})
        self.addCleanup(g.stop)
        self.api.clear_requests()
        self.assertEqual(g.alert(webhook([pod_alert("InCluster", "ic-1")])).status, 201)
        users = {x["user"] for x in self.api.requests() if x["method"] == "POST"}
        self.assertEqual(users, {"system:serviceaccount:kubernaut-system:gateway"})
        # kubelet rotates the projected token: write the new one beside it and rename over
        tmp = os.path.join(sa, "token.new")
        with open(tmp, "w") as f:
            f.write("gateway-sa-token-rotated\n")
        os.rename(tmp, os.path.join(sa, "token"))
        # the client stats the token file at most once a second (k8s/client.c, on the
        # monotonic clock): a read after the rename sees the new token, and the request
        # below comes over a second after any read before it. A bound, not a guess: a slow
        # machine only makes the wait longer
        time.sleep(1.2)
        self.api.clear_requests()
        self.assertEqual(g.alert(webhook([pod_alert("InCluster", "ic-2")])).status, 201)
        users = {x["user"] for x in self.api.requests() if x["method"] == "POST"}
        self.assertEqual(users, {"system:serviceaccount:kubernaut-system:gateway-rotated"})
        self.assertIn("token file changed", g.logs())
        self.assertNotIn("gateway-sa-token", g.logs())

    # ---- auth ---------------------------------------------------------------------------

    def test_auth_401_403_and_cached_reviews(self):
        g = self.gw()
        body = fixture("deployment-memory-firing.json")
        self.assertEqual(g.alert(body).status, 401)
        r = g.alert(body, headers={"Authorization": "Bearer nobody-knows-me"})
        self.assertEqual(r.status, 401, r)
        self.assertIn("www-authenticate", r.headers)
        r = g.alert(body, headers={"Authorization": "Bearer viewer-token"})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json["error"]["code"], "forbidden")
        self.api.clear_requests()
        for _ in range(5):
            self.assertIn(g.alert(body, headers=AM).status, (201, 202))
        reviews = [x for x in self.api.requests() if "tokenreviews" in x["path"] or "subjectaccessreviews" in x["path"]]
        self.assertEqual(len(reviews), 2, reviews)   # one TokenReview + one SAR, then the cache
        self.assertNotIn("am-token", g.logs())

    def test_review_api_failure_fails_closed_with_503(self):
        g = self.gw()
        self.api.fault(method="POST", path_regex="tokenreviews", count=50, action="status", status=500)
        r = g.alert(fixture("deployment-memory-firing.json"), headers={"Authorization": "Bearer fresh-token"})
        self.assertEqual(r.status, 503, r)
        self.assertIn("retry-after", r.headers)
        self.assertEqual(self.api.rrs(), [])

    # ---- faults -------------------------------------------------------------------------

    def test_transient_500_and_dropped_connections_are_retried(self):
        g = self.gw(auth=False)
        self.api.fault(method="POST", path_regex="remediationrequests$", count=1, action="status", status=500)
        self.api.fault(method="POST", path_regex="remediationrequests$", count=1, action="drop")
        self.api.clear_requests()
        r = g.alert(webhook([pod_alert("Flaky", "f-1")]))
        self.assertEqual(r.status, 201, r)
        posts = [x for x in self.api.requests() if x["method"] == "POST" and x["path"].endswith("remediationrequests")]
        self.assertGreaterEqual(len(posts), 3, posts)
        text = g.get("/metrics").body.decode()
        self.assertIn('gateway_kubernetes_retries_total{verb="POST"}', text)
        self.assertIn('gateway_kubernetes_requests_total{verb="POST",code="201"} 1', text)
        self.assertEqual(len(self.api.rrs("production")), 1)

    def retry_gap(self):
        """Seconds from the API's 429 answer to the gateway's next POST of an RR, as the API
        test server logged them (since clear_requests)."""
        posts = [x for x in self.api.requests() if x["method"] == "POST" and x["path"].endswith("remediationrequests")]
        self.assertEqual([x["status"] for x in posts], [429, 201], posts)
        return posts[1]["ts"] - (posts[0]["ts"] + posts[0]["durationMs"] / 1000)

    def test_429_retry_after_is_honoured(self):
        g = self.gw(auth=False)
        # the control: a 429 without Retry-After is retried after the client's own back-off
        # (50-100 ms), so a retry that ignored Retry-After would be seen well under 0.9 s
        self.api.clear_requests()
        self.api.fault(method="POST", path_regex="remediationrequests$", count=1, action="status", status=429)
        r = g.alert(webhook([pod_alert("Throttled", "t-0")]))
        self.assertEqual(r.status, 201, r)
        control = self.retry_gap()
        self.assertLess(control, 0.9, "without Retry-After the retry came %.3f s after the 429: "
                                      "too slow to tell a wait of 1 s from none" % control)
        self.api.clear_requests()
        self.api.fault(method="POST", path_regex="remediationrequests$", count=1, action="status", status=429,
                       retry_after=1)
        t0 = time.time()
        r = g.alert(webhook([pod_alert("Throttled", "t-1")]))
        self.assertEqual(r.status, 201, r)
        self.assertGreaterEqual(time.time() - t0, 0.9)   # waited Retry-After: 1
        gap = self.retry_gap()
        self.assertGreaterEqual(gap, 0.9, "retried %.3f s after a 429 with Retry-After: 1 (%.3f s without)"
                                % (gap, control))

    def test_persistent_failure_is_503_and_the_retry_completes_without_duplicates(self):
        g = self.gw(auth=False, config="sink:\n  max_retries: 1\n")
        self.api.fault(method="POST", path_regex="remediationrequests$", count=1000, action="status", status=503)
        body = webhook([pod_alert("Outage", "o-%d" % i) for i in range(3)])
        r = g.alert(body)
        self.assertEqual(r.status, 503, r)
        self.assertIn("retry-after", r.headers)
        self.api.clear_faults()
        r = g.alert(body)   # what Alertmanager does after a 503
        self.assertEqual(r.status, 201, r)
        r = g.alert(body)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(len(self.api.rrs("production")), 3)

    def test_readyz_follows_the_api_server(self):
        g = self.gw(auth=False)
        self.wait_ready(g, 200)
        self.api.fault(method="GET", path_regex="^/version$", count=1000, action="status", status=500)
        r = self.wait_ready(g, 503, timeout=20)
        self.assertIn("kubernetes", r.json["reason"])
        self.api.clear_faults()
        self.wait_ready(g, 200, timeout=20)

    # ---- storms and load ------------------------------------------------------------------

    def test_fifteen_concurrent_storm_alerts_with_conflicts_end_with_an_exact_count(self):
        g = self.gw(auth=False, config="storm:\n  update_interval: 200ms\n")
        # every other PUT of the storm RR conflicts
        self.api.fault(method="PUT", path_regex="rr-storm-", count=6, action="conflict")
        results = []
        lock = threading.Lock()

        def send(i):
            r = g.alert(webhook([pod_alert("StormConflict", "sc-%02d" % i, ns="checkout")]))
            with lock:
                results.append(r.status)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(15)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertTrue(all(s in (201, 202) for s in results), results)
        deadline = time.time() + 15
        storm = []
        while time.time() < deadline:
            items = self.api.rrs("checkout")
            storm = [x for x in items if x["spec"].get("isStorm")]
            singles = [x for x in items if not x["spec"].get("isStorm")]
            folded = 15 - len(singles)
            if storm and storm[0]["spec"].get("stormAlertCount") == folded:
                break
            time.sleep(0.2)
        self.assertEqual(len(storm), 1, [x["metadata"]["name"] for x in self.api.rrs("checkout")])
        self.assertLess(len(self.api.rrs("checkout")), 15)
        self.assertEqual(storm[0]["spec"]["stormAlertCount"], folded)
        conflicts = [x for x in self.api.requests() if x["method"] == "PUT" and x["status"] == 409]
        self.assertGreater(len(conflicts), 0)

    def test_hundred_concurrent_unique_alerts_make_hundred_rrs(self):
        g = self.gw(auth=False, config="storm:\n  enabled: false\n")
        statuses = []
        lock = threading.Lock()

        def send(i):
            r = g.alert(webhook([pod_alert("Unique%03d" % i, "u-%03d" % i)]))
            with lock:
                statuses.append(r.status)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(statuses.count(201), 100, sorted(set(statuses)))
        self.assertEqual(len(self.api.rrs("production")), 100)

    def test_kubectl_lists_what_the_gateway_made(self):
        kubectl = shutil.which("kubectl")
        self.assertIsNotNone(kubectl, "kubectl is required (scripts/setup installs kubernetes-client)")
        g = self.gw(auth=False)
        r = g.alert(fixture("pod-crashloop-firing-2-alerts.json"))
        self.assertEqual(r.status, 201)
        p = subprocess.run([kubectl, "--kubeconfig", self.api.kubeconfig, "get", "remediationrequests", "-n",
                            "production", "-o", "json"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        names = sorted(x["metadata"]["name"] for x in json.loads(p.stdout)["items"])
        want = sorted(x["remediationRequest"].split("/")[1] for x in r.json["results"])
        self.assertEqual(names, want)
        p = subprocess.run([kubectl, "--kubeconfig", self.api.kubeconfig, "get", "rr", "-n", "production"],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        for n in want:
            self.assertIn(n, p.stdout.decode())


if __name__ == "__main__":
    unittest.main()
