"""Integration-test harness: starts the real signal-gateway binary on a loopback port and
talks HTTP/1.1 to it. Every process started here is stopped by PID (SIGTERM, then SIGKILL)
in stop(), which the tests call from tearDown/addCleanup, so nothing outlives a test.

Every gateway writes an audit trail (--audit-log, unless the test sets its own), and stop()
checks it (AuditCheck): every line parses with every field, holds none of the test's tokens
and secrets, and there is one line per request to a signal route — the gateway's own
gateway_http_requests_total for those routes, read just before the SIGTERM."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
BINARY = os.environ.get("SGW_BINARY", os.path.join(ROOT, "build", "signal-gateway-san"))
# ThreadSanitizer's allocator and shadow memory move RSS by megabytes on their own (seen: 97 to
# 108 MB across eight identical refused requests), so a bound on RSS means something only
# in the ASan build (scripts/tsan-tests runs the same files with the TSan binary)
RSS_BOUNDS_HOLD = not BINARY.endswith("-tsan")


def assert_flat_rss(test, rss, limit_kb=4096):
    """rss: the gateway's VmRSS (KiB) after each of a run of identical requests: the last
    is not more than limit_kb above the third (each request's memory was given back).
    Not checked under ThreadSanitizer (RSS_BOUNDS_HOLD)."""
    if RSS_BOUNDS_HOLD:
        test.assertLess(rss[-1] - rss[2], limit_kb, rss)

# The signal routes (src/routes.c): a POST to one of these is a signal request, audited once.
# Read from the route table itself (src/routes.c: those pipeline_handle serves),
# so a new source's route is audited and counted without a second list to keep in step
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "routes.c")) as _f:
    SIGNAL_ROUTES = tuple(re.findall(r'\{"(/[^"]*)", "POST", [^,]*, pipeline_handle,', _f.read()))
assert "/api/v1/signals/prometheus" in SIGNAL_ROUTES and "/v2/enqueue" in SIGNAL_ROUTES, SIGNAL_ROUTES
AUDIT_FIELDS = ("time", "request_id", "trace_id", "caller", "peer", "source", "route", "status", "signals")
OUTCOMES = {"created", "duplicate", "aggregated", "ignored", "resolved", "stale", "rejected", "failed", "pending",
            "suppressed"}
# credentials every test may use, whatever file they came from (k8s_harness's token table)
KNOWN_SECRETS = ("gateway-sa-token", "gateway-sa-token-rotated", "am-token", "viewer-token")


def check_audit_line(line):
    """Parses one audit line and checks its shape (AssertionError if wrong); returns the
    parsed record."""
    def fail(msg):
        raise AssertionError("audit line %s: %r" % (msg, line[:300]))
    try:
        rec = json.loads(line)
    except ValueError:
        fail("is not JSON")
    for k in AUDIT_FIELDS:
        if k not in rec:
            fail("has no %r" % k)
    if not re.fullmatch(r"[0-9a-f]{32}", rec["trace_id"]) or set(rec["trace_id"]) == {"0"}:
        fail("has a bad trace_id")
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", rec["time"]):
        fail("has a bad time")
    if rec["caller"].get("kind") not in ("none", "anonymous", "static_token", "kubernetes_user", "certificate"):
        fail("has a bad caller kind")
    if not isinstance(rec["status"], int) or not 100 <= rec["status"] <= 599:
        fail("has a bad status")
    if rec["route"] not in SIGNAL_ROUTES:
        fail("names no signal route")
    for sig in rec["signals"]:
        if not re.fullmatch(r"[0-9a-f]{16,64}", sig.get("fingerprint", "")) or sig.get("outcome") not in OUTCOMES:
            fail("has a bad signal %r" % sig)
    return rec


def signal_requests(metrics_text):
    """Requests to signal routes answered so far, from gateway_http_requests_total."""
    n = 0
    for line in metrics_text.splitlines():
        if not line.startswith("gateway_http_requests_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line.split("}")[0]))
        if labels.get("method") == "POST" and labels.get("endpoint") in SIGNAL_ROUTES:
            n += int(float(line.rsplit(" ", 1)[1]))
    return n


def gauge(metrics_text, name):
    for line in metrics_text.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    return 0


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:400])


class Gateway:
    """One gateway process with its own temp directory, config file and log."""

    def __init__(self, config="", args=(), env=None, workers=2, rr_dir=None, wait_ready=True):
        self.wait_ready = wait_ready
        self.dir = tempfile.mkdtemp(prefix="sgw-it-")
        self.rr_dir = rr_dir or os.path.join(self.dir, "rr")
        self.port = free_port()
        self.config_path = os.path.join(self.dir, "config.yaml")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.log_path = os.path.join(self.dir, "gateway.log")
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.env["SGW_SERVER_WORKERS"] = str(workers)
        self.env.update(env or {})
        # the harness's audit trail, unless the test configures one itself
        self.audit_path = None
        if "--audit-log" not in self.args and "audit:" not in config and "SGW_AUDIT_FILE" not in self.env:
            self.audit_path = os.path.join(self.dir, "audit.log")
            self.args += ["--audit-log", self.audit_path]
        self.audit_offset = 0
        self.proc = None
        self.start()

    def start(self):
        if self.audit_path and os.path.exists(self.audit_path):
            self.audit_offset = os.path.getsize(self.audit_path)   # a restart: check only the new lines
        self.log = open(self.log_path, "ab")
        cmd = [BINARY, "--config", self.config_path, "--listen", "127.0.0.1:%d" % self.port,
               "--sink", "dir:" + self.rr_dir] + self.args
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("gateway exited %s at start:\n%s" % (self.proc.returncode, self.logs()))
            try:
                # ready = every worker's store and sink usable (e.g. Redis connected)
                if self.get("/readyz" if self.wait_ready else "/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("gateway did not become %s:\n%s" % ("ready" if self.wait_ready else "healthy", self.logs()))

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        c = conn or self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            if conn is None:
                c.close()

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body, content_type="application/json", headers=None, conn=None):
        h = {"Content-Type": content_type} if content_type else {}
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        return self.request("POST", path, body, h, conn)

    def alert(self, body, **kw):
        return self.post("/api/v1/signals/prometheus", body, **kw)

    def rr_files(self):
        out = []
        for root, _dirs, files in os.walk(self.rr_dir):
            for f in files:
                if f.endswith(".json"):
                    out.append(os.path.join(root, f))
        return sorted(out)

    def rrs(self):
        res = []
        for p in self.rr_files():
            with open(p) as f:
                res.append(json.load(f))
        return res

    def metric(self, name):
        """The value of an unlabelled metric in /metrics now (None if absent)."""
        for line in self.get("/metrics").body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def secrets(self):
        """The tokens and secrets this gateway was given (files named in its config, flags
        and environment), and the harness's own: none may appear in an audit line."""
        with open(self.config_path) as f:
            paths = re.findall(r"(?:static_file|hmac_secret_file):\s*(\S+)", f.read())
        paths += [a[7:] for a in self.args if a.startswith("static:")]
        paths += [v for k, v in self.env.items() if k in ("SGW_AUTH_STATIC_FILE", "SGW_SOURCES_GRAFANA_HMAC_SECRET_FILE")]
        out = set(KNOWN_SECRETS)
        for p in paths:
            try:
                with open(p, errors="replace") as f:
                    for line in f:
                        line = line.strip()
                        if line and not line.startswith("#"):
                            out.add(line)
                            out.add(line.split(":", 1)[-1])   # a named token's token
            except OSError:
                pass
        return {s for s in out if len(s) >= 6}

    def audit_lines(self):
        with open(self.audit_path, "rb") as f:
            f.seek(self.audit_offset)
            return f.read().decode("utf-8", "replace").splitlines()

    def check_audit(self, expected, slack):
        """Every new line well formed and free of secrets; between expected and
        expected + slack of them (slack: requests in flight when the count was read)."""
        lines = self.audit_lines()
        secrets = self.secrets()
        for line in lines:
            check_audit_line(line)
            for sec in secrets:
                if sec in line:
                    raise AssertionError("audit line holds a secret (%s...): %r" % (sec[:3], line[:300]))
        if expected is not None and not expected <= len(lines) <= expected + slack:
            raise AssertionError("audit trail: %d lines for %d signal requests (+%d in flight)\n%s"
                                 % (len(lines), expected, slack, "\n".join(lines[-5:])))
        return lines

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        expected = slack = None
        if self.audit_path and sig == signal.SIGTERM:
            try:
                c = self.conn(timeout=5)
                try:
                    text = self.request("GET", "/metrics", conn=c).body.decode()
                finally:
                    c.close()
                expected = signal_requests(text)
                # requests being processed or read when the count was taken (the scrape's own
                # connection is one of the open ones)
                slack = gauge(text, "gateway_http_requests_in_flight") + max(0, gauge(text, "gateway_http_connections") - 1)
            except (OSError, http.client.HTTPException):
                pass
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()
        if self.audit_path and self.proc.returncode == 0 and os.path.exists(self.audit_path):
            self.check_audit(expected, slack)
        return self.proc.returncode


def wait_until(cond, timeout=10, what="the condition", show=None):
    """Polls cond() every 20 ms until it returns something true, which it returns; after
    timeout seconds raises AssertionError naming what, with show() (what was seen) if given."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() >= deadline:
            seen = "; seen: %r" % (show(),) if show else ""
            raise AssertionError("%s: not within %g s%s" % (what, timeout, seen))
        time.sleep(0.02)


def webhook(alerts, common_labels=None, status="firing"):
    """A v4 Alertmanager webhook with the given alerts (dicts of labels / fields)."""
    out = []
    for a in alerts:
        labels = a["labels"]
        out.append({
            "status": a.get("status", "firing"),
            "labels": labels,
            "annotations": a.get("annotations", {"summary": "test"}),
            "startsAt": a.get("startsAt", "2026-11-26T21:50:10Z"),
            "endsAt": a.get("endsAt", "0001-01-01T00:00:00Z"),
            "generatorURL": "",
        })
    return {"receiver": "gw", "status": status, "alerts": out, "groupLabels": {},
            "commonLabels": common_labels or {}, "commonAnnotations": {}, "externalURL": "http://am",
            "version": "4", "groupKey": "{}", "truncatedAlerts": 0}


def pod_alert(name, pod, ns="production", severity="critical", **kw):
    d = {"labels": {"alertname": name, "namespace": ns, "pod": pod, "severity": severity}}
    d.update(kw)
    return d
