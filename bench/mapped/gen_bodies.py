"""Writes a 50-alert Alertmanager webhook and a 50-alert mapped webhook of the same size
for parse_cost.c: the mapped alerts are the Alertmanager ones reshaped (name, target and
severity moved out of the labels into their own members; the description padded so the
two bodies have the same length)."""
import json
import sys

fx = json.load(open(sys.argv[1]))          # tests/fixtures/grafana-firing.json
a0 = fx["alerts"][0]
am = {"version": "4", "groupKey": fx["groupKey"], "status": "firing", "receiver": "r", "groupLabels": fx["groupLabels"],
      "commonLabels": {}, "commonAnnotations": {}, "externalURL": fx["externalURL"], "truncatedAlerts": 0, "alerts": []}
mp = {"data": {"alerts": []}}
for i in range(50):
    a = json.loads(json.dumps(a0))
    a["labels"]["pod"] = "api-%d" % i
    m = {k: a[k] for k in ("status", "labels", "annotations", "startsAt", "endsAt", "generatorURL")}
    m["fingerprint"] = "%016x" % (0xa000000000000000 + i)
    am["alerts"].append(m)
    lab = dict(m["labels"])
    w = {"rule": lab.pop("alertname"), "target": {"namespace": lab.pop("namespace"), "kind": "Pod",
                                                  "name": lab.pop("pod")},
         "severity": lab.pop("severity", "critical"), "state": m["status"], "started": m["startsAt"],
         "id": m["fingerprint"], "labels": lab, "annotations": dict(m["annotations"])}
    mp["data"]["alerts"].append(w)
for _ in range(2):   # pad the shorter body's alerts to the other's length
    la, lm = len(json.dumps(am)), len(json.dumps(mp))
    short, d = (am, lm - la) if la < lm else (mp, la - lm)
    alerts = short["alerts"] if short is am else short["data"]["alerts"]
    for k, x in enumerate(alerts):
        x["annotations"]["description"] += "x" * (d // 50 + (1 if k < d % 50 else 0))
json.dump(am, open(sys.argv[2], "w"))
json.dump(mp, open(sys.argv[3], "w"))
