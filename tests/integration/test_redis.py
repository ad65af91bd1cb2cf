"""Cluster state in a real Redis: the embedded signal suite again on Redis, exactness and
storms across 3 replicas, Redis killed mid-load (only 503s or recorded 2xx; recovery by
itself), and a Sentinel failover (1 primary, 1 replica, 3 sentinels) followed."""
import json
import os
import signal
import tempfile
import threading
import time
import unittest
import uuid

import test_signals
from harness import Gateway, fixture, pod_alert, wait_until, webhook
from redis_harness import Redis, Sentinel

REDIS = None


def setUpModule():
    global REDIS
    REDIS = Redis()


def tearDownModule():
    REDIS.stop()


def redis_args(redis=None):
    return ["--state", (redis or REDIS).url()]


def unique_prefix():
    return "t%s:" % uuid.uuid4().hex[:8]


class RedisSignalTests(test_signals.SignalTests):
    """Every embedded signal test, with the state in Redis (own key prefix per gateway)."""

    def gw(self, config="", args=(), **kw):
        env = dict(kw.pop("env", {}) or {})
        env["SGW_STATE_PREFIX"] = unique_prefix()
        g = Gateway(config, args=list(args) + redis_args(), env=env, **kw)
        self.addCleanup(g.stop)
        return g


