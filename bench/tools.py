#!/usr/bin/python3
"""tools.py: small, bounded loopback helpers for the bench/*.sh scripts (Debian's /usr/bin/python3).

  tools.py bodies OUTDIR FIXTURES          request bodies derived from tests/fixtures (see below)
  tools.py wrk FILE                        one wrk output -> "rps p99_ms requests non2xx socket_errors"
  tools.py monitor PORT SECONDS OUT        Redis MONITOR for SECONDS, raw lines to OUT
  tools.py evalsha MONFILE SHA OUT         the last decide call in a MONITOR capture (EVALSHA SHA, or FCALL of
                                           the function sgw_decide_<SHA's first 16>), args NUL-separated
                                           (arg 4, now_ms, is written as the literal NOW)
  tools.py shas SCRIPTDIR                  "name sha1" of each Lua script (what SCRIPT LOAD returns)
  tools.py count MONFILE SCRIPTDIR         EVALSHA and FCALL calls in a MONITOR capture, by script name
  tools.py seq PORT N BODY STATUS          N sequential keep-alive POSTs, each must answer STATUS
  tools.py idle PORT PID N BODY            VmRSS of PID: idle, N idle connections, after one request each
  tools.py fill PORT PID TOTAL BATCH RRDIR REDISPORT OUT
                                           TOTAL distinct fingerprints in webhooks of BATCH alerts; RSS samples
  tools.py metric PORT NAME                sum of a /metrics counter over its label sets
"""
import json
import os
import re
import shutil
import socket
import sys
import time
import hashlib

PATH = "/api/v1/signals/prometheus"


def cmd_bodies(out, fixtures):
    os.makedirs(out, exist_ok=True)
    crash = json.load(open(os.path.join(fixtures, "pod-crashloop-firing-2-alerts.json")))
    one = dict(crash, alerts=crash["alerts"][:1])
    # dup-1: one alert, the same every time (the duplicate path)
    json.dump(one, open(os.path.join(out, "dup-1.json"), "w"), separators=(",", ":"))
    shutil.copy(os.path.join(fixtures, "pod-crashloop-firing-2-alerts.json"), os.path.join(out, "fixture-2.json"))
    shutil.copy(os.path.join(fixtures, "oom-storm-50-alerts.json"), os.path.join(out, "storm-50.json"))
    # storm-new-50.tmpl: the storm fixture with every pod renamed "<pod>-__POD__" (no Alertmanager
    # fingerprints), for unique.lua: every webhook brings 50 NEW alerts of the same storm, folded
    # into its window (AGGREGATED) instead of repeating known ones (DUPLICATE)
    storm = json.load(open(os.path.join(fixtures, "oom-storm-50-alerts.json")))
    for al in storm["alerts"]:
        al.pop("fingerprint", None)
        pod = al["labels"]["pod"]
        for k, v in list(al["annotations"].items()):
            al["annotations"][k] = v.replace(pod, pod + "-__POD__")
        al["labels"]["pod"] = pod + "-__POD__"
    json.dump(storm, open(os.path.join(out, "storm-new-50.tmpl"), "w"), separators=(",", ":"))
    # unique-1: dup-1 with the pod (and everything derived from it) as __POD__, for unique.lua
    a = one["alerts"][0]
    pod = a["labels"]["pod"]
    tmpl = json.loads(json.dumps(one).replace(pod, "__POD__"))
    tmpl["alerts"][0].pop("fingerprint", None)  # Alertmanager's fingerprint would not change with the pod
    json.dump(tmpl, open(os.path.join(out, "unique-1.tmpl"), "w"), separators=(",", ":"))
    # am-1: the same alert as Alertmanager 0.25's API v2 takes it (POST /api/v2/alerts, a list)
    am = [{"labels": a["labels"], "annotations": a["annotations"], "startsAt": a["startsAt"],
           "generatorURL": "http://prometheus.monitoring:9090/graph"}]
    json.dump(am, open(os.path.join(out, "am-1.json"), "w"), separators=(",", ":"))


