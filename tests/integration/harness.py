"""Integration-test harness: starts the real signal-gateway binary on a loopback port and
talks HTTP/1.1 to it. Every process started here is stopped by PID (SIGTERM, then SIGKILL)
in stop(), which the tests call from tearDown/addCleanup, so nothing outlives a test."""
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
BINARY = os.environ.get("SGW_BINARY", os.path.join(ROOT, "build", "signal-gateway-san"))


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
        self.proc = None
        self.start()

    def start(self):
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

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()
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
