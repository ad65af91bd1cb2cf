"""PagerDuty Events API v2 (POST /api/v1/signals/pagerduty and /v2/enqueue) end to end: trigger,
acknowledge and resolve sent by the official JavaScript client (tests/clients/send-pagerduty.mjs,
@pagerduty/pdjs, installed by scripts/setup), PagerDuty's reply shapes, every 400 with its body,
the routing_key as the credential under static auth, concurrency, an outage, and kubernaut.ai."""
import hashlib
import json
import os
import shutil
import subprocess
import threading
import unittest

from harness import ROOT, Gateway, assert_flat_rss, wait_until

PATH = "/api/v1/signals/pagerduty"
CLIENTS = os.path.join(ROOT, "tests", "clients")
SENDER = os.path.join(CLIENTS, "send-pagerduty.mjs")
HAVE_PDJS = shutil.which("node") and os.path.isdir(os.path.join(CLIENTS, "node_modules", "@pagerduty", "pdjs"))
RK = "0123456789abcdef0123456789abcdef"
SUCCESS = {"status": "success", "message": "Event processed"}
CHANGE_OK = {"status": "success", "message": "Change event processed"}
# PagerDuty's documented change event (developer docs, "Send a Change Event")
CHANGE = {"routing_key": RK,
          "payload": {"summary": "Build Success: Increase snapshot create timeout to 30 seconds",
                      "timestamp": "2020-07-17T08:42:58.315+0000", "source": "acme-build-pipeline-tool-default-i-9999",
                      "custom_details": {"build_state": "passed", "build_number": "2", "run_time": "1236s"}},
          "links": [{"href": "https://acme.pagerduty.dev/build/2", "text": "View more details in Acme!"}]}


def trigger(dedup_key=None, source="prod/Pod/api-1", rk=RK, **payload):
    p = {"summary": "api-1 crash looping", "source": source, "severity": "critical"}
    p.update(payload)
    d = {"routing_key": rk, "event_action": "trigger", "payload": p}
    if dedup_key is not None:
        d["dedup_key"] = dedup_key
    return d


def fp(dedup_key, rk=RK):
    return hashlib.sha256(("pagerduty:%s:%s" % (rk, dedup_key)).encode()).hexdigest()


def outcome(g, name, source="pagerduty"):
    """gateway_signals_total{source=source,outcome=name} now (0 if absent)."""
    key = 'gateway_signals_total{source="%s",outcome="%s"}' % (source, name)
    for line in g.get("/metrics").body.decode().splitlines():
        if line.startswith(key + " "):
            return float(line.split()[1])
    return 0


