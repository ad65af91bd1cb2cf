"""Freshness (replay) checks as upstream Kubernaut makes them (src/freshness.c, the adapters'
startsAt and Event-time checks), over real HTTP: every rejection is a 400 with our JSON error
body naming the field and the tolerance, and the edges inside the window are accepted.
adapters.freshness: on here; auto turns the checks on under kubernaut.ai only, and the
default contract answers exactly as before."""
import json
import socket
import time
import unittest
import uuid

from harness import Gateway, pod_alert, webhook

PROM = "/api/v1/signals/prometheus"
EVENTS = "/api/v1/signals/kubernetes-event"
TOLERANCE, SKEW = 300, 120          # the defaults, upstream's (5 min, 2 min)
MARGIN = 10                          # seconds of slack for the test's own timing


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def micro(t):
    """A MicroTime, as events.k8s.io/v1 writes eventTime."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.123456Z", time.gmtime(t))


def alert(**kw):
    return pod_alert("Fresh" + uuid.uuid4().hex[:8], "p-" + uuid.uuid4().hex[:6], **kw)


def event(**times):
    e = {"apiVersion": "v1", "kind": "Event", "reason": "BackOff", "type": "Warning",
         "message": "Back-off restarting failed container",
         "metadata": {"name": "e-" + uuid.uuid4().hex[:8], "namespace": "production"},
         "involvedObject": {"kind": "Pod", "namespace": "production", "name": "p-" + uuid.uuid4().hex[:8]},
         "firstTimestamp": None, "lastTimestamp": None}
    e.update(times)
    return e


def ts(delta):
    return {"X-Timestamp": str(int(time.time()) + delta)}


class FreshnessTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.g = Gateway("adapters:\n  freshness: on\n", workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.g.stop()

    def refused(self, r, code, *words):
        self.assertEqual(r.status, 400, r)
        err = r.json["error"]
        self.assertEqual(err["code"], code, err)
        for w in words:
            self.assertIn(w, err["message"])
        return err["message"]

    # ---- X-Timestamp (Alertmanager route) ------------------------------------------------

    def test_header_older_than_the_tolerance_is_a_stale_timestamp(self):
        n = len(self.g.rr_files())
        r = self.g.alert(webhook([alert()]), headers=ts(-TOLERANCE - MARGIN))
        msg = self.refused(r, "stale_timestamp", "X-Timestamp", "old", "tolerance of 300s",
                           "adapters.freshness_tolerance")
        self.assertRegex(msg, r"^X-Timestamp: \d+ is 3[01]\d(\.\d+)?s old")
        self.assertEqual(len(self.g.rr_files()), n, "a refused request wrote an RR")

    def test_header_beyond_the_clock_skew_is_a_future_timestamp(self):
        r = self.g.alert(webhook([alert()]), headers=ts(SKEW + MARGIN))
        self.refused(r, "future_timestamp", "X-Timestamp", "in the future", "clock skew tolerance of 120s",
                     "adapters.freshness_clock_skew")

    def test_header_that_is_not_a_unix_time_is_an_invalid_field(self):
        for v in ("yesterday", "1.7e9", "-5"):
            r = self.g.alert(webhook([alert()]), headers={"X-Timestamp": v})
            self.refused(r, "invalid_field", "X-Timestamp")

    def test_header_inside_the_window_is_accepted_and_the_body_is_not_checked(self):
        # upstream: a request with X-Timestamp is judged by it alone, so neither a startsAt
        # in the future nor none at all matters then
        for delta in (-TOLERANCE + MARGIN, 0, SKEW - MARGIN):
            r = self.g.alert(webhook([alert(startsAt=rfc3339(time.time() + 3600))]), headers=ts(delta))
            self.assertEqual(r.status, 201, (delta, r))
        r = self.g.alert(webhook([alert(startsAt=None)]), headers=ts(0))
        self.assertEqual(r.status, 201, r)

    def test_first_of_two_x_timestamp_headers_counts(self):
        body = json.dumps(webhook([alert()])).encode()
        now = int(time.time())

        def send(first, second):
            s = socket.create_connection(("127.0.0.1", self.g.port), timeout=10)
            try:
                s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "X-Timestamp: %d\r\nX-Timestamp: %d\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                           % (PROM, first, second, len(body))).encode() + body)
                data = b""
                while True:
                    d = s.recv(65536)
                    if not d:
                        return data
                    data += d
            finally:
                s.close()
        self.assertTrue(send(now - 3600, now).startswith(b"HTTP/1.1 400 "))
        self.assertTrue(send(now, now - 3600).startswith(b"HTTP/1.1 201 "))

    # ---- alerts' startsAt (no header) ----------------------------------------------------------

    def test_an_alert_starting_beyond_the_clock_skew_is_refused_by_name(self):
        r = self.g.alert(webhook([alert(), alert(startsAt=rfc3339(time.time() + SKEW + MARGIN))]))
        self.refused(r, "future_timestamp", "alerts[1].startsAt", "in the future", "clock skew tolerance of 120s")

    def test_old_and_slightly_early_startsat_are_accepted(self):
        # an alert firing for days is re-sent with its original startsAt: not a replay
        r = self.g.alert(webhook([alert(startsAt=rfc3339(time.time() - 3 * 86400)),
                                  alert(startsAt=rfc3339(time.time() + SKEW - MARGIN))]))
        self.assertEqual(r.status, 201, r)

    def test_a_webhook_without_any_startsat_is_refused(self):
        r = self.g.alert(webhook([alert(startsAt=None), alert(startsAt="0001-01-01T00:00:00Z")]))
        self.refused(r, "missing_field", "alerts[].startsAt", "adapters.freshness")

    # ---- Kubernetes Events ---------------------------------------------------------------------

    def test_stale_and_future_events_are_refused_naming_the_field(self):
        now = time.time()
        r = self.g.post(EVENTS, event(firstTimestamp=rfc3339(now - 3600), lastTimestamp=rfc3339(now - TOLERANCE - MARGIN)))
        self.refused(r, "stale_timestamp", "lastTimestamp", "tolerance of 300s", "adapters.freshness_tolerance")
        r = self.g.post(EVENTS, event(lastTimestamp=rfc3339(now + SKEW + MARGIN)))
        self.refused(r, "future_timestamp", "lastTimestamp", "clock skew tolerance of 120s")
        r = self.g.post(EVENTS, event(firstTimestamp=rfc3339(now - 3600)))
        self.refused(r, "stale_timestamp", "firstTimestamp")
        r = self.g.post(EVENTS, event(eventTime=rfc3339(now - 3600)))
        self.refused(r, "stale_timestamp", "eventTime")
        r = self.g.post(EVENTS, event())
        self.refused(r, "missing_field", "lastTimestamp, firstTimestamp, series.lastObservedTime or eventTime")

    def test_events_inside_the_window_are_accepted_and_the_header_is_not_read(self):
        now = time.time()
        ok = [event(firstTimestamp=rfc3339(now - 3600), lastTimestamp=rfc3339(now - TOLERANCE + MARGIN)),
              event(lastTimestamp=rfc3339(now + SKEW - MARGIN)),
              # events.k8s.io/v1: a recurring Event's latest is series.lastObservedTime
              event(eventTime=micro(now - 3600), series={"count": 4, "lastObservedTime": micro(now - 30)}),
              event(eventTime=micro(now - 30))]
        for e in ok:
            r = self.g.post(EVENTS, e, headers={"X-Timestamp": "not even a number"})
            self.assertEqual(r.status, 201, (e, r))

    def test_refusals_are_counted_by_reason(self):
        self.g.alert(webhook([alert()]), headers=ts(-3600))
        self.g.post(EVENTS, event(lastTimestamp=rfc3339(time.time() + 3600)))
        text = self.g.get("/metrics").body.decode()
        self.assertRegex(text, r'gateway_requests_rejected_total\{reason="stale_timestamp"\} [1-9]')
        self.assertRegex(text, r'gateway_requests_rejected_total\{reason="future_timestamp"\} [1-9]')


class FreshnessByContractTests(unittest.TestCase):
    """adapters.freshness: auto (the default): upstream's checks under kubernaut.ai, none
    under remediation.kubernaut.io, which answers as it always has."""

    def gw(self, config):
        g = Gateway(config, workers=1)
        self.addCleanup(g.stop)
        return g

    def test_auto_checks_under_kubernaut_ai(self):
        g = self.gw("sink:\n  rr_api: kubernaut.ai/v1alpha1\n")
        r = g.alert(webhook([alert()]), headers=ts(-3600))
        self.assertEqual((r.status, r.json["error"]["code"]), (400, "stale_timestamp"), r)
        r = g.post(EVENTS, event(lastTimestamp=rfc3339(time.time() - 3600)))
        self.assertEqual((r.status, r.json["error"]["code"]), (400, "stale_timestamp"), r)

    def test_auto_leaves_the_default_contract_as_it_was(self):
        g = self.gw("")
        r = g.alert(webhook([alert(startsAt=rfc3339(time.time() + 3600))]), headers=ts(-3600))
        self.assertEqual(r.status, 201, r)
        r = g.alert(webhook([alert(startsAt=None)]), headers={"X-Timestamp": "garbage"})
        self.assertEqual(r.status, 201, r)
        r = g.post(EVENTS, event(lastTimestamp=rfc3339(time.time() - 86400)))
        self.assertEqual(r.status, 201, r)


if __name__ == "__main__":
    unittest.main()
