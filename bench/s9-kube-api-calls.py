#!/usr/bin/python3
"""s9: Kubernetes API calls per signal with state.url kubernetes (kubernaut.ai contract).

The API server is this mode's bottleneck, so the measure is its request log (the API test
server's /_test/requests, one entry per call with the verb as the apiserver computes it),
not time. Phases, one gateway (release build, 2 workers) against tests/k8s-api-server:
  new    N new signals (N Deployments, one pod alert each), sequential: calls per new signal,
         split into the dedup/persist path (what upstream's list + Lease + create + status is)
         and owner resolution (pod → ReplicaSet → Deployment reads, namespace scope read:
         upstream serves those from informer caches; ours from a TTL cache)
  new-warm the same N Deployments' second pods after the Deployments are known: the owner
         cache answers the ReplicaSet and the namespace, one read for the new pod
  dup    DUP_RATE duplicates/s of one RR for DUP_SECONDS with wrk and bench/openloop.lua
         (open loop): calls per duplicate
Usage: bench/s9-kube-api-calls.py [N] ; env DUP_RATE (1000), DUP_SECONDS (5).
Writes bench/results/kube-api-calls-<UTC>.md and prints it."""
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("SGW_BINARY", os.path.join(ROOT, "build", "signal-gateway"))
from harness import Gateway, pod_alert, webhook  # noqa: E402
from k8s_harness import ApiServer  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
DUP_RATE = int(os.environ.get("DUP_RATE", "1000"))
DUP_SECONDS = int(os.environ.get("DUP_SECONDS", "5"))
SPEC = {"containers": [{"name": "c", "image": "x"}]}
TEMPLATE = {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}}, "spec": SPEC}}


def owned(name, ns, owner):
    m = {"name": name, "namespace": ns}
    if owner:
        m["ownerReferences"] = [{"apiVersion": owner[0], "kind": owner[1], "name": owner[2], "uid": "u-" + owner[2],
                                 "controller": True}]
    return m


