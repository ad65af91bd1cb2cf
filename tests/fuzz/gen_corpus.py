#!/usr/bin/env python3
"""gen_corpus.py: (re)writes the seed corpora of the fuzz targets, tests/fuzz/corpus/<target>/,
from tests/fixtures and the hand-written cases below. Seeds are named seed-*; files that
libFuzzer adds with `scripts/fuzz --merge` (SHA-1 names) are left alone.
Usage: tests/fuzz/gen_corpus.py   (from the repository root)"""
import glob
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def fixtures(prefix_k8s):
    out = {}
    for p in sorted(glob.glob(os.path.join(FIX, "*.json"))):
        name = os.path.basename(p)
        if name.startswith("grafana-"):
            continue   # the grafana target's
        if name.startswith("k8s-event-") == prefix_k8s:
            with open(p, "rb") as f:
                out[name] = f.read()
    return out


PROM = fixtures(False)
EVENTS = fixtures(True)


def alert(labels, **kw):
    a = {"status": "firing", "labels": labels, "annotations": {}, "startsAt": "2026-11-26T21:50:10Z"}
    a.update(kw)
    return a


def webhook(alerts, **kw):
    w = {"version": "4", "status": "firing", "receiver": "gw", "alerts": alerts,
         "commonLabels": {}, "commonAnnotations": {}, "groupLabels": {}}
    w.update(kw)
    return json.dumps(w, ensure_ascii=False, separators=(",", ":"))


PROM_CASES = {
    "minimal.json": '{"alerts":[{"labels":{"alertname":"A"}}]}',
    "resolved-endsat.json": webhook([alert({"alertname": "A", "namespace": "ns", "pod": "p"},
                                           status="resolved", endsAt="2026-11-26T21:55:10Z")]),
    "common-labels.json": webhook([alert({"pod": "p1"}), alert({"pod": "p2", "severity": "info"})],
                                  commonLabels={"alertname": "Common", "namespace": "prod", "severity": "critical"},
                                  commonAnnotations={"summary": "s"}),
    "precedence.json": webhook([alert({"alertname": "B", "pod": "", "node": "w1", "exported_namespace": "x"})]),
    "unicode.json": webhook([alert({"alertname": "Ünïcødé-🔥", "namespace": "名前空間", "deployment": "d\u00e9"},
                                   fingerprint="ABCDEF0123456789")]),
    "escapes.json": '{"alerts":[{"labels":{"alertname":"A\\u00e9\\ud83d\\ude00\\n\\t\\"","pod":"p"}}],"version":"4"}',
    "nul-escape.json": '{"alerts":[{"labels":{"alertname":"A\\u0000B"}}]}',
    "nulls.json": '{"version":null,"alerts":[{"labels":{"alertname":"A"},"annotations":null,"status":null,'
                  '"startsAt":null,"endsAt":"0001-01-01T00:00:00Z","fingerprint":null}],"commonLabels":null}',
    "duplicate-keys.json": '{"alerts":[{"labels":{"alertname":"A","alertname":"B","POD":"x","pod":"y"}}],'
                           '"ALERTS":[]}',
    "wrong-types.json": '{"alerts":[{"labels":{"alertname":1},"startsAt":5}]}',
    "bad-version.json": '{"version":"3","alerts":[{"labels":{"alertname":"A"}}]}',
    "empty-alerts.json": '{"version":"4","alerts":[]}',
    "numbers.json": '{"x":[-0,0.5e-3,1E+9,-12.25],"alerts":[{"labels":{"alertname":"N"}}]}',
    "deep.json": "[" * 70 + "]" * 70,
    "timestamps.json": webhook([alert({"alertname": "T"}, startsAt="2026-11-26T21:50:10.123456789+05:30",
                                      endsAt="2026-02-29T24:00:00Z")]),
    "same-fingerprint-twice.json": webhook([alert({"alertname": "D", "namespace": "n", "pod": "p"}),
                                            alert({"alertname": "D", "namespace": "n", "pod": "p"})]),
    "storm-12.json": webhook([alert({"alertname": "Storm", "namespace": "prod", "pod": "p%d" % i})
                              for i in range(12)]),
}

