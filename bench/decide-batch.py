#!/usr/bin/python3
"""decide-batch.py: Redis instructions per 50-alert storm webhook when K identical webhooks share
one decide.lua call, as the gateway batches a loop iteration's requests under load.

    bench/decide-batch.py [K ...]         default: 1 8
    env: SCRIPT=path/to/decide.lua (default: src/state/scripts/decide.lua)  N=20 calls per K
         REPEATS=1: send each alert once with the number of its K occurrences, as the gateway does
         since session 8 (docs/decisions/005); otherwise every item apart
         EVAL=1: call it as a script (EVALSHA, the fallback) instead of as a function (FCALL, as the
         gateway does where Redis allows FUNCTION LOAD)

redis-server runs under valgrind --tool=callgrind on a free loopback port; the 50 records are
created (state c, live) beforehand, so every alert is a duplicate (the steady state of
bench/s4-storm.sh). Per K: 3 warm-up calls, then callgrind is zeroed, N calls are made, and the
dump's total is divided by N*K. Each K runs in its own redis-server (one dump per process).
The ARGV is the gateway's (redis.c decide_flush): 15 parameters, then per alert the fingerprint
and its meta string, every item sent apart (the gateway now sends an alert K webhooks carry once,
with its count: docs/decisions/005; this measures the script's work per item as before)."""
import glob
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.environ.get("SCRIPT", os.path.join(ROOT, "src", "state", "scripts", "decide.lua"))
N = int(os.environ.get("N", "20"))
P = "sgw:"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def argv(k, t, fps, now):
    a = [P, str(t), "300000", "30000", "1", "10", "60000", "5", "120000", "60000", "300000", "100",
         str(50 * k), ",".join(["50"] * k)]
    if "repeats" in open(SCRIPT).read():   # session 8: the repeats argument ("" = every item sent apart)
        if os.environ.get("REPEATS"):     # as the gateway sends it: each alert once, with its K occurrences
            a[12], a[13] = "50", ",".join(["50"] + ["0"] * (k - 1))
            a.append(",".join("%d:%d" % (i + 1, k) for i in range(50)) if k > 1 else "")
            k = 1
        else:
            a.append("")
    for _ in range(k):
        for i, fp in enumerate(fps):
            nm, ns, res, ref = "KubePodOOMKilled", "checkout", "checkout:Pod:worker-%02d" % i, "checkout/rr-storm-%s" % fp[:16]
            a += [fp, "0|%d|%d|%d|%d|%s%s%s%s" % (now - 60000, len(nm), len(ns), len(res), nm, ns, res, ref)]
    return a


def measure(k):
    d = tempfile.mkdtemp(prefix="sgw-decide-batch-")
    port = free_port()
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=%s/cg.out" % d, "redis-server",
                          "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        for _ in range(300):
            try:
                r.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        code = open(SCRIPT).read()
        if os.environ.get("EVAL"):
            sha = r.script_load(code)
            call = lambda *a: r.evalsha(sha, 0, *a)
        else:   # as the gateway calls it (redis.c): a function, loaded behind the same two lines
            r.execute_command("FUNCTION", "LOAD", "REPLACE",
                              "#!lua name=sgw_bench\nlocal SGW_FUNCTION = 'sgw_decide_bench'\n" + code)
            call = lambda *a: r.execute_command("FCALL", "sgw_decide_bench", 0, *a)
        now = int(time.time() * 1000)
        fps = [hashlib.sha256(b"alert-%d" % i).hexdigest() for i in range(50)]
        for fp in fps:
            r.set(P + "d2:" + fp, "c%013d%013d|3|%d|0|0|0|checkout/rr-storm-%s" % (now + 10**9, now - 1000, now - 5000, fp[:16]))
        t = now
        for _ in range(3):
            t += 1
            call(*argv(k, t, fps, now))
        subprocess.run(["callgrind_control", "-z", str(p.pid)], stdout=subprocess.DEVNULL, check=True)
        for _ in range(N):
            t += 1
            rep = call(*argv(k, t, fps, now))
        if not all(x.startswith(b"c") or x.startswith(b"4|") for x in rep):
            raise SystemExit("decide-batch: not every alert was a duplicate: %r" % rep[:3])
        subprocess.run(["callgrind_control", "--dump=k%d" % k, str(p.pid)], stdout=subprocess.DEVNULL, check=True)
        for _ in range(600):
            dumps = glob.glob(d + "/cg.out.*")
            if dumps:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        total = next(int(line.split()[1]) for line in open(dumps[0]) if line.startswith(("summary:", "totals:")))
        return total // (N * k)
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    for k in [int(x) for x in (sys.argv[1:] or ["1", "8"])]:
        print("%d webhook(s) per call: %s Redis instructions per 50-alert webhook" % (k, format(measure(k), ",")))
