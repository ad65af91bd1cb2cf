"""Real peers for the end-to-end tests: Prometheus Alertmanager (single or an HA pair
gossiping on loopback) and a Prometheus server, each in its own temp directory, on free
loopback ports, stopped by PID (SIGTERM, then SIGKILL). The gateway, the Kubernetes API
test server and Redis come from the integration harness modules (tests/integration),
imported, not copied."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(HERE, "..", "integration")
if INTEGRATION not in sys.path:
    sys.path.insert(0, INTEGRATION)

from harness import Gateway, free_port  # noqa: E402
from k8s_harness import ApiServer  # noqa: E402
from redis_harness import Redis  # noqa: E402

ALERTMANAGER = os.environ.get("SGW_ALERTMANAGER", "/usr/bin/prometheus-alertmanager")
PROMETHEUS = os.environ.get("SGW_PROMETHEUS", "/usr/bin/prometheus")
PROMTOOL = os.environ.get("SGW_PROMTOOL", "/usr/bin/promtool")
AM_TOKEN = "am-token"
SIGNALS_PATH = "/api/v1/signals/prometheus"

__all__ = ["Gateway", "ApiServer", "Redis", "Alertmanager", "Prometheus", "Env", "E2ETestCase", "am_config",
           "free_port", "wait_until", "tail", "http_get", "http_json", "parse_metrics", "metric", "brief",
           "gateway_metrics", "settled_metrics", "stop_gateway_cleanly", "rfc3339", "AM_TOKEN", "PROMTOOL"]


# ---- small helpers ------------------------------------------------------------------------

def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def http_json(url, body=None, method=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode("utf-8", "replace")


def wait_until(what, fn, timeout, interval=0.2):
    """Polls fn() until it returns a truthy value (returned) or the deadline passes
    (AssertionError naming `what` and the last value seen). Exceptions count as falsy."""
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - a peer not answering yet is a normal state
            last = "%s: %s" % (type(e).__name__, e)
        if time.time() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s; last: %r" % (timeout, what, last))
        time.sleep(interval)


def parse_metrics(text):
    """Prometheus text format → {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if "{" in head:
            name, _, rest = head.partition("{")
            labels = {}
            body = rest.rstrip("}")
            i = 0
            while i < len(body):
                eq = body.index("=", i)
                key = body[i:eq].strip().lstrip(",").strip()
                j = eq + 2
                val = []
                while body[j] != '"':
                    if body[j] == "\\":
                        j += 1
                    val.append(body[j])
                    j += 1
                labels[key] = "".join(val)
                i = j + 1
                while i < len(body) and body[i] in ", ":
                    i += 1
        else:
            name, labels = head, {}
        try:
            out[(name, frozenset(labels.items()))] = float(value)
        except ValueError:
            pass
    return out


def metric(samples, name, **labels):
    """Sum of every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def brief(samples, prefixes=("gateway_signals", "gateway_http_requests_total", "gateway_crd",
                              "gateway_storm", "gateway_auth_total", "alertmanager_notifications")):
    """The interesting, non-histogram series of a parsed exposition, for assertion messages."""
    return "\n".join("%s{%s} %g" % (n, ",".join("%s=%r" % kv for kv in sorted(ls)), v)
                     for (n, ls), v in sorted(samples.items(), key=lambda x: (x[0][0], sorted(x[0][1])))
                     if n.startswith(prefixes))


def gateway_metrics(g):
    r = g.get("/metrics")
    if r.status != 200:
        raise AssertionError("/metrics answered %d" % r.status)
    return parse_metrics(r.body.decode())


def settled_metrics(g, what, pred=lambda m: True, timeout=15):
    """Polls the gateway's /metrics until no signal request is in flight, every received
    signal has its outcome counted, and pred(samples) holds; returns the samples. (An RR can
    be visible in the API server a moment before the request that made it is counted.)"""
    deadline = time.time() + timeout
    m = {}
    while True:
        try:
            m = gateway_metrics(g)
            if metric(m, "gateway_http_requests_in_flight") == 0 and \
                    metric(m, "gateway_signals_total") == metric(m, "gateway_signals_received_total") and pred(m):
                return m
        except OSError:
            pass
        if time.time() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s; the gateway's counters:\n%s"
                                 % (timeout, what, brief(m)))
        time.sleep(0.1)


def sanitizer_report(g, limit=6000):
    """The ASan/LSan/UBSan part of a gateway's log (or its tail when there is none)."""
    text = g.logs()
    i = text.find("==ERROR:")
    if i < 0:
        i = text.find("runtime error:")
    return text[max(i, 0):][:limit] if i >= 0 else tail(g.log_path)


def stop_gateway_cleanly(test, g, title="gateway"):
    """SIGTERM the gateway and assert it drained and exited 0: with the sanitizer build a
    leak or any ASan/UBSan report makes the exit status non-zero."""
    rc = g.stop()
    g.exit_checked = True
    test.assertEqual(rc, 0, "%s exited %s at SIGTERM:\n%s" % (title, rc, sanitizer_report(g)))


def tail(path, n=60):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)


