"""A real Prometheus 2.42 scrapes the gateway's /metrics: the target is up, the counters it
stores match what the test sent, the exposition passes `promtool check metrics`, and an
alerting rule on the gateway's own target travels Prometheus → Alertmanager → gateway →
RemediationRequest.

One environment for the class (Prometheus's discovery manager hands the first targets to
the scrape manager only after ~5 s, so it is started once): the API test server, Redis, the
scraped gateway (fed only by the test, so its counters are known exactly), a second gateway
that receives Alertmanager's webhooks, Alertmanager, Prometheus."""
import base64
import json
import subprocess
import unittest

from peers import PROMTOOL, E2ETestCase, am_config, brief, gateway_metrics, metric, settled_metrics, wait_until
from harness import webhook

AM = {"Authorization": "Bearer am-token"}
ROUTE = "/api/v1/signals/prometheus"
SCRAPE_NAMES = ["E2EScrape" + c for c in "ABCDEFG"]
# what send_known_traffic() sends: 3 webhooks (2 + 3 + 2 new alerts) and a re-send of the first
WANT = {"received": 9, "created": 7, "duplicate": 2, "webhooks": 4}


def alerts(names, pod="pod-0"):
    return [{"labels": {"alertname": n, "namespace": "production", "pod": pod, "severity": "critical"}}
            for n in names]