class PagerDutyTests(unittest.TestCase):
    def gw(self, config="", **kw):
        g = Gateway(config, **kw)
        self.addCleanup(g.stop)
        return g

    def pdjs(self, g, action, data, headers=None):
        """Sends data with pdjs's trigger / acknowledge / resolve / event; returns (status, body)."""
        if not HAVE_PDJS:
            self.skipTest("the @pagerduty/pdjs npm client is not installed (scripts/setup)")
        argv = ["node", SENDER, str(g.port), action, json.dumps(data)]
        if headers:
            argv.append(json.dumps(headers))
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        out = json.loads(p.stdout)
        return out["status"], out["body"]

    def assert_invalid(self, r, errors, status=400):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json, {"status": "invalid event", "message": "Event object is invalid", "errors": errors})

    # ---- pdjs --------------------------------------------------------------------------------

    def test_pdjs_trigger_created_duplicate_acknowledge_resolve(self):
        g = self.gw()
        st, body = self.pdjs(g, "trigger", trigger("pd-1"))
        self.assertEqual((st, body), (202, dict(SUCCESS, dedup_key="pd-1")))
        self.assertEqual(outcome(g, "created"), 1)
        rrs = g.rrs()
        self.assertEqual(len(rrs), 1)
        self.assertEqual(os.path.basename(g.rr_files()[0]), "rr-%s.json" % fp("pd-1")[:16])
        self.assertEqual(rrs[0]["metadata"]["namespace"], "prod")
        # the same dedup_key, another summary and target: a duplicate of the same incident
        st, body = self.pdjs(g, "trigger", trigger("pd-1", source="prod/Deployment/web", summary="still down"))
        self.assertEqual((st, body), (202, dict(SUCCESS, dedup_key="pd-1")))
        self.assertEqual(outcome(g, "duplicate"), 1)
        self.assertEqual(len(g.rr_files()), 1)
        # acknowledge: 202, nothing recorded
        st, body = self.pdjs(g, "acknowledge", {"routing_key": RK, "dedup_key": "pd-1"})
        self.assertEqual((st, body), (202, dict(SUCCESS, dedup_key="pd-1")))
        self.assertEqual(outcome(g, "ignored"), 1)
        self.assertEqual(outcome(g, "duplicate"), 1)
        # resolve closes the window
        st, body = self.pdjs(g, "resolve", {"routing_key": RK, "dedup_key": "pd-1"})
        self.assertEqual((st, body), (202, dict(SUCCESS, dedup_key="pd-1")))
        self.assertEqual(outcome(g, "resolved"), 1)
        self.assertEqual(len(g.rr_files()), 1)

    def test_pdjs_generated_dedup_key_is_returned_and_resolves(self):
        g = self.gw()
        st, body = self.pdjs(g, "trigger", trigger(source="prod/Pod/gen-1"))
        self.assertEqual(st, 202)
        key = body["dedup_key"]
        self.assertRegex(key, "^[0-9a-f]{32}$")
        self.assertEqual(os.path.basename(g.rr_files()[0]), "rr-%s.json" % fp(key)[:16])
        # the same body again is another incident (PagerDuty's behaviour without a dedup_key)
        st, body2 = self.pdjs(g, "trigger", trigger(source="prod/Pod/gen-1"))
        self.assertNotEqual(body2["dedup_key"], key)
        self.assertEqual(outcome(g, "created"), 2)
        st, body = self.pdjs(g, "resolve", {"routing_key": RK, "dedup_key": key})
        self.assertEqual((st, body["dedup_key"]), (202, key))
        self.assertEqual(outcome(g, "resolved"), 1)

    def test_pdjs_invalid_event(self):
        g = self.gw()
        st, body = self.pdjs(g, "event", {"routing_key": "short", "event_action": "trigger", "payload": {}})
        self.assertEqual(st, 400)
        self.assertEqual(body, {"status": "invalid event", "message": "Event object is invalid", "errors": [
            "Length of 'routing_key' is incorrect (should be 32 characters)", "'payload.summary' is missing or blank",
            "'payload.source' is missing or blank", "'payload.severity' is missing or blank"]})

    def test_pdjs_change_event_is_answered_and_not_a_signal(self):
        g = self.gw()
        st, body = self.pdjs(g, "change", CHANGE)
        self.assertEqual((st, body), (202, CHANGE_OK))
        self.assertEqual(g.rr_files(), [])
        self.assertEqual(outcome(g, "ignored", "pagerduty-change"), 1)
        self.assertEqual(outcome(g, "ignored") + outcome(g, "created"), 0)   # not an alert event's count
        self.assertEqual(g.metric('gateway_http_requests_total{endpoint="/v2/change/enqueue",method="POST",status="202"}'), 1)
        # logged: what it was and why nothing was recorded
        wait_until(lambda: "Build Success: Increase snapshot create timeout" in g.logs(), what="the change's log line",
                   show=g.logs)
        line = [l for l in g.logs().splitlines() if "Build Success" in l][0]
        rec = json.loads(line)
        self.assertEqual((rec["source"], rec["status"]), ("pagerduty-change", 202))
        self.assertIn("change_event", rec["reason"])
        # the gateway's own path is the same handler
        r = g.post("/api/v1/signals/pagerduty/change", CHANGE)
        self.assertEqual((r.status, r.json), (202, CHANGE_OK))
        self.assertEqual(outcome(g, "ignored", "pagerduty-change"), 2)
        # an alert event sent to the change endpoint is refused, not answered 202 and lost
        self.assert_invalid(g.post("/v2/change/enqueue", trigger("not-here")),
                            ["'event_action' is not a field of a change event (alert events go to /v2/enqueue)"])
        self.assertEqual(g.rr_files(), [])

    def test_change_event_every_400_with_its_body(self):
        g = self.gw()
        cases = [
            ({"payload": CHANGE["payload"]}, ["'routing_key' is missing or blank"]),
            (dict(CHANGE, routing_key="k" * 33), ["Length of 'routing_key' is incorrect (should be 32 characters)"]),
            ({"routing_key": RK}, ["'payload' is missing or blank"]),
            ({"routing_key": RK, "payload": "deployed"}, ["'payload' must be an object"]),
            ({"routing_key": RK, "payload": {"source": "ci"}}, ["'payload.summary' is missing or blank"]),
            ({"routing_key": RK, "payload": {"summary": "s" * 1025}},
             ["Length of 'payload.summary' is too long (should be at most 1024 characters)"]),
            ({"routing_key": RK, "payload": {"summary": "x", "source": 1, "timestamp": "Tuesday"}},
             ["'payload.source' must be a string", "'payload.timestamp' is not a valid ISO 8601 timestamp"]),
            ([CHANGE], ["Event object must be a JSON object"]),
        ]
        for body, errors in cases:
            with self.subTest(body=json.dumps(body)[:80]):
                self.assert_invalid(g.post("/v2/change/enqueue", body), errors)
        st, body = self.pdjs(g, "change", {"routing_key": RK, "payload": {}})
        self.assertEqual((st, body), (400, {"status": "invalid event", "message": "Event object is invalid",
                                            "errors": ["'payload.summary' is missing or blank"]}))
        self.assertEqual(outcome(g, "ignored", "pagerduty-change"), 0)

    # ---- every 400 -----------------------------------------------------------------------------

    def test_every_400_with_its_body(self):
        g = self.gw()
        cases = [
            ({"event_action": "trigger", "payload": trigger()["payload"]}, ["'routing_key' is missing or blank"]),
            (dict(trigger(), routing_key=""), ["'routing_key' is missing or blank"]),
            (dict(trigger(), routing_key=7), ["'routing_key' must be a string"]),
            (dict(trigger(), routing_key="x" * 31), ["Length of 'routing_key' is incorrect (should be 32 characters)"]),
            ({"routing_key": RK, "payload": trigger()["payload"]}, ["'event_action' is missing or blank"]),
            (dict(trigger(), event_action="fire"), ["'event_action' is invalid (expected trigger, acknowledge or resolve)"]),
            (dict(trigger(), event_action=1), ["'event_action' must be a string"]),
            (dict(trigger("x" * 256)),
             ["Length of 'dedup_key' is too long (should be at most 255 characters)"]),
            (dict(trigger(7)), ["'dedup_key' must be a string"]),
            ({"routing_key": RK, "event_action": "acknowledge"},
             ["'dedup_key' is missing or blank (required for acknowledge and resolve)"]),
            ({"routing_key": RK, "event_action": "resolve", "dedup_key": ""},
             ["'dedup_key' is missing or blank (required for acknowledge and resolve)"]),
            ({"routing_key": RK, "event_action": "trigger"}, ["'payload' is missing or blank"]),
            ({"routing_key": RK, "event_action": "trigger", "payload": []}, ["'payload' must be an object"]),
            (dict(trigger(summary="")), ["'payload.summary' is missing or blank"]),
            (dict(trigger(summary="s" * 1025)),
             ["Length of 'payload.summary' is too long (should be at most 1024 characters)"]),
            (dict(trigger(source="")), ["'payload.source' is missing or blank"]),
            (dict(trigger(severity="high")),
             ["'payload.severity' is invalid (expected critical, error, warning or info)"]),
            (dict(trigger(timestamp="today")),
             ["'payload.timestamp' is not a valid ISO 8601 timestamp"]),
            (dict(trigger(component=1, group=[], **{"class": {}})),
             ["'payload.component' must be a string", "'payload.group' must be a string",
              "'payload.class' must be a string"]),
            (dict(trigger(source="host-1")),
             ["the event names no Kubernetes resource: set payload.custom_details.kind and .name "
              "(or .pod, .deployment, ...) or payload.source as namespace/kind/name"]),
            ([], ["Event object must be a JSON object"]),
        ]
        for body, errors in cases:
            with self.subTest(body=json.dumps(body)[:80]):
                self.assert_invalid(g.post(PATH, body), errors)
        r = g.post(PATH, b'{"routing_key":')
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["status"], "invalid event")
        self.assertEqual(len(r.json["errors"]), 1)
        self.assertEqual(g.rr_files(), [])

    def test_refusals_before_the_adapter_and_flat_memory(self):
        # ASan's quarantine would hold every freed arena: kept small so RSS shows what is live
        g = self.gw("server:\n  max_body_bytes: 64KiB\n", env={"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=1"})
        # the HTTP layer's refusals keep the project's shape (docs/sources.md, Answers)
        r = g.post("/v2/enqueue", trigger("ct-1"), content_type="text/plain")
        self.assertEqual((r.status, r.json["error"]["code"]), (415, "unsupported_media_type"), r)
        r = g.post("/v2/change/enqueue", CHANGE, content_type="application/x-www-form-urlencoded")
        self.assertEqual((r.status, r.json["error"]["code"]), (415, "unsupported_media_type"), r)
        big = trigger("big-1", custom_details={"blob": "x" * 70000})
        r = g.post(PATH, big)
        self.assertEqual((r.status, r.json["error"]["code"]), (413, "payload_too_large"), r)
        # bad input of every kind, again and again: each answered, memory flat
        # (the last one cut short: malformed JSON deep in a large body)
        bad = [b'{"routing_key":', b"[" * 5000, b"\xff\xfe{}", json.dumps(trigger("m", summary="s" * 1025)).encode(),
               json.dumps({"routing_key": 1, "event_action": [], "dedup_key": {}, "payload": "x"}).encode(),
               json.dumps(trigger("m", custom_details={"d": [[[[{"k": "v" * 2000}]]]] * 20})).encode()[:30000]]
        rss = []
        for _ in range(8):
            for b in bad:
                r = g.post(PATH, b)
                self.assertEqual(r.status, 400, (r, b[:40]))
                self.assertEqual(r.json["status"], "invalid event")
                r = g.post("/v2/change/enqueue", b)
                self.assertEqual(r.status, 400, (r, b[:40]))
            rss.append(g.rss_kb())
        self.assertEqual(g.rr_files(), [])
        # the eighth round costs no more than the third (each request's arena is freed)
        assert_flat_rss(self, rss)
        self.assertEqual(g.get("/healthz").status, 200)

    # ---- the target mapping ----------------------------------------------------------------------

    def test_configured_target_mapping(self):
        g = self.gw("pagerduty:\n  namespace_key: ns\n  kind_key: k8s_kind\n  name_key: k8s_name\n"
                    "  source_target: false\n")
        r = g.post(PATH, trigger("map-1", source="host-1",
                                 custom_details={"ns": "ops", "k8s_kind": "StatefulSet", "k8s_name": "db"}))
        self.assertEqual(r.status, 202, r)
        self.assertEqual([os.path.relpath(p, g.rr_dir) for p in g.rr_files()], ["ops/rr-%s.json" % fp("map-1")[:16]])
        # payload.source is not read any more
        r = g.post(PATH, trigger("map-2", source="prod/Pod/api-1"))
        self.assertEqual(r.status, 400, r)
        self.assertIn("names no Kubernetes resource", r.json["errors"][0])

    def test_check_config_names_the_bad_key(self):
        from harness import BINARY
        g0 = Gateway()
        g0.stop()
        path = os.path.join(g0.dir, "bad.yaml")
        with open(path, "w") as f:
            f.write("pagerduty:\n  kind_key: custom_details.kind\n")
        p = subprocess.run([BINARY, "--config", path, "--check-config"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("pagerduty.kind_key 'custom_details.kind' must be a custom_details member name", p.stderr)

    # ---- storms ------------------------------------------------------------------------------

    def test_storm_of_triggers_is_folded(self):
        g = self.gw("storm:\n  rate_threshold: 5\n")
        for i in range(12):
            r = g.post(PATH, trigger("storm-%d" % i, source="prod/Pod/worker-%d" % i, **{"class": "OOMKilled"}))
            self.assertEqual((r.status, r.json["dedup_key"]), (202, "storm-%d" % i), r)
        names = [os.path.basename(p) for p in g.rr_files()]
        storm = [n for n in names if n.startswith("rr-storm-")]
        self.assertEqual(len(storm), 1, names)
        self.assertGreater(outcome(g, "aggregated"), 0)
        self.assertEqual(outcome(g, "created") + outcome(g, "aggregated"), 12)
        self.assertLess(len(names), 12)

    # ---- /v2/enqueue -----------------------------------------------------------------------------

    def test_v2_enqueue_is_the_same_handler(self):
        g = self.gw()
        r = g.post("/v2/enqueue", dict(trigger("enq-1")))
        self.assertEqual((r.status, r.json), (202, dict(SUCCESS, dedup_key="enq-1")))
        r = g.post(PATH, dict(trigger("enq-1")))
        self.assertEqual((r.status, r.json), (202, dict(SUCCESS, dedup_key="enq-1")))
        self.assertEqual(outcome(g, "created"), 1)
        self.assertEqual(outcome(g, "duplicate"), 1)
        self.assert_invalid(g.post("/v2/enqueue", {"routing_key": RK}), ["'event_action' is missing or blank"])

    # ---- concurrency ---------------------------------------------------------------------------

    def test_twenty_concurrent_identical_events_make_one_rr(self):
        g = self.gw()
        body = json.dumps(dict(trigger("conc-1", source="prod/Pod/conc-1"))).encode()
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
        self.assertEqual([r.status for r in results], [202] * 20)
        self.assertTrue(all(r.json == dict(SUCCESS, dedup_key="conc-1") for r in results))
        self.assertEqual(len(g.rr_files()), 1)
        self.assertEqual(outcome(g, "created"), 1)
        self.assertEqual(outcome(g, "duplicate"), 19)

    # ---- auth ----------------------------------------------------------------------------------

    def test_routing_key_is_the_credential_under_static_auth(self):
        g0 = Gateway()   # only for its temp dir
        g0.stop()
        tok = os.path.join(g0.dir, "tokens")
        with open(tok, "w") as f:
            f.write("# PagerDuty integration keys\n%s\n" % RK)
        os.chmod(tok, 0o600)
        g = self.gw(args=["--auth", "static:" + tok])
        st, body = self.pdjs(g, "trigger", trigger("auth-1"))
        self.assertEqual((st, body), (202, dict(SUCCESS, dedup_key="auth-1")))
        # another routing key, no header: 401
        other = "f" * 32
        st, body = self.pdjs(g, "trigger", trigger("auth-2", rk=other))
        self.assertEqual(st, 401)
        self.assertEqual(body["error"]["code"], "unauthorized")
        # an Authorization header wins over the routing key
        st, body = self.pdjs(g, "trigger", trigger("auth-3", rk=other), {"Authorization": "Bearer " + RK})
        self.assertEqual(st, 202)
        st, body = self.pdjs(g, "trigger", trigger("auth-4"), {"Authorization": "Bearer wrong"})
        self.assertEqual(st, 401)
        # change events too
        self.assertEqual(self.pdjs(g, "change", CHANGE), (202, CHANGE_OK))
        self.assertEqual(self.pdjs(g, "change", dict(CHANGE, routing_key=other))[0], 401)
        # other sources do not read a routing_key
        r = g.post("/api/v1/signals/prometheus", {"routing_key": RK, "alerts": []})
        self.assertEqual(r.status, 401)
        self.assertEqual(len(g.rr_files()), 2)

    # ---- outage ------------------------------------------------------------------------------

    def test_outage_is_503_with_retry_after(self):
        g = self.gw()
        os.makedirs(g.rr_dir, exist_ok=True)
        with open(os.path.join(g.rr_dir, "outage"), "w") as f:   # the namespace's directory cannot be made
            f.write("x")
        r = g.post(PATH, dict(trigger("out-1", source="outage/Pod/p")))
        self.assertEqual(r.status, 503, r)
        self.assertIsNotNone(r.headers.get("retry-after"))
        self.assertEqual(r.json["status"], "retry")
        self.assertEqual(len(r.json["errors"]), 1)

    # ---- kubernaut.ai ------------------------------------------------------------------------------

    def test_kubernaut_ai_embedded_mode(self):
        g = self.gw(args=["--rr-api", "kubernaut.ai/v1alpha1"])
        st, body = self.pdjs(g, "trigger", trigger("kai-1", source="prod/Pod/kai-1"))
        self.assertEqual((st, body), (202, dict(SUCCESS, dedup_key="kai-1")))
        rrs = g.rrs()
        self.assertEqual(len(rrs), 1)
        rr = rrs[0]
        self.assertEqual(rr["apiVersion"], "kubernaut.ai/v1alpha1")
        self.assertEqual(rr["spec"]["signalSource"], "pagerduty")
        # upstream's contract: the fingerprint is the target's
        self.assertEqual(rr["spec"]["signalFingerprint"], hashlib.sha256(b"prod:Pod:kai-1").hexdigest())
        st, body = self.pdjs(g, "trigger", trigger("kai-1", source="prod/Pod/kai-1"))
        self.assertEqual(st, 202)
        self.assertEqual(outcome(g, "duplicate"), 1)
        # a resolve records nothing under kubernaut.ai
        st, body = self.pdjs(g, "resolve", {"routing_key": RK, "dedup_key": "kai-1"})
        self.assertEqual((st, body), (202, dict(SUCCESS, dedup_key="kai-1")))
        self.assertEqual(outcome(g, "ignored"), 1)
        self.assertEqual(len(g.rr_files()), 1)
        # a change event names no resource: answered, nothing recorded, no target looked up
        self.assertEqual(self.pdjs(g, "change", CHANGE), (202, CHANGE_OK))
        self.assertEqual(len(g.rr_files()), 1)


if __name__ == "__main__":
    unittest.main()
