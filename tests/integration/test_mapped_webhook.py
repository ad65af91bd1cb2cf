"""Any JSON webhook by mapping (POST /api/v1/signals/webhook/<name>) end to end on the
embedded default: created, duplicate, resolved, storm, every 4xx with its body, one alert per
body and a list of alerts, concurrency, --check-config refusing bad mappings with the key
named, and the kubernaut.ai/v1alpha1 contract in embedded mode."""
import hashlib
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BINARY, Gateway, assert_flat_rss

CONFIG = """\
webhooks:
  - name: uptime
    alerts: data.alerts
    fields:
      name: check.name
      namespace: target.namespace
      kind: target.kind
      resource: target.name
      severity: level
      status: state
      starts_at: started
      labels: tags
      annotations: info
    resolved_values: [resolved, ok]
  - name: ci
    fields:
      name: event
      namespace: ns
      kind: kind
      resource: items.0.name
      dedup_key: id
  - name: deploy
    fields:
      name: alert
      namespace: {value: shop}
      kind: {value: Deployment}
      resource: app
      severity: {value: warning}
"""
UPTIME = "/api/v1/signals/webhook/uptime"
CI = "/api/v1/signals/webhook/ci"


def alert(name="HttpDown", res="web", ns="shop", state="firing", level="critical", started=None):
    a = {"check": {"name": name}, "target": {"namespace": ns, "kind": "Deployment", "name": res},
         "level": level, "state": state, "tags": {"team": "web", "port": 443}, "info": {"summary": "probe failed"}}
    if started is not None:
        a["started"] = started
    return a


def body(alerts):
    return {"data": {"alerts": alerts}}