class _Process:
    """A peer process with a log file, stopped by PID."""
    name = "process"

    def _spawn(self, cmd):
        if not os.access(cmd[0], os.X_OK):
            raise AssertionError("%s is not installed (scripts/setup installs the Debian packages "
                                 "prometheus-alertmanager and prometheus)" % cmd[0])
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "log", None) and not self.log.closed:
            self.log.close()

    def logs(self):
        return tail(self.log_path, 10 ** 6)


# ---- Alertmanager ---------------------------------------------------------------------------

def am_config(gateway_ports, group_by=("alertname",), group_wait="1s", group_interval="2s",
              repeat_interval="1h", token=AM_TOKEN):
    """An Alertmanager config (JSON is YAML) with one webhook receiver that posts to every
    gateway in `gateway_ports` (one webhook_configs entry per gateway replica)."""
    hooks = [{"url": "http://127.0.0.1:%d%s" % (p, SIGNALS_PATH), "send_resolved": True, "max_alerts": 0,
              "http_config": {"authorization": {"type": "Bearer", "credentials": token}}}
             for p in gateway_ports]
    return {
        "route": {"receiver": "gateway", "group_by": list(group_by), "group_wait": group_wait,
                  "group_interval": group_interval, "repeat_interval": repeat_interval},
        "receivers": [{"name": "gateway", "webhook_configs": hooks}],
    }


class Alertmanager(_Process):
    """One prometheus-alertmanager. cluster=None: clustering off; else (listen_port,
    [peer ports]) for an HA member gossiping on loopback."""
    name = "alertmanager"

    def __init__(self, config, cluster=None, peer_timeout="15s", label="alertmanager"):
        self.name = label
        self.dir = tempfile.mkdtemp(prefix="sgw-e2e-am-")
        self.port = free_port()
        self.config_path = os.path.join(self.dir, "alertmanager.yml")
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=1)
        self.log_path = os.path.join(self.dir, "alertmanager.log")
        self.url = "http://127.0.0.1:%d" % self.port
        cmd = [ALERTMANAGER, "--config.file=" + self.config_path,
               "--storage.path=" + os.path.join(self.dir, "data"),
               "--web.listen-address=127.0.0.1:%d" % self.port, "--web.external-url=" + self.url + "/",
               "--log.level=debug"]
        if cluster is None:
            cmd.append("--cluster.listen-address=")
        else:
            listen, peers = cluster
            cmd += ["--cluster.listen-address=127.0.0.1:%d" % listen,
                    "--cluster.advertise-address=127.0.0.1:%d" % listen,
                    "--cluster.peer-timeout=" + peer_timeout,
                    "--cluster.gossip-interval=100ms", "--cluster.pushpull-interval=2s",
                    "--cluster.settle-timeout=1s"]
            cmd += ["--cluster.peer=127.0.0.1:%d" % p for p in peers]
        self.proc = None
        self._spawn(cmd)
        try:
            wait_until("alertmanager ready on :%d" % self.port, self._ready, 20, 0.1)
        except AssertionError:
            self.stop()
            raise AssertionError("alertmanager did not start:\n" + tail(self.log_path))

    def _ready(self):
        if not self.alive():
            raise AssertionError("alertmanager exited %s" % self.proc.returncode)
        return http_get(self.url + "/-/ready", timeout=1)[0] == 200

    def push(self, alerts):
        """POST /api/v2/alerts; alerts are dicts {labels, annotations?, startsAt?, endsAt?}."""
        body = []
        for a in alerts:
            d = {"labels": a["labels"], "annotations": a.get("annotations", {"summary": "e2e"}),
                 "generatorURL": a.get("generatorURL", "http://e2e.test/graph")}
            for k in ("startsAt", "endsAt"):
                if a.get(k):
                    d[k] = a[k]
            body.append(d)
        st, resp = http_json(self.url + "/api/v2/alerts", body)
        if st != 200:
            raise AssertionError("alertmanager refused alerts: %s %r" % (st, resp))

    def alerts(self, active=True):
        st, body = http_json(self.url + "/api/v2/alerts?active=%s&silenced=false&inhibited=false"
                             % ("true" if active else "false"))
        assert st == 200, (st, body)
        return body

    def metrics(self):
        return parse_metrics(http_get(self.url + "/metrics")[1].decode())

    def notifications(self):
        """Webhook counters: `notifications` / `failed` count notify stages (a stage retries
        with backoff until its context ends, ~10 s + group_interval, before it counts as
        failed); `requests` / `requests_failed` count every HTTP attempt."""
        m = self.metrics()
        return {"notifications": metric(m, "alertmanager_notifications_total", integration="webhook"),
                "failed": metric(m, "alertmanager_notifications_failed_total", integration="webhook"),
                "requests": metric(m, "alertmanager_notification_requests_total", integration="webhook"),
                "requests_failed": metric(m, "alertmanager_notification_requests_failed_total",
                                          integration="webhook")}

    def cluster_peers(self):
        st, body = http_json(self.url + "/api/v2/status")
        assert st == 200, (st, body)
        return body.get("cluster", {}).get("peers") or []


