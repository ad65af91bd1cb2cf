"""Signal paths end to end on the embedded default: created, duplicate, storm, resolved,
Kubernetes Events, concurrency, and the written manifest checked field by field."""
import base64
import hashlib
import json
import threading
import time
import unittest

from harness import Gateway, fixture, pod_alert, webhook


def sleep_until(t):
    """Sleeps until time.time() (the gateway's clock: CLOCK_REALTIME) is at least t."""
    while True:
        left = t - time.time()
        if left <= 0:
            return
        time.sleep(left)


class SignalTests(unittest.TestCase):
    def gw(self, config="", **kw):
        g = Gateway(config, **kw)
        self.addCleanup(g.stop)
        return g

    def test_firing_alert_creates_one_rr_per_alert_with_201(self):
        g = self.gw()
        r = g.alert(fixture("pod-crashloop-firing-2-alerts.json"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["status"], "created")
        self.assertEqual([x["status"] for x in r.json["results"]], ["created", "created"])
        self.assertEqual(len(g.rr_files()), 2)
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertTrue(r.headers.get("x-request-id"))

    def test_manifest_fields_match_the_spec(self):
        g = self.gw("environment:\n  namespaces:\n    production: production\n")
        body = fixture("pod-crashloop-firing-2-alerts.json")
        r = g.alert(body)
        self.assertEqual(r.status, 201, r)
        res = r.json["results"][0]
        key = "KubePodCrashLooping:production:Pod:payment-api-7d9f8b6c4-q8w7e"
        fp = hashlib.sha256(key.encode()).hexdigest()
        self.assertEqual(res["fingerprint"], fp)
        self.assertEqual(res["alertmanagerFingerprint"], "49691cefe52f24fd")
        self.assertEqual(res["remediationRequest"], "production/rr-" + fp[:16])
        path = "%s/production/rr-%s.json" % (g.rr_dir, fp[:16])
        with open(path) as f:
            rr = json.load(f)
        self.assertEqual(rr["apiVersion"], "remediation.kubernaut.io/v1alpha1")
        self.assertEqual(rr["kind"], "RemediationRequest")
        md = rr["metadata"]
        self.assertEqual(md["name"], "rr-" + fp[:16])
        self.assertEqual(md["namespace"], "production")
        lb = md["labels"]
        self.assertEqual(lb["app.kubernetes.io/managed-by"], "signal-gateway")
        self.assertEqual(lb["app.kubernetes.io/component"], "remediation")
        self.assertEqual(lb["kubernaut.io/signal-type"], "prometheus-alert")
        self.assertEqual(lb["kubernaut.io/signal-fingerprint"], fp[:63])
        self.assertEqual(lb["kubernaut.io/severity"], "critical")
        self.assertEqual(lb["kubernaut.io/environment"], "production")
        self.assertEqual(lb["kubernaut.io/priority"], "P0")
        self.assertNotIn("kubernaut.io/storm", lb)
        self.assertRegex(md["annotations"]["kubernaut.io/created-at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        sp = rr["spec"]
        self.assertEqual(sp["signalFingerprint"], fp)
        self.assertEqual(sp["signalName"], "KubePodCrashLooping")
        self.assertEqual(sp["severity"], "critical")
        self.assertEqual(sp["environment"], "production")
        self.assertEqual(sp["priority"], "P0")
        self.assertEqual(sp["signalType"], "prometheus-alert")
        self.assertEqual(sp["targetType"], "kubernetes")
        self.assertEqual(sp["firingTime"], "2026-11-26T21:50:10Z")
        self.assertRegex(sp["receivedTime"], r"Z$")
        self.assertEqual(sp["deduplication"]["isDuplicate"], False)
        self.assertEqual(sp["deduplication"]["occurrenceCount"], 1)
        self.assertFalse(sp["isStorm"])
        self.assertEqual(sp["signalLabels"]["pod"], "payment-api-7d9f8b6c4-q8w7e")
        self.assertEqual(sp["signalLabels"]["job"], "kube-state-metrics")
        self.assertIn("crash looping", sp["signalAnnotations"]["summary"])
        pd = json.loads(base64.b64decode(sp["providerData"]))
        self.assertEqual(pd["namespace"], "production")
        self.assertEqual(pd["resource"], {"kind": "Pod", "name": "payment-api-7d9f8b6c4-q8w7e", "namespace": "production"})
        orig = json.loads(base64.b64decode(sp["originalPayload"]))
        self.assertEqual(orig["fingerprint"], "49691cefe52f24fd")

    def test_duplicate_answers_202_counts_and_refreshes_the_ttl(self):
        # End to end with the shortest TTL (1 s); the window's arithmetic, time stepped
        # exactly, is test_store.c's test_duplicates_keep_the_window_past_its_ttl_and_it_ends_a_ttl_after_the_last.
        # The gateway stamps a sighting between the request's send and its answer (its
        # clock is time.time()'s), so each wait below is a bound, not a guess: a slow
        # machine makes it longer, never wrong.
        ttl = 1.0
        g = self.gw("dedup:\n  ttl: 1s\n")
        for attempt in range(3):
            one = webhook([pod_alert("DupAlert%d" % attempt, "api-1")])
            first_sent = time.time()
            r = g.alert(one)
            first_answered = time.time()
            self.assertEqual(r.status, 201, r)
            sleep_until(first_answered + ttl / 2)
            second_sent = time.time()
            r = g.alert(one)
            if time.time() - first_sent >= ttl - 0.02:
                continue   # too slow to tell: the first window may have ended before it
            self.assertEqual(r.status, 202, r)
            self.assertEqual(r.json["results"][0]["status"], "duplicate", r)
            self.assertEqual(r.json["results"][0]["count"], 2, r)
            # past the first sighting's TTL, within the second's: the window goes on
            sleep_until(first_answered + ttl + 0.02)
            r = g.alert(one)
            third_answered = time.time()
            if third_answered - second_sent >= ttl - 0.02:
                continue   # too slow to tell: the second sighting's TTL may have run out
            self.assertEqual(r.status, 202, r)
            self.assertEqual(r.json["results"][0]["status"], "duplicate", r)
            self.assertEqual(r.json["results"][0]["count"], 3, "TTL was not refreshed: %r" % r)
            break
        else:
            self.fail("three times the sightings took too long to tell within a TTL of 1 s: the machine is too slow")
        # a TTL after the last sighting the window is over: the next sighting starts a new
        # window, and the RR of that name exists
        sleep_until(third_answered + ttl + 0.02)
        r = g.alert(one)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["results"][0]["status"], "duplicate", r)
        self.assertEqual(r.json["results"][0]["reason"], "RemediationRequest already exists", r)
        self.assertEqual(len(g.rr_files()), attempt + 1, g.rr_files())   # one RR per alert tried

    def test_twenty_concurrent_identical_requests_make_exactly_one_rr(self):
        g = self.gw()
        body = json.dumps(webhook([pod_alert("Concurrent", "api-7")])).encode()
        results = []
        lock = threading.Lock()

        def send():
            r = g.alert(body)
            with lock:
                results.append(r)

        threads = [threading.Thread(target=send) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        statuses = sorted(r.status for r in results)
        self.assertEqual(len(results), 20)
        self.assertEqual(statuses.count(201), 1, statuses)
        self.assertEqual(statuses.count(202), 19, statuses)
        self.assertEqual(len(g.rr_files()), 1)
        counts = sorted(r.json["results"][0]["count"] for r in results if r.status == 202)
        self.assertEqual(counts, list(range(2, 21)))

    def test_fifty_alert_storm_webhook_becomes_one_aggregated_rr(self):
        g = self.gw()
        r = g.alert(fixture("oom-storm-50-alerts.json"))
        self.assertEqual(r.status, 201, r)
        sts = [x["status"] for x in r.json["results"]]
        self.assertEqual(len(sts), 50)
        self.assertEqual(sts.count("created"), 1)
        self.assertEqual(sts.count("aggregated"), 49)
        self.assertTrue(all(x["isStorm"] for x in r.json["results"]))
        self.assertEqual(len({x["remediationRequest"] for x in r.json["results"]}), 1)
        rrs = g.rrs()
        self.assertEqual(len(rrs), 1, [x["metadata"]["name"] for x in rrs])
        sp = rrs[0]["spec"]
        self.assertTrue(sp["isStorm"])
        self.assertEqual(sp["stormAlertCount"], 50)
        self.assertEqual(len(sp["affectedResources"]), 50)
        self.assertIn(sp["stormType"], ("rate", "pattern"))
        self.assertTrue(rrs[0]["metadata"]["name"].startswith("rr-storm-"))
        self.assertEqual(rrs[0]["metadata"]["labels"]["kubernaut.io/storm"], "true")
        # a re-delivery of the same webhook is all duplicates of the storm RR
        r = g.alert(fixture("oom-storm-50-alerts.json"))
        self.assertEqual(r.status, 202, r)
        self.assertEqual({x["status"] for x in r.json["results"]}, {"duplicate"})
        self.assertEqual(len(g.rr_files()), 1)

    def test_fifteen_separate_alerts_fold_into_a_storm_rr_whose_count_is_exact(self):
        g = self.gw("storm:\n  update_interval: 200ms\n")
        for i in range(15):
            r = g.alert(webhook([pod_alert("SeedStorm", "web-%02d" % i, ns="shop")]))
            self.assertIn(r.status, (201, 202), r)
        deadline = time.time() + 5
        while time.time() < deadline:
            storm = [x for x in g.rrs() if x["spec"]["isStorm"]]
            if storm and storm[0]["spec"]["stormAlertCount"] == 10:
                break
            time.sleep(0.1)
        rrs = g.rrs()
        single = [x for x in rrs if not x["spec"]["isStorm"]]
        storm = [x for x in rrs if x["spec"]["isStorm"]]
        self.assertEqual(len(single), 5)   # pattern threshold 5: the 6th opens the storm
        self.assertEqual(len(storm), 1)
        self.assertEqual(storm[0]["spec"]["stormType"], "pattern")
        self.assertEqual(storm[0]["spec"]["stormAlertCount"], 10)
        self.assertEqual(len(storm[0]["spec"]["affectedResources"]), 10)
        self.assertLess(len(rrs), 15)

    def test_resolved_alert_closes_the_window_and_a_stale_firing_is_ignored(self):
        g = self.gw()
        r = g.alert(fixture("pod-crashloop-firing-2-alerts.json"))
        self.assertEqual(r.status, 201)
        r = g.alert(fixture("pod-crashloop-resolved.json"))
        self.assertEqual(r.status, 202, r)
        for x in r.json["results"]:
            self.assertEqual(x["status"], "ignored")
            self.assertTrue(x["reason"].startswith("resolved"))
        # the same firing (same startsAt) arriving late is stale
        r = g.alert(fixture("pod-crashloop-firing-2-alerts.json"))
        self.assertEqual(r.status, 202, r)
        self.assertTrue(all(x["reason"].startswith("stale") for x in r.json["results"]), r)
        self.assertEqual(len(g.rr_files()), 2)

    def test_resolved_only_alert_creates_no_rr(self):
        g = self.gw()
        r = g.alert(webhook([pod_alert("OnlyResolved", "x-1", status="resolved", endsAt="2026-11-26T22:00:00Z")],
                            status="resolved"))
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["results"][0]["status"], "ignored")
        self.assertEqual(g.rr_files(), [])

    def test_newer_firing_after_resolution_is_a_new_occurrence(self):
        g = self.gw()
        a = pod_alert("Flappy", "f-1", startsAt="2026-11-26T10:00:00Z")
        self.assertEqual(g.alert(webhook([a])).status, 201)
        res = dict(a, status="resolved", endsAt="2026-11-26T10:05:00Z")
        self.assertEqual(g.alert(webhook([res])).status, 202)
        again = dict(a, startsAt="2026-11-26T11:00:00Z")
        r = g.alert(webhook([again]))
        self.assertEqual(r.status, 202, r)   # same deterministic RR name: already exists
        self.assertEqual(r.json["results"][0]["status"], "duplicate")
        self.assertEqual(len(g.rr_files()), 1)

    def test_cluster_scoped_alert_goes_to_the_fallback_namespace(self):
        g = self.gw()
        r = g.alert(fixture("node-disk-pressure-firing.json"))
        self.assertEqual(r.status, 201, r)
        ref = r.json["results"][0]["remediationRequest"]
        self.assertTrue(ref.startswith("kubernaut-system/"), ref)
        rr = g.rrs()[0]
        self.assertEqual(rr["metadata"]["labels"]["kubernaut.io/cluster-scoped"], "true")

    def test_namespace_that_is_not_a_namespace_name_goes_to_the_fallback(self):
        g = self.gw()
        import os
        for bad in ("..", "../..", "a/b", "UPPER", "x" * 64):
            ev = {"type": "Warning", "reason": "BackOff",
                  "involvedObject": {"kind": "Pod", "name": "p", "namespace": bad}}
            r = g.post("/api/v1/signals/kubernetes-event", ev)
            self.assertEqual(r.status, 201, (bad, r))
            self.assertTrue(r.json["results"][0]["remediationRequest"].startswith("kubernaut-system/"), r)
        # everything stayed inside the sink directory, in the fallback namespace
        self.assertEqual({os.path.basename(os.path.dirname(p)) for p in g.rr_files()}, {"kubernaut-system"})
        self.assertEqual(sorted(os.listdir(g.rr_dir)), ["kubernaut-system"])
        self.assertEqual([f for f in os.listdir(g.dir) if f.endswith(".json")], [])
        anns = {rr["metadata"]["annotations"].get("kubernaut.io/origin-namespace") for rr in g.rrs()}
        self.assertIn("../..", anns)

    def test_warning_event_creates_and_normal_event_is_ignored(self):
        g = self.gw()
        ev = {"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "BackOff",
              "message": "Back-off restarting failed container",
              "involvedObject": {"kind": "Pod", "name": "api-0", "namespace": "staging"},
              "firstTimestamp": "2026-11-26T21:00:00Z", "lastTimestamp": "2026-11-26T21:01:00Z", "count": 3,
              "source": {"component": "kubelet", "host": "node-1"}}
        r = g.post("/api/v1/signals/kubernetes-event", ev)
        self.assertEqual(r.status, 201, r)
        rr = g.rrs()[0]
        self.assertEqual(rr["spec"]["signalType"], "kubernetes-event")
        self.assertEqual(rr["spec"]["signalName"], "BackOff")
        self.assertEqual(rr["metadata"]["namespace"], "staging")
        ev2 = dict(ev, type="Normal", reason="Pulled")
        r = g.post("/api/v1/signals/kubernetes-event", ev2)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["results"][0]["status"], "ignored")
        self.assertEqual(len(g.rr_files()), 1)

    def test_webhook_alias_route_is_served(self):
        g = self.gw()
        r = g.post("/webhook/prometheus", fixture("deployment-memory-firing.json"))
        self.assertEqual(r.status, 201, r)

    def test_static_token_auth(self):
        import os
        g0 = Gateway()   # only for its temp dir
        g0.stop()
        tok = os.path.join(g0.dir, "tokens")
        with open(tok, "w") as f:
            f.write("# tokens\ntest-token-abc\n")
        os.chmod(tok, 0o600)
        g = self.gw(args=["--auth", "static:" + tok])
        body = fixture("deployment-memory-firing.json")
        r = g.alert(body)
        self.assertEqual(r.status, 401, r)
        self.assertIn("bearer", r.headers["www-authenticate"].lower())
        self.assertEqual(r.json["error"]["code"], "unauthorized")
        r = g.alert(body, headers={"Authorization": "Bearer wrong"})
        self.assertEqual(r.status, 401)
        r = g.alert(body, headers={"Authorization": "Bearer test-token-abc"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(g.get("/healthz").status, 200)   # no token needed
        self.assertNotIn("test-token-abc", g.logs())


if __name__ == "__main__":
    unittest.main()