class ReplicaTests(unittest.TestCase):
    def replicas(self, n=3, config="", redis=None, rr_dir=None, extra_args=()):
        rr_dir = rr_dir or tempfile.mkdtemp(prefix="sgw-rr-")
        prefix = unique_prefix()
        gs = []
        for _ in range(n):
            g = Gateway(config, args=redis_args(redis) + list(extra_args), env={"SGW_STATE_PREFIX": prefix},
                        rr_dir=rr_dir, workers=1)
            self.addCleanup(g.stop)
            gs.append(g)
        return gs

    def test_thousand_concurrent_requests_over_three_replicas_make_exactly_ten_rrs(self):
        gs = self.replicas()
        bodies = [json.dumps(webhook([pod_alert("Exact%d" % i, "pod-%d" % i)])).encode() for i in range(10)]
        statuses = []
        lock = threading.Lock()

        def worker(k):
            conns = [g.conn(timeout=30) for g in gs]
            for j in range(100):
                n = k * 100 + j
                r = gs[n % 3].alert(bodies[n % 10], conn=conns[n % 3])
                with lock:
                    statuses.append(r.status)
            for c in conns:
                c.close()

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(len(statuses), 1000)
        self.assertEqual(statuses.count(201), 10, sorted(set(statuses)))
        self.assertEqual(statuses.count(202), 990)
        self.assertEqual(len(gs[0].rr_files()), 10)
        total = 0
        for b in bodies:   # one more sighting each: its count is (sightings so far) + 1
            r = gs[0].alert(b)
            total += r.json["results"][0]["count"] - 1
        self.assertEqual(total, 1000)

    def test_storm_split_over_three_replicas_is_one_rr_with_count_fifty(self):
        gs = self.replicas(config="storm:\n  update_interval: 200ms\n")
        storm = json.loads(fixture("oom-storm-50-alerts.json"))
        parts = [storm["alerts"][i::3] for i in range(3)]
        statuses = []

        def send(i):
            body = dict(storm, alerts=parts[i])
            statuses.append(gs[i].alert(body).status)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertTrue(all(s in (201, 202) for s in statuses), statuses)
        deadline = time.time() + 10
        rrs = []
        while time.time() < deadline:
            rrs = gs[0].rrs()
            if len(rrs) == 1 and rrs[0]["spec"].get("stormAlertCount") == 50:
                break
            time.sleep(0.1)
        self.assertEqual(len(rrs), 1, [x["metadata"]["name"] for x in rrs])
        self.assertTrue(rrs[0]["spec"]["isStorm"])
        self.assertEqual(rrs[0]["spec"]["stormAlertCount"], 50)
        self.assertEqual(len(rrs[0]["spec"]["affectedResources"]), 50)

    def test_redis_killed_mid_load_gives_only_503_or_recorded_2xx_then_recovers(self):
        redis = Redis(durable=True)
        self.addCleanup(redis.stop)
        gs = self.replicas(n=2, redis=redis, config="state:\n  timeout: 500ms\nserver:\n  retry_after: 1\n")
        alerts = [pod_alert("Kill%d" % i, "k-%d" % i) for i in range(20)]
        answers = {i: [] for i in range(20)}
        stop = threading.Event()
        lock = threading.Lock()

        def load(k):
            n = 0
            deadline = time.time() + 8
            while not stop.is_set() and time.time() < deadline:
                i = (k * 7 + n) % 20
                try:
                    r = gs[n % 2].alert(webhook([alerts[i]]))
                    with lock:
                        answers[i].append(r.status)
                except OSError:
                    pass
                n += 1

        threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()

        def answered_2xx():
            with lock:
                return sum(1 for v in answers.values() if any(st in (201, 202) for st in v))

        # the load runs: every alert recorded before Redis goes
        wait_until(lambda: answered_2xx() == 20, what="every alert answered 2xx under load", show=answered_2xx)
        redis.kill()
        # the gateway has seen Redis go (it reconnects in vain until redis.start below)
        wait_until(lambda: gs[0].get("/readyz").status == 503, what="/readyz 503 after the kill")
        saw_503 = gs[0].alert(webhook([alerts[0]])).status
        ready = gs[0].get("/readyz")
        redis.start()   # same port, same AOF: the recorded state comes back
        t_back = time.time()
        stop.set()
        for t in threads:
            t.join(30)
        redis_lines = "\n".join(l for l in gs[0].logs().splitlines() if "redis" in l)
        self.assertEqual(saw_503, 503, redis_lines)
        self.assertEqual(ready.status, 503, redis_lines)
        self.assertIn("redis", ready.json["reason"])
        # the gateways reconnect by themselves within seconds
        deadline = time.time() + 15
        while time.time() < deadline and any(g.get("/readyz").status != 200 for g in gs):
            time.sleep(0.1)
        self.assertEqual([g.get("/readyz").status for g in gs], [200, 200])
        self.assertLess(time.time() - t_back, 15)
        all_statuses = [s for v in answers.values() for s in v]
        self.assertTrue(set(all_statuses) <= {201, 202, 503}, set(all_statuses))
        # every alert answered 2xx has its RR, and Redis remembers every 2xx sighting
        files = {os.path.basename(p) for p in gs[0].rr_files()}
        for i, sts in answers.items():
            ok = sum(1 for s in sts if s in (201, 202))
            if not ok:
                continue
            r = gs[1].alert(webhook([alerts[i]]))
            self.assertEqual(r.status, 202, r)
            res = r.json["results"][0]
            self.assertIn(res["remediationRequest"].split("/")[1] + ".json", files)
            self.assertGreaterEqual(res["count"], ok + 1 if res.get("reason") is None else 1, (i, sts, res))


