"""PagerDuty Events v2 under the kubernaut.ai/v1alpha1 contract against the API test server
(tests/k8s-api-server; sink and state kubernetes, as test_kubernaut_state.py): a trigger on
a Deployment's Pod is one RR of the owner with signalType alert / signalSource pagerduty; a
repeat is a duplicate counted in the RR's status; a resolve and an acknowledge record
nothing; a target that does not exist is PagerDuty's 400; 20 concurrent identical triggers
are one RR; a change event touches no RR. Loopback only; every loop bounded."""
import concurrent.futures
import hashlib
import json
import unittest

from harness import Gateway
from k8s_harness import ApiServer

KAI = "/apis/kubernaut.ai/v1alpha1"
RRS = KAI + "/namespaces/kubernaut-system/remediationrequests"
PATH = "/v2/enqueue"
RK = "0123456789abcdef0123456789abcdef"
SUCCESS = {"status": "success", "message": "Event processed"}
POD_SPEC = {"containers": [{"name": "c", "image": "x"}]}
TEMPLATE = {"selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": POD_SPEC}}


def fp_of(ns, kind, name):
    return hashlib.sha256(("%s:%s:%s" % (ns, kind, name)).encode()).hexdigest()


def trigger(dedup_key, pod, ns="production", **payload):
    p = {"summary": "%s crash looping" % pod, "source": "%s/Pod/%s" % (ns, pod), "severity": "critical",
         "class": "KubePodCrashLooping"}
    p.update(payload)
    return {"routing_key": RK, "event_action": "trigger", "dedup_key": dedup_key, "payload": p}


def meta(name, ns, owner=None):
    m = {"name": name, "namespace": ns}
    if owner:
        m["ownerReferences"] = [{"apiVersion": owner[0], "kind": owner[1], "name": owner[2],
                                 "uid": "uid-" + owner[2], "controller": True}]
    return m


def outcome(g, name, source="pagerduty"):
    key = 'gateway_signals_total{source="%s",outcome="%s"}' % (source, name)
    for line in g.get("/metrics").body.decode().splitlines():
        if line.startswith(key + " "):
            return float(line.split()[1])
    return 0