def cmd_wrk(path):
    text = open(path).read()
    units = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    rps = float(m.group(1)) if m else float("nan")
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p99 = float(m.group(1)) * units[m.group(2)] if m else float("nan")
    m = re.search(r"(\d+) requests in", text)
    reqs = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    bad = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errs = sum(int(x) for x in m.groups()) if m else 0
    print(f"{rps} {p99} {reqs} {bad} {errs}")


def cmd_ms(text):
    """wrk's latency text ("812.00us", "2.13ms", "1.02s") in milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    units = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    print(f"{float(m.group(1)) * units[m.group(2)]:.3f}" if m else "nan")


def cmd_monitor(port, seconds, out):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=1)
    s.sendall(b"MONITOR\r\n")
    end = time.time() + float(seconds)
    with open(out, "wb") as f:
        while time.time() < end:
            try:
                data = s.recv(1 << 20)
            except socket.timeout:
                continue
            if not data:
                break
            f.write(data)
    s.close()


def monitor_args(line):
    """Arguments of one MONITOR line: 1.2 [0 127.0.0.1:5] "EVALSHA" "x\\x1f" ..."""
    m = re.match(r'^\+?[\d.]+ \[[^\]]*\] (.*)$', line)
    if not m:
        return None
    s, i, out = m.group(1), 0, []
    while i < len(s):
        if s[i] != '"':
            i += 1
            continue
        i += 1
        buf = bytearray()
        while s[i] != '"':
            c = s[i]
            if c == "\\":
                n = s[i + 1]
                if n == "x":
                    buf.append(int(s[i + 2:i + 4], 16))
                    i += 4
                    continue
                buf += {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b"}.get(n, n.encode())
                i += 2
                continue
            buf += c.encode()
            i += 1
        out.append(bytes(buf))
        i += 1
    return out


def monitor_lines(path):
    for line in open(path, "rb").read().decode("latin-1").split("\r\n"):
        a = monitor_args(line)
        if a:
            yield a


def is_call_of(a, sha):
    """a (MONITOR arguments) calls the script sha: EVALSHA sha, or FCALL of its function (redis.c
    loads decide.lua as the function sgw_decide_<first 16 hex of its SHA>)."""
    cmd = a[0].upper()
    return (cmd == b"EVALSHA" and a[1].decode() == sha) or (cmd == b"FCALL" and a[1].decode() == "sgw_decide_" + sha[:16])


def cmd_evalsha(monfile, sha, out):
    last = None
    for a in monitor_lines(monfile):
        if is_call_of(a, sha):
            last = a
    if not last:
        sys.exit(f"no EVALSHA or FCALL of {sha} in {monfile}")
    args = list(last)
    args[4] = b"NOW"  # EVALSHA sha 0 prefix now_ms ... (or FCALL function 0 prefix now_ms ...)
    open(out, "wb").write(b"\0".join(args) + b"\0")
    print(f"{len(args) - 3} ARGV entries, n={int(last[15])} items")


def script_shas(d):
    return {hashlib.sha1(open(os.path.join(d, f), "rb").read()).hexdigest(): f[:-4]
            for f in sorted(os.listdir(d)) if f.endswith(".lua")}


def cmd_shas(d):
    for sha, name in script_shas(d).items():
        print(name, sha)


def cmd_count(monfile, d):
    names = script_shas(d)
    counts = {}
    funcs = {"sgw_decide_" + sha[:16]: name for sha, name in names.items()}
    for a in monitor_lines(monfile):
        if a[0].upper() in (b"EVALSHA", b"FCALL"):
            k = names.get(a[1].decode()) or funcs.get(a[1].decode(), a[1].decode())
            counts[k] = counts.get(k, 0) + 1
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none")


def request(body, path=PATH):
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class Reader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v)
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return int(lines[0].split()[1]), body


def connect(port, timeout=30.0):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def cmd_seq(port, n, body_file, status):
    req = request(open(body_file, "rb").read())
    s = connect(port, 120)
    r = Reader(s)
    for i in range(int(n)):
        s.sendall(req)
        st, reply = r.response()
        if st != int(status):
            sys.exit(f"seq: request {i}: {st} {reply[:300]!r}")
    s.close()
    print(f"seq: {n} requests, all {status}")


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def cmd_idle(port, pid, n, body_file):
    body = open(body_file, "rb").read()
    idle = rss_kib(pid)
    socks = [connect(port) for _ in range(int(n))]
    time.sleep(1.0)
    conns = rss_kib(pid)
    for s in socks:
        s.sendall(request(body))
    for s in socks:
        st, _ = Reader(s).response()
        if st not in (201, 202):
            sys.exit(f"idle: got {st}")
    time.sleep(1.0)
    after = rss_kib(pid)
    for s in socks:
        s.close()
    time.sleep(1.0)
    closed = rss_kib(pid)
    print(f"idle={idle} conns{n}={conns} conns{n}_after_request={after} after_close={closed}")


def redis_info(port, section):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    s.sendall(f"INFO {section}\r\n".encode())
    buf = b""
    while True:
        buf += s.recv(65536)
        if buf.startswith(b"$"):
            n = int(buf[1:buf.index(b"\r\n")])
            if len(buf) >= buf.index(b"\r\n") + 2 + n + 2:
                break
    s.close()
    out = {}
    for line in buf.decode().split("\r\n"):
        k, _, v = line.partition(":")
        out[k] = v
    return out


def cmd_fill(port, pid, total, batch, rrdir, rport, out):
    """TOTAL distinct firing alerts (distinct pods => distinct fingerprints), BATCH per webhook, one keep-alive
    connection. Each is new: CREATE -> the dir sink writes a manifest (RRDIR, a tmpfs; emptied between
    batches so the disk does not fill) -> commit. RSS of the gateway sampled every 10 batches."""
    total, batch = int(total), int(batch)
    run = "%x" % int(time.time())
    s = connect(port, 300)
    r = Reader(s)
    t0 = time.time()
    samples = []

    def sample(done):
        info = redis_info(rport, "memory")
        keys = redis_info(rport, "keyspace").get("db0", "keys=0").split(",")[0].split("=")[1]
        samples.append((done, rss_kib(pid), int(info["used_memory"]), int(keys), round(time.time() - t0, 1)))
        print("fingerprints=%d rss_kib=%d redis_used_memory=%d redis_keys=%s elapsed_s=%.1f" % samples[-1],
              flush=True)

    sample(0)
    done = 0
    b = 0
    while done < total:
        k = min(batch, total - done)
        alerts = ",".join(
            '{"status":"firing","labels":{"alertname":"BenchFill","namespace":"bench","pod":"fill-%s-%d",'
            '"severity":"warning"},"annotations":{"summary":"fill"},"startsAt":"2026-11-26T21:50:10Z",'
            '"endsAt":"0001-01-01T00:00:00Z","generatorURL":""}' % (run, done + i) for i in range(k))
        body = ('{"receiver":"gw","status":"firing","alerts":[%s],"groupLabels":{},"commonLabels":{},'
                '"commonAnnotations":{},"externalURL":"http://am","version":"4","groupKey":"{}",'
                '"truncatedAlerts":0}' % alerts).encode()
        s.sendall(request(body))
        st, reply = r.response()
        if st != 201:
            sys.exit(f"fill: batch {b}: {st} {reply[:300]!r}")
        done += k
        b += 1
        if b % 10 == 0:
            for root, _dirs, files in os.walk(rrdir):
                for f in files:
                    os.unlink(os.path.join(root, f))
        if b % 10 == 0 or done >= total:
            sample(done)
    s.close()
    with open(out, "w") as f:
        for row in samples:
            f.write("%d %d %d %d %.1f\n" % row)


def cmd_metric(port, name):
    s = connect(port)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    _, body = Reader(s).response()
    s.close()
    total = 0.0
    for line in body.decode().split("\n"):
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    print(int(total))


if __name__ == "__main__":
    cmds = {"bodies": cmd_bodies, "wrk": cmd_wrk, "monitor": cmd_monitor, "evalsha": cmd_evalsha,
            "shas": cmd_shas, "count": cmd_count, "seq": cmd_seq, "idle": cmd_idle, "fill": cmd_fill,
            "metric": cmd_metric, "ms": cmd_ms}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
