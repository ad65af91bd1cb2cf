"""Operability: metrics validated by promtool, bad input with flat memory, SIGTERM drain,
SIGHUP reload, --check-config and --version."""
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import unittest

from harness import BINARY, ROOT, Gateway, fixture, pod_alert, wait_until, webhook

PROM = "/api/v1/signals/prometheus"


def documented_metric_labels():
    """docs/operations.md's metrics table: {family: {label names}} (the backticked names of
    the labels column, outside the parentheses that list values)."""
    with open(os.path.join(ROOT, "docs", "operations.md")) as f:
        doc = f.read()
    table = doc[doc.index("| family | labels |"):]
    table = table[:table.index("\n\n")]
    out = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        fam = cells[0].strip("`")
        labels = re.sub(r"\([^)]*\)", "", cells[1])
        out[fam] = set(re.findall(r"`([a-z_]+)`", labels))
    return out


class OperabilityTests(unittest.TestCase):
    def gw(self, config="", **kw):
        g = Gateway(config, **kw)
        self.addCleanup(g.stop)
        return g

    def test_metrics_pass_promtool_and_count_what_was_sent(self):
        g = self.gw()
        g.alert(fixture("pod-crashloop-firing-2-alerts.json"))
        g.alert(fixture("pod-crashloop-firing-2-alerts.json"))
        g.get("/nope")
        r = g.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"))
        text = r.body.decode()
        self.assertIn('gateway_signals_received_total{source_type="prometheus",severity="critical"} 4', text)
        self.assertIn('gateway_signals_total{source="prometheus",outcome="created"} 2', text)
        self.assertIn('gateway_signals_total{source="prometheus",outcome="duplicate"} 2', text)
        self.assertIn('gateway_http_requests_total{endpoint="unmatched",method="GET",status="404"} 1', text)
        self.assertIn('gateway_http_request_duration_seconds_count{endpoint="/api/v1/signals/prometheus",method="POST",'
                      'status="201"} 1', text)
        self.assertIn('gateway_crds_created_total{source_type="prometheus",status="created",environment="unknown",'
                      'priority="P2"} 2', text)
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool (Debian package prometheus) is required")
        p = subprocess.run([promtool, "check", "metrics"], input=r.body, capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())

    def test_a_webhook_of_mixed_outcomes_is_mixed_and_each_outcome_is_counted(self):
        g = self.gw()
        a, b, c = (pod_alert("KubePodCrashLooping", "api-%d" % i) for i in range(3))
        self.assertEqual(g.alert(webhook([a])).status, 201)
        # duplicate, created, duplicate, created, resolved: the status strings change from
        # alert to alert and repeat, in both orders
        resolved = dict(a, status="resolved", endsAt="2026-11-26T21:55:10Z")
        r = g.alert(webhook([a, b, a, c, resolved]))
        self.assertEqual(r.status, 201, r.body)
        doc = json.loads(r.body)
        self.assertEqual(doc["status"], "mixed")
        self.assertEqual([x["status"] for x in doc["results"]][:4], ["duplicate", "created", "duplicate", "created"])
        text = g.get("/metrics").body.decode()
        self.assertIn('gateway_signals_total{source="prometheus",outcome="created"} 3', text)
        self.assertIn('gateway_signals_total{source="prometheus",outcome="duplicate"} 2', text)
        self.assertIn('gateway_signals_total{source="prometheus",outcome="resolved"} 1', text)
        r = g.alert(webhook([b, c]))
        self.assertEqual((r.status, json.loads(r.body)["status"]), (202, "duplicate"))

    def test_every_series_has_the_labels_docs_operations_md_names(self):
        g = self.gw()
        self.assertEqual(g.alert(fixture("pod-crashloop-firing-2-alerts.json")).status, 201)
        self.assertEqual(g.alert(fixture("pod-crashloop-firing-2-alerts.json")).status, 202)
        self.assertEqual(g.post("/api/v1/signals/kubernetes-event", fixture("k8s-event-node-not-ready.json")).status, 201)
        self.assertEqual(g.alert(b"{").status, 400)
        g.get("/nope")
        documented = documented_metric_labels()
        seen = set()
        text = g.get("/metrics").body.decode()
        self.assertIn('gateway_signals_received_total{source_type="kubernetes-events",severity="critical"} 1', text)
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name, labels = re.match(r"([a-z_]+)(?:\{(.*)\})? ", line).groups()
            names = set(re.findall(r'([a-z_]+)="', labels or ""))
            base = name
            if name not in documented:
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                if name.endswith("_bucket"):
                    names.discard("le")
            self.assertIn(base, documented, "undocumented family")
            self.assertEqual(names, documented[base], line)
            seen.add(base)
        # the families named as upstream Kubernaut names them were all exposed
        self.assertLessEqual({"gateway_signals_received_total", "gateway_crds_created_total",
                              "gateway_http_request_duration_seconds"}, seen)

    def test_separate_metrics_listener(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            mport = s.getsockname()[1]
        g = self.gw(args=["--metrics-listen", "127.0.0.1:%d" % mport])
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", mport, timeout=5)
        c.request("GET", "/metrics")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertIn(b"gateway_build_info", r.read())
        c.request("POST", PROM, body=b"{}", headers={"Content-Type": "application/json"})
        self.assertEqual(c.getresponse().status, 404)   # signals only on the main listener
        c.close()

    def test_bad_inputs_get_4xx_and_memory_stays_flat(self):
        g = self.gw()
        bodies = [
            b'{"alerts": [',
            b'\xff\xfe',
            b"[" * 10000 + b"]" * 10000,
            json.dumps(webhook([pod_alert("Many", "p%d" % i) for i in range(1001)])).encode(),
            json.dumps({"alerts": [{"labels": {"alertname": 1}}]}).encode(),
            b"null",
            b'{"alerts":[{"labels":{"alertname":"A\\u0000B"}}]}',
        ]
        for b in bodies:
            r = g.alert(b)
            self.assertIn(r.status, (400, 413), (r, b[:40]))
            self.assertIn("error", r.json)
        # a 100 KB label value is accepted and truncated in signalLabels, kept whole in providerData
        big = webhook([{"labels": {"alertname": "Big", "namespace": "n", "pod": "p", "blob": "x" * 100000}}])
        r = g.alert(big)
        self.assertEqual(r.status, 201, r)
        rr = g.rrs()[0]
        self.assertEqual(len(rr["spec"]["signalLabels"]["blob"]), 63)
        base = g.rss_kb()
        for _ in range(3):
            for b in bodies:
                g.alert(b)
        grown = g.rss_kb() - base
        self.assertLess(grown, 20 * 1024, "RSS grew %d KiB over 21 rejected requests" % grown)
        self.assertEqual(g.get("/healthz").status, 200)

    def test_sigterm_drains_in_flight_requests_and_exits_0(self):
        import socket
        # one worker: the held request below is read before the storm webhook, sent after
        # it, is parsed (one loop reads its connections in the order they came)
        g = self.gw(workers=1)
        # a request held by its last byte: busy for certain when SIGTERM comes
        body = fixture("deployment-memory-firing.json")
        held = socket.create_connection(("127.0.0.1", g.port), timeout=20)
        self.addCleanup(held.close)
        held.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\n\r\n" % (PROM, len(body))).encode() + body[:-1])
        results = []

        def send():
            results.append(g.alert(fixture("oom-storm-50-alerts.json")).status)

        t = threading.Thread(target=send)
        t.start()
        # SIGTERM once the storm webhook has been read (its 50 alerts counted): in flight or
        # answered, not still in the socket, where the drain would take it for idle
        received = 'gateway_signals_received_total{source_type="prometheus",severity="critical"}'
        wait_until(lambda: results or (g.metric(received) or 0) >= 50, what="the storm webhook read",
                   show=lambda: g.metric(received))
        g.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: '"msg":"draining"' in g.logs(), what="the drain's log line")
        held.sendall(body[-1:])   # the held request completes during the drain: answered, not cut
        answer = b""
        while True:
            d = held.recv(65536)
            if not d:
                break
            answer += d
        rc = g.proc.wait(20)
        t.join(20)
        self.assertEqual(rc, 0, g.logs())
        self.assertEqual(results, [201], g.logs())   # read before the drain: created, not refused
        self.assertIn('"msg":"draining"', g.logs())
        self.assertTrue(answer.startswith(b"HTTP/1.1 503"), answer[:200])
        self.assertIn(b'"shutting_down"', answer)

    def test_a_drain_that_times_out_still_exits(self):
        import socket
        # a request whose body never comes keeps the drain from finishing: at the drain
        # timeout the gateway stops with it in flight, and must still exit
        g = self.gw(config="server:\n  drain_timeout: 1s\n")
        held = socket.create_connection(("127.0.0.1", g.port), timeout=20)
        self.addCleanup(held.close)
        held.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 100\r\n\r\n{" % PROM).encode())
        wait_until(lambda: (g.metric("gateway_http_connections") or 0) >= 2, what="the held connection accepted (and the scrape's own)",
                   show=lambda: g.metric("gateway_http_connections"))
        g.proc.send_signal(signal.SIGTERM)
        try:
            rc = g.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.fail("still running 15 s after SIGTERM with a 1 s drain timeout:\n" + g.logs()[-2000:])
        self.assertIn("drain timeout", g.logs())
        self.assertEqual(rc, 0, g.logs())

    def test_sighup_reloads_the_environment_map(self):
        g = self.gw()
        g.alert(webhook([pod_alert("Before", "a", ns="payments")]))
        with open(g.config_path, "a") as f:
            f.write("environment:\n  namespaces:\n    payments: production\n")
        g.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while "configuration reloaded" not in g.logs() and time.time() < deadline:
            time.sleep(0.05)
        g.alert(webhook([pod_alert("After", "b", ns="payments")]))
        envs = {rr["spec"]["signalName"]: rr["spec"]["environment"] for rr in g.rrs()}
        self.assertEqual(envs, {"Before": "unknown", "After": "production"})

    def test_sighup_does_not_switch_the_rr_contract(self):
        # the RR contract decides the store's and the sink's whole behaviour (fingerprints,
        # names, what is written): like state and sink, it changes with a restart only
        g = self.gw()
        self.assertEqual(g.alert(webhook([pod_alert("Before", "a", ns="payments")])).status, 201)
        with open(g.config_path, "a") as f:
            f.write("sink:\n  rr_api: kubernaut.ai/v1alpha1\n")
        g.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while "reload" not in g.logs() and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(g.alert(webhook([pod_alert("After", "b", ns="payments")])).status, 201)
        apis = sorted(rr["apiVersion"] for rr in g.rrs())
        self.assertEqual(apis, ["remediation.kubernaut.io/v1alpha1"] * 2)

    def test_bad_reload_keeps_the_running_config(self):
        g = self.gw()
        with open(g.config_path, "a") as f:
            f.write("dedup:\n  ttl: banana\n")
        g.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while "reload failed" not in g.logs() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("reload failed", g.logs())
        self.assertEqual(g.alert(fixture("deployment-memory-firing.json")).status, 201)

    def test_check_config_and_version(self):
        p = subprocess.run([BINARY, "--version"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r"^signal-gateway \d+\.\d+\.\d+")
        p = subprocess.run([BINARY, "--check-config"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("server.listen: \"127.0.0.1:8080\"", p.stdout.decode())
        self.assertIn("sink.target: \"dir:./remediationrequests\"", p.stdout.decode())
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("server:\n  listen: 127.0.0.1:9\n  lisen: typo\n")
        self.addCleanup(os.unlink, f.name)
        p = subprocess.run([BINARY, "--check-config", "--config", f.name], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("server.lisen", p.stderr.decode())
        p = subprocess.run([BINARY, "--check-config"], capture_output=True, timeout=10,
                           env=dict(os.environ, SGW_DEDUP_TTL="90s"))
        self.assertIn("dedup.ttl: 90000ms", p.stdout.decode())
        p = subprocess.run([BINARY, "--bogus"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main()