class RedisUrlTests(unittest.TestCase):
    def redis_and_gateway(self, config="", **redis_kw):
        """A Redis of its own and one gateway (one worker) on it; both stopped at the end."""
        r = Redis(**redis_kw)
        self.addCleanup(r.stop)
        g = Gateway(config, args=["--state", r.url()], workers=1)
        self.addCleanup(g.stop)
        return r, g

    def test_password_and_database_come_from_the_url(self):
        r = Redis(password="s3cret-pw")
        self.addCleanup(r.stop)
        g = Gateway(args=["--state", "redis://:s3cret-pw@127.0.0.1:%d/3" % r.port])
        self.addCleanup(g.stop)
        self.assertEqual(g.alert(webhook([pod_alert("Authd", "a-1")])).status, 201)
        self.assertEqual(len(r.cli("-n", "3", "KEYS", "sgw:d2:*").split()), 1)   # the dedup record, in DB 3
        self.assertEqual(r.cli("-n", "0", "DBSIZE"), "0")
        self.assertNotIn("s3cret-pw", g.logs())

    def test_scripts_and_functions_flushed_under_the_gateway_are_reloaded_and_nothing_is_lost(self):
        r, g = self.redis_and_gateway()
        first = webhook([pod_alert("Flushed", "f-1")])
        self.assertEqual(g.alert(first).status, 201)
        self.assertIn("sgw_decide_", r.cli("FUNCTION", "LIST"))   # decide runs as a Redis function
        # the one decide was an FCALL (commit, and the storm-flush claims every 250 ms, are scripts)
        self.assertIn("cmdstat_fcall:calls=1,", r.cli("INFO", "commandstats"))
        # as after a restart without persistence or a failover to an empty server
        self.assertEqual(r.cli("SCRIPT", "FLUSH"), "OK")
        self.assertEqual(r.cli("FUNCTION", "FLUSH"), "OK")
        dup = g.alert(first)                      # decide: Function not found → FUNCTION LOAD → FCALL again
        self.assertEqual(dup.status, 202, dup)
        self.assertEqual(dup.json["results"][0]["count"], 2)
        r.cli("SCRIPT", "FLUSH")
        r.cli("FUNCTION", "FLUSH")
        new = g.alert(webhook([pod_alert("Flushed", "f-2")]))   # decide and commit both reload
        self.assertEqual(new.status, 201, new)
        self.assertEqual(g.alert(webhook([pod_alert("Flushed", "f-2")])).json["results"][0]["count"], 2)
        self.assertGreaterEqual(g.logs().count("the decide function is gone, reloading it"), 2)
        self.assertGreaterEqual(g.logs().count("NOSCRIPT, reloading the script"), 1)

    def test_a_record_of_the_previous_form_carries_on_and_a_damaged_one_is_refused_not_miscounted(self):
        r, g = self.redis_and_gateway()
        # an older replica's record (d1:, up to session 6): this version continues its count
        up = webhook([pod_alert("Upgrade", "u-1")])
        fp = g.alert(up).json["results"][0]["fingerprint"]
        rec = r.cli("GET", f"sgw:d2:{fp}")
        now = int(rec[14:27])
        self.assertEqual(r.cli("DEL", f"sgw:d2:{fp}"), "1")
        old = f"c|41|{now - 5000}|{now - 1000}|{now + 600000}|0|0|0|{rec.rsplit('|', 1)[1]}"
        r.cli("SET", f"sgw:d1:{fp}", old, "PXAT", str(now + 600000))
        res = g.alert(up)
        self.assertEqual((res.status, res.json["results"][0]["count"]), (202, 42), res)
        self.assertEqual(r.cli("GET", f"sgw:d1:{fp}"), old)       # left to the older replica
        self.assertRegex(r.cli("GET", f"sgw:d2:{fp}"), r"^c\d{26}\|42\|")
        # a record another writer damaged after its count: the gateway refuses the reply (503,
        # nothing answered from it) rather than count from garbage; DEL of the key ends it
        bad = r.cli("GET", f"sgw:d2:{fp}").replace("|42|", "|42|x", 1)
        r.cli("SET", f"sgw:d2:{fp}", bad, "KEEPTTL")
        res = g.alert(up)
        self.assertEqual(res.status, 503, res)
        # the remedy: delete the fingerprint's records (d1: too, or this version carries on
        # from the older replica's record, as above); the fingerprint is then new to the store,
        # and its RR exists (the sink's AlreadyExists): a duplicate of it, counted afresh
        self.assertEqual(r.cli("DEL", f"sgw:d2:{fp}", f"sgw:d1:{fp}"), "2")
        res = g.alert(up)
        self.assertEqual((res.status, res.json["results"][0]["status"], res.json["results"][0]["count"]),
                         (202, "duplicate", 1), res)
        self.assertRegex(r.cli("GET", f"sgw:d2:{fp}"), r"^c\d{26}\|1\|")

    def test_functions_lost_and_then_refused_fall_back_to_the_script(self):
        r, g = self.redis_and_gateway()
        first = webhook([pod_alert("Later", "l-1")])
        self.assertEqual(g.alert(first).status, 201)
        self.assertEqual(r.cli("FUNCTION", "FLUSH"), "OK")
        self.assertEqual(r.cli("ACL", "SETUSER", "default", "-function"), "OK")   # FCALL stays allowed
        lost = g.alert(first)                     # FCALL: not found; FUNCTION LOAD: refused
        self.assertEqual(lost.status, 503, lost)  # nothing recorded, so the sender retries
        again = g.alert(first)                    # the same file through EVALSHA now
        self.assertEqual((again.status, again.json["results"][0]["count"]), (202, 2))
        self.assertIn("FUNCTION LOAD refused, decide runs as a script", g.logs())

    def test_where_functions_are_refused_decide_runs_as_a_script(self):
        # a server without FUNCTION (renamed away here; Redis < 7.0, or an ACL, in the field):
        # the same decide.lua runs through EVALSHA, with the same results
        r, g = self.redis_and_gateway(extra=["--rename-command", "FUNCTION", ""])
        first = webhook([pod_alert("NoFunctions", "n-1"), pod_alert("NoFunctions", "n-2")])
        self.assertEqual(g.alert(first).status, 201)
        dup = g.alert(first)
        self.assertEqual((dup.status, [x["count"] for x in dup.json["results"]]), (202, [2, 2]))
        self.assertIn("FUNCTION LOAD refused, decide runs as a script", g.logs())
        calls = r.cli("INFO", "commandstats")
        self.assertNotIn("cmdstat_fcall", calls)
        self.assertIn("cmdstat_evalsha:calls=", calls)
        self.assertEqual(r.cli("SCRIPT", "FLUSH"), "OK")
        self.assertEqual(g.alert(first).json["results"][0]["count"], 3)   # NOSCRIPT → reload → again
        self.assertIn("NOSCRIPT, reloading the script", g.logs())

    def test_at_the_signal_limit_a_request_is_refused_before_its_body_is_parsed(self):
        # a webhook of 10 alerts held in flight by a stopped Redis fills max_inflight_alerts;
        # then even a body that is not JSON is answered 503 overloaded, not 400: it was not
        # parsed (under a flood of storm webhooks, parsing what is refused starved the rest)
        r, g = self.redis_and_gateway("state:\n  timeout: 5s\nserver:\n  max_inflight_alerts: 10\n  retry_after: 2\n")
        self.assertEqual(g.alert(b"not json").status, 400)
        r.proc.send_signal(signal.SIGSTOP)
        self.addCleanup(lambda: r.proc.send_signal(signal.SIGCONT))
        held = {}
        t = threading.Thread(target=lambda: held.update(r=g.alert(webhook([pod_alert("Held%d" % i, "h-%d" % i)
                                                                          for i in range(10)]))))
        t.start()
        deadline = time.time() + 4
        while time.time() < deadline and "gateway_signals_in_flight 10" not in g.get("/metrics").body.decode():
            time.sleep(0.02)
        self.assertIn("gateway_signals_in_flight 10", g.get("/metrics").body.decode())
        refused = g.alert(b"not json")
        self.assertEqual(refused.status, 503, refused)
        self.assertEqual(refused.headers.get("retry-after"), "2")
        self.assertEqual(refused.json["error"]["code"], "overloaded")
        valid = g.alert(webhook([pod_alert("Later", "l-1")]))
        self.assertEqual(valid.status, 503, valid)
        r.proc.send_signal(signal.SIGCONT)
        t.join(10)
        self.assertEqual(held["r"].status, 201, held.get("r"))
        self.assertEqual(g.alert(b"not json").status, 400)   # parsed again once below the limit
        self.assertEqual(g.alert(webhook([pod_alert("Later", "l-1")])).status, 201)

    def test_sigterm_answers_a_request_held_in_flight_before_exiting(self):
        # a stopped Redis holds the request in the store for certain when SIGTERM comes (the
        # embedded store answers too fast to catch: test_operability's drain test)
        r, g = self.redis_and_gateway("state:\n  timeout: 5s\n")
        r.proc.send_signal(signal.SIGSTOP)
        self.addCleanup(lambda: r.proc.send_signal(signal.SIGCONT))
        held = {}
        t = threading.Thread(target=lambda: held.update(r=g.alert(webhook([pod_alert("Drained", "d-1")]))))
        t.start()
        wait_until(lambda: g.metric("gateway_signals_in_flight") == 1, what="the request in flight",
                   show=lambda: g.metric("gateway_signals_in_flight"))
        g.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: '"msg":"draining"' in g.logs(), what="the drain's log line")
        self.assertIn('"in_flight":1', [l for l in g.logs().splitlines() if '"draining"' in l][0])
        r.proc.send_signal(signal.SIGCONT)
        t.join(10)
        self.assertEqual(g.proc.wait(20), 0, g.logs())
        self.assertEqual(held["r"].status, 201, held.get("r"))   # answered before the exit

    def test_wrong_password_is_not_ready_and_answers_503(self):
        r = Redis(password="right")
        self.addCleanup(r.stop)
        g = Gateway(args=["--state", "redis://:wrong@127.0.0.1:%d" % r.port], wait_ready=False)
        self.addCleanup(g.stop)
        ready = g.get("/readyz")
        self.assertEqual(ready.status, 503)
        self.assertIn("redis", ready.json["reason"])
        res = g.alert(webhook([pod_alert("NoAuth", "n-1")]))
        self.assertEqual(res.status, 503)
        self.assertIn("retry-after", res.headers)


