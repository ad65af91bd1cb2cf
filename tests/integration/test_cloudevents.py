"""CloudEvents over HTTP (POST /api/v1/signals/cloudevents) end to end: binary, structured and
batch mode sent by the official JavaScript SDK (tests/clients/send-cloudevents.mjs, installed
by scripts/setup), every 4xx with its body, unknown types, concurrency, and kubernaut.ai."""
import hashlib
import json
import os
import shutil
import subprocess
import threading
import unittest

from harness import ROOT, Gateway, assert_flat_rss

PATH = "/api/v1/signals/cloudevents"
CLIENTS = os.path.join(ROOT, "tests", "clients")
SENDER = os.path.join(CLIENTS, "send-cloudevents.mjs")
HAVE_SDK = shutil.which("node") and os.path.isdir(os.path.join(CLIENTS, "node_modules", "cloudevents"))
TYPE = "io.kubernaut.signal"


def data(name="PodCrashLooping", pod="api-1", ns="prod", **extra):
    d = {"name": name, "namespace": ns, "resource": {"kind": "Pod", "name": pod}, "severity": "critical"}
    d.update(extra)
    return d


def event(i="e-1", type_=TYPE, **d):
    return {"specversion": "1.0", "id": i, "source": "/tests", "type": type_, "data": data(**d)}


