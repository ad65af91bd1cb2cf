"""The kubernaut.ai/v1alpha1 contract (--rr-api kubernaut.ai/v1alpha1) in embedded mode:
the manifest is upstream's RemediationRequest field for field (checked against the CRD's
openAPIV3Schema in deploy/crd/kubernaut.ai/ with the API test server's validator), named
as upstream names them, fingerprinted from the target as upstream does; duplicates are
counted in status.deduplication inside the manifest; storms are detected, never folded;
the configuration refuses the combinations that cannot keep the contract."""
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import unittest

import yaml

from harness import BINARY, ROOT, Gateway, fixture, pod_alert, webhook
from k8s_harness import ApiServer

sys.path.insert(0, os.path.join(ROOT, "tests", "k8s-api-server"))
import validation  # noqa: E402  (the API test server's OpenAPI subset validator)

CRD = os.path.join(ROOT, "deploy", "crd", "kubernaut.ai", "remediationrequests.yaml")
KAI = ["--rr-api", "kubernaut.ai/v1alpha1"]


def crd_schema():
    with open(CRD) as f:
        d = yaml.safe_load(f)
    return d["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def upstream_fp(ns, kind, name, cluster=""):
    key = ("%s:%s:%s:%s" % (cluster, ns, kind, name)) if cluster else ("%s:%s:%s" % (ns, kind, name))
    return hashlib.sha256(key.encode()).hexdigest()


def upstream_name(fp, seq):
    return "rr-%s-%s" % (fp[:12], hashlib.sha256(("%s:%d" % (fp, seq)).encode()).hexdigest()[:8])


class EmbeddedManifests(unittest.TestCase):
    def setUp(self):
        self.gw = Gateway(args=KAI)

    def tearDown(self):
        self.assertEqual(self.gw.stop(), 0, self.gw.logs())

    def test_created_rr_is_upstreams_object(self):
        r = self.gw.alert(webhook([pod_alert("KubePodCrashLooping", "api-7d9f-x2k9p", ns="payments", severity="P1")]))
        self.assertEqual(r.status, 201, r.body)
        fp = upstream_fp("payments", "Pod", "api-7d9f-x2k9p")
        res = json.loads(r.body)["results"][0]
        self.assertEqual(res["fingerprint"], fp)
        self.assertEqual(res["remediationRequest"], "kubernaut-system/" + upstream_name(fp, 1))
        rrs = self.gw.rrs()
        self.assertEqual(len(rrs), 1)
        rr = rrs[0]
        self.assertEqual(rr["apiVersion"], "kubernaut.ai/v1alpha1")
        self.assertEqual(rr["metadata"]["namespace"], "kubernaut-system")
        self.assertRegex(rr["metadata"]["name"], r"^rr-[0-9a-f]{12}-[0-9a-f]{8}$")
        spec = rr["spec"]
        self.assertEqual(spec["signalFingerprint"], fp)
        self.assertEqual(spec["severity"], "P1")   # the provider's own value, as upstream
        self.assertEqual(spec["signalType"], "alert")
        self.assertEqual(spec["signalSource"], "prometheus")
        self.assertEqual(spec["targetType"], "kubernetes")
        self.assertEqual(spec["targetResource"], {"kind": "Pod", "name": "api-7d9f-x2k9p", "namespace": "payments"})
        for gone in ("environment", "priority", "deduplication", "isStorm", "stormType", "affectedResources"):
            self.assertNotIn(gone, spec)
        self.assertIsInstance(spec["originalPayload"], str)
        self.assertEqual(json.loads(spec["originalPayload"])["labels"]["pod"], "api-7d9f-x2k9p")
        self.assertEqual(json.loads(spec["providerData"])["namespace"], "payments")
        errs = []
        validation.validate_schema(rr, crd_schema(), "", errs)
        self.assertEqual(errs, [], "the CRD's schema rejects the manifest")
        bad = json.loads(json.dumps(rr))
        bad["spec"]["targetType"] = "vmware"
        validation.validate_schema(bad, crd_schema(), "", errs)
        self.assertTrue(errs, "the validator accepts anything")
        self.assertNotIn("status", rr)

    def test_duplicates_counted_in_status(self):
        body = webhook([pod_alert("KubePodCrashLooping", "p1", ns="payments")])
        self.assertEqual(self.gw.alert(body).status, 201)
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(lambda _: self.gw.alert(body).status, range(20)))
        self.assertEqual(codes, [202] * 20)
        rrs = self.gw.rrs()
        self.assertEqual(len(rrs), 1)
        dd = rrs[0]["status"]["deduplication"]
        self.assertEqual(dd["occurrenceCount"], 21)
        self.assertRegex(dd["firstSeenAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertGreaterEqual(dd["lastSeenAt"], dd["firstSeenAt"])

    def test_cluster_label_is_part_of_the_fingerprint(self):
        a = pod_alert("KubePodCrashLooping", "p1", ns="payments")
        a["labels"]["cluster"] = "edge-7"
        r = self.gw.alert(webhook([a]))
        self.assertEqual(r.status, 201, r.body)
        rr = self.gw.rrs()[0]
        self.assertEqual(rr["spec"]["signalFingerprint"], upstream_fp("payments", "Pod", "p1", "edge-7"))
        self.assertEqual(rr["spec"]["clusterID"], "edge-7")

    def test_storm_detected_not_folded(self):
        alerts = [pod_alert("OOMKilled", "pod-%d" % i, ns="batch") for i in range(15)]
        r = self.gw.alert(webhook(alerts))
        self.assertEqual(r.status, 201, r.body)
        res = json.loads(r.body)["results"]
        self.assertEqual([x["status"] for x in res], ["created"] * 15)
        self.assertFalse(any(x.get("isStorm") for x in res))
        self.assertEqual(len(self.gw.rrs()), 15)
        m = self.gw.get("/metrics").body.decode()
        self.assertRegex(m, r'gateway_storms_detected_total\{storm_type="rate"\} 1(\.0)?\n')
        self.assertIn("alert storm detected", self.gw.logs())

    def test_kubernetes_event_source_name(self):
        ev = json.loads(fixture("k8s-event-pod-oomkilled-warning.json"))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())   # fresh, as freshness wants
        ev["firstTimestamp"] = ev["lastTimestamp"] = now
        r = self.gw.post("/api/v1/signals/kubernetes-event", ev)
        self.assertIn(r.status, (201, 202), r.body)
        rr = self.gw.rrs()[0]
        self.assertEqual(rr["spec"]["signalSource"], "kubernetes-events")
        self.assertEqual(rr["spec"]["signalType"], "alert")


class ManifestsApply(unittest.TestCase):
    """kubectl applies the directory's manifests to an API server that serves the CRD."""

    def test_kubectl_apply_accepts_them(self):
        api = ApiServer()
        gw = Gateway(args=KAI)
        try:
            env = dict(os.environ, KUBECONFIG=api.kubeconfig)
            def kubectl(*a):
                return subprocess.run(["kubectl"] + list(a), capture_output=True, text=True, timeout=60, env=env)
            out = kubectl("apply", "-f", CRD)
            self.assertEqual(out.returncode, 0, out.stderr)
            api.namespace("kubernaut-system")
            gw.alert(webhook([pod_alert("A", "p1"), pod_alert("B", "p2")]))
            gw.alert(webhook([pod_alert("A", "p1")]))
            files = gw.rr_files()
            self.assertEqual(len(files), 2)
            for path in files:
                out = kubectl("apply", "-f", path)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertRegex(out.stdout.strip(),
                                 r"^remediationrequest\.kubernaut\.ai/rr-[0-9a-f]{12}-[0-9a-f]{8} created$")
            out = kubectl("get", "remediationrequests.kubernaut.ai", "-n", "kubernaut-system", "-o", "json")
            self.assertEqual(out.returncode, 0, out.stderr)
            names = sorted(i["metadata"]["name"] for i in json.loads(out.stdout)["items"])
            self.assertEqual(names, sorted(os.path.basename(p)[:-5] for p in files))
        finally:
            self.assertEqual(gw.stop(), 0, gw.logs())
            api.stop()


class ContractConfig(unittest.TestCase):
    def check(self, *args):
        return subprocess.run([BINARY, "--check-config"] + list(args), capture_output=True, text=True, timeout=10)

    def test_refused_combinations(self):
        r = self.check("--rr-api", "kubernaut.ai/v1beta9")
        self.assertEqual(r.returncode, 2)
        self.assertIn("sink.rr_api must be", r.stderr)
        r = self.check("--rr-api", "kubernaut.ai/v1alpha1", "--sink", "kubernetes", "--state", "memory")
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs state.url", r.stderr)
        r = self.check("--state", "kubernetes", "--sink", "kubernetes")
        self.assertEqual(r.returncode, 2)
        self.assertIn("kubernaut.ai", r.stderr)
        r = self.check("--state", "kubernetes", "--rr-api", "kubernaut.ai/v1alpha1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("sink.target kubernetes", r.stderr)

    def test_accepted(self):
        r = self.check("--rr-api", "kubernaut.ai/v1alpha1", "--sink", "kubernetes", "--state", "kubernetes")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('sink.rr_api: "kubernaut.ai/v1alpha1"', r.stdout)


if __name__ == "__main__":
    unittest.main()