class PagerDutyKubernautAi(unittest.TestCase):
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
        self.g = Gateway("sink:\n  rr_namespace: kubernaut-system\n",
                         args=["--sink", "kubernetes", "--kubeconfig", self.api.kubeconfig, "--state", "kubernetes",
                               "--rr-api", "kubernaut.ai/v1alpha1"])
        self.addCleanup(self.g.stop)

    def create(self, path, obj):
        st, body = self.api.call("POST", path, obj)
        self.assertEqual(st, 201, body)

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

    def rrs(self):
        st, body = self.api.call("GET", RRS)
        self.assertEqual(st, 200, body)
        return body["items"]

    def post(self, body, path=PATH):
        c = self.g.conn(timeout=30)
        try:
            return self.g.post(path, body, conn=c)
        finally:
            c.close()

    @staticmethod
    def count(rr):
        return ((rr.get("status") or {}).get("deduplication") or {}).get("occurrenceCount", 1)

    def test_trigger_duplicate_acknowledge_resolve(self):
        self.deployment_pod("payment-api", "payment-api-rs-x1")
        self.deployment_pod("payment-api", "payment-api-rs-x2")
        body = trigger("pd-live-1", "payment-api-rs-x1", custom_details={"restarts": 12})
        r = self.post(body)
        self.assertEqual((r.status, r.json), (202, dict(SUCCESS, dedup_key="pd-live-1")), r)
        self.assertEqual(outcome(self.g, "created"), 1)
        rrs = self.rrs()
        self.assertEqual(len(rrs), 1)
        spec = rrs[0]["spec"]
        self.assertEqual(spec["signalType"], "alert")
        self.assertEqual(spec["signalSource"], "pagerduty")
        self.assertEqual(spec["signalName"], "KubePodCrashLooping")
        # upstream's fingerprint and target: the Pod's top controller owner
        self.assertEqual(spec["signalFingerprint"], fp_of("production", "Deployment", "payment-api"))
        self.assertEqual(spec["targetResource"], {"kind": "Deployment", "name": "payment-api", "namespace": "production"})
        self.assertEqual(spec["targetType"], "kubernetes")
        self.assertEqual(spec["severity"], "critical")   # the provider's own value
        self.assertEqual(json.loads(spec["originalPayload"]), body)
        for gone in ("environment", "priority", "deduplication", "isStorm"):
            self.assertNotIn(gone, spec)
        # the same incident again, and another pod of the same Deployment under another key:
        # both the owner's signal, counted in the RR's status
        r = self.post(body)
        self.assertEqual((r.status, r.json), (202, dict(SUCCESS, dedup_key="pd-live-1")), r)
        r = self.post(trigger("pd-live-2", "payment-api-rs-x2"))
        self.assertEqual((r.status, r.json), (202, dict(SUCCESS, dedup_key="pd-live-2")), r)
        self.assertEqual(outcome(self.g, "duplicate"), 2)
        rrs = self.rrs()
        self.assertEqual(len(rrs), 1)
        self.assertEqual(self.count(rrs[0]), 3)
        # acknowledge and resolve: answered, nothing written (kubernaut.ai records no resolution)
        self.assertTrue([q for q in self.api.requests() if q["method"] == "POST" and "remediationrequests" in q["path"]])
        self.api.clear_requests()
        for action in ("acknowledge", "resolve"):
            r = self.post({"routing_key": RK, "event_action": action, "dedup_key": "pd-live-1"})
            self.assertEqual((r.status, r.json), (202, dict(SUCCESS, dedup_key="pd-live-1")), r)
        self.assertEqual(outcome(self.g, "ignored"), 2)
        writes = [q for q in self.api.requests() if q["method"] in ("POST", "PUT", "PATCH", "DELETE")]
        self.assertEqual(writes, [])
        rrs = self.rrs()
        self.assertEqual((len(rrs), self.count(rrs[0])), (1, 3))

    def test_missing_target_is_pagerdutys_400(self):
        r = self.post(trigger("pd-gone", "no-such-pod"))
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["status"], "invalid event")
        self.assertEqual(len(r.json["errors"]), 1)
        self.assertTrue(r.json["errors"][0].startswith("target_not_found: production:Pod:no-such-pod"), r.json)
        self.assertEqual(self.rrs(), [])

    def test_twenty_concurrent_identical_triggers_make_one_rr(self):
        self.deployment_pod("web", "web-rs-c1")
        body = trigger("pd-conc", "web-rs-c1")
        with concurrent.futures.ThreadPoolExecutor(20) as ex:
            replies = list(ex.map(lambda _: self.post(body), range(20)))
        self.assertEqual([r.status for r in replies], [202] * 20, [r.body for r in replies if r.status != 202])
        self.assertTrue(all(r.json == dict(SUCCESS, dedup_key="pd-conc") for r in replies))
        rrs = self.rrs()
        self.assertEqual(len(rrs), 1)
        self.assertEqual(self.count(rrs[0]), 20)
        self.assertEqual((outcome(self.g, "created"), outcome(self.g, "duplicate")), (1, 19))

    def test_change_event_touches_no_rr(self):
        self.api.clear_requests()
        r = self.post({"routing_key": RK, "payload": {"summary": "deployed payment-api v2", "source": "ci"}},
                      path="/v2/change/enqueue")
        self.assertEqual((r.status, r.json), (202, {"status": "success", "message": "Change event processed"}), r)
        self.assertEqual(outcome(self.g, "ignored", "pagerduty-change"), 1)
        self.assertEqual([q for q in self.api.requests() if "remediationrequests" in q["path"]
                          and q["method"] != "GET"], [])
        self.assertEqual(self.rrs(), [])


if __name__ == "__main__":
    unittest.main()