class CloudEventsTests(unittest.TestCase):
    def gw(self, config="", **kw):
        g = Gateway(config, **kw)
        self.addCleanup(g.stop)
        return g

    def sdk(self, g, mode, expected, events):
        """Sends events with the SDK; returns (status, reply)."""
        if not HAVE_SDK:
            self.skipTest("the cloudevents npm client is not installed (scripts/setup)")
        p = subprocess.run(["node", SENDER, "http://127.0.0.1:%d%s" % (g.port, PATH), mode, str(expected),
                            json.dumps(events)], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        out = json.loads(p.stdout)
        return out["status"], json.loads(out["body"])

    def post(self, g, body, content_type="application/cloudevents+json", headers=None):
        return g.post(PATH, body, content_type=content_type, headers=headers)

    def assert_error(self, r, status, code, text):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"]["code"], code, r)
        self.assertIn(text, r.json["error"]["message"])

    # ---- the SDK ------------------------------------------------------------------------

    def test_sdk_binary_created_duplicate_resolved(self):
        g = self.gw()
        st, reply = self.sdk(g, "binary", 201, [{"type": TYPE, "source": "/sdk", "data": data()}])
        self.assertEqual(reply["results"][0]["status"], "created")
        fp = hashlib.sha256(b"PodCrashLooping:prod:Pod:api-1").hexdigest()
        self.assertEqual(reply["results"][0]["fingerprint"], fp)
        st, reply = self.sdk(g, "binary", 202, [{"type": TYPE, "source": "/sdk", "data": data()}])
        self.assertEqual((reply["results"][0]["status"], reply["results"][0]["count"]), ("duplicate", 2))
        st, reply = self.sdk(g, "binary", 202, [{"type": TYPE, "source": "/sdk", "data": data(status="resolved")}])
        self.assertEqual(reply["results"][0]["status"], "ignored")
        self.assertIn("resolved", reply["results"][0]["reason"])
        self.assertEqual(len(g.rr_files()), 1)

    def test_sdk_structured_created_then_duplicate(self):
        g = self.gw()
        st, reply = self.sdk(g, "structured", 201, [{"type": TYPE, "source": "/sdk", "data": data(pod="api-2")}])
        self.assertEqual(reply["status"], "created")
        st, reply = self.sdk(g, "structured", 202, [{"type": TYPE, "source": "/sdk", "data": data(pod="api-2")}])
        self.assertEqual(reply["status"], "duplicate")
        rr = g.rrs()[0]
        self.assertEqual(rr["spec"]["signalName"] if "signalName" in rr["spec"] else rr["spec"].get("alertName"),
                         "PodCrashLooping")

    def test_sdk_batch_with_an_unknown_type(self):
        g = self.gw()
        st, reply = self.sdk(g, "batch", 201, [{"type": TYPE, "source": "/sdk", "data": data(pod="b-1")},
                                               {"type": TYPE, "source": "/sdk", "data": data(pod="b-2")},
                                               {"type": "com.example.build", "source": "/ci", "data": {"ok": True}}])
        self.assertEqual([x["status"] for x in reply["results"]], ["created", "created", "ignored"])
        self.assertEqual(reply["status"], "mixed")
        self.assertEqual(len(g.rr_files()), 2)

    def test_sdk_extensions_become_labels_in_binary_and_structured_mode(self):
        g = self.gw()
        tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        for mode, pod in (("binary", "ext-b"), ("structured", "ext-s")):
            st, reply = self.sdk(g, mode, 201, [{"type": TYPE, "source": "/sdk", "data": data(pod=pod),
                                                 "k8scluster": "east-1", "traceparent": tp, "priority": 3}])
            self.assertEqual(reply["results"][0]["status"], "created", (mode, reply))
        for rr in g.rrs():
            labels = rr["spec"]["signalLabels"]
            self.assertEqual(labels["cloudevents.io/k8scluster"], "east-1")
            self.assertEqual(labels["cloudevents.io/traceparent"], tp)
            self.assertEqual(labels["cloudevents.io/priority"], "3")   # an Integer, as text in both modes
            self.assertNotIn("cloudevents.io/id", labels)
        self.assertEqual(len(g.rr_files()), 2)

    def test_sdk_binary_mapping_reads_an_extension_and_a_fixed_kind(self):
        g = self.gw("cloudevents:\n  types:\n    - type: com.example.node\n      name: alert\n"
                    "      kind: {value: Node}\n      resource: {extension: nodename}\n"
                    "      severity: {extension: level}\n")
        st, reply = self.sdk(g, "binary", 201, [{"type": "com.example.node", "source": "/sdk",
                                                 "data": {"alert": "NodeNotReady"}, "nodename": "node-3",
                                                 "level": "critical"}])
        self.assertEqual(reply["results"][0]["fingerprint"], hashlib.sha256(b"NodeNotReady::Node:node-3").hexdigest())
        rr = g.rrs()[0]
        self.assertEqual(rr["spec"]["severity"], "critical")
        # without the extension: a 400 that names it
        r = self.post(g, {"alert": "NodeNotReady"}, content_type="application/json",
                      headers={"ce-specversion": "1.0", "ce-id": "2", "ce-source": "/s", "ce-type": "com.example.node"})
        self.assert_error(r, 400, "missing_field", "ce-nodename is required")

    def test_extensions_beyond_the_limits_are_counted_not_kept(self):
        g = self.gw()
        h = {"ce-specversion": "1.0", "ce-id": "x-1", "ce-source": "/s", "ce-type": TYPE,
             "ce-toolongextensionname123": "v"}                   # a name over 20 characters: not kept
        h.update({"ce-x%d" % i: "v" for i in range(20)})          # the HTTP layer keeps 16 in all: x0..x14
        r = self.post(g, data(pod="ext-many"), content_type="application/json", headers=h)
        self.assertEqual(r.status, 201, r)
        labels = g.rrs()[0]["spec"]["signalLabels"]
        self.assertEqual(sorted(k for k in labels if k.startswith("cloudevents.io/")),
                         sorted("cloudevents.io/x%d" % i for i in range(15)), labels)
        self.assertEqual(g.metric("gateway_cloudevents_extensions_dropped_total"), 6)   # the long name, x15..x19

    # ---- storms -------------------------------------------------------------------------------

    def test_storm_of_events_becomes_one_aggregated_rr(self):
        g = self.gw()
        storm = [{"type": TYPE, "source": "/sdk", "data": data(name="OOMKilled", pod="worker-%d" % i)}
                 for i in range(50)]
        st, reply = self.sdk(g, "batch", 201, storm)
        sts = [x["status"] for x in reply["results"]]
        self.assertEqual((sts.count("created"), sts.count("aggregated")), (1, 49), sts)
        rr_names = {x["remediationRequest"] for x in reply["results"]}
        self.assertEqual(len(rr_names), 1)
        # later events of the storm, one a request: 202 aggregated into the same RR
        for i in range(50, 53):
            st, reply = self.sdk(g, "structured", 202, [{"type": TYPE, "source": "/sdk",
                                                         "data": data(name="OOMKilled", pod="worker-%d" % i)}])
            res = reply["results"][0]
            self.assertEqual((reply["status"], res["status"], res["isStorm"]), ("aggregated", "aggregated", True), reply)
            self.assertEqual((res["remediationRequest"], res["count"]), (min(rr_names), i + 1), reply)
        rrs = g.rrs()
        self.assertEqual(len(rrs), 1, [x["metadata"]["name"] for x in rrs])
        self.assertTrue(rrs[0]["spec"]["isStorm"])
        self.assertEqual(rrs[0]["spec"]["signalType"], "cloudevent")
        self.assertTrue(rrs[0]["metadata"]["name"].startswith("rr-storm-"))

    # ---- 4xx --------------------------------------------------------------------------------

    def test_missing_specversion_is_400_naming_it(self):
        g = self.gw()
        ev = event()
        del ev["specversion"]
        self.assert_error(self.post(g, ev), 400, "missing_field", "specversion is required")
        self.assert_error(self.post(g, data(), content_type="application/json",
                                    headers={"ce-id": "1", "ce-source": "/s", "ce-type": TYPE}),
                          400, "missing_field", "ce-specversion is required")

    def test_each_required_attribute_and_time(self):
        g = self.gw()
        for attr in ("id", "source", "type"):
            ev = event()
            del ev[attr]
            self.assert_error(self.post(g, ev), 400, "missing_field", "%s is required" % attr)
        self.assert_error(self.post(g, dict(event(), specversion="0.3")), 400, "unsupported_version", "\"0.3\"")
        self.assert_error(self.post(g, dict(event(), time="not-a-time")), 400, "invalid_field", "RFC 3339")
        self.assertEqual(g.rr_files(), [])

    def test_wrong_content_types_are_415(self):
        g = self.gw()
        self.assert_error(self.post(g, b"<event/>", content_type="application/xml"), 415, "unsupported_media_type",
                          "application/cloudevents+json")
        h = {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": TYPE}
        self.assert_error(self.post(g, b"plain", content_type="text/plain", headers=h), 415, "unsupported_media_type",
                          "must be JSON")

    def test_bad_event_in_a_batch_is_rejected_and_the_good_ones_kept(self):
        g = self.gw()
        bad = event("e-2")
        del bad["id"]
        r = self.post(g, [event("e-1", pod="k-1"), bad], content_type="application/cloudevents-batch+json")
        self.assertEqual(r.status, 201, r)
        self.assertEqual([x["status"] for x in r.json["results"]], ["created", "rejected"])
        self.assertEqual(r.json["results"][1]["reason"], "invalid_event: [1].id is required (a non-empty string)")
        self.assertEqual(len(g.rr_files()), 1)
        r = self.post(g, [bad, bad], content_type="application/cloudevents-batch+json")
        self.assert_error(r, 400, "missing_field", "[0].id is required")

    def test_batch_beyond_max_alerts_is_413(self):
        # ASan's quarantine would hold every freed arena: kept small so RSS shows what is live
        g = self.gw("adapters:\n  max_alerts: 100\nserver:\n  max_body_bytes: 8MiB\n",
                    env={"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=1"})
        body = json.dumps([event("e-%d" % i, pod="p-%d" % i) for i in range(10000)]).encode()
        rss = []
        for _ in range(8):
            r = self.post(g, body, content_type="application/cloudevents-batch+json")
            self.assert_error(r, 413, "too_many_alerts", "10000 events in one batch, more than adapters.max_alerts (100)")
            rss.append(g.rss_kb())
        self.assertEqual(g.rr_files(), [])
        # flat memory: the eighth refusal costs no more than the third (each request's arena is freed)
        assert_flat_rss(self, rss)

    def test_every_other_4xx_has_its_body(self):
        g = self.gw("server:\n  max_body_bytes: 64KiB\n")
        batch = "application/cloudevents-batch+json"
        h = {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": TYPE}
        cases = [
            (b'{"specversion":"1.0",', "application/cloudevents+json", None, 400, "invalid_json", None),
            (b"[]", batch, None, 400, "no_alerts", "no events"),
            (json.dumps(event()).encode(), batch, None, 400, "invalid_field", "expected a JSON array of CloudEvents"),
            (json.dumps([1, 2]).encode(), batch, None, 400, "invalid_field", "[0]: expected a JSON object"),
            (json.dumps(dict(event(), data_base64="aGk=")).encode(), "application/cloudevents+json", None, 400,
             "invalid_field", "data_base64: binary data cannot be mapped"),
            (json.dumps(dict(event(), data="text")).encode(), "application/cloudevents+json", None, 400,
             "invalid_field", "data: expected a JSON object"),
            (json.dumps(dict(event(), id=7)).encode(), "application/cloudevents+json", None, 400, "invalid_field",
             "id: expected a string"),
            (json.dumps(data()).encode(), "application/json", dict(h, **{"ce-id": "%FF"}), 400, "invalid_utf8",
             "ce-id: not valid UTF-8"),
            (b"[" + b"[" * 100 + b"]" * 100 + b"]", batch, None, 400, "too_deep", None),
            (b"x" * (65 * 1024), "application/cloudevents+json", None, 413, "payload_too_large", None),
        ]
        for body, ct, headers, status, code, msg in cases:
            r = self.post(g, body, content_type=ct, headers=headers)
            self.assertEqual((r.status, r.json["error"]["code"]), (status, code), (code, r))
            if msg:
                self.assertIn(msg, r.json["error"]["message"], r)
        self.assertEqual(g.rr_files(), [])

    def test_large_invalid_batches_are_400_with_flat_memory(self):
        g = self.gw("server:\n  max_body_bytes: 8MiB\n", env={"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=1"})
        bad = []
        for i in range(1000):   # adapters.max_alerts' default: parsed to the end, every one invalid
            ev = event("e-%d" % i, pod="p-%d" % i, pad="x" * 200)
            del ev["source"]
            bad.append(ev)
        body = json.dumps(bad).encode()
        rss = []
        for _ in range(8):
            r = self.post(g, body, content_type="application/cloudevents-batch+json")
            self.assert_error(r, 400, "missing_field", "[0].source is required")
            rss.append(g.rss_kb())
        self.assertEqual(g.rr_files(), [])
        assert_flat_rss(self, rss)

    def test_mapping_path_that_meets_an_object_or_an_array_is_400(self):
        g = self.gw()
        for res, found in (({"kind": "Pod", "name": {"first": "api"}}, "an object"),
                           ({"kind": ["Pod"], "name": "api"}, "an array")):
            ev = dict(event(), data={"name": "X", "resource": res})
            r = self.post(g, ev)
            self.assert_error(r, 400, "invalid_field", "found %s" % found)
        ev = dict(event(), data={"name": "X", "resource": [{"kind": "Pod", "name": "api"}]})
        self.assert_error(self.post(g, ev), 400, "invalid_field", "data.resource: expected an object on the way, found an array")
        self.assertEqual(g.rr_files(), [])

    # ---- types ------------------------------------------------------------------------------

    def test_unknown_type_is_202_ignored_and_counted(self):
        g = self.gw()
        r = self.post(g, event(type_="com.example.deploy"))
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["status"], "ignored")
        self.assertIn("unknown_type", r.json["results"][0]["reason"])
        metrics = g.get("/metrics").body.decode()
        self.assertIn('gateway_cloudevents_ignored_total{reason="unknown_type"} 1', metrics)
        self.assertEqual(g.rr_files(), [])

    def test_configured_type_maps_its_own_paths(self):
        g = self.gw("cloudevents:\n  types:\n    - type: com.example.alert\n      name: alert.title\n"
                    "      kind: target.kind\n      resource: target.name\n      namespace: target.ns\n")
        ev = {"specversion": "1.0", "id": "1", "source": "/x", "type": "com.example.alert",
              "data": {"alert": {"title": "DiskFull"}, "target": {"kind": "Node", "name": "n1", "ns": ""}}}
        r = self.post(g, ev)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["results"][0]["signalName"], "DiskFull")
        # the built-in mapping is replaced
        self.assertEqual(self.post(g, event()).json["status"], "ignored")

    def test_twenty_concurrent_identical_events_make_one_rr(self):
        g = self.gw()
        body = json.dumps(event(pod="conc-1")).encode()
        results, lock = [], threading.Lock()

        def send():
            r = self.post(g, body)
            with lock:
                results.append(r)

        threads = [threading.Thread(target=send) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        statuses = sorted(r.status for r in results)
        self.assertEqual(statuses.count(201), 1, statuses)
        self.assertEqual(statuses.count(202), 19, statuses)
        self.assertEqual(len(g.rr_files()), 1)

    def test_kubernaut_ai_embedded_mode(self):
        g = self.gw(args=["--rr-api", "kubernaut.ai/v1alpha1"])
        st, reply = self.sdk(g, "structured", 201, [{"type": TYPE, "source": "/sdk", "data": data(pod="kai-1")}])
        fp = hashlib.sha256(b"prod:Pod:kai-1").hexdigest()
        self.assertEqual(reply["results"][0]["fingerprint"], fp)
        rr = g.rrs()[0]
        self.assertEqual(rr["apiVersion"], "kubernaut.ai/v1alpha1")
        self.assertEqual(rr["spec"]["signalSource"], "cloudevents")
        st, reply = self.sdk(g, "binary", 202, [{"type": TYPE, "source": "/sdk", "data": data(pod="kai-1")}])
        self.assertEqual(reply["results"][0]["status"], "duplicate")


if __name__ == "__main__":
    unittest.main()