EVENT_CASES = {
    "minimal.json": '{"reason":"BackOff","type":"Warning","involvedObject":{"kind":"Pod","name":"p"}}',
    "error-type.json": '{"reason":"Failed","type":"Error","involvedObject":{"kind":"Deployment","name":"d",'
                       '"namespace":"n"},"count":2147483647,"metadata":{"labels":{"a":"b"}}}',
    "normal.json": '{"reason":"Scheduled","type":"Normal","involvedObject":{"kind":"Pod","name":"p","namespace":"n"}}',
    "events-v1.json": '{"reason":"X","type":"Warning","involvedObject":{"kind":"Node","name":"w1"},'
                      '"reportingComponent":"c","reportingInstance":"h","eventTime":"2026-11-26T21:50:10.123456Z"}',
    "bad-count.json": '{"reason":"X","type":"Warning","involvedObject":{"kind":"Pod","name":"p"},"count":1.5}',
    "huge-count.json": '{"reason":"X","type":"Warning","involvedObject":{"kind":"Pod","name":"p"},"count":1e300}',
    "unicode.json": '{"reason":"Ünï","type":"Warning","involvedObject":{"kind":"Pod","name":"p\\u00e9",'
                    '"namespace":"名"},"message":"🔥"}',
    "wrong-type.json": '{"reason":"X","type":"Info","involvedObject":{"kind":"Pod","name":"p"}}',
    "missing.json": '{"reason":"X","involvedObject":{"kind":"Pod"}}',
}

CONFIGS = {
    "example.yaml": """server:
  listen: 0.0.0.0:8080
  metrics_listen: 0.0.0.0:9090
dedup:
  ttl: 5m
environment:
  namespaces:
    payments: production
    checkout: production
    qa: staging
priority:
  rules:
    - {severity: critical, environment: production, priority: P0}
    - {severity: critical, label: team=platform-engineering, priority: P0}
    - {severity: info, priority: P3}
""",
    "all-keys.yaml": """server:
  listen: "[::1]:8080"
  workers: 2
  max_body_bytes: 512KiB
  max_header_bytes: 16384
  max_connections: 100
  max_inflight: 10
  header_timeout: 250ms
  request_timeout: 30s
  idle_timeout: 2m
  write_timeout: 1h
  drain_timeout: 1.5s
  processing_timeout: 15
  retry_after: 5
auth:
  mode: static
  static_file: /etc/sgw/tokens
  allow_ttl: 30s
  deny_ttl: 5s
state:
  url: redis://127.0.0.1:6379/0
  prefix: "sgw:"
  timeout: 2s
sink:
  target: kubernetes
  kubeconfig: ""
  group: remediation.kubernaut.io
  version: v1alpha1
  fallback_namespace: kubernaut-system
  qps: 50.5
  burst: 100
  timeout: 10s
  max_retries: 3
  allow_insecure_tls: no
dedup:
  ttl: 5m
  lease: 10s
storm:
  enabled: true
  rate_threshold: 10
  rate_window: 1m
  pattern_threshold: 5
  pattern_window: 2m
  window: 1m
  flag_ttl: 5m
  update_interval: 1s
  max_resources: 200
adapters:
  max_alerts: 1000
  max_payload_bytes: 64KiB
  max_json_depth: 64
environment:
  default: unknown
priority:
  default: P2
logging:
  level: debug
""",
    "empty.yaml": "# nothing but a comment\n\n",
    "unknown-key.yaml": "server:\n  lisen: 1.2.3.4:80\n",
    "bad-duration.yaml": "dedup:\n  ttl: 5 minutes\n",
    "bad-rules.yaml": "priority:\n  rules:\n    - {severity: fatal, priority: P9}\n    - [a, b]\n",
    "not-mapping.yaml": "- a\n- b\n",
    "anchors.yaml": "base: &b\n  listen: 1.2.3.4:1\nserver: *b\nenvironment:\n  namespaces: {? [a] : b}\n",
    "flow-and-tags.yaml": "{server: {listen: !!str 0.0.0.0:1, workers: !!int 3}, storm: {enabled: !!bool 'yes'}}\n",
    "multi-doc.yaml": "server:\n  workers: 1\n---\nserver:\n  workers: 2\n",
    "quoted.yaml": 'sink:\n  target: "dir:/tmp/a\\u00e9\\0b"\n  fallback_namespace: \'x\'\'y\'\n',
    "block-scalars.yaml": "environment:\n  default: |\n    multi\n    line\n  namespaces:\n    a: >-\n      folded\n      text\n",
    "invalid-yaml.yaml": "server: [unclosed\n  listen: {\n",
    "validate-fails.yaml": "adapters:\n  max_alerts: 0\nstorm:\n  window: 500ms\n",
    "env.yaml": "server:\n  workers: 1\n\0SGW_DEDUP_TTL=2m\0SGW_AUTH_MODE=kubernetes\0SGW_SERVER_MAX_BODY_BYTES=1MiB\0SGW_STORM_ENABLED=maybe\0",
    "env-only.yaml": "\0SGW_SINK_QPS=1e5\0SGW_ADAPTERS_MAX_ALERTS=1000000000\0SGW_LOGGING_LEVEL=warn\0",
}


