"""Outages while Alertmanager is sending: Redis down, the API server failing, and the
gateway SIGKILLed and restarted on the same port mid-stream. The gateway must answer 503
(never a 2xx for something it did not make durable), Alertmanager's notifier retries with
backoff, and after recovery every alert is a RemediationRequest exactly once."""
import collections
import re
import signal
import time
import unittest

from peers import (E2ETestCase, am_config, brief, metric, rfc3339, settled_metrics, stop_gateway_cleanly,
                   wait_until)

ROUTE = "/api/v1/signals/prometheus"
RR_POST = re.compile(r"/remediationrequests$")


def alert(name, pod, starts):
    return {"labels": {"alertname": name, "namespace": "production", "pod": pod, "severity": "critical"},
            "startsAt": rfc3339(starts)}


class OutageTests(E2ETestCase):
    def readyz(self, g):
        try:
            return g.get("/readyz").status
        except OSError:
            return None

    def assert_exactly_once(self, api, want_names, allow_conflicts=False):
        """Every expected alert name is one RR, no other RR exists, and the API server saw
        exactly one successful create per RR; other creates were only the injected failures
        or (allow_conflicts: a creation cut short by SIGKILL is retried) AlreadyExists."""
        items = api.rrs("production")
        names = collections.Counter(x["spec"]["signalName"] for x in items)
        self.assertEqual(sorted(names), sorted(want_names), names)
        self.assertEqual(max(names.values()), 1, names)
        fps = collections.Counter(x["spec"]["signalFingerprint"] for x in items)
        self.assertEqual(max(fps.values()), 1, fps)
        posts = [r for r in api.requests() if r["method"] == "POST" and RR_POST.search(r["path"])]
        self.assertEqual(sum(1 for r in posts if r["status"] == 201), len(want_names),
                         [(r["path"], r["status"]) for r in posts])
        allowed = {201, 503} | ({409} if allow_conflicts else set())
        self.assertEqual({r["status"] for r in posts} - allowed, set(), [(r["path"], r["status"]) for r in posts])

    def wait_failed_attempts(self, am, n, timeout=15):
        """Alertmanager counts every failed webhook attempt of its retrying notifier."""
        return wait_until("Alertmanager to record %d failed webhook attempts" % n,
                          lambda: am.notifications()["requests_failed"] >= n, timeout, 0.1)

    def test_redis_down_is_503_and_alertmanager_retries_until_every_alert_is_one_rr(self):
        api = self.start_api()
        redis = self.start_redis()
        g = self.k8s_gateway(api, redis)
        am = self.start_alertmanager(am_config([g.port]))
        wait_until("gateway ready", lambda: self.readyz(g) == 200, 15)

        redis.kill()                                    # SIGKILL: connections drop at once
        wait_until("gateway not ready without Redis", lambda: self.readyz(g) == 503, 15)
        t0 = time.time()
        names = ["E2ERedisOutage%d" % i for i in range(5)]
        am.push([alert(n, "ro-%d" % i, t0) for i, n in enumerate(names)])
        # Alertmanager delivers, the gateway answers 503 (state store unavailable), and
        # Alertmanager retries: at least two failed attempts while Redis is down
        self.wait_failed_attempts(am, 2)
        m = settled_metrics(g, "the gateway to count its 503s", lambda m: metric(
            m, "gateway_http_requests_total", endpoint=ROUTE, status="503") >= 2)
        self.assertEqual(metric(m, "gateway_http_requests_total", endpoint=ROUTE, status="201"), 0, brief(m))
        self.assertEqual(metric(m, "gateway_http_requests_total", endpoint=ROUTE, status="202"), 0, brief(m))
        self.assertEqual(api.rrs("production"), [])   # nothing made without the dedup state

        redis.start()                                   # same port, empty (no persistence)
        wait_until("5 RRs after Redis is back", lambda: len(api.rrs("production")) >= 5, 30)
        wait_until("gateway ready again", lambda: self.readyz(g) == 200, 15)
        self.assert_exactly_once(api, names)
        m = settled_metrics(g, "5 creations counted",
                            lambda m: metric(m, "gateway_signals_total", outcome="created") >= 5)
        self.assertEqual(metric(m, "gateway_signals_total", outcome="created"), 5, brief(m))
        self.assertGreaterEqual(metric(m, "gateway_redis_disconnects_total"), 1, brief(m))
        # Alertmanager's own view: the group was delivered in the end
        self.assertIn('msg="Notify attempt failed, will retry later"', am.logs())
        wait_until("Alertmanager to log the successful retry",
                   lambda: re.search(r'msg="Notify success" attempts=([2-9]|\d\d+)', am.logs()), 10)
        # nothing the outage did is left behind: every 503 answered during it freed its
        # request (with Alertmanager retrying through a long outage a leak there grows
        # without bound); the sanitizer build reports leaks at exit
        am.stop()
        stop_gateway_cleanly(self, g)

    def test_api_server_failing_is_503_and_the_retry_creates_each_rr_once(self):
        api = self.start_api()
        redis = self.start_redis()
        g = self.k8s_gateway(api, redis, config="sink:\n  max_retries: 1\n")
        am = self.start_alertmanager(am_config([g.port]))
        # every RR create fails with 503; reads, TokenReview and SAR keep working
        api.fault(method="POST", path_regex="remediationrequests$", count=100000, action="status", status=503)
        t0 = time.time()
        names = ["E2EApiOutage%d" % i for i in range(5)]
        am.push([alert(n, "ao-%d" % i, t0) for i, n in enumerate(names)])
        self.wait_failed_attempts(am, 5)
        # (one group per alert name: 5 webhooks, each failing its one create)
        m = settled_metrics(g, "the gateway to count 5 failed creates and their 503s", lambda m: (
            metric(m, "gateway_http_requests_total", endpoint=ROUTE, status="503") >= 5
            and metric(m, "gateway_crd_creation_errors_total", error_type="unavailable") >= 5))
        self.assertEqual(metric(m, "gateway_http_requests_total", endpoint=ROUTE, status="201"), 0, brief(m))
        self.assertEqual(api.rrs("production"), [])

        api.clear_faults()
        wait_until("5 RRs after the API server recovers", lambda: len(api.rrs("production")) >= 5, 30)
        # the failed creations released their leases: the retry did not wait for them to expire
        self.assert_exactly_once(api, names)
        m = settled_metrics(g, "5 creations counted",
                            lambda m: metric(m, "gateway_signals_total", outcome="created") >= 5)
        self.assertEqual(metric(m, "gateway_signals_total", outcome="created"), 5, brief(m))
        am.stop()
        stop_gateway_cleanly(self, g)

    def test_gateway_sigkilled_and_restarted_mid_stream_loses_and_duplicates_nothing(self):
        api = self.start_api()
        redis = self.start_redis()
        # a short creation lease: a creation interrupted by SIGKILL is taken over after 2 s
        g = self.k8s_gateway(api, redis, config="dedup:\n  lease: 2s\n")
        am = self.start_alertmanager(am_config([g.port]))
        names = ["E2EKill%02d" % i for i in range(30)]

        def push(lo, hi):   # one new alert, its own group, every 100 ms
            for i in range(lo, hi):
                am.push([alert(names[i], "k-%02d" % i, time.time())])
                time.sleep(0.1)

        push(0, 10)         # wave 1: groups keep flushing for ~1 s after the last push …
        wait_until("the first RRs", lambda: len(api.rrs("production")) >= 3, 15, 0.05)
        g.stop(sig=signal.SIGKILL)     # … while the gateway is killed
        self.assertEqual(g.proc.returncode, -signal.SIGKILL)
        failed_before = am.notifications()["requests_failed"]
        push(10, 20)        # wave 2: delivered while nothing listens
        self.wait_failed_attempts(am, failed_before + 1)
        self.assertLess(len(api.rrs("production")), 30)
        g.start()           # same port, same Redis state
        push(20, 30)        # wave 3
        wait_until("30 RRs after the restart", lambda: len(api.rrs("production")) >= 30, 40)
        self.assert_exactly_once(api, names, allow_conflicts=True)
        self.assertEqual(len(re.findall(r'"msg":"listening"', g.logs())), 2)
        self.assertIn("connection refused", am.logs())
        am.stop()
        stop_gateway_cleanly(self, g)   # the restarted gateway, sanitizer-clean at exit


if __name__ == "__main__":
    unittest.main()