class PrometheusTests(E2ETestCase):
    @classmethod
    def setUpClass(cls):
        env = cls.class_env()
        try:
            cls.api = env.start_api()
            cls.redis = env.start_redis()
            cls.g = env.k8s_gateway(cls.api, cls.redis, title="gateway (scraped)")
            cls.g2 = env.k8s_gateway(cls.api, cls.redis, title="gateway (alertmanager's receiver)")
            cls.am = env.start_alertmanager(am_config([cls.g2.port]))
            cls.send_known_traffic()
            rules = {"groups": [{"name": "e2e", "interval": "1s", "rules": [{
                "alert": "E2EGatewayScraped",
                "expr": 'up{job="signal-gateway"} == 1',
                "labels": {"severity": "critical", "namespace": "production", "deployment": "signal-gateway"},
                "annotations": {"summary": "gateway {{ $labels.instance }} is scraped"}}]}]}
            cls.prom = env.start_prometheus(["127.0.0.1:%d" % cls.g.port], rules=rules,
                                            alertmanagers=["127.0.0.1:%d" % cls.am.port])
            wait_until("the gateway target to be up in Prometheus", lambda: [
                t for t in cls.prom.targets() if t["labels"].get("job") == "signal-gateway" and t["health"] == "up"],
                30)
        except BaseException:
            cls.class_setup_failed()
            raise

    @classmethod
    def send_known_traffic(cls):
        first = webhook(alerts(SCRAPE_NAMES[:2]))
        for body, want in ((first, 201), (webhook(alerts(SCRAPE_NAMES[2:5])), 201),
                           (webhook(alerts(SCRAPE_NAMES[5:])), 201), (first, 202)):
            r = cls.g.alert(body, headers=AM)
            assert r.status == want, r

    def scalar(self, q):
        res = self.prom.query(q)
        return float(res[0]["value"][1]) if res else None

    def scraped_rrs(self):
        return [x for x in self.api.rrs("production") if x["spec"]["signalName"] in SCRAPE_NAMES]

    def test_prometheus_scrapes_the_counters_of_what_was_sent(self):
        targets = [t for t in self.prom.targets() if t["labels"].get("job") == "signal-gateway"]
        self.assertEqual([t["scrapeUrl"] for t in targets], ["http://127.0.0.1:%d/metrics" % self.g.port])
        self.assertEqual(self.scalar('up{job="signal-gateway"}'), 1.0)
        self.assertEqual(len(self.scraped_rrs()), WANT["created"])
        # the traffic was sent before Prometheus started: its first scrape has the final values
        wait_until("gateway_signals_received_total == %d in Prometheus" % WANT["received"],
                   lambda: self.scalar('sum(gateway_signals_received_total{job="signal-gateway"})')
                   == WANT["received"], 15)
        res = self.prom.query('gateway_signals_received_total{job="signal-gateway"}')
        self.assertEqual([(r["metric"].get("source_type"), float(r["value"][1])) for r in res],
                         [("prometheus", float(WANT["received"]))])
        for outcome in ("created", "duplicate"):
            self.assertEqual(self.scalar('sum(gateway_signals_total{outcome="%s"})' % outcome), WANT[outcome],
                             outcome)
        self.assertEqual(self.scalar('sum(gateway_http_requests_total{endpoint="%s"})' % ROUTE), WANT["webhooks"])
        self.assertEqual(self.scalar('sum(gateway_http_requests_total{endpoint="%s",status="201"})' % ROUTE), 3.0)
        self.assertEqual(self.scalar('sum(gateway_crds_created_total)'), WANT["created"])
        self.assertEqual(self.scalar('gateway_build_info'), 1.0)
        # the histogram is usable as one: its _count agrees with the request counter
        self.assertEqual(self.scalar('sum(gateway_http_request_duration_seconds_count{endpoint="%s"})' % ROUTE),
                         WANT["webhooks"])
        q = self.scalar('histogram_quantile(0.5, sum by (le) '
                        '(gateway_http_request_duration_seconds_bucket{endpoint="%s"}))' % ROUTE)
        self.assertTrue(q is not None and 0 < q <= 10, q)

    def test_promtool_check_metrics_is_clean(self):
        r = self.g.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"), r.headers)
        self.assertIn(b"gateway_signals_received_total", r.body)
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=r.body, capture_output=True, timeout=30)
        self.assertEqual((p.returncode, p.stdout.decode() + p.stderr.decode()), (0, ""), r.body.decode()[:3000])

    def test_created_counter_carries_the_environment_and_priority_of_the_rrs(self):
        # gateway_crds_created_total carries environment and priority: its
        # labels must be those of the RRs it counted (production/P0: the Kubernetes sink
        # classified the namespace by its `environment` label)
        rrs = self.scraped_rrs()
        self.assertEqual({(x["spec"]["environment"], x["spec"]["priority"]) for x in rrs}, {("production", "P0")})
        wait_until("the created counter in Prometheus",
                   lambda: self.scalar('sum(gateway_crds_created_total)') == WANT["created"], 15)
        res = self.prom.query('sum by (environment, priority) (gateway_crds_created_total)')
        got = {(r["metric"].get("environment"), r["metric"].get("priority")): float(r["value"][1]) for r in res}
        self.assertEqual(got, {("production", "P0"): float(WANT["created"])},
                         "the counter disagrees with the RRs it counted; the scraped gateway says:\n"
                         + brief(gateway_metrics(self.g)))

    def test_alert_rule_on_the_gateway_travels_through_alertmanager_into_an_rr(self):
        items = wait_until("the RR of Prometheus's E2EGatewayScraped alert", lambda: [
            x for x in self.api.rrs("production") if x["spec"]["signalName"] == "E2EGatewayScraped"], 30)
        self.assertEqual(len(items), 1)
        spec = items[0]["spec"]
        labels = spec["signalLabels"]
        instance = "127.0.0.1:%d" % self.g.port
        self.assertEqual((labels["job"], labels["instance"]), ("signal-gateway", instance))
        self.assertEqual(spec["signalAnnotations"]["summary"], "gateway %s is scraped" % instance)
        self.assertEqual((spec["environment"], spec["priority"]), ("production", "P0"))
        pd = json.loads(base64.b64decode(spec["providerData"]))
        self.assertEqual(pd["resource"], {"kind": "Deployment", "name": "signal-gateway", "namespace": "production"})
        original = json.loads(base64.b64decode(spec["originalPayload"]))
        self.assertTrue(original["generatorURL"].startswith(self.prom.url + "/graph?"), original)
        # Alertmanager's fingerprint of the alert is the one Alertmanager reports
        am_alerts = [a for a in self.am.alerts() if a["labels"]["alertname"] == "E2EGatewayScraped"]
        self.assertEqual(len(am_alerts), 1)
        self.assertEqual(items[0]["metadata"]["annotations"]["kubernaut.io/alertmanager-fingerprint"],
                         am_alerts[0]["fingerprint"])
        # the receiving gateway counted exactly that one creation
        m = settled_metrics(self.g2, "the receiving gateway to count the creation",
                            lambda m: metric(m, "gateway_signals_total", outcome="created") >= 1)
        self.assertEqual(metric(m, "gateway_signals_total", outcome="created"), 1.0, brief(m))


if __name__ == "__main__":
    unittest.main()