def http_req(path, body=b"", method="POST", headers=None, ctype="application/json"):
    if isinstance(body, str):
        body = body.encode()
    h = ["%s %s HTTP/1.1" % (method, path), "Host: gw"]
    if ctype and method == "POST":
        h.append("Content-Type: " + ctype)
    if method == "POST":
        h.append("Content-Length: %d" % len(body))
    h += headers or []
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def chunked(path, body, ext=""):
    if isinstance(body, str):
        body = body.encode()
    parts = [body[i:i + 100] for i in range(0, len(body), 100)]
    out = ("POST %s HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
           "Transfer-Encoding: chunked\r\n\r\n" % path).encode()
    for p in parts:
        out += b"%x%s\r\n" % (len(p), ext.encode()) + p + b"\r\n"
    return out + b"0\r\n\r\n"


def control(flags, splits, raw):
    return bytes([0xFF, flags, len(splits)] + [s - 1 for s in splits]) + raw


P = "/api/v1/signals/prometheus"
E = "/api/v1/signals/kubernetes-event"
CRASH = PROM["pod-crashloop-firing-2-alerts.json"]
OOM = EVENTS["k8s-event-pod-oomkilled-warning.json"]
HTTP = {
    "prom-crashloop.http": http_req(P, CRASH),
    "prom-webhook-path.http": http_req("/webhook/prometheus?x=1", PROM["node-disk-pressure-firing.json"]),
    "prom-storm50.http": http_req(P, PROM["oom-storm-50-alerts.json"]),
    "prom-resolved.http": http_req(P, PROM["pod-crashloop-resolved.json"]),
    "event-oom.http": http_req(E, OOM),
    "event-normal.http": http_req(E, EVENTS["k8s-event-pod-scheduled-normal.json"]),
    "pipelined.http": http_req("/healthz", method="GET") + http_req(P, CRASH) + http_req(P, CRASH)
                      + http_req("/readyz", method="GET") + http_req(E, OOM) + http_req("/metrics", method="GET"),
    "duplicate-then-resolve.http": http_req(P, CRASH) + http_req(P, PROM["pod-crashloop-resolved.json"])
                                   + http_req(P, CRASH),
    "chunked.http": chunked(P, CRASH),
    "chunked-ext.http": chunked(E, OOM, ext=';a=b;c="d"'),
    "cl-and-te.http": b"POST " + P.encode() + b" HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "double-cl.http": b"POST " + P.encode() + b" HTTP/1.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
    "te-identity.http": b"POST " + P.encode() + b" HTTP/1.1\r\nContent-Type: application/json\r\n"
                        b"Transfer-Encoding: identity, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "empty-te.http": b"POST " + P.encode() + b" HTTP/1.1\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding:\r\nContent-Length: 2\r\n\r\n{}",
    "obs-fold.http": b"POST " + P.encode() + b" HTTP/1.1\r\nContent-Type: application/json;\r\n charset=utf-8\r\n"
                     b"Content-Length: 2\r\n\r\n{}",
    "huge-header.http": b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n",
    "many-headers.http": b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(300)) + b"\r\n",
    "long-url.http": b"GET /healthz?" + b"q" * 9000 + b" HTTP/1.1\r\n\r\n",
    "too-large-cl.http": b"POST " + P.encode() + b" HTTP/1.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 99999999999\r\n\r\n{}",
    "expect-continue.http": http_req(P, CRASH, headers=["Expect: 100-continue"]),
    "wrong-ctype.http": http_req(P, CRASH, ctype="text/plain"),
    "wrong-method.http": http_req("/healthz", b"{}", method="POST") + http_req(P, method="GET"),
    "not-found.http": http_req("/nope", method="GET"),
    "http10.http": b"GET /healthz HTTP/1.0\r\n\r\n",
    "keepalive-close.http": http_req("/healthz", method="GET", headers=["Connection: close"])
                            + http_req("/healthz", method="GET"),
    "request-id.http": http_req(P, CRASH, headers=["X-Request-ID: abc-123_x.y", "User-Agent: Alertmanager/0.27"]),
    "bad-json.http": http_req(P, '{"alerts":[{"labels":{"alertname":"A"}}'),
    "bad-utf8.http": http_req(P, b'{"alerts":[{"labels":{"alertname":"\xc3\x28"}}]}'),
    "long-status.http": http_req(P, webhook([alert({"alertname": "S"}, status="firing" + "x" * 40)])),
    "garbage.http": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "auth-static-ok.http": control(1, [], http_req(P, CRASH, headers=["Authorization: Bearer fuzz-token"])),
    "auth-static-bad.http": control(1, [], http_req(P, CRASH, headers=["Authorization: Bearer nope"])
                                    + http_req(E, OOM)),
    "split-bytes.http": control(0, [1, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 256, 1],
                                http_req(P, CRASH) + http_req(E, OOM)),
    "split-chunked.http": control(0, [7, 3, 60, 2, 2, 1], chunked(P, CRASH)),
    "client-gone.http": control(2, [], http_req(P, PROM["oom-storm-50-alerts.json"]) + http_req(E, OOM)),
    # a storm RR, then alerts folded into it (AGGREGATED: the window is dirty and the
    # harness's end-of-input flush rewrites the RR through the directory sink)
    "storm-then-aggregate.http": http_req(P, PROM_CASES["storm-12.json"])
                                 + http_req(P, webhook([alert({"alertname": "Storm", "namespace": "prod",
                                                               "pod": "q%d" % i}) for i in range(3)])),
    "slow-partial-headers.http": control(4, [], b"POST " + P.encode() + b" HTTP/1.1\r\nContent-Type: appl"),
    "slow-partial-body.http": control(4, [], http_req(P, CRASH)[:-40]),
    "slow-keepalive.http": control(4, [], http_req("/healthz", method="GET") + http_req(P, CRASH)),
    "late-reader-metrics.http": control(8, [], http_req(P, CRASH) + http_req("/metrics", method="GET") * 3),
    "late-reader-chunked-413.http": control(8, [200, 200], chunked(P, "x" * 30000)),
    "ns-slash-event.http": http_req(E, '{"reason":"X","type":"Warning","involvedObject":'
                                        '{"kind":"Pod","name":"p","namespace":"nested/ns"}}'),
}


