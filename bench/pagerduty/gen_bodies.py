"""Writes, for parse_cost.c, a PagerDuty Events v2 trigger and an Alertmanager webhook of one
alert about the same problem, padded to the same size (the PagerDuty event's summary and the
Alertmanager alert's description annotation take the difference), plus a 50-alert
Alertmanager webhook of those alerts (the Alertmanager adapter's per-alert cost when a
request carries many)."""
import json
import sys

fx = json.load(open(sys.argv[1]))          # tests/fixtures/grafana-firing.json
a0 = fx["alerts"][0]
lab, ann = a0["labels"], a0["annotations"]


def am_webhook(n):
    w = {"version": "4", "groupKey": fx["groupKey"], "status": "firing", "receiver": "r",
         "groupLabels": fx["groupLabels"], "commonLabels": {}, "commonAnnotations": {}, "externalURL": fx["externalURL"],
         "truncatedAlerts": 0, "alerts": []}
    for i in range(n):
        m = {k: json.loads(json.dumps(a0[k])) for k in ("status", "labels", "annotations", "startsAt", "endsAt",
                                                          "generatorURL", "fingerprint")}
        m["labels"]["pod"] = "api-%d" % i
        w["alerts"].append(m)
    return w


# the same alert as PagerDuty's Events v2 describes it (Grafana's and Alertmanager's PagerDuty
# receivers put the labels in custom_details)
pd = {"routing_key": "0123456789abcdef0123456789abcdef", "event_action": "trigger", "dedup_key": a0["fingerprint"],
      "payload": {"summary": ann["summary"], "source": "%s/Pod/api-0" % lab["namespace"], "severity": lab["severity"],
                  "timestamp": a0["startsAt"], "component": "api", "group": lab["namespace"], "class": lab["alertname"],
                  "custom_details": {"labels": dict(lab, pod="api-0"), "description": ann["description"],
                                     "firing": "Labels:\n - alertname = PodCrashLooping\n"}},
      "client": "Alertmanager", "client_url": a0["generatorURL"],
      "links": [{"href": a0["generatorURL"], "text": "Source"}]}
am1 = am_webhook(1)
d = len(json.dumps(am1)) - len(json.dumps(pd))
if d > 0:
    pd["payload"]["summary"] += " " + "x" * (d - 1)
else:
    am1["alerts"][0]["annotations"]["description"] += "x" * (-d)
assert len(json.dumps(am1)) == len(json.dumps(pd)), (len(json.dumps(am1)), len(json.dumps(pd)))
json.dump(am1, open(sys.argv[2], "w"))
json.dump(pd, open(sys.argv[3], "w"))
json.dump(am_webhook(50), open(sys.argv[4], "w"))
