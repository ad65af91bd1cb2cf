"""Maintenance windows and silences (suppress:): an active window answers 202 "suppressed"
with the rule's name, makes no RR and counts per rule; an expired window and an excluding
weekly interval let the signal through; a weekly interval around the current minute (computed
from the test's own clock reading, in UTC and in Europe/Berlin's local time via zoneinfo)
suppresses; --check-config refuses an unknown zone; a negative matcher; resolved signals; PagerDuty's
reply; kubernaut.ai; GET /api/v1/suppressions; SIGHUP that adds and removes rules, and a bad
reload that keeps them."""
import datetime
import json
import os
import signal
import subprocess
import tempfile
import unittest
import zoneinfo

from harness import BINARY, Gateway, pod_alert, wait_until, webhook

PROM = "/api/v1/signals/prometheus"
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]   # Python's order


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def hhmm(minutes):
    return "%02d:%02d" % (minutes // 60, minutes % 60)


def intervals_around(now, before=2, after=3, location="UTC"):
    """Alertmanager time_intervals holding [now - before, now + after) minutes, in location's local
    time (Python's zoneinfo), split at midnight (a times range never wraps it)."""
    out = []
    zone = zoneinfo.ZoneInfo(location)
    start = (now - datetime.timedelta(minutes=before)).astimezone(zone)
    end = (now + datetime.timedelta(minutes=after)).astimezone(zone)
    day = start.date()
    while day <= end.date():
        lo = start if start.date() == day else datetime.datetime.combine(day, datetime.time(), zone)
        m_lo = lo.hour * 60 + lo.minute
        m_hi = end.hour * 60 + end.minute if end.date() == day else 1440
        if m_hi > m_lo:
            out.append({"weekdays": [WEEKDAYS[day.weekday()]],
                        "times": [{"start_time": hhmm(m_lo), "end_time": hhmm(m_hi)}], "location": location})
        day += datetime.timedelta(days=1)
    return out


def rule_yaml(rules):
    """suppress: as YAML (JSON is YAML)."""
    return "suppress: %s\n" % json.dumps(rules)


def suppressed_count(g, rule):
    key = 'gateway_suppressed_signals_total{rule="%s"}' % rule
    for line in g.get("/metrics").body.decode().splitlines():
        if line.startswith(key + " "):
            return float(line.split()[1])
    return 0


class SuppressTests(unittest.TestCase):
    def gw(self, rules, **kw):
        g = Gateway(rule_yaml(rules), **kw)
        self.addCleanup(g.stop)
        return g

    def window(self, name, matchers, start_h, end_h):
        now = datetime.datetime.now(datetime.timezone.utc)
        return {"name": name, "matchers": matchers,
                "starts_at": rfc3339(now + datetime.timedelta(hours=start_h)),
                "ends_at": rfc3339(now + datetime.timedelta(hours=end_h))}

    def assert_suppressed(self, r, rule):
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json["status"], "suppressed", r.body)
        for res in r.json["results"]:
            self.assertEqual(res["status"], "suppressed", r.body)
            self.assertEqual(res["suppressedBy"], rule, r.body)
            self.assertNotIn("remediationRequest", res)

    def test_active_window_suppresses_expired_one_does_not(self):
        g = self.gw([self.window("db-maintenance", ['namespace="payments"'], -1, 1),
                     self.window("last-night", ['namespace="billing"'], -3, -1)])
        r = g.alert(webhook([pod_alert("KubePodCrashLooping", "api-1", ns="payments")]))
        self.assert_suppressed(r, "db-maintenance")
        self.assertEqual(g.rrs(), [])
        self.assertEqual(suppressed_count(g, "db-maintenance"), 1)
        # the same signal again: suppressed again (never recorded, so never a duplicate)
        self.assert_suppressed(g.alert(webhook([pod_alert("KubePodCrashLooping", "api-1", ns="payments")])),
                               "db-maintenance")
        self.assertEqual(suppressed_count(g, "db-maintenance"), 2)
        # resolved: suppressed too
        r = g.alert(webhook([pod_alert("KubePodCrashLooping", "api-1", ns="payments", status="resolved")],
                            status="resolved"))
        self.assert_suppressed(r, "db-maintenance")
        # the expired window lets its namespace through
        r = g.alert(webhook([pod_alert("KubePodCrashLooping", "api-1", ns="billing")]))
        self.assertEqual(r.status, 201, r.body)
        self.assertNotIn("suppressedBy", r.json["results"][0])
        self.assertEqual(len(g.rrs()), 1)
        self.assertEqual(suppressed_count(g, "last-night"), 0)
        metrics = g.get("/metrics").body.decode()
        self.assertIn('gateway_signals_total{source="prometheus",outcome="suppressed"} 3', metrics)

    def test_a_webhook_of_suppressed_and_other_alerts_is_mixed(self):
        g = self.gw([self.window("quiet-pods", ['namespace="payments"', 'pod=~"api-.*"'], -1, 1)])
        r = g.alert(webhook([pod_alert("KubePodCrashLooping", "api-1", ns="payments"),
                             pod_alert("KubePodCrashLooping", "web-1", ns="payments"),
                             pod_alert("KubePodCrashLooping", "api-2", ns="payments")]))
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json["status"], "mixed")
        st = [(x["status"], x.get("suppressedBy")) for x in r.json["results"]]
        self.assertEqual(st, [("suppressed", "quiet-pods"), ("created", None), ("suppressed", "quiet-pods")])
        rrs = g.rrs()
        self.assertEqual(len(rrs), 1)
        self.assertIn("web-1", json.dumps(rrs[0]))
        self.assertNotIn("api-", json.dumps(rrs[0]))
        self.assertEqual(suppressed_count(g, "quiet-pods"), 2)

    def test_weekly_interval_around_the_current_minute(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        other_day = now + datetime.timedelta(days=3)
        g = self.gw([{"name": "now", "matchers": ['namespace="payments"'], "time_intervals": intervals_around(now)},
                     {"name": "other-day", "matchers": ['namespace="billing"'],
                      "time_intervals": intervals_around(other_day)}])
        self.assert_suppressed(g.alert(webhook([pod_alert("A", "p", ns="payments")])), "now")
        r = g.alert(webhook([pod_alert("A", "p", ns="billing")]))
        self.assertEqual(r.status, 201, r.body)
        listed = {x["name"]: x for x in g.get("/api/v1/suppressions").json["suppressions"]}
        self.assertTrue(listed["now"]["active"])
        self.assertFalse(listed["other-day"]["active"])
        self.assertEqual(listed["now"]["timeIntervals"][0]["location"], "UTC")
        self.assertIn("nextChange", listed["now"])   # its end, minutes away

    def test_weekly_interval_in_a_location(self):
        """Berlin's wall clock around now suppresses; the same wall-clock times in New York (six
        hours behind, or five for a few weeks of the year) do not."""
        now = datetime.datetime.now(datetime.timezone.utc)
        berlin = intervals_around(now, location="Europe/Berlin")
        elsewhere = [dict(iv, location="America/New_York") for iv in berlin]
        g = self.gw([{"name": "berlin", "matchers": ['namespace="payments"'], "time_intervals": berlin},
                     {"name": "new-york", "matchers": ['namespace="billing"'], "time_intervals": elsewhere}])
        self.assert_suppressed(g.alert(webhook([pod_alert("A", "p", ns="payments")])), "berlin")
        r = g.alert(webhook([pod_alert("A", "p", ns="billing")]))
        self.assertEqual(r.status, 201, r.body)
        listed = {x["name"]: x for x in g.get("/api/v1/suppressions").json["suppressions"]}
        self.assertTrue(listed["berlin"]["active"])
        self.assertFalse(listed["new-york"]["active"])
        self.assertEqual(listed["berlin"]["timeIntervals"][0]["location"], "Europe/Berlin")
        self.assertEqual(listed["new-york"]["timeIntervals"][0]["location"], "America/New_York")
        self.assertIn("nextChange", listed["berlin"])   # its end, minutes away

    def test_check_config_refuses_an_unknown_zone_naming_the_key(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(rule_yaml([{"name": "tz", "matchers": ['namespace="payments"'],
                                "time_intervals": [{"weekdays": ["monday"], "location": "Europe/Atlantis"}]}]))
        self.addCleanup(os.unlink, f.name)
        p = subprocess.run([BINARY, "--check-config", "--config", f.name], capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 2, p)
        self.assertIn("suppress[0] (tz).time_intervals[0].location", p.stderr)
        self.assertIn("unknown time zone 'Europe/Atlantis'", p.stderr)

    def test_negative_matcher(self):
        g = self.gw([self.window("quiet-but-critical", ['namespace="payments"', 'severity!="critical"'], -1, 1)])
        self.assert_suppressed(g.alert(webhook([pod_alert("A", "p", ns="payments", severity="warning")])),
                               "quiet-but-critical")
        r = g.alert(webhook([pod_alert("A", "p", ns="payments", severity="critical")]))
        self.assertEqual(r.status, 201, r.body)

    def test_list_endpoint_shows_rules_as_written(self):
        rules = [self.window("w", ['{namespace="payments", alertname=~"Kube.*"}', 'team!="db"'], -1, 1),
                 {"name": "nightly", "matchers": ["kind=CronJob"],
                  "time_intervals": [{"weekdays": ["monday:friday"], "days_of_month": ["-3:-1"],
                                      "months": ["january:march"], "years": ["2026:2030"],
                                      "times": [{"start_time": "00:00", "end_time": "06:00"}]}]}]
        g = self.gw(rules)
        r = g.get("/api/v1/suppressions")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["content-type"].split(";")[0], "application/json")
        got = r.json["suppressions"]
        self.assertEqual([x["name"] for x in got], ["w", "nightly"])
        self.assertEqual(got[0]["matchers"], rules[0]["matchers"])
        self.assertEqual(got[0]["startsAt"], rules[0]["starts_at"])
        self.assertEqual(got[0]["endsAt"], rules[0]["ends_at"])
        self.assertTrue(got[0]["active"])
        self.assertEqual(got[0]["nextChange"], rules[0]["ends_at"])
        self.assertEqual(got[1]["timeIntervals"], [{
            "times": [{"start_time": "00:00", "end_time": "06:00"}], "weekdays": ["monday:friday"],
            "days_of_month": ["-3:-1"], "months": ["january:march"], "years": ["2026:2030"], "location": "UTC"}])
        # no rules: an empty list
        g2 = Gateway("")
        self.addCleanup(g2.stop)
        self.assertEqual(g2.get("/api/v1/suppressions").json["suppressions"], [])

    def test_sighup_adds_and_removes_rules_and_a_bad_reload_keeps_them(self):
        g = self.gw([self.window("old", ['namespace="payments"'], -1, 1)])
        self.assert_suppressed(g.alert(webhook([pod_alert("A", "p1", ns="payments")])), "old")
        self.assertEqual(g.alert(webhook([pod_alert("A", "p1", ns="billing")])).status, 201)

        def reload(rules_text, outcome):
            before = g.logs().count(outcome)
            with open(g.config_path, "w") as f:
                f.write(rules_text)
            g.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: g.logs().count(outcome) > before, what="'%s' logged" % outcome, show=g.logs)

        reload(rule_yaml([self.window("new", ['namespace="billing"'], -1, 1)]), "configuration reloaded")
        self.assertEqual([x["name"] for x in g.get("/api/v1/suppressions").json["suppressions"]], ["new"])
        self.assertEqual(g.alert(webhook([pod_alert("A", "p2", ns="payments")])).status, 201)
        self.assert_suppressed(g.alert(webhook([pod_alert("A", "p2", ns="billing")])), "new")
        # a bad rule: the reload is refused, naming the entry and key; the rules stay
        reload(rule_yaml([{"name": "broken", "matchers": ['pod=~"("'], "starts_at": "2026-01-01T00:00:00Z",
                           "ends_at": "2126-01-01T00:00:00Z"}]), "configuration reload failed")
        self.assertIn("suppress[0] (broken).matchers[0]", g.logs())
        self.assertEqual([x["name"] for x in g.get("/api/v1/suppressions").json["suppressions"]], ["new"])
        self.assert_suppressed(g.alert(webhook([pod_alert("A", "p3", ns="billing")])), "new")
        # removing the section removes every rule
        reload("", "configuration reloaded")
        self.assertEqual(g.get("/api/v1/suppressions").json["suppressions"], [])
        self.assertEqual(g.alert(webhook([pod_alert("A", "p4", ns="billing")])).status, 201)

    def test_pagerduty_answers_in_its_own_shape(self):
        g = self.gw([self.window("pd", ['source="pagerduty"', 'namespace="prod"'], -1, 1)])
        event = {"routing_key": "0123456789abcdef0123456789abcdef", "event_action": "trigger",
                 "payload": {"summary": "api-1 crash looping", "source": "prod/Pod/api-1", "severity": "critical"}}
        r = g.post("/api/v1/signals/pagerduty", event)
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json["status"], "success")
        self.assertEqual(g.rrs(), [])
        self.assertEqual(suppressed_count(g, "pd"), 1)

    def test_kubernaut_ai_suppresses_before_the_target_and_the_store(self):
        g = self.gw([self.window("kai", ['namespace="payments"'], -1, 1)], args=["--rr-api", "kubernaut.ai/v1alpha1"])
        self.assert_suppressed(g.alert(webhook([pod_alert("A", "p1", ns="payments")])), "kai")
        self.assertEqual(g.rrs(), [])
        self.assertEqual(g.alert(webhook([pod_alert("A", "p1", ns="billing")])).status, 201)
        self.assertEqual(len(g.rrs()), 1)


if __name__ == "__main__":
    unittest.main()