class MappedWebhook(unittest.TestCase):
    def gw(self, config=CONFIG, **kw):
        g = Gateway(config, **kw)
        self.addCleanup(g.stop)
        return g

    def test_created_then_duplicate(self):
        g = self.gw()
        r = g.post(UPTIME, body([alert(started=1795729000)]))
        self.assertEqual(r.status, 201, r)
        rrs = g.rrs()
        self.assertEqual(len(rrs), 1)
        sp = rrs[0]["spec"]
        self.assertEqual((sp["signalType"], sp["signalSource"]), ("webhook", "webhook/uptime"))
        self.assertEqual(sp["signalName"], "HttpDown")
        self.assertEqual(sp["severity"], "critical")
        self.assertEqual(sp["signalLabels"]["port"], "443")
        self.assertEqual(sp["signalAnnotations"]["summary"], "probe failed")
        self.assertEqual(rrs[0]["metadata"]["namespace"], "shop")
        r = g.post(UPTIME, body([alert(started=1795729000)]))
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["results"][0]["status"], "duplicate")
        self.assertEqual(r.json["results"][0]["count"], 2)
        m = g.get("/metrics").body.decode()
        self.assertIn('gateway_signals_total{source="webhook",outcome="created"} 1', m)
        self.assertIn('gateway_signals_total{source="webhook",outcome="duplicate"} 1', m)

    def test_resolved_is_not_firing(self):
        g = self.gw()
        self.assertEqual(g.post(UPTIME, body([alert()])).status, 201)
        r = g.post(UPTIME, body([alert(state="OK")]))   # resolved_values match case-insensitively
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["results"][0]["status"], "ignored")
        self.assertEqual(len(g.rr_files()), 1)

    def test_list_of_alerts_each_processed(self):
        g = self.gw()
        r = g.post(UPTIME, body([alert(res="a"), alert(res="b"), alert(name="Slow", res="c")]))
        self.assertEqual(r.status, 201, r)
        self.assertEqual([x["status"] for x in r.json["results"]], ["created"] * 3)
        self.assertEqual(len(g.rr_files()), 3)

    def test_one_alert_per_body_dedup_key_in_fingerprint(self):
        g = self.gw()
        ev = {"event": "BuildFailed", "ns": "ci", "kind": "Job", "items": [{"name": "build-1"}], "id": "run-7"}
        r = g.post(CI, ev)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(g.post(CI, ev).status, 202)
        r = g.post(CI, dict(ev, id="run-8"))   # another dedup key: another signal
        self.assertEqual(r.status, 201, r)
        rrs = g.rrs()
        self.assertEqual(len(rrs), 2)
        self.assertEqual(sorted(x["spec"]["signalLabels"]["dedup_key"] for x in rrs), ["run-7", "run-8"])
        self.assertEqual({x["spec"]["signalSource"] for x in rrs}, {"webhook/ci"})

    def test_storm_is_folded_into_one_rr(self):
        g = self.gw()
        r = g.post(UPTIME, body([alert(name="OOMKilled", res="worker-%d" % i) for i in range(50)]))
        self.assertEqual(r.status, 201, r)
        sts = [x["status"] for x in r.json["results"]]
        self.assertEqual((sts.count("created"), sts.count("aggregated")), (1, 49))
        rrs = g.rrs()
        self.assertEqual(len(rrs), 1)
        self.assertEqual(rrs[0]["spec"]["stormAlertCount"], 50)

    def test_every_4xx_has_our_error_body(self):
        g = self.gw()
        nested = alert()
        nested["check"]["name"] = {"en": "HttpDown"}
        listed = alert()
        listed["target"]["kind"] = ["Deployment"]
        cases = [
            ("/api/v1/signals/webhook/nope", body([alert()]), 404, "unknown_webhook", "nope"),
            (UPTIME, {"data": {}}, 400, "missing_field", "data.alerts: missing"),
            (UPTIME, body([{"check": {"name": "x"}, "target": {"kind": "Pod"}}]), 400, "missing_field",
             "data.alerts.0.target.name: missing (fields.resource)"),
            (UPTIME, body([nested]), 400, "invalid_field", "data.alerts.0.check.name: an object where a string is needed"),
            (UPTIME, body([listed]), 400, "invalid_field", "data.alerts.0.target.kind: an array where a string is needed"),
            (UPTIME, {"data": {"alerts": {"a": 1}}}, 400, "invalid_field", "data.alerts: expected an array"),
            (UPTIME, body([]), 400, "no_alerts", "data.alerts"),
            (CI, {"event": "x", "kind": "Job", "items": [{"name": "b"}], "id": {"k": 1}}, 400, "invalid_field",
             "id: an object where a string is needed (fields.dedup_key)"),
            (CI, b'{"event":', 400, "invalid_json", None),
        ]
        for path, b, status, code, msg in cases:
            r = g.post(path, b)
            self.assertEqual(r.status, status, (code, r))
            self.assertEqual(r.json["error"]["code"], code, r)
            if msg:
                self.assertIn(msg, r.json["error"]["message"])
        r = g.post(UPTIME, body([alert()]), content_type="text/plain")
        self.assertEqual((r.status, r.json["error"]["code"]), (415, "unsupported_media_type"), r)
        r = g.post("/api/v1/signals/webhook/", body([alert()]))
        self.assertEqual((r.status, r.json["error"]["code"]), (404, "not_found"), r)
        r = g.post("/api/v1/signals/webhook/uptime/more", body([alert()]))
        self.assertEqual(r.status, 404, r)
        r = g.request("GET", UPTIME)
        self.assertEqual((r.status, r.json["error"]["code"]), (405, "method_not_allowed"), r)
        self.assertEqual(g.rr_files(), [])
        m = g.get("/metrics").body.decode()
        # one bounded label value for every name, known or not
        self.assertIn('endpoint="/api/v1/signals/webhook/",method="POST",status="404"', m)
        self.assertNotIn("webhook/nope", m)

    def test_fixed_values_complete_a_body_without_them(self):
        g = self.gw()
        r = g.post("/api/v1/signals/webhook/deploy", {"alert": "ReplicasMismatch", "app": "web", "kind": "Pod"})
        self.assertEqual(r.status, 201, r)
        fp = hashlib.sha256(b"ReplicasMismatch:shop:Deployment:web").hexdigest()
        self.assertEqual(r.json["results"][0]["fingerprint"], fp)
        sp = g.rrs()[0]["spec"]
        self.assertEqual((sp["severity"], sp["signalLabels"]["severity"]), ("warning", "warning"))
        r = g.post("/api/v1/signals/webhook/deploy", {"alert": "ReplicasMismatch", "app": "web"})
        self.assertEqual((r.status, r.json["results"][0]["status"]), (202, "duplicate"), r)
        r = g.post("/api/v1/signals/webhook/deploy", {"alert": "ReplicasMismatch"})
        self.assertEqual(r.status, 400, r)
        self.assertIn("app: missing (fields.resource)", r.json["error"]["message"])

    def test_ten_thousand_alerts_and_large_bad_bodies_are_4xx_with_flat_memory(self):
        # ASan's quarantine would hold every freed arena: kept small so RSS shows what is live
        g = self.gw(CONFIG + "server:\n  max_body_bytes: 8MiB\n",
                    env={"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=1"})
        many = json.dumps(body([alert(res="w-%d" % i) for i in range(10000)])).encode()
        last_bad = [alert(res="w-%d" % i) for i in range(1000)]
        last_bad[-1]["target"]["name"] = {"nested": "object"}   # the last alert of the largest list allowed
        bad = json.dumps(body(last_bad)).encode()
        rss = []
        for _ in range(8):
            r = g.post(UPTIME, many)
            self.assertEqual((r.status, r.json["error"]["code"]), (413, "too_many_alerts"), r)
            self.assertIn("10000 alerts, more than adapters.max_alerts (1000)", r.json["error"]["message"])
            r = g.post(UPTIME, bad)
            self.assertEqual((r.status, r.json["error"]["code"]), (400, "invalid_field"), r)
            self.assertIn("data.alerts.999.target.name: an object where a string is needed", r.json["error"]["message"])
            rss.append(g.rss_kb())
        self.assertEqual(g.rr_files(), [])
        assert_flat_rss(self, rss)

    def test_twenty_concurrent_identical_make_one_rr(self):
        g = self.gw()
        b = json.dumps(body([alert(name="Concurrent", res="api-7")])).encode()
        results, lock = [], threading.Lock()

        def send():
            r = g.post(UPTIME, b)
            with lock:
                results.append(r)

        threads = [threading.Thread(target=send) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        statuses = sorted(r.status for r in results)
        self.assertEqual((statuses.count(201), statuses.count(202)), (1, 19), statuses)
        self.assertEqual(len(g.rr_files()), 1)


class MappedWebhookCheckConfig(unittest.TestCase):
    OK = "  - name: a\n    fields: {name: n, kind: k, resource: r}\n"
    BAD = [
        ("  - name: a\n    fields: {name: n, kind: k, resource: r, sevrity: s}\n", "webhooks[0] (a).fields.sevrity: unknown key"),
        ("  - name: a\n    alertz: x\n    fields: {name: n, kind: k, resource: r}\n", "webhooks[0].alertz: unknown key"),
        ("  - name: a\n    alerts: 'data..alerts'\n    fields: {name: n, kind: k, resource: r}\n", "webhooks[0].alerts: 'data..alerts' has an empty segment"),
        ("  - name: a\n    fields: {name: n, kind: k}\n", "webhooks[0] (a).fields.resource is required"),
        (OK + OK, "webhooks[1] (a).name: a second webhook of this name"),
        ("  - name: 'a/b'\n    fields: {name: n, kind: k, resource: r}\n", "webhooks[0].name 'a/b' is not a URL-safe token"),
        ("  - name: a\n    fields: {name: n, kind: {value: ''}, resource: r}\n", "webhooks[0] (a).fields.kind: a fixed value is 1..253 bytes"),
        ("  - name: a\n    fields: {name: n, kind: {constant: Pod}, resource: r}\n", "webhooks[0] (a).fields.kind: must be a path or {value: <text>}"),
        ("  - name: a\n    fields: {name: n, kind: k, resource: r, namespace: {value: 'Not A Label'}}\n", "fields.namespace: a fixed namespace is a DNS label"),
    ]

    def check(self, text):
        d = tempfile.mkdtemp(prefix="sgw-mapped-")
        cfg = os.path.join(d, "c.yaml")
        with open(cfg, "w") as f:
            f.write(text)
        return subprocess.run([BINARY, "--config", cfg, "--check-config"], capture_output=True, timeout=30)

    def test_good_mapping_accepted_and_printed(self):
        p = self.check(CONFIG)
        self.assertEqual(p.returncode, 0, p)
        self.assertIn(b"webhooks[0]: name=uptime alerts=data.alerts", p.stdout)
        self.assertIn(b"webhooks[2]: name=deploy alerts=(the body) name=alert namespace={value: shop} "
                      b"kind={value: Deployment} resource=app severity={value: warning}", p.stdout)

    def test_each_bad_mapping_refused_with_its_key(self):
        for text, want in self.BAD:
            p = self.check("webhooks:\n" + text)
            self.assertEqual(p.returncode, 2, (want, p))
            self.assertIn(want.encode(), p.stdout + p.stderr)


class MappedWebhookKubernautAi(unittest.TestCase):
    def test_embedded_rr_has_signal_type_alert(self):
        g = Gateway(CONFIG, args=["--rr-api", "kubernaut.ai/v1alpha1"])
        self.addCleanup(g.stop)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        r = g.post(UPTIME, body([alert(res="api", started=now)]))
        self.assertEqual(r.status, 201, r)
        rrs = g.rrs()
        self.assertEqual(len(rrs), 1)
        sp = rrs[0]["spec"]
        self.assertEqual((sp["signalType"], sp["signalSource"]), ("alert", "webhook/uptime"))
        self.assertEqual(sp["severity"], "critical")
        self.assertEqual(sp["targetResource"], {"kind": "Deployment", "name": "api", "namespace": "shop"})
        self.assertEqual(json.loads(sp["originalPayload"])["check"]["name"], "HttpDown")
        self.assertEqual(g.post(UPTIME, body([alert(res="api", started=now)])).status, 202)
        # under this contract the fingerprint is the target's: a dedup key is only a label
        ev = {"event": "BuildFailed", "ns": "ci", "kind": "Job", "items": [{"name": "build-1"}], "id": "run-7"}
        self.assertEqual(g.post(CI, ev).status, 201)
        r = g.post(CI, dict(ev, id="run-8"))
        self.assertEqual((r.status, r.json["results"][0]["status"]), (202, "duplicate"), r)


if __name__ == "__main__":
    unittest.main()
