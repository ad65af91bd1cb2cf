"""Writes a 50-alert Alertmanager webhook and a CloudEvents batch of 50 io.kubernaut.signal
events (the default mapping) of about the same size, for parse_cost.c. An optional third
argument N gives each event N extension attributes (traceparent-like strings), kept as labels."""
import json
import sys

am = json.load(open(sys.argv[1]))           # a 50-alert Alertmanager body (bench/grafana/gen_bodies.py)
events = []
for a in am["alerts"]:
    lb = a["labels"]
    data = {"name": lb.get("alertname", "A"), "namespace": lb.get("namespace", "production"),
            "resource": {"kind": "Pod", "name": lb.get("pod", "p")}, "severity": "critical",
            "status": "firing", "labels": lb}
    events.append({"specversion": "1.0", "id": "e-" + lb.get("pod", "p"), "source": "/monitoring/cluster-1",
                   "type": "io.kubernaut.signal", "time": a["startsAt"], "datacontenttype": "application/json",
                   "data": data})
    for k in range(int(sys.argv[3]) if len(sys.argv) > 3 else 0):
        events[-1]["ext%d" % k] = "00-4bf92f3577b34da6a3ce929d0e0e4736-%016x-01" % k
am_len = len(json.dumps(am))
pad = (am_len - len(json.dumps(events))) // len(events)
for e in events:   # the same bytes to read: pad a label, as the Alertmanager side pads its description
    e["data"]["labels"]["description"] = "x" * max(pad - 20, 0)
json.dump(events, open(sys.argv[2], "w"))