# ---- kubeconfig: the unit-test fixtures (paths rewritten to the harness's scratch files), a
# JSON form, and in-cluster environments after a NUL -------------------------------------
def kubeconfigs():
    out = {}
    for p in sorted(glob.glob(os.path.join(FIX, "kubeconfig", "*.yaml"))):
        with open(p, "rb") as f:
            out[os.path.basename(p)] = f.read().replace(b"token.txt", b"token")
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
           "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "ops"}}],
           "clusters": [{"name": "k", "cluster": {"server": "https://10.0.0.1:6443/",
                                                  "certificate-authority": "ca.crt"}}],
           "users": [{"name": "u", "user": {"client-certificate": "client.crt", "client-key": "client.key"}}]}
    out["json-cert-files.json"] = json.dumps(doc).encode()
    doc["users"][0]["user"] = {"tokenFile": "token", "token": "inline"}
    out["json-token-file.json"] = json.dumps(doc).encode()
    doc["clusters"][0]["cluster"] = {"server": "http://[::1]:8080", "insecure-skip-tls-verify": True}
    out["json-insecure-v6.json"] = json.dumps(doc).encode()
    doc["clusters"][0]["cluster"] = {"server": "https://k", "certificate-authority": "pipe"}
    out["fifo-ca.json"] = json.dumps(doc).encode()
    doc["clusters"][0]["cluster"] = {"server": "https://k", "certificate-authority": "sa"}
    out["dir-ca.json"] = json.dumps(doc).encode()
    ic = b"current-context: none\n"
    out["in-cluster-v4.yaml"] = ic + b"\0KUBERNETES_SERVICE_HOST=10.96.0.1\0KUBERNETES_SERVICE_PORT=443"
    out["in-cluster-v6.yaml"] = ic + b"\0KUBERNETES_SERVICE_HOST=fd00::1\0KUBERNETES_SERVICE_PORT=6443"
    out["in-cluster-bad-port.yaml"] = ic + b"\0KUBERNETES_SERVICE_HOST=k\0KUBERNETES_SERVICE_PORT=65536"
    out["in-cluster-bad-host.yaml"] = ic + b"\0KUBERNETES_SERVICE_HOST=a/b\0KUBERNETES_SERVICE_PORT=1"
    return out


KUBECONFIGS = kubeconfigs()


def main():
    for name, data in PROM.items():
        write("prometheus", name, data)
    for name, data in PROM_CASES.items():
        write("prometheus", name, data)
    for p in sorted(glob.glob(os.path.join(FIX, "grafana-*.json"))):
        with open(p, "rb") as f:
            g = f.read()
        write("grafana", os.path.basename(p), g)
    g = json.loads(g)
    for name, change in (("version-4", {"version": "4"}), ("no-version", {"version": None}),
                         ("truncated-string", {"truncatedAlerts": "8"}), ("truncated-negative", {"truncatedAlerts": -1}),
                         ("values-string", {"alerts": [dict(g["alerts"][0], values={"B": "4"})]}),
                         ("orgid-float", {"orgId": 1.5})):
        d = dict(g, **change)
        if d["version"] is None:
            del d["version"]
        write("grafana", name + ".json", json.dumps(d))
    for name, data in EVENTS.items():
        write("k8s_event", name, data)
    for name, data in EVENT_CASES.items():
        write("k8s_event", name, data)
    for name, data in CONFIGS.items():
        write("config", name, data)
    for name, data in HTTP.items():
        write("http", name, data)
    for name, data in KUBECONFIGS.items():
        write("kubeconfig", name, data)


if __name__ == "__main__":
    main()
