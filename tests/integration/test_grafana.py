"""The Grafana Alerting webhook (POST /api/v1/signals/grafana) end to end on the embedded
default: created, duplicate, resolved, storm, every 4xx with its body, concurrency,
truncatedAlerts, Grafana's HMAC signature (signed with Python's hmac, as Grafana's
http/hmac.go signs), and the kubernaut.ai/v1alpha1 contract."""
import copy
import hashlib
import hmac
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BINARY, Gateway, assert_flat_rss, fixture

PATH = "/api/v1/signals/grafana"


def galert(name, pod, ns="payments", status="firing", severity="critical"):
    a = copy.deepcopy(json.loads(fixture("grafana-firing.json"))["alerts"][0])
    a["labels"].update({"alertname": name, "pod": pod, "namespace": ns, "severity": severity})
    a["status"] = status
    if status == "resolved":
        a["endsAt"] = "2026-11-20T10:30:00Z"
    return a


def gbody(alerts, **top):
    b = json.loads(fixture("grafana-firing.json"))
    b["alerts"] = alerts
    b.update(top)
    return json.dumps(b).encode()


def sign(secret, body, ts=None):
    msg = (ts.encode() + b":" + body) if ts is not None else body
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


class GrafanaSignals(unittest.TestCase):
    def gw(self, config="", **kw):
        g = Gateway(config, **kw)
        self.addCleanup(g.stop)
        return g

    def test_created_then_duplicate(self):
        g = self.gw()
        r = g.post(PATH, fixture("grafana-firing.json"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual([x["status"] for x in r.json["results"]], ["created"])
        rrs = g.rrs()
        self.assertEqual(len(rrs), 1)
        sp = rrs[0]["spec"]
        self.assertEqual(sp["signalType"], "grafana-alert")
        self.assertEqual(sp["signalSource"], "grafana")
        self.assertEqual(rrs[0]["metadata"]["namespace"], "payments")
        r = g.post(PATH, fixture("grafana-firing.json"))
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["results"][0]["status"], "duplicate")
        self.assertEqual(r.json["results"][0]["count"], 2)
        self.assertEqual(len(g.rr_files()), 1)
        m = g.get("/metrics").body.decode()
        self.assertIn('gateway_signals_total{source="grafana",outcome="created"} 1', m)
        self.assertIn('gateway_signals_total{source="grafana",outcome="duplicate"} 1', m)

    def test_resolved_is_not_firing(self):
        g = self.gw()
        self.assertEqual(g.post(PATH, fixture("grafana-firing.json")).status, 201)
        r = g.post(PATH, fixture("grafana-resolved.json"))
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["results"][0]["status"], "ignored")
        self.assertIn('gateway_signals_total{source="grafana",outcome="resolved"} 1', g.get("/metrics").body.decode())
        self.assertEqual(len(g.rr_files()), 1)

    def test_several_alerts_each_processed(self):
        g = self.gw()
        r = g.post(PATH, fixture("grafana-several-alerts.json"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual([x["status"] for x in r.json["results"]], ["created"] * 3)
        self.assertEqual(len(g.rr_files()), 3)

    def test_storm_is_folded_into_one_rr(self):
        g = self.gw()
        body = gbody([galert("OOMKilled", "worker-%d" % i) for i in range(50)])
        r = g.post(PATH, body)
        self.assertEqual(r.status, 201, r)
        sts = [x["status"] for x in r.json["results"]]
        self.assertEqual((sts.count("created"), sts.count("aggregated")), (1, 49))
        rrs = g.rrs()
        self.assertEqual(len(rrs), 1)
        self.assertEqual(rrs[0]["spec"]["stormAlertCount"], 50)

    def test_truncated_alerts_logged_and_counted(self):
        g = self.gw()
        self.assertEqual(g.post(PATH, fixture("grafana-truncated.json")).status, 201)
        self.assertEqual(g.metric("gateway_grafana_truncated_alerts_total"), 8)
        lines = [json.loads(l) for l in g.logs().splitlines() if "truncated_alerts" in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(lines[0]["truncated_alerts"], 8)

    def test_every_4xx_has_our_error_body(self):
        g = self.gw()
        ok = json.loads(fixture("grafana-firing.json"))
        cases = [
            (gbody(ok["alerts"], version="4"), 400, "unsupported_version", "version"),
            (json.dumps({k: v for k, v in ok.items() if k != "version"}).encode(), 400, "unsupported_version", "version"),
            (gbody(ok["alerts"], truncatedAlerts="8"), 400, "invalid_field", "truncatedAlerts"),
            (gbody(ok["alerts"], orgId="1"), 400, "invalid_field", "orgId"),
            (gbody([dict(ok["alerts"][0], values={"B": "x"})]), 400, "invalid_field", "alerts[0].values.B"),
            (gbody([dict(ok["alerts"][0], status="pending")]), 400, "invalid_field", "alerts[0].status"),
            (gbody([dict(ok["alerts"][0], labels={"pod": "p"})], commonLabels={}), 400, "missing_field", "alertname"),
            (gbody([]), 400, "no_alerts", "alerts"),
            (b'{"version":"1","alerts":[', 400, "invalid_json", None),
        ]
        for body, status, code, field in cases:
            r = g.post(PATH, body)
            self.assertEqual(r.status, status, (code, r))
            self.assertEqual(r.json["error"]["code"], code, r)
            if field:
                self.assertIn(field, r.json["error"]["message"])
        r = g.post(PATH, fixture("grafana-firing.json"), content_type="text/plain")
        self.assertEqual(r.status, 415, r)
        self.assertIn("error", r.json)
        r = g.request("GET", PATH)
        self.assertEqual(r.status // 100, 4, r)
        self.assertEqual(g.rr_files(), [])

    def test_413s_and_bad_input_keep_memory_flat(self):
        # ASan's quarantine would hold every freed arena: kept small so RSS shows what is live
        g = self.gw("adapters:\n  max_alerts: 100\nserver:\n  max_body_bytes: 4MiB\n",
                    env={"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=1"})
        many = gbody([galert("Many", "p-%d" % i) for i in range(1000)])
        r = g.post(PATH, many)
        self.assertEqual((r.status, r.json["error"]["code"]), (413, "too_many_alerts"), r)
        self.assertIn("100", r.json["error"]["message"])
        r = g.post(PATH, b'{"version":"1","alerts":[' + b'{},' * 2000000 + b'{}]}')
        self.assertEqual((r.status, r.json["error"]["code"]), (413, "payload_too_large"), r)
        ok = json.loads(fixture("grafana-firing.json"))
        bad = [many, gbody(ok["alerts"], version="4"), gbody([dict(ok["alerts"][0], values=[1])]),
               b'{"version":"1","alerts":[', b"[" * 5000, gbody([dict(ok["alerts"][0], labels={"pod": "p"})],
                                                                commonLabels={})]
        rss = []
        for _ in range(8):
            for b in bad:
                r = g.post(PATH, b)
                self.assertIn(r.status, (400, 413), (r, b[:40]))
                self.assertIn("error", r.json)
            rss.append(g.rss_kb())
        self.assertEqual(g.rr_files(), [])
        # the eighth round costs no more than the third (each request's arena is freed)
        assert_flat_rss(self, rss)

    def test_twenty_concurrent_identical_make_one_rr(self):
        g = self.gw()
        body = gbody([galert("Concurrent", "api-7")])
        results, lock = [], threading.Lock()

        def send():
            r = g.post(PATH, body)
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


class GrafanaSignature(unittest.TestCase):
    SECRET = b"s3cr3t-from-grafana"

    def gw(self, extra="", mode=0o600):
        d = tempfile.mkdtemp(prefix="sgw-grafana-")
        path = os.path.join(d, "secret")
        with open(path, "wb") as f:
            f.write(self.SECRET + b"\n")
        os.chmod(path, mode)
        g = Gateway("sources:\n  grafana_hmac_secret_file: %s\n%s" % (path, extra))
        self.addCleanup(g.stop)
        return g

    def test_signed_accepted_unsigned_wrong_and_changed_refused(self):
        g = self.gw()
        body = fixture("grafana-firing.json")
        sig = sign(self.SECRET, body)
        for headers, why in (({}, "no signature header"), ({"X-Grafana-Alerting-Signature": "00" * 32}, "does not match"),
                             ({"X-Grafana-Alerting-Signature": "zz"}, "does not match"),
                             ({"X-Grafana-Alerting-Signature": sign(b"other", body)}, "does not match")):
            r = g.post(PATH, body, headers=headers)
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json["error"]["code"], "invalid_signature")
            self.assertIn(why, r.json["error"]["message"])
        changed = body.replace(b"PodCrashLooping", b"PodCrashLoopinG")
        r = g.post(PATH, changed, headers={"X-Grafana-Alerting-Signature": sig})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(g.rr_files(), [])
        # a signed body changed in any other way: reordered, whitespace, an alert dropped
        doc = json.loads(body)
        several = json.loads(fixture("grafana-several-alerts.json"))
        for other in (json.dumps(doc, sort_keys=True).encode(), body + b"\n", json.dumps(doc, indent=1).encode(),
                      gbody(several["alerts"][:-1])):
            r = g.post(PATH, other, headers={"X-Grafana-Alerting-Signature": sign(self.SECRET, body)})
            self.assertEqual((r.status, r.json["error"]["code"]), (401, "invalid_signature"), r)
        sig3 = sign(self.SECRET, fixture("grafana-several-alerts.json"))
        r = g.post(PATH, gbody(several["alerts"][:-1]), headers={"X-Grafana-Alerting-Signature": sig3})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(g.rr_files(), [])
        r = g.post(PATH, body, headers={"X-Grafana-Alerting-Signature": sig})
        self.assertEqual(r.status, 201, r)
        # the check is Grafana's route only
        self.assertNotEqual(g.post("/api/v1/signals/prometheus", b'{"alerts":[]}').status, 401)

    def test_timestamp_header_enters_the_signed_string(self):
        g = self.gw("  grafana_hmac_header: X-Sig\n  grafana_hmac_timestamp_header: X-Sig-Time\n")
        body = fixture("grafana-firing.json")
        ts = str(int(time.time()))
        r = g.post(PATH, body, headers={"X-Sig": sign(self.SECRET, body)})   # no timestamp
        self.assertEqual(r.status, 401, r)
        r = g.post(PATH, body, headers={"X-Sig": sign(self.SECRET, body), "X-Sig-Time": ts})   # not signed with it
        self.assertEqual(r.status, 401, r)
        old = str(int(time.time()) - 3600)
        r = g.post(PATH, body, headers={"X-Sig": sign(self.SECRET, body, old), "X-Sig-Time": old})
        self.assertEqual(r.status, 401, r)
        self.assertIn("older", r.json["error"]["message"])
        r = g.post(PATH, body, headers={"X-Sig": sign(self.SECRET, body, ts), "X-Sig-Time": ts})
        self.assertEqual(r.status, 201, r)

    def test_secret_file_readable_by_group_refused_at_start(self):
        d = tempfile.mkdtemp(prefix="sgw-grafana-")
        path = os.path.join(d, "secret")
        with open(path, "wb") as f:
            f.write(self.SECRET)
        os.chmod(path, 0o640)
        cfg = os.path.join(d, "c.yaml")
        with open(cfg, "w") as f:
            f.write("sources:\n  grafana_hmac_secret_file: %s\n" % path)
        p = subprocess.run([BINARY, "--config", cfg, "--check-config"], capture_output=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"sources.grafana_hmac_secret_file", p.stdout + p.stderr)


class GrafanaKubernautAi(unittest.TestCase):
    def test_embedded_rr_has_signal_source_grafana(self):
        g = Gateway(args=["--rr-api", "kubernaut.ai/v1alpha1"])
        self.addCleanup(g.stop)
        body = gbody([dict(galert("PodCrashLooping", "api-7d9f-x2k9p"),
                           startsAt=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))])
        r = g.post(PATH, body)
        self.assertEqual(r.status, 201, r)
        rrs = g.rrs()
        self.assertEqual(len(rrs), 1)
        sp = rrs[0]["spec"]
        self.assertEqual(sp["signalType"], "alert")
        self.assertEqual(sp["signalSource"], "grafana")
        self.assertEqual(sp["severity"], "critical")
        self.assertEqual(sp["targetResource"], {"kind": "Pod", "name": "api-7d9f-x2k9p", "namespace": "payments"})
        self.assertEqual(json.loads(sp["originalPayload"])["fingerprint"], "fac0861a85de433a")
        self.assertEqual(g.post(PATH, body).status, 202)


if __name__ == "__main__":
    unittest.main()