# ---- Prometheus -----------------------------------------------------------------------------

class Prometheus(_Process):
    name = "prometheus"

    def __init__(self, scrape_targets, scrape_interval="1s", rules=None, alertmanagers=()):
        self.dir = tempfile.mkdtemp(prefix="sgw-e2e-prom-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.config_path = os.path.join(self.dir, "prometheus.yml")
        cfg = {"global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval,
                          "scrape_timeout": scrape_interval},
               "scrape_configs": [{"job_name": "signal-gateway", "metrics_path": "/metrics",
                                   "static_configs": [{"targets": list(scrape_targets)}]}]}
        if rules:
            rules_path = os.path.join(self.dir, "rules.yml")
            with open(rules_path, "w") as f:
                json.dump(rules, f, indent=1)
            cfg["rule_files"] = [rules_path]
        if alertmanagers:
            cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
        with open(self.config_path, "w") as f:
            json.dump(cfg, f, indent=1)
        self.log_path = os.path.join(self.dir, "prometheus.log")
        cmd = [PROMETHEUS, "--config.file=" + self.config_path,
               "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
               "--web.listen-address=127.0.0.1:%d" % self.port, "--web.external-url=" + self.url + "/",
               "--log.level=debug"]
        self.proc = None
        self._spawn(cmd)
        try:
            wait_until("prometheus ready on :%d" % self.port, self._ready, 30, 0.1)
        except AssertionError:
            self.stop()
            raise AssertionError("prometheus did not start:\n" + tail(self.log_path))

    def _ready(self):
        if not self.alive():
            raise AssertionError("prometheus exited %s" % self.proc.returncode)
        return http_get(self.url + "/-/ready", timeout=1)[0] == 200

    def query(self, q):
        st, body = http_json(self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
        if st != 200 or body.get("status") != "success":
            raise AssertionError("query %r: %s %r" % (q, st, body))
        return body["data"]["result"]

    def targets(self):
        st, body = http_json(self.url + "/api/v1/targets")
        assert st == 200, (st, body)
        return body["data"]["activeTargets"]


# ---- test case base ----------------------------------------------------------------------------

class Env:
    """Starts peers and registers each for cleanup (stopped by PID, in reverse order of
    start, also when the test fails) and its log for the failure diagnostics. One per test
    (E2ETestCase.setUp) or per class (E2ETestCase.class_env() in setUpClass)."""

    def __init__(self, add_cleanup, diag, dirs):
        self.add_cleanup = add_cleanup
        self.diag = diag      # [(title, log path)]
        self.dirs = dirs      # temp dirs removed when everything passed

    def watch(self, title, log_path):
        self.diag.append((title, log_path))

    def start_gateway(self, config="", args=(), title="gateway", **kw):
        g = Gateway(config, args=list(args), **kw)

        def stop_checked():   # SIGTERM drains and exits 0; an ASan/UBSan report makes it non-zero
            if getattr(g, "exit_checked", False):
                return
            rc = g.stop()
            if rc not in (0, None):
                raise AssertionError("%s exited %s at SIGTERM:\n%s" % (title, rc, sanitizer_report(g)))

        self.add_cleanup(stop_checked)
        self.watch(title, g.log_path)
        self.dirs.append(g.dir)
        return g

    def start_api(self):
        api = ApiServer()
        self.add_cleanup(api.stop)
        self.watch("k8s-api-server", os.path.join(api.dir, "server.log"))
        self.dirs.append(api.dir)
        api.namespace("kubernaut-system")
        api.namespace("production", {"environment": "production"})
        return api

    def start_redis(self, **kw):
        r = Redis(**kw)
        self.add_cleanup(r.stop)
        self.watch("redis", os.path.join(r.dir, "redis.log"))
        self.dirs.append(r.dir)
        return r

    def start_alertmanager(self, config, **kw):
        am = Alertmanager(config, **kw)
        self.add_cleanup(am.stop)
        self.watch(am.name, am.log_path)
        self.dirs.append(am.dir)
        return am

    def start_prometheus(self, *a, **kw):
        p = Prometheus(*a, **kw)
        self.add_cleanup(p.stop)
        self.watch("prometheus", p.log_path)
        self.dirs.append(p.dir)
        return p

    def k8s_gateway(self, api, redis, config="", title="gateway", **kw):
        """A gateway in cluster mode: RRs in the API test server, TokenReview/SAR auth,
        state in Redis (a key prefix of its own unless env sets one)."""
        env = dict(kw.pop("env", {}) or {})
        env.setdefault("SGW_STATE_PREFIX", "e2e%s:" % os.urandom(4).hex())
        args = ["--sink", "kubernetes", "--kubeconfig", api.kubeconfig, "--auth", "kubernetes",
                "--state", redis.url()] + list(kw.pop("args", ()))
        return self.start_gateway(config, args=args, env=env, title=title, **kw)


def dump_diagnostics(title, diag):
    sys.stderr.write("\n====== diagnostics for %s ======\n" % title)
    for name, path in diag:
        sys.stderr.write("------ %s (%s), last lines ------\n%s\n" % (name, path, tail(path)))
    sys.stderr.flush()


class E2ETestCase(unittest.TestCase):
    """self.start_*() / self.k8s_gateway(): peers for this test; cls.class_env() in
    setUpClass: peers for the class. When a test fails, the tail of every log of its peers
    (and of the class's) is printed."""
    maxDiff = None
    _class_diag = ()

    @classmethod
    def class_env(cls):
        cls._class_diag = []
        dirs = []
        cls.addClassCleanup(lambda: [shutil.rmtree(d, ignore_errors=True) for d in dirs]
                            if not getattr(cls, "_class_failed", False) else None)
        return Env(cls.addClassCleanup, cls._class_diag, dirs)

    @classmethod
    def class_setup_failed(cls):
        cls._class_failed = True
        dump_diagnostics(cls.__name__ + ".setUpClass", cls._class_diag)

    def setUp(self):
        self._diag = []
        self._dirs = []
        self.env = Env(self.addCleanup, self._diag, self._dirs)

    def __getattr__(self, name):
        if name in ("start_gateway", "start_api", "start_redis", "start_alertmanager", "start_prometheus",
                     "k8s_gateway", "watch") and "env" in self.__dict__:
            return getattr(self.env, name)
        raise AttributeError(name)

    def run(self, result=None):
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            type(self)._class_failed = True
            dump_diagnostics(self.id(), list(getattr(self, "_diag", [])) + list(type(self)._class_diag))
        else:
            for d in getattr(self, "_dirs", []):
                shutil.rmtree(d, ignore_errors=True)
        return out
