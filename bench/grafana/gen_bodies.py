"""Writes a 50-alert Grafana webhook and a 50-alert Alertmanager webhook of about the same
size (the Alertmanager alerts' description annotation padded to match) for parse_cost.c."""
import json
import sys

fx = json.load(open(sys.argv[1]))          # tests/fixtures/grafana-firing.json
a0 = fx["alerts"][0]
g = dict(fx, alerts=[])
am = {"version": "4", "groupKey": fx["groupKey"], "status": "firing", "receiver": "r", "groupLabels": fx["groupLabels"],
      "commonLabels": {}, "commonAnnotations": {}, "externalURL": fx["externalURL"], "truncatedAlerts": 0, "alerts": []}
for i in range(50):
    a = json.loads(json.dumps(a0))
    a["labels"]["pod"] = "api-%d" % i
    a["fingerprint"] = "%016x" % (0xa000000000000000 + i)
    g["alerts"].append(a)
    m = {k: a[k] for k in ("status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint")}
    m = json.loads(json.dumps(m))
    pad = len(json.dumps(a)) - len(json.dumps(m))
    m["annotations"]["description"] += "x" * max(pad, 0)
    am["alerts"].append(m)
json.dump(am, open(sys.argv[2], "w"))
json.dump(g, open(sys.argv[3], "w"))
