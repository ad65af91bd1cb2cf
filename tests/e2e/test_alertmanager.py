"""Alertmanager → gateway → Kubernetes API test server, with the dedup/storm state in a
real Redis and TokenReview/SubjectAccessReview auth of Alertmanager's bearer token.

A real prometheus-alertmanager 0.25 receives the alerts (POST /api/v2/alerts), groups them
and delivers webhooks to the gateway; the tests look at what ends up in the API server and
at the gateway's own counters."""
import time
import unittest

from peers import E2ETestCase, am_config, brief, metric, rfc3339, settled_metrics, wait_until


ROUTE = "/api/v1/signals/prometheus"


def pod_alert(name, pod, ns="production", severity="critical", starts=None, ends=None):
    a = {"labels": {"alertname": name, "namespace": ns, "pod": pod, "severity": severity},
         "annotations": {"summary": "%s on %s" % (name, pod)}}
    if starts:
        a["startsAt"] = rfc3339(starts)
    if ends:
        a["endsAt"] = rfc3339(ends)
    return a


class AlertmanagerToApiTests(E2ETestCase):
    @classmethod
    def setUpClass(cls):
        env = cls.class_env()
        cls.api = env.start_api()
        cls.redis = env.start_redis()

    def setUp(self):
        super().setUp()
        self.api.reset()
        self.api.namespace("kubernaut-system")
        self.api.namespace("production", {"environment": "production"})

    def rrs_named(self, name, ns="production"):
        return [x for x in self.api.rrs(ns) if x["spec"]["signalName"] == name]

    def test_firing_alerts_become_rrs_and_alertmanager_resends_are_duplicates(self):
        g = self.k8s_gateway(self.api, self.redis)
        am = self.start_alertmanager(am_config([g.port], repeat_interval="3s"))
        t0 = time.time()
        am.push([pod_alert("E2EPodCrashLooping", "web-%d" % i, starts=t0) for i in range(3)])
        items = wait_until("3 RRs in the API", lambda: len(self.rrs_named("E2EPodCrashLooping")) == 3
                           and self.rrs_named("E2EPodCrashLooping"), 15)
        # each RR describes its alert; the Alertmanager fingerprint links back to Alertmanager
        am_fps = {a["labels"]["pod"]: a["fingerprint"] for a in am.alerts()}
        self.assertEqual(sorted(x["spec"]["signalLabels"]["pod"] for x in items), ["web-0", "web-1", "web-2"])
        for rr in items:
            self.assertEqual(rr["metadata"]["name"], "rr-" + rr["spec"]["signalFingerprint"][:16])
            self.assertEqual(rr["spec"]["environment"], "production")   # from the namespace label
            self.assertEqual(rr["spec"]["priority"], "P0")              # critical + production
            self.assertFalse(rr["spec"]["isStorm"])
            self.assertEqual(rr["metadata"]["annotations"]["kubernaut.io/alertmanager-fingerprint"],
                             am_fps[rr["spec"]["signalLabels"]["pod"]])
        # a 4th alert in the same group: Alertmanager re-sends the group (3 duplicates + 1 new),
        # then repeat_interval re-sends all 4 again (4 duplicates)
        am.push([pod_alert("E2EPodCrashLooping", "web-3", starts=time.time())])
        wait_until("4 RRs", lambda: len(self.rrs_named("E2EPodCrashLooping")) == 4, 15)
        m = settled_metrics(g, "7 duplicates counted by the gateway",
                            lambda m: metric(m, "gateway_signals_total", outcome="duplicate") >= 7)
        self.assertEqual(metric(m, "gateway_signals_total", outcome="created"), 4, brief(m))
        self.assertEqual(len(self.rrs_named("E2EPodCrashLooping")), 4)
        # every webhook was authenticated (TokenReview + SAR once, then the cache)
        self.assertEqual(metric(m, "gateway_auth_total", result="allowed"), metric(m, "gateway_http_requests_total",
                                                                                    endpoint=ROUTE), brief(m))
        self.assertEqual(metric(m, "gateway_auth_cache_hits_total"), metric(m, "gateway_auth_total") - 1, brief(m))
        n = am.notifications()
        self.assertGreaterEqual(n["requests"], 3, n)
        self.assertEqual(n["requests_failed"], 0, n)
        # every webhook was accepted: 201 for the two batches with a new alert, 202 for re-sends
        total = metric(m, "gateway_http_requests_total", endpoint=ROUTE)
        self.assertGreaterEqual(total, 3, brief(m))
        self.assertEqual(metric(m, "gateway_http_requests_total", endpoint=ROUTE, status="201"), 2, brief(m))
        self.assertEqual(metric(m, "gateway_http_requests_total", endpoint=ROUTE, status="202"), total - 2, brief(m))

    def test_resolved_alerts_are_acknowledged_and_create_nothing(self):
        g = self.k8s_gateway(self.api, self.redis)
        am = self.start_alertmanager(am_config([g.port]))
        t0 = time.time()   # now: Alertmanager waits group_wait and sends both in one webhook
        alerts = [pod_alert("E2ENodeDiskFull", "db-%d" % i, severity="warning", starts=t0) for i in range(2)]
        am.push(alerts)
        items = wait_until("2 RRs", lambda: len(self.rrs_named("E2ENodeDiskFull")) == 2
                           and self.rrs_named("E2ENodeDiskFull"), 15)
        self.assertEqual({x["spec"]["priority"] for x in items}, {"P1"})   # warning + production
        before = {x["metadata"]["name"]: x["metadata"]["resourceVersion"] for x in items}
        # resolve: same alerts with endsAt in the past → Alertmanager sends status "resolved"
        for a in alerts:
            a["endsAt"] = rfc3339(time.time() - 1)
        am.push(alerts)
        wait_until("Alertmanager to see the alerts resolved", lambda: am.alerts(active=True) == [], 10)
        m = settled_metrics(g, "the resolved webhook to be processed",
                            lambda m: metric(m, "gateway_signals_total", outcome="resolved") >= 2
                            and metric(m, "gateway_http_requests_total", endpoint=ROUTE) >= 2)
        self.assertEqual(metric(m, "gateway_signals_total", outcome="created"), 2, brief(m))
        # (exactly 2 received + 2 resolved unless an Alertmanager tick fell between the two
        # resolved alerts' arrival and split them over two webhooks)
        self.assertGreaterEqual(metric(m, "gateway_signals_received_total"), 4, brief(m))
        self.assertEqual(metric(m, "gateway_http_requests_total", endpoint=ROUTE, status="201"), 1, brief(m))
        self.assertEqual(metric(m, "gateway_http_requests_total", endpoint=ROUTE),
                         1 + metric(m, "gateway_http_requests_total", endpoint=ROUTE, status="202"), brief(m))
        after = {x["metadata"]["name"]: x["metadata"]["resourceVersion"] for x in self.rrs_named("E2ENodeDiskFull")}
        self.assertEqual(after, before)   # no new RR, the existing ones untouched
        self.assertEqual(len(self.api.rrs()), 2)

    def test_fifty_alert_storm_is_one_aggregated_rr_that_keeps_counting(self):
        g = self.k8s_gateway(self.api, self.redis)
        am = self.start_alertmanager(am_config([g.port]))
        t0 = time.time()
        am.push([pod_alert("E2EStorm", "storm-%02d" % i, severity="warning", starts=t0) for i in range(50)])

        def storm(count):
            items = self.rrs_named("E2EStorm")
            s = [x for x in items if x["spec"].get("isStorm")]
            return len(s) == 1 and s[0]["spec"].get("stormAlertCount") == count and items

        items = wait_until("one storm RR with stormAlertCount 50", lambda: storm(50), 15)
        self.assertEqual(len(items), 1, [x["metadata"]["name"] for x in items])   # no single RRs
        rr = items[0]
        self.assertTrue(rr["metadata"]["name"].startswith("rr-storm-"), rr["metadata"]["name"])
        self.assertEqual(rr["metadata"]["labels"].get("kubernaut.io/storm"), "true")
        self.assertEqual(len(rr["spec"]["affectedResources"]), 50)
        self.assertEqual(rr["spec"]["environment"], "production")
        m = settled_metrics(g, "the storm webhook to be counted",
                            lambda m: metric(m, "gateway_http_requests_total", endpoint=ROUTE) >= 1)
        self.assertEqual(metric(m, "gateway_signals_received_total"), 50, brief(m))
        self.assertEqual(metric(m, "gateway_signals_total", outcome="created")
                         + metric(m, "gateway_signals_total", outcome="aggregated"), 50, brief(m))
        # 10 more pods join: Alertmanager re-sends the group of 60 (50 duplicates, 10 folded in);
        # the storm RR is rewritten (coalesced, at most once a second) to 60
        am.push([pod_alert("E2EStorm", "storm-%02d" % i, severity="warning", starts=time.time())
                 for i in range(50, 60)])
        items = wait_until("the storm RR updated to 60", lambda: storm(60), 20)
        self.assertEqual(len(items), 1)
        self.assertEqual(len(items[0]["spec"]["affectedResources"]), 60)
        self.assertEqual(sorted(items[0]["spec"]["affectedResources"]),
                         sorted("production:Pod:storm-%02d" % i for i in range(60)))
        # every one of the 60 alerts was folded in exactly once, every re-sent one was a duplicate
        m = settled_metrics(g, "the 10 new alerts to be counted as aggregated",
                            lambda m: metric(m, "gateway_signals_total", outcome="aggregated") >= 49 + 10)
        self.assertEqual(metric(m, "gateway_signals_total", outcome="created"), 1, brief(m))
        self.assertEqual(metric(m, "gateway_signals_total", outcome="aggregated"), 49 + 10, brief(m))
        self.assertEqual(metric(m, "gateway_signals_total", outcome="duplicate"),
                         metric(m, "gateway_signals_received_total") - 60, brief(m))
        self.assertGreaterEqual(metric(m, "gateway_signals_total", outcome="duplicate"), 50, brief(m))
        self.assertGreaterEqual(metric(m, "gateway_storm_updates_total"), 1, brief(m))


if __name__ == "__main__":
    unittest.main()
