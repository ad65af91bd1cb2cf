#!/usr/bin/python3
"""tls-callgrind.py: instructions per request (valgrind --tool=callgrind, the number the shared
machine cannot move) of the plain path before and after a change, and of the TLS path, in one
run. Each gateway runs under callgrind (--workers 1, memory state, dir sink); one request
creates, 200 sequential keep-alive requests warm up, then
    callgrind_control -z; N sequential keep-alive duplicates; callgrind_control -d   -> Ir(N)
    callgrind_control -z; sleep as long as the N took;        callgrind_control -d   -> Ir(0)
and instructions per request = (Ir(N) - Ir(0)) / N (the idle baseline: the loop's timers).

    bench/tls-callgrind.py BASE_BINARY [HEAD_BINARY (default build/signal-gateway)] [N (2000)]
Prints a Markdown table; keep it under bench/results/ and quote it in docs/benchmarks.md."""
import glob
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import fixture, free_port  # noqa: E402
from tls_certs import CA, client_context  # noqa: E402

PATH = "/api/v1/signals/prometheus"


def ir(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("no totals in " + path)


def dump(pid, work, name):
    before = set(glob.glob(os.path.join(work, "cg.out.*")))
    subprocess.run(["callgrind_control", "--dump=" + name, str(pid)], stdout=subprocess.DEVNULL, check=True)
    for _ in range(200):
        new = set(glob.glob(os.path.join(work, "cg.out.*"))) - before
        if new:
            time.sleep(0.2)   # written whole
            return ir(new.pop())
        time.sleep(0.05)
    raise RuntimeError("no dump")


def measure(name, binary, n, tls=None):
    work = tempfile.mkdtemp(prefix="sgw-tlscg-")
    port = free_port()
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + os.path.join(work, "cg.out"), binary,
           "--workers", "1", "--state", "memory", "--sink", "dir:" + os.path.join(work, "rr"),
           "--listen", "127.0.0.1:%d" % port, "--log-level", "warn"]
    if tls:
        cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
    log = open(os.path.join(work, "gw.log"), "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        def conn():
            if tls:
                return http.client.HTTPSConnection("localhost", port, timeout=30, context=client_context(tls[2]))
            return http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        deadline = time.time() + 60
        while True:
            try:
                c = conn()
                c.request("GET", "/healthz")
                c.getresponse().read()
                c.close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        body = fixture("pod-crashloop-firing-2-alerts.json")
        c = conn()

        def post():
            c.request("POST", PATH, body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            assert r.status in (201, 202), r.status

        for _ in range(201):
            post()
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], stdout=subprocess.DEVNULL, check=True)
        t0 = time.time()
        for _ in range(n):
            post()
        took = time.time() - t0
        ir_n = dump(proc.pid, work, "n")
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], stdout=subprocess.DEVNULL, check=True)
        time.sleep(took)
        ir_0 = dump(proc.pid, work, "zero")
        c.close()
        return name, n, ir_n, ir_0, (ir_n - ir_0) / n
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def main():
    base = sys.argv[1]
    head = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build", "signal-gateway")
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    certs = tempfile.mkdtemp(prefix="sgw-tlscg-certs-")
    try:
        ca = CA(certs, "ca")
        cert, key = ca.issue("server", "/CN=localhost", 1)
        rows = [measure("plain, base (%s)" % os.path.basename(base), base, n),
                measure("plain, head", head, n),
                measure("TLS 1.3 keep-alive, head", head, n, (cert, key, ca.cert))]
    finally:
        shutil.rmtree(certs, ignore_errors=True)
    print("| gateway | requests | Ir(N) | Ir(0) | instructions per request |")
    print("|---|---|---|---|---|")
    for name, k, a, b, per in rows:
        print("| %s | %d | %d | %d | %.0f |" % (name, k, a, b, per))
    print("\nhead/base plain: %.4f; TLS/plain (head): %.3f" % (rows[1][4] / rows[0][4], rows[2][4] / rows[1][4]))


if __name__ == "__main__":
    main()
