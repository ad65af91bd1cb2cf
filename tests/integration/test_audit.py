"""The audit trail (audit.file, --audit-log) and W3C trace context over HTTP: every field of
a line read back, the caller's identity (static token names, anonymous, a Kubernetes user),
no secret in any line, reopening on SIGHUP after logrotate's rename, a failed write counted
(and with audit.required a 503), the trace id of a traceparent in the log, the audit line,
the RR's annotation and the API server's requests."""
import json
import os
import re
import signal
import subprocess
import tempfile
import unittest

from harness import BINARY, Gateway, check_audit_line, pod_alert, wait_until, webhook
from k8s_harness import ApiServer

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = "00-%s-%s-01" % (TRACE, PARENT)
TRACE2 = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT2 = "00-%s-b7ad6b7169203331-01" % TRACE2


def audit_records(path):
    with open(path) as f:
        return [check_audit_line(line) for line in f.read().splitlines()]


def metric_value(g, name, labels):
    for line in g.get("/metrics").body.decode().splitlines():
        if line.startswith(name + "{") and labels in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class AuditTrailTests(unittest.TestCase):
    def start(self, config="", args=(), audit_name="audit.log"):
        """A gateway with its audit trail at <its dir>/audit_name (the path is made before
        the gateway starts, in a directory of the test's own)."""
        d = tempfile.mkdtemp(prefix="sgw-audit-")
        path = os.path.join(d, audit_name)
        g = Gateway(config, args=["--audit-log", path] + list(args))
        self.addCleanup(g.stop)
        return g, path

    def test_every_field_and_static_token_names(self):
        d = tempfile.mkdtemp(prefix="sgw-audit-")
        tokens = os.path.join(d, "tokens")
        with open(tokens, "w") as f:
            f.write("# senders\nci-bot: tok-named-1234567890\nbare-token-0987654321\n")   # "name: token"
        os.chmod(tokens, 0o600)
        g, path = self.start(args=["--auth", "static:" + tokens])
        body = webhook([pod_alert("AuditA", "p1")])
        r1 = g.alert(body, headers={"Authorization": "Bearer tok-named-1234567890"})
        self.assertEqual(r1.status, 201, r1)
        r2 = g.alert(body, headers={"Authorization": "Bearer bare-token-0987654321"})
        self.assertEqual(r2.status, 202, r2)
        r3 = g.alert(body, headers={"Authorization": "Bearer not-a-token-at-all"})
        self.assertEqual(r3.status, 401, r3)
        r4 = g.post("/api/v1/signals/prometheus", b"{}", content_type="text/plain",
                    headers={"Authorization": "Bearer tok-named-1234567890"})
        self.assertEqual(r4.status, 415, r4)
        r5 = g.alert(b"{not json", headers={"Authorization": "Bearer tok-named-1234567890"})
        self.assertEqual(r5.status, 400, r5)
        self.assertEqual(g.stop(), 0, g.logs())
        recs = audit_records(path)
        self.assertEqual(len(recs), 5, recs)
        by_id = {rec["request_id"]: rec for rec in recs}
        a, b, c, d415, e = (by_id[r.headers["x-request-id"]] for r in (r1, r2, r3, r4, r5))
        fp = r1.json["results"][0]["fingerprint"]
        self.assertEqual(a["caller"], {"kind": "static_token", "name": "ci-bot"})
        self.assertEqual((a["status"], a["source"], a["route"]), (201, "prometheus", "/api/v1/signals/prometheus"))
        self.assertEqual(a["signals"], [{"fingerprint": fp, "outcome": "created",
                                         "rr": r1.json["results"][0]["remediationRequest"]}])
        self.assertRegex(a["peer"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual(b["caller"], {"kind": "static_token", "name": "line-3"})
        self.assertEqual(b["signals"][0]["outcome"], "duplicate")
        self.assertEqual((c["caller"], c["status"], c["error"], c["signals"]), ({"kind": "none"}, 401, "unauthorized", []))
        self.assertEqual((d415["status"], d415["signals"]), (415, []))
        self.assertEqual((e["status"], e["error"], e["caller"]["name"]), (400, "invalid_json", "ci-bot"))
        self.assertEqual(len({rec["trace_id"] for rec in recs}), 5)   # a new trace each without traceparent
        with open(path) as f:
            text = f.read()
        for secret in ("tok-named-1234567890", "bare-token-0987654321", "not-a-token-at-all", "Bearer"):
            self.assertNotIn(secret, text)
        self.assertNotIn("AuditA", text)   # no body

    def test_anonymous_caller_and_trace_id_everywhere(self):
        g, path = self.start()
        r = g.alert(webhook([pod_alert("AuditTrace", "p1")]), headers={"traceparent": TRACEPARENT})
        self.assertEqual(r.status, 201, r)
        bad = g.alert(webhook([pod_alert("AuditTrace", "p2")]), headers={"traceparent": TRACEPARENT.upper()})
        self.assertEqual(bad.status, 201, bad)
        self.assertEqual(g.stop(), 0, g.logs())
        recs = {rec["request_id"]: rec for rec in audit_records(path)}
        rec = recs[r.headers["x-request-id"]]
        self.assertEqual((rec["caller"], rec["trace_id"]), ({"kind": "anonymous"}, TRACE))
        other = recs[bad.headers["x-request-id"]]["trace_id"]
        self.assertNotEqual(other, TRACE.upper().lower())   # an invalid header starts a new trace
        logged = [json.loads(line) for line in g.logs().splitlines() if line.startswith("{")]
        mine = [x for x in logged if x.get("request_id") == r.headers["x-request-id"]]
        self.assertGreaterEqual(len(mine), 2, mine)   # "RemediationRequest created", "signals processed"
        self.assertTrue(all(x.get("trace_id") == TRACE for x in mine), mine)
        rrs = {x["metadata"]["name"]: x for x in g.rrs()}
        name = r.json["results"][0]["remediationRequest"].split("/")[1]
        self.assertEqual(rrs[name]["metadata"]["annotations"]["signal-gateway.io/trace-id"], TRACE)
        name2 = bad.json["results"][0]["remediationRequest"].split("/")[1]
        self.assertEqual(rrs[name2]["metadata"]["annotations"]["signal-gateway.io/trace-id"], other)

    def test_kubernaut_ai_rr_carries_the_trace_id(self):
        g, path = self.start(args=["--rr-api", "kubernaut.ai/v1alpha1"])
        r = g.alert(webhook([pod_alert("AuditKai", "p1")]), headers={"traceparent": TRACEPARENT})
        self.assertEqual(r.status, 201, r)
        (rr,) = g.rrs()
        self.assertEqual(rr["metadata"]["annotations"]["signal-gateway.io/trace-id"], TRACE)

    def test_sighup_reopens_after_logrotate_rename(self):
        g, path = self.start()
        self.assertEqual(g.alert(webhook([pod_alert("AuditRot", "p1")])).status, 201)
        os.rename(path, path + ".1")
        g.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "audit log reopened" in g.logs(), what="the reopen", show=g.logs)
        self.assertEqual(g.alert(webhook([pod_alert("AuditRot", "p2")])).status, 201)
        self.assertEqual(g.stop(), 0, g.logs())
        old, new = audit_records(path + ".1"), audit_records(path)
        self.assertEqual([len(old), len(new)], [1, 1])
        self.assertNotEqual(old[0]["signals"][0]["fingerprint"], new[0]["signals"][0]["fingerprint"])

    def test_standard_output(self):
        g = Gateway("", args=["--audit-log", "-"])
        self.addCleanup(g.stop)
        r = g.alert(webhook([pod_alert("AuditStdout", "p1")]))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(g.stop(), 0, g.logs())
        lines = [line for line in g.logs().splitlines() if '"signals":' in line]
        self.assertEqual(len(lines), 1, g.logs())
        self.assertEqual(check_audit_line(lines[0])["request_id"], r.headers["x-request-id"])

    def test_write_failure_is_counted_and_logged_not_answered(self):
        g = Gateway("", args=["--audit-log", "/dev/full"])
        self.addCleanup(g.stop)
        r = g.alert(webhook([pod_alert("AuditFull", "p1")]))
        self.assertEqual(r.status, 201, r)   # audit.required is off: the answer does not wait
        wait_until(lambda: metric_value(g, "gateway_audit_write_failures_total", 'reason="write"') >= 1,
                   what="the failure counted")
        wait_until(lambda: "audit lines lost" in g.logs(), what="the failure logged", show=g.logs)
        self.assertEqual(g.stop(), 0, g.logs())

    def test_required_failure_answers_503_after_the_decision(self):
        # the first gateway cannot write its trail; the second, on the same RR directory, can
        g = Gateway("audit:\n  required: true\n", args=["--audit-log", "/dev/full"])
        self.addCleanup(g.stop)
        body = webhook([pod_alert("AuditReq", "p1")])
        r = g.alert(body)
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json["error"]["code"], "audit_unavailable")
        self.assertIn("retry-after", r.headers)
        self.assertEqual(len(g.rr_files()), 1)   # the decision itself was made durable
        self.assertEqual(metric_value(g, "gateway_requests_rejected_total", 'reason="audit_unavailable"'), 1)
        r = g.alert(body)
        self.assertEqual(r.status, 503, r)   # the retry: decided a duplicate, still unaudited
        self.assertEqual(len(g.rr_files()), 1)
        self.assertEqual(g.stop(), 0, g.logs())

    def test_required_answer_waits_for_the_line(self):
        g, path = self.start("audit:\n  required: true\n")
        for i in range(3):
            r = g.alert(webhook([pod_alert("AuditWait", "p%d" % i)]))
            self.assertEqual(r.status, 201, r)
            # read at once: the 201 left only after the writer's write(2) returned
            recs = audit_records(path)
            self.assertEqual(len(recs), i + 1)
            self.assertEqual(recs[-1]["request_id"], r.headers["x-request-id"])

    def test_required_without_a_file_is_refused(self):
        p = subprocess.run([BINARY, "--check-config"], env=dict(os.environ, SGW_AUDIT_REQUIRED="true"),
                           capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 2, p)
        self.assertIn(b"audit.required needs audit.file", p.stderr)


class TraceToTheApiTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = ApiServer()

    @classmethod
    def tearDownClass(cls):
        cls.api.stop()

    def test_traceparent_reaches_the_token_review_and_the_rr_create(self):
        self.api.reset()
        self.api.namespace("production", {"environment": "production"})
        g = Gateway("", args=["--sink", "kubernetes", "--kubeconfig", self.api.kubeconfig, "--auth", "kubernetes"])
        self.addCleanup(g.stop)
        self.api.clear_requests()
        r = g.alert(webhook([pod_alert("AuditApi", "p1")]),
                    headers={"Authorization": "Bearer am-token", "traceparent": TRACEPARENT})
        self.assertEqual(r.status, 201, r)
        reqs = self.api.requests()
        want = {"tokenreviews": None, "subjectaccessreviews": None, "remediationrequests": None}
        for x in reqs:
            for k in want:
                if x["path"].endswith(k) and x["method"] == "POST":
                    want[k] = x["traceparent"]
        for k, tp in want.items():
            self.assertIsNotNone(tp, (k, reqs))
            m = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01", tp)
            self.assertTrue(m, (k, tp))
            self.assertEqual(m.group(1), TRACE, k)
            self.assertNotEqual(m.group(2), PARENT, k)   # our span is the parent of the API call
        self.assertEqual(len(set(want.values())), 1, want)   # one span for the request
        denied = g.alert(webhook([pod_alert("AuditApi", "p2")]), headers={"Authorization": "Bearer viewer-token"})
        self.assertEqual(denied.status, 403, denied)
        unknown = g.alert(webhook([pod_alert("AuditApi", "p3")]), headers={"Authorization": "Bearer nobody-knows-me"})
        self.assertEqual(unknown.status, 401, unknown)
        self.assertEqual(g.stop(), 0, g.logs())
        recs = {x["request_id"]: x for x in (json.loads(line) for line in g.audit_lines())}
        rec = recs[r.headers["x-request-id"]]
        self.assertEqual(rec["caller"], {"kind": "kubernetes_user", "name": "system:serviceaccount:monitoring:alertmanager"})
        self.assertEqual(rec["trace_id"], TRACE)
        # a 403 still names who was refused; a token the API does not know names no one
        self.assertEqual(recs[denied.headers["x-request-id"]]["caller"], {"kind": "kubernetes_user", "name": "viewer"})
        self.assertEqual(recs[unknown.headers["x-request-id"]]["caller"], {"kind": "none"})

    @staticmethod
    def log_lines(g, msg_prefix):
        """The gateway's log lines whose message starts with msg_prefix: (raw, parsed)."""
        return [(line, json.loads(line)) for line in g.logs().splitlines()
                if line.startswith("{") and json.loads(line)["msg"].startswith(msg_prefix)]

    def assert_traced(self, lines, trace):
        self.assertTrue(lines)
        for raw, x in lines:
            self.assertEqual(x.get("trace_id"), trace, raw)
            self.assertEqual(raw.count('"trace_id"'), 1, raw)

    def test_the_sinks_and_the_reviews_failures_are_logged_with_the_requests_trace(self):
        self.api.reset()
        self.api.namespace("production", {"environment": "production"})
        g = Gateway("sink:\n  max_retries: 1\n",
                    args=["--sink", "kubernetes", "--kubeconfig", self.api.kubeconfig, "--auth", "kubernetes"])
        self.addCleanup(g.stop)
        self.api.fault(method="POST", path_regex="remediationrequests$", count=1000, action="status", status=503)
        r = g.alert(webhook([pod_alert("TraceSink", "p1")]),
                    headers={"Authorization": "Bearer am-token", "traceparent": TRACEPARENT})
        self.assertEqual(r.status, 503, r)
        self.api.clear_faults()
        self.api.fault(method="POST", path_regex="tokenreviews", count=50, action="status", status=500)
        r2 = g.alert(webhook([pod_alert("TraceAuth", "p1")]),
                     headers={"Authorization": "Bearer fresh-token", "traceparent": TRACEPARENT2})
        self.assertEqual(r2.status, 503, r2)
        self.api.clear_faults()
        self.assertEqual(g.stop(), 0, g.logs())
        self.assert_traced(self.log_lines(g, "RemediationRequest create failed"), TRACE)
        self.assert_traced(self.log_lines(g, "TokenReview failed"), TRACE2)
        for req, trace in ((r, TRACE), (r2, TRACE2)):   # the pipeline's own lines: still one trace_id
            mine = [(line, json.loads(line)) for line in g.logs().splitlines()
                    if line.startswith("{") and json.loads(line).get("request_id") == req.headers["x-request-id"]]
            self.assert_traced(mine, trace)

    def test_owner_resolution_failure_is_logged_with_the_requests_trace(self):
        self.api.reset()
        self.api.namespace("kubernaut-system")
        self.api.namespace("production", {"kubernaut.ai/managed": "true"})
        g = Gateway("sink:\n  rr_namespace: kubernaut-system\n",
                    args=["--sink", "kubernetes", "--kubeconfig", self.api.kubeconfig,
                          "--state", "kubernetes", "--rr-api", "kubernaut.ai/v1alpha1"])
        self.addCleanup(g.stop)
        self.api.fault(method="GET", path_regex="/pods/trace-pod$", count=50, action="status", status=500)
        r = g.alert(webhook([pod_alert("TraceOwner", "trace-pod")]), headers={"traceparent": TRACEPARENT})
        self.assertEqual(r.status, 503, r)
        self.api.clear_faults()
        self.assertEqual(g.stop(), 0, g.logs())
        lines = [(raw, x) for raw, x in self.log_lines(g, "owner resolution") if "/pods/trace-pod" in x.get("path", "")]
        self.assert_traced(lines, TRACE)


if __name__ == "__main__":
    unittest.main()