def repl_field(redis, name):
    """An integer field of INFO replication (-1 if absent)."""
    for line in redis.cli("INFO", "replication").splitlines():
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1])
    return -1


class SentinelTests(unittest.TestCase):
    def test_gateway_follows_a_sentinel_failover(self):
        primary = Redis()
        replica = Redis(replica_of=primary.port)
        self.addCleanup(primary.stop)
        self.addCleanup(replica.stop)
        deadline = time.time() + 10
        while "master_link_status:up" not in replica.cli("INFO", "replication") and time.time() < deadline:
            time.sleep(0.1)
        sentinels = [Sentinel(primary.port) for _ in range(3)]
        for s in sentinels:
            self.addCleanup(s.stop)
        url = "redis-sentinel://" + ",".join("127.0.0.1:%d" % s.port for s in sentinels) + "/mymaster"
        g = Gateway("state:\n  timeout: 500ms\n", args=["--state", url], env={"SGW_STATE_PREFIX": unique_prefix()})
        self.addCleanup(g.stop)
        r = g.alert(webhook([pod_alert("BeforeFailover", "b-1")]))
        self.assertEqual(r.status, 201, r)
        # the replica has everything the primary had after the answer (its record committed)
        want = repl_field(primary, "master_repl_offset")
        wait_until(lambda: repl_field(replica, "slave_repl_offset") >= want, what="the replica at offset %d" % want,
                   show=lambda: repl_field(replica, "slave_repl_offset"))
        primary.kill()
        deadline = time.time() + 30
        while time.time() < deadline and sentinels[0].master() != replica.port:
            time.sleep(0.2)
        self.assertEqual(sentinels[0].master(), replica.port, "sentinels did not fail over")
        deadline = time.time() + 20
        r = None
        while time.time() < deadline:
            r = g.alert(webhook([pod_alert("BeforeFailover", "b-1")]))
            if r.status != 503:
                break
            time.sleep(0.2)
        self.assertEqual(r.status, 202, r)   # the replicated record: a duplicate
        self.assertEqual(r.json["results"][0]["count"], 2)
        deadline = time.time() + 20   # every worker back: /readyz covers them all
        while time.time() < deadline and g.get("/readyz").status != 200:
            time.sleep(0.1)
        r = g.alert(webhook([pod_alert("AfterFailover", "a-1")]))
        self.assertEqual(r.status, 201, r)
        self.assertIn("redis-sentinel", g.logs())


if __name__ == "__main__":
    unittest.main()
