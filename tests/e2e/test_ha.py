"""An Alertmanager HA pair (two prometheus-alertmanager processes gossiping on loopback)
in front of two gateway replicas that share one Redis: each Alertmanager is configured with
BOTH replicas (one webhook_configs entry per replica), so every notification reaches both
replicas at the same moment, and the pair itself may notify twice. The API server must end
with exactly one RemediationRequest per fingerprint."""
import collections
import time
import unittest

from peers import E2ETestCase, am_config, brief, free_port, gateway_metrics, metric, rfc3339, wait_until

ROUTE = "/api/v1/signals/prometheus"


class AlertmanagerHATests(E2ETestCase):
    def test_ha_pair_and_two_replicas_make_exactly_one_rr_per_fingerprint(self):
        api = self.start_api()
        redis = self.start_redis()
        env = {"SGW_STATE_PREFIX": "e2e-ha:"}     # both replicas share the dedup state
        gws = [self.k8s_gateway(api, redis, env=env, title="gateway-%d" % i) for i in (1, 2)]
        cfg = am_config([g.port for g in gws], group_by=("namespace",))
        p1, p2 = free_port(), free_port()
        am1 = self.start_alertmanager(cfg, cluster=(p1, [p2]), peer_timeout="500ms", label="alertmanager-1")
        am2 = self.start_alertmanager(cfg, cluster=(p2, [p1]), peer_timeout="500ms", label="alertmanager-2")
        wait_until("the two alertmanagers to see each other",
                   lambda: len(am1.cluster_peers()) == 2 and len(am2.cluster_peers()) == 2, 15)

        # 8 distinct alert names (one pod each: no storm), the same alerts pushed to both
        # members as Prometheus does with an HA pair
        t0 = time.time()
        names = ["E2EHAAlert%d" % i for i in range(8)]
        alerts = [{"labels": {"alertname": n, "namespace": "production", "pod": "ha-%d" % i,
                              "severity": "critical"}, "startsAt": rfc3339(t0)} for i, n in enumerate(names)]
        am1.push(alerts)
        am2.push(alerts)
        wait_until("8 RRs", lambda: len(api.rrs("production")) >= 8, 20)
        # both replicas must have received the notification (each AM posts to both)
        wait_until("both replicas to have processed the 8 alerts", lambda: all(
            metric(gateway_metrics(g), "gateway_signals_received_total") >= 8 for g in gws), 15)
        # a second wave while the first is still firing: the group is re-sent with 8 old + 4 new
        more = [{"labels": {"alertname": "E2EHAAlert%d" % i, "namespace": "production", "pod": "ha-%d" % i,
                            "severity": "critical"}, "startsAt": rfc3339(time.time())} for i in range(8, 12)]
        am1.push(more)
        am2.push(more)
        wait_until("12 RRs", lambda: len(api.rrs("production")) >= 12, 20)
        wait_until("both replicas to have processed the second wave", lambda: all(
            metric(gateway_metrics(g), "gateway_signals_received_total") >= 20 for g in gws), 15)

        items = api.rrs("production")
        by_fp = collections.Counter(x["spec"]["signalFingerprint"] for x in items)
        self.assertEqual(len(items), 12, sorted(x["metadata"]["name"] for x in items))
        self.assertEqual(max(by_fp.values()), 1, by_fp)
        self.assertEqual(sorted(x["spec"]["signalName"] for x in items),
                         sorted(names + ["E2EHAAlert%d" % i for i in range(8, 12)]))

        def settled():   # every received signal has its outcome counted, nothing in flight
            ms = [gateway_metrics(g) for g in gws]
            outcomes = sum(metric(m, "gateway_signals_total") for m in ms)
            received = sum(metric(m, "gateway_signals_received_total") for m in ms)
            busy = sum(metric(m, "gateway_http_requests_in_flight") for m in ms)
            return outcomes == received and busy == 0 and ms

        ms = wait_until("both replicas to be idle", settled, 10)
        created = sum(metric(m, "gateway_signals_total", outcome="created") for m in ms)
        dups = sum(metric(m, "gateway_signals_total", outcome="duplicate") for m in ms)
        received = sum(metric(m, "gateway_signals_received_total") for m in ms)
        diag = "\n\n".join(brief(m) for m in ms)
        self.assertEqual(created, 12, diag)             # one creation per fingerprint, across replicas
        self.assertEqual(dups, received - 12, diag)     # everything else was a duplicate
        self.assertGreaterEqual(received, 2 * 20, diag)  # each replica saw 8 + 12
        for m in ms:   # no replica ever had to answer anything but 201/202
            total = metric(m, "gateway_http_requests_total", endpoint=ROUTE)
            ok = metric(m, "gateway_http_requests_total", endpoint=ROUTE, status="201") + \
                metric(m, "gateway_http_requests_total", endpoint=ROUTE, status="202")
            self.assertEqual(total, ok, diag)
        # the shared Redis state decided each fingerprint once: the API server got exactly one
        # create per RR (an AlreadyExists 409 would mean two replicas both tried to create it)
        posts = [(r["path"], r["status"]) for r in api.requests()
                 if r["method"] == "POST" and r["path"].endswith("/remediationrequests")]
        statuses = collections.Counter(st for _, st in posts)
        self.assertEqual(statuses, {201: 12}, statuses)


if __name__ == "__main__":
    unittest.main()