def make_chain(api, dep, pods):
    ns = "production"
    api.call("POST", "/apis/apps/v1/namespaces/%s/deployments" % ns,
             {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": owned(dep, ns, None), "spec": TEMPLATE})
    api.call("POST", "/apis/apps/v1/namespaces/%s/replicasets" % ns,
             {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": owned(dep + "-rs", ns, ("apps/v1", "Deployment", dep)),
              "spec": TEMPLATE})
    for p in pods:
        api.call("POST", "/api/v1/namespaces/%s/pods" % ns,
                 {"apiVersion": "v1", "kind": "Pod", "metadata": owned(p, ns, ("apps/v1", "ReplicaSet", dep + "-rs")),
                  "spec": SPEC})


def classify(reqs):
    """Counts by kind: owner/scope reads, RR reads, RR creates, RR status writes, list/watch."""
    c = collections.Counter()
    for q in reqs:
        p, verb = q["path"], q.get("verb", q["method"].lower())
        if "remediationrequests" in p:
            if verb in ("list", "watch"):
                c["rr list/watch"] += 1
            elif verb == "create":
                c["rr create"] += 1
            elif p.endswith("/status") and verb in ("patch", "update"):
                c["rr status write"] += 1
            elif verb == "get":
                c["rr get"] += 1
            else:
                c["rr " + verb] += 1
        elif p.startswith("/version"):
            c["probe"] += 1
        else:
            c["owner/scope read"] += 1
    return c


def main():
    api = ApiServer()
    gw = None
    try:
        api.namespace("kubernaut-system")
        api.namespace("production", {"kubernaut.ai/managed": "true"})
        for k in range(N):
            make_chain(api, "dep-%d" % k, ["dep-%d-a" % k, "dep-%d-b" % k])
        make_chain(api, "hot", ["hot-a"])
        gw = Gateway("sink:\n  rr_namespace: kubernaut-system\n",
                     args=["--sink", "kubernetes", "--kubeconfig", api.kubeconfig, "--state", "kubernetes",
                           "--rr-api", "kubernaut.ai/v1alpha1", "--log-level", "warn"], workers=2)
        time.sleep(0.5)
        rows = []

        def phase(name, fn, signals):
            api.clear_requests()
            t0 = time.time()
            fn()
            dt = time.time() - t0
            time.sleep(0.3)   # late status writes of the phase land in its log
            c = classify(api.requests())
            path_calls = c["rr create"] + c["rr status write"] + c["rr get"] + c["rr list/watch"]
            rows.append((name, signals, dt, c, path_calls))

        conn = gw.conn(timeout=30)

        def new(suffix):
            def run():
                for k in range(N):
                    r = gw.alert(webhook([pod_alert("PodCrash", "dep-%d-%s" % (k, suffix))]), conn=conn)
                    assert r.status in (201, 202), r.body
            return run

        phase("new (cold owner cache)", new("a"), N)
        # the same Deployments' other pods: duplicates of the RRs just made, one pod read each
        phase("dup of new RRs, other pod (warm)", new("b"), N)
        r = gw.alert(webhook([pod_alert("PodCrash", "hot-a")]), conn=conn)
        assert r.status == 201, r.body
        body = json.dumps(webhook([pod_alert("PodCrash", "hot-a")])).encode()
        tmp = tempfile.mkdtemp(prefix="s9-")
        bf = os.path.join(tmp, "body.json")
        with open(bf, "wb") as f:
            f.write(body)

        def dups():
            env = dict(os.environ, BODY_FILE=bf, RATE=str(DUP_RATE), SEED="9")
            out = subprocess.run(["wrk", "-t1", "-c200", "-d%ds" % DUP_SECONDS, "-s", os.path.join(ROOT, "bench", "openloop.lua"),
                                  "-H", "Content-Type: application/json", "http://127.0.0.1:%d/api/v1/signals/prometheus" % gw.port],
                                 capture_output=True, text=True, env=env, timeout=DUP_SECONDS + 60)
            dups.out = out.stdout
        phase("dup, one hot RR, %d/s open loop" % DUP_RATE, dups, None)
        sent = 0
        for line in dups.out.splitlines():
            if line.startswith("open-loop: scheduled"):
                f = line.split()
                sent = int(f[f.index("responses") + 1])
                non2xx = int(f[f.index("non2xx") + 1])
        name, _, dt, c, pc = rows[-1]
        rows[-1] = (name, sent, dt, c, pc)
        st, rr = api.call("GET", "/apis/kubernaut.ai/v1alpha1/namespaces/kubernaut-system/remediationrequests")
        hot = [x for x in rr["items"] if x["spec"]["targetResource"]["name"] == "hot"][0]
        hot_count = hot["status"]["deduplication"]["occurrenceCount"]
    finally:
        if gw:
            gw.stop()
        api.stop()

    ts = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = ["# s9: Kubernetes API calls per signal, state.url kubernetes (%s)" % ts, "",
           "`bench/s9-kube-api-calls.py %d` (DUP_RATE=%d, DUP_SECONDS=%d); git %s; one gateway, 2 workers, release build;"
           % (N, DUP_RATE, DUP_SECONDS, subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                       capture_output=True, text=True).stdout.strip()),
           "calls counted from the API test server's request log.", "",
           "| phase | signals | s | RR create | RR status write | RR get | RR list/watch | dedup+persist calls per signal | owner/scope reads per signal |",
           "|---|---|---|---|---|---|---|---|---|"]
    for name, n, dt, c, pc in rows:
        out.append("| %s | %d | %.1f | %d | %d | %d | %d | **%.3f** | %.2f |" % (
            name, n, dt, c["rr create"], c["rr status write"], c["rr get"], c["rr list/watch"],
            pc / max(n, 1), c["owner/scope read"] / max(n, 1)))
    out += ["", "Hot RR's status.deduplication.occurrenceCount after the run: %d = 1 created + %d duplicates whose answer wrk "
            "counted + %d in flight when wrk stopped (at most its %d connections); non-2xx: %d."
            % (hot_count, sent, hot_count - 1 - sent, 200, non2xx),
            "Upstream's Gateway (d5a4a8709): per new signal a list by field selector, a Lease acquire (and release), the create and a "
            "status write (4-5 calls); per duplicate a list, a GET and a status update (3)."]
    text = "\n".join(out) + "\n"
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "kube-api-calls-%s.md" % ts), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
